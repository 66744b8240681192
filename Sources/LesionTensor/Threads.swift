// The thread count of Lesion's parallel loops (OpenBLAS itself runs on the calling thread). Work that sums or
// whose products' shapes matter is cut by the data's size (`evenChunks`, `forEachPart`) and summed in part order
// (`InOrder`), so results are the same bits run to run and on any thread count.
import COpenBLAS
import Dispatch
import Foundation
import Synchronization

public enum Threads {
    static let current = Atomic<Int>(0)

    /// Threads in use: set by `set`, else the machine's active cores.
    public static var count: Int {
        _ = blasOnOneThread
        if pthread_getspecific(insideKey) != nil { return 1 }   // already a worker: run inline
        let c = current.load(ordering: .relaxed)
        return c > 0 ? c : defaultCount
    }

    /// OpenBLAS runs every call on the calling thread: Lesion splits the work over its own
    /// threads (`parallelParts`, `Tensor.gemm`). OpenBLAS's own threads, once woken by a call,
    /// spin for about 0.1 s and took a core from the next parallel loop (measured: 10-25% of
    /// a sweep's time); left asleep they cost nothing.
    static let blasOnOneThread: Void = openblas_set_num_threads(1)

    /// Marks the threads running parts of a parallel loop, so loops nested in them run inline.
    static let insideKey: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k, nil)
        return k
    }()

    static let defaultCount = max(1, min(256, ProcessInfo.processInfo.activeProcessorCount))

    public static func set(_ n: Int) throws(TensorError) {
        guard n >= 1 && n <= 256 else { throw TensorError(.value, "thread count must be in 1...256, got \(n)") }
        _ = blasOnOneThread
        current.store(n, ordering: .relaxed)
    }

    /// Runs body(part) for part in 0..<parts on up to `count` threads; inside a worker (a loop
    /// nested in another), the parts run one after another on the worker's thread.
    public static func parallelFor(_ parts: Int, _ body: (Int) -> Void) {
        if parts <= 1 || count == 1 {
            for p in 0..<parts { withParts(parts, inside: pthread_getspecific(insideKey)) { body(p) } }
            return
        }
        if usePool && WorkerPool.shared.run(parts, threads: count, body) { return }
        withoutActuallyEscaping(body) { b in
            nonisolated(unsafe) let f = b
            DispatchQueue.concurrentPerform(iterations: parts) { part in
                withParts(parts, inside: UnsafeRawPointer(bitPattern: 1)) { f(part) }
            }
        }
    }

    /// Whether loops run on Lesion's spinning workers (`WorkerPool`); LESION_POOL=0 sends them
    /// to Dispatch, to measure what the pool brings.
    static let usePool = ProcessInfo.processInfo.environment["LESION_POOL"] != "0"

    /// Runs body with the thread's current part count (read by `range`) and worker mark set.
    @inline(__always)
    static func withParts(_ parts: Int, inside: UnsafeRawPointer?, _ body: () -> Void) {
        let savedParts = pthread_getspecific(partsKey), savedInside = pthread_getspecific(insideKey)
        pthread_setspecific(partsKey, UnsafeRawPointer(bitPattern: parts))
        pthread_setspecific(insideKey, inside)
        body()
        pthread_setspecific(partsKey, savedParts)
        pthread_setspecific(insideKey, savedInside)
    }

    static let partsKey: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k, nil)
        return k
    }()

    /// The part count of the loop the calling thread is running a part of (else `count`).
    public static var currentParts: Int {
        if let p = pthread_getspecific(partsKey) { return Int(bitPattern: p) }
        return count
    }
}

extension Threads {
    /// The half-open range of `n` items that part `part` of `Threads.count` handles.
    @inline(__always)
    public static func range(_ part: Int, of n: Int, parts: Int = Threads.currentParts) -> (Int, Int) {
        (part * n / parts, (part + 1) * n / parts)
    }

    /// parallelFor for a body that can fail: every part runs (a failed part stops itself), then
    /// the error of the lowest failed part is thrown.
    public static func parallelFor(_ parts: Int, throwing body: (Int) throws(TensorError) -> Void) throws(TensorError) {
        guard parts > 0 else { return }
        let errors = UnsafeMutablePointer<TensorError?>.allocate(capacity: parts)
        errors.initialize(repeating: nil, count: parts)
        defer { errors.deinitialize(count: parts); errors.deallocate() }
        parallelFor(parts) { t in
            do throws(TensorError) { try body(t) } catch { errors[t] = error }
        }
        for t in 0..<parts { if let e = errors[t] { throw e } }
    }

    /// Runs body(part) for each of `count` parts, each on its own thread (GEMMs inside run on
    /// the calling thread, next to the data it just wrote).
    public static func parallelParts(_ body: (Int) -> Void) {
        let n = count
        if n == 1 {
            withParts(1, inside: pthread_getspecific(insideKey)) { body(0) }
            return
        }
        parallelFor(n, body)
    }

    /// Runs body(part, worker) for every part in 0..<parts on up to `count` workers, which take
    /// the parts in increasing order as they become free. Results that depend only on `parts`
    /// (each part's work, a sum over parts in part order with `InOrder`) are the same bits
    /// whatever the thread count; `worker` (0..<workers(parts)) indexes per-worker scratch.
    public static func forEachPart(_ parts: Int, _ body: (_ part: Int, _ worker: Int) -> Void) {
        let w = workers(parts)
        if w <= 1 {
            withParts(1, inside: pthread_getspecific(insideKey)) { for p in 0..<parts { body(p, 0) } }
            return
        }
        let next = Atomic<Int>(0)
        parallelFor(w) { worker in
            while true {
                let p = next.add(1, ordering: .relaxed).oldValue
                if p >= parts { break }
                body(p, worker)
            }
        }
    }

    /// Chunks of at most `per` of n items for `forEachPart`: their count rounded up to an even
    /// number (never past n), so two workers get equal shares (with 7 chunks they had split 4 to
    /// 3, and a single chunk left a core idle). Chunk i is `range(i, of: n, parts: chunks)`;
    /// `per` is the largest. Depends on n and per only.
    public static func evenChunks(_ n: Int, atMost per: Int) -> (per: Int, chunks: Int) {
        guard n > 0 else { return (max(1, per), 0) }
        let chunks = min(n, (((n + max(1, per) - 1) / max(1, per)) + 1) / 2 * 2)
        return ((n + chunks - 1) / chunks, chunks)
    }

    /// Workers `forEachPart(parts)` uses: scratch buffers to allocate.
    public static func workers(_ parts: Int) -> Int { max(1, min(count, parts)) }

    /// Parts finished in part order: a worker that finished part p calls `wait(p)`, adds its
    /// partial result into the total, then `done(p)`; the total is then the same sum in the same
    /// order whatever the number of workers. (Parts are taken in increasing order, so the parts
    /// waited for are in progress on running workers.)
    public final class InOrder: @unchecked Sendable {
        let next = Atomic<Int>(0)
        public init() {}
        public func wait(_ part: Int) { while next.load(ordering: .acquiring) != part { sched_yield() } }
        public func done(_ part: Int) { next.store(part + 1, ordering: .releasing) }
    }
}
