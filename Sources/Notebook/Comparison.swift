// The comparison of a parameter grid's variants (`lesion sweep --grid`): one row per variant,
// its parameters and every report.value side by side, as an HTML page linking each variant's
// report and as CSV.
import Foundation

public struct Variant {
    public var settings: [(String, String)]
    /// The variant's run folder, relative to the comparison page.
    public var folder: String
    public var status: Int32
    public var seconds: Double
    /// results.json's "values" (empty when the run wrote none).
    public var values: [(String, JSON)]

    public init(settings: [(String, String)], folder: String, status: Int32, seconds: Double, values: [(String, JSON)]) {
        self.settings = settings; self.folder = folder; self.status = status; self.seconds = seconds; self.values = values
    }

    public var name: String { settings.map { "\($0.0)=\($0.1)" }.joined(separator: ",") }
}

public enum Comparison {
    /// Value names in order of first appearance over the variants.
    static func valueNames(_ vs: [Variant]) -> [String] {
        var names: [String] = []
        for v in vs { for (k, _) in v.values where !names.contains(k) { names.append(k) } }
        return names
    }

    static func keys(_ vs: [Variant]) -> [String] {
        var keys: [String] = []
        for v in vs { for (k, _) in v.settings where !keys.contains(k) { keys.append(k) } }
        return keys
    }

    /// A cell's value: numbers as numbers, strings as they are, arrays and objects as JSON text.
    static func cell(_ v: JSON?) -> JSON {
        guard let v else { return .null }
        switch v {
        case .number, .string, .bool, .null: return v
        default: return .string(v.text(indent: 0))
        }
    }

    public static func table(_ vs: [Variant]) -> Table {
        let keys = keys(vs), names = valueNames(vs)
        let rows: [[JSON]] = vs.map { v in
            keys.map { k in .string(v.settings.first { $0.0 == k }?.1 ?? "") }
                + names.map { n in cell(v.values.first { $0.0 == n }?.1) }
                + [.string(v.status == 0 ? "ok" : "failed (\(v.status))"), .number((v.seconds * 10).rounded() / 10)]
        }
        return Table(columns: keys + names + ["status", "seconds"], rows: rows)
    }

    public static func csv(_ vs: [Variant]) -> String {
        let t = table(vs)
        func field(_ s: String) -> String {
            s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        func text(_ v: JSON) -> String {
            switch v {
            case .null: return ""
            case .number(let d): return JSON.format(d)
            default: return HTML.cellText(v)
            }
        }
        var lines = [(t.columns + ["report"]).map(field).joined(separator: ",")]
        for (row, v) in zip(t.rows, vs) { lines.append((row.map(text) + [v.folder + "/report.html"]).map(field).joined(separator: ",")) }
        return lines.joined(separator: "\n") + "\n"
    }

    public static func html(script: String, _ vs: [Variant]) -> String {
        let t = table(vs)
        var h = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        h += "<title>\(HTML.escape(script)) · Lesion comparison</title>\n<style>\n\(RunRecord.css)\n</style>\n</head>\n<body>\n<main>\n"
        h += "<header>\n<h1>\(HTML.escape(script)): \(vs.count) variants</h1>\n"
        let failed = vs.filter { $0.status != 0 }.count
        h += "<div class=\"sub\">\(failed == 0 ? "all variants completed" : "<span class=\"status-failed\">\(failed) failed</span>") · comparison.csv holds the same table</div>\n</header>\n"
        // The table with a link to each variant's report in its first column.
        var rows = "<table>\n<thead><tr><th>report</th>" + t.columns.map { "<th>\(HTML.escape($0))</th>" }.joined() + "</tr></thead>\n<tbody>\n"
        for (row, v) in zip(t.rows, vs) {
            rows += "<tr><td><a href=\"\(HTML.escape(v.folder))/report.html\">\(HTML.escape(v.name))</a></td>"
            for cell in row {
                let num: Bool = { if case .number = cell { return true }; return false }()
                rows += "<td\(num ? " class=\"num\"" : "")>\(HTML.escape(HTML.cellText(cell)))</td>"
            }
            rows += "</tr>\n"
        }
        h += rows + "</tbody>\n</table>\n"
        // One bar chart per numeric value, when there are at least two variants.
        if vs.count >= 2 {
            for n in valueNames(vs) {
                let nums = vs.map { v -> Double? in v.values.first { $0.0 == n }?.1.number }
                guard nums.allSatisfy({ $0 != nil }), let svg = try? Plot.bar(labels: vs.map(\.name), values: nums.map { $0! }, labels: Labels(title: n)) else { continue }
                h += "<figure>\n\(svg)\n</figure>\n"
            }
        }
        return HTML.withPolicy(h + "</main>\n</body>\n</html>\n")
    }
}
