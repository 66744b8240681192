// Shards: `lesion run --shard I/N` runs a script as the I-th of N processes that share one
// cache. Each expensive call that splits (ablation.sweep over its units, ...) is cut into a
// fixed number of parts that does not depend on N, so that parts computed by any shards, in any
// order, assemble into the same bits; a shard starts with its own contiguous share of the parts.
public struct Shard: Equatable, Sendable, CustomStringConvertible {
    /// 1-based: this is shard `index` of `count`.
    public let index: Int
    public let count: Int

    public init(index: Int, count: Int) throws(ShardError) {
        guard count >= 1, count <= 100_000 else { throw ShardError("the shard count must be from 1 to 100000, got \(count)") }
        guard index >= 1, index <= count else { throw ShardError("shard \(index)/\(count) does not exist: shards are numbered 1 to \(count)") }
        (self.index, self.count) = (index, count)
    }

    /// "I/N", as `--shard` takes it.
    public init(parsing text: String) throws(ShardError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]) else {
            throw ShardError("--shard takes I/N (this is shard I of N, from 1), got '\(text)'")
        }
        try self.init(index: i, count: n)
    }

    public var description: String { "\(index)/\(count)" }

    /// The run folder's last component for this shard.
    public var folderName: String { "shard-\(index)-of-\(count)" }

    /// The parts (0-based) of a call cut into `parts` that this shard computes first.
    public func share(of parts: Int) -> Range<Int> { (index - 1) * parts / count ..< index * parts / count }

    /// "1-4, 7, 9-10" for 0-based parts, shown 1-based.
    public static func describe(_ parts: [Int]) -> String {
        var out: [String] = []
        var i = 0
        let s = parts.sorted()
        while i < s.count {
            var j = i
            while j + 1 < s.count && s[j + 1] == s[j] + 1 { j += 1 }
            out.append(i == j ? "\(s[i] + 1)" : "\(s[i] + 1)-\(s[j] + 1)")
            i = j + 1
        }
        return out.joined(separator: ", ")
    }
}

public struct ShardError: Error, CustomStringConvertible {
    public let description: String
    init(_ message: String) { description = message }
}
