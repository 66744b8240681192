// Methods of model userdata (nn.Sequential and models.*).
import CLua
import Foundation
import LuaShim
import LesionNN
import LesionTensor

/// The Lua thread running a model call (a Lambda layer calls back into it).
final class ModelCalls: HostState {
    var active: OpaquePointer?
}

enum ModelBinding {
    static func register(_ lua: Lua) {
        lua.createMetatable(Sequential.self, methods: [
            ("forward", forward), ("predict", predict), ("layers", layers), ("layer", layer), ("clone", clone),
            ("train_mode", trainMode), ("eval_mode", evalMode), ("num_params", numParams), ("fit", fit),
            ("evaluate", evaluate), ("activations", activations), ("save", save), ("load", load),
            ("is_training", isTraining),
        ], metamethods: [("__tostring", tostring)])
    }

    /// Runs a model method with the host's active Lua thread set (for Lambda layers).
    static func run(_ L: OpaquePointer?, _ name: String, _ body: (Lua, Sequential) throws -> Int32) -> Int32 {
        Lua.bind(L, name) { lua in
            let m = try lua.check(1, Sequential.self)
            if let owner = m.owner {
                throw LuaRaise("\(name): this model is now part of model '\(owner)' (its layers were nested there); use that model")
            }
            let calls = LuaHost.from(lua.L).state(ModelCalls.self)
            let saved = calls.active
            calls.active = lua.L
            // Passes over a data set inside the call report to a progress line of its name.
            let outer = Progress.sink
            let progress = PassProgress(label: name)
            if outer == nil { Progress.sink = progress.update }
            defer {
                calls.active = saved
                if outer == nil { progress.finish(); Progress.sink = nil }
            }
            return try body(lua, m)
        }
    }

    /// The index of a named layer at argument i; the message lists the valid names.
    static func layerIndex(_ lua: Lua, _ m: Sequential, _ i: Int32) throws -> Int {
        let name = try lua.string(i)
        guard let k = m.index(of: name) else {
            throw LuaArgError(i, "no layer named '\(name)'; layers are: \(m.layerNames.joined(separator: ", "))")
        }
        return k
    }

    static func batchOption(_ o: Options, default d: Int) throws -> Int {
        let b = try o.integer("batch") ?? d
        guard b >= 1 else { throw LuaArgError(o.arg, "option 'batch' must be positive, got \(b)") }
        return b
    }

    static let forward: LuaFunction = { L in
        run(L, "forward") { lua, m in
            let x = try lua.tensor(2)
            lua.push(tensor: try lua.about(2) { () throws(TensorError) in try m.forward(x) })
            return 1
        }
    }

    /// m:predict(x or data set): 1-based classes as a tensor.
    static let predict: LuaFunction = { L in
        run(L, "predict") { lua, m in
            let o = try Options(lua, 3, allowed: ["batch"])
            let batch = try batchOption(o, default: 256)
            var classes: [Int] = []
            if let ds = lua.test(2, Dataset.self) {
                try lua.about(2) { () throws(TensorError) in
                    try m.eachBatch(ds, batch: batch) { out, range, _ throws(TensorError) in
                        let k = out.shape[1]
                        for r in 0..<range.count { classes.append(Tensor.argExtreme(out.data + r * k, k, 1, largest: true)) }
                    }
                }
            } else {
                let x = try lua.tensor(2)
                classes = try lua.about(2) { () throws(TensorError) in try m.predict(x, batch: batch) }
            }
            let t = try Tensor(uninitialized: [classes.count])
            for (i, c) in classes.enumerated() { t.data[i] = Float(c + 1) }
            lua.push(tensor: t)
            return 1
        }
    }

    static let layers: LuaFunction = { L in
        run(L, "layers") { lua, m in
            lua.newTable(array: Int32(m.layers.count))
            for (i, n) in m.layerNames.enumerated() { lua.push(n); lua.setIndex(-2, i + 1) }
            return 1
        }
    }

    /// m:layer(name): a table with name, kind, the live parameter and buffer tensors and the
    /// layer's settings.
    static let layer: LuaFunction = { L in
        run(L, "layer") { lua, m in
            let l = m.layers[try layerIndex(lua, m, 2)]
            lua.newTable(record: 8)
            lua.push(l.name); lua.setField(-2, "name")
            lua.push(l.kind); lua.setField(-2, "kind")
            lua.push(l.summary); lua.setField(-2, "description")
            // The settings; `bias` is the tensor (or nil), not the flag.
            for (k, v) in l.settings where k != "bias" {
                switch v {
                case .int(let i): lua.push(i)
                case .number(let d): lua.push(d)
                case .bool(let b): lua.push(b)
                }
                lua.setField(-2, k)
            }
            for p in l.parameters { lua.push(p.value); lua.setField(-2, p.name) }
            for (n, t) in l.buffers { lua.push(t); lua.setField(-2, n) }
            return 1
        }
    }

    static let clone: LuaFunction = { L in
        run(L, "clone") { lua, m in lua.push(try m.copy()); return 1 }
    }

    static let trainMode: LuaFunction = { L in
        run(L, "train_mode") { lua, m in m.training = true; lua_settop(lua.L, 1); return 1 }
    }
    static let evalMode: LuaFunction = { L in
        run(L, "eval_mode") { lua, m in m.training = false; lua_settop(lua.L, 1); return 1 }
    }
    static let isTraining: LuaFunction = { L in
        run(L, "is_training") { lua, m in lua.push(m.training); return 1 }
    }
    static let numParams: LuaFunction = { L in
        run(L, "num_params") { lua, m in lua.push(m.numParameters); return 1 }
    }

    static let save: LuaFunction = { L in
        run(L, "save") { lua, m in try m.save(path: try lua.path(2, .write, for: "m:save")); return 0 }
    }

    /// m:load(path, {rename = {["features.0"] = "conv1", ...}})
    static let load: LuaFunction = { L in
        run(L, "load") { lua, m in
            let path = try lua.path(2, .read, for: "m:load")
            let o = try Options(lua, 3, allowed: ["rename"])
            var rename: [String: String] = [:]
            if o.present, lua.rawField(3, "rename") != LUA_TNIL {
                defer { lua.pop() }
                guard lua.type(-1) == LUA_TTABLE else { throw LuaArgError(3, "option 'rename' must be a table of name prefixes") }
                try lua.forEachField(-1) { key in
                    guard let key, let v = lua.string(at: -1) else { throw LuaArgError(3, "option 'rename' maps strings to strings") }
                    rename[key] = v
                }
            } else if o.present {
                lua.pop()
            }
            try m.load(path: path, rename: rename)
            lua_settop(lua.L, 1)
            return 1
        }
    }

    static let tostring: LuaFunction = { L in
        run(L, "__tostring") { lua, m in lua.push(summary(m)); return 1 }
    }

    /// A table: name, kind, output shape, parameters; then the total.
    static func summary(_ m: Sequential) -> String {
        let shapes = (try? m.shapes(batch: 1)) ?? m.layers.map { _ in nil }
        var rows: [[String]] = [["name", "kind", "output", "params"]]
        for (l, s) in zip(m.layers, shapes) {
            let out = s.map { $0.dropFirst().map(String.init).joined(separator: " x ") } ?? "?"
            rows.append([l.name, l.summary, out, l.numParameters == 0 ? "" : String(l.numParameters)])
        }
        var widths = [Int](repeating: 0, count: 4)
        for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
        func line(_ r: [String]) -> String {
            r.enumerated().map { i, c in
                i == 3 ? String(repeating: " ", count: widths[i] - c.count) + c : c + String(repeating: " ", count: widths[i] - c.count)
            }.joined(separator: "  ")
        }
        var out = "Sequential (seed \(m.seed)\(m.inputShape.map { ", input " + $0.map(String.init).joined(separator: " x ") } ?? ""))\n"
        out += rows.map(line).joined(separator: "\n")
        out += "\ntotal parameters: \(m.numParameters)"
        return out
    }

    // MARK: - training and evaluation

    static func schedule(_ lua: Lua, _ o: Options) throws -> Schedule {
        guard o.present else { return .constant }
        let t = lua.rawField(o.arg, "schedule")
        defer { lua.pop() }
        if t == LUA_TNIL { return .constant }
        if t == LUA_TSTRING {
            switch lua.string(at: -1) ?? "" {
            case "constant": return .constant
            case "cosine": return .cosine(tMax: 0, etaMin: 0)
            case let s: throw LuaArgError(o.arg, "option 'schedule': unknown schedule '\(s)'; use \"constant\", \"cosine\" or {kind = \"step\", every =, gamma =}")
            }
        }
        guard t == LUA_TTABLE else { throw LuaArgError(o.arg, "option 'schedule' must be a string or a table") }
        let s = try Options(lua, lua.top, allowed: ["kind", "every", "gamma", "t_max", "eta_min"])
        switch try s.string("kind") ?? "" {
        case "step":
            guard let every = try s.integer("every"), every >= 1 else { throw LuaArgError(o.arg, "option 'schedule': a step schedule needs 'every' (epochs, positive)") }
            return .step(every: every, gamma: try s.number("gamma") ?? 0.1)
        case "cosine": return .cosine(tMax: try s.integer("t_max") ?? 0, etaMin: try s.number("eta_min") ?? 0)
        case "constant": return .constant
        case let k: throw LuaArgError(o.arg, "option 'schedule': unknown kind '\(k)' (step, cosine or constant)")
        }
    }

    static let fit: LuaFunction = { L in
        run(L, "fit") { lua, m in
            let data = try lua.check(2, Dataset.self)
            let o = try Options(lua, 3, allowed: ["epochs", "batch", "lr", "momentum", "weight_decay", "schedule", "seed", "progress", "shuffle"])
            var f = FitOptions()
            f.epochs = try o.integer("epochs") ?? 1
            f.batch = try batchOption(o, default: 64)
            f.lr = try o.number("lr") ?? 0.01
            f.momentum = try o.number("momentum") ?? 0
            f.weightDecay = try o.number("weight_decay") ?? 0
            f.seed = try o.seed() ?? 0
            f.shuffle = try o.boolean("shuffle") ?? true
            f.schedule = try schedule(lua, o)
            guard f.epochs >= 1 else { throw LuaArgError(3, "option 'epochs' must be positive, got \(f.epochs)") }
            guard f.lr > 0, f.lr.isFinite else { throw LuaArgError(3, "option 'lr' must be a positive number, got \(f.lr)") }
            guard f.momentum >= 0, f.momentum < 1 else { throw LuaArgError(3, "option 'momentum' must be in [0, 1), got \(f.momentum)") }
            guard f.weightDecay >= 0 else { throw LuaArgError(3, "option 'weight_decay' must be non-negative, got \(f.weightDecay)") }
            let show = try o.boolean("progress") ?? true
            let host = LuaHost.from(lua.L)
            // Cached by the model before training (architecture, weights, seed), the data and
            // every option that changes the result; the value is the history and the trained model.
            guard host.cacheEnabled, let before = m.contentIdentity else {
                try train(lua, m, data, f, show)
                return 1
            }
            let schedule = try o.with("schedule") { try lua.keyText($0, arg: 3) } ?? "constant"
            let keyText = "m:fit\n\(before)\n\(host.identity(of: data))\nepochs \(f.epochs) batch \(f.batch) lr \(f.lr) momentum \(f.momentum) weight_decay \(f.weightDecay) seed \(f.seed) shuffle \(f.shuffle) schedule \(schedule)"
            var ran = false
            let top = lua.top
            _ = try host.cached(lua, label: "m:fit", keyText: keyText) {
                ran = true
                try train(lua, m, data, f, show)
                lua.push(m)
                return 2
            }
            if !ran {
                // Hit: the stored model's state becomes this model's.
                guard let trained = lua.test(top + 2, Sequential.self) else { throw LuaRaise("fit: the cache entry holds no model") }
                for ((_, a), (_, b)) in zip(m.stateDict(), trained.stateDict()) { a.data.update(from: b.data, count: a.count) }
                for (x, y) in zip(m.layers, trained.layers) {
                    if let p = x as? BatchNorm, let q = y as? BatchNorm { p.batchesTracked = q.batchesTracked }
                }
                m.noiseSeed = trained.noiseSeed
                m.noiseCounter = trained.noiseCounter
                m.training = false
                if show { FileHandle.standardError.write(Data("fit: \(f.epochs) epoch\(f.epochs == 1 ? "" : "s") loaded from the cache\n".utf8)) }
            }
            lua_settop(lua.L, top + 1)
            return 1
        }
    }

    /// Trains and pushes the history table.
    static func train(_ lua: Lua, _ m: Sequential, _ data: Dataset, _ f: FitOptions, _ show: Bool) throws {
            let bar = ProgressBar(enabled: show)
            let history = try lua.about(2) { () throws(TensorError) in try m.fit(data, f, progress: show ? bar.update : nil) }
            lua.newTable(record: 6)
            func series(_ name: String, _ v: [Double]) {
                lua.newTable(array: Int32(v.count))
                for (i, x) in v.enumerated() { lua.push(x); lua.setIndex(-2, i + 1) }
                lua.setField(-2, name)
            }
            series("loss", history.map(\.loss))
            series("accuracy", history.map(\.accuracy))
            series("lr", history.map(\.lr))
            series("seconds", history.map(\.seconds))
            series("images_per_s", history.map(\.imagesPerSecond))
            lua.push(history.count); lua.setField(-2, "epochs")
    }

    /// m:evaluate(set, {batch =}): {accuracy, loss, per_class = tensor{K}, confusion = tensor{K,K}, n}.
    static let evaluate: LuaFunction = { L in
        run(L, "evaluate") { lua, m in
            let data = try lua.check(2, Dataset.self)
            let o = try Options(lua, 3, allowed: ["batch"])
            let batch = try batchOption(o, default: 256)
            let compute: () throws -> Int32 = {
                let ev = try lua.about(2) { () throws(TensorError) in try m.evaluate(data, batch: batch) }
                pushEvaluation(lua, ev, classes: data.numClasses)
                return 1
            }
            let host = LuaHost.from(lua.L)
            guard let id = m.contentIdentity else { return try compute() }
            return try host.cached(lua, label: "m:evaluate", keyText: "m:evaluate\n\(id)\n\(host.identity(of: data))", compute: compute)
        }
    }

    static func pushEvaluation(_ lua: Lua, _ ev: Evaluation, classes k: Int) {
        lua.newTable(record: 5)
        lua.push(ev.accuracy); lua.setField(-2, "accuracy")
        lua.push(ev.loss); lua.setField(-2, "loss")
        lua.push(ev.n); lua.setField(-2, "n")
        let pc = try! Tensor(shape: [k], values: ev.perClass.map(Float.init))
        lua.push(tensor: pc); lua.setField(-2, "per_class")
        let cm = try! Tensor(shape: [k, k], values: ev.confusion.map(Float.init))
        lua.push(tensor: cm); lua.setField(-2, "confusion")
    }

    /// m:activations(set or tensor, layer, {batch =}): the layer's output, NCHW or {N,F}.
    static let activations: LuaFunction = { L in
        run(L, "activations") { lua, m in
            let k = try layerIndex(lua, m, 3)
            let o = try Options(lua, 4, allowed: ["batch"])
            let batch = try batchOption(o, default: 256)
            if let ds = lua.test(2, Dataset.self) {
                let host = LuaHost.from(lua.L)
                let compute: () throws -> Int32 = {
                    lua.push(tensor: try lua.about(2) { () throws(TensorError) in try m.activations(ds, layer: k, batch: batch) })
                    return 1
                }
                guard let id = m.contentIdentity else { return try compute() }
                return try host.cached(lua, label: "m:activations(\(m.layers[k].name))",
                                       keyText: "m:activations\n\(id)\n\(host.identity(of: ds))\n\(m.layers[k].name)", compute: compute)
            } else {
                let x = try lua.tensor(2)
                let saved = m.training
                m.training = false
                defer { m.training = saved }
                let out = try lua.about(2) { () throws(TensorError) in try Layout.toNCHW(m.forwardInternal(x, through: k, training: false)) }
                lua.push(tensor: out)
            }
            return 1
        }
    }
}

