import LesionTensor

public final class ReLU: InPlaceLayer {
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
        apply(x, into: y)
        return y
    }

    public func forwardInPlace(_ x: Tensor) throws(TensorError) { apply(x, into: x) }

    public func epilogue(channels: Int) -> Epilogue? {
        { p, rows in ReLU.select(p, where: p, into: p, 0, rows * channels) }
    }

    private func apply(_ x: Tensor, into y: Tensor) {
        let n = x.count
        Threads.parallelFor(Threads.count) { t in
            let (lo, hi) = Threads.range(t, of: n)
            ReLU.select(x.data, where: x.data, into: y.data, lo, hi)
        }
    }

    /// d[i] = o[i] > 0 ? s[i] : 0 for i in lo..<hi (0 also where o is NaN), 8 at a time.
    @inline(__always)
    static func select(_ s: UnsafePointer<Float>, where o: UnsafePointer<Float>, into d: UnsafeMutablePointer<Float>,
                       _ lo: Int, _ hi: Int) {
        var i = lo
        while i + 8 <= hi {
            let v = UnsafeRawPointer(s + i).loadUnaligned(as: SIMD8<Float>.self)
            let m = UnsafeRawPointer(o + i).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(d + i).storeBytes(of: v.replacing(with: 0, where: .!(m .> 0)), as: SIMD8<Float>.self)
            i += 8
        }
        while i < hi {
            d[i] = o[i] > 0 ? s[i] : 0
            i += 1
        }
    }

    public func backward(_ dy: Tensor, needInputGrad: Bool) throws(TensorError) -> Tensor? {
        guard needInputGrad else { return nil }
        guard let y = output, y.shape == dy.shape else { throw TensorError(.value, "\(name): backward without a forward") }
        let dx = try Buffers.reuse(gradInput, dy.shape)
        gradInput = dx
        let n = dy.count
        Threads.parallelFor(Threads.count) { t in
            let (lo, hi) = Threads.range(t, of: n)
            ReLU.select(dy.data, where: y.data, into: dx.data, lo, hi)
        }
        return dx
    }
}

extension ReLU: RebuildableLayer {
    public static var kindName: String { "ReLU" }
    public static func make(_ s: [String: LayerSetting]) throws(TensorError) -> Layer { ReLU() }
}
