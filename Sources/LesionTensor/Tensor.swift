// LesionTensor: Lesion's numeric base. A float32, contiguous, row-major Tensor; kernels on
// OpenBLAS; a counter-based RNG; .npy files. No Lua here: indices are 0-based, errors are
// typed Swift errors (TensorError) that the Lua host turns into Lua errors.
import Foundation
import Synchronization

// MARK: - storage

/// A 64-byte-aligned float buffer. Several tensors may share one (reshape is a view).
public final class TensorStorage: @unchecked Sendable {
    public let base: UnsafeMutablePointer<Float>
    public let capacity: Int
    /// What malloc returned (base is aligned inside it).
    let allocation: UnsafeMutableRawPointer

    /// Bytes held by all live storages of the process.
    static let liveBytes = Atomic<Int>(0)

    /// Zeroed storage comes from calloc, which hands large blocks over as fresh pages that cost
    /// nothing until written (gradients of a model that is never trained, say); the base is
    /// aligned to 64 bytes inside the block.
    init(capacity: Int, zeroed: Bool) throws(TensorError) {
        let bytes = max(capacity, 1) * MemoryLayout<Float>.stride
        try Limits.checkMemory(adding: bytes, live: TensorStorage.liveBytes.load(ordering: .relaxed))
        let raw = zeroed ? calloc(bytes + 64, 1) : malloc(bytes + 64)
        guard let raw else {
            throw TensorError(.memory, "cannot allocate \(bytes) bytes for \(capacity) elements")
        }
        allocation = raw
        let aligned = (Int(bitPattern: raw) + 63) & ~63
        base = UnsafeMutableRawPointer(bitPattern: aligned)!.bindMemory(to: Float.self, capacity: max(capacity, 1))
        self.capacity = capacity
        TensorStorage.liveBytes.add(bytes, ordering: .relaxed)
    }

    deinit {
        TensorStorage.liveBytes.subtract(max(capacity, 1) * MemoryLayout<Float>.stride, ordering: .relaxed)
        free(allocation)
    }
}

// MARK: - Tensor

public final class Tensor: @unchecked Sendable {
    public let shape: [Int]
    public let count: Int
    public let storage: TensorStorage
    @usableFromInline let offset: Int

    /// The first element. Elements are contiguous and row-major. Inlinable: other modules'
    /// loops read it per element, and a call each time cost them (2% of a training step).
    @inlinable public var data: UnsafeMutablePointer<Float> { storage.base + offset }
    public var rank: Int { shape.count }

    /// Largest number of elements a tensor may hold (16 GiB of floats).
    public static let maxElements = 1 << 32
    /// The most dimensions a tensor may have.
    public static let maxRank = 32

    /// A tensor of zeros. Throws on an invalid shape or when memory cannot be had.
    public init(zeros shape: [Int]) throws(TensorError) {
        count = try Tensor.checkShape(shape)
        self.shape = shape
        storage = try TensorStorage(capacity: count, zeroed: true)
        offset = 0
    }

    /// A tensor whose elements the caller fills before reading.
    public init(uninitialized shape: [Int]) throws(TensorError) {
        count = try Tensor.checkShape(shape)
        self.shape = shape
        storage = try TensorStorage(capacity: count, zeroed: false)
        offset = 0
    }

    public convenience init(repeating value: Float, shape: [Int]) throws(TensorError) {
        try self.init(uninitialized: shape)
        data.update(repeating: value, count: count)
    }

    public convenience init(shape: [Int], values: [Float]) throws(TensorError) {
        try self.init(uninitialized: shape)
        guard values.count == count else {
            throw TensorError(.shape, "\(values.count) values given for shape \(Tensor.describe(shape))")
        }
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: count) }
    }

    /// A view of this tensor's storage, from its first element, with another shape whose
    /// elements fit in what the storage holds from there; nil when they do not (or the shape
    /// is invalid). For buffers reused across batches of different sizes.
    public func reusing(shape: [Int]) -> Tensor? {
        guard let n = try? Tensor.checkShape(shape), n <= storage.capacity - offset else { return nil }
        return Tensor(view: storage, offset: offset, shape: shape, count: n)
    }

    /// Whether this tensor and `other` are views of the same storage (writing one may change
    /// the other).
    public func sharesStorage(with other: Tensor) -> Bool { storage === other.storage }

    /// A view of rows start ..< start + count of the first dimension (shares the storage).
    public func rows(_ start: Int, _ count: Int) throws(TensorError) -> Tensor {
        guard rank >= 1, start >= 0, count >= 1, start + count <= shape[0] else {
            throw TensorError(.index, "rows \(start) ..< \(start + count) of \(Tensor.describe(shape))")
        }
        let per = self.count / shape[0]
        return Tensor(view: storage, offset: offset + start * per, shape: [count] + shape.dropFirst(), count: count * per)
    }

    /// A view of another tensor's storage with a new shape of the same size.
    init(view storage: TensorStorage, offset: Int, shape: [Int], count: Int) {
        self.storage = storage
        self.offset = offset
        self.shape = shape
        self.count = count
    }

    /// Validates a shape (at least one dimension, each at least 1, product within maxElements)
    /// and returns its element count.
    public static func checkShape(_ shape: [Int]) throws(TensorError) -> Int {
        guard !shape.isEmpty else { throw TensorError(.shape, "a shape needs at least one dimension") }
        var n = 1
        for (d, s) in shape.enumerated() {
            guard s >= 1 else {
                throw TensorError(.shape, "size of dimension \(d) must be positive, got \(s)")
            }
            let (p, overflow) = n.multipliedReportingOverflow(by: s)
            guard !overflow, p <= maxElements else {
                throw TensorError(.shape, "shape \(describe(shape)) has more than \(maxElements) elements")
            }
            n = p
        }
        return n
    }

    /// `{2,3,4}`: how shapes are written in messages (the Lua notation of API.md).
    public static func describe(_ shape: [Int]) -> String {
        "{" + shape.map(String.init).joined(separator: ",") + "}"
    }

    /// Row-major strides of a shape.
    public static func strides(_ shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for d in stride(from: shape.count - 1, through: 0, by: -1) {
            s[d] = acc
            acc *= shape[d]
        }
        return s
    }

    /// Bytes held by the tensor storages alive in this process.
    public static var liveBytes: Int { TensorStorage.liveBytes.load(ordering: .relaxed) }

    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: data, count: count) }
    public func toArray() -> [Float] { Array(buffer) }

    public func copy() throws(TensorError) -> Tensor {
        let t = try Tensor(uninitialized: shape)
        t.data.update(from: data, count: count)
        return t
    }

    public func fill(_ v: Float) { data.update(repeating: v, count: count) }
}
