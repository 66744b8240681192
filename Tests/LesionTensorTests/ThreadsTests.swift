import Dispatch
import Synchronization
import Testing
@testable import LesionTensor

/// Fixed decompositions: chunks depend on the item count alone, every part runs once, and an
/// ordered sum over parts gives the same bits on any number of threads.
@Suite(.serialized) struct ThreadsTests {
    @Test func evenChunksCoverTheItemsEvenly() {
        for n in [1, 2, 7, 32, 33, 64, 1000] {
            for per in [1, 3, 5, 16, 64, 5000] {
                let (size, chunks) = Threads.evenChunks(n, atMost: per)
                #expect(size >= 1 && size <= max(per, 1) && chunks * size >= n, "n \(n), per \(per)")
                var covered: [Int] = []
                for i in 0..<chunks {
                    let (lo, hi) = Threads.range(i, of: n, parts: chunks)
                    #expect(hi - lo >= 1 && hi - lo <= size)
                    covered += Array(lo..<hi)
                }
                #expect(covered == Array(0..<n))
                #expect(chunks % 2 == 0 || chunks == n, "n \(n), per \(per): an even count, unless every item is a chunk")
            }
        }
        #expect(Threads.evenChunks(32, atMost: 64) == (16, 2))     // one chunk would leave a core idle
        #expect(Threads.evenChunks(32, atMost: 5) == (4, 8))       // 7 chunks of 5 would split 4:3
        #expect(Threads.evenChunks(32, atMost: 3) == (3, 12))      // 11 would be odd
        #expect(Threads.evenChunks(0, atMost: 5).chunks == 0)
    }

    @Test func orderedSumIsTheSameOnAnyThreadCount() throws {
        let saved = Threads.count
        defer { try? Threads.set(saved) }
        // Terms whose float sum depends on the order in which they are added.
        let terms: [Float] = (0..<64).map { i in Float(i % 7 == 0 ? 1e7 : 1) * (i % 2 == 0 ? 1 : -0.3) + Float(i) * 1e-3 }
        var sums: [Float] = []
        for t in [1, 2, 3, 4] {
            try Threads.set(t)
            let order = Threads.InOrder()
            nonisolated(unsafe) var total: Float = 0
            let ran = UnsafeMutablePointer<Int>.allocate(capacity: 16)
            ran.initialize(repeating: 0, count: 16)
            defer { ran.deallocate() }
            Threads.forEachPart(16) { part, _ in
                var partial: Float = 0
                for i in (part * 4)..<(part * 4 + 4) { partial += terms[i] }
                ran[part] += 1
                order.wait(part)
                total += partial
                order.done(part)
            }
            #expect((0..<16).allSatisfy { ran[$0] == 1 }, "\(t) threads: every part once")
            sums.append(total)
        }
        #expect(sums.allSatisfy { $0.bitPattern == sums[0].bitPattern }, "\(sums)")
    }

    /// The worker pool: every part once, at most `count` threads at a time, loops nested in a
    /// part run inline, and loops started from several threads at once (the second goes to
    /// Dispatch) all complete.
    @Test func workerPoolRunsEveryPartOnceOnAtMostCountThreads() throws {
        let saved = Threads.count
        defer { try? Threads.set(saved) }
        for t in [1, 2, 3] {
            try Threads.set(t)
            for round in 0..<200 {
                let parts = 1 + round % 9
                let ran = UnsafeMutablePointer<Int>.allocate(capacity: parts)
                ran.initialize(repeating: 0, count: parts)
                defer { ran.deallocate() }
                let running = Atomic<Int>(0), most = Atomic<Int>(0), nested = Atomic<Int>(0)
                Threads.parallelFor(parts) { p in
                    let now = running.add(1, ordering: .relaxed).newValue
                    _ = most.max(now, ordering: .relaxed)
                    ran[p] += 1
                    Threads.parallelFor(3) { _ in nested.add(1, ordering: .relaxed) }
                    running.subtract(1, ordering: .relaxed)
                }
                #expect((0..<parts).allSatisfy { ran[$0] == 1 }, "\(t) threads, \(parts) parts")
                #expect(most.load(ordering: .relaxed) <= t, "\(t) threads ran \(most.load(ordering: .relaxed)) parts at once")
                #expect(nested.load(ordering: .relaxed) == 3 * parts)
            }
        }
        try Threads.set(2)
        let total = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            for _ in 0..<100 { Threads.forEachPart(5) { _, _ in total.add(1, ordering: .relaxed) } }
        }
        #expect(total.load(ordering: .relaxed) == 4 * 100 * 5)
    }
}
