// plot.scatter / line / bar / hist / heatmap: SVG drawn by Notebook.Plot; each plot goes into
// the running cell's output and is returned as an SVG string.
import CLua
import LuaShim
import LesionTensor
import Notebook

enum PlotBinding {
    static func register(_ lua: Lua) {
        LuaHost.from(lua.L).registerModule(lua, "plot", [
            ("scatter", scatter), ("line", line), ("bar", bar), ("hist", hist), ("heatmap", heatmap),
        ])
    }

    static let common = ["title", "xlabel", "ylabel"]

    /// Runs a plot function: checks the spec table, draws, records and returns the SVG.
    static func draw(_ L: OpaquePointer?, _ name: String, _ allowed: [String], _ body: (Lua, Options, Labels) throws -> String) -> Int32 {
        Lua.bind(L, name) { lua in
            guard lua.type(1) == LUA_TTABLE else { throw lua.argError(1, expected: "table") }
            let o = try Options(lua, 1, allowed: allowed + common)
            let labels = Labels(title: try o.string("title"), xlabel: try o.string("xlabel"), ylabel: try o.string("ylabel"))
            let svg: String
            do {
                svg = try body(lua, o, labels)
            } catch let e as PlotError {
                throw LuaArgError(1, e.description)
            }
            LuaHost.from(lua.L).record?.add(.svg(svg, title: labels.title))
            lua.push(svg)
            return 1
        }
    }

    static func numbers(_ lua: Lua, _ i: Int32, _ what: String) throws -> [Double] {
        try lua.numbers(i, arg: 1, field: what)
    }

    static func required(_ o: Options, _ key: String, _ read: (Int32) throws -> [Double]) throws -> [Double] {
        guard let v = try o.with(key, read) else { throw LuaArgError(1, "field '\(key)' is required") }
        return v
    }

    /// Labels at i: an array of strings (numbers are turned into text).
    static func strings(_ lua: Lua, _ i: Int32, _ what: String) throws -> [String] {
        guard lua.type(i) == LUA_TTABLE else { throw LuaArgError(1, "'\(what)' must be an array of labels, got \(lua.typeName(i))") }
        var out: [String] = []
        for k in 0..<lua.rawLength(i) {
            lua_rawgeti(lua.L, i, lua_Integer(k + 1))
            defer { lua.pop() }
            guard lua.type(-1) == LUA_TSTRING || lua.type(-1) == LUA_TNUMBER, let s = lua.string(at: -1) else {
                throw LuaArgError(1, "'\(what)'[\(k + 1)] is a \(lua.typeName(-1)), a string expected")
            }
            out.append(s)
        }
        return out
    }

    static let scatter: LuaFunction = { L in
        draw(L, "plot.scatter", ["x", "y", "trend"]) { lua, o, labels in
            let x = try required(o, "x") { try numbers(lua, $0, "x") }
            let y = try required(o, "y") { try numbers(lua, $0, "y") }
            return try Plot.scatter(x: x, y: y, trend: try o.boolean("trend") ?? false, labels: labels)
        }
    }

    /// y: numbers (one series) or a table of named series {name = numbers, ...} (drawn in name order).
    static let line: LuaFunction = { L in
        draw(L, "plot.line", ["x", "y"]) { lua, o, labels in
            let x = try o.with("x") { try numbers(lua, $0, "x") }
            let series: [(String, [Double])]? = try o.with("y") { i in
                if lua.test(i, Tensor.self) != nil || (lua.type(i) == LUA_TTABLE && lua.rawLength(i) > 0) {
                    return [("", try numbers(lua, i, "y"))]
                }
                guard lua.type(i) == LUA_TTABLE else { throw LuaArgError(1, "'y' must be numbers or a table of named series, got \(lua.typeName(i))") }
                var names: [String] = []
                try lua.forEachField(i) { k in
                    guard let k else { throw LuaArgError(1, "'y': series names must be strings") }
                    names.append(k)
                }
                var out: [(String, [Double])] = []
                for n in names.sorted() {
                    lua.rawField(i, n)
                    defer { lua.pop() }
                    out.append((n, try numbers(lua, lua.top, "y." + n)))
                }
                return out
            }
            guard let series else { throw LuaArgError(1, "field 'y' is required") }
            return try Plot.line(x: x, series: series, labels: labels)
        }
    }

    static let bar: LuaFunction = { L in
        draw(L, "plot.bar", ["x", "y"]) { lua, o, labels in
            let y = try required(o, "y") { try numbers(lua, $0, "y") }
            let x = try o.with("x") { try strings(lua, $0, "x") } ?? (1...max(y.count, 1)).map(String.init)
            return try Plot.bar(labels: x, values: y, labels: labels)
        }
    }

    static let hist: LuaFunction = { L in
        draw(L, "plot.hist", ["values", "bins"]) { lua, o, labels in
            let v = try required(o, "values") { try numbers(lua, $0, "values") }
            return try Plot.hist(values: v, bins: try o.integer("bins") ?? 20, labels: labels)
        }
    }

    static let heatmap: LuaFunction = { L in
        draw(L, "plot.heatmap", ["values", "rows", "cols"]) { lua, o, labels in
            let t: Tensor? = try o.with("values") { i in
                if let t = lua.test(i, Tensor.self) { return t }
                throw LuaArgError(1, "'values' must be a 2-D tensor, got \(lua.typeName(i))")
            }
            guard let t else { throw LuaArgError(1, "field 'values' is required") }
            guard t.rank == 2 else { throw LuaArgError(1, "'values' must be a 2-D tensor, got shape \(Tensor.describe(t.shape))") }
            let v = (0..<t.count).map { Double(t.data[$0]) }
            return try Plot.heatmap(values: v, rows: t.shape[0], cols: t.shape[1],
                                    rowLabels: try o.with("rows") { try strings(lua, $0, "rows") },
                                    colLabels: try o.with("cols") { try strings(lua, $0, "cols") }, labels: labels)
        }
    }
}
