// Unit ablation. A unit of a layer is a channel of its output (a feature for {N,F} outputs).
// Zero mode sets it to 0; mean mode to its mean over the data set (one number per channel,
// averaged over samples and positions).
import LesionNN
import LesionTensor

public enum AblationMode: Equatable, Sendable {
    case zero
    case mean
    /// One value per unit (from a plugin's mode).
    case values([Float])
}

/// Units to ablate: layer index -> 0-based channels.
public typealias Lesions = [Int: [Int]]

public enum Ablation {
    /// Mean of each channel of a layer's output over the data (samples and positions).
    public static func channelMeans(_ model: Sequential, _ data: Dataset, layer: Int, batch: Int = 256) throws(TensorError) -> [Double] {
        var sums: [Double] = []
        var count = 0
        try model.eachBatch(data, batch: batch, through: layer) { out, _, _ throws(TensorError) in
            let c = out.shape[out.rank - 1]
            if sums.isEmpty { sums = [Double](repeating: 0, count: c) }
            let rows = out.count / c
            for r in 0..<rows { for ch in 0..<c { sums[ch] += Double(out.data[r * c + ch]) } }
            count += rows
        }
        return sums.map { $0 / Double(count) }
    }

    /// Channels (units) of a layer's output for a model and data, without running it: from
    /// the shapes when they are known.
    public static func unitCount(_ model: Sequential, _ data: Dataset, layer: Int) throws(TensorError) -> Int {
        guard let s = try model.shapes(batch: 1, sample: data.sampleShape)[layer] else {
            throw TensorError(.shape, "the output shape of \(model.layers[layer].name) is not known before running it")
        }
        return s[1]
    }

    /// The value each unit of `layer` takes when ablated: 0, its channel mean over the data
    /// (one pass), or a plugin mode's value.
    public static func ablationValues(_ model: Sequential, _ data: Dataset, layer: Int, mode: AblationMode) throws(TensorError) -> [Float] {
        let n = try unitCount(model, data, layer: layer)
        switch mode {
        case .zero: return [Float](repeating: 0, count: n)
        case .mean: return try channelMeans(model, data, layer: layer).map(Float.init)
        case .values(let v):
            guard v.count == n else { throw TensorError(.shape, "the mode gives \(v.count) values, but \(model.layers[layer].name) has \(n) units") }
            return v
        }
    }

    /// Sets channels of an internal-layout tensor ([..., C]) to their values.
    static func clamp(_ t: Tensor, channels: [Int], values: [Float]) {
        let c = t.shape[t.rank - 1], rows = t.count / c
        for u in channels {
            let v = values[u]
            for r in 0..<rows { t.data[r * c + u] = v }
        }
    }

    /// Evaluation with units ablated together, by running every layer in order and replacing
    /// the units' values in the outputs of their layers (the plain way; sweeps are checked
    /// against it).
    /// `answer(position, right)` sees each sample's answer, when given.
    public static func evaluate(_ model: Sequential, _ data: Dataset, lesions: Lesions, mode: AblationMode = .zero,
                                batch: Int = 256, answer: ((Int, Bool) -> Void)? = nil) throws(TensorError) -> Evaluation {
        try model.checkFits(data)
        for (layer, units) in lesions {
            guard layer >= 0 && layer < model.layers.count else { throw TensorError(.index, "layer \(layer) out of range") }
            let n = try unitCount(model, data, layer: layer)
            if case .values(let v) = mode, v.count != n {
                throw TensorError(.shape, "the mode gives \(v.count) values, but \(model.layers[layer].name) has \(n) units")
            }
            for u in units where u < 0 || u >= n {
                throw TensorError(.index, "unit \(u + 1) out of range for \(model.layers[layer].name), which has \(n) units")
            }
        }
        var values: [Int: [Float]] = [:]
        for layer in lesions.keys { values[layer] = try ablationValues(model, data, layer: layer, mode: mode) }
        let k = data.numClasses
        var confusion = [Int](repeating: 0, count: k * k)
        var lossSum = 0.0
        let plain = try model.layers.map { l throws(TensorError) in try l.copy() }
        try data.forEachBatch(model.fittingBatch(batch, sample: data.sampleShape, keepingAll: true)) { xb, range, labels throws(TensorError) in
            let h = try model.forwardPlain(xb, nodes: plain) { i, out throws(TensorError) in
                guard let units = lesions[i] else { return nil }
                let c = try out.copy()   // the layer's buffer may be its input's (Dropout in evaluation)
                clamp(c, channels: units, values: values[i]!)
                return c
            }.last!
            guard h.rank == 2, h.shape[1] == k else {
                throw TensorError(.shape, "the model's output is \(Tensor.describe(h.shape)), expected {N,\(k)}")
            }
            lossSum += Loss.softmaxCrossEntropy(h, labels: labels, grad: nil).loss
            for r in 0..<range.count {
                let guess = Tensor.argExtreme(h.data + r * k, k, 1, largest: true)
                confusion[Int(labels[r]) * k + guess] += 1
                answer?(range.lowerBound + r, guess == Int(labels[r]))
            }
        }
        return Evaluation.from(confusion: confusion, classes: k, lossSum: lossSum)
    }
}

// MARK: - rotation

extension Ablation {
    /// A copy of the model in which the output of `layer` is expressed in a Haar-random
    /// orthogonal basis: `<layer>_rot` (r = Q a, a bias-free 1x1 convolution, or linear layer
    /// for {N,F} outputs) holds the rotated units and `<layer>_unrot` (a = Q^T r) undoes it, so
    /// the model computes the same function.
    public static func rotate(_ model: Sequential, layer: Int, units: Int, seed: UInt64) throws(TensorError) -> Sequential {
        let q = try Tensor.randomRotation(units, seed: seed)
        let name = model.layers[layer].name
        let spatial = try layerIsSpatial(model, layer)
        func mixer(_ transposed: Bool, _ n: String) throws(TensorError) -> Layer {
            let l: Layer
            let w: Tensor
            if spatial {
                let c = try Conv2d(cin: units, cout: units, k: 1, bias: false)
                w = c.weight.value
                l = c
            } else {
                let f = try Linear(units, units, bias: false)
                w = f.weight.value
                l = f
            }
            for i in 0..<units { for j in 0..<units { w.data[i * units + j] = transposed ? q.data[j * units + i] : q.data[i * units + j] } }
            l.name = n
            return l
        }
        // The two mixers go right after `layer`; what read it reads the undoing one.
        var nodes: [Layer] = [], inputs: [[Int]] = []
        var moved = Array(0..<model.layers.count)
        for (i, l) in model.layers.enumerated() {
            nodes.append(try l.copy())
            inputs.append(model.inputs[i].map { $0 < 0 ? -1 : moved[$0] })
            moved[i] = nodes.count - 1
            if i == layer {
                nodes.append(try mixer(false, name + "_rot"))
                inputs.append([nodes.count - 2])
                nodes.append(try mixer(true, name + "_unrot"))
                inputs.append([nodes.count - 2])
                moved[i] = nodes.count - 1
            }
        }
        return try Sequential(nodes: nodes, inputs: inputs, seed: model.seed, inputShape: model.inputShape, initialize: false)
    }

    static func layerIsSpatial(_ model: Sequential, _ layer: Int) throws(TensorError) -> Bool {
        guard let shape = try model.shapes(batch: 1)[layer] else {
            throw TensorError(.shape, "the output shape of \(model.layers[layer].name) is not known (give the model an input shape)")
        }
        return shape.count == 4
    }
}
