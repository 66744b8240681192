// The thread count: OpenBLAS's threads and Lesion's own parallel loops. Work is split into a
// fixed number of parts that does not depend on scheduling, so results are the same run to run.
import COpenBLAS
import Dispatch
import Synchronization

public enum Threads {
    static let current = Atomic<Int>(0)

    /// Threads in use (defaults to the cores OpenBLAS found).
    public static var count: Int {
        let c = current.load(ordering: .relaxed)
        return c > 0 ? c : Int(openblas_get_num_threads())
    }

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
