import Testing
@testable import LesionTensor

@Suite struct RandomTests {
    /// Known-answer vectors of Philox4x32-10 from the Random123 distribution (kat_vectors).
    @Test func philoxKnownAnswers() {
        let zero = RandomStream(seed: 0, stream: 0).block(0)
        #expect([zero.0, zero.1, zero.2, zero.3] == [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8])
        let ones = RandomStream(seed: UInt64.max, stream: UInt64.max).block(UInt64.max)
        #expect([ones.0, ones.1, ones.2, ones.3] == [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd])
        // counter 243f6a88 85a308d3 13198a2e 03707344, key a4093822 299f31d0
        let pi = RandomStream(seed: 0x299f_31d0_a409_3822, stream: 0x0370_7344_1319_8a2e).block(0x85a3_08d3_243f_6a88)
        #expect([pi.0, pi.1, pi.2, pi.3] == [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1])
    }

    @Test func sameSeedSameNumbersAndPiecesMatchWhole() {
        var whole = [Float](repeating: 0, count: 1001), again = whole, pieces = whole
        let r = RandomStream(seed: 42, stream: 3)
        r.fillUniform(&whole, count: 1001)
        r.fillUniform(&again, count: 1001)
        #expect(whole == again)
        pieces.withUnsafeMutableBufferPointer { p in
            r.fillUniform(p.baseAddress!, count: 333)
            r.fillUniform(p.baseAddress! + 333, count: 668, start: 333)
        }
        #expect(whole == pieces)
        var other = whole
        RandomStream(seed: 43, stream: 3).fillUniform(&other, count: 1001)
        #expect(other != whole)
        #expect(whole.allSatisfy { $0 >= 0 && $0 < 1 })
        // Element j is word start + j, whatever block boundaries the fill crosses.
        var offset = [Float](repeating: 0, count: 11)
        r.fillUniform(&offset, count: 11, lo: -2, hi: 3, start: 5)
        var expected: [Float] = []
        for j in 0..<11 {
            let unit = Float(r.word(UInt64(5 + j)) >> 8) * 0x1p-24
            expected.append(-2 + 5 * unit)
        }
        #expect(offset == expected)
    }

    @Test func normalMoments() {
        let n = 200_000
        var x = [Float](repeating: 0, count: n)
        RandomStream(seed: 7).fillNormal(&x, count: n, mean: 2, std: 3)
        let m = x.reduce(0.0) { $0 + Double($1) } / Double(n)
        let v = x.reduce(0.0) { $0 + (Double($1) - m) * (Double($1) - m) } / Double(n - 1)
        // Standard errors: 3/sqrt(n) = 0.0067 for the mean; ~0.02 for the variance's sqrt.
        #expect(abs(m - 2) < 0.04)
        #expect(abs(v.squareRoot() - 3) < 0.04)
    }
}
