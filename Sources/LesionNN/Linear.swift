import COpenBLAS
// Fully connected layer: y = x W^T + b. x is [N, in], W is [out, in] (PyTorch's layout).
import LesionTensor

public final class Linear: Layer {
    public var name = ""
    public let kind = "Linear"
    public let namePrefix = "fc"
    public var channelMap: ChannelMap { .mixing }
    public var settings: [(String, LayerSetting)] { [("in_features", .int(nin)), ("out_features", .int(nout)), ("bias", .bool(bias != nil))] }
    public var summary: String { "Linear(\(nin), \(nout)\(bias == nil ? ", bias=false" : ""))" }
    public let nin: Int, nout: Int
    public let weight: Parameter
    public let bias: Parameter?
    public var parameters: [Parameter] { bias.map { [weight, $0] } ?? [weight] }
    var input: Tensor?
    var output: Tensor?
    var gradInput: Tensor?

    public init(_ nin: Int, _ nout: Int, bias: Bool = true) throws(TensorError) {
        guard nin >= 1, nout >= 1 else { throw TensorError(.value, "Linear needs positive sizes, got \(nin) and \(nout)") }
        (self.nin, self.nout) = (nin, nout)
        weight = try Parameter("weight", Tensor(zeros: [nout, nin]))
        self.bias = bias ? try Parameter("bias", Tensor(zeros: [nout])) : nil
    }

    public func reset(_ stream: RandomStream) {
        initLikePyTorch(weight: weight, bias: bias, fanIn: nin, stream)
    }

    public func outputShape(_ s: [Int]) throws(TensorError) -> [Int] {
        guard s.count == 2, s[1] == nin else {
            throw TensorError(.shape, "expected input {N,\(nin)}, got \(Tensor.describe(s))")
        }
        return [s[0], nout]
    }

    public func copy() throws(TensorError) -> Layer {
        let c = try Linear(nin, nout, bias: bias != nil)
        c.name = name
        c.weight.value = try weight.value.copy()
        if let bias { c.bias!.value = try bias.value.copy() }
        return c
    }

    public func forward(_ x: Tensor, training: Bool) throws(TensorError) -> Tensor {
        _ = try outputShape(Layout.logicalShape(x))
        let n = x.shape[0]
        let y = try Buffers.reuse(output, [n, nout])
        output = y
        input = training ? x : nil
        if let bias {
            for r in 0..<n { (y.data + r * nout).update(from: bias.value.data, count: nout) }
        }
        try Tensor.gemm(m: n, n: nout, k: nin, a: x.data, b: weight.value.data, c: y.data, transB: true, beta: bias == nil ? 0 : 1)
        return y
    }

    public func backward(_ dy: Tensor, needInputGrad: Bool) throws(TensorError) -> Tensor? {
        guard let x = input else { throw TensorError(.value, "\(name): backward without a training forward") }
        let n = x.shape[0]
        // dW [out, in] += dy^T [out, N] x x [N, in]
        try Tensor.gemm(m: nout, n: nin, k: n, a: dy.data, b: x.data, c: weight.grad.data, transA: true, beta: 1)
        if let bias {
            for c in 0..<nout {
                var s = 0.0
                for r in 0..<n { s += Double(dy.data[r * nout + c]) }
                bias.grad.data[c] += Float(s)
            }
        }
        guard needInputGrad else { return nil }
        let dx = try Buffers.reuse(gradInput, x.shape)
        gradInput = dx
        // dx [N, in] = dy [N, out] x W [out, in]
        try Tensor.gemm(m: n, n: nin, k: nout, a: dy.data, b: weight.value.data, c: dx.data)
        return dx
    }
}

extension Linear: ChannelMixer {
    /// d [n, nout] (+)= delta [n, per] x W[:, channel*per ..< (channel+1)*per]^T: the channel's
    /// block of `per` features (a flattened plane, or one feature after global pooling).
    public func addChannelChange(_ delta: UnsafePointer<Float>, channel u: Int, per: Int, rowStride: Int, images n: Int,
                                 h: Int, w: Int, into d: Tensor, accumulate: Bool) throws(TensorError) {
        guard (u + 1) * per <= nin, d.shape == [n, nout] else {
            throw TensorError(.shape, "\(name): a change of channel \(u) (\(per) features) does not fit {N,\(nin)} -> \(Tensor.describe(d.shape))")
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(nout), Int32(per), 1,
                    delta, Int32(rowStride), weight.value.data + u * per, Int32(nin), accumulate ? 1 : 0, d.data, Int32(nout))
    }
}

extension Linear: RebuildableLayer {
    public static var kindName: String { "Linear" }
    public static func make(_ s: [String: LayerSetting]) throws(TensorError) -> Layer {
        try Linear(LayerKinds.need(s, "in_features"), LayerKinds.need(s, "out_features"), bias: s["bias"]?.bool ?? true)
    }
}
