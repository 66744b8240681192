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
        var totals = [Int](repeating: 0, count: k)
        try data.forEachBatch(batch) { xb, range, labels throws(TensorError) in
            let (lo, hi) = (range.lowerBound, range.upperBound)
            for r in 0..<(hi - lo) { totals[Int(labels[r])] += 1 }
            // Base values at the mixer's input (the model's own forward through the channel-wise
            // layers, so its plan may crop what they never read) and output, and the base logits.
            let xm = try model.forwardInternal(xb, through: m - 1, training: false).copy()
            let z = try mixerCopy.map { l throws(TensorError) in try l.forward(xm, training: false).copy() } ?? xm
            let per = xm.rank == 4 ? xm.shape[1] * xm.shape[2] : xm.shape[1] / nUnits
            var h = z
            for l in rests[0] { h = try l.forward(h, training: false) }
            baseLoss += Loss.softmaxCrossEntropy(h, labels: labels, grad: nil).loss
            for r in 0..<(hi - lo) { baseConfusion[Int(labels[r]) * k + Tensor.argExtreme(h.data + r * k, k, 1, largest: true)] += 1 }
            // Units in fixed blocks per thread.
            nonisolated(unsafe) let batchLabels = labels
            Threads.parallelParts { t in
                guard t < threads else { return }
                let (ulo, uhi) = Threads.range(t, of: units.count, parts: threads)
                do throws(TensorError) {
                    for ui in ulo..<uhi {
                        let logits = try ablatedLogits(unit: units[ui], v: constants[ui], per: per, xm: xm, z: z, mixer: mixerCopy,
                                                       rest: rests[t], scratch: scratch[t])
                        for r in 0..<(hi - lo) where Tensor.argExtreme(logits.data + r * k, k, 1, largest: true) == Int(batchLabels[r]) {
                            counts[ui * k + Int(batchLabels[r])] += 1
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
        var z: Tensor?
        var cols: Tensor?
        var kernel: Tensor?
    }

    /// Logits with one unit of L replaced by a constant, from the base activations xm (the
    /// mixer's input; channel u is a block of `per` values per sample) and z (the mixer's
    /// output); `v` is the constant after the chain.
    static func ablatedLogits(unit u: Int, v: Float, per: Int, xm: Tensor, z: Tensor, mixer: Layer?, rest: [Layer],
                              scratch: Scratch) throws(TensorError) -> Tensor {
        let n = xm.shape[0]
        let delta = try Buffers.reuse(scratch.delta, [n, per])
        scratch.delta = delta
        if xm.rank == 4 {
            let c = xm.shape[3]
            for i in 0..<(n * per) { delta.data[i] = v - xm.data[i * c + u] }
        } else {
            let f = xm.shape[1]
            for r in 0..<n { for j in 0..<per { delta.data[r * per + j] = v - xm.data[r * f + u * per + j] } }
        }
        let zz = try Buffers.reuse(scratch.z, z.shape)
        scratch.z = zz
        zz.data.update(from: z.data, count: z.count)
        switch mixer {
        case let lin as Linear:
            // z += delta [n, per] x W[:, u*per ..< (u+1)*per]^T
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(lin.nout), Int32(per),
                        1, delta.data, Int32(per), lin.weight.value.data + u * per, Int32(lin.nin), 1, zz.data, Int32(lin.nout))
        case let conv as Conv2d:
            try addSingleChannelConvolution(conv, channel: u, delta: delta, h: xm.shape[1], w: xm.shape[2], into: zz, scratch: scratch)
        default:
            // No mixing layer: L's channels reach the output directly.
            let f = zz.shape[1]
            for r in 0..<n { for j in 0..<per { zz.data[r * f + u * per + j] += delta.data[r * per + j] } }
        }
        var h = zz
        for l in rest { h = try l.forward(h, training: false) }
        return h
    }

    /// z [n, ho, wo, cout] += conv(delta [n, h, w] as one input channel, the kernel's slice for that channel).
    static func addSingleChannelConvolution(_ conv: Conv2d, channel u: Int, delta: Tensor, h: Int, w: Int, into z: Tensor,
                                            scratch: Scratch) throws(TensorError) {
        let (k, s, p, cout, cin) = (conv.k, conv.stride, conv.padding, conv.cout, conv.cin)
        let (n, ho, wo) = (z.shape[0], z.shape[1], z.shape[2])
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
                    1, cols.data, Int32(k * k), wk.data, Int32(cout), 1, z.data, Int32(cout))
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
