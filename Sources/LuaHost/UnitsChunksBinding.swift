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
            let o = try Options(lua, 4, allowed: ["samples", "quantile", "batch", "heap"])
            guard let setSamples = try o.integer("samples"), setSamples >= 1 else { throw LuaArgError(4, "option 'samples' (the set's) must be positive") }
            let q = try o.number("quantile") ?? 0.005
            guard q >= 0 && q < 1 else { throw LuaArgError(4, "option 'quantile' must be in [0, 1), got \(q)") }
            let batch = try ModelBinding.batchOption(o, default: 256)
            let heap = try heapOption(o, 4)
            let r: (values: [[Float]], positions: Int)
            do throws(TensorError) {
                r = try NetworkDissection.largestValues(m, data, layer: layer, setSamples: setSamples, quantile: q, batch: batch, heapLimit: heap)
            } catch {
                throw LuaArgError(error.kind == .shape ? 3 : 2, error.message)
            }
            lua.push(tensor: try Tensor(shape: [r.values.count, r.values.first?.count ?? 0], values: r.values.flatMap { $0 }))
            lua.push(r.positions)
            return 2
        }
    }

    /// The option `heap` (values kept per unit before a dissection samples), if given.
    static func heapOption(_ o: Options, _ arg: Int32) throws -> Int? {
        guard let h = try o.integer("heap") else { return nil }
        guard h >= 1 && h <= 1 << 30 else { throw LuaArgError(arg, "option 'heap' must be from 1 to 2^30 values, got \(h)") }
        return h
    }

    /// units._dissect_thresholds({tensor{U,V}, ...}, values, quantile[, heap]) -> thresholds{U},
    /// or past the heaps' budget each unit's candidates, tensor{U,K}.
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
            let heap = lua.isNoneOrNil(4) ? nil : try lua.integer(4)
            let t = try lua.about(1) { () throws(TensorError) in
                try NetworkDissection.cuts(mergingLargest: chunks, values: values, quantile: q, heapLimit: heap)
            }
            lua.push(tensor: try cutsTensor(t))
            return 1
        }
    }

    /// A dissection's cuts as a tensor: thresholds{U}, or candidates{U,K}.
    static func cutsTensor(_ cuts: [[Float]]) throws(TensorError) -> Tensor {
        let k = cuts.first?.count ?? 1
        return try Tensor(shape: k == 1 ? [cuts.count] : [cuts.count, k], values: cuts.flatMap { $0 })
    }

    /// The cuts from thresholds{U} or candidates{U,K} at argument i.
    static func cuts(_ lua: Lua, _ i: Int32) throws -> [[Float]] {
        let t = try lua.check(i, Tensor.self)
        guard t.rank == 1 || (t.rank == 2 && t.shape[1] == NetworkDissection.candidates) else {
            throw LuaArgError(i, "expected thresholds{U} or candidates{U,\(NetworkDissection.candidates)}, got \(Tensor.describe(t.shape))")
        }
        let a = t.toArray(), k = t.rank == 1 ? 1 : t.shape[1]
        return (0..<t.shape[0]).map { Array(a[($0 * k)..<(($0 + 1) * k)]) }
    }

    /// units._dissect_counts(model, chunk, layer, cuts, {batch =}) -> per unit |M|, per unit and
    /// concept |M ∩ L| (row by row), per concept |L|, and for candidates{U,K} the same per unit
    /// and bucket with the values per bucket, equal to each candidate and {values per unit}:
    /// arrays of integers.
    static let dissectCounts: LuaFunction = { L in
        ModelBinding.run(L, "dissect") { lua, m in
            let data = try lua.check(2, Dataset.self)
            let layer = try ModelBinding.layerIndex(lua, m, 3)
            let cuts = try cuts(lua, 4)
            let o = try Options(lua, 5, allowed: ["batch"])
            let batch = try ModelBinding.batchOption(o, default: 256)
            let c: NetworkDissection.Counts
            do throws(TensorError) {
                c = try NetworkDissection.counts(m, data, layer: layer, cuts: cuts, batch: batch)
            } catch {
                throw LuaArgError(error.kind == .shape ? 3 : 2, error.message)
            }
            for list in [c.unit, c.inter, c.concept, c.above, c.equal, [c.values]] { push(lua, integers: list) }
            return 6
        }
    }

    /// units._dissect_result(set, cuts, unit counts, intersections, concept counts, bucket counts,
    /// equal counts, {values}, quantile) -> what units._dissect returns.
    static let dissectResult: LuaFunction = { L in
        Lua.bind(L, "dissect") { lua in
            let data = try lua.check(1, Dataset.self)
            let cuts = try cuts(lua, 2)
            let rows = cuts.count * (cuts.first?.count ?? 1), bounded = (cuts.first?.count ?? 1) > 1
            let nc = data.source.concepts?.names.count ?? 0
            let values = try integers(lua, 8, count: 1, what: "the values")
            let q = try lua.number(9)
            guard q >= 0 && q < 1 else { throw LuaArgError(9, "quantile must be in [0, 1), got \(q)") }
            let counts = NetworkDissection.Counts(unit: try integers(lua, 3, count: rows, what: "the unit counts"),
                                                  inter: try integers(lua, 4, count: rows * nc, what: "the intersections"),
                                                  concept: try integers(lua, 5, count: nc, what: "the concept counts"),
                                                  above: try integers(lua, 6, count: bounded ? rows : 0, what: "the bucket counts"),
                                                  equal: try integers(lua, 7, count: bounded ? rows : 0, what: "the equal counts"),
                                                  values: values[0])
            let d = try lua.about(1) { () throws(TensorError) in try NetworkDissection.result(data, cuts: cuts, counts: counts, quantile: q) }
            pushDissection(lua, d)
            return 5
        }
    }

    /// iou{U,C}, thresholds{U}, concept names, each concept's category, the IoUs' error bound.
    static func pushDissection(_ lua: Lua, _ d: Dissection) {
        lua.push(tensor: try! Tensor(shape: [d.units, d.concepts.count], values: d.iou.flatMap { $0.map(Float.init) }))
        lua.push(tensor: try! Tensor(shape: [d.units], values: d.thresholds))
        for names in [d.concepts, d.categoryOf] {
            lua.newTable(array: Int32(names.count))
            for (i, n) in names.enumerated() { lua.push(n); lua.setIndex(-2, i + 1) }
        }
        lua.push(d.iouError)
    }
}
