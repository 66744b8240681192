// The `stats` module.
import CLua
import LuaShim
import LesionAblation
import LesionTensor

enum StatsBinding {
    static func register(_ lua: Lua) {
        LuaHost.from(lua.L).registerModule(lua, "stats", [
            ("pearson", pearson), ("spearman", spearman), ("rank", rank), ("describe", describe),
        ])
    }

    static func sample(_ lua: Lua, _ i: Int32) throws -> [Double] { try lua.numbers(i, arg: i) }

    static func correlation(_ L: OpaquePointer?, _ name: String, _ f: ([Double], [Double]) throws(TensorError) -> Stats.Correlation) -> Int32 {
        Lua.bind(L, name) { lua in
            let x = try sample(lua, 1), y = try sample(lua, 2)
            guard x.count == y.count else { throw LuaArgError(2, "\(y.count) values, expected \(x.count) like argument #1") }
            let c = try lua.about(1) { () throws(TensorError) in try f(x, y) }
            lua.push(c.r)
            lua.push(c.p)
            return 2
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
