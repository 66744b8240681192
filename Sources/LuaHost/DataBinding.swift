// The `data` module and the methods of data-set userdata. Labels are 0-based in files and in
// the core, 1-based from Lua.
import CLua
import LuaShim
import LesionNN
import LesionTensor

extension Dataset: LuaBindable {
    public static var metatableName: String { "lesion.Dataset" }
    public static var typeName: String { "dataset" }
}

enum DataBinding {
    static func register(_ lua: Lua) {
        lua.createMetatable(Dataset.self, methods: [
            ("get", get), ("subset", subset), ("split", split), ("balanced", balanced), ("labels", labels),
            ("tensors", tensors), ("masks", masks),
        ], metamethods: [("__index", index), ("__len", len), ("__tostring", tostring)])
        LuaHost.from(lua.L).registerModule(lua, "data", [
            ("fashion_mnist", fashionMNIST), ("idx", idx), ("cifar10", cifar10), ("npy", npy),
            ("from_tensors", fromTensors), ("shapes", shapes), ("concepts", concepts),
        ] + ImageBinding.functions)
    }

    /// Data sets loaded from files, by source, so a script loading them twice reads them once.
    final class Loaded: HostState {
        var bySource: [String: [Dataset]] = [:]
    }

    /// Loads through the state's `Loaded`: the same files are read once per state.
    static func cached(_ lua: Lua, _ key: String, _ load: () throws(TensorError) -> [Dataset]) throws -> [Dataset] {
        let loaded = LuaHost.from(lua.L).state(Loaded.self)
        if let d = loaded.bySource[key] { return d }
        let d = try load()
        loaded.bySource[key] = d
        return d
    }

    /// Class names from option `classes` (a list of names or a count), else nil.
    static func classNames(_ lua: Lua, _ o: Options) throws -> [String]? {
        guard o.present else { return nil }
        let t = lua.rawField(o.arg, "classes")
        defer { lua.pop() }
        switch t {
        case LUA_TNIL: return nil
        case LUA_TNUMBER:
            let n = try lua.integer(lua.top)
            guard n >= 1, n <= Dataset.maxClasses else {
                throw LuaArgError(o.arg, "option 'classes' must be a count from 1 to \(Dataset.maxClasses) or a list of names, got \(n)")
            }
            return (1...n).map(String.init)
        case LUA_TTABLE:
            var names: [String] = []
            let n = lua.rawLength(-1)
            guard n >= 1, n <= Dataset.maxClasses else { throw LuaArgError(o.arg, "option 'classes' must hold 1 to \(Dataset.maxClasses) names, got \(n)") }
            for k in 1...n {
                lua_rawgeti(lua.L, -1, lua_Integer(k))
                defer { lua.pop() }
                guard let s = lua.string(at: -1) else { throw LuaArgError(o.arg, "option 'classes': name \(k) is not a string") }
                names.append(s)
            }
            return names
        default: throw LuaArgError(o.arg, "option 'classes' must be a count or a list of names")
        }
    }

    static func pushPair(_ lua: Lua, _ d: [Dataset]) -> Int32 {
        for x in d { lua.push(x) }
        return Int32(d.count)
    }

    static let fashionMNIST: LuaFunction = { L in
        Lua.bind(L, "data.fashion_mnist") { lua in
            let o = try Options(lua, 1, allowed: ["root"])
            let root = try o.string("root")
            if let root { try LuaHost.from(lua.L).checkAccess(root, .read, "data.fashion_mnist") }
            let dir = try DataFiles.findFashionMNIST(root: root)
            try LuaHost.from(lua.L).checkAccess(dir, .read, "data.fashion_mnist")
            let d = try cached(lua, "fashion:" + dir) { () throws(TensorError) in
                let (a, b) = try DataFiles.fashionMNIST(root: dir)
                return [a, b]
            }
            return pushPair(lua, d)
        }
    }

    static let idx: LuaFunction = { L in
        Lua.bind(L, "data.idx") { lua in
            let images = try lua.path(1, .read, for: "data.idx"), labels = try lua.path(2, .read, for: "data.idx")
            let o = try Options(lua, 3, allowed: ["classes", "name"])
            let names = try classNames(lua, o)
            lua.push(try DataFiles.idx(images: images, labels: labels, classNames: names, name: try o.string("name") ?? images))
            return 1
        }
    }

    static let cifar10: LuaFunction = { L in
        Lua.bind(L, "data.cifar10") { lua in
            let dir = try lua.path(1, .read, for: "data.cifar10")
            let d = try cached(lua, "cifar10:" + dir) { () throws(TensorError) in
                let (a, b) = try DataFiles.cifar10(dir: dir)
                return [a, b]
            }
            return pushPair(lua, d)
        }
    }

    /// Images {N,C,H,W}, {N,H,W} (one channel) or {N,F}; labels {N} holding 0-based classes.
    static func makeDataset(_ x: Tensor, labels y: [Float], names: [String]?, oneBased: Bool, name: String, arg: Int32) throws -> Dataset {
        var images = x
        if x.rank == 3 { images = try x.reshaped([x.shape[0], 1, x.shape[1], x.shape[2]]) }
        guard images.rank == 4 || images.rank == 2 else {
            throw LuaArgError(arg, "images must be {N,C,H,W}, {N,H,W} or {N,F}, got \(Tensor.describe(x.shape))")
        }
        guard y.count == images.shape[0] else {
            throw LuaArgError(arg + 1, "\(images.shape[0]) images but \(y.count) labels")
        }
        let base: Float = oneBased ? 1 : 0
        var labels: [Int32] = []
        labels.reserveCapacity(y.count)
        for (i, v) in y.enumerated() {
            do { labels.append(try Dataset.label(Double(v), sample: i, base: Int(base))) } catch { throw LuaArgError(arg + 1, error.message) }
        }
        let k = names?.count ?? Int(labels.max() ?? 0) + 1
        if let maxLabel = labels.max(), Int(maxLabel) >= k {
            throw LuaArgError(arg + 1, "label \(Int(maxLabel) + Int(base)) is beyond the \(k) classes")
        }
        let tensorCopy = try images.copy()
        return try Dataset(images: tensorCopy, labels: labels, classNames: names ?? (1...k).map(String.init), name: name)
    }

    static let npy: LuaFunction = { L in
        Lua.bind(L, "data.npy") { lua in
            let xp = try lua.path(1, .read, for: "data.npy"), yp = try lua.path(2, .read, for: "data.npy")
            let o = try Options(lua, 3, allowed: ["classes", "name"])
            let x = try Npy.read(path: xp), y = try Npy.read(path: yp)
            guard y.rank == 1 else { throw LuaArgError(2, "labels must be 1-D, got \(Tensor.describe(y.shape)) in '\(yp)'") }
            lua.push(try makeDataset(x, labels: y.toArray(), names: try classNames(lua, o), oneBased: false,
                                     name: try o.string("name") ?? xp, arg: 1))
            return 1
        }
    }

    static let fromTensors: LuaFunction = { L in
        Lua.bind(L, "data.from_tensors") { lua in
            let x = try lua.tensor(1), y = try lua.tensor(2)
            let o = try Options(lua, 3, allowed: ["classes", "name"])
            guard y.rank == 1 else { throw LuaArgError(2, "labels must be a 1-D tensor, got \(Tensor.describe(y.shape))") }
            lua.push(try makeDataset(x, labels: y.toArray(), names: try classNames(lua, o), oneBased: true,
                                     name: try o.string("name") ?? "tensors", arg: 1))
            return 1
        }
    }

    static let shapes: LuaFunction = { L in
        Lua.bind(L, "data.shapes") { lua in
            let o = try Options(lua, 1, allowed: ["n", "size", "seed", "noise"])
            let n = try o.integer("n") ?? 1000, size = try o.integer("size") ?? 28
            guard n >= 1 && n <= 1_000_000 else { throw LuaArgError(1, "option 'n' must be in 1..1000000, got \(n)") }
            guard size >= 8 && size <= 256 else { throw LuaArgError(1, "option 'size' must be in 8..256, got \(size)") }
            let noise = try o.number("noise") ?? 0.1
            guard noise >= 0 && noise <= 1 else { throw LuaArgError(1, "option 'noise' must be in [0, 1], got \(noise)") }
            lua.push(try DataFiles.shapes(n: n, size: size, seed: try o.seed() ?? 0, noise: Float(noise)))
            return 1
        }
    }

    /// data.concepts{n = 1000, size = 32, seed = 0}: generated images with concepts labelled per
    /// pixel; data.concepts(dir, {transform = "none", classes =}): a folder of images with label
    /// maps and concepts.csv (ConceptFolder.swift).
    static let concepts: LuaFunction = { L in
        Lua.bind(L, "data.concepts") { lua in
            if lua.type(1) == LUA_TSTRING {
                let dir = try lua.path(1, .read, for: "data.concepts")
                let o = try Options(lua, 2, allowed: ["transform", "classes"])
                let tf = try ImageBinding.transform(lua, o, fallback: .plain)
                let classes = try o.with("classes") { try PlotBinding.strings(lua, $0, "classes") }
                lua.push(try lua.about(1) { () throws(TensorError) in try ImageFolder.concepts(root: dir, transform: tf, classes: classes) })
                return 1
            }
            let o = try Options(lua, 1, allowed: ["n", "size", "seed"])
            let n = try o.integer("n") ?? 1000, size = try o.integer("size") ?? 32
            guard n >= 1 && n <= 1_000_000 else { throw LuaArgError(1, "option 'n' must be in 1..1000000, got \(n)") }
            guard size >= 8 && size <= 256 else { throw LuaArgError(1, "option 'size' must be in 8..256, got \(size)") }
            lua.push(try DataFiles.concepts(n: n, size: size, seed: try o.seed() ?? 0))
            return 1
        }
    }

    /// ds:masks(i): sample i's concept masks, tensor{concepts, H, W} of 0 and 1.
    static let masks: LuaFunction = { L in
        Lua.bind(L, "masks") { lua in
            let d = try lua.check(1, Dataset.self)
            guard let c = d.source.concepts else {
                throw LuaArgError(1, "the data set '\(d.name)' has no concept labels (data.concepts or a folder with label maps has)")
            }
            let i = try lua.integer(2)
            guard i >= 1 && i <= d.count else { throw LuaArgError(2, "sample \(i) is out of range (1 to \(d.count))") }
            lua.push(tensor: try c.masks(d.indices[i - 1]))
            return 1
        }
    }

    // MARK: - data-set methods

    static let len: LuaFunction = { L in
        Lua.bind(L, "__len") { lua in lua.push(try lua.check(1, Dataset.self).count); return 1 }
    }

    static let tostring: LuaFunction = { L in
        Lua.bind(L, "__tostring") { lua in
            let d = try lua.check(1, Dataset.self)
            lua.push("dataset '\(d.name)': \(d.count) samples of \(d.sampleShape.map(String.init).joined(separator: " x ")), \(d.numClasses) classes")
            return 1
        }
    }

    /// ds.classes (names), ds.num_classes, ds.name, ds.shape (of a sample); else a method.
    static let index: LuaFunction = { L in
        Lua.bind(L, "__index") { lua in
            let d = try lua.check(1, Dataset.self)
            switch lua.string(at: 2) {
            case "classes":
                lua.newTable(array: Int32(d.numClasses))
                for (i, n) in d.classNames.enumerated() { lua.push(n); lua.setIndex(-2, i + 1) }
            case "num_classes": lua.push(d.numClasses)
            case "name": lua.push(d.name)
            case "shape": TensorBinding.pushShape(lua, d.sampleShape)
            case "concepts":
                guard let c = d.source.concepts else { lua.pushNil(); break }
                lua.newTable(array: Int32(c.names.count))
                for (i, n) in c.names.enumerated() { lua.push(n); lua.setIndex(-2, i + 1) }
            default:
                _ = lua_getmetatable(L, 1)
                lua.rawField(-1, "__methods")
                lua_pushvalue(L, 2)
                _ = lua_rawget(L, -2)
            }
            return 1
        }
    }

    /// ds:get(i): the sample (a tensor) and its 1-based class.
    static let get: LuaFunction = { L in
        Lua.bind(L, "get") { lua in
            let d = try lua.check(1, Dataset.self)
            let i = try lua.index(2, size: d.count)
            let (x, y) = try d.sample(i)
            lua.push(tensor: x)
            lua.push(y + 1)
            return 2
        }
    }

    /// ds:subset(n) (the first n), ds:subset{i, j, ...} or ds:subset(tensor of indices), 1-based.
    static let subset: LuaFunction = { L in
        Lua.bind(L, "subset") { lua in
            let d = try lua.check(1, Dataset.self)
            var pos: [Int] = []
            if lua.type(2) == LUA_TNUMBER {
                let n = try lua.integer(2)
                guard n >= 1 && n <= d.count else { throw LuaArgError(2, "subset size must be in 1..\(d.count), got \(n)") }
                pos = Array(0..<n)
            } else if let t = lua.test(2, Tensor.self) {
                guard t.rank == 1 else { throw LuaArgError(2, "indices must be a 1-D tensor") }
                for v in t.toArray() {
                    guard v == v.rounded(), v >= 1, v <= Float(d.count) else {
                        throw LuaArgError(2, "index \(v) out of range (1..\(d.count))")
                    }
                    pos.append(Int(v) - 1)
                }
            } else if lua.type(2) == LUA_TTABLE {
                let n = lua.rawLength(2)
                guard n >= 1 else { throw LuaArgError(2, "a non-empty list of indices expected") }
                for k in 1...n {
                    lua_rawgeti(L, 2, lua_Integer(k))
                    defer { lua.pop() }
                    var ok: Int32 = 0
                    let v = lua_tointegerx(L, -1, &ok)
                    guard ok != 0, v >= 1, Int(v) <= d.count else {
                        throw LuaArgError(2, "index \(k) of the list is \(lua.string(at: -1) ?? lua.typeName(-1)), expected an integer in 1..\(d.count)")
                    }
                    pos.append(Int(v) - 1)
                }
            } else {
                throw lua.argError(2, expected: "count, list or tensor of indices")
            }
            lua.push(try d.subset(pos))
            return 1
        }
    }

    static let split: LuaFunction = { L in
        Lua.bind(L, "split") { lua in
            let d = try lua.check(1, Dataset.self)
            let f = try lua.number(2)
            guard f > 0 && f < 1 else { throw LuaArgError(2, "fraction must be in (0, 1), got \(f)") }
            let o = try Options(lua, 3, allowed: ["seed"])
            let seed = try o.seed() ?? 0
            let (a, b) = try lua.about(2) { () throws(TensorError) in try d.split(f, seed: seed) }
            lua.push(a)
            lua.push(b)
            return 2
        }
    }

    static let balanced: LuaFunction = { L in
        Lua.bind(L, "balanced") { lua in
            let d = try lua.check(1, Dataset.self)
            let n = try lua.integer(2)
            let o = try Options(lua, 3, allowed: ["seed"])
            let seed = try o.seed() ?? 0
            lua.push(try lua.about(2) { () throws(TensorError) in try d.balanced(n, seed: seed) })
            return 1
        }
    }

    /// ds:labels(): 1-based classes of the samples, as a tensor.
    static let labels: LuaFunction = { L in
        Lua.bind(L, "labels") { lua in
            let d = try lua.check(1, Dataset.self)
            lua.push(tensor: try Tensor(shape: [d.count], values: d.viewLabels.map { Float($0 + 1) }))
            return 1
        }
    }

    /// ds:tensors(): all samples as one tensor {N, ...} and the 1-based labels.
    static let tensors: LuaFunction = { L in
        Lua.bind(L, "tensors") { lua in
            let d = try lua.check(1, Dataset.self)
            let x = try Tensor(uninitialized: [d.count] + d.sampleShape)
            var y = [Int32](repeating: 0, count: d.count)
            try y.withUnsafeMutableBufferPointer { p throws(TensorError) in try d.gather(Array(0..<d.count)[...], into: x, labels: p.baseAddress!) }
            lua.push(tensor: x)
            lua.push(tensor: try Tensor(shape: [d.count], values: y.map { Float($0 + 1) }))
            return 2
        }
    }
}
