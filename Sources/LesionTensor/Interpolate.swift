// Bilinear resizing of planes as torch.nn.functional.interpolate(mode = "bilinear",
// align_corners = False) computes it: the heatmaps of units and Network Dissection's
// activation maps, upsampled to the image or mask.

extension Tensor {
    /// The last two dimensions (h, w) resized to (height, width); leading dimensions kept.
    /// Output pixel (i, j) reads source row (i + 0.5) h / height - 0.5 (clamped at 0), and the
    /// same for columns, weighting the two nearest rows and columns as PyTorch does.
    public func interpolatedBilinear(height: Int, width: Int) throws(TensorError) -> Tensor {
        guard rank >= 2 else { throw TensorError(.shape, "interpolation needs at least 2 dimensions, got \(Tensor.describe(shape))") }
        guard height >= 1, width >= 1 else { throw TensorError(.value, "interpolation to \(height)x\(width): sizes must be positive") }
        let h = shape[rank - 2], w = shape[rank - 1]
        let planes = h * w == 0 ? 0 : count / (h * w)
        let out = try Tensor(uninitialized: Array(shape.dropLast(2)) + [height, width])
        guard planes > 0 else { return out }
        let rows = Tensor.sourceWeights(in: h, out: height), cols = Tensor.sourceWeights(in: w, out: width)
        let src = data, dst = out.data
        Threads.parallelFor(Threads.count) { t in
            let (lo, hi) = Threads.range(t, of: planes)
            for p in lo..<hi {
                let s = src + p * h * w, d = dst + p * height * width
                for i in 0..<height {
                    for j in 0..<width { d[i * width + j] = Tensor.bilinear(s, w, rows[i], cols[j]) }
                }
            }
        }
        return out
    }

    /// One output pixel from the plane s (w columns) at its row and column weights: the one
    /// formula every resize of maps uses (heatmaps, dissection), so their values agree to the bit.
    @inline(__always)
    public static func bilinear(_ s: UnsafePointer<Float>, _ w: Int, _ row: (Int, Int, Float, Float), _ col: (Int, Int, Float, Float)) -> Float {
        let (r0, r1, a0, a1) = row, (c0, c1, b0, b1) = col
        return a0 * (b0 * s[r0 * w + c0] + b1 * s[r0 * w + c1]) + a1 * (b0 * s[r1 * w + c0] + b1 * s[r1 * w + c1])
    }

    /// For each output index: the two source indices and their weights (PyTorch's
    /// area_pixel_compute_source_index with align_corners = False, in float).
    public static func sourceWeights(in n: Int, out m: Int) -> [(Int, Int, Float, Float)] {
        let scale = Float(n) / Float(m)
        return (0..<m).map { i in
            let src = max(scale * (Float(i) + 0.5) - 0.5, 0)
            let i0 = min(Int(src), n - 1)
            let i1 = i0 < n - 1 ? i0 + 1 : i0
            let l1 = src - Float(i0)
            return (i0, i1, 1 - l1, l1)
        }
    }
}
