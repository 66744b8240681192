// lesion: the command line. Runs experiment scripts (Lua 5.4 with Lesion's modules loaded).
import ArgumentParser
import Foundation
import LesionTensor
import LuaHost
import Notebook

@main
struct Lesion: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lesion",
        abstract: "Unit-ablation experiments on CNNs, scripted in Lua.",
        discussion: """
            Scripts see the modules tensor, nn, models, data, ablation, units, stats, plot and \
            report as globals. Examples:
              lesion run examples/quickstart.lua
              lesion -e 'print(tensor.eye(3))'
            """,
        version: LuaHost.version,
        subcommands: [Run.self, SweepCommand.self, SlurmCommand.self, Repl.self, PluginsCommand.self, CacheCommand.self]
    )

    @Option(name: .customShort("e"), help: ArgumentHelp("Run a chunk of Lua code (may repeat).", valueName: "code"))
    var chunks: [String] = []

    @OptionGroup var common: CommonOptions

    mutating func run() throws {
        guard !chunks.isEmpty else {
            print(Lesion.helpMessage())
            return
        }
        let host = try common.makeHost()
        for code in chunks {
            try common.report { try host.run(code: code) }
        }
    }
}

struct CommonOptions: ParsableArguments {
    // Unconditional: `--threads -1` is a bad count, not a missing value.
    @Option(parsing: .unconditional, help: "Threads for Lesion's parallel loops and products (default: all cores).")
    var threads: Int?

    @Option(name: .customLong("plugin"), help: ArgumentHelp("Also load the plugins (*.lua) in this folder (repeatable).", valueName: "dir"))
    var pluginDirectories: [String] = []

    @Option(help: ArgumentHelp("The cache folder (default: $LESION_CACHE, else .lesion/cache); runs that share one compute each cached call once.", valueName: "dir"))
    var cache: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("Override a parameter declared with params{} (repeatable; in a sweep, the same in every variant).", valueName: "key=value"))
    var overrides: [String] = []

    func validate() throws {
        if let t = threads, !(1...256).contains(t) {
            throw ValidationError("--threads must be between 1 and 256, got \(t)")
        }
        for o in overrides {
            guard let eq = o.firstIndex(of: "="), eq != o.startIndex else {
                throw ValidationError("--set takes key=value, got '\(o)'")
            }
        }
        for d in pluginDirectories {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: d, isDirectory: &isDir), isDir.boolValue else {
                throw ValidationError("--plugin '\(d)' is not a folder")
            }
        }
    }

    /// A host with the plugins loaded; a plugin that fails is reported and the others load.
    func makeHost(quiet: Bool = false) throws -> LuaHost {
        if let t = threads { try Threads.set(t) }
        let host: LuaHost
        do {
            host = try LuaHost()
            if let cache { host.cacheRoot = cache }
            for o in overrides {
                let eq = o.firstIndex(of: "=")!
                host.parameterOverrides[String(o[..<eq])] = String(o[o.index(after: eq)...])
            }
            for p in try host.loadPlugins(extra: pluginDirectories) where !p.ok && !quiet {
                FileHandle.standardError.write(Data("lesion: plugin \(p.file) failed to load: \(p.error ?? "?")\n".utf8))
            }
        } catch {
            FileHandle.standardError.write(Data("lesion: \(error)\n".utf8))
            throw ExitCode(2)
        }
        return host
    }

    /// Runs body; a script error is printed (message and traceback) and exits with status 1.
    func report(_ body: () throws -> Void) throws {
        try catching(body)
    }

    func catching<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let e as ScriptError {
            FileHandle.standardError.write(Data("lesion: \(e.message)\n".utf8))
            throw ExitCode(1)
        }
    }
}

/// Options that guard a run (its own, and each run of `sweep` and `slurm`): the sandbox and the
/// limits.
struct GuardOptions: ParsableArguments {
    @Flag(help: "Run someone else's script safely: no shell, C modules, debug library or binary chunks; files read only in the script's folder, the data folders, the cache and the run folder, written only in the run folder (also LESION_SANDBOX=1).")
    var sandbox = false

    @Option(name: .customLong("allow-read"), help: ArgumentHelp("With --sandbox: also let the script read this folder (repeatable).", valueName: "dir"))
    var allowRead: [String] = []

    @Option(name: .customLong("max-memory"), help: ArgumentHelp("End the run with an error when the script and its tensors would hold more (e.g. 4G, 512M).", valueName: "size"))
    var maxMemory: String?

    @Option(help: ArgumentHelp("End the run with an error after this long (e.g. 90, 15m, 2h).", valueName: "time"))
    var timeout: String?

    func validate() throws {
        if let m = maxMemory, RunLimits.bytes(m) == nil {
            throw ValidationError("--max-memory takes a size such as 4G, 512M or a number of bytes, got '\(m)'")
        }
        if let t = timeout, RunLimits.seconds(t) == nil {
            throw ValidationError("--timeout takes a time such as 90, 15m or 2h, got '\(t)'")
        }
        if !allowRead.isEmpty && !sandboxed { throw ValidationError("--allow-read is for sandboxed runs; add --sandbox") }
    }

    /// --sandbox or LESION_SANDBOX=1.
    var sandboxed: Bool { sandbox || ["1", "true", "yes"].contains(ProcessInfo.processInfo.environment["LESION_SANDBOX"]?.lowercased() ?? "") }

    /// The same options for a `lesion run` of its own (paths made absolute by `absolute`).
    func runArguments(_ absolute: (String) -> String = { $0 }) -> [String] {
        var a: [String] = []
        if sandboxed { a.append("--sandbox") }
        for d in allowRead { a += ["--allow-read", absolute(d)] }
        if let maxMemory { a += ["--max-memory", maxMemory] }
        if let timeout { a += ["--timeout", timeout] }
        return a
    }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a script as a notebook and write its report; arguments after the script go to it as `arg` and `...`.",
        discussion: """
            The run folder (default runs/<script name>/<id of the parameters>/) receives report.html, \
            report.ipynb, results.json and manifest.json, also when a cell fails. Options Lesion \
            knows are taken by Lesion wherever they stand; after `--` every argument goes to the script.
            """)

    @OptionGroup var common: CommonOptions

    @Option(help: ArgumentHelp("The run folder (default: runs/<script name>/<parameter id>).", valueName: "dir"))
    var out: String?

    @Flag(help: "Re-run whenever the script changes (Ctrl-C stops).")
    var watch = false

    @Flag(name: .customLong("no-cache"), help: "Compute everything anew: neither read nor write the cache.")
    var noCache = false

    @Option(help: ArgumentHelp("Run as shard I of N sharing the cache: each split call (sweep, curve, attributes, top images, dissection) computes its share first; a plain run afterwards only assembles.", valueName: "I/N"))
    var shard: String?

    @OptionGroup var guards: GuardOptions

    @Argument(help: "The script to run.")
    var script: String

    @Argument(parsing: .allUnrecognized, help: "Arguments for the script.")
    var args: [String] = []

    func validate() throws {
        guard FileManager.default.isReadableFile(atPath: script) else {
            throw ValidationError("cannot read script '\(script)'")
        }
        if let out {
            // Checked before the script runs, so that its work is not lost at the end.
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: out, isDirectory: &isDir), !isDir.boolValue {
                throw ValidationError("--out '\(out)' is a file, not a folder")
            }
        }
        if let shard {
            do { _ = try Shard(parsing: shard) } catch { throw ValidationError(error.description) }
            guard !noCache else { throw ValidationError("--shard needs the cache (shards share their work through it); drop --no-cache") }
        }
    }

    mutating func run() throws {
        if !watch { return try once() }
        var last = Run.modified(script)
        while true {
            do { try once() } catch let e as ExitCode where e != .success {
                // a failed run is reported; watching goes on, unless Ctrl-C stopped it
            }
            if LuaHost.interruptSignal != 0 { throw ExitCode(128 + LuaHost.interruptSignal) }
            FileHandle.standardError.write(Data("lesion: watching \(script) (Ctrl-C stops)\n".utf8))
            while Run.modified(script) == last {
                usleep(300_000)
                if LuaHost.interruptSignal != 0 { throw ExitCode(128 + LuaHost.interruptSignal) }
            }
            last = Run.modified(script)
            FileHandle.standardError.write(Data("\nlesion: \(script) changed, running again\n".utf8))
        }
    }

    static func modified(_ path: String) -> Date? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
    }

    func once() throws {
        let host = try common.makeHost()
        host.catchInterrupts()
        host.outputDirectory = out
        host.cacheEnabled = !noCache
        host.shard = try shard.map { try Shard(parsing: $0) }
        if guards.maxMemory != nil || guards.timeout != nil {
            host.setLimits(RunLimits(maxMemory: guards.maxMemory.flatMap(RunLimits.bytes), timeout: guards.timeout.flatMap(RunLimits.seconds)))
        }
        if guards.sandboxed {
            try common.catching { try host.enterSandbox(SandboxPolicy(readable: guards.allowRead), script: script) }
        }
        var scriptArgs = args
        if let i = scriptArgs.firstIndex(of: "--") { scriptArgs.remove(at: i) }
        let (record, failure) = try common.catching { try host.runNotebook(file: script, args: scriptArgs) }
        let dir = host.runDirectory()
        do {
            try record.write(to: dir)
            FileHandle.standardError.write(Data("lesion: report written to \(dir)/report.html\n".utf8))
        } catch {
            let why = (error as? TensorError)?.message ?? error.localizedDescription
            FileHandle.standardError.write(Data("lesion: cannot write the run folder '\(dir)': \(why)\n".utf8))
            throw ExitCode(1)
        }
        if let failure {
            FileHandle.standardError.write(Data("lesion: \(failure.message)\n".utf8))
            // 128 + the signal, as a shell reports a process that a signal ended.
            let signal = LuaHost.interruptSignal
            throw ExitCode(signal != 0 ? 128 + signal : 1)
        }
        if !common.overrides.isEmpty && host.declaredParameters.isEmpty {
            FileHandle.standardError.write(Data("lesion: --set was given, but '\(script)' declares no parameters (params{...})\n".utf8))
            throw ExitCode(2)
        }
    }
}

struct CacheCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache",
        abstract: "List, measure or clear the cache (.lesion/cache, or $LESION_CACHE).",
        discussion: "Entries are keyed by everything that determines their value; a stale entry is never used, so clearing is only ever needed to free disk space.")

    enum Action: String, ExpressibleByArgument, CaseIterable {
        case ls, size, clear
    }

    @Argument(help: "ls (one line per entry), size (bytes in all) or clear.")
    var action: Action

    // --cache (and the other common options) as every subcommand takes them.
    @OptionGroup var common: CommonOptions

    mutating func run() throws {
        let cache = DiskCache(root: common.cache ?? DiskCache.defaultRoot())
        switch action {
        case .ls:
            let entries = cache.list()
            for e in entries {
                print("\(e.key.prefix(12))  \(CacheCommand.bytes(e.bytes).padding(toLength: 9, withPad: " ", startingAt: 0))  \(e.created)  \(e.label)")
            }
            print("\(entries.count) entr\(entries.count == 1 ? "y" : "ies") in \(cache.root)")
        case .size:
            print("\(CacheCommand.bytes(cache.size())) in \(cache.list().count) entries (\(cache.root))")
        case .clear:
            let (n, b) = cache.clear()
            print("removed \(n) file\(n == 1 ? "" : "s") (\(CacheCommand.bytes(b))) from \(cache.root)")
        }
    }

    static func bytes(_ n: Int) -> String {
        if n < 1024 { return "\(n) B" }
        if n < 1 << 20 { return String(format: "%.1f KB", Double(n) / 1024) }
        if n < 1 << 30 { return String(format: "%.1f MB", Double(n) / 1048576) }
        return String(format: "%.2f GB", Double(n) / 1073741824)
    }
}

extension Lesion {
    /// This executable, to start other runs with.
    static var executable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}
