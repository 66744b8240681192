// The `tensor` module and the methods of tensor userdata. Indices and dimensions arrive
// 1-based, are checked here in Lua's terms, and are converted once before calling the core.
import CLua
import LuaShim
import LesionTensor

extension Tensor: LuaBindable {
    public static var metatableName: String { "lesion.Tensor" }
    public static var typeName: String { "tensor" }
}

/// Bytes and number of tensors held by one Lua state's userdata. Lua's collector sees only the
/// small userdata, so a full collection is forced when these bytes grow past `gcThreshold`,
/// which is then reset to twice what survived.
final class TensorAccount: HostState {
    var bytes = 0
    var count = 0
    var gcThreshold = TensorAccount.minimumGCThreshold
    static let minimumGCThreshold = 16 << 20

    func pushed(_ t: Tensor, in L: OpaquePointer) {
        bytes += t.count * MemoryLayout<Float>.stride
        count += 1
        if bytes > gcThreshold {
            _ = lesion_gc_collect(L)
            gcThreshold = max(TensorAccount.minimumGCThreshold, 2 * bytes)
        }
    }

    func collected(_ t: Tensor) {
        bytes -= t.count * MemoryLayout<Float>.stride
        count -= 1
    }
}

extension Lua {
    /// Pushes a tensor and lets the host account for its memory.
    public func push(tensor t: Tensor) {
        push(t)
        LuaHost.from(L).state(TensorAccount.self).pushed(t, in: L)
    }

    public func tensor(_ i: Int32) throws -> Tensor { try check(i, Tensor.self) }

    /// A shape at argument i: a table of positive integers, or (with `varargs`) the integers
    /// from i on. Returns the shape and the index of the first argument after it.
    public func shape(_ i: Int32, varargs: Bool = true) throws -> (shape: [Int], next: Int32) {
        if varargs && type(i) == LUA_TNUMBER {
            var s: [Int] = []
            var j = i
            while type(j) == LUA_TNUMBER {
                let v = try integer(j)
                guard v >= 1 else { throw LuaArgError(j, "size must be a positive integer, got \(v)") }
                s.append(v)
                j += 1
            }
            try checkCount(s, i)
            return (s, j)
        }
        guard type(i) == LUA_TTABLE else { throw argError(i, expected: "shape table") }
        let n = rawLength(i)
        guard n >= 1 else { throw LuaArgError(i, "a shape needs at least one dimension, got {}") }
        var s: [Int] = []
        for d in 1...n {
            lua_rawgeti(L, i, lua_Integer(d))
            defer { pop() }
            var ok: Int32 = 0
            let v = lua_tointegerx(L, -1, &ok)
            guard ok != 0, v >= 1 else {
                let got = type(-1) == LUA_TNUMBER ? (string(at: -1) ?? "?") : typeName(-1)
                throw LuaArgError(i, "size of dimension \(d) must be a positive integer, got \(got)")
            }
            s.append(Int(v))
        }
        try checkCount(s, i)
        return (s, i + 1)
    }

    func checkCount(_ s: [Int], _ i: Int32) throws {
        do { _ = try Tensor.checkShape(s) } catch { throw LuaArgError(i, error.message) }
    }

    /// A 1-based dimension of t (negative counts from the end), returned 0-based.
    public func dim(_ i: Int32, of t: Tensor, extra: Int = 0) throws -> Int {
        let d = try integer(i)
        let n = t.rank + extra
        let z = d < 0 ? d + n : d - 1
        guard z >= 0 && z < n else { throw LuaArgError(i, "dimension \(d) out of range (1..\(n))") }
        return z
    }

    /// A 1-based index into a dimension of size n, returned 0-based.
    public func index(_ i: Int32, size n: Int) throws -> Int {
        let v = try integer(i)
        guard v >= 1 && v <= n else { throw LuaArgError(i, "index \(v) out of range (1..\(n))") }
        return v - 1
    }

    /// Pushes 0-based indices as a tensor of 1-based values.
    func pushIndices(_ idx: [Int], shape: [Int]) throws {
        let t = try Tensor(uninitialized: shape)
        for (k, v) in idx.enumerated() { t.data[k] = Float(v + 1) }
        push(tensor: t)
    }

    /// Runs a core call whose shape errors are about argument `arg`.
    func about<T>(_ arg: Int32, _ body: () throws(TensorError) -> T) throws -> T {
        do { return try body() } catch {
            // A limit of the run is not about the argument: reported as the call's own error.
            if error.kind == .limit { throw error }
            throw LuaArgError(arg, error.message)
        }
    }
}

enum TensorBinding {
    static func register(_ lua: Lua) {
        lua.createMetatable(Tensor.self, methods: methods, metamethods: metamethods, gc: gc)
        LuaHost.from(lua.L).registerModule(lua, "tensor", functions)
    }

    static let functions: [(String, LuaFunction)] = [
        ("zeros", zeros), ("ones", ones), ("full", full), ("randn", randn), ("rand", rand),
        ("arange", arange), ("eye", eye), ("from", from), ("load", load), ("cat", cat),
        ("stack", stack), ("qr", qr), ("random_rotation", randomRotation),
        ("manual_seed", manualSeed), ("allclose", allclose), ("memory", memory), ("is_tensor", isTensor),
    ]

    static let methods: [(String, LuaFunction)] = [
        ("shape", shape), ("size", size), ("dim", dim), ("numel", numel), ("totable", totable),
        ("get", get), ("set", set), ("reshape", reshape), ("t", transpose), ("select", select),
        ("narrow", narrow), ("clone", clone), ("matmul", matmul), ("abs", abs), ("sqrt", sqrt),
        ("exp", exp), ("log", log), ("relu", relu), ("clamp", clamp), ("sum", sum), ("mean", mean),
        ("std", std), ("max", max), ("min", min), ("argmax", argmax), ("argmin", argmin), ("norm", norm),
        ("sort", sort), ("save", save), ("fill", fill), ("item", item), ("dot", dot),
    ]

    static let metamethods: [(String, LuaFunction)] = [
        ("__index", index), ("__newindex", newindex), ("__len", len), ("__tostring", tostring),
        ("__add", add), ("__sub", sub), ("__mul", mul), ("__div", div), ("__unm", unm),
    ]

    // MARK: - making tensors

    static func filled(_ L: OpaquePointer?, _ name: String, _ value: Float) -> Int32 {
        Lua.bind(L, name) { lua in
            let (s, next) = try lua.shape(1)
            _ = try Options(lua, next, allowed: [])
            lua.push(tensor: try Tensor(repeating: value, shape: s))
            return 1
        }
    }

    static let zeros: LuaFunction = { L in filled(L, "tensor.zeros", 0) }
    static let ones: LuaFunction = { L in filled(L, "tensor.ones", 1) }

    static let full: LuaFunction = { L in
        Lua.bind(L, "tensor.full") { lua in
            let (s, next) = try lua.shape(1, varargs: false)
            let v = try lua.number(next)
            lua.push(tensor: try Tensor(repeating: Float(v), shape: s))
            return 1
        }
    }

    /// arange(n): 0, 1, ..., n-1 (PyTorch's convention); arange(start, stop, step?): stop excluded.
    static let arange: LuaFunction = { L in
        Lua.bind(L, "tensor.arange") { lua in
            var start = 0.0, stop: Double, step = 1.0
            if lua.isNoneOrNil(2) {
                stop = try lua.number(1)
            } else {
                start = try lua.number(1)
                stop = try lua.number(2)
                step = try lua.optNumber(3) ?? 1
            }
            guard step != 0, step.isFinite, start.isFinite, stop.isFinite else {
                throw LuaRaise("tensor.arange: start, stop and step must be finite and step non-zero")
            }
            let count = ((stop - start) / step).rounded(.up)
            guard count >= 1 else { throw LuaRaise("tensor.arange: the range from \(start) to \(stop) by \(step) is empty") }
            guard count <= Double(Tensor.maxElements) else { throw LuaRaise("tensor.arange: \(count) elements is too many") }
            let n = Int(count)
            let t = try Tensor(uninitialized: [n])
            for i in 0..<n { t.data[i] = Float(start + Double(i) * step) }
            lua.push(tensor: t)
            return 1
        }
    }

    static let eye: LuaFunction = { L in
        Lua.bind(L, "tensor.eye") { lua in
            let n = try lua.integer(1)
            let m = try lua.optInteger(2) ?? n
            guard n >= 1 else { throw LuaArgError(1, "size must be a positive integer, got \(n)") }
            guard m >= 1 else { throw LuaArgError(2, "size must be a positive integer, got \(m)") }
            let t = try lua.about(1) { () throws(TensorError) in try Tensor(zeros: [n, m]) }
            for i in 0..<Swift.min(n, m) { t.data[i * m + i] = 1 }
            lua.push(tensor: t)
            return 1
        }
    }

    /// tensor.from(nested table of numbers): the shape is read from the first elements and
    /// every row is checked against it.
    static let from: LuaFunction = { L in
        Lua.bind(L, "tensor.from") { lua in
            try lua.table(1)
            var shape: [Int] = []
            // Walk down first elements to find the shape.
            lua_pushvalue(L, 1)
            while lua.type(-1) == LUA_TTABLE {
                guard shape.count < Tensor.maxRank else {
                    lua.pop()
                    throw LuaArgError(1, "tables nested more than \(Tensor.maxRank) deep (or a table that holds itself)")
                }
                let n = lua.rawLength(-1)
                guard n >= 1 else { lua.pop(); throw LuaArgError(1, "empty table at depth \(shape.count + 1)") }
                shape.append(n)
                lua_rawgeti(L, -1, 1)
                lesion_remove(L, -2)
            }
            lua.pop()
            try lua.checkCount(shape, 1)
            let t = try Tensor(uninitialized: shape)
            var k = 0
            func fill(_ depth: Int, _ path: String) throws {
                let n = lua.rawLength(-1)
                guard lua.type(-1) == LUA_TTABLE, n == shape[depth] else {
                    let got = lua.type(-1) == LUA_TTABLE ? "\(n) elements" : lua.typeName(-1)
                    throw LuaArgError(1, "element \(path.isEmpty ? "(top)" : path) should be a table of \(shape[depth]) elements, got \(got)")
                }
                for j in 1...n {
                    lua_rawgeti(L, -1, lua_Integer(j))
                    defer { lua.pop() }
                    let p = path + "[\(j)]"
                    if depth + 1 < shape.count {
                        try fill(depth + 1, p)
                    } else {
                        var ok: Int32 = 0
                        let v = lua_tonumberx(L, -1, &ok)
                        guard ok != 0, lua.type(-1) == LUA_TNUMBER else {
                            throw LuaArgError(1, "number expected at \(p), got \(lua.typeName(-1))")
                        }
                        t.data[k] = Float(v)
                        k += 1
                    }
                }
            }
            guard lua_checkstack(L, Int32(shape.count + 4)) != 0 else { throw LuaArgError(1, "tables nested too deeply") }
            lua_pushvalue(L, 1)
            try fill(0, "")
            lua.pop()
            lua.push(tensor: t)
            return 1
        }
    }

    static let load: LuaFunction = { L in
        Lua.bind(L, "tensor.load") { lua in
            let path = try lua.path(1, .read, for: "tensor.load")
            lua.push(tensor: try Npy.read(path: path))
            return 1
        }
    }

    /// A Lua array of tensors at argument i.
    static func tensorList(_ lua: Lua, _ i: Int32) throws -> [Tensor] {
        try lua.table(i)
        let n = lua.rawLength(i)
        guard n >= 1 else { throw LuaArgError(i, "a non-empty list of tensors expected") }
        var ts: [Tensor] = []
        for k in 1...n {
            lua_rawgeti(lua.L, i, lua_Integer(k))
            defer { lua.pop() }
            guard let t = lua.test(-1, Tensor.self) else {
                throw LuaArgError(i, "element \(k) should be a tensor, got \(lua.typeName(-1))")
            }
            ts.append(t)
        }
        return ts
    }

    static let cat: LuaFunction = { L in
        Lua.bind(L, "tensor.cat") { lua in
            let ts = try tensorList(lua, 1)
            let d = lua.isNoneOrNil(2) ? 0 : try lua.dim(2, of: ts[0])
            let first = ts[0].shape
            for (k, t) in ts.enumerated() {
                var a = t.shape, b = first
                if a.count == b.count { a[d] = 0; b[d] = 0 }
                guard a == b else {
                    throw LuaArgError(1, "tensor \(k + 1) has shape \(Tensor.describe(t.shape)), which does not match \(Tensor.describe(first)) outside dimension \(d + 1)")
                }
            }
            lua.push(tensor: try Tensor.cat(ts, dim: d))
            return 1
        }
    }

    static let stack: LuaFunction = { L in
        Lua.bind(L, "tensor.stack") { lua in
            let ts = try tensorList(lua, 1)
            let d = lua.isNoneOrNil(2) ? 0 : try lua.dim(2, of: ts[0], extra: 1)
            for (k, t) in ts.enumerated() where t.shape != ts[0].shape {
                throw LuaArgError(1, "tensor \(k + 1) has shape \(Tensor.describe(t.shape)), expected \(Tensor.describe(ts[0].shape))")
            }
            lua.push(tensor: try Tensor.stack(ts, dim: d))
            return 1
        }
    }

    static let qr: LuaFunction = { L in
        Lua.bind(L, "tensor.qr") { lua in
            let a = try lua.tensor(1)
            let (q, r) = try lua.about(1) { () throws(TensorError) in try a.qr() }
            lua.push(tensor: q)
            lua.push(tensor: r)
            return 2
        }
    }

    static let allclose: LuaFunction = { L in
        Lua.bind(L, "tensor.allclose") { lua in
            let a = try lua.tensor(1), b = try lua.tensor(2)
            let opts = try Options(lua, 3, allowed: ["rtol", "atol"])
            let rtol = Float(try opts.number("rtol") ?? 1e-5), atol = Float(try opts.number("atol") ?? 1e-8)
            lua.push(a.allClose(b, rtol: rtol, atol: atol))
            return 1
        }
    }

    /// tensor.memory(): `bytes` and `tensors` held by this state's tensor userdata (a view
    /// counts its elements again), and `process_bytes` held by all tensors of the process.
    static let memory: LuaFunction = { L in
        Lua.bind(L, "tensor.memory") { lua in
            let account = LuaHost.from(lua.L).state(TensorAccount.self)
            lua.newTable(record: 3)
            lua.push(account.bytes)
            lua.setField(-2, "bytes")
            lua.push(account.count)
            lua.setField(-2, "tensors")
            lua.push(Tensor.liveBytes)
            lua.setField(-2, "process_bytes")
            return 1
        }
    }

    /// __gc of tensors: releases the tensor and takes its bytes off the host's account.
    static let gc: LuaFunction = { L in
        if let t = Lua.takeUserdata(L!) as? Tensor {
            LuaHost.from(L!).state(TensorAccount.self).collected(t)
        }
        return 0
    }

    static let isTensor: LuaFunction = { L in
        Lua.bind(L, "tensor.is_tensor") { lua in
            lua.push(lua.test(1, Tensor.self) != nil)
            return 1
        }
    }
}
