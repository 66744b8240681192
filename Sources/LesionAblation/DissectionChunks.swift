// A Network Dissection cut into chunks of samples, so that shards share it: a first pass
// gives each chunk's largest values of every unit (as many as the whole set's threshold needs),
// the thresholds come from their union, and a second pass counts each chunk's masks. Counts
// are integers and the union of the chunks' largest values holds the set's largest values, so
// the chunks give exactly what NetworkDissection.dissect gives in one piece (tested).
import LesionNN
import LesionTensor

extension NetworkDissection {
    /// Counts per unit and concept over some samples: |M| per unit, |M ∩ L| per unit and concept
    /// (inter[u * C + c]), |L| per concept. A bounded pass (DissectionBounded.swift) counts per
    /// unit and bucket between candidates instead (u * K + j in place of u), with the values in
    /// each bucket (`above`), equal to each candidate (`equal`) and seen per unit (`values`).
    /// All add up over chunks.
    public struct Counts: Sendable {
        public var unit: [Int], inter: [Int], concept: [Int]
        public var above: [Int], equal: [Int], values: Int
        public init(unit: [Int], inter: [Int], concept: [Int], above: [Int] = [], equal: [Int] = [], values: Int = 0) {
            (self.unit, self.inter, self.concept, self.above, self.equal, self.values) = (unit, inter, concept, above, equal, values)
        }
    }

    /// The labels of a set, or the error that it has none.
    static func labels(_ data: Dataset) throws(TensorError) -> ConceptLabels {
        guard let labels = data.source.concepts else {
            throw TensorError(.value, "the data set '\(data.name)' has no concept labels (data.concepts, or a folder with label maps, has)")
        }
        return labels
    }

    /// Adds the labelled pixels of some samples (indices into the source) to per-concept counts.
    static func addConceptPixels(_ labels: ConceptLabels, samples: [Int], into count: inout [Int]) {
        let HW = labels.height * labels.width
        for s in samples {
            for (k, cat) in labels.categories.enumerated() {
                let m = labels.maps[k], start = cat.concepts.lowerBound
                for p in 0..<HW where m[s * HW + p] > 0 { count[start + Int(m[s * HW + p]) - 1] += 1 }
            }
        }
    }

    /// The first pass over a chunk (`data`) of a set of `setSamples` samples: per unit the
    /// chunk's largest values, as many as the set's (1 - quantile) quantile needs (fewer when
    /// the chunk holds fewer values), ascending; and the positions of a map. Past the heaps'
    /// budget, the largest of the set's sample of values (the same sample whatever the chunks).
    public static func largestValues(_ model: Sequential, _ data: Dataset, layer: Int, setSamples: Int, quantile: Double,
                                     batch: Int = 256, heapLimit: Int? = nil) throws(TensorError) -> (values: [[Float]], positions: Int) {
        try model.checkReads(data)
        _ = try labels(data)
        guard quantile >= 0 && quantile < 1 else { throw TensorError(.value, "quantile must be in [0, 1), got \(quantile)") }
        guard setSamples >= data.count else { throw TensorError(.value, "a chunk of \(data.count) samples is larger than its set (\(setSamples))") }
        var heaps: [TopValues] = []
        var positions = 0
        var sampling: Sampling?
        try model.eachBatch(data, batch: batch, through: layer) { out, range, _ throws(TensorError) in
            let (n, h, w, units) = try maps(out, model, layer)
            let hw = h * w
            if heaps.isEmpty {
                positions = hw
                let plan = Plan(values: setSamples * hw, units: units, quantile: quantile, heapLimit: heapLimit)
                heaps = (0..<units).map { _ in TopValues(keep: plan.keep) }
                sampling = plan.sampling
            }
            let samples = range.map { data.indices[$0] }, sample = sampling
            try heaps.withUnsafeMutableBufferPointer { hp throws(TensorError) in
                nonisolated(unsafe) let heapsP = hp
                try scanBatch(out, images: n, positions: hw, units: units, layerName: model.layers[layer].name) { b, us, planes, largest, _ in
                    for u in us where largest[u - us.lowerBound] > heapsP[u].floor {
                        let plane = planes + (u - us.lowerBound) * hw
                        heapsP[u].offer(plane, count: hw, sampling: sample, sample: samples[b], unit: u)
                    }
                }
            }
        }
        return (heaps.map { $0.ascending() }, positions)
    }

    /// Each unit's cut over a set of `values` values (samples x positions), from the largest
    /// values of each of its chunks (chunks[i][u]): [threshold] per unit, or past the heaps'
    /// budget the unit's `candidates` (DissectionBounded.swift).
    public static func cuts(mergingLargest chunks: [[[Float]]], values m: Int, quantile: Double,
                            heapLimit: Int? = nil) throws(TensorError) -> [[Float]] {
        guard let first = chunks.first, m >= 1 else { throw TensorError(.value, "a dissection's thresholds need at least one chunk of values") }
        let plan = Plan(values: m, units: first.count, quantile: quantile, heapLimit: heapLimit)
        var heaps = first.map { _ in TopValues(keep: plan.keep) }
        for chunk in chunks {
            guard chunk.count == heaps.count else { throw TensorError(.shape, "the chunks of a dissection differ in their units (\(chunk.count) and \(heaps.count))") }
            for (u, values) in chunk.enumerated() { for v in values { heaps[u].offer(v) } }
        }
        if plan.sampling != nil { return heaps.map { candidates($0.ascending(), expectedRank: plan.expectedRank) } }
        guard heaps.allSatisfy({ $0.items.count == plan.keep }) else {
            throw TensorError(.value, "the chunks of a dissection hold fewer values than its set's \(m) need")
        }
        return thresholds(heaps, values: m, quantile: quantile).map { [$0] }
    }

    /// The second pass over a chunk: its counts at the given cuts (one threshold per unit, or
    /// a bounded pass's candidates).
    public static func counts(_ model: Sequential, _ data: Dataset, layer: Int, cuts: [[Float]], batch: Int = 256) throws(TensorError) -> Counts {
        try model.checkReads(data)
        let labels = try labels(data)
        guard cuts.allSatisfy({ $0.count == 1 }) else {
            return try countBuckets(model, data, layer: layer, cuts: cuts, labels: labels, batch: batch)
        }
        let thresholds = cuts.map { $0[0] }
        let nc = labels.names.count
        var counts = Counts(unit: [Int](repeating: 0, count: thresholds.count), inter: [Int](repeating: 0, count: thresholds.count * nc),
                            concept: [Int](repeating: 0, count: nc))
        addConceptPixels(labels, samples: data.indices, into: &counts.concept)
        try countMasks(model, data, layer: layer, thresholds: thresholds, labels: labels, batch: batch,
                       unit: &counts.unit, inter: &counts.inter)
        return counts
    }

    /// The dissection of a set from its cuts and its chunks' counts added up.
    public static func result(_ data: Dataset, cuts: [[Float]], counts: Counts, quantile: Double) throws(TensorError) -> Dissection {
        let labels = try labels(data)
        let k = cuts.first?.count ?? 1, bounded = k > 1, rows = cuts.count * k
        guard cuts.allSatisfy({ $0.count == k }), counts.concept.count == labels.names.count, counts.unit.count == rows,
              counts.inter.count == rows * labels.names.count, counts.above.count == (bounded ? rows : 0),
              counts.equal.count == counts.above.count else {
            throw TensorError(.shape, "a dissection's counts do not fit its \(cuts.count) units and \(labels.names.count) concepts")
        }
        if bounded { return boundedResult(labels: labels, cuts: cuts, counts: counts, quantile: quantile) }
        return result(labels: labels, thresholds: cuts.map { $0[0] }, unitCount: counts.unit, inter: counts.inter, conceptCount: counts.concept)
    }

    /// Adds each unit's |M| and |M ∩ L| over the data, at its threshold, in a pass over the data.
    static func countMasks(_ model: Sequential, _ data: Dataset, layer: Int, thresholds: [Float], labels: ConceptLabels, batch: Int,
                           breaks: [Int] = [], unit unitCount: inout [Int], inter: inout [Int]) throws(TensorError) {
        let units = thresholds.count, nc = labels.names.count
        var kept: Geometry?
        try model.eachBatch(data, batch: batch, through: layer, breaks: breaks) { out, range, _ throws(TensorError) in
            let (n, h, w, c) = try maps(out, model, layer)
            guard c == units else {
                throw TensorError(.shape, "\(units) thresholds for the \(c) units of layer '\(model.layers[layer].name)'")
            }
            let geometry = kept ?? Geometry(h: h, w: w, H: labels.height, W: labels.width, labels: labels,
                                                starts: labels.categories.map(\.concepts.lowerBound))
            kept = geometry
            let hw = h * w
            let samples = range.map { data.indices[$0] }
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
}
