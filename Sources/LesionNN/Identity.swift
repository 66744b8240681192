// What a cache key says about a model or a data set: a text that changes whenever anything that
// determines a result changes. For a model: architecture, every weight and buffer, mode and
// dropout state. For a data set: its samples (their files, or the tensor's bytes), labels,
// class names and view.
import LesionTensor

extension Sequential {
    /// The model's identity (a SHA-256), or nil when it holds a Lambda, whose Lua function
    /// cannot be identified.
    public var contentIdentity: String? {
        var text = "seed \(seed) input \(inputShape ?? []) training \(training) noise \(noiseSeed),\(noiseCounter)\n"
        for (i, l) in layers.enumerated() {
            if l is Lambda { return nil }
            text += l.name + " " + l.summary + " <- \(inputs[i])"
            if let bn = l as? BatchNorm { text += " tracked \(bn.batchesTracked)" }
            for (n, t) in l.parameters.map({ ($0.name, $0.value) }) + l.buffers {
                let h = XXH64.hash(UnsafeRawBufferPointer(start: t.data, count: t.count * 4), seed: 5)
                text += " \(n)\(t.shape)=\(String(h, radix: 16))"
            }
            text += "\n"
        }
        return SHA256.hex(text)
    }
}

/// Data sets' identities, hashing each source once (a source in memory is hashed in full; the
/// memo keeps the source it describes alive, so its identifier is never reused).
public final class DatasetIdentities {
    private var bySource: [ObjectIdentifier: (AnyObject, String)] = [:]

    public init() {}

    /// 16 hex digits naming the data set's contents and view.
    public func identity(of d: Dataset) -> String {
        let base: String
        if let (s, h) = bySource[ObjectIdentifier(d.source)], s === d.source {
            base = h
        } else {
            // A source read from files names them (paths, sizes, times); one in memory is hashed.
            let a: String
            if let text = d.source.identity {
                a = String(Array(text.utf8).withUnsafeBytes { XXH64.hash($0, seed: 1) }, radix: 16)
            } else if let t = d.images {
                a = String(XXH64.hash(UnsafeRawBufferPointer(start: t.data, count: t.count * 4), seed: 1), radix: 16)
            } else {
                a = "?"
            }
            let l = d.labels.withUnsafeBytes { XXH64.hash($0, seed: 3) }
            base = "\([d.source.count] + d.sampleShape)|\(a)|\(String(l, radix: 16))|\(d.classNames.joined(separator: ","))"
            bySource[ObjectIdentifier(d.source)] = (d.source, base)
        }
        let view = d.indices.withUnsafeBytes { XXH64.hash($0, seed: 4) }
        return String(SHA256.hex(base + "|\(d.count)|" + String(view, radix: 16)).prefix(16))
    }
}
