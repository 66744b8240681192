// Where a data set's samples come from: a tensor in memory, or files read when a batch needs
// them (an image folder), so that a data set larger than memory streams.
import LesionTensor

public protocol SampleSource: AnyObject {
    /// Samples in the source.
    var count: Int { get }
    /// The shape of one sample: [C, H, W] or [F].
    var sampleShape: [Int] { get }
    /// Writes samples `items` (0-based indices of the source), one after another, to `out`.
    func read(_ items: ArraySlice<Int>, into out: UnsafeMutablePointer<Float>) throws(TensorError)
    /// A text that changes when the samples change (for cache keys); nil for a source whose
    /// contents in memory identify it.
    var identity: String? { get }
    /// The per-channel mean and std the samples were normalised with (an image folder's
    /// transform), so that pictures can be shown as they were; nil when not normalised.
    var normalization: (mean: [Float], std: [Float])? { get }
    /// Labelled concepts per pixel (data.concepts, segmentation data), nil when the samples
    /// have none: what Network Dissection compares units with.
    var concepts: ConceptLabels? { get }
}

extension SampleSource {
    public var normalization: (mean: [Float], std: [Float])? { nil }
    public var concepts: ConceptLabels? { nil }
}

/// Samples held in one tensor [M, ...].
public final class TensorSource: SampleSource {
    public let tensor: Tensor
    public let concepts: ConceptLabels?
    public init(_ tensor: Tensor, concepts: ConceptLabels? = nil) { self.tensor = tensor; self.concepts = concepts }
    public var count: Int { tensor.shape[0] }
    public var sampleShape: [Int] { Array(tensor.shape.dropFirst()) }

    public func read(_ items: ArraySlice<Int>, into out: UnsafeMutablePointer<Float>) throws(TensorError) {
        let s = tensor.count / max(tensor.shape[0], 1)
        for (k, i) in items.enumerated() { (out + k * s).update(from: tensor.data + i * s, count: s) }
    }

    /// nil: the contents identify it (the cache hashes the tensor).
    public var identity: String? { nil }
}
