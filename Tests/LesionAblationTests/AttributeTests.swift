import Foundation
import Testing
@testable import LesionAblation
@testable import LesionNN
@testable import LesionTensor

@Suite struct AttributeTests {
    /// 2 units, 3 classes, 6 samples with labels 0, 0, 1, 1, 2, 2; unit 1 never fires.
    let d = UnitData(acts: [1, 0, 3, 0, 2, 0, 2, 0, 0, 0, 4, 0], probs: [Double](repeating: 1.0 / 3, count: 18),
                     labels: [0, 0, 1, 1, 2, 2], zeroCounts: [1, 4], values: 4, units: 2, classes: 3, samples: 6)

    @Test func classMeansAndSelectivityByHand() {
        let m = Attributes.classMeans(d)
        // Unit 0: class means (1+3)/2 = 2, (2+2)/2 = 2, (0+4)/2 = 2 -> selectivity 0.
        #expect(m == [2, 2, 2, 0, 0, 0])
        let s = Attributes.selectivity(classMeans: m, units: 2, classes: 3)
        #expect(s == [0, 0])   // a unit that never fires has selectivity 0, not NaN
        // Class means 6, 1, 2: (6 - 1.5) / (6 + 1.5) = 0.6.
        #expect(abs(Attributes.selectivity(classMeans: [6, 1, 2], units: 1, classes: 3)[0] - 0.6) < 1e-12)
        #expect(Attributes.topClass(classMeans: [1, 5, 2], units: 1, classes: 3) == [1])
    }

    @Test func weightNormsThroughPoolingAndFlatten() throws {
        let m = try Sequential([Conv2d(cin: 2, cout: 3, k: 3), ReLU(), MaxPool2d(2), Flatten(), Linear(3 * 2 * 2, 4)],
                               seed: 1, inputShape: [2, 6, 6])
        let conv = m.layers[0] as! Conv2d, fc = m.layers[4] as! Linear
        let inNorms = try Attributes.l1In(m, layer: 1)
        for u in 0..<3 {
            var s = 0.0
            for i in 0..<18 { s += Double(abs(conv.weight.value.data[u * 18 + i])) }
            #expect(abs(inNorms[u] - s) < 1e-9)
        }
        let outNorms = try Attributes.l1Out(m, layer: 1, units: 3)
        for u in 0..<3 {
            var s = 0.0   // features of unit u after Flatten: u*4 ..< u*4+4 (c, h, w order)
            for o in 0..<4 { for j in 0..<4 { s += Double(abs(fc.weight.value.data[o * 12 + u * 4 + j])) } }
            #expect(abs(outNorms[u] - s) < 1e-9)
        }
        // l1_out of conv units read by a next convolution: the slice W[:, u].
        let m2 = try Sequential([Conv2d(cin: 1, cout: 2, k: 3), ReLU(), Conv2d(cin: 2, cout: 3, k: 3)], seed: 2, inputShape: [1, 7, 7])
        let c2 = m2.layers[2] as! Conv2d
        let o2 = try Attributes.l1Out(m2, layer: 1, units: 2)
        for u in 0..<2 {
            var s = 0.0
            for co in 0..<3 { for t in 0..<9 { s += Double(abs(c2.weight.value.data[(co * 2 + u) * 9 + t])) } }
            #expect(abs(o2[u] - s) < 1e-9)
        }
        #expect(throws: TensorError.self) { try Attributes.l1Out(m2, layer: 2, units: 3) }
    }

    @Test func collectedActivationsAreSpatialMeans() throws {
        let m = try Sequential([Conv2d(cin: 1, cout: 3, k: 3, padding: 1), ReLU(), Flatten(), Linear(3 * 25, 2)], seed: 3, inputShape: [1, 5, 5])
        let x = values([4, 1, 5, 5], seed: 2)
        let data = try Dataset(images: x, labels: [0, 1, 1, 0], classNames: ["a", "b"], name: "t")
        let d = try Attributes.collect(m, data, layer: 1)
        let acts = try m.activations(data, layer: 1)    // NCHW
        var zeros = [Int](repeating: 0, count: 3)
        for i in 0..<4 { for u in 0..<3 {
            var s = 0.0
            for p in 0..<25 { let v = acts.data[(i * 3 + u) * 25 + p]; s += Double(v); if v == 0 { zeros[u] += 1 } }
            #expect(abs(d.acts[i * 3 + u] - s / 25) < 1e-6)
        } }
        #expect(d.zeros == zeros.map { Double($0) / 100 })
        for i in 0..<4 { #expect(abs((0..<2).reduce(0.0) { $0 + d.probs[i * 2 + $1] } - 1) < 1e-9) }
        // The probabilities are the softmax of the model's own logits (computed here from a
        // separate forward pass of the whole model).
        let logits = try m.forward(x)
        for i in 0..<4 {
            let z = (0..<2).map { Double(logits.data[i * 2 + $0]) }
            let mx = z.max()!
            let e = z.map { exp($0 - mx) }
            for j in 0..<2 { #expect(abs(d.probs[i * 2 + j] - e[j] / (e[0] + e[1])) < 1e-6) }
        }
    }
}

@Suite struct RotationTests {
    @Test func rotatedModelComputesTheSameFunctionAndSweepsExactly() throws {
        let m = try Sequential([Conv2d(cin: 1, cout: 6, k: 3, padding: 1), ReLU(), MaxPool2d(2), Flatten(), Linear(6 * 16, 4)],
                               seed: 4, inputShape: [1, 8, 8])
        let r = try Ablation.rotate(m, layer: 1, units: 6, seed: 9)
        #expect(r.layerNames == ["conv1", "relu1", "relu1_rot", "relu1_unrot", "pool1", "flatten1", "fc1"])
        let x = values([5, 1, 8, 8], seed: 3)
        let a = try m.forward(x), b = try r.forward(x)
        for i in 0..<a.count { #expect(abs(a.data[i] - b.data[i]) <= 1e-4) }
        // The rotation is orthogonal with determinant +1, and seeded.
        let q = (r.layers[2] as! Conv2d).weight.value
        let q2 = try q.reshaped([6, 6])
        let eye = try q2.matmul(q2.transposed())
        for i in 0..<6 { for j in 0..<6 { #expect(abs(eye.data[i * 6 + j] - (i == j ? 1 : 0)) < 1e-5) } }
        #expect(try q2.determinant() > 0)
        #expect(try Ablation.rotate(m, layer: 1, units: 6, seed: 9).layers[2].parameters[0].value.toArray() == q.toArray())
        // Sweeps at the rotated layer equal one ablated evaluation per rotated unit.
        let data = try dataFor(m, n: 90, shape: [1, 8, 8], classes: 4, seed: 5)
        for mode in [AblationMode.zero, .mean] {
            let s = try Ablation.sweep(r, data, layer: 2, mode: mode)
            for (i, u) in s.units.enumerated() {
                let e = try Ablation.evaluate(r, data, lesions: [2: [u]], mode: mode)
                #expect(s.correct[i] == (0..<4).map { e.confusion[$0 * 4 + $0] })
            }
        }
    }
}
