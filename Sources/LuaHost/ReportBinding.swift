// report.md / report.table / report.value / report.path and `print` into the running cell
// (running a script as a notebook: NotebookRun.swift).
import CLua
import Foundation
import LuaShim
import LesionTensor
import Notebook

enum ReportBinding {
    static func register(_ lua: Lua) {
        LuaHost.from(lua.L).registerModule(lua, "report", [
            ("md", md), ("table", table), ("value", value), ("path", path), ("_units", units),
        ])
        lua.push(print as LuaFunction)
        lua.setGlobal("print")
    }

    /// Writes text to standard output (in order with Lua's io.write) and to the running cell.
    static func emit(_ host: LuaHost, _ text: String, _ output: Output? = nil) {
        if host.echo { text.withCString { lesion_write_stdout($0, strlen($0)) } }
        if let r = host.record { r.add(output ?? .text(text)) }
    }

    /// print(...): as Lua's, and the line goes to the running cell's output.
    static let print: LuaFunction = { L in
        Lua.bind(L, "print") { lua in
            let host = LuaHost.from(lua.L)
            let n = lua.top
            var parts: [String] = []
            if n > 0 { for i in 1...n { parts.append(try host.tostring(i)) } }
            emit(host, parts.joined(separator: "\t") + "\n")
            return 0
        }
    }

    static let md: LuaFunction = { L in
        Lua.bind(L, "report.md") { lua in
            let text = try lua.string(1)
            let host = LuaHost.from(lua.L)
            emit(host, text.hasSuffix("\n") ? text : text + "\n", .markdown(text))
            return 0
        }
    }

    /// report.value(name, v): recorded in results.json (numbers, strings, booleans, tensors and
    /// tables of them). A later value of the same name replaces the earlier one.
    static let value: LuaFunction = { L in
        Lua.bind(L, "report.value") { lua in
            let name = try lua.string(1)
            guard !lua.isNoneOrNil(2) || lua.top >= 2 else { throw LuaArgError(2, "value expected") }
            let v = try lua.json(2, arg: 2)
            let host = LuaHost.from(lua.L)
            if let r = host.record {
                if let k = r.values.firstIndex(where: { $0.0 == name }) { r.values[k].1 = v } else { r.values.append((name, v)) }
            }
            return 0
        }
    }

    /// report.path(name): a path inside the run folder (created), for files a script saves.
    static let path: LuaFunction = { L in
        Lua.bind(L, "report.path") { lua in
            let name = try lua.string(1)
            guard !name.isEmpty, !name.hasPrefix("/"), !name.split(separator: "/").contains("..") else {
                throw LuaArgError(1, "a relative file name inside the run folder expected, got '\(name)'")
            }
            let host = LuaHost.from(lua.L)
            let dir = host.runDirectory()
            let full = dir + "/" + name
            let parent = (full as NSString).deletingLastPathComponent
            do {
                try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
            } catch {
                throw LuaRaise("report.path: cannot create '\(parent)': \(error.localizedDescription)")
            }
            lua.push(full)
            return 1
        }
    }

    /// report.table(rows or tensor{R,C}, {columns =, caption =}).
    static let table: LuaFunction = { L in
        Lua.bind(L, "report.table") { lua in
            let o = try Options(lua, 2, allowed: ["columns", "caption"])
            let caption = try o.string("caption")
            var columns: [String]? = try o.with("columns") { try lua.stringArray($0) }
            var rows: [[JSON]] = []
            if let t = lua.test(1, Tensor.self) {
                guard t.rank == 2 || t.rank == 1 else {
                    throw LuaArgError(1, "a 1-D or 2-D tensor or an array of rows expected, got a tensor of shape \(Tensor.describe(t.shape))")
                }
                let c = t.rank == 2 ? t.shape[1] : 1
                let cols = columns ?? (1...max(c, 1)).map(String.init)
                guard cols.count == c else { throw LuaArgError(2, "option 'columns': \(c) names expected, got \(cols.count)") }
                columns = cols
                for r in 0..<t.shape[0] { rows.append((0..<c).map { .number(Double(t.data[r * c + $0])) }) }
            } else {
                try lua.table(1)
                let n = lua.rawLength(1)
                if columns == nil {
                    // Rows made by Lesion (r:top) say their column order.
                    if lua.rawField(1, "columns") == LUA_TTABLE { columns = try lua.stringArray(lua.top) }
                    lua.pop()
                }
                var keyed = false
                for r in stride(from: 1, through: n, by: 1) {
                    guard lua_rawgeti(lua.L, 1, lua_Integer(r)) == LUA_TTABLE else {
                        throw LuaArgError(1, "row \(r) is a \(lua.typeName(-1)), a table expected")
                    }
                    let len = lua.rawLength(-1)
                    if r == 1 {
                        keyed = len == 0
                        if columns == nil {
                            if keyed {
                                var keys: [String] = []
                                lua.forEachField(-1) { k in if let k { keys.append(k) } }
                                columns = keys.sorted()
                            } else {
                                columns = (1...len).map(String.init)
                            }
                        }
                    }
                    var row: [JSON] = []
                    for (j, c) in columns!.enumerated() {
                        if keyed { lua.rawField(-1, c) } else { lua_rawgeti(lua.L, -1, lua_Integer(j + 1)) }
                        do {
                            row.append(try lua.json(-1, arg: 1))
                        } catch let e as LuaArgError {
                            throw LuaArgError(1, "row \(r), column '\(c)': \(e.message)")
                        }
                        lua.pop()
                    }
                    rows.append(row)
                    lua.pop()
                }
            }
            let t = Table(columns: columns ?? [], rows: rows, caption: caption)
            let host = LuaHost.from(lua.L)
            host.record?.tables.append(t)
            emit(host, HTML.plainTable(t) + "\n", .table(t))
            return 0
        }
    }
}

extension Lua {
    /// An array of strings at i.
    func stringArray(_ i: Int32) throws -> [String] {
        guard type(i) == LUA_TTABLE else { throw argError(i, expected: "array of strings") }
        var out: [String] = []
        for k in 0..<rawLength(i) {
            lua_rawgeti(L, i, lua_Integer(k + 1))
            defer { pop() }
            guard let s = string(at: -1), type(-1) == LUA_TSTRING else { throw LuaArgError(i, "element \(k + 1) is a \(typeName(-1)), a string expected") }
            out.append(s)
        }
        return out
    }

    /// The value at i as JSON: nil, booleans, numbers, strings, tensors (nested arrays) and
    /// tables of them (sequences become arrays, tables with string keys objects).
    func json(_ i: Int32, arg: Int32, depth: Int = 0) throws -> JSON {
        let i = lua_absindex(L, i)
        guard depth < 64 else { throw LuaArgError(arg, "tables nested too deeply (or a cycle)") }
        try reserve(arg: arg)
        switch type(i) {
        case LUA_TNIL, LUA_TNONE: return .null
        case LUA_TBOOLEAN: return .bool(lua_toboolean(L, i) != 0)
        case LUA_TNUMBER: return .number(lua_tonumberx(L, i, nil))
        case LUA_TSTRING: return .string(string(at: i) ?? "")
        case LUA_TUSERDATA:
            guard let t = test(i, Tensor.self) else { throw LuaArgError(arg, "cannot record a \(typeName(i)) (numbers, strings, booleans, tensors and tables of them)") }
            func nest(_ d: Int, _ off: Int) -> JSON {
                if d == t.rank { return .number(Double(t.data[off])) }
                let stride = t.shape[(d + 1)...].reduce(1, *)
                return .array((0..<t.shape[d]).map { nest(d + 1, off + $0 * stride) })
            }
            return nest(0, 0)
        case LUA_TTABLE:
            let n = rawLength(i)
            var count = 0
            var keys: [String] = []
            lua_pushnil(L)
            while lua_next(L, i) != 0 {
                count += 1
                if lua_type(L, -2) == LUA_TSTRING { keys.append(string(at: -2) ?? "") }
                pop()
            }
            if count == n {
                var a: [JSON] = []
                for k in stride(from: 1, through: n, by: 1) {
                    lua_rawgeti(L, i, lua_Integer(k))
                    defer { pop() }
                    a.append(try json(-1, arg: arg, depth: depth + 1))
                }
                return .array(a)
            }
            guard keys.count == count else { throw LuaArgError(arg, "a table mixing array items and other keys cannot be recorded") }
            var kv: [(String, JSON)] = []
            for k in keys.sorted() {
                rawField(i, k)
                defer { pop() }
                kv.append((k, try json(-1, arg: arg, depth: depth + 1)))
            }
            return .object(kv)
        default:
            throw LuaArgError(arg, "cannot record a \(typeName(i)) (numbers, strings, booleans, tensors and tables of them)")
        }
    }
}
