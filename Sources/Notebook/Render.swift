// The run's report as one self-contained HTML page and as a Jupyter notebook (nbformat 4.5).
import Foundation
import Ink
import LesionTensor

public enum HTML {
    public static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Markdown as HTML (Ink), safe to open: see SafeHTML.swift.
    public static func markdown(_ text: String) -> String {
        safeMarkdown(text) { MarkdownParser().html(from: $0) }
    }

    /// A number as a table shows it: integers plainly, others with 4 significant digits.
    public static func formatNumber(_ d: Double) -> String {
        if !d.isFinite { return d.isNaN ? "NaN" : (d > 0 ? "inf" : "-inf") }
        if d == d.rounded() && abs(d) < 1e15 { return String(Int64(d)) }
        let a = abs(d)
        if a >= 1e-3 && a < 1e6 {
            var s = String(format: "%.4g", d)
            if s.contains("e") { s = String(format: "%.4f", d) }
            return s
        }
        return String(format: "%.3g", d)
    }

    public static func cellText(_ v: JSON) -> String {
        switch v {
        case .null: return ""
        case .bool(let b): return b ? "true" : "false"
        case .number(let d): return formatNumber(d)
        case .string(let s): return s
        default: return v.text(indent: 0)
        }
    }

    public static func table(_ t: Table) -> String {
        var h = "<table>\n"
        if let c = t.caption { h += "<caption>\(escape(c))</caption>\n" }
        // A column is numeric (right-aligned) when every non-null value in it is a number.
        let numeric = t.columns.indices.map { j in
            t.rows.allSatisfy { r in
                guard j < r.count else { return true }
                switch r[j] { case .number, .null: return true; default: return false }
            }
        }
        h += "<thead><tr>" + t.columns.enumerated().map { j, c in
            "<th\(numeric[j] ? " class=\"num\" style=\"text-align:right\"" : "")>\(escape(c))</th>"
        }.joined() + "</tr></thead>\n<tbody>\n"
        for r in t.rows {
            h += "<tr>" + t.columns.indices.map { j in
                let v = j < r.count ? r[j] : .null
                return "<td\(numeric[j] ? " class=\"num\" style=\"text-align:right\"" : "")>\(escape(cellText(v)))</td>"
            }.joined() + "</tr>\n"
        }
        return h + "</tbody>\n</table>"
    }

    /// The table as aligned plain text (terminal and text/plain).
    public static func plainTable(_ t: Table) -> String {
        let cells = [t.columns] + t.rows.map { r in t.columns.indices.map { j in j < r.count ? cellText(r[j]) : "" } }
        let widths = t.columns.indices.map { j in cells.map { $0[j].count }.max() ?? 0 }
        var lines: [String] = []
        if let c = t.caption { lines.append(c) }
        for (i, row) in cells.enumerated() {
            lines.append(row.enumerated().map { j, s in
                let pad = String(repeating: " ", count: widths[j] - s.count)
                if i > 0, case .number? = t.rows[i - 1].indices.contains(j) ? t.rows[i - 1][j] : nil { return pad + s }
                return s + pad
            }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression))
            if i == 0 { lines.append(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")) }
        }
        return lines.joined(separator: "\n")
    }

    static let luaKeywords: Set<String> = ["and", "break", "do", "else", "elseif", "end", "false", "for",
        "function", "goto", "if", "in", "local", "nil", "not", "or", "repeat", "return", "then", "true",
        "until", "while"]

    /// Lua source with comments, strings and keywords marked for the stylesheet.
    public static func highlight(_ code: String) -> String {
        let b = Array(code.utf8)
        var out = ""
        var i = 0
        func span(_ cls: String, _ from: Int, _ to: Int) {
            out += "<span class=\"\(cls)\">" + escape(String(decoding: b[from..<to], as: UTF8.self)) + "</span>"
        }
        while i < b.count {
            let c = b[i]
            if c == 0x2D && i + 1 < b.count && b[i + 1] == 0x2D {
                var j = i + 2
                if let n = CellScript.longBracketLevel(b, at: j) {
                    j = CellScript.findClose(b, from: j + n + 2, level: n) ?? b.count
                } else {
                    while j < b.count && b[j] != 0x0A { j += 1 }
                }
                span("c", i, j); i = j
            } else if c == 0x22 || c == 0x27 {
                var j = i + 1
                while j < b.count && b[j] != c && b[j] != 0x0A { j += b[j] == 0x5C ? 2 : 1 }
                j = min(j + 1, b.count)
                span("s", i, j); i = j
            } else if c == 0x5B, let n = CellScript.longBracketLevel(b, at: i) {
                let j = CellScript.findClose(b, from: i + n + 2, level: n) ?? b.count
                span("s", i, j); i = j
            } else if (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F {
                var j = i
                while j < b.count, (b[j] >= 0x30 && b[j] <= 0x39) || (b[j] >= 0x41 && b[j] <= 0x5A) || (b[j] >= 0x61 && b[j] <= 0x7A) || b[j] == 0x5F { j += 1 }
                let w = String(decoding: b[i..<j], as: UTF8.self)
                if luaKeywords.contains(w) { span("k", i, j) } else { out += w }
                i = j
            } else if c >= 0x30 && c <= 0x39 {
                var j = i
                while j < b.count, (b[j] >= 0x30 && b[j] <= 0x39) || b[j] == 0x2E || b[j] == 0x78 || (b[j] >= 0x61 && b[j] <= 0x66) { j += 1 }
                span("n", i, j); i = j
            } else {
                // Copy one UTF-8 scalar (escape only the characters HTML cares about).
                var j = i + 1
                while j < b.count && b[j] & 0xC0 == 0x80 { j += 1 }
                out += escape(String(decoding: b[i..<j], as: UTF8.self))
                i = j
            }
        }
        return out
    }
}

// MARK: - HTML page

extension RunRecord {
    static let css = """
        :root { color-scheme: light; }
        body { font: 16px/1.55 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
               color: #1d2328; background: #fff; margin: 0; }
        main { max-width: 980px; margin: 0 auto; padding: 24px 28px 80px; }
        h1 { font-size: 1.7em; margin: 0.2em 0 0.1em; }
        header .sub { color: #5b6670; font-size: 0.92em; }
        header table { margin: 10px 0; }
        section.cell { margin: 26px 0; }
        .cell-head { font-size: 0.8em; color: #7a858f; font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
                     border-bottom: 1px solid #e4e8eb; margin-bottom: 6px; display: flex; justify-content: space-between; }
        .cell-head b { color: #33414d; }
        pre { font: 13.5px/1.45 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; margin: 6px 0;
              padding: 10px 12px; overflow-x: auto; border-radius: 4px; }
        pre.code { background: #f5f7f9; border: 1px solid #e4e8eb; }
        pre.out { background: #fff; border-left: 3px solid #c9d3db; }
        pre.error { background: #fdf1f1; border-left: 3px solid #d0453b; color: #8a1c14; }
        .k { color: #8b2fc9; } .s { color: #1c7c3a; } .c { color: #7a858f; font-style: italic; } .n { color: #b25c00; }
        table { border-collapse: collapse; margin: 10px 0; font-size: 0.9em; font-variant-numeric: tabular-nums; }
        caption { caption-side: top; text-align: left; font-weight: 600; padding-bottom: 4px; }
        th, td { padding: 4px 10px; border-bottom: 1px solid #e4e8eb; text-align: left; vertical-align: top; }
        th { border-bottom: 2px solid #c9d3db; background: #fafbfc; }
        .num { text-align: right; }
        figure { margin: 12px 0; }
        figure svg { max-width: 100%; height: auto; display: block; }
        .status-failed { color: #d0453b; font-weight: 600; }
        .status-notrun { color: #a0a8b0; }
        .md h1, .md h2, .md h3 { margin: 0.8em 0 0.3em; }
        .md code { background: #f2f4f6; padding: 1px 4px; border-radius: 3px; font-size: 0.92em; }
        nav ol { padding-left: 1.4em; columns: 2; font-size: 0.9em; }
        """

    public func html() -> String {
        var h = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        h += "<title>\(HTML.escape(scriptName)) · Lesion report</title>\n<style>\n\(RunRecord.css)\n</style>\n</head>\n<body>\n<main>\n"
        h += header()
        for (i, c) in cells.enumerated() { h += cellHTML(i, c) }
        h += "</main>\n</body>\n</html>\n"
        return HTML.withPolicy(h)
    }

    func header() -> String {
        var h = "<header>\n<h1>\(HTML.escape(scriptName))</h1>\n"
        let status = failed ? "<span class=\"status-failed\">failed</span>" : "completed"
        let total = end.map { String(format: "%.2f s", $0.timeIntervalSince(start)) } ?? "—"
        h += "<div class=\"sub\">\(HTML.escape(scriptPath)) · \(status) in \(total) · Lesion \(HTML.escape(version)) · \(threads) thread\(threads == 1 ? "" : "s") · started \(HTML.escape(RunRecord.iso(start).string ?? ""))</div>\n"
        if !parameters.isEmpty {
            h += HTML.table(Table(columns: ["parameter", "value", "type", "set by"],
                                  rows: parameters.map { [.string($0.name), .string(HTML.cellText($0.value)), .string($0.type), .string($0.overridden ? "--set" : "default")] },
                                  caption: "Parameters"))
        }
        let titled = cells.enumerated().filter { $0.element.cell.title != nil || $0.element.cell.kind == .code }
        if !titled.isEmpty {
            h += HTML.table(Table(columns: ["cell", "line", "status", "seconds"],
                                  rows: titled.map { i, c in
                                      [.string("\(i + 1). " + (c.cell.title ?? c.cell.kind.rawValue)),
                                       .number(Double(c.cell.markerLine ?? c.cell.firstLine)),
                                       .string(c.failed ? "failed" : c.ran ? "ok" : "not run"),
                                       c.duration.map { .number(($0 * 100).rounded() / 100) } ?? .null]
                                  }, caption: "Cells"))
        }
        return h + "</header>\n"
    }

    func cellHTML(_ i: Int, _ c: CellRun) -> String {
        var h = "<section class=\"cell\" id=\"cell-\(i + 1)\">\n"
        if c.cell.kind == .markdown {
            return h + "<div class=\"md\">\n\(HTML.markdown(c.cell.source))\n</div>\n</section>\n"
        }
        let title = c.cell.title.map { "<b>\(HTML.escape($0))</b>" } ?? "<b>cell \(i + 1)</b>"
        let status = c.failed ? "<span class=\"status-failed\">failed</span>" : !c.ran ? "<span class=\"status-notrun\">not run</span>" : c.duration.map { String(format: "%.2f s", $0) } ?? ""
        h += "<div class=\"cell-head\"><span>\(title) · line \(c.cell.firstLine)</span><span>\(status)</span></div>\n"
        if !c.cell.isEmpty { h += "<pre class=\"code\"><code>\(HTML.highlight(c.cell.source))</code></pre>\n" }
        for o in c.outputs {
            switch o {
            case .text(let t): h += "<pre class=\"out\">\(HTML.escape(t.hasSuffix("\n") ? String(t.dropLast()) : t))</pre>\n"
            case .markdown(let m): h += "<div class=\"md\">\n\(HTML.markdown(m))\n</div>\n"
            case .table(let t): h += HTML.table(t) + "\n"
            case .svg(let s, _), .image(_, let s, _): h += "<figure>\n\(s)\n</figure>\n"
            case .html(let s, _): h += s + "\n"
            case .error(let m, let tb): h += "<pre class=\"error\">\(HTML.escape(m))\(tb.isEmpty ? "" : "\n\n" + HTML.escape(tb))</pre>\n"
            }
        }
        return h + "</section>\n"
    }
}

// MARK: - Jupyter notebook

extension RunRecord {
    /// Lines as nbformat stores multi-line strings: each line keeps its "\n" but the last.
    static func lines(_ s: String) -> JSON {
        var parts = s.components(separatedBy: "\n")
        if parts.last == "" { parts.removeLast() }
        let n = parts.count
        return .array(parts.enumerated().map { i, p in .string(i + 1 < n || s.hasSuffix("\n") ? p + "\n" : p) })
    }

    public func ipynb() -> JSON {
        var count = 0
        let cellsJSON: [JSON] = cells.enumerated().compactMap { i, c in
            let id: JSON = .string("cell-\(i + 1)")
            if c.cell.kind == .markdown {
                return .object([("cell_type", .string("markdown")), ("id", id), ("metadata", .object([])), ("source", RunRecord.lines(c.cell.source))])
            }
            var outputs: [JSON] = []
            for o in c.outputs {
                switch o {
                case .text(let t):
                    outputs.append(.object([("output_type", .string("stream")), ("name", .string("stdout")), ("text", RunRecord.lines(t))]))
                case .markdown(let m):
                    outputs.append(display(["text/markdown": RunRecord.lines(m), "text/plain": RunRecord.lines(m)]))
                case .table(let t):
                    outputs.append(display(["text/html": RunRecord.lines(HTML.table(t)), "text/plain": RunRecord.lines(HTML.plainTable(t))]))
                case .svg(let s, let title):
                    outputs.append(display(["image/svg+xml": RunRecord.lines(s), "text/plain": RunRecord.lines("<plot\(title.map { ": " + $0 } ?? "")>")]))
                case .html(let s, let title):
                    outputs.append(display(["text/html": RunRecord.lines(s), "text/plain": RunRecord.lines("<\(title ?? "html")>")]))
                case .image(let png, _, let title):
                    outputs.append(display(["image/png": .string(Data(png).base64EncodedString()),
                                            "text/plain": RunRecord.lines("<images\(title.map { ": " + $0 } ?? "")>")]))
                case .error(let m, let tb):
                    outputs.append(.object([("output_type", .string("error")), ("ename", .string("LuaError")),
                                            ("evalue", .string(m)), ("traceback", .array(([m] + tb.components(separatedBy: "\n")).filter { !$0.isEmpty }.map { .string($0) }))]))
                }
            }
            var meta: [(String, JSON)] = []
            if let t = c.cell.title { meta.append(("title", .string(t))) }
            if let d = c.duration { meta.append(("lesion", .object([("duration_s", .number((d * 1000).rounded() / 1000))]))) }
            var exec: JSON = .null
            if c.ran { count += 1; exec = .number(Double(count)) }
            return .object([("cell_type", .string("code")), ("execution_count", exec), ("id", id), ("metadata", .object(meta)),
                            ("outputs", .array(outputs)), ("source", RunRecord.lines(c.cell.source))])
        }
        return .object([
            ("cells", .array(cellsJSON)),
            ("metadata", .object([
                ("kernelspec", .object([("display_name", .string("Lesion (Lua 5.4)")), ("language", .string("lua")), ("name", .string("lesion"))])),
                ("language_info", .object([("file_extension", .string(".lua")), ("mimetype", .string("text/x-lua")), ("name", .string("lua")), ("version", .string("5.4"))])),
                ("lesion", .object([("version", .string(version)), ("script", .string(scriptPath)), ("parameters", parametersJSON)])),
            ])),
            ("nbformat", .number(4)),
            ("nbformat_minor", .number(5)),
        ])
    }

    func display(_ data: [String: JSON]) -> JSON {
        .object([("output_type", .string("display_data")), ("data", .object(data.keys.sorted().map { ($0, data[$0]!) })), ("metadata", .object([]))])
    }
}

// MARK: - run folder

extension RunRecord {
    /// Writes report.html, report.ipynb, results.json and manifest.json into dir (each atomically).
    public func write(to dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try RunRecord.atomicWrite(html(), to: dir + "/report.html")
        try RunRecord.atomicWrite(ipynb().text(indent: 1) + "\n", to: dir + "/report.ipynb")
        try RunRecord.atomicWrite(resultsJSON.text(indent: 2) + "\n", to: dir + "/results.json")
        try RunRecord.atomicWrite(manifestJSON.text(indent: 2) + "\n", to: dir + "/manifest.json")
    }

    public static func atomicWrite(_ text: String, to path: String) throws {
        try AtomicFile.write(path: path) { (f) throws(TensorError) in
            let bytes = Array(text.utf8)
            guard fwrite(bytes, 1, bytes.count, f) == bytes.count else {
                throw TensorError(.io, "cannot write '\(path)': \(String(cString: strerror(errno)))")
            }
        }
    }
}
