// [N, C, H, W] -> [N, C*H*W] in PyTorch's (c, h, w) order, so Linear weights from PyTorch
// read the features they were trained on. Internally this permutes NHWC to CHW order.
import LesionTensor

public final class Flatten: Layer {
    public var name = ""
    public let kind = "Flatten"
    public let namePrefix = "flatten"
    var inputShape: [Int] = []
    var output: Tensor?
    var gradInput: Tensor?

    public init() {}
    public func copy() throws(TensorError) -> Layer { let c = Flatten(); c.name = name; return c }

    public func outputShape(_ s: [Int]) throws(TensorError) -> [Int] {
        guard s.count >= 2 else { throw TensorError(.shape, "expected input with a batch dimension, got \(Tensor.describe(s))") }
        return [s[0], s.dropFirst().reduce(1, *)]
    }

    public func forward(_ x: Tensor, training: Bool) throws(TensorError) -> Tensor {
        inputShape = x.shape
        let n = x.shape[0], f = x.count / n
        guard x.rank == 4, x.shape[3] > 1, x.shape[1] * x.shape[2] > 1 else {
            return try x.reshaped([n, f])   // already in (c, h, w) order
        }
        let (hw, c) = (x.shape[1] * x.shape[2], x.shape[3])
        let y = try Buffers.reuse(output, [n, f])
        output = y
        for b in 0..<n {
            let s = x.data + b * f, d = y.data + b * f
            for p in 0..<hw { for ch in 0..<c { d[ch * hw + p] = s[p * c + ch] } }
        }
        return y
    }

    public func backward(_ dy: Tensor, needInputGrad: Bool) throws(TensorError) -> Tensor? {
        guard needInputGrad else { return nil }
        let s = inputShape
        guard s.count == 4, s[3] > 1, s[1] * s[2] > 1 else { return try dy.reshaped(s) }
        let dx = try Buffers.reuse(gradInput, s)
        gradInput = dx
        let n = s[0], hw = s[1] * s[2], c = s[3], f = hw * c
        for b in 0..<n {
            let g = dy.data + b * f, d = dx.data + b * f
            for p in 0..<hw { for ch in 0..<c { d[p * c + ch] = g[ch * hw + p] } }
        }
        return dx
    }
}

/// A forward-only layer computed by a function of NCHW (or [N, F]) tensors, e.g. written in
/// Lua. Training through it is an error; a model may still train the layers after it.
public final class Lambda: Layer {
    public var channelMap: ChannelMap { .opaque }
    public var name = ""
    public let kind = "Lambda"
    public let namePrefix = "lambda"
    public let function: (Tensor) throws -> Tensor

    public init(_ function: @escaping (Tensor) throws -> Tensor) { self.function = function }
    public func copy() throws(TensorError) -> Layer { let c = Lambda(function); c.name = name; return c }
    public func outputShape(_ s: [Int]) throws(TensorError) -> [Int] {
        throw TensorError(.shape, "the output shape of a Lambda is known only by running it")
    }

    public func forward(_ x: Tensor, training: Bool) throws(TensorError) -> Tensor {
        let y: Tensor
        do {
            y = try function(try Layout.toNCHW(x))
        } catch let e as TensorError {
            throw e
        } catch {
            throw TensorError(.value, "\(name): \(error)")
        }
        return try Layout.toNHWC(y)
    }

    public func backward(_ dy: Tensor, needInputGrad: Bool) throws(TensorError) -> Tensor? {
        throw TensorError(.value, "\(name): Lambda layers are forward-only; gradients cannot pass through them")
    }
}

extension Flatten: RebuildableLayer {
    public static var kindName: String { "Flatten" }
    public static func make(_ s: [String: LayerSetting]) throws(TensorError) -> Layer { Flatten() }
}
