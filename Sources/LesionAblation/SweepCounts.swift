// The per-class bookkeeping both sweep paths share: each batch's base evaluation, and each
// set's correct counts per class, which start at the base's and move only for the samples
// whose answer the ablation changes.
import LesionNN
import LesionTensor

final class SweepCounts {
    let sets: Int, k: Int
    /// counts[set * k + class]: samples of the class still right with the set ablated. Threads
    /// write disjoint sets.
    let counts: UnsafeMutablePointer<Int>
    var confusion: [Int], lossSum = 0.0, totals: [Int]
    /// With `perSample`: whether each sample (by position) was right, and per set the positions
    /// whose answer the ablation turned (right to wrong or wrong to right). Threads write
    /// disjoint sets' lists.
    var rights: [Bool]?
    let flipped: UnsafeMutablePointer<[Int32]>?
    /// The position of the current batch's first sample.
    var batchStart = 0

    init(sets: Int, classes k: Int, perSample: Bool = false) {
        (self.sets, self.k) = (sets, k)
        counts = .allocate(capacity: sets * k)
        counts.initialize(repeating: 0, count: sets * k)
        confusion = [Int](repeating: 0, count: k * k)
        totals = [Int](repeating: 0, count: k)
        if perSample {
            rights = []
            flipped = .allocate(capacity: sets)
            flipped!.initialize(repeating: [], count: sets)
        } else {
            flipped = nil
        }
    }

    deinit {
        counts.deallocate()
        if let f = flipped {
            f.deinitialize(count: sets)
            f.deallocate()
        }
    }

    /// Records a batch's base logits [n, k] (the batch's samples from position `start` on);
    /// returns whether each sample was right.
    func base(_ logits: Tensor, labels: UnsafePointer<Int32>, n: Int, start: Int) -> [Bool] {
        batchStart = start
        lossSum += Loss.softmaxCrossEntropy(logits, labels: labels, grad: nil).loss
        var right = [Bool](repeating: false, count: n)
        var byClass = [Int](repeating: 0, count: k)
        for r in 0..<n {
            let label = Int(labels[r])
            totals[label] += 1
            let guess = Tensor.argExtreme(logits.data + r * k, k, 1, largest: true)
            confusion[label * k + guess] += 1
            if guess == label { right[r] = true; byClass[label] += 1 }
        }
        for s in 0..<sets { for c in 0..<k { counts[s * k + c] += byClass[c] } }
        rights?.append(contentsOf: right)
        return right
    }

    /// Sample `row` of the batch, of class `label`, ablated with set `set`, now gives `logits`
    /// (k values).
    @inline(__always)
    func record(set: Int, row: Int, label: Int, logits: UnsafeMutablePointer<Float>, wasRight: Bool) {
        let right = Tensor.argExtreme(logits, k, 1, largest: true) == label
        if right != wasRight {
            counts[set * k + label] += right ? 1 : -1
            flipped?[set].append(Int32(batchStart + row))
        }
    }

    /// Runs body(t, sets of part t) on `threads` parts; the first error of any part is thrown.
    func parallel(threads: Int, _ body: (Int, Range<Int>) throws(TensorError) -> Void) throws(TensorError) {
        let n = sets
        try Threads.parallelFor(threads) { t throws(TensorError) in
            let (lo, hi) = Threads.range(t, of: n, parts: threads)
            try body(t, lo..<hi)
        }
    }

    func result() -> SetCounts {
        let correct = (0..<sets).map { s in (0..<k).map { counts[s * k + $0] } }
        var samples: SampleAnswers?
        if let rights, let f = flipped {
            samples = SampleAnswers(rights: rights, flipped: (0..<sets).map { f[$0].sorted() })
        }
        return SetCounts(base: Evaluation.from(confusion: confusion, classes: k, lossSum: lossSum), correct: correct,
                         totals: totals, samples: samples)
    }
}

/// Each sample's answer in a sweep: whether the base model was right (by position in the data
/// set) and, per unit (or set), the positions whose answer its ablation turned. Enough to
/// recount any resample of the images without running the model again.
public struct SampleAnswers: Sendable {
    public let rights: [Bool]
    public let flipped: [[Int32]]
    public init(rights: [Bool], flipped: [[Int32]]) { (self.rights, self.flipped) = (rights, flipped) }
}

/// What ablating sets of units gives: the base evaluation, each set's correct counts per class,
/// the class totals, and (when asked for) each sample's answers.
struct SetCounts {
    let base: Evaluation
    let correct: [[Int]]
    let totals: [Int]
    let samples: SampleAnswers?
}
