// Methods and metamethods of tensor userdata. For methods, argument 1 is self; Lua's
// luaL_argerror (called by LuaShim) does not count it in messages.
import CLua
import LuaShim
import LesionTensor

extension TensorBinding {
    // MARK: - inspecting

    static let shape: LuaFunction = { L in
        Lua.bind(L, "shape") { lua in
            let t = try lua.tensor(1)
            pushShape(lua, t.shape)
            return 1
        }
    }

    static func pushShape(_ lua: Lua, _ s: [Int]) {
        lua.newTable(array: Int32(s.count))
        for (i, v) in s.enumerated() {
            lua.push(v)
            lua.setIndex(-2, i + 1)
        }
    }

    /// t:size(d) is the size of dimension d; t:size() is the shape table.
    static let size: LuaFunction = { L in
        Lua.bind(L, "size") { lua in
            let t = try lua.tensor(1)
            if lua.isNoneOrNil(2) {
                pushShape(lua, t.shape)
            } else {
                lua.push(t.shape[try lua.dim(2, of: t)])
            }
            return 1
        }
    }

    static let dim: LuaFunction = { L in
        Lua.bind(L, "dim") { lua in lua.push(try lua.tensor(1).rank); return 1 }
    }

    static let numel: LuaFunction = { L in
        Lua.bind(L, "numel") { lua in lua.push(try lua.tensor(1).count); return 1 }
    }

    static let len: LuaFunction = { L in
        Lua.bind(L, "__len") { lua in lua.push(try lua.tensor(1).shape[0]); return 1 }
    }

    static let tostring: LuaFunction = { L in
        Lua.bind(L, "__tostring") { lua in lua.push(try lua.tensor(1).formatted()); return 1 }
    }

    static let totable: LuaFunction = { L in
        Lua.bind(L, "totable") { lua in
            let t = try lua.tensor(1)
            var k = 0
            func build(_ d: Int) {
                let n = t.shape[d]
                lua.newTable(array: Int32(n))
                for j in 1...n {
                    if d == t.rank - 1 {
                        lua.push(Double(t.data[k]))
                        k += 1
                    } else {
                        build(d + 1)
                    }
                    lua.setIndex(-2, j)
                }
            }
            build(0)
            return 1
        }
    }

    static let item: LuaFunction = { L in
        Lua.bind(L, "item") { lua in
            let t = try lua.tensor(1)
            guard t.count == 1 else { throw LuaRaise("item: tensor has \(t.count) elements, expected 1") }
            lua.push(Double(t.data[0]))
            return 1
        }
    }

    /// The flat offset of the indices at arguments first..<first+rank.
    static func flatIndex(_ lua: Lua, _ t: Tensor, from first: Int32) throws -> Int {
        var flat = 0
        for d in 0..<t.rank {
            flat = flat * t.shape[d] + (try lua.index(first + Int32(d), size: t.shape[d]))
        }
        return flat
    }

    static let get: LuaFunction = { L in
        Lua.bind(L, "get") { lua in
            let t = try lua.tensor(1)
            let given = lua.top - 1
            guard given == Int32(t.rank) else {
                throw LuaRaise("get: \(given) indices given for a \(t.rank)-D tensor")
            }
            lua.push(Double(t.data[try flatIndex(lua, t, from: 2)]))
            return 1
        }
    }

    static let set: LuaFunction = { L in
        Lua.bind(L, "set") { lua in
            let t = try lua.tensor(1)
            let given = lua.top - 2
            guard given == Int32(t.rank) else {
                throw LuaRaise("set: \(Swift.max(given, 0)) indices and a value given for a \(t.rank)-D tensor (expected \(t.rank) indices and a value)")
            }
            let v = try lua.number(lua.top)
            t.data[try flatIndex(lua, t, from: 2)] = Float(v)
            lua_settop(L, 1)
            return 1
        }
    }

    /// t[i]: t:select(1, i) (a number for a 1-D tensor); t.name: the method.
    static let index: LuaFunction = { L in
        Lua.bind(L, "__index") { lua in
            let t = try lua.tensor(1)
            if lua.type(2) == LUA_TNUMBER {
                let i = try lua.index(2, size: t.shape[0])
                if t.rank == 1 {
                    lua.push(Double(t.data[i]))
                } else {
                    lua.push(tensor: try t.select(dim: 0, index: i))
                }
                return 1
            }
            _ = lua_getmetatable(L, 1)
            lua.rawField(-1, "__methods")
            lua_pushvalue(L, 2)
            _ = lua_rawget(L, -2)
            return 1
        }
    }

    /// t[i] = v for a 1-D tensor.
    static let newindex: LuaFunction = { L in
        Lua.bind(L, "__newindex") { lua in
            let t = try lua.tensor(1)
            guard lua.type(2) == LUA_TNUMBER else {
                throw LuaRaise("cannot set field '\(lua.string(at: 2) ?? lua.typeName(2))' of a tensor")
            }
            guard t.rank == 1 else { throw LuaRaise("t[i] = v needs a 1-D tensor; use t:set(i, j, ..., v)") }
            let i = try lua.index(2, size: t.shape[0])
            t.data[i] = Float(try lua.number(3))
            return 0
        }
    }

    // MARK: - shape

    static let reshape: LuaFunction = { L in
        Lua.bind(L, "reshape") { lua in
            let t = try lua.tensor(1)
            var s: [Int] = []
            if lua.type(2) == LUA_TNUMBER {
                var j: Int32 = 2
                while lua.type(j) == LUA_TNUMBER { s.append(try lua.integer(j)); j += 1 }
            } else {
                try lua.table(2)
                for d in 0..<lua.rawLength(2) {
                    lua_rawgeti(L, 2, lua_Integer(d + 1))
                    defer { lua.pop() }
                    var ok: Int32 = 0
                    let v = lua_tointegerx(L, -1, &ok)
                    guard ok != 0 else { throw LuaArgError(2, "size of dimension \(d + 1) must be an integer, got \(lua.typeName(-1))") }
                    s.append(Int(v))
                }
            }
            lua.push(tensor: try lua.about(2) { () throws(TensorError) in try t.reshaped(s) })
            return 1
        }
    }

    static let transpose: LuaFunction = { L in
        Lua.bind(L, "t") { lua in
            let t = try lua.tensor(1)
            guard t.rank == 2 else { throw LuaArgError(1, "2-D tensor expected, got shape \(Tensor.describe(t.shape))") }
            lua.push(tensor: try t.transposed())
            return 1
        }
    }

    static let select: LuaFunction = { L in
        Lua.bind(L, "select") { lua in
            let t = try lua.tensor(1)
            let d = try lua.dim(2, of: t)
            let i = try lua.index(3, size: t.shape[d])
            if t.rank == 1 {
                lua.push(Double(t.data[i]))
            } else {
                lua.push(tensor: try t.select(dim: d, index: i))
            }
            return 1
        }
    }

    static let narrow: LuaFunction = { L in
        Lua.bind(L, "narrow") { lua in
            let t = try lua.tensor(1)
            let d = try lua.dim(2, of: t)
            let start = try lua.index(3, size: t.shape[d])
            let n = try lua.integer(4)
            guard n >= 1 && n <= t.shape[d] - start else {
                throw LuaArgError(4, "length \(n) from index \(start + 1) does not fit in dimension \(d + 1) of size \(t.shape[d])")
            }
            lua.push(tensor: try t.narrow(dim: d, start: start, length: n))
            return 1
        }
    }

    static let clone: LuaFunction = { L in
        Lua.bind(L, "clone") { lua in lua.push(tensor: try lua.tensor(1).copy()); return 1 }
    }

    static let fill: LuaFunction = { L in
        Lua.bind(L, "fill") { lua in
            let t = try lua.tensor(1)
            t.fill(Float(try lua.number(2)))
            lua_settop(L, 1)
            return 1
        }
    }

    static let save: LuaFunction = { L in
        Lua.bind(L, "save") { lua in
            let t = try lua.tensor(1)
            try Npy.write(t, path: try lua.path(2, .write, for: "t:save"))
            return 0
        }
    }

    // MARK: - math

    static let matmul: LuaFunction = { L in
        Lua.bind(L, "matmul") { lua in
            let a = try lua.tensor(1), b = try lua.tensor(2)
            lua.push(tensor: try lua.about(2) { () throws(TensorError) in try a.matmul(b) })
            return 1
        }
    }

    static let dot: LuaFunction = { L in
        Lua.bind(L, "dot") { lua in
            let a = try lua.tensor(1), b = try lua.tensor(2)
            lua.push(try lua.about(2) { () throws(TensorError) in try a.dot(b) })
            return 1
        }
    }

    static func unary(_ L: OpaquePointer?, _ name: String, _ f: (Tensor) throws(TensorError) -> Tensor) -> Int32 {
        Lua.bind(L, name) { lua in
            lua.push(tensor: try f(try lua.tensor(1)))
            return 1
        }
    }

    static let abs: LuaFunction = { L in unary(L, "abs") { t throws(TensorError) in try t.abs() } }
    static let sqrt: LuaFunction = { L in unary(L, "sqrt") { t throws(TensorError) in try t.sqrt() } }
    static let exp: LuaFunction = { L in unary(L, "exp") { t throws(TensorError) in try t.exp() } }
    static let log: LuaFunction = { L in unary(L, "log") { t throws(TensorError) in try t.log() } }
    static let relu: LuaFunction = { L in unary(L, "relu") { t throws(TensorError) in try t.relu() } }
    static let unm: LuaFunction = { L in unary(L, "__unm") { t throws(TensorError) in try t.negated() } }

    static let clamp: LuaFunction = { L in
        Lua.bind(L, "clamp") { lua in
            let t = try lua.tensor(1)
            let lo = try lua.optNumber(2), hi = try lua.optNumber(3)
            if let lo, lo.isNaN { throw LuaArgError(2, "number expected, got NaN") }
            if let hi, hi.isNaN { throw LuaArgError(3, "number expected, got NaN") }
            if let lo, let hi, lo > hi { throw LuaArgError(3, "upper bound \(hi) is below lower bound \(lo)") }
            lua.push(tensor: try t.clamp(lo: lo.map(Float.init), hi: hi.map(Float.init)))
            return 1
        }
    }

    /// Operand of an arithmetic metamethod: a tensor or a number.
    enum Operand { case tensor(Tensor), number(Float) }

    static func operand(_ lua: Lua, _ i: Int32, _ opname: String) throws -> Operand {
        if let t = lua.test(i, Tensor.self) { return .tensor(t) }
        if lua.type(i) == LUA_TNUMBER { return .number(Float(try lua.number(i))) }
        throw LuaRaise("attempt to \(opname) a tensor and a \(lua.typeName(i)) value (tensor or number expected)")
    }

    static func arith(_ L: OpaquePointer?, _ op: BinaryOp, _ opname: String) -> Int32 {
        Lua.bind(L, opname) { lua in
            let a = try operand(lua, 1, opname), b = try operand(lua, 2, opname)
            let out: Tensor
            switch (a, b) {
            case (.tensor(let x), .tensor(let y)):
                do throws(TensorError) {
                    out = try Tensor.binary(x, y, op)
                } catch {
                    throw LuaRaise("attempt to \(opname) tensors of shapes \(Tensor.describe(x.shape)) and \(Tensor.describe(y.shape)) (\(error.message))")
                }
            case (.tensor(let x), .number(let s)): out = try Tensor.binary(x, scalar: s, op)
            case (.number(let s), .tensor(let y)): out = try Tensor.binary(y, scalar: s, op, scalarFirst: true)
            case (.number, .number): throw LuaRaise("attempt to \(opname) two numbers through a tensor metamethod")
            }
            lua.push(tensor: out)
            return 1
        }
    }

    static let add: LuaFunction = { L in arith(L, .add, "add") }
    static let sub: LuaFunction = { L in arith(L, .sub, "subtract") }
    static let mul: LuaFunction = { L in arith(L, .mul, "multiply") }
    static let div: LuaFunction = { L in arith(L, .div, "divide") }

    // MARK: - reductions

    /// Parses `(d?, {keepdim =, ...}?)` after self: the 0-based dimension (nil for all) and options.
    static func reduceArgs(_ lua: Lua, _ t: Tensor, allowed: [String]) throws -> (Int?, Options) {
        if lua.type(2) == LUA_TTABLE {
            return (nil, try Options(lua, 2, allowed: allowed))
        }
        let d = lua.isNoneOrNil(2) ? nil : try lua.dim(2, of: t)
        return (d, try Options(lua, 3, allowed: allowed))
    }

    static func reduction(_ L: OpaquePointer?, _ name: String, all: (Tensor) -> Double,
                          along: (Tensor, Int, Bool) throws(TensorError) -> Tensor) -> Int32 {
        Lua.bind(L, name) { lua in
            let t = try lua.tensor(1)
            let (d, opts) = try reduceArgs(lua, t, allowed: ["keepdim"])
            if let d {
                lua.push(tensor: try along(t, d, try opts.boolean("keepdim") ?? false))
            } else {
                lua.push(all(t))
            }
            return 1
        }
    }

    static let sum: LuaFunction = { L in
        reduction(L, "sum", all: { $0.sum() }) { t, d, k throws(TensorError) in try t.sum(dim: d, keepDim: k) }
    }
    static let mean: LuaFunction = { L in
        reduction(L, "mean", all: { $0.mean() }) { t, d, k throws(TensorError) in try t.mean(dim: d, keepDim: k) }
    }

    /// Standard deviation, unbiased unless {unbiased = false}.
    static let std: LuaFunction = { L in
        Lua.bind(L, "std") { lua in
            let t = try lua.tensor(1)
            let (d, opts) = try reduceArgs(lua, t, allowed: ["keepdim", "unbiased"])
            let unbiased = try opts.boolean("unbiased") ?? true
            if let d {
                lua.push(tensor: try t.std(dim: d, unbiased: unbiased, keepDim: try opts.boolean("keepdim") ?? false))
            } else {
                lua.push(t.std(unbiased: unbiased))
            }
            return 1
        }
    }

    /// max()/min(): the value; max(d)/min(d): values and 1-based indices along d.
    static func extreme(_ L: OpaquePointer?, _ name: String, largest: Bool) -> Int32 {
        Lua.bind(L, name) { lua in
            let t = try lua.tensor(1)
            let (d, opts) = try reduceArgs(lua, t, allowed: ["keepdim"])
            guard let d else {
                lua.push(Double(t.data[t.argExtreme(largest: largest)]))
                return 1
            }
            let (v, idx) = try t.extreme(dim: d, largest: largest, keepDim: try opts.boolean("keepdim") ?? false)
            lua.push(tensor: v)
            try lua.pushIndices(idx, shape: v.shape)
            return 2
        }
    }

    static let max: LuaFunction = { L in extreme(L, "max", largest: true) }
    static let min: LuaFunction = { L in extreme(L, "min", largest: false) }

    /// argmax(): the 1-based flat index; argmax(d): 1-based indices along d.
    static func argExtreme(_ L: OpaquePointer?, _ name: String, largest: Bool) -> Int32 {
        Lua.bind(L, name) { lua in
            let t = try lua.tensor(1)
            let (d, opts) = try reduceArgs(lua, t, allowed: ["keepdim"])
            guard let d else {
                lua.push(t.argExtreme(largest: largest) + 1)
                return 1
            }
            let (v, idx) = try t.extreme(dim: d, largest: largest, keepDim: try opts.boolean("keepdim") ?? false)
            try lua.pushIndices(idx, shape: v.shape)
            return 1
        }
    }

    static let argmax: LuaFunction = { L in argExtreme(L, "argmax", largest: true) }
    static let argmin: LuaFunction = { L in argExtreme(L, "argmin", largest: false) }

    static let norm: LuaFunction = { L in
        Lua.bind(L, "norm") { lua in
            let t = try lua.tensor(1)
            let p = try lua.optNumber(2) ?? 2
            guard p > 0 else { throw LuaArgError(2, "norm order must be positive, got \(p)") }
            lua.push(try t.norm(p: p))
            return 1
        }
    }

    /// t:sort({dim =, descending =}): values and 1-based indices; dim defaults to the last.
    static let sort: LuaFunction = { L in
        Lua.bind(L, "sort") { lua in
            let t = try lua.tensor(1)
            let opts = try Options(lua, 2, allowed: ["dim", "descending"])
            var d = t.rank - 1
            if opts.present, lua.rawField(2, "dim") != LUA_TNIL {
                defer { lua.pop() }
                do { d = try lua.dim(lua.top, of: t) } catch let e as LuaArgError {
                    throw LuaArgError(2, "option 'dim': \(e.message)")
                }
            } else if opts.present {
                lua.pop()
            }
            let (v, idx) = try t.sorted(dim: d, descending: try opts.boolean("descending") ?? false)
            for k in 0..<idx.count { idx.data[k] += 1 }
            lua.push(tensor: v)
            lua.push(tensor: idx)
            return 2
        }
    }
}
