// Winograd F(4x4, 3x3) for evaluation: each 4x4 output tile from a 6x6 input tile with 36
// products per channel pair (2.25 per output instead of F(2x2)'s 4 and direct's 9), done as 36
// GEMMs. It is used without gradients only (training keeps F(2x2), whose transformed inputs the
// weight gradient reuses), and only where its tiles cover the output with less GEMM work
// (FashionNet: conv3 at 7x7; not conv2 at 14x14 nor conv4 cropped to 6x6).
//   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
//   G   = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
//   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
import COpenBLAS
import LesionTensor

enum Winograd4 {
    typealias V8 = SIMD8<Float>

    /// Whether F(4x4) needs at least 1.5 times fewer GEMM products than F(2x2) for an
    /// hOut x wOut output (below that its larger transforms and rounding error are not worth it:
    /// measured on conv2 at 14x14, 1.36 times fewer, no faster).
    static func pays(_ hOut: Int, _ wOut: Int) -> Bool {
        3 * 36 * ((hOut + 3) / 4) * ((wOut + 3) / 4) <= 2 * 16 * ((hOut + 1) / 2) * ((wOut + 1) / 2)
    }

    /// U[36][cin][cout] = G g G^T from w[cout][cin][3][3].
    static func transformKernel(_ w: UnsafePointer<Float>, cin: Int, cout: Int, into u: UnsafeMutablePointer<Float>) {
        let plane = cin * cout
        @inline(__always) func g6(_ a: Float, _ b: Float, _ c: Float) -> (Float, Float, Float, Float, Float, Float) {
            (a / 4, -(a + b + c) / 6, -(a - b + c) / 6, a / 24 + b / 12 + c / 6, a / 24 - b / 12 + c / 6, c)
        }
        for co in 0..<cout {
            for ci in 0..<cin {
                let s = w + (co * cin + ci) * 9
                // Columns first: t[i][j] = (G g)[i][j], then rows: u[i][k] = (t G^T)[i][k].
                let c0 = g6(s[0], s[3], s[6]), c1 = g6(s[1], s[4], s[7]), c2 = g6(s[2], s[5], s[8])
                let o = u + ci * cout + co
                @inline(__always) func row(_ i: Int, _ a: Float, _ b: Float, _ c: Float) {
                    let e = g6(a, b, c)
                    o[(6 * i) * plane] = e.0; o[(6 * i + 1) * plane] = e.1; o[(6 * i + 2) * plane] = e.2
                    o[(6 * i + 3) * plane] = e.3; o[(6 * i + 4) * plane] = e.4; o[(6 * i + 5) * plane] = e.5
                }
                row(0, c0.0, c1.0, c2.0); row(1, c0.1, c1.1, c2.1); row(2, c0.2, c1.2, c2.2)
                row(3, c0.3, c1.3, c2.3); row(4, c0.4, c1.4, c2.4); row(5, c0.5, c1.5, c2.5)
            }
        }
    }

    @inline(__always) static func bt(_ d0: V8, _ d1: V8, _ d2: V8, _ d3: V8, _ d4: V8, _ d5: V8) -> (V8, V8, V8, V8, V8, V8) {
        let a = d4 - 4 * d2, b = d3 - 4 * d1, c = d4 - d2, e = 2 * (d3 - d1)
        return (4 * d0 - 5 * d2 + d4, a + b, a - b, c + e, c - e, 4 * d1 - 5 * d3 + d5)
    }

    @inline(__always) static func at(_ m0: V8, _ m1: V8, _ m2: V8, _ m3: V8, _ m4: V8, _ m5: V8) -> (V8, V8, V8, V8) {
        let p = m1 + m2, q = m1 - m2, r = m3 + m4, s = m3 - m4
        return (m0 + p + r, q + 2 * s, p + 4 * r, q + 8 * s + m5)
    }

    /// B^T d B of the 6x6 input tiles of a chunk: tile (ty, tx) reads rows 4ty - pad ..< +6.
    /// Channels go 8 at a time; a last group of fewer than 8 is padded with zeros.
    static func transformInput(_ x: UnsafePointer<Float>, images: Range<Int>, hIn: Int, wIn: Int, c: Int,
                               tilesH: Int, tilesW: Int, pad: Int, zero: UnsafePointer<Float>,
                               into v: UnsafeMutablePointer<Float>, tiles p: Int) {
        let plane = p * c
        var tile = 0
        withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: 36) { d in
            withUnsafeTemporaryAllocation(of: V8.self, capacity: 36) { t in
                for b in images {
                    let img = x + b * hIn * wIn * c
                    for ty in 0..<tilesH {
                        for tx in 0..<tilesW {
                            Winograd.gatherTile(img, y0: 4 * ty - pad, x0: 4 * tx - pad, size: 6, hIn: hIn, wIn: wIn, c: c,
                                                zero: zero, into: d.baseAddress!)
                            let o = v + tile * c
                            var ch = 0
                            while ch < c {
                                let n = min(8, c - ch)
                                @inline(__always) func ld(_ k: Int) -> V8 {
                                    if n == 8 { return UnsafeRawPointer(d[k] + ch).loadUnaligned(as: V8.self) }
                                    var r = V8(repeating: 0)
                                    for l in 0..<n { r[l] = d[k][ch + l] }
                                    return r
                                }
                                @inline(__always) func st(_ e: Int, _ val: V8) {
                                    if n == 8 { UnsafeMutableRawPointer(o + e * plane + ch).storeBytes(of: val, as: V8.self); return }
                                    for l in 0..<n { o[e * plane + ch + l] = val[l] }
                                }
                                // Columns: t[i][j] = (B^T d)[i][j].
                                for j in 0..<6 {
                                    let r = bt(ld(j), ld(6 + j), ld(12 + j), ld(18 + j), ld(24 + j), ld(30 + j))
                                    t[j] = r.0; t[6 + j] = r.1; t[12 + j] = r.2; t[18 + j] = r.3; t[24 + j] = r.4; t[30 + j] = r.5
                                }
                                // Rows: (t B)[i][k].
                                for i in 0..<6 {
                                    let r = bt(t[6 * i], t[6 * i + 1], t[6 * i + 2], t[6 * i + 3], t[6 * i + 4], t[6 * i + 5])
                                    st(6 * i, r.0); st(6 * i + 1, r.1); st(6 * i + 2, r.2); st(6 * i + 3, r.3); st(6 * i + 4, r.4); st(6 * i + 5, r.5)
                                }
                                ch += n
                            }
                            tile += 1
                        }
                    }
                }
            }
        }
    }

    /// Y = A^T m A per tile, plus bias, written where the tile lies inside hOut x wOut.
    static func transformOutput(_ m: UnsafePointer<Float>, tiles p: Int, images: Range<Int>, hOut: Int, wOut: Int, c: Int,
                                tilesH: Int, tilesW: Int, bias: UnsafePointer<Float>?, into y: UnsafeMutablePointer<Float>) {
        let plane = p * c
        var tile = 0
        withUnsafeTemporaryAllocation(of: V8.self, capacity: 24) { t in
            for b in images {
                let img = y + b * hOut * wOut * c
                for ty in 0..<tilesH {
                    for tx in 0..<tilesW {
                        let s = m + tile * c
                        let oy = 4 * ty, ox = 4 * tx
                        let rows = min(4, hOut - oy), cols = min(4, wOut - ox)
                        var ch = 0
                        while ch < c {
                            let n = min(8, c - ch)
                            @inline(__always) func ld(_ e: Int) -> V8 {
                                if n == 8 { return UnsafeRawPointer(s + e * plane + ch).loadUnaligned(as: V8.self) }
                                var r = V8(repeating: 0)
                                for l in 0..<n { r[l] = s[e * plane + ch + l] }
                                return r
                            }
                            var bb = V8(repeating: 0)
                            if let bias { for l in 0..<n { bb[l] = bias[ch + l] } }
                            // Columns: t[i][j] = (A^T m)[i][j] for the 6 columns j.
                            for j in 0..<6 {
                                let r = at(ld(j), ld(6 + j), ld(12 + j), ld(18 + j), ld(24 + j), ld(30 + j))
                                t[j] = r.0; t[6 + j] = r.1; t[12 + j] = r.2; t[18 + j] = r.3
                            }
                            for i in 0..<rows {
                                let r = at(t[6 * i], t[6 * i + 1], t[6 * i + 2], t[6 * i + 3], t[6 * i + 4], t[6 * i + 5])
                                let row = img + ((oy + i) * wOut + ox) * c + ch
                                @inline(__always) func put(_ k: Int, _ val: V8) {
                                    if n == 8 { UnsafeMutableRawPointer(row + k * c).storeBytes(of: val, as: V8.self) }
                                    else { for l in 0..<n { row[k * c + l] = val[l] } }
                                }
                                put(0, r.0 + bb)
                                if cols > 1 { put(1, r.1 + bb) }
                                if cols > 2 { put(2, r.2 + bb) }
                                if cols > 3 { put(3, r.3 + bb) }
                            }
                            ch += n
                        }
                        tile += 1
                    }
                }
            }
        }
    }
}

extension Conv2d {
    /// Forward without gradients by F(4x4, 3x3): 36 GEMMs over the 6x6 tiles of a chunk.
    func winograd4Forward(_ x: Tensor, out: Tensor) throws(TensorError) {
        let (n, hIn, wIn) = (x.shape[0], x.shape[1], x.shape[2])
        let (hOut, wOut) = (out.shape[1], out.shape[2])
        let u = try Buffers.reuse(winogradKernel4, [36, cin, cout])
        winogradKernel4 = u
        Winograd4.transformKernel(weight.value.data, cin: cin, cout: cout, into: u.data)
        let th = (hOut + 3) / 4, tw = (wOut + 3) / 4
        let per = max(1, 512 / (th * tw))
        let threads = Threads.count
        while scratch.count < threads { scratch.append(WinogradScratch()) }
        for t in 0..<threads { try scratch[t].ensure(per * th * tw, cin, cout, elements: 36) }
        let (ci, co, pad) = (cin, cout, padding)
        let bias = self.bias?.value.data
        Threads.parallelParts { t in
            let s = self.scratch[t]
            let v = s.v!.data, m = s.m!.data
            let (lo, hi) = Threads.range(t, of: n)
            var b0 = lo
            s.zero.withUnsafeBufferPointer { zp in
                while b0 < hi {
                    let nb = min(per, hi - b0)
                    let p = nb * th * tw
                    Winograd4.transformInput(x.data, images: b0..<(b0 + nb), hIn: hIn, wIn: wIn, c: ci, tilesH: th, tilesW: tw,
                                             pad: pad, zero: zp.baseAddress!, into: v, tiles: p)
                    for e in 0..<36 {
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(p), Int32(co), Int32(ci),
                                    1, v + e * p * ci, Int32(ci), u.data + e * ci * co, Int32(co), 0, m + e * p * co, Int32(co))
                    }
                    Winograd4.transformOutput(m, tiles: p, images: b0..<(b0 + nb), hOut: hOut, wOut: wOut, c: co,
                                              tilesH: th, tilesW: tw, bias: bias, into: out.data)
                    b0 += nb
                }
            }
        }
    }
}
