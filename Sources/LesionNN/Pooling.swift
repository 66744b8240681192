// Max and average pooling over k x k windows, and global average pooling. NHWC: the channels
// of a pixel are contiguous, so windows combine C-vectors. Max-pooling takes PyTorch's padding
// (with -inf) and ceil mode: the input is copied into a padded buffer, and the windows run on it.
import LesionTensor

/// Shared geometry of the windowed pools.
public class Pool2d {
    public var name = ""
    public let k: Int, stride: Int
    /// Padding on each side, and whether output sizes round down (PyTorch's default) or up.
    public let padding: Int
    public let floorMode: Bool
    var input: Tensor?
    var output: Tensor?
    var gradInput: Tensor?
    /// The padded copy of the input (max-pooling with padding or ceil mode).
    var paddedInput: Tensor?
    var paddedGrad: Tensor?

    init(k: Int, stride: Int?, padding: Int = 0, ceilMode: Bool = false) throws(TensorError) {
        guard k >= 1, (stride ?? k) >= 1 else { throw TensorError(.value, "pooling needs a positive kernel and stride") }
        try Layout.checkSides("pooling", ["kernel size": k, "stride": stride ?? k, "padding": padding])
        guard padding >= 0, padding * 2 <= k else {
            throw TensorError(.value, "pooling padding must be between 0 and half the window (\(k / 2)), got \(padding)")
        }
        self.k = k
        self.stride = stride ?? k
        self.padding = padding
        self.floorMode = !ceilMode
    }

    /// Output side for an input side, as PyTorch computes it (in ceil mode the last window must
    /// start inside the input or its left padding).
    func outSide(_ n: Int) -> Int {
        let span = n + 2 * padding - k
        var o = (floorMode ? span / stride : (span + stride - 1) / stride) + 1
        if !floorMode && (o - 1) * stride >= n + padding { o -= 1 }
        return o
    }

    public func outputShape(_ s: [Int]) throws(TensorError) -> [Int] {
        guard s.count == 4 else { throw TensorError(.shape, "expected input {N,C,H,W}, got \(Tensor.describe(s))") }
        guard s[2] + 2 * padding >= k, s[3] + 2 * padding >= k else {
            throw TensorError(.shape, "input of \(s[2])x\(s[3]) is smaller than the \(k)x\(k) window")
        }
        return [s[0], s[1], outSide(s[2]), outSide(s[3])]
    }

    /// Whether windows run on a padded copy of the input.
    func needsPadding(h: Int, w: Int, ho: Int, wo: Int) -> Bool {
        padding > 0 || (ho - 1) * stride + k > h || (wo - 1) * stride + k > w
    }

    /// x [n, h, w, c] inside a buffer of `value` that holds every window: [n, hp, wp, c].
    func padded(_ x: Tensor, ho: Int, wo: Int, value: Float) throws(TensorError) -> Tensor {
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let hp = max(h + 2 * padding, (ho - 1) * stride + k), wp = max(w + 2 * padding, (wo - 1) * stride + k)
        let p = try Buffers.reuse(paddedInput, [n, hp, wp, c])
        paddedInput = p
        p.fill(value)
        let pad = padding
        for b in 0..<n { for i in 0..<h {
            (p.data + ((b * hp + i + pad) * wp + pad) * c).update(from: x.data + (b * h + i) * w * c, count: w * c)
        } }
        return p
    }

    /// Checks the input, keeps it for backward when training, and returns the output buffer
    /// with the sizes.
    func begin(_ x: Tensor, training: Bool) throws(TensorError) -> (y: Tensor, n: Int, h: Int, w: Int, c: Int, ho: Int, wo: Int) {
        let s = try outputShape(Layout.logicalShape(x))
        let (n, h, w, c, ho, wo) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3], s[2], s[3])
        let y = try Buffers.reuse(output, [n, ho, wo, c])
        output = y
        input = training ? x : nil
        return (y, n, h, w, c, ho, wo)
    }
}

public final class MaxPool2d: Pool2d, Layer {
    public let kind = "MaxPool2d"
    public let namePrefix = "pool"
    public var settings: [(String, LayerSetting)] {
        [("kernel_size", .int(k)), ("stride", .int(stride)), ("padding", .int(padding)), ("ceil_mode", .bool(!floorMode))]
    }
    public var summary: String {
        "MaxPool2d(\(k), stride=\(stride)\(padding > 0 ? ", padding=\(padding)" : "")\(floorMode ? "" : ", ceil_mode=true"))"
    }
    /// Per output element: the window position (kh * k + kw) of the maximum.
    var argmax: [UInt8] = []

    public init(_ k: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false) throws(TensorError) {
        guard k <= 15 else { throw TensorError(.value, "max-pooling windows larger than 15x15 are not supported") }
        try super.init(k: k, stride: stride, padding: padding, ceilMode: ceilMode)
    }

    public func copy() throws(TensorError) -> Layer {
        let c = try MaxPool2d(k, stride: stride, padding: padding, ceilMode: !floorMode)
        c.name = name
        return c
    }

    public func forward(_ x: Tensor, training: Bool) throws(TensorError) -> Tensor {
        var (y, n, h, w, c, ho, wo) = try begin(x, training: training)
        var x = x
        if needsPadding(h: h, w: w, ho: ho, wo: wo) {
            x = try padded(x, ho: ho, wo: wo, value: -.infinity)
            (h, w) = (x.shape[1], x.shape[2])
        }
        if !training {
            // Evaluation keeps no window positions.
            let (k, stride) = (self.k, self.stride)
            Threads.parallelFor(Threads.count) { t in
                let (lo, hi) = Threads.range(t, of: n)
                for b in lo..<hi {
                    MaxPool2d.poolValues(x.data + b * h * w * c, w: w, c: c, k: k, stride: stride, ho: ho, wo: wo,
                                         into: y.data + b * ho * wo * c)
                }
            }
            return y
        }
        if argmax.count != y.count { argmax = [UInt8](repeating: 0, count: y.count) }
        let k = self.k, stride = self.stride
        argmax.withUnsafeMutableBufferPointer { am in
            nonisolated(unsafe) let arg = am.baseAddress!
            Threads.parallelFor(Threads.count) { t in
                let (lo, hi) = Threads.range(t, of: n)
                for b in lo..<hi {
                    let src = x.data + b * h * w * c
                    for oh in 0..<ho { for ow in 0..<wo {
                        let o = ((b * ho + oh) * wo + ow) * c
                        let dst = y.data + o, pos = arg + o
                        let first = src + (oh * stride * w + ow * stride) * c
                        var ch = 0
                        // Eight channels at a time: strictly greater keeps the first maximum; a NaN takes over.
                        while ch + 8 <= c {
                            var m = UnsafeRawPointer(first + ch).loadUnaligned(as: SIMD8<Float>.self)
                            var at = SIMD8<Int32>(repeating: 0)
                            for kh in 0..<k { for kw in 0..<k where kh > 0 || kw > 0 {
                                let v = UnsafeRawPointer(src + ((oh * stride + kh) * w + ow * stride + kw) * c + ch).loadUnaligned(as: SIMD8<Float>.self)
                                let take = (v .> m) .| ((v .!= v) .& (m .== m))
                                m.replace(with: v, where: take)
                                at.replace(with: Int32(kh * k + kw), where: take)
                            } }
                            UnsafeMutableRawPointer(dst + ch).storeBytes(of: m, as: SIMD8<Float>.self)
                            UnsafeMutableRawPointer(pos + ch).storeBytes(of: SIMD8<UInt8>(truncatingIfNeeded: at), as: SIMD8<UInt8>.self)
                            ch += 8
                        }
                        while ch < c {
                            var m = first[ch]
                            var at: UInt8 = 0
                            for kh in 0..<k { for kw in 0..<k where kh > 0 || kw > 0 {
                                let v = src[((oh * stride + kh) * w + ow * stride + kw) * c + ch]
                                if v > m || (v != v && m == m) { m = v; at = UInt8(kh * k + kw) }
                            } }
                            dst[ch] = m
                            pos[ch] = at
                            ch += 1
                        }
                    } }
                }
            }
        }
        return y
    }

    /// The maxima of one NHWC image's windows, values only, with forward's comparisons (the
    /// first maximum is kept; a NaN takes over), so the same values.
    static func poolValues(_ src: UnsafePointer<Float>, w: Int, c: Int, k: Int, stride: Int, ho: Int, wo: Int,
                           into y: UnsafeMutablePointer<Float>) {
        for oh in 0..<ho { for ow in 0..<wo {
            let dst = y + (oh * wo + ow) * c
            let first = src + (oh * stride * w + ow * stride) * c
            var ch = 0
            while ch + 8 <= c {
                var m = UnsafeRawPointer(first + ch).loadUnaligned(as: SIMD8<Float>.self)
                for kh in 0..<k { for kw in 0..<k where kh > 0 || kw > 0 {
                    let v = UnsafeRawPointer(first + (kh * w + kw) * c + ch).loadUnaligned(as: SIMD8<Float>.self)
                    m.replace(with: v, where: (v .> m) .| ((v .!= v) .& (m .== m)))
                } }
                UnsafeMutableRawPointer(dst + ch).storeBytes(of: m, as: SIMD8<Float>.self)
                ch += 8
            }
            while ch < c {
                var m = first[ch]
                for kh in 0..<k { for kw in 0..<k where kh > 0 || kw > 0 {
                    let v = first[(kh * w + kw) * c + ch]
                    if v > m || (v != v && m == m) { m = v }
                } }
                dst[ch] = m
                ch += 1
            }
        } }
    }

    public func backward(_ dy: Tensor, needInputGrad: Bool) throws(TensorError) -> Tensor? {
        guard needInputGrad else { return nil }
        guard let input else { throw TensorError(.value, "\(name): backward without a training forward") }
        let (ho, wo) = (dy.shape[1], dy.shape[2])
        let pad = needsPadding(h: input.shape[1], w: input.shape[2], ho: ho, wo: wo)
        let x = pad ? paddedInput! : input
        let dx = try Buffers.reuseZeroed(pad ? paddedGrad : gradInput, x.shape)
        if pad { paddedGrad = dx } else { gradInput = dx }
        let (n, w, c) = (x.shape[0], x.shape[2], x.shape[3])
        let k = self.k, stride = self.stride, inPer = x.count / n
        argmax.withUnsafeBufferPointer { am in
            nonisolated(unsafe) let arg = am.baseAddress!
            Threads.parallelFor(Threads.count) { t in
                let (lo, hi) = Threads.range(t, of: n)
                for b in lo..<hi {
                    let d = dx.data + b * inPer
                    for oh in 0..<ho { for ow in 0..<wo {
                        let o = ((b * ho + oh) * wo + ow) * c
                        let g = dy.data + o, pos = arg + o
                        let base = (oh * stride * w + ow * stride) * c
                        for ch in 0..<c {
                            let p = Int(pos[ch])
                            d[base + ((p / k) * w + p % k) * c + ch] += g[ch]
                        }
                    } }
                }
            }
        }
        guard pad else { return dx }
        return try cropGradient(input, dx)
    }

    /// The gradient of the input: the inside of the padded gradient.
    func cropGradient(_ input: Tensor, _ pg: Tensor) throws(TensorError) -> Tensor {
        let dx = try Buffers.reuse(gradInput, input.shape)
        gradInput = dx
        let (n, h, w, c) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let (hp, wp) = (pg.shape[1], pg.shape[2])
        for b in 0..<n { for i in 0..<h {
            (dx.data + (b * h + i) * w * c).update(from: pg.data + ((b * hp + i + padding) * wp + padding) * c, count: w * c)
        } }
        return dx
    }
}

public final class AvgPool2d: Pool2d, Layer {
    public let kind = "AvgPool2d"
    public let namePrefix = "pool"
    public var settings: [(String, LayerSetting)] { [("kernel_size", .int(k)), ("stride", .int(stride))] }
    public var summary: String { "AvgPool2d(\(k), stride=\(stride))" }

    public init(_ k: Int, stride: Int? = nil) throws(TensorError) { try super.init(k: k, stride: stride) }

    public func copy() throws(TensorError) -> Layer {
        let c = try AvgPool2d(k, stride: stride)
        c.name = name
        return c
    }

    public func forward(_ x: Tensor, training: Bool) throws(TensorError) -> Tensor {
        let (y, n, h, w, c, ho, wo) = try begin(x, training: training)
        let k = self.k, stride = self.stride, scale = 1 / Float(k * k)
        Threads.parallelFor(Threads.count) { t in
            let (lo, hi) = Threads.range(t, of: n)
            for b in lo..<hi {
                let src = x.data + b * h * w * c
                for oh in 0..<ho { for ow in 0..<wo {
                    let dst = y.data + ((b * ho + oh) * wo + ow) * c
                    dst.update(repeating: 0, count: c)
                    for kh in 0..<k { for kw in 0..<k {
                        let s = src + ((oh * stride + kh) * w + ow * stride + kw) * c
                        for ch in 0..<c { dst[ch] += s[ch] }
                    } }
                    for ch in 0..<c { dst[ch] *= scale }
                } }
            }
        }
        return y
    }

    public func backward(_ dy: Tensor, needInputGrad: Bool) throws(TensorError) -> Tensor? {
        guard needInputGrad else { return nil }
        guard let x = input else { throw TensorError(.value, "\(name): backward without a training forward") }
        let dx = try Buffers.reuseZeroed(gradInput, x.shape)
        gradInput = dx
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (ho, wo) = (dy.shape[1], dy.shape[2])
        let k = self.k, stride = self.stride, scale = 1 / Float(k * k)
        Threads.parallelFor(Threads.count) { t in
            let (lo, hi) = Threads.range(t, of: n)
            for b in lo..<hi {
                let d = dx.data + b * h * w * c
                for oh in 0..<ho { for ow in 0..<wo {
                    let g = dy.data + ((b * ho + oh) * wo + ow) * c
                    for kh in 0..<k { for kw in 0..<k {
                        let s = d + ((oh * stride + kh) * w + ow * stride + kw) * c
                        for ch in 0..<c { s[ch] += g[ch] * scale }
                    } }
                } }
            }
        }
        return dx
    }
}

/// Mean over all positions of each channel: [N, C, H, W] -> [N, C].
public final class GlobalAvgPool: Layer {
    public var name = ""
    public let kind = "GlobalAvgPool"
    public let namePrefix = "gap"
    var input: Tensor?
    var output: Tensor?
    var gradInput: Tensor?

    public init() {}

    public func outputShape(_ s: [Int]) throws(TensorError) -> [Int] {
        guard s.count == 4 else { throw TensorError(.shape, "expected input {N,C,H,W}, got \(Tensor.describe(s))") }
        return [s[0], s[1]]
    }

    public func copy() throws(TensorError) -> Layer { let c = GlobalAvgPool(); c.name = name; return c }

    public func forward(_ x: Tensor, training: Bool) throws(TensorError) -> Tensor {
        _ = try outputShape(Layout.logicalShape(x))
        let (n, hw, c) = (x.shape[0], x.shape[1] * x.shape[2], x.shape[3])
        let y = try Buffers.reuse(output, [n, c])
        output = y
        input = training ? x : nil
        for b in 0..<n {
            let dst = y.data + b * c
            dst.update(repeating: 0, count: c)
            for p in 0..<hw { let s = x.data + (b * hw + p) * c; for ch in 0..<c { dst[ch] += s[ch] } }
            for ch in 0..<c { dst[ch] /= Float(hw) }
        }
        return y
    }

    public func backward(_ dy: Tensor, needInputGrad: Bool) throws(TensorError) -> Tensor? {
        guard needInputGrad else { return nil }
        guard let x = input else { throw TensorError(.value, "\(name): backward without a training forward") }
        let dx = try Buffers.reuse(gradInput, x.shape)
        gradInput = dx
        let (n, hw, c) = (x.shape[0], x.shape[1] * x.shape[2], x.shape[3])
        for b in 0..<n { for p in 0..<hw {
            let d = dx.data + (b * hw + p) * c, g = dy.data + b * c
            for ch in 0..<c { d[ch] = g[ch] / Float(hw) }
        } }
        return dx
    }
}

extension MaxPool2d: RebuildableLayer {
    public static var kindName: String { "MaxPool2d" }
    public static func make(_ s: [String: LayerSetting]) throws(TensorError) -> Layer {
        try MaxPool2d(LayerKinds.need(s, "kernel_size"), stride: s["stride"]?.int, padding: s["padding"]?.int ?? 0,
                      ceilMode: s["ceil_mode"]?.bool ?? false)
    }
}

extension AvgPool2d: RebuildableLayer {
    public static var kindName: String { "AvgPool2d" }
    public static func make(_ s: [String: LayerSetting]) throws(TensorError) -> Layer {
        try AvgPool2d(LayerKinds.need(s, "kernel_size"), stride: s["stride"]?.int)
    }
}

extension GlobalAvgPool: RebuildableLayer {
    public static var kindName: String { "GlobalAvgPool" }
    public static func make(_ s: [String: LayerSetting]) throws(TensorError) -> Layer { GlobalAvgPool() }
}
