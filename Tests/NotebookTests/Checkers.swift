// Independent checkers for the tests: a JSON Schema (draft-04) validator covering the keywords
// nbformat's schema uses, and a strict well-formedness check of HTML/SVG markup.
import Foundation
@testable import Notebook

/// Validates a JSON value against a draft-04 schema; returns the problems found (empty: valid).
struct SchemaValidator {
    let root: JSON

    func validate(_ v: JSON) -> [String] {
        var problems: [String] = []
        check(v, root, "$", &problems)
        return problems
    }

    func resolve(_ schema: JSON) -> JSON {
        guard let ref = schema["$ref"]?.string else { return schema }
        precondition(ref.hasPrefix("#/"), "only local references are supported")
        var node = root
        for part in ref.dropFirst(2).split(separator: "/") { node = node[String(part)] ?? .null }
        return resolve(node)
    }

    func typeMatches(_ v: JSON, _ t: String) -> Bool {
        switch (t, v) {
        case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("null", .null): return true
        case ("number", .number): return true
        case ("integer", .number(let d)): return d == d.rounded()
        default: return false
        }
    }

    func check(_ v: JSON, _ s: JSON, _ path: String, _ out: inout [String]) {
        let s = resolve(s)
        if let t = s["type"] {
            let types = t.array?.compactMap(\.string) ?? [t.string ?? ""]
            if !types.contains(where: { typeMatches(v, $0) }) { out.append("\(path): type \(types) expected"); return }
        }
        if let e = s["enum"]?.array, !e.contains(v) { out.append("\(path): not one of \(e.map { $0.text(indent: 0) })") }
        if let n = s["not"] {
            var sub: [String] = []
            check(v, n, path, &sub)
            if sub.isEmpty { out.append("\(path): matches a schema it must not") }
        }
        if let options = s["oneOf"]?.array {
            let matching = options.filter { o in var sub: [String] = []; check(v, o, path, &sub); return sub.isEmpty }
            if matching.count != 1 { out.append("\(path): matches \(matching.count) of oneOf's schemas, 1 expected") }
        }
        switch v {
        case .string(let str):
            if let m = s["minLength"]?.number, Double(str.count) < m { out.append("\(path): shorter than \(m)") }
            if let m = s["maxLength"]?.number, Double(str.count) > m { out.append("\(path): longer than \(m)") }
            if let p = s["pattern"]?.string, !matches(str, p) { out.append("\(path): does not match \(p)") }
        case .number(let d):
            if let m = s["minimum"]?.number, d < m { out.append("\(path): below \(m)") }
            if let m = s["maximum"]?.number, d > m { out.append("\(path): above \(m)") }
        case .array(let items):
            if let itemSchema = s["items"] {
                for (i, item) in items.enumerated() { check(item, itemSchema, "\(path)[\(i)]", &out) }
            }
            if case .bool(true)? = s["uniqueItems"] {
                for i in items.indices { for j in items.indices where j > i && items[i] == items[j] { out.append("\(path): items \(i) and \(j) repeat") } }
            }
        case .object(let kv):
            let keys = kv.map(\.0)
            for r in s["required"]?.array?.compactMap(\.string) ?? [] where !keys.contains(r) { out.append("\(path): '\(r)' is required") }
            let props = s["properties"]
            let patterns: [(String, JSON)] = { if case .object(let p)? = s["patternProperties"] { return p }; return [] }()
            for (k, value) in kv {
                var covered = false
                if let ps = props?[k] { check(value, ps, "\(path).\(k)", &out); covered = true }
                for (p, ps) in patterns where matches(k, p) { check(value, ps, "\(path).\(k)", &out); covered = true }
                if !covered, let ap = s["additionalProperties"] {
                    if case .bool(false) = ap { out.append("\(path): property '\(k)' is not allowed") }
                    else if case .object = ap { check(value, ap, "\(path).\(k)", &out) }
                }
            }
        default: break
        }
    }

    func matches(_ s: String, _ pattern: String) -> Bool {
        guard let re = try? NSRegularExpression(pattern: pattern) else { return false }
        return re.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil
    }
}

/// Checks that markup is well formed: every tag closed in order (HTML's void elements
/// excepted), attributes quoted, entities known, raw text only in style. Returns the tag
/// names seen, in order, or throws with the position of the first problem.
enum Markup {
    struct Problem: Error, CustomStringConvertible { let description: String }
    static let void: Set<String> = ["meta", "br", "hr", "img", "input", "link", "wbr", "col", "source"]

    @discardableResult
    static func check(_ text: String, html: Bool = true) throws -> [String] {
        let b = Array(text.utf8)
        var i = 0
        var stack: [String] = []
        var seen: [String] = []
        func fail(_ m: String) -> Problem {
            let line = b[0..<min(i, b.count)].filter { $0 == 0x0A }.count + 1
            return Problem(description: "line \(line): \(m)")
        }
        while i < b.count {
            if b[i] == 0x26 {   // &entity;
                var j = i + 1
                while j < b.count && j - i < 12 && b[j] != 0x3B { j += 1 }
                guard j < b.count, b[j] == 0x3B else { throw fail("bare '&'") }
                let name = String(decoding: b[(i + 1)..<j], as: UTF8.self)
                guard ["amp", "lt", "gt", "quot", "apos"].contains(name) || name.hasPrefix("#") else { throw fail("unknown entity &\(name);") }
                i = j + 1
                continue
            }
            guard b[i] == 0x3C else { i += 1; continue }
            if text.utf8.dropFirst(i).starts(with: "<!--".utf8) {
                guard let r = text.range(of: "-->", range: text.utf8.index(text.startIndex, offsetBy: i)..<text.endIndex) else { throw fail("unclosed comment") }
                i = text.utf8.distance(from: text.startIndex, to: r.upperBound)
                continue
            }
            if i + 1 < b.count && b[i + 1] == 0x21 {   // <!DOCTYPE ...>
                while i < b.count && b[i] != 0x3E { i += 1 }
                i += 1
                continue
            }
            let closing = i + 1 < b.count && b[i + 1] == 0x2F
            var j = i + (closing ? 2 : 1)
            let start = j
            while j < b.count, b[j] != 0x20, b[j] != 0x3E, b[j] != 0x2F, b[j] != 0x0A { j += 1 }
            let name = String(decoding: b[start..<j], as: UTF8.self).lowercased()
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == ":" }) else { throw fail("bad tag name '\(name)'") }
            // Attributes: name="value" or name='value'.
            var selfClosing = false
            while true {
                while j < b.count && (b[j] == 0x20 || b[j] == 0x0A) { j += 1 }
                guard j < b.count else { throw fail("unterminated tag <\(name)") }
                if b[j] == 0x3E { j += 1; break }
                if b[j] == 0x2F && j + 1 < b.count && b[j + 1] == 0x3E { selfClosing = true; j += 2; break }
                let a = j
                while j < b.count, b[j] != 0x3D, b[j] != 0x20, b[j] != 0x3E { j += 1 }
                guard j > a, j < b.count, b[j] == 0x3D else { throw fail("attribute without a quoted value in <\(name)>") }
                j += 1
                guard j < b.count, b[j] == 0x22 || b[j] == 0x27 else { throw fail("unquoted attribute value in <\(name)>") }
                let q = b[j]
                j += 1
                while j < b.count && b[j] != q {
                    guard b[j] != 0x3C else { throw fail("'<' inside an attribute of <\(name)>") }
                    j += 1
                }
                j += 1
            }
            i = j
            if closing {
                guard let top = stack.popLast() else { throw fail("</\(name)> closes nothing") }
                guard top == name else { throw fail("</\(name)> closes <\(top)>") }
            } else {
                seen.append(name)
                if selfClosing || (html && void.contains(name)) { continue }
                if name == "style" || name == "script" {
                    guard let r = text.range(of: "</\(name)>", range: text.utf8.index(text.startIndex, offsetBy: i)..<text.endIndex) else { throw fail("unclosed <\(name)>") }
                    i = text.utf8.distance(from: text.startIndex, to: r.lowerBound)
                }
                stack.append(name)
            }
        }
        guard stack.isEmpty else { throw Problem(description: "unclosed: \(stack)") }
        return seen
    }
}
