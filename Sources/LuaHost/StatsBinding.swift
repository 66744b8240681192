// The `stats` module.
import CLua
import LuaShim
import LesionAblation
import LesionTensor

enum StatsBinding {
    static func register(_ lua: Lua) {
        LuaHost.from(lua.L).registerModule(lua, "stats", [
            ("pearson", pearson), ("spearman", spearman), ("rank", rank), ("describe", describe),
            ("permutation", permutation), ("fdr", fdr), ("_resample", resample), ("_percentile", percentile), ("_shuffle", shuffle),
        ])
    }

    static func sample(_ lua: Lua, _ i: Int32) throws -> [Double] { try lua.numbers(i, arg: i) }

    /// stats.pearson / spearman(x, y [, {ci = 0.95}]): r and p, and with `ci` the interval's
    /// ends (Fisher's z; see Stats.fisherInterval).
    static func correlation(_ L: OpaquePointer?, _ name: String, _ f: ([Double], [Double]) throws(TensorError) -> Stats.Correlation) -> Int32 {
        Lua.bind(L, name) { lua in
            let x = try sample(lua, 1), y = try sample(lua, 2)
            guard x.count == y.count else { throw LuaArgError(2, "\(y.count) values, expected \(x.count) like argument #1") }
            let o = try Options(lua, 3, allowed: ["ci"])
            let level = try o.number("ci")
            let c = try lua.about(1) { () throws(TensorError) in try f(x, y) }
            lua.push(c.r)
            lua.push(c.p)
            guard let level else { return 2 }
            let (lo, hi) = try lua.about(3) { () throws(TensorError) in
                try Stats.fisherInterval(r: c.r, n: x.count, level: level, spearman: name == "spearman")
            }
            lua.push(lo)
            lua.push(hi)
            return 4
        }
    }

    /// stats.permutation(x, y, {n = 10000, seed = 0, method = "spearman"}): the two-sided
    /// permutation p-value of the correlation, and the correlation.
    static let permutation: LuaFunction = { L in
        Lua.bind(L, "permutation") { lua in
            let x = try sample(lua, 1), y = try sample(lua, 2)
            guard x.count == y.count else { throw LuaArgError(2, "\(y.count) values, expected \(x.count) like argument #1") }
            let o = try Options(lua, 3, allowed: ["n", "seed", "method"])
            let rounds = try o.integer("n") ?? 10_000, seed = try o.integer("seed") ?? 0
            let method = try o.string("method") ?? "spearman"
            guard method == "spearman" || method == "pearson" else {
                throw LuaArgError(3, "option 'method' must be \"spearman\" or \"pearson\", got '\(method)'")
            }
            guard seed >= 0 else { throw LuaArgError(3, "option 'seed' must be a non-negative integer, got \(seed)") }
            let (r, p) = try lua.about(3) { () throws(TensorError) in
                try Stats.permutationP(x, y, rounds: rounds, seed: UInt64(seed), spearman: method == "spearman")
            }
            lua.push(p)
            lua.push(r)
            return 2
        }
    }

    /// stats.fdr(p): Benjamini–Hochberg q-values, a tensor in the input's order.
    static let fdr: LuaFunction = { L in
        Lua.bind(L, "fdr") { lua in
            let p = try sample(lua, 1)
            let q = try lua.about(1) { () throws(TensorError) in try Stats.fdr(p) }
            lua.push(tensor: try Tensor(shape: [q.count], values: q.map(Float.init)))
            return 1
        }
    }

    /// A count and a seed at arguments 1 and 2, checked: (n, seed).
    static func countAndSeed(_ lua: Lua) throws -> (Int, UInt64) {
        let n = try lua.integer(1), seed = try lua.integer(2)
        guard n >= 1 && n <= 1 << 26 else { throw LuaArgError(1, "a count from 1 to \(1 << 26) expected, got \(n)") }
        guard seed >= 0 else { throw LuaArgError(2, "a non-negative seed expected, got \(seed)") }
        return (n, UInt64(seed))
    }

    /// Pushes 0-based indices as a Lua array of 1-based ones.
    static func pushIndices(_ lua: Lua, _ idx: [Int]) -> Int32 {
        lua.newTable(array: Int32(idx.count))
        for (k, i) in idx.enumerated() {
            lua.push(i + 1)
            lua.setIndex(-2, k + 1)
        }
        return 1
    }

    /// stats._resample(n, seed, round): the 1-based indices of one bootstrap round (a Lua array).
    static let resample: LuaFunction = { L in
        Lua.bind(L, "_resample") { lua in
            let (n, seed) = try countAndSeed(lua)
            let round = try lua.integer(3)
            guard round >= 0 else { throw LuaArgError(3, "a non-negative round expected, got \(round)") }
            return pushIndices(lua, Stats.resample(n, seed: seed, round: round))
        }
    }

    /// stats._shuffle(n, seed): a random order of 1 ... n (Fisher–Yates from Philox stream seed).
    static let shuffle: LuaFunction = { L in
        Lua.bind(L, "_shuffle") { lua in
            let (n, seed) = try countAndSeed(lua)
            return pushIndices(lua, Stats.shuffled(n, seed: seed))
        }
    }

    /// stats._percentile(values, q): NumPy's default (linear) percentile, q in [0, 100].
    static let percentile: LuaFunction = { L in
        Lua.bind(L, "_percentile") { lua in
            let v = try sample(lua, 1).sorted(), q = try lua.number(2)
            guard !v.isEmpty else { throw LuaArgError(1, "at least one value expected") }
            guard q >= 0 && q <= 100 else { throw LuaArgError(2, "a percentile from 0 to 100 expected, got \(q)") }
            lua.push(Stats.percentile(v, q))
            return 1
        }
    }

    static let pearson: LuaFunction = { L in correlation(L, "pearson") { x, y throws(TensorError) in try Stats.pearson(x, y) } }
    static let spearman: LuaFunction = { L in correlation(L, "spearman") { x, y throws(TensorError) in try Stats.spearman(x, y) } }

    static let rank: LuaFunction = { L in
        Lua.bind(L, "rank") { lua in
            let x = try sample(lua, 1)
            guard !x.isEmpty else { throw LuaArgError(1, "at least one value expected") }
            lua.push(tensor: try Tensor(shape: [x.count], values: Stats.rank(x).map(Float.init)))
            return 1
        }
    }

    static let describe: LuaFunction = { L in
        Lua.bind(L, "describe") { lua in
            let s = try lua.about(1) { () throws(TensorError) in try Stats.describe(try typed { try sample(lua, 1) }) }
            lua.newTable(record: 6)
            for (k, v) in [("mean", s.mean), ("std", s.std), ("min", s.min), ("median", s.median), ("max", s.max)] {
                lua.push(v)
                lua.setField(-2, k)
            }
            lua.push(s.n)
            lua.setField(-2, "n")
            return 1
        }
    }
}
