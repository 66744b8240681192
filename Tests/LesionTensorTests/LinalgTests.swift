import Testing
@testable import LesionTensor

@Suite struct MatmulTests {
    /// C = A B by the definition, in Double.
    func naive(_ a: Tensor, _ b: Tensor) -> Tensor {
        let (m, k, n) = (a.shape[0], a.shape[1], b.shape[1])
        let c = try! Tensor(zeros: [m, n])
        for i in 0..<m { for j in 0..<n {
            var s = 0.0
            for p in 0..<k { s += Double(a.data[i * k + p]) * Double(b.data[p * n + j]) }
            c.data[i * n + j] = Float(s)
        } }
        return c
    }

    @Test(arguments: [(1, 1, 1), (7, 13, 5), (33, 65, 17), (1, 9, 31), (64, 3, 1), (129, 70, 257)])
    func matmulMatchesNaiveLoop(m: Int, k: Int, n: Int) throws {
        let a = sample([m, k], seed: 1), b = sample([k, n], seed: 2)
        assertClose(try a.matmul(b), naive(a, b), rtol: 1e-4, atol: 1e-5)
    }

    @Test func matrixVectorBothWays() throws {
        let a = sample([9, 4]), v = sample([4], seed: 3), w = sample([9], seed: 4)
        assertClose(try a.matmul(v), try naive(a, try v.reshaped([4, 1])).reshaped([9]), rtol: 1e-5, atol: 1e-6)
        assertClose(try w.matmul(a), try naive(try w.reshaped([1, 9]), a).reshaped([4]), rtol: 1e-5, atol: 1e-6)
    }

    @Test func mismatchedShapesThrow() {
        #expect(throws: TensorError.self) { try sample([3, 4]).matmul(sample([5, 2])) }
        #expect(throws: TensorError.self) { try sample([3]).matmul(sample([3])) }
        #expect(throws: TensorError.self) { try sample([2, 2, 2]).matmul(sample([2, 2])) }
    }

    @Test func gemmTransposeFlags() throws {
        let a = sample([5, 3]), b = sample([5, 4], seed: 9)
        let c = try Tensor(zeros: [3, 4])
        try Tensor.gemm(m: 3, n: 4, k: 5, a: a.data, b: b.data, c: c.data, transA: true)
        assertClose(c, naive(try a.transposed(), b), rtol: 1e-5, atol: 1e-6)
    }
}

@Suite struct QRTests {
    @Test(arguments: [[6, 6], [9, 4], [4, 9], [1, 5], [50, 50]])
    func reconstructsAndIsOrthonormal(shape: [Int]) throws {
        let a = sample(shape, seed: 7)
        let (q, r) = try a.qr()
        let p = min(shape[0], shape[1])
        #expect(q.shape == [shape[0], p] && r.shape == [p, shape[1]])
        assertClose(try q.matmul(r), a, rtol: 1e-4, atol: 1e-5, "QR")
        let eye = try Tensor(zeros: [p, p])
        for i in 0..<p { eye.data[i * p + i] = 1 }
        assertClose(try q.transposed().matmul(q), eye, rtol: 0, atol: 1e-5, "QtQ")
        for i in 0..<p { for j in 0..<min(i, shape[1]) { #expect(r.data[i * shape[1] + j] == 0) } }
    }

    @Test func nonFiniteInputThrows() throws {
        let a = sample([3, 3])
        a.data[4] = .nan
        #expect(throws: TensorError.self) { try a.qr() }
    }
}

@Suite struct RotationTests {
    /// Determinant by cofactor-free Gaussian elimination without pivot search beyond
    /// swapping in the first non-zero row (written apart from Tensor.determinant).
    func det(_ t: Tensor) -> Double {
        let n = t.shape[0]
        var a = (0..<t.count).map { Double(t.data[$0]) }
        var d = 1.0
        for c in 0..<n {
            guard let p = (c..<n).first(where: { abs(a[$0 * n + c]) > 1e-12 }) else { return 0 }
            if p != c { for j in 0..<n { a.swapAt(p * n + j, c * n + j) }; d = -d }
            d *= a[c * n + c]
            for r in (c + 1)..<max(c + 1, n) {
                let f = a[r * n + c] / a[c * n + c]
                for j in 0..<n { a[r * n + j] -= f * a[c * n + j] }
            }
        }
        return d
    }

    @Test(arguments: [1, 2, 3, 8, 64, 128])
    func orthogonalWithDeterminantOne(n: Int) throws {
        for seed in UInt64(0)..<4 {
            let q = try Tensor.randomRotation(n, seed: seed)
            let eye = try Tensor(zeros: [n, n])
            for i in 0..<n { eye.data[i * n + i] = 1 }
            assertClose(try q.matmul(q.transposed()), eye, rtol: 0, atol: 2e-5, "QQt n=\(n)")
            #expect(abs(det(q) - 1) < 1e-3, "det of rotation n=\(n) seed=\(seed) is \(det(q))")
        }
    }

    @Test func reproducibleAndSeedDependent() throws {
        let a = try Tensor.randomRotation(16, seed: 5), b = try Tensor.randomRotation(16, seed: 5)
        let c = try Tensor.randomRotation(16, seed: 6)
        #expect(a.toArray() == b.toArray())
        #expect(a.toArray() != c.toArray())
    }

    /// Haar measure: E[Q_ij] = 0 and E[Q_ij^2] = 1/n. Over 400 draws of 4x4 rotations the
    /// averages of the entries and their squares must be near those values.
    @Test func momentsMatchHaar() throws {
        let n = 4, draws = 400
        var mean = [Double](repeating: 0, count: n * n), sq = mean
        for s in 0..<draws {
            let q = try Tensor.randomRotation(n, seed: UInt64(1000 + s))
            for i in 0..<(n * n) { mean[i] += Double(q.data[i]) / Double(draws); sq[i] += Double(q.data[i] * q.data[i]) / Double(draws) }
        }
        // Standard error of a mean of 400 entries with variance 1/4 is 0.025; allow 5 sigma.
        for i in 0..<(n * n) {
            #expect(abs(mean[i]) < 0.125, "mean of entry \(i) is \(mean[i])")
            #expect(abs(sq[i] - 0.25) < 0.08, "second moment of entry \(i) is \(sq[i])")
        }
    }
}
