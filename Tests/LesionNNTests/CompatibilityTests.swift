import Foundation
import Testing
@testable import LesionNN
@testable import LesionTensor

let nnFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path

/// Weights saved under PyTorch's state-dict names (by the safetensors package) load as they
/// are, and give the logits of an independent NumPy forward pass written in PyTorch's
/// conventions (Fixtures/make_reference.py).
@Suite struct PyTorchCompatibilityTests {
    @Test func logitsMatchTheReference() throws {
        let m = try Sequential([
            Conv2d(cin: 3, cout: 4, k: 3, padding: 1), BatchNorm(4, spatial: true), ReLU(), MaxPool2d(2),
            Conv2d(cin: 4, cout: 6, k: 3, stride: 2, padding: 1), ReLU(), AvgPool2d(2),
            Flatten(), Linear(6, 8), BatchNorm(8, spatial: false), ReLU(), Linear(8, 5),
        ], seed: 0, inputShape: [3, 12, 12])
        #expect(m.layerNames == ["conv1", "bn1", "relu1", "pool1", "conv2", "relu2", "pool2", "flatten1", "fc1", "bn2", "relu3", "fc2"])
        try m.load(path: nnFixtures + "/reference_net.safetensors")
        #expect((m.layers[1] as! BatchNorm).batchesTracked == 7)
        let x = try Npy.read(path: nnFixtures + "/reference_input.npy")
        let want = try Npy.read(path: nnFixtures + "/reference_logits.npy")
        let got = try m.forward(x)
        #expect(got.shape == want.shape)
        for i in 0..<want.count {
            #expect(abs(got.data[i] - want.data[i]) <= 1e-5 + 1e-4 * abs(want.data[i]), "logit \(i): \(got.data[i]) vs \(want.data[i])")
        }
    }
}
