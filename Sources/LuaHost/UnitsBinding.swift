// The native half of the `units` module (lua/lesion/units.lua adds plugin attributes), and
// ablation.rotate.
import CLua
import LuaShim
import LesionAblation
import LesionNN
import LesionTensor

enum UnitsBinding {
    static func register(_ lua: Lua) {
        LuaHost.from(lua.L).registerModule(lua, "units", [("_attributes", attributes), ("class_means", classMeans)])
    }

    /// units._attributes(model, set, layer, names) -> {name = tensor{U}}, activations{N,U}, probs{N,K}, labels{N}
    static let attributes: LuaFunction = { L in
        ModelBinding.run(L, "attributes") { lua, m in
            let data = try lua.check(2, Dataset.self)
            let layer = try ModelBinding.layerIndex(lua, m, 3)
            try lua.table(4)
            var names: [String] = []
            for k in 0..<lua.rawLength(4) {
                lua_rawgeti(L, 4, lua_Integer(k + 1))
                defer { lua.pop() }
                names.append(try lua.string(lua.top))
            }
            let d = try lua.about(2) { () throws(TensorError) in try Attributes.collect(m, data, layer: layer) }
            let values = try lua.about(3) { () throws(TensorError) in try Attributes.compute(names, m, d, layer: layer) }
            lua.newTable(record: Int32(values.count))
            for (name, v) in values {
                let shifted = name == "top_class" ? v.map { $0 + 1 } : v      // classes are 1-based in Lua
                lua.push(tensor: try Tensor(shape: [d.units], values: shifted.map(Float.init)))
                lua.setField(-2, name)
            }
            lua.push(tensor: try Tensor(shape: [d.samples, d.units], values: d.acts.map(Float.init)))
            lua.push(tensor: try Tensor(shape: [d.samples, d.classes], values: d.probs.map(Float.init)))
            lua.push(tensor: try Tensor(shape: [d.samples], values: d.labels.map { Float($0 + 1) }))
            return 4
        }
    }

    /// units.class_means(model, set, layer) -> tensor{U,K}
    static let classMeans: LuaFunction = { L in
        ModelBinding.run(L, "class_means") { lua, m in
            let data = try lua.check(2, Dataset.self)
            let layer = try ModelBinding.layerIndex(lua, m, 3)
            let d = try lua.about(2) { () throws(TensorError) in try Attributes.collect(m, data, layer: layer) }
            lua.push(tensor: try Tensor(shape: [d.units, d.classes], values: Attributes.classMeans(d).map(Float.init)))
            return 1
        }
    }

    /// ablation.rotate(model, layer, {seed =}) -> a new model with <layer>_rot and <layer>_unrot.
    static let rotate: LuaFunction = { L in
        ModelBinding.run(L, "rotate") { lua, m in
            let layer = try ModelBinding.layerIndex(lua, m, 2)
            let o = try Options(lua, 3, allowed: ["seed"])
            let seed = try o.seed() ?? 0
            guard m.inputShape != nil, let shape = try lua.about(1, { () throws(TensorError) in try m.shapes(batch: 1) })[layer] else {
                throw LuaArgError(1, "rotate needs a model with a known input shape (nn.Sequential{..., input = {C, H, W}})")
            }
            if m.index(of: m.layers[layer].name + "_rot") != nil {
                throw LuaArgError(2, "the model already has a layer named '\(m.layers[layer].name)_rot'")
            }
            lua.push(try Ablation.rotate(m, layer: layer, units: shape[1], seed: seed))
            return 1
        }
    }
}
