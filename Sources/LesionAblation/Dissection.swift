// Network Dissection (Bau, Zhou, Khosla, Oliva, Torralba 2017): how well each unit's
// high activations coincide with labelled concepts. Per unit, the threshold T is the top
// `quantile` of all its values over all positions of all images; the unit's map, upsampled to
// the labels' size, marks where it passes T; IoU(unit, concept) = |M ∩ L| / |M ∪ L| summed over
// the data set. One pass over the data.
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
    /// Dissects the units of `layer` against the concepts labelled in `data`'s pixels, in one
    /// pass over the data. The threshold is NumPy's default (linear) quantile at 1 - quantile of
    /// each unit's values, computed exactly from its largest values (a bounded heap of
    /// quantile x values + 2 per unit); maps are upsampled bilinearly (PyTorch's interpolate,
    /// align_corners = False) and a pixel is in the unit's mask when its value is above the
    /// threshold. A map can hold such a pixel only if its largest value reaches the threshold,
    /// which is at least the heap's smallest value at any time: maps below it are never kept,
    /// so only the few maps that may count are held until the threshold is known.
    public static func dissect(_ model: Sequential, _ data: Dataset, layer: Int, quantile: Double = 0.005,
                               batch: Int = 256, keptBudget: Int = keptBudget) throws(TensorError) -> Dissection {
        try model.checkReads(data)
        guard let labels = data.source.concepts else {
            throw TensorError(.value, "the data set '\(data.name)' has no concept labels (data.concepts, or a folder with label maps, has)")
        }
        guard quantile >= 0 && quantile < 1 else { throw TensorError(.value, "quantile must be in [0, 1), got \(quantile)") }
        let (H, W) = (labels.height, labels.width), HW = H * W
        let nc = labels.names.count
        let starts = labels.categories.map(\.concepts.lowerBound)
        var heaps: [TopValues] = []
        var kept: [KeptMaps] = []
        var conceptCount = [Int](repeating: 0, count: nc)
        var total = 0, mapSize = (0, 0)
        var storing = true, overflow = false
        try model.eachBatch(data, batch: batch, through: layer) { out, range, _ throws(TensorError) in
            let (n, h, w, units) = try maps(out, model, layer)
            if heaps.isEmpty {
                let m = data.count * h * w
                let lowest = Int((Double(m - 1) * (1 - quantile)).rounded(.down))
                heaps = (0..<units).map { _ in TopValues(keep: m - lowest) }
                kept = Array(repeating: KeptMaps(), count: units)
                mapSize = (h, w)
            }
            let samples = range.map { data.indices[$0] }
            for s in samples {
                for (k, start) in starts.enumerated() {
                    let m = labels.maps[k]
                    for p in 0..<HW where m[s * HW + p] > 0 { conceptCount[start + Int(m[s * HW + p]) - 1] += 1 }
                }
            }
            let hw = h * w
            var bad = false
            let store = storing, identity = h == H && w == W
            heaps.withUnsafeMutableBufferPointer { hp in kept.withUnsafeMutableBufferPointer { kp in
                nonisolated(unsafe) let heapsP = hp, keptP = kp
                nonisolated(unsafe) var nan = [Bool](repeating: false, count: units)
                nan.withUnsafeMutableBufferPointer { np in
                    nonisolated(unsafe) let nanP = np
                    Threads.parallelFor(Threads.count) { t in
                        let (lo, hi) = Threads.range(t, of: units)
                        guard hi > lo else { return }
                        // One image at a time, its maps for this thread's units turned into
                        // planes (the NHWC block is read once, in order), with each map's largest
                        // value and magnitude.
                        var planes = [Float](repeating: 0, count: (hi - lo) * hw)
                        var largest = [Float](repeating: 0, count: hi - lo), size = largest
                        for b in 0..<n {
                            if scan(out.data + b * hw * units, positions: hw, units: units, lo..<hi, into: &planes, largest: &largest, size: &size) {
                                nanP[lo] = true
                                return
                            }
                            for u in lo..<hi {
                                let (mx, mag) = (largest[u - lo], size[u - lo])
                                // A map below the heap's floor adds nothing to the heap, and the
                                // threshold will be at least that floor: nothing to keep.
                                guard reaches(mx, mag, heapsP[u].floor) else { continue }
                                let base = (u - lo) * hw
                                planes.withUnsafeBufferPointer { pp in
                                    let plane = pp.baseAddress! + base
                                    for q in 0..<hw { heapsP[u].offer(plane[q]) }
                                    let floor = heapsP[u].floor
                                    if store && reaches(mx, mag, floor) {
                                        if identity {
                                            for q in 0..<hw where plane[q] > floor { keptP[u].append(point: q, sample: samples[b], value: plane[q]) }
                                        } else {
                                            keptP[u].append(sample: samples[b], largest: mx, size: mag, plane: plane, count: hw)
                                        }
                                    }
                                }
                            }
                        }
                        // Drop the maps kept before that no longer can.
                        for u in lo..<hi {
                            let floor = heapsP[u].floor
                            keptP[u].keep(hw) { reaches($0, $1, floor) }
                            keptP[u].keepPoints { $0 > floor }
                        }
                    }
                }
                bad = nan.contains(true)
            } }
            if bad { throw TensorError(.value, "the activations of layer '\(model.layers[layer].name)' contain NaN") }
            total += n * hw
            if storing && kept.reduce(0, { $0 + $1.samples.count * hw + 3 * $1.values.count }) > keptBudget {
                // Too many maps may still count: drop them and count in a second pass instead.
                overflow = true
                storing = false
                kept = Array(repeating: KeptMaps(), count: units)
            }
        }
        let thresholds = self.thresholds(heaps, values: total, quantile: quantile)
        // Counts: per unit |M| and |M ∩ L| for each concept, from the kept maps, or (when they
        // passed the memory budget) from a second pass over the data.
        let units = thresholds.count, (h, w) = mapSize
        let geometry = Geometry(h: h, w: w, H: H, W: W, labels: labels, starts: starts)
        var unitCount = [Int](repeating: 0, count: units), inter = [Int](repeating: 0, count: units * nc)
        if !overflow {
            unitCount.withUnsafeMutableBufferPointer { ucp in inter.withUnsafeMutableBufferPointer { ip in
                nonisolated(unsafe) let uc = ucp, ic = ip
                let keptMaps = kept
                Threads.parallelFor(Threads.count) { t in
                    let (lo, hi) = Threads.range(t, of: units)
                    var scratch = Geometry.Scratch(geometry)
                    let hw = h * w
                    for u in lo..<hi {
                        let k = keptMaps[u]
                        k.planes.withUnsafeBufferPointer { pp in
                            for i in 0..<k.samples.count where reaches(k.largest[i], k.size[i], thresholds[u]) {
                                geometry.count(pp.baseAddress! + i * hw, size: k.size[i], threshold: thresholds[u], sample: k.samples[i],
                                               scratch: &scratch, unit: &uc[u], inter: ic.baseAddress! + u * nc)
                            }
                        }
                        // Maps at the labels' size keep only their values above the floor.
                        for i in 0..<k.values.count where k.values[i] > thresholds[u] {
                            geometry.countPixel(Int(k.points[i]), sample: Int(k.pointSamples[i]), unit: &uc[u], inter: ic.baseAddress! + u * nc)
                        }
                    }
                }
            } }
        } else {
            try model.eachBatch(data, batch: batch, through: layer) { out, range, _ throws(TensorError) in
                let (n, _, _, _) = try maps(out, model, layer)
                let samples = range.map { data.indices[$0] }
                let hw = h * w
                unitCount.withUnsafeMutableBufferPointer { ucp in inter.withUnsafeMutableBufferPointer { ip in
                    nonisolated(unsafe) let uc = ucp, ic = ip
                    Threads.parallelFor(Threads.count) { t in
                        let (lo, hi) = Threads.range(t, of: units)
                        guard hi > lo else { return }
                        var scratch = Geometry.Scratch(geometry)
                        var planes = [Float](repeating: 0, count: (hi - lo) * hw)
                        var largest = [Float](repeating: 0, count: hi - lo), size = largest
                        for b in 0..<n {
                            _ = scan(out.data + b * hw * units, positions: hw, units: units, lo..<hi, into: &planes, largest: &largest, size: &size)
                            planes.withUnsafeBufferPointer { pp in
                                for u in lo..<hi {
                                    let src = pp.baseAddress! + (u - lo) * hw
                                    let (mx, mag) = (largest[u - lo], size[u - lo])
                                    guard reaches(mx, mag, thresholds[u]) else { continue }
                                    geometry.count(src, size: mag, threshold: thresholds[u], sample: samples[b],
                                                   scratch: &scratch, unit: &uc[u], inter: ic.baseAddress! + u * nc)
                                }
                            }
                        }
                    }
                } }
            }
        }
        let iou = (0..<units).map { u in
            (0..<nc).map { c -> Double in
                let i = Double(inter[u * nc + c])
                let union = Double(unitCount[u]) + Double(conceptCount[c]) - i
                return union > 0 ? i / union : 0
            }
        }
        var categoryOf: [String] = []
        for cat in labels.categories { categoryOf += Array(repeating: cat.name, count: cat.concepts.count) }
        return Dissection(concepts: labels.names, categoryOf: categoryOf, thresholds: thresholds, iou: iou)
    }

    /// planes[(u - units.lowerBound) * positions + q] = block[q * stride + u]: one image's NHWC
    /// values of some units as a plane per unit, with each plane's largest value and largest
    /// magnitude. Returns whether a value is NaN.
    @inline(__always)
    static func scan(_ block: UnsafePointer<Float>, positions: Int, units stride: Int, _ units: Range<Int>, into planes: inout [Float],
                     largest: inout [Float], size: inout [Float]) -> Bool {
        let k = units.count
        var probe: Float = 0
        planes.withUnsafeMutableBufferPointer { pp in largest.withUnsafeMutableBufferPointer { lp in size.withUnsafeMutableBufferPointer { sp in
            let dst = pp.baseAddress!, mx = lp.baseAddress!, mag = sp.baseAddress!
            for j in 0..<k { mx[j] = -.infinity; mag[j] = 0 }
            for q in 0..<positions {
                let row = block + q * stride + units.lowerBound
                for j in 0..<k {
                    let v = row[j]
                    dst[j * positions + q] = v
                    mx[j] = max(mx[j], v)
                    mag[j] = max(mag[j], abs(v))
                    probe += v - v          // NaN after a NaN (or an infinity), else 0
                }
            }
        } } }
        guard probe.isNaN else { return false }
        for q in 0..<positions { for j in 0..<k where block[q * stride + units.lowerBound + j].isNaN { return true } }
        return false
    }

    /// Floats of maps kept until the thresholds are known (256 MB); past it, a second pass.
    public static let keptBudget = 1 << 26

    /// How maps become masks and counts: the upsampling's weights and the labels.
    struct Geometry {
        let h: Int, w: Int, H: Int, W: Int
        let labels: ConceptLabels
        let starts: [Int]
        let rows: [(Int, Int, Float, Float)], cols: [(Int, Int, Float, Float)]

        init(h: Int, w: Int, H: Int, W: Int, labels: ConceptLabels, starts: [Int]) {
            (self.h, self.w, self.H, self.W, self.labels, self.starts) = (h, w, H, W, labels, starts)
            rows = Tensor.sourceWeights(in: max(h, 1), out: H)
            cols = Tensor.sourceWeights(in: max(w, 1), out: W)
        }

        struct Scratch {
            /// Per source row, and per source cell: whether it may reach the threshold.
            var hot: [Bool], hotCell: [Bool]
            init(_ g: Geometry) {
                hot = [Bool](repeating: false, count: g.h)
                hotCell = [Bool](repeating: false, count: g.h * g.w)
            }
        }

        /// Adds one pixel of a unit's mask (at position p of sample s's labels).
        @inline(__always)
        func countPixel(_ p: Int, sample s: Int, unit: inout Int, inter: UnsafeMutablePointer<Int>) {
            unit += 1
            for (k, start) in starts.enumerated() {
                let l = labels.maps[k][s * H * W + p]
                if l > 0 { inter[start + Int(l) - 1] += 1 }
            }
        }

        /// Adds one map's mask to the unit's count and its intersections with the concepts.
        /// Output rows read two source rows; a row none of whose sources may reach the
        /// threshold holds no pixel above it and is skipped.
        func count(_ src: UnsafePointer<Float>, size: Float, threshold T: Float, sample s: Int, scratch: inout Scratch,
                   unit: inout Int, inter: UnsafeMutablePointer<Int>) {
            let HW = H * W
            if h == H && w == W {
                // Maps at the labels' size: upsampling is the identity (weights 1 and 0).
                for p in 0..<HW where src[p] > T {
                    unit += 1
                    for (k, start) in starts.enumerated() {
                        let l = labels.maps[k][s * HW + p]
                        if l > 0 { inter[start + Int(l) - 1] += 1 }
                    }
                }
                return
            }
            for r in 0..<h {
                var any = false
                for c in 0..<w {
                    let hot = reaches(src[r * w + c], size, T)
                    scratch.hotCell[r * w + c] = hot
                    any = any || hot
                }
                scratch.hot[r] = any
            }
            for i in 0..<H {
                let (r0, r1, a0, a1) = rows[i]
                guard scratch.hot[r0] || scratch.hot[r1] else { continue }
                for j in 0..<W {
                    let (c0, c1, b0, b1) = cols[j]
                    // A pixel none of whose four sources may reach the threshold is below it.
                    guard scratch.hotCell[r0 * w + c0] || scratch.hotCell[r0 * w + c1] || scratch.hotCell[r1 * w + c0]
                            || scratch.hotCell[r1 * w + c1] else { continue }
                    let v = a0 * (b0 * src[r0 * w + c0] + b1 * src[r0 * w + c1]) + a1 * (b0 * src[r1 * w + c0] + b1 * src[r1 * w + c1])
                    guard v > T else { continue }
                    unit += 1
                    let p = i * W + j
                    for (k, start) in starts.enumerated() {
                        let l = labels.maps[k][s * HW + p]
                        if l > 0 { inter[start + Int(l) - 1] += 1 }
                    }
                }
            }
        }
    }

    /// A unit's maps that may hold pixels above its threshold, one after another.
    struct KeptMaps {
        var samples: [Int] = []
        /// Each map's largest value and largest magnitude.
        var largest: [Float] = [], size: [Float] = []
        var planes: [Float] = []
        /// Maps at the labels' size keep single values instead: position, sample, value.
        var points: [Int32] = [], pointSamples: [Int32] = [], values: [Float] = []

        mutating func append(point q: Int, sample: Int, value: Float) {
            points.append(Int32(q))
            pointSamples.append(Int32(sample))
            values.append(value)
        }

        mutating func keepPoints(_ keep: (Float) -> Bool) {
            var j = 0
            for i in 0..<values.count where keep(values[i]) {
                (points[j], pointSamples[j], values[j]) = (points[i], pointSamples[i], values[i])
                j += 1
            }
            points.removeLast(points.count - j)
            pointSamples.removeLast(pointSamples.count - j)
            values.removeLast(values.count - j)
        }

        mutating func append(sample: Int, largest l: Float, size m: Float, plane: UnsafePointer<Float>, count: Int) {
            samples.append(sample)
            largest.append(l)
            size.append(m)
            planes.append(contentsOf: UnsafeBufferPointer(start: plane, count: count))
        }

        /// Maps marked dropped (largest = -infinity) but not yet removed.
        var dropped = 0

        /// Drops the maps for which `keep(largest, size)` fails: marked at once, removed (the
        /// others moved up, in order) once they are half of all, so that a map is moved only a
        /// few times however many batches pass.
        mutating func keep(_ hw: Int, _ keep: (Float, Float) -> Bool) {
            for i in 0..<samples.count where largest[i] != -.infinity && !keep(largest[i], size[i]) {
                largest[i] = -.infinity
                dropped += 1
            }
            guard dropped > 0 && 2 * dropped >= samples.count else { return }
            var j = 0
            for i in 0..<samples.count where largest[i] != -.infinity {
                if i != j {
                    (samples[j], largest[j], size[j]) = (samples[i], largest[i], size[i])
                    for q in 0..<hw { planes[j * hw + q] = planes[i * hw + q] }
                }
                j += 1
            }
            samples.removeLast(samples.count - j)
            largest.removeLast(largest.count - j)
            size.removeLast(size.count - j)
            planes.removeLast(planes.count - j * hw)
            dropped = 0
        }
    }

    /// Whether a map whose largest value is `largest` (and largest magnitude `size`) may have an
    /// upsampled pixel above `t`: an upsampled value is a weighted mean of four values, so at
    /// most their largest, give or take rounding (a few float epsilons of the magnitudes
    /// involved, allowed for generously).
    @inline(__always)
    static func reaches(_ largest: Float, _ size: Float, _ t: Float) -> Bool {
        // Strict: an all-zero map (size 0) upsamples to exact zeros, which never pass a
        // threshold of 0 (a unit silent on most of the data).
        largest + 1e-5 * size > t
    }

    /// The layer's output for a batch, checked to be spatial: [n, h, w, U].
    static func maps(_ out: Tensor, _ model: Sequential, _ layer: Int) throws(TensorError) -> (n: Int, h: Int, w: Int, u: Int) {
        guard out.rank == 4 else {
            throw TensorError(.shape, "layer '\(model.layers[layer].name)' has no spatial extent (its output is \(Tensor.describe(Layout.logicalShape(out))))")
        }
        return (out.shape[0], out.shape[1], out.shape[2], out.shape[3])
    }

    /// Each unit's (1 - quantile) quantile of its `values` values, from the heap of its largest.
    static func thresholds(_ heaps: [TopValues], values m: Int, quantile: Double) -> [Float] {
        let position = Double(m - 1) * (1 - quantile)
        let lowest = Int(position.rounded(.down)), frac = position - Double(lowest)
        return heaps.map { heap in
            let top = heap.ascending()            // values at ranks lowest ..< m
            let a = Double(top[0]), b = Double(top.count > 1 ? top[1] : top[0])
            // NumPy's lerp: from the nearer end.
            return Float(frac >= 0.5 ? b - (b - a) * (1 - frac) : a + (b - a) * frac)
        }
    }

    /// The `keep` largest values offered (a min-heap).
    struct TopValues {
        let keep: Int
        var items: [Float] = []
        /// The smallest value kept once the heap is full (every later threshold is at least
        /// this); -infinity before.
        private(set) var floor = -Float.infinity
        init(keep: Int) { self.keep = max(1, keep) }

        /// Most values are below the floor: one comparison.
        @inline(__always)
        mutating func offer(_ v: Float) {
            if v > floor { insert(v) }
        }

        mutating func insert(_ v: Float) {
            if items.count < keep {
                items.append(v)
                var i = items.count - 1
                while i > 0, case let p = (i - 1) / 2, items[p] > items[i] { items.swapAt(i, p); i = p }
                if items.count == keep { floor = items[0] }
            } else {
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
                floor = items[0]
            }
        }

        func ascending() -> [Float] { items.sorted() }
    }
}
