// Layers built again from their kind and settings (a model inside a cached value): each kind
// says how in its own file (`RebuildableLayer`), and this list names the kinds that can be. A
// new layer kind adds one line here.
import LesionTensor

/// A layer that can be built from its `settings`.
public protocol RebuildableLayer: Layer {
    static var kindName: String { get }
    static func make(_ s: [String: LayerSetting]) throws(TensorError) -> Layer
}

public enum LayerKinds {
    static var all: [any RebuildableLayer.Type] { [
        Conv2d.self, Linear.self, BatchNorm.self, MaxPool2d.self, AvgPool2d.self, AdaptiveAvgPool2d.self,
        GlobalAvgPool.self, ReLU.self, Dropout.self, Flatten.self, Add.self,
    ] }

    /// The layer of `kind` with `settings`; nil for a kind that cannot be rebuilt (a Lambda).
    public static func make(kind: String, _ settings: [String: LayerSetting]) throws(TensorError) -> Layer? {
        if kind == "BatchNorm1d" || kind == "BatchNorm2d" {
            let bn = try BatchNorm(try need(settings, "num_features"), spatial: kind == "BatchNorm2d")
            bn.batchesTracked = settings["num_batches_tracked"]?.int ?? 0
            return bn
        }
        guard let t = all.first(where: { $0.kindName == kind }) else { return nil }
        return try t.make(settings)
    }

    static func need(_ s: [String: LayerSetting], _ key: String) throws(TensorError) -> Int {
        guard let v = s[key]?.int else { throw TensorError(.format, "layer setting '\(key)' is missing") }
        return v
    }
}
