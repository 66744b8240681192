import Testing
@testable import LesionNN
@testable import LesionTensor

/// Residual models: the names of a flattened tree, forward against the branches run by hand,
/// and gradients against finite differences through both branches of each block.
@Suite struct ResidualTests {
    /// A block of torchvision's BasicBlock shape (conv, bn, relu, conv, bn; the shortcut a 1x1
    /// conv and bn when the shape changes).
    func basic(_ cin: Int, _ cout: Int, stride: Int, relu: Bool = true) throws -> Module {
        let body: [Module] = [.layer(try Conv2d(cin: cin, cout: cout, k: 3, stride: stride, padding: 1, bias: false), name: nil),
                              .layer(try BatchNorm(cout, spatial: true), name: nil), .layer(ReLU(), name: nil),
                              .layer(try Conv2d(cin: cout, cout: cout, k: 3, padding: 1, bias: false), name: nil),
                              .layer(try BatchNorm(cout, spatial: true), name: nil)]
        let shortcut: Module? = stride == 1 && cin == cout ? nil : .sequential(
            [.layer(try Conv2d(cin: cin, cout: cout, k: 1, stride: stride, bias: false), name: nil),
             .layer(try BatchNorm(cout, spatial: true), name: nil)], name: nil)
        return .residual(body: body, shortcut: shortcut, relu: relu, name: nil)
    }

    func tinyResNet(relu: Bool = true) throws -> Sequential {
        try Sequential(tree: [
            .layer(try Conv2d(cin: 2, cout: 4, k: 3, padding: 1), name: "conv1"),
            .layer(try MaxPool2d(3, stride: 2, padding: 1), name: "maxpool"),
            .sequential([try basic(4, 4, stride: 1, relu: relu), try basic(4, 6, stride: 2, relu: relu)], name: "layer1"),
            .layer(try AdaptiveAvgPool2d(1), name: "avgpool"), .layer(Flatten(), name: nil),
            .layer(try Linear(6, 3), name: "fc"),
        ], seed: 4, inputShape: [2, 8, 8])
    }

    @Test func namesFollowTorchvision() throws {
        let m = try tinyResNet()
        #expect(m.layerNames == [
            "conv1", "maxpool",
            "layer1.0.conv1", "layer1.0.bn1", "layer1.0.relu1", "layer1.0.conv2", "layer1.0.bn2", "layer1.0.add", "layer1.0",
            "layer1.1.conv1", "layer1.1.bn1", "layer1.1.relu1", "layer1.1.conv2", "layer1.1.bn2",
            "layer1.1.downsample.0", "layer1.1.downsample.1", "layer1.1.add", "layer1.1",
            "avgpool", "flatten1", "fc",
        ])
        let names = m.stateDict().map(\.0)
        #expect(names.contains("layer1.1.downsample.1.running_var"))
        #expect(names.contains("layer1.0.conv2.weight"))
        // The sums read the body's end and the shortcut (or the block's input).
        let add0 = try #require(m.index(of: "layer1.0.add")), add1 = try #require(m.index(of: "layer1.1.add"))
        #expect(m.inputs[add0] == [m.index(of: "layer1.0.bn2")!, m.index(of: "maxpool")!])
        #expect(m.inputs[add1] == [m.index(of: "layer1.1.bn2")!, m.index(of: "layer1.1.downsample.1")!])
        #expect(!m.isChain)
        let shapes = try m.shapes(batch: 2)
        #expect(shapes[add1]! == [2, 6, 2, 2])
    }

    @Test func mismatchedBranchesAreAnError() throws {
        #expect(throws: TensorError.self) {
            let block = Module.residual(body: [.layer(try Conv2d(cin: 2, cout: 4, k: 3, padding: 1), name: nil)],
                                        shortcut: nil, relu: true, name: nil)
            let m = try Sequential(tree: [block, .layer(Flatten(), name: nil)], inputShape: [2, 4, 4])
            // Without a shortcut the block cannot add 2 channels to 4.
            _ = try m.shapes()
        }
    }

    /// Forward equals the blocks computed by hand from the layers' own forward passes.
    @Test func forwardEqualsTheBranchesAdded() throws {
        let m = try tinyResNet()
        let x = sample([3, 2, 8, 8], seed: 5)
        let out = try m.forwardInternal(x, training: false).copy()
        func run(_ name: String, _ h: Tensor) throws -> Tensor { try m.layers[m.index(of: name)!].forward(h, training: false).copy() }
        func block(_ p: String, _ h: Tensor, downsample: Bool) throws -> Tensor {
            var b = h
            for n in ["conv1", "bn1", "relu1", "conv2", "bn2"] { b = try run("\(p).\(n)", b) }
            let s = downsample ? try run("\(p).downsample.1", try run("\(p).downsample.0", h)) : h
            let y = try Tensor(zeros: b.shape)
            for i in 0..<y.count { y.data[i] = max(0, b.data[i] + s.data[i]) }
            return y
        }
        var h = try run("maxpool", try run("conv1", try Layout.toNHWC(x)))
        h = try block("layer1.0", h, downsample: false)
        h = try block("layer1.1", h, downsample: true)
        h = try run("fc", try run("flatten1", try run("avgpool", h)))
        #expect(out.shape == h.shape)
        for i in 0..<h.count { #expect(abs(out.data[i] - h.data[i]) <= 1e-5, "logit \(i)") }
    }

    /// Parameter gradients of the mean cross-entropy against central differences, through
    /// identity and projection shortcuts (blocks without the final ReLU, and no max-pool, so
    /// that no step crosses a kink).
    @Test func gradientsThroughBothBranches() throws {
        let m = try Sequential(tree: [
            .layer(try Conv2d(cin: 2, cout: 3, k: 3, padding: 1), name: nil),
            .sequential([
                .residual(body: [.layer(try Conv2d(cin: 3, cout: 3, k: 3, padding: 1), name: nil),
                                 .layer(try BatchNorm(3, spatial: true), name: nil)], shortcut: nil, relu: false, name: nil),
                .residual(body: [.layer(try Conv2d(cin: 3, cout: 4, k: 3, stride: 2, padding: 1), name: nil)],
                          shortcut: .sequential([.layer(try Conv2d(cin: 3, cout: 4, k: 1, stride: 2), name: nil),
                                                 .layer(try BatchNorm(4, spatial: true), name: nil)], name: nil),
                          relu: false, name: nil),
            ], name: "layer1"),
            .layer(try AdaptiveAvgPool2d(2), name: nil), .layer(Flatten(), name: nil), .layer(try Linear(16, 4), name: nil),
        ], seed: 3)
        let checked = try checkLossGradients(m, x: sample([5, 2, 6, 6], seed: 4), labels: [0, 3, 1, 2, 1], probes: 8)
        #expect(checked > 60)
    }

    @Test func copyKeepsWeightsAndWiring() throws {
        let m = try tinyResNet()
        let c = try m.copy()
        #expect(c.layerNames == m.layerNames)
        #expect(c.inputs == m.inputs)
        let x = sample([2, 2, 8, 8], seed: 6)
        let a = try m.forward(x), b = try c.forward(x)
        for i in 0..<a.count { #expect(a.data[i] == b.data[i]) }
    }
}

/// Pooling with PyTorch's padding and ceil mode, and adaptive average pooling.
@Suite struct PoolingOptionTests {
    /// Max-pooling by its definition on NCHW, windows clipped to the input.
    func naiveMaxPool(_ x: Tensor, k: Int, s: Int, p: Int, ho: Int, wo: Int) throws -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let y = try Tensor(zeros: [n, c, ho, wo])
        for b in 0..<n { for ch in 0..<c { for i in 0..<ho { for j in 0..<wo {
            var m = -Float.infinity
            for a in 0..<k { for q in 0..<k {
                let (r, col) = (i * s - p + a, j * s - p + q)
                if r >= 0 && r < h && col >= 0 && col < w { m = max(m, x.data[((b * c + ch) * h + r) * w + col]) }
            } }
            y.data[((b * c + ch) * ho + i) * wo + j] = m
        } } } }
        return y
    }

    @Test(arguments: [(3, 2, 1, false, 7, [4, 4]), (3, 2, 0, true, 8, [4, 4]), (2, 2, 0, true, 5, [3, 3]), (3, 2, 1, true, 6, [4, 4])])
    func maxPoolMatchesItsDefinition(k: Int, s: Int, p: Int, ceil: Bool, side: Int, out: [Int]) throws {
        let pool = try MaxPool2d(k, stride: s, padding: p, ceilMode: ceil)
        let x = sample([2, 3, side, side], seed: 7)
        #expect(try pool.outputShape(x.shape) == [2, 3] + out)   // sizes as PyTorch gives them
        let y = try Layout.toNCHW(try pool.forward(try Layout.toNHWC(x), training: false))
        let r = try naiveMaxPool(x, k: k, s: s, p: p, ho: out[0], wo: out[1])
        for i in 0..<r.count { #expect(y.data[i] == r.data[i]) }
        try gradCheck(try MaxPool2d(k, stride: s, padding: p, ceilMode: ceil), input: [2, 3, side, side], kinks: true)
    }

    @Test func adaptiveAveragePool() throws {
        let pool = try AdaptiveAvgPool2d(3, 2)
        let x = sample([2, 2, 7, 5], seed: 8)
        let y = try Layout.toNCHW(try pool.forward(try Layout.toNHWC(x), training: false))
        #expect(y.shape == [2, 2, 3, 2])
        // Rows 0..<3, 2..<5, 4..<7; columns 0..<3, 2..<5 (PyTorch's start = floor, end = ceil).
        let rows = [0..<3, 2..<5, 4..<7], cols = [0..<3, 2..<5]
        for b in 0..<2 { for c in 0..<2 { for i in 0..<3 { for j in 0..<2 {
            var s: Float = 0
            for r in rows[i] { for q in cols[j] { s += x.data[((b * 2 + c) * 7 + r) * 5 + q] } }
            #expect(abs(y.data[((b * 2 + c) * 3 + i) * 2 + j] - s / 9) <= 1e-6)
        } } } }
        try gradCheck(try AdaptiveAvgPool2d(3, 2), input: [2, 2, 7, 5])
    }
}

/// Convolutions with groups (PyTorch's `groups`) against their definition and finite differences.
@Suite struct GroupedConvolutionTests {
    /// y[b, co] = bias[co] + sum over the input channels of co's group of w * x, NCHW.
    func naive(_ c: Conv2d, _ x: Tensor) throws -> Tensor {
        let (n, h, w) = (x.shape[0], x.shape[2], x.shape[3])
        let s = try c.outputShape(x.shape)
        let y = try Tensor(zeros: s)
        let (cinG, coutG, k) = (c.cin / c.groups, c.cout / c.groups, c.k)
        for b in 0..<n { for co in 0..<c.cout { for i in 0..<s[2] { for j in 0..<s[3] {
            var acc = c.bias.map { $0.value.data[co] } ?? 0
            for ci in 0..<cinG { for a in 0..<k { for q in 0..<k {
                let (r, col) = (i * c.stride - c.padding + a, j * c.stride - c.padding + q)
                guard r >= 0, r < h, col >= 0, col < w else { continue }
                acc += c.weight.value.data[((co * cinG + ci) * k + a) * k + q] * x.data[((b * c.cin + (co / coutG) * cinG + ci) * h + r) * w + col]
            } } }
            y.data[((b * c.cout + co) * s[2] + i) * s[3] + j] = acc
        } } } }
        return y
    }

    @Test(arguments: [(4, 6, 2, 1, 3), (6, 6, 6, 2, 3), (64, 64, 2, 1, 3), (8, 4, 4, 1, 1)])
    func matchesItsDefinition(cin: Int, cout: Int, groups: Int, stride: Int, k: Int) throws {
        let c = try Conv2d(cin: cin, cout: cout, k: k, stride: stride, padding: k / 2, groups: groups)
        c.reset(RandomStream(seed: 3, stream: 1))
        #expect(c.weight.value.shape == [cout, cin / groups, k, k])
        let x = sample([2, cin, 9, 8], seed: 4)
        let y = try Layout.toNCHW(try c.forward(try Layout.toNHWC(x), training: false))
        let r = try naive(c, x)
        #expect(y.shape == r.shape)
        for i in 0..<r.count { #expect(abs(y.data[i] - r.data[i]) <= 1e-4 * max(1, abs(r.data[i]))) }
        // A copy computes the same (its groups see the copied weights).
        let copied = try Layout.toNCHW(try c.copy().forward(try Layout.toNHWC(x), training: false))
        for i in 0..<r.count { #expect(copied.data[i] == y.data[i]) }
    }

    @Test func gradients() throws {
        let c = try Conv2d(cin: 4, cout: 6, k: 3, padding: 1, groups: 2)
        c.reset(RandomStream(seed: 5, stream: 1))
        try gradCheck(c, input: [2, 4, 5, 5])
        let depthwise = try Conv2d(cin: 3, cout: 3, k: 3, stride: 2, padding: 1, groups: 3)
        depthwise.reset(RandomStream(seed: 6, stream: 1))
        try gradCheck(depthwise, input: [2, 3, 6, 6])
    }

    @Test func groupsMustDivideTheChannels() {
        #expect(throws: TensorError.self) { _ = try Conv2d(cin: 4, cout: 6, k: 3, groups: 4) }
    }
}

/// A model's description (ModelDescription.swift) rebuilds the same graph: names, reads,
/// settings (batch norm's batches tracked), mode and Dropout's stream, and with the weights
/// copied the same logits; a Lambda layer has none.
@Suite struct ModelDescriptionTests {
    @Test func rebuildsTheSameModel() throws {
        let m = try ResidualTests().tinyResNet()
        m.training = true
        m.noiseCounter = 7
        (m.layers[3] as! BatchNorm).batchesTracked = 3
        let d = try #require(m.modelDescription)
        let r = try Sequential(description: d)
        #expect(r.modelDescription == d)
        #expect(r.layerNames == m.layerNames && r.inputs == m.inputs && r.training && r.noiseCounter == 7)
        #expect((r.layers[3] as! BatchNorm).batchesTracked == 3)
        for ((_, a), (_, b)) in zip(m.stateDict(), r.stateDict()) { b.data.update(from: a.data, count: a.count) }
        m.training = false
        r.training = false
        let x = sample([2, 2, 8, 8], seed: 9)
        #expect(try m.forward(x).toArray() == r.forward(x).toArray())
        var bad = d
        bad.nodes[0].kind = "Teleporter"
        #expect(throws: TensorError.self) { try Sequential(description: bad) }
    }
}
