// Plots drawn as SVG: scatter (with an optional least-squares line and the correlation in the
// title), line, bar, histogram and heatmap. Sizes are fixed in SVG units and scale to the page
// (viewBox); text never overlaps for up to ~20 category labels (they turn 45 degrees first).
import Foundation

public enum PlotError: Error, CustomStringConvertible {
    case invalid(String)
    public var description: String { if case .invalid(let m) = self { return m }; return "" }
}

public struct Labels: Sendable {
    public var title: String?
    public var xlabel: String?
    public var ylabel: String?
    public init(title: String? = nil, xlabel: String? = nil, ylabel: String? = nil) {
        self.title = title; self.xlabel = xlabel; self.ylabel = ylabel
    }
}

public enum Plot {
    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
    static let font = "font-family=\"-apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif\""

    // MARK: - public plots

    public static func scatter(x: [Double], y: [Double], trend: Bool = false, labels: Labels) throws -> String {
        guard x.count == y.count else { throw PlotError.invalid("x has \(x.count) values but y has \(y.count)") }
        guard !x.isEmpty else { throw PlotError.invalid("nothing to plot (x and y are empty)") }
        var title = labels.title ?? ""
        let pts = zip(x, y).filter { $0.0.isFinite && $0.1.isFinite }
        if pts.count >= 3, let r = pearson(pts.map(\.0), pts.map(\.1)) {
            title += (title.isEmpty ? "" : " ") + "(r = \(String(format: "%.3f", r)), n = \(pts.count))"
        }
        var frame = Frame(xr: range(x), yr: range(y), labels: Labels(title: title, xlabel: labels.xlabel, ylabel: labels.ylabel))
        var body = ""
        for (a, b) in pts {
            body += "<circle cx=\"\(f(frame.px(a)))\" cy=\"\(f(frame.py(b)))\" r=\"3.2\" fill=\"\(palette[0])\" fill-opacity=\"0.6\"/>\n"
        }
        if trend, pts.count >= 2, let (slope, icept) = leastSquares(pts.map(\.0), pts.map(\.1)) {
            let (x0, x1) = (frame.xr.lo, frame.xr.hi)
            body += "<line x1=\"\(f(frame.px(x0)))\" y1=\"\(f(frame.py(slope * x0 + icept)))\" x2=\"\(f(frame.px(x1)))\" y2=\"\(f(frame.py(slope * x1 + icept)))\" stroke=\"\(palette[1])\" stroke-width=\"1.6\" clip-path=\"url(#\(frame.clipID))\"/>\n"
        }
        return frame.svg(body)
    }

    public static func line(x: [Double]?, series: [(String, [Double])], labels: Labels) throws -> String {
        guard !series.isEmpty, let n = series.first?.1.count, n > 0 else { throw PlotError.invalid("nothing to plot (y is empty)") }
        for (name, s) in series where s.count != n {
            throw PlotError.invalid("series '\(name)' has \(s.count) values, the first has \(n)")
        }
        let xs = x ?? (1...n).map(Double.init)
        guard xs.count == n else { throw PlotError.invalid("x has \(xs.count) values but y has \(n)") }
        var frame = Frame(xr: range(xs), yr: range(series.flatMap(\.1)), labels: labels)
        var body = ""
        for (k, (_, s)) in series.enumerated() {
            let c = palette[k % palette.count]
            var d = ""
            var pen = false
            for (a, b) in zip(xs, s) {
                guard a.isFinite && b.isFinite else { pen = false; continue }
                d += (pen ? "L" : "M") + "\(f(frame.px(a))),\(f(frame.py(b)))"
                pen = true
            }
            body += "<path d=\"\(d)\" fill=\"none\" stroke=\"\(c)\" stroke-width=\"1.8\"/>\n"
            if n <= 40 {
                for (a, b) in zip(xs, s) where a.isFinite && b.isFinite {
                    body += "<circle cx=\"\(f(frame.px(a)))\" cy=\"\(f(frame.py(b)))\" r=\"2.6\" fill=\"\(c)\"/>\n"
                }
            }
        }
        if series.count > 1 || !series[0].0.isEmpty { frame.legend = series.map(\.0) }
        return frame.svg(body)
    }

    public static func bar(labels names: [String], values: [Double], labels: Labels) throws -> String {
        guard names.count == values.count else { throw PlotError.invalid("x has \(names.count) labels but y has \(values.count) values") }
        guard !values.isEmpty else { throw PlotError.invalid("nothing to plot (y is empty)") }
        var yr = range(values + [0])
        yr = Span(min(yr.lo, 0), max(yr.hi, 0))
        var frame = Frame(xr: Span(0, Double(values.count)), yr: yr, labels: labels, pad: false)
        frame.xr = Span(0, Double(values.count))
        frame.categories = names
        var body = ""
        let w = Double(frame.plotW) / Double(values.count)
        for (i, v) in values.enumerated() where v.isFinite {
            let y0 = frame.py(0), y1 = frame.py(v)
            body += "<rect x=\"\(f(frame.px(Double(i)) + w * 0.12))\" y=\"\(f(min(y0, y1)))\" width=\"\(f(w * 0.76))\" height=\"\(f(abs(y1 - y0)))\" fill=\"\(palette[0])\"><title>\(xml(names[i])): \(num(v))</title></rect>\n"
        }
        return frame.svg(body)
    }

    public static func hist(values: [Double], bins: Int, labels: Labels) throws -> String {
        let v = values.filter(\.isFinite)
        guard !v.isEmpty else { throw PlotError.invalid("nothing to plot (no finite values)") }
        guard bins >= 1 && bins <= 1000 else { throw PlotError.invalid("bins must be in 1...1000, got \(bins)") }
        var lo = v.min()!, hi = v.max()!
        if lo == hi { lo -= 0.5; hi += 0.5 }
        var counts = [Int](repeating: 0, count: bins)
        for a in v { counts[min(bins - 1, Int((a - lo) / (hi - lo) * Double(bins)))] += 1 }
        var frame = Frame(xr: Span(lo, hi), yr: Span(0, Double(counts.max()!)), labels: Labels(title: labels.title, xlabel: labels.xlabel, ylabel: labels.ylabel ?? "count"), pad: false)
        var body = ""
        let bw = (hi - lo) / Double(bins)
        for (i, c) in counts.enumerated() where c > 0 {
            let a = lo + Double(i) * bw
            let x0 = frame.px(a), x1 = frame.px(a + bw)
            body += "<rect x=\"\(f(x0 + 0.5))\" y=\"\(f(frame.py(Double(c))))\" width=\"\(f(max(0.5, x1 - x0 - 1)))\" height=\"\(f(frame.py(0) - frame.py(Double(c))))\" fill=\"\(palette[0])\"><title>[\(num(a)), \(num(a + bw))): \(c)</title></rect>\n"
        }
        return frame.svg(body)
    }

    /// values: rows x cols, row-major. A diverging scale (blue-white-red, centred on 0) when the
    /// values have both signs, a sequential one (viridis-like) otherwise.
    public static func heatmap(values: [Double], rows: Int, cols: Int, rowLabels: [String]?, colLabels: [String]?, labels: Labels) throws -> String {
        guard rows >= 1 && cols >= 1 && values.count == rows * cols else { throw PlotError.invalid("values must be a non-empty rows x cols matrix") }
        if let r = rowLabels, r.count != rows { throw PlotError.invalid("rows has \(r.count) labels for \(rows) rows") }
        if let c = colLabels, c.count != cols { throw PlotError.invalid("cols has \(c.count) labels for \(cols) columns") }
        let finite = values.filter(\.isFinite)
        var lo = finite.min() ?? 0, hi = finite.max() ?? 1
        let diverging = lo < 0 && hi > 0
        if diverging { let m = max(-lo, hi); lo = -m; hi = m }
        if lo == hi { hi = lo + 1 }
        // Layout: cells fill ~560 wide; row labels left, column labels below (turned if long).
        let rowText = rowLabels ?? (rows <= 40 ? (1...rows).map(String.init) : [])
        let colText = colLabels ?? (1...cols).map(String.init)
        let leftW = max(30, min(160, Int(Double(rowText.map(\.count).max() ?? 2) * 6.6) + 14)) + (labels.ylabel == nil ? 0 : 20)
        let cellW = max(6.0, min(60.0, 560.0 / Double(cols)))
        let cellH = max(3.0, min(26.0, 460.0 / Double(rows)))
        let gridW = cellW * Double(cols), gridH = cellH * Double(rows)
        let colMax = colText.map(\.count).max() ?? 1
        let turn = Double(colMax) * 6.6 > cellW - 4
        let bottom = (turn ? Int(Double(colMax) * 4.9) + 18 : 22) + (labels.xlabel == nil ? 8 : 28)
        let top = labels.title == nil ? 14 : 40
        let width = leftW + Int(gridW) + 90
        let height = top + Int(gridH) + bottom
        var s = header(width: width, height: height)
        if let t = labels.title { s += text(Double(width) / 2, 24, t, size: 15, anchor: "middle", weight: "600") }
        let x0 = Double(leftW), y0 = Double(top)
        for r in 0..<rows {
            for c in 0..<cols {
                let v = values[r * cols + c]
                let color = v.isFinite ? (diverging ? divergingColor((v - lo) / (hi - lo)) : sequentialColor((v - lo) / (hi - lo))) : "#dddddd"
                let name = (rowLabels?[r] ?? "\(r + 1)") + " / " + (colLabels?[c] ?? "\(c + 1)")
                s += "<rect x=\"\(f(x0 + Double(c) * cellW))\" y=\"\(f(y0 + Double(r) * cellH))\" width=\"\(f(cellW + 0.3))\" height=\"\(f(cellH + 0.3))\" fill=\"\(color)\"><title>\(xml(name)): \(num(v))</title></rect>\n"
            }
        }
        // Row labels: all when they fit, else every k-th.
        if !rowText.isEmpty {
            let step = max(1, Int((12.0 / cellH).rounded(.up)))
            for r in stride(from: 0, to: rows, by: step) {
                s += text(x0 - 5, y0 + (Double(r) + 0.5) * cellH + 4, rowText[r], size: 11, anchor: "end")
            }
        } else {
            let step = max(1, Int((14.0 / cellH).rounded(.up)))
            for r in stride(from: 0, to: rows, by: max(step, rows / 10)) {
                s += text(x0 - 5, y0 + (Double(r) + 0.5) * cellH + 4, "\(r + 1)", size: 11, anchor: "end")
            }
        }
        for c in 0..<cols {
            let cx = x0 + (Double(c) + 0.5) * cellW
            if turn {
                s += "<text x=\"\(f(cx))\" y=\"\(f(y0 + gridH + 12))\" font-size=\"11\" text-anchor=\"end\" transform=\"rotate(-45 \(f(cx)) \(f(y0 + gridH + 12)))\" fill=\"#333\">\(xml(colText[c]))</text>\n"
            } else {
                s += text(cx, y0 + gridH + 15, colText[c], size: 11, anchor: "middle")
            }
        }
        if let xl = labels.xlabel { s += text(x0 + gridW / 2, Double(height) - 8, xl, size: 12.5, anchor: "middle") }
        if let yl = labels.ylabel {
            s += "<text x=\"14\" y=\"\(f(y0 + gridH / 2))\" font-size=\"12.5\" text-anchor=\"middle\" transform=\"rotate(-90 14 \(f(y0 + gridH / 2)))\" fill=\"#333\">\(xml(yl))</text>\n"
        }
        // Colour scale.
        let bx = x0 + gridW + 24, bh = min(gridH, 240.0)
        let gid = uid()
        s += "<defs><linearGradient id=\"scale\(gid)\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">"
        for k in 0...10 {
            let t = Double(k) / 10
            s += "<stop offset=\"\(f(t))\" stop-color=\"\(diverging ? divergingColor(t) : sequentialColor(t))\"/>"
        }
        s += "</linearGradient></defs>\n"
        s += "<rect x=\"\(f(bx))\" y=\"\(f(y0))\" width=\"14\" height=\"\(f(bh))\" fill=\"url(#scale\(gid))\" stroke=\"#999\" stroke-width=\"0.5\"/>\n"
        for t in ticks(Span(lo, hi), count: 5) {
            let ty = y0 + bh - (t - lo) / (hi - lo) * bh
            s += "<line x1=\"\(f(bx + 14))\" y1=\"\(f(ty))\" x2=\"\(f(bx + 18))\" y2=\"\(f(ty))\" stroke=\"#666\"/>\n"
            s += text(bx + 21, ty + 4, num(t), size: 10.5, anchor: "start")
        }
        return s + "</svg>"
    }

    // MARK: - frame: axes, ticks, labels, legend

    struct Frame {
        var xr: Span
        var yr: Span
        var labels: Labels
        /// Category labels under the x axis (bars); set before drawing, since long labels take
        /// room from the plot.
        var categories: [String]? = nil {
            didSet { layOutCategories() }
        }
        /// Whether the category labels are turned 45 degrees.
        var turned = false
        var legend: [String]? = nil
        let width = 680
        let plotH = 320
        var left = 70, right = 24, top = 44, bottom = 50
        let clipID = "c\(Plot.uid())"

        init(xr: Span, yr: Span, labels: Labels, pad: Bool = true) {
            self.labels = labels
            // Data plots keep their data's range plus 3% (ticks fall inside); bars and
            // histograms round out to the next tick.
            self.xr = pad ? xr.nice(round: false).padded() : xr.nice()
            self.yr = pad ? yr.nice(round: false).padded() : yr.nice()
            if labels.title == nil || labels.title!.isEmpty { top = 20 }
        }

        var plotW: Int { width - left - right }
        var height: Int { top + plotH + bottom }
        func px(_ x: Double) -> Double { Double(left) + (x - xr.lo) / (xr.hi - xr.lo) * Double(plotW) }
        func py(_ y: Double) -> Double { Double(top + plotH) - (y - yr.lo) / (yr.hi - yr.lo) * Double(plotH) }

        /// Category labels: horizontal when they fit their slot, else turned 45 degrees; the
        /// bottom margin grows to hold them, and the left one so that the first label, which
        /// reaches left of its bar, is not cut off.
        mutating func layOutCategories() {
            guard let cats = categories, !cats.isEmpty else { return }
            let longest = Double(cats.map(\.count).max() ?? 1) * 6.6
            turned = longest > Double(plotW) / Double(cats.count) - 4
            guard turned else { return }
            bottom = min(170, Int(longest * 0.72) + 30) + (labels.xlabel == nil ? 0 : 18)
            // A turned label of length L ends at its slot's centre and reaches 0.71 L to the left.
            for _ in 0..<2 {
                let slot = Double(plotW) / Double(cats.count)
                left = min(300, max(70, Int((longest * 0.71 - slot / 2).rounded(.up)) + 8))
            }
        }

        mutating func svg(_ body: String) -> String {
            let turn = turned
            var s = Plot.header(width: width, height: height)
            let h = height
            let pt = Double(top), pb = Double(top + plotH), pl = Double(left), pr = Double(left + plotW)
            s += "<defs><clipPath id=\"\(clipID)\"><rect x=\"\(left)\" y=\"\(top)\" width=\"\(plotW)\" height=\"\(plotH)\"/></clipPath></defs>\n"
            if let t = labels.title, !t.isEmpty { s += Plot.text(Double(width) / 2, 26, t, size: 15, anchor: "middle", weight: "600") }
            // Grid and y ticks.
            for t in Plot.ticks(yr, count: 6) {
                let y = py(t)
                s += "<line x1=\"\(Plot.f(pl))\" y1=\"\(Plot.f(y))\" x2=\"\(Plot.f(pr))\" y2=\"\(Plot.f(y))\" stroke=\"#e6e9ec\"/>\n"
                s += Plot.text(pl - 6, y + 4, Plot.num(t), size: 11, anchor: "end")
            }
            if let cats = categories {
                let slot = Double(plotW) / Double(cats.count)
                for (i, c) in cats.enumerated() {
                    let cx = pl + (Double(i) + 0.5) * slot
                    if turn {
                        s += "<text x=\"\(Plot.f(cx))\" y=\"\(Plot.f(pb + 14))\" font-size=\"11\" text-anchor=\"end\" transform=\"rotate(-45 \(Plot.f(cx)) \(Plot.f(pb + 14)))\" fill=\"#333\">\(Plot.xml(c))</text>\n"
                    } else {
                        s += Plot.text(cx, pb + 17, c, size: 11, anchor: "middle")
                    }
                }
            } else {
                for t in Plot.ticks(xr, count: 7) {
                    let x = px(t)
                    s += "<line x1=\"\(Plot.f(x))\" y1=\"\(Plot.f(pt))\" x2=\"\(Plot.f(x))\" y2=\"\(Plot.f(pb))\" stroke=\"#f0f2f4\"/>\n"
                    s += Plot.text(x, pb + 17, Plot.num(t), size: 11, anchor: "middle")
                }
            }
            s += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(plotW)\" height=\"\(plotH)\" fill=\"none\" stroke=\"#9aa4ad\"/>\n"
            s += "<g clip-path=\"url(#\(clipID))\">\n" + body + "</g>\n"
            if let xl = labels.xlabel { s += Plot.text(pl + Double(plotW) / 2, Double(h) - 10, xl, size: 12.5, anchor: "middle") }
            if let yl = labels.ylabel {
                s += "<text x=\"16\" y=\"\(Plot.f(pt + Double(plotH) / 2))\" font-size=\"12.5\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(Plot.f(pt + Double(plotH) / 2)))\" fill=\"#333\">\(Plot.xml(yl))</text>\n"
            }
            if let names = legend {
                let w = Double(names.map(\.count).max() ?? 4) * 6.6 + 34
                let lx = pr - w - 8, ly = pt + 8
                s += "<rect x=\"\(Plot.f(lx))\" y=\"\(Plot.f(ly))\" width=\"\(Plot.f(w))\" height=\"\(names.count * 17 + 8)\" fill=\"#fff\" fill-opacity=\"0.85\" stroke=\"#ccd\"/>\n"
                for (k, n) in names.enumerated() {
                    let y = ly + 14 + Double(k) * 17
                    s += "<line x1=\"\(Plot.f(lx + 6))\" y1=\"\(Plot.f(y - 4))\" x2=\"\(Plot.f(lx + 24))\" y2=\"\(Plot.f(y - 4))\" stroke=\"\(Plot.palette[k % Plot.palette.count])\" stroke-width=\"2.2\"/>\n"
                    s += Plot.text(lx + 29, y, n.isEmpty ? "series \(k + 1)" : n, size: 11, anchor: "start")
                }
            }
            return s + "</svg>"
        }
    }

    // MARK: - helpers

    nonisolated(unsafe) static var counter = 0
    static let lock = NSLock()
    /// A per-process unique id for clip paths and gradients (several plots share one page).
    static func uid() -> Int {
        lock.lock(); defer { lock.unlock() }
        counter += 1
        return counter
    }

    static func header(width: Int, height: Int) -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" \(font) font-size=\"12\" role=\"img\">\n<rect width=\"\(width)\" height=\"\(height)\" fill=\"#ffffff\"/>\n"
    }

    static func text(_ x: Double, _ y: Double, _ s: String, size: Double, anchor: String, weight: String? = nil) -> String {
        "<text x=\"\(f(x))\" y=\"\(f(y))\" font-size=\"\(f(size))\" text-anchor=\"\(anchor)\"\(weight.map { " font-weight=\"\($0)\"" } ?? "") fill=\"#333\">\(xml(s))</text>\n"
    }

    static func xml(_ s: String) -> String { HTML.escape(s) }

    static func f(_ d: Double) -> String {
        let r = (d * 10).rounded() / 10
        return r == r.rounded() ? String(Int(r)) : String(r)
    }

    /// A tick label: few digits, no float noise (0.30000000000000004 -> 0.3).
    static func num(_ d: Double) -> String {
        if !d.isFinite { return d.isNaN ? "NaN" : (d > 0 ? "inf" : "-inf") }
        if d == 0 { return "0" }
        let a = abs(d)
        if a >= 1e5 || a < 1e-3 { return String(format: "%.2g", d) }
        var s = String(format: "%.4f", d)
        while s.contains(".") && (s.hasSuffix("0") || s.hasSuffix(".")) { s.removeLast() }
        return s == "-0" ? "0" : s
    }

    struct Span {
        var lo: Double, hi: Double
        init(_ lo: Double, _ hi: Double) { self.lo = lo; self.hi = hi }
        /// Widened by 3% on each side (marks on the edge stay whole).
        func padded() -> Span {
            let d = (hi - lo) * 0.03
            return Span(lo - d, hi + d)
        }
        /// Widened to include round tick values at both ends (and never empty).
        func nice(round: Bool = true) -> Span {
            var lo = self.lo, hi = self.hi
            if !lo.isFinite || !hi.isFinite { return Span(0, 1) }
            if lo == hi { lo -= abs(lo) > 0 ? abs(lo) * 0.1 : 0.5; hi += abs(hi) > 0 ? abs(hi) * 0.1 : 0.5 }
            if !round { return Span(lo, hi) }
            let step = Plot.step(Span(lo, hi), count: 6)
            return Span((lo / step).rounded(.down) * step, (hi / step).rounded(.up) * step)
        }
    }

    static func range(_ v: [Double]) -> Span {
        let fin = v.filter(\.isFinite)
        guard let lo = fin.min(), let hi = fin.max() else { return Span(0, 1) }
        return Span(lo, hi)
    }

    /// A step of 1, 2 or 5 times a power of ten giving about `count` ticks.
    static func step(_ r: Span, count: Int) -> Double {
        let raw = (r.hi - r.lo) / Double(max(count - 1, 1))
        let p = pow(10, (log10(raw)).rounded(.down))
        let m = raw / p
        return (m < 1.5 ? 1 : m < 3 ? 2 : m < 7 ? 5 : 10) * p
    }

    static func ticks(_ r: Span, count: Int) -> [Double] {
        guard r.hi > r.lo else { return [r.lo] }
        let s = step(r, count: count)
        var t = (r.lo / s).rounded(.up) * s
        var out: [Double] = []
        while t <= r.hi + s * 1e-9 && out.count < 50 {
            out.append(abs(t) < s * 1e-9 ? 0 : t)
            t += s
        }
        return out
    }

    static func pearson(_ x: [Double], _ y: [Double]) -> Double? {
        let n = Double(x.count)
        let mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for (a, b) in zip(x, y) { sxy += (a - mx) * (b - my); sxx += (a - mx) * (a - mx); syy += (b - my) * (b - my) }
        guard sxx > 0 && syy > 0 else { return nil }
        return sxy / (sxx * syy).squareRoot()
    }

    static func leastSquares(_ x: [Double], _ y: [Double]) -> (Double, Double)? {
        let n = Double(x.count)
        let mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
        var sxy = 0.0, sxx = 0.0
        for (a, b) in zip(x, y) { sxy += (a - mx) * (b - my); sxx += (a - mx) * (a - mx) }
        guard sxx > 0 else { return nil }
        let slope = sxy / sxx
        return (slope, my - slope * mx)
    }

    static func hex(_ r: Double, _ g: Double, _ b: Double) -> String {
        func c(_ v: Double) -> String { String(format: "%02x", Int((max(0, min(1, v)) * 255).rounded())) }
        return "#" + c(r) + c(g) + c(b)
    }

    static func interpolate(_ stops: [(Double, Double, Double)], _ t: Double) -> String {
        let t = max(0, min(1, t.isFinite ? t : 0)) * Double(stops.count - 1)
        let i = min(Int(t), stops.count - 2)
        let u = t - Double(i)
        let a = stops[i], b = stops[i + 1]
        return hex(a.0 + (b.0 - a.0) * u, a.1 + (b.1 - a.1) * u, a.2 + (b.2 - a.2) * u)
    }

    /// Perceptually ordered dark-blue -> teal -> yellow (after matplotlib's viridis anchors).
    static func sequentialColor(_ t: Double) -> String {
        interpolate([(0.267, 0.005, 0.329), (0.230, 0.322, 0.546), (0.128, 0.567, 0.551), (0.369, 0.789, 0.383), (0.993, 0.906, 0.144)], t)
    }

    static func divergingColor(_ t: Double) -> String {
        interpolate([(0.130, 0.400, 0.674), (0.573, 0.773, 0.871), (0.969, 0.969, 0.969), (0.957, 0.647, 0.510), (0.698, 0.094, 0.169)], t)
    }
}
