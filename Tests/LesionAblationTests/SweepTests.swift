import Foundation
import Testing
@testable import LesionAblation
@testable import LesionNN
@testable import LesionTensor

func values(_ shape: [Int], seed: UInt32) -> Tensor {
    let t = try! Tensor(zeros: shape)
    var s = seed &* 2_654_435_761 &+ 12345
    for i in 0..<t.count { s = s &* 1_664_525 &+ 1_013_904_223; t.data[i] = Float(s >> 8) / Float(1 << 23) - 1 }
    return t
}

/// Random data whose labels are the model's own predictions with some noise, so that
/// ablations move accuracy both ways.
func dataFor(_ m: Sequential, n: Int, shape: [Int], classes: Int, seed: UInt32) throws -> Dataset {
    let x = values([n] + shape, seed: seed)
    let p = try m.predict(x)
    let labels = p.enumerated().map { i, c in Int32(i % 3 == 0 ? (c + 1) % classes : c) }
    return try Dataset(images: x, labels: labels, classNames: (0..<classes).map { "c\($0)" }, name: "test")
}

/// Gives BatchNorm layers non-trivial running statistics and affine parameters.
func randomiseBatchNorm(_ m: Sequential) {
    for (i, l) in m.layers.enumerated() {
        guard let bn = l as? BatchNorm else { continue }
        for c in 0..<bn.channels {
            bn.runningMean.data[c] = 0.1 * Float(c % 3) - 0.1
            bn.runningVar.data[c] = 0.5 + 0.25 * Float((c + i) % 4)
            bn.weight.value.data[c] = 1 + 0.2 * Float(c % 2)
            bn.bias.value.data[c] = 0.05 * Float(c % 5)
        }
    }
}

@Suite struct SweepExactnessTests {
    /// conv1 relu1 pool1 conv2 bn1 relu2 pool2(avg) flatten1 fc1 relu3 dropout1 fc2
    func cnn() throws -> Sequential {
        let m = try Sequential([Conv2d(cin: 2, cout: 4, k: 3, padding: 1), ReLU(), MaxPool2d(2),
                                Conv2d(cin: 4, cout: 6, k: 3, padding: 1), BatchNorm(6, spatial: true), ReLU(), AvgPool2d(2),
                                Flatten(), Linear(24, 8), ReLU(), Dropout(0.5), Linear(8, 4)], seed: 5, inputShape: [2, 8, 8])
        randomiseBatchNorm(m)
        return m
    }

    func check(_ m: Sequential, _ data: Dataset, layer: Int, mode: AblationMode, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let r = try Ablation.sweep(m, data, layer: layer, mode: mode, batch: 37)
        let base = try m.evaluate(data)
        #expect(r.base.confusion == base.confusion, sourceLocation: sourceLocation)
        let k = data.numClasses
        for (i, u) in r.units.enumerated() {
            let e = try Ablation.evaluate(m, data, lesions: [layer: [u]], mode: mode)
            let want = (0..<k).map { e.confusion[$0 * k + $0] }
            #expect(r.correct[i] == want, "\(m.layers[layer].name) unit \(u + 1) \(mode): sweep \(r.correct[i]) vs brute force \(want)", sourceLocation: sourceLocation)
        }
    }

    /// Every layer from which a unit can be ablated, so that every kind of layer stands between
    /// some ablated layer and the output: conv (after relu1), BatchNorm, average pooling,
    /// flatten, linear, dropout, and no mixing layer at all (the logits).
    @Test(arguments: [1, 2, 3, 4, 5, 6, 8, 9, 10, 11])
    func matchesBruteForce(layer: Int) throws {
        let m = try cnn()
        let data = try dataFor(m, n: 150, shape: [2, 8, 8], classes: 4, seed: 3)
        try check(m, data, layer: layer, mode: .zero)
        try check(m, data, layer: layer, mode: .mean)
    }

    @Test func globalPoolingBeforeTheLinearLayer() throws {
        let m = try Sequential([Conv2d(cin: 1, cout: 5, k: 3), ReLU(), GlobalAvgPool(), Linear(5, 3)], seed: 2, inputShape: [1, 6, 6])
        let data = try dataFor(m, n: 120, shape: [1, 6, 6], classes: 3, seed: 8)
        try check(m, data, layer: 1, mode: .zero)
        try check(m, data, layer: 1, mode: .mean)
    }

    /// Features after a Flatten normalised one by one (BatchNorm1d): the sweep falls back to one
    /// evaluation per unit, with the same results.
    @Test func batchNorm1dAfterFlattenFallsBack() throws {
        let m = try Sequential([Conv2d(cin: 1, cout: 3, k: 3), ReLU(), Flatten(), BatchNorm(48, spatial: false), Linear(48, 3)],
                               seed: 4, inputShape: [1, 6, 6])
        randomiseBatchNorm(m)
        let data = try dataFor(m, n: 90, shape: [1, 6, 6], classes: 3, seed: 9)
        try check(m, data, layer: 1, mode: .zero)
    }

    @Test func strideAndPaddingAtTheMixingConvolution() throws {
        let m = try Sequential([Conv2d(cin: 1, cout: 4, k: 3, padding: 1), ReLU(), Conv2d(cin: 4, cout: 5, k: 3, stride: 2, padding: 2),
                                ReLU(), Flatten(), Linear(5 * 5 * 5, 3)], seed: 6, inputShape: [1, 7, 7])
        let data = try dataFor(m, n: 100, shape: [1, 7, 7], classes: 3, seed: 10)
        try check(m, data, layer: 1, mode: .zero)
        try check(m, data, layer: 1, mode: .mean)
    }

    @Test func multiUnitEvaluationAgainstAHandAblatedModel() throws {
        // Zeroing units 2 and 4 of conv1's output equals zeroing their filters and biases.
        let m = try cnn()
        let data = try dataFor(m, n: 80, shape: [2, 8, 8], classes: 4, seed: 12)
        let e = try Ablation.evaluate(m, data, lesions: [0: [1, 3], 8: [0]])
        let hand = try m.copy()
        let c = hand.layers[0] as! Conv2d, f = hand.layers[8] as! Linear
        for u in [1, 3] {
            for i in 0..<(2 * 9) { c.weight.value.data[u * 18 + i] = 0 }
            c.bias!.value.data[u] = 0
        }
        for i in 0..<24 { f.weight.value.data[i] = 0 }
        f.bias!.value.data[0] = 0
        #expect(e.confusion == (try hand.evaluate(data)).confusion)
    }

    @Test func meanModeUsesChannelMeans() throws {
        let m = try cnn()
        let data = try dataFor(m, n: 40, shape: [2, 8, 8], classes: 4, seed: 13)
        let means = try Ablation.channelMeans(m, data, layer: 1)
        let acts = try m.activations(data, layer: 1)   // NCHW
        for c in 0..<4 {
            var s = 0.0
            for b in 0..<40 { for p in 0..<64 { s += Double(acts.data[(b * 4 + c) * 64 + p]) } }
            #expect(abs(means[c] - s / (40 * 64)) < 1e-6)
        }
    }

    @Test func sameResultsForAnySplitOfUnits() throws {
        let m = try cnn()
        let data = try dataFor(m, n: 60, shape: [2, 8, 8], classes: 4, seed: 14)
        let all = try Ablation.sweep(m, data, layer: 5)
        let some = try Ablation.sweep(m, data, layer: 5, units: [4, 1])
        #expect(some.correct == [all.correct[4], all.correct[1]])
        #expect(throws: TensorError.self) { try Ablation.sweep(m, data, layer: 5, units: [6]) }
    }
}

/// A mixing convolution followed by ReLU and max-pooling (as conv4, relu4, pool3 after relu3
/// in FashionNet), against brute force.
@Suite struct ConvolutionMixerSweepTests {
    @Test func convolutionReluPoolAfterTheAblatedLayer() throws {
        let m = try Sequential([Conv2d(cin: 1, cout: 4, k: 3, padding: 1), ReLU(), Conv2d(cin: 4, cout: 16, k: 3, padding: 1),
                                ReLU(), MaxPool2d(2), Flatten(), Linear(16 * 3 * 3, 3)], seed: 8, inputShape: [1, 7, 7])
        let data = try dataFor(m, n: 120, shape: [1, 7, 7], classes: 3, seed: 21)
        for mode in [AblationMode.zero, .mean] {
            let r = try Ablation.sweep(m, data, layer: 1, mode: mode)
            for (i, u) in r.units.enumerated() {
                let e = try Ablation.evaluate(m, data, lesions: [1: [u]], mode: mode)
                #expect(r.correct[i] == (0..<3).map { e.confusion[$0 * 3 + $0] }, "unit \(u + 1) \(mode)")
            }
        }
    }
}

/// The per-unit pass of a sweep runs only the samples whose values at the mixing layer change,
/// and adds the mixer's change, a max-pool and a ReLU in one pass: against brute force with a
/// pool before the ReLU, overlapping windows, channels that are not a multiple of 8, a unit
/// that never fires (no sample changes) and one that fires for some samples only.
@Suite struct SweepSkipsUnchangedSamplesTests {
    @Test func poolThenReluOverlappingWindowsAndDeadUnits() throws {
        let m = try Sequential([Conv2d(cin: 1, cout: 5, k: 3, padding: 1), ReLU(), Conv2d(cin: 5, cout: 12, k: 3, padding: 1),
                                MaxPool2d(3, stride: 2), ReLU(), Flatten(), Linear(12 * 3 * 3, 4)], seed: 9, inputShape: [1, 8, 8])
        let conv = m.layers[0] as! Conv2d
        conv.bias!.value.data[1] = -100   // unit 2 never fires
        conv.bias!.value.data[3] = -1.0   // unit 4 fires for some samples only
        let data = try dataFor(m, n: 130, shape: [1, 8, 8], classes: 4, seed: 23)
        let acts = try m.activations(data, layer: 1)   // [130, 5, 8, 8]
        var firing = 0
        for b in 0..<130 where (0..<64).contains(where: { acts.data[(b * 5 + 3) * 64 + $0] > 0 }) { firing += 1 }
        #expect(firing > 10 && firing < 120, "unit 4 fires for \(firing) of 130 samples")
        for mode in [AblationMode.zero, .mean] {
            let r = try Ablation.sweep(m, data, layer: 1, mode: mode, batch: 50)
            for (i, u) in r.units.enumerated() {
                let e = try Ablation.evaluate(m, data, lesions: [1: [u]], mode: mode)
                #expect(r.correct[i] == (0..<4).map { e.confusion[$0 * 4 + $0] }, "unit \(u + 1) \(mode)")
            }
            if mode == .zero { #expect(r.correct[1] == (0..<4).map { r.base.confusion[$0 * 4 + $0] }) }
        }
    }

    @Test func linearMixerAfterFlatten() throws {
        let m = try Sequential([Conv2d(cin: 1, cout: 6, k: 3), ReLU(), MaxPool2d(2), Flatten(), Linear(6 * 9, 10), ReLU(),
                                Linear(10, 3)], seed: 11, inputShape: [1, 8, 8])
        (m.layers[0] as! Conv2d).bias!.value.data[2] = -0.5
        let data = try dataFor(m, n: 90, shape: [1, 8, 8], classes: 3, seed: 24)
        for layer in [1, 2] {
            let r = try Ablation.sweep(m, data, layer: layer, batch: 40)
            for (i, u) in r.units.enumerated() {
                let e = try Ablation.evaluate(m, data, lesions: [layer: [u]])
                #expect(r.correct[i] == (0..<3).map { e.confusion[$0 * 3 + $0] }, "layer \(layer + 1) unit \(u + 1)")
            }
        }
    }
}

/// Curves (the first k units of an order ablated together) against one plain evaluation per
/// step, for a convolution mixer, a linear mixer after Flatten, BatchNorm and average pooling
/// on the way, no mixer at all, and both modes.
@Suite struct CurveTests {
    func check(_ m: Sequential, _ data: Dataset, layer: Int, order: [Int], mode: AblationMode,
               sourceLocation: SourceLocation = #_sourceLocation) throws {
        let steps = Array(0...order.count)
        let r = try Ablation.curve(m, data, layer: layer, order: order, steps: steps, mode: mode, batch: 45)
        let k = data.numClasses
        for (i, s) in steps.enumerated() {
            let e = s == 0 ? try m.evaluate(data) : try Ablation.evaluate(m, data, lesions: [layer: Array(order.prefix(s))], mode: mode)
            #expect(r.correct[i] == (0..<k).map { e.confusion[$0 * k + $0] }, "\(m.layers[layer].name), first \(s) of \(order), \(mode)",
                    sourceLocation: sourceLocation)
        }
    }

    @Test func againstPlainEvaluation() throws {
        let conv = try Sequential([Conv2d(cin: 1, cout: 6, k: 3, padding: 1), ReLU(), Conv2d(cin: 6, cout: 12, k: 3, padding: 1),
                                   ReLU(), MaxPool2d(2), Flatten(), Linear(12 * 4 * 4, 10), ReLU(), Linear(10, 4)],
                                  seed: 12, inputShape: [1, 8, 8])
        // Larger weights than the default initialisation, so that predictions vary over samples.
        for p in conv.parameters { for i in 0..<p.value.count { p.value.data[i] *= 3 } }
        let data = try dataFor(conv, n: 110, shape: [1, 8, 8], classes: 4, seed: 25)
        for mode in [AblationMode.zero, .mean] {
            try check(conv, data, layer: 1, order: [4, 0, 5, 2, 1, 3], mode: mode)   // convolution mixer
            try check(conv, data, layer: 4, order: [11, 3, 7, 0], mode: mode)        // linear mixer after Flatten
            try check(conv, data, layer: 7, order: [9, 2, 5], mode: mode)            // linear mixer
            try check(conv, data, layer: 8, order: [3, 1], mode: mode)               // the logits: no mixer
        }
        let m = try SweepExactnessTests().cnn()   // BatchNorm and average pooling after conv2
        for p in m.parameters { for i in 0..<p.value.count { p.value.data[i] *= 3 } }
        let d2 = try dataFor(m, n: 90, shape: [2, 8, 8], classes: 4, seed: 26)
        try check(m, d2, layer: 3, order: [5, 0, 2], mode: .mean)
    }

    @Test func badOrdersAndSteps() throws {
        let m = try SweepExactnessTests().cnn()
        let data = try dataFor(m, n: 20, shape: [2, 8, 8], classes: 4, seed: 27)
        #expect(throws: TensorError.self) { try Ablation.curve(m, data, layer: 1, order: [1, 2, 1], steps: [3]) }
        #expect(throws: TensorError.self) { try Ablation.curve(m, data, layer: 1, order: [1, 2], steps: [3]) }
        #expect(throws: TensorError.self) { try Ablation.curve(m, data, layer: 1, order: [1, 9], steps: [2]) }
    }
}
