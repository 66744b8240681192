// Sweeps (each unit of a layer ablated alone) and curves (growing sets of units ablated
// together), exactly and without one forward pass per unit or set.
//
// Ablating unit u of layer L changes only channel u until the next layer that mixes channels
// (a convolution or a linear layer). So the activations at L are computed once per batch;
// channel u's ablated values go through the channel-wise layers on their own (ReLU, pooling,
// global pooling, BatchNorm and Dropout in evaluation, Flatten); at the mixing layer M the
// change of its output is that one channel's contribution, (new - old) convolved with (or
// multiplied by) the weights that read channel u: 1/C of M's cost; then the layers after M
// run as usual. Units are split over the threads in fixed blocks, so results repeat exactly.
import COpenBLAS
import LesionNN
import LesionTensor

/// Correct counts per class for a list of ablations (units, or sets of units).
public protocol AblationCounts {
    /// correct[i][k]: samples of class k still classified right with ablation i.
    var correct: [[Int]] { get }
    /// Samples of each class.
    var classTotals: [Int] { get }
}

extension AblationCounts {
    public var accuracy: [Double] {
        let n = Double(classTotals.reduce(0, +))
        return correct.map { Double($0.reduce(0, +)) / n }
    }

    /// perClass[i][k]: accuracy on class k with ablation i (NaN for a class with no samples).
    public var perClass: [[Double]] {
        correct.map { row in row.enumerated().map { k, c in classTotals[k] > 0 ? Double(c) / Double(classTotals[k]) : .nan } }
    }
}

public struct SweepResult: AblationCounts {
    public let layer: Int
    /// 0-based units, in the order swept.
    public let units: [Int]
    public let base: Evaluation
    /// correct[u][k]: samples of class k still classified right with units[u] ablated.
    public let correct: [[Int]]
    public let classTotals: [Int]
    /// Each sample's answers (a sweep asked for them with `perSample`).
    public var samples: SampleAnswers? = nil
}

/// The first k units of an order ablated together, for each k of `steps`.
public struct CurveResult: AblationCounts {
    public let layer: Int
    public let order: [Int]
    public let steps: [Int]
    public let base: Evaluation
    /// correct[i][k]: samples of class k still classified right with the first steps[i] units ablated.
    public let correct: [[Int]]
    public let classTotals: [Int]
}

extension Ablation {
    /// Whether a layer maps each channel on its own in evaluation (its own word; a sum of
    /// branches reads two inputs and is not one).
    static func channelWise(_ l: Layer) -> Bool { l.channelMap == .channelWise && !(l is Add) }

    /// Each unit of layer L ablated alone (all units by default).
    /// With `perSample`, the result also holds each sample's answers (`samples`), from which
    /// SweepIntervals draws bootstrap intervals without running the model again.
    public static func sweep(_ model: Sequential, _ data: Dataset, layer L: Int, units requested: [Int]? = nil,
                             mode: AblationMode = .zero, batch: Int = 500, perSample: Bool = false) throws(TensorError) -> SweepResult {
        guard L >= 0 && L < model.layers.count else { throw TensorError(.index, "layer \(L) out of range") }
        try model.checkFits(data)
        let units: [Int]
        if let requested { units = requested } else { units = Array(0..<(try unitCount(model, data, layer: L))) }
        guard !units.isEmpty else { throw TensorError(.value, "no units to sweep") }
        let r = try ablateSets(model, data, layer: L, sets: units.map { [$0] }, mode: mode, batch: batch, perSample: perSample)
        return SweepResult(layer: L, units: units, base: r.base, correct: r.correct, classTotals: r.totals, samples: r.samples)
    }

    /// The first k units of `order` ablated together, for each k of `steps` (0 ... order.count),
    /// in one pass over the data like a sweep.
    public static func curve(_ model: Sequential, _ data: Dataset, layer L: Int, order: [Int], steps: [Int],
                             mode: AblationMode = .zero, batch: Int = 500) throws(TensorError) -> CurveResult {
        guard L >= 0 && L < model.layers.count else { throw TensorError(.index, "layer \(L) out of range") }
        guard !order.isEmpty, !steps.isEmpty else { throw TensorError(.value, "a curve needs units and steps") }
        var seen = Set<Int>()
        for u in order where !seen.insert(u).inserted {
            throw TensorError(.value, "unit \(u + 1) appears twice in the order")
        }
        for k in steps where k < 0 || k > order.count {
            throw TensorError(.index, "step \(k) is not a count of units from 0 to \(order.count)")
        }
        let r = try ablateSets(model, data, layer: L, sets: steps.map { Array(order.prefix($0)) }, mode: mode, batch: batch)
        return CurveResult(layer: L, order: order, steps: steps, base: r.base, correct: r.correct, classTotals: r.totals)
    }

    /// Each set of units of layer L ablated together (an empty set: nothing ablated): the base
    /// evaluation, each set's correct counts per class and the class totals.
    static func ablateSets(_ model: Sequential, _ data: Dataset, layer L: Int, sets: [[Int]], mode: AblationMode,
                           batch: Int, perSample: Bool = false) throws(TensorError) -> SetCounts {
        guard L >= 0 && L < model.layers.count else { throw TensorError(.index, "layer \(L) out of range") }
        try model.checkFits(data)
        let nUnits = try unitCount(model, data, layer: L)
        for set in sets { for u in set where u < 0 || u >= nUnits {
            throw TensorError(.index, "unit \(u + 1) out of range for \(model.layers[L].name), which has \(nUnits) units")
        } }
        let layers = model.layers
        // The units' ablated values, once for every path (the mean mode makes a pass over the data).
        let values = try ablationValues(model, data, layer: L, mode: mode)
        // This path is tuned for a chain after L whose ablated channels stay constant planes up
        // to the mixer; anything else (inside a residual network, a pool whose borders differ)
        // goes through the graph sweep.
        let tailIsChain = ((L + 1)..<layers.count).allSatisfy { model.inputs[$0] == [$0 - 1] }
        guard tailIsChain else { return try ablateSetsGraph(model, data, layer: L, sets: sets, values: values, batch: batch, perSample: perSample) }
        // The channel-wise layers after L; after a Flatten of positions a channel is a block of
        // features, and only layers that treat features alike (ReLU, Dropout) keep it whole.
        var m = L + 1
        var flattened = false
        while m < layers.count && channelWise(layers[m]) {
            if flattened && !(layers[m] is ReLU || layers[m] is Dropout) { break }
            if layers[m] is Flatten { flattened = true }
            m += 1
        }
        let opaque = layers[(L + 1)...].contains { $0.channelMap == .opaque }
        let mixer = m < layers.count ? layers[m] : nil
        guard !opaque, mixer == nil || mixer is ChannelMixer else {
            return try ablateSetsGraph(model, data, layer: L, sets: sets, values: values, batch: batch, perSample: perSample)
        }
        let k = data.numClasses
        let threads = min(Threads.count, sets.count)
        // Per thread: its own copies of the layers after the mixer (they keep buffers).
        var rests: [[Layer]] = []
        for _ in 0..<threads {
            var r: [Layer] = []
            if m + 1 < layers.count { for l in layers[(m + 1)...] { r.append(try l.copy()) } }
            rests.append(r)
        }
        let mixerCopy = try mixer?.copy()
        // Per thread: a copy of the mixer for the units' changes (it keeps their buffers).
        var mixers: [Layer?] = []
        for _ in 0..<threads { mixers.append(try mixer?.copy()) }
        // The mixer computes only the rows and columns the layers after it read (exact).
        if let c = mixerCopy as? Conv2d { c.crop = model.plannedCrop(of: m, sample: data.sampleShape) }
        let scratch = (0..<threads).map { _ in Scratch() }
        // Each unit's ablated value after the channel-wise layers (a constant per unit).
        let shapeL = try model.shapes(batch: 1, sample: data.sampleShape)[L] ?? []
        guard let after = try constantsThrough(Array(layers[(L + 1)..<m]), shape: shapeL, values: values) else {
            return try ablateSetsGraph(model, data, layer: L, sets: sets, values: values, batch: batch, perSample: perSample)
        }
        let constants = sets.map { set in set.map { after[$0] } }
        let tally = SweepCounts(sets: sets.count, classes: k, perSample: perSample)
        try data.forEachBatch(model.fittingBatch(batch, sample: data.sampleShape)) { xb, range, labels throws(TensorError) in
            // Base values at the mixer's input (the model's own forward through the channel-wise
            // layers, so its plan may crop what they never read) and output, and the base logits.
            // Both stay as they are for the whole batch: they are buffers of the model's layers and
            // of the sweep's mixer, which nothing else writes until the next batch (the units run
            // on copies of the layers after the mixer).
            let xm = try model.forwardInternal(xb, through: m - 1, training: false)
            let z = try mixerCopy.map { l throws(TensorError) in try l.forward(xm, training: false) } ?? xm
            let per = xm.rank == 4 ? xm.shape[1] * xm.shape[2] : xm.shape[1] / nUnits
            var h = z
            for l in rests[0] { h = try l.forward(h, training: false) }
            let nb = range.count
            let baseRight = tally.base(h, labels: labels, n: nb, start: range.lowerBound)
            // Units in fixed blocks per thread. A sample whose values at the mixer's input do
            // not change keeps its base prediction; only the others run through the layers after.
            // Samples go in blocks whose mixer outputs fill about 2 MB (L2), every unit of the
            // thread's over one block before the next.
            nonisolated(unsafe) let batchLabels = labels
            let blockRows = max(32, (1 << 19) / max(1, z.count / nb))
            try tally.parallel(threads: threads) { t, part throws(TensorError) in
                for r0 in stride(from: 0, to: nb, by: blockRows) {
                    let block = r0..<min(nb, r0 + blockRows)
                    for ui in part {
                        guard let (logits, changed) = try ablatedLogits(units: sets[ui], values: constants[ui], per: per, xm: xm, z: z,
                                                                        samples: block, mixer: mixers[t], rest: rests[t],
                                                                        scratch: scratch[t]) else { continue }
                        for (i, r) in changed.enumerated() {
                            tally.record(set: ui, row: r, label: Int(batchLabels[r]), logits: logits.data + i * k, wasRight: baseRight[r])
                        }
                    }
                }
            }
        }
        return tally.result()
    }

    /// The value each unit's constant channel has after the channel-wise layers: the layers
    /// themselves (copies) run on one sample whose channel u is the constant values[u] everywhere,
    /// so the values are those of running them on the ablated activations. `shape` is L's
    /// output for one sample ([1, C, H, W] or [1, F]). Nil when a channel's plane does not stay
    /// one value (a pool whose border windows differ).
    static func constantsThrough(_ chain: [Layer], shape: [Int], values: [Float]) throws(TensorError) -> [Float]? {
        let c = shape[1]
        var h = try Tensor(uninitialized: shape.count == 4 ? [1, shape[2], shape[3], c] : [1, c])
        for q in 0..<(h.count / c) { for u in 0..<c { h.data[q * c + u] = values[u] } }
        for l in chain { h = try l.copy().forward(h, training: false) }
        // Channel u at each position: NHWC, or its block of features after a Flatten.
        let (unitStride, posStride) = h.rank == 4 ? (1, c) : (h.count / c, 1)
        let per = h.count / c
        for u in 0..<c where per > 1 {
            let first = h.data[u * unitStride]
            for q in 1..<per where h.data[u * unitStride + q * posStride].bitPattern != first.bitPattern { return nil }
        }
        return (0..<c).map { h.data[$0 * unitStride] }
    }

    /// Per-thread buffers of a sweep, reused for every unit and batch.
    final class Scratch {
        var delta: Tensor?
        var change: Tensor?
        var entry: Tensor?
        var changed: [Int] = []
    }

    /// Logits with a set of units of L replaced by constants, for those of `samples` whose
    /// values at the mixer's input change (their rows, in order, are returned with the logits;
    /// nil when none does). From the base activations xm (the mixer's input; channel u is a
    /// block of `per` values per sample) and z (the mixer's output); `values` are the constants
    /// after the chain. The mixer's change D (each unit's delta times the weights that read its
    /// channel) is added to z in one pass with the ReLU and max-pool that follow it, when they do.
    static func ablatedLogits(units: [Int], values: [Float], per: Int, xm: Tensor, z: Tensor, samples: Range<Int>, mixer: Layer?,
                              rest: [Layer], scratch: Scratch) throws(TensorError) -> (Tensor, [Int])? {
        let n = xm.shape[0], s = units.count
        guard s > 0 else { return nil }
        // Changed samples' deltas, packed to the front: delta [nc, s * per], unit j's at column j * per.
        let width = s * per
        let delta = try Buffers.reuse(scratch.delta, [samples.count, width])
        scratch.delta = delta
        scratch.changed.removeAll(keepingCapacity: true)
        let stride = xm.rank == 4 ? xm.shape[3] : 1
        let f = xm.rank == 4 ? 0 : xm.shape[1]
        for r in samples {
            let dst = delta.data + scratch.changed.count * width
            let row = xm.data + (xm.rank == 4 ? r * per * stride : r * f)
            var any = false
            for (j, u) in units.enumerated() {
                let src = row + (xm.rank == 4 ? u : u * per), v = values[j]
                for q in 0..<per {
                    let d = v - src[q * stride]
                    dst[j * per + q] = d
                    if d != 0 || d != d { any = true }
                }
            }
            if any { scratch.changed.append(r) }
        }
        let nc = scratch.changed.count
        guard nc > 0 else { return nil }
        let rows = scratch.changed
        let zPer = z.count / n
        let entry: Tensor
        var consumed = 0
        switch mixer {
        case let mix as ChannelMixer:
            // D = the sum over units of each one's change through the mixer (1/C of its cost).
            let d = try Buffers.reuse(scratch.change, [nc] + Array(z.shape.dropFirst()))
            scratch.change = d
            let (h, w) = xm.rank == 4 ? (xm.shape[1], xm.shape[2]) : (1, per)
            for (j, u) in units.enumerated() {
                try mix.addChannelChange(delta.data + j * per, channel: u, per: per, rowStride: width, images: nc, h: h, w: w,
                                         into: d, accumulate: j > 0)
            }
            (entry, consumed) = try addChange(z, d, rows: rows, rest: rest, scratch: scratch)
        default:
            // No mixing layer: L's channels reach the output directly.
            let e = try Buffers.reuse(scratch.entry, [nc] + Array(z.shape.dropFirst()))
            scratch.entry = e
            for (i, r) in rows.enumerated() {
                (e.data + i * zPer).update(from: z.data + r * zPer, count: zPer)
                for (j, u) in units.enumerated() {
                    for q in 0..<per { e.data[i * zPer + u * per + q] += delta.data[i * width + j * per + q] }
                }
            }
            entry = e
        }
        var h = entry
        for l in rest[consumed...] { h = try l.forward(h, training: false) }
        return (h, rows)
    }

    /// z (rows `rows`) + d, through the ReLU and max-pool that come first in `rest` (in their
    /// order; the same float operations as those layers) and a Flatten after the pool, in one
    /// pass. Returns the result and how many layers of `rest` it covers.
    static func addChange(_ z: Tensor, _ d: Tensor, rows: [Int], rest: [Layer], scratch: Scratch) throws(TensorError) -> (Tensor, Int) {
        let nc = rows.count
        let zPer = z.count / z.shape[0]
        let reluFirst = rest.first is ReLU
        let poolAt = reluFirst ? 1 : 0
        let pool = z.rank == 4 && rest.count > poolAt ? (rest[poolAt] as? MaxPool2d).flatMap { $0.padding == 0 && $0.floorMode ? $0 : nil } : nil
        let reluAfter = pool != nil && rest.count > poolAt + 1 && rest[poolAt + 1] is ReLU && !reluFirst
        @inline(__always) func relu(_ x: SIMD8<Float>) -> SIMD8<Float> {
            x.replacing(with: 0, where: .!(x .> 0))
        }
        guard let pool else {
            // Elementwise: e = z + d (then ReLU).
            let e = try Buffers.reuse(scratch.entry, d.shape)
            scratch.entry = e
            for (i, r) in rows.enumerated() {
                let zs = z.data + r * zPer, ds = d.data + i * zPer, es = e.data + i * zPer
                if reluFirst { for j in 0..<zPer { let x = zs[j] + ds[j]; es[j] = x > 0 ? x : 0 } }
                else { for j in 0..<zPer { es[j] = zs[j] + ds[j] } }
            }
            return (e, reluFirst ? 1 : 0)
        }
        let (h, w, c) = (z.shape[1], z.shape[2], z.shape[3])
        let s = try pool.outputShape([nc, c, h, w])
        let (ho, wo) = (s[2], s[3])
        // A Flatten next is done here too: written in its (c, h, w) order.
        var covered = poolAt + 1 + (reluAfter ? 1 : 0)
        let flat = rest.count > covered && rest[covered] is Flatten
        if flat { covered += 1 }
        let e = try Buffers.reuse(scratch.entry, flat ? [nc, c * ho * wo] : [nc, ho, wo, c])
        scratch.entry = e
        let (k, st) = (pool.k, pool.stride)
        // Where channel ch of position p goes, and the pooled rows stored at o + channel stride.
        let (pos, chStride) = flat ? (1, ho * wo) : (c, 1)
        for (i, r) in rows.enumerated() {
            let zs = z.data + r * zPer, ds = d.data + i * zPer, es = e.data + i * ho * wo * c
            for oh in 0..<ho { for ow in 0..<wo {
                let o = es + (oh * wo + ow) * pos
                var ch = 0
                while ch < c {
                    // Eight channels at a time (the last group may overlap the one before it).
                    let cc = min(ch, c - 8)
                    if c >= 8 {
                        @inline(__always) func at(_ kh: Int, _ kw: Int) -> SIMD8<Float> {
                            let q = ((oh * st + kh) * w + ow * st + kw) * c + cc
                            let x = UnsafeRawPointer(zs + q).loadUnaligned(as: SIMD8<Float>.self)
                                + UnsafeRawPointer(ds + q).loadUnaligned(as: SIMD8<Float>.self)
                            return reluFirst ? relu(x) : x
                        }
                        var m = at(0, 0)
                        for kh in 0..<k { for kw in 0..<k where kh > 0 || kw > 0 {
                            let x = at(kh, kw)
                            m.replace(with: x, where: (x .> m) .| ((x .!= x) .& (m .== m)))
                        } }
                        if reluAfter { m = relu(m) }
                        if flat { for l in 0..<8 { o[(cc + l) * chStride] = m[l] } }
                        else { UnsafeMutableRawPointer(o + cc).storeBytes(of: m, as: SIMD8<Float>.self) }
                        ch = cc + 8
                    } else {
                        @inline(__always) func at(_ kh: Int, _ kw: Int) -> Float {
                            let q = ((oh * st + kh) * w + ow * st + kw) * c + ch
                            let x = zs[q] + ds[q]
                            return reluFirst ? (x > 0 ? x : 0) : x
                        }
                        var m = at(0, 0)
                        for kh in 0..<k { for kw in 0..<k where kh > 0 || kw > 0 {
                            let x = at(kh, kw)
                            if x > m || (x != x && m == m) { m = x }
                        } }
                        o[ch * chStride] = reluAfter ? (m > 0 ? m : 0) : m
                        ch += 1
                    }
                }
            } }
        }
        return (e, covered)
    }

    /// One evaluation per set (for models the fast path does not cover, e.g. with a Lambda).
    static func bruteForce(_ model: Sequential, _ data: Dataset, layer L: Int, sets: [[Int]], values: [Float],
                           perSample: Bool = false) throws(TensorError) -> SetCounts {
        var rights = [Bool](repeating: false, count: perSample ? data.count : 0)
        // With answers, the base comes from the same plain forward pass as the ablated runs, so
        // that a sample's turn is the ablation's alone.
        let base = perSample ? try evaluate(model, data, lesions: [:], answer: { rights[$0] = $1 }) : try model.evaluate(data)
        let k = data.numClasses
        var totals = [Int](repeating: 0, count: k)
        for c in 0..<k { totals[c] = base.confusion[(c * k)..<((c + 1) * k)].reduce(0, +) }
        var correct: [[Int]] = []
        var flipped: [[Int32]] = []
        for set in sets {
            var turned: [Int32] = []
            let e = set.isEmpty ? base : try evaluate(model, data, lesions: [L: set], mode: .values(values),
                                                      answer: perSample ? { if rights[$0] != $1 { turned.append(Int32($0)) } } : nil)
            correct.append((0..<k).map { e.confusion[$0 * k + $0] })
            flipped.append(turned)
        }
        return SetCounts(base: base, correct: correct, totals: totals,
                         samples: perSample ? SampleAnswers(rights: rights, flipped: flipped) : nil)
    }
}
