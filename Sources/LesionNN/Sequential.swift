// A model: layers in order, with PyTorch's automatic names and state-dict naming.
import LesionTensor

public final class Sequential {
    public private(set) var layers: [Layer]
    /// The shape of one input sample ([C, H, W] or [F]) when known: for summaries and checks.
    public var inputShape: [Int]?
    /// The seed the weights were initialised from.
    public let seed: UInt64
    /// Training mode (batch statistics, dropout) for `forward`; evaluation otherwise.
    public var training = false
    /// Dropout's streams: (noiseSeed, forward counter, layer index).
    public var noiseSeed: UInt64 = 0
    public var noiseCounter: UInt64 = 0
    /// When set, seconds spent in each layer's forward and backward are added here (benchmarks).
    public var profile: (forward: [Double], backward: [Double])?
    /// The order of the last training forward (backward runs it in reverse).
    var lastOrder: [Int] = []

    /// With `initialize` false the layers keep the weights they have.
    public init(_ layers: [Layer], seed: UInt64 = 0, inputShape: [Int]? = nil, initialize: Bool = true) throws(TensorError) {
        self.layers = layers
        self.seed = seed
        self.inputShape = inputShape
        var counters: [String: Int] = [:]
        for l in layers {
            counters[l.namePrefix, default: 0] += 1
            if l.name.isEmpty { l.name = l.namePrefix + String(counters[l.namePrefix]!) }
        }
        var seen = Set<String>()
        for l in layers {
            guard !l.name.contains("."), !l.name.isEmpty else {
                throw TensorError(.value, "layer name '\(l.name)' must be non-empty and contain no '.'")
            }
            guard seen.insert(l.name).inserted else { throw TensorError(.value, "two layers are named '\(l.name)'") }
        }
        if initialize {
            for (i, l) in layers.enumerated() { l.reset(RandomStream(seed: seed, stream: UInt64(i))) }
        }
    }

    /// A copy with the same weights and state (new buffers).
    public func copy() throws(TensorError) -> Sequential {
        var ls: [Layer] = []
        for l in layers { ls.append(try l.copy()) }
        let m = try Sequential(ls, seed: seed, inputShape: inputShape)
        // Sequential.init re-initialised: copy weights back.
        for (a, b) in zip(m.layers, layers) {
            for (p, q) in zip(a.parameters, b.parameters) { p.value.data.update(from: q.value.data, count: q.value.count) }
            for (p, q) in zip(a.buffers, b.buffers) { p.1.data.update(from: q.1.data, count: q.1.count) }
            if let x = a as? BatchNorm, let y = b as? BatchNorm { x.batchesTracked = y.batchesTracked }
        }
        m.training = training
        return m
    }

    public var layerNames: [String] { layers.map(\.name) }

    public func index(of name: String) -> Int? { layers.firstIndex { $0.name == name } }

    public var parameters: [Parameter] { layers.flatMap(\.parameters) }
    public var numParameters: Int { layers.reduce(0) { $0 + $1.numParameters } }

    /// State dict in PyTorch's naming: "conv1.weight", "bn1.running_mean", ...
    public func stateDict() -> [(String, Tensor)] {
        var out: [(String, Tensor)] = []
        for l in layers {
            for p in l.parameters { out.append((l.name + "." + p.name, p.value)) }
            for (n, t) in l.buffers { out.append((l.name + "." + n, t)) }
        }
        return out
    }

    /// Output shapes (PyTorch's terms) after each layer for a batch of `n` samples of
    /// `inputShape`; nil from a Lambda on (its shape is known only by running it).
    public func shapes(batch n: Int = 1) throws(TensorError) -> [[Int]?] {
        guard let inputShape else { return layers.map { _ in nil } }
        return try shapes(batch: n, sample: inputShape)
    }

    /// The same for samples of a given shape (a data set's), whatever the declared input.
    public func shapes(batch n: Int = 1, sample: [Int]) throws(TensorError) -> [[Int]?] {
        var s: [Int]? = [n] + sample
        var out: [[Int]?] = []
        for l in layers {
            if let cur = s, !(l is Lambda) {
                do { s = try l.outputShape(cur) } catch { throw TensorError(.shape, "\(l.name) (\(l.kind)): \(error.message)") }
            } else {
                s = nil
            }
            out.append(s)
        }
        return out
    }

    // MARK: - planning

    /// The order to run layers 0...last in, and which convolutions may compute only part of
    /// their output. Both change nothing in the result:
    /// - a ReLU followed by a floor-mode max-pool runs after it (relu(max(x)) = max(relu(x)),
    ///   with the same gradient), on a quarter of the values;
    /// - a convolution whose last output rows or columns no later layer reads (a pool that
    ///   floors them away, with only ReLUs, or BatchNorm or Dropout in evaluation, between)
    ///   computes only the rows and columns that are read.
    func plan(through last: Int, input: [Int], training: Bool) -> [Int] {
        for l in layers { (l as? Conv2d)?.crop = nil }
        // Output shapes, while they can be known (a Lambda ends the planning).
        var shapes: [[Int]] = []
        var s = input
        for i in 0...last {
            guard !(layers[i] is Lambda), let o = try? layers[i].outputShape(s) else { break }
            shapes.append(o)
            s = o
        }
        if shapes.count == last + 1 {
            // Needed leading rows and columns of each layer's output, from the end backwards.
            var need: (Int, Int)? = nil     // nil: all of it
            for i in stride(from: last, through: 0, by: -1) {
                let out = shapes[i]
                let layer = layers[i]
                if let conv = layer as? Conv2d, let n = need, out.count == 4, n.0 < out[2] || n.1 < out[3] {
                    conv.crop = (n.0, n.1)
                }
                switch layer {
                case let p as Pool2d where out.count == 4:
                    let (r, c) = need ?? (out[2], out[3])
                    need = ((r - 1) * p.stride + p.k, (c - 1) * p.stride + p.k)
                case is ReLU:
                    break
                case is BatchNorm where !training, is Dropout where !training:
                    break
                default:
                    need = nil
                }
            }
        }
        var order = Array(0...last)
        var i = 0
        while i < last {
            if layers[i] is ReLU, layers[i + 1] is MaxPool2d {
                order.swapAt(i, i + 1)
                i += 2
            } else {
                i += 1
            }
        }
        return order
    }

    /// The output crop (leading rows, columns) the plan gives the convolution at `index` when the
    /// whole model runs in evaluation on samples of `sample` shape; nil when it computes all.
    public func plannedCrop(of index: Int, sample: [Int]) -> (rows: Int, cols: Int)? {
        _ = plan(through: layers.count - 1, input: [1] + sample, training: false)
        let crop = (layers[index] as? Conv2d)?.crop
        for l in layers { (l as? Conv2d)?.crop = nil }
        return crop
    }

    // MARK: - running

    /// Runs layers 0...last (all by default) on an NCHW (or [N, F]) batch; returns the last
    /// output in internal layout (a buffer of that layer: copy it to keep it).
    public func forwardInternal(_ x: Tensor, through last: Int? = nil, training: Bool) throws(TensorError) -> Tensor {
        if let s = inputShape, Array(x.shape.dropFirst()) != s {
            throw TensorError(.shape, "expected input {N,\(s.map(String.init).joined(separator: ","))}, got \(Tensor.describe(x.shape))")
        }
        var h = try Layout.toNHWC(x)
        let end = last ?? layers.count - 1
        let order = plan(through: end, input: Layout.logicalShape(h), training: training)
        if training { lastOrder = order }
        var j = 0
        while j < order.count {
            let i = order[j]
            let l = layers[i]
            if training, let d = l as? Dropout {
                d.stream = RandomStream(seed: noiseSeed, stream: noiseCounter &* 1024 &+ UInt64(i))
            }
            // In evaluation a convolution and the max-pool that runs next are one pass (its
            // time is counted on the convolution); an input the pool rejects runs them one by
            // one, so the error names the pool.
            var pool = !training && j + 1 < order.count && l is Conv2d ? layers[order[j + 1]] as? MaxPool2d : nil
            if let p = pool {
                let convolved = try? l.outputShape(Layout.logicalShape(h))
                if convolved.flatMap({ try? p.outputShape($0) }) == nil { pool = nil }
            }
            let t0 = profile == nil ? 0 : monotonicSeconds()
            do throws(TensorError) {
                if let pool, let conv = l as? Conv2d {
                    h = try conv.forwardPooled(h, pool: pool)
                    j += 1
                } else {
                    h = try l.forward(h, training: training)
                }
                if profile != nil { profile!.forward[i] += monotonicSeconds() - t0 }
            } catch {
                throw TensorError(error.kind, "\(l.name) (\(l.kind)): \(error.message)")
            }
            j += 1
        }
        if training { noiseCounter &+= 1 }
        return h
    }

    /// Runs the layers after `layer` in evaluation, one by one, on that layer's output (internal
    /// layout, as forwardInternal returns it); returns the last output (a buffer of that layer).
    public func forwardRest(_ h: Tensor, after layer: Int) throws(TensorError) -> Tensor {
        var h = h
        for l in layers[(layer + 1)...] {
            do throws(TensorError) { h = try l.forward(h, training: false) } catch {
                throw TensorError(error.kind, "\(l.name) (\(l.kind)): \(error.message)")
            }
        }
        return h
    }

    /// Forward in the model's mode; the result in PyTorch's layout (a new tensor).
    public func forward(_ x: Tensor) throws(TensorError) -> Tensor {
        try Layout.toNCHW(forwardInternal(x, training: training))
    }

    /// Backpropagates the gradient of the loss with respect to the logits. Gradients are added
    /// to the parameters'; it stops at the first layer with parameters (no input gradient there).
    public func backward(_ dlogits: Tensor) throws(TensorError) {
        guard let first = layers.firstIndex(where: { !$0.parameters.isEmpty }) else { return }
        guard lastOrder.count == layers.count else {
            throw TensorError(.value, "backward needs a training forward through the whole model first")
        }
        var g = dlogits
        for i in lastOrder.reversed() {
            if i < first { break }
            let l = layers[i]
            let d: Tensor?
            let t0 = profile == nil ? 0 : monotonicSeconds()
            defer { if profile != nil { profile!.backward[i] += monotonicSeconds() - t0 } }
            do { d = try l.backward(g, needInputGrad: i > first) } catch {
                throw TensorError(error.kind, "\(l.name) (\(l.kind)): \(error.message)")
            }
            guard let d else { break }
            g = d
        }
    }

    public func zeroGrad() { for p in parameters { p.zeroGrad() } }
}
