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

    init(sets: Int, classes k: Int) {
        (self.sets, self.k) = (sets, k)
        counts = .allocate(capacity: sets * k)
        counts.initialize(repeating: 0, count: sets * k)
        confusion = [Int](repeating: 0, count: k * k)
        totals = [Int](repeating: 0, count: k)
    }

    deinit { counts.deallocate() }

    /// Records a batch's base logits [n, k]; returns whether each sample was right.
    func base(_ logits: Tensor, labels: UnsafePointer<Int32>, n: Int) -> [Bool] {
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
        return right
    }

    /// Sample `row` of class `label`, ablated with set `set`, now gives `logits` (k values).
    @inline(__always)
    func record(set: Int, label: Int, logits: UnsafeMutablePointer<Float>, wasRight: Bool) {
        let right = Tensor.argExtreme(logits, k, 1, largest: true) == label
        if right != wasRight { counts[set * k + label] += right ? 1 : -1 }
    }

    /// Runs body(t, sets of part t) on `threads` parts; the first error of any part is thrown.
    func parallel(threads: Int, _ body: (Int, Range<Int>) throws(TensorError) -> Void) throws(TensorError) {
        let n = sets
        try Threads.parallelFor(threads) { t throws(TensorError) in
            let (lo, hi) = Threads.range(t, of: n, parts: threads)
            try body(t, lo..<hi)
        }
    }

    func result() -> (base: Evaluation, correct: [[Int]], totals: [Int]) {
        let correct = (0..<sets).map { s in (0..<k).map { counts[s * k + $0] } }
        return (Evaluation.from(confusion: confusion, classes: k, lossSum: lossSum), correct, totals)
    }
}
