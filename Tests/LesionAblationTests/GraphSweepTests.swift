import Testing
@testable import LesionAblation
@testable import LesionNN
@testable import LesionTensor

/// Sweeps and curves through residual blocks against one plain evaluation per unit (or set), at
/// every kind of point: the stem, inside a block, the sum, a block's output, the shortcut's
/// input, the last block before pooling, and a rotated block output.
@Suite struct GraphSweepTests {
    func block(_ cin: Int, _ cout: Int, stride: Int) throws -> Module {
        let body: [Module] = [.layer(try Conv2d(cin: cin, cout: cout, k: 3, stride: stride, padding: 1, bias: false), name: nil),
                              .layer(try BatchNorm(cout, spatial: true), name: nil), .layer(ReLU(), name: nil),
                              .layer(try Conv2d(cin: cout, cout: cout, k: 3, padding: 1, bias: false), name: nil),
                              .layer(try BatchNorm(cout, spatial: true), name: nil)]
        let shortcut: Module? = stride == 1 && cin == cout ? nil : .sequential(
            [.layer(try Conv2d(cin: cin, cout: cout, k: 1, stride: stride, bias: false), name: nil),
             .layer(try BatchNorm(cout, spatial: true), name: nil)], name: nil)
        return .residual(body: body, shortcut: shortcut, relu: true, name: nil)
    }

    func resnet() throws -> Sequential {
        let m = try Sequential(tree: [
            .layer(try Conv2d(cin: 2, cout: 4, k: 3, padding: 1), name: "conv1"), .layer(ReLU(), name: "relu"),
            .layer(try MaxPool2d(3, stride: 2, padding: 1), name: "maxpool"),
            .sequential([try block(4, 4, stride: 1), try block(4, 6, stride: 2)], name: "layer1"),
            .layer(try AdaptiveAvgPool2d(1), name: "avgpool"), .layer(Flatten(), name: "flatten"),
            .layer(try Linear(6, 4), name: "fc"),
        ], seed: 7, inputShape: [2, 8, 8])
        randomiseBatchNorm(m)
        // Logits that vary from sample to sample (PyTorch's init leaves the bias in charge here).
        let fc = m.layers[m.index(of: "fc")!] as! Linear
        fc.bias!.value.fill(0)
        for i in 0..<fc.weight.value.count { fc.weight.value.data[i] *= 20 }
        return m
    }

    func check(_ m: Sequential, _ data: Dataset, _ point: String, mode: AblationMode, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let layer = try #require(m.index(of: point))
        let r = try Ablation.sweep(m, data, layer: layer, mode: mode, batch: 37)
        #expect(r.base.confusion == (try m.evaluate(data)).confusion, sourceLocation: sourceLocation)
        let k = data.numClasses
        var moved = 0
        for (i, u) in r.units.enumerated() {
            let e = try Ablation.evaluate(m, data, lesions: [layer: [u]], mode: mode)
            let want = (0..<k).map { e.confusion[$0 * k + $0] }
            #expect(r.correct[i] == want, "\(point) unit \(u + 1) \(mode): sweep \(r.correct[i]) vs brute force \(want)", sourceLocation: sourceLocation)
            if want != r.base.perClassCorrect(k) { moved += 1 }
        }
        // The check means something only if ablations change predictions.
        #expect(moved > 0, "\(point): no unit moved any class", sourceLocation: sourceLocation)
    }

    @Test(arguments: ["conv1", "relu", "maxpool", "layer1.0.conv1", "layer1.0.relu1", "layer1.0.bn2", "layer1.0.add", "layer1.0",
                      "layer1.1.relu1", "layer1.1.downsample.1", "layer1.1.add", "layer1.1", "avgpool", "fc"])
    func matchesBruteForce(point: String) throws {
        let m = try resnet()
        let data = try dataFor(m, n: 150, shape: [2, 8, 8], classes: 4, seed: 3)
        try check(m, data, point, mode: .zero)
        try check(m, data, point, mode: .mean)
    }

    /// A unit's counts do not depend on which other units share the sweep (what splitting a
    /// sweep into parts, for shards or resumable runs, relies on), through blocks too.
    @Test(arguments: ["layer1.0", "layer1.1.relu1", "maxpool"])
    func sameResultsForAnySplitOfUnits(point: String) throws {
        let m = try resnet()
        let data = try dataFor(m, n: 90, shape: [2, 8, 8], classes: 4, seed: 5)
        let layer = try #require(m.index(of: point))
        let all = try Ablation.sweep(m, data, layer: layer, batch: 37)
        let n = all.units.count
        let odd = Array(stride(from: 1, to: n, by: 2)), even = Array(stride(from: 0, to: n, by: 2))
        for part in [odd, even, [n - 1, 0]] {
            let some = try Ablation.sweep(m, data, layer: layer, units: part, batch: 37)
            #expect(some.correct == part.map { all.correct[$0] }, "\(point), units \(part)")
        }
    }

    @Test func rotatedBlockOutput() throws {
        let m = try resnet()
        let rotated = try Ablation.rotate(m, layer: try #require(m.index(of: "layer1.0")), units: 4, seed: 3)
        let data = try dataFor(m, n: 150, shape: [2, 8, 8], classes: 4, seed: 4)
        try check(rotated, data, "layer1.0_rot", mode: .zero)
    }

    @Test func curveMatchesOneEvaluationPerStep() throws {
        let m = try resnet()
        let data = try dataFor(m, n: 120, shape: [2, 8, 8], classes: 4, seed: 5)
        let layer = try #require(m.index(of: "layer1.0"))
        let order = [2, 0, 3, 1]
        let c = try Ablation.curve(m, data, layer: layer, order: order, steps: [0, 1, 2, 4], batch: 50)
        let k = data.numClasses
        for (i, step) in c.steps.enumerated() {
            let e = try Ablation.evaluate(m, data, lesions: step == 0 ? [:] : [layer: Array(order.prefix(step))])
            #expect(c.correct[i] == (0..<k).map { e.confusion[$0 * k + $0] }, "step \(step)")
        }
    }
}

extension Evaluation {
    /// Correct samples of each class.
    func perClassCorrect(_ k: Int) -> [Int] { (0..<k).map { confusion[$0 * k + $0] } }
}

@Suite struct GroupedConvolutionSweepTests {
    /// A sweep whose mixer is a grouped convolution: a unit's change reaches only its group.
    @Test func matchesBruteForce() throws {
        let m = try Sequential([Conv2d(cin: 2, cout: 6, k: 3, padding: 1), ReLU(), Conv2d(cin: 6, cout: 6, k: 3, padding: 1, groups: 3),
                                ReLU(), MaxPool2d(2), Flatten(), Linear(6 * 16, 4)], seed: 4, inputShape: [2, 8, 8])
        let fc = m.layers[6] as! Linear
        for i in 0..<fc.weight.value.count { fc.weight.value.data[i] *= 8 }
        let data = try dataFor(m, n: 150, shape: [2, 8, 8], classes: 4, seed: 6)
        let r = try Ablation.sweep(m, data, layer: 1, batch: 37)
        let k = data.numClasses
        var moved = 0
        for (i, u) in r.units.enumerated() {
            let e = try Ablation.evaluate(m, data, lesions: [1: [u]])
            let want = (0..<k).map { e.confusion[$0 * k + $0] }
            #expect(r.correct[i] == want, "unit \(u + 1): sweep \(r.correct[i]) vs brute force \(want)")
            if want != r.base.perClassCorrect(k) { moved += 1 }
        }
        #expect(moved > 0)
    }
}

@Suite struct BlockAtTheInputSweepTests {
    /// A model that starts with a block whose identity shortcut reads the model's input: a sweep
    /// inside that block still equals one evaluation per unit.
    @Test func matchesBruteForce() throws {
        let m = try Sequential(tree: [
            .residual(body: [.layer(try Conv2d(cin: 3, cout: 3, k: 3, padding: 1), name: nil), .layer(ReLU(), name: nil),
                             .layer(try Conv2d(cin: 3, cout: 3, k: 3, padding: 1), name: nil)], shortcut: nil, relu: true, name: "block"),
            .layer(Flatten(), name: nil), .layer(try Linear(3 * 36, 4), name: "fc"),
        ], seed: 2, inputShape: [3, 6, 6])
        let data = try dataFor(m, n: 90, shape: [3, 6, 6], classes: 4, seed: 7)
        let layer = try #require(m.index(of: "block.relu1"))
        let r = try Ablation.sweep(m, data, layer: layer, batch: 40)
        let k = data.numClasses
        for (i, u) in r.units.enumerated() {
            let e = try Ablation.evaluate(m, data, lesions: [layer: [u]])
            #expect(r.correct[i] == (0..<k).map { e.confusion[$0 * k + $0] }, "unit \(u + 1)")
        }
    }
}

@Suite struct FewerSetsThanThreadsTests {
    /// One unit, fewer sets than threads (on 2 or more threads, as this machine kind has): the
    /// sweep still ablates it (it returned the unablated counts before).
    @Test func oneUnit() throws {
        let chain = try Sequential([Conv2d(cin: 1, cout: 4, k: 3, padding: 1), ReLU(), Flatten(), Linear(4 * 36, 3)], seed: 3, inputShape: [1, 6, 6])
        let fc = chain.layers[3] as! Linear
        for i in 0..<fc.weight.value.count { fc.weight.value.data[i] *= 20 }
        let data = try dataFor(chain, n: 120, shape: [1, 6, 6], classes: 3, seed: 9)
        for u in 0..<4 {
            let r = try Ablation.sweep(chain, data, layer: 1, units: [u])
            let e = try Ablation.evaluate(chain, data, lesions: [1: [u]])
            #expect(r.correct[0] == (0..<3).map { e.confusion[$0 * 3 + $0] }, "unit \(u + 1)")
        }
    }
}
