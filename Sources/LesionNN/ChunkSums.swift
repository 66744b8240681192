// A batch's weight and bias gradients as sums over fixed chunks of images, added in chunk
// order: each worker computes a chunk's partial into its own buffer, then adds it to the total
// when every earlier chunk has been added (Threads.InOrder). The sum is then the same bits on
// any number of threads. Shared by every convolution path's weight gradient (im2col, direct,
// Winograd), whose partials differ only in size.
import LesionTensor

final class ChunkSums {
    /// The batch's sum of the partials (`floats` values), and of the bias partials (Double).
    let total: Tensor
    let biasTotal: UnsafeMutablePointer<Double>
    let floats: Int, biases: Int
    private(set) var partials: [Tensor]
    private let partBias: UnsafeMutablePointer<Double>
    private var order = Threads.InOrder()

    init(floats: Int, biases: Int, workers: Int) throws(TensorError) {
        (self.floats, self.biases) = (floats, biases)
        total = try Tensor(zeros: [floats])
        partials = []
        for _ in 0..<workers { partials.append(try Tensor(uninitialized: [floats])) }
        biasTotal = .allocate(capacity: max(1, biases))
        partBias = .allocate(capacity: max(1, workers * biases))
        reset()
    }

    deinit {
        biasTotal.deallocate()
        partBias.deallocate()
    }

    var workers: Int { partials.count }

    /// Zeroes the totals for a new batch.
    func reset() {
        total.fill(0)
        biasTotal.initialize(repeating: 0, count: biases)
        order = Threads.InOrder()
    }

    /// Sums for `floats` values and `workers` workers: `reusing` when it fits, reset.
    static func reusing(_ s: ChunkSums?, floats: Int, biases: Int, workers: Int) throws(TensorError) -> ChunkSums {
        if let s, s.floats == floats, s.biases == biases, s.workers >= workers { s.reset(); return s }
        return try ChunkSums(floats: floats, biases: biases, workers: workers)
    }

    /// Worker w's partial for the chunk it starts; the caller writes every value of it.
    func partial(_ w: Int) -> UnsafeMutablePointer<Float> { partials[w].data }

    /// Adds rows [lo, hi) of dy ([rows, biases]) to worker w's bias partial, which `begin` zeroed.
    func addBias(_ dy: UnsafePointer<Float>, rows: Range<Int>, worker w: Int) {
        guard biases > 0 else { return }
        let db = partBias + w * biases, c = biases
        for r in rows { let g = dy + r * c; for ch in 0..<c { db[ch] += Double(g[ch]) } }
    }

    /// Starts a chunk on worker w (zeroes its bias partial).
    func begin(worker w: Int) { (partBias + w * biases).update(repeating: 0, count: biases) }

    /// Adds worker w's partials of `chunk` to the totals, after every earlier chunk's.
    func add(chunk: Int, worker w: Int) {
        order.wait(chunk)
        let d = total.data, s = partials[w].data
        for i in 0..<floats { d[i] += s[i] }
        let db = partBias + w * biases
        for c in 0..<biases { biasTotal[c] += db[c] }
        order.done(chunk)
    }
}
