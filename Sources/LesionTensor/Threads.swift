// The thread count: OpenBLAS's threads and Lesion's own parallel loops. Work is split into a
// fixed number of parts that does not depend on scheduling, so results are the same run to run.
import COpenBLAS
import Dispatch
import Foundation
import Synchronization

public enum Threads {
    static let current = Atomic<Int>(0)

    /// Threads in use: set by `set`, else the machine's active cores. Never read back from
    /// OpenBLAS, whose count `parallelParts` lowers to 1 for the duration of a parallel region.
    public static var count: Int {
        let c = current.load(ordering: .relaxed)
        return c > 0 ? c : defaultCount
    }

    static let defaultCount = max(1, min(256, ProcessInfo.processInfo.activeProcessorCount))

    public static func set(_ n: Int) throws(TensorError) {
        guard n >= 1 && n <= 256 else { throw TensorError(.value, "thread count must be in 1...256, got \(n)") }
        current.store(n, ordering: .relaxed)
        openblas_set_num_threads(Int32(n))
    }

    /// Runs body(part) for part in 0..<parts on up to `count` threads.
    public static func parallelFor(_ parts: Int, _ body: (Int) -> Void) {
        if parts <= 1 || count == 1 {
            for p in 0..<parts { body(p) }
            return
        }
        withoutActuallyEscaping(body) { b in
            nonisolated(unsafe) let f = b
            DispatchQueue.concurrentPerform(iterations: parts) { f($0) }
        }
    }
}

extension Threads {
    /// The half-open range of `n` items that part `part` of `Threads.count` handles.
    @inline(__always)
    public static func range(_ part: Int, of n: Int, parts: Int = Threads.count) -> (Int, Int) {
        (part * n / parts, (part + 1) * n / parts)
    }

    /// Runs body(part) for each of `count` parts, each on its own thread with OpenBLAS limited to
    /// one thread, so GEMMs inside run on the calling thread next to the data they read.
    public static func parallelParts(_ body: (Int) -> Void) {
        let n = count
        if n == 1 {
            body(0)
            return
        }
        openblas_set_num_threads(1)
        parallelFor(n, body)
        openblas_set_num_threads(Int32(n))
    }
}
