// The native half of the `ablation` module; lua/lesion/ablation.lua builds the result objects.
import CLua
import LuaShim
import LesionAblation
import LesionNN
import LesionTensor

enum AblationBinding {
    static func register(_ lua: Lua) {
        LuaHost.from(lua.L).registerModule(lua, "ablation", [("_sweep", sweep), ("_intervals", intervals), ("_unit_count", unitCount), ("_means", means), ("_curve", curve), ("_evaluate", evaluate),
                                                                  ("rotate", UnitsBinding.rotate)])
    }

    /// The mode: option `values` (a tensor of one value per unit, from a plugin's mode) or
    /// option `mode` ("zero" or "mean").
    static func mode(_ o: Options) throws -> AblationMode {
        if o.present, o.lua.rawField(o.arg, "values") != LUA_TNIL {
            defer { o.lua.pop() }
            guard let t = o.lua.test(-1, Tensor.self) else { throw LuaArgError(o.arg, "option 'values' must be a tensor") }
            return .values(t.toArray())
        } else if o.present {
            o.lua.pop()
        }
        switch try o.string("mode") ?? "zero" {
        case "zero": return .zero
        case "mean": return .mean
        case let m: throw LuaArgError(o.arg, "option 'mode': unknown mode '\(m)' (\"zero\" or \"mean\")")
        }
    }

    /// 1-based units of a layer at the top of the stack (a list), converted to 0-based.
    static func unitList(_ lua: Lua, arg: Int32, what: String) throws -> [Int] {
        guard lua.type(-1) == LUA_TTABLE else { throw LuaArgError(arg, "\(what) must be a list of unit numbers") }
        var units: [Int] = []
        for k in 0..<lua.rawLength(-1) {
            lua_rawgeti(lua.L, -1, lua_Integer(k + 1))
            defer { lua.pop() }
            var ok: Int32 = 0
            let v = lua_tointegerx(lua.L, -1, &ok)
            guard ok != 0 else {
                let got = lua.type(-1) == LUA_TNUMBER ? (lua.string(at: -1) ?? "a number") : lua.typeName(-1)
                throw LuaArgError(arg, "\(what): element \(k + 1) is \(got), expected a whole unit number")
            }
            // The core checks the range against the layer; only numbers that are not unit numbers at all stop here.
            guard v > lua_Integer(Int32.min) && v <= lua_Integer(Int32.max) else { throw LuaArgError(arg, "\(what): unit \(v) out of range (units are numbered from 1)") }
            units.append(Int(v) - 1)
        }
        return units
    }

    /// The option `units` (1-based, a list) as 0-based units; nil when absent.
    static func unitsOption(_ lua: Lua, _ o: Options) throws -> [Int]? {
        guard o.present, lua.rawField(o.arg, "units") != LUA_TNIL else {
            if o.present { lua.pop() }
            return nil
        }
        defer { lua.pop() }
        return try unitList(lua, arg: o.arg, what: "option 'units'")
    }

    /// ablation._unit_count(model, set, layer) -> the layer's number of units (channels), or nil
    /// when its shape is known only by running the model (a Lambda layer before it).
    static let unitCount: LuaFunction = { L in
        ModelBinding.run(L, "sweep") { lua, m in
            let data = try lua.check(2, Dataset.self)
            let layer = try ModelBinding.layerIndex(lua, m, 3)
            let shape = try lua.about(2) { () throws(TensorError) in
                try m.checkFits(data)
                return try m.shapes(batch: 1, sample: data.sampleShape)[layer]
            }
            if let shape { lua.push(shape[1]) } else { lua.pushNil() }
            return 1
        }
    }

    /// ablation._means(model, set, layer) -> tensor{U}: each unit's mean over the set, the values
    /// mode "mean" ablates to (the same floats), for calls cut into chunks of samples.
    static let means: LuaFunction = { L in
        ModelBinding.run(L, "sweep") { lua, m in
            let data = try lua.check(2, Dataset.self)
            let layer = try ModelBinding.layerIndex(lua, m, 3)
            let v = try lua.about(2) { () throws(TensorError) in try Ablation.ablationValues(m, data, layer: layer, mode: .mean) }
            lua.push(tensor: try Tensor(shape: [v.count], values: v))
            return 1
        }
    }

    /// ablation._sweep(model, set, layer, {units =, mode =, batch =}) -> units, base, correct{U,K}, totals{K}
    static let sweep: LuaFunction = { L in
        ModelBinding.run(L, "sweep") { lua, m in
            let data = try lua.check(2, Dataset.self)
            let layer = try ModelBinding.layerIndex(lua, m, 3)
            let o = try Options(lua, 4, allowed: ["units", "mode", "batch", "values", "answers"])
            let units = try unitsOption(lua, o)
            let batch = try ModelBinding.batchOption(o, default: 500)
            let md = try mode(o)
            let answers = try o.boolean("answers") ?? false
            guard !answers || data.count < 1 << 24 else { throw LuaArgError(2, "answers are kept for at most \(1 << 24) samples") }
            let r = try lua.about(2) { () throws(TensorError) in
                try Ablation.sweep(m, data, layer: layer, units: units, mode: md, batch: batch, perSample: answers)
            }
            lua.newTable(array: Int32(r.units.count))
            for (i, u) in r.units.enumerated() { lua.push(u + 1); lua.setIndex(-2, i + 1) }
            ModelBinding.pushEvaluation(lua, r.base, classes: data.numClasses)
            let k = data.numClasses
            lua.push(tensor: try Tensor(shape: [r.units.count, k], values: r.correct.flatMap { $0.map(Float.init) }))
            lua.push(tensor: try Tensor(shape: [k], values: r.classTotals.map(Float.init)))
            guard let s = r.samples else { return 4 }
            // Each sample's base answer (1: right), and the turned samples as rows {unit row,
            // position} (1-based) after a first row {count, 0}.
            lua.push(tensor: try Tensor(shape: [s.rights.count], values: s.rights.map { $0 ? 1 : 0 }))
            var turned: [Float] = [0, 0]
            for (row, f) in s.flipped.enumerated() { for i in f { turned += [Float(row + 1), Float(i + 1)] } }
            turned[0] = Float(turned.count / 2 - 1)
            lua.push(tensor: try Tensor(shape: [turned.count / 2, 2], values: turned))
            return 6
        }
    }

    /// ablation._intervals(set, rights{N}, turned{F+1,2}, units, {bootstrap =, ci =, seed =}):
    /// bootstrap intervals of a sweep's figures from its answers (SweepIntervals).
    static let intervals: LuaFunction = { L in
        Lua.bind(L, "_intervals") { lua in
            let data = try lua.check(1, Dataset.self)
            let rights = try lua.tensor(2), turned = try lua.tensor(3)
            let units = try lua.integer(4)
            let o = try Options(lua, 5, allowed: ["bootstrap", "ci", "seed"])
            let rounds = try o.integer("bootstrap") ?? 1000, level = try o.number("ci") ?? 0.95, seed = try o.integer("seed") ?? 0
            guard seed >= 0 else { throw LuaArgError(5, "option 'seed' must be a non-negative integer, got \(seed)") }
            guard rights.count == data.count else { throw LuaArgError(2, "\(rights.count) answers for \(data.count) samples") }
            guard turned.rank == 2, turned.shape[1] == 2, Int(turned.data[0]) == turned.shape[0] - 1 else {
                throw LuaArgError(3, "turned samples must be a tensor{F+1,2} after a row {F, 0}")
            }
            guard units >= 1 && units <= 1 << 20 else { throw LuaArgError(4, "a unit count from 1 expected, got \(units)") }
            var flipped = [[Int32]](repeating: [], count: units)
            for j in 1..<turned.shape[0] {
                let row = Int(turned.data[2 * j]), pos = Int(turned.data[2 * j + 1])
                guard row >= 1 && row <= units, pos >= 1 && pos <= data.count else {
                    throw LuaArgError(3, "turned row \(j + 1) names unit row \(row), sample \(pos)")
                }
                flipped[row - 1].append(Int32(pos - 1))
            }
            let labels = data.indices.map { data.labels[$0] }
            let answers = SampleAnswers(rights: (0..<rights.count).map { rights.data[$0] != 0 }, flipped: flipped)
            let r = try lua.about(5) { () throws(TensorError) in
                try SweepIntervals.compute(labels: labels, classes: data.numClasses, answers: answers, rounds: rounds, level: level,
                                           seed: UInt64(seed))
            }
            let k = data.numClasses
            func pairs(_ v: [(Double, Double)]) throws -> Tensor {
                try Tensor(shape: [v.count, 2], values: v.flatMap { [Float($0.0), Float($0.1)] })
            }
            func classPairs(_ v: [[(Double, Double)]]) throws -> Tensor {
                try Tensor(shape: [v.count, k, 2], values: v.flatMap { $0.flatMap { [Float($0.0), Float($0.1)] } })
            }
            lua.newTable(record: 10)
            lua.push(tensor: try Tensor(shape: [2], values: [Float(r.baseAccuracy.0), Float(r.baseAccuracy.1)]))
            lua.setField(-2, "base_accuracy")
            lua.push(tensor: try pairs(r.accuracy)); lua.setField(-2, "accuracy")
            lua.push(tensor: try pairs(r.overallDrop)); lua.setField(-2, "overall_drop")
            lua.push(tensor: try classPairs(r.perClass)); lua.setField(-2, "per_class")
            lua.push(tensor: try classPairs(r.classDrop)); lua.setField(-2, "class_drop")
            lua.push(tensor: try Tensor(shape: [units, k], values: r.classDropP.flatMap { $0.map(Float.init) }))
            lua.setField(-2, "class_drop_p")
            lua.push(rounds); lua.setField(-2, "bootstrap")
            lua.push(level); lua.setField(-2, "level")
            lua.push(seed); lua.setField(-2, "seed")
            lua.push(r.emptyClassRounds); lua.setField(-2, "empty_class_rounds")
            return 1
        }
    }

    /// ablation._curve(model, set, layer, order, steps, {mode =, batch =, values =}) -> base, correct{S,K}, totals{K}
    static let curve: LuaFunction = { L in
        ModelBinding.run(L, "curve") { lua, m in
            let data = try lua.check(2, Dataset.self)
            let layer = try ModelBinding.layerIndex(lua, m, 3)
            try lua.table(4)
            lua_pushvalue(lua.L, 4)
            let order = try unitList(lua, arg: 4, what: "the order")
            lua.pop()
            try lua.table(5)
            var steps: [Int] = []
            for i in 0..<lua.rawLength(5) {
                lua_rawgeti(lua.L, 5, lua_Integer(i + 1))
                defer { lua.pop() }
                var ok: Int32 = 0
                let v = lua_tointegerx(lua.L, -1, &ok)
                guard ok != 0, v >= 0, v <= lua_Integer(order.count) else {
                    throw LuaArgError(5, "step \(i + 1) must be a count of units from 0 to \(order.count)")
                }
                steps.append(Int(v))
            }
            let o = try Options(lua, 6, allowed: ["mode", "batch", "values"])
            let batch = try ModelBinding.batchOption(o, default: 500)
            let md = try mode(o)
            let r = try lua.about(4) { () throws(TensorError) in
                try Ablation.curve(m, data, layer: layer, order: order, steps: steps, mode: md, batch: batch)
            }
            ModelBinding.pushEvaluation(lua, r.base, classes: data.numClasses)
            let k = data.numClasses
            lua.push(tensor: try Tensor(shape: [steps.count, k], values: r.correct.flatMap { $0.map(Float.init) }))
            lua.push(tensor: try Tensor(shape: [k], values: r.classTotals.map(Float.init)))
            return 3
        }
    }

    /// ablation.evaluate(model, set, {[layer] = {units...}, ...}, {mode =, batch =})
    static let evaluate: LuaFunction = { L in
        ModelBinding.run(L, "evaluate") { lua, m in
            let data = try lua.check(2, Dataset.self)
            try lua.table(3)
            var lesions: Lesions = [:]
            try lua.forEachField(3) { key in
                guard let key, let layer = m.index(of: key) else {
                    throw LuaArgError(3, "keys must be layer names; layers are: \(m.layerNames.joined(separator: ", "))")
                }
                lesions[layer] = try unitList(lua, arg: 3, what: "units of '\(key)'")
            }
            let o = try Options(lua, 4, allowed: ["mode", "batch", "values"])
            let md = try mode(o)
            let batch = try ModelBinding.batchOption(o, default: 256)
            let ev = try lua.about(3) { () throws(TensorError) in try Ablation.evaluate(m, data, lesions: lesions, mode: md, batch: batch) }
            ModelBinding.pushEvaluation(lua, ev, classes: data.numClasses)
            return 1
        }
    }
}
