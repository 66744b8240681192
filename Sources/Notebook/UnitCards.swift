// Unit cards: one card per unit of a layer (its top images with heatmaps, its best concepts,
// its attributes and the accuracy each class loses when it is ablated), under a table of all
// units that sorts by any column and links to each card. Plain HTML and inline SVG with small
// PNG thumbnails, so that a page of 512 cards stays light.
import Foundation

public struct UnitCard {
    /// The unit's number (1-based).
    public var unit: Int
    /// Its top images as one PNG (a row of thumbnails), with the PNG's size.
    public var picture: (png: [UInt8], width: Int, height: Int)?
    /// Best concepts first, with their IoU.
    public var concepts: [(String, Double)]
    /// Named numbers shown on the card (attributes, drops).
    public var values: [(String, Double)]
    /// The accuracy each class loses when the unit is ablated, by class name.
    public var classDrop: [(String, Double)]

    public init(unit: Int, picture: (png: [UInt8], width: Int, height: Int)? = nil, concepts: [(String, Double)] = [],
                values: [(String, Double)] = [], classDrop: [(String, Double)] = []) {
        (self.unit, self.picture, self.concepts, self.values, self.classDrop) = (unit, picture, concepts, values, classDrop)
    }
}

public enum UnitCards {
    /// The block for `layer`: a summary table (columns: unit, the cards' values in order, the
    /// best concept) and the cards.
    public static func html(layer: String, cards: [UnitCard], note: String? = nil) -> String {
        let id = "units-" + slug(layer)
        var names: [String] = []
        for c in cards { for (n, _) in c.values where !names.contains(n) { names.append(n) } }
        let hasConcepts = cards.contains { !$0.concepts.isEmpty }
        var h = "<div class=\"units\" id=\"\(id)\">\n"
        h += "<h3>Units of \(HTML.escape(layer))</h3>\n"
        if let note { h += "<p class=\"note\">\(HTML.escape(note))</p>\n" }
        // The table: click a heading to sort by it (numbers as numbers), again to reverse.
        h += "<div class=\"scroll\"><table class=\"sortable\"><thead><tr><th>unit</th>"
        for n in names { h += "<th class=\"num\">\(HTML.escape(n))</th>" }
        if hasConcepts { h += "<th>concept</th><th class=\"num\">IoU</th>" }
        h += "</tr></thead><tbody>\n"
        for c in cards {
            h += "<tr><td data-v=\"\(c.unit)\"><a href=\"#\(id)-\(c.unit)\">\(c.unit)</a></td>"
            for n in names {
                let v = c.values.first { $0.0 == n }?.1
                h += "<td class=\"num\" data-v=\"\(v.map { $0.isFinite ? String($0) : "" } ?? "")\">\(v.map(number) ?? "")</td>"
            }
            if hasConcepts {
                let best = c.concepts.first
                h += "<td>\(HTML.escape(best?.0 ?? ""))</td><td class=\"num\" data-v=\"\(best.map { String($0.1) } ?? "")\">\(best.map { number($0.1) } ?? "")</td>"
            }
            h += "</tr>\n"
        }
        h += "</tbody></table></div>\n<div class=\"cards\">\n"
        for c in cards { h += card(c, id: "\(id)-\(c.unit)") }
        return h + "</div>\n</div>\n" + script
    }

    static func card(_ c: UnitCard, id: String) -> String {
        var h = "<div class=\"card\" id=\"\(id)\"><div class=\"card-title\">unit \(c.unit)</div>\n"
        if let p = c.picture {
            h += "<img loading=\"lazy\" width=\"\(p.width)\" height=\"\(p.height)\" alt=\"top images of unit \(c.unit)\" src=\"data:image/png;base64,\(Data(p.png).base64EncodedString())\">\n"
        }
        if !c.concepts.isEmpty {
            h += "<div class=\"concepts\">" + c.concepts.map { "\(HTML.escape($0.0)) <span>\(number($0.1))</span>" }.joined(separator: " · ") + "</div>\n"
        }
        if !c.values.isEmpty {
            h += "<dl>" + c.values.map { "<dt>\(HTML.escape($0.0))</dt><dd>\(number($0.1))</dd>" }.joined() + "</dl>\n"
        }
        if !c.classDrop.isEmpty { h += bars(c.classDrop) }
        return h + "</div>\n"
    }

    /// A small bar chart of the accuracy each class loses (negative: gains), bars from a
    /// shared zero line, the class and value in each bar's tooltip.
    static func bars(_ drops: [(String, Double)]) -> String {
        let w = 220.0, h = 64.0, top = 12.0, bottom = 4.0
        let finite = drops.map(\.1).filter(\.isFinite)
        let hi = max(finite.max() ?? 0, 0), lo = min(finite.min() ?? 0, 0)
        let span = max(hi - lo, 1e-9)
        let zero = top + (hi / span) * (h - top - bottom)
        let slot = w / Double(max(drops.count, 1))
        var s = "<svg class=\"drops\" viewBox=\"0 0 \(Int(w)) \(Int(h))\" width=\"\(Int(w))\" height=\"\(Int(h))\" role=\"img\">"
        s += "<text x=\"0\" y=\"9\" font-size=\"9\" fill=\"#5b6670\">accuracy lost per class (max \(number(hi)))</text>"
        for (i, (name, v)) in drops.enumerated() where v.isFinite {
            let y = top + ((hi - max(v, 0)) / span) * (h - top - bottom)
            let height = abs(v) / span * (h - top - bottom)
            s += "<rect x=\"\(fmt(Double(i) * slot + 1))\" y=\"\(fmt(v >= 0 ? y : zero))\" width=\"\(fmt(max(slot - 2, 1)))\" height=\"\(fmt(max(height, 0.5)))\" fill=\"\(v >= 0 ? "#c0392b" : "#2e86c1")\"><title>\(HTML.escape(name)): \(number(v))</title></rect>"
        }
        s += "<line x1=\"0\" y1=\"\(fmt(zero))\" x2=\"\(Int(w))\" y2=\"\(fmt(zero))\" stroke=\"#9aa4ad\" stroke-width=\"0.5\"/></svg>\n"
        return s
    }

    static func number(_ v: Double) -> String {
        guard v.isFinite else { return v.isNaN ? "NaN" : (v > 0 ? "inf" : "-inf") }
        if v == 0 { return "0" }
        return abs(v) >= 1000 || abs(v) < 0.001 ? String(format: "%.3g", v) : String(format: "%.4g", v)
    }

    static func fmt(_ v: Double) -> String { String(format: "%.1f", v) }

    static func slug(_ s: String) -> String {
        String(s.map { $0.isLetter || $0.isNumber || $0 == "-" ? $0 : "-" })
    }

    /// Sorting for the summary tables (defined once per page) and the cards' style.
    static let script = """
        <style>
        .units .cards { display: flex; flex-wrap: wrap; gap: 10px; }
        .units .card { border: 1px solid #e4e8eb; border-radius: 5px; padding: 8px; width: max-content; max-width: 100%; font-size: 0.85em; }
        .units .card:target { border-color: #d0453b; box-shadow: 0 0 0 2px #f5c6c2; }
        .units .card-title { font-weight: 600; margin-bottom: 4px; }
        .units .card img { display: block; image-rendering: pixelated; }
        .units .concepts { margin: 4px 0; } .units .concepts span { color: #5b6670; }
        .units dl { display: grid; grid-template-columns: auto auto; gap: 0 10px; margin: 4px 0; }
        .units dt { color: #5b6670; } .units dd { margin: 0; text-align: right; font-variant-numeric: tabular-nums; }
        .units table.sortable th { cursor: pointer; }
        .units .note { color: #5b6670; font-size: 0.9em; }
        .units .scroll { overflow: auto; max-height: 420px; }
        </style>
        <script>
        if (!window.lesionSort) {
          window.lesionSort = function (th) {
            var table = th.closest("table"), i = Array.prototype.indexOf.call(th.parentNode.children, th);
            var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
            var dir = th.getAttribute("data-dir") === "desc" ? 1 : -1;
            th.setAttribute("data-dir", dir === 1 ? "asc" : "desc");
            rows.sort(function (a, b) {
              var x = a.cells[i].getAttribute("data-v"), y = b.cells[i].getAttribute("data-v");
              var p = x === null ? a.cells[i].textContent : x, q = y === null ? b.cells[i].textContent : y;
              var u = parseFloat(p), v = parseFloat(q);
              if (!isNaN(u) && !isNaN(v)) return dir * (u - v);
              if (isNaN(u) !== isNaN(v)) return isNaN(u) ? 1 : -1;
              return dir * String(p).localeCompare(String(q));
            });
            rows.forEach(function (r) { body.appendChild(r); });
          };
          document.addEventListener("click", function (e) {
            var th = e.target.closest && e.target.closest("table.sortable th");
            if (th) window.lesionSort(th);
          });
        }
        </script>

        """
}
