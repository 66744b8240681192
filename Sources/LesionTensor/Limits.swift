// Limits on a run (lesion run --max-memory, --timeout): tensors past the memory limit are not
// allocated (an error, not a trap), and long passes over data stop at the deadline. The Lua
// state's share is checked by LuaShim's hook; both report the same limits.
import Foundation
import Synchronization

public enum Limits {
    /// Bytes that tensors and `externalBytes` may hold together; 0: no limit.
    public static let memory = Atomic<Int>(0)
    /// Bytes held outside tensors that count against the limit (the Lua state's).
    nonisolated(unsafe) public static var externalBytes: (@Sendable () -> Int)?
    /// CLOCK_MONOTONIC nanoseconds after which passes over data stop; 0: none.
    public static let deadline = Atomic<Int>(0)
    /// Frees what it can (a Lua state's unreachable tensors, which its collector does not know
    /// the size of) when an allocation would pass the limit; returns whether it tried.
    nonisolated(unsafe) public static var reclaim: (@Sendable () -> Bool)?
    /// Whether the run was interrupted (Ctrl-C); set by the host that catches the signal.
    nonisolated(unsafe) public static var interrupted: (@Sendable () -> Bool)?
    /// How the limits were given, for messages ("--timeout 30").
    nonisolated(unsafe) public static var timeoutText = "", memoryText = ""

    static func nowNanoseconds() -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return ts.tv_sec * 1_000_000_000 + ts.tv_nsec
    }

    /// Sets both limits (nil: none); the deadline counts from now.
    public static func set(memory bytes: Int?, timeout seconds: Double?) {
        memory.store(bytes ?? 0, ordering: .relaxed)
        deadline.store(seconds.map { nowNanoseconds() + Int($0 * 1e9) } ?? 0, ordering: .relaxed)
    }

    /// The deadline as CLOCK_MONOTONIC nanoseconds (0: none).
    public static var deadlineNanoseconds: Int { deadline.load(ordering: .relaxed) }

    /// Throws once the deadline has passed.
    public static func checkTime() throws(TensorError) {
        if let i = interrupted, i() { throw TensorError(.limit, "interrupted (Ctrl-C); a second Ctrl-C stops at once") }
        let d = deadline.load(ordering: .relaxed)
        guard d > 0, nowNanoseconds() > d else { return }
        throw TensorError(.limit, "the time limit (\(timeoutText)) was reached")
    }

    /// Throws when `bytes` more would pass the memory limit.
    static func checkMemory(adding bytes: Int, live: Int) throws(TensorError) {
        let limit = memory.load(ordering: .relaxed)
        guard limit > 0 else { return }
        var other = externalBytes?() ?? 0
        var held = live
        if held + other + bytes > limit, reclaim?() == true {
            held = TensorStorage.liveBytes.load(ordering: .relaxed)
            other = externalBytes?() ?? 0
        }
        if held + other + bytes > limit {
            throw TensorError(.limit, "the memory limit (\(memoryText)) would be passed: \(bytes) bytes asked for, \(held + other) held")
        }
    }
}

extension Limits {
    /// 4294967296 -> "4 GiB".
    public static func describe(bytes: Int) -> String {
        let units: [(String, Int)] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)]
        for (name, scale) in units where bytes >= scale { return String(format: "%g %@", Double(bytes) / Double(scale), name) }
        return "\(bytes) bytes"
    }
}
