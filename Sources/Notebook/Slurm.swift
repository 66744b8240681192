// Slurm: `lesion slurm` writes an array job (one task per shard, or per variant of a grid) and
// a final job that depends on it (the merge run, or the comparison page), submits both with
// sbatch, and on a later call submits only the tasks whose run folders do not say they
// finished. Job scripts are plain bash with absolute paths: the folder must be on a file
// system that the cluster's nodes share, as the cache must.
import Foundation

public struct SlurmJobs {
    /// The run folder (absolute): job scripts, logs/ and the tasks' run folders.
    public let directory: String
    /// Where jobs run (absolute): the folder `lesion slurm` was called from.
    public let workdir: String
    /// The lesion executable the jobs call (absolute).
    public let executable: String
    /// One task's arguments (after the executable) and its run folder, per task.
    public let tasks: [(arguments: [String], folder: String)]
    /// The final job's arguments (after the executable).
    public let final: [String]
    /// A name for the jobs ("lesion-<script>").
    public let name: String
    /// CPUs per task (`#SBATCH --cpus-per-task`): the runs' --threads.
    public let cpus: Int?

    public init(directory: String, workdir: String, executable: String, tasks: [(arguments: [String], folder: String)],
                final: [String], name: String, cpus: Int? = nil) {
        self.directory = directory; self.workdir = workdir; self.executable = executable
        self.tasks = tasks; self.final = final; self.name = name; self.cpus = cpus
    }

    var cpusLine: String { cpus.map { "#SBATCH --cpus-per-task=\($0)\n" } ?? "" }

    public var arrayScriptPath: String { directory + "/tasks.sbatch" }
    public var finalScriptPath: String { directory + "/final.sbatch" }
    public func log(task i: Int) -> String { directory + "/logs/task-\(i).out" }
    public var finalLog: String { directory + "/logs/final.out" }

    /// Single-quoted for bash.
    static func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    func commandLine(_ args: [String]) -> String { ([executable] + args).map(SlurmJobs.quote).joined(separator: " ") }

    /// The array job: task i (1-based) runs tasks[i - 1].
    public var arrayScript: String {
        var s = "#!/bin/bash\n# Written by `lesion slurm`: one array task for each of \(tasks.count) task\(tasks.count == 1 ? "" : "s").\n"
        s += "#SBATCH --job-name=\(name)\n#SBATCH --output=\(directory)/logs/task-%a.out\n" + cpusLine
        s += "set -euo pipefail\ncd \(SlurmJobs.quote(workdir))\ncase \"${SLURM_ARRAY_TASK_ID:?run me with sbatch --array}\" in\n"
        for (i, t) in tasks.enumerated() { s += "  \(i + 1)) exec \(commandLine(t.arguments)) ;;\n" }
        s += "  *) echo \"no task ${SLURM_ARRAY_TASK_ID}\" >&2; exit 2 ;;\nesac\n"
        return s
    }

    /// The final job (the merge or the comparison), run after every task succeeded.
    public var finalScript: String {
        "#!/bin/bash\n# Written by `lesion slurm`: runs after all tasks succeeded.\n#SBATCH --job-name=\(name)-final\n"
            + "#SBATCH --output=\(finalLog)\n" + cpusLine + "set -euo pipefail\ncd \(SlurmJobs.quote(workdir))\nexec \(commandLine(final))\n"
    }

    /// What a task's run folder says: finished, failed (with the error), or nothing yet.
    public enum TaskState: Equatable {
        case finished
        case failed(String)
        case notRun
    }

    public func state(task i: Int) -> TaskState {
        guard let data = FileManager.default.contents(atPath: tasks[i - 1].folder + "/manifest.json"),
              let m = try? JSON.parse(data) else { return .notRun }
        if case .bool(false)? = m["failed"] { return .finished }
        // The run's own last word in its log: "lesion: <the error>".
        let log = FileManager.default.contents(atPath: self.log(task: i)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let why = log.split(separator: "\n").last(where: { $0.hasPrefix("lesion: ") && !$0.contains("report written") })
        return .failed(why.map { String($0.dropFirst("lesion: ".count)) } ?? "failed")
    }

    /// Tasks (1-based) still to run: those whose folders do not say they finished.
    public var pending: [Int] { tasks.indices.map { $0 + 1 }.filter { state(task: $0) != .finished } }

    /// "1-3,5": Slurm's --array list.
    public static func arrayList(_ tasks: [Int]) -> String {
        Shard.describe(tasks.map { $0 - 1 }).replacingOccurrences(of: " ", with: "")
    }

    /// Writes both scripts (and the logs folder).
    public func write() throws {
        try FileManager.default.createDirectory(atPath: directory + "/logs", withIntermediateDirectories: true)
        try RunRecord.atomicWrite(arrayScript, to: arrayScriptPath)
        try RunRecord.atomicWrite(finalScript, to: finalScriptPath)
        chmod(arrayScriptPath, 0o755)
        chmod(finalScriptPath, 0o755)
    }

    /// sbatch's arguments to submit the pending tasks, and the final job after `arrayJob`.
    public func sbatchArray(_ pending: [Int], extra: [String]) -> [String] {
        ["--parsable", "--array=\(SlurmJobs.arrayList(pending))"] + extra + [arrayScriptPath]
    }

    public func sbatchFinal(after arrayJob: String?, extra: [String]) -> [String] {
        ["--parsable"] + (arrayJob.map { ["--dependency=afterok:\($0)", "--kill-on-invalid-dep=yes"] } ?? []) + extra + [finalScriptPath]
    }

    /// Runs sbatch; returns the job id it printed.
    public static func submit(_ sbatch: String, _ args: [String]) throws(LaunchError) -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: sbatch)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        do { try p.run() } catch { throw LaunchError("cannot run \(sbatch): \(error)") }
        let o = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        let id = o.split(separator: "\n").first.map { String($0.split(separator: ";")[0]) }?.trimmingCharacters(in: .whitespaces) ?? ""
        guard p.terminationStatus == 0, !id.isEmpty, id.allSatisfy(\.isNumber) else {
            throw LaunchError("sbatch \(args.joined(separator: " ")) failed (status \(p.terminationStatus)): \((e + o).trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return id
    }

    /// The path of `name` on PATH, if any.
    public static func which(_ name: String, path: String? = ProcessInfo.processInfo.environment["PATH"]) -> String? {
        for d in (path ?? "").split(separator: ":") {
            let p = "\(d)/\(name)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    /// `--sbatch "ARGS"` split into words (spaces separate; single or double quotes group).
    public static func words(_ s: String) -> [String] {
        var out: [String] = [], cur = "", quote: Character? = nil, any = false
        for ch in s {
            if let q = quote {
                if ch == q { quote = nil } else { cur.append(ch) }
            } else if ch == "'" || ch == "\"" {
                quote = ch; any = true
            } else if ch == " " || ch == "\t" {
                if any || !cur.isEmpty { out.append(cur); cur = ""; any = false }
            } else {
                cur.append(ch)
            }
        }
        if any || !cur.isEmpty { out.append(cur) }
        return out
    }
}
