// cache(key, fn) and the automatic caching of m:fit, m:activations, ablation.sweep and
// units.attributes. Keys are SHA-256 digests of a canonical text of everything that determines
// the value: model architecture and weights, data set contents, options, Lesion's version and
// the numeric engine's identity (results are the same bits on any thread count). Values live in a DiskCache.
import CLua
import Foundation
import LuaShim
import LesionNN
import LesionTensor
import Notebook

/// What the cache did for this state, and what it worked out once.
final class CacheLog: HostState {
    /// Every lookup: (call, "hit" | "miss" | "corrupt").
    var lookups: [(String, String)] = []
    /// Data sets' identities, each source hashed once.
    let datasets = DatasetIdentities()
}

enum CacheBinding {
    static func register(_ lua: Lua) {
        LuaHost.from(lua.L).publishFunction(lua, "cache", cache)
        // lesion._cached(label, key, fn): the automatic caching of Lesion's own expensive calls;
        // a key that cannot be formed (a model with a Lambda layer) runs fn uncached.
        _ = lua.getGlobal("lesion")
        lua.push(cachedCall as LuaFunction)
        lua.setField(-2, "_cached")
        lua.push(log as LuaFunction)
        lua.setField(-2, "cache_log")
        lua.pop()
    }

    /// lesion.cache_log(): {{call =, result = "hit" | "miss" | "corrupt"}, ...} of this state.
    static let log: LuaFunction = { L in
        Lua.bind(L, "lesion.cache_log") { lua in
            let entries = LuaHost.from(lua.L).state(CacheLog.self).lookups
            lua.newTable(array: Int32(entries.count))
            for (i, (call, result)) in entries.enumerated() {
                lua.newTable(record: 2)
                lua.push(call); lua.setField(-2, "call")
                lua.push(result); lua.setField(-2, "result")
                lua.setIndex(-2, i + 1)
            }
            return 1
        }
    }

    static let cachedCall: LuaFunction = { L in
        Lua.bind(L, "lesion._cached") { lua in
            let label = try lua.string(1)
            guard lua.type(3) == LUA_TFUNCTION else { throw lua.argError(3, expected: "function") }
            let host = LuaHost.from(lua.L)
            let run: () throws -> Int32 = {
                lua_pushvalue(lua.L, 3)
                let base = lua.top - 1
                guard lesion_pcall(lua.L, 0, LUA_MULTRET, 0) == LUA_OK else {
                    throw LuaRaise(lua.string(at: -1) ?? "(error object is not a string)")
                }
                return lua.top - base
            }
            guard let text = try? lua.keyText(2, arg: 2) else { return try run() }
            return try host.cached(lua, label: label, keyText: label + "\n" + text, compute: run)
        }
    }

    /// cache(key, fn): fn()'s results, computed once per key and kept on disk. The key is a
    /// string or a table of strings, numbers, booleans, tensors, models and data sets.
    static let cache: LuaFunction = { L in
        Lua.bind(L, "cache") { lua in
            guard lua.type(2) == LUA_TFUNCTION else { throw lua.argError(2, expected: "function") }
            guard lua.type(1) == LUA_TSTRING || lua.type(1) == LUA_TTABLE else { throw lua.argError(1, expected: "string or table") }
            let host = LuaHost.from(lua.L)
            let text = try lua.keyText(1, arg: 1)
            let label = lua.type(1) == LUA_TSTRING ? "cache(\(lua.string(at: 1) ?? ""))" : "cache{...}"
            return try host.cached(lua, label: label, keyText: "cache\n" + text) {
                lua_pushvalue(lua.L, 2)
                let base = lua.top - 1
                guard lesion_pcall(lua.L, 0, LUA_MULTRET, 0) == LUA_OK else {
                    throw LuaRaise(lua.string(at: -1) ?? "(error object is not a string)")
                }
                return lua.top - base
            }
        }
    }
}

extension LuaHost {
    var diskCache: DiskCache { DiskCache(root: cacheRoot) }

    /// Looks `keyText` up; on a hit pushes the stored values, else runs `compute` (which pushes
    /// its results and returns their count) and stores them. Returns the number of values pushed.
    func cached(_ lua: Lua, label: String, keyText: String, compute: () throws -> Int32) throws -> Int32 {
        guard cacheEnabled else { return try compute() }
        let key = cacheKey(keyText)
        return try diskCache.fetchOrCompute(key, decode: { pushValues(lua, $0) }, compute: compute,
                                            store: { try storeTop(lua, $0, key: key, label: label) }) { event in
            switch event {
            case .hit(let seconds): noteCache(label, key, "hit", seconds)
            case .computed(let seconds): noteCache(label, key, "miss", seconds)
            case .corrupt(let why):
                let what = why.map { "was unusable (\($0))" } ?? "does not decode"
                FileHandle.standardError.write(Data("lesion: cache entry for \(label) \(what); recomputing\n".utf8))
                noteCache(label, key, "corrupt", 0)
            case .waiting(let owner):
                FileHandle.standardError.write(Data("lesion: \(label) is being computed by \(owner.isEmpty ? "another process" : "process " + owner); waiting for it\n".utf8))
            }
        }
    }

    /// Pushes an entry's values; returns their count, or nil (the stack as it was) when they do
    /// not decode.
    func pushValues(_ lua: Lua, _ e: DiskCache.Entry) -> Int32? {
        let top = lua.top
        guard case .array(let values)? = e.value["values"], (try? values.forEach { try lua.pushCached($0, e.tensors) }) != nil else {
            lua_settop(lua.L, top)
            return nil
        }
        return Int32(values.count)
    }

    /// Stores the top `n` values of the stack (left there) under `key`. A value that cannot be
    /// cached is an error; a cache that cannot be written is reported and the run goes on.
    func storeTop(_ lua: Lua, _ n: Int32, key: String, label: String) throws {
        var tensors: [(String, Tensor)] = []
        var values: [JSON] = []
        do {
            for i in 0..<n { values.append(try lua.cacheValue(lua.top - n + 1 + i, &tensors, depth: 0)) }
        } catch let e as LuaArgError {
            throw LuaRaise("\(label): cannot cache the result: \(e.message)")
        }
        do {
            try diskCache.store(key, label: label, value: .object([("values", .array(values))]), tensors: tensors)
        } catch {
            FileHandle.standardError.write(Data("lesion: cannot write the cache entry for \(label): \(error)\n".utf8))
        }
    }

    /// The entry name for a key's text: what else determines a value (Lesion's version, the
    /// engine and its loops) is part of it. The thread count is not: results are the same bits
    /// on any number of threads (checked by Tests/cli for every cached call), so runs on nodes
    /// of different sizes share entries.
    func cacheKey(_ keyText: String) -> String {
        String(SHA256.hex("lesion \(LuaHost.version) engine \(Engine.identity)\n" + keyText).prefix(40))
    }

    func noteCache(_ label: String, _ key: String, _ what: String, _ seconds: Double) {
        state(CacheLog.self).lookups.append((label, what))
        record?.cacheEvents.append(.object([("call", .string(label)), ("key", .string(key)), ("result", .string(what)),
                                             ("seconds", .number((seconds * 1000).rounded() / 1000))]))
    }

    // MARK: - identities

    /// A data set's identity (LesionNN's DatasetIdentities), noted in the run's manifest.
    func identity(of d: Dataset) -> String {
        let id = state(CacheLog.self).datasets.identity(of: d)
        if let r = record, !r.datasets.contains(where: { $0.0 == d.name }) {
            r.datasets.append((d.name, .object([("identity", .string(id)), ("samples", .number(Double(d.count))), ("classes", .number(Double(d.numClasses)))])))
        }
        return id
    }
}

extension Lua {
    /// The canonical text of a key value: equal texts for equal keys, whatever the table order.
    func keyText(_ i: Int32, arg: Int32, depth: Int = 0) throws -> String {
        let i = lua_absindex(L, i)
        guard depth < 32 else { throw LuaArgError(arg, "key tables nested too deeply (or a cycle)") }
        try reserve(arg: arg)
        let host = LuaHost.from(L)
        switch type(i) {
        case LUA_TNIL: return "nil"
        case LUA_TBOOLEAN: return lua_toboolean(L, i) != 0 ? "true" : "false"
        case LUA_TNUMBER:
            if lesion_isinteger_number(L, i) != 0 { return "i\(lua_tointegerx(L, i, nil))" }
            return "f\(lua_tonumberx(L, i, nil).bitPattern)"
        case LUA_TSTRING:
            let s = string(at: i) ?? ""
            return "s\(s.utf8.count):" + s
        case LUA_TFUNCTION:
            throw LuaArgError(arg, "a function cannot be part of a cache key (use its name or a version string)")
        case LUA_TUSERDATA:
            if let t = test(i, Tensor.self) {
                let h = XXH64.hash(UnsafeRawBufferPointer(start: t.data, count: t.count * 4), seed: 6)
                return "T\(t.shape)\(String(h, radix: 16))"
            }
            if let m = test(i, Sequential.self) {
                guard let id = m.contentIdentity else { throw LuaArgError(arg, "a model with a Lambda layer cannot be part of a cache key") }
                return "M" + id
            }
            if let d = test(i, Dataset.self) { return "D" + host.identity(of: d) }
            throw LuaArgError(arg, "a \(typeName(i)) cannot be part of a cache key")
        case LUA_TTABLE:
            var parts: [String] = []
            lua_pushnil(L)
            while lua_next(L, i) != 0 {
                let k = try keyText(-2, arg: arg, depth: depth + 1)
                let v = try keyText(-1, arg: arg, depth: depth + 1)
                parts.append(k + "=" + v)
                pop()
            }
            return "{" + parts.sorted().joined(separator: ",") + "}"
        default:
            throw LuaArgError(arg, "a \(typeName(i)) cannot be part of a cache key")
        }
    }

    /// A value to store: its structure as JSON, its tensors (and models' weights) appended to
    /// `tensors`. nil, booleans, numbers (integer or float kept), strings, tensors, models and
    /// tables of them.
    func cacheValue(_ i: Int32, _ tensors: inout [(String, Tensor)], depth: Int) throws -> JSON {
        let i = lua_absindex(L, i)
        guard depth < 64 else { throw LuaArgError(0, "tables nested too deeply (or a cycle)") }
        try reserve(arg: 0)
        switch type(i) {
        case LUA_TNIL: return .null
        case LUA_TBOOLEAN: return .bool(lua_toboolean(L, i) != 0)
        case LUA_TNUMBER:
            if lesion_isinteger_number(L, i) != 0 { return .object([("i", .string(String(lua_tointegerx(L, i, nil))))]) }
            let d = lua_tonumberx(L, i, nil)
            return .object([("f", d.isFinite ? .number(d) : .string(d.isNaN ? "nan" : d > 0 ? "inf" : "-inf"))])
        case LUA_TSTRING: return .string(string(at: i) ?? "")
        case LUA_TUSERDATA:
            if let t = test(i, Tensor.self) {
                let name = "t\(tensors.count)"
                tensors.append((name, try t.copy()))
                return .object([("tensor", .string(name))])
            }
            if let m = test(i, Sequential.self) {
                let prefix = "m\(tensors.count)."
                guard let spec = ModelSpec.encode(m) else { throw LuaArgError(0, "a model with a Lambda layer cannot be cached") }
                for (n, t) in m.stateDict() { tensors.append((prefix + n, try t.copy())) }
                return .object([("model", spec), ("weights", .string(prefix))])
            }
            throw LuaArgError(0, "a \(typeName(i)) cannot be cached (tensors, models, numbers, strings, booleans and tables of them can)")
        case LUA_TTABLE:
            var kv: [JSON] = []
            lua_pushnil(L)
            while lua_next(L, i) != 0 {
                let k = try cacheValue(-2, &tensors, depth: depth + 1)
                let v = try cacheValue(-1, &tensors, depth: depth + 1)
                kv.append(.array([k, v]))
                pop()
            }
            return .object([("table", .array(kv))])
        default:
            throw LuaArgError(0, "a \(typeName(i)) cannot be cached (tensors, models, numbers, strings, booleans and tables of them can)")
        }
    }

    /// Pushes a value stored by cacheValue.
    func pushCached(_ v: JSON, _ tensors: [String: Tensor], depth: Int = 0) throws {
        struct Bad: Error {}
        // An entry nests no deeper than cacheValue stores; a damaged one is refused, not pushed.
        guard depth < 64, lua_checkstack(L, 8) != 0 else { throw Bad() }
        switch v {
        case .null: pushNil()
        case .bool(let b): push(b)
        case .string(let s): push(s)
        case .object(let kv):
            guard let (tag, body) = kv.first else { throw Bad() }
            switch tag {
            case "i": guard let s = body.string, let x = Int(s) else { throw Bad() }; push(x)
            case "f":
                if let d = body.number { push(d) } else if let s = body.string { push(s == "nan" ? Double.nan : s == "inf" ? Double.infinity : -Double.infinity) } else { throw Bad() }
            case "tensor":
                guard let name = body.string, let t = tensors[name] else { throw Bad() }
                push(tensor: t)
            case "model":
                guard let prefix = v["weights"]?.string, let m = ModelSpec.decode(body) else { throw Bad() }
                for (n, t) in m.stateDict() {
                    guard let s = tensors[prefix + n], s.shape == t.shape else { throw Bad() }
                    t.data.update(from: s.data, count: t.count)
                }
                push(m)
            case "table":
                guard let items = body.array else { throw Bad() }
                newTable(record: Int32(items.count))
                for item in items {
                    guard let pair = item.array, pair.count == 2 else { throw Bad() }
                    try pushCached(pair[0], tensors, depth: depth + 1)
                    try pushCached(pair[1], tensors, depth: depth + 1)
                    lua_rawset(L, -3)
                }
            default: throw Bad()
            }
        default: throw Bad()
        }
    }
}
