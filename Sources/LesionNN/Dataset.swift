// A labelled image set: a source of samples (a tensor in memory, or an image folder read batch
// by batch) and a view (a list of indices into it), so subsets and splits share storage.
import LesionTensor

public final class Dataset {
    /// Where the samples come from.
    public let source: SampleSource
    /// [M, C, H, W] (or [M, F]) for all images the view may use, when they are in memory.
    public var images: Tensor? { (source as? TensorSource)?.tensor }
    /// 0-based label of each image of `images`.
    public let labels: [Int32]
    /// The view: which images, in order.
    public let indices: [Int]
    public let classNames: [String]
    /// A name that identifies the data (for messages and cache keys): "fashion-mnist/test".
    public let name: String

    /// The most classes a data set may have (ImageNet-21k has 21,841).
    public static let maxClasses = 1 << 20

    /// A label read from outside (a tensor, a file) as a 0-based class: an integer from `base`
    /// below base + maxClasses, or an error naming the sample.
    public static func label(_ v: Double, sample i: Int, base: Int) throws(TensorError) -> Int32 {
        guard v == v.rounded(), v >= Double(base), v < Double(base + maxClasses) else {
            throw TensorError(.value, "label \(i + 1) is \(v); labels must be integers from \(base) to \(base + maxClasses - 1)")
        }
        return Int32(Int(v) - base)
    }

    public var count: Int { indices.count }
    public var numClasses: Int { classNames.count }
    /// The shape of one sample: [C, H, W] or [F].
    public var sampleShape: [Int] { source.sampleShape }
    var sampleSize: Int { sampleShape.reduce(1, *) }

    public convenience init(images: Tensor, labels: [Int32], classNames: [String], name: String, indices: [Int]? = nil) throws(TensorError) {
        guard images.rank >= 2 else { throw TensorError(.shape, "images need a batch dimension, got \(Tensor.describe(images.shape))") }
        try self.init(source: TensorSource(images), labels: labels, classNames: classNames, name: name, indices: indices)
    }

    public init(source: SampleSource, labels: [Int32], classNames: [String], name: String, indices: [Int]? = nil) throws(TensorError) {
        guard labels.count == source.count else {
            throw TensorError(.shape, "\(source.count) images but \(labels.count) labels")
        }
        guard !classNames.isEmpty else { throw TensorError(.value, "a data set needs at least one class") }
        for (i, l) in labels.enumerated() where l < 0 || Int(l) >= classNames.count {
            throw TensorError(.value, "label of sample \(i) is \(l), outside 0..<\(classNames.count)")
        }
        self.source = source
        self.labels = labels
        self.classNames = classNames
        self.name = name
        self.indices = indices ?? Array(0..<source.count)
    }

    /// The samples at 0-based positions of this view.
    public func subset(_ positions: [Int], name: String? = nil) throws(TensorError) -> Dataset {
        var idx: [Int] = []
        idx.reserveCapacity(positions.count)
        for p in positions {
            guard p >= 0 && p < count else { throw TensorError(.index, "position \(p) out of range for \(count) samples") }
            idx.append(indices[p])
        }
        guard !idx.isEmpty else { throw TensorError(.value, "a subset needs at least one sample") }
        return try Dataset(source: source, labels: labels, classNames: classNames, name: name ?? self.name + "[subset]", indices: idx)
    }

    /// A seeded shuffle of positions 0..<n (Fisher–Yates on Philox words).
    public static func permutation(_ n: Int, seed: UInt64, stream: UInt64) -> [Int] {
        var p = Array(0..<n)
        let r = RandomStream(seed: seed, stream: stream)
        var w: UInt64 = 0
        for i in stride(from: n - 1, to: 0, by: -1) {
            let x = UInt64(r.word(w)) << 32 | UInt64(r.word(w + 1))
            w += 2
            p.swapAt(i, Int(x % UInt64(i + 1)))
        }
        return p
    }

    /// A random split: the first part has round(fraction * count) samples.
    public func split(_ fraction: Double, seed: UInt64) throws(TensorError) -> (Dataset, Dataset) {
        guard fraction > 0 && fraction < 1 else { throw TensorError(.value, "split fraction must be in (0, 1), got \(fraction)") }
        let k = Int((fraction * Double(count)).rounded())
        guard k >= 1 && k < count else { throw TensorError(.value, "a split of \(count) samples at \(fraction) leaves an empty part") }
        let p = Dataset.permutation(count, seed: seed, stream: 0x5350_4C49)
        return (try subset(Array(p[..<k]), name: name + "[split]"), try subset(Array(p[k...]), name: name + "[split-rest]"))
    }

    /// n samples of each class, chosen at random (in class order, then random order within).
    public func balanced(_ n: Int, seed: UInt64) throws(TensorError) -> Dataset {
        guard n >= 1 else { throw TensorError(.value, "samples per class must be positive, got \(n)") }
        var byClass = [[Int]](repeating: [], count: numClasses)
        for (pos, i) in indices.enumerated() { byClass[Int(labels[i])].append(pos) }
        var out: [Int] = []
        for (c, members) in byClass.enumerated() {
            guard members.count >= n else {
                throw TensorError(.value, "class \(c + 1) ('\(classNames[c])') has \(members.count) samples, fewer than \(n)")
            }
            let p = Dataset.permutation(members.count, seed: seed, stream: 0x4241_4C00 &+ UInt64(c))
            out += p[..<n].map { members[$0] }
        }
        return try subset(out, name: name + "[balanced \(n)]")
    }

    /// Copies the samples at positions into x ([n] + sampleShape, NCHW) and their labels.
    public func gather(_ positions: ArraySlice<Int>, into x: Tensor, labels out: UnsafeMutablePointer<Int32>) throws(TensorError) {
        let items = positions.map { indices[$0] }
        try source.read(items[...], into: x.data)
        for (k, i) in items.enumerated() { out[k] = labels[i] }
    }

    /// Calls body with consecutive batches (NCHW samples in a reused buffer, their positions, and
    /// their 0-based labels) in order: as few as hold `size` samples at most, of even sizes (526
    /// samples at 500 are two batches of 263, not 500 and a slow 26).
    /// A batch also ends at each of `breaks` (positions), so that a pass over the whole set
    /// runs every sample in the same batch, at the same row, as a pass over each chunk between
    /// breaks would (OpenBLAS's results for a row can depend on its place in the product).
    public func forEachBatch(_ size: Int, breaks: [Int] = [], _ body: (Tensor, Range<Int>, UnsafePointer<Int32>) throws(TensorError) -> Void) throws(TensorError) {
        guard size >= 1 else { throw TensorError(.value, "batch must be positive, got \(size)") }
        var x: Tensor?
        var labels = [Int32](repeating: 0, count: size)
        var lo = 0
        let ends = breaks.sorted()
        while lo < count {
            try Limits.checkTime()
            let end = min(count, ends.first { $0 > lo } ?? count)
            let left = (end - lo + size - 1) / size          // batches left before the break
            let hi = lo + (end - lo + left - 1) / left
            let xb: Tensor
            if let x, x.shape[0] == hi - lo { xb = x } else { xb = try Tensor(uninitialized: [hi - lo] + sampleShape) }
            x = xb
            try labels.withUnsafeMutableBufferPointer { p throws(TensorError) in
                try gather((lo..<hi).map { $0 }[...], into: xb, labels: p.baseAddress!)
                try body(xb, lo..<hi, p.baseAddress!)
            }
            Progress.sink?(hi, count)
            lo = hi
        }
    }

    /// One sample and its 0-based label.
    public func sample(_ position: Int) throws(TensorError) -> (Tensor, Int) {
        guard position >= 0 && position < count else { throw TensorError(.index, "position \(position) out of range for \(count) samples") }
        let t = try Tensor(uninitialized: sampleShape)
        let i = indices[position]
        try source.read([i], into: t.data)
        return (t, Int(labels[i]))
    }

    /// Labels of the view, in order.
    public var viewLabels: [Int32] { indices.map { labels[$0] } }
}
