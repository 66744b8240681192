// Lesion's own worker threads for `Threads.parallelFor`. A training step of a small model runs
// a few hundred parallel loops of tens of microseconds each; waking Dispatch's workers for each
// one (a futex wake, then a context switch) left the second core idle for much of the step
// (the small ResNet trained 1.3x faster on two threads than on one). These workers instead spin
// for a short while after each loop, so the next loop finds them awake, and sleep on a
// condition variable after that (an idle process costs nothing).
//
// One loop at a time runs on the pool (the caller holds `busy`); a loop started while another
// runs (from another thread) goes to Dispatch as before. Parts are taken from a shared counter
// by the caller and the workers, so which thread runs a part never changes what it computes.
import Foundation
import Synchronization

final class WorkerPool: @unchecked Sendable {
    static let shared = WorkerPool()

    /// What the workers run: written only while `generation` is odd and no worker is `inside`.
    private struct Job {
        var body: ((Int) -> Void)?
        var parts = 0
        /// Workers with an index below this take part (the thread count less the caller).
        var helpers = 0
    }

    /// Even: `job` is published; odd: the caller is writing it.
    private let generation = Atomic<Int>(0)
    /// Workers between reading `generation` and leaving the job.
    private let inside = Atomic<Int>(0)
    private let nextPart = Atomic<Int>(0)
    private let finished = Atomic<Int>(0)
    private let busy = Atomic<Bool>(false)
    private let job = UnsafeMutablePointer<Job>.allocate(capacity: 1)
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// Guarded by `mutex`.
    private var sleepers = 0
    /// Guarded by `busy`.
    private var started = 0

    /// How long a worker polls for the next loop before it sleeps: 200 microseconds by default
    /// (LESION_POOL_SPIN_US sets it). A training step's loops follow each other within tens of
    /// microseconds; an idle process spins this long once, then sleeps.
    static let spinNanoseconds: UInt64 = {
        let us = ProcessInfo.processInfo.environment["LESION_POOL_SPIN_US"].flatMap { UInt64($0) } ?? 200
        return min(us, 1_000_000) * 1000
    }()

    static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    private init() {
        job.initialize(to: Job())
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(wake, nil)
    }

    /// Runs body(part) for part in 0..<parts on the calling thread and up to `threads - 1`
    /// workers; false (nothing run) when another loop holds the pool.
    func run(_ parts: Int, threads: Int, _ body: (Int) -> Void) -> Bool {
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
        defer { busy.store(false, ordering: .releasing) }
        let helpers = min(threads, parts) - 1
        while started < helpers { startWorker(index: started); started += 1 }
        return withoutActuallyEscaping(body) { b in
            generation.add(1, ordering: .sequentiallyConsistent)                  // odd: writing
            while inside.load(ordering: .sequentiallyConsistent) != 0 {}
            job.pointee = Job(body: b, parts: parts, helpers: helpers)
            nextPart.store(0, ordering: .relaxed)
            finished.store(0, ordering: .relaxed)
            generation.add(1, ordering: .sequentiallyConsistent)                  // even: published
            pthread_mutex_lock(mutex)
            if sleepers > 0 { pthread_cond_broadcast(wake) }
            pthread_mutex_unlock(mutex)
            Threads.withParts(parts, inside: UnsafeRawPointer(bitPattern: 1)) { takeParts(b, parts) }
            var polls = 0
            while finished.load(ordering: .acquiring) < parts { polls += 1; if polls % 256 == 0 { sched_yield() } }
            // A worker inside holds a copy of the body: the body must not outlive this call.
            generation.add(1, ordering: .sequentiallyConsistent)                  // odd: clearing
            while inside.load(ordering: .sequentiallyConsistent) != 0 { polls += 1; if polls % 256 == 0 { sched_yield() } }
            job.pointee.body = nil
            generation.add(1, ordering: .sequentiallyConsistent)
            return true
        }
    }

    private func takeParts(_ body: (Int) -> Void, _ parts: Int) {
        while true {
            let p = nextPart.add(1, ordering: .relaxed).oldValue
            if p >= parts { return }
            body(p)
            finished.add(1, ordering: .releasing)
        }
    }

    private func startWorker(index: Int) {
        let box = Unmanaged.passRetained(WorkerStart(pool: self, index: index)).toOpaque()
        var thread = pthread_t()
        let made = pthread_create(&thread, nil, { raw in
            let start = Unmanaged<WorkerStart>.fromOpaque(raw!).takeRetainedValue()
            start.pool.work(index: start.index)
        }, box)
        if made == 0 { pthread_detach(thread) } else { Unmanaged<WorkerStart>.fromOpaque(box).release() }
    }

    private func work(index: Int) -> Never {
        var seen = generation.load(ordering: .sequentiallyConsistent) & ~1
        while true {
            var polls = 0
            var since: UInt64 = 0
            while true {
                let g = generation.load(ordering: .acquiring)
                if g != seen && g & 1 == 0 { break }
                polls += 1
                guard polls & 1023 == 0 else { continue }
                let t = WorkerPool.now()
                if since == 0 { since = t }
                if t - since >= WorkerPool.spinNanoseconds {
                    pthread_mutex_lock(mutex)
                    sleepers += 1
                    while true {
                        let g = generation.load(ordering: .sequentiallyConsistent)
                        if g != seen && g & 1 == 0 { break }
                        pthread_cond_wait(wake, mutex)
                    }
                    sleepers -= 1
                    pthread_mutex_unlock(mutex)
                    since = 0
                }
            }
            inside.add(1, ordering: .sequentiallyConsistent)
            let g = generation.load(ordering: .sequentiallyConsistent)
            if g & 1 == 0 && g != seen {
                seen = g
                let j = job.pointee
                if index < j.helpers, let body = j.body {
                    Threads.withParts(j.parts, inside: UnsafeRawPointer(bitPattern: 1)) { takeParts(body, j.parts) }
                }
            }
            inside.subtract(1, ordering: .sequentiallyConsistent)
        }
    }
}

private final class WorkerStart {
    let pool: WorkerPool
    let index: Int
    init(pool: WorkerPool, index: Int) { self.pool = pool; self.index = index }
}
