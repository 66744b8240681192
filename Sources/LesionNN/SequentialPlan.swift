// How a model runs its nodes: the order, what each reads, and the rewrites that change no
// result (a ReLU after its max-pool, a convolution cropped to the rows a pool reads).
import LesionTensor

extension Sequential {
    /// How nodes 0...last run: their order, the values each reads (a value is named by the
    /// node that wrote it; -1 is the input), where each node's output is found, and (training)
    /// which values lead back to a parameter.
    struct Plan {
        var last: Int
        var training: Bool
        var order: [Int]
        var reads: [[Int]]
        var valueOf: [Int]
        var needsGrad: [Bool]
        /// readers[v]: the nodes that read value v.
        var readers: [[Int]]
    }

    /// The plan for nodes 0...last. Neither change alters the result:
    /// - a ReLU read only by a floor-mode max-pool runs after it (relu(max(x)) = max(relu(x)),
    ///   with the same gradient), on a quarter of the values;
    /// - in a chain, a convolution whose last output rows or columns no later layer reads (a
    ///   pool that floors them away, with only ReLUs, or BatchNorm or Dropout in evaluation,
    ///   between) computes only the rows and columns that are read.
    func plan(through last: Int, input: [Int], training: Bool) -> Plan {
        for l in layers { (l as? Conv2d)?.crop = nil }
        if isChain { planCrops(through: last, input: input, training: training) }
        var order = Array(0...last)
        var valueOf = Array(0..<layers.count)
        var swapped: [Int] = []   // ReLUs that run after their pool
        var i = 0
        while i < last {
            if layers[i] is ReLU, let pool = layers[i + 1] as? MaxPool2d, pool.floorMode, inputs[i + 1] == [i], consumers(of: i) == [i + 1] {
                order.swapAt(i, i + 1)
                valueOf[i + 1] = i   // who reads the pool reads the ReLU after it
                swapped.append(i)
                i += 2
            } else {
                i += 1
            }
        }
        var reads = inputs.map { ins in ins.map { $0 < 0 ? $0 : valueOf[$0] } }
        for r in swapped {
            reads[r + 1] = reads[r]   // the pool reads the ReLU's input
            reads[r] = [r + 1]        // and the ReLU the pool's output
        }
        var needsGrad = [Bool](repeating: false, count: layers.count)
        if training {
            for n in order { needsGrad[n] = !layers[n].parameters.isEmpty || reads[n].contains { $0 >= 0 && needsGrad[$0] } }
        }
        var readers = [[Int]](repeating: [], count: layers.count)
        for (n, r) in reads.enumerated() { for v in r where v >= 0 { readers[v].append(n) } }
        return Plan(last: last, training: training, order: order, reads: reads, valueOf: valueOf, needsGrad: needsGrad, readers: readers)
    }

    /// Needed leading rows and columns of each layer's output, from the end backwards (a chain).
    func planCrops(through last: Int, input: [Int], training: Bool) {
        var shapes: [[Int]] = []
        var s = input
        for i in 0...last {
            guard !(layers[i] is Lambda), let o = try? layers[i].outputShape(s) else { return }
            shapes.append(o)
            s = o
        }
        var need: (Int, Int)? = nil     // nil: all of it
        for i in stride(from: last, through: 0, by: -1) {
            let out = shapes[i]
            let layer = layers[i]
            if let conv = layer as? Conv2d, let n = need, out.count == 4, n.0 < out[2] || n.1 < out[3] {
                conv.crop = (n.0, n.1)
            }
            switch layer {
            case let p as Pool2d where out.count == 4 && p.padding == 0 && p.floorMode:
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

    /// The output crop (leading rows, columns) the plan gives the convolution at `index` when the
    /// whole model runs in evaluation on samples of `sample` shape; nil when it computes all.
    public func plannedCrop(of index: Int, sample: [Int]) -> (rows: Int, cols: Int)? {
        _ = plan(through: layers.count - 1, input: [1] + sample, training: false)
        let crop = (layers[index] as? Conv2d)?.crop
        for l in layers { (l as? Conv2d)?.crop = nil }
        return crop
    }
}

/// Which buffers an evaluation forward may write over: a value nothing else will read (no node
/// left in this run, no node after it, which `forwardRest` may run) and that shares no memory
/// with a value still to be read or with the model's input.
struct InPlace {
    /// pending[v]: reads of value v by nodes of the plan that have not run yet.
    private var pending: [Int]
    /// Values that nodes after the plan's last read.
    private var kept: [Bool]

    init(_ plan: Sequential.Plan, inputs: [[Int]], count: Int) {
        pending = [Int](repeating: 0, count: count)
        for n in plan.order { for v in plan.reads[n] where v >= 0 { pending[v] += 1 } }
        kept = [Bool](repeating: false, count: count)
        for n in (plan.last + 1)..<max(plan.last + 1, count) {
            for v in inputs[n] where v >= 0 { kept[plan.valueOf[v]] = true }
        }
    }

    mutating func ran(_ i: Int, _ plan: Sequential.Plan) {
        for v in plan.reads[i] where v >= 0 { pending[v] -= 1 }
    }

    /// Whether the one read left of value v is the next node's and nothing after the plan reads
    /// it (a fresh buffer of the node that wrote v can then take that node's output too).
    func lastRead(_ v: Int) -> Bool { v >= 0 && pending[v] == 1 && !kept[v] }

    /// The value node i (`layer`, reading `reads`) may write its output over, if any.
    func writable(for layer: Layer, reads: [Int], values: [Tensor?], input: Tensor) -> Int? {
        guard layer is InPlaceLayer || layer is Add else { return nil }
        for v in reads where v >= 0 && pending[v] == 1 && !kept[v] {
            guard let t = values[v], !t.sharesStorage(with: input) else { continue }
            let shared = values.indices.contains { u in
                u != v && (pending[u] > 0 || kept[u]) && values[u].map { t.sharesStorage(with: $0) } == true
            }
            if !shared { return v }
        }
        return nil
    }

    /// Whether the node can go without a buffer of its own in evaluation (for the budget).
    static func needsNoBuffer(_ l: Layer, reads: [Int], readers: (Int) -> [Int]) -> Bool {
        if l is Dropout { return true }
        guard l is InPlaceLayer || l is Add else { return false }
        return reads.contains { $0 >= 0 && readers($0).count == 1 }
    }
}
