// A grid of pictures for a report: images (gray or RGB, values in [0, 1]), each optionally
// under a translucent heatmap and the outline of where the map passes a threshold, as one PNG;
// the titles are SVG text around it (report.html), the PNG alone is the notebook's image/png.
import Foundation
import LesionTensor

public struct ImageGrid {
    public struct Tile {
        /// Planes C x H x W (C = 1 or 3) in [0, 1] (clamped).
        public var pixels: [Float]
        public var channels: Int, height: Int, width: Int
        /// H x W values drawn over the image (nil: none), scaled by `overlayMax`.
        public var overlay: [Float]?
        /// Where overlay > threshold is outlined (nil: no outline).
        public var threshold: Float?
        public var title: String?

        public init(pixels: [Float], channels: Int, height: Int, width: Int, overlay: [Float]? = nil, threshold: Float? = nil, title: String? = nil) {
            (self.pixels, self.channels, self.height, self.width) = (pixels, channels, height, width)
            (self.overlay, self.threshold, self.title) = (overlay, threshold, title)
        }
    }

    public let tiles: [Tile]
    public let cols: Int
    /// Each image pixel becomes scale x scale pixels.
    public let scale: Int
    /// The overlay value drawn at full strength (values at or below 0 are not drawn).
    public let overlayMax: Float

    static let gap = 4, captionBand = 16
    /// Pixels a figure may hold (64 M: 192 MB of RGB before compression).
    public static let maxPixels = 1 << 26

    public init(tiles: [Tile], cols: Int? = nil, scale: Int? = nil) throws {
        guard let first = tiles.first else { throw PlotError.invalid("'images' is empty") }
        for t in tiles {
            guard t.channels == 1 || t.channels == 3, t.height >= 1, t.width >= 1,
                  t.pixels.count == t.channels * t.height * t.width,
                  t.height == first.height, t.width == first.width else {
                throw PlotError.invalid("images must all be {1 or 3, H, W} of one size")
            }
            if let o = t.overlay, o.count != t.height * t.width {
                throw PlotError.invalid("an overlay must be {H, W} of its image's size (\(t.height)x\(t.width))")
            }
        }
        let c = cols ?? min(tiles.count, 10)
        guard c >= 1 else { throw PlotError.invalid("'cols' must be positive, got \(c)") }
        // Small images (28 x 28) are enlarged so that a person can see them: at least 64 pixels.
        let s = scale ?? max(1, (64 + first.height - 1) / first.height)
        guard s >= 1 && s <= 16 else { throw PlotError.invalid("'scale' must be 1 to 16, got \(s)") }
        guard tiles.count * first.height * first.width * s * s <= ImageGrid.maxPixels else {
            throw PlotError.invalid("too many pixels for one figure (\(tiles.count) images of \(first.height * s)x\(first.width * s))")
        }
        self.tiles = tiles
        self.cols = c
        self.scale = s
        overlayMax = tiles.compactMap { $0.overlay?.max() }.max() ?? 1
    }

    var rows: Int { (tiles.count + cols - 1) / cols }
    var tileW: Int { tiles[0].width * scale }
    var tileH: Int { tiles[0].height * scale }
    var hasCaptions: Bool { tiles.contains { $0.title != nil } }
    var cellH: Int { tileH + (hasCaptions ? ImageGrid.captionBand : 0) }
    public var width: Int { cols * tileW + (cols - 1) * ImageGrid.gap }
    public var height: Int { rows * cellH + (rows - 1) * ImageGrid.gap }

    /// RGB pixels of the whole grid (white around the tiles).
    public func pixels() -> [UInt8] {
        let W = width
        var out = [UInt8](repeating: 255, count: W * height * 3)
        for (n, t) in tiles.enumerated() {
            let x0 = (n % cols) * (tileW + ImageGrid.gap), y0 = (n / cols) * (cellH + ImageGrid.gap)
            let rgb = ImageGrid.render(t, overlayMax: overlayMax)
            for y in 0..<tileH {
                for x in 0..<tileW {
                    let src = ((y / scale) * t.width + x / scale) * 3, dst = ((y0 + y) * W + x0 + x) * 3
                    out[dst] = rgb[src]; out[dst + 1] = rgb[src + 1]; out[dst + 2] = rgb[src + 2]
                }
            }
        }
        return out
    }

    /// One tile at its own size: the image, the heatmap blended over it (red to yellow, more
    /// opaque where stronger), the outline of the thresholded region in cyan.
    static func render(_ t: Tile, overlayMax: Float) -> [UInt8] {
        let (h, w) = (t.height, t.width)
        var out = [UInt8](repeating: 0, count: h * w * 3)
        func byte(_ v: Float) -> UInt8 { UInt8((v * 255).rounded()) }
        for p in 0..<(h * w) {
            func unit(_ v: Float) -> Float { v.isNaN ? 0 : max(0, min(1, v)) }
            var rgb: (Float, Float, Float)
            if t.channels == 1 { let v = unit(t.pixels[p]); rgb = (v, v, v) }
            else { rgb = (unit(t.pixels[p]), unit(t.pixels[h * w + p]), unit(t.pixels[2 * h * w + p])) }
            if let o = t.overlay, overlayMax > 0 {
                // Heat from dark red through red and orange to yellow, more opaque where stronger
                // (a unit silent at a pixel leaves the picture as it is).
                let s = max(0, min(1, o[p] / overlayMax))
                if s > 0 {
                    let a = 0.25 + 0.55 * s
                    let heat = (min(1, 0.45 + 1.1 * s), max(0, min(1, 1.6 * s - 0.45)), max(0, 2.2 * s - 1.7))
                    rgb = (rgb.0 * (1 - a) + a * heat.0, rgb.1 * (1 - a) + a * heat.1, rgb.2 * (1 - a) + a * heat.2)
                }
            }
            out[p * 3] = byte(rgb.0); out[p * 3 + 1] = byte(rgb.1); out[p * 3 + 2] = byte(rgb.2)
        }
        if let o = t.overlay, let th = t.threshold {
            func inside(_ y: Int, _ x: Int) -> Bool { y >= 0 && y < h && x >= 0 && x < w && o[y * w + x] > th }
            for y in 0..<h {
                for x in 0..<w where inside(y, x) && !(inside(y - 1, x) && inside(y + 1, x) && inside(y, x - 1) && inside(y, x + 1)) {
                    let p = (y * w + x) * 3
                    out[p] = 0; out[p + 1] = 255; out[p + 2] = 255
                }
            }
        }
        return out
    }

    public func png() throws -> [UInt8] {
        try ImageFile.encodePNG(Image8(width: width, height: height, channels: 3, pixels: pixels()))
    }

    /// The grid as SVG: the PNG embedded, each tile's title under it, the figure's title above.
    public func svg(png: [UInt8], title: String?) -> String {
        let top = title == nil ? 0 : 24
        let W = width, H = height + top
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(W) \(H)\" width=\"\(W)\" height=\"\(H)\" role=\"img\">\n"
        if let title { s += Plot.text(Double(W) / 2, 16, title, size: 13, anchor: "middle", weight: "bold") + "\n" }
        s += "<image x=\"0\" y=\"\(top)\" width=\"\(width)\" height=\"\(height)\" style=\"image-rendering: pixelated\" href=\"data:image/png;base64,\(Data(png).base64EncodedString())\"/>\n"
        for (n, t) in tiles.enumerated() {
            guard let caption = t.title else { continue }
            let x = Double((n % cols) * (tileW + ImageGrid.gap)) + Double(tileW) / 2
            let y = Double(top + (n / cols) * (cellH + ImageGrid.gap) + tileH + 12)
            s += Plot.text(x, y, caption, size: 10, anchor: "middle") + "\n"
        }
        return s + "</svg>"
    }
}
