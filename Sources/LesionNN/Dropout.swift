// Inverted dropout: in training each element is zeroed with probability p and the rest are
// scaled by 1/(1-p); in evaluation it is the identity. The mask comes from a counter-based
// stream that the model sets before each training forward, so runs repeat bit for bit.
import LesionTensor

public final class Dropout: Layer {
    public var name = ""
    public let kind = "Dropout"
    public let namePrefix = "dropout"
    public let p: Float
    public var settings: [(String, LayerSetting)] { [("p", .number(Double(p)))] }
    public var summary: String { "Dropout(p=\(p))" }
    /// The stream of the next training forward (set by Sequential).
    public var stream = RandomStream(seed: 0)
    var mask: Tensor?
    var output: Tensor?
    var gradInput: Tensor?

    public init(_ p: Float) throws(TensorError) {
        guard p >= 0 && p < 1 else { throw TensorError(.value, "dropout probability must be in [0, 1), got \(p)") }
        self.p = p
    }

    public func outputShape(_ s: [Int]) throws(TensorError) -> [Int] { s }
    public func copy() throws(TensorError) -> Layer { let c = try Dropout(p); c.name = name; return c }

    public func forward(_ x: Tensor, training: Bool) throws(TensorError) -> Tensor {
        guard training && p > 0 else { return x }
        let m = try Buffers.reuse(mask, x.shape)
        mask = m
        stream.fillUniform(m.data, count: m.count)
        let keep = 1 / (1 - p)
        for i in 0..<m.count { m.data[i] = m.data[i] < p ? 0 : keep }
        let y = try Buffers.reuse(output, x.shape)
        output = y
        for i in 0..<x.count { y.data[i] = x.data[i] * m.data[i] }
        return y
    }

    public func backward(_ dy: Tensor, needInputGrad: Bool) throws(TensorError) -> Tensor? {
        guard needInputGrad else { return nil }
        guard p > 0 else { return dy }
        guard let m = mask, m.shape == dy.shape else { throw TensorError(.value, "\(name): backward without a training forward") }
        let dx = try Buffers.reuse(gradInput, dy.shape)
        gradInput = dx
        for i in 0..<dy.count { dx.data[i] = dy.data[i] * m.data[i] }
        return dx
    }
}

extension Dropout: RebuildableLayer {
    public static var kindName: String { "Dropout" }
    public static func make(_ s: [String: LayerSetting]) throws(TensorError) -> Layer {
        guard let p = s["p"]?.number else { throw TensorError(.format, "layer setting 'p' is missing") }
        return try Dropout(Float(p))
    }
}
