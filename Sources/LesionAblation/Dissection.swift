// Network Dissection (Bau, Zhou, Khosla, Oliva, Torralba 2017): how well each unit's
// high activations coincide with labelled concepts. Per unit, the threshold T is the top
// `quantile` of all its values over all positions of all images; the unit's map, upsampled to
// the labels' size, marks where it passes T; IoU(unit, concept) = |M ∩ L| / |M ∪ L| summed over
// the data set. Two passes: thresholds, then counts.
import LesionNN
import LesionTensor

public struct Dissection: Sendable {
    public let concepts: [String]
    /// The category of each concept ("shape", "color", ...).
    public let categoryOf: [String]
    /// Per unit, the threshold its maps were cut at.
    public let thresholds: [Float]
    /// iou[u][c].
    public let iou: [[Double]]
    public var units: Int { iou.count }
    /// Per unit the concept with the largest IoU (the first of equals) and that IoU.
    public var best: [Int] { iou.map { row in row.indices.max { row[$0] < row[$1] || (row[$0] == row[$1] && $0 > $1) } ?? 0 } }
    public var bestIoU: [Double] { iou.map { $0.max() ?? 0 } }
    /// Units whose best IoU passes `cut` (Network Dissection's detectors: 0.04).
    public func detectors(above cut: Double) -> Int { bestIoU.filter { $0 > cut }.count }
}

public enum NetworkDissection {
    /// Dissects the units of `layer` against the concepts labelled in `data`'s pixels.
    /// The threshold is NumPy's default (linear) quantile at 1 - quantile of each unit's values,
    /// computed exactly from the largest values (a bounded heap of quantile x values + 2 per
    /// unit); maps are upsampled bilinearly (PyTorch's interpolate, align_corners = False) and a
    /// pixel is in the unit's mask when its value is above the threshold.
    public static func dissect(_ model: Sequential, _ data: Dataset, layer: Int, quantile: Double = 0.005,
                               batch: Int = 256) throws(TensorError) -> Dissection {
        try model.checkReads(data)
        guard let labels = data.source.concepts else {
            throw TensorError(.value, "the data set '\(data.name)' has no concept labels (data.concepts, or a folder with label maps, has)")
        }
        guard quantile >= 0 && quantile < 1 else { throw TensorError(.value, "quantile must be in [0, 1), got \(quantile)") }
        let thresholds = try self.thresholds(model, data, layer: layer, quantile: quantile, batch: batch)
        let counts = try self.counts(model, data, labels, layer: layer, thresholds: thresholds, batch: batch)
        let iou = (0..<thresholds.count).map { u in
            (0..<labels.names.count).map { c -> Double in
                let inter = Double(counts.inter[u * labels.names.count + c])
                let union = Double(counts.unit[u]) + Double(counts.concept[c]) - inter
                return union > 0 ? inter / union : 0
            }
        }
        var categoryOf: [String] = []
        for cat in labels.categories { categoryOf += Array(repeating: cat.name, count: cat.concepts.count) }
        return Dissection(concepts: labels.names, categoryOf: categoryOf, thresholds: thresholds, iou: iou)
    }

    /// The layer's output for a batch, checked to be spatial: [n, h, w, U].
    static func maps(_ out: Tensor, _ model: Sequential, _ layer: Int) throws(TensorError) -> (n: Int, h: Int, w: Int, u: Int) {
        guard out.rank == 4 else {
            throw TensorError(.shape, "layer '\(model.layers[layer].name)' has no spatial extent (its output is \(Tensor.describe(Layout.logicalShape(out))))")
        }
        return (out.shape[0], out.shape[1], out.shape[2], out.shape[3])
    }

    /// Pass 1: each unit's (1 - quantile) quantile over all its values.
    static func thresholds(_ model: Sequential, _ data: Dataset, layer: Int, quantile: Double, batch: Int) throws(TensorError) -> [Float] {
        var heaps: [TopValues] = []
        var total = 0
        try model.eachBatch(data, batch: batch, through: layer) { out, range, _ throws(TensorError) in
            let (n, h, w, units) = try maps(out, model, layer)
            if heaps.isEmpty {
                // All values of a unit: every position of every image (NumPy's index (M - 1) q').
                let m = data.count * h * w
                let lowest = Int((Double(m - 1) * (1 - quantile)).rounded(.down))
                heaps = (0..<units).map { _ in TopValues(keep: m - lowest) }
            }
            let per = n * h * w
            var bad = false
            heaps.withUnsafeMutableBufferPointer { hp in
                nonisolated(unsafe) let heapsP = hp
                nonisolated(unsafe) var nan = [Bool](repeating: false, count: units)
                nan.withUnsafeMutableBufferPointer { np in
                    nonisolated(unsafe) let nanP = np
                    Threads.parallelFor(Threads.count) { t in
                        let (lo, hi) = Threads.range(t, of: units)
                        for u in lo..<hi {
                            for p in 0..<per {
                                let v = out.data[p * units + u]
                                if v.isNaN { nanP[u] = true; break }
                                heapsP[u].offer(v)
                            }
                        }
                    }
                }
                bad = nan.contains(true)
            }
            if bad { throw TensorError(.value, "the activations of layer '\(model.layers[layer].name)' contain NaN") }
            total += per
            _ = range
        }
        let m = total
        let position = Double(m - 1) * (1 - quantile)
        let lowest = Int(position.rounded(.down)), frac = position - Double(lowest)
        return heaps.map { heap in
            let top = heap.ascending()            // values at ranks lowest ..< m
            let a = Double(top[0]), b = Double(top.count > 1 ? top[1] : top[0])
            // NumPy's lerp: from the nearer end.
            return Float(frac >= 0.5 ? b - (b - a) * (1 - frac) : a + (b - a) * frac)
        }
    }

    /// Pass 2: per unit |M|, per concept |L|, per unit and concept |M ∩ L|, over the data set.
    static func counts(_ model: Sequential, _ data: Dataset, _ labels: ConceptLabels, layer: Int, thresholds: [Float],
                       batch: Int) throws(TensorError) -> (unit: [Int], concept: [Int], inter: [Int]) {
        let (H, W) = (labels.height, labels.width), HW = H * W
        let nc = labels.names.count, units = thresholds.count
        var unitCount = [Int](repeating: 0, count: units), conceptCount = [Int](repeating: 0, count: nc)
        var inter = [Int](repeating: 0, count: units * nc)
        let starts = labels.categories.map(\.concepts.lowerBound)
        try model.eachBatch(data, batch: batch, through: layer) { out, range, _ throws(TensorError) in
            let (n, h, w, _) = try maps(out, model, layer)
            let rows = Tensor.sourceWeights(in: h, out: H), cols = Tensor.sourceWeights(in: w, out: W)
            let samples = range.map { data.indices[$0] }
            for s in samples {
                for (k, start) in starts.enumerated() {
                    let m = labels.maps[k]
                    for p in 0..<HW where m[s * HW + p] > 0 { conceptCount[start + Int(m[s * HW + p]) - 1] += 1 }
                }
            }
            unitCount.withUnsafeMutableBufferPointer { ucp in inter.withUnsafeMutableBufferPointer { ip in
                nonisolated(unsafe) let uc = ucp, ic = ip
                Threads.parallelFor(Threads.count) { t in
                    let (lo, hi) = Threads.range(t, of: units)
                    var up = [Float](repeating: 0, count: HW)
                    for u in lo..<hi {
                        let T = thresholds[u]
                        for b in 0..<n {
                            // The unit's map of image b upsampled to the labels' size.
                            let src = out.data + b * h * w * units + u
                            for i in 0..<H {
                                let (r0, r1, a0, a1) = rows[i]
                                for j in 0..<W {
                                    let (c0, c1, b0, b1) = cols[j]
                                    up[i * W + j] = a0 * (b0 * src[(r0 * w + c0) * units] + b1 * src[(r0 * w + c1) * units])
                                        + a1 * (b0 * src[(r1 * w + c0) * units] + b1 * src[(r1 * w + c1) * units])
                                }
                            }
                            let s = samples[b]
                            for p in 0..<HW where up[p] > T {
                                uc[u] += 1
                                for (k, start) in starts.enumerated() {
                                    let l = labels.maps[k][s * HW + p]
                                    if l > 0 { ic[u * nc + start + Int(l) - 1] += 1 }
                                }
                            }
                        }
                    }
                }
            } }
        }
        return (unitCount, conceptCount, inter)
    }

    /// The `keep` largest values offered (a min-heap).
    struct TopValues {
        let keep: Int
        var items: [Float] = []
        init(keep: Int) { self.keep = max(1, keep) }

        mutating func offer(_ v: Float) {
            if items.count < keep {
                items.append(v)
                var i = items.count - 1
                while i > 0, case let p = (i - 1) / 2, items[p] > items[i] { items.swapAt(i, p); i = p }
            } else if v > items[0] {
                items[0] = v
                var i = 0
                while true {
                    let l = 2 * i + 1, r = l + 1
                    var least = i
                    if l < items.count && items[l] < items[least] { least = l }
                    if r < items.count && items[r] < items[least] { least = r }
                    if least == i { break }
                    items.swapAt(i, least)
                    i = least
                }
            }
        }

        func ascending() -> [Float] { items.sorted() }
    }
}
