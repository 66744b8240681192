// A call cut into parts, filled in through a shared cache by any number of processes (shards,
// or runs that find parts already there). Each process computes its own share first (claiming
// each part, so no two processes compute one), then takes parts nobody has claimed, a slice at a
// time from the end of its share on (so processes that steal do not all start at part 1), and
// waits for parts that living processes hold; a dead owner's claim is taken over.
import Foundation

extension DiskCache {
    /// Fills every part of a call whose part p is cached under `keys[p]`. `have` holds the parts
    /// already at hand and, on return, all of them. `load(p)` takes part p from the cache when it
    /// is there (true if it was); `compute(batch)` computes the parts of `batch` and stores them.
    /// `share` is what this process computes first (a shard's own parts; empty for a plain run),
    /// `shards` how many processes share the work; `waiting` is told once which parts it waits
    /// for. Returns the parts computed here, in the order they were.
    public func fillParts(keys: [String], have: inout Set<Int>, share: Range<Int>, shards: Int,
                          load: (Int) -> Bool, compute: ([Int]) throws -> Void,
                          waiting: ([Int]) -> Void) throws -> [Int] {
        var missing = keys.indices.filter { !have.contains($0) }
        var ownShare = true, told = false
        var computed: [Int] = []
        while !missing.isEmpty {
            let tries = ownShare ? missing.filter(share.contains)
                : missing.filter { $0 >= share.lowerBound } + missing.filter { $0 < share.lowerBound }
            let want = ownShare ? tries.count : (missing.count + max(shards, 1) - 1) / max(shards, 1)
            var batch: [Int] = [], claims: [Claim] = []
            defer { for c in claims { release(c) } }
            for p in tries where batch.count < want {
                switch claim(keys[p]) {
                case .claimed(let c):
                    // Another process may have stored it between our look and our claim.
                    if load(p) { release(c); have.insert(p) } else { batch.append(p); claims.append(c) }
                case .unavailable: batch.append(p)
                case .held: continue
                }
            }
            if !batch.isEmpty {
                try compute(batch)
                have.formUnion(batch)
                computed += batch
            } else if !ownShare {
                // Every missing part is held by a living process: wait for it (a dead owner's
                // claim is taken over by claim() on a later round).
                if !told { waiting(missing); told = true }
                usleep(200_000)
                for p in missing where load(p) { have.insert(p) }
            }
            ownShare = false
            missing = missing.filter { !have.contains($0) }
        }
        return computed
    }
}
