// LesionAblation: the paper's instruments — unit ablation, unit attributes and the statistics
// that relate them. No Lua here.
//
// Statistics: Pearson and Spearman correlation with two-sided p-values from Student's t with
// n - 2 degrees of freedom (as SciPy's pearsonr and spearmanr), ranks with ties averaged.
import Foundation
import LesionTensor

public enum Stats {
    public struct Correlation: Equatable {
        /// The coefficient; NaN when either input is constant (no correlation is defined).
        public var r: Double
        /// Two-sided p-value; NaN with r.
        public var p: Double
        public var n: Int
    }

    public struct Summary: Equatable {
        public var n: Int
        public var mean: Double, std: Double, min: Double, median: Double, max: Double
    }

    /// 1-based ranks; tied values share the mean of their ranks (SciPy's rankdata "average").
    public static func rank(_ x: [Double]) -> [Double] {
        let order = x.indices.sorted { x[$0] < x[$1] || (x[$0] == x[$1] && $0 < $1) }
        var ranks = [Double](repeating: 0, count: x.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && x[order[j + 1]] == x[order[i]] { j += 1 }
            let r = Double(i + j) / 2 + 1
            for k in i...j { ranks[order[k]] = r }
            i = j + 1
        }
        return ranks
    }

    static func check(_ x: [Double], _ y: [Double]) throws(TensorError) {
        guard x.count == y.count else { throw TensorError(.shape, "the two samples have \(x.count) and \(y.count) values") }
        guard x.count >= 3 else { throw TensorError(.value, "a correlation needs at least 3 pairs, got \(x.count)") }
        for v in x + y where !v.isFinite {
            throw TensorError(.value, "values must be finite (found \(v))")
        }
    }

    public static func pearson(_ x: [Double], _ y: [Double]) throws(TensorError) -> Correlation {
        try check(x, y)
        let n = Double(x.count)
        let mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in x.indices {
            let a = x[i] - mx, b = y[i] - my
            sxy += a * b
            sxx += a * a
            syy += b * b
        }
        guard sxx > 0, syy > 0 else { return Correlation(r: .nan, p: .nan, n: x.count) }
        let r = max(-1, min(1, sxy / (sxx * syy).squareRoot()))
        return Correlation(r: r, p: twoSidedP(r: r, n: x.count), n: x.count)
    }

    public static func spearman(_ x: [Double], _ y: [Double]) throws(TensorError) -> Correlation {
        try check(x, y)
        return try pearson(rank(x), rank(y))
    }

    /// p of |r| under no correlation: t = r sqrt((n-2)/(1-r^2)), P(|T| >= |t|) with n-2 df,
    /// which is I_{df/(df+t^2)}(df/2, 1/2).
    static func twoSidedP(r: Double, n: Int) -> Double {
        let df = Double(n - 2)
        if abs(r) >= 1 { return 0 }
        let t2 = r * r * df / (1 - r * r)
        return incompleteBeta(df / 2, 0.5, df / (df + t2))
    }

    /// The regularized incomplete beta function I_x(a, b), by its continued fraction (modified
    /// Lentz), using the symmetry I_x(a, b) = 1 - I_{1-x}(b, a) where that converges faster.
    public static func incompleteBeta(_ a: Double, _ b: Double, _ x: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        if x > (a + 1) / (a + b + 2) { return 1 - incompleteBeta(b, a, 1 - x) }
        let lnBeta: Double = lgamma(a) + lgamma(b) - lgamma(a + b)
        let lnFront: Double = a * log(x) + b * log(1 - x) - lnBeta
        let tiny = 1e-300
        var c = 1.0, d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var f = d
        for m in 1...300 {
            let m = Double(m)
            // Even step
            var num = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
            d = 1 + num * d; if abs(d) < tiny { d = tiny }
            c = 1 + num / c; if abs(c) < tiny { c = tiny }
            d = 1 / d
            f *= d * c
            // Odd step
            num = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
            d = 1 + num * d; if abs(d) < tiny { d = tiny }
            c = 1 + num / c; if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            f *= delta
            if abs(delta - 1) < 1e-15 { break }
        }
        return exp(lnFront) * f / a
    }

    /// Mean, standard deviation (n - 1), min, median, max.
    public static func describe(_ x: [Double]) throws(TensorError) -> Summary {
        guard !x.isEmpty else { throw TensorError(.value, "describe needs at least one value") }
        let n = Double(x.count)
        let mean = x.reduce(0, +) / n
        let std = x.count > 1 ? (x.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / (n - 1)).squareRoot() : .nan
        let s = x.sorted()
        let median = s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
        return Summary(n: x.count, mean: mean, std: std, min: s.first!, median: median, max: s.last!)
    }
}
