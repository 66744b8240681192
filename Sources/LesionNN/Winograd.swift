// Winograd F(2x2, 3x3) for 3x3 stride-1 convolutions (Lavin & Gray, "Fast Algorithms for
// Convolutional Neural Networks", 2016): each 2x2 output tile comes from a 4x4 input tile with
// 16 products per channel pair instead of 36, done as 16 GEMMs over all tiles of a chunk.
//   Y = A^T [ (G g G^T) . (B^T d B) ] A
// The input gradient is the same convolution of dY with the kernel turned 180 degrees and its
// channels swapped; the weight gradient is G^T [ sum over tiles (B^T d B) . (A dy A^T) ] G.
// NHWC throughout; images are split over threads in a fixed way, so results repeat exactly.
import COpenBLAS
import LesionTensor

/// Buffers of one thread for Winograd convolutions, grown as needed and reused.
final class WinogradScratch {
    var v: Tensor?      // [16][P][cin]: transformed input tiles
    var m: Tensor?      // [16][P][cout]: products (or transformed output gradients)
    var zero: [Float] = []

    /// Room for `elements` (16 for F(2x2), 36 for F(4x4)) planes of p tiles.
    func ensure(_ p: Int, _ cin: Int, _ cout: Int, elements: Int = 16) throws(TensorError) {
        if v == nil || v!.count < elements * p * cin { v = try Tensor(uninitialized: [elements * p * cin]) }
        if m == nil || m!.count < elements * p * cout { m = try Tensor(uninitialized: [elements * p * cout]) }
        if zero.count < max(cin, cout) { zero = [Float](repeating: 0, count: max(cin, cout)) }
    }
}

enum Winograd {
    /// Pointers to the pixels of a size x size input tile whose top-left corner is (y0, x0) of
    /// an hIn x wIn NHWC image (`zero` outside it), row-major into d.
    @inline(__always)
    static func gatherTile(_ img: UnsafePointer<Float>, y0: Int, x0: Int, size: Int, hIn: Int, wIn: Int, c: Int,
                           zero: UnsafePointer<Float>, into d: UnsafeMutablePointer<UnsafePointer<Float>>) {
        for i in 0..<size {
            let y = y0 + i
            for j in 0..<size {
                let x = x0 + j
                d[size * i + j] = (y >= 0 && y < hIn && x >= 0 && x < wIn) ? img + (y * wIn + x) * c : zero
            }
        }
    }

    /// Transformed kernel U[16][cin][cout] from w[cout][cin][3][3] (PyTorch's layout); with
    /// `flipped`, for the input gradient: the kernel turned 180 degrees, channels swapped
    /// (U[16][cout][cin]). Rows of each plane (input channels, or output channels when flipped)
    /// in `rows` only; 8 columns at a time, split over the threads by the caller.
    static func transformKernel(_ w: UnsafePointer<Float>, cin: Int, cout: Int, flipped: Bool, rows: Range<Int>,
                                into u: UnsafeMutablePointer<Float>) {
        let cols = flipped ? cin : cout
        let plane = (flipped ? cout : cin) * cols
        // Kernel (row r, column c) starts at w + r * rowStep + c * colStep.
        let (rowStep, colStep) = flipped ? (cin * 9, 9) : (9, cin * 9)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 16 * 8) { buf in
            let tile = buf.baseAddress!   // [16][8]: the 16 values of 8 columns
            for r in rows {
                var c = 0
                while c < cols {
                    let k = min(8, cols - c)
                    for l in 0..<k {
                        let src = w + r * rowStep + (c + l) * colStep
                        @inline(__always) func g(_ i: Int) -> Float { flipped ? src[8 - i] : src[i] }
                        // t = G g (4x3), column j at a time; then (G g) G^T row by row.
                        var t = (Float(0), Float(0), Float(0), Float(0), Float(0), Float(0),
                                 Float(0), Float(0), Float(0), Float(0), Float(0), Float(0))
                        withUnsafeMutableBytes(of: &t) { raw in
                            let tp = raw.baseAddress!.assumingMemoryBound(to: Float.self)
                            for j in 0..<3 {
                                let a = g(j), b = g(3 + j), cc = g(6 + j)
                                tp[j] = a
                                tp[3 + j] = 0.5 * (a + b + cc)
                                tp[6 + j] = 0.5 * (a - b + cc)
                                tp[9 + j] = cc
                            }
                            for i in 0..<4 {
                                let a = tp[3 * i], b = tp[3 * i + 1], cc = tp[3 * i + 2]
                                tile[(4 * i) * 8 + l] = a
                                tile[(4 * i + 1) * 8 + l] = 0.5 * (a + b + cc)
                                tile[(4 * i + 2) * 8 + l] = 0.5 * (a - b + cc)
                                tile[(4 * i + 3) * 8 + l] = cc
                            }
                        }
                    }
                    let o = u + r * cols + c
                    for e in 0..<16 { (o + e * plane).update(from: tile + e * 8, count: k) }
                    c += k
                }
            }
        }
    }

    /// The same over all rows, split over the threads.
    static func transformKernel(_ w: UnsafePointer<Float>, cin: Int, cout: Int, flipped: Bool, into u: UnsafeMutablePointer<Float>) {
        let rows = flipped ? cout : cin
        Threads.parallelParts { t in
            let (lo, hi) = Threads.range(t, of: rows)
            transformKernel(w, cin: cin, cout: cout, flipped: flipped, rows: lo..<hi, into: u)
        }
    }

    /// B^T d B of the 4x4 input tiles of a chunk: tile (ty, tx) of image b reads rows
    /// 2ty - pad ..< 2ty - pad + 4 (zeros outside the hIn x wIn input).
    static func transformInput(_ x: UnsafePointer<Float>, images: Range<Int>, hIn: Int, wIn: Int, c: Int,
                               tilesH: Int, tilesW: Int, pad: Int, zero: UnsafePointer<Float>,
                               into v: UnsafeMutablePointer<Float>, tiles p: Int) {
        var tile = 0
        var d = [UnsafePointer<Float>](repeating: zero, count: 16)
        for b in images {
            let img = x + b * hIn * wIn * c
            for ty in 0..<tilesH {
                for tx in 0..<tilesW {
                    d.withUnsafeMutableBufferPointer { dm in
                        gatherTile(img, y0: 2 * ty - pad, x0: 2 * tx - pad, size: 4, hIn: hIn, wIn: wIn, c: c, zero: zero, into: dm.baseAddress!)
                    }
                    d.withUnsafeBufferPointer { dp in
                        let plane = p * c
                        let o = v + tile * c
                        var ch = 0
                        @inline(__always) func ld(_ k: Int, _ ch: Int) -> V8 { UnsafeRawPointer(dp[k] + ch).loadUnaligned(as: V8.self) }
                        @inline(__always) func st(_ e: Int, _ ch: Int, _ x: V8) { UnsafeMutableRawPointer(o + e * plane + ch).storeBytes(of: x, as: V8.self) }
                        while ch + 8 <= c {
                            let t00 = ld(0, ch) - ld(8, ch), t01 = ld(1, ch) - ld(9, ch), t02 = ld(2, ch) - ld(10, ch), t03 = ld(3, ch) - ld(11, ch)
                            let t10 = ld(4, ch) + ld(8, ch), t11 = ld(5, ch) + ld(9, ch), t12 = ld(6, ch) + ld(10, ch), t13 = ld(7, ch) + ld(11, ch)
                            let t20 = ld(8, ch) - ld(4, ch), t21 = ld(9, ch) - ld(5, ch), t22 = ld(10, ch) - ld(6, ch), t23 = ld(11, ch) - ld(7, ch)
                            let t30 = ld(4, ch) - ld(12, ch), t31 = ld(5, ch) - ld(13, ch), t32 = ld(6, ch) - ld(14, ch), t33 = ld(7, ch) - ld(15, ch)
                            st(0, ch, t00 - t02); st(1, ch, t01 + t02); st(2, ch, t02 - t01); st(3, ch, t01 - t03)
                            st(4, ch, t10 - t12); st(5, ch, t11 + t12); st(6, ch, t12 - t11); st(7, ch, t11 - t13)
                            st(8, ch, t20 - t22); st(9, ch, t21 + t22); st(10, ch, t22 - t21); st(11, ch, t21 - t23)
                            st(12, ch, t30 - t32); st(13, ch, t31 + t32); st(14, ch, t32 - t31); st(15, ch, t31 - t33)
                            ch += 8
                        }
                        let (d00, d01, d02, d03) = (dp[0], dp[1], dp[2], dp[3])
                        let (d10, d11, d12, d13) = (dp[4], dp[5], dp[6], dp[7])
                        let (d20, d21, d22, d23) = (dp[8], dp[9], dp[10], dp[11])
                        let (d30, d31, d32, d33) = (dp[12], dp[13], dp[14], dp[15])
                        while ch < c {
                            let t00 = d00[ch] - d20[ch], t01 = d01[ch] - d21[ch], t02 = d02[ch] - d22[ch], t03 = d03[ch] - d23[ch]
                            let t10 = d10[ch] + d20[ch], t11 = d11[ch] + d21[ch], t12 = d12[ch] + d22[ch], t13 = d13[ch] + d23[ch]
                            let t20 = d20[ch] - d10[ch], t21 = d21[ch] - d11[ch], t22 = d22[ch] - d12[ch], t23 = d23[ch] - d13[ch]
                            let t30 = d10[ch] - d30[ch], t31 = d11[ch] - d31[ch], t32 = d12[ch] - d32[ch], t33 = d13[ch] - d33[ch]
                            o[0 * plane + ch] = t00 - t02; o[1 * plane + ch] = t01 + t02; o[2 * plane + ch] = t02 - t01; o[3 * plane + ch] = t01 - t03
                            o[4 * plane + ch] = t10 - t12; o[5 * plane + ch] = t11 + t12; o[6 * plane + ch] = t12 - t11; o[7 * plane + ch] = t11 - t13
                            o[8 * plane + ch] = t20 - t22; o[9 * plane + ch] = t21 + t22; o[10 * plane + ch] = t22 - t21; o[11 * plane + ch] = t21 - t23
                            o[12 * plane + ch] = t30 - t32; o[13 * plane + ch] = t31 + t32; o[14 * plane + ch] = t32 - t31; o[15 * plane + ch] = t31 - t33
                            ch += 1
                        }
                    }
                    tile += 1
                }
            }
        }
    }

    /// Y = A^T m A per tile, plus bias, written where the tile lies inside hOut x wOut; y is the
    /// output of the first of `images`.
    static func transformOutput(_ m: UnsafePointer<Float>, tiles p: Int, images: Range<Int>, hOut: Int, wOut: Int, c: Int,
                                tilesH: Int, tilesW: Int, bias: UnsafePointer<Float>?, into y: UnsafeMutablePointer<Float>) {
        var tile = 0
        let plane = p * c
        for b in images {
            let img = y + (b - images.lowerBound) * hOut * wOut * c
            for ty in 0..<tilesH {
                for tx in 0..<tilesW {
                    let s = m + tile * c
                    let oy = 2 * ty, ox = 2 * tx
                    let has01 = ox + 1 < wOut, has10 = oy + 1 < hOut
                    let y00 = img + (oy * wOut + ox) * c
                    @inline(__always) func ld(_ e: Int, _ ch: Int) -> V8 { UnsafeRawPointer(s + e * plane + ch).loadUnaligned(as: V8.self) }
                    @inline(__always) func st(_ p: UnsafeMutablePointer<Float>, _ x: V8) { UnsafeMutableRawPointer(p).storeBytes(of: x, as: V8.self) }
                    var ch = 0
                    while ch + 8 <= c {
                        let a0 = ld(0, ch) + ld(4, ch) + ld(8, ch), a1 = ld(1, ch) + ld(5, ch) + ld(9, ch)
                        let a2 = ld(2, ch) + ld(6, ch) + ld(10, ch), a3 = ld(3, ch) + ld(7, ch) + ld(11, ch)
                        let b0 = ld(4, ch) - ld(8, ch) - ld(12, ch), b1 = ld(5, ch) - ld(9, ch) - ld(13, ch)
                        let b2 = ld(6, ch) - ld(10, ch) - ld(14, ch), b3 = ld(7, ch) - ld(11, ch) - ld(15, ch)
                        let bb = bias.map { UnsafeRawPointer($0 + ch).loadUnaligned(as: V8.self) } ?? V8(repeating: 0)
                        st(y00 + ch, a0 + a1 + a2 + bb)
                        if has01 { st(y00 + c + ch, a1 - a2 - a3 + bb) }
                        if has10 {
                            st(y00 + wOut * c + ch, b0 + b1 + b2 + bb)
                            if has01 { st(y00 + (wOut + 1) * c + ch, b1 - b2 - b3 + bb) }
                        }
                        ch += 8
                    }
                    while ch < c {
                        let m00 = s[ch], m01 = s[plane + ch], m02 = s[2 * plane + ch], m03 = s[3 * plane + ch]
                        let m10 = s[4 * plane + ch], m11 = s[5 * plane + ch], m12 = s[6 * plane + ch], m13 = s[7 * plane + ch]
                        let m20 = s[8 * plane + ch], m21 = s[9 * plane + ch], m22 = s[10 * plane + ch], m23 = s[11 * plane + ch]
                        let m30 = s[12 * plane + ch], m31 = s[13 * plane + ch], m32 = s[14 * plane + ch], m33 = s[15 * plane + ch]
                        let a0 = m00 + m10 + m20, a1 = m01 + m11 + m21, a2 = m02 + m12 + m22, a3 = m03 + m13 + m23
                        let b0 = m10 - m20 - m30, b1 = m11 - m21 - m31, b2 = m12 - m22 - m32, b3 = m13 - m23 - m33
                        let bb = bias?[ch] ?? 0
                        y00[ch] = a0 + a1 + a2 + bb
                        if has01 { y00[c + ch] = a1 - a2 - a3 + bb }
                        if has10 {
                            y00[wOut * c + ch] = b0 + b1 + b2 + bb
                            if has01 { y00[(wOut + 1) * c + ch] = b1 - b2 - b3 + bb }
                        }
                        ch += 1
                    }
                    tile += 1
                }
            }
        }
    }

    /// A dy A^T of each tile's 2x2 output gradient (zeros beyond hOut x wOut).
    static func transformGradient(_ dy: UnsafePointer<Float>, images: Range<Int>, hOut: Int, wOut: Int, c: Int,
                                  tilesH: Int, tilesW: Int, zero: UnsafePointer<Float>,
                                  into z: UnsafeMutablePointer<Float>, tiles p: Int) {
        var tile = 0
        let plane = p * c
        for b in images {
            let img = dy + b * hOut * wOut * c
            for ty in 0..<tilesH {
                for tx in 0..<tilesW {
                    let oy = 2 * ty, ox = 2 * tx
                    let g00 = img + (oy * wOut + ox) * c
                    let g01 = ox + 1 < wOut ? g00 + c : zero
                    let g10 = oy + 1 < hOut ? g00 + wOut * c : zero
                    let g11 = (ox + 1 < wOut && oy + 1 < hOut) ? g00 + (wOut + 1) * c : zero
                    let o = z + tile * c
                    @inline(__always) func ld(_ p: UnsafePointer<Float>, _ ch: Int) -> V8 { UnsafeRawPointer(p + ch).loadUnaligned(as: V8.self) }
                    @inline(__always) func st(_ e: Int, _ ch: Int, _ x: V8) { UnsafeMutableRawPointer(o + e * plane + ch).storeBytes(of: x, as: V8.self) }
                    var ch = 0
                    while ch + 8 <= c {
                        let y00 = ld(g00, ch), y01 = ld(g01, ch), y10 = ld(g10, ch), y11 = ld(g11, ch)
                        let a1 = y00 + y10, b1 = y01 + y11, a2 = y00 - y10, b2 = y01 - y11
                        st(0, ch, y00); st(1, ch, y00 + y01); st(2, ch, y00 - y01); st(3, ch, -y01)
                        st(4, ch, a1); st(5, ch, a1 + b1); st(6, ch, a1 - b1); st(7, ch, -b1)
                        st(8, ch, a2); st(9, ch, a2 + b2); st(10, ch, a2 - b2); st(11, ch, -b2)
                        st(12, ch, -y10); st(13, ch, -y10 - y11); st(14, ch, y11 - y10); st(15, ch, y11)
                        ch += 8
                    }
                    while ch < c {
                        let y00 = g00[ch], y01 = g01[ch], y10 = g10[ch], y11 = g11[ch]
                        let a1 = y00 + y10, b1 = y01 + y11, a2 = y00 - y10, b2 = y01 - y11
                        o[ch] = y00; o[plane + ch] = y00 + y01; o[2 * plane + ch] = y00 - y01; o[3 * plane + ch] = -y01
                        o[4 * plane + ch] = a1; o[5 * plane + ch] = a1 + b1; o[6 * plane + ch] = a1 - b1; o[7 * plane + ch] = -b1
                        o[8 * plane + ch] = a2; o[9 * plane + ch] = a2 + b2; o[10 * plane + ch] = a2 - b2; o[11 * plane + ch] = -b2
                        o[12 * plane + ch] = -y10; o[13 * plane + ch] = -y10 - y11; o[14 * plane + ch] = y11 - y10; o[15 * plane + ch] = y11
                        ch += 1
                    }
                    tile += 1
                }
            }
        }
    }

    /// dW[cout][cin][3][3] += G^T dU G, from dU[16][cin][cout].
    static func accumulateKernelGradient(_ du: UnsafePointer<Float>, cin: Int, cout: Int, into gw: UnsafeMutablePointer<Float>) {
        let plane = cin * cout
        for ci in 0..<cin {
            for co in 0..<cout {
                let s = du + ci * cout + co
                let out = gw + (co * cin + ci) * 9
                // t = G^T s (3x4), rows of G^T: [1, .5, .5, 0], [0, .5, -.5, 0], [0, .5, .5, 1]; then t G.
                for i in 0..<3 {
                    @inline(__always) func t(_ j: Int) -> Float {
                        let a = s[j * plane], b = s[(4 + j) * plane], c = s[(8 + j) * plane], d = s[(12 + j) * plane]
                        switch i {
                        case 0: return a + 0.5 * (b + c)
                        case 1: return 0.5 * (b - c)
                        default: return 0.5 * (b + c) + d
                        }
                    }
                    let a = t(0), b = t(1), c = t(2), d = t(3)
                    out[3 * i] += a + 0.5 * (b + c)
                    out[3 * i + 1] += 0.5 * (b - c)
                    out[3 * i + 2] += 0.5 * (b + c) + d
                }
            }
        }
    }
}

extension Conv2d {
    /// Winograd applies to 3x3 stride-1 kernels with enough channels for the 16 GEMMs to pay.
    var winogradEligible: Bool { k == 3 && stride == 1 && padding <= 2 && min(cin, cout) >= Conv2d.winogradMinChannels }

    var usesWinograd: Bool {
        guard k == 3 && stride == 1 && padding <= 2 else { return false }
        return winograd ?? winogradEligible
    }

    /// Tiles per image and images per chunk.
    func winogradChunk(_ hOut: Int, _ wOut: Int) -> (tilesH: Int, tilesW: Int, per: Int) {
        let th = (hOut + 1) / 2, tw = (wOut + 1) / 2
        return (th, tw, max(1, Conv2d.chunkTiles(elements: 16, cin: cin, cout: cout) / (th * tw)))
    }

    /// out[n][hOut][wOut][co] = sum over a 3x3 window (offset -pad) of x[n][hIn][wIn][ci] with
    /// the transformed kernel u[16][ci][co].
    /// With `keep`, the transformed input is written there (chunk by chunk, at 16 * first tile
    /// * ci) for the weight gradient to reuse. With `sink`, out is not written: each chunk goes
    /// through the sink's max-pool instead.
    func winogradConvolve(_ x: UnsafePointer<Float>, n: Int, hIn: Int, wIn: Int, ci: Int,
                          _ u: UnsafePointer<Float>, co: Int, pad: Int, bias: UnsafePointer<Float>?,
                          into out: UnsafeMutablePointer<Float>?, hOut: Int, wOut: Int,
                          keep: UnsafeMutablePointer<Float>? = nil, sink: PoolSink? = nil) throws(TensorError) {
        let (th, tw, most) = winogradChunk(hOut, wOut)
        let (per, chunks) = Threads.evenChunks(n, atMost: most)
        let threads = Threads.workers(chunks)
        try ensureScratch(threads, tiles: per * th * tw, cin: max(ci, co), cout: max(ci, co))
        // `most`, not `per`: winogradChunks evens it out itself, as the weight gradient does.
        try winogradChunks(n: n, per: most, tilesPerImage: th * tw, elements: 16, ci: ci, co: co, u: u, keep: keep,
                           sink: sink, out: out, outPerImage: hOut * wOut * co) { images, zero, v, p in
            Winograd.transformInput(x, images: images, hIn: hIn, wIn: wIn, c: ci, tilesH: th, tilesW: tw,
                                    pad: pad, zero: zero, into: v, tiles: p)
        } output: { m, p, images, y in
            Winograd.transformOutput(m, tiles: p, images: images, hOut: hOut, wOut: wOut, c: co,
                                     tilesH: th, tilesW: tw, bias: bias, into: y)
        }
    }

    /// The chunk loop of every Winograd convolution: each thread takes its images `per` at a
    /// time, transforms their tiles (`input(images, zero, v, tiles)`), multiplies each of the
    /// `elements` planes by the transformed kernel u [elements][ci][co], and transforms the
    /// products back (`output(m, tiles, images, y)`, y being the first image's output) into
    /// out, or into the thread's chunk buffer of the sink, pooled from there. With `keep`, the
    /// transformed inputs go there (at elements * first tile * ci) instead of the scratch.
    func winogradChunks(n: Int, per: Int, tilesPerImage: Int, elements: Int, ci: Int, co: Int, u: UnsafePointer<Float>,
                        keep: UnsafeMutablePointer<Float>?, sink: PoolSink?, out: UnsafeMutablePointer<Float>?, outPerImage: Int,
                        input: (Range<Int>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void,
                        output: (UnsafePointer<Float>, Int, Range<Int>, UnsafeMutablePointer<Float>) -> Void) throws(TensorError) {
        // Chunks of `per` images from the first, whatever the thread count (the same products;
        // and the weight gradient finds the kept transformed inputs at the same places).
        // `per` is the most images a chunk may hold; the chunks are evenChunks(n, per) (the
        // training forward's also lay out the kept transformed inputs for the weight gradient).
        let (per, chunks) = Threads.evenChunks(n, atMost: per)
        try sink?.ensure(Threads.workers(chunks), floats: per * outPerImage)
        Threads.forEachPart(chunks) { chunk, t in
            let s = self.scratch[t]
            let m = s.m!.data
            let (b0, b1) = Threads.range(chunk, of: n, parts: chunks)
            s.zero.withUnsafeBufferPointer { zp in
                do {
                    let nb = b1 - b0
                    let p = nb * tilesPerImage
                    let images = b0..<(b0 + nb)
                    let v = keep.map { $0 + elements * b0 * tilesPerImage * ci } ?? s.v!.data
                    input(images, zp.baseAddress!, v, p)
                    for e in 0..<elements {
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(p), Int32(co), Int32(ci),
                                    1, v + e * p * ci, Int32(ci), u + e * ci * co, Int32(co), 0, m + e * p * co, Int32(co))
                    }
                    output(m, p, images, sink?.chunk(t) ?? out! + b0 * outPerImage)
                    if sink == nil, let e = self.epilogue { e(out! + b0 * outPerImage, nb * outPerImage / co) }
                    sink?.drain(t, images: images)
                }
            }
        }
    }

    func ensureScratch(_ threads: Int, tiles: Int, cin: Int, cout: Int) throws(TensorError) {
        while scratch.count < threads { scratch.append(WinogradScratch()) }
        for t in 0..<threads { try scratch[t].ensure(tiles, cin, cout) }
    }

    /// out [n, hOut, wOut, cout] (nil with a sink): in evaluation and training by the tile
    /// `evaluationTile` or `trainingTile` picks for the output size.
    func winogradForward(_ x: Tensor, out: UnsafeMutablePointer<Float>?, hOut: Int, wOut: Int, training: Bool,
                         sink: PoolSink?) throws(TensorError) {
        switch (training ? trainingTile(hOut, wOut) : evaluationTile(hOut, wOut), training) {
        case (4, false): return try winogradEvalForward(Tile4.self, x, out: out, hOut: hOut, wOut: wOut, sink: sink)
        case (6, false): return try winogradEvalForward(Tile6.self, x, out: out, hOut: hOut, wOut: wOut, sink: sink)
        case (4, true): return try winogradTrainForward(Tile4.self, x, out: out, hOut: hOut, wOut: wOut)
        case (6, true): return try winogradTrainForward(Tile6.self, x, out: out, hOut: hOut, wOut: wOut)
        default: break
        }
        let (n, h, w) = (x.shape[0], x.shape[1], x.shape[2])
        let u: Tensor
        if training {
            u = try Buffers.reuse(winogradKernel, [16, cin, cout])
            winogradKernel = u
            Winograd.transformKernel(weight.value.data, cin: cin, cout: cout, flipped: false, into: u.data)
        } else {
            u = try evaluationKernel(tile: 2) { w, u, inputs in
                Winograd.transformKernel(w, cin: self.cin, cout: self.cout, flipped: false, rows: inputs, into: u)
            }
        }
        var keep: Tensor?
        if training {
            let (th, tw, _) = winogradChunk(hOut, wOut)
            keep = try Buffers.reuse(transformedInput, [16 * n * th * tw * cin])
            trainedTile = 2
        }
        transformedInput = keep
        try winogradConvolve(x.data, n: n, hIn: h, wIn: w, ci: cin, u.data, co: cout, pad: padding,
                             bias: bias?.value.data, into: out, hOut: hOut, wOut: wOut, keep: keep?.data, sink: sink)
    }

    /// Input gradient (a convolution of dy with the turned kernel, padding 2 - pad) and weight
    /// and bias gradients.
    func winogradBackward(_ x: Tensor, _ dy: Tensor, dx: Tensor?) throws(TensorError) {
        if let dx { try winogradInputGradient(dy, dx: dx) }
        switch trainedTile {
        case 4: return try winogradWeightGradient(Tile4.self, x, dy)
        case 6: return try winogradWeightGradient(Tile6.self, x, dy)
        default: break
        }
        let n = x.shape[0]
        let (ho, wo) = (dy.shape[1], dy.shape[2])
        // Weight gradient: dU[16][cin][cout] = sum over tiles V^T Z: each chunk of images into a
        // worker's partial, the partials added in chunk order (the same sum for any thread count).
        // The forward's chunks (the kept transformed inputs are laid out by them).
        let (th, tw, most) = winogradChunk(ho, wo)
        let (per, chunks) = Threads.evenChunks(n, atMost: most)
        let threads = Threads.workers(chunks)
        try ensureScratch(threads, tiles: per * th * tw, cin: max(cin, cout), cout: max(cin, cout))
        let sums = try gradientSums(floats: 16 * cin * cout, chunks: chunks)
        let (cin, cout) = (self.cin, self.cout)
        guard let kept = transformedInput, kept.count == 16 * n * th * tw * cin else {
            throw TensorError(.value, "\(name): backward without a training forward")
        }
        Threads.forEachPart(chunks) { chunk, t in
            let s = self.scratch[t]
            let z = s.m!.data, du = sums.partial(t)
            let (b0, b1) = Threads.range(chunk, of: n, parts: chunks)
            let nb = b1 - b0
            sums.begin(worker: t)
            sums.addBias(dy.data, rows: (b0 * ho * wo)..<(b1 * ho * wo), worker: t)
            s.zero.withUnsafeBufferPointer { zp in
                let p = nb * th * tw
                let v = kept.data + 16 * b0 * th * tw * cin   // written by the training forward
                Winograd.transformGradient(dy.data, images: b0..<(b0 + nb), hOut: ho, wOut: wo, c: cout,
                                           tilesH: th, tilesW: tw, zero: zp.baseAddress!, into: z, tiles: p)
                for e in 0..<16 {
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(cin), Int32(cout), Int32(p),
                                1, v + e * p * cin, Int32(cin), z + e * p * cout, Int32(cout), 0, du + e * cin * cout, Int32(cout))
                }
            }
            sums.add(chunk: chunk, worker: t)
        }
        Winograd.accumulateKernelGradient(sums.total.data, cin: cin, cout: cout, into: weight.grad.data)
        if let bias { for c in 0..<cout { bias.grad.data[c] += Float(sums.biasTotal[c]) } }
    }
}
