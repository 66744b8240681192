// Userdata that hold a retained Swift object. One metatable per type, built from a methods
// table and a metamethods table (liolib.c's createmeta); __gc releases the object once.
import CLua
import LuaShim

/// A Swift class bound to Lua as userdata.
public protocol LuaBindable: AnyObject {
    /// The registry key of the metatable, e.g. "lesion.Tensor".
    static var metatableName: String { get }
    /// The name in messages ("tensor expected, got nil").
    static var typeName: String { get }
}

extension Lua {
    /// Creates the metatable of T: `metamethods` as fields, `methods` as __index (unless the
    /// metamethods give an __index of their own, which then finds methods under __methods).
    public func createMetatable<T: LuaBindable>(_: T.Type, methods: [(String, LuaFunction)],
                                                 metamethods: [(String, LuaFunction)],
                                                 gc: @escaping LuaFunction = Lua.gcUserdata) {
        _ = luaL_newmetatable(L, T.metatableName)
        push(T.typeName)
        setField(-2, "__name")
        newTable(record: Int32(methods.count))
        for (name, f) in methods {
            push(f)
            setField(-2, name)
        }
        if metamethods.contains(where: { $0.0 == "__index" }) {
            setField(-2, "__methods")
        } else {
            setField(-2, "__index")
        }
        for (name, f) in metamethods {
            push(f)
            setField(-2, name)
        }
        push(gc)
        setField(-2, "__gc")
        pop()
    }

    /// Pushes obj as a new userdata of its type.
    public func push<T: LuaBindable>(_ obj: T) {
        let slot = lua_newuserdatauv(L, MemoryLayout<UnsafeMutableRawPointer?>.size, 0)!
        slot.storeBytes(of: Unmanaged.passRetained(obj).toOpaque(), as: UnsafeMutableRawPointer?.self)
        _ = lesion_getmetatable_named(L, T.metatableName)
        lua_setmetatable(L, -2)
    }

    /// The object at argument i, or nil when it is not a T.
    public func test<T: LuaBindable>(_ i: Int32, _: T.Type) -> T? {
        guard let slot = luaL_testudata(L, i, T.metatableName),
              let p = slot.load(as: UnsafeMutableRawPointer?.self) else { return nil }
        return Unmanaged<T>.fromOpaque(p).takeUnretainedValue()
    }

    /// The object at argument i; a bad-argument error otherwise.
    public func check<T: LuaBindable>(_ i: Int32, _ t: T.Type) throws -> T {
        if let obj = test(i, t) { return obj }
        throw argError(i, expected: T.typeName)
    }

    /// __gc of every bound type: releases the retained object and clears the slot.
    public static let gcUserdata: LuaFunction = { L in
        _ = takeUserdata(L!)
        return 0
    }

    /// Clears the slot of the userdata at index 1 and returns its object (retained by the caller).
    static func takeUserdata(_ L: OpaquePointer) -> AnyObject? {
        guard let slot = lua_touserdata(L, 1),
              let p = slot.load(as: UnsafeMutableRawPointer?.self) else { return nil }
        slot.storeBytes(of: nil, as: UnsafeMutableRawPointer?.self)
        return Unmanaged<AnyObject>.fromOpaque(p).takeRetainedValue()
    }
}
