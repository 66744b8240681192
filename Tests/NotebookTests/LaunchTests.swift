import Foundation
import Testing
@testable import Notebook

@Suite struct LaunchTests {
    @Test func gridCombinationsAndFolders() throws {
        let g = try Grid(parsing: ["seed=1,2", "bn=true,false"])
        #expect(g.combinations.map(Grid.folder) == ["seed=1,bn=true", "seed=1,bn=false", "seed=2,bn=true", "seed=2,bn=false"])
        #expect(Grid.folder([("path", "a/b c")]) == "path=a_b_c")
        for bad in ["seed", "=1", "seed=1,,2"] { #expect(throws: LaunchError.self, "\(bad)") { try Grid(parsing: [bad]) } }
        #expect(throws: LaunchError.self) { try Grid(parsing: ["a=1", "a=2"]) }
    }

    @Test func runCommandArguments() {
        let r = RunCommand(script: "s.lua", out: "o", threads: 2, sets: ["a=1"], noCache: false, plugins: ["p"], cache: "/c", shard: "2/4")
        #expect(r.arguments == ["run", "s.lua", "--out", "o", "--threads", "2", "--set", "a=1", "--plugin", "p", "--cache", "/c", "--shard", "2/4"])
        #expect(RunCommand(script: "s.lua", noCache: true).arguments == ["run", "s.lua", "--no-cache"])
    }

    @Test func sbatchWords() {
        #expect(SlurmJobs.words("--time=1:00:00  --partition=long") == ["--time=1:00:00", "--partition=long"])
        #expect(SlurmJobs.words("--comment='two words' -J \"x y\"") == ["--comment=two words", "-J", "x y"])
        #expect(SlurmJobs.words("") == [] && SlurmJobs.words("''") == [""])
        #expect(SlurmJobs.arrayList([1, 2, 3, 5, 7, 8]) == "1-3,5,7-8")
    }

    /// The job scripts quote every argument, name every task, and the pending tasks are those
    /// whose folders do not hold a manifest of a finished run.
    @Test func jobScriptsAndPendingTasks() throws {
        let dir = FileManager.default.temporaryDirectory.path + "/lesion-slurm-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let tasks = (1...3).map { i in (arguments: ["run", "it's.lua", "--shard", "\(i)/3"], folder: "\(dir)/shard-\(i)-of-3") }
        let jobs = SlurmJobs(directory: dir, workdir: "/work dir", executable: "/bin/lesion", tasks: tasks,
                             final: ["run", "it's.lua"], name: "lesion-x")
        try jobs.write()
        let array = try String(contentsOfFile: jobs.arrayScriptPath, encoding: .utf8)
        #expect(array.contains("  2) exec '/bin/lesion' 'run' 'it'\\''s.lua' '--shard' '2/3' ;;"))
        #expect(array.contains("#SBATCH --output=\(dir)/logs/task-%a.out") && array.contains("cd '/work dir'"))
        #expect(try String(contentsOfFile: jobs.finalScriptPath, encoding: .utf8).contains("exec '/bin/lesion' 'run' 'it'\\''s.lua'\n"))
        #expect(jobs.pending == [1, 2, 3])
        try FileManager.default.createDirectory(atPath: tasks[1].folder, withIntermediateDirectories: true)
        try #"{"failed": false}"#.write(toFile: tasks[1].folder + "/manifest.json", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: tasks[2].folder, withIntermediateDirectories: true)
        try #"{"failed": true}"#.write(toFile: tasks[2].folder + "/manifest.json", atomically: true, encoding: .utf8)
        try "lesion: cannot read data\nlesion: report written to x\n".write(toFile: jobs.log(task: 3), atomically: true, encoding: .utf8)
        #expect(jobs.pending == [1, 3])
        #expect(jobs.state(task: 3) == .failed("cannot read data"))
        #expect(jobs.sbatchArray([1, 3], extra: ["--time=5"]) == ["--parsable", "--array=1,3", "--time=5", jobs.arrayScriptPath])
        #expect(jobs.sbatchFinal(after: "12", extra: []) == ["--parsable", "--dependency=afterok:12", "--kill-on-invalid-dep=yes", jobs.finalScriptPath])
    }
}
