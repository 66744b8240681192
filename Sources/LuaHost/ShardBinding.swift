// lesion._cached_split: the cache of an expensive call that splits into parts (ablation.sweep
// over its units), so that shards (`lesion run --shard I/N`, Notebook's Shard) share its work.
//
// A call is cut into P parts whatever the number of shards. A plain run whose cache holds
// nothing of the call computes it in one piece and stores the whole result. Otherwise (a shard,
// or a run that finds parts already there) it works part by part: it loads the parts present,
// fills in the rest with Notebook's `DiskCache.fillParts` (its own share first, each part
// claimed so no two processes compute one, then parts nobody holds), and assembles.
// Every shard therefore ends with the whole result and goes on with the script; the parts are
// bit-identical however they were grouped (each unit's counts do not depend on which units
// share a call: tested in SweepTests and GraphSweepTests), so the assembled result equals the
// unsharded one bit for bit.
import CLua
import Foundation
import LuaShim
import LesionNN
import LesionTensor
import Notebook

enum ShardBinding {
    static func register(_ lua: Lua) {
        _ = lua.getGlobal("lesion")
        lua.push(cachedSplit as LuaFunction)
        lua.setField(-2, "_cached_split")
        lua.push(progress as LuaFunction)
        lua.setField(-2, "_progress")
        lua.pop()
    }

    /// lesion._cached_split(label, key, parts, compute, assemble, whole): compute(list of 1-based
    /// part numbers) returns a table {[p] = {values of part p}}; assemble(table of every part's
    /// values, in order) returns the call's results; whole(), when given, returns the same
    /// results in one piece, faster, for a run that computes every part itself.
    static let cachedSplit: LuaFunction = { L in
        Lua.bind(L, "lesion._cached_split") { lua in
            let label = try lua.string(1)
            let parts = try lua.integer(3)
            guard parts >= 1 && parts <= 4096 else { throw LuaArgError(3, "a call is cut into 1 to 4096 parts, got \(parts)") }
            guard lua.type(4) == LUA_TFUNCTION else { throw lua.argError(4, expected: "function") }
            guard lua.type(5) == LUA_TFUNCTION else { throw lua.argError(5, expected: "function") }
            guard lua.type(6) == LUA_TNONE || lua.type(6) == LUA_TNIL || lua.type(6) == LUA_TFUNCTION else {
                throw lua.argError(6, expected: "function or nil")
            }
            let host = LuaHost.from(lua.L)
            let split = SplitCall(lua: lua, label: label, parts: parts)
            guard host.cacheEnabled, let text = try? lua.keyText(2, arg: 2) else { return try split.computeWhole() }
            return try host.cachedSplit(split, keyText: label + "\n" + text)
        }
    }
}

extension ShardBinding {
    /// lesion._progress(name, samples, fn): runs fn() with one progress line named `name` for
    /// all its passes over data (the chunks of a split call's parts), `samples` in all; returns
    /// what fn returns.
    static let progress: LuaFunction = { L in
        Lua.bind(L, "lesion._progress") { lua in
            let name = try lua.string(1)
            let total = try lua.integer(2)
            guard total >= 0 else { throw LuaArgError(2, "the number of samples must be at least 0, got \(total)") }
            guard lua.type(3) == LUA_TFUNCTION else { throw lua.argError(3, expected: "function") }
            let outer = Progress.sink
            let line = PassProgress(label: name)
            if outer == nil {
                // Passes report the samples done of their own data; a smaller count than the
                // last starts the next pass.
                var before = 0, last = 0
                Progress.sink = { done, _ in
                    if done < last { before += last }
                    last = done
                    line.update(min(before + done, total), total)
                }
            }
            defer { if outer == nil { line.finish(); Progress.sink = nil } }
            lua_settop(lua.L, 3)
            guard lesion_pcall(lua.L, 0, LUA_MULTRET, 0) == LUA_OK else { throw LuaPassOn(lua) }
            return lua.top - 2
        }
    }
}

/// One call of lesion._cached_split: its Lua functions (arguments 4 and 5) and its parts.
struct SplitCall {
    let lua: Lua
    let label: String
    let parts: Int

    /// Calls compute(parts) and leaves its table of part values on the stack; returns its index.
    func compute(_ ps: [Int]) throws -> Int32 {
        lua_pushvalue(lua.L, 4)
        lua.newTable(array: Int32(ps.count))
        for (i, p) in ps.enumerated() { lua.push(p + 1); lua.setIndex(-2, i + 1) }
        guard lesion_pcall(lua.L, 1, 1, 0) == LUA_OK else { throw LuaPassOn(lua) }
        guard lua.type(-1) == LUA_TTABLE else { throw LuaRaise("\(label): its parts' function returned \(lua.typeName(-1)), expected a table") }
        let r = lua.top
        for p in ps {
            lua_rawgeti(lua.L, r, lua_Integer(p + 1))
            defer { lua.pop() }
            guard lua.type(-1) == LUA_TTABLE else { throw LuaRaise("\(label): part \(p + 1) is missing from its parts' function's result") }
        }
        return r
    }

    /// Calls assemble(table at `t`); returns the number of results left on the stack.
    func assemble(_ t: Int32) throws -> Int32 {
        let base = lua.top
        lua_pushvalue(lua.L, 5)
        lua_pushvalue(lua.L, t)
        guard lesion_pcall(lua.L, 1, LUA_MULTRET, 0) == LUA_OK else { throw LuaPassOn(lua) }
        return lua.top - base
    }

    /// The whole result: whole() when the call has it, else every part in one call, assembled.
    func computeWhole() throws -> Int32 {
        guard lua.type(6) == LUA_TFUNCTION else { return try assemble(try compute(Array(0..<parts))) }
        let base = lua.top
        lua_pushvalue(lua.L, 6)
        guard lesion_pcall(lua.L, 0, LUA_MULTRET, 0) == LUA_OK else { throw LuaPassOn(lua) }
        return lua.top - base
    }
}

extension LuaHost {
    func cachedSplit(_ call: SplitCall, keyText: String) throws -> Int32 {
        let lua = call.lua, label = call.label, parts = call.parts
        let started = Date()
        let key = cacheKey(keyText)
        // The whole result, stored by whoever assembled it first.
        if case .hit(let e) = diskCache.load(key), let n = pushValues(lua, e) {
            noteCache(label, key, "hit", Date().timeIntervalSince(started))
            return n
        }
        let partKeys = (0..<parts).map { cacheKey(keyText + "\npart \($0 + 1) of \(parts)") }
        lua.newTable(array: Int32(parts))
        let table = lua.top
        /// Loads part p into the table, if its entry is there.
        func load(_ p: Int) -> Bool {
            guard case .hit(let e) = diskCache.load(partKeys[p]) else { return false }
            let top = lua.top
            guard pushValues(lua, e) == 1, lua.type(-1) == LUA_TTABLE else { lua_settop(lua.L, top); return false }
            lua.setIndex(table, p + 1)
            return true
        }
        var have = Set((0..<parts).filter(load))
        let anyHeld = (0..<parts).contains { !have.contains($0) && diskCache.isClaimed(partKeys[$0]) }
        if shard == nil && have.isEmpty && !anyHeld {
            // Nothing of this call is in the cache and no shard is at it: one piece, one entry.
            lua.pop()
            return try cached(lua, label: label, keyText: keyText) { try call.computeWhole() }
        }
        if shard == nil && !have.isEmpty && have.count < parts {
            let missing = (0..<parts).filter { !have.contains($0) }
            FileHandle.standardError.write(Data("lesion: \(label): \(have.count) of \(parts) parts are in the cache; computing part\(missing.count == 1 ? "" : "s") \(Shard.describe(missing))\n".utf8))
        }
        let computed = try diskCache.fillParts(
            keys: partKeys, have: &have, share: shard?.share(of: parts) ?? 0..<0, shards: shard?.count ?? 1,
            load: load,
            compute: { batch in
                let r = try call.compute(batch)
                for p in batch {
                    lua_rawgeti(lua.L, r, lua_Integer(p + 1))
                    try storeTop(lua, 1, key: partKeys[p], label: "\(label) part \(p + 1) of \(parts)")
                    lua.setIndex(table, p + 1)
                }
                lua.pop()
            },
            waiting: { missing in
                FileHandle.standardError.write(Data("lesion: \(label): waiting for part\(missing.count == 1 ? "" : "s") \(Shard.describe(missing)) of \(parts), computed by other processes\n".utf8))
            })
        let n = try call.assemble(table)
        try storeTop(lua, n, key: key, label: label)
        noteCache(label, key, computed.isEmpty ? "assembled" : "computed parts \(Shard.describe(computed)) of \(parts)",
                  Date().timeIntervalSince(started))
        return n
    }
}
