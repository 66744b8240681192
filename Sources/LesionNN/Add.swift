// The sum of two branches (a residual block's body and shortcut). It is the one node of a
// model that reads two values; Sequential routes them and sends the output gradient to both.
import LesionTensor

public final class Add: Layer {
    public var name = ""
    public let kind = "Add"
    public let namePrefix = "add"
    /// Channel c of the sum reads channel c of both branches.
    public var channelMap: ChannelMap { .channelWise }
    var output: Tensor?

    public init() {}
    public func outputShape(_ s: [Int]) throws(TensorError) -> [Int] { s }
    public func copy() throws(TensorError) -> Layer { let c = Add(); c.name = name; return c }

    /// Shapes of both inputs (PyTorch's terms); they must be equal.
    public func outputShape(_ a: [Int], _ b: [Int]) throws(TensorError) -> [Int] {
        guard a == b else {
            throw TensorError(.shape, "the branches' outputs differ: \(Tensor.describe(a)) and \(Tensor.describe(b)); give the block a shortcut that maps one to the other")
        }
        return a
    }

    /// One input alone is not a sum: the model calls `forward(_:_:)`.
    public func forward(_ x: Tensor, training: Bool) throws(TensorError) -> Tensor {
        throw TensorError(.value, "Add needs two inputs")
    }

    /// y = a + b (a, b in internal layout, same shape).
    public func forward(_ a: Tensor, _ b: Tensor) throws(TensorError) -> Tensor {
        guard a.shape == b.shape else {
            throw TensorError(.shape, "the branches' outputs differ: \(Tensor.describe(Layout.logicalShape(a))) and \(Tensor.describe(Layout.logicalShape(b)))")
        }
        let y = try Buffers.reuse(output, a.shape)
        output = y
        add(a, b, into: y)
        return y
    }

    /// a + b written over `into`, which is a or b (evaluation, when nothing else reads it).
    public func forward(_ a: Tensor, _ b: Tensor, over y: Tensor) throws(TensorError) {
        guard a.shape == b.shape, y === a || y === b else {
            throw TensorError(.shape, "the branches' outputs differ: \(Tensor.describe(Layout.logicalShape(a))) and \(Tensor.describe(Layout.logicalShape(b)))")
        }
        add(a, b, into: y)
    }

    private func add(_ a: Tensor, _ b: Tensor, into y: Tensor) {
        let n = a.count
        Threads.parallelFor(Threads.count) { t in
            let (lo, hi) = Threads.range(t, of: n)
            for i in lo..<hi { y.data[i] = a.data[i] + b.data[i] }
        }
    }

    /// The gradient of each input is the output's (the model gives it to both).
    public func backward(_ dy: Tensor, needInputGrad: Bool) throws(TensorError) -> Tensor? { needInputGrad ? dy : nil }
}

extension Add: RebuildableLayer {
    public static var kindName: String { "Add" }
    public static func make(_ s: [String: LayerSetting]) throws(TensorError) -> Layer { Add() }
}
