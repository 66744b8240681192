// Winograd F(m x m, 3x3) for evaluation, m = 4 or 6: each m x m output tile comes from an
// n x n input tile (n = m + 2) with n^2 products per channel pair, done as n^2 GEMMs over the
// tiles of a chunk (F(2x2) needs 4 products per output, F(4x4) 2.25, F(6x6) 1.78, direct 9).
// Training uses F(4x4) too (WinogradTrain.swift).
// In evaluation each layer takes the tile size that needs the fewest GEMM products for its
// output size (`Conv2d.evaluationTile`): FashionNet's conv3 (7x7) takes F(4x4), conv4
// (cropped to 6x6: one tile) F(6x6), conv2 (14x14) stays with F(2x2).
// The matrices are Cook-Toom's for the points 0, ±1, ±2 (F(4x4)) and 0, ±1, ±2, ±1/2 (F(6x6)),
// plus infinity, as in Lavin & Gray (2016) and NNPACK; the tests check both against im2col.
import COpenBLAS
import Foundation
import LesionTensor

typealias V8 = SIMD8<Float>

/// The three transforms of one tile size, each on one line of a tile (8 channels at a time).
protocol EvaluationTile {
    /// Output tile side m, for an r x r kernel; the input tile side is n = m + r - 1.
    static var m: Int { get }
    static var r: Int { get }
    /// (G g) for one column g[0], g[st], ... of an r x r kernel: n values into o.
    static func kernel(_ g: UnsafePointer<V8>, _ st: Int, _ o: UnsafeMutablePointer<V8>)
    /// B^T d on the n values s[0], s[st], ...; results to o[0], o[ost], ...
    static func input(_ s: UnsafePointer<V8>, _ st: Int, _ o: UnsafeMutablePointer<V8>, _ ost: Int)
    /// A^T x: n values in, m out.
    static func output(_ s: UnsafePointer<V8>, _ st: Int, _ o: UnsafeMutablePointer<V8>, _ ost: Int)
}

extension EvaluationTile {
    static var r: Int { 3 }
    static var n: Int { m + r - 1 }
}

/// F(4x4, 3x3):
///   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
///   G   = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
///   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
enum Tile4: EvaluationTile {
    static var m: Int { 4 }

    @inline(__always) static func kernel(_ g: UnsafePointer<V8>, _ st: Int, _ o: UnsafeMutablePointer<V8>) {
        let (a, b, c) = (g[0], g[st], g[2 * st])
        o[0] = a / 4; o[1] = -(a + b + c) / 6; o[2] = -(a - b + c) / 6
        o[3] = a / 24 + b / 12 + c / 6; o[4] = a / 24 - b / 12 + c / 6; o[5] = c
    }

    @inline(__always) static func input(_ s: UnsafePointer<V8>, _ st: Int, _ o: UnsafeMutablePointer<V8>, _ ost: Int) {
        let (d0, d1, d2, d3, d4, d5) = (s[0], s[st], s[2 * st], s[3 * st], s[4 * st], s[5 * st])
        let a = d4 - 4 * d2, b = d3 - 4 * d1, c = d4 - d2, e = 2 * (d3 - d1)
        o[0] = 4 * d0 - 5 * d2 + d4; o[ost] = a + b; o[2 * ost] = a - b
        o[3 * ost] = c + e; o[4 * ost] = c - e; o[5 * ost] = 4 * d1 - 5 * d3 + d5
    }

    @inline(__always) static func output(_ s: UnsafePointer<V8>, _ st: Int, _ o: UnsafeMutablePointer<V8>, _ ost: Int) {
        let (m0, m1, m2, m3, m4, m5) = (s[0], s[st], s[2 * st], s[3 * st], s[4 * st], s[5 * st])
        let p = m1 + m2, q = m1 - m2, r = m3 + m4, t = m3 - m4
        o[0] = m0 + p + r; o[ost] = q + 2 * t; o[2 * ost] = p + 4 * r; o[3 * ost] = q + 8 * t + m5
    }
}

/// F(6x6, 3x3), points 0, 1, -1, 2, -2, 1/2, -1/2, infinity:
///   B^T = [1 0 -21/4 0 21/4 0 -1 0; 0 1 1 -17/4 -17/4 1 1 0; 0 -1 1 17/4 -17/4 -1 1 0;
///          0 1/2 1/4 -5/2 -5/4 2 1 0; 0 -1/2 1/4 5/2 -5/4 -2 1 0; 0 2 4 -5/2 -5 1/2 1 0;
///          0 -2 4 5/2 -5 -1/2 1 0; 0 -1 0 21/4 0 -21/4 0 1]
///   G   = [1 0 0; -2/9 -2/9 -2/9; -2/9 2/9 -2/9; 1/90 1/45 2/45; 1/90 -1/45 2/45;
///          32/45 16/45 8/45; 32/45 -16/45 8/45; 0 0 1]
///   A^T = row i: [0^i, 1, (-1)^i, 2^i, (-2)^i, (1/2)^i, (-1/2)^i, (i == 5 ? 1 : 0)]
enum Tile6: EvaluationTile {
    static var m: Int { 6 }

    @inline(__always) static func kernel(_ g: UnsafePointer<V8>, _ st: Int, _ o: UnsafeMutablePointer<V8>) {
        let (a, b, c) = (g[0], g[st], g[2 * st])
        let ac = a + c
        let p1: V8 = ac + b, p2: V8 = ac - b
        o[0] = a; o[1] = -2 * p1 / 9; o[2] = -2 * p2 / 9
        let q0: V8 = a / 90 + 2 * c / 45, q1: V8 = b / 45
        o[3] = q0 + q1; o[4] = q0 - q1
        let r0: V8 = 32 * a / 45 + 8 * c / 45, r1: V8 = 16 * b / 45
        o[5] = r0 + r1; o[6] = r0 - r1; o[7] = c
    }

    @inline(__always) static func input(_ s: UnsafePointer<V8>, _ st: Int, _ o: UnsafeMutablePointer<V8>, _ ost: Int) {
        let (d0, d1, d2, d3) = (s[0], s[st], s[2 * st], s[3 * st])
        let (d4, d5, d6, d7) = (s[4 * st], s[5 * st], s[6 * st], s[7 * st])
        let t1 = d2 + d6 - 4.25 * d4, t2 = d1 + d5 - 4.25 * d3
        let t3 = d6 + 0.25 * d2 - 1.25 * d4, t4 = 0.5 * d1 - 2.5 * d3 + 2 * d5
        let t5 = d6 + 4 * d2 - 5 * d4, t6 = 2 * d1 - 2.5 * d3 + 0.5 * d5
        o[0] = d0 - d6 + 5.25 * (d4 - d2)
        o[ost] = t1 + t2; o[2 * ost] = t1 - t2
        o[3 * ost] = t3 + t4; o[4 * ost] = t3 - t4
        o[5 * ost] = t5 + t6; o[6 * ost] = t5 - t6
        o[7 * ost] = d7 - d1 + 5.25 * (d3 - d5)
    }

    /// The sums of the eight values that A^T of these points combines (shared with F(4x4, 5x5)):
    /// m0, m7, and the sums a, c, e and differences b, d, f of the pairs at ±1, ±2, ±1/2.
    @inline(__always) static func pairs(_ s: UnsafePointer<V8>, _ st: Int) -> (V8, V8, V8, V8, V8, V8, V8, V8) {
        let (m0, m1, m2, m3) = (s[0], s[st], s[2 * st], s[3 * st])
        let (m4, m5, m6, m7) = (s[4 * st], s[5 * st], s[6 * st], s[7 * st])
        return (m0, m7, m1 + m2, m1 - m2, m3 + m4, m3 - m4, m5 + m6, m5 - m6)
    }

    @inline(__always) static func output(_ s: UnsafePointer<V8>, _ st: Int, _ o: UnsafeMutablePointer<V8>, _ ost: Int) {
        let (m0, m7, a, b, c, d, e, f) = pairs(s, st)
        o[0] = m0 + a + c + e
        o[ost] = b + 2 * d + 0.5 * f
        o[2 * ost] = a + 4 * c + 0.25 * e
        o[3 * ost] = b + 8 * d + 0.125 * f
        o[4 * ost] = a + 16 * c + 0.0625 * e
        o[5 * ost] = b + 32 * d + 0.03125 * f + m7
    }
}

/// F(4x4, 5x5) on the points of F(6x6, 3x3) (so the same B^T and an 8 x 8 input tile):
///   G   = row j: c_j (1, p_j, p_j^2, p_j^3, p_j^4), c = (1, -2/9, -2/9, 1/90, 1/90, 32/45, 32/45),
///         the row of infinity (0 0 0 0 1)
///   A^T = row i: [0^i, 1, (-1)^i, 2^i, (-2)^i, (1/2)^i, (-1/2)^i, (i == 3 ? 1 : 0)]
/// 4 products per output instead of 25: AlexNet's 5x5 convolution.
enum Tile4x5: EvaluationTile {
    static var m: Int { 4 }
    static var r: Int { 5 }

    @inline(__always) static func kernel(_ g: UnsafePointer<V8>, _ st: Int, _ o: UnsafeMutablePointer<V8>) {
        let (a, b, c, d, e) = (g[0], g[st], g[2 * st], g[3 * st], g[4 * st])
        let even1: V8 = a + c + e, odd1: V8 = b + d
        o[0] = a
        o[1] = -2 * (even1 + odd1) / 9; o[2] = -2 * (even1 - odd1) / 9
        let even2: V8 = a + 4 * c + 16 * e, odd2: V8 = 2 * b + 8 * d
        o[3] = (even2 + odd2) / 90; o[4] = (even2 - odd2) / 90
        let even3: V8 = 16 * a + 4 * c + e, odd3: V8 = 8 * b + 2 * d
        o[5] = 2 * (even3 + odd3) / 45; o[6] = 2 * (even3 - odd3) / 45
        o[7] = e
    }

    @inline(__always) static func input(_ s: UnsafePointer<V8>, _ st: Int, _ o: UnsafeMutablePointer<V8>, _ ost: Int) {
        Tile6.input(s, st, o, ost)
    }

    @inline(__always) static func output(_ s: UnsafePointer<V8>, _ st: Int, _ o: UnsafeMutablePointer<V8>, _ ost: Int) {
        let (m0, m7, a, b, c, d, e, f) = Tile6.pairs(s, st)
        o[0] = m0 + a + c + e
        o[ost] = b + 2 * d + 0.5 * f
        o[2 * ost] = a + 4 * c + 0.25 * e
        o[3 * ost] = b + 8 * d + 0.125 * f + m7
    }
}

enum WinogradEval {
    /// GEMM products per channel pair for an hOut x wOut output with m x m tiles.
    static func products(tile m: Int, _ hOut: Int, _ wOut: Int) -> Int {
        (m + 2) * (m + 2) * ((hOut + m - 1) / m) * ((wOut + m - 1) / m)
    }

    /// The tile side for evaluation: the one of 2, 4, 6 with the fewest GEMM products, a larger
    /// tile only where it needs at least 1.5 times fewer than F(2x2) (below that its larger
    /// transforms and rounding error are not worth it: measured on conv2 at 14x14, 1.36 times
    /// fewer with F(4x4), no faster).
    static func bestTile(_ hOut: Int, _ wOut: Int, largest: Int = 6) -> Int {
        let base = products(tile: 2, hOut, wOut)
        var best = 2, fewest = base
        for m in [4, 6] where m <= largest {
            let p = products(tile: m, hOut, wOut)
            if p < fewest && 3 * p <= 2 * base { (best, fewest) = (m, p) }
        }
        return best
    }

    /// U[n*n][cin][cout] = G g G^T from w[cout][cin][r][r], for the input channels ci0 ..< ci1;
    /// 8 output channels at a time, so each of the n*n planes is written in runs of 8.
    static func transformKernel<T: EvaluationTile>(_: T.Type, _ w: UnsafePointer<Float>, cin: Int, cout: Int,
                                                   inputs: Range<Int>, into u: UnsafeMutablePointer<Float>) {
        let n = T.n, rr = T.r * T.r, plane = cin * cout
        // One input channel's kernels laid out by tap, output channels contiguous (zeros past
        // cout): 8 outputs of a tap are then one load, not eight inserts.
        let cp = (cout + 7) / 8 * 8
        withUnsafeTemporaryAllocation(of: Float.self, capacity: rr * cp) { tapBuffer in
            let taps = tapBuffer.baseAddress!
            taps.initialize(repeating: 0, count: rr * cp)
            withUnsafeTemporaryAllocation(of: V8.self, capacity: rr + T.r * n + n) { buf in
                let g = buf.baseAddress!, t = g + rr, r = t + T.r * n
                for ci in inputs {
                    for co in 0..<cout { let src = w + (co * cin + ci) * rr; for e in 0..<rr { taps[e * cp + co] = src[e] } }
                    var co = 0
                    while co < cout {
                        let k = min(8, cout - co)
                        for e in 0..<rr { g[e] = UnsafeRawPointer(taps + e * cp + co).loadUnaligned(as: V8.self) }
                        // Columns first: t[j * n + i] = (G g)[i][j]; then rows: (t G^T)[i][q].
                        for j in 0..<T.r { T.kernel(g + j, T.r, t + j * n) }
                        let o = u + ci * cout + co
                        for i in 0..<n {
                            T.kernel(t + i, n, r)
                            for q in 0..<n {
                                if k == 8 { UnsafeMutableRawPointer(o + (n * i + q) * plane).storeBytes(of: r[q], as: V8.self) }
                                else { for l in 0..<k { o[(n * i + q) * plane + l] = r[q][l] } }
                            }
                        }
                        co += k
                    }
                }
            }
        }
    }

    /// B^T d B of the n x n input tiles of a chunk: tile (ty, tx) reads rows m ty - pad ..< + n.
    /// Channels go 8 at a time; a last group of fewer than 8 is padded with zeros.
    static func transformInput<T: EvaluationTile>(_: T.Type, _ x: UnsafePointer<Float>, images: Range<Int>, hIn: Int, wIn: Int,
                                                  c: Int, tilesH: Int, tilesW: Int, pad: Int, zero: UnsafePointer<Float>,
                                                  into v: UnsafeMutablePointer<Float>, tiles p: Int) {
        let m = T.m, n = T.n, nn = n * n
        let plane = p * c
        var tile = 0
        withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: nn) { dp in
            withUnsafeTemporaryAllocation(of: V8.self, capacity: 2 * nn) { buf in
                let d = dp.baseAddress!, a = buf.baseAddress!, t = a + nn
                for b in images {
                    let img = x + b * hIn * wIn * c
                    for ty in 0..<tilesH {
                        for tx in 0..<tilesW {
                            Winograd.gatherTile(img, y0: m * ty - pad, x0: m * tx - pad, size: n, hIn: hIn, wIn: wIn, c: c,
                                                zero: zero, into: d)
                            let o = v + tile * c
                            var ch = 0
                            while ch < c {
                                let k = min(8, c - ch)
                                if k == 8 {
                                    for e in 0..<nn { a[e] = UnsafeRawPointer(d[e] + ch).loadUnaligned(as: V8.self) }
                                } else {
                                    for e in 0..<nn {
                                        var r = V8(repeating: 0)
                                        for l in 0..<k { r[l] = d[e][ch + l] }
                                        a[e] = r
                                    }
                                }
                                for j in 0..<n { T.input(a + j, n, t + j, n) }          // columns: B^T d
                                for i in 0..<n { T.input(t + n * i, 1, a + n * i, 1) }  // rows: (B^T d) B
                                if k == 8 {
                                    for e in 0..<nn { UnsafeMutableRawPointer(o + e * plane + ch).storeBytes(of: a[e], as: V8.self) }
                                } else {
                                    for e in 0..<nn { for l in 0..<k { o[e * plane + ch + l] = a[e][l] } }
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

    /// Y = A^T M A per tile, plus bias, written where the tile lies inside hOut x wOut; y is the
    /// output of the first of `images`.
    static func transformOutput<T: EvaluationTile>(_: T.Type, _ mp: UnsafePointer<Float>, tiles p: Int, images: Range<Int>,
                                                   hOut: Int, wOut: Int, c: Int, tilesH: Int, tilesW: Int,
                                                   bias: UnsafePointer<Float>?, into y: UnsafeMutablePointer<Float>) {
        let m = T.m, n = T.n, nn = n * n
        let plane = p * c
        var tile = 0
        withUnsafeTemporaryAllocation(of: V8.self, capacity: nn + m * n + m) { buf in
            let a = buf.baseAddress!, t = a + nn, r = t + m * n
            for b in images {
                let img = y + (b - images.lowerBound) * hOut * wOut * c
                for ty in 0..<tilesH {
                    for tx in 0..<tilesW {
                        let s = mp + tile * c
                        let oy = m * ty, ox = m * tx
                        let rows = min(m, hOut - oy), cols = min(m, wOut - ox)
                        var ch = 0
                        while ch < c {
                            let k = min(8, c - ch)
                            var bb = V8(repeating: 0)
                            if k == 8 {
                                for e in 0..<nn { a[e] = UnsafeRawPointer(s + e * plane + ch).loadUnaligned(as: V8.self) }
                                if let bias { bb = UnsafeRawPointer(bias + ch).loadUnaligned(as: V8.self) }
                            } else {
                                for e in 0..<nn {
                                    var v = V8(repeating: 0)
                                    for l in 0..<k { v[l] = s[e * plane + ch + l] }
                                    a[e] = v
                                }
                                if let bias { for l in 0..<k { bb[l] = bias[ch + l] } }
                            }
                            for j in 0..<n { T.output(a + j, n, t + j, n) }   // columns: t[i][j] = (A^T M)[i][j], m rows
                            for i in 0..<rows {
                                T.output(t + n * i, 1, r, 1)
                                let row = img + ((oy + i) * wOut + ox) * c + ch
                                if k == 8 {
                                    for q in 0..<cols { UnsafeMutableRawPointer(row + q * c).storeBytes(of: r[q] + bb, as: V8.self) }
                                } else {
                                    for q in 0..<cols { let val = r[q] + bb; for l in 0..<k { row[q * c + l] = val[l] } }
                                }
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

extension Conv2d {
    /// A 5x5 kernel at stride 1 in evaluation: F(4x4, 5x5) (WinogradEval.swift), on the same
    /// terms as 3x3 kernels (`winograd` forces it either way, else enough channels).
    var usesWinograd5x5: Bool {
        guard k == 5 && stride == 1 && padding <= 4 && groups == 1 else { return false }
        return winograd ?? (min(cin, cout) >= Conv2d.winogradMinChannels)
    }

    /// The Winograd output tile used in evaluation for an hOut x wOut output.
    func evaluationTile(_ hOut: Int, _ wOut: Int) -> Int { winogradTile ?? WinogradEval.bestTile(hOut, wOut) }

    /// The tile of a training forward (and of an input gradient) for an hOut x wOut output:
    /// F(2x2) or F(4x4), not F(6x6), and F(4x4) only from 64 channels. With F(6x6) the weight
    /// gradient's 64 products per channel pair have few tiles each (one per image at 6x6), and
    /// summing their partials costs more than the forward saves (FashionNet's conv4 at 6x6,
    /// batch 64: forward 2.0 ms against 2.4 with F(2x2), backward 7.4 against 6.4). With fewer
    /// channels the larger transforms outweigh the products saved (the small ResNet's 32
    /// channels at 7 x 7: a step 1.29 ms against 1.14; its 64 at 4 x 4: 1.24 against 1.40).
    func trainingTile(_ hOut: Int, _ wOut: Int) -> Int {
        winogradTile ?? (min(cin, cout) >= 64 ? WinogradEval.bestTile(hOut, wOut, largest: 4) : 2)
    }

    /// Forward without gradients by F(m x m, 3x3): n^2 GEMMs over the n x n tiles of a chunk,
    /// into out [n, hOut, wOut, cout], or with a sink through its max-pool.
    func winogradEvalForward<T: EvaluationTile>(_ tileType: T.Type, _ x: Tensor, out: UnsafeMutablePointer<Float>?,
                                                hOut: Int, wOut: Int, sink: PoolSink?) throws(TensorError) {
        let (n, hIn, wIn) = (x.shape[0], x.shape[1], x.shape[2])
        let u = try evaluationKernel(tile: T.m) { w, u, inputs in
            WinogradEval.transformKernel(T.self, w, cin: self.cin, cout: self.cout, inputs: inputs, into: u)
        }
        try winogradConvolve(T.self, x.data, n: n, hIn: hIn, wIn: wIn, ci: cin, u.data, co: cout, pad: padding,
                             bias: bias?.value.data, into: out, hOut: hOut, wOut: wOut, sink: sink)
    }

    /// A transformed kernel for evaluation (output tile side 2, 4 or 6; the layer's kernel side k), kept while the weights are
    /// unchanged: they are compared in full with the copy it was made from, since weights may
    /// change through any path (a script writing into them). `make(w, u, inputs)` transforms
    /// the input channels `inputs`; it runs split over the threads.
    func evaluationKernel(tile: Int, _ make: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Range<Int>) -> Void) throws(TensorError) -> Tensor {
        let nn = (tile + k - 1) * (tile + k - 1)
        let w = weight.value
        if let k = evalKernel, k.tile == tile, k.source.count == w.count,
           memcmp(k.source.data, w.data, w.count * MemoryLayout<Float>.size) == 0 {
            return k.u
        }
        let u = try Buffers.reuse(evalKernel?.u, [nn, cin, cout])
        let ci = cin
        Threads.parallelParts { t in
            let (lo, hi) = Threads.range(t, of: ci)
            make(w.data, u.data, lo..<hi)
        }
        let source = try Buffers.reuse(evalKernel?.source, w.shape)
        source.data.update(from: w.data, count: w.count)
        evalKernel = (tile, source, u)
        return u
    }

    /// Tiles per chunk of a Winograd convolution: its transformed inputs and products together
    /// (elements x tiles x (cin + cout) floats) fill about 2 MB, this machine kind's L2 cache
    /// (measured on FashionNet's conv3 and conv4: 10-25% faster than 512 tiles at any size).
    /// With many channels the kernel matrices (cin x cout per point) are large, and each product
    /// packs its kernel again: a chunk then needs enough tiles (M >= cin * cout / 2048, up to 256)
    /// to pay for that packing, even if it spills from L2 (512 x 512 channels: 16 -> 128 tiles).
    static func chunkTiles(elements: Int, cin: Int, cout: Int) -> Int {
        max(16, min(256, cin * cout / 2048), chunkFloats / (elements * (cin + cout)))
    }
}
