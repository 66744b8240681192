// Notebook: the Lua-free half of notebook runs: cells, run records, the cache, run folders, and
// the report (HTML, ipynb, JSON) and plot (SVG) renderers. LuaHost binds it; nothing here
// imports Lua.
//
// Cells use jupytext's "percent" format for Lua: a line `-- %%` (an optional title may follow)
// starts a code cell, `-- %% [markdown]` a markdown cell whose `-- ` comment lines are Markdown.
// A marker counts only where Lua would read a comment: never inside a string or a long comment.
import Foundation

public struct Cell: Equatable, Sendable {
    public enum Kind: String, Sendable { case code, markdown }
    public var kind: Kind
    /// The text after `%%` (without the `[markdown]` tag), nil when empty.
    public var title: String?
    /// 1-based line of the marker in the file; nil for the text before the first marker.
    public var markerLine: Int?
    /// 1-based line of the cell's first body line.
    public var firstLine: Int
    /// The body's lines as written (code), or the Markdown with comment prefixes removed.
    public var source: String

    public var isEmpty: Bool { source.allSatisfy(\.isWhitespace) }
}

/// A script split into cells, and the chunk that runs it as one Lua program.
public struct CellScript: Sendable {
    public var cells: [Cell]
    /// The script with every marker line replaced by `;<hook>(i)` (i: 0-based cell index)
    /// and line 1 prefixed by `prefix`, so that line numbers are the file's.
    public func chunk(hook: String, prefix: String = "") -> String {
        var lines = self.lines
        for (i, c) in cells.enumerated() {
            if let m = c.markerLine { lines[m - 1] = ";\(hook)(\(i))" }
        }
        if lines.isEmpty { lines = [""] }
        // A `#!` first line is skipped by lua.c; the buffer loader does not skip it.
        if lines[0].hasPrefix("#") { lines[0] = "" }
        lines[0] = prefix + lines[0]
        return lines.joined(separator: "\n")
    }

    let lines: [String]

    public init(text: String) {
        var ls = CellScript.lines(of: text)
        if ls.count > 1 && ls.last == "" && (text.hasSuffix("\n") || text.hasSuffix("\r")) { ls.removeLast() }
        if text.isEmpty { ls = [] }
        lines = ls
        cells = CellScript.split(ls)
    }

    /// Lines as Lua counts them: a line ends at \n or \r, and the other one right after it
    /// belongs to the same break (\r\n, \n\r), so CR-only and mixed files split as Lua reads
    /// them. (On bytes: Swift reads "\r\n" as one Character.)
    static func lines(of text: String) -> [String] {
        var out: [String] = []
        let b = Array(text.utf8)
        var start = 0, i = 0
        while i < b.count {
            let c = b[i]
            if c == 0x0A || c == 0x0D {
                out.append(String(decoding: b[start..<i], as: UTF8.self))
                if i + 1 < b.count && (b[i + 1] == 0x0A || b[i + 1] == 0x0D) && b[i + 1] != c { i += 1 }
                start = i + 1
            }
            i += 1
        }
        out.append(String(decoding: b[start...], as: UTF8.self))
        return out
    }

    // MARK: - splitting

    static func split(_ lines: [String]) -> [Cell] {
        let markers = markerLines(lines)
        var cells: [Cell] = []
        var bounds: [(marker: Int?, start: Int)] = []
        // Text before the first marker is a code cell when it holds anything but blank lines.
        let first = markers.first ?? lines.count
        if markers.isEmpty || lines[0..<first].contains(where: { !$0.allSatisfy(\.isWhitespace) }) {
            bounds.append((nil, 0))
        }
        for m in markers { bounds.append((m, m + 1)) }
        for (k, b) in bounds.enumerated() {
            let end = k + 1 < bounds.count ? (bounds[k + 1].marker ?? lines.count) : lines.count
            let body = Array(lines[min(b.start, end)..<end])
            var kind = Cell.Kind.code
            var title: String? = nil
            if let m = b.marker {
                (kind, title) = parseMarker(lines[m])
            }
            let source = kind == .markdown ? markdown(body) : trimBlankEnds(body).joined(separator: "\n")
            cells.append(Cell(kind: kind, title: title, markerLine: b.marker.map { $0 + 1 },
                              firstLine: b.start + 1, source: source))
        }
        return cells
    }

    /// `-- %% Title [markdown]` -> (.markdown, "Title").
    static func parseMarker(_ line: String) -> (Cell.Kind, String?) {
        var rest = Substring(line.drop(while: { $0 == " " || $0 == "\t" }).dropFirst(2))
        rest = rest.drop(while: { $0 == " " || $0 == "\t" }).dropFirst(2)
        var text = rest.trimmingCharacters(in: .whitespaces)
        var kind = Cell.Kind.code
        for tag in ["[markdown]", "[md]"] {
            if let r = text.range(of: tag) {
                kind = .markdown
                text.removeSubrange(r)
                text = text.trimmingCharacters(in: .whitespaces)
                break
            }
        }
        return (kind, text.isEmpty ? nil : text)
    }

    /// Markdown from a cell of `-- ` comment lines (or one long comment `--[[ ... ]]`).
    static func markdown(_ body: [String]) -> String {
        let lines = trimBlankEnds(body)
        if let f = lines.first?.trimmingCharacters(in: .whitespaces), f.hasPrefix("--["),
           let level = longBracketLevel(Array(f.utf8), at: 2) {
            let close = "]" + String(repeating: "=", count: level) + "]"
            var text = lines.joined(separator: "\n")
            text = String(text.drop(while: { $0 != "[" }).dropFirst(level + 2))
            if let r = text.range(of: close, options: .backwards) { text = String(text[..<r.lowerBound]) }
            return trimBlankEnds(text.components(separatedBy: "\n")).joined(separator: "\n")
        }
        return lines.map { line -> String in
            let t = line.drop(while: { $0 == " " || $0 == "\t" })
            guard t.hasPrefix("--") else { return line }
            let r = t.dropFirst(2)
            return String(r.hasPrefix(" ") ? r.dropFirst() : r)
        }.joined(separator: "\n")
    }

    static func trimBlankEnds(_ lines: [String]) -> [String] {
        var s = lines[...]
        while let f = s.first, f.allSatisfy(\.isWhitespace) { s = s.dropFirst() }
        while let l = s.last, l.allSatisfy(\.isWhitespace) { s = s.dropLast() }
        return Array(s)
    }

    // MARK: - a Lua lexer just deep enough to know where comments are

    enum State: Equatable {
        case code
        case longString(Int)      // inside [==[ ... ]==] with that many '='
        case longComment(Int)
        case shortString(UInt8)   // a quoted string continued by a backslash-newline or \z
    }

    /// 0-based indices of lines that are cell markers: `--` then optional blanks then `%%`,
    /// at the start of a line (after blanks) that begins outside any string or long comment
    /// and at the top level: a marker inside a function, loop, `if` or `do` block is a comment
    /// (as a cell boundary there would cut the block in two).
    static func markerLines(_ lines: [String]) -> [Int] {
        var state = State.code
        var depth = 0
        var out: [Int] = []
        for (i, line) in lines.enumerated() {
            let bytes = Array(line.utf8)
            if state == .code && depth <= 0 && isMarker(bytes) { out.append(i); continue }
            state = scan(bytes, from: state, depth: &depth)
        }
        return out
    }

    /// How a keyword changes the block depth: `function`, `do` (of `while` and `for` too), `if`
    /// and `repeat` open a block; `end` and `until` close one.
    static func depthChange(_ b: [UInt8], _ range: Range<Int>) -> Int {
        switch String(decoding: b[range], as: UTF8.self) {
        case "function", "do", "if", "repeat": return 1
        case "end", "until": return -1
        default: return 0
        }
    }

    @inline(__always) static func isIdentifierByte(_ c: UInt8) -> Bool {
        (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39) || c == 0x5F || c >= 0x80
    }

    static func isMarker(_ b: [UInt8]) -> Bool {
        var i = 0
        while i < b.count && (b[i] == 0x20 || b[i] == 0x09) { i += 1 }
        guard i + 1 < b.count, b[i] == 0x2D, b[i + 1] == 0x2D else { return false }
        i += 2
        while i < b.count && (b[i] == 0x20 || b[i] == 0x09) { i += 1 }
        guard i + 1 < b.count, b[i] == 0x25, b[i + 1] == 0x25 else { return false }
        // `--%%%` or `-- %%x` are not markers: %% must end the line or be followed by a blank.
        return i + 2 == b.count || b[i + 2] == 0x20 || b[i + 2] == 0x09
    }

    /// `[`, `=`*n, `[` at i: n; else nil.
    static func longBracketLevel(_ b: [UInt8], at i: Int) -> Int? {
        guard i < b.count, b[i] == 0x5B else { return nil }
        var j = i + 1, n = 0
        while j < b.count && b[j] == 0x3D { n += 1; j += 1 }
        return j < b.count && b[j] == 0x5B ? n : nil
    }

    /// Index just past `]`, `=`*level, `]` at or after i, or nil.
    static func findClose(_ b: [UInt8], from i: Int, level: Int) -> Int? {
        var k = i
        while k < b.count {
            if b[k] == 0x5D {
                var j = k + 1, n = 0
                while j < b.count && b[j] == 0x3D { n += 1; j += 1 }
                if n == level && j < b.count && b[j] == 0x5D { return j + 1 }
            }
            k += 1
        }
        return nil
    }

    /// The lexer state at the end of a line that starts in `state`; `depth` follows the block
    /// keywords met in code.
    static func scan(_ b: [UInt8], from start: State, depth: inout Int) -> State {
        var state = start
        var i = 0
        while true {
            switch state {
            case .longString(let n), .longComment(let n):
                guard let j = findClose(b, from: i, level: n) else { return state }
                i = j
                state = .code
            case .shortString(let q):
                // Inside a quoted string: ends at the unescaped quote; a backslash at the end
                // of the line (or \z) continues it on the next line.
                var k = i
                var closed = false
                while k < b.count {
                    if b[k] == 0x5C {
                        if k + 1 == b.count { return state }
                        if b[k + 1] == 0x7A {   // \z skips following whitespace, newlines too
                            var j = k + 2
                            while j < b.count && (b[j] == 0x20 || b[j] == 0x09) { j += 1 }
                            if j == b.count { return state }
                            k = j
                            continue
                        }
                        k += 2
                        continue
                    }
                    if b[k] == q { closed = true; k += 1; break }
                    k += 1
                }
                // An unfinished quoted string is a Lua syntax error; the next line starts fresh.
                if !closed { return .code }
                i = k
                state = .code
            case .code:
                while i < b.count {
                    let c = b[i]
                    if c == 0x2D && i + 1 < b.count && b[i + 1] == 0x2D {
                        if let n = longBracketLevel(b, at: i + 2) {
                            state = .longComment(n)
                            i += n + 4
                        } else {
                            return .code   // a line comment
                        }
                        break
                    } else if c == 0x5B, let n = longBracketLevel(b, at: i) {
                        state = .longString(n)
                        i += n + 2
                        break
                    } else if c == 0x22 || c == 0x27 {
                        state = .shortString(c)
                        i += 1
                        break
                    } else if isIdentifierByte(c) {
                        // A whole word (a keyword, a name or a number); keywords move the depth.
                        var j = i + 1
                        while j < b.count && isIdentifierByte(b[j]) { j += 1 }
                        if !(c >= 0x30 && c <= 0x39) { depth += depthChange(b, i..<j) }
                        i = j
                        continue
                    }
                    i += 1
                }
                if state == .code { return .code }
            }
        }
    }
}

extension CellScript {
    /// A script's bytes as Lua reads a file: without a UTF-8 byte-order mark (CellScript skips
    /// a `#!` first line, as lua.c does).
    public static func text(fileBytes bytes: [UInt8]) -> String {
        String(decoding: bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? Array(bytes.dropFirst(3)) : bytes, as: UTF8.self)
    }

    /// "msg\nstack traceback:\n..." -> (msg, "stack traceback:\n..."), without the host's frames.
    public static func splitTraceback(_ s: String) -> (String, String) {
        guard let r = s.range(of: "\nstack traceback:") else { return (s, "") }
        let lines = s[r.lowerBound...].dropFirst().split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.contains("[C]: in ?") && !$0.contains("__lesion_cell") }
        return (String(s[..<r.lowerBound]), lines.joined(separator: "\n"))
    }
}
