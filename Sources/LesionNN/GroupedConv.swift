// A convolution with groups (PyTorch's `groups`): input and output channels split into g
// independent convolutions. Each group is an ordinary Conv2d (with its Winograd and im2col
// paths) whose weight and bias are views of rows of the grouped layer's own, so the state dict,
// the optimiser and weight loading see one tensor. A group's channels are gathered into a
// buffer of their own on the way in and scattered back on the way out (NHWC).
import LesionTensor

final class GroupedConv {
    let parts: [Conv2d]
    let cinG: Int, coutG: Int
    unowned let owner: Conv2d
    var inputs: [Tensor?], grads: [Tensor?]
    var output: Tensor?, gradInput: Tensor?, change: Tensor?

    init(_ owner: Conv2d) throws(TensorError) {
        self.owner = owner
        let g = owner.groups
        (cinG, coutG) = (owner.cin / g, owner.cout / g)
        var parts: [Conv2d] = []
        for i in 0..<g {
            let c = try Conv2d(cin: cinG, cout: coutG, k: owner.k, stride: owner.stride, padding: owner.padding, bias: owner.bias != nil)
            c.weight.value = try owner.weight.value.rows(i * coutG, coutG)
            c.weight.grad = try owner.weight.grad.rows(i * coutG, coutG)
            if let b = owner.bias {
                c.bias!.value = try b.value.rows(i * coutG, coutG)
                c.bias!.grad = try b.grad.rows(i * coutG, coutG)
            }
            parts.append(c)
        }
        self.parts = parts
        inputs = Array(repeating: nil, count: g)
        grads = Array(repeating: nil, count: g)
    }

    /// Channels [c0, c0 + count) of x [n, h, w, c] into dst [n, h, w, count] (or back with `scatter`).
    static func copyChannels(_ x: Tensor, _ c0: Int, _ dst: Tensor, scatter: Bool = false) {
        let c = x.shape[3], count = dst.shape[3]
        let pixels = x.count / c
        for p in 0..<pixels {
            let a = x.data + p * c + c0, b = dst.data + p * count
            if scatter { a.update(from: b, count: count) } else { b.update(from: a, count: count) }
        }
    }

    func forward(_ x: Tensor, training: Bool) throws(TensorError) -> Tensor {
        guard x.rank == 4, x.shape[3] == owner.cin else {
            throw TensorError(.shape, "expected input {N,\(owner.cin),H,W}, got \(Tensor.describe(Layout.logicalShape(x)))")
        }
        var out: Tensor?
        for (i, part) in parts.enumerated() {
            let xi = try Buffers.reuse(inputs[i], Array(x.shape.dropLast()) + [cinG])
            inputs[i] = xi
            GroupedConv.copyChannels(x, i * cinG, xi)
            part.crop = owner.crop
            let yi = try part.forward(xi, training: training)
            if out == nil { out = try Buffers.reuse(output, Array(yi.shape.dropLast()) + [owner.cout]) }
            GroupedConv.copyChannels(out!, i * coutG, yi, scatter: true)
        }
        output = out
        return out!
    }

    func backward(_ dy: Tensor, needInputGrad: Bool) throws(TensorError) -> Tensor? {
        var dx: Tensor?
        for (i, part) in parts.enumerated() {
            let dyi = try Buffers.reuse(grads[i], Array(dy.shape.dropLast()) + [coutG])
            grads[i] = dyi
            GroupedConv.copyChannels(dy, i * coutG, dyi)
            guard let dxi = try part.backward(dyi, needInputGrad: needInputGrad) else { continue }
            if dx == nil { dx = try Buffers.reuse(gradInput, Array(dxi.shape.dropLast()) + [owner.cin]) }
            GroupedConv.copyChannels(dx!, i * cinG, dxi, scatter: true)
        }
        gradInput = dx
        return dx
    }

    /// A change in input channel u reaches only the output channels of u's group.
    func addChannelChange(_ delta: UnsafePointer<Float>, channel u: Int, per: Int, rowStride: Int, images n: Int,
                          h: Int, w: Int, into d: Tensor, accumulate: Bool) throws(TensorError) {
        guard d.rank == 4, d.shape[3] == owner.cout, u < owner.cin else {
            throw TensorError(.shape, "\(owner.name): a change of channel \(u) does not fit \(Tensor.describe(d.shape))")
        }
        let g = u / cinG
        let part = try Buffers.reuse(change, Array(d.shape.dropLast()) + [coutG])
        change = part
        try parts[g].addChannelChange(delta, channel: u % cinG, per: per, rowStride: rowStride, images: n, h: h, w: w,
                                      into: part, accumulate: false)
        if !accumulate { d.fill(0) }
        let pixels = d.count / owner.cout
        for p in 0..<pixels {
            let a = d.data + p * owner.cout + g * coutG, b = part.data + p * coutG
            for j in 0..<coutG { a[j] += b[j] }
        }
    }
}
