// Concepts labelled per pixel, as Network Dissection's Broden data labels them: categories
// (shape, color, texture) whose concepts each cover some pixels of an image. `data.concepts`
// generates such a set for CPU work: one coloured shape over a textured, coloured background.
import LesionTensor

/// Per-pixel concept labels of the samples of a source: in each category a pixel carries at
/// most one concept (a shape's pixel is "circle" and "red"; a background pixel "stripes" and
/// "blue").
public final class ConceptLabels: @unchecked Sendable {
    /// All concepts, category by category.
    public let names: [String]
    /// Each category's name and its concepts (indices into `names`).
    public let categories: [(name: String, concepts: Range<Int>)]
    public let height: Int, width: Int
    /// maps[c][i * height * width + p]: category c's label at pixel p of source sample i; 0 is
    /// none, k the category's k-th concept.
    public let maps: [[UInt8]]

    public init(categories: [(name: String, concepts: [String])], height: Int, width: Int, maps: [[UInt8]]) throws(TensorError) {
        guard maps.count == categories.count, let n = maps.first?.count, maps.allSatisfy({ $0.count == n }),
              height >= 1, width >= 1, n % (height * width) == 0 else {
            throw TensorError(.shape, "concept label maps must be one per category, each samples x \(height) x \(width)")
        }
        var names: [String] = [], cats: [(String, Range<Int>)] = []
        for (c, cat) in categories.enumerated() {
            guard cat.concepts.count <= 255 else { throw TensorError(.value, "category '\(cat.name)' has more than 255 concepts") }
            guard maps[c].allSatisfy({ Int($0) <= cat.concepts.count }) else {
                throw TensorError(.value, "a label of category '\(cat.name)' is past its \(cat.concepts.count) concepts")
            }
            cats.append((cat.name, names.count..<(names.count + cat.concepts.count)))
            names += cat.concepts
        }
        self.names = names
        self.categories = cats
        (self.height, self.width, self.maps) = (height, width, maps)
    }

    public var samples: Int { maps.first.map { $0.count / (height * width) } ?? 0 }

    /// Source sample i's masks: [concepts, H, W] of 0 and 1.
    public func masks(_ i: Int) throws(TensorError) -> Tensor {
        guard i >= 0 && i < samples else { throw TensorError(.index, "sample \(i + 1) is out of range (\(samples) samples)") }
        let hw = height * width
        let t = try Tensor(zeros: [names.count, height, width])
        for (c, cat) in categories.enumerated() {
            let m = maps[c]
            for p in 0..<hw where m[i * hw + p] > 0 {
                t.data[(cat.concepts.lowerBound + Int(m[i * hw + p]) - 1) * hw + p] = 1
            }
        }
        return t
    }
}

extension DataFiles {
    public static let conceptShapes = ["circle", "square", "triangle", "ring", "cross"]
    public static let conceptColors = ["red", "green", "blue", "yellow", "white", "gray"]
    public static let conceptTextures = ["plain", "stripes", "checker", "dots", "grain"]
    static let palette: [(Float, Float, Float)] = [(0.9, 0.15, 0.1), (0.15, 0.75, 0.2), (0.15, 0.3, 0.9), (0.95, 0.85, 0.1),
                                                   (0.95, 0.95, 0.95), (0.5, 0.5, 0.5)]

    /// A generated, Broden-like set of n RGB images (size x size): one shape (circle, square,
    /// triangle, ring or cross) in one colour over a background of another colour and a texture
    /// (plain, stripes, checker, dots, grain), position, size and pattern scale varying, a little
    /// noise. Every pixel is labelled: shape pixels with their shape and colour, the others with
    /// the background's texture and colour. Sample i's class is its shape, i mod 5 (a classifier
    /// can be trained on it); deterministic by seed.
    public static func concepts(n: Int, size: Int = 32, seed: UInt64 = 0) throws(TensorError) -> Dataset {
        guard n >= 1 else { throw TensorError(.value, "n must be positive, got \(n)") }
        guard n <= 1 << 20 else { throw TensorError(.value, "n must be at most \(1 << 20), got \(n)") }
        guard size >= 8 && size <= 256 else { throw TensorError(.value, "size must be in 8...256, got \(size)") }
        let hw = size * size
        let x = try Tensor(zeros: [n, 3, size, size])
        var labels = [Int32](repeating: 0, count: n)
        var shapeMap = [UInt8](repeating: 0, count: n * hw), colorMap = shapeMap, textureMap = shapeMap
        let s = Float(size)
        for i in 0..<n {
            let shape = i % 5
            labels[i] = Int32(shape)
            let r = RandomStream(seed: seed, stream: UInt64(i) &+ 0x636f_6e63_0000)
            var w: UInt64 = 0
            func u(_ lo: Float, _ hi: Float) -> Float {
                defer { w += 1 }
                return lo + (hi - lo) * Float(r.word(w) >> 8) * 0x1p-24
            }
            func pick(_ k: Int) -> Int { min(k - 1, Int(u(0, Float(k)))) }
            let ink = pick(conceptColors.count)
            var paper = pick(conceptColors.count - 1)
            if paper >= ink { paper += 1 }
            let texture = pick(conceptTextures.count)
            let cx = s / 2 + u(-s / 6, s / 6), cy = s / 2 + u(-s / 6, s / 6)
            let rad = u(s / 5, s / 3.2)
            let period = max(2, u(s / 12, s / 6))
            let (fr, fg, fb) = palette[ink], (br, bg, bb) = palette[paper]
            for py in 0..<size {
                for px in 0..<size {
                    let dx = Float(px) + 0.5 - cx, dy = Float(py) + 0.5 - cy
                    let d = (dx * dx + dy * dy).squareRoot()
                    let on: Bool
                    switch shape {
                    case 0: on = d <= rad
                    case 1: on = abs(dx) <= rad * 0.85 && abs(dy) <= rad * 0.85
                    case 2: on = dy >= -rad && dy <= rad * 0.8 && abs(dx) <= (dy + rad) * 0.6
                    case 3: on = d <= rad && d >= rad * 0.55
                    default: on = (abs(dx) <= rad / 3 && abs(dy) <= rad) || (abs(dy) <= rad / 3 && abs(dx) <= rad)
                    }
                    let p = py * size + px
                    var (cr, cg, cb): (Float, Float, Float)
                    if on {
                        (cr, cg, cb) = (fr, fg, fb)
                        shapeMap[i * hw + p] = UInt8(shape + 1)
                        colorMap[i * hw + p] = UInt8(ink + 1)
                    } else {
                        // The texture modulates the background's brightness.
                        let fx = Float(px) / period, fy = Float(py) / period
                        let shade: Float
                        switch texture {
                        case 0: shade = 1
                        case 1: shade = Int(fy.rounded(.down)) % 2 == 0 ? 1 : 0.55
                        case 2: shade = (Int(fx.rounded(.down)) + Int(fy.rounded(.down))) % 2 == 0 ? 1 : 0.55
                        case 3:
                            let ex = fx - fx.rounded(.down) - 0.5, ey = fy - fy.rounded(.down) - 0.5
                            shade = ex * ex + ey * ey <= 0.09 ? 0.55 : 1
                        default: shade = u(0.55, 1)
                        }
                        (cr, cg, cb) = (br * shade, bg * shade, bb * shade)
                        colorMap[i * hw + p] = UInt8(paper + 1)
                        textureMap[i * hw + p] = UInt8(texture + 1)
                    }
                    let img = x.data + i * 3 * hw
                    img[p] = min(1, max(0, cr + 0.04 * u(-1, 1)))
                    img[hw + p] = min(1, max(0, cg + 0.04 * u(-1, 1)))
                    img[2 * hw + p] = min(1, max(0, cb + 0.04 * u(-1, 1)))
                }
            }
        }
        let labelsOfPixels = try ConceptLabels(categories: [("shape", conceptShapes), ("color", conceptColors), ("texture", conceptTextures)],
                                               height: size, width: size, maps: [shapeMap, colorMap, textureMap])
        return try Dataset(source: TensorSource(x, concepts: labelsOfPixels), labels: labels, classNames: conceptShapes,
                           name: "concepts(n=\(n),size=\(size),seed=\(seed))")
    }
}
