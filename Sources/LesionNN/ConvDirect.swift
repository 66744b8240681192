// Direct convolution for layers of few channels (Kernels' AVX2 loops): each thread pads one of
// its images at a time into a buffer that stays in cache and convolves it there, instead of
// writing K columns of patches per output pixel for a GEMM with 8 or 16 columns (in the small
// ResNet's first stage, the patches were 9x the size of the image and the GEMM ran at a third
// of the machine's speed). The input gradient is the same loop on the padded output gradient
// with the kernel flipped and transposed.
import Kernels
#if canImport(Glibc)
import Glibc
#endif
import LesionTensor

/// Whether this CPU runs Kernels' loops (AVX2 and FMA), checked once; LESION_KERNELS=0 turns
/// them off (to measure what they bring, or to compare results with the portable loops).
let kernelsAvailable = lesion_kernels_available() != 0 && getenv("LESION_KERNELS").map { String(cString: $0) } != "0"

extension Conv2d {
    /// Most input channels, and most output channels, for which the direct loop is chosen.
    /// Few input channels make im2col's GEMM thin (K = 9 cin) whatever the outputs: at 28 x 28,
    /// batch 64 (`scripts/bench conv`), 1 -> 32 channels ran forward at 55 GFLOP/s against 28,
    /// 3 -> 64 at 126 against 94, 8 -> 32 at 156 against 80 (its weight gradient 107 against
    /// 81), 16 -> 32 at 14 x 14 at 150 against 112. Past 16 inputs Winograd or im2col take over.
    static let directMaxChannels = 16
    static let directMaxOutputs = 64

    /// Whether forward and the weight gradient go through the direct loop.
    var usesDirect: Bool {
        guard kernelsAvailable, groups == 1, stride == 1, cout % 8 == 0, !usesWinograd else { return false }
        return direct ?? (cin <= Conv2d.directMaxChannels && cout <= Conv2d.directMaxOutputs)
    }

    /// Whether the input gradient does too (it produces cin channels, so cin must be a multiple of 8).
    var usesDirectInputGrad: Bool { usesDirect && cin % 8 == 0 && padding <= k - 1 }

    /// Per-worker buffers of at least `floats`, zeroed (the padding must read as zeros).
    func paddedBuffers(_ floats: Int, workers: Int) throws(TensorError) -> [Tensor] {
        if padBuffers.count < workers { padBuffers += Array(repeating: nil, count: workers - padBuffers.count) }
        for t in 0..<workers {
            if padBuffers[t] == nil || padBuffers[t]!.count < floats { padBuffers[t] = try Tensor(uninitialized: [floats]) }
            padBuffers[t]!.data.update(repeating: 0, count: floats)
        }
        return padBuffers.prefix(workers).map { $0! }
    }

    /// Images per part of the direct weight gradient (a fixed decomposition: the same sums
    /// whatever the thread count).
    static let directChunk = 8

    /// Copies an [h, w, c] image into a zeroed buffer of rows of `row` floats (by default
    /// (w + 2p) * c), starting at row p, column p.
    @inline(__always)
    static func pad(_ src: UnsafeMutablePointer<Float>, h: Int, w: Int, c: Int, p: Int, row: Int? = nil,
                    into dst: UnsafeMutablePointer<Float>) {
        let row = row ?? (w + 2 * p) * c
        for i in 0..<h { (dst + (i + p) * row + p * c).update(from: src + i * w * c, count: w * c) }
    }

    /// out [n, ho, wo, cout] (or each chunk through `sink`), as `compute` promises.
    func directForward(_ x: Tensor, out: UnsafeMutablePointer<Float>?, hOut ho: Int, wOut wo: Int,
                       sink: PoolSink?) throws(TensorError) {
        let (n, h, w) = (x.shape[0], x.shape[1], x.shape[2])
        pack()
        let p = padding, cin = self.cin, cout = self.cout, k = Int32(self.k), hw = ho * wo
        let xrow = (w + 2 * p) * cin
        let (per, chunks) = Threads.evenChunks(n, atMost: max(1, Conv2d.chunkFloats / 2 / max(1, hw * cout)))
        let bufs = try paddedBuffers((h + 2 * p) * xrow, workers: Threads.workers(chunks))
        try sink?.ensure(Threads.workers(chunks), floats: per * hw * cout)
        let bias = self.bias?.value, weights = packed.data
        Threads.forEachPart(chunks) { chunk, t in
            let buf = bufs[t].data
            let (b0, b1) = Threads.range(chunk, of: n, parts: chunks)
            do {
                let nb = b1 - b0
                let y = sink?.chunk(t) ?? out! + b0 * hw * cout
                for i in 0..<nb {
                    Conv2d.pad(x.data + (b0 + i) * h * w * cin, h: h, w: w, c: cin, p: p, into: buf)
                    lesion_conv_direct(buf, Int32(xrow), Int32(cin), weights, k, Int32(cout), y + i * hw * cout, Int32(ho), Int32(wo))
                }
                if let bias {
                    for r in 0..<(nb * hw) { let row = y + r * cout; for c in 0..<cout { row[c] += bias.data[c] } }
                }
                if sink == nil, let e = self.epilogue { e(y, nb * hw) }
                sink?.drain(t, images: b0..<(b0 + nb))
            }
        }
    }

    /// The weight gradient (packed layout) and bias gradient summed over chunks of images, and
    /// (with `dx`) the input gradient, written in full.
    func directBackward(_ x: Tensor, _ dy: Tensor, dx: Tensor?) throws(TensorError) -> ChunkSums {
        let (n, h, w) = (x.shape[0], x.shape[1], x.shape[2])
        let (ho, wo) = (dy.shape[1], dy.shape[2])
        let p = padding, q = k - 1 - padding, cin = self.cin, cout = self.cout, k = self.k, hw = ho * wo
        // The output gradient padded as if the output had not been cropped (zeros where it was).
        let (hoFull, woFull) = (h + 2 * p - k + 1, w + 2 * p - k + 1)
        let xrow = (w + 2 * p) * cin, grow = (woFull + 2 * q) * cout
        // Per thread: the padded image, then the padded output gradient; their borders stay zero.
        let xFloats = (h + 2 * p) * xrow
        let chunks = (n + Conv2d.directChunk - 1) / Conv2d.directChunk, workers = Threads.workers(chunks)
        let bufs = try paddedBuffers(xFloats + (dx == nil ? 0 : (hoFull + 2 * q) * grow), workers: workers)
        let sums = try gradientSums(floats: K * cout, chunks: chunks)
        // The input gradient's kernel: rows (kh, kw, co) of the flipped kernel, columns ci.
        let flipped: Tensor? = dx == nil ? nil : try Buffers.reuse(flippedKernel, [k * k * cout, cin])
        flippedKernel = flipped ?? flippedKernel
        if let flipped {
            for kh in 0..<k { for kw in 0..<k { for co in 0..<cout {
                let dst = flipped.data + ((kh * k + kw) * cout + co) * cin
                let src = packed.data + ((k - 1 - kh) * k + (k - 1 - kw)) * cin * cout + co
                for ci in 0..<cin { dst[ci] = src[ci * cout] }
            } } }
        }
        Threads.forEachPart(chunks) { chunk, t in
            let buf = bufs[t].data, dW = sums.partial(t)
            dW.update(repeating: 0, count: sums.floats)
            sums.begin(worker: t)
            defer { sums.add(chunk: chunk, worker: t) }
            for b in (chunk * Conv2d.directChunk)..<min(n, (chunk + 1) * Conv2d.directChunk) {
                let g = dy.data + b * hw * cout
                Conv2d.pad(x.data + b * h * w * cin, h: h, w: w, c: cin, p: p, into: buf)
                lesion_conv_direct_wgrad(buf, Int32(xrow), Int32(cin), g, Int32(k), Int32(cout), Int32(ho), Int32(wo), dW)
                sums.addBias(g, rows: 0..<hw, worker: t)
                if let dx, let flipped {
                    Conv2d.pad(g, h: ho, w: wo, c: cout, p: q, row: grow, into: buf + xFloats)
                    lesion_conv_direct(buf + xFloats, Int32(grow), Int32(cout), flipped.data, Int32(k), Int32(cin),
                                       dx.data + b * h * w * cin, Int32(h), Int32(w))
                }
            }
        }
        return sums
    }
}
