// Sweeps: each unit of a layer ablated alone, exactly and without one forward pass per unit.
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

public struct SweepResult {
    public let layer: Int
    /// 0-based units, in the order swept.
    public let units: [Int]
    public let base: Evaluation
    /// correct[u][k]: samples of class k still classified right with units[u] ablated.
    public let correct: [[Int]]
    /// Samples of each class.
    public let classTotals: [Int]

    public var accuracy: [Double] {
        let n = Double(classTotals.reduce(0, +))
        return correct.map { Double($0.reduce(0, +)) / n }
    }

    /// perClass[u][k]: accuracy on class k with units[u] ablated (NaN for a class with no samples).
    public var perClass: [[Double]] {
        correct.map { row in row.enumerated().map { k, c in classTotals[k] > 0 ? Double(c) / Double(classTotals[k]) : .nan } }
    }
}

extension Ablation {
    /// Whether a layer maps each channel on its own in evaluation.
    static func channelWise(_ l: Layer) -> Bool {
        l is ReLU || l is MaxPool2d || l is AvgPool2d || l is GlobalAvgPool || l is BatchNorm || l is Dropout || l is Flatten
    }

    public static func sweep(_ model: Sequential, _ data: Dataset, layer L: Int, units requested: [Int]? = nil,
                             mode: AblationMode = .zero, batch: Int = 500) throws(TensorError) -> SweepResult {
        guard L >= 0 && L < model.layers.count else { throw TensorError(.index, "layer \(L) out of range") }
        try model.checkFits(data)
        let nUnits = try unitCount(model, data, layer: L)
        let units = requested ?? Array(0..<nUnits)
        for u in units where u < 0 || u >= nUnits {
            throw TensorError(.index, "unit \(u + 1) out of range for \(model.layers[L].name), which has \(nUnits) units")
        }
        guard !units.isEmpty else { throw TensorError(.value, "no units to sweep") }
        let layers = model.layers
        // The channel-wise layers after L; after a Flatten of positions a channel is a block of
        // features, and only layers that treat features alike (ReLU, Dropout) keep it whole.
        var m = L + 1
        var flattened = false
        while m < layers.count && channelWise(layers[m]) {
            if flattened && !(layers[m] is ReLU || layers[m] is Dropout) { break }
            if layers[m] is Flatten { flattened = true }
            m += 1
        }
        let hasLambda = layers[(L + 1)...].contains { $0 is Lambda }
        let mixer = m < layers.count ? layers[m] : nil
        guard !hasLambda, mixer == nil || mixer is Conv2d || mixer is Linear else {
            return try bruteForceSweep(model, data, layer: L, units: units, mode: mode)
        }
        let means: [Float]
        switch mode {
        case .zero: means = []
        case .mean: means = try channelMeans(model, data, layer: L).map(Float.init)
        case .values(let v):
            guard v.count == nUnits else {
                throw TensorError(.shape, "the mode gives \(v.count) values, but \(model.layers[L].name) has \(nUnits) units")
            }
            means = v
        }
        let k = data.numClasses
        let threads = min(Threads.count, units.count)
        // Per thread: its own copies of the layers after the mixer (they keep buffers).
        var rests: [[Layer]] = []
        for _ in 0..<threads {
            var r: [Layer] = []
            if m + 1 < layers.count { for l in layers[(m + 1)...] { r.append(try l.copy()) } }
            rests.append(r)
        }
        let mixerCopy = try mixer?.copy()
        // The mixer computes only the rows and columns the layers after it read (exact).
        if let c = mixerCopy as? Conv2d { c.crop = model.plannedCrop(of: m, sample: data.sampleShape) }
        let scratch = (0..<threads).map { _ in Scratch() }
        // Each unit's ablated value after the channel-wise layers (a constant per unit).
        let shapeL = try model.shapes(batch: 1, sample: data.sampleShape)[L] ?? []
        let (ah, aw) = shapeL.count == 4 ? (shapeL[2], shapeL[3]) : (1, 1)
        let chain = Array(layers[(L + 1)..<m])
        let constants = units.map { u in constantThrough(chain, unit: u, means.isEmpty ? 0 : means[u], h: ah, w: aw) }
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: units.count * k)
        counts.initialize(repeating: 0, count: units.count * k)
        defer { counts.deallocate() }
        let errors = UnsafeMutablePointer<TensorError?>.allocate(capacity: threads)
        errors.initialize(repeating: nil, count: threads)
        defer { errors.deinitialize(count: threads); errors.deallocate() }
        var baseConfusion = [Int](repeating: 0, count: k * k)
        var baseLoss = 0.0
        // Each batch's activations at the mixer's input and output, kept in buffers of the sweep's.
        var xmKept: Tensor?, zKept: Tensor?
        func kept(_ t: Tensor, in buffer: Tensor?) throws(TensorError) -> Tensor {
            let b = try Buffers.reuse(buffer, t.shape)
            b.data.update(from: t.data, count: t.count)
            return b
        }
        var totals = [Int](repeating: 0, count: k)
        try data.forEachBatch(batch) { xb, range, labels throws(TensorError) in
            let (lo, hi) = (range.lowerBound, range.upperBound)
            for r in 0..<(hi - lo) { totals[Int(labels[r])] += 1 }
            // Base values at the mixer's input (the model's own forward through the channel-wise
            // layers, so its plan may crop what they never read) and output, and the base logits.
            xmKept = try kept(model.forwardInternal(xb, through: m - 1, training: false), in: xmKept)
            let xm = xmKept!
            if let mixerCopy { zKept = try kept(mixerCopy.forward(xm, training: false), in: zKept) }
            let z = mixerCopy == nil ? xm : zKept!
            let per = xm.rank == 4 ? xm.shape[1] * xm.shape[2] : xm.shape[1] / nUnits
            var h = z
            for l in rests[0] { h = try l.forward(h, training: false) }
            baseLoss += Loss.softmaxCrossEntropy(h, labels: labels, grad: nil).loss
            let nb = hi - lo
            var baseRight = [Bool](repeating: false, count: nb)
            var baseByClass = [Int](repeating: 0, count: k)
            for r in 0..<nb {
                let guess = Tensor.argExtreme(h.data + r * k, k, 1, largest: true)
                baseConfusion[Int(labels[r]) * k + guess] += 1
                if guess == Int(labels[r]) { baseRight[r] = true; baseByClass[guess] += 1 }
            }
            // Units in fixed blocks per thread. A sample whose values at the mixer's input do
            // not change keeps its base prediction; only the others run through the layers after.
            // Samples go in blocks whose mixer outputs fill about 2 MB (L2), every unit of the
            // thread's over one block before the next.
            nonisolated(unsafe) let batchLabels = labels
            let blockRows = max(32, (1 << 19) / max(1, z.count / nb))
            for ui in 0..<units.count { for c in 0..<k { counts[ui * k + c] += baseByClass[c] } }
            Threads.parallelParts { t in
                guard t < threads else { return }
                let (ulo, uhi) = Threads.range(t, of: units.count)
                do throws(TensorError) {
                    for r0 in stride(from: 0, to: nb, by: blockRows) {
                        let block = r0..<min(nb, r0 + blockRows)
                        for ui in ulo..<uhi {
                            guard let (logits, changed) = try ablatedLogits(unit: units[ui], v: constants[ui], per: per, xm: xm, z: z,
                                                                            samples: block, mixer: mixerCopy, rest: rests[t],
                                                                            scratch: scratch[t]) else { continue }
                            let row = counts + ui * k
                            for (i, r) in changed.enumerated() {
                                let label = Int(batchLabels[r])
                                let right = Tensor.argExtreme(logits.data + i * k, k, 1, largest: true) == label
                                if right != baseRight[r] { row[label] += right ? 1 : -1 }
                            }
                        }
                    }
                } catch {
                    errors[t] = error
                }
            }
            for t in 0..<threads { if let e = errors[t] { throw e } }
        }
        let correct = (0..<units.count).map { ui in (0..<k).map { counts[ui * k + $0] } }
        return SweepResult(layer: L, units: units, base: Evaluation.from(confusion: baseConfusion, classes: k, lossSum: baseLoss),
                           correct: correct, classTotals: totals)
    }

    /// The value a constant channel `v` has after the channel-wise layers: each layer maps a
    /// constant plane to a constant, computed here with the layers' own float operations in
    /// their order (so it equals what running them on the plane gives).
    static func constantThrough(_ chain: [Layer], unit u: Int, _ v: Float, h: Int, w: Int) -> Float {
        var x = v
        var (h, w) = (h, w)
        for l in chain {
            switch l {
            case is ReLU: x = x > 0 ? x : 0
            case let p as AvgPool2d:
                var s: Float = 0
                for _ in 0..<(p.k * p.k) { s += x }
                x = s * (1 / Float(p.k * p.k))
                (h, w) = ((h - p.k) / p.stride + 1, (w - p.k) / p.stride + 1)
            case let p as MaxPool2d: (h, w) = ((h - p.k) / p.stride + 1, (w - p.k) / p.stride + 1)
            case is GlobalAvgPool:
                var s: Float = 0
                for _ in 0..<(h * w) { s += x }
                x = s / Float(h * w)
                (h, w) = (1, 1)
            case let bn as BatchNorm:
                let inv = 1 / (bn.runningVar.data[u] + bn.eps).squareRoot()
                x = (x * inv + (-bn.runningMean.data[u] * inv)) * bn.weight.value.data[u] + bn.bias.value.data[u]
            default: break   // Dropout in evaluation, Flatten
            }
        }
        return x
    }

    /// Per-thread buffers of a sweep, reused for every unit and batch.
    final class Scratch {
        var delta: Tensor?
        var change: Tensor?
        var entry: Tensor?
        var cols: Tensor?
        var kernel: Tensor?
        var changed: [Int] = []
    }

    /// Logits with one unit of L replaced by a constant, for those of `samples` whose values at
    /// the mixer's input change (their rows, in order, are returned with the logits; nil when
    /// none does). From the base activations xm (the mixer's input; channel u is a block of `per`
    /// values per sample) and z (the mixer's output); `v` is the constant after the chain.
    /// The mixer's change D (delta times the weights that read channel u) is added to z in one
    /// pass with the ReLU and max-pool that follow it, when they do.
    static func ablatedLogits(unit u: Int, v: Float, per: Int, xm: Tensor, z: Tensor, samples: Range<Int>, mixer: Layer?,
                              rest: [Layer], scratch: Scratch) throws(TensorError) -> (Tensor, [Int])? {
        let n = xm.shape[0]
        let delta = try Buffers.reuse(scratch.delta, [samples.count, per])
        scratch.delta = delta
        // Changed samples' deltas, packed to the front.
        scratch.changed.removeAll(keepingCapacity: true)
        let stride = xm.rank == 4 ? xm.shape[3] : 1
        let first = xm.rank == 4 ? u : u * per
        let f = xm.rank == 4 ? 0 : xm.shape[1]
        for r in samples {
            let dst = delta.data + scratch.changed.count * per
            let src = xm.data + (xm.rank == 4 ? r * per * stride : r * f) + first
            var any = false
            for j in 0..<per {
                let d = v - src[j * stride]
                dst[j] = d
                if d != 0 || d != d { any = true }
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
        case let lin as Linear:
            // D [nc, nout] = delta [nc, per] x W[:, u*per ..< (u+1)*per]^T
            let d = try Buffers.reuse(scratch.change, [nc, lin.nout])
            scratch.change = d
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(nc), Int32(lin.nout), Int32(per),
                        1, delta.data, Int32(per), lin.weight.value.data + u * per, Int32(lin.nin), 0, d.data, Int32(lin.nout))
            (entry, consumed) = try addChange(z, d, rows: rows, rest: rest, scratch: scratch)
        case let conv as Conv2d:
            let d = try Buffers.reuse(scratch.change, [nc] + Array(z.shape.dropFirst()))
            scratch.change = d
            try singleChannelConvolution(conv, channel: u, delta: delta, images: nc, h: xm.shape[1], w: xm.shape[2], into: d, scratch: scratch)
            (entry, consumed) = try addChange(z, d, rows: rows, rest: rest, scratch: scratch)
        default:
            // No mixing layer: L's channels reach the output directly.
            let e = try Buffers.reuse(scratch.entry, [nc] + Array(z.shape.dropFirst()))
            scratch.entry = e
            for (i, r) in rows.enumerated() {
                (e.data + i * zPer).update(from: z.data + r * zPer, count: zPer)
                for j in 0..<per { e.data[i * zPer + u * per + j] += delta.data[i * per + j] }
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
        let pool = z.rank == 4 && rest.count > poolAt ? rest[poolAt] as? MaxPool2d : nil
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

    /// d [images, ho, wo, cout] = conv(delta [images, h, w] as one input channel, the kernel's
    /// slice for that channel), without bias.
    static func singleChannelConvolution(_ conv: Conv2d, channel u: Int, delta: Tensor, images n: Int, h: Int, w: Int,
                                         into d: Tensor, scratch: Scratch) throws(TensorError) {
        let (k, s, p, cout, cin) = (conv.k, conv.stride, conv.padding, conv.cout, conv.cin)
        let (ho, wo) = (d.shape[1], d.shape[2])
        // Kernel slice packed [k*k, cout].
        let wk = try Buffers.reuse(scratch.kernel, [k * k, cout])
        scratch.kernel = wk
        let wsrc = conv.weight.value.data
        for co in 0..<cout { for t in 0..<(k * k) { wk.data[t * cout + co] = wsrc[(co * cin + u) * k * k + t] } }
        let cols = try Buffers.reuse(scratch.cols, [n * ho * wo, k * k])
        scratch.cols = cols
        cols.fill(0)
        for b in 0..<n {
            for oh in 0..<ho { for ow in 0..<wo {
                let row = cols.data + ((b * ho + oh) * wo + ow) * k * k
                for kh in 0..<k {
                    let ih = oh * s - p + kh
                    if ih < 0 || ih >= h { continue }
                    for kw in 0..<k {
                        let iw = ow * s - p + kw
                        if iw < 0 || iw >= w { continue }
                        row[kh * k + kw] = delta.data[(b * h + ih) * w + iw]
                    }
                }
            } }
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n * ho * wo), Int32(cout), Int32(k * k),
                    1, cols.data, Int32(k * k), wk.data, Int32(cout), 0, d.data, Int32(cout))
    }

    /// One evaluation per unit (for models the fast path does not cover, e.g. with a Lambda).
    static func bruteForceSweep(_ model: Sequential, _ data: Dataset, layer L: Int, units: [Int], mode: AblationMode) throws(TensorError) -> SweepResult {
        let base = try model.evaluate(data)
        let k = data.numClasses
        var totals = [Int](repeating: 0, count: k)
        for c in 0..<k { totals[c] = base.confusion[(c * k)..<((c + 1) * k)].reduce(0, +) }
        var correct: [[Int]] = []
        for u in units {
            let e = try evaluate(model, data, lesions: [L: [u]], mode: mode)
            correct.append((0..<k).map { e.confusion[$0 * k + $0] })
        }
        return SweepResult(layer: L, units: units, base: base, correct: correct, classTotals: totals)
    }
}
