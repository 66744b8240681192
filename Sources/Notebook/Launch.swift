// Running `lesion run` as other processes: the command line of one run (RunCommand), the
// variants of a grid of parameters (Grid), and a pool of processes on this machine
// (ProcessPool). `lesion sweep` runs a grid through the pool; `lesion slurm` writes the same
// command lines into Slurm job scripts (Slurm.swift); `--shard` runs are RunCommands too.
import Foundation

/// One `lesion run`: the arguments after the executable.
public struct RunCommand: Equatable {
    public var script: String
    public var out: String?
    public var threads: Int?
    /// `--set key=value`, in order.
    public var sets: [String] = []
    public var noCache = false
    public var plugins: [String] = []
    public var cache: String?
    /// Written literally (Slurm's job scripts pass "${SLURM_ARRAY_TASK_ID}/N").
    public var shard: String?
    /// More options of `lesion run`, in order (--sandbox, --timeout, ...).
    public var extra: [String] = []

    public init(script: String, out: String? = nil, threads: Int? = nil, sets: [String] = [], noCache: Bool = false,
                plugins: [String] = [], cache: String? = nil, shard: String? = nil, extra: [String] = []) {
        self.script = script; self.out = out; self.threads = threads; self.sets = sets; self.noCache = noCache
        self.plugins = plugins; self.cache = cache; self.shard = shard; self.extra = extra
    }

    public var arguments: [String] {
        var a = ["run", script]
        if let out { a += ["--out", out] }
        if let threads { a += ["--threads", String(threads)] }
        for s in sets { a += ["--set", s] }
        if noCache { a.append("--no-cache") }
        for d in plugins { a += ["--plugin", d] }
        if let cache { a += ["--cache", cache] }
        if let shard { a += ["--shard", shard] }
        return a + extra
    }
}

public struct LaunchError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}

/// Every combination of the values of `--grid key=v1,v2,...`, the first key varying slowest.
public struct Grid {
    public let axes: [(key: String, values: [String])]

    public init(parsing grids: [String]) throws(LaunchError) {
        var out: [(String, [String])] = []
        for g in grids {
            guard let eq = g.firstIndex(of: "="), eq != g.startIndex else { throw LaunchError("--grid takes key=v1,v2,..., got '\(g)'") }
            let key = String(g[..<eq])
            let values = g[g.index(after: eq)...].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard !values.contains(where: \.isEmpty) else { throw LaunchError("--grid \(key): empty value in '\(g)'") }
            guard !out.contains(where: { $0.0 == key }) else { throw LaunchError("--grid \(key) is given twice") }
            out.append((key, values))
        }
        axes = out.map { (key: $0.0, values: $0.1) }
    }

    public var combinations: [[(String, String)]] {
        var combos: [[(String, String)]] = [[]]
        for (k, vs) in axes { combos = combos.flatMap { c in vs.map { c + [(k, $0)] } } }
        return combos
    }

    /// A variant's folder name: "epochs=1,seed=2", with characters unsafe in paths as "_".
    public static func folder(_ c: [(String, String)]) -> String {
        String(c.map { "\($0.0)=\($0.1)" }.joined(separator: ",").map { "/\\:*?\"<>| ".contains($0) ? "_" : $0 })
    }

    /// The comparison of the variants in `dir` (each variant's results.json), as `Variant`s.
    public static func gather(_ combos: [[(String, String)]], in dir: String, status: (Int) -> Int32?, seconds: (Int) -> Double) -> [Variant] {
        combos.indices.map { i in
            let folder = Grid.folder(combos[i])
            var values: [(String, JSON)] = []
            var ok = status(i), secs = seconds(i)
            if let data = FileManager.default.contents(atPath: dir + "/" + folder + "/results.json"),
               case .object(let kv)? = (try? JSON.parse(data))?["values"] { values = kv }
            if ok == nil {
                // Not run here (a Slurm task): its manifest says whether it failed, and how long it took.
                let manifest = FileManager.default.contents(atPath: dir + "/" + folder + "/manifest.json").flatMap { try? JSON.parse($0) }
                if case .bool(let failed)? = manifest?["failed"] { ok = failed ? 1 : 0 } else { ok = 127 }
                if case .number(let d)? = manifest?["duration_s"] { secs = d }
            }
            return Variant(settings: combos[i], folder: folder, status: ok ?? 127, seconds: secs, values: values)
        }
    }
}

/// Processes run a few at a time on this machine, each writing its output to a log file.
public enum ProcessPool {
    public struct Job {
        public let arguments: [String]
        public let log: String
        public init(arguments: [String], log: String) { self.arguments = arguments; self.log = log }
    }

    /// Runs `executable` once per job, `parallel` at a time; `started(i)` and `finished(i,
    /// status, seconds)` are called on this thread as jobs start and end.
    public static func run(_ executable: String, _ jobs: [Job], parallel: Int, started: (Int) -> Void,
                           finished: (Int, Int32, Double) -> Void) throws {
        var running: [(Process, FileHandle, Int, Date)] = []
        var next = 0
        while next < jobs.count || !running.isEmpty {
            while running.count < max(1, parallel) && next < jobs.count {
                let job = jobs[next]
                guard FileManager.default.createFile(atPath: job.log, contents: nil),
                      let log = FileHandle(forWritingAtPath: job.log) else { throw LaunchError("cannot write '\(job.log)'") }
                let p = Process()
                p.executableURL = URL(fileURLWithPath: executable)
                p.arguments = job.arguments
                p.standardOutput = log
                p.standardError = log
                try p.run()
                running.append((p, log, next, Date()))
                started(next)
                next += 1
            }
            usleep(50_000)
            for (k, (p, log, i, t0)) in running.enumerated().reversed() where !p.isRunning {
                running.remove(at: k)
                try? log.close()
                finished(i, p.terminationStatus, Date().timeIntervalSince(t0))
            }
        }
    }
}
