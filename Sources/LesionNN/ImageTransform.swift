// From decoded pixels to a model's input, as torchvision's evaluation transform does it on PIL
// images: convert to RGB (or L), resize with PIL's bilinear filter (antialiased: its support
// grows with the reduction), centre-crop, scale to [0, 1], normalise. The resize follows PIL's
// own arithmetic (coefficients in 22-bit fixed point, a horizontal then a vertical pass, each
// rounded to 8 bits). Pillow 13 runs the vertical pass first for some sizes, by a rule it does not
// document; there a value can differ from torchvision's by one step, 1/255.
import LesionTensor

public struct ImageTransform: Sendable, Equatable {
    public enum Resize: Sendable, Equatable {
        /// The shorter side to n, the longer in proportion (rounded down).
        case shorter(Int)
        /// Exactly h x w.
        case exact(Int, Int)
    }
    public var resize: Resize?
    /// Centre crop h x w (after the resize).
    public var crop: (Int, Int)?
    public var mean: [Float]
    public var std: [Float]
    /// 3: RGB (gray replicated, alpha dropped, as PIL's convert("RGB")); 1: luminance (convert("L")).
    public var channels: Int

    public init(resize: Resize? = nil, crop: (Int, Int)? = nil, mean: [Float]? = nil, std: [Float]? = nil, channels: Int = 3) throws(TensorError) {
        guard channels == 1 || channels == 3 else { throw TensorError(.value, "images have 1 or 3 channels, got \(channels)") }
        let m = mean ?? [Float](repeating: 0, count: channels), s = std ?? [Float](repeating: 1, count: channels)
        guard m.count == channels, s.count == channels else {
            throw TensorError(.shape, "mean and std need \(channels) values each, got \(m.count) and \(s.count)")
        }
        guard s.allSatisfy({ $0 > 0 }) else { throw TensorError(.value, "std values must be positive") }
        if case .shorter(let n)? = resize, n < 1 { throw TensorError(.value, "resize must be positive, got \(n)") }
        if case .exact(let h, let w)? = resize, h < 1 || w < 1 { throw TensorError(.value, "resize must be positive, got \(h)x\(w)") }
        if let (h, w) = crop, h < 1 || w < 1 { throw TensorError(.value, "crop must be positive, got \(h)x\(w)") }
        self.init(checked: resize, crop, m, s, channels)
    }

    private init(checked resize: Resize?, _ crop: (Int, Int)?, _ mean: [Float], _ std: [Float], _ channels: Int) {
        (self.resize, self.crop, self.mean, self.std, self.channels) = (resize, crop, mean, std, channels)
    }

    /// torchvision's ImageNet evaluation transform: resize 256, crop 224, ImageNet's mean and std.
    public static let imagenet = ImageTransform(checked: .shorter(256), (224, 224), [0.485, 0.456, 0.406], [0.229, 0.224, 0.225], 3)
    /// Pixels scaled to [0, 1], nothing else (RGB).
    public static let plain = ImageTransform(checked: nil, nil, [0, 0, 0], [1, 1, 1], 3)

    public static func == (a: ImageTransform, b: ImageTransform) -> Bool {
        a.resize == b.resize && a.crop?.0 == b.crop?.0 && a.crop?.1 == b.crop?.1 && a.mean == b.mean && a.std == b.std && a.channels == b.channels
    }

    /// A text that identifies the transform (for cache keys).
    public var identity: String {
        "resize \(String(describing: resize)) crop \(crop.map { "\($0.0)x\($0.1)" } ?? "none") mean \(mean) std \(std) channels \(channels)"
    }

    /// The output [C, H, W] when it does not depend on the image.
    public var fixedShape: [Int]? {
        if let (h, w) = crop { return [channels, h, w] }
        if case .exact(let h, let w)? = resize { return [channels, h, w] }
        return nil
    }

    /// The output size for an image of h x w.
    public func outputSize(h: Int, w: Int) -> (Int, Int) {
        if let (ch, cw) = crop { return (ch, cw) }
        return resized(h: h, w: w)
    }

    func resized(h: Int, w: Int) -> (Int, Int) {
        switch resize {
        case nil: return (h, w)
        case .exact(let a, let b)?: return (a, b)
        case .shorter(let n)?:
            // torchvision: the shorter side to n, the longer int(n * long / short).
            if h <= w { return (n, Int(Double(n) * Double(w) / Double(h))) }
            return (Int(Double(n) * Double(h) / Double(w)), n)
        }
    }

    /// Writes the transformed image, [C, H, W] floats, to `out`.
    public func apply(_ img: Image8, into out: UnsafeMutablePointer<Float>) throws(TensorError) {
        var px = ImageTransform.convert(img, channels: channels)
        let (rh, rw) = resized(h: img.height, w: img.width)
        if rh != img.height || rw != img.width { px = ImageTransform.resample(px, h: img.height, w: img.width, c: channels, toH: rh, toW: rw) }
        let (top, left, oh, ow) = try cropBox(rh, rw)
        let nc = channels
        px.withUnsafeBufferPointer { p in
            for c in 0..<nc {
                let (m, s) = (mean[c], std[c])
                let plane = out + c * oh * ow
                for y in 0..<oh {
                    let row = p.baseAddress! + ((top + y) * rw + left) * nc + c
                    for x in 0..<ow { plane[y * ow + x] = (Float(row[x * nc]) / 255 - m) / s }
                }
            }
        }
    }

    /// The crop's top, left, height and width in a resized image of rh x rw (all of it without a crop).
    func cropBox(_ rh: Int, _ rw: Int) throws(TensorError) -> (Int, Int, Int, Int) {
        guard let (ch, cw) = crop else { return (0, 0, rh, rw) }
        guard ch <= rh, cw <= rw else {
            throw TensorError(.shape, "the image is \(rh)x\(rw) after resizing, smaller than the \(ch)x\(cw) crop")
        }
        // torchvision: int(round((h - ch) / 2.0)), Python's round (halves to even).
        return (Int((Double(rh - ch) / 2).rounded(.toNearestOrEven)), Int((Double(rw - cw) / 2).rounded(.toNearestOrEven)), ch, cw)
    }

    /// A label map (one byte per pixel, h x w) under the same geometry as an image: resized by
    /// nearest neighbour (labels are not blended), then cropped alike.
    public func applyNearest(labels: [UInt8], h: Int, w: Int) throws(TensorError) -> [UInt8] {
        let (rh, rw) = resized(h: h, w: w)
        let (top, left, oh, ow) = try cropBox(rh, rw)
        var out = [UInt8](repeating: 0, count: oh * ow)
        for y in 0..<oh {
            let sy = min(h - 1, Int((Double(top + y) + 0.5) * Double(h) / Double(rh)))
            for x in 0..<ow {
                let sx = min(w - 1, Int((Double(left + x) + 0.5) * Double(w) / Double(rw)))
                out[y * ow + x] = labels[sy * w + sx]
            }
        }
        return out
    }

    /// PIL's convert("RGB") or convert("L") of 8-bit pixels.
    static func convert(_ img: Image8, channels: Int) -> [UInt8] {
        let n = img.width * img.height, c = img.channels
        if c == channels { return img.pixels }
        var out = [UInt8](repeating: 0, count: n * channels)
        img.pixels.withUnsafeBufferPointer { p in
            for i in 0..<n {
                let s = i * c
                if channels == 3 {
                    if c >= 3 { (out[i * 3], out[i * 3 + 1], out[i * 3 + 2]) = (p[s], p[s + 1], p[s + 2]) }
                    else { (out[i * 3], out[i * 3 + 1], out[i * 3 + 2]) = (p[s], p[s], p[s]) }
                } else if c >= 3 {
                    // ITU-R 601-2 luma in PIL's fixed point.
                    let l = (Int(p[s]) * 19595 + Int(p[s + 1]) * 38470 + Int(p[s + 2]) * 7471 + 0x8000) >> 16
                    out[i] = UInt8(l)
                } else {
                    out[i] = p[s]
                }
            }
        }
        return out
    }

    // MARK: - PIL's bilinear resampling

    static let precisionBits = 32 - 8 - 2

    /// For each output index: the first input index, and the fixed-point weights of the inputs
    /// from there (PIL's precompute_coeffs and normalize_coeffs_8bpc, bilinear filter).
    static func coefficients(inSize: Int, outSize: Int) -> (bounds: [Int], weights: [[Int32]]) {
        let scale = Double(inSize) / Double(outSize)
        let filterscale = max(scale, 1)
        let support = 1.0 * filterscale
        var bounds: [Int] = [], weights: [[Int32]] = []
        for xx in 0..<outSize {
            let center = (Double(xx) + 0.5) * scale
            let ss = 1 / filterscale
            let xmin = max(Int(center - support + 0.5), 0)
            let xmax = min(Int(center + support + 0.5), inSize) - xmin
            var k = [Double](repeating: 0, count: max(xmax, 0))
            var ww = 0.0
            for x in 0..<max(xmax, 0) {
                let t = abs((Double(x + xmin) - center + 0.5) * ss)
                let w = t < 1 ? 1 - t : 0
                k[x] = w
                ww += w
            }
            let one = Double(1 << precisionBits)
            weights.append(k.map { v in
                let n = ww != 0 ? v / ww : v
                return Int32(n < 0 ? (-0.5 + n * one).rounded(.towardZero) : (0.5 + n * one).rounded(.towardZero))
            })
            bounds.append(xmin)
        }
        return (bounds, weights)
    }

    @inline(__always)
    static func clip8(_ v: Int) -> UInt8 {
        let s = v >> precisionBits
        return UInt8(s < 0 ? 0 : s > 255 ? 255 : s)
    }

    /// Resizes h x w x c pixels to toH x toW: horizontal pass, then vertical, as PIL does.
    static func resample(_ px: [UInt8], h: Int, w: Int, c: Int, toH: Int, toW: Int) -> [UInt8] {
        var mid = px
        var midW = w
        if toW != w {
            mid = pass(px, lines: h, along: w, to: toW, channels: c, horizontal: true)
            midW = toW
        }
        guard toH != h else { return mid }
        return pass(mid, lines: midW, along: h, to: toH, channels: c, horizontal: false)
    }

    /// One pass of the resize: along rows (horizontal) or columns, each output value the sum of
    /// its window's inputs times the fixed-point weights, rounded and clipped to 8 bits.
    static func pass(_ src: [UInt8], lines: Int, along n: Int, to m: Int, channels c: Int, horizontal: Bool) -> [UInt8] {
        let (bounds, weights) = coefficients(inSize: n, outSize: m)
        let half = 1 << (precisionBits - 1)
        // Weights flattened: output i's taps are flat[offsets[i] ..< offsets[i + 1]].
        var offsets = [0]
        var flat: [Int32] = []
        for k in weights { flat += k; offsets.append(flat.count) }
        var out = [UInt8](repeating: 0, count: lines * m * c)
        // Horizontal: line y is a row (stride between taps c); vertical: line x is a column
        // (stride between taps lines * c, the row length of the intermediate image).
        let tapStride = horizontal ? c : lines * c
        src.withUnsafeBufferPointer { sp in out.withUnsafeMutableBufferPointer { op in
            flat.withUnsafeBufferPointer { fp in
                let s = sp.baseAddress!, o = op.baseAddress!, f = fp.baseAddress!
                for line in 0..<lines {
                    for i in 0..<m {
                        let taps = offsets[i + 1] - offsets[i], k = f + offsets[i]
                        let first = horizontal ? (line * n + bounds[i]) * c : bounds[i] * lines * c + line * c
                        let dst = horizontal ? (line * m + i) * c : (i * lines + line) * c
                        if c == 3 {
                            // The three channels of a pixel together: one walk over the taps.
                            var (a0, a1, a2) = (half, half, half)
                            var at = first
                            for j in 0..<taps {
                                let wt = Int(k[j])
                                a0 += Int(s[at]) * wt
                                a1 += Int(s[at + 1]) * wt
                                a2 += Int(s[at + 2]) * wt
                                at += tapStride
                            }
                            (o[dst], o[dst + 1], o[dst + 2]) = (clip8(a0), clip8(a1), clip8(a2))
                            continue
                        }
                        for ch in 0..<c {
                            var acc = half
                            var at = first + ch
                            for j in 0..<taps {
                                acc += Int(s[at]) * Int(k[j])
                                at += tapStride
                            }
                            o[dst + ch] = clip8(acc)
                        }
                    }
                }
            }
        } }
        return out
    }
}
