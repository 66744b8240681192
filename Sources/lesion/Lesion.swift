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
    @Option(help: "Threads for Lesion's parallel loops and products (default: all cores).")
    var threads: Int?

    @Option(name: .customLong("plugin"), help: ArgumentHelp("Also load the plugins (*.lua) in this folder (repeatable).", valueName: "dir"))
    var pluginDirectories: [String] = []

    @Option(help: ArgumentHelp("The cache folder (default: $LESION_CACHE, else .lesion/cache); runs that share one compute each cached call once.", valueName: "dir"))
    var cache: String?

    func validate() throws {
        if let t = threads, !(1...256).contains(t) {
            throw ValidationError("--threads must be between 1 and 256, got \(t)")
        }
    }

    /// A host with the plugins loaded; a plugin that fails is reported and the others load.
    func makeHost(quiet: Bool = false) throws -> LuaHost {
        if let t = threads { try Threads.set(t) }
        let host: LuaHost
        do {
            host = try LuaHost()
            if let cache { host.cacheRoot = cache }
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

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a script as a notebook and write its report; arguments after the script go to it as `arg` and `...`.",
        discussion: """
            The run folder (default runs/<script name>/<id of the parameters>/) receives report.html, \
            report.ipynb, results.json and manifest.json, also when a cell fails. Options Lesion \
            knows are taken by Lesion wherever they stand; after `--` every argument goes to the script.
            """)

    @OptionGroup var common: CommonOptions

    @Option(name: .customLong("set"), help: ArgumentHelp("Override a parameter declared with params{} (repeatable).", valueName: "key=value"))
    var overrides: [String] = []

    @Option(help: ArgumentHelp("The run folder (default: runs/<script name>/<parameter id>).", valueName: "dir"))
    var out: String?

    @Flag(help: "Re-run whenever the script changes (Ctrl-C stops).")
    var watch = false

    @Flag(name: .customLong("no-cache"), help: "Compute everything anew: neither read nor write the cache.")
    var noCache = false

    @Option(help: ArgumentHelp("Run as shard I of N sharing the cache: each split call (ablation.sweep) computes its share first; a plain run afterwards only assembles.", valueName: "I/N"))
    var shard: String?

    @Argument(help: "The script to run.")
    var script: String

    @Argument(parsing: .allUnrecognized, help: "Arguments for the script.")
    var args: [String] = []

    func validate() throws {
        guard FileManager.default.isReadableFile(atPath: script) else {
            throw ValidationError("cannot read script '\(script)'")
        }
        for o in overrides {
            guard let eq = o.firstIndex(of: "="), eq != o.startIndex else {
                throw ValidationError("--set takes key=value, got '\(o)'")
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
                // a failed run is reported; watching goes on
            }
            FileHandle.standardError.write(Data("lesion: watching \(script) (Ctrl-C stops)\n".utf8))
            while Run.modified(script) == last { usleep(300_000) }
            last = Run.modified(script)
            FileHandle.standardError.write(Data("\nlesion: \(script) changed, running again\n".utf8))
        }
    }

    static func modified(_ path: String) -> Date? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
    }

    func once() throws {
        let host = try common.makeHost()
        for o in overrides {
            let eq = o.firstIndex(of: "=")!
            host.parameterOverrides[String(o[..<eq])] = String(o[o.index(after: eq)...])
        }
        host.outputDirectory = out
        host.cacheEnabled = !noCache
        host.shard = try shard.map { try Shard(parsing: $0) }
        var scriptArgs = args
        if let i = scriptArgs.firstIndex(of: "--") { scriptArgs.remove(at: i) }
        let (record, failure) = try common.catching { try host.runNotebook(file: script, args: scriptArgs) }
        let dir = host.runDirectory()
        do {
            try record.write(to: dir)
            FileHandle.standardError.write(Data("lesion: report written to \(dir)/report.html\n".utf8))
        } catch {
            FileHandle.standardError.write(Data("lesion: cannot write the run folder '\(dir)': \(error)\n".utf8))
            throw ExitCode(1)
        }
        if let failure {
            FileHandle.standardError.write(Data("lesion: \(failure.message)\n".utf8))
            throw ExitCode(1)
        }
        if !overrides.isEmpty && host.declaredParameters.isEmpty {
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

    @Option(help: ArgumentHelp("The cache folder (default: $LESION_CACHE, else .lesion/cache).", valueName: "dir"))
    var cache: String?

    mutating func run() throws {
        let cache = DiskCache(root: self.cache ?? DiskCache.defaultRoot())
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

extension SweepCommand {
    /// One array task per variant, then `lesion sweep --gather` for the comparison page.
    func submitToSlurm(_ combos: [[(String, String)]], dir: String, name: String) throws {
        let d = SlurmCommand.absolute(dir), exe = Lesion.executable
        let tasks: [(arguments: [String], folder: String)] = combos.map { c in
            let vdir = d + "/" + Grid.folder(c)
            let run = RunCommand(script: SlurmCommand.absolute(script), out: vdir, threads: SlurmCommand.threads(common.threads),
                                 sets: overrides + c.map { "\($0.0)=\($0.1)" }, noCache: noCache,
                                 plugins: common.pluginDirectories.map(SlurmCommand.absolute), cache: common.cache.map(SlurmCommand.absolute))
            return (run.arguments, vdir)
        }
        var final = ["sweep", SlurmCommand.absolute(script), "--gather", "--out", d]
        for g in grids { final += ["--grid", g] }
        for o in overrides { final += ["--set", o] }
        let jobs = SlurmJobs(directory: d, workdir: FileManager.default.currentDirectoryPath, executable: exe, tasks: tasks,
                             final: final, name: "lesion-\(name)", cpus: SlurmCommand.threads(common.threads))
        try SlurmCommand.launch(jobs, sbatch: sbatch, dryRun: dryRun, what: "variant", finalWhat: "comparison",
                                result: d + "/index.html")
    }
}

struct SweepCommand: ParsableCommand {
    /// The default folder's id: the grid and the common settings.
    static func id(_ grids: [String], _ sets: [String]) -> String {
        String(SHA256.hex((grids + ["--"] + sets).joined(separator: "\n")).prefix(8))
    }

    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Run a script once per combination of parameter values and compare the variants.",
        discussion: """
            Every combination of the --grid values runs as `lesion run` in its own folder; then \
            index.html and comparison.csv put each variant's report.value entries side by side, \
            linking its report. Example:
              lesion sweep examples/quickstart.lua --grid epochs=1,2 --grid seed=1,2 --jobs 2
            """)

    @Option(name: .customLong("grid"), help: ArgumentHelp("A parameter and its values (repeatable).", valueName: "key=v1,v2,..."))
    var grids: [String] = []

    @Option(name: .customLong("set"), help: ArgumentHelp("A parameter set the same in every variant (repeatable).", valueName: "key=value"))
    var overrides: [String] = []

    @Option(help: "Variants run at once (each gets cores / jobs threads unless --threads says otherwise).")
    var jobs = 1

    @Option(help: ArgumentHelp("Where the comparison and the variants' folders go (default: runs/<script>/sweep-<id>).", valueName: "dir"))
    var out: String?

    @Flag(name: .customLong("no-cache"), help: "Variants neither read nor write the cache.")
    var noCache = false

    /// --threads (of each variant), --plugin and --cache (of every variant).
    @OptionGroup var common: CommonOptions

    @Flag(help: "Submit the variants to Slurm (one array task each, then the comparison) instead of running them here.")
    var slurm = false

    @Option(help: ArgumentHelp("With --slurm: more arguments for sbatch (e.g. \"--partition=gpu --time=2:00:00\").", valueName: "args"))
    var sbatch: String = ""

    @Flag(name: .customLong("dry-run"), help: "With --slurm: write the job scripts, submit nothing.")
    var dryRun = false

    @Flag(help: "Only (re)build the comparison from the variants' folders (what the Slurm comparison job runs).")
    var gather = false

    @Argument(help: "The script to run.")
    var script: String

    func parsedGrid() throws -> Grid {
        do { return try Grid(parsing: grids) } catch { throw ValidationError(error.description) }
    }

    func validate() throws {
        guard FileManager.default.isReadableFile(atPath: script) else { throw ValidationError("cannot read script '\(script)'") }
        guard !grids.isEmpty else { throw ValidationError("give at least one --grid key=v1,v2,...") }
        _ = try parsedGrid()
        guard (1...64).contains(jobs) else { throw ValidationError("--jobs must be between 1 and 64, got \(jobs)") }
        for o in overrides where o.firstIndex(of: "=") == nil { throw ValidationError("--set takes key=value, got '\(o)'") }
    }

    mutating func run() throws {
        let combos = try parsedGrid().combinations
        let name = ((script as NSString).lastPathComponent as NSString).deletingPathExtension
        let dir = out ?? "runs/\(name)/sweep-\(SweepCommand.id(grids, overrides))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        if slurm { return try submitToSlurm(combos, dir: dir, name: name) }
        if gather {
            let variants = Grid.gather(combos, in: dir, status: { _ in nil }, seconds: { _ in 0 })
            try RunRecord.atomicWrite(Comparison.html(script: name, variants), to: dir + "/index.html")
            try RunRecord.atomicWrite(Comparison.csv(variants), to: dir + "/comparison.csv")
            print("comparison written to \(dir)/index.html and \(dir)/comparison.csv")
            if variants.contains(where: { $0.status != 0 }) { throw ExitCode(1) }
            return
        }
        let perJob = common.threads ?? max(1, ProcessInfo.processInfo.activeProcessorCount / jobs)
        var jobsToRun: [ProcessPool.Job] = []
        for c in combos {
            let vdir = dir + "/" + Grid.folder(c)
            try FileManager.default.createDirectory(atPath: vdir, withIntermediateDirectories: true)
            let run = RunCommand(script: script, out: vdir, threads: perJob, sets: overrides + c.map { "\($0.0)=\($0.1)" },
                                 noCache: noCache, plugins: common.pluginDirectories, cache: common.cache)
            jobsToRun.append(ProcessPool.Job(arguments: run.arguments, log: vdir + "/log.txt"))
        }
        var status = [Int32?](repeating: nil, count: combos.count), seconds = [Double](repeating: 0, count: combos.count)
        do {
            try ProcessPool.run(Lesion.executable, jobsToRun, parallel: jobs, started: { i in
                print("[\(i + 1)/\(combos.count)] \(Grid.folder(combos[i])) started")
            }, finished: { i, st, secs in
                (status[i], seconds[i]) = (st, secs)
                let vdir = Grid.folder(combos[i])
                print("[\(i + 1)/\(combos.count)] \(vdir) \(st == 0 ? "ok" : "FAILED (see \(dir)/\(vdir)/log.txt)") in \(String(format: "%.1f", secs)) s")
            })
        } catch let e as LaunchError { throw ValidationError(e.description) }
        let variants = Grid.gather(combos, in: dir, status: { status[$0] }, seconds: { seconds[$0] })
        try RunRecord.atomicWrite(Comparison.html(script: name, variants), to: dir + "/index.html")
        try RunRecord.atomicWrite(Comparison.csv(variants), to: dir + "/comparison.csv")
        print("comparison written to \(dir)/index.html and \(dir)/comparison.csv")
        if variants.contains(where: { $0.status != 0 }) { throw ExitCode(1) }
    }
}

struct PluginsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugins",
        abstract: "List the plugins that load (lua/plugins, $LESION_PLUGINS, --plugin) and what each registers.")

    @OptionGroup var common: CommonOptions

    mutating func run() throws {
        let host = try common.makeHost(quiet: true)
        let plugins = host.plugins
        if plugins.isEmpty { print("no plugins (looked in \(host.luaDirectory)/plugins, $LESION_PLUGINS and --plugin folders)") }
        var failed = false
        for p in plugins {
            print(p.file + (p.ok ? "" : "  FAILED"))
            if let e = p.error { print("  error: \(e)"); failed = true }
            for r in p.registers { print("  \(r)") }
            if p.ok && p.registers.isEmpty { print("  (registers nothing)") }
        }
        if failed { throw ExitCode(1) }
    }
}
struct Repl: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "An interactive Lua prompt with every module loaded (Ctrl-D leaves).",
        discussion: "Expressions print their value (tensors pretty-printed, tables inspected); input continues on the next line while a chunk is unfinished; errors are shown and the prompt stays.")

    @OptionGroup var common: CommonOptions

    mutating func run() throws {
        let host = try common.makeHost()
        let tty = isatty(0) != 0
        if tty {
            print("Lesion \(LuaHost.version) (Lua 5.4) · tensor nn models data ablation units stats plot report · Ctrl-D leaves")
        }
        var buffer = ""
        while true {
            if tty {
                FileHandle.standardOutput.write(Data((buffer.isEmpty ? "> " : ">> ").utf8))
            }
            guard let line = readLine(strippingNewline: true) else { break }
            buffer += (buffer.isEmpty ? "" : "\n") + line
            if buffer.trimmingCharacters(in: .whitespaces).isEmpty { buffer = ""; continue }
            switch host.replEval(buffer) {
            case .incomplete:
                continue
            case .ok(let values):
                if !values.isEmpty { print(values.joined(separator: "\t")) }
            case .error(let message):
                FileHandle.standardError.write(Data((message + "\n").utf8))
            }
            buffer = ""
        }
        if !buffer.isEmpty, case .error(let m) = host.replEval(buffer) { FileHandle.standardError.write(Data((m + "\n").utf8)) }
        if tty { print("") }
    }
}

struct SlurmCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slurm",
        abstract: "Run a script on a Slurm cluster as N shards sharing the cache, then a merge run.",
        discussion: """
            Writes tasks.sbatch (an array job: task I runs `lesion run SCRIPT --shard I/N`) and \
            final.sbatch (the merge: a plain run that assembles the shards' parts from the cache, \
            after all tasks succeeded) into the run folder, and submits both with sbatch. Called \
            again, it submits only the tasks whose folders do not say they finished. The run \
            folder and the cache must be on a file system the nodes share. Example:
              lesion slurm examples/unit_importance.lua --shards 4 --sbatch "--time=1:00:00"
            A grid of variants goes through `lesion sweep ... --slurm`.
            """)

    @OptionGroup var common: CommonOptions

    @Option(help: "The number of shards (array tasks).")
    var shards: Int

    @Option(name: .customLong("set"), help: ArgumentHelp("Override a parameter declared with params{} (repeatable).", valueName: "key=value"))
    var overrides: [String] = []

    @Option(help: ArgumentHelp("More arguments for sbatch (e.g. \"--partition=long --time=2:00:00\").", valueName: "args"))
    var sbatch: String = ""

    @Option(help: ArgumentHelp("The run folder (default: runs/<script>/slurm-<id>).", valueName: "dir"))
    var out: String?

    @Flag(name: .customLong("dry-run"), help: "Write the job scripts, submit nothing.")
    var dryRun = false

    @Flag(help: "List each shard as finished, failed (with its log) or not run, and the merge; submit nothing.")
    var status = false

    @Argument(help: "The script to run.")
    var script: String

    func validate() throws {
        guard FileManager.default.isReadableFile(atPath: script) else { throw ValidationError("cannot read script '\(script)'") }
        guard (1...10_000).contains(shards) else { throw ValidationError("--shards must be between 1 and 10000, got \(shards)") }
        for o in overrides where o.firstIndex(of: "=") == nil { throw ValidationError("--set takes key=value, got '\(o)'") }
    }

    /// --threads, else this machine's core count: what every job of a submission runs with.
    static func threads(_ given: Int?) -> Int { given ?? ProcessInfo.processInfo.activeProcessorCount }

    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }

    func jobs() -> SlurmJobs {
        let name = ((script as NSString).lastPathComponent as NSString).deletingPathExtension
        let dir = SlurmCommand.absolute(out ?? "runs/\(name)/slurm-\(SweepCommand.id(["shards=\(shards)"], overrides))")
        let cache = SlurmCommand.absolute(common.cache ?? DiskCache.defaultRoot())
        // One thread count for every task and the merge: it is part of every cache key, so a
        // merge on a node of another size would not find the shards' parts.
        let threads = SlurmCommand.threads(common.threads)
        func run(_ out: String, shard: String?) -> [String] {
            RunCommand(script: SlurmCommand.absolute(script), out: out, threads: threads, sets: overrides,
                       plugins: common.pluginDirectories.map(SlurmCommand.absolute), cache: cache, shard: shard).arguments
        }
        let n = shards
        let tasks = (1...n).map { i -> (arguments: [String], folder: String) in
            let shard = try! Shard(index: i, count: n)
            let folder = dir + "/" + shard.folderName
            return (run(folder, shard: shard.description), folder)
        }
        return SlurmJobs(directory: dir, workdir: FileManager.default.currentDirectoryPath, executable: Lesion.executable,
                         tasks: tasks, final: run(dir + "/merged", shard: nil), name: "lesion-\(name)", cpus: threads)
    }

    mutating func run() throws {
        let jobs = jobs()
        if status { return SlurmCommand.printStatus(jobs, what: "shard", result: jobs.directory + "/merged") }
        try SlurmCommand.launch(jobs, sbatch: sbatch, dryRun: dryRun, what: "shard", finalWhat: "merge",
                                result: jobs.directory + "/merged/report.html")
    }

    static func printStatus(_ jobs: SlurmJobs, what: String, result: String) {
        for i in 1...jobs.tasks.count {
            switch jobs.state(task: i) {
            case .finished: print("\(what) \(i)/\(jobs.tasks.count): finished")
            case .failed(let why): print("\(what) \(i)/\(jobs.tasks.count): FAILED: \(why) (log: \(jobs.log(task: i)))")
            case .notRun: print("\(what) \(i)/\(jobs.tasks.count): not finished (log: \(jobs.log(task: i)))")
            }
        }
        let done = FileManager.default.fileExists(atPath: result + "/manifest.json") || FileManager.default.fileExists(atPath: result)
        print("final: \(done ? "written to \(result)" : "not yet (log: \(jobs.finalLog))")")
    }

    /// Writes the scripts; unless `dryRun`, submits the pending tasks and the final job.
    static func launch(_ jobs: SlurmJobs, sbatch: String, dryRun: Bool, what: String, finalWhat: String, result: String) throws {
        do { try jobs.write() } catch {
            FileHandle.standardError.write(Data("lesion: cannot write the job scripts into \(jobs.directory): \(error)\n".utf8))
            throw ExitCode(1)
        }
        let extra = SlurmJobs.words(sbatch)
        let pending = jobs.pending
        print("lesion: wrote \(jobs.arrayScriptPath) and \(jobs.finalScriptPath)")
        for i in 1...jobs.tasks.count where !pending.contains(i) { print("lesion: \(what) \(i) finished before; not submitted again") }
        if dryRun {
            if !pending.isEmpty { print("sbatch " + jobs.sbatchArray(pending, extra: extra).joined(separator: " ")) }
            print("sbatch " + jobs.sbatchFinal(after: pending.isEmpty ? nil : "<array job id>", extra: extra).joined(separator: " "))
            return
        }
        guard let sbatchPath = SlurmJobs.which("sbatch") else {
            FileHandle.standardError.write(Data("lesion: sbatch is not on PATH (is this a Slurm login node?); --dry-run writes the job scripts without submitting\n".utf8))
            throw ExitCode(1)
        }
        do {
            var ids: [String] = []
            var arrayJob: String?
            if !pending.isEmpty {
                arrayJob = try SlurmJobs.submit(sbatchPath, jobs.sbatchArray(pending, extra: extra))
                ids.append(arrayJob!)
                print("lesion: submitted job \(arrayJob!) (\(what)\(pending.count == 1 ? "" : "s") \(SlurmJobs.arrayList(pending)) of \(jobs.tasks.count))")
            }
            let final = try SlurmJobs.submit(sbatchPath, jobs.sbatchFinal(after: arrayJob, extra: extra))
            ids.append(final)
            print("lesion: submitted job \(final) (the \(finalWhat)\(arrayJob == nil ? "" : ", after all \(what)s succeed"))")
            print("  follow:  squeue -j \(ids.joined(separator: ","))    afterwards: sacct -j \(ids.joined(separator: ","))")
            print("  logs:    \(jobs.directory)/logs/")
            print("  result:  \(result)")
        } catch {
            FileHandle.standardError.write(Data("lesion: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
