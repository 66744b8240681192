// Shape operations. reshape returns a view that shares storage (like torch.view);
// every other operation here returns a new contiguous tensor.

extension Tensor {
    /// A view with a new shape of the same element count; one dimension may be -1 (inferred).
    public func reshaped(_ newShape: [Int]) throws(TensorError) -> Tensor {
        var s = newShape
        let unknown = s.indices.filter { s[$0] == -1 }
        guard unknown.count <= 1 else { throw TensorError(.shape, "only one dimension may be -1") }
        if let u = unknown.first {
            var known = 1
            for (i, v) in s.enumerated() where i != u {
                guard v >= 1 else { throw TensorError(.shape, "size of dimension \(i) must be positive, got \(v)") }
                let (p, overflow) = known.multipliedReportingOverflow(by: v)
                guard !overflow, p <= count else {
                    throw TensorError(.shape, "cannot reshape \(Tensor.describe(shape)) (\(count) elements) to \(Tensor.describe(newShape))")
                }
                known = p
            }
            guard count % known == 0 else {
                throw TensorError(.shape, "cannot reshape \(Tensor.describe(shape)) (\(count) elements) to \(Tensor.describe(newShape))")
            }
            s[u] = count / known
        }
        let n = try Tensor.checkShape(s)
        guard n == count else {
            throw TensorError(.shape, "cannot reshape \(Tensor.describe(shape)) (\(count) elements) to \(Tensor.describe(newShape)) (\(n) elements)")
        }
        return Tensor(view: storage, offset: offset, shape: s, count: count)
    }

    /// Transpose of a 2-D tensor.
    public func transposed() throws(TensorError) -> Tensor {
        guard rank == 2 else { throw TensorError(.shape, "transpose needs a 2-D tensor, got \(Tensor.describe(shape))") }
        let r = shape[0], c = shape[1]
        let out = try Tensor(uninitialized: [c, r])
        // Blocked for cache locality.
        let b = 32
        for i0 in stride(from: 0, to: r, by: b) {
            for j0 in stride(from: 0, to: c, by: b) {
                for i in i0..<Swift.min(i0 + b, r) {
                    for j in j0..<Swift.min(j0 + b, c) { out.data[j * r + i] = data[i * c + j] }
                }
            }
        }
        return out
    }

    /// The slice at `index` of dimension d, with d removed. The tensor must have rank >= 2.
    public func select(dim d: Int, index: Int) throws(TensorError) -> Tensor {
        guard rank >= 2 else { throw TensorError(.shape, "select that removes the only dimension gives a number, not a tensor") }
        let (outer, n, inner) = try around(d)
        guard index >= 0 && index < n else {
            throw TensorError(.index, "index \(index) out of range for dimension \(d) of size \(n)")
        }
        var s = shape
        s.remove(at: d)
        let out = try Tensor(uninitialized: s)
        for o in 0..<outer {
            (out.data + o * inner).update(from: data + (o * n + index) * inner, count: inner)
        }
        return out
    }

    /// `length` slices of dimension d starting at `start`.
    public func narrow(dim d: Int, start: Int, length: Int) throws(TensorError) -> Tensor {
        let (outer, n, inner) = try around(d)
        guard start >= 0 && start < n else {
            throw TensorError(.index, "start \(start) out of range for dimension \(d) of size \(n)")
        }
        guard length >= 1 && length <= n - start else {
            throw TensorError(.index, "length \(length) from \(start) does not fit in dimension \(d) of size \(n)")
        }
        var s = shape
        s[d] = length
        let out = try Tensor(uninitialized: s)
        for o in 0..<outer {
            (out.data + o * length * inner).update(from: data + (o * n + start) * inner, count: length * inner)
        }
        return out
    }

    /// Concatenation along d; all other sizes must agree.
    public static func cat(_ ts: [Tensor], dim d: Int) throws(TensorError) -> Tensor {
        guard let first = ts.first else { throw TensorError(.shape, "cat needs at least one tensor") }
        guard d >= 0 && d < first.rank else {
            throw TensorError(.index, "dimension \(d) out of range for a \(first.rank)-D tensor")
        }
        var total = 0
        for (i, t) in ts.enumerated() {
            var a = t.shape, b = first.shape
            guard a.count == b.count else {
                throw TensorError(.shape, "tensor \(i) has shape \(describe(t.shape)), expected \(first.rank) dimensions like \(describe(first.shape))")
            }
            a[d] = 0; b[d] = 0
            guard a == b else {
                throw TensorError(.shape, "tensor \(i) has shape \(describe(t.shape)), which does not match \(describe(first.shape)) outside dimension \(d)")
            }
            total += t.shape[d]
        }
        var s = first.shape
        s[d] = total
        let out = try Tensor(uninitialized: s)
        let outer = s[..<d].reduce(1, *), inner = s[(d + 1)...].reduce(1, *)
        var at = 0
        for t in ts {
            let rows = t.shape[d] * inner
            for o in 0..<outer {
                (out.data + o * total * inner + at).update(from: t.data + o * rows, count: rows)
            }
            at += rows
        }
        return out
    }

    /// Stacks tensors of one shape along a new dimension d (0 by default).
    public static func stack(_ ts: [Tensor], dim d: Int = 0) throws(TensorError) -> Tensor {
        guard let first = ts.first else { throw TensorError(.shape, "stack needs at least one tensor") }
        guard d >= 0 && d <= first.rank else {
            throw TensorError(.index, "dimension \(d) out of range for stacking \(first.rank)-D tensors")
        }
        for (i, t) in ts.enumerated() where t.shape != first.shape {
            throw TensorError(.shape, "tensor \(i) has shape \(describe(t.shape)), expected \(describe(first.shape))")
        }
        var s = first.shape
        s.insert(1, at: d)
        return try cat(ts.map { $0.unsafeView(s) }, dim: d)
    }

    /// A view with a shape known to have the same count.
    func unsafeView(_ s: [Int]) -> Tensor { Tensor(view: storage, offset: offset, shape: s, count: count) }
}
