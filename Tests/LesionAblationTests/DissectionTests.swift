import Foundation
import Testing
@testable import LesionAblation
@testable import LesionNN
@testable import LesionTensor

/// Network Dissection: planted colour detectors are found, a dead unit scores 0, and the IoU
/// of every unit and concept equals a brute-force computation (all activations kept, the
/// quantile by sorting, each map resized and thresholded).
@Suite struct DissectionTests {
    /// conv (1x1: red, green, blue detectors and a dead unit), ReLU, 2x2 max-pool: maps at half
    /// the labels' size, so they are upsampled.
    func detectors(relu: Bool = true, pool: Bool = true) throws -> Sequential {
        let conv = try Conv2d(cin: 3, cout: 4, k: 1)
        let w: [Float] = [1, -1, -1, -1, 1, -1, -1, -1, 1, 0, 0, 0]
        for i in 0..<12 { conv.weight.value.data[i] = w[i] }
        let b: [Float] = [-0.2, -0.2, -0.2, -1]
        for i in 0..<4 { conv.bias!.value.data[i] = b[i] }
        // Without the ReLU, values of both signs (a Dropout stands in, the identity here).
        // Without the pool, maps at the labels' size (upsampling is the identity).
        return try Sequential([conv, relu ? ReLU() : try Dropout(0), pool ? try MaxPool2d(2) : try Dropout(0)], inputShape: [3, 16, 16], initialize: false)
    }

    /// The fraction of pixels labelled with concept c.
    func share(_ labels: ConceptLabels, _ c: Int) throws -> Double {
        var n = 0.0
        for i in 0..<labels.samples { let m = try labels.masks(i); for p in 0..<(16 * 16) { n += Double(m.data[c * 256 + p]) } }
        return n / Double(labels.samples * 256)
    }

    @Test func plantedDetectorsAreFound() throws {
        let data = try DataFiles.concepts(n: 120, size: 16, seed: 1)
        let labels = try #require(data.source.concepts)
        let names = labels.names
        let (red, green, blue) = (names.firstIndex(of: "red")!, names.firstIndex(of: "green")!, names.firstIndex(of: "blue")!)
        let q = (try share(labels, red) + share(labels, green) + share(labels, blue)) / 3
        let d = try NetworkDissection.dissect(try detectors(), data, layer: 2, quantile: q, batch: 50)
        #expect(d.best[0] == red && d.best[1] == green && d.best[2] == blue, "best: \(d.best.map { names[$0] })")
        for u in 0..<3 { #expect(d.bestIoU[u] > 0.5, "unit \(u): IoU \(d.bestIoU[u])") }
        #expect(d.iou[3].allSatisfy { $0 == 0 }, "a unit that never fires")
        #expect(d.detectors(above: 0.04) == 3)
        #expect(d.categoryOf[red] == "color")
        // Bounded (a heap of 512 values per unit): the same detectors, the dead unit at 0 exactly.
        let b = try NetworkDissection.dissect(try detectors(), data, layer: 2, quantile: q, batch: 50, heapLimit: 512)
        #expect(b.best.prefix(3) == d.best.prefix(3) && b.iou[3].allSatisfy { $0 == 0 })
        #expect(b.iouError > 0 && b.iouError < 0.03, "bound \(b.iouError)")
        for u in 0..<4 { for c in 0..<names.count { #expect(abs(b.iou[u][c] - d.iou[u][c]) <= b.iouError + 1e-12) } }
    }

    /// With a ReLU (many zeros) and without (both signs); maps that cannot reach a threshold
    /// are dropped as the data goes by, which must not change any count.
    /// A budget of 0 kept floats counts in a second pass instead.
    @Test(arguments: [(true, 0.05, 1 << 26, true), (false, 0.05, 1 << 26, true), (false, 0.3, 1 << 26, true), (true, 0.05, 0, true),
                      (false, 0.3, 0, true), (true, 0.05, 1 << 26, false), (false, 0.1, 0, false)])
    func iouEqualsBruteForce(relu: Bool, q: Double, budget: Int, pool: Bool) throws {
        let data = try DataFiles.concepts(n: 37, size: 16, seed: 4)
        let labels = try #require(data.source.concepts)
        let m = try detectors(relu: relu, pool: pool)
        let side = pool ? 8 : 16, plane = side * side
        // Random weights too, so that every unit has many distinct values.
        (m.layers[0] as! Conv2d).reset(RandomStream(seed: 3))
        let d = try NetworkDissection.dissect(m, data, layer: 2, quantile: q, batch: 10, keptBudget: budget)
        let x = try Tensor(uninitialized: [37, 3, 16, 16])
        var y = [Int32](repeating: 0, count: 37)
        try y.withUnsafeMutableBufferPointer { p throws(TensorError) in try data.gather(Array(0..<37)[...], into: x, labels: p.baseAddress!) }
        let acts = try Layout.toNCHW(m.forwardInternal(x, through: 2, training: false))     // [37, 4, side, side]
        for u in 0..<4 {
            var vals: [Float] = []
            for i in 0..<37 { for p in 0..<plane { vals.append(acts.data[(i * 4 + u) * plane + p]) } }
            vals.sort()
            let pos = Double(vals.count - 1) * (1 - q), lo = Int(pos.rounded(.down)), f = pos - Double(lo)
            let (a, b) = (Double(vals[lo]), Double(vals[min(lo + 1, vals.count - 1)]))
            let T = Float(f >= 0.5 ? b - (b - a) * (1 - f) : a + (b - a) * f)
            #expect(T == d.thresholds[u])
            var inter = [Double](repeating: 0, count: labels.names.count), unit = 0.0, concept = inter
            for i in 0..<37 {
                let map = try Tensor(uninitialized: [side, side])
                for p in 0..<plane { map.data[p] = acts.data[(i * 4 + u) * plane + p] }
                let up = try map.interpolatedBilinear(height: 16, width: 16)
                let masks = try labels.masks(i)
                for p in 0..<256 {
                    let on = up.data[p] > T
                    if on { unit += 1 }
                    for c in 0..<labels.names.count where masks.data[c * 256 + p] == 1 {
                        concept[c] += 1
                        if on { inter[c] += 1 }
                    }
                }
            }
            for c in 0..<labels.names.count {
                let union = unit + concept[c] - inter[c]
                let expected = union > 0 ? inter[c] / union : 0
                #expect(abs(d.iou[u][c] - expected) <= 1e-12, "unit \(u), \(labels.names[c]): \(d.iou[u][c]) vs \(expected)")
            }
        }
    }

    /// Past the heaps' budget (here forced small), the thresholds are bracketed by candidates
    /// counted exactly in a second pass: every IoU stays within the reported bound of the exact
    /// one (itself checked against brute force above), and the bound is small.
    @Test(arguments: [(true, 0.05, true, 256, 0.01), (false, 0.05, false, 1024, 0.01), (false, 0.2, true, 2048, 0.02), (true, 0.01, false, 64, 0.01)])
    func boundedPassStaysWithinItsBound(relu: Bool, q: Double, pool: Bool, limit: Int, most: Double) throws {
        let data = try DataFiles.concepts(n: 200, size: 16, seed: 6)
        let m = try detectors(relu: relu, pool: pool)
        (m.layers[0] as! Conv2d).reset(RandomStream(seed: 5))
        let exact = try NetworkDissection.dissect(m, data, layer: 2, quantile: q, batch: 64)
        let bounded = try NetworkDissection.dissect(m, data, layer: 2, quantile: q, batch: 64, heapLimit: limit)
        let again = try NetworkDissection.dissect(m, data, layer: 2, quantile: q, batch: 37, heapLimit: limit)
        #expect(exact.iouError == 0)
        // The bound shrinks as the heaps grow (the default keeps at least 16,384 values per unit).
        #expect(bounded.iouError > 0 && bounded.iouError <= most, "bound \(bounded.iouError)")
        #expect(bounded.iou == again.iou && bounded.iouError == again.iouError, "the same whatever the batch size")
        var worst = 0.0
        for u in 0..<4 {
            for c in 0..<exact.concepts.count {
                let gap = abs(bounded.iou[u][c] - exact.iou[u][c])
                worst = max(worst, gap)
                #expect(gap <= bounded.iouError + 1e-12, "unit \(u), \(exact.concepts[c]): \(bounded.iou[u][c]) vs \(exact.iou[u][c])")
            }
            #expect(bounded.best[u] == exact.best[u] || abs(bounded.bestIoU[u] - exact.bestIoU[u]) <= 2 * bounded.iouError)
        }
        print("bounded dissection: q \(q), limit \(limit): largest gap \(worst), bound \(bounded.iouError)")
    }

    /// Cut into chunks of samples (as shards compute it): each chunk's largest values, the
    /// thresholds from their union, each chunk's counts added up: the same thresholds and IoU,
    /// bit for bit, as one pass over the whole set; and the same for a bounded pass (`limit`
    /// values per heap), whose sample does not depend on the chunks.
    @Test(arguments: [(true, 0.05, true, nil), (false, 0.3, true, nil), (true, 0.02, false, nil), (true, 0.1, false, 64), (false, 0.2, true, 100)])
    func chunksEqualOnePiece(relu: Bool, q: Double, pool: Bool, limit: Int?) throws {
        let data = try DataFiles.concepts(n: 41, size: 16, seed: 5)
        let m = try detectors(relu: relu, pool: pool)
        (m.layers[0] as! Conv2d).reset(RandomStream(seed: 7))
        let whole = try NetworkDissection.dissect(m, data, layer: 2, quantile: q, batch: 16, heapLimit: limit)
        #expect((whole.iouError > 0) == (limit != nil))
        let cuts = [0..<7, 7..<20, 20..<21, 21..<41]
        let chunks = try cuts.map { try data.subset(Array($0)) }
        let largest = try chunks.map { try NetworkDissection.largestValues(m, $0, layer: 2, setSamples: 41, quantile: q, batch: 5, heapLimit: limit) }
        let t = try NetworkDissection.cuts(mergingLargest: largest.map(\.values), values: 41 * largest[0].positions, quantile: q, heapLimit: limit)
        #expect(t.allSatisfy { $0.count == (limit == nil ? 1 : NetworkDissection.candidates) })
        if limit == nil { #expect(t.map { $0[0] } == whole.thresholds) }
        var sum: NetworkDissection.Counts?
        for c in chunks {
            let k = try NetworkDissection.counts(m, c, layer: 2, cuts: t, batch: 3)
            guard var s = sum else { sum = k; continue }
            for i in k.unit.indices { s.unit[i] += k.unit[i] }
            for i in k.inter.indices { s.inter[i] += k.inter[i] }
            for i in k.concept.indices { s.concept[i] += k.concept[i] }
            for i in k.above.indices { s.above[i] += k.above[i]; s.equal[i] += k.equal[i] }
            s.values += k.values
            sum = s
        }
        let d = try NetworkDissection.result(data, cuts: t, counts: try #require(sum), quantile: q)
        #expect(d.iou == whole.iou && d.thresholds == whole.thresholds && d.iouError == whole.iouError)
        // One pass whose batches end where the chunks begin (what an unsharded run takes).
        let cut = try NetworkDissection.dissect(m, data, layer: 2, quantile: q, batch: 5, breaks: cuts.map(\.lowerBound), heapLimit: limit)
        #expect(cut.thresholds == d.thresholds && cut.iou == d.iou)
        // Too few values for the set's threshold, and counts that do not fit, are errors.
        if limit == nil {
            #expect(throws: TensorError.self) {
                try NetworkDissection.cuts(mergingLargest: [largest[2].values], values: 41 * largest[0].positions, quantile: 0.9)
            }
        }
        #expect(throws: TensorError.self) {
            try NetworkDissection.result(data, cuts: t, counts: NetworkDissection.Counts(unit: [1], inter: [], concept: []), quantile: q)
        }
    }

    @Test func badRequests() throws {
        let plain = try DataFiles.shapes(n: 10, size: 16)
        #expect(throws: TensorError.self) {
            try NetworkDissection.dissect(try Sequential([Conv2d(cin: 1, cout: 2, k: 1)], inputShape: [1, 16, 16]), plain, layer: 0)
        }
        let data = try DataFiles.concepts(n: 5, size: 16)
        let flat = try Sequential([Conv2d(cin: 3, cout: 2, k: 1), Flatten()], inputShape: [3, 16, 16])
        #expect(throws: TensorError.self) { try NetworkDissection.dissect(flat, data, layer: 1) }
        #expect(throws: TensorError.self) { try NetworkDissection.dissect(try detectors(), data, layer: 2, quantile: 1) }
        // NaN activations are an error, not a threshold.
        let broken = try detectors(relu: false, pool: false)
        (broken.layers[0] as! Conv2d).weight.value.data[4] = .nan
        #expect(throws: TensorError.self) { try NetworkDissection.dissect(broken, data, layer: 1) }
    }
}
