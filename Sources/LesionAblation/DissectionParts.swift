// The bookkeeping of a Network Dissection (Dissection.swift): one scan of an image's maps, the
// heap of each unit's largest values, the maps kept until the thresholds are known, and how a
// kept map becomes a mask and counts.
import LesionNN
import LesionTensor

extension NetworkDissection {
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

    /// One batch's maps ([n, h, w, units], hw positions each), per thread: each image's values of
    /// the thread's units (lo..<hi) scanned into planes (unit u's at (u - lo) * hw) with each
    /// map's largest value and magnitude, handed to `image(b, lo..<hi, planes, largest, size)`;
    /// then `done(lo..<hi)`. Throws when a value is NaN (its thread stops there).
    static func scanBatch(_ out: Tensor, images n: Int, positions hw: Int, units: Int, layerName: String,
                          image: (Int, Range<Int>, UnsafePointer<Float>, [Float], [Float]) -> Void,
                          done: (Range<Int>) -> Void = { _ in }) throws(TensorError) {
        nonisolated(unsafe) var nan = [Bool](repeating: false, count: units)
        nan.withUnsafeMutableBufferPointer { np in
            nonisolated(unsafe) let nanP = np
            Threads.parallelFor(Threads.count) { t in
                let (lo, hi) = Threads.range(t, of: units)
                guard hi > lo else { return }
                var planes = [Float](repeating: 0, count: (hi - lo) * hw)
                var largest = [Float](repeating: 0, count: hi - lo), size = largest
                for b in 0..<n {
                    if scan(out.data + b * hw * units, positions: hw, units: units, lo..<hi, into: &planes, largest: &largest, size: &size) {
                        nanP[lo] = true
                        return
                    }
                    planes.withUnsafeBufferPointer { image(b, lo..<hi, $0.baseAddress!, largest, size) }
                }
                done(lo..<hi)
            }
        }
        if nan.contains(true) { throw TensorError(.value, "the activations of layer '\(layerName)' contain NaN") }
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
        func count(_ src: UnsafePointer<Float>, size: Float, threshold T: Float, sample s: Int, scratch: inout Scratch,
                   unit: inout Int, inter: UnsafeMutablePointer<Int>) {
            eachPixel(src, size: size, above: T, scratch: &scratch) { p, _ in countPixel(p, sample: s, unit: &unit, inter: inter) }
        }

        /// Calls body(position, value) for each pixel of the upsampled map above T. Output rows
        /// read two source rows; a row none of whose sources may reach T holds no pixel above it
        /// and is skipped, and so is a pixel none of whose four sources may.
        @inline(__always)
        func eachPixel(_ src: UnsafePointer<Float>, size: Float, above T: Float, scratch: inout Scratch, _ body: (Int, Float) -> Void) {
            if h == H && w == W {
                // Maps at the labels' size: upsampling is the identity (weights 1 and 0).
                for p in 0..<(H * W) where src[p] > T { body(p, src[p]) }
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
                let (r0, r1, _, _) = rows[i]
                guard scratch.hot[r0] || scratch.hot[r1] else { continue }
                for j in 0..<W {
                    let (c0, c1, _, _) = cols[j]
                    guard scratch.hotCell[r0 * w + c0] || scratch.hotCell[r0 * w + c1] || scratch.hotCell[r1 * w + c0]
                            || scratch.hotCell[r1 * w + c1] else { continue }
                    let v = Tensor.bilinear(src, w, rows[i], cols[j])
                    if v > T { body(i * W + j, v) }
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

        /// Offers a map's values, or with `sampling` those of them the sample takes.
        @inline(__always)
        mutating func offer(_ plane: UnsafePointer<Float>, count: Int, sampling: Sampling?, sample: Int, unit: Int) {
            guard let sampling else { for q in 0..<count { offer(plane[q]) }; return }
            for q in 0..<count where plane[q] > floor && sampling.takes(sample: sample, position: q, unit: unit) { insert(plane[q]) }
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
