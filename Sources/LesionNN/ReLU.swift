import LesionTensor

public final class ReLU: Layer {
    public var name = ""
    public let kind = "ReLU"
    public let namePrefix = "relu"
    var output: Tensor?
    var gradInput: Tensor?

    public init() {}
    public func outputShape(_ s: [Int]) throws(TensorError) -> [Int] { s }
    public func copy() throws(TensorError) -> Layer { let c = ReLU(); c.name = name; return c }

    public func forward(_ x: Tensor, training: Bool) throws(TensorError) -> Tensor {
        let y = try Buffers.reuse(output, x.shape)
        output = y
        let n = x.count
        Threads.parallelFor(Threads.count) { t in
            let (lo, hi) = Threads.range(t, of: n)
            let s = x.data, d = y.data
            for i in lo..<hi { d[i] = s[i] > 0 ? s[i] : 0 }
        }
        return y
    }

    public func backward(_ dy: Tensor, needInputGrad: Bool) throws(TensorError) -> Tensor? {
        guard needInputGrad else { return nil }
        guard let y = output, y.shape == dy.shape else { throw TensorError(.value, "\(name): backward without a forward") }
        let dx = try Buffers.reuse(gradInput, dy.shape)
        gradInput = dx
        let n = dy.count
        Threads.parallelFor(Threads.count) { t in
            let (lo, hi) = Threads.range(t, of: n)
            let g = dy.data, o = y.data, d = dx.data
            for i in lo..<hi { d[i] = o[i] > 0 ? g[i] : 0 }
        }
        return dx
    }
}
