// A JSON value with a deterministic writer (keys in insertion order, numbers written the
// shortest way that reads back the same) and a reader built on Foundation's parser.
import Foundation

public indirect enum JSON: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSON])
    /// Keys keep the order they were given in (reports read better that way).
    case object([(String, JSON)])

    public static func == (a: JSON, b: JSON) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.number(x), .number(y)): return x == y || (x.isNaN && y.isNaN)
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    public subscript(key: String) -> JSON? {
        if case .object(let kv) = self { return kv.first(where: { $0.0 == key })?.1 }
        return nil
    }

    public var string: String? { if case .string(let s) = self { return s }; return nil }
    public var number: Double? { if case .number(let d) = self { return d }; return nil }
    public var array: [JSON]? { if case .array(let a) = self { return a }; return nil }

    // MARK: writing

    /// JSON text; `indent` > 0 pretty-prints. Non-finite numbers become null (JSON has none).
    public func text(indent: Int = 1) -> String {
        var out = ""
        write(&out, indent: indent, depth: 0)
        return out
    }

    func write(_ out: inout String, indent: Int, depth: Int) {
        let pad = indent > 0 ? "\n" + String(repeating: " ", count: indent * (depth + 1)) : ""
        let end = indent > 0 ? "\n" + String(repeating: " ", count: indent * depth) : ""
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let d): out += JSON.format(d)
        case .string(let s): JSON.quote(s, into: &out)
        case .array(let a):
            if a.isEmpty { out += "[]"; return }
            out += "["
            for (i, v) in a.enumerated() {
                out += i == 0 ? pad : "," + pad
                v.write(&out, indent: indent, depth: depth + 1)
            }
            out += end + "]"
        case .object(let kv):
            if kv.isEmpty { out += "{}"; return }
            out += "{"
            for (i, (k, v)) in kv.enumerated() {
                out += i == 0 ? pad : "," + pad
                JSON.quote(k, into: &out)
                out += indent > 0 ? ": " : ":"
                v.write(&out, indent: indent, depth: depth + 1)
            }
            out += end + "}"
        }
    }

    public static func format(_ d: Double) -> String {
        guard d.isFinite else { return "null" }
        if d == d.rounded() && abs(d) < 1e15 { return String(Int64(d)) }
        return "\(d)"
    }

    static func quote(_ s: String, into out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20:
                out += String(format: "\\u%04x", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        out += "\""
    }

    // MARK: reading

    public enum ParseError: Error, CustomStringConvertible {
        case invalid(String)
        public var description: String { if case .invalid(let m) = self { return m }; return "" }
    }

    public static func parse(_ data: Data) throws -> JSON {
        try parse(String(decoding: data, as: UTF8.self))
    }

    /// Parses JSON text (RFC 8259); object keys keep their order.
    public static func parse(_ text: String) throws -> JSON {
        var p = Parser(bytes: Array(text.utf8))
        p.skip()
        let v = try p.value(depth: 0)
        p.skip()
        guard p.i == p.bytes.count else { throw p.fail("trailing characters") }
        return v
    }

    struct Parser {
        let bytes: [UInt8]
        var i = 0

        func fail(_ what: String) -> ParseError { .invalid("invalid JSON at byte \(i): \(what)") }

        mutating func skip() {
            while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
        }

        mutating func expect(_ word: String) throws {
            let w = Array(word.utf8)
            guard i + w.count <= bytes.count, Array(bytes[i..<i + w.count]) == w else { throw fail("expected \(word)") }
            i += w.count
        }

        mutating func value(depth: Int) throws -> JSON {
            guard depth < 512 else { throw fail("nested too deeply") }
            guard i < bytes.count else { throw fail("unexpected end") }
            switch bytes[i] {
            case 0x6E: try expect("null"); return .null
            case 0x74: try expect("true"); return .bool(true)
            case 0x66: try expect("false"); return .bool(false)
            case 0x22: return .string(try string())
            case 0x5B:
                i += 1; skip()
                var a: [JSON] = []
                if i < bytes.count && bytes[i] == 0x5D { i += 1; return .array(a) }
                while true {
                    skip(); a.append(try value(depth: depth + 1)); skip()
                    guard i < bytes.count else { throw fail("unterminated array") }
                    if bytes[i] == 0x2C { i += 1; continue }
                    if bytes[i] == 0x5D { i += 1; return .array(a) }
                    throw fail("expected , or ]")
                }
            case 0x7B:
                i += 1; skip()
                var kv: [(String, JSON)] = []
                if i < bytes.count && bytes[i] == 0x7D { i += 1; return .object(kv) }
                while true {
                    skip()
                    guard i < bytes.count, bytes[i] == 0x22 else { throw fail("expected a key") }
                    let k = try string(); skip()
                    guard i < bytes.count, bytes[i] == 0x3A else { throw fail("expected :") }
                    i += 1; skip()
                    kv.append((k, try value(depth: depth + 1))); skip()
                    guard i < bytes.count else { throw fail("unterminated object") }
                    if bytes[i] == 0x2C { i += 1; continue }
                    if bytes[i] == 0x7D { i += 1; return .object(kv) }
                    throw fail("expected , or }")
                }
            default:
                let start = i
                while i < bytes.count, "+-0123456789.eE".utf8.contains(bytes[i]) { i += 1 }
                guard i > start, let d = Double(String(decoding: bytes[start..<i], as: UTF8.self)) else { throw fail("unexpected character") }
                return .number(d)
            }
        }

        mutating func hex4() throws -> UInt32 {
            guard let v = hex4(at: i) else { throw fail("bad \\u escape") }
            i += 4
            return v
        }

        /// The four hex digits at j, if they are there (no sign, no fewer).
        func hex4(at j: Int) -> UInt32? {
            guard j + 4 <= bytes.count else { return nil }
            var v: UInt32 = 0
            for b in bytes[j..<j + 4] {
                switch b {
                case 0x30...0x39: v = v << 4 | UInt32(b - 0x30)
                case 0x41...0x46: v = v << 4 | UInt32(b - 0x41 + 10)
                case 0x61...0x66: v = v << 4 | UInt32(b - 0x61 + 10)
                default: return nil
                }
            }
            return v
        }

        mutating func string() throws -> String {
            i += 1
            var out = [UInt8]()
            while true {
                guard i < bytes.count else { throw fail("unterminated string") }
                let c = bytes[i]; i += 1
                if c == 0x22 { break }
                guard c == 0x5C else { out.append(c); continue }
                guard i < bytes.count else { throw fail("unterminated string") }
                let e = bytes[i]; i += 1
                switch e {
                case 0x22, 0x5C, 0x2F: out.append(e)
                case 0x62: out.append(0x08)
                case 0x66: out.append(0x0C)
                case 0x6E: out.append(0x0A)
                case 0x72: out.append(0x0D)
                case 0x74: out.append(0x09)
                case 0x75:
                    var u = try hex4()
                    // A high surrogate joins the low one that follows; alone (or before anything
                    // else) it is U+FFFD, and what follows is read as itself.
                    if (0xD800..<0xDC00).contains(u), i + 6 <= bytes.count, bytes[i] == 0x5C, bytes[i + 1] == 0x75,
                       let lo = hex4(at: i + 2), (0xDC00..<0xE000).contains(lo) {
                        i += 6
                        u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00)
                    }
                    out.append(contentsOf: Array(String(Unicode.Scalar(u).map(Character.init) ?? "\u{FFFD}").utf8))
                default: throw fail("bad escape")
                }
            }
            return String(decoding: out, as: UTF8.self)
        }
    }
}
