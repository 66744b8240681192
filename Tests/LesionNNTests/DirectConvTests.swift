import Foundation
import Testing
@testable import LesionNN
@testable import LesionTensor

/// y[n, oh, ow, co] of a convolution by a naive loop in Double, in NHWC: the reference for the
/// direct loop (and independent of both of the library's paths).
func naiveConv(_ c: Conv2d, _ x: Tensor) -> [Double] {
    let (n, h, w, cin) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (k, p, s) = (c.k, c.padding, c.stride)
    let ho = (h + 2 * p - k) / s + 1, wo = (w + 2 * p - k) / s + 1
    var y = [Double](repeating: 0, count: n * ho * wo * c.cout)
    for b in 0..<n { for oh in 0..<ho { for ow in 0..<wo { for co in 0..<c.cout {
        var acc = Double(c.bias?.value.data[co] ?? 0)
        for ci in 0..<cin { for kh in 0..<k { for kw in 0..<k {
            let ih = oh * s - p + kh, iw = ow * s - p + kw
            guard ih >= 0, ih < h, iw >= 0, iw < w else { continue }
            acc += Double(c.weight.value.data[((co * cin + ci) * k + kh) * k + kw]) * Double(x.data[((b * h + ih) * w + iw) * cin + ci])
        } } }
        y[((b * ho + oh) * wo + ow) * c.cout + co] = acc
    } } } }
    return y
}

/// The direct loop for few channels (Kernels, AVX2) against a naive loop (forward) and against
/// im2col + GEMM (gradients), at widths that leave every remainder of its pixel blocks, with
/// and without bias, kernels 1, 3 and 5, paddings 0 to k - 1.
@Suite(.enabled(if: kernelsAvailable, "this CPU lacks AVX2 or FMA: the direct loop is never used"))
struct DirectConvolutionTests {
    @Test(arguments: [(1, 8, 3, 1, 9, 11, false), (8, 8, 3, 1, 7, 13, false), (16, 16, 3, 1, 6, 5, true),
                      (3, 24, 5, 2, 9, 8, true), (8, 16, 1, 0, 5, 7, false), (8, 8, 3, 0, 6, 6, true),
                      (16, 8, 3, 2, 4, 4, false), (8, 16, 3, 1, 28, 28, false)])
    func matchesReferences(cin: Int, cout: Int, k: Int, padding: Int, h: Int, w: Int, bias: Bool) throws {
        let a = try Conv2d(cin: cin, cout: cout, k: k, padding: padding, bias: bias)
        a.reset(RandomStream(seed: 5))
        let b = try a.copy() as! Conv2d
        a.direct = true
        b.direct = false
        #expect(a.usesDirect && !b.usesDirect)
        let x = try Layout.toNHWC(sample([3, cin, h, w], seed: 2))
        let ya = try a.forward(x, training: true).copy(), yb = try b.forward(x, training: true).copy()
        let ref = naiveConv(a, x)
        #expect(ya.count == ref.count && yb.shape == ya.shape)
        let scale = ref.map(abs).max()!
        for i in 0..<ya.count { #expect(abs(Double(ya.data[i]) - ref[i]) <= 1e-6 * scale, "y[\(i)]: \(ya.data[i]) vs \(ref[i])") }
        let dy = sample(ya.shape, seed: 6)
        let dxa = try #require(try a.backward(dy, needInputGrad: true)).copy()
        let dxb = try #require(try b.backward(dy, needInputGrad: true)).copy()
        let dxScale = (0..<dxb.count).map { abs(dxb.data[$0]) }.max()!
        for i in 0..<dxa.count { #expect(abs(dxa.data[i] - dxb.data[i]) <= 1e-5 * dxScale, "dx[\(i)]") }
        for (p, q) in zip(a.parameters, b.parameters) {
            let gScale = (0..<q.grad.count).map { abs(q.grad.data[$0]) }.max()!
            for i in 0..<p.grad.count {
                #expect(abs(p.grad.data[i] - q.grad.data[i]) <= 1e-5 * gScale, "d\(p.name)[\(i)]: \(p.grad.data[i]) vs \(q.grad.data[i])")
            }
        }
    }

    /// A cropped output (rows and columns a pool drops) in training: the input gradient treats
    /// the dropped outputs as zeros, as im2col's path does.
    @Test func croppedGradients() throws {
        let a = try Conv2d(cin: 8, cout: 16, k: 3, padding: 1)
        a.reset(RandomStream(seed: 3))
        let b = try a.copy() as! Conv2d
        (a.direct, b.direct) = (true, false)
        (a.crop, b.crop) = ((rows: 6, cols: 5), (rows: 6, cols: 5))
        let x = try Layout.toNHWC(sample([2, 8, 7, 7], seed: 1))
        let ya = try a.forward(x, training: true).copy(), yb = try b.forward(x, training: true).copy()
        #expect(ya.shape == [2, 6, 5, 16] && yb.shape == ya.shape)
        let dy = sample(ya.shape, seed: 2)
        let dxa = try #require(try a.backward(dy, needInputGrad: true)).copy()
        let dxb = try #require(try b.backward(dy, needInputGrad: true)).copy()
        for i in 0..<dxa.count { #expect(abs(dxa.data[i] - dxb.data[i]) <= 1e-5, "dx[\(i)]") }
        for i in 0..<a.weight.grad.count { #expect(abs(a.weight.grad.data[i] - b.weight.grad.data[i]) <= 1e-4, "dw[\(i)]") }
    }

    @Test func gradientsAgainstFiniteDifferences() throws {
        let c = try Conv2d(cin: 8, cout: 8, k: 3, padding: 1)
        c.reset(RandomStream(seed: 7))
        c.direct = true
        try gradCheck(c, input: [2, 8, 5, 6])
    }

    /// Input channels not a multiple of 8: the weight gradient is direct, the input gradient
    /// comes from im2col's path (both from one backward call).
    @Test func inputGradientOfOddChannelsFallsBack() throws {
        let c = try Conv2d(cin: 3, cout: 8, k: 3, padding: 1)
        c.reset(RandomStream(seed: 8))
        c.direct = true
        #expect(c.usesDirect && !c.usesDirectInputGrad)
        try gradCheck(c, input: [2, 3, 5, 4])
    }

    /// Evaluation through a max-pool and with a crop: the same bits as the plain forward
    /// and the pool run one after the other.
    @Test func pooledAndCroppedEvaluation() throws {
        let c = try Conv2d(cin: 8, cout: 16, k: 3, padding: 1)
        c.reset(RandomStream(seed: 9))
        c.direct = true
        let pool = try MaxPool2d(2)
        let x = try Layout.toNHWC(sample([5, 8, 9, 9], seed: 3))
        let full = try c.forward(x, training: false).copy()
        let expected = try pool.forward(full, training: false).copy()
        let pooled = try c.forwardPooled(x, pool: pool)
        #expect(pooled.shape == expected.shape)
        #expect((0..<pooled.count).allSatisfy { pooled.data[$0] == expected.data[$0] })
        c.crop = (rows: 8, cols: 8)
        let cropped = try c.forward(x, training: false)
        #expect(cropped.shape == [5, 8, 8, 16])
        for b in 0..<5 { for i in 0..<8 { for j in 0..<8 { for ch in 0..<16 {
            #expect(cropped.data[((b * 8 + i) * 8 + j) * 16 + ch] == full.data[((b * 9 + i) * 9 + j) * 16 + ch])
        } } } }
    }
}

/// Batch normalisation's hand-vectorised passes give the bits of its plain loops: outputs,
/// running statistics and gradients, for channel counts 8 and 24, over an odd number of rows.
@Suite(.enabled(if: kernelsAvailable, "this CPU lacks AVX2 or FMA"), .serialized)
struct BatchNormKernelTests {
    @Test(arguments: [8, 24])
    func sameBitsAsPlainLoops(channels: Int) throws {
        func run(plain: Bool) throws -> [[Float]] {
            BatchNorm.plainLoops = plain
            defer { BatchNorm.plainLoops = false }
            let bn = try BatchNorm(channels, spatial: true)
            for i in 0..<channels { bn.weight.value.data[i] = 0.5 + Float(i) * 0.1; bn.bias.value.data[i] = Float(i) * 0.01 }
            let x = try Layout.toNHWC(sample([3, channels, 5, 7], seed: 4, scale: 3))
            let y = try bn.forward(x, training: true).copy()
            let dx = try #require(try bn.backward(sample(y.shape, seed: 5), needInputGrad: true)).copy()
            let eval = try bn.forward(x, training: false).copy()
            let all = [y, dx, eval, bn.weight.grad, bn.bias.grad, bn.runningMean, bn.runningVar]
            return all.map { Array(UnsafeBufferPointer(start: $0.data, count: $0.count)) }
        }
        let fast = try run(plain: false), plain = try run(plain: true)
        for (f, p) in zip(fast, plain) { #expect(f == p) }
    }
}

/// In training a ReLU that alone reads a batch norm runs inside its passes (Sequential's
/// fusion): logits and every gradient equal running the two apart, bit for bit, with the
/// kernels and with the plain loops (12 channels are not a multiple of 8: plain loops always).
@Suite(.serialized) struct FusedReLUTests {
    @Test(arguments: [false, true])
    func sameBitsAsApart(plain: Bool) throws {
        func run(fused: Bool) throws -> [[Float]] {
            BatchNorm.plainLoops = plain
            defer { BatchNorm.plainLoops = false }
            let m = try Sequential([Conv2d(cin: 3, cout: 8, k: 3, padding: 1), BatchNorm(8, spatial: true), ReLU(),
                                    Conv2d(cin: 8, cout: 12, k: 3, padding: 1), BatchNorm(12, spatial: true), ReLU(), MaxPool2d(2),
                                    Flatten(), Linear(12 * 3 * 3, 16), BatchNorm(16, spatial: false), ReLU(), Linear(16, 5)],
                                   seed: 3, inputShape: [3, 7, 7])
            m.fuseTraining = fused
            let x = sample([6, 3, 7, 7], seed: 4, scale: 2)
            let logits = try m.forwardInternal(x, training: true).copy()
            // The second ReLU runs after its max-pool (the plan's order), so two are fused.
            #expect(m.fusedReLUs == (fused ? [2, 10] : []))
            let g = try Tensor(zeros: logits.shape)
            let labels: [Int32] = [0, 1, 2, 3, 4, 0]
            _ = labels.withUnsafeBufferPointer { Loss.softmaxCrossEntropy(logits, labels: $0.baseAddress!, grad: g) }
            m.zeroGrad()
            try m.backward(g)
            return [logits.toArray()] + m.parameters.map { $0.grad.toArray() }
        }
        let fused = try run(fused: true), apart = try run(fused: false)
        #expect(fused.count == apart.count)
        for (f, a) in zip(fused, apart) { #expect(f == a) }
    }
}
