import Testing
@testable import LesionTensor

@Suite struct ReductionTests {
    let t = sample([3, 4, 5], seed: 11)

    /// Naive reduction of t along d with f over each slice, in Double.
    func naive(_ d: Int, _ f: ([Double]) -> Double) -> Tensor {
        var shape = t.shape
        shape.remove(at: d)
        let out = try! Tensor(zeros: shape)
        let st = Tensor.strides(t.shape)
        var k = 0
        for i in 0..<t.shape[0] { for j in 0..<t.shape[1] { for l in 0..<t.shape[2] {
            let idx = [i, j, l]
            guard idx[d] == 0 else { continue }
            var vals: [Double] = []
            for x in 0..<t.shape[d] {
                var ix = idx
                ix[d] = x
                vals.append(Double(t.data[ix[0] * st[0] + ix[1] * st[1] + ix[2] * st[2]]))
            }
            out.data[k] = Float(f(vals))
            k += 1
        } } }
        return out
    }

    @Test(arguments: [0, 1, 2])
    func alongEachDimension(d: Int) throws {
        let sum = { (v: [Double]) in v.reduce(0, +) }
        let mean = { (v: [Double]) in sum(v) / Double(v.count) }
        let std = { (v: [Double]) -> Double in
            let m = mean(v)
            return (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count - 1)).squareRoot()
        }
        assertClose(try t.sum(dim: d), naive(d, sum), rtol: 1e-5, atol: 1e-6, "sum")
        assertClose(try t.mean(dim: d), naive(d, mean), rtol: 1e-5, atol: 1e-6, "mean")
        assertClose(try t.std(dim: d), naive(d, std), rtol: 1e-5, atol: 1e-6, "std")
        let (mx, mi) = try t.extreme(dim: d, largest: true)
        assertClose(mx, naive(d, { $0.max()! }), rtol: 0, atol: 0, "max")
        let argmax = naive(d, { v in Double(v.firstIndex(of: v.max()!)!) })
        #expect(mi.map(Float.init) == argmax.toArray())
        let (mn, _) = try t.extreme(dim: d, largest: false)
        assertClose(mn, naive(d, { $0.min()! }), rtol: 0, atol: 0, "min")
        #expect(try t.sum(dim: d, keepDim: true).shape == { var s = t.shape; s[d] = 1; return s }())
    }

    @Test func wholeTensor() throws {
        let v = t.toArray().map(Double.init)
        #expect(abs(t.sum() - v.reduce(0, +)) < 1e-9)
        #expect(abs(try t.norm() - v.map { $0 * $0 }.reduce(0, +).squareRoot()) < 1e-9)
        #expect(abs(try t.norm(p: 1) - v.map(abs).reduce(0, +)) < 1e-9)
        #expect(try t.norm(p: .infinity) == v.map(abs).max()!)
        #expect(abs(try t.norm(p: 3) - Foundation.pow(v.map { Foundation.pow(abs($0), 3) }.reduce(0, +), 1.0 / 3)) < 1e-9)
        #expect(t.argExtreme(largest: true) == v.firstIndex(of: v.max()!)!)
    }

    @Test func oneDimensionalReductionKeepsADimension() throws {
        let v = try Tensor(shape: [3], values: [1, 5, 2])
        #expect(try v.sum(dim: 0).shape == [1])
        #expect(try v.sum(dim: 0).toArray() == [8])
    }

    @Test func nanPropagatesInMax() throws {
        let v = try Tensor(shape: [4], values: [1, .nan, 7, 2])
        #expect(v.argExtreme(largest: true) == 1)
    }

    @Test func sortIsStableWithNaNLast() throws {
        let v = try Tensor(shape: [6], values: [3, 1, .nan, 1, 2, 3])
        let (s, i) = try v.sorted(dim: 0, descending: false)
        #expect(i.toArray() == [1, 3, 4, 0, 5, 2])
        #expect(Array(s.toArray().prefix(5)) == [1, 1, 2, 3, 3] && s.data[5].isNaN)
        let (_, j) = try v.sorted(dim: 0, descending: true)
        #expect(j.toArray() == [2, 0, 5, 4, 1, 3])
    }

    @Test func sortAlongFirstDimension() throws {
        let m = try Tensor(shape: [3, 2], values: [3, 0, 1, 5, 2, 4])
        let (s, i) = try m.sorted(dim: 0, descending: false)
        #expect(s.toArray() == [1, 0, 2, 4, 3, 5])
        #expect(i.toArray() == [1, 0, 2, 2, 0, 1])
    }
}

import Foundation

@Suite struct ElementwiseTests {
    @Test func broadcastingMatchesNaive() throws {
        let a = sample([2, 3, 4], seed: 1), b = sample([3, 1], seed: 2)
        let c = try Tensor.binary(a, b, .sub)
        #expect(c.shape == [2, 3, 4])
        for i in 0..<2 { for j in 0..<3 { for k in 0..<4 {
            #expect(c.data[(i * 3 + j) * 4 + k] == a.data[(i * 3 + j) * 4 + k] - b.data[j])
        } } }
        let row = sample([4], seed: 3)
        let d = try Tensor.binary(row, a, .mul)
        for i in 0..<a.count { #expect(d.data[i] == row.data[i % 4] * a.data[i]) }
        #expect(throws: TensorError.self) { try Tensor.binary(a, sample([2, 4]), .add) }
    }

    @Test func scalarsAndUnary() throws {
        let a = try Tensor(shape: [4], values: [-2, 0, 1, 4])
        #expect(try Tensor.binary(a, scalar: 1, .sub, scalarFirst: true).toArray() == [3, 1, 0, -3])
        #expect(try a.relu().toArray() == [0, 0, 1, 4])
        #expect(try a.abs().toArray() == [2, 0, 1, 4])
        #expect(try a.clamp(lo: -1, hi: 2).toArray() == [-1, 0, 1, 2])
        #expect(try a.sqrt().toArray()[0].isNaN)
        assertClose(try a.exp(), a.toArray().map { Foundation.exp($0) })
    }
}

@Suite struct ShapeTests {
    @Test func reshapeIsAViewAndInfersMinusOne() throws {
        let a = sample([2, 6])
        let b = try a.reshaped([3, -1])
        #expect(b.shape == [3, 4])
        b.data[0] = 99
        #expect(a.data[0] == 99)
        #expect(throws: TensorError.self) { try a.reshaped([5, -1]) }
        #expect(throws: TensorError.self) { try a.reshaped([-1, -1]) }
    }

    @Test func selectNarrowCatStack() throws {
        let a = sample([3, 4, 2])
        let s = try a.select(dim: 1, index: 2)
        for i in 0..<3 { for k in 0..<2 { #expect(s.data[i * 2 + k] == a.data[(i * 4 + 2) * 2 + k]) } }
        let n = try a.narrow(dim: 1, start: 1, length: 2)
        #expect(n.shape == [3, 2, 2])
        for i in 0..<3 { for j in 0..<2 { for k in 0..<2 { #expect(n.data[(i * 2 + j) * 2 + k] == a.data[(i * 4 + j + 1) * 2 + k]) } } }
        // cat of the two narrow halves gives back the original.
        let parts = [try a.narrow(dim: 1, start: 0, length: 1), try a.narrow(dim: 1, start: 1, length: 3)]
        #expect(try Tensor.cat(parts, dim: 1).toArray() == a.toArray())
        let st = try Tensor.stack([a, a], dim: 0)
        #expect(st.shape == [2, 3, 4, 2] && Array(st.toArray().suffix(24)) == a.toArray())
        let mid = try Tensor.stack([sample([2, 3], seed: 1), sample([2, 3], seed: 2)], dim: 1)
        #expect(mid.shape == [2, 2, 3] && mid.toArray()[3] == sample([2, 3], seed: 2).toArray()[0])
        #expect(throws: TensorError.self) { try Tensor.cat([a, sample([3, 4, 3])], dim: 1) }
        #expect(throws: TensorError.self) { try a.select(dim: 0, index: 3) }
    }

    @Test func transpose() throws {
        let a = sample([37, 45])
        let t = try a.transposed()
        for i in 0..<37 { for j in 0..<45 { #expect(t.data[j * 37 + i] == a.data[i * 45 + j]) } }
    }

    @Test func invalidShapes() {
        #expect(throws: TensorError.self) { try Tensor(zeros: []) }
        #expect(throws: TensorError.self) { try Tensor(zeros: [3, 0]) }
        #expect(throws: TensorError.self) { try Tensor(zeros: [-1]) }
        #expect(throws: TensorError.self) { try Tensor(zeros: [1 << 20, 1 << 20]) }
        #expect(throws: TensorError.self) { try Tensor(zeros: [Int.max, 2]) }
    }

    /// Storage is freed when the last tensor using it goes (views keep it alive).
    @Test func storageIsReleased() throws {
        weak var weakStorage: TensorStorage?
        var view: Tensor?
        do {
            let t = try Tensor(zeros: [256, 256])
            weakStorage = t.storage
            view = try t.reshaped([-1])
        }
        #expect(weakStorage != nil)
        view = nil
        _ = view
        #expect(weakStorage == nil)
    }
}
