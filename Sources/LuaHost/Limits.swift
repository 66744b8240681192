// `lesion run --max-memory` and `--timeout` for a host: tensors (LesionTensor's Limits) and the
// Lua state (LuaShim's hook) share one memory limit; passes over data and Lua code stop at the
// deadline. Either ends the run with an error naming the limit; the report keeps what finished.
import CLua
import Foundation
import LesionTensor
import LuaShim

/// The limits of a run; nil: none.
public struct RunLimits: Sendable {
    public var maxMemory: Int?
    public var timeout: Double?
    public init(maxMemory: Int? = nil, timeout: Double? = nil) { (self.maxMemory, self.timeout) = (maxMemory, timeout) }

    /// "4G", "512M", "100k" or a number of bytes.
    public static func bytes(_ text: String) -> Int? {
        let t = text.trimmingCharacters(in: .whitespaces).uppercased()
        let units: [(String, Double)] = [("G", 1_073_741_824), ("M", 1_048_576), ("K", 1024), ("B", 1)]
        for (suffix, scale) in units where t.hasSuffix(suffix) {
            guard let v = Double(t.dropLast()), v > 0, v.isFinite, v * scale < 9e18 else { return nil }
            return Int(v * scale)
        }
        guard let v = Double(t), v > 0, v.isFinite, v < 9e18 else { return nil }
        return Int(v)
    }

    /// "90", "90s", "15m", "2h".
    public static func seconds(_ text: String) -> Double? {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        for (suffix, scale) in [("h", 3600.0), ("m", 60.0), ("s", 1.0)] where t.hasSuffix(suffix) {
            guard let v = Double(t.dropLast()), v > 0, v.isFinite else { return nil }
            return v * scale
        }
        guard let v = Double(t), v > 0, v.isFinite else { return nil }
        return v
    }
}


extension LuaHost {
    /// Ctrl-C and SIGTERM end the run as an error (the run folder keeps what finished) instead
    /// of killing the process; a second signal kills it.
    public func catchInterrupts() {
        lesion_catch_interrupts(L)
        Limits.interrupted = { @Sendable in lesion_interrupted() != 0 }
    }

    /// The signal that interrupted the run, or 0.
    public static var interruptSignal: Int32 { lesion_interrupted() }

    /// Applies limits to this host from now on (the deadline counts from this call).
    public func setLimits(_ l: RunLimits) {
        limits = l
        Limits.timeoutText = l.timeout.map { String(format: "--timeout %gs", $0) } ?? ""
        Limits.memoryText = l.maxMemory.map { "--max-memory \(Limits.describe(bytes: $0))" } ?? ""
        Limits.set(memory: l.maxMemory, timeout: l.timeout)
        Limits.externalBytes = l.maxMemory == nil ? nil : { @Sendable in Int(lesion_lua_bytes_seen()) }
        // Past the limit, collect the state's garbage first (tensors it no longer reaches), on
        // the thread that runs it only.
        nonisolated(unsafe) let state = L
        let owner = pthread_self()
        Limits.reclaim = l.maxMemory == nil ? nil : { @Sendable in
            guard pthread_equal(pthread_self(), owner) != 0 else { return false }
            _ = lesion_gc_collect(state)
            return true
        }
        let deadline = Int64(Limits.deadlineNanoseconds)
        lesion_set_limits(L, deadline, "the time limit (\(Limits.timeoutText)) was reached",
                          l.maxMemory ?? 0, l.maxMemory == nil ? nil : { Tensor.liveBytes },
                          "the memory limit (\(Limits.memoryText)) was reached: the script and its tensors hold more")
    }
}
