// 2-D convolution: im2col on NHWC chunks of images + sgemm, each thread on its own images;
// Winograd (Winograd.swift, WinogradEval.swift) and a direct loop for few channels (ConvDirect.swift).
import COpenBLAS
#if canImport(Glibc)
import Glibc
#endif
import LesionTensor

public final class Conv2d: Layer {
    public var name = ""
    public let kind = "Conv2d"
    public let namePrefix = "conv"
    public var channelMap: ChannelMap { .mixing }
    public var settings: [(String, LayerSetting)] {
        [("in_channels", .int(cin)), ("out_channels", .int(cout)), ("kernel_size", .int(k)), ("stride", .int(stride)),
         ("padding", .int(padding)), ("groups", .int(groups)), ("bias", .bool(bias != nil))]
    }
    public var summary: String {
        "Conv2d(\(cin), \(cout), \(k), stride=\(stride), padding=\(padding)\(groups > 1 ? ", groups=\(groups)" : "")\(bias == nil ? ", bias=false" : ""))"
    }
    public let cin: Int, cout: Int, k: Int, stride: Int, padding: Int
    /// Input and output channels split into `groups` independent convolutions (PyTorch's groups).
    public let groups: Int
    public let weight: Parameter          // [cout, cin / groups, k, k], PyTorch's layout
    public let bias: Parameter?           // [cout]
    public var parameters: [Parameter] { bias.map { [weight, $0] } ?? [weight] }

    /// Output rows and columns to compute (the leading ones), when the model has found that the
    /// rest are never read (a floor-mode pool after it drops them). Set by Sequential's plan.
    public var crop: (rows: Int, cols: Int)?
    var packed: Tensor                    // [k*k*cin, cout]: rows in (kh, kw, ci) order
    var packedFrom: Tensor?               // a copy of the weights `packed` was made from
    /// Winograd: per-thread scratch, transformed kernels, per-thread weight-gradient partials.
    var scratch: [WinogradScratch] = []
    var winogradKernel: Tensor?
    var winogradFlipped: Tensor?
    /// The transformed input tiles of the last training forward (the weight gradient reads them),
    /// and its output tile side (2, 4 or 6: WinogradTrain.swift).
    var transformedInput: Tensor?
    var trainedTile = 2
    /// The turned kernel [cin][cout][3][3] of an F(4x4) or F(6x6) input gradient.
    var winogradTurned: Tensor?
    /// Winograd: nil follows `winogradEligible`; true uses it wherever the kernel allows
    /// (3x3, stride 1); false never (tests compare both paths).
    public var winograd: Bool?
    /// Output tile side of Winograd: nil takes the one with the fewest products for each
    /// output size (`WinogradEval.bestTile`), in evaluation, training and the input gradient;
    /// 2, 4 or 6 force F(2x2), F(4x4) or F(6x6).
    public var winogradTile: Int?
    /// The evaluation tile's transformed kernel and a copy of the weights it was made from.
    var evalKernel: (tile: Int, source: Tensor, u: Tensor)?
    /// The direct loop for few channels (ConvDirect.swift): nil follows `directMaxChannels` and `directMaxOutputs`;
    /// true uses it wherever the CPU and the shape allow; false never (tests compare both paths).
    public var direct: Bool?
    var padBuffers: [Tensor?] = []        // per thread: padded image (and output gradient) of the direct loop
    /// Fewest input and output channels for which Winograd is used.
    public static let winogradMinChannels = 32
    var input: Tensor?
    var output: Tensor?
    var gradInput: Tensor?
    var cols: [Tensor?]                   // per thread: patches of a chunk of images
    var dcols: [Tensor?]                  // per thread: gradients of those patches
    var chunkSums: ChunkSums?             // the weight gradient's partials and sums (ChunkSums.swift)
    var flippedKernel: Tensor?            // the direct loop's input-gradient kernel (ConvDirect.swift)
    var pooledChunks: [Tensor?] = []      // per thread: a chunk's output on its way through a max-pool
    /// The sweep's one-channel change: the kernel's slice for a channel, and patches of one plane.
    var channelKernel: Tensor?
    var channelCols: Tensor?
    /// With groups: one convolution per group, whose weights are views of this one's (GroupedConv.swift).
    var grouped: GroupedConv?
    /// Applied to each chunk of the output as it is written, during `forward(_:then:)`.
    var epilogue: Epilogue?

    public init(cin: Int, cout: Int, k: Int, stride: Int = 1, padding: Int = 0, bias: Bool = true, groups: Int = 1) throws(TensorError) {
        guard cin >= 1, cout >= 1, k >= 1, stride >= 1, padding >= 0 else {
            throw TensorError(.value, "Conv2d needs positive channels, kernel and stride and a non-negative padding")
        }
        try Layout.checkSides("Conv2d", ["kernel size": k, "stride": stride, "padding": padding])
        guard groups >= 1, cin % groups == 0, cout % groups == 0 else {
            throw TensorError(.value, "Conv2d's groups (\(groups)) must divide both channel counts (\(cin) and \(cout))")
        }
        (self.cin, self.cout, self.k, self.stride, self.padding, self.groups) = (cin, cout, k, stride, padding, groups)
        weight = try Parameter("weight", Tensor(zeros: [cout, cin / groups, k, k]))
        self.bias = bias ? try Parameter("bias", Tensor(zeros: [cout])) : nil
        packed = try Tensor(zeros: groups == 1 ? [k * k * cin, cout] : [1])
        cols = []
        dcols = []
        if groups > 1 { grouped = try GroupedConv(self) }
    }

    var K: Int { k * k * cin }

    public func reset(_ stream: RandomStream) {
        initLikePyTorch(weight: weight, bias: bias, fanIn: k * k * cin / groups, stream)
    }

    public func outputShape(_ s: [Int]) throws(TensorError) -> [Int] {
        guard s.count == 4, s[1] == cin else {
            throw TensorError(.shape, "expected input {N,\(cin),H,W}, got \(Tensor.describe(s))")
        }
        let (ho, wo) = try outSize(s[2], s[3])
        return [s[0], cout, ho, wo]
    }

    func outSize(_ h: Int, _ w: Int) throws(TensorError) -> (Int, Int) {
        let ho = (h + 2 * padding - k) / stride + 1, wo = (w + 2 * padding - k) / stride + 1
        guard h + 2 * padding >= k, w + 2 * padding >= k else {
            throw TensorError(.shape, "input of \(h)x\(w) is smaller than the \(k)x\(k) kernel with padding \(padding)")
        }
        return (ho, wo)
    }

    public func copy() throws(TensorError) -> Layer {
        let c = try Conv2d(cin: cin, cout: cout, k: k, stride: stride, padding: padding, bias: bias != nil, groups: groups)
        c.name = name
        // In place: a grouped convolution's groups hold views of these tensors.
        c.weight.value.data.update(from: weight.value.data, count: weight.value.count)
        if let bias { c.bias!.value.data.update(from: bias.value.data, count: bias.value.count) }
        return c
    }

    /// Packs weight [cout, cin, k, k] into [(kh, kw, ci), cout], unless `packed` already holds
    /// these weights (compared in full with the copy they were packed from: a script may write
    /// into the weights by any path). Written row by row; an evaluation of ResNet-50 had spent
    /// 3% of its time scattering its 25 M weights into place on every batch.
    func pack() {
        let w = weight.value.data, n = weight.value.count
        if let from = packedFrom, memcmp(from.data, w, n * MemoryLayout<Float>.stride) == 0 { return }
        guard let from = packedFrom ?? (try? Tensor(uninitialized: weight.value.shape)) else { packedFrom = nil; return packRows() }
        from.data.update(from: w, count: n)
        packedFrom = from
        packRows()
    }

    private func packRows() {
        let w = weight.value.data, p = packed.data, kk = k * k, cin = self.cin, cout = self.cout
        for kh in 0..<k { for kw in 0..<k { for ci in 0..<cin {
            let row = p + ((kh * k + kw) * cin + ci) * cout
            let src = w + ci * kk + kh * k + kw
            for co in 0..<cout { row[co] = src[co * cin * kk] }
        } } }
    }

    /// Whether the patches of a chunk are its input itself: a 1x1 kernel, stride 1, no padding,
    /// every output row and column computed (im2col would only copy).
    func patchesAreInput(h: Int, w: Int, ho: Int, wo: Int) -> Bool {
        k == 1 && stride == 1 && padding == 0 && ho == h && wo == w
    }

    /// Images per GEMM: enough rows for an efficient GEMM, few enough that cols stays in cache.
    func chunkImages(_ hw: Int) -> Int { max(1, Conv2d.chunkFloats / max(1, K * hw)) }
    /// Floats of a chunk of work: 2 MB, this machine kind's L2 cache (im2col's patches, a
    /// Winograd chunk's transformed inputs and products).
    static let chunkFloats = 1 << 19

    /// Evaluation followed by `epilogue` (the in-place layers after it, as one pass) on each
    /// chunk of images as soon as it is written, while it is still in cache.
    public func forward(_ x: Tensor, then epilogue: @escaping Epilogue) throws(TensorError) -> Tensor {
        if grouped != nil {
            let y = try forward(x, training: false)
            epilogue(y.data, y.count / cout)
            return y
        }
        self.epilogue = epilogue
        defer { self.epilogue = nil }
        return try forward(x, training: false)
    }

    public func forward(_ x: Tensor, training: Bool) throws(TensorError) -> Tensor {
        if let grouped { return try grouped.forward(x, training: training) }
        let (ho, wo) = try checkedOutSize(x)
        let out = try Buffers.reuse(output, [x.shape[0], ho, wo, cout])
        output = out
        input = training ? x : nil
        try compute(x, out: out.data, hOut: ho, wOut: wo, training: training, sink: nil)
        return out
    }

    /// Evaluation of this convolution followed by `pool`: a chunk of images at a time, each
    /// pooled while it is in cache, so the full-size output is never written nor read back.
    /// Returns the pool's output (its buffer), equal to running the two layers one by one.
    public func forwardPooled(_ x: Tensor, pool: MaxPool2d) throws(TensorError) -> Tensor {
        if grouped != nil { return try pool.forward(try forward(x, training: false), training: false) }
        let (ho, wo) = try checkedOutSize(x)
        let ps = try pool.outputShape([x.shape[0], cout, ho, wo])
        let y = try Buffers.reuse(pool.output, [x.shape[0], ps[2], ps[3], cout])
        pool.output = y
        pool.input = nil
        input = nil
        let sink = PoolSink(conv: self, h: ho, w: wo, hOut: ps[2], wOut: ps[3], k: pool.k, stride: pool.stride, y: y.data)
        try compute(x, out: nil, hOut: ho, wOut: wo, training: false, sink: sink)
        return y
    }

    /// The output size for input x (after the plan's crop), checking x.
    func checkedOutSize(_ x: Tensor) throws(TensorError) -> (Int, Int) {
        guard x.rank == 4, x.shape[3] == cin else {
            throw TensorError(.shape, "expected input {N,\(cin),H,W}, got \(Tensor.describe(Layout.logicalShape(x)))")
        }
        var (ho, wo) = try outSize(x.shape[1], x.shape[2])
        if let crop { (ho, wo) = (min(ho, crop.rows), min(wo, crop.cols)) }
        return (ho, wo)
    }

    /// out [n, hOut, wOut, cout], or with a sink each chunk through its max-pool.
    func compute(_ x: Tensor, out: UnsafeMutablePointer<Float>?, hOut ho: Int, wOut wo: Int, training: Bool,
                 sink: PoolSink?) throws(TensorError) {
        if usesWinograd {
            return try winogradForward(x, out: out, hOut: ho, wOut: wo, training: training, sink: sink)
        }
        if !training && usesWinograd5x5 {
            return try winogradEvalForward(Tile4x5.self, x, out: out, hOut: ho, wOut: wo, sink: sink)
        }
        if usesDirect { return try directForward(x, out: out, hOut: ho, wOut: wo, sink: sink) }
        let (n, h, w) = (x.shape[0], x.shape[1], x.shape[2])
        pack()
        let hw = ho * wo, K = self.K, cout = self.cout
        // Through a pool, a chunk's patches and output share the cache; otherwise the patches have it.
        // Chunks of images from the first, sized by n alone: the same products whatever the thread count.
        let (per, chunks) = Threads.evenChunks(n, atMost: sink == nil ? chunkImages(hw) : max(1, Conv2d.chunkFloats / 2 / (hw * max(K, cout))))
        let threads = Threads.workers(chunks)
        let rowsAreInput = patchesAreInput(h: h, w: w, ho: ho, wo: wo)
        try ensureThreadBuffers(threads, rows: rowsAreInput ? 1 : per * hw)
        try sink?.ensure(threads, floats: per * hw * cout)
        let bias = self.bias?.value
        Threads.forEachPart(chunks) { chunk, t in
            let cols = self.cols[t]!.data
            let (b0, b1) = Threads.range(chunk, of: n, parts: chunks)
            do {
                let nb = b1 - b0
                let a: UnsafeMutablePointer<Float>
                if rowsAreInput {
                    a = x.data + b0 * hw * K
                } else {
                    for i in 0..<nb { self.im2col(x, image: b0 + i, h: h, w: w, ho: ho, wo: wo, into: cols + i * hw * K) }
                    a = cols
                }
                let y = sink?.chunk(t) ?? out! + b0 * hw * cout
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(nb * hw), Int32(cout), Int32(K),
                            1, a, Int32(K), self.packed.data, Int32(cout), 0, y, Int32(cout))
                if let bias {
                    let bp = bias.data
                    for r in 0..<(nb * hw) {
                        let row = y + r * cout
                        for c in 0..<cout { row[c] += bp[c] }
                    }
                }
                if sink == nil, let e = self.epilogue { e(y, nb * hw) }
                sink?.drain(t, images: b0..<(b0 + nb))
            }
        }
    }

    func ensureThreadBuffers(_ threads: Int, rows: Int) throws(TensorError) {
        if cols.count < threads { cols += Array(repeating: nil, count: threads - cols.count) }
        if dcols.count < threads { dcols += Array(repeating: nil, count: threads - dcols.count) }
        for t in 0..<threads where cols[t] == nil || cols[t]!.count < rows * K {
            cols[t] = try Tensor(uninitialized: [rows * K])
        }
    }

    /// Rows (oh, ow) of one image's patches, each row in (kh, kw, ci) order; zeros where the
    /// window leaves the padded input.
    @inline(__always)
    func im2col(_ x: Tensor, image b: Int, h: Int, w: Int, ho: Int, wo: Int, into dst: UnsafeMutablePointer<Float>) {
        let src = x.data + b * h * w * cin
        let K = self.K, cin = self.cin
        for oh in 0..<ho {
            for ow in 0..<wo {
                let row = dst + (oh * wo + ow) * K
                let iw0 = ow * stride - padding
                // Valid kw range: 0 <= iw0 + kw < w.
                let kwLo = max(0, -iw0), kwHi = min(k, w - iw0)
                for kh in 0..<k {
                    let ih = oh * stride - padding + kh
                    let seg = row + kh * k * cin
                    if ih < 0 || ih >= h || kwLo >= kwHi {
                        seg.update(repeating: 0, count: k * cin)
                        continue
                    }
                    if kwLo > 0 { seg.update(repeating: 0, count: kwLo * cin) }
                    (seg + kwLo * cin).update(from: src + (ih * w + iw0 + kwLo) * cin, count: (kwHi - kwLo) * cin)
                    if kwHi < k { (seg + kwHi * cin).update(repeating: 0, count: (k - kwHi) * cin) }
                }
            }
        }
    }

    /// Adds patch gradients back onto one image's input gradient (the transpose of im2col).
    @inline(__always)
    func col2im(_ src: UnsafeMutablePointer<Float>, image b: Int, into dx: Tensor, h: Int, w: Int, ho: Int, wo: Int) {
        let dst = dx.data + b * h * w * cin
        let K = self.K, cin = self.cin
        for oh in 0..<ho {
            for ow in 0..<wo {
                let row = src + (oh * wo + ow) * K
                let iw0 = ow * stride - padding
                let kwLo = max(0, -iw0), kwHi = min(k, w - iw0)
                if kwLo >= kwHi { continue }
                for kh in 0..<k {
                    let ih = oh * stride - padding + kh
                    if ih < 0 || ih >= h { continue }
                    let s = row + (kh * k + kwLo) * cin, d = dst + (ih * w + iw0 + kwLo) * cin
                    for j in 0..<((kwHi - kwLo) * cin) { d[j] += s[j] }
                }
            }
        }
    }

    public func backward(_ dy: Tensor, needInputGrad: Bool) throws(TensorError) -> Tensor? {
        if let grouped { return try grouped.backward(dy, needInputGrad: needInputGrad) }
        guard let x = input else { throw TensorError(.value, "\(name): backward without a training forward") }
        if usesWinograd {
            let dx: Tensor? = needInputGrad ? try Buffers.reuse(gradInput, x.shape) : nil
            gradInput = dx
            try winogradBackward(x, dy, dx: dx)
            return dx
        }
        let dx: Tensor? = needInputGrad ? try Buffers.reuseZeroed(gradInput, x.shape) : nil
        gradInput = dx
        // `packed` holds the weights packed by the training forward.
        let sums = usesDirect && (!needInputGrad || usesDirectInputGrad)
            ? try directBackward(x, dy, dx: dx) : try im2colBackward(x, dy, dx: dx)
        // Unpack the batch's sum into [cout, cin, k, k].
        let gw = weight.grad.data, p = sums.total.data
        for co in 0..<cout { for ci in 0..<cin { for kh in 0..<k { for kw in 0..<k {
            gw[((co * cin + ci) * k + kh) * k + kw] += p[((kh * k + kw) * cin + ci) * cout + co]
        } } } }
        if let bias { for c in 0..<cout { bias.grad.data[c] += Float(sums.biasTotal[c]) } }
        return dx
    }

    /// The gradient sums of a backward over `chunks` chunks of images, `floats` values each
    /// (kept between batches).
    func gradientSums(floats: Int, chunks: Int) throws(TensorError) -> ChunkSums {
        let s = try ChunkSums.reusing(chunkSums, floats: floats, biases: bias == nil ? 0 : cout, workers: Threads.workers(chunks))
        chunkSums = s
        return s
    }

    /// The weight gradient (packed layout) and bias gradient summed over chunks of images, and
    /// with `dx` (zeroed) the input gradient: im2col's patches of a chunk, two GEMMs, and col2im.
    func im2colBackward(_ x: Tensor, _ dy: Tensor, dx: Tensor?) throws(TensorError) -> ChunkSums {
        let (n, h, w) = (x.shape[0], x.shape[1], x.shape[2])
        let (ho, wo) = (dy.shape[1], dy.shape[2])
        let hw = ho * wo, K = self.K, cout = self.cout
        let (per, chunks) = Threads.evenChunks(n, atMost: chunkImages(hw))
        let threads = Threads.workers(chunks)
        let rowsAreInput = patchesAreInput(h: h, w: w, ho: ho, wo: wo)
        try ensureThreadBuffers(threads, rows: rowsAreInput ? 1 : per * hw)
        if dx != nil {
            for t in 0..<threads where dcols[t] == nil || dcols[t]!.count < per * hw * K {
                dcols[t] = try Tensor(uninitialized: [per * hw * K])
            }
        }
        let sums = try gradientSums(floats: K * cout, chunks: chunks)
        Threads.forEachPart(chunks) { chunk, t in
            let cols = self.cols[t]!.data, dW = sums.partial(t)
            sums.begin(worker: t)
            defer { sums.add(chunk: chunk, worker: t) }
            let (b0, b1) = Threads.range(chunk, of: n, parts: chunks)
            do {
                let nb = b1 - b0
                let rows = nb * hw
                let g = dy.data + b0 * hw * cout
                let cols = rowsAreInput ? x.data + b0 * hw * K : cols
                if !rowsAreInput {
                    for i in 0..<nb { self.im2col(x, image: b0 + i, h: h, w: w, ho: ho, wo: wo, into: cols + i * hw * K) }
                }
                // dW[K, cout] = cols^T [K, rows] x dy [rows, cout]: this chunk's part
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(K), Int32(cout), Int32(rows),
                            1, cols, Int32(K), g, Int32(cout), 0, dW, Int32(cout))
                sums.addBias(g, rows: 0..<rows, worker: t)
                if let dx {
                    // dcols [rows, K] = dy [rows, cout] x packed^T [cout, K]; with a 1x1 kernel
                    // at stride 1 they are the input gradient's rows themselves.
                    let dc = rowsAreInput ? dx.data + b0 * hw * K : self.dcols[t]!.data
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(K), Int32(cout),
                                1, g, Int32(cout), self.packed.data, Int32(cout), 0, dc, Int32(K))
                    if !rowsAreInput {
                        for i in 0..<nb { self.col2im(dc + i * hw * K, image: b0 + i, into: dx, h: h, w: w, ho: ho, wo: wo) }
                    }
                }
            }
        }
        return sums
    }
}

/// Where a convolution in evaluation sends each chunk of images when a max-pool follows: a
/// buffer of the thread's, pooled from there into the pool's output.
struct PoolSink {
    unowned let conv: Conv2d
    /// The convolution's output size (the pool's input) and the pool's output size.
    let h: Int, w: Int, hOut: Int, wOut: Int
    let k: Int, stride: Int
    let y: UnsafeMutablePointer<Float>

    /// Chunk buffers of at least `floats` for threads 0..<threads.
    func ensure(_ threads: Int, floats: Int) throws(TensorError) {
        if conv.pooledChunks.count < threads { conv.pooledChunks += Array(repeating: nil, count: threads - conv.pooledChunks.count) }
        for t in 0..<threads where conv.pooledChunks[t] == nil || conv.pooledChunks[t]!.count < floats {
            conv.pooledChunks[t] = try Tensor(uninitialized: [floats])
        }
    }

    /// Thread t's chunk buffer: the convolution output of the chunk's first image goes here.
    func chunk(_ t: Int) -> UnsafeMutablePointer<Float> { conv.pooledChunks[t]!.data }

    /// Pools thread t's chunk (images, each h x w x cout) into the output.
    func drain(_ t: Int, images: Range<Int>) {
        let src = chunk(t), c = conv.cout
        for (i, b) in images.enumerated() {
            MaxPool2d.poolValues(src + i * h * w * c, w: w, c: c, k: k, stride: stride, ho: hOut, wo: wOut,
                                 into: y + b * hOut * wOut * c)
        }
    }
}

extension Conv2d: RebuildableLayer {
    public static var kindName: String { "Conv2d" }
    public static func make(_ s: [String: LayerSetting]) throws(TensorError) -> Layer {
        try Conv2d(cin: LayerKinds.need(s, "in_channels"), cout: LayerKinds.need(s, "out_channels"), k: LayerKinds.need(s, "kernel_size"),
                   stride: LayerKinds.need(s, "stride"), padding: LayerKinds.need(s, "padding"), bias: s["bias"]?.bool ?? true,
                   groups: s["groups"]?.int ?? 1)
    }
}
