// A model's architecture and state apart from its weights, as plain values: each node's kind,
// name, inputs and settings, the seed, input shape, mode and Dropout's stream position. A model
// is built again from it (its layers by `LayerKinds`), so a host can store a model inside a
// cached value with its weights beside it, in any text format it likes.
import LesionTensor

public struct ModelDescription: Equatable, Sendable {
    public struct Node: Equatable, Sendable {
        public var kind: String, name: String
        public var inputs: [Int]
        public var settings: [(String, LayerSetting)]

        public init(kind: String, name: String, inputs: [Int], settings: [(String, LayerSetting)]) {
            (self.kind, self.name, self.inputs, self.settings) = (kind, name, inputs, settings)
        }

        public static func == (a: Node, b: Node) -> Bool {
            a.kind == b.kind && a.name == b.name && a.inputs == b.inputs
                && a.settings.map(\.0) == b.settings.map(\.0) && a.settings.map(\.1) == b.settings.map(\.1)
        }
    }

    public var seed: UInt64
    public var inputShape: [Int]?
    public var training: Bool
    public var noiseSeed: UInt64, noiseCounter: UInt64
    public var nodes: [Node]

    public init(seed: UInt64, inputShape: [Int]?, training: Bool, noiseSeed: UInt64, noiseCounter: UInt64, nodes: [Node]) {
        (self.seed, self.inputShape, self.training, self.noiseSeed, self.noiseCounter, self.nodes) =
            (seed, inputShape, training, noiseSeed, noiseCounter, nodes)
    }
}

extension Sequential {
    /// The model's description; nil when a layer cannot be built again from its settings (a
    /// Lambda layer, whose code lives in a script).
    public var modelDescription: ModelDescription? {
        var nodes: [ModelDescription.Node] = []
        for (i, l) in layers.enumerated() {
            guard l is RebuildableLayer else { return nil }
            nodes.append(.init(kind: l.kind, name: l.name, inputs: inputs[i], settings: l.settings))
        }
        return ModelDescription(seed: seed, inputShape: inputShape, training: training, noiseSeed: noiseSeed,
                                noiseCounter: noiseCounter, nodes: nodes)
    }

    /// A model built from a description, its weights as the layers initialise them without a
    /// seed (the caller loads the real ones).
    public convenience init(description d: ModelDescription) throws(TensorError) {
        var layers: [Layer] = []
        for n in d.nodes {
            guard let layer = try LayerKinds.make(kind: n.kind, Dictionary(n.settings, uniquingKeysWith: { _, last in last })) else {
                throw TensorError(.value, "unknown layer kind '\(n.kind)'")
            }
            layer.name = n.name
            layers.append(layer)
        }
        try self.init(nodes: layers, inputs: d.nodes.map(\.inputs), seed: d.seed,
                      inputShape: (d.inputShape?.isEmpty ?? true) ? nil : d.inputShape, initialize: false)
        training = d.training
        noiseSeed = d.noiseSeed
        noiseCounter = d.noiseCounter
    }
}
