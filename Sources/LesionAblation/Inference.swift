// Statistical inference for the study's claims (issue 14): confidence intervals of
// correlations, permutation p-values, Benjamini–Hochberg FDR, and the resampling indices of a
// bootstrap. Every random draw comes from a Philox stream (seed, stream), so results are the
// same bits on any machine and thread count.
import Foundation
import LesionTensor

extension Stats {
    /// The standard normal's quantile function (the inverse of its CDF), by bisection on
    /// 0.5 erfc(-x / sqrt 2) to within 1e-13.
    public static func normalQuantile(_ p: Double) -> Double {
        precondition(p > 0 && p < 1)
        var lo = -40.0, hi = 40.0
        for _ in 0..<200 {
            let mid = (lo + hi) / 2
            if 0.5 * erfc(-mid / 2.0.squareRoot()) < p { lo = mid } else { hi = mid }
            if hi - lo < 1e-13 { break }
        }
        return (lo + hi) / 2
    }

    /// A confidence interval of a correlation r over n pairs through Fisher's z = atanh r:
    /// z ± z_(1+level)/2 · se, with se = 1/sqrt(n-3) for Pearson (as SciPy's
    /// `pearsonr(...).confidence_interval()`) and sqrt(1 + r²/2)/sqrt(n-3) for Spearman (Bonett
    /// and Wright, 2000). Needs n ≥ 4.
    public static func fisherInterval(r: Double, n: Int, level: Double, spearman: Bool) throws(TensorError) -> (lo: Double, hi: Double) {
        guard level > 0 && level < 1 else { throw TensorError(.value, "ci must be between 0 and 1, got \(level)") }
        guard n >= 4 else { throw TensorError(.value, "an interval of a correlation needs at least 4 pairs, got \(n)") }
        guard r.isFinite else { return (.nan, .nan) }
        if abs(r) >= 1 { return (r, r) }
        let se = (spearman ? (1 + r * r / 2).squareRoot() : 1) / Double(n - 3).squareRoot()
        let z = atanh(r), c = normalQuantile((1 + level) / 2)
        return (tanh(z - c * se), tanh(z + c * se))
    }

    /// Two-sided permutation p-value of a correlation: y shuffled `rounds` times (Fisher–Yates
    /// from Philox stream `seed`), p = (1 + #{|r*| ≥ |r|}) / (1 + rounds), the estimate that is
    /// never 0 (Phipson and Smyth, 2010). A tiny tolerance counts ties as at least as extreme.
    public static func permutationP(_ x: [Double], _ y: [Double], rounds: Int, seed: UInt64, spearman: Bool) throws(TensorError) -> (r: Double, p: Double) {
        guard rounds >= 1 && rounds <= 10_000_000 else { throw TensorError(.value, "n must be from 1 to 10000000, got \(rounds)") }
        let (a, b) = spearman ? (rank(x), rank(y)) : (x, y)
        let r = try pearson(a, b).r
        guard r.isFinite else { return (.nan, .nan) }
        let stream = RandomStream(seed: seed, stream: 0x7065_726D)      // "perm"
        var shuffled = b, hits = 0, word: UInt64 = 0
        for _ in 0..<rounds {
            shuffle(&shuffled, stream, from: &word)
            if abs(try pearson(a, shuffled).r) >= abs(r) - 1e-12 { hits += 1 }
        }
        return (r, Double(1 + hits) / Double(1 + rounds))
    }

    /// Benjamini–Hochberg adjusted p-values (q-values), in the input's order: q_(i) = min over
    /// j ≥ i of p_(j) · m / j, at most 1 (as SciPy's `false_discovery_control` and statsmodels'
    /// "fdr_bh"). A finding is significant at FDR α when its q is at most α.
    public static func fdr(_ p: [Double]) throws(TensorError) -> [Double] {
        guard !p.isEmpty else { throw TensorError(.value, "fdr needs at least one p-value") }
        for (i, v) in p.enumerated() where !(v >= 0 && v <= 1) {
            throw TensorError(.value, "p-value \(i + 1) is \(v); p-values are between 0 and 1")
        }
        let m = Double(p.count)
        let order = p.indices.sorted { p[$0] < p[$1] || (p[$0] == p[$1] && $0 < $1) }
        var q = [Double](repeating: 0, count: p.count)
        var running = 1.0
        for k in stride(from: order.count - 1, through: 0, by: -1) {
            running = min(running, p[order[k]] * m / Double(k + 1))
            q[order[k]] = running
        }
        return q
    }

    /// 0-based indices of bootstrap round `round`: n draws with replacement from 0..<n, from
    /// Philox stream (seed, round). (The draw is word · n >> 32: its bias is below n / 2^32.)
    public static func resample(_ n: Int, seed: UInt64, round: Int) -> [Int] {
        let stream = RandomStream(seed: seed, stream: UInt64(round))
        return (0..<n).map { Int((UInt64(stream.word(UInt64($0))) &* UInt64(n)) >> 32) }
    }

    /// 0 ..< n in a random order: Fisher–Yates from Philox stream (seed, "shuf").
    public static func shuffled(_ n: Int, seed: UInt64) -> [Int] {
        var order = Array(0..<n), word: UInt64 = 0
        shuffle(&order, RandomStream(seed: seed, stream: 0x7368_7566), from: &word)
        return order
    }

    /// Fisher–Yates over `a` with the stream's words from `word` on (advanced past those used);
    /// a draw below i + 1 is word · (i + 1) >> 32.
    static func shuffle<T>(_ a: inout [T], _ stream: RandomStream, from word: inout UInt64) {
        for i in stride(from: a.count - 1, to: 0, by: -1) {
            let j = Int((UInt64(stream.word(word)) &* UInt64(i + 1)) >> 32)
            word += 1
            a.swapAt(i, j)
        }
    }

    /// NumPy's default percentile (linear interpolation between order statistics), q in [0, 100].
    public static func percentile(_ sorted: [Double], _ q: Double) -> Double {
        let pos = Double(sorted.count - 1) * q / 100
        let lo = Int(pos.rounded(.down)), hi = min(lo + 1, sorted.count - 1)
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - Double(lo))
    }
}
