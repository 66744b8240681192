// lesion-bench: speed figures of Lesion, printed as one JSON object (scripts/bench runs it).
// A benchmark, not a test: it asserts nothing, it measures.
import COpenBLAS
import Foundation
import LesionTensor
import LuaHost

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// Median seconds of `reps` runs after `warmup` runs.
func median(reps: Int, warmup: Int = 3, _ body: () throws -> Void) rethrows -> Double {
    for _ in 0..<warmup { try body() }
    var times: [Double] = []
    for _ in 0..<reps {
        let t0 = now()
        try body()
        times.append(now() - t0)
    }
    times.sort()
    return times[times.count / 2]
}

func peakRSSBytes() -> Int {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return usage.ru_maxrss * 1024
}

let threads = Int(ProcessInfo.processInfo.environment["LESION_THREADS"] ?? "") ?? 2
try Threads.set(threads)
var results: [(String, Any)] = [("threads", threads)]

// MARK: - matmul 1024 x 1024: cblas_sgemm from Swift vs t:matmul from Lua

let n = 1024
let flop = 2.0 * Double(n * n * n)
let a = try Tensor(uninitialized: [n, n]), b = try Tensor(uninitialized: [n, n]), c = try Tensor(uninitialized: [n, n])
RandomStream(seed: 1).fillNormal(a.data, count: a.count)
RandomStream(seed: 2).fillNormal(b.data, count: b.count)
let swiftSeconds = median(reps: 30) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1,
                a.data, Int32(n), b.data, Int32(n), 0, c.data, Int32(n))
}

// The core's matmul allocates its result, as the Lua call does.
let coreSeconds = try median(reps: 30) { _ = try a.matmul(b) }

let host = try LuaHost()
try host.run(code: """
    A = tensor.randn({1024, 1024}, {seed = 1})
    B = tensor.randn({1024, 1024}, {seed = 2})
    """)
let luaSeconds = try median(reps: 30) {
    try host.run(code: "local c = A:matmul(B)")
}
results += [
    ("matmul_1024_swift_sgemm_ms", swiftSeconds * 1e3),
    ("matmul_1024_swift_sgemm_gflops", flop / swiftSeconds / 1e9),
    ("matmul_1024_swift_core_ms", coreSeconds * 1e3),
    ("matmul_1024_lua_ms", luaSeconds * 1e3),
    ("matmul_1024_lua_gflops", flop / luaSeconds / 1e9),
    ("matmul_1024_lua_vs_swift", swiftSeconds / luaSeconds),
]

results.append(("peak_rss_mb", Double(peakRSSBytes()) / 1048576))

// MARK: - output

func json(_ v: Any) -> String {
    switch v {
    case let d as Double: return String(format: "%.3f", d)
    case let i as Int: return String(i)
    case let s as String: return "\"\(s)\""
    default: return "null"
    }
}
print("{\n" + results.map { "  \"\($0.0)\": \(json($0.1))" }.joined(separator: ",\n") + "\n}")
