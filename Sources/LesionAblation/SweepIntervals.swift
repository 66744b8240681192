// Bootstrap intervals of a sweep's accuracies and drops (issue 14): resample the images, and
// recount each unit's results from the answers the sweep recorded (whether the base model was
// right on each image, and which images each unit's ablation turned). No forward pass runs
// again: a round costs one pass over the images plus one over the turned ones.
import LesionTensor

public struct SweepIntervals: Sendable {
    /// [lo, hi] of the base model's accuracy.
    public var baseAccuracy: (Double, Double)
    /// Per unit [lo, hi]: overall accuracy with the unit ablated, and its drop.
    public var accuracy: [(Double, Double)], overallDrop: [(Double, Double)]
    /// Per unit and class [lo, hi]: per-class accuracy and its drop.
    public var perClass: [[(Double, Double)]], classDrop: [[(Double, Double)]]
    /// Per unit and class: the share of rounds whose class drop is at most 0, (1 + count) /
    /// (1 + rounds): a one-sided bootstrap p-value of "the ablation lowers this class".
    public var classDropP: [[Double]]
    /// Rounds in which a class had no image (its values in that round are left out).
    public var emptyClassRounds: Int

    /// `labels[i]` (0-based class of position i), the sweep's answers, `rounds` resamples from
    /// Philox streams (seed, round), intervals at `level` (NumPy's linear percentiles).
    public static func compute(labels: [Int32], classes k: Int, answers: SampleAnswers, rounds: Int, level: Double,
                               seed: UInt64) throws(TensorError) -> SweepIntervals {
        let n = labels.count
        guard answers.rights.count == n else {
            throw TensorError(.shape, "answers for \(answers.rights.count) samples, but \(n) labels")
        }
        guard rounds >= 2 && rounds <= 100_000 else { throw TensorError(.value, "bootstrap must be from 2 to 100000 rounds, got \(rounds)") }
        guard level > 0 && level < 1 else { throw TensorError(.value, "ci must be between 0 and 1, got \(level)") }
        let units = answers.flipped.count
        for f in answers.flipped { for i in f where i < 0 || Int(i) >= n { throw TensorError(.index, "a turned sample \(i) is out of range") } }
        // Each unit's turned samples as (class, +1 if the ablation made it wrong, -1 if right).
        let turned = answers.flipped.map { f in f.map { (Int(labels[Int($0)]), answers.rights[Int($0)] ? 1 : -1, Int($0)) } }
        let lo = (1 - level) / 2 * 100, hi = 100 - lo
        func interval(_ v: ArraySlice<Double>) -> (Double, Double) {
            let s = v.filter { !$0.isNaN }.sorted()
            guard !s.isEmpty else { return (.nan, .nan) }
            return (Stats.percentile(s, lo), Stats.percentile(s, hi))
        }
        var out = SweepIntervals(baseAccuracy: (.nan, .nan), accuracy: [], overallDrop: [], perClass: [], classDrop: [],
                                 classDropP: [], emptyClassRounds: 0)
        // Units in blocks whose per-round class values fit in about 256 MB; each block draws the
        // same rounds again (the draws are a function of seed and round).
        let block = max(1, (256 << 20) / max(1, k * rounds * 16))
        var w = [Int32](repeating: 0, count: n)
        for first in stride(from: 0, to: max(units, 1), by: block) {
            let us = first..<min(units, first + block), m = us.count
            // values[(j * k + c) * rounds + r] for class figures, [j * rounds + r] overall.
            var baseAcc = [Double](repeating: 0, count: rounds)
            var acc = [Double](repeating: 0, count: m * rounds), drop = acc
            var cls = [Double](repeating: 0, count: m * k * rounds), cdrop = cls
            var empty = 0
            for r in 0..<rounds {
                for i in 0..<n { w[i] = 0 }
                for i in Stats.resample(n, seed: seed, round: r) { w[i] += 1 }
                var total = [Int](repeating: 0, count: k), right = [Int](repeating: 0, count: k)
                for i in 0..<n where w[i] > 0 {
                    let c = Int(labels[i])
                    total[c] += Int(w[i])
                    if answers.rights[i] { right[c] += Int(w[i]) }
                }
                if total.contains(0) { empty += 1 }
                let allRight = right.reduce(0, +)
                baseAcc[r] = Double(allRight) / Double(n)
                var lost = [Int](repeating: 0, count: k)
                for (j, u) in us.enumerated() {
                    for c in 0..<k { lost[c] = 0 }
                    for (c, s, i) in turned[u] where w[i] > 0 { lost[c] += s * Int(w[i]) }
                    let allLost = lost.reduce(0, +)
                    acc[j * rounds + r] = Double(allRight - allLost) / Double(n)
                    drop[j * rounds + r] = Double(allLost) / Double(n)
                    for c in 0..<k {
                        let at = (j * k + c) * rounds + r
                        if total[c] == 0 {
                            (cls[at], cdrop[at]) = (.nan, .nan)
                        } else {
                            cls[at] = Double(right[c] - lost[c]) / Double(total[c])
                            cdrop[at] = Double(lost[c]) / Double(total[c])
                        }
                    }
                }
            }
            func slice(_ a: [Double], _ at: Int) -> ArraySlice<Double> { a[(at * rounds)..<((at + 1) * rounds)] }
            if first == 0 {
                out.baseAccuracy = interval(baseAcc[...])
                out.emptyClassRounds = empty
            }
            for j in 0..<m {
                out.accuracy.append(interval(slice(acc, j)))
                out.overallDrop.append(interval(slice(drop, j)))
                out.perClass.append((0..<k).map { interval(slice(cls, j * k + $0)) })
                out.classDrop.append((0..<k).map { interval(slice(cdrop, j * k + $0)) })
                out.classDropP.append((0..<k).map { c in
                    Double(1 + slice(cdrop, j * k + c).filter { $0 <= 0 }.count) / Double(1 + rounds)
                })
            }
        }
        return out
    }
}
