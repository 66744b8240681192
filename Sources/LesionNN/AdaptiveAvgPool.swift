// Adaptive average pooling to a fixed output size, as torch.nn.AdaptiveAvgPool2d: output cell
// (i, j) averages input rows floor(i*H/oh) ..< ceil((i+1)*H/oh) and the same for columns.
// NHWC: a cell sums C-vectors.
import LesionTensor

public final class AdaptiveAvgPool2d: Layer {
    public var name = ""
    public let kind = "AdaptiveAvgPool2d"
    public let namePrefix = "avgpool"
    public let outH: Int, outW: Int
    public var settings: [(String, LayerSetting)] { [("output_h", .int(outH)), ("output_w", .int(outW))] }
    public var summary: String { "AdaptiveAvgPool2d(\(outH == outW ? "\(outH)" : "(\(outH), \(outW))"))" }
    var input: Tensor?
    var output: Tensor?
    var gradInput: Tensor?

    public init(_ h: Int, _ w: Int? = nil) throws(TensorError) {
        guard h >= 1, (w ?? h) >= 1 else { throw TensorError(.value, "adaptive pooling needs a positive output size") }
        try Layout.checkSides("AdaptiveAvgPool2d", ["output height": h, "output width": w ?? h])
        (outH, outW) = (h, w ?? h)
    }

    public func copy() throws(TensorError) -> Layer {
        let c = try AdaptiveAvgPool2d(outH, outW)
        c.name = name
        return c
    }

    public func outputShape(_ s: [Int]) throws(TensorError) -> [Int] {
        guard s.count == 4 else { throw TensorError(.shape, "expected input {N,C,H,W}, got \(Tensor.describe(s))") }
        return [s[0], s[1], outH, outW]
    }

    /// The input range of output index i of n along a side of `size`.
    @inline(__always)
    static func window(_ i: Int, _ n: Int, _ size: Int) -> Range<Int> {
        (i * size / n)..<(((i + 1) * size + n - 1) / n)
    }

    public func forward(_ x: Tensor, training: Bool) throws(TensorError) -> Tensor {
        _ = try outputShape(Layout.logicalShape(x))
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (oh, ow) = (outH, outW)
        let y = try Buffers.reuse(output, [n, oh, ow, c])
        output = y
        input = training ? x : nil
        Threads.parallelFor(Threads.count) { t in
            let (lo, hi) = Threads.range(t, of: n)
            for b in lo..<hi { for i in 0..<oh { for j in 0..<ow {
                let rows = AdaptiveAvgPool2d.window(i, oh, h), cols = AdaptiveAvgPool2d.window(j, ow, w)
                let dst = y.data + ((b * oh + i) * ow + j) * c
                dst.update(repeating: 0, count: c)
                for r in rows { for q in cols {
                    let s = x.data + ((b * h + r) * w + q) * c
                    for ch in 0..<c { dst[ch] += s[ch] }
                } }
                let scale = Float(rows.count * cols.count)
                for ch in 0..<c { dst[ch] /= scale }
            } } }
        }
        return y
    }

    public func backward(_ dy: Tensor, needInputGrad: Bool) throws(TensorError) -> Tensor? {
        guard needInputGrad else { return nil }
        guard let x = input else { throw TensorError(.value, "\(name): backward without a training forward") }
        let dx = try Buffers.reuseZeroed(gradInput, x.shape)
        gradInput = dx
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (oh, ow) = (outH, outW)
        Threads.parallelFor(Threads.count) { t in
            let (lo, hi) = Threads.range(t, of: n)
            for b in lo..<hi { for i in 0..<oh { for j in 0..<ow {
                let rows = AdaptiveAvgPool2d.window(i, oh, h), cols = AdaptiveAvgPool2d.window(j, ow, w)
                let g = dy.data + ((b * oh + i) * ow + j) * c
                let scale = 1 / Float(rows.count * cols.count)
                for r in rows { for q in cols {
                    let d = dx.data + ((b * h + r) * w + q) * c
                    for ch in 0..<c { d[ch] += g[ch] * scale }
                } }
            } } }
        }
        return dx
    }
}

extension AdaptiveAvgPool2d: RebuildableLayer {
    public static var kindName: String { "AdaptiveAvgPool2d" }
    public static func make(_ s: [String: LayerSetting]) throws(TensorError) -> Layer {
        try AdaptiveAvgPool2d(LayerKinds.need(s, "output_h"), LayerKinds.need(s, "output_w"))
    }
}
