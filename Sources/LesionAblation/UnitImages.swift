// What a unit responds to: the samples that excite it most (one pass, a bounded heap per
// unit) and its activation map over an image, upsampled to the image's size.
import LesionNN
import LesionTensor

/// The k samples that excite each unit most, best first (ties: the earlier sample first).
public struct TopImages: Sendable {
    /// The units (0-based channels of the layer), in the order asked for.
    public let units: [Int]
    public let k: Int
    /// indices[u][r]: the 0-based sample at rank r for units[u]; values[u][r] its score.
    public let indices: [[Int]]
    public let values: [[Float]]
}

public enum UnitImages {
    /// How a sample's activation map is scored: its largest value or its mean.
    public enum Score: String, Sendable, CaseIterable { case max, mean }

    /// One pass over the data: per sample and unit the score of its map at `layer`, kept in a
    /// heap of k per unit (memory: k per unit and one batch's scores, whatever the data's size).
    /// NaN scores never rank.
    public static func top(_ model: Sequential, _ data: Dataset, layer: Int, k: Int, units: [Int]? = nil,
                           by score: Score = .max, batch: Int = 256) throws(TensorError) -> TopImages {
        try model.checkReads(data)
        guard k >= 1 else { throw TensorError(.value, "k must be at least 1, got \(k)") }
        guard k <= data.count else { throw TensorError(.value, "k (\(k)) is larger than the set (\(data.count) samples)") }
        var heaps: [Heap] = []
        var chosen: [Int] = []
        try model.eachBatch(data, batch: batch, through: layer) { out, range, _ throws(TensorError) in
            let c = out.shape[out.rank - 1]
            if heaps.isEmpty {
                chosen = units ?? Array(0..<c)
                if let bad = chosen.first(where: { $0 < 0 || $0 >= c }) {
                    throw TensorError(.index, "unit \(bad + 1) is out of range: the layer has \(c) units")
                }
                heaps = chosen.map { _ in Heap(k) }
            }
            let nb = range.count, per = out.count / (nb * c)
            let scores = try Tensor(uninitialized: [nb, chosen.count])
            let want = chosen
            Threads.parallelFor(Threads.count) { t in
                let (lo, hi) = Threads.range(t, of: nb)
                for r in lo..<hi {
                    let row = scores.data + r * want.count
                    for (j, u) in want.enumerated() {
                        let p = out.data + r * per * c + u
                        switch score {
                        case .max:
                            var m = p[0]
                            for q in 1..<max(per, 1) where p[q * c] > m || m.isNaN { m = p[q * c] }
                            row[j] = m
                        case .mean:
                            var s = 0.0
                            for q in 0..<per { s += Double(p[q * c]) }
                            row[j] = Float(s / Double(per))
                        }
                    }
                }
            }
            nonisolated(unsafe) var hs = heaps
            hs.withUnsafeMutableBufferPointer { hp in
                nonisolated(unsafe) let heapsP = hp
                Threads.parallelFor(Threads.count) { t in
                    let (lo, hi) = Threads.range(t, of: want.count)
                    for j in lo..<hi {
                        for r in 0..<nb { heapsP[j].offer(scores.data[r * want.count + j], index: range.lowerBound + r) }
                    }
                }
            }
            heaps = hs
        }
        let ranked = heaps.map { $0.ranked() }
        return TopImages(units: chosen, k: k, indices: ranked.map { $0.map(\.index) }, values: ranked.map { $0.map(\.score) })
    }

    /// Unit `unit`'s activation maps at `layer` for a batch x (NCHW), upsampled bilinearly to
    /// the images' height and width (as Network Dissection does): [N, H, W].
    public static func heatmaps(_ model: Sequential, _ x: Tensor, layer: Int, unit: Int) throws(TensorError) -> Tensor {
        guard x.rank == 4 else { throw TensorError(.shape, "heatmaps need images {N,C,H,W}, got \(Tensor.describe(x.shape))") }
        let saved = model.training
        model.training = false
        defer { model.training = saved }
        let out = try model.forwardInternal(x, through: layer, training: false)
        guard out.rank == 4 else {
            throw TensorError(.shape, "layer '\(model.layers[layer].name)' has no spatial extent (its output is \(Tensor.describe(Layout.logicalShape(out))))")
        }
        let (n, h, w, c) = (out.shape[0], out.shape[1], out.shape[2], out.shape[3])
        guard unit >= 0 && unit < c else { throw TensorError(.index, "unit \(unit + 1) is out of range: the layer has \(c) units") }
        let plane = try Tensor(uninitialized: [n, h, w])
        for i in 0..<(n * h * w) { plane.data[i] = out.data[i * c + unit] }
        return try plane.interpolatedBilinear(height: x.shape[2], width: x.shape[3])
    }

    /// A bounded heap of the k best (score, index) pairs, the worst at the root.
    struct Heap {
        struct Entry { var score: Float; var index: Int }
        let k: Int
        var items: [Entry] = []
        init(_ k: Int) { self.k = k; items.reserveCapacity(k) }

        /// a ranks above b: a higher score, or the same score and an earlier sample.
        static func above(_ a: Entry, _ b: Entry) -> Bool { a.score > b.score || (a.score == b.score && a.index < b.index) }

        mutating func offer(_ score: Float, index: Int) {
            guard !score.isNaN else { return }
            let e = Entry(score: score, index: index)
            if items.count < k {
                items.append(e)
                var i = items.count - 1
                while i > 0, case let p = (i - 1) / 2, Heap.above(items[p], items[i]) { items.swapAt(i, p); i = p }
            } else if Heap.above(e, items[0]) {
                items[0] = e
                var i = 0
                while true {
                    let l = 2 * i + 1, r = l + 1
                    var worst = i
                    if l < items.count && Heap.above(items[worst], items[l]) { worst = l }
                    if r < items.count && Heap.above(items[worst], items[r]) { worst = r }
                    if worst == i { break }
                    items.swapAt(i, worst)
                    i = worst
                }
            }
        }

        func ranked() -> [Entry] { items.sorted(by: Heap.above) }
    }
}
