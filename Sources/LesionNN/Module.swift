// A model as researchers write it: a tree of modules (layers, nested sequences, residual
// blocks), flattened into the nodes a Sequential runs. Each node's name is its dotted path,
// the same as in PyTorch's state dict: `features.0`, `layer3.1.conv2`, `layer3.1.downsample.0`.
//
// Naming of unnamed parts:
// - the top level of a model: kind and order (`conv1`, `bn1`, `relu1`, ...), as Lesion always has;
// - a nested sequence: its position, from 0, as torch.nn.Sequential names its children;
// - a residual block's body: kind and order within the block (`conv1`, `bn1`, `relu1`, `conv2`,
//   `bn2`: torchvision's BasicBlock and Bottleneck names); its shortcut is `downsample`.
// A block's own name is its output: the ReLU after the sum, or the sum when there is none
// (the sum is then `<block>.add`).
import LesionTensor

public indirect enum Module {
    /// A layer; `name` nil takes the automatic name of where it stands.
    case layer(Layer, name: String?)
    /// Modules in order; children unnamed are named by position.
    case sequential([Module], name: String?)
    /// relu?(body(x) + shortcut(x)); no shortcut is the identity.
    case residual(body: [Module], shortcut: Module?, relu: Bool, name: String?)

    var explicitName: String? {
        switch self {
        case .layer(_, let n), .sequential(_, let n), .residual(_, _, _, let n): return n
        }
    }

    var autoPrefix: String {
        switch self {
        case .layer(let l, _): return l.namePrefix
        case .sequential: return "seq"
        case .residual: return "block"
        }
    }

    /// A deep copy: new layers with the same settings and weights.
    public func copy() throws(TensorError) -> Module {
        switch self {
        case .layer(let l, let n): return .layer(try l.copy(), name: n)
        case .sequential(let ms, let n):
            var out: [Module] = []
            for m in ms { out.append(try m.copy()) }
            return .sequential(out, name: n)
        case .residual(let body, let shortcut, let relu, let n):
            var b: [Module] = []
            for m in body { b.append(try m.copy()) }
            return .residual(body: b, shortcut: try shortcut?.copy(), relu: relu, name: n)
        }
    }
}

/// The nodes of a flattened tree: layers in execution order with their full names, and the
/// nodes each one reads (-1: the model's input).
struct FlatGraph {
    var layers: [Layer] = []
    var inputs: [[Int]] = []

    static func flatten(_ top: [Module]) throws(TensorError) -> FlatGraph {
        var g = FlatGraph()
        _ = try g.add(top, prefix: "", input: -1, naming: .kindOrder)
        return g
    }

    enum Naming { case kindOrder, position }

    /// Local names of a list of siblings.
    static func names(_ ms: [Module], _ naming: Naming) throws(TensorError) -> [String] {
        var counters: [String: Int] = [:]
        var out: [String] = []
        for (i, m) in ms.enumerated() {
            let auto: String
            switch naming {
            case .position: auto = String(i)
            case .kindOrder:
                counters[m.autoPrefix, default: 0] += 1
                auto = m.autoPrefix + String(counters[m.autoPrefix]!)
            }
            let n = m.explicitName ?? auto
            guard !n.isEmpty, !n.contains(".") else {
                throw TensorError(.value, "layer name '\(n)' must be non-empty and contain no '.'")
            }
            out.append(n)
        }
        return out
    }

    /// Appends the modules after node `input`; returns the node of their output.
    mutating func add(_ ms: [Module], prefix: String, input: Int, naming: Naming) throws(TensorError) -> Int {
        var cur = input
        for (m, local) in zip(ms, try FlatGraph.names(ms, naming)) {
            cur = try add(m, name: prefix + local, input: cur)
        }
        return cur
    }

    mutating func add(_ m: Module, name: String, input: Int) throws(TensorError) -> Int {
        switch m {
        case .layer(let l, _):
            l.name = name
            layers.append(l)
            inputs.append([input])
            return layers.count - 1
        case .sequential(let ms, _):
            guard !ms.isEmpty else { throw TensorError(.value, "\(name): a sequence needs at least one module") }
            return try add(ms, prefix: name + ".", input: input, naming: .position)
        case .residual(let body, let shortcut, let relu, _):
            guard !body.isEmpty else { throw TensorError(.value, "\(name): a residual block needs a body") }
            let b = try add(body, prefix: name + ".", input: input, naming: .kindOrder)
            var s = input
            if let shortcut {
                let local = shortcut.explicitName ?? "downsample"
                guard !local.contains(".") else { throw TensorError(.value, "layer name '\(local)' must contain no '.'") }
                s = try add(shortcut, name: name + "." + local, input: input)
            }
            let sum = Add()
            sum.name = relu ? name + ".add" : name
            layers.append(sum)
            inputs.append([b, s])
            guard relu else { return layers.count - 1 }
            let r = ReLU()
            r.name = name
            layers.append(r)
            inputs.append([layers.count - 2])
            return layers.count - 1
        }
    }
}
