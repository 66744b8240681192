// Network Dissection in bounded memory, for data sets whose top `quantile` of values per unit
// is more than a heap may hold (Dissection.swift decides). The threshold is then not found
// exactly; instead every IoU comes with a proven bound on its error, from two passes:
//  1. Each unit keeps the largest of a deterministic sample of its values (rate r, a hash of
//     sample, position and unit), `limit` of them: about twice as many as the sample holds above
//     the true threshold T. From their ranks, 128 candidate thresholds t_0 <= ... <= t_127 cover
//     T's likely place (the sampled rank of T, give or take five standard deviations).
//  2. Exact counts between candidates: per unit, of its values above each t_j (so T's bracket
//     t_j <= T <= t_i is known exactly), of its mask's pixels and of their intersection with
//     each concept.
// A mask shrinks as its threshold grows, so |M ∩ L| and |M ∪ L| at T lie between their values
// at t_j and t_i, and IoU(T) in [I(t_i) / U(t_j), I(t_j) / U(t_i)]. The reported IoU
// interpolates I and |M| between the two by T's rank, and `iouError` is the largest distance
// from it to either end over all units and concepts.
import LesionNN
import LesionTensor

extension NetworkDissection {
    /// Floats of the heaps of all units together (64 MB). A unit's heap holds at least
    /// `minimumHeap` values; past that, a dissection samples (below).
    public static let heapBudget = 1 << 24
    public static let minimumHeap = 16384
    /// Candidate thresholds per unit in the bounded pass.
    public static let candidates = 128

    /// How the first pass keeps each unit's largest values for a set of `values` values per
    /// unit: all it needs (exact), or the largest `keep` of a sample (bounded).
    struct Plan {
        let keep: Int
        let sampling: Sampling?
        /// Bounded: the sampled rank (from the top) where the threshold is expected.
        let expectedRank: Double

        init(values m: Int, units: Int, quantile: Double, heapLimit: Int?) {
            let need = m - Int((Double(m - 1) * (1 - quantile)).rounded(.down))
            let limit = max(1, heapLimit ?? max(NetworkDissection.minimumHeap, NetworkDissection.heapBudget / max(1, units)))
            if need <= limit {
                (keep, sampling, expectedRank) = (need, nil, 0)
            } else {
                // Twice the expected sampled count above the threshold, so that candidates
                // below it are kept too.
                let rate = Double(limit) / Double(2 * need)
                (keep, sampling, expectedRank) = (limit, Sampling(rate: rate), rate * Double(need))
            }
        }
    }

    /// Which values the first pass offers to a unit's heap: a fixed fraction, by a hash of where
    /// the value lies (sample, position, unit), the same for any batch size or thread count.
    struct Sampling {
        let cut: UInt64
        init(rate: Double) { cut = UInt64(min(1, max(0, rate)) * 0x1p63) << 1 }

        @inline(__always)
        func takes(sample: Int, position: Int, unit: Int) -> Bool {
            var z = UInt64(truncatingIfNeeded: sample) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(truncatingIfNeeded: position &* 0x10001 &+ unit)
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return (z ^ (z >> 31)) < cut
        }
    }

    /// The `candidates` thresholds of one unit, ascending (equal ones possible), from its
    /// largest sampled values (ascending) and the sampled rank (from the top) where the
    /// threshold is expected.
    static func candidates(_ top: [Float], expectedRank e: Double) -> [Float] {
        guard !top.isEmpty else { return [Float](repeating: 0, count: candidates) }
        let spread = 5 * e.squareRoot() + 2
        let lo = max(1, e - spread), hi = max(lo, min(Double(top.count), e + spread))
        return (0..<candidates).map { j in
            let rank = hi - (hi - lo) * Double(j) / Double(candidates - 1)    // from the top: hi first (smallest value)
            return top[top.count - min(top.count, max(1, Int(rank.rounded())))]
        }
    }

    /// The bucket of v > t[0]: the last candidate below it. Bucket j holds the values in
    /// (t[j], t[j+1]] (the last: above the last candidate).
    @inline(__always)
    static func bucket(_ v: Float, _ t: UnsafePointer<Float>, _ k: Int) -> Int {
        var lo = 0, hi = k - 1          // t[lo] < v
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if t[mid] < v { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }

    /// The second pass of a bounded dissection over some samples: each unit's counts between
    /// its candidates (cuts[u], `candidates` of them): Counts with unit [U * K] (mask pixels per
    /// bucket), inter [(U * K) * C], above [U * K] (values per bucket), equal [U * K] (values
    /// equal to a candidate, at the first of equal candidates), `values` and |L|.
    static func countBuckets(_ model: Sequential, _ data: Dataset, layer: Int, cuts: [[Float]], labels: ConceptLabels,
                             batch: Int, breaks: [Int] = []) throws(TensorError) -> Counts {
        let units = cuts.count, nc = labels.names.count, k = candidates
        guard cuts.allSatisfy({ $0.count == k }) else { throw TensorError(.shape, "a bounded dissection needs \(k) candidates per unit") }
        let flat = cuts.flatMap { $0 }
        var counts = Counts(unit: [Int](repeating: 0, count: units * k), inter: [Int](repeating: 0, count: units * k * nc),
                            concept: [Int](repeating: 0, count: nc), above: [Int](repeating: 0, count: units * k),
                            equal: [Int](repeating: 0, count: units * k))
        addConceptPixels(labels, samples: data.indices, into: &counts.concept)
        var kept: Geometry?
        try model.eachBatch(data, batch: batch, through: layer, breaks: breaks) { out, range, _ throws(TensorError) in
            let (n, h, w, c) = try maps(out, model, layer)
            guard c == units else { throw TensorError(.shape, "\(units) thresholds for the \(c) units of layer '\(model.layers[layer].name)'") }
            let geometry = kept ?? Geometry(h: h, w: w, H: labels.height, W: labels.width, labels: labels,
                                            starts: labels.categories.map(\.concepts.lowerBound))
            kept = geometry
            let hw = h * w
            counts.values += n * hw
            let samples = range.map { data.indices[$0] }
            try counts.unit.withUnsafeMutableBufferPointer { up throws(TensorError) in
                try counts.inter.withUnsafeMutableBufferPointer { ip throws(TensorError) in
                    try counts.above.withUnsafeMutableBufferPointer { ap throws(TensorError) in try counts.equal.withUnsafeMutableBufferPointer { ep throws(TensorError) in
                        try flat.withUnsafeBufferPointer { tp throws(TensorError) in
                            nonisolated(unsafe) let (pix, inter, above, cut) = (up.baseAddress!, ip.baseAddress!, ap.baseAddress!, tp.baseAddress!)
                            nonisolated(unsafe) let equal = ep.baseAddress!
                            try scanBatch(out, images: n, positions: hw, units: units, layerName: model.layers[layer].name) { b, us, planes, largest, size in
                                var scratch: Geometry.Scratch?
                                for u in us {
                                    let t = cut + u * k
                                    // A map below every candidate counts nowhere (a map that reaches the
                                    // first only by being equal to it counts its equal values).
                                    guard largest[u - us.lowerBound] >= t[0] else { continue }
                                    let plane = planes + (u - us.lowerBound) * hw
                                    for q in 0..<hw where plane[q] >= t[0] {
                                        let v = plane[q]
                                        guard v > t[0] else { equal[u * k] += 1; continue }
                                        let j = bucket(v, t, k)
                                        above[u * k + j] += 1
                                        if j + 1 < k && t[j + 1] == v { equal[u * k + j + 1] += 1 }
                                    }
                                    guard reaches(largest[u - us.lowerBound], size[u - us.lowerBound], t[0]) else { continue }
                                    if scratch == nil { scratch = Geometry.Scratch(geometry) }
                                    geometry.countBuckets(plane, size: size[u - us.lowerBound], candidates: t, k: k, sample: samples[b],
                                                          scratch: &scratch!, pixels: pix + u * k, inter: inter + u * k * nc)
                                }
                            }
                        }
                    } }
                }
            }
        }
        return counts
    }

    /// IoUs, their largest error and thresholds from a bounded pass's counts (added over all
    /// the set's samples): the (1 - quantile) quantile at NumPy's linear position among
    /// `counts.values` values per unit.
    static func boundedResult(labels: ConceptLabels, cuts: [[Float]], counts: Counts, quantile: Double) -> Dissection {
        let nc = counts.concept.count, k = candidates
        let m = counts.values
        let position = Double(m - 1) * (1 - quantile)
        let lowest = Int(position.rounded(.down))
        let target = Double(m - 1) - position          // values above T, interpolated
        var iou: [[Double]] = [], thresholds: [Float] = [], worst = 0.0
        for (u, t) in cuts.enumerated() {
            // Suffix sums: counts above t[j] (j = k: above every candidate... and nothing, zero).
            var above = [Int](repeating: 0, count: k + 1), pix = above
            var inter = [Int](repeating: 0, count: (k + 1) * nc)
            for j in stride(from: k - 1, through: 0, by: -1) {
                above[j] = above[j + 1] + counts.above[u * k + j]
                pix[j] = pix[j + 1] + counts.unit[u * k + j]
                for c in 0..<nc { inter[j * nc + c] = inter[(j + 1) * nc + c] + counts.inter[(u * k + j) * nc + c] }
            }
            // Values equal to t[j] (counted at the first of equal candidates).
            var equal = [Int](repeating: 0, count: k)
            for j in 0..<k { equal[j] = j > 0 && t[j] == t[j - 1] ? equal[j - 1] : counts.equal[u * k + j] }
            // T >= x_lowest >= t[j] while at most `lowest` values are below t[j]; T <= x_lowest+1
            // <= t[i] once at least lowest + 2 are at most t[i] (i = j: T is t[j] itself). Beyond
            // the candidates: no lower end (lo = nil), or the empty mask above (i = k).
            var lo: Int?
            for j in 0..<k where m - above[j] - equal[j] <= lowest { lo = j }
            guard let l = lo else {
                // The threshold fell below every candidate (five deviations away): nothing is bounded.
                thresholds.append(t[0])
                iou.append([Double](repeating: 0, count: nc))
                worst = 1
                continue
            }
            var hi = k
            for i in stride(from: k - 1, through: l, by: -1) where m - above[i] >= lowest + 2 { hi = i }
            // T's place between the two ends, by rank.
            let span = Double(above[l] - above[hi])
            let f = span > 0 ? min(1, max(0, (Double(above[l]) - target) / span)) : 0
            let upper = hi < k ? t[hi] : t[k - 1]   // (above the last candidate: its value, an estimate)
            thresholds.append(Float(Double(t[l]) + f * (Double(upper) - Double(t[l]))))
            var row: [Double] = []
            for c in 0..<nc {
                let (iL, iH) = (Double(inter[l * nc + c]), Double(inter[hi * nc + c]))
                let (mL, mH) = (Double(pix[l]), Double(pix[hi]))
                let lc = Double(counts.concept[c])
                func ratio(_ i: Double, _ u: Double) -> Double { u > 0 ? i / u : 0 }
                let i = iL - f * (iL - iH), mask = mL - f * (mL - mH)
                let est = ratio(i, mask + lc - i)
                let least = ratio(iH, mL + lc - iL), most = ratio(iL, mH + lc - iH)
                worst = max(worst, est - least, most - est)
                row.append(est)
            }
            iou.append(row)
        }
        return Dissection(concepts: labels.names, categoryOf: categories(labels), thresholds: thresholds, iou: iou, iouError: worst)
    }
}

extension NetworkDissection.Geometry {
    /// The bounded pass's counts of one map: each upsampled pixel above the first candidate in
    /// its bucket (pixels[j]), with the concepts labelled there (inter[j * C + c]).
    func countBuckets(_ src: UnsafePointer<Float>, size: Float, candidates t: UnsafePointer<Float>, k: Int, sample s: Int,
                      scratch: inout Scratch, pixels: UnsafeMutablePointer<Int>, inter: UnsafeMutablePointer<Int>) {
        let t0 = t[0], nc = labels.names.count
        @inline(__always) func add(_ p: Int, _ v: Float) {
            let j = NetworkDissection.bucket(v, t, k)
            var one = 0
            countPixel(p, sample: s, unit: &one, inter: inter + j * nc)
            pixels[j] += one
        }
        eachPixel(src, size: size, above: t0, scratch: &scratch, add)
    }
}
