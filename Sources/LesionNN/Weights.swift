// Model weights in safetensors with PyTorch's state-dict names, so a PyTorch state dict of the
// same architecture loads as it is.
import LesionTensor

extension Sequential {
    /// Writes every parameter and buffer, and BatchNorm's num_batches_tracked as PyTorch does.
    public func save(path: String) throws(TensorError) {
        var entries: [(String, Safetensors.Value)] = []
        for l in layers {
            for p in l.parameters { entries.append((l.name + "." + p.name, .f32(p.value))) }
            for (n, t) in l.buffers { entries.append((l.name + "." + n, .f32(t))) }
            if let bn = l as? BatchNorm { entries.append((l.name + ".num_batches_tracked", .i64Scalar(Int64(bn.batchesTracked)))) }
        }
        try Safetensors.write(path: path, entries, metadata: ["format": "pt", "producer": "lesion"])
    }

    /// Loads weights by name. `rename` maps name prefixes of the file to layer names
    /// ("features.0" -> "conv1"). Missing, unexpected and mis-shaped tensors are errors that
    /// name them; nothing is changed unless everything fits.
    public func load(path: String, rename: [String: String] = [:]) throws(TensorError) {
        let (entries, _) = try Safetensors.read(path: path)
        var byName: [String: Safetensors.Entry] = [:]
        for var e in entries {
            for (from, to) in rename where e.name == from || e.name.hasPrefix(from + ".") {
                e.name = to + e.name.dropFirst(from.count)
            }
            byName[e.name] = e
        }
        let want = stateDict()
        var missing: [String] = [], mismatched: [String] = []
        for (name, t) in want {
            guard let e = byName[name] else { missing.append(name); continue }
            if e.shape != t.shape { mismatched.append("\(name): file has \(Tensor.describe(e.shape)), model has \(Tensor.describe(t.shape))") }
        }
        let known = Set(want.map(\.0))
        let tracked = Set(layers.compactMap { $0 is BatchNorm ? $0.name + ".num_batches_tracked" : nil })
        let unexpected = byName.keys.filter { !known.contains($0) && !tracked.contains($0) }.sorted()
        var problems: [String] = []
        if !mismatched.isEmpty { problems.append("shape mismatch: " + mismatched.joined(separator: "; ")) }
        if !missing.isEmpty { problems.append("missing from the file: " + missing.joined(separator: ", ")) }
        if !unexpected.isEmpty { problems.append("not in the model: " + unexpected.joined(separator: ", ")) }
        guard problems.isEmpty else { throw TensorError(.shape, "'\(path)' does not fit the model: " + problems.joined(separator: "; ")) }
        for (name, t) in want { t.data.update(from: byName[name]!.tensor.data, count: t.count) }
        for l in layers {
            if let bn = l as? BatchNorm, let e = byName[l.name + ".num_batches_tracked"] { bn.batchesTracked = Int(e.tensor.data[0]) }
        }
    }
}
