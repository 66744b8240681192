// The native half of report.units (lua/lesion/report.lua gathers what the cards show): the
// top images of each unit with its heatmaps as thumbnails, then the HTML of Notebook's
// UnitCards into the running cell.
import CLua
import LesionAblation
import LesionNN
import LesionTensor
import Notebook

extension ReportBinding {
    /// report._units(model, set, layer, indices{n,k}, units{n}, spec) where spec has `values`
    /// (an array of {name, tensor{n}}), `iou` (tensor{n,C}) with `concepts`, `class_drop`
    /// (tensor{n,K}) with `classes`, `thresholds` (tensor{n}), `note`. Returns the HTML.
    static let units: LuaFunction = { L in
        ModelBinding.run(L, "units") { lua, m in
            let data = try lua.check(2, Dataset.self)
            let layer = try ModelBinding.layerIndex(lua, m, 3)
            let indices = try lua.tensor(4), unitT = try lua.tensor(5)
            guard indices.rank == 2, unitT.rank == 1, unitT.shape[0] == indices.shape[0] else {
                throw LuaArgError(4, "top images must be {units, k} with one row per unit")
            }
            try lua.table(6)
            let n = indices.shape[0], k = indices.shape[1]
            func tensorField(_ name: String, rows: Int? = nil) throws -> Tensor? {
                defer { lua.pop() }
                guard lua.rawField(6, name) != LUA_TNIL else { return nil }
                let t = try lua.tensor(lua.top)
                guard t.shape.first == n, rows == nil || (t.rank == 2 && t.shape[1] == rows!) || (rows == 0 && t.rank == 1) else {
                    throw LuaArgError(6, "'\(name)' has shape \(Tensor.describe(t.shape)), expected one row per unit (\(n))")
                }
                return t
            }
            func names(_ field: String) throws -> [String]? {
                defer { lua.pop() }
                guard lua.rawField(6, field) != LUA_TNIL else { return nil }
                return try PlotBinding.strings(lua, lua.top, field)
            }
            let concepts = try names("concepts"), classes = try names("classes")
            let iou = try tensorField("iou", rows: concepts?.count ?? -1)
            let drop = try tensorField("class_drop", rows: classes?.count ?? -1)
            let thresholds = try tensorField("thresholds", rows: 0)
            var values: [(String, Tensor)] = []
            if lua.rawField(6, "values") == LUA_TTABLE {
                let t = lua.top
                for i in 0..<lua.rawLength(t) {
                    lua_rawgeti(L, t, lua_Integer(i + 1))
                    lua_rawgeti(L, -1, 1)
                    let name = try lua.string(lua.top)
                    lua_rawgeti(L, -2, 2)
                    let v = try lua.tensor(lua.top)
                    guard v.count == n else { throw LuaArgError(6, "value '\(name)' has \(v.count) numbers for \(n) units") }
                    values.append((name, v))
                    lua.pop(3)
                }
            }
            lua.pop()
            let note: String? = try {
                defer { lua.pop() }
                return lua.rawField(6, "note") == LUA_TSTRING ? try lua.string(lua.top) : nil
            }()
            let pictures = try lua.about(2) { () throws(TensorError) in
                try thumbnails(m, data, layer: layer, indices: indices, units: unitT, thresholds: thresholds)
            }
            var cards: [UnitCard] = []
            for r in 0..<n {
                var card = UnitCard(unit: Int(unitT.data[r]), picture: pictures[r])
                card.values = values.map { ($0.0, Double($0.1.data[r])) }
                if let iou, let concepts {
                    let row = (0..<concepts.count).map { Double(iou.data[r * concepts.count + $0]) }
                    card.concepts = row.indices.sorted { row[$0] > row[$1] || (row[$0] == row[$1] && $0 < $1) }.prefix(3)
                        .filter { row[$0] > 0 }.map { (concepts[$0], row[$0]) }
                }
                if let drop, let classes {
                    card.classDrop = classes.enumerated().map { ($0.element, Double(drop.data[r * classes.count + $0.offset])) }
                }
                cards.append(card)
            }
            let html = UnitCards.html(layer: m.layers[layer].name, cards: cards, note: note)
            LuaHost.from(lua.L).record?.add(.html(html, title: "units of \(m.layers[layer].name)"))
            lua.push(html)
            return 1
        }
    }

    /// Thumbnail side: images are drawn at least this large, and larger ones shrunk to it.
    static let thumbnail = 56

    /// Per unit a row of its top images (shrunk to `thumbnail` pixels when larger), each under
    /// the unit's heatmap and, with a threshold, its outline. Units go 16 at a time, so only
    /// their images are held.
    static func thumbnails(_ m: Sequential, _ data: Dataset, layer: Int, indices: Tensor, units unitNumbers: Tensor,
                           thresholds: Tensor?) throws(TensorError) -> [(png: [UInt8], width: Int, height: Int)?] {
        guard data.sampleShape.count == 3 else { return Array(repeating: nil, count: unitNumbers.count) }
        let (c, h, w) = (data.sampleShape[0], data.sampleShape[1], data.sampleShape[2])
        guard c == 1 || c == 3 else { return Array(repeating: nil, count: unitNumbers.count) }
        let side = max(h, w)
        let (th, tw) = side > thumbnail ? (max(1, h * thumbnail / side), max(1, w * thumbnail / side)) : (h, w)
        // Many cards: images at their own size (28 x 28 thumbnails for 512 units of Fashion-MNIST
        // keep the page near 5 MB, which a browser opens in about a second).
        let scale = side >= thumbnail || unitNumbers.count > 128 ? 1 : max(1, thumbnail / side)
        let norm = data.source.normalization
        let (n, k) = (indices.shape[0], indices.shape[1])
        var out: [(png: [UInt8], width: Int, height: Int)?] = []
        let saved = m.training
        m.training = false
        defer { m.training = saved }
        for g in stride(from: 0, to: n, by: 16) {
            let rows = g..<min(n, g + 16)
            var positions: [Int] = []
            for r in rows { for j in 0..<k { let p = Int(indices.data[r * k + j]) - 1; if !positions.contains(p) { positions.append(p) } } }
            guard positions.allSatisfy({ $0 >= 0 && $0 < data.count }) else { throw TensorError(.index, "a top image is not a sample of the set") }
            let x = try Tensor(uninitialized: [positions.count, c, h, w])
            var labels = [Int32](repeating: 0, count: positions.count)
            try labels.withUnsafeMutableBufferPointer { p throws(TensorError) in try data.gather(positions[...], into: x, labels: p.baseAddress!) }
            let acts = try m.forwardInternal(x, through: layer, training: false)
            let spatial = acts.rank == 4
            let channels = acts.shape[acts.rank - 1]
            let images = (th, tw) == (h, w) ? x : try x.interpolatedBilinear(height: th, width: tw)
            for r in rows {
                var tiles: [ImageGrid.Tile] = []
                let unit = Int(unitNumbers.data[r]) - 1
                guard unit >= 0 && unit < channels else { throw TensorError(.index, "unit \(unit + 1) is out of range: the layer has \(channels) units") }
                for j in 0..<k {
                    let p = positions.firstIndex(of: Int(indices.data[r * k + j]) - 1)!
                    let px = PlotBinding.picture(images.data + p * c * th * tw, count: c * th * tw, channels: c, mean: norm?.mean, std: norm?.std)
                    var overlay: [Float]? = nil
                    if spatial {
                        let (ah, aw) = (acts.shape[1], acts.shape[2])
                        let plane = try Tensor(uninitialized: [ah, aw])
                        for q in 0..<(ah * aw) { plane.data[q] = acts.data[(p * ah * aw + q) * channels + unit] }
                        let up = try plane.interpolatedBilinear(height: th, width: tw)
                        overlay = Array(UnsafeBufferPointer(start: up.data, count: th * tw))
                    }
                    tiles.append(ImageGrid.Tile(pixels: px, channels: c, height: th, width: tw, overlay: overlay,
                                                threshold: overlay == nil ? nil : thresholds.map { $0.data[r] }))
                }
                do {
                    let grid = try ImageGrid(tiles: tiles, cols: k, scale: scale)
                    out.append((try grid.png(), grid.width, grid.height))
                } catch {
                    throw TensorError(.value, "cannot draw the top images of unit \(unit + 1): \(error)")
                }
            }
        }
        return out
    }
}
