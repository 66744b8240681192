import Testing
@testable import LesionNN
@testable import LesionTensor

/// Evaluation writes a ReLU's, a batch norm's or a sum's output over an input nothing else reads,
/// and runs a convolution's batch norm and ReLU on each chunk as it is written. None of that may
/// change a value: every point's activations, the logits, and `forwardRest` from any point must
/// equal a plain run of the nodes one by one (each into its own buffer), bit for bit.
@Suite struct InPlaceTests {
    /// A residual model whose batch norms have non-trivial statistics; with `dropoutFirst`, a
    /// block's body starts with Dropout and a batch norm, so in evaluation the batch norm reads
    /// the block's input itself, which the identity shortcut still needs.
    func model(dropoutFirst: Bool) throws -> Sequential {
        let residual = ResidualTests()
        var firstBody: [Module] = []
        if dropoutFirst { firstBody = [.layer(try Dropout(0.3), name: nil), .layer(try BatchNorm(4, spatial: true), name: nil)] }
        firstBody += [.layer(try Conv2d(cin: 4, cout: 4, k: 3, padding: 1, bias: false), name: nil),
                      .layer(try BatchNorm(4, spatial: true), name: nil), .layer(ReLU(), name: nil),
                      .layer(try Conv2d(cin: 4, cout: 4, k: 1, bias: false), name: nil),
                      .layer(try BatchNorm(4, spatial: true), name: nil)]
        let m = try Sequential(tree: [
            .layer(try Conv2d(cin: 2, cout: 4, k: 3, padding: 1), name: "conv1"),
            .layer(try BatchNorm(4, spatial: true), name: "bn1"), .layer(ReLU(), name: "relu"),
            .sequential([.residual(body: firstBody, shortcut: nil, relu: true, name: nil),
                         try residual.basic(4, 6, stride: 2)], name: "layer1"),
            .layer(try AdaptiveAvgPool2d(1), name: "avgpool"), .layer(Flatten(), name: nil),
            .layer(try Linear(6, 3), name: "fc"),
        ], seed: 8, inputShape: [2, 9, 9])
        var s: UInt64 = 1
        for case let bn as BatchNorm in m.layers {
            RandomStream(seed: 77, stream: s).fillNormal(bn.runningMean.data, count: bn.channels)
            RandomStream(seed: 78, stream: s).fillUniform(bn.runningVar.data, count: bn.channels, lo: 0.5, hi: 2)
            RandomStream(seed: 79, stream: s).fillNormal(bn.weight.value.data, count: bn.channels)
            RandomStream(seed: 80, stream: s).fillNormal(bn.bias.value.data, count: bn.channels)
            s += 1
        }
        return m
    }

    func same(_ a: Tensor, _ b: Tensor) -> Bool {
        a.shape == b.shape && (0..<a.count).allSatisfy { a.data[$0].bitPattern == b.data[$0].bitPattern }
    }

    @Test(arguments: [false, true]) func everyPointAndTheRestEqualAPlainRun(dropoutFirst: Bool) throws {
        let m = try model(dropoutFirst: dropoutFirst)
        let x = try Tensor(uninitialized: [5, 2, 9, 9])
        RandomStream(seed: 3).fillNormal(x.data, count: x.count)
        // The plain run's values, copied (they are the layers' buffers, which the next run reuses).
        let plain = try m.forwardPlain(x, nodes: m.layers).map { try $0.copy() }
        let logits = plain.last!
        #expect(same(try m.forwardInternal(x, training: false), logits))
        for k in 0..<m.layers.count {
            let at = try m.forwardInternal(x, through: k, training: false)
            #expect(same(at, plain[k]), "\(m.layers[k].name)")
            if k + 1 < m.layers.count {
                let rest = try m.forwardRest(try at.copy(), after: k)
                #expect(same(rest, logits), "rest after \(m.layers[k].name)")
            }
        }
        // The model input is never written over.
        let again = try Tensor(shape: x.shape, values: Array(UnsafeBufferPointer(start: x.data, count: x.count)))
        _ = try m.forwardInternal(x, training: false)
        #expect(same(x, again))
    }

    @Test func theBatchBudgetCountsOnlyBuffersThatAreKept() throws {
        let m = try model(dropoutFirst: false)
        // conv1's output is shared by bn1 and relu: 3 nodes, one buffer, so more images fit.
        let big = [2, 900, 900]
        let fitting = m.fittingBatch(1000, sample: big), all = m.fittingBatch(1000, sample: big, keepingAll: true)
        #expect(fitting > all)
        #expect(all >= 1)
    }
}
