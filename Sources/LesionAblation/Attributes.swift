// Attributes of the units of one layer: what about a unit might predict the damage its
// ablation does.
import Foundation
import LesionNN
import LesionTensor

public struct UnitData {
    /// acts[i * U + u]: unit u's activation on sample i, averaged over positions.
    public var acts: [Double]
    /// probs[i * K + k]: the model's predicted probability of class k for sample i.
    public var probs: [Double]
    /// 0-based labels of the samples.
    public var labels: [Int]
    /// zeroCounts[u]: how many of unit u's values (all samples and positions) are exactly 0, of
    /// `values` per unit.
    public var zeroCounts: [Int], values: Int
    /// zeros[u]: the fraction of unit u's values that are exactly 0.
    public var zeros: [Double] { zeroCounts.map { Double($0) / Double(values) } }
    public var units: Int, classes: Int, samples: Int

    public init(acts: [Double], probs: [Double], labels: [Int], zeroCounts: [Int], values: Int, units: Int, classes: Int, samples: Int) {
        (self.acts, self.probs, self.labels, self.zeroCounts, self.values) = (acts, probs, labels, zeroCounts, values)
        (self.units, self.classes, self.samples) = (units, classes, samples)
    }
}

public enum Attributes {
    public static let builtIn = ["selectivity", "l1_in", "l1_out", "mean", "sparsity", "top_class", "class_correlation"]

    /// Runs the model over the data once: the layer's activations, then the rest of the model
    /// from them for the logits.
    public static func collect(_ model: Sequential, _ data: Dataset, layer: Int, batch: Int = 256) throws(TensorError) -> UnitData {
        try model.checkFits(data)
        var acts: [Double] = [], zeroCount: [Int] = [], total = 0
        var units = 0
        let k = data.numClasses
        var probs: [Double] = []
        var labels: [Int] = []
        try model.eachBatch(data, batch: batch, through: layer) { out, range, lab throws(TensorError) in
            let c = out.shape[out.rank - 1]
            units = c
            if zeroCount.isEmpty { zeroCount = [Int](repeating: 0, count: c) }
            let per = out.count / (range.count * c)          // positions per sample
            for r in 0..<range.count {
                var sums = [Double](repeating: 0, count: c)
                for p in 0..<per {
                    let row = out.data + (r * per + p) * c
                    for ch in 0..<c {
                        sums[ch] += Double(row[ch])
                        if row[ch] == 0 { zeroCount[ch] += 1 }
                    }
                }
                acts += sums.map { $0 / Double(per) }
            }
            total += range.count * per
            let logits = try model.forwardRest(out, after: layer)
            guard logits.rank == 2, logits.shape[1] == k else {
                throw TensorError(.shape, "the model's output is \(Tensor.describe(Layout.logicalShape(logits))), expected {N,\(k)} for \(k) classes")
            }
            for r in 0..<range.count {
                let z = logits.data + r * k
                var mx = z[0]
                for j in 1..<k where z[j] > mx { mx = z[j] }
                var s = 0.0
                for j in 0..<k { s += exp(Double(z[j] - mx)) }
                for j in 0..<k { probs.append(exp(Double(z[j] - mx)) / s) }
                labels.append(Int(lab[r]))
            }
        }
        return UnitData(acts: acts, probs: probs, labels: labels, zeroCounts: zeroCount, values: total,
                        units: units, classes: k, samples: labels.count)
    }

    /// classMeans[u * K + k]: unit u's mean activation over the samples of class k (NaN if none).
    public static func classMeans(_ d: UnitData) -> [Double] {
        var sums = [Double](repeating: 0, count: d.units * d.classes), counts = [Int](repeating: 0, count: d.classes)
        for i in 0..<d.samples {
            counts[d.labels[i]] += 1
            for u in 0..<d.units { sums[u * d.classes + d.labels[i]] += d.acts[i * d.units + u] }
        }
        for u in 0..<d.units { for k in 0..<d.classes { sums[u * d.classes + k] /= Double(counts[k]) } }
        return sums
    }

    /// Class selectivity index (Morcos et al. 2018): (mu_max - mu_rest) / (mu_max + mu_rest),
    /// mu_max the largest class mean, mu_rest the mean of the other classes' means; 0 when both
    /// are 0 (a unit that never fires). Meant for non-negative (post-ReLU) units.
    public static func selectivity(classMeans m: [Double], units: Int, classes k: Int) -> [Double] {
        var out: [Double] = []
        for u in 0..<units {
            var row: [Double] = []
            for c in 0..<k where !m[u * k + c].isNaN { row.append(m[u * k + c]) }
            guard let top = row.max(), row.count > 1 else { out.append(0); continue }
            let total: Double = row.reduce(0, +)
            let rest: Double = (total - top) / Double(row.count - 1)
            out.append(top + rest == 0 ? 0 : (top - rest) / (top + rest))
        }
        return out
    }

    /// The 0-based class whose mean activation is largest.
    public static func topClass(classMeans m: [Double], units: Int, classes k: Int) -> [Double] {
        var out: [Double] = []
        for u in 0..<units {
            var best = 0
            for c in 1..<max(k, 1) where m[u * k + c] > m[u * k + best] { best = c }
            out.append(Double(best))
        }
        return out
    }

    /// The largest Pearson correlation, over classes, between a unit's activation and the
    /// predicted probability of the class (a constant unit gives NaN).
    public static func classCorrelation(_ d: UnitData) throws(TensorError) -> [Double] {
        var out: [Double] = []
        for u in 0..<d.units {
            let a = (0..<d.samples).map { d.acts[$0 * d.units + u] }
            var best = -Double.infinity
            var defined = false
            for k in 0..<d.classes {
                let p = (0..<d.samples).map { d.probs[$0 * d.classes + k] }
                let r = try Stats.pearson(a, p).r
                if !r.isNaN { best = max(best, r); defined = true }
            }
            out.append(defined ? best : .nan)
        }
        return out
    }

    /// L1 norm of the weights that produce each unit: the filter (or row) of the nearest conv or
    /// linear layer at or before `layer`, with only channel-wise layers between. At a residual
    /// sum, the branches' norms add; an identity shortcut is a weight of 1 per unit.
    public static func l1In(_ model: Sequential, layer: Int) throws(TensorError) -> [Double] {
        guard let norms = l1InAt(model, layer) else {
            throw TensorError(.value, "no conv or linear layer produces the units of \(model.layers[layer].name) (only channel-wise layers may stand between)")
        }
        return norms
    }

    static func l1InAt(_ model: Sequential, _ i: Int) -> [Double]? {
        guard i >= 0 else { return nil }
        let l = model.layers[i]
        if let c = l as? Conv2d { return rows(c.weight.value, c.cout) }
        if let f = l as? Linear { return rows(f.weight.value, f.nout) }
        if l is Add {
            let (b, s) = (model.inputs[i][0], model.inputs[i][1])
            guard let body = l1InAt(model, b) else { return nil }
            // An identity shortcut: the sum reads the value the body starts from.
            if firstOfBranch(model, ending: b) == s { return body.map { $0 + 1 } }
            guard let short = l1InAt(model, s), short.count == body.count else { return nil }
            return zip(body, short).map(+)
        }
        guard Ablation.channelWise(l) && !(l is Flatten) else { return nil }
        return l1InAt(model, model.inputs[i][0])
    }

    /// The value a single-input chain ending at node i starts from.
    static func firstOfBranch(_ model: Sequential, ending i: Int) -> Int {
        var n = i
        while n >= 0, model.inputs[n].count == 1, !(model.layers[n] is Add) {
            let prev = model.inputs[n][0]
            if prev < 0 || model.layers[prev] is Add || model.consumers(of: prev).count > 1 { return prev }
            n = prev
        }
        return n
    }

    /// L1 norm of the next layers' weights that read each unit (through channel-wise layers,
    /// a Flatten, pooling or a residual sum between; summed over every layer that reads it, as
    /// the next block's first convolution and its shortcut both do).
    public static func l1Out(_ model: Sequential, layer: Int, units: Int) throws(TensorError) -> [Double] {
        var sums = [Double](repeating: 0, count: units)
        var frontier = [layer], seen = Set<Int>()
        var readers = 0
        while let n = frontier.popLast() {
            for i in model.consumers(of: n) where seen.insert(i).inserted {
                let l = model.layers[i]
                if Ablation.channelWise(l) || l is Add { frontier.append(i); continue }
                if let c = l as? Conv2d {
                    // Unit u is input channel u % (cin / groups) of the output channels of its group.
                    let w = c.weight.value.data, kk = c.k * c.k, (cinG, coutG) = (c.cin / c.groups, c.cout / c.groups)
                    for u in 0..<units { for co in ((u / cinG) * coutG)..<((u / cinG + 1) * coutG) { for t in 0..<kk {
                        sums[u] += Double(abs(w[(co * cinG + u % cinG) * kk + t]))
                    } } }
                } else if let f = l as? Linear {
                    guard f.nin % units == 0 else { throw TensorError(.shape, "\(f.name) reads \(f.nin) features, not a multiple of \(units) units") }
                    let per = f.nin / units          // positions per unit after a Flatten (1 after global pooling)
                    let w = f.weight.value.data
                    for u in 0..<units { for o in 0..<f.nout { for j in 0..<per { sums[u] += Double(abs(w[o * f.nin + u * per + j])) } } }
                } else {
                    throw TensorError(.value, "the layer after \(model.layers[layer].name) that mixes units is a \(l.kind), not a conv or linear layer")
                }
                readers += 1
            }
        }
        guard readers > 0 else { throw TensorError(.value, "no conv or linear layer reads the units of \(model.layers[layer].name)") }
        return sums
    }

    static func rows(_ w: Tensor, _ n: Int) -> [Double] {
        let per = w.count / n
        return (0..<n).map { r in (0..<per).reduce(0.0) { $0 + Double(abs(w.data[r * per + $1])) } }
    }

    /// The built-in attributes by name.
    public static func compute(_ names: [String], _ model: Sequential, _ d: UnitData, layer: Int) throws(TensorError) -> [String: [Double]] {
        let means = classMeans(d)
        var out: [String: [Double]] = [:]
        for name in names {
            switch name {
            case "selectivity": out[name] = selectivity(classMeans: means, units: d.units, classes: d.classes)
            case "top_class": out[name] = topClass(classMeans: means, units: d.units, classes: d.classes)
            case "mean":
                var m = [Double](repeating: 0, count: d.units)
                for i in 0..<d.samples { for u in 0..<d.units { m[u] += d.acts[i * d.units + u] } }
                out[name] = m.map { $0 / Double(d.samples) }
            case "sparsity": out[name] = d.zeros
            case "l1_in": out[name] = try l1In(model, layer: layer)
            case "l1_out": out[name] = try l1Out(model, layer: layer, units: d.units)
            case "class_correlation": out[name] = try classCorrelation(d)
            default: throw TensorError(.value, "unknown attribute '\(name)'")
            }
        }
        return out
    }
}
