// Sweeps through any graph of layers (residual blocks, padded or adaptive pooling), exactly.
//
// The base forward runs once per batch and keeps every node's output. For a set of units of
// node L, only the samples whose values at L change are carried on, in rows of their own:
// - while the change stays in the set's channels (channel-wise layers, and residual sums whose
//   changed inputs are all such), each node runs on the changed rows;
// - a mixing layer reached by such a change pays 1/C: its base output plus, for each unit, the
//   change of that one channel (ChannelMixer.addChannelChange);
// - after that the change is dense: each node runs on the changed rows, reading the base rows
//   of inputs the change did not reach (the other branch of a block).
// Nothing here knows a layer by its type: the plan reads each layer's channelMap.
import LesionNN
import LesionTensor

extension Ablation {
    /// Where unit u's values lie in one sample of a node's output (internal layout): `per`
    /// values, the q-th at u * unitStride + q * posStride.
    struct UnitLayout {
        var per: Int, unitStride: Int, posStride: Int
    }

    /// The layout of a node's units from its shape, and its input's for a channel-wise node that
    /// turns planes into features (a Flatten: blocks; a global pool: one feature each).
    static func unitLayout(_ shape: [Int], input: (layout: UnitLayout, shape: [Int])?) -> UnitLayout? {
        if shape.count == 4 { return UnitLayout(per: shape[2] * shape[3], unitStride: 1, posStride: shape[1]) }
        guard shape.count == 2 else { return nil }
        guard let input, input.shape.count == 4 else { return input?.layout ?? UnitLayout(per: 1, unitStride: 1, posStride: 1) }
        let (c, hw) = (input.shape[1], input.shape[2] * input.shape[3])
        if shape[1] == c { return UnitLayout(per: 1, unitStride: 1, posStride: 1) }
        if shape[1] == c * hw { return UnitLayout(per: hw, unitStride: hw, posStride: 1) }
        return nil
    }

    /// Per-thread state of a graph sweep: copies of the nodes the change reaches (they keep their
    /// buffers) and, by node, the rows of its base output gathered for the pass.
    final class GraphScratch {
        var nodes: [Int: Layer] = [:]
        var gathered: [Int: Tensor] = [:]
        var delta: Tensor?
    }

    /// Rows the layers after the point run on at once (sets are grouped up to this), fewer when
    /// their outputs would hold more than `passBudget` floats per thread (256 MiB).
    static let rowsPerPass = 128
    static let passBudget = 1 << 26

    static func ablateSetsGraph(_ model: Sequential, _ data: Dataset, layer L: Int, sets: [[Int]], values: [Float],
                                batch: Int, perSample: Bool = false) throws(TensorError) -> SetCounts {
        let layers = model.layers, count = layers.count
        var reached = [Bool](repeating: false, count: count)
        reached[L] = true
        for i in (L + 1)..<count where model.inputs[i].contains(where: { $0 >= 0 && reached[$0] }) { reached[i] = true }
        let affected = ((L + 1)..<count).filter { reached[$0] }
        let shapes = try model.shapes(batch: 1, sample: data.sampleShape)
        // (A node the change reaches that also reads the model's input, a first block's identity
        // shortcut, is rare enough to be left to one evaluation per set.)
        guard !affected.contains(where: { layers[$0].channelMap == .opaque || model.inputs[$0].contains(-1) }),
              shapes.allSatisfy({ $0 != nil }), reached[count - 1] else {
            return try bruteForce(model, data, layer: L, sets: sets, values: values, perSample: perSample)
        }
        // Layouts of units while the change can stay in their channels.
        var layouts = [UnitLayout?](repeating: nil, count: count)
        layouts[L] = unitLayout(shapes[L]!, input: nil)
        for i in affected where layers[i].channelMap == .channelWise {
            let ins = model.inputs[i].filter { $0 >= 0 && reached[$0] }
            guard let j = ins.first, let lj = layouts[j] else { continue }
            layouts[i] = unitLayout(shapes[i]!, input: (lj, shapes[j]!))
        }
        let k = data.numClasses
        let threads = min(Threads.count, sets.count)
        // Floats a row takes in the nodes the change reaches (their outputs and gathered inputs).
        let perRow = affected.reduce(0) { $0 + 2 * shapes[$1]!.reduce(1, *) }
        let passRows = max(1, min(rowsPerPass, passBudget / max(perRow, 1)))
        var scratch: [GraphScratch] = []
        for _ in 0..<threads {
            let s = GraphScratch()
            for i in affected { s.nodes[i] = try layers[i].copy() }
            scratch.append(s)
        }
        let tally = SweepCounts(sets: sets.count, classes: k, perSample: perSample)
        try data.forEachBatch(model.fittingBatch(batch, sample: data.sampleShape, keepingAll: true)) { xb, range, labels throws(TensorError) in
            let nb = range.count
            let base = try model.forwardPlain(xb, nodes: layers)
            let baseRight = tally.base(base[count - 1], labels: labels, n: nb, start: range.lowerBound)
            nonisolated(unsafe) let batchLabels = labels
            try tally.parallel(threads: threads) { t, part throws(TensorError) in
                // Several sets' rows in one pass, so that the layers after run on enough rows
                // for an efficient product.
                var ui = part.lowerBound
                while ui < part.upperBound {
                    let group = Array(ui..<min(part.upperBound, ui + max(1, passRows / max(nb, 1))))
                    ui = group.last! + 1
                    guard let (out, rows) = try ablatedGraph(model, L: L, sets: group.map { sets[$0] }, values: values, base: base,
                                                             affected: affected, layouts: layouts, scratch: scratch[t]) else { continue }
                    var at = 0
                    for (g, set) in group.enumerated() {
                        for r in rows[g] {
                            tally.record(set: set, row: r, label: Int(batchLabels[r]), logits: out.data + at * k, wasRight: baseRight[r])
                            at += 1
                        }
                    }
                }
            }
        }
        return tally.result()
    }

    /// For each set, the samples whose values at L change when its units take `values`; and the
    /// logits of all of them, set after set; nil when no sample changes.
    static func ablatedGraph(_ model: Sequential, L: Int, sets: [[Int]], values: [Float], base: [Tensor], affected: [Int],
                             layouts: [UnitLayout?], scratch s: GraphScratch) throws(TensorError) -> (Tensor, [[Int]])? {
        guard let lay = layouts[L] else { return nil }
        let xL = base[L]
        let n = xL.shape[0], size = xL.count / n
        var rowsOf: [[Int]] = []
        for units in sets {
            var rows: [Int] = []
            for r in 0..<n {
                let p = xL.data + r * size
                var changed = false
                for u in units where !changed {
                    let v = values[u]
                    for q in 0..<lay.per {
                        let x = p[u * lay.unitStride + q * lay.posStride]
                        if x != v || x != x { changed = true; break }
                    }
                }
                if changed { rows.append(r) }
            }
            rowsOf.append(rows)
        }
        let rows = rowsOf.flatMap { $0 }
        guard !rows.isEmpty else { return nil }
        // Where each set's rows start in the stacked rows.
        var starts: [Int] = []
        var at = 0
        for r in rowsOf { starts.append(at); at += r.count }
        /// The pass's rows of node j's base output, in that node's scratch tensor (the point's and
        /// a mixer's are then changed in place; both are changed nodes, never read as base again).
        func gather(_ j: Int) throws(TensorError) -> Tensor {
            let b = base[j]
            let per = b.count / b.shape[0]
            let g = try Buffers.reuse(s.gathered[j], [rows.count] + Array(b.shape.dropFirst()))
            s.gathered[j] = g
            for (i, r) in rows.enumerated() { (g.data + i * per).update(from: b.data + r * per, count: per) }
            return g
        }
        // The ablated rows at L.
        let start = try gather(L)
        for (g, units) in sets.enumerated() {
            for i in starts[g]..<(starts[g] + rowsOf[g].count) {
                let p = start.data + i * size
                for u in units { for q in 0..<lay.per { p[u * lay.unitStride + q * lay.posStride] = values[u] } }
            }
        }
        // state[j]: node j's output on the rows, and whether only the sets' channels changed.
        var state: [Int: (Tensor, Bool)] = [L: (start, true)]
        for i in affected {
            let l = s.nodes[i]!
            let ins = model.inputs[i]
            if let mix = l as? ChannelMixer, let (x, confined) = state[ins[0]], confined, let li = layouts[ins[0]] {
                // Base output plus each unit's one-channel change, set by set.
                let d = try gather(i)
                let b = base[ins[0]]
                let per = b.count / b.shape[0]
                let (h, w) = b.rank == 4 ? (b.shape[1], b.shape[2]) : (1, li.per)
                for (g, units) in sets.enumerated() where !rowsOf[g].isEmpty {
                    let nr = rowsOf[g].count
                    let delta = try Buffers.reuse(s.delta, [nr, li.per])
                    s.delta = delta
                    let part = try d.rows(starts[g], nr)
                    for u in units {
                        for (j, r) in rowsOf[g].enumerated() {
                            let a = x.data + (starts[g] + j) * per + u * li.unitStride, o = b.data + r * per + u * li.unitStride
                            for q in 0..<li.per { delta.data[j * li.per + q] = a[q * li.posStride] - o[q * li.posStride] }
                        }
                        try mix.addChannelChange(delta.data, channel: u, per: li.per, rowStride: li.per, images: nr,
                                                 h: h, w: w, into: part, accumulate: true)
                    }
                }
                state[i] = (d, false)
                continue
            }
            var inputs: [Tensor] = []
            var confined = layouts[i] != nil
            for j in ins {
                if let (x, c) = state[j] {
                    inputs.append(x)
                    confined = confined && c
                } else {
                    inputs.append(try gather(j))
                }
            }
            let out: Tensor
            do throws(TensorError) {
                out = try Sequential.run(l, inputs)
            } catch {
                throw TensorError(error.kind, "\(l.name) (\(l.kind)): \(error.message)")
            }
            state[i] = (out, confined && l.channelMap == .channelWise)
        }
        return (state[model.layers.count - 1]!.0, rowsOf)
    }
}
