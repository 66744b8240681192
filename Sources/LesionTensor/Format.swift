// Text form of tensors: values for small ones, shape and summary statistics for large ones.
import Foundation

extension Tensor {
    /// Values (up to `limit` elements) followed by the shape; above the limit a summary line.
    public func formatted(limit: Int = 200) -> String {
        let kind = "tensor" + Tensor.describe(shape)
        if count > limit {
            var lo = Float.infinity, hi = -Float.infinity
            var nan = 0
            for i in 0..<count {
                let v = data[i]
                if v.isNaN { nan += 1; continue }
                lo = Swift.min(lo, v)
                hi = Swift.max(hi, v)
            }
            var s = "\(kind) min \(Tensor.number(lo)) max \(Tensor.number(hi)) mean \(Tensor.number(Float(mean()))) std \(Tensor.number(Float(std())))"
            if nan > 0 { s += " (\(nan) NaN)" }
            return s
        }
        let values = (0..<count).map { data[$0] }
        let finite = values.filter { $0.isFinite }
        let integral = finite.allSatisfy { $0 == $0.rounded() && Swift.abs($0) < 1e7 }
        let big = finite.map { Swift.abs($0) }.max() ?? 0
        let small = finite.filter { $0 != 0 }.map { Swift.abs($0) }.min() ?? 1
        let scientific = !integral && (big >= 1e5 || small < 1e-3)
        let cells = values.map { v -> String in
            if v.isNaN { return "nan" }
            if v.isInfinite { return v > 0 ? "inf" : "-inf" }
            if integral { return String(Int(v)) }
            return String(format: scientific ? "%.4e" : "%.4f", Double(v))
        }
        let width = cells.map(\.count).max() ?? 1
        let pad = cells.map { String(repeating: " ", count: width - $0.count) + $0 }
        var out = ""
        let last = shape[rank - 1]
        let rows = count / last
        for r in 0..<rows {
            // Blank line between 2-D slices of a higher-rank tensor.
            if r > 0, rank > 2, r % shape[rank - 2] == 0 { out += "\n" }
            out += pad[(r * last)..<((r + 1) * last)].joined(separator: " ") + "\n"
        }
        return out + "[" + kind + "]"
    }

    static func number(_ v: Float) -> String {
        if v.isNaN { return "nan" }
        if v.isInfinite { return v > 0 ? "inf" : "-inf" }
        let a = Swift.abs(v)
        if a != 0 && (a >= 1e5 || a < 1e-3) { return String(format: "%.4g", Double(v)) }
        return String(format: "%.4f", Double(v))
    }
}
