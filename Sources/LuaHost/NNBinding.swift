// The `nn` module: layer constructors and nn.Sequential.
import CLua
import LuaShim
import LesionNN
import LesionTensor

/// A layer made from Lua, until a model takes it.
final class LayerBox: LuaBindable {
    static var metatableName: String { "lesion.Layer" }
    static var typeName: String { "layer" }
    let layer: Layer
    var owner: String?
    init(_ layer: Layer) { self.layer = layer }
}

/// A residual block made from Lua, until a model takes it.
final class ModuleBox: LuaBindable {
    static var metatableName: String { "lesion.Module" }
    static var typeName: String { "module" }
    let module: Module
    var owner: String?
    init(_ module: Module) { self.module = module }
}

extension Sequential: LuaBindable {
    public static var metatableName: String { "lesion.Model" }
    public static var typeName: String { "model" }
}

enum NNBinding {
    static func register(_ lua: Lua) {
        lua.createMetatable(LayerBox.self, methods: [], metamethods: [("__tostring", layerToString)])
        lua.createMetatable(ModuleBox.self, methods: [], metamethods: [("__tostring", moduleToString)])
        LuaHost.from(lua.L).registerModule(lua, "nn", [
            ("Conv2d", conv2d), ("Linear", linear), ("BatchNorm2d", batchNorm2d), ("BatchNorm1d", batchNorm1d),
            ("ReLU", relu), ("MaxPool2d", maxPool), ("AvgPool2d", avgPool), ("GlobalAvgPool", globalAvgPool),
            ("Dropout", dropout), ("Flatten", flatten), ("Lambda", lambda), ("Sequential", sequential),
            ("Residual", residual), ("AdaptiveAvgPool2d", adaptiveAvgPool),
        ])
        ModelBinding.register(lua)
    }

    /// Pushes a new layer, named by option `name` when given.
    static func pushLayer(_ lua: Lua, _ layer: Layer, _ opts: Options) throws -> Int32 {
        if let n = try opts.string("name") {
            guard !n.isEmpty, !n.contains(".") else { throw LuaArgError(opts.arg, "option 'name': a layer name must be non-empty and contain no '.'") }
            layer.name = n
        }
        lua.push(LayerBox(layer))
        return 1
    }

    static func positive(_ lua: Lua, _ i: Int32, _ what: String) throws -> Int {
        let v = try lua.integer(i)
        guard v >= 1 else { throw LuaArgError(i, "\(what) must be a positive integer, got \(v)") }
        return v
    }

    static let conv2d: LuaFunction = { L in
        Lua.bind(L, "nn.Conv2d") { lua in
            let cin = try positive(lua, 1, "input channels"), cout = try positive(lua, 2, "output channels")
            let k = try positive(lua, 3, "kernel size")
            let o = try Options(lua, 4, allowed: ["stride", "padding", "bias", "groups", "name"])
            let stride = try o.integer("stride") ?? 1, padding = try o.integer("padding") ?? 0, groups = try o.integer("groups") ?? 1
            guard stride >= 1 else { throw LuaArgError(4, "option 'stride' must be positive, got \(stride)") }
            guard padding >= 0 else { throw LuaArgError(4, "option 'padding' must be non-negative, got \(padding)") }
            guard groups >= 1, cin % groups == 0, cout % groups == 0 else {
                throw LuaArgError(4, "option 'groups' must divide both channel counts (\(cin) and \(cout)), got \(groups)")
            }
            return try pushLayer(lua, try Conv2d(cin: cin, cout: cout, k: k, stride: stride, padding: padding,
                                                 bias: try o.boolean("bias") ?? true, groups: groups), o)
        }
    }

    static let linear: LuaFunction = { L in
        Lua.bind(L, "nn.Linear") { lua in
            let nin = try positive(lua, 1, "input size"), nout = try positive(lua, 2, "output size")
            let o = try Options(lua, 3, allowed: ["bias", "name"])
            return try pushLayer(lua, try Linear(nin, nout, bias: try o.boolean("bias") ?? true), o)
        }
    }

    static func batchNorm(_ L: OpaquePointer?, spatial: Bool) -> Int32 {
        Lua.bind(L, spatial ? "nn.BatchNorm2d" : "nn.BatchNorm1d") { lua in
            let c = try positive(lua, 1, "channel count")
            return try pushLayer(lua, try BatchNorm(c, spatial: spatial), try Options(lua, 2, allowed: ["name"]))
        }
    }
    static let batchNorm2d: LuaFunction = { L in batchNorm(L, spatial: true) }
    static let batchNorm1d: LuaFunction = { L in batchNorm(L, spatial: false) }

    static let relu: LuaFunction = { L in
        Lua.bind(L, "nn.ReLU") { lua in try pushLayer(lua, ReLU(), try Options(lua, 1, allowed: ["name"])) }
    }
    static let flatten: LuaFunction = { L in
        Lua.bind(L, "nn.Flatten") { lua in try pushLayer(lua, Flatten(), try Options(lua, 1, allowed: ["name"])) }
    }
    static let globalAvgPool: LuaFunction = { L in
        Lua.bind(L, "nn.GlobalAvgPool") { lua in try pushLayer(lua, GlobalAvgPool(), try Options(lua, 1, allowed: ["name"])) }
    }

    static func pool(_ L: OpaquePointer?, max: Bool) -> Int32 {
        Lua.bind(L, max ? "nn.MaxPool2d" : "nn.AvgPool2d") { lua in
            let k = try positive(lua, 1, "window size")
            let o = try Options(lua, 2, allowed: max ? ["stride", "padding", "ceil_mode", "name"] : ["stride", "name"])
            let s = try o.integer("stride")
            if let s, s < 1 { throw LuaArgError(2, "option 'stride' must be positive, got \(s)") }
            guard max else { return try pushLayer(lua, try AvgPool2d(k, stride: s), o) }
            let padding = try o.integer("padding") ?? 0
            guard padding >= 0, 2 * padding <= k else {
                throw LuaArgError(2, "option 'padding' must be between 0 and half the window (\(k / 2)), got \(padding)")
            }
            return try pushLayer(lua, try MaxPool2d(k, stride: s, padding: padding, ceilMode: try o.boolean("ceil_mode") ?? false), o)
        }
    }

    /// nn.AdaptiveAvgPool2d(size) or ({h, w}).
    static let adaptiveAvgPool: LuaFunction = { L in
        Lua.bind(L, "nn.AdaptiveAvgPool2d") { lua in
            let (h, w): (Int, Int)
            if lua.type(1) == LUA_TTABLE {
                let s = try lua.shape(1, varargs: false).shape
                guard s.count == 2 else { throw LuaArgError(1, "output size {h, w} expected, got \(s.count) numbers") }
                (h, w) = (s[0], s[1])
            } else {
                h = try positive(lua, 1, "output size")
                w = h
            }
            return try pushLayer(lua, try AdaptiveAvgPool2d(h, w), try Options(lua, 2, allowed: ["name"]))
        }
    }
    static let maxPool: LuaFunction = { L in pool(L, max: true) }
    static let avgPool: LuaFunction = { L in pool(L, max: false) }

    static let dropout: LuaFunction = { L in
        Lua.bind(L, "nn.Dropout") { lua in
            let p = try lua.optNumber(1) ?? 0.5
            guard p >= 0 && p < 1 else { throw LuaArgError(1, "dropout probability must be in [0, 1), got \(p)") }
            return try pushLayer(lua, try Dropout(Float(p)), try Options(lua, 2, allowed: ["name"]))
        }
    }

    /// nn.Lambda(fn): fn receives an NCHW (or {N,F}) tensor and returns a tensor.
    static let lambda: LuaFunction = { L in
        Lua.bind(L, "nn.Lambda") { lua in
            try lua.function(1)
            let opts = try Options(lua, 2, allowed: ["name"])
            let host = LuaHost.from(lua.L)
            lua_pushvalue(L, 1)
            let ref = luaL_ref(L, lesion_registryindex())
            let layer = Lambda { [weak host] x in
                guard let host else { throw TensorError(.value, "the Lua state of this Lambda is gone") }
                return try host.callLambda(ref: ref, x)
            }
            return try pushLayer(lua, layer, opts)
        }
    }

    /// nn.Sequential{layer, layer, ..., seed = s, input = {C, H, W}}.
    static let sequential: LuaFunction = { L in
        Lua.bind(L, "nn.Sequential") { lua in
            try lua.table(1)
            var parts: [Module] = []
            var taken: [AnyObject] = []
            for k in stride(from: 1, through: lua.rawLength(1), by: 1) {
                lua_rawgeti(L, 1, lua_Integer(k))
                defer { lua.pop() }
                parts.append(try module(lua, -1, arg: 1, what: "element \(k)", taken: &taken))
            }
            guard !parts.isEmpty else { throw LuaArgError(1, "a model needs at least one layer") }
            var seed: UInt64 = 0
            var input: [Int]?
            var name: String?
            try lua.forEachField(1) { key in
                guard let key else { return }
                // A field's value sits above the arguments: its errors are about argument 1.
                do { switch key {
                case "seed":
                    let s = try lua.integer(lua.top)
                    guard s >= 0 else { throw LuaArgError(1, "field 'seed' must be a non-negative integer") }
                    seed = UInt64(s)
                    LuaHost.from(lua.L).noteSeed(seed)
                case "input":
                    input = try lua.shape(lua.top, varargs: false).shape
                case "name":
                    name = try fieldName(lua)
                default:
                    throw LuaArgError(1, "unknown field '\(key)'; expected layers and optionally seed, input, name")
                } } catch let e as LuaArgError where e.arg != 1 {
                    throw LuaArgError(1, "field '\(key)': \(e.message)")
                }
            }
            let m: Sequential
            do throws(TensorError) { m = try Sequential(tree: parts, seed: seed, inputShape: input) } catch { throw LuaArgError(1, error.message) }
            m.name = name
            if input != nil {
                do throws(TensorError) { _ = try m.shapes() } catch { throw LuaArgError(1, error.message) }
            }
            own(taken, by: "model@\(ObjectIdentifier(m).hashValue & 0xFFFF)")
            lua.push(m)
            return 1
        }
    }

    /// Field `name` (on top of the stack) of nn.Sequential or nn.Residual: a name without dots.
    static func fieldName(_ lua: Lua) throws -> String {
        let n = try lua.string(lua.top)
        guard !n.isEmpty, !n.contains(".") else { throw LuaArgError(1, "field 'name': a name must be non-empty and contain no '.'") }
        return n
    }

    /// Marks the layers, blocks and models a new model or block took as its own.
    static func own(_ taken: [AnyObject], by owner: String) {
        for b in taken { (b as? LayerBox)?.owner = owner; (b as? ModuleBox)?.owner = owner; (b as? Sequential)?.owner = owner }
    }

    /// The module at stack index i: a layer, a residual block or a model (its modules). Each
    /// belongs to one model from then on (a nested model is not used on its own any more);
    /// `taken` collects them.
    static func module(_ lua: Lua, _ i: Int32, arg: Int32, what: String, taken: inout [AnyObject]) throws -> Module {
        if let b = lua.test(i, LayerBox.self) {
            if let owner = b.owner {
                throw LuaArgError(arg, "\(what) (\(b.layer.kind)) already belongs to model '\(owner)'; make a new layer")
            }
            guard !taken.contains(where: { $0 === b }) else { throw LuaArgError(arg, "\(what) (\(b.layer.kind)) appears twice; make a new layer") }
            taken.append(b)
            return .layer(b.layer, name: b.layer.name.isEmpty ? nil : b.layer.name)
        }
        if let b = lua.test(i, ModuleBox.self) {
            if let owner = b.owner { throw LuaArgError(arg, "\(what) (a residual block) already belongs to model '\(owner)'; make a new block") }
            guard !taken.contains(where: { $0 === b }) else { throw LuaArgError(arg, "\(what) (a residual block) appears twice; make a new block") }
            taken.append(b)
            return b.module
        }
        if let m = lua.test(i, Sequential.self) {
            guard let tree = m.tree else {
                throw LuaArgError(arg, "\(what) is a model made from nodes (a rotated or cached model), which cannot be nested")
            }
            if let owner = m.owner { throw LuaArgError(arg, "\(what) (a model) already belongs to model '\(owner)'; make a new one") }
            guard !taken.contains(where: { $0 === m }) else { throw LuaArgError(arg, "\(what) (a model) appears twice; make a new one") }
            taken.append(m)
            return .sequential(tree, name: m.name)
        }
        throw LuaArgError(arg, "\(what) should be a layer, a block or a model, got \(lua.typeName(i))")
    }

    /// nn.Residual{body = model, shortcut = model or layer or nil, relu = true, name = }:
    /// relu(body(x) + shortcut(x)), the shortcut the identity when absent.
    static let residual: LuaFunction = { L in
        Lua.bind(L, "nn.Residual") { lua in
            try lua.table(1)
            var taken: [AnyObject] = []
            var body: [Module]?
            var shortcut: Module?
            var relu = true
            var name: String?
            try lua.forEachField(1) { key in
                switch key {
                case "body":
                    guard lua.test(lua.top, Sequential.self) != nil,
                          case .sequential(let parts, _) = try module(lua, lua.top, arg: 1, what: "field 'body'", taken: &taken) else {
                        throw LuaArgError(1, "field 'body' should be a model (nn.Sequential{...}), got \(lua.typeName(lua.top))")
                    }
                    body = parts
                case "shortcut":
                    shortcut = try module(lua, lua.top, arg: 1, what: "field 'shortcut'", taken: &taken)
                case "relu": relu = try lua.boolean(lua.top)
                case "name":
                    name = try fieldName(lua)
                case nil:
                    throw LuaArgError(1, "a block takes named fields: body = nn.Sequential{...}, shortcut =, relu =, name =")
                default:
                    throw LuaArgError(1, "unknown field '\(key!)'; expected body, shortcut, relu, name")
                }
            }
            guard let body else { throw LuaArgError(1, "field 'body' is missing: a residual block needs a body (nn.Sequential{...})") }
            let box = ModuleBox(.residual(body: body, shortcut: shortcut, relu: relu, name: name))
            own(taken, by: "a residual block")
            lua.push(box)
            return 1
        }
    }

    static let moduleToString: LuaFunction = { L in
        Lua.bind(L, "__tostring") { lua in
            let b = try lua.check(1, ModuleBox.self)
            guard case .residual(let body, let shortcut, let relu, let name) = b.module else { lua.push("Module"); return 1 }
            lua.push("Residual(\(name.map { "name=\($0), " } ?? "")body: \(body.count) modules, shortcut: \(shortcut == nil ? "identity" : "a module"), relu=\(relu))")
            return 1
        }
    }

    static let layerToString: LuaFunction = { L in
        Lua.bind(L, "__tostring") { lua in
            let b = try lua.check(1, LayerBox.self)
            lua.push(b.layer.summary)
            return 1
        }
    }
}

extension LuaHost {
    /// Calls the Lua function of a Lambda on the Lua thread that is running the model.
    func callLambda(ref: Int32, _ x: Tensor) throws -> Tensor {
        let L = state(ModelCalls.self).active ?? self.L
        let lua = Lua(L)
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        _ = lua_rawgeti(L, lesion_registryindex(), lua_Integer(ref))
        lua.push(tensor: x)
        guard lesion_pcall_traceback(L, 1, 1) == LUA_OK else {
            throw TensorError(.value, "its Lua function failed: \(lua.string(at: -1) ?? "?")")
        }
        guard let t = lua.test(-1, Tensor.self) else {
            throw TensorError(.value, "its Lua function returned \(lua.typeName(-1)), expected a tensor")
        }
        return t
    }
}
