// A model: named nodes in execution order, each reading the output of one node before it
// (the sum of a residual block reads two). A plain chain reads the node before; a tree of
// modules (Module.swift) flattens into the nodes of any residual network. Weights use PyTorch's
// state-dict names (the nodes' dotted paths).
import LesionTensor

public final class Sequential {
    /// The nodes (leaf layers and sums), in execution order.
    public private(set) var layers: [Layer]
    /// inputs[i]: the nodes node i reads, all before it (-1: the model's input).
    public private(set) var inputs: [[Int]]
    /// The modules the model was built from (their own names, unnamed ones nil), so that the
    /// model can be nested in another; nil for a model made from nodes (a rotated copy).
    public private(set) var tree: [Module]?
    /// The name the model takes when it is nested in another (nil: named by where it stands).
    public var name: String?
    /// The model this one's layers now belong to, once nested in it (it is not run on its own).
    public var owner: String?
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
    /// The plan of the last forward (backward runs a training one in reverse).
    var lastPlan: Plan?
    /// The values of the last forward, by node (graph models: forwardRest continues from them).
    var values: [Tensor?] = []
    /// Per node: a buffer where backward sums the gradients of a value read twice.
    var gradSums: [Tensor?] = []
    /// ReLUs of the last training forward that ran inside the batch norm before them
    /// (`fusableReLU`); their backward is the batch norm's.
    var fusedReLUs: Set<Int> = []
    /// Whether training fuses such ReLUs (tests turn it off to compare).
    public var fuseTraining = true

    /// A chain of layers. With `initialize` false the layers keep the weights they have.
    public convenience init(_ layers: [Layer], seed: UInt64 = 0, inputShape: [Int]? = nil, initialize: Bool = true) throws(TensorError) {
        try self.init(tree: layers.map { .layer($0, name: $0.name.isEmpty ? nil : $0.name) }, seed: seed,
                      inputShape: inputShape, initialize: initialize)
    }

    /// A model from a tree of modules (see Module for the names of unnamed parts).
    public convenience init(tree: [Module], seed: UInt64 = 0, inputShape: [Int]? = nil, initialize: Bool = true) throws(TensorError) {
        guard !tree.isEmpty else { throw TensorError(.value, "a model needs at least one layer") }
        let g = try FlatGraph.flatten(tree)
        try self.init(nodes: g.layers, inputs: g.inputs, seed: seed, inputShape: inputShape, initialize: initialize)
        self.tree = tree
    }

    /// A model from named nodes (dotted names allowed) and what each reads.
    public init(nodes: [Layer], inputs: [[Int]], seed: UInt64 = 0, inputShape: [Int]? = nil, initialize: Bool = true) throws(TensorError) {
        guard nodes.count == inputs.count, !nodes.isEmpty else { throw TensorError(.value, "a model needs nodes, each with its inputs") }
        for (i, ins) in inputs.enumerated() {
            let want = nodes[i] is Add ? 2 : 1
            guard ins.count == want, ins.allSatisfy({ $0 >= -1 && $0 < i }) else {
                throw TensorError(.value, "node \(nodes[i].name) must read \(want) earlier node(s)")
            }
        }
        self.layers = nodes
        self.inputs = inputs
        self.seed = seed
        self.inputShape = inputShape
        var seen = Set<String>()
        for l in nodes {
            guard !l.name.isEmpty, !l.name.hasPrefix("."), !l.name.hasSuffix("."), !l.name.contains("..") else {
                throw TensorError(.value, "layer name '\(l.name)' must be non-empty and contain no '.'")
            }
            guard seen.insert(l.name).inserted else { throw TensorError(.value, "two layers are named '\(l.name)'") }
        }
        if initialize {
            for (i, l) in nodes.enumerated() { l.reset(RandomStream(seed: seed, stream: UInt64(i))) }
        }
    }

    /// A copy with the same weights and state (new buffers).
    public func copy() throws(TensorError) -> Sequential {
        let m: Sequential
        if let tree {
            var t: [Module] = []
            for x in tree { t.append(try x.copy()) }
            m = try Sequential(tree: t, seed: seed, inputShape: inputShape, initialize: false)
        } else {
            var ls: [Layer] = []
            for l in layers { ls.append(try l.copy()) }
            m = try Sequential(nodes: ls, inputs: inputs, seed: seed, inputShape: inputShape, initialize: false)
        }
        for (a, b) in zip(m.layers, layers) {
            for (p, q) in zip(a.parameters, b.parameters) { p.value.data.update(from: q.value.data, count: q.value.count) }
            for (p, q) in zip(a.buffers, b.buffers) { p.1.data.update(from: q.1.data, count: q.1.count) }
            if let x = a as? BatchNorm, let y = b as? BatchNorm { x.batchesTracked = y.batchesTracked }
        }
        m.training = training
        m.name = name
        return m
    }

    public var layerNames: [String] { layers.map(\.name) }

    public func index(of name: String) -> Int? { layers.firstIndex { $0.name == name } }

    /// Whether every node reads the one before it (a plain chain of layers).
    public var isChain: Bool { inputs.enumerated().allSatisfy { i, ins in ins == [i - 1] } }

    /// The nodes that read node i.
    public func consumers(of i: Int) -> [Int] {
        ((i + 1)..<max(i + 1, layers.count)).filter { inputs[$0].contains(i) }
    }

    public var parameters: [Parameter] { layers.flatMap(\.parameters) }
    public var numParameters: Int { layers.reduce(0) { $0 + $1.numParameters } }

    /// State dict in PyTorch's naming: "conv1.weight", "layer1.0.bn1.running_mean", ...
    public func stateDict() -> [(String, Tensor)] {
        var out: [(String, Tensor)] = []
        for l in layers {
            for p in l.parameters { out.append((l.name + "." + p.name, p.value)) }
            for (n, t) in l.buffers { out.append((l.name + "." + n, t)) }
        }
        return out
    }

    /// Output shapes (PyTorch's terms) after each node for a batch of `n` samples of
    /// `inputShape`; nil from a Lambda on (its shape is known only by running it).
    public func shapes(batch n: Int = 1) throws(TensorError) -> [[Int]?] {
        guard let inputShape else { return layers.map { _ in nil } }
        return try shapes(batch: n, sample: inputShape)
    }

    /// The same for samples of a given shape (a data set's), whatever the declared input.
    public func shapes(batch n: Int = 1, sample: [Int]) throws(TensorError) -> [[Int]?] {
        let first: [Int]? = [n] + sample
        var out: [[Int]?] = []
        for (i, l) in layers.enumerated() {
            let ins = inputs[i].map { $0 < 0 ? first : out[$0] }
            var s: [Int]? = nil
            if !(l is Lambda), ins.allSatisfy({ $0 != nil }) {
                do throws(TensorError) {
                    if let add = l as? Add { s = try add.outputShape(ins[0]!, ins[1]!) } else { s = try l.outputShape(ins[0]!) }
                } catch { throw TensorError(.shape, "\(l.name) (\(l.kind)): \(error.message)") }
            }
            out.append(s)
        }
        return out
    }

    /// Floats that the outputs of all nodes may hold at once in evaluation (2 GiB), so that a
    /// batch of large images is held back to fit.
    public static let activationBudget = 1 << 29

    /// The batch to evaluate samples of `sample` shape with: `requested`, or fewer when the
    /// nodes' output buffers for that many samples would pass the budget. In `forwardInternal`
    /// a ReLU, BatchNorm or sum writes over an input nothing else reads, and Dropout passes its
    /// input on, so those nodes hold no buffer (ResNet-50 at 224 x 224: 32); `keepingAll` counts
    /// every node's (`forwardPlain`: 14).
    public func fittingBatch(_ requested: Int, sample: [Int], keepingAll: Bool = false) -> Int {
        guard let shapes = try? self.shapes(batch: 1, sample: sample) else { return requested }
        var floats = 0
        for (i, s) in shapes.enumerated() {
            guard let s else { return requested }
            if !keepingAll, InPlace.needsNoBuffer(layers[i], reads: inputs[i], readers: consumers) { continue }
            floats += s.reduce(1, *)
        }
        return max(1, min(requested, Sequential.activationBudget / max(floats, 1)))
    }

    // MARK: - running

    /// The input of the last forward, in internal layout (graph models may read it again).
    var inputValue: Tensor?

    /// Runs nodes 0...last (all by default) on an NCHW (or [N, F]) batch; returns the last
    /// output in internal layout (a buffer of that layer: copy it to keep it).
    public func forwardInternal(_ x: Tensor, through last: Int? = nil, training: Bool) throws(TensorError) -> Tensor {
        if let s = inputShape, Array(x.shape.dropFirst()) != s {
            throw TensorError(.shape, "expected input {N,\(s.map(String.init).joined(separator: ","))}, got \(Tensor.describe(x.shape))")
        }
        let x0 = try Layout.toNHWC(x)
        inputValue = x0
        let end = last ?? layers.count - 1
        let plan = self.plan(through: end, input: Layout.logicalShape(x0), training: training)
        lastPlan = plan
        if values.count != layers.count { values = Array(repeating: nil, count: layers.count) }
        for i in plan.order { values[i] = nil }
        var reuse = training ? nil : InPlace(plan, inputs: inputs, count: layers.count)
        fusedReLUs = []
        var j = 0
        while j < plan.order.count {
            let i = plan.order[j]
            let l = layers[i]
            let r = plan.reads[i]
            let h = r[0] < 0 ? x0 : values[r[0]]!
            defer { reuse?.ran(i, plan) }
            if training, let d = l as? Dropout {
                d.stream = RandomStream(seed: noiseSeed, stream: noiseCounter &* 1024 &+ UInt64(i))
            }
            // In evaluation a convolution and the max-pool that alone reads it are one pass (its
            // time is counted on the convolution); an input the pool rejects runs them one by
            // one, so the error names the pool.
            var pool: (Int, MaxPool2d)?
            if !training, l is Conv2d, j + 1 < plan.order.count, let p = layers[plan.order[j + 1]] as? MaxPool2d, p.padding == 0, p.floorMode,
               plan.readers[i] == [plan.order[j + 1]], plan.valueOf[i] == i, i != end,
               let convolved = try? l.outputShape(Layout.logicalShape(h)), (try? p.outputShape(convolved)) != nil {
                pool = (plan.order[j + 1], p)
            }
            let t0 = profile == nil ? 0 : monotonicSeconds()
            do throws(TensorError) {
                if let (pi, p) = pool, let conv = l as? Conv2d {
                    values[pi] = try conv.forwardPooled(h, pool: p)
                    reuse?.ran(pi, plan)
                    j += 1
                } else if let conv = l as? Conv2d, let r = reuse, case let after = epilogue(after: j, plan, r, channels: conv.cout),
                          !after.isEmpty {
                    // The batch norm and ReLU after it run on each chunk it writes (same values).
                    let passes = after.map(\.1)
                    let y = try conv.forward(h) { p, rows in for e in passes { e(p, rows) } }
                    values[i] = y
                    for (n, _) in after {
                        values[n] = y
                        reuse?.ran(n, plan)
                    }
                    j += after.count
                } else if training, let bn = l as? BatchNorm, let n = fusableReLU(after: j, plan, end: end), let relu = layers[n] as? ReLU {
                    // In training the ReLU that alone reads a batch norm runs in its pass, and its
                    // backward in the batch norm's (the same values, one pass fewer each way).
                    bn.reluAfter = true
                    defer { bn.reluAfter = false }
                    let y = try bn.forward(h, training: true)
                    values[i] = y
                    values[n] = y
                    relu.output = y
                    fusedReLUs.insert(n)
                    j += 1
                } else if let v = reuse?.writable(for: l, reads: r, values: values, input: x0) {
                    // Nothing else reads v's buffer: the node writes its output there.
                    if let a = l as? Add {
                        try a.forward(r[0] < 0 ? x0 : values[r[0]]!, r[1] < 0 ? x0 : values[r[1]]!, over: values[v]!)
                    } else {
                        try (l as! InPlaceLayer).forwardInPlace(values[v]!)
                    }
                    values[i] = values[v]
                } else {
                    values[i] = try Sequential.run(l, r.map { $0 < 0 ? x0 : values[$0]! }, training: training)
                }
                if profile != nil { profile!.forward[i] += monotonicSeconds() - t0 }
            } catch {
                throw TensorError(error.kind, "\(l.name) (\(l.kind)): \(error.message)")
            }
            j += 1
        }
        if training { noiseCounter &+= 1 }
        return values[plan.valueOf[end]]!
    }

    /// The ReLU at plan step j + 1 when it alone reads step j's node, which it alone reads, and
    /// that node is not the last asked for.
    func fusableReLU(after j: Int, _ plan: Plan, end: Int) -> Int? {
        guard fuseTraining, j + 1 < plan.order.count else { return nil }
        let i = plan.order[j], n = plan.order[j + 1]
        guard layers[n] is ReLU, plan.reads[n] == [i], plan.readers[i] == [n], plan.valueOf[i] == i, plan.valueOf[n] == n, i != end
        else { return nil }
        return n
    }

    /// The in-place nodes that follow plan step j in a run (each reading the one before, which
    /// nothing else reads) with their passes over `channels` channels, for a convolution to
    /// apply as it writes.
    func epilogue(after j: Int, _ plan: Plan, _ reuse: InPlace, channels: Int) -> [(Int, Epilogue)] {
        var out: [(Int, Epilogue)] = []
        var prev = plan.order[j]
        for k in (j + 1)..<plan.order.count {
            let n = plan.order[k]
            guard let l = layers[n] as? InPlaceLayer, plan.reads[n] == [prev], reuse.lastRead(prev),
                  let e = l.epilogue(channels: channels) else { break }
            out.append((n, e))
            prev = n
        }
        return out
    }

    /// Runs the nodes after `layer` in evaluation, one by one, with `h` as that node's output
    /// (internal layout) and the other values of the last forward through it; returns the last
    /// output (a buffer of that layer).
    public func forwardRest(_ h: Tensor, after layer: Int) throws(TensorError) -> Tensor {
        guard let plan = lastPlan, plan.last >= layer, let x0 = inputValue else {
            throw TensorError(.value, "forwardRest needs a forward through \(layers[layer].name) first")
        }
        var vals: [Tensor?] = (0..<layers.count).map { $0 <= layer ? values[plan.valueOf[$0]] : nil }
        vals[layer] = h
        var out = h
        for i in (layer + 1)..<layers.count {
            let l = layers[i]
            let ins = inputs[i].map { $0 < 0 ? x0 : vals[$0]! }
            do throws(TensorError) {
                out = try Sequential.run(l, ins)
            } catch {
                throw TensorError(error.kind, "\(l.name) (\(l.kind)): \(error.message)")
            }
            vals[i] = out
        }
        return out
    }

    /// Runs `nodes` (this model's layers, or copies of them in the same order) one by one in
    /// evaluation, with no plan, on an NCHW batch; `after(i, output)` may return a replacement
    /// for node i's output, which every node that reads it then sees. Returns every node's
    /// output (internal layout; buffers of the nodes).
    public func forwardPlain(_ x: Tensor, nodes: [Layer], after: ((Int, Tensor) throws(TensorError) -> Tensor?)? = nil) throws(TensorError) -> [Tensor] {
        guard nodes.count == layers.count else { throw TensorError(.value, "forwardPlain needs one layer per node") }
        let x0 = try Layout.toNHWC(x)
        var vals: [Tensor] = []
        vals.reserveCapacity(nodes.count)
        for (i, l) in nodes.enumerated() {
            let ins = inputs[i].map { $0 < 0 ? x0 : vals[$0] }
            var out: Tensor
            do throws(TensorError) {
                out = try Sequential.run(l, ins)
            } catch {
                throw TensorError(error.kind, "\(l.name) (\(l.kind)): \(error.message)")
            }
            if let after, let r = try after(i, out) { out = r }
            vals.append(out)
        }
        return vals
    }

    /// One node on its inputs (the sum of a block reads two).
    public static func run(_ l: Layer, _ ins: [Tensor], training: Bool = false) throws(TensorError) -> Tensor {
        if let a = l as? Add { return try a.forward(ins[0], ins[1]) }
        return try l.forward(ins[0], training: training)
    }

    /// Forward in the model's mode; the result in PyTorch's layout (a new tensor).
    public func forward(_ x: Tensor) throws(TensorError) -> Tensor {
        try Layout.toNCHW(forwardInternal(x, training: training))
    }

    /// Backpropagates the gradient of the loss with respect to the logits. Gradients are added
    /// to the parameters'; nodes with no parameter before them are not visited. A value read by
    /// two nodes gets the sum of their gradients.
    public func backward(_ dlogits: Tensor) throws(TensorError) {
        guard let plan = lastPlan, plan.training, plan.last == layers.count - 1 else {
            throw TensorError(.value, "backward needs a training forward through the whole model first")
        }
        if gradSums.count != layers.count { gradSums = Array(repeating: nil, count: layers.count) }
        var grads = [Tensor?](repeating: nil, count: layers.count)
        var owned = [Bool](repeating: false, count: layers.count)
        grads[plan.valueOf[layers.count - 1]] = dlogits
        for i in plan.order.reversed() {
            guard plan.needsGrad[i], let g = grads[i] else { continue }
            if fusedReLUs.contains(i) {
                // Its batch norm masks the gradient itself (BatchNorm.backward).
                grads[plan.reads[i][0]] = g
                continue
            }
            let l = layers[i]
            let targets = plan.reads[i].filter { $0 >= 0 && plan.needsGrad[$0] }
            let t0 = profile == nil ? 0 : monotonicSeconds()
            let d: Tensor?
            do { d = try l.backward(g, needInputGrad: !targets.isEmpty) } catch {
                throw TensorError(error.kind, "\(l.name) (\(l.kind)): \(error.message)")
            }
            if profile != nil { profile!.backward[i] += monotonicSeconds() - t0 }
            guard let d else { continue }
            for v in targets {
                guard let prev = grads[v] else { grads[v] = d; continue }
                // A second gradient: sum into this value's own buffer (never into a layer's).
                if !owned[v] {
                    let s = try Buffers.reuse(gradSums[v], prev.shape)
                    gradSums[v] = s
                    for k in 0..<s.count { s.data[k] = prev.data[k] + d.data[k] }
                    grads[v] = s
                    owned[v] = true
                } else {
                    let s = grads[v]!
                    for k in 0..<s.count { s.data[k] += d.data[k] }
                }
            }
        }
    }

    public func zeroGrad() { for p in parameters { p.zeroGrad() } }
}
