import Testing
@testable import Notebook

@Suite struct ShardTests {
    @Test func parsesAndRefuses() throws {
        let s = try Shard(parsing: "2/4")
        #expect(s.index == 2 && s.count == 4 && s.description == "2/4" && s.folderName == "shard-2-of-4")
        for bad in ["5/4", "0/4", "x", "1/", "/3", "1/2/3", "-1/4", "1/0", ""] {
            #expect(throws: ShardError.self, "\(bad)") { try Shard(parsing: bad) }
        }
        #expect(throws: ShardError.self) { try Shard(parsing: "5/4") }
    }

    /// The shares of N shards cover every part once, in order, for any N and part count
    /// (more shards than parts leave some shards with nothing of their own).
    @Test func sharesCoverEveryPartOnce() throws {
        for parts in [1, 2, 7, 16, 64] {
            for n in [1, 2, 3, 4, 10, 100] {
                var seen: [Int] = []
                for i in 1...n { seen += Array(try Shard(index: i, count: n).share(of: parts)) }
                #expect(seen == Array(0..<parts), "\(parts) parts over \(n) shards")
            }
        }
    }

    @Test func describesRuns() {
        #expect(Shard.describe([0, 1, 2, 3, 6, 8, 9]) == "1-4, 7, 9-10")
        #expect(Shard.describe([4]) == "5")
        #expect(Shard.describe([]) == "")
    }
}
