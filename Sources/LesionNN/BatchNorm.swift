// Batch normalisation over the channel (last, in NHWC) dimension, as PyTorch's BatchNorm1d/2d:
// training uses batch statistics (biased variance to normalise, unbiased in the running
// average, momentum 0.1); evaluation uses the running statistics.
import Kernels
import LesionTensor

public final class BatchNorm: InPlaceLayer {
    public var name = ""
    public let kind: String
    public let namePrefix = "bn"
    public let channels: Int
    public let spatial: Bool            // BatchNorm2d (input {N,C,H,W}) or BatchNorm1d ({N,C})
    public var settings: [(String, LayerSetting)] { [("num_features", .int(channels)), ("num_batches_tracked", .int(batchesTracked))] }
    public var summary: String { "\(kind)(\(channels))" }
    public let eps: Float = 1e-5
    public let momentum: Float = 0.1
    public let weight: Parameter
    public let bias: Parameter
    public var runningMean: Tensor
    public var runningVar: Tensor
    /// PyTorch's num_batches_tracked: training forwards seen.
    public var batchesTracked: Int = 0
    public var parameters: [Parameter] { [weight, bias] }
    public var buffers: [(String, Tensor)] { [("running_mean", runningMean), ("running_var", runningVar)] }

    var xhat: Tensor?
    var output: Tensor?
    var gradInput: Tensor?
    var invStd: [Float] = []
    var usedBatchStats = false
    /// Training with the ReLU after it fused in (Sequential sets it for one forward): the output
    /// is the ReLU's, and backward takes the ReLU's gradient, masked by that output.
    var reluAfter = false
    private var fusedReLU = false

    public init(_ channels: Int, spatial: Bool) throws(TensorError) {
        guard channels >= 1 else { throw TensorError(.value, "BatchNorm needs a positive channel count, got \(channels)") }
        self.channels = channels
        self.spatial = spatial
        kind = spatial ? "BatchNorm2d" : "BatchNorm1d"
        weight = try Parameter("weight", Tensor(repeating: 1, shape: [channels]))
        bias = try Parameter("bias", Tensor(zeros: [channels]))
        runningMean = try Tensor(zeros: [channels])
        runningVar = try Tensor(repeating: 1, shape: [channels])
    }

    public func reset(_ stream: RandomStream) {
        weight.value.fill(1)
        bias.value.fill(0)
        runningMean.fill(0)
        runningVar.fill(1)
        batchesTracked = 0
    }

    public func outputShape(_ s: [Int]) throws(TensorError) -> [Int] {
        let ok = spatial ? (s.count == 4 && s[1] == channels) : (s.count == 2 && s[1] == channels)
        guard ok else {
            throw TensorError(.shape, "expected input \(spatial ? "{N,\(channels),H,W}" : "{N,\(channels)}"), got \(Tensor.describe(s))")
        }
        return s
    }

    public func copy() throws(TensorError) -> Layer {
        let c = try BatchNorm(channels, spatial: spatial)
        c.name = name
        c.weight.value = try weight.value.copy()
        c.bias.value = try bias.value.copy()
        c.runningMean = try runningMean.copy()
        c.runningVar = try runningVar.copy()
        c.batchesTracked = batchesTracked
        return c
    }

    /// Whether the passes below run as Kernels' loops (the same arithmetic, vectorised by hand).
    var usesKernels: Bool { kernelsAvailable && channels % 8 == 0 && !BatchNorm.plainLoops }
    /// Rows of a part of `channelSums`.
    static let rowsPerPart = 4096
    /// Tests set this to compare the loops with the kernels.
    nonisolated(unsafe) public static var plainLoops = false

    /// Per-channel sums over rows of a [rows, C] buffer, split over threads in a fixed way:
    /// sum of a (when b is nil), of (a - shift)^2 (with `shift`), or of a * b.
    /// With `mask`, a counts only where the mask is above 0 (not with `shift`).
    func channelSums(rows: Int, _ a: UnsafeMutablePointer<Float>, times b: UnsafeMutablePointer<Float>? = nil,
                     squaredAround shift: [Double]? = nil, mask: UnsafeMutablePointer<Float>? = nil) -> [Double] {
        channelSums(rows: rows, a, times: b, squaredAround: shift, mask: mask, plainToo: false).sums
    }

    /// The same; with b and `plainToo`, also the sums of (masked) a, as without b, in the same
    /// pass and the same bits (backward's two sums over dy).
    func channelSums(rows: Int, _ a: UnsafeMutablePointer<Float>, times b: UnsafeMutablePointer<Float>?,
                     squaredAround shift: [Double]?, mask: UnsafeMutablePointer<Float>?, plainToo: Bool) -> (sums: [Double], plain: [Double]) {
        // Parts of a fixed number of rows, each summed on its own, the parts then added in
        // order: the same bits whatever the thread count.
        let c = channels, parts = max(1, (rows + BatchNorm.rowsPerPart - 1) / BatchNorm.rowsPerPart)
        let both = plainToo && b != nil
        let part = UnsafeMutablePointer<Double>.allocate(capacity: 2 * parts * c)
        part.initialize(repeating: 0, count: 2 * parts * c)
        defer { part.deallocate() }
        let part2 = part + parts * c
        let squared = shift != nil, fast = usesKernels
        let mu = shift.map { $0.map(Float.init) } ?? [Float](repeating: 0, count: c)
        mu.withUnsafeBufferPointer { mb in
            nonisolated(unsafe) let m = mb.baseAddress!
            Threads.forEachPart(parts) { t, _ in
                let (lo, hi) = (t * BatchNorm.rowsPerPart, min(rows, (t + 1) * BatchNorm.rowsPerPart))
                let acc = part + t * c, acc2 = part2 + t * c
                if fast {
                    return lesion_channel_sums(a + lo * c, b.map { $0 + lo * c }, squared ? m : nil, mask.map { $0 + lo * c }, hi - lo, Int32(c),
                                               acc, both ? acc2 : nil)
                }
                // Accumulate blocks of rows in Float, then add each block to the Double total.
                var block = [Float](repeating: 0, count: 2 * c)
                block.withUnsafeMutableBufferPointer { bp in
                    let blk = bp.baseAddress!, blk2 = blk + c
                    var r = lo
                    while r < hi {
                        let end = min(hi, r + 64)
                        blk.update(repeating: 0, count: 2 * c)
                        if squared {
                            for rr in r..<end { let x = a + rr * c; for ch in 0..<c { let d = x[ch] - m[ch]; blk[ch] += d * d } }
                        } else if let b {
                            for rr in r..<end {
                                let x = a + rr * c, y = b + rr * c
                                for ch in 0..<c {
                                    let v = mask.map { $0[rr * c + ch] > 0 ? x[ch] : 0 } ?? x[ch]
                                    blk[ch] += v * y[ch]
                                    if both { blk2[ch] += v }
                                }
                            }
                        } else {
                            for rr in r..<end {
                                let x = a + rr * c
                                if let mask { let o = mask + rr * c; for ch in 0..<c { blk[ch] += o[ch] > 0 ? x[ch] : 0 } }
                                else { for ch in 0..<c { blk[ch] += x[ch] } }
                            }
                        }
                        for ch in 0..<c { acc[ch] += Double(blk[ch]) }
                        if both { for ch in 0..<c { acc2[ch] += Double(blk2[ch]) } }
                        r = end
                    }
                }
            }
        }
        var out = [Double](repeating: 0, count: c), out2 = out
        for t in 0..<parts { for ch in 0..<c { out[ch] += part[t * c + ch]; out2[ch] += part2[t * c + ch] } }
        return (out, out2)
    }

    public func forward(_ x: Tensor, training: Bool) throws(TensorError) -> Tensor {
        let y = try Buffers.reuse(output, x.shape)
        output = y
        try forward(x, training: training, into: y)
        return y
    }

    /// Evaluation with the running statistics, written over x.
    public func forwardInPlace(_ x: Tensor) throws(TensorError) {
        try forward(x, training: false, into: x)
    }

    public func epilogue(channels c: Int) -> Epilogue? {
        guard c == channels else { return nil }
        usedBatchStats = false
        // The same expressions as `forward` in evaluation, so results agree bit for bit.
        var scale = [Float](repeating: 0, count: c), shift = [Float](repeating: 0, count: c)
        for ch in 0..<c {
            let inv = 1 / (runningVar.data[ch] + eps).squareRoot()
            scale[ch] = inv
            shift[ch] = -runningMean.data[ch] * inv
        }
        let g = Array(UnsafeBufferPointer(start: weight.value.data, count: c))
        let b = Array(UnsafeBufferPointer(start: bias.value.data, count: c))
        return { p, rows in
            scale.withUnsafeBufferPointer { sc in shift.withUnsafeBufferPointer { sh in
                g.withUnsafeBufferPointer { gp in b.withUnsafeBufferPointer { bp in
                    for r in 0..<rows {
                        let d = p + r * c
                        for ch in 0..<c { d[ch] = (d[ch] * sc[ch] + sh[ch]) * gp[ch] + bp[ch] }
                    }
                } }
            } }
        }
    }

    /// y = the layer of x; y may be x in evaluation (each value is read before it is written).
    private func forward(_ x: Tensor, training: Bool, into y: Tensor) throws(TensorError) {
        _ = try outputShape(Layout.logicalShape(x))
        let c = channels, rows = x.count / c
        usedBatchStats = training
        let relu = training && reluAfter
        fusedReLU = relu
        let xs = x.data
        var shift = [Float](repeating: 0, count: c), scale = [Float](repeating: 0, count: c)
        if training {
            guard rows > 1 else {
                throw TensorError(.shape, "BatchNorm in training needs more than 1 value per channel, got input \(Tensor.describe(Layout.logicalShape(x)))")
            }
            let mean = channelSums(rows: rows, xs).map { $0 / Double(rows) }
            let varSum = channelSums(rows: rows, xs, squaredAround: mean)
            invStd = [Float](repeating: 0, count: c)
            for ch in 0..<c {
                let v = varSum[ch] / Double(rows)
                invStd[ch] = Float(1 / (v + Double(eps)).squareRoot())
                runningMean.data[ch] = (1 - momentum) * runningMean.data[ch] + momentum * Float(mean[ch])
                runningVar.data[ch] = (1 - momentum) * runningVar.data[ch] + momentum * Float(varSum[ch] / Double(rows - 1))
                scale[ch] = invStd[ch]
                shift[ch] = Float(-mean[ch]) * invStd[ch]
            }
            batchesTracked += 1
        } else {
            invStd = (0..<c).map { 1 / (runningVar.data[$0] + eps).squareRoot() }
            for ch in 0..<c {
                scale[ch] = invStd[ch]
                shift[ch] = -runningMean.data[ch] * invStd[ch]
            }
        }
        // xhat = x * scale + shift; y = xhat * gamma + beta (xhat kept for backward).
        let xh: Tensor? = training ? try Buffers.reuse(xhat, x.shape) : nil
        xhat = xh
        let g = weight.value.data, b = bias.value.data, fast = usesKernels
        scale.withUnsafeBufferPointer { sc in shift.withUnsafeBufferPointer { sh in
            nonisolated(unsafe) let scp = sc.baseAddress!, shp = sh.baseAddress!
            Threads.parallelFor(Threads.count) { t in
                let (lo, hi) = Threads.range(t, of: rows)
                if fast {
                    return lesion_bn_apply(xs + lo * c, hi - lo, Int32(c), scp, shp, g, b, xh.map { $0.data + lo * c }, y.data + lo * c,
                                           relu ? 1 : 0)
                }
                if let xh {
                    for r in lo..<hi {
                        let s = xs + r * c, d = y.data + r * c, e = xh.data + r * c
                        for ch in 0..<c {
                            let v = s[ch] * scp[ch] + shp[ch]
                            e[ch] = v
                            let o = v * g[ch] + b[ch]
                            d[ch] = relu ? (o > 0 ? o : 0) : o
                        }
                    }
                } else {
                    for r in lo..<hi {
                        let s = xs + r * c, d = y.data + r * c
                        for ch in 0..<c { d[ch] = (s[ch] * scp[ch] + shp[ch]) * g[ch] + b[ch] }
                    }
                }
            }
        } }
    }

    public func backward(_ dy: Tensor, needInputGrad: Bool) throws(TensorError) -> Tensor? {
        guard usedBatchStats, let xh = xhat, xh.shape == dy.shape else {
            throw TensorError(.value, "\(name): backward without a training forward")
        }
        let c = channels, rows = dy.count / c
        let g = dy.data, xd = xh.data, fast = usesKernels
        // Fused: dy is the ReLU's output gradient, masked here by the ReLU's output.
        var mask: UnsafeMutablePointer<Float>?
        if fusedReLU {
            guard let y = output, y.shape == dy.shape else { throw TensorError(.value, "\(name): backward without a training forward") }
            mask = y.data
        }
        // Both sums over dy in one pass.
        let (dgamma, dbeta) = channelSums(rows: rows, g, times: xd, squaredAround: nil, mask: mask, plainToo: true)
        for ch in 0..<c {
            weight.grad.data[ch] += Float(dgamma[ch])
            bias.grad.data[ch] += Float(dbeta[ch])
        }
        guard needInputGrad else { return nil }
        let dx = try Buffers.reuse(gradInput, dy.shape)
        gradInput = dx
        // dx = gamma * invstd / R * (R * dy - sum(dy) - xhat * sum(dy * xhat))
        let n = Float(rows)
        let k1 = (0..<c).map { weight.value.data[$0] * invStd[$0] / n }
        let mb = dbeta.map { Float($0) }, mg = dgamma.map { Float($0) }
        k1.withUnsafeBufferPointer { k in mb.withUnsafeBufferPointer { sb in mg.withUnsafeBufferPointer { sg in
            nonisolated(unsafe) let kp = k.baseAddress!, sbp = sb.baseAddress!, sgp = sg.baseAddress!, mp = mask
            Threads.parallelFor(Threads.count) { t in
                let (lo, hi) = Threads.range(t, of: rows)
                if fast {
                    return lesion_bn_backward(g + lo * c, mp.map { $0 + lo * c }, xd + lo * c, hi - lo, Int32(c), kp, n, sbp, sgp, dx.data + lo * c)
                }
                for r in lo..<hi {
                    for ch in 0..<c {
                        let i = r * c + ch
                        let d = mp.map { $0[i] > 0 ? g[i] : 0 } ?? g[i]
                        dx.data[i] = kp[ch] * (n * d - sbp[ch] - xd[i] * sgp[ch])
                    }
                }
            }
        } } }
        return dx
    }
}

extension BatchNorm: RebuildableLayer {
    public static var kindName: String { "BatchNorm" }   // built by LayerKinds.make (1d or 2d)
    public static func make(_ s: [String: LayerSetting]) throws(TensorError) -> Layer {
        try BatchNorm(LayerKinds.need(s, "num_features"), spatial: true)
    }
}
