// The sweep's 1/C step for a convolution: the change of its output caused by a change in one
// input channel (ChannelMixer, read by the sweep planner; see Layer.swift).
import COpenBLAS
import LesionTensor

extension Conv2d: ChannelMixer {
    /// d [n, ho, wo, cout] (+)= conv(delta [n, h, w] as the one input channel `channel`), without
    /// bias: the patches of one plane times the kernel's slice for that channel (1/cin of the cost).
    public func addChannelChange(_ delta: UnsafePointer<Float>, channel u: Int, per: Int, rowStride: Int, images n: Int,
                                 h: Int, w: Int, into d: Tensor, accumulate: Bool) throws(TensorError) {
        if let grouped {
            return try grouped.addChannelChange(delta, channel: u, per: per, rowStride: rowStride, images: n, h: h, w: w,
                                                into: d, accumulate: accumulate)
        }
        let (k, s, p, cout, cin) = (self.k, stride, padding, self.cout, self.cin)
        guard d.rank == 4, d.shape[0] == n, d.shape[3] == cout, u < cin, per == h * w else {
            throw TensorError(.shape, "\(name): a change of channel \(u) of \(h)x\(w) does not fit \(Tensor.describe(d.shape))")
        }
        let (ho, wo) = (d.shape[1], d.shape[2])
        let wk = try Buffers.reuse(channelKernel, [k * k, cout])
        channelKernel = wk
        let wsrc = weight.value.data
        for co in 0..<cout { for t in 0..<(k * k) { wk.data[t * cout + co] = wsrc[(co * cin + u) * k * k + t] } }
        let cols = try Buffers.reuse(channelCols, [n * ho * wo, k * k])
        channelCols = cols
        cols.fill(0)
        for b in 0..<n {
            let img = delta + b * rowStride
            for oh in 0..<ho { for ow in 0..<wo {
                let row = cols.data + ((b * ho + oh) * wo + ow) * k * k
                for kh in 0..<k {
                    let ih = oh * s - p + kh
                    if ih < 0 || ih >= h { continue }
                    for kw in 0..<k {
                        let iw = ow * s - p + kw
                        if iw < 0 || iw >= w { continue }
                        row[kh * k + kw] = img[ih * w + iw]
                    }
                }
            } }
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n * ho * wo), Int32(cout), Int32(k * k),
                    1, cols.data, Int32(k * k), wk.data, Int32(cout), accumulate ? 1 : 0, d.data, Int32(cout))
    }
}
