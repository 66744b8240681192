import Testing
@testable import LesionAblation

/// Reference values from SciPy 1.17 (scipy.stats.pearsonr, spearmanr, rankdata), recorded here.
@Suite struct StatsTests {
    let x = [1.0, 2.5, 3.1, 4.7, 5.0, 6.2, 7.7, 8.1]
    let y = [2.1, 1.9, 3.5, 3.9, 6.1, 5.5, 8.0, 7.2]
    let z: [Double] = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5]
    let w: [Double] = [2, 7, 1, 8, 2, 8, 1, 8, 2, 8, 4]

    func close(_ a: Double, _ b: Double, _ rtol: Double = 1e-9) -> Bool { abs(a - b) <= rtol * abs(b) + 1e-15 }

    @Test func pearsonAgainstSciPy() throws {
        let a = try Stats.pearson(x, y)
        #expect(close(a.r, 0.9423036496339856) && close(a.p, 0.00045962115141103346))
        let b = try Stats.pearson(z, w)
        #expect(close(b.r, 0.09422924859889797) && close(b.p, 0.7828721022183328))
        let c = try Stats.pearson(Array(x.prefix(3)), Array(y.prefix(3)))
        #expect(close(c.r, 0.6362847629757777) && close(c.p, 0.5609406866849272))
    }

    @Test func spearmanAgainstSciPy() throws {
        let a = try Stats.spearman(x, y)
        #expect(close(a.r, 0.9285714285714287) && close(a.p, 0.0008629681828999767))
        let b = try Stats.spearman(z, w)          // ties in both
        #expect(close(b.r, 0.1384567651467695) && close(b.p, 0.6847503048108998))
        let c = try Stats.spearman(Array(x.prefix(3)), Array(y.prefix(3)))
        #expect(close(c.r, 0.5) && close(c.p, 0.6666666666666666))
    }

    @Test func ranksAverageTies() {
        #expect(Stats.rank(z) == [4.5, 1.5, 6, 1.5, 8, 11, 3, 10, 8, 4.5, 8])
    }

    @Test func describe() throws {
        let s = try Stats.describe([0.5, -1.25, 3.0, 2.0, 0.0, 7.5])
        #expect(close(s.mean, 1.9583333333333333) && close(s.std, 3.100067203572636))
        #expect(s.median == 1.25 && s.min == -1.25 && s.max == 7.5 && s.n == 6)
    }

    @Test func constantInputIsNaNAndBadInputIsAnError() throws {
        let c = try Stats.pearson([1, 1, 1, 1], [1, 2, 3, 4])
        #expect(c.r.isNaN && c.p.isNaN)
        #expect(throws: Error.self) { try Stats.pearson([1, 2], [1, 2]) }
        #expect(throws: Error.self) { try Stats.pearson([1, 2, 3], [1, 2]) }
        #expect(throws: Error.self) { try Stats.spearman([1, .nan, 3], [1, 2, 3]) }
        let perfect = try Stats.pearson([1, 2, 3, 4], [2, 4, 6, 8])
        #expect(perfect.r == 1 && perfect.p == 0)
    }

    /// The p-value's building block against closed forms: I_x(1, 1) = x, I_x(a, 1) = x^a,
    /// I_x(1/2, 1/2) = (2/pi) asin(sqrt(x)).
    @Test func incompleteBetaClosedForms() {
        for xv in [0.01, 0.2, 0.5, 0.73, 0.99] {
            #expect(close(Stats.incompleteBeta(1, 1, xv), xv, 1e-12))
            #expect(close(Stats.incompleteBeta(3.5, 1, xv), pow(xv, 3.5), 1e-12))
            #expect(close(Stats.incompleteBeta(0.5, 0.5, xv), 2 / Double.pi * asin(xv.squareRoot()), 1e-10))
        }
    }
}

import Foundation
