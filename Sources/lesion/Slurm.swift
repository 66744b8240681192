// lesion slurm: shards of a run as a Slurm array job and a merge job; the submission shared with `lesion sweep --slurm`.
import ArgumentParser
import Foundation
import LesionTensor
import LuaHost
import Notebook

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

    @OptionGroup var guards: GuardOptions

    @Option(help: "The number of shards (array tasks).")
    var shards: Int

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
    }

    /// --threads, else this machine's core count: what every job of a submission runs with.
    static func threads(_ given: Int?) -> Int { given ?? ProcessInfo.processInfo.activeProcessorCount }

    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }

    func jobs() -> SlurmJobs {
        let name = ((script as NSString).lastPathComponent as NSString).deletingPathExtension
        let dir = SlurmCommand.absolute(out ?? "runs/\(name)/slurm-\(SweepCommand.id(["shards=\(shards)"], common.overrides))")
        let cache = SlurmCommand.absolute(common.cache ?? DiskCache.defaultRoot())
        // One thread count for every task and the merge: it is part of every cache key, so a
        // merge on a node of another size would not find the shards' parts.
        let threads = SlurmCommand.threads(common.threads)
        func run(_ out: String, shard: String?) -> [String] {
            RunCommand(script: SlurmCommand.absolute(script), out: out, threads: threads, sets: common.overrides,
                       plugins: common.pluginDirectories.map(SlurmCommand.absolute), cache: cache, shard: shard,
                       extra: guards.runArguments(SlurmCommand.absolute)).arguments
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
