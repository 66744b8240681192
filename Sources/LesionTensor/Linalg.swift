// Matrix products on CBLAS; QR on LAPACK (sgeqrf_/sorgqr_, column-major Fortran calls);
// Haar-random rotations.
import COpenBLAS

extension Tensor {
    /// Matrix product: 2-D x 2-D, 2-D x 1-D or 1-D x 2-D.
    public func matmul(_ b: Tensor) throws(TensorError) -> Tensor {
        let a = self
        switch (a.rank, b.rank) {
        case (2, 2):
            let (m, k, n) = (a.shape[0], a.shape[1], b.shape[1])
            guard b.shape[0] == k else {
                throw TensorError(.shape, "expected {\(k),*} to multiply \(Tensor.describe(a.shape)), got \(Tensor.describe(b.shape))")
            }
            let out = try Tensor(uninitialized: [m, n])
            try Tensor.gemm(m: m, n: n, k: k, a: a.data, b: b.data, c: out.data)
            return out
        case (2, 1):
            let (m, k) = (a.shape[0], a.shape[1])
            guard b.shape[0] == k else {
                throw TensorError(.shape, "expected {\(k)} to multiply \(Tensor.describe(a.shape)), got \(Tensor.describe(b.shape))")
            }
            let out = try Tensor(uninitialized: [m])
            try Tensor.checkBlasSize(m, k)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(m), Int32(k), 1, a.data, Int32(k), b.data, 1, 0, out.data, 1)
            return out
        case (1, 2):
            let (k, n) = (b.shape[0], b.shape[1])
            guard a.shape[0] == k else {
                throw TensorError(.shape, "expected {\(a.shape[0]),*} to be multiplied by \(Tensor.describe(a.shape)), got \(Tensor.describe(b.shape))")
            }
            let out = try Tensor(uninitialized: [n])
            try Tensor.checkBlasSize(k, n)
            cblas_sgemv(CblasRowMajor, CblasTrans, Int32(k), Int32(n), 1, b.data, Int32(n), a.data, 1, 0, out.data, 1)
            return out
        default:
            throw TensorError(.shape, "matmul takes 1-D or 2-D tensors (not both 1-D), got \(Tensor.describe(a.shape)) and \(Tensor.describe(b.shape))")
        }
    }

    /// Dot product of two 1-D tensors of one length.
    public func dot(_ b: Tensor) throws(TensorError) -> Double {
        guard rank == 1, b.shape == shape else {
            throw TensorError(.shape, "dot needs two 1-D tensors of one length, got \(Tensor.describe(shape)) and \(Tensor.describe(b.shape))")
        }
        var s = 0.0
        for i in 0..<count { s += Double(data[i]) * Double(b.data[i]) }
        return s
    }

    static func checkBlasSize(_ dims: Int...) throws(TensorError) {
        for d in dims where d > Int(Int32.max) {
            throw TensorError(.shape, "dimension \(d) is too large for BLAS (32-bit sizes)")
        }
    }

    /// C (m x n) = alpha op(A) op(B) + beta C, all row-major and contiguous (op(A) is m x k:
    /// A itself, or with transA A is k x m). Split into blocks of `gemmBlock` rows of C, or of
    /// its columns when there are few rows or B is the larger matrix (each block reads all of the
    /// other operand: AlexNet's first linear layer at batch 32 had both threads read its 151 MB
    /// of weights), taken by the threads in turn; each block is one single-threaded OpenBLAS
    /// call over the whole of k, of a shape that does not depend on the thread count.
    /// Rows (or columns) of a block of `gemm`.
    static let gemmBlock = 256

    public static func gemm(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                            c: UnsafeMutablePointer<Float>, transA: Bool = false, transB: Bool = false,
                            alpha: Float = 1, beta: Float = 0) throws(TensorError) {
        try checkBlasSize(m, n, k)
        let (ta, tb) = (transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans)
        let (lda, ldb) = (transA ? m : k, transB ? k : n)
        // Blocks of a fixed size (not a share per thread): every call has the same shape
        // whatever the thread count, so the same OpenBLAS path gives the same bits.
        if 2 * m * n * k < 1 << 22 || (m < 2 * gemmBlock && n < 2 * gemmBlock) {
            cblas_sgemm(CblasRowMajor, ta, tb, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(n))
            return
        }
        let byRows = m >= 2 * gemmBlock && (n < 2 * gemmBlock || n <= m)
        let blocks = ((byRows ? m : n) + gemmBlock - 1) / gemmBlock
        Threads.forEachPart(blocks) { t, _ in
            let (lo, hi) = (t * gemmBlock, Swift.min(byRows ? m : n, (t + 1) * gemmBlock))
            if byRows {
                cblas_sgemm(CblasRowMajor, ta, tb, Int32(hi - lo), Int32(n), Int32(k), alpha,
                            a + (transA ? lo : lo * k), Int32(lda), b, Int32(ldb), beta, c + lo * n, Int32(n))
            } else {
                cblas_sgemm(CblasRowMajor, ta, tb, Int32(m), Int32(hi - lo), Int32(k), alpha,
                            a, Int32(lda), b + (transB ? lo * k : lo), Int32(ldb), beta, c + lo, Int32(n))
            }
        }
    }

    // MARK: - QR

    /// Reduced QR of an m x n matrix: Q is m x p and R is p x n with p = min(m, n),
    /// Q has orthonormal columns, R is upper triangular, Q R = A.
    public func qr() throws(TensorError) -> (q: Tensor, r: Tensor) {
        guard rank == 2 else { throw TensorError(.shape, "qr needs a 2-D tensor, got \(Tensor.describe(shape))") }
        let (m, n) = (shape[0], shape[1])
        let p = Swift.min(m, n)
        try Tensor.checkBlasSize(m, n)
        for i in 0..<count where !data[i].isFinite {
            throw TensorError(.value, "qr of a matrix with NaN or infinite entries")
        }
        // Column-major copy of A: element (i, j) at j*m + i.
        var a = [Float](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { a[j * m + i] = data[i * n + j] } }
        var tau = [Float](repeating: 0, count: p)
        var (mm, nn, pp, lda, info) = (Int32(m), Int32(n), Int32(p), Int32(m), Int32(0))
        try Tensor.lapackWork { work, lwork in
            sgeqrf_(&mm, &nn, &a, &lda, &tau, work, lwork, &info)
            return info
        }
        let r = try Tensor(zeros: [p, n])
        for i in 0..<p { for j in i..<n { r.data[i * n + j] = a[j * m + i] } }
        try Tensor.lapackWork { work, lwork in
            sorgqr_(&mm, &pp, &pp, &a, &lda, &tau, work, lwork, &info)
            return info
        }
        let q = try Tensor(uninitialized: [m, p])
        for i in 0..<m { for j in 0..<p { q.data[i * p + j] = a[j * m + i] } }
        return (q, r)
    }

    /// Runs a LAPACK routine twice: a workspace query (lwork = -1), then the call itself.
    static func lapackWork(_ call: (UnsafeMutablePointer<Float>, UnsafePointer<Int32>) -> Int32) throws(TensorError) {
        var query: Float = 0
        var lwork: Int32 = -1
        var info = call(&query, &lwork)
        guard info == 0 else { throw TensorError(.numeric, "LAPACK workspace query failed (info \(info))") }
        lwork = Swift.max(1, Int32(query))
        var work = [Float](repeating: 0, count: Int(lwork))
        info = work.withUnsafeMutableBufferPointer { call($0.baseAddress!, &lwork) }
        guard info == 0 else { throw TensorError(.numeric, "LAPACK failed (info \(info))") }
    }

    // MARK: - random rotations

    /// A Haar-random rotation of R^n (orthogonal, determinant +1): Q of the QR of a Gaussian
    /// matrix with the signs of R's diagonal moved into Q (Mezzadri 2007), then, if the
    /// determinant is -1, the first column negated, which maps Haar measure on O(n) \ SO(n)
    /// onto Haar measure on SO(n).
    public static func randomRotation(_ n: Int, seed: UInt64) throws(TensorError) -> Tensor {
        guard n >= 1 else { throw TensorError(.value, "rotation size must be positive, got \(n)") }
        let g = try Tensor(uninitialized: [n, n])
        RandomStream(seed: seed, stream: 0x524F_5441_5445).fillNormal(g.data, count: g.count)
        let (q, r) = try g.qr()
        for j in 0..<n where r.data[j * n + j] < 0 {
            for i in 0..<n { q.data[i * n + j] = -q.data[i * n + j] }
        }
        if try q.determinant() < 0 {
            for i in 0..<n { q.data[i * n] = -q.data[i * n] }
        }
        return q
    }

    /// Determinant of a square matrix (LU with partial pivoting, in Double).
    public func determinant() throws(TensorError) -> Double {
        guard rank == 2, shape[0] == shape[1] else {
            throw TensorError(.shape, "determinant needs a square matrix, got \(Tensor.describe(shape))")
        }
        let n = shape[0]
        var a = (0..<count).map { Double(data[$0]) }
        var det = 1.0
        for c in 0..<n {
            var p = c
            for r in (c + 1)..<Swift.max(n, c + 1) where Swift.abs(a[r * n + c]) > Swift.abs(a[p * n + c]) { p = r }
            if a[p * n + c] == 0 { return 0 }
            if p != c {
                for j in 0..<n { a.swapAt(p * n + j, c * n + j) }
                det = -det
            }
            let piv = a[c * n + c]
            det *= piv
            for r in (c + 1)..<Swift.max(n, c + 1) {
                let f = a[r * n + c] / piv
                if f != 0 { for j in c..<n { a[r * n + j] -= f * a[c * n + j] } }
            }
        }
        return det
    }
}
