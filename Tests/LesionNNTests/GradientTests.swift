import Foundation
import Testing
@testable import LesionNN
@testable import LesionTensor

/// Values in [-1, 1) from an LCG (independent of the library's RNG).
func sample(_ shape: [Int], seed: UInt32 = 1, scale: Float = 1) -> Tensor {
    let t = try! Tensor(zeros: shape)
    var s = seed &* 2_654_435_761 &+ 12345
    for i in 0..<t.count {
        s = s &* 1_664_525 &+ 1_013_904_223
        t.data[i] = scale * (Float(s >> 8) / Float(1 << 23) - 1)
    }
    return t
}

/// Checks a layer's backward against central differences of f(x) = sum(forward(x) * R), in
/// internal layout. Up to `probes` coordinates of the input and of each parameter are checked.
/// Distinct values 0.05 apart, none within 0.025 of zero, in a shuffled order: central
/// differences with eps = 0.01 never cross a kink of ReLU or a tie of max-pooling.
func separated(_ shape: [Int]) -> Tensor {
    let t = try! Tensor(zeros: shape)
    let p = Dataset.permutation(t.count, seed: 11, stream: 0)
    for i in 0..<t.count { t.data[i] = (Float(p[i]) - Float(t.count / 2)) * 0.05 + 0.025 }
    return t
}

func gradCheck(_ layer: Layer, input logical: [Int], eps: Float = 1e-2, rtol: Double = 2e-2, atol: Double = 2e-3,
               probes: Int = 40, training: Bool = true, kinks: Bool = false, before: (() -> Void)? = nil,
               sourceLocation: SourceLocation = #_sourceLocation) throws {
    let x = try Layout.toNHWC(kinks ? separated(logical) : sample(logical, seed: 3))
    func f() throws -> Double {
        before?()
        let y = try layer.forward(x, training: training)
        let r = sample(y.shape, seed: 9)
        var s = 0.0
        for i in 0..<y.count { s += Double(y.data[i]) * Double(r.data[i]) }
        return s
    }
    before?()
    let y = try layer.forward(x, training: training)
    let r = sample(y.shape, seed: 9)
    for p in layer.parameters { p.zeroGrad() }
    let dx = try #require(try layer.backward(r, needInputGrad: true))
    let dxCopy = try dx.copy()
    let grads = try layer.parameters.map { try $0.grad.copy() }

    func probe(_ t: Tensor, _ analytic: Tensor, _ what: String) throws {
        let step = max(1, t.count / probes)
        for i in stride(from: 0, to: t.count, by: step) {
            let old = t.data[i]
            t.data[i] = old + eps
            let fp = try f()
            t.data[i] = old - eps
            let fm = try f()
            t.data[i] = old
            let numeric = (fp - fm) / (2 * Double(eps))
            let a = Double(analytic.data[i])
            #expect(abs(a - numeric) <= atol + rtol * abs(numeric),
                    "\(layer.kind) d\(what)[\(i)]: analytic \(a), numeric \(numeric)", sourceLocation: sourceLocation)
        }
    }
    try probe(x, dxCopy, "input")
    for (p, g) in zip(layer.parameters, grads) { try probe(p.value, g, p.name) }
}

@Suite struct LayerGradientTests {
    @Test(arguments: [(1, 0, 3), (1, 1, 3), (2, 1, 3), (2, 0, 2), (1, 2, 5)])
    func conv2d(stride: Int, padding: Int, k: Int) throws {
        let c = try Conv2d(cin: 3, cout: 4, k: k, stride: stride, padding: padding)
        c.reset(RandomStream(seed: 1))
        try gradCheck(c, input: [2, 3, 7, 6])
    }

    @Test func conv2dWithoutBiasAndOneChannel() throws {
        let c = try Conv2d(cin: 1, cout: 2, k: 3, padding: 1, bias: false)
        c.reset(RandomStream(seed: 2))
        try gradCheck(c, input: [3, 1, 5, 5])
    }

    @Test func linear() throws {
        let l = try Linear(7, 5)
        l.reset(RandomStream(seed: 1))
        try gradCheck(l, input: [4, 7])
    }

    @Test func batchNorm2dTraining() throws {
        let b = try BatchNorm(3, spatial: true)
        b.weight.value.data.update(from: [1.5, 0.5, -1], count: 3)
        b.bias.value.data.update(from: [0.1, -0.2, 0.3], count: 3)
        try gradCheck(b, input: [4, 3, 3, 2], eps: 1e-2, rtol: 3e-2, atol: 3e-3)
    }

    @Test func batchNorm1dTraining() throws {
        let b = try BatchNorm(5, spatial: false)
        try gradCheck(b, input: [6, 5], rtol: 3e-2, atol: 3e-3)
    }

    @Test func relu() throws { try gradCheck(ReLU(), input: [2, 3, 4, 4], kinks: true) }
    @Test func maxPool() throws { try gradCheck(try MaxPool2d(2), input: [2, 3, 6, 7], kinks: true) }
    @Test func maxPoolOverlapping() throws { try gradCheck(try MaxPool2d(3, stride: 2), input: [2, 2, 7, 7], kinks: true) }
    @Test func avgPool() throws { try gradCheck(try AvgPool2d(2), input: [2, 3, 6, 5]) }
    @Test func globalAvgPool() throws { try gradCheck(GlobalAvgPool(), input: [2, 3, 4, 5]) }
    @Test func flatten() throws { try gradCheck(Flatten(), input: [2, 3, 4, 5]) }

    @Test func dropout() throws {
        let d = try Dropout(0.4)
        try gradCheck(d, input: [3, 20], before: { d.stream = RandomStream(seed: 5, stream: 1) })
    }

    /// The whole chain, with the loss: a small CNN's parameter gradients against differences of
    /// the mean cross-entropy. Smooth layers only: a step in a first-layer weight moves every
    /// value of a channel, so with ReLU or max-pooling some would cross a kink (those layers
    /// are checked one by one above, on inputs without kinks nearby).
    @Test func sequentialWithLoss() throws {
        let m = try Sequential([Conv2d(cin: 2, cout: 3, k: 3, padding: 1), BatchNorm(3, spatial: true),
                                AvgPool2d(2), Conv2d(cin: 3, cout: 2, k: 2), Flatten(), Linear(2 * 2 * 2, 6),
                                BatchNorm(6, spatial: false), Linear(6, 4)], seed: 3)
        _ = try checkLossGradients(m, x: sample([5, 2, 6, 6], seed: 4), labels: [0, 3, 1, 2, 1], probes: 12)
    }
}

/// A model's parameter gradients of the mean cross-entropy (training mode) against central
/// differences (step 1e-2) at about `probes` coordinates of each parameter; returns how many.
@discardableResult
func checkLossGradients(_ m: Sequential, x: Tensor, labels: [Int32], probes: Int,
                        sourceLocation: SourceLocation = #_sourceLocation) throws -> Int {
    let n = Double(labels.count)
    func loss(_ grad: Tensor?) throws -> Double {
        let logits = try m.forwardInternal(x, training: true)
        return labels.withUnsafeBufferPointer { Loss.softmaxCrossEntropy(logits, labels: $0.baseAddress!, grad: grad).loss } / n
    }
    let k = try m.forwardInternal(x, training: true).shape[1]
    let g = try Tensor(zeros: [labels.count, k])
    _ = try loss(g)
    m.zeroGrad()
    try m.backward(g)
    var checked = 0
    for p in m.parameters {
        let analytic = try p.grad.copy()
        for i in stride(from: 0, to: p.value.count, by: max(1, p.value.count / probes)) {
            let old = p.value.data[i]
            p.value.data[i] = old + 1e-2
            let fp = try loss(nil)
            p.value.data[i] = old - 1e-2
            let fm = try loss(nil)
            p.value.data[i] = old
            let numeric = (fp - fm) / 2e-2
            #expect(abs(Double(analytic.data[i]) - numeric) <= 2e-3 + 3e-2 * abs(numeric),
                    "\(p.name)[\(i)] shape \(p.value.shape) analytic \(analytic.data[i]) numeric \(numeric)", sourceLocation: sourceLocation)
            checked += 1
        }
    }
    return checked
}

/// The execution plan (cropped convolutions, max-pool before ReLU) changes nothing: outputs and
/// gradients equal those of running each layer in order on full tensors.
@Suite struct PlanTests {
    func model(_ pool: Layer) throws -> Sequential {
        try Sequential([Conv2d(cin: 2, cout: 3, k: 3, padding: 1), ReLU(), Conv2d(cin: 3, cout: 4, k: 3, padding: 1),
                        ReLU(), pool, Flatten(), Linear(4 * 3 * 3, 5)], seed: 2, inputShape: [2, 7, 7])
    }

    /// Runs each layer in order with no plan.
    func plain(_ m: Sequential, _ x: Tensor, training: Bool) throws -> Tensor {
        for l in m.layers { (l as? Conv2d)?.crop = nil }
        var h = try Layout.toNHWC(x)
        for (i, l) in m.layers.enumerated() {
            h = try l.forward(h, training: training)
            if i == 2 { #expect(h.shape == [x.shape[0], 7, 7, 4]) }   // really uncropped
        }
        return h
    }

    @Test(arguments: [false, true])
    func croppedConvolutionGivesTheSameOutput(maxPool: Bool) throws {
        let m = try model(maxPool ? try MaxPool2d(2) : try AvgPool2d(2))
        let x = sample([4, 2, 7, 7], seed: 8)
        let planned = try m.forwardInternal(x, training: false).copy()
        #expect((m.layers[2] as! Conv2d).crop! == (6, 6))
        // Before a max-pool the convolution is fused with it and writes no output of its own.
        if maxPool { #expect((m.layers[2] as! Conv2d).output == nil) } else { #expect((m.layers[2] as! Conv2d).output!.shape == [4, 6, 6, 4]) }
        let reference = try plain(m, x, training: false)
        #expect(planned.shape == reference.shape)
        for i in 0..<planned.count { #expect(abs(planned.data[i] - reference.data[i]) <= 1e-6) }
        // Activations of the cropped layer itself are whole.
        #expect(try m.activations(try Dataset(images: x, labels: [0, 1, 2, 3], classNames: ["a", "b", "c", "d", "e"], name: "x"), layer: 2).shape == [4, 4, 7, 7])
    }

    @Test func croppedConvolutionGivesTheSameGradients() throws {
        let m = try model(try MaxPool2d(2))
        let x = sample([4, 2, 7, 7], seed: 8)
        let labels: [Int32] = [0, 4, 2, 1]
        func grads(planned: Bool) throws -> [[Float]] {
            m.zeroGrad()
            let logits = planned ? try m.forwardInternal(x, training: true) : try plain(m, x, training: true)
            let g = try Tensor(zeros: logits.shape)
            _ = labels.withUnsafeBufferPointer { Loss.softmaxCrossEntropy(logits, labels: $0.baseAddress!, grad: g) }
            if planned {
                try m.backward(g)
            } else {
                var d = g
                for (i, l) in m.layers.enumerated().reversed() { if let n = try l.backward(d, needInputGrad: i > 0) { d = n } }
            }
            return m.parameters.map { $0.grad.toArray() }
        }
        let a = try grads(planned: true), b = try grads(planned: false)
        for (p, q) in zip(a, b) { for (u, v) in zip(p, q) { #expect(abs(u - v) <= 1e-6 + 1e-5 * abs(v)) } }
    }
}

/// A 3x3 convolution with Winograd on (the evaluation tile given, or chosen), its copy on
/// im2col, both cropped alike (a crop needs padding 1: nil otherwise), and an NHWC input of 3
/// images; weights from `seed`, the input from seed + 1.
func winogradPair(padding: Int, h: Int, w: Int, cin: Int, cout: Int, crop: (Int, Int)?, tile: Int?,
                  seed: UInt64, k: Int = 3) throws -> (Conv2d, Conv2d, Tensor)? {
    if crop != nil && padding != (k - 1) / 2 { return nil }
    let a = try Conv2d(cin: cin, cout: cout, k: k, padding: padding)
    a.reset(RandomStream(seed: seed))
    let b = try a.copy() as! Conv2d
    a.winograd = true
    a.winogradTile = tile
    b.winograd = false
    (a.direct, b.direct) = (false, false)
    if let crop { a.crop = crop; b.crop = crop }
    return (a, b, try Layout.toNHWC(sample([3, cin, h, w], seed: UInt32(seed + 1))))
}

/// Winograd F(2x2, 3x3) against im2col + GEMM: outputs, input, weight and bias gradients.
@Suite struct WinogradTests {
    @Test(arguments: [(0, 7, 9, 5, 6), (1, 7, 7, 4, 3), (2, 5, 6, 3, 8), (1, 14, 14, 16, 16), (1, 8, 8, 2, 2)])
    func matchesIm2col(padding: Int, h: Int, w: Int, cin: Int, cout: Int) throws {
        for crop in [nil, (h - 1, w - 2)] as [(Int, Int)?] {
            guard let (a, b, x) = try winogradPair(padding: padding, h: h, w: w, cin: cin, cout: cout, crop: crop, tile: nil, seed: 4)
            else { continue }
            let ya = try a.forward(x, training: true).copy(), yb = try b.forward(x, training: true).copy()
            #expect(ya.shape == yb.shape)
            for i in 0..<ya.count { #expect(abs(ya.data[i] - yb.data[i]) <= 1e-5 + 1e-4 * abs(yb.data[i]), "y[\(i)]") }
            let dy = sample(ya.shape, seed: 6)
            let dxa = try #require(try a.backward(dy, needInputGrad: true)).copy()
            let dxb = try #require(try b.backward(dy, needInputGrad: true)).copy()
            for i in 0..<dxa.count { #expect(abs(dxa.data[i] - dxb.data[i]) <= 1e-5 + 1e-4 * abs(dxb.data[i]), "dx[\(i)]") }
            for (p, q) in zip(a.parameters, b.parameters) {
                for i in 0..<p.grad.count {
                    #expect(abs(p.grad.data[i] - q.grad.data[i]) <= 1e-4 + 1e-4 * abs(q.grad.data[i]), "d\(p.name)[\(i)]: \(p.grad.data[i]) vs \(q.grad.data[i])")
                }
            }
        }
    }

    @Test(arguments: [2, 4, 6])
    func gradientsAgainstFiniteDifferences(tile: Int) throws {
        let c = try Conv2d(cin: 4, cout: 5, k: 3, padding: 1)
        c.reset(RandomStream(seed: 7))
        c.winograd = true
        c.winogradTile = tile
        try gradCheck(c, input: [2, 4, 5, 6])
    }

    /// Training by each tile (forced for the forward, the input gradient and the weight
    /// gradient alike) against im2col, with partial tiles, crops, paddings 0-2 and channel
    /// counts that are not multiples of 8. The larger tiles' rounding grows with the largest
    /// value (as in evaluation), so each tensor is compared with its own largest magnitude.
    @Test(arguments: [2, 4, 6])
    func trainsWithEachTile(tile: Int) throws {
        let shapes: [(Int, Int, Int, Int, Int, (Int, Int)?)] = [
            (1, 7, 7, 9, 12, nil), (1, 13, 11, 8, 16, (12, 10)), (0, 9, 10, 5, 3, nil), (2, 6, 6, 16, 8, nil), (1, 4, 4, 3, 9, nil),
        ]
        for (padding, h, w, cin, cout, crop) in shapes {
            let (a, b, x) = try #require(try winogradPair(padding: padding, h: h, w: w, cin: cin, cout: cout, crop: crop, tile: tile, seed: 9))
            let ya = try a.forward(x, training: true).copy(), yb = try b.forward(x, training: true).copy()
            #expect(a.trainedTile == tile)
            let dy = sample(ya.shape, seed: 10)
            let dxa = try #require(try a.backward(dy, needInputGrad: true)).copy()
            let dxb = try #require(try b.backward(dy, needInputGrad: true)).copy()
            let pairs = [("y", ya, yb), ("dx", dxa, dxb)] + zip(a.parameters, b.parameters).map { ("d" + $0.name, $0.grad, $1.grad) }
            for (what, p, q) in pairs {
                #expect(p.shape == q.shape)
                let (worst, scale) = largestDifference(p, q)
                #expect(worst <= 3e-5 * scale, "tile \(tile), \(what) of \(cin)->\(cout) at \(h)x\(w): \(worst) of \(scale)")
            }
        }
    }
}

/// A convolution and the max-pool after it as one pass (evaluation) give exactly what the two
/// layers give one by one: im2col and every Winograd tile, pools with stride below, equal to
/// and (crop) leaving rows, and a NaN in the input.
@Suite struct PooledConvolutionTests {
    @Test(arguments: [nil, 2, 4, 6] as [Int?], [(2, 2), (3, 3), (2, 1), (3, 2)])
    func equalsConvolutionThenPool(tile: Int?, _ window: (k: Int, stride: Int)) throws {
        for (cin, cout, side, padding) in [(1, 8, 13, 1), (9, 12, 10, 1), (16, 16, 7, 0)] {
            let a = try Conv2d(cin: cin, cout: cout, k: 3, padding: padding)
            a.reset(RandomStream(seed: 21))
            a.winograd = tile != nil
            a.winogradTile = tile
            let b = try a.copy() as! Conv2d
            b.winograd = a.winograd
            b.winogradTile = tile
            let p = try MaxPool2d(window.k, stride: window.stride), q = try MaxPool2d(window.k, stride: window.stride)
            let x = try Layout.toNHWC(sample([3, cin, side, side], seed: 22))
            x.data[17] = .nan
            let fused = try a.forwardPooled(x, pool: p).copy()
            let reference = try q.forward(b.forward(x, training: false), training: false)
            #expect(fused.shape == reference.shape)
            var same = true
            for i in 0..<fused.count where !(fused.data[i] == reference.data[i] || (fused.data[i].isNaN && reference.data[i].isNaN)) {
                same = false
            }
            #expect(same, "tile \(String(describing: tile)), pool \(window), input \(cin)x\(side)x\(side)")
        }
    }
}

/// The largest difference of a from the reference b, and b's largest magnitude. The rounding
/// error of the larger Winograd tiles scales with the outputs' magnitude (their transforms mix
/// values with weights up to 8 and 32), so it is measured against the largest output; their
/// tests allow 2e-5 of it, about 170 float epsilons.
func largestDifference(_ a: Tensor, _ b: Tensor) -> (worst: Float, scale: Float) {
    var worst: Float = 0, scale: Float = 0
    for i in 0..<a.count { worst = max(worst, abs(a.data[i] - b.data[i])); scale = max(scale, abs(b.data[i])) }
    return (worst, scale)
}

/// Winograd F(4x4, 3x3) and F(6x6, 3x3) (evaluation only) against im2col + GEMM, including
/// partial tiles, paddings 0-2, crops and channel counts that are not multiples of 8.
@Suite struct WinogradEvalTests {
    @Test(arguments: [4, 6], [(0, 9, 11, 5, 6), (1, 7, 7, 12, 3), (2, 6, 5, 3, 9), (1, 14, 14, 32, 16), (1, 13, 10, 8, 8), (1, 6, 6, 16, 24)])
    func matchesIm2col(tile: Int, _ c: (padding: Int, h: Int, w: Int, cin: Int, cout: Int)) throws {
        let (padding, h, w, cin, cout) = c
        for crop in [nil, (h - 1, w - 3)] as [(Int, Int)?] {
            guard let (a, b, x) = try winogradPair(padding: padding, h: h, w: w, cin: cin, cout: cout, crop: crop, tile: tile, seed: 8)
            else { continue }
            let ya = try a.forward(x, training: false).copy(), yb = try b.forward(x, training: false).copy()
            #expect(ya.shape == yb.shape)
            let (worst, scale) = largestDifference(ya, yb)
            #expect(worst <= 2e-5 * scale, "F(\(tile)x\(tile)): largest difference \(worst), largest output \(scale)")
        }
    }

    /// F(4x4, 5x5) (AlexNet's second convolution), evaluation only: paddings 0-4, partial
    /// tiles, crops, channel counts that are not multiples of 8, and through a max-pool.
    @Test(arguments: [(0, 9, 11, 5, 6), (2, 7, 7, 12, 3), (4, 6, 5, 3, 9), (2, 27, 27, 32, 16), (1, 13, 10, 8, 8), (3, 5, 5, 16, 24)])
    func fiveByFiveMatchesIm2col(_ c: (padding: Int, h: Int, w: Int, cin: Int, cout: Int)) throws {
        let (padding, h, w, cin, cout) = c
        for crop in [nil, (h - 1, w - 3)] as [(Int, Int)?] {
            guard let (a, b, x) = try winogradPair(padding: padding, h: h, w: w, cin: cin, cout: cout, crop: crop, tile: nil, seed: 8, k: 5)
            else { continue }
            #expect(a.usesWinograd5x5 && !b.usesWinograd5x5)
            let ya = try a.forward(x, training: false).copy(), yb = try b.forward(x, training: false).copy()
            #expect(ya.shape == yb.shape)
            let (worst, scale) = largestDifference(ya, yb)
            #expect(worst <= 2e-5 * scale, "F(4x4, 5x5): largest difference \(worst), largest output \(scale)")
            // Training keeps im2col: the same bits as the layer without Winograd.
            let ta = try a.forward(x, training: true).copy()
            #expect((0..<ta.count).allSatisfy { ta.data[$0] == yb.data[$0] })
            // Through a pool, the pooled Winograd output.
            if crop == nil, h >= 2, w >= 2 {
                let pooled = try a.forwardPooled(x, pool: try MaxPool2d(2, stride: 2)).copy()
                let reference = try MaxPool2d(2, stride: 2).forward(try a.forward(x, training: false), training: false)
                #expect(pooled.shape == reference.shape)
                #expect((0..<pooled.count).allSatisfy { pooled.data[$0] == reference.data[$0] })
            }
        }
    }

    @Test func kernelFollowsWeightsChangedInPlace() throws {
        // The transformed kernel is kept between calls; a weight written in place (as a script
        // can) must still take effect on the next forward.
        let a = try Conv2d(cin: 16, cout: 16, k: 3, padding: 1)
        a.reset(RandomStream(seed: 12))
        a.winograd = true
        a.winogradTile = 6
        let x = try Layout.toNHWC(sample([2, 16, 6, 6], seed: 13))
        _ = try a.forward(x, training: false)
        a.weight.value.data[5] += 1
        let ya = try a.forward(x, training: false).copy()
        let b = try a.copy() as! Conv2d
        b.winograd = false
        let yb = try b.forward(x, training: false)
        let (worst, scale) = largestDifference(ya, yb)
        #expect(worst <= 2e-5 * scale, "largest difference \(worst), largest output \(scale)")
    }

    @Test func tileWithFewestProducts() {
        #expect(WinogradEval.bestTile(14, 14) == 2)  // F(4x4) 16 x 36 = 576 and F(6x6) 9 x 64 = 576 vs 49 x 16 = 784: 1.36 times fewer
        #expect(WinogradEval.bestTile(7, 7) == 4)    // 4 x 36 = 144 vs 16 x 16 = 256 (F(6x6): 4 x 64 = 256)
        #expect(WinogradEval.bestTile(6, 6) == 6)    // 1 x 64 vs 9 x 16 = 144 (F(4x4): 4 x 36 = 144)
        #expect(WinogradEval.bestTile(12, 12) == 6)  // 4 x 64 = 256 vs 36 x 16 = 576 (F(4x4): 9 x 36 = 324)
        #expect(WinogradEval.bestTile(2, 2) == 2)
    }

    @Test func evaluationMatchesF2x2() throws {
        // The same layer with F(4x4) (chosen for 7x7) and with F(2x2), in evaluation: agree to float rounding.
        let a = try Conv2d(cin: 64, cout: 128, k: 3, padding: 1)
        a.reset(RandomStream(seed: 10))
        let b = try a.copy() as! Conv2d
        b.winogradTile = 2
        let x = try Layout.toNHWC(sample([4, 64, 7, 7], seed: 11))
        let ya = try a.forward(x, training: false).copy(), yb = try b.forward(x, training: false).copy()
        for i in 0..<ya.count { #expect(abs(ya.data[i] - yb.data[i]) <= 1e-4 + 1e-4 * abs(yb.data[i])) }
    }
}
