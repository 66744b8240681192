// The natives that let lua/lesion/units.lua cut units.attributes and units.dissect into chunks
// of samples (lua/lesion/parts.lua): each chunk's raw material, and the result from all of it.
import CLua
import LuaShim
import LesionAblation
import LesionNN
import LesionTensor

extension UnitsBinding {
    static let chunkFunctions: [(String, LuaFunction)] = [
        ("_collect", collect), ("_attributes_of", attributesOf), ("_dissect_largest", dissectLargest),
        ("_dissect_thresholds", dissectThresholds), ("_dissect_counts", dissectCounts), ("_dissect_result", dissectResult),
    ]

    /// Pushes integers as a Lua array (exact, unlike a float tensor, past 2^24).
    static func push(_ lua: Lua, integers: [Int]) {
        lua.newTable(array: Int32(integers.count))
        for (i, v) in integers.enumerated() { lua.push(v); lua.setIndex(-2, i + 1) }
    }

    /// A Lua array of non-negative integers at `i` (argument `arg`), of `count` elements.
    static func integers(_ lua: Lua, _ i: Int32, count: Int, what: String) throws -> [Int] {
        let v = try lua.numbers(i, arg: i)
        guard v.count == count else { throw LuaArgError(i, "\(what) must hold \(count) counts, got \(v.count)") }
        return try v.map { x throws -> Int in
            guard x >= 0, x == x.rounded(), x < 9.0e15 else { throw LuaArgError(i, "\(what) must hold counts (whole numbers from 0), got \(x)") }
            return Int(x)
        }
    }

    /// units._collect(model, set, layer, {batch =}) -> activations{N,U}, probs{N,K}, labels{N}
    /// (1-based), zero counts per unit (integers), values per unit (samples x positions).
    static let collect: LuaFunction = { L in
        ModelBinding.run(L, "attributes") { lua, m in
            let data = try lua.check(2, Dataset.self)
            let layer = try ModelBinding.layerIndex(lua, m, 3)
            let o = try Options(lua, 4, allowed: ["batch"])
            let batch = try ModelBinding.batchOption(o, default: 256)
            let d = try lua.about(2) { () throws(TensorError) in try Attributes.collect(m, data, layer: layer, batch: batch) }
            lua.push(tensor: try Tensor(shape: [d.samples, d.units], values: d.acts.map(Float.init)))
            lua.push(tensor: try Tensor(shape: [d.samples, d.classes], values: d.probs.map(Float.init)))
            lua.push(tensor: try Tensor(shape: [d.samples], values: d.labels.map { Float($0 + 1) }))
            push(lua, integers: d.zeroCounts)
            lua.push(d.values)
            return 5
        }
    }

    /// units._attributes_of(model, layer, names, activations{N,U}, probs{N,K}, labels{N},
    /// zero counts, values) -> {name = tensor{U}}: the attributes from a set's collected data.
    static let attributesOf: LuaFunction = { L in
        ModelBinding.run(L, "attributes") { lua, m in
            let layer = try ModelBinding.layerIndex(lua, m, 2)
            try lua.table(3)
            var names: [String] = []
            for k in 0..<lua.rawLength(3) {
                lua_rawgeti(L, 3, lua_Integer(k + 1))
                defer { lua.pop() }
                names.append(try lua.string(lua.top))
            }
            let acts = try lua.check(4, Tensor.self), probs = try lua.check(5, Tensor.self), labels = try lua.check(6, Tensor.self)
            guard acts.rank == 2, probs.rank == 2, labels.rank == 1, acts.shape[0] == probs.shape[0], labels.shape[0] == acts.shape[0] else {
                throw LuaArgError(4, "activations{N,U}, probs{N,K} and labels{N} must agree in N")
            }
            let (n, u, k) = (acts.shape[0], acts.shape[1], probs.shape[1])
            let zeros = try integers(lua, 7, count: u, what: "the zero counts")
            let values = try lua.integer(8)
            guard values >= 1 else { throw LuaArgError(8, "the number of values must be positive, got \(values)") }
            let lab = try labels.toArray().map { x throws -> Int in
                guard x >= 1, x <= Float(k), x == x.rounded() else { throw LuaArgError(6, "labels must be classes from 1 to \(k), got \(x)") }
                return Int(x) - 1
            }
            let d = UnitData(acts: acts.toArray().map(Double.init), probs: probs.toArray().map(Double.init), labels: lab,
                             zeroCounts: zeros, values: values, units: u, classes: k, samples: n)
            let out = try lua.about(3) { () throws(TensorError) in try Attributes.compute(names, m, d, layer: layer) }
            pushAttributes(lua, out, units: u)
            return 1
        }
    }

    /// {name = tensor{U}}, top_class 1-based.
    static func pushAttributes(_ lua: Lua, _ values: [String: [Double]], units: Int) {
        lua.newTable(record: Int32(values.count))
        for (name, v) in values {
            let shifted = name == "top_class" ? v.map { $0 + 1 } : v      // classes are 1-based in Lua
            lua.push(tensor: try! Tensor(shape: [units], values: shifted.map(Float.init)))
            lua.setField(-2, name)
        }
    }

    /// units._dissect_largest(model, chunk, layer, {samples = the set's, quantile =, batch =}) ->
    /// tensor{U,V} (each unit's largest values in the chunk, ascending), positions per map.
    static let dissectLargest: LuaFunction = { L in
        ModelBinding.run(L, "dissect") { lua, m in
            let data = try lua.check(2, Dataset.self)
            let layer = try ModelBinding.layerIndex(lua, m, 3)
            let o = try Options(lua, 4, allowed: ["samples", "quantile", "batch"])
            guard let setSamples = try o.integer("samples"), setSamples >= 1 else { throw LuaArgError(4, "option 'samples' (the set's) must be positive") }
            let q = try o.number("quantile") ?? 0.005
            guard q >= 0 && q < 1 else { throw LuaArgError(4, "option 'quantile' must be in [0, 1), got \(q)") }
            let batch = try ModelBinding.batchOption(o, default: 256)
            let r: (values: [[Float]], positions: Int)
            do throws(TensorError) {
                r = try NetworkDissection.largestValues(m, data, layer: layer, setSamples: setSamples, quantile: q, batch: batch)
            } catch {
                throw LuaArgError(error.kind == .shape ? 3 : 2, error.message)
            }
            lua.push(tensor: try Tensor(shape: [r.values.count, r.values.first?.count ?? 0], values: r.values.flatMap { $0 }))
            lua.push(r.positions)
            return 2
        }
    }

    /// units._dissect_thresholds({tensor{U,V}, ...}, values, quantile) -> thresholds{U}.
    static let dissectThresholds: LuaFunction = { L in
        Lua.bind(L, "dissect") { lua in
            try lua.table(1)
            var chunks: [[[Float]]] = []
            for i in 0..<lua.rawLength(1) {
                lua_rawgeti(L, 1, lua_Integer(i + 1))
                defer { lua.pop() }
                guard let t = lua.test(-1, Tensor.self), t.rank == 2 else { throw LuaArgError(1, "chunk \(i + 1) must be a tensor{U,V}") }
                let (u, v) = (t.shape[0], t.shape[1]), a = t.toArray()
                chunks.append((0..<u).map { Array(a[($0 * v)..<(($0 + 1) * v)]) })
            }
            let values = try lua.integer(2), q = try lua.number(3)
            guard q >= 0 && q < 1 else { throw LuaArgError(3, "quantile must be in [0, 1), got \(q)") }
            let t = try lua.about(1) { () throws(TensorError) in try NetworkDissection.thresholds(mergingLargest: chunks, values: values, quantile: q) }
            lua.push(tensor: try Tensor(shape: [t.count], values: t))
            return 1
        }
    }

    /// units._dissect_counts(model, chunk, layer, thresholds{U}, {batch =}) -> per unit |M|, per
    /// unit and concept |M ∩ L| (row by row), per concept |L|: arrays of integers.
    static let dissectCounts: LuaFunction = { L in
        ModelBinding.run(L, "dissect") { lua, m in
            let data = try lua.check(2, Dataset.self)
            let layer = try ModelBinding.layerIndex(lua, m, 3)
            let thresholds = try lua.check(4, Tensor.self).toArray()
            let o = try Options(lua, 5, allowed: ["batch"])
            let batch = try ModelBinding.batchOption(o, default: 256)
            let c: NetworkDissection.Counts
            do throws(TensorError) {
                c = try NetworkDissection.counts(m, data, layer: layer, thresholds: thresholds, batch: batch)
            } catch {
                throw LuaArgError(error.kind == .shape ? 3 : 2, error.message)
            }
            push(lua, integers: c.unit)
            push(lua, integers: c.inter)
            push(lua, integers: c.concept)
            return 3
        }
    }

    /// units._dissect_result(set, thresholds{U}, unit counts, intersections, concept counts) ->
    /// what units._dissect returns.
    static let dissectResult: LuaFunction = { L in
        Lua.bind(L, "dissect") { lua in
            let data = try lua.check(1, Dataset.self)
            let thresholds = try lua.check(2, Tensor.self).toArray()
            let nc = data.source.concepts?.names.count ?? 0
            let counts = NetworkDissection.Counts(unit: try integers(lua, 3, count: thresholds.count, what: "the unit counts"),
                                                  inter: try integers(lua, 4, count: thresholds.count * nc, what: "the intersections"),
                                                  concept: try integers(lua, 5, count: nc, what: "the concept counts"))
            let d = try lua.about(1) { () throws(TensorError) in try NetworkDissection.result(data, thresholds: thresholds, counts: counts) }
            pushDissection(lua, d)
            return 4
        }
    }

    /// iou{U,C}, thresholds{U}, concept names, each concept's category.
    static func pushDissection(_ lua: Lua, _ d: Dissection) {
        lua.push(tensor: try! Tensor(shape: [d.units, d.concepts.count], values: d.iou.flatMap { $0.map(Float.init) }))
        lua.push(tensor: try! Tensor(shape: [d.units], values: d.thresholds))
        for names in [d.concepts, d.categoryOf] {
            lua.newTable(array: Int32(names.count))
            for (i, n) in names.enumerated() { lua.push(n); lua.setIndex(-2, i + 1) }
        }
    }
}
