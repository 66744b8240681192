// The on-disk cache of notebook runs: one safetensors file per entry, named by its key (a
// SHA-256 of everything that determines the value), holding the value's tensors and, in its
// metadata, the value's structure as JSON and a checksum of both. Entries are written to a
// temporary file and renamed into place, so a run killed at any moment leaves no broken entry;
// an entry that fails its checksum or does not parse is reported, deleted and recomputed.
import Foundation
import LesionTensor

public final class DiskCache: Sendable {
    public let root: String

    public init(root: String) { self.root = root }

    /// $LESION_CACHE, else .lesion/cache in the working folder.
    public static func defaultRoot(_ env: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let c = env["LESION_CACHE"], !c.isEmpty { return c }
        return ".lesion/cache"
    }

    public struct Entry {
        public var value: JSON
        public var tensors: [String: Tensor]
        public var label: String
        public var created: String
    }

    public enum Lookup {
        case miss
        case hit(Entry)
        /// The file was there but unusable (why); it has been removed.
        case corrupt(String)
    }

    static let magic = "lesion-cache-1"

    public func path(_ key: String) -> String { root + "/" + key.prefix(2) + "/" + key + ".safetensors" }

    /// A checksum over the value's JSON text and every tensor's bytes, in name order.
    static func checksum(_ valueText: String, _ tensors: [(String, Tensor)]) -> String {
        var h = SHA256()
        h.update(valueText)
        for (name, t) in tensors.sorted(by: { $0.0 < $1.0 }) {
            h.update(name + "|" + t.shape.map(String.init).joined(separator: ",") + "|")
            h.update(String(XXH64.hash(UnsafeRawBufferPointer(start: t.data, count: t.count * 4)), radix: 16))
        }
        return h.finalize().hexString
    }

    public func load(_ key: String) -> Lookup {
        let p = path(key)
        guard FileManager.default.fileExists(atPath: p) else { return .miss }
        let why: String
        do {
            let (entries, meta) = try Safetensors.read(path: p)
            guard meta["format"] == DiskCache.magic, let valueText = meta["value"], let sum = meta["checksum"] else {
                throw TensorError(.format, "not a Lesion cache entry")
            }
            let tensors = entries.map { ($0.name, $0.tensor) }
            guard DiskCache.checksum(valueText, tensors) == sum else { throw TensorError(.format, "checksum mismatch") }
            let value = try JSON.parse(valueText)
            return .hit(Entry(value: value, tensors: Dictionary(tensors, uniquingKeysWith: { a, _ in a }),
                              label: meta["label"] ?? "", created: meta["created"] ?? ""))
        } catch let e as TensorError {
            why = e.message
        } catch {
            why = "\(error)"
        }
        unlink(p)
        return .corrupt(why)
    }

    public func store(_ key: String, label: String, value: JSON, tensors: [(String, Tensor)]) throws {
        let p = path(key)
        try FileManager.default.createDirectory(atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let text = value.text(indent: 0)
        let meta = ["format": DiskCache.magic, "value": text, "label": label,
                    "created": (RunRecord.iso(Date()).string ?? ""), "checksum": DiskCache.checksum(text, tensors)]
        try Safetensors.write(path: p, tensors.map { ($0.0, .f32($0.1)) }, metadata: meta)
    }

    // MARK: - one computation of an entry among processes sharing the cache

    /// What `fetchOrCompute` met on its way.
    public enum Event {
        /// A usable entry, after this many seconds (of waiting, when another process made it).
        case hit(seconds: Double)
        /// An entry that could not be used: why (nil: it read but did not decode); it is recomputed.
        case corrupt(String?)
        /// Another process holds the claim; this one waits for its entry.
        case waiting(owner: String)
        /// Computed and stored here, in this many seconds.
        case computed(seconds: Double)
    }

    /// The value of `key`: an entry that `decode`s, else computed once among the processes
    /// sharing this cache. This process claims the entry and runs `compute` then `store`, or,
    /// when another live process holds the claim, waits for its entry (taking the claim over
    /// if that process dies). A cache where no claim can be made is computed without one.
    public func fetchOrCompute<T>(_ key: String, decode: (Entry) -> T?, compute: () throws -> T,
                                  store: (T) throws -> Void, event: (Event) -> Void) throws -> T {
        let started = Date()
        switch load(key) {
        case .hit(let e):
            if let v = decode(e) { event(.hit(seconds: Date().timeIntervalSince(started))); return v }
            event(.corrupt(nil))
        case .corrupt(let why):
            event(.corrupt(why))
        case .miss:
            break
        }
        var claimed: Claim?
        var waited = false
        claiming: while true {
            switch claim(key) {
            case .claimed(let c):
                claimed = c
                break claiming
            case .unavailable:
                break claiming
            case .held(let owner):
                if !waited { event(.waiting(owner: owner)); waited = true }
                usleep(200_000)
                if case .hit(let e) = load(key), let v = decode(e) {
                    event(.hit(seconds: Date().timeIntervalSince(started)))
                    return v
                }
            }
        }
        defer { if let claimed { release(claimed) } }
        let v = try compute()
        let seconds = Date().timeIntervalSince(started)
        try store(v)
        event(.computed(seconds: seconds))
        return v
    }

    // MARK: - claims

    /// A claim on an entry: this process computes it; others wait for the entry.
    public struct Claim {
        public let path: String
    }

    public enum ClaimResult {
        case claimed(Claim)
        /// Another live process holds the claim (its "host pid" and since when).
        case held(owner: String)
        /// No claim can be made here (a read-only cache): compute without one.
        case unavailable
    }

    /// This process as a claim's owner: host name and pid.
    static let me: String = {
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, name.count - 1)
        return "\(String(cString: name)) \(getpid())"
    }()

    /// Claims `key`: a file created exclusively next to the entry, naming its owner. A claim is
    /// taken over when its owner is a process of this host that no longer runs, or when it is
    /// older than `stale` seconds (an owner on another host that died); the taker renames the
    /// stale file away first, so of two takers only one succeeds.
    public func claim(_ key: String, stale: TimeInterval = 6 * 3600) -> ClaimResult {
        let p = path(key) + ".claim"
        do {
            try FileManager.default.createDirectory(atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        } catch { return .unavailable }
        for _ in 0..<3 {
            // The claim appears with its owner already written: a file of our own, linked to
            // the claim's name (link fails when the name exists), so a process killed at any
            // moment never leaves an empty claim that nobody can tell is dead.
            let mine = p + ".new-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            let fd = open(mine, O_WRONLY | O_CREAT | O_EXCL, 0o644)
            guard fd >= 0 else { return .unavailable }
            let text = DiskCache.me + "\n"
            let wrote = text.withCString { write(fd, $0, strlen($0)) } == text.utf8.count
            close(fd)
            defer { unlink(mine) }
            guard wrote else { return .unavailable }
            if link(mine, p) == 0 { return .claimed(Claim(path: p)) }
            guard errno == EEXIST else { return .unavailable }
            let owner = DiskCache.claimOwner(p) ?? ""
            guard DiskCache.isStale(owner: owner, path: p, after: stale) else { return .held(owner: owner) }
            // Stale: move it aside (atomic; one taker wins), then try again to create ours.
            let aside = p + ".stale-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            if rename(p, aside) == 0 { unlink(aside) }
        }
        return .held(owner: "")
    }

    /// Whether a claim's owner is gone: a process of this host that does not run, or a claim
    /// older than `after` seconds. An empty claim (left by an older Lesion killed while it
    /// wrote one; claims now appear whole) is gone after 10 seconds.
    static func isStale(owner: String, path: String, after: TimeInterval) -> Bool {
        let parts = owner.split(separator: " ")
        let host = DiskCache.me.split(separator: " ").first
        if parts.count == 2, parts[0] == host, let pid = pid_t(parts[1]) {
            return !(kill(pid, 0) == 0 || errno == EPERM)
        }
        guard let modified = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date else { return false }
        return Date().timeIntervalSince(modified) > (owner.isEmpty ? min(after, 10) : after)
    }

    public func release(_ c: Claim) { unlink(c.path) }

    /// The owner named in a claim file (empty for an empty claim); nil when there is none. Read
    /// with POSIX calls: a claim is a few bytes (and Foundation's reader leaks on empty files).
    static func claimOwner(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 512)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, 512) }
        guard n >= 0 else { return nil }
        return String(decoding: buffer[..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Whether a live process holds a claim on `key` (without claiming it).
    public func isClaimed(_ key: String, stale: TimeInterval = 6 * 3600) -> Bool {
        let p = path(key) + ".claim"
        guard let owner = DiskCache.claimOwner(p) else { return false }
        return !DiskCache.isStale(owner: owner, path: p, after: stale)
    }

    public struct Info {
        public var key: String
        public var label: String
        public var created: String
        public var bytes: Int
    }

    /// Every entry's key, label, creation time and size (temporary files left by killed runs are
    /// not entries).
    public func list() -> [Info] {
        removeStaleTemporaries()
        var out: [Info] = []
        for f in files() where f.hasSuffix(".safetensors") {
            let key = ((f as NSString).lastPathComponent as NSString).deletingPathExtension
            let bytes = ((try? FileManager.default.attributesOfItem(atPath: f))?[.size] as? Int) ?? 0
            let meta = (try? DiskCache.metadata(f)) ?? [:]
            out.append(Info(key: key, label: meta["label"] ?? "?", created: meta["created"] ?? "?", bytes: bytes))
        }
        return out.sorted { $0.created < $1.created }
    }

    /// Bytes used by the cache folder (entries and leftovers).
    public func size() -> Int {
        removeStaleTemporaries()
        return files().reduce(0) { $0 + (((try? FileManager.default.attributesOfItem(atPath: $1))?[.size] as? Int) ?? 0) }
    }

    /// Removes everything in the cache folder; returns (files, bytes) removed.
    @discardableResult
    public func clear() -> (Int, Int) {
        let fs = files()
        let bytes = size()
        for f in fs { unlink(f) }
        return (fs.count, bytes)
    }

    /// Removes the temporary files (`<entry>.tmp-<pid>-<n>`) of writes that never finished: a
    /// run killed mid-write leaves one. A temporary is stale when its process no longer runs on
    /// this host and it is a minute old, or (its writer may be on another host of a shared
    /// cache) when it is a day old. Returns how many it removed.
    @discardableResult
    public func removeStaleTemporaries(now: Date = Date()) -> Int {
        var removed = 0
        for f in files() {
            let name = (f as NSString).lastPathComponent
            guard let r = name.range(of: ".tmp-", options: .backwards) else { continue }
            let pid = Int32(name[r.upperBound...].prefix { $0 != "-" }) ?? 0
            let modified = ((try? FileManager.default.attributesOfItem(atPath: f))?[.modificationDate] as? Date) ?? now
            let age = now.timeIntervalSince(modified)
            let gone = pid > 0 && kill(pid, 0) != 0 && errno == ESRCH
            if (gone && age > 60) || age > 86_400 {
                if unlink(f) == 0 { removed += 1 }
            }
        }
        return removed
    }

    func files() -> [String] {
        guard let e = FileManager.default.enumerator(atPath: root) else { return [] }
        var out: [String] = []
        while let f = e.nextObject() as? String {
            var isDir: ObjCBool = false
            let full = root + "/" + f
            if FileManager.default.fileExists(atPath: full, isDirectory: &isDir), !isDir.boolValue { out.append(full) }
        }
        return out
    }

    /// The metadata of an entry without reading its tensors.
    static func metadata(_ path: String) throws -> [String: String] {
        guard let f = fopen(path, "rb") else { return [:] }
        defer { fclose(f) }
        var n: UInt64 = 0
        guard fread(&n, 8, 1, f) == 1 else { return [:] }
        let len = Int(UInt64(littleEndian: n))
        guard len > 0 && len < 64 << 20 else { return [:] }
        var buf = [UInt8](repeating: 0, count: len)
        guard fread(&buf, 1, len, f) == len else { return [:] }
        guard case .object(let kv)? = try? JSON.parse(String(decoding: buf, as: UTF8.self)),
              case .object(let meta)? = kv.first(where: { $0.0 == "__metadata__" })?.1 else { return [:] }
        var out: [String: String] = [:]
        for (k, v) in meta { if let s = v.string { out[k] = s } }
        return out
    }
}
