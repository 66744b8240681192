// plot.scatter / line / bar / hist / heatmap: SVG drawn by Notebook.Plot; each plot goes into
// the running cell's output and is returned as an SVG string.
import CLua
import LuaShim
import LesionNN
import LesionTensor
import Notebook

enum PlotBinding {
    static func register(_ lua: Lua) {
        LuaHost.from(lua.L).registerModule(lua, "plot", [
            ("scatter", scatter), ("line", line), ("bar", bar), ("hist", hist), ("heatmap", heatmap), ("images", images),
        ])
    }

    static let common = ["title", "xlabel", "ylabel"]

    /// Runs a plot function: checks the spec table, draws, records and returns the SVG.
    static func draw(_ L: OpaquePointer?, _ name: String, _ allowed: [String], _ body: (Lua, Options, Labels) throws -> String) -> Int32 {
        Lua.bind(L, name) { lua in
            guard lua.type(1) == LUA_TTABLE else { throw lua.argError(1, expected: "table") }
            let o = try Options(lua, 1, allowed: allowed + common)
            let labels = Labels(title: try o.string("title"), xlabel: try o.string("xlabel"), ylabel: try o.string("ylabel"))
            let svg: String
            do {
                svg = try body(lua, o, labels)
            } catch let e as PlotError {
                throw LuaArgError(1, e.description)
            }
            LuaHost.from(lua.L).record?.add(.svg(svg, title: labels.title))
            lua.push(svg)
            return 1
        }
    }

    static func numbers(_ lua: Lua, _ i: Int32, _ what: String) throws -> [Double] {
        try lua.numbers(i, arg: 1, field: what)
    }

    static func required(_ o: Options, _ key: String, _ read: (Int32) throws -> [Double]) throws -> [Double] {
        guard let v = try o.with(key, read) else { throw LuaArgError(1, "field '\(key)' is required") }
        return v
    }

    /// Labels at i: an array of strings (numbers are turned into text).
    static func strings(_ lua: Lua, _ i: Int32, _ what: String) throws -> [String] {
        guard lua.type(i) == LUA_TTABLE else { throw LuaArgError(1, "'\(what)' must be an array of labels, got \(lua.typeName(i))") }
        var out: [String] = []
        for k in 0..<lua.rawLength(i) {
            lua_rawgeti(lua.L, i, lua_Integer(k + 1))
            defer { lua.pop() }
            guard lua.type(-1) == LUA_TSTRING || lua.type(-1) == LUA_TNUMBER, let s = lua.string(at: -1) else {
                throw LuaArgError(1, "'\(what)'[\(k + 1)] is a \(lua.typeName(-1)), a string expected")
            }
            out.append(s)
        }
        return out
    }

    static let scatter: LuaFunction = { L in
        draw(L, "plot.scatter", ["x", "y", "trend"]) { lua, o, labels in
            let x = try required(o, "x") { try numbers(lua, $0, "x") }
            let y = try required(o, "y") { try numbers(lua, $0, "y") }
            return try Plot.scatter(x: x, y: y, trend: try o.boolean("trend") ?? false, labels: labels)
        }
    }

    /// y: numbers (one series) or a table of named series {name = numbers, ...} (drawn in name order).
    static let line: LuaFunction = { L in
        draw(L, "plot.line", ["x", "y"]) { lua, o, labels in
            let x = try o.with("x") { try numbers(lua, $0, "x") }
            let series: [(String, [Double])]? = try o.with("y") { i in
                if lua.test(i, Tensor.self) != nil || (lua.type(i) == LUA_TTABLE && lua.rawLength(i) > 0) {
                    return [("", try numbers(lua, i, "y"))]
                }
                guard lua.type(i) == LUA_TTABLE else { throw LuaArgError(1, "'y' must be numbers or a table of named series, got \(lua.typeName(i))") }
                var names: [String] = []
                try lua.forEachField(i) { k in
                    guard let k else { throw LuaArgError(1, "'y': series names must be strings") }
                    names.append(k)
                }
                var out: [(String, [Double])] = []
                for n in names.sorted() {
                    lua.rawField(i, n)
                    defer { lua.pop() }
                    out.append((n, try numbers(lua, lua.top, "y." + n)))
                }
                return out
            }
            guard let series else { throw LuaArgError(1, "field 'y' is required") }
            return try Plot.line(x: x, series: series, labels: labels)
        }
    }

    static let bar: LuaFunction = { L in
        draw(L, "plot.bar", ["x", "y"]) { lua, o, labels in
            let y = try required(o, "y") { try numbers(lua, $0, "y") }
            let x = try o.with("x") { try strings(lua, $0, "x") } ?? (1...max(y.count, 1)).map(String.init)
            return try Plot.bar(labels: x, values: y, labels: labels)
        }
    }

    static let hist: LuaFunction = { L in
        draw(L, "plot.hist", ["values", "bins"]) { lua, o, labels in
            let v = try required(o, "values") { try numbers(lua, $0, "values") }
            return try Plot.hist(values: v, bins: try o.integer("bins") ?? 20, labels: labels)
        }
    }

    static let heatmap: LuaFunction = { L in
        draw(L, "plot.heatmap", ["values", "rows", "cols"]) { lua, o, labels in
            let t: Tensor? = try o.with("values") { i in
                if let t = lua.test(i, Tensor.self) { return t }
                throw LuaArgError(1, "'values' must be a 2-D tensor, got \(lua.typeName(i))")
            }
            guard let t else { throw LuaArgError(1, "field 'values' is required") }
            guard t.rank == 2 else { throw LuaArgError(1, "'values' must be a 2-D tensor, got shape \(Tensor.describe(t.shape))") }
            let v = (0..<t.count).map { Double(t.data[$0]) }
            return try Plot.heatmap(values: v, rows: t.shape[0], cols: t.shape[1],
                                    rowLabels: try o.with("rows") { try strings(lua, $0, "rows") },
                                    colLabels: try o.with("cols") { try strings(lua, $0, "cols") }, labels: labels)
        }
    }

    /// One image's planes as a person sees them: `mean`/`std` undone, or else values outside
    /// [0, 1] stretched to it.
    static func picture(_ p: UnsafePointer<Float>, count: Int, channels c: Int, mean: [Float]?, std: [Float]?) -> [Float] {
        var px = Array(UnsafeBufferPointer(start: p, count: count))
        let plane = count / c
        if mean != nil || std != nil {
            for ch in 0..<c {
                let (m, sd) = (mean?[ch] ?? 0, std?[ch] ?? 1)
                for i in 0..<plane { px[ch * plane + i] = px[ch * plane + i] * sd + m }
            }
        } else if let lo = px.min(), let hi = px.max(), lo < 0 || hi > 1 {
            // Not in [0, 1] and no transform to undo: stretched to it, image by image.
            let span = hi > lo ? hi - lo : 1
            for i in 0..<px.count { px[i] = (px[i] - lo) / span }
        }
        return px
    }

    /// plot.images{images = tensor{N,C,H,W} | {N,H,W} | {C,H,W} or a data set, indices =, overlay =
    /// tensor{N,h,w}, threshold = number or one per image, titles =, cols =, scale =, mean =, std =,
    /// title =}: a grid of pictures as PNG (see docs/api.md).
    static let images: LuaFunction = { L in
        Lua.bind(L, "plot.images") { lua in
            guard lua.type(1) == LUA_TTABLE else { throw lua.argError(1, expected: "table") }
            let o = try Options(lua, 1, allowed: ["images", "indices", "overlay", "threshold", "titles", "cols", "scale", "mean", "std", "title"])
            var mean = try o.with("mean") { try numbers(lua, $0, "mean").map(Float.init) }
            var std = try o.with("std") { try numbers(lua, $0, "std").map(Float.init) }
            let indices = try o.with("indices") { try numbers(lua, $0, "indices") }
            // The pictures as [N, C, H, W].
            let x: Tensor = try o.with("images") { i throws -> Tensor in
                if let t = lua.test(i, Tensor.self) {
                    guard indices == nil else { throw LuaArgError(1, "'indices' goes with a data set; index the tensor instead") }
                    switch t.rank {
                    case 4: return t
                    case 3 where t.shape[0] == 1 || t.shape[0] == 3: return try t.reshaped([1] + t.shape)
                    case 3: return try t.reshaped([t.shape[0], 1, t.shape[1], t.shape[2]])
                    case 2: return try t.reshaped([1, 1] + t.shape)
                    default: throw LuaArgError(1, "'images' must be {N,C,H,W}, {N,H,W} or {C,H,W}, got \(Tensor.describe(t.shape))")
                    }
                }
                guard let ds = lua.test(i, Dataset.self) else {
                    throw LuaArgError(1, "'images' must be a tensor or a data set, got \(lua.typeName(i))")
                }
                guard ds.sampleShape.count == 3 else { throw LuaArgError(1, "'images': the data set's samples are not images (\(Tensor.describe(ds.sampleShape)))") }
                let picks = try indices.map { v throws -> [Int] in
                    try v.map { d throws -> Int in
                        guard d == d.rounded(), d >= 1, d <= Double(ds.count) else {
                            throw LuaArgError(1, "'indices': \(d) is not a sample of the set (1 to \(ds.count))")
                        }
                        return Int(d) - 1
                    }
                } ?? Array(0..<min(ds.count, 100))
                guard !picks.isEmpty else { throw LuaArgError(1, "'indices' is empty") }
                guard picks.count * ds.sampleShape[1] * ds.sampleShape[2] <= ImageGrid.maxPixels else {
                    throw LuaArgError(1, "too many pixels for one figure (\(picks.count) images of \(ds.sampleShape[1])x\(ds.sampleShape[2]))")
                }
                if mean == nil, std == nil, let n = ds.source.normalization { (mean, std) = (n.mean, n.std) }
                let out = try Tensor(uninitialized: [picks.count] + ds.sampleShape)
                let per = ds.sampleShape.reduce(1, *)
                for (k, p) in picks.enumerated() {
                    let (sample, _) = try lua.about(1) { () throws(TensorError) in try ds.sample(p) }
                    out.data.advanced(by: k * per).update(from: sample.data, count: per)
                }
                return out
            } ?? { throw LuaArgError(1, "field 'images' is required") }()
            let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
            guard c == 1 || c == 3 else { throw LuaArgError(1, "'images' must have 1 or 3 channels, got \(c)") }
            // The grid's own limit (ImageGrid), checked before any picture is copied.
            guard n * h * w <= ImageGrid.maxPixels else {
                throw LuaArgError(1, "too many pixels for one figure (\(n) images of \(h)x\(w))")
            }
            for (name, v) in [("mean", mean), ("std", std)] {
                if let v, v.count != c { throw LuaArgError(1, "'\(name)' needs \(c) values (one per channel), got \(v.count)") }
            }
            if let std, std.contains(where: { !($0 > 0) }) { throw LuaArgError(1, "'std' values must be positive") }
            let overlay: Tensor? = try o.with("overlay") { i throws -> Tensor in
                guard let t = lua.test(i, Tensor.self) else { throw LuaArgError(1, "'overlay' must be a tensor {N,H,W}, got \(lua.typeName(i))") }
                let maps = t.rank == 2 ? try t.reshaped([1] + t.shape) : t
                guard maps.rank == 3, maps.shape[0] == n else {
                    throw LuaArgError(1, "'overlay' must be {N,H,W} with one map per image (\(n)), got \(Tensor.describe(t.shape))")
                }
                if maps.shape[1] == h && maps.shape[2] == w { return maps }
                return try lua.about(1) { () throws(TensorError) in try maps.interpolatedBilinear(height: h, width: w) }
            }
            let thresholds: [Float]? = try o.with("threshold") { i throws -> [Float] in
                if lua.type(i) == LUA_TNUMBER { return [Float](repeating: Float(lua_tonumberx(lua.L, i, nil)), count: n) }
                let v = try numbers(lua, i, "threshold").map(Float.init)
                guard v.count == n else { throw LuaArgError(1, "'threshold' must be a number or one per image (\(n)), got \(v.count)") }
                return v
            }
            if thresholds != nil && overlay == nil { throw LuaArgError(1, "'threshold' outlines an overlay: give 'overlay' too") }
            let titles = try o.with("titles") { try strings(lua, $0, "titles") }
            if let titles, titles.count != n { throw LuaArgError(1, "'titles' must have one title per image (\(n)), got \(titles.count)") }
            let plane = h * w
            var tiles: [ImageGrid.Tile] = []
            for k in 0..<n {
                let px = picture(x.data + k * c * plane, count: c * plane, channels: c, mean: mean, std: std)
                tiles.append(ImageGrid.Tile(pixels: px, channels: c, height: h, width: w,
                                            overlay: overlay.map { Array(UnsafeBufferPointer(start: $0.data + k * plane, count: plane)) },
                                            threshold: thresholds?[k], title: titles?[k]))
            }
            let title = try o.string("title")
            let svg: String
            let png: [UInt8]
            do {
                let grid = try ImageGrid(tiles: tiles, cols: try o.integer("cols"), scale: try o.integer("scale"))
                png = try grid.png()
                svg = grid.svg(png: png, title: title)
            } catch let e as PlotError {
                throw LuaArgError(1, e.description)
            }
            LuaHost.from(lua.L).record?.add(.image(png: png, svg: svg, title: title))
            lua.push(svg)
            return 1
        }
    }
}
