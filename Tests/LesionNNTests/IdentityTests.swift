import Testing
@testable import LesionNN
import LesionTensor

/// Cache identities: a model's changes with any weight, its mode or its dropout state and
/// is nil with a Lambda; a data set's changes with its view, labels and samples, and is the same
/// for an equal data set built apart.
@Suite struct IdentityTests {
    func model(seed: UInt64 = 1) throws -> Sequential {
        try Sequential([try Conv2d(cin: 1, cout: 4, k: 3, padding: 1), ReLU(), Flatten(), try Linear(4 * 5 * 5, 3)],
                       seed: seed, inputShape: [1, 5, 5])
    }

    @Test func modelIdentity() throws {
        let a = try model(), b = try model()
        let id = try #require(a.contentIdentity)
        #expect(b.contentIdentity == id, "the same architecture and weights")
        #expect(try model(seed: 2).contentIdentity != id, "other weights")
        let w = (b.layers[3] as! Linear).parameters[0].value
        w.data[7] += 1e-6
        #expect(b.contentIdentity != id, "one weight moved")
        w.data[7] -= 1e-6
        a.training = !a.training
        #expect(a.contentIdentity != id, "the mode")
        let lambda = try Sequential([Lambda { $0 }], seed: 1, inputShape: [3])
        #expect(lambda.contentIdentity == nil)
    }

    @Test func datasetIdentity() throws {
        let images = try Tensor(shape: [4, 1, 2, 2], values: (0..<16).map(Float.init))
        let d = try Dataset(images: images, labels: [0, 1, 0, 1], classNames: ["a", "b"], name: "d")
        let ids = DatasetIdentities()
        let id = ids.identity(of: d)
        #expect(id.count == 16)
        #expect(DatasetIdentities().identity(of: try Dataset(images: try images.copy(), labels: [0, 1, 0, 1], classNames: ["a", "b"], name: "e")) == id,
                "equal contents built apart")
        #expect(ids.identity(of: try d.subset([0, 1])) != id, "another view")
        #expect(ids.identity(of: try Dataset(images: images, labels: [0, 1, 1, 1], classNames: ["a", "b"], name: "d")) != id, "other labels")
        let other = try images.copy()
        other.data[3] = 99
        #expect(DatasetIdentities().identity(of: try Dataset(images: other, labels: [0, 1, 0, 1], classNames: ["a", "b"], name: "d")) != id,
                "another sample")
    }
}
