// Elementwise arithmetic (NumPy broadcasting) and unary maps.
import Foundation

public enum BinaryOp: Sendable {
    case add, sub, mul, div

    @inline(__always) func apply(_ a: Float, _ b: Float) -> Float {
        switch self {
        case .add: return a + b
        case .sub: return a - b
        case .mul: return a * b
        case .div: return a / b
        }
    }
}

extension Tensor {
    /// The shape two shapes broadcast to (NumPy rules: align right, sizes equal or 1).
    public static func broadcastShape(_ a: [Int], _ b: [Int]) throws(TensorError) -> [Int] {
        let n = max(a.count, b.count)
        var out = [Int](repeating: 1, count: n)
        for i in 0..<n {
            let da = i < n - a.count ? 1 : a[i - (n - a.count)]
            let db = i < n - b.count ? 1 : b[i - (n - b.count)]
            guard da == db || da == 1 || db == 1 else {
                throw TensorError(.shape, "shapes \(describe(a)) and \(describe(b)) do not broadcast")
            }
            out[i] = max(da, db)
        }
        return out
    }

    /// a op b with broadcasting.
    public static func binary(_ a: Tensor, _ b: Tensor, _ op: BinaryOp) throws(TensorError) -> Tensor {
        if a.shape == b.shape {
            let out = try Tensor(uninitialized: a.shape)
            let x = a.data, y = b.data, z = out.data
            switch op {
            case .add: for i in 0..<a.count { z[i] = x[i] + y[i] }
            case .sub: for i in 0..<a.count { z[i] = x[i] - y[i] }
            case .mul: for i in 0..<a.count { z[i] = x[i] * y[i] }
            case .div: for i in 0..<a.count { z[i] = x[i] / y[i] }
            }
            return out
        }
        let shape = try broadcastShape(a.shape, b.shape)
        let out = try Tensor(uninitialized: shape)
        let n = shape.count
        // Strides of a and b over the output's dimensions; 0 where a size-1 dimension repeats.
        func stridesOver(_ s: [Int]) -> [Int] {
            let own = strides(s)
            return (0..<n).map { i in
                let j = i - (n - s.count)
                return (j < 0 || s[j] == 1) ? 0 : own[j]
            }
        }
        let sa = stridesOver(a.shape), sb = stridesOver(b.shape)
        let inner = shape[n - 1], ia = sa[n - 1], ib = sb[n - 1]
        let outer = out.count / inner
        var idx = [Int](repeating: 0, count: n)   // multi-index over dims 0..<n-1
        var oa = 0, ob = 0
        let x = a.data, y = b.data, z = out.data
        for o in 0..<outer {
            let zo = z + o * inner
            for k in 0..<inner { zo[k] = op.apply(x[oa + k * ia], y[ob + k * ib]) }
            // Advance the multi-index over the outer dimensions.
            var d = n - 2
            while d >= 0 {
                idx[d] += 1
                oa += sa[d]
                ob += sb[d]
                if idx[d] < shape[d] { break }
                oa -= sa[d] * shape[d]
                ob -= sb[d] * shape[d]
                idx[d] = 0
                d -= 1
            }
        }
        return out
    }

    /// t op s, or s op t when `scalarFirst`.
    public static func binary(_ t: Tensor, scalar s: Float, _ op: BinaryOp, scalarFirst: Bool = false) throws(TensorError) -> Tensor {
        let out = try Tensor(uninitialized: t.shape)
        let x = t.data, z = out.data
        if scalarFirst {
            for i in 0..<t.count { z[i] = op.apply(s, x[i]) }
        } else {
            for i in 0..<t.count { z[i] = op.apply(x[i], s) }
        }
        return out
    }

    /// A new tensor with f applied to every element.
    public func map(_ f: (Float) -> Float) throws(TensorError) -> Tensor {
        let out = try Tensor(uninitialized: shape)
        let x = data, z = out.data
        for i in 0..<count { z[i] = f(x[i]) }
        return out
    }

    public func negated() throws(TensorError) -> Tensor { try map { -$0 } }
    public func abs() throws(TensorError) -> Tensor { try map { Swift.abs($0) } }
    public func sqrt() throws(TensorError) -> Tensor { try map { $0.squareRoot() } }
    public func exp() throws(TensorError) -> Tensor { try map { Foundation.exp($0) } }
    public func log() throws(TensorError) -> Tensor { try map { Foundation.log($0) } }
    public func relu() throws(TensorError) -> Tensor { try map { $0 > 0 ? $0 : 0 } }

    /// Clamps to [lo, hi]; either bound may be absent. NaN stays NaN.
    public func clamp(lo: Float?, hi: Float?) throws(TensorError) -> Tensor {
        if let lo, let hi, lo > hi {
            throw TensorError(.value, "lower bound \(lo) is above upper bound \(hi)")
        }
        let l = lo ?? -.infinity, h = hi ?? .infinity
        return try map { $0.isNaN ? $0 : Swift.min(Swift.max($0, l), h) }
    }

    /// True when shapes match and |a-b| <= atol + rtol*|b| everywhere (NaN never close).
    public func allClose(_ other: Tensor, rtol: Float = 1e-5, atol: Float = 1e-8) -> Bool {
        guard shape == other.shape else { return false }
        let x = data, y = other.data
        for i in 0..<count where !(Swift.abs(x[i] - y[i]) <= atol + rtol * Swift.abs(y[i])) {
            return false
        }
        return true
    }
}
