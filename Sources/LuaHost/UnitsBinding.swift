// The native half of the `units` module (lua/lesion/units.lua adds plugin attributes), and
// ablation.rotate.
import CLua
import LuaShim
import LesionAblation
import LesionNN
import LesionTensor

enum UnitsBinding {
    static func register(_ lua: Lua) {
        LuaHost.from(lua.L).registerModule(lua, "units", [("class_means", classMeans),
                                                          ("_top_images", topImages), ("heatmap", heatmap), ("_dissect", dissect)]
                                                          + chunkFunctions)
    }

    /// units._top_images(model, set, layer, {k =, units =, by =, batch =}) -> indices{U,k}
    /// (1-based samples), values{U,k}, units{U} (1-based)
    static let topImages: LuaFunction = { L in
        ModelBinding.run(L, "top_images") { lua, m in
            let data = try lua.check(2, Dataset.self)
            let layer = try ModelBinding.layerIndex(lua, m, 3)
            let o = try Options(lua, 4, allowed: ["k", "units", "by", "batch"])
            let units = try AblationBinding.unitsOption(lua, o)
            let k = try o.integer("k") ?? 9
            guard k >= 1 else { throw LuaArgError(4, "option 'k' must be at least 1, got \(k)") }
            guard k <= data.count else { throw LuaArgError(4, "option 'k' (\(k)) is larger than the set (\(data.count) samples)") }
            let byName = try o.string("by") ?? "max"
            guard let by = UnitImages.Score(rawValue: byName) else {
                throw LuaArgError(4, "option 'by' must be \"max\" or \"mean\", got \"\(byName)\"")
            }
            let batch = try ModelBinding.batchOption(o, default: 256)
            let r: TopImages
            do throws(TensorError) {
                r = try UnitImages.top(m, data, layer: layer, k: k, units: units, by: by, batch: batch)
            } catch {
                throw LuaArgError(error.kind == .index ? 4 : 2, error.message)
            }
            let u = r.units.count
            lua.push(tensor: try Tensor(shape: [u, k], values: r.indices.flatMap { $0.map { Float($0 + 1) } }))
            lua.push(tensor: try Tensor(shape: [u, k], values: r.values.flatMap { $0 }))
            lua.push(tensor: try Tensor(shape: [u], values: r.units.map { Float($0 + 1) }))
            return 3
        }
    }

    /// units.heatmap(model, x, layer, unit) -> tensor{N,H,W} for x{N,C,H,W}, {H,W} for x{C,H,W}:
    /// the unit's activation map upsampled (bilinear) to the image.
    static let heatmap: LuaFunction = { L in
        ModelBinding.run(L, "heatmap") { lua, m in
            let x = try lua.check(2, Tensor.self)
            let layer = try ModelBinding.layerIndex(lua, m, 3)
            let unit = try lua.integer(4)
            guard x.rank == 3 || x.rank == 4 else {
                throw LuaArgError(2, "expected an image {C,H,W} or images {N,C,H,W}, got \(Tensor.describe(x.shape))")
            }
            let batch = x.rank == 3 ? try x.reshaped([1] + x.shape) : x
            if let s = m.inputShape, Array(batch.shape.dropFirst()) != s {
                throw LuaArgError(2, "expected \(x.rank == 3 ? "an image" : "images") of {\(s.map(String.init).joined(separator: ","))}, got \(Tensor.describe(x.shape))")
            }
            let maps: Tensor
            do throws(TensorError) {
                maps = try UnitImages.heatmaps(m, batch, layer: layer, unit: unit - 1)
            } catch {
                throw LuaArgError(error.kind == .index ? 4 : 3, error.message)
            }
            lua.push(tensor: x.rank == 3 ? try maps.reshaped(Array(maps.shape.dropFirst())) : maps)
            return 1
        }
    }

    /// units._dissect(model, set, layer, {quantile =, batch =, heap =}) -> iou{U,C}, thresholds{U},
    /// concept names, each concept's category, the IoUs' error bound (0: exact)
    static let dissect: LuaFunction = { L in
        ModelBinding.run(L, "dissect") { lua, m in
            let data = try lua.check(2, Dataset.self)
            let layer = try ModelBinding.layerIndex(lua, m, 3)
            let o = try Options(lua, 4, allowed: ["quantile", "batch", "breaks", "heap"])
            let q = try o.number("quantile") ?? 0.005
            let heap = try heapOption(o, 4)
            // Internal (lua/lesion/units.lua): where the chunks of a dissection cut into parts
            // begin (1-based), so that one pass runs the batches the chunks would.
            var breaks: [Int] = []
            if o.present, lua.rawField(o.arg, "breaks") != LUA_TNIL {
                defer { lua.pop() }
                breaks = try lua.numbers(lua.top, arg: 4, field: "breaks").map { b throws -> Int in
                    guard b >= 1, b <= Double(data.count), b == b.rounded() else {
                        throw LuaArgError(4, "option 'breaks' must list samples of the set (1 to \(data.count)), got \(b)")
                    }
                    return Int(b) - 1
                }
            } else if o.present { lua.pop() }
            guard q >= 0 && q < 1 else { throw LuaArgError(4, "option 'quantile' must be in [0, 1), got \(q)") }
            let batch = try ModelBinding.batchOption(o, default: 256)
            guard data.source.concepts != nil else {
                throw LuaArgError(2, "the data set '\(data.name)' has no concept labels (data.concepts, or a folder with label maps, has)")
            }
            let d: Dissection
            do throws(TensorError) {
                d = try NetworkDissection.dissect(m, data, layer: layer, quantile: q, batch: batch, breaks: breaks, heapLimit: heap)
            } catch {
                throw LuaArgError(error.kind == .shape ? 3 : 2, error.message)
            }
            pushDissection(lua, d)
            return 5
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
