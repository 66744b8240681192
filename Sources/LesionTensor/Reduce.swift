// Reductions, over all elements (results as Double) or along one dimension (a tensor with that
// dimension removed, or kept with size 1; a 1-D tensor reduced along its only dimension keeps it).
import Foundation

extension Tensor {
    /// Splits the shape around dimension d: (outer, size of d, inner).
    func around(_ d: Int) throws(TensorError) -> (outer: Int, n: Int, inner: Int) {
        guard d >= 0 && d < rank else {
            throw TensorError(.index, "dimension \(d) out of range for a \(rank)-D tensor")
        }
        let outer = shape[..<d].reduce(1, *)
        let inner = shape[(d + 1)...].reduce(1, *)
        return (outer, shape[d], inner)
    }

    func reducedShape(_ d: Int, keepDim: Bool) -> [Int] {
        var s = shape
        if keepDim || rank == 1 { s[d] = 1 } else { s.remove(at: d) }
        return s
    }

    /// Applies `f` to each slice along d (the values as a strided view) and stores one result.
    func reduceAlong(_ d: Int, keepDim: Bool, _ f: (UnsafeMutablePointer<Float>, Int, Int) -> Float) throws(TensorError) -> Tensor {
        let (outer, n, inner) = try around(d)
        let out = try Tensor(uninitialized: reducedShape(d, keepDim: keepDim))
        let z = out.data
        for o in 0..<outer {
            for i in 0..<inner { z[o * inner + i] = f(data + o * n * inner + i, n, inner) }
        }
        return out
    }

    // MARK: whole-tensor reductions

    public func sum() -> Double {
        var s = 0.0
        for i in 0..<count { s += Double(data[i]) }
        return s
    }

    public func mean() -> Double { sum() / Double(count) }

    /// Standard deviation; unbiased (n-1) by default as in PyTorch. NaN when n-1 = 0.
    public func std(unbiased: Bool = true) -> Double {
        let m = mean()
        var s = 0.0
        for i in 0..<count { let e = Double(data[i]) - m; s += e * e }
        return (s / Double(unbiased ? count - 1 : count)).squareRoot()
    }

    /// Index of the largest (or smallest) element; a NaN wins, as in PyTorch.
    public func argExtreme(largest: Bool) -> Int {
        Tensor.argExtreme(data, count, 1, largest: largest)
    }

    public static func argExtreme(_ p: UnsafeMutablePointer<Float>, _ n: Int, _ stride: Int, largest: Bool) -> Int {
        var best = 0
        var bv = p[0]
        if bv.isNaN { return 0 }
        for k in 1..<max(n, 1) {
            let v = p[k * stride]
            if v.isNaN { return k }
            if largest ? v > bv : v < bv { bv = v; best = k }
        }
        return best
    }

    /// p-norm of all elements: p = 2 by default, 1, .infinity, or any p > 0.
    public func norm(p: Double = 2) throws(TensorError) -> Double {
        guard p > 0 else { throw TensorError(.value, "norm order must be positive, got \(p)") }
        if p == .infinity {
            var m = 0.0
            for i in 0..<count {
                let v = Swift.abs(Double(data[i]))
                if v.isNaN { return .nan }
                m = Swift.max(m, v)
            }
            return m
        }
        var s = 0.0
        if p == 2 {
            for i in 0..<count { let v = Double(data[i]); s += v * v }
            return s.squareRoot()
        }
        if p == 1 {
            for i in 0..<count { s += Swift.abs(Double(data[i])) }
            return s
        }
        for i in 0..<count { s += Foundation.pow(Swift.abs(Double(data[i])), p) }
        return Foundation.pow(s, 1 / p)
    }

    // MARK: reductions along a dimension

    public func sum(dim d: Int, keepDim: Bool = false) throws(TensorError) -> Tensor {
        try reduceAlong(d, keepDim: keepDim) { p, n, st in
            var s = 0.0
            for k in 0..<n { s += Double(p[k * st]) }
            return Float(s)
        }
    }

    public func mean(dim d: Int, keepDim: Bool = false) throws(TensorError) -> Tensor {
        try reduceAlong(d, keepDim: keepDim) { p, n, st in
            var s = 0.0
            for k in 0..<n { s += Double(p[k * st]) }
            return Float(s / Double(n))
        }
    }

    public func std(dim d: Int, unbiased: Bool = true, keepDim: Bool = false) throws(TensorError) -> Tensor {
        try reduceAlong(d, keepDim: keepDim) { p, n, st in
            var s = 0.0
            for k in 0..<n { s += Double(p[k * st]) }
            let m = s / Double(n)
            var v = 0.0
            for k in 0..<n { let e = Double(p[k * st]) - m; v += e * e }
            return Float((v / Double(unbiased ? n - 1 : n)).squareRoot())
        }
    }

    /// Largest (or smallest) values along d and their 0-based indices.
    public func extreme(dim d: Int, largest: Bool, keepDim: Bool = false) throws(TensorError) -> (values: Tensor, indices: [Int]) {
        var indices: [Int] = []
        let values = try reduceAlong(d, keepDim: keepDim) { p, n, st in
            let k = Tensor.argExtreme(p, n, st, largest: largest)
            indices.append(k)
            return p[k * st]
        }
        return (values, indices)
    }

    /// Sorts along d (stable). NaN sorts above every number, as in PyTorch.
    public func sorted(dim d: Int, descending: Bool) throws(TensorError) -> (values: Tensor, indices: Tensor) {
        let (outer, n, inner) = try around(d)
        let values = try Tensor(uninitialized: shape)
        let indices = try Tensor(uninitialized: shape)
        var order = [Int](repeating: 0, count: n)
        var keys = [Float](repeating: 0, count: n)
        for o in 0..<outer {
            for i in 0..<inner {
                let base = o * n * inner + i
                for k in 0..<n { keys[k] = data[base + k * inner]; order[k] = k }
                // NaN-aware strict order; ties keep their original order (stable merge sort).
                let less: (Int, Int) -> Bool = { a, b in
                    let x = keys[a], y = keys[b]
                    if x.isNaN || y.isNaN { return descending ? (x.isNaN && !y.isNaN) : (!x.isNaN && y.isNaN) }
                    return descending ? x > y : x < y
                }
                order = Tensor.stableSort(order, by: less)
                for k in 0..<n {
                    values.data[base + k * inner] = keys[order[k]]
                    indices.data[base + k * inner] = Float(order[k])
                }
            }
        }
        return (values, indices)
    }

    /// Merge sort: stable, O(n log n).
    static func stableSort(_ a: [Int], by less: (Int, Int) -> Bool) -> [Int] {
        if a.count < 2 { return a }
        var src = a
        var dst = a
        var width = 1
        while width < a.count {
            var lo = 0
            while lo < a.count {
                let mid = Swift.min(lo + width, a.count), hi = Swift.min(lo + 2 * width, a.count)
                var i = lo, j = mid, k = lo
                while i < mid && j < hi {
                    if less(src[j], src[i]) { dst[k] = src[j]; j += 1 } else { dst[k] = src[i]; i += 1 }
                    k += 1
                }
                while i < mid { dst[k] = src[i]; i += 1; k += 1 }
                while j < hi { dst[k] = src[j]; j += 1; k += 1 }
                lo = hi
            }
            swap(&src, &dst)
            width *= 2
        }
        return src
    }
}
