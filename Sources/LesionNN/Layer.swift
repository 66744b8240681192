// LesionNN: layers with forward and backward, Sequential models, loss, SGD, training and
// evaluation, data sets. No Lua here.
//
// Layout: 4-D activations inside a model are NHWC (shape [N, H, W, C]), so that a pixel's
// channels are contiguous for im2col and one GEMM per chunk of images writes the output in
// place. Everything that crosses the model's boundary is in PyTorch's layouts: inputs and
// `activations` are NCHW, weights are [Cout, Cin, kh, kw] and [out, in].
import LesionTensor

/// A trainable tensor with its gradient (and the optimiser's momentum buffer).
public final class Parameter {
    public let name: String
    public var value: Tensor
    public var grad: Tensor
    var velocity: Tensor?

    public init(_ name: String, _ value: Tensor) throws(TensorError) {
        self.name = name
        self.value = value
        grad = try Tensor(zeros: value.shape)
    }

    public func zeroGrad() { grad.fill(0) }
}

public protocol Layer: AnyObject {
    /// The name in the model (`conv1`); set by Sequential when not given.
    var name: String { get set }
    /// The kind, as PyTorch names the module class: "Conv2d", "ReLU", ...
    var kind: String { get }
    /// Prefix of automatic names: "conv", "bn", "relu", "pool", "flatten", "fc", "dropout", ...
    var namePrefix: String { get }
    var parameters: [Parameter] { get }
    /// Non-trainable state saved with the weights (BatchNorm's running statistics).
    var buffers: [(String, Tensor)] { get }

    /// Output shape for an input shape, both in PyTorch's terms (NCHW or [N, F]); throws when the
    /// input does not fit the layer, with a message that says what was expected.
    func outputShape(_ input: [Int]) throws(TensorError) -> [Int]

    /// Forward on internal layout (NHWC for 4-D). The returned tensor may be a buffer the layer
    /// reuses on its next call. With `training`, what backward needs is kept.
    func forward(_ x: Tensor, training: Bool) throws(TensorError) -> Tensor

    /// Backward from the gradient of the output: adds into parameter gradients and returns the
    /// gradient of the input (nil when `needInputGrad` is false).
    func backward(_ dy: Tensor, needInputGrad: Bool) throws(TensorError) -> Tensor?

    /// (Re)initialises parameters as PyTorch's defaults, from `stream`.
    func reset(_ stream: RandomStream)

    /// A deep copy (parameters and buffers copied, caches not).
    func copy() throws(TensorError) -> Layer

    /// How a change confined to some channels of the input passes through the layer in
    /// evaluation (what the sweep planner reads; it knows no layer by its type).
    var channelMap: ChannelMap { get }

    /// What the layer was built with, under PyTorch's names (`in_channels`, `kernel_size`, ...):
    /// for `m:layer`, and to build it again (`LayerKinds.make`).
    var settings: [(String, LayerSetting)] { get }

    /// The layer as PyTorch prints it: `Conv2d(1, 32, 3, stride=1, padding=1)`.
    var summary: String { get }
}

/// One setting of a layer.
public enum LayerSetting: Equatable, Sendable {
    case int(Int), number(Double), bool(Bool)

    public var int: Int? { if case .int(let v) = self { return v }; return nil }
    public var bool: Bool? { if case .bool(let v) = self { return v }; return nil }
    public var number: Double? {
        switch self {
        case .number(let v): return v
        case .int(let v): return Double(v)
        case .bool: return nil
        }
    }
}

/// How a layer treats the channels of its input in evaluation.
public enum ChannelMap: Sendable {
    /// Output channel c depends on input channel c alone (ReLU, pooling, BatchNorm, Dropout;
    /// Flatten, whose channel c becomes a block of features).
    case channelWise
    /// Every output may read every channel: a change in one channel reaches all outputs. The
    /// layer is a `ChannelMixer` when it can compute that change on its own (1/C of its cost).
    case mixing
    /// Anything else (a Lambda): a sweep through it evaluates the model once per unit.
    case opaque
}

/// A mixing layer that computes the change of its output caused by a change in one input
/// channel, without bias: the sweep's 1/C step.
public protocol ChannelMixer: Layer {
    /// d [n, outputs...] (+)= the output change of `delta` in input channel `channel`. For a
    /// spatial layer `delta` holds n planes of h x w, image b's at delta + b * rowStride, and
    /// d is NHWC of the layer's (possibly cropped) output; for a linear layer `delta` holds n
    /// rows of `per` features (the channel's block of the input) with stride rowStride.
    func addChannelChange(_ delta: UnsafePointer<Float>, channel: Int, per: Int, rowStride: Int, images n: Int,
                          h: Int, w: Int, into d: Tensor, accumulate: Bool) throws(TensorError)
}

/// A layer whose evaluation output can be written over its input (the same shape, each value
/// computed from the one it replaces): ReLU, BatchNorm. The model does so when nothing else
/// reads the input, so a ResNet's convolution, batch norm and ReLU share one buffer.
public protocol InPlaceLayer: Layer {
    /// Evaluation forward with the output written over `x` (internal layout).
    func forwardInPlace(_ x: Tensor) throws(TensorError)
    /// The same as a pass over `rows` x `channels` values on the calling thread, for a layer
    /// before it to apply to each chunk it has just written (a convolution's epilogue); nil
    /// when the layer does not take that many channels (it then runs alone and says why).
    func epilogue(channels: Int) -> Epilogue?
}

/// An evaluation pass over a block of rows (NHWC positions) of all channels, in place.
public typealias Epilogue = (_ values: UnsafeMutablePointer<Float>, _ rows: Int) -> Void

extension Layer {
    public var channelMap: ChannelMap { .channelWise }
    public var settings: [(String, LayerSetting)] { [] }
    public var summary: String { kind + "()" }
    public var parameters: [Parameter] { [] }
    public var buffers: [(String, Tensor)] { [] }
    public func reset(_ stream: RandomStream) {}
    public var numParameters: Int { parameters.reduce(0) { $0 + $1.value.count } }
}

// MARK: - helpers shared by layers

/// The numeric engine's revision: raised whenever a change can alter float results (a new
/// Winograd tile, a fused pass, another split of a product), so that cached results computed by
/// an earlier engine are not served as this one's (the notebook cache keys include it).
/// 3: F(6x6) and fused convolution and pool in evaluation, OpenBLAS on the calling thread.
/// 4: F(4x4, 5x5) in evaluation, products split by columns when B is the larger operand.
/// 5: the direct convolution for few channels (Kernels), on CPUs with AVX2 and FMA.
/// 6: work cut by the data's size and partial sums added in order: the same bits on any thread count.
/// 7: passes over data in batches of even sizes (a sample's rows can sit elsewhere in a product).
/// 8: training by F(4x4, 3x3) where it needs 1.5 times fewer products than F(2x2); the direct
///    loop for up to 16 input and 64 output channels (first layers).
public enum Engine {
    public static let revision = 8
    /// The revision and which loops this machine runs ("8 avx2" or "8 portable"): two machines
    /// of a shared cache give the same bits only when these agree.
    public static var identity: String { "\(revision) \(kernelsAvailable ? "avx2" : "portable")" }
}

public enum Buffers {
    /// Returns `t` when it has `shape`, a view of t's storage when that holds enough (a smaller
    /// batch reuses the buffer of a larger one), else a new uninitialised tensor of that shape.
    @inline(__always)
    public static func reuse(_ t: Tensor?, _ shape: [Int]) throws(TensorError) -> Tensor {
        if let t {
            if t.shape == shape { return t }
            if let v = t.reusing(shape: shape) { return v }
        }
        return try Tensor(uninitialized: shape)
    }

    @inline(__always)
    public static func reuseZeroed(_ t: Tensor?, _ shape: [Int]) throws(TensorError) -> Tensor {
        let r = try reuse(t, shape)
        r.fill(0)
        return r
    }
}

/// PyTorch's default init of a conv or linear layer: kaiming_uniform_ with a = sqrt(5) for the
/// weight and its bias init both come down to U(-1/sqrt(fan_in), 1/sqrt(fan_in)); the weight
/// draws from stream 2s, the bias from stream 2s + 1 of the layer's stream s.
func initLikePyTorch(weight: Parameter, bias: Parameter?, fanIn: Int, _ stream: RandomStream) {
    let bound = 1 / Float(fanIn).squareRoot()
    let w = weight.value
    RandomStream(seed: stream.seed, stream: stream.stream &* 2).fillUniform(w.data, count: w.count, lo: -bound, hi: bound)
    if let b = bias?.value {
        RandomStream(seed: stream.seed, stream: stream.stream &* 2 &+ 1).fillUniform(b.data, count: b.count, lo: -bound, hi: bound)
    }
}

// MARK: - layouts

public enum Layout {
    /// The largest kernel, stride, padding or pooled side a layer takes (a guard against
    /// sizes whose arithmetic would overflow, far above any real network's).
    public static let maxSide = 1 << 20

    /// Checks that each of `sizes` (named) is at most maxSide.
    public static func checkSides(_ layer: String, _ sizes: KeyValuePairs<String, Int>) throws(TensorError) {
        for (name, v) in sizes where v > maxSide {
            throw TensorError(.value, "\(layer): \(name) \(v) is larger than \(maxSide)")
        }
    }

    /// NCHW [N, C, H, W] -> NHWC [N, H, W, C].
    public static func toNHWC(_ x: Tensor) throws(TensorError) -> Tensor {
        guard x.rank == 4 else { return x }
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        if c == 1 { return try x.reshaped([n, h, w, 1]) }
        let out = try Tensor(uninitialized: [n, h, w, c])
        let hw = h * w
        Threads.parallelFor(Threads.count) { part in
            let (lo, hi) = Threads.range(part, of: n)
            for b in lo..<hi {
                let src = x.data + b * c * hw, dst = out.data + b * hw * c
                for ch in 0..<c { for p in 0..<hw { dst[p * c + ch] = src[ch * hw + p] } }
            }
        }
        return out
    }

    /// NHWC [N, H, W, C] -> NCHW [N, C, H, W] (a new tensor).
    public static func toNCHW(_ x: Tensor) throws(TensorError) -> Tensor {
        guard x.rank == 4 else { return try x.copy() }
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let out = try Tensor(uninitialized: [n, c, h, w])
        let hw = h * w
        Threads.parallelFor(Threads.count) { part in
            let (lo, hi) = Threads.range(part, of: n)
            for b in lo..<hi {
                let src = x.data + b * hw * c, dst = out.data + b * c * hw
                for p in 0..<hw { for ch in 0..<c { dst[ch * hw + p] = src[p * c + ch] } }
            }
        }
        return out
    }

    /// A PyTorch-terms shape of an internal tensor: NHWC [N,H,W,C] reads as [N,C,H,W].
    public static func logicalShape(_ x: Tensor) -> [Int] {
        x.rank == 4 ? [x.shape[0], x.shape[3], x.shape[1], x.shape[2]] : x.shape
    }
}
