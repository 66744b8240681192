// Reports are opened by people other than their authors: a report is safe to open whatever its
// script wrote. Markdown may not carry raw HTML (it is shown as text), links may not run code
// (javascript: and other schemes become "#"), and every page carries a Content-Security-Policy
// that lets only its own inline scripts run (by hash), images only from data: URLs, and nothing
// load from elsewhere.
import Foundation
import LesionTensor

extension HTML {
    /// Markdown as HTML, with raw HTML outside code shown as text and unsafe link targets removed.
    static func safeMarkdown(_ text: String, render: (String) -> String) -> String {
        removeUnsafeURLs(render(escapeRawHTML(text)))
    }

    /// `<` outside code spans and fenced code blocks as `&lt;`, so Markdown's renderer passes no
    /// tag of the author's through (code keeps its `<`: the renderer escapes it there).
    static func escapeRawHTML(_ text: String) -> String {
        var out = "", fence: String?
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if n > 0 { out += "\n" }
            let trimmed = line.drop { $0 == " " }
            if let f = fence {
                out += line
                if trimmed.hasPrefix(f) { fence = nil }
                continue
            }
            if trimmed.hasPrefix("```") || trimmed.hasPrefix("~~~") {
                fence = String(trimmed.prefix(3))
                out += line
                continue
            }
            if line.hasPrefix("    ") || line.hasPrefix("\t") { out += line; continue }   // an indented code block
            // Code spans: a run of n backticks up to the next run of exactly n.
            let chars = Array(line)
            var i = 0
            while i < chars.count {
                if chars[i] == "`" {
                    var n = 0
                    while i + n < chars.count && chars[i + n] == "`" { n += 1 }
                    var j = i + n, close: Int?
                    while j < chars.count {
                        if chars[j] == "`" {
                            var m = 0
                            while j + m < chars.count && chars[j + m] == "`" { m += 1 }
                            if m == n { close = j; break }
                            j += m
                        } else { j += 1 }
                    }
                    if let c = close {
                        out += String(chars[i..<(c + n)])
                        i = c + n
                    } else {
                        out += String(chars[i..<(i + n)])
                        i += n
                    }
                    continue
                }
                out += chars[i] == "<" ? "&lt;" : String(chars[i])
                i += 1
            }
        }
        return out
    }

    /// Whether a link or image target may stay: web and mail links, fragments, relative paths,
    /// and data: images.
    static func isSafeURL(_ raw: String) -> Bool {
        let url = raw.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        guard let colon = url.firstIndex(of: ":") else { return true }      // relative or a fragment
        if let slash = url.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }), slash < colon { return true }
        let scheme = url[..<colon]
        if ["http", "https", "mailto"].contains(scheme) { return true }
        return scheme == "data" && url.hasPrefix("data:image/") && !url.hasPrefix("data:image/svg")
    }

    /// `href="..."` and `src="..."` whose target is not safe, as "#".
    static func removeUnsafeURLs(_ html: String) -> String {
        var out = html
        for attribute in ["href=\"", "src=\""] {
            var result = "", rest = out[...]
            while let r = rest.range(of: attribute) {
                result += rest[..<r.upperBound]
                let value = rest[r.upperBound...].prefix { $0 != "\"" }
                result += isSafeURL(decodeEntities(String(value))) ? String(value) : "#"
                rest = rest[value.endIndex...]
            }
            out = result + rest
        }
        return out
    }

    /// The few entities a renderer writes into attributes, decoded (so that "java&#115;cript:"
    /// is seen for what a browser reads).
    static func decodeEntities(_ s: String) -> String {
        guard s.contains("&") else { return s }
        var out = "", i = s.startIndex
        while i < s.endIndex {
            if s[i] == "&", let semi = s[i...].firstIndex(of: ";"), s.distance(from: i, to: semi) <= 10 {
                let name = s[s.index(after: i)..<semi]
                var scalar: Unicode.Scalar?
                switch name {
                case "amp": scalar = "&"
                case "lt": scalar = "<"
                case "gt": scalar = ">"
                case "quot": scalar = "\""
                case "colon": scalar = ":"
                default:
                    if name.hasPrefix("#x") || name.hasPrefix("#X") { scalar = UInt32(name.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init) }
                    else if name.hasPrefix("#") { scalar = UInt32(name.dropFirst()).flatMap(Unicode.Scalar.init) }
                }
                if let c = scalar {
                    out.unicodeScalars.append(c)
                    i = s.index(after: semi)
                    continue
                }
            }
            out.append(s[i])
            i = s.index(after: i)
        }
        // Browsers ignore tabs and newlines inside a scheme ("java\tscript:").
        return out.filter { $0 != "\t" && $0 != "\n" && $0 != "\r" }
    }

    /// The page's Content-Security-Policy: its own inline scripts (by SHA-256 of each), inline
    /// styles, data: images; nothing else, from nowhere else.
    static func contentSecurityPolicy(for page: String) -> String {
        var hashes: [String] = []
        var rest = page[...]
        while let open = rest.range(of: "<script>"), let close = rest[open.upperBound...].range(of: "</script>") {
            var h = SHA256()
            h.update(String(rest[open.upperBound..<close.lowerBound]))
            let digest = "'sha256-" + Data(h.finalize()).base64EncodedString() + "'"
            if !hashes.contains(digest) { hashes.append(digest) }
            rest = rest[close.upperBound...]
        }
        let scripts = hashes.isEmpty ? "'none'" : hashes.joined(separator: " ")
        return "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src \(scripts); base-uri 'none'; form-action 'none'"
    }

    /// A page with its Content-Security-Policy added after `<meta charset="utf-8">`.
    public static func withPolicy(_ page: String) -> String {
        let marker = "<meta charset=\"utf-8\">\n"
        guard let r = page.range(of: marker) else { return page }
        let meta = "<meta http-equiv=\"Content-Security-Policy\" content=\"\(contentSecurityPolicy(for: page))\">\n"
        return page.replacingCharacters(in: r, with: marker + meta)
    }
}
