// The record of one notebook run: its cells with their outputs and timings, parameters, values
// and tables, and what the manifest names (versions, seeds, data sets, threads).
import Foundation
import LesionTensor

public struct Table: Sendable {
    public var columns: [String]
    /// One array per row, one value per column (numbers, strings, booleans or null).
    public var rows: [[JSON]]
    public var caption: String?

    public init(columns: [String], rows: [[JSON]], caption: String? = nil) {
        self.columns = columns
        self.rows = rows
        self.caption = caption
    }

    public var json: JSON {
        var kv: [(String, JSON)] = []
        if let c = caption { kv.append(("caption", .string(c))) }
        kv.append(("columns", .array(columns.map { .string($0) })))
        kv.append(("rows", .array(rows.map { .array($0) })))
        return .object(kv)
    }
}

public enum Output: Sendable {
    case text(String)
    case markdown(String)
    case table(Table)
    case svg(String, title: String?)
    /// A picture: PNG bytes, and the SVG that shows it with its captions (report.html).
    case image(png: [UInt8], svg: String, title: String?)
    /// A block of HTML made by Lesion itself (unit cards): into report.html as it is, and as
    /// text/html in report.ipynb.
    case html(String, title: String?)
    case error(message: String, traceback: String)
}

public struct CellRun: Sendable {
    public var cell: Cell
    public var outputs: [Output] = []
    public var start: Date?
    public var end: Date?
    public var failed = false
    public var ran: Bool { start != nil }
    public var duration: Double? {
        guard let s = start, let e = end else { return nil }
        return e.timeIntervalSince(s)
    }
}

public final class RunRecord: @unchecked Sendable {
    public struct Parameter: Sendable {
        public var name: String
        public var type: String
        public var value: JSON
        public var overridden: Bool
        public init(name: String, type: String, value: JSON, overridden: Bool) {
            self.name = name; self.type = type; self.value = value; self.overridden = overridden
        }
    }

    public let scriptPath: String
    public let scriptText: String
    public var scriptName: String { ((scriptPath as NSString).lastPathComponent as NSString).deletingPathExtension }
    public var cells: [CellRun]
    public var parameters: [Parameter] = []
    public var values: [(String, JSON)] = []
    public var tables: [Table] = []
    /// Named facts for the manifest: seeds, data sets, cache hits.
    public var seeds: [JSON] = []
    public var datasets: [(String, JSON)] = []
    public var cacheEvents: [JSON] = []
    /// The seed of unseeded random calls (tensor.manual_seed).
    public var defaultSeed: UInt64 = 0
    public var version: String
    public var threads: Int
    /// `--shard I/N`: this run was one of N shards.
    public var shard: Shard?
    /// `--sandbox`: the run was sandboxed; `--max-memory` and `--timeout`: its limits.
    public var sandboxed = false
    public var maxMemory: Int?, timeout: Double?
    public var start = Date()
    public var end: Date?
    /// Index of the cell running now (output goes there); nil before the first hook.
    public private(set) var current: Int?

    public init(scriptPath: String, scriptText: String, version: String, threads: Int) {
        self.scriptPath = scriptPath
        self.scriptText = scriptText
        self.version = version
        self.threads = threads
        cells = CellScript(text: scriptText).cells.map { CellRun(cell: $0) }
        // The text before the first marker (or a file without markers) runs as soon as the chunk does.
        if let first = cells.first, first.cell.markerLine == nil { enter(0) }
    }

    public var failed: Bool { cells.contains(where: \.failed) }

    /// The chunk reached the marker of cell i.
    public func enter(_ i: Int, at time: Date = Date()) {
        guard i >= 0 && i < cells.count else { return }
        if let c = current { cells[c].end = time }
        cells[i].start = time
        current = i
    }

    public func finish(at time: Date = Date()) {
        if let c = current, cells[c].end == nil { cells[c].end = time }
        end = time
    }

    /// Adds an output to the running cell (or the first cell before any ran).
    public func add(_ o: Output) {
        guard !cells.isEmpty else { return }
        let i = current ?? 0
        // Consecutive prints gather into one text block.
        if case .text(let t) = o, case .text(let prev)? = cells[i].outputs.last {
            cells[i].outputs[cells[i].outputs.count - 1] = .text(prev + t)
        } else {
            cells[i].outputs.append(o)
        }
    }

    public func fail(message: String, traceback: String, at time: Date = Date()) {
        let i = current ?? 0
        guard i < cells.count else { return }
        cells[i].outputs.append(.error(message: message, traceback: traceback))
        cells[i].failed = true
        finish(at: time)
    }

    public var scriptSHA256: String { SHA256.hex(scriptText) }

    /// A short id of the parameters' values: the first 8 hex digits of their SHA-256.
    /// The run folder when no `--out` names one: runs/<script name>/<parameter id>, and a
    /// shard's own folder inside it.
    public func defaultDirectory(shard: Shard?) -> String {
        let dir = "runs/\(scriptName)/\(RunRecord.parameterID(parameters))"
        return shard.map { dir + "/" + $0.folderName } ?? dir
    }

    public static func parameterID(_ params: [Parameter]) -> String {
        if params.isEmpty { return "default" }
        let text = params.sorted { $0.name < $1.name }.map { "\($0.name)=\($0.value.text(indent: 0))" }.joined(separator: "\n")
        return String(SHA256.hex(text).prefix(8))
    }

    // MARK: - JSON documents

    static func iso(_ d: Date?) -> JSON {
        guard let d else { return .null }
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return .string(f.string(from: d))
    }

    public var parametersJSON: JSON { .object(parameters.map { ($0.name, $0.value) }) }

    public var resultsJSON: JSON {
        .object([
            ("script", .string(scriptName)),
            ("parameters", parametersJSON),
            ("values", .object(values)),
            ("tables", .array(tables.map(\.json))),
            ("failed", .bool(failed)),
        ])
    }

    static func seconds(_ d: Double?) -> JSON {
        guard let d else { return .null }
        return .number((d * 1000).rounded() / 1000)
    }

    func cellJSON(_ i: Int, _ c: CellRun) -> JSON {
        let title: JSON = c.cell.title.map { .string($0) } ?? .null
        let status = c.failed ? "failed" : c.ran ? "ok" : "not run"
        let kv: [(String, JSON)] = [
            ("index", .number(Double(i + 1))),
            ("kind", .string(c.cell.kind.rawValue)),
            ("title", title),
            ("line", .number(Double(c.cell.markerLine ?? c.cell.firstLine))),
            ("start", RunRecord.iso(c.start)),
            ("end", RunRecord.iso(c.end)),
            ("duration_s", RunRecord.seconds(c.duration)),
            ("status", .string(status)),
        ]
        return .object(kv)
    }

    func parameterJSON(_ p: Parameter) -> JSON {
        .object([("name", .string(p.name)), ("type", .string(p.type)), ("value", p.value), ("overridden", .bool(p.overridden))])
    }

    public var manifestJSON: JSON {
        let script: JSON = .object([("path", .string(scriptPath)), ("sha256", .string(scriptSHA256))])
        var kv: [(String, JSON)] = [("script", script), ("lesion_version", .string(version))]
        kv.append(("parameters", .array(parameters.map(parameterJSON))))
        kv.append(("threads", .number(Double(threads))))
        if let shard { kv.append(("shard", .string(shard.description))) }
        kv.append(("sandboxed", .bool(sandboxed)))
        kv.append(("limits", .object([("max_memory", maxMemory.map { .number(Double($0)) } ?? .null),
                                      ("timeout", timeout.map { .number($0) } ?? .null)])))
        kv.append(("seeds", .object([("default", .number(Double(defaultSeed))), ("passed", .array(seeds))])))
        kv.append(("datasets", .object(datasets)))
        kv.append(("cache", .array(cacheEvents)))
        kv.append(("start", RunRecord.iso(start)))
        kv.append(("end", RunRecord.iso(end)))
        kv.append(("duration_s", RunRecord.seconds(end.map { $0.timeIntervalSince(start) })))
        kv.append(("failed", .bool(failed)))
        kv.append(("cells", .array(cells.enumerated().map { cellJSON($0, $1) })))
        return .object(kv)
    }
}
