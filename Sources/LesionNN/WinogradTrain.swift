// Training by Winograd F(4x4, 3x3) (and F(6x6, 3x3) when a test or a script forces it), the
// tiles of WinogradEval.swift, for the layers where F(4x4) needs at least 1.5 times fewer GEMM
// products than F(2x2) (`trainingTile`: 7x7 outputs, 144 products per channel pair instead of
// 256; FashionNet's conv3 trains 28% faster). F(2x2) keeps its own loops (Winograd.swift).
//   forward:         Y  = A^T [ U . V ] A,  U = G g G^T,  V = B^T d B
//   input gradient:  the same convolution of dY with the kernel turned 180 degrees, channels
//                    swapped, and padding 2 - pad (each with the tile its output size prefers)
//   weight gradient: dg = G^T [ sum over tiles V . Z ] G,  Z = A dY A^T
// (Lavin & Gray 2016.) The forward keeps V for the weight gradient; its products are summed
// over chunks of images in chunk order (ChunkSums), so results are the same on any thread count.
import COpenBLAS
import LesionTensor

/// A tile that also trains: the transposes of its output and kernel transforms.
protocol TrainingTile: EvaluationTile {
    /// A y: the m values s[0], s[st], ... of an output-gradient line in, n values out.
    static func gradient(_ s: UnsafePointer<V8>, _ st: Int, _ o: UnsafeMutablePointer<V8>, _ ost: Int)
    /// G^T s: the n values of a line of the transformed kernel gradient in, r (3) values out.
    static func kernelGradient(_ s: UnsafePointer<V8>, _ st: Int, _ o: UnsafeMutablePointer<V8>, _ ost: Int)
}

extension Tile4: TrainingTile {
    /// A = (A^T)^T: [1 0 0 0; 1 1 1 1; 1 -1 1 -1; 1 2 4 8; 1 -2 4 -8; 0 0 0 1].
    @inline(__always) static func gradient(_ s: UnsafePointer<V8>, _ st: Int, _ o: UnsafeMutablePointer<V8>, _ ost: Int) {
        let (y0, y1, y2, y3) = (s[0], s[st], s[2 * st], s[3 * st])
        let e: V8 = y0 + y2, f: V8 = y1 + y3, g: V8 = y0 + 4 * y2, h: V8 = 2 * y1 + 8 * y3
        o[0] = y0; o[ost] = e + f; o[2 * ost] = e - f
        o[3 * ost] = g + h; o[4 * ost] = g - h; o[5 * ost] = y3
    }

    /// G^T, G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1].
    @inline(__always) static func kernelGradient(_ s: UnsafePointer<V8>, _ st: Int, _ o: UnsafeMutablePointer<V8>, _ ost: Int) {
        let (s0, s1, s2, s3, s4, s5) = (s[0], s[st], s[2 * st], s[3 * st], s[4 * st], s[5 * st])
        let p: V8 = s1 + s2, q: V8 = s3 + s4
        let a: V8 = s0 / 4 - p / 6
        o[0] = a + q / 24
        let b: V8 = (s2 - s1) / 6
        o[ost] = b + (s3 - s4) / 12
        o[2 * ost] = (q - p) / 6 + s5
    }
}

extension Tile6: TrainingTile {
    /// A: row j of A is column j of A^T: [0^i], [1], [(-1)^i], [2^i], [(-2)^i], [2^-i], [(-2)^-i], [i == 5].
    @inline(__always) static func gradient(_ s: UnsafePointer<V8>, _ st: Int, _ o: UnsafeMutablePointer<V8>, _ ost: Int) {
        let (y0, y1, y2, y3, y4, y5) = (s[0], s[st], s[2 * st], s[3 * st], s[4 * st], s[5 * st])
        let e1: V8 = y0 + y2 + y4, o1: V8 = y1 + y3 + y5
        let e2: V8 = y0 + 4 * y2 + 16 * y4, o2: V8 = 2 * y1 + 8 * y3 + 32 * y5
        let e3: V8 = y0 + 0.25 * y2 + 0.0625 * y4, o3: V8 = 0.5 * y1 + 0.125 * y3 + 0.03125 * y5
        o[0] = y0; o[ost] = e1 + o1; o[2 * ost] = e1 - o1
        o[3 * ost] = e2 + o2; o[4 * ost] = e2 - o2
        o[5 * ost] = e3 + o3; o[6 * ost] = e3 - o3; o[7 * ost] = y5
    }

    /// G^T, G's rows as in Tile6.kernel.
    @inline(__always) static func kernelGradient(_ s: UnsafePointer<V8>, _ st: Int, _ o: UnsafeMutablePointer<V8>, _ ost: Int) {
        let (s0, s1, s2, s3) = (s[0], s[st], s[2 * st], s[3 * st])
        let (s4, s5, s6, s7) = (s[4 * st], s[5 * st], s[6 * st], s[7 * st])
        let p: V8 = s1 + s2, q: V8 = s3 + s4, r: V8 = s5 + s6
        let p9: V8 = -2 * p / 9
        let a0: V8 = s0 + p9, a1: V8 = q / 90 + 32 * r / 45
        o[0] = a0 + a1
        let b0: V8 = -2 * (s1 - s2) / 9, b1: V8 = (s3 - s4) / 45, b2: V8 = 16 * (s5 - s6) / 45
        o[ost] = b0 + b1 + b2
        let c0: V8 = 2 * q / 45, c1: V8 = 8 * r / 45
        o[2 * ost] = p9 + c0 + c1 + s7
    }
}

extension WinogradEval {
    /// Z = A dY A^T of each tile's m x m output gradient (zeros beyond hOut x wOut), into
    /// z [n*n][p][c]; channels 8 at a time, a last group of fewer padded with zeros.
    static func transformGradient<T: TrainingTile>(_: T.Type, _ dy: UnsafePointer<Float>, images: Range<Int>,
                                                   hOut: Int, wOut: Int, c: Int, tilesH: Int, tilesW: Int,
                                                   zero: UnsafePointer<Float>, into z: UnsafeMutablePointer<Float>, tiles p: Int) {
        let m = T.m, n = T.n, nn = n * n, mm = m * m
        let plane = p * c
        var tile = 0
        withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: mm) { dp in
            withUnsafeTemporaryAllocation(of: V8.self, capacity: mm + n * m + nn) { buf in
                let d = dp.baseAddress!, a = buf.baseAddress!, t = a + mm, r = t + n * m
                for b in images {
                    let img = dy + b * hOut * wOut * c
                    for ty in 0..<tilesH {
                        for tx in 0..<tilesW {
                            Winograd.gatherTile(img, y0: m * ty, x0: m * tx, size: m, hIn: hOut, wIn: wOut, c: c, zero: zero, into: d)
                            let o = z + tile * c
                            var ch = 0
                            while ch < c {
                                let k = min(8, c - ch)
                                for e in 0..<mm {
                                    if k == 8 { a[e] = UnsafeRawPointer(d[e] + ch).loadUnaligned(as: V8.self); continue }
                                    var v = V8(repeating: 0)
                                    for l in 0..<k { v[l] = d[e][ch + l] }
                                    a[e] = v
                                }
                                for j in 0..<m { T.gradient(a + j, m, t + j, m) }              // columns: t = A dY (n x m)
                                for i in 0..<n { T.gradient(t + m * i, 1, r + n * i, 1) }      // rows: (A dY) A^T (n x n)
                                for e in 0..<nn {
                                    if k == 8 { UnsafeMutableRawPointer(o + e * plane + ch).storeBytes(of: r[e], as: V8.self) }
                                    else { for l in 0..<k { o[e * plane + ch + l] = r[e][l] } }
                                }
                                ch += k
                            }
                            tile += 1
                        }
                    }
                }
            }
        }
    }

    /// dW[cout][cin][3][3] += G^T dU G from dU [n*n][cin][cout], for the input channels `inputs`.
    static func accumulateKernelGradient<T: TrainingTile>(_: T.Type, _ du: UnsafePointer<Float>, cin: Int, cout: Int,
                                                          inputs: Range<Int>, into gw: UnsafeMutablePointer<Float>) {
        let n = T.n, nn = n * n, plane = cin * cout
        withUnsafeTemporaryAllocation(of: V8.self, capacity: nn + 3 * n + 3) { buf in
            let s = buf.baseAddress!, t = s + nn, r = t + 3 * n
            for ci in inputs {
                var co = 0
                while co < cout {
                    let k = min(8, cout - co)
                    let src = du + ci * cout + co
                    for e in 0..<nn {
                        if k == 8 { s[e] = UnsafeRawPointer(src + e * plane).loadUnaligned(as: V8.self); continue }
                        var v = V8(repeating: 0)
                        for l in 0..<k { v[l] = src[e * plane + l] }
                        s[e] = v
                    }
                    for j in 0..<n { T.kernelGradient(s + j, n, t + j, n) }   // columns: t = G^T dU (3 x n)
                    for i in 0..<3 {
                        T.kernelGradient(t + n * i, 1, r, 1)                    // rows: (G^T dU) G
                        for q in 0..<3 { for l in 0..<k { gw[((co + l) * cin + ci) * 9 + 3 * i + q] += r[q][l] } }
                    }
                    co += k
                }
            }
        }
    }
}

extension Conv2d {
    /// out[n][hOut][wOut][co] = the 3x3 convolution (offset -pad) of x[n][hIn][wIn][ci] with
    /// the transformed kernel u [n*n][ci][co] by F(m x m); `keep` and `sink` as in the F(2x2)
    /// winogradConvolve.
    func winogradConvolve<T: EvaluationTile>(_: T.Type, _ x: UnsafePointer<Float>, n: Int, hIn: Int, wIn: Int, ci: Int,
                                             _ u: UnsafePointer<Float>, co: Int, pad: Int, bias: UnsafePointer<Float>?,
                                             into out: UnsafeMutablePointer<Float>?, hOut: Int, wOut: Int,
                                             keep: UnsafeMutablePointer<Float>? = nil, sink: PoolSink? = nil) throws(TensorError) {
        let (th, tw, most) = winogradChunk(T.self, hOut, wOut, ci: ci, co: co)
        let (per, chunks) = Threads.evenChunks(n, atMost: most)
        let threads = Threads.workers(chunks)
        while scratch.count < threads { scratch.append(WinogradScratch()) }
        for t in 0..<threads { try scratch[t].ensure(per * th * tw, ci, co, elements: T.n * T.n) }
        try winogradChunks(n: n, per: most, tilesPerImage: th * tw, elements: T.n * T.n, ci: ci, co: co, u: u, keep: keep,
                           sink: sink, out: out, outPerImage: hOut * wOut * co) { images, zero, v, p in
            WinogradEval.transformInput(T.self, x, images: images, hIn: hIn, wIn: wIn, c: ci,
                                        tilesH: th, tilesW: tw, pad: pad, zero: zero, into: v, tiles: p)
        } output: { m, p, images, y in
            WinogradEval.transformOutput(T.self, m, tiles: p, images: images, hOut: hOut, wOut: wOut, c: co,
                                         tilesH: th, tilesW: tw, bias: bias, into: y)
        }
    }

    /// Tiles per image and the most images per chunk of an F(m x m) convolution.
    func winogradChunk<T: EvaluationTile>(_: T.Type, _ hOut: Int, _ wOut: Int, ci: Int, co: Int) -> (tilesH: Int, tilesW: Int, per: Int) {
        let th = (hOut + T.m - 1) / T.m, tw = (wOut + T.m - 1) / T.m
        return (th, tw, max(1, Conv2d.chunkTiles(elements: T.n * T.n, cin: ci, cout: co) / (th * tw)))
    }

    /// U = G g G^T of w [cout][cin][3][3] into u [n*n][cin][cout], split over the threads by input channel.
    static func transformKernel<T: EvaluationTile>(_: T.Type, _ w: UnsafePointer<Float>, cin: Int, cout: Int,
                                                   into u: UnsafeMutablePointer<Float>) {
        Threads.parallelParts { t in
            let (lo, hi) = Threads.range(t, of: cin)
            WinogradEval.transformKernel(T.self, w, cin: cin, cout: cout, inputs: lo..<hi, into: u)
        }
    }

    /// The training forward by F(m x m): out [n, hOut, wOut, cout]; keeps the transformed input.
    func winogradTrainForward<T: TrainingTile>(_: T.Type, _ x: Tensor, out: UnsafeMutablePointer<Float>?,
                                               hOut: Int, wOut: Int) throws(TensorError) {
        let (n, h, w) = (x.shape[0], x.shape[1], x.shape[2])
        let nn = T.n * T.n
        let u = try Buffers.reuse(winogradKernel, [nn, cin, cout])
        winogradKernel = u
        Conv2d.transformKernel(T.self, weight.value.data, cin: cin, cout: cout, into: u.data)
        let (th, tw, _) = winogradChunk(T.self, hOut, wOut, ci: cin, co: cout)
        let keep = try Buffers.reuse(transformedInput, [nn * n * th * tw * cin])
        transformedInput = keep
        trainedTile = T.m
        try winogradConvolve(T.self, x.data, n: n, hIn: h, wIn: w, ci: cin, u.data, co: cout, pad: padding,
                             bias: bias?.value.data, into: out, hOut: hOut, wOut: wOut, keep: keep.data)
    }

    /// The input gradient of a Winograd layer: dY convolved with the turned kernel (padding
    /// 2 - pad) by the tile that dx's size prefers.
    func winogradInputGradient(_ dy: Tensor, dx: Tensor) throws(TensorError) {
        let (n, h, w) = (dx.shape[0], dx.shape[1], dx.shape[2])
        let (ho, wo) = (dy.shape[1], dy.shape[2])
        let tile = trainingTile(h, w)
        guard tile == 4 || tile == 6 else {
            let uf = try Buffers.reuse(winogradFlipped, [16, cout, cin])
            winogradFlipped = uf
            Winograd.transformKernel(weight.value.data, cin: cin, cout: cout, flipped: true, into: uf.data)
            return try winogradConvolve(dy.data, n: n, hIn: ho, wIn: wo, ci: cout, uf.data, co: cin, pad: 2 - padding,
                                        bias: nil, into: dx.data, hOut: h, wOut: w)
        }
        // The turned kernel as weights [cin][cout][3][3]: wf[ci][co][i][j] = w[co][ci][2 - i][2 - j].
        let wf = try Buffers.reuse(winogradTurned, [cin, cout, 3, 3])
        winogradTurned = wf
        let src = weight.value.data, dst = wf.data
        for co in 0..<cout { for ci in 0..<cin { for e in 0..<9 { dst[(ci * cout + co) * 9 + e] = src[(co * cin + ci) * 9 + 8 - e] } } }
        func run<T: EvaluationTile>(_: T.Type) throws(TensorError) {
            let uf = try Buffers.reuse(winogradFlipped, [T.n * T.n, cout, cin])
            winogradFlipped = uf
            Conv2d.transformKernel(T.self, wf.data, cin: cout, cout: cin, into: uf.data)
            try winogradConvolve(T.self, dy.data, n: n, hIn: ho, wIn: wo, ci: cout, uf.data, co: cin, pad: 2 - padding,
                                 bias: nil, into: dx.data, hOut: h, wOut: w)
        }
        if tile == 4 { try run(Tile4.self) } else { try run(Tile6.self) }
    }

    /// Weight and bias gradients of an F(m x m) training forward: dU [n*n][cin][cout] = the sum
    /// over tiles of V^T Z, chunk by chunk in chunk order, then dW += G^T dU G.
    func winogradWeightGradient<T: TrainingTile>(_: T.Type, _ x: Tensor, _ dy: Tensor) throws(TensorError) {
        let n = x.shape[0]
        let (ho, wo) = (dy.shape[1], dy.shape[2])
        let nn = T.n * T.n
        let (cin, cout) = (self.cin, self.cout)
        let (th, tw, most) = winogradChunk(T.self, ho, wo, ci: cin, co: cout)
        let (per, chunks) = Threads.evenChunks(n, atMost: most)
        let threads = Threads.workers(chunks)
        while scratch.count < threads { scratch.append(WinogradScratch()) }
        for t in 0..<threads { try scratch[t].ensure(per * th * tw, cin, cout, elements: nn) }
        guard let kept = transformedInput, kept.count == nn * n * th * tw * cin else {
            throw TensorError(.value, "\(name): backward without a training forward")
        }
        let sums = try gradientSums(floats: nn * cin * cout, chunks: chunks)
        Threads.forEachPart(chunks) { chunk, t in
            let s = self.scratch[t]
            let z = s.m!.data, du = sums.partial(t)
            let (b0, b1) = Threads.range(chunk, of: n, parts: chunks)
            let p = (b1 - b0) * th * tw
            sums.begin(worker: t)
            sums.addBias(dy.data, rows: (b0 * ho * wo)..<(b1 * ho * wo), worker: t)
            s.zero.withUnsafeBufferPointer { zp in
                WinogradEval.transformGradient(T.self, dy.data, images: b0..<b1, hOut: ho, wOut: wo, c: cout,
                                               tilesH: th, tilesW: tw, zero: zp.baseAddress!, into: z, tiles: p)
            }
            let v = kept.data + nn * b0 * th * tw * cin   // written by the training forward
            for e in 0..<nn {
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(cin), Int32(cout), Int32(p),
                            1, v + e * p * cin, Int32(cin), z + e * p * cout, Int32(cout), 0, du + e * cin * cout, Int32(cout))
            }
            sums.add(chunk: chunk, worker: t)
        }
        let total = sums.total.data, gw = weight.grad.data
        Threads.parallelParts { t in
            let (lo, hi) = Threads.range(t, of: cin)
            WinogradEval.accumulateKernelGradient(T.self, total, cin: cin, cout: cout, inputs: lo..<hi, into: gw)
        }
        if let bias { for c in 0..<cout { bias.grad.data[c] += Float(sums.biasTotal[c]) } }
    }
}
