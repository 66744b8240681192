// LuaHost: the Lua side of Lesion. One lua_State per LuaHost; every bound Swift function runs
// through `Lua.bind`, which turns Swift errors into the sentinels that LuaShim's C trampoline
// raises after the Swift frame has returned. Nothing here calls lua_error, luaL_error,
// luaL_check* or lua_call: only the non-raising lua_to*x, luaL_testudata, lua_type, raw
// table access and lua_pcall.
import CLua
import LuaShim
import LesionTensor

/// A bound function: n >= 0 results, or a LuaShim sentinel (see LuaShim.h).
public typealias LuaFunction = @convention(c) (OpaquePointer?) -> Int32

/// A bad argument: raised by LuaShim as `bad argument #arg to 'name' (message)`.
public struct LuaArgError: Error, CustomStringConvertible {
    public var description: String { message }
    public let arg: Int32
    public let message: String
    public init(_ arg: Int32, _ message: String) {
        self.arg = arg
        self.message = message
    }
}

/// Any other error, raised with the caller's position; the message names the function.
public struct LuaRaise: Error, CustomStringConvertible {
    public var description: String { message }
    public let message: String
    public init(_ message: String) { self.message = message }
}

/// An error of Lua code that a binding called (a callback's), passed on to the binding's caller
/// unchanged: its message already names where it happened.
public struct LuaPassOn: Error, CustomStringConvertible {
    public var description: String { message }
    public let message: String
    public init(_ message: String) { self.message = message }
    /// The error message at the top of the stack after a failed pcall.
    public init(_ lua: Lua) { message = lua.string(at: -1) ?? "(error object is not a string)" }
}

/// A view of a lua_State with the operations bindings use.
public struct Lua {
    public let L: OpaquePointer

    public init(_ L: OpaquePointer) { self.L = L }

    /// Runs a binding body and converts its errors into LuaShim's sentinels.
    /// `name` prefixes messages of errors that are not about one argument.
    @inline(__always)
    public static func bind(_ L: OpaquePointer?, _ name: String, _ body: (Lua) throws -> Int32) -> Int32 {
        let lua = Lua(L!)
        do {
            return try body(lua)
        } catch let e as LuaArgError {
            lua.push(name)
            lua.push(e.message)
            return -1 - e.arg
        } catch let e as LuaRaise {
            lua.push(e.message)
            return LESION_ERROR
        } catch let e as LuaPassOn {
            lua.push(e.message)
            return LESION_PASS_ON
        } catch let e as TensorError {
            lua.push("\(name): \(e.message)")
            return LESION_ERROR
        } catch {
            lua.push("\(name): \(error)")
            return LESION_ERROR
        }
    }

    // MARK: stack

    public var top: Int32 { lua_gettop(L) }

    /// Room for `n` more values on the stack: a walk of nested tables asks at every level (Lua
    /// guarantees only 20 slots to a C function, and writing past them corrupts the heap).
    public func reserve(_ n: Int32 = 8, arg: Int32) throws {
        guard lua_checkstack(L, n) != 0 else { throw LuaArgError(arg, "tables nested too deeply for Lua's stack") }
    }
    public func pop(_ n: Int32 = 1) { lesion_pop(L, n) }
    public func type(_ i: Int32) -> Int32 { lua_type(L, i) }
    public func isNoneOrNil(_ i: Int32) -> Bool { lua_type(L, i) <= LUA_TNIL }

    /// The type name used in messages: a userdata's __name when it has one, "no value" for none.
    public func typeName(_ i: Int32) -> String {
        let t = lua_type(L, i)
        if t == LUA_TNONE { return "no value" }
        if lua_getmetatable(L, i) != 0 {
            lua_pushstring(L, "__name")
            let ty = lua_rawget(L, -2)
            defer { pop(2) }
            if ty == LUA_TSTRING, let s = lesion_tostring(L, -1) { return String(cString: s) }
        }
        if t == LUA_TLIGHTUSERDATA { return "light userdata" }
        return String(cString: lua_typename(L, t))
    }

    // MARK: push

    public func push(_ s: String) {
        var s = s
        s.withUTF8 { b in _ = lua_pushlstring(L, b.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) }, b.count) }
    }
    public func push(_ x: Double) { lua_pushnumber(L, x) }
    public func push(_ x: Int) { lua_pushinteger(L, lua_Integer(x)) }
    public func push(_ b: Bool) { lua_pushboolean(L, b ? 1 : 0) }
    public func pushNil() { lua_pushnil(L) }
    public func push(_ f: @escaping LuaFunction) {
        lesion_pushfunction(L, f)
    }
    public func newTable(array: Int32 = 0, record: Int32 = 0) { lua_createtable(L, array, record) }

    /// t[key] = value on top (raw); t at index `t`.
    public func setField(_ t: Int32, _ key: String) {
        let abs = lua_absindex(L, t)
        push(key)
        lesion_insert(L, -2)
        lua_rawset(L, abs)
    }

    /// Pushes the globals table (from the registry, so no metamethod of _G is involved).
    public func pushGlobals() { _ = lua_rawgeti(L, lesion_registryindex(), lua_Integer(LUA_RIDX_GLOBALS)) }

    /// Sets global `name` to the value on top, raw (a script's strict-mode __newindex on _G
    /// must not raise through a Swift frame); pops it.
    public func setGlobal(_ name: String) {
        pushGlobals()
        lesion_insert(L, -2)
        setField(-2, name)
        pop()
    }

    /// Pushes global `name`, raw.
    @discardableResult
    public func getGlobal(_ name: String) -> Int32 {
        pushGlobals()
        let t = rawField(-1, name)
        lesion_remove(L, -2)
        return t
    }

    /// Pushes package.loaded (from the registry).
    public func pushLoaded() { _ = lua_getfield(L, lesion_registryindex(), LUA_LOADED_TABLE) }

    /// t[i] = value on top (raw).
    public func setIndex(_ t: Int32, _ i: Int) { lua_rawseti(L, lua_absindex(L, t), lua_Integer(i)) }

    /// Pushes t[key] (raw) and returns its type.
    @discardableResult
    public func rawField(_ t: Int32, _ key: String) -> Int32 {
        let abs = lua_absindex(L, t)
        push(key)
        return lua_rawget(L, abs)
    }

    public func string(at i: Int32) -> String? {
        guard lua_type(L, i) == LUA_TSTRING || lua_type(L, i) == LUA_TNUMBER else { return nil }
        var len = 0
        guard let p = lua_tolstring(L, i, &len) else { return nil }
        return String(decoding: UnsafeRawBufferPointer(start: p, count: len), as: UTF8.self)
    }

    // MARK: argument checks (each throws LuaArgError in Lua's wording)

    public func argError(_ i: Int32, expected: String) -> LuaArgError {
        LuaArgError(i, "\(expected) expected, got \(typeName(i))")
    }

    public func number(_ i: Int32) throws -> Double {
        var ok: Int32 = 0
        let v = lua_tonumberx(L, i, &ok)
        guard ok != 0 else { throw argError(i, expected: "number") }
        return v
    }

    public func optNumber(_ i: Int32) throws -> Double? { isNoneOrNil(i) ? nil : try number(i) }

    public func integer(_ i: Int32) throws -> Int {
        var ok: Int32 = 0
        let v = lua_tointegerx(L, i, &ok)
        if ok != 0 { return Int(v) }
        if lua_type(L, i) == LUA_TNUMBER { throw LuaArgError(i, "number has no integer representation") }
        throw argError(i, expected: "number")
    }

    public func optInteger(_ i: Int32) throws -> Int? { isNoneOrNil(i) ? nil : try integer(i) }

    public func string(_ i: Int32) throws -> String {
        guard let s = string(at: i) else { throw argError(i, expected: "string") }
        return s
    }

    public func boolean(_ i: Int32) throws -> Bool {
        guard lua_type(L, i) == LUA_TBOOLEAN else { throw argError(i, expected: "boolean") }
        return lua_toboolean(L, i) != 0
    }

    public func table(_ i: Int32) throws {
        guard lua_type(L, i) == LUA_TTABLE else { throw argError(i, expected: "table") }
    }

    /// A function argument, left in place (callers take it with lua_pushvalue).
    public func function(_ i: Int32) throws {
        guard lua_type(L, i) == LUA_TFUNCTION else { throw argError(i, expected: "function") }
    }

    /// The length of a sequence (raw).
    public func rawLength(_ i: Int32) -> Int { Int(lua_rawlen(L, i)) }

    /// Numbers at i: a tensor (any shape, read in order) or an array of numbers. Errors are
    /// about argument `arg`; `field` names the field of an argument table that holds them.
    public func numbers(_ i: Int32, arg: Int32, field: String? = nil) throws -> [Double] {
        if let t = test(i, Tensor.self) { return t.toArray().map(Double.init) }
        guard type(i) == LUA_TTABLE else {
            guard let field else { throw argError(arg, expected: "tensor or array of numbers") }
            throw LuaArgError(arg, "'\(field)' must be a tensor or an array of numbers, got \(typeName(i))")
        }
        let n = rawLength(i)
        var out: [Double] = []
        out.reserveCapacity(n)
        for k in 0..<n {
            lua_rawgeti(L, i, lua_Integer(k + 1))
            defer { pop() }
            guard type(-1) == LUA_TNUMBER else {
                let element = field.map { "'\($0)'[\(k + 1)]" } ?? "element \(k + 1)"
                throw LuaArgError(arg, "\(element) is a \(typeName(-1)), expected a number")
            }
            out.append(lua_tonumberx(L, -1, nil))
        }
        return out
    }

    /// Calls body(key) for each key-value pair of the table at i, with the value on top.
    /// Keys that are not strings are reported to `nonString`.
    public func forEachField(_ i: Int32, _ body: (String?) throws -> Void) rethrows {
        let abs = lua_absindex(L, i)
        lua_pushnil(L)
        while lua_next(L, abs) != 0 {
            let key = lua_type(L, -2) == LUA_TSTRING ? string(at: -2) : nil
            do { try body(key) } catch { pop(2); throw error }
            pop()
        }
    }
}

// MARK: - options tables

/// A trailing options table `{name = value, ...}`: unknown names are an error.
public struct Options {
    public let lua: Lua
    public let arg: Int32
    public let present: Bool

    /// Checks that argument `arg` is nil/absent or a table whose keys all are in `allowed`.
    public init(_ lua: Lua, _ arg: Int32, allowed: [String]) throws {
        self.lua = lua
        self.arg = arg
        if lua.isNoneOrNil(arg) {
            present = false
            return
        }
        guard lua.type(arg) == LUA_TTABLE else { throw lua.argError(arg, expected: "options table") }
        present = true
        try lua.forEachField(arg) { key in
            guard let key else { throw LuaArgError(arg, "option names must be strings") }
            guard allowed.contains(key) else {
                let list = allowed.isEmpty ? "this function takes no options" : "expected one of: " + allowed.sorted().joined(separator: ", ")
                throw LuaArgError(arg, "unknown option '\(key)'; \(list)")
            }
        }
    }

    /// Pushes the option's value and runs `read` with it on top; nil when absent.
    func with<T>(_ name: String, _ read: (Int32) throws -> T) throws -> T? {
        guard present else { return nil }
        let t = lua.rawField(arg, name)
        defer { lua.pop() }
        if t == LUA_TNIL { return nil }
        do {
            return try read(lua.top)
        } catch let e as LuaArgError {
            throw LuaArgError(arg, "option '\(name)': \(e.message)")
        }
    }

    public func integer(_ name: String) throws -> Int? { try with(name) { try lua.integer($0) } }
    public func number(_ name: String) throws -> Double? { try with(name) { try lua.number($0) } }
    public func boolean(_ name: String) throws -> Bool? { try with(name) { try lua.boolean($0) } }
    public func string(_ name: String) throws -> String? { try with(name) { try lua.string($0) } }

    /// A seed: a non-negative integer.
    public func seed(_ name: String = "seed") throws -> UInt64? {
        guard let s = try integer(name) else { return nil }
        guard s >= 0 else { throw LuaArgError(arg, "option '\(name)': seed must be a non-negative integer, got \(s)") }
        LuaHost.from(lua.L).noteSeed(UInt64(s))
        return UInt64(s)
    }
}
