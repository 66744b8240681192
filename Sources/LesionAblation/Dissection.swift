// Network Dissection (Bau, Zhou, Khosla, Oliva, Torralba 2017): how well each unit's
// high activations coincide with labelled concepts. Per unit, the threshold T is the top
// `quantile` of all its values over all positions of all images; the unit's map, upsampled to
// the labels' size, marks where it passes T; IoU(unit, concept) = |M ∩ L| / |M ∪ L| summed over
// the data set. One pass over the data when each unit's largest values and the maps that may
// pass its threshold fit their budgets; else a second pass counts (exactly), and past the
// heaps' budget the thresholds are bracketed instead of found (DissectionBounded.swift).
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
    /// The largest possible error of any IoU: 0 when the thresholds are exact, else the bound of
    /// the bounded pass (DissectionBounded.swift).
    public let iouError: Double

    public init(concepts: [String], categoryOf: [String], thresholds: [Float], iou: [[Double]], iouError: Double = 0) {
        (self.concepts, self.categoryOf, self.thresholds, self.iou, self.iouError) = (concepts, categoryOf, thresholds, iou, iouError)
    }
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
    /// When a unit's heap would pass `heapBudget / units` values (and `minimumHeap`), the heaps
    /// hold the largest of a sample of the values instead, and the IoUs come with a bound
    /// (`iouError`): memory is then bounded by the budgets and a batch, whatever the data's size.
    /// `heapLimit` sets the values per unit's heap directly (tests).
    public static func dissect(_ model: Sequential, _ data: Dataset, layer: Int, quantile: Double = 0.005,
                               batch: Int = 256, breaks: [Int] = [], keptBudget: Int = keptBudget,
                               heapBudget: Int = heapBudget, heapLimit: Int? = nil) throws(TensorError) -> Dissection {
        try model.checkReads(data)
        guard let labels = data.source.concepts else {
            throw TensorError(.value, "the data set '\(data.name)' has no concept labels (data.concepts, or a folder with label maps, has)")
        }
        guard quantile >= 0 && quantile < 1 else { throw TensorError(.value, "quantile must be in [0, 1), got \(quantile)") }
        let (H, W) = (labels.height, labels.width)
        let nc = labels.names.count
        let starts = labels.categories.map(\.concepts.lowerBound)
        var heaps: [TopValues] = []
        var kept: [KeptMaps] = []
        var conceptCount = [Int](repeating: 0, count: nc)
        var total = 0, mapSize = (0, 0)
        var storing = true, overflow = false
        var plan: Plan?
        try model.eachBatch(data, batch: batch, through: layer, breaks: breaks) { out, range, _ throws(TensorError) in
            let (n, h, w, units) = try maps(out, model, layer)
            if heaps.isEmpty {
                let m = data.count * h * w
                let p = Plan(values: m, units: units, quantile: quantile, heapLimit: heapLimit)
                heaps = (0..<units).map { _ in TopValues(keep: p.keep) }
                // Sampled: no maps are kept (the second pass counts).
                if p.sampling != nil { (storing, overflow) = (false, true) }
                plan = p
                kept = Array(repeating: KeptMaps(), count: units)
                mapSize = (h, w)
            }
            let samples = range.map { data.indices[$0] }
            addConceptPixels(labels, samples: samples, into: &conceptCount)
            let hw = h * w
            let store = storing, identity = h == H && w == W, sample = plan?.sampling
            try heaps.withUnsafeMutableBufferPointer { hp throws(TensorError) in try kept.withUnsafeMutableBufferPointer { kp throws(TensorError) in
                nonisolated(unsafe) let heapsP = hp, keptP = kp
                try scanBatch(out, images: n, positions: hw, units: units, layerName: model.layers[layer].name, image: { b, us, planes, largest, size in
                    for u in us {
                        let (mx, mag) = (largest[u - us.lowerBound], size[u - us.lowerBound])
                        // A map below the heap's floor adds nothing to the heap, and the
                        // threshold will be at least that floor: nothing to keep.
                        guard reaches(mx, mag, heapsP[u].floor) else { continue }
                        let plane = planes + (u - us.lowerBound) * hw
                        heapsP[u].offer(plane, count: hw, sampling: sample, sample: samples[b], unit: u)
                        if sample != nil { continue }
                        let floor = heapsP[u].floor
                        if store && reaches(mx, mag, floor) {
                            if identity {
                                for q in 0..<hw where plane[q] > floor { keptP[u].append(point: q, sample: samples[b], value: plane[q]) }
                            } else {
                                keptP[u].append(sample: samples[b], largest: mx, size: mag, plane: plane, count: hw)
                            }
                        }
                    }
                }, done: { us in
                    // Drop the maps kept before that no longer can.
                    for u in us {
                        let floor = heapsP[u].floor
                        keptP[u].keep(hw) { reaches($0, $1, floor) }
                        keptP[u].keepPoints { $0 > floor }
                    }
                })
            } }
            total += n * hw
            if storing && kept.reduce(0, { $0 + $1.samples.count * hw + 3 * $1.values.count }) > keptBudget {
                // Too many maps may still count: drop them and count in a second pass instead.
                overflow = true
                storing = false
                kept = Array(repeating: KeptMaps(), count: units)
            }
        }
        if let plan, plan.sampling != nil {
            let cuts = heaps.map { candidates($0.ascending(), expectedRank: plan.expectedRank) }
            let counts = try countBuckets(model, data, layer: layer, cuts: cuts, labels: labels, batch: batch, breaks: breaks)
            return boundedResult(labels: labels, cuts: cuts, counts: counts, quantile: quantile)
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
            try countMasks(model, data, layer: layer, thresholds: thresholds, labels: labels, batch: batch, breaks: breaks,
                           unit: &unitCount, inter: &inter)
        }
        return result(labels: labels, thresholds: thresholds, unitCount: unitCount, inter: inter, conceptCount: conceptCount)
    }

    /// The dissection from its counts: per unit |M|, per unit and concept |M ∩ L| (inter[u * C
    /// + c]), per concept |L|.
    static func result(labels: ConceptLabels, thresholds: [Float], unitCount: [Int], inter: [Int], conceptCount: [Int]) -> Dissection {
        let nc = conceptCount.count
        let iou = (0..<unitCount.count).map { u in
            (0..<nc).map { c -> Double in
                let i = Double(inter[u * nc + c])
                let union = Double(unitCount[u]) + Double(conceptCount[c]) - i
                return union > 0 ? i / union : 0
            }
        }
        return Dissection(concepts: labels.names, categoryOf: categories(labels), thresholds: thresholds, iou: iou)
    }

    /// The category of each concept.
    static func categories(_ labels: ConceptLabels) -> [String] {
        labels.categories.flatMap { cat in Array(repeating: cat.name, count: cat.concepts.count) }
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
}
