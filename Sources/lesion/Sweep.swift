// lesion sweep: a grid of variants, run here as processes or submitted to Slurm, and their comparison page.
import ArgumentParser
import Foundation
import LesionTensor
import LuaHost
import Notebook

extension SweepCommand {
    /// One array task per variant, then `lesion sweep --gather` for the comparison page.
    func submitToSlurm(_ combos: [[(String, String)]], dir: String, name: String) throws {
        let d = SlurmCommand.absolute(dir), exe = Lesion.executable
        let tasks: [(arguments: [String], folder: String)] = combos.map { c in
            let vdir = d + "/" + Grid.folder(c)
            let run = RunCommand(script: SlurmCommand.absolute(script), out: vdir, threads: SlurmCommand.threads(common.threads),
                                 sets: common.overrides + c.map { "\($0.0)=\($0.1)" }, noCache: noCache,
                                 plugins: common.pluginDirectories.map(SlurmCommand.absolute), cache: common.cache.map(SlurmCommand.absolute),
                                 extra: guards.runArguments(SlurmCommand.absolute))
            return (run.arguments, vdir)
        }
        var final = ["sweep", SlurmCommand.absolute(script), "--gather", "--out", d]
        for g in grids { final += ["--grid", g] }
        for o in common.overrides { final += ["--set", o] }
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

    @Option(help: "Variants run at once (each gets cores / jobs threads unless --threads says otherwise).")
    var jobs = 1

    @Option(help: ArgumentHelp("Where the comparison and the variants' folders go (default: runs/<script>/sweep-<id>).", valueName: "dir"))
    var out: String?

    @Flag(name: .customLong("no-cache"), help: "Variants neither read nor write the cache.")
    var noCache = false

    /// --threads (of each variant), --plugin and --cache (of every variant).
    @OptionGroup var common: CommonOptions

    @OptionGroup var guards: GuardOptions

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
    }

    mutating func run() throws {
        let combos = try parsedGrid().combinations
        let name = ((script as NSString).lastPathComponent as NSString).deletingPathExtension
        let dir = out ?? "runs/\(name)/sweep-\(SweepCommand.id(grids, common.overrides))"
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
            let run = RunCommand(script: script, out: vdir, threads: perJob, sets: common.overrides + c.map { "\($0.0)=\($0.1)" },
                                 noCache: noCache, plugins: common.pluginDirectories, cache: common.cache, extra: guards.runArguments())
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
