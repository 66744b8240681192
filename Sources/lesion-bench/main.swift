// lesion-bench: speed figures of Lesion, printed as one JSON object (scripts/bench runs it).
// A benchmark, not a test: it asserts nothing, it measures. Progress notes go to stderr.
import COpenBLAS
import Foundation
import LesionAblation
import LesionNN
import LesionTensor
import LuaHost
import Notebook

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

func note(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

let args = CommandLine.arguments.dropFirst()
let only = Set(args.filter { !$0.hasPrefix("-") })
func wanted(_ group: String) -> Bool { only.isEmpty ? !["notebook", "imagenet"].contains(group) : only.contains(group) }
let threads = Int(ProcessInfo.processInfo.environment["LESION_THREADS"] ?? "") ?? 2
/// Whether `name` is measured: the environment variable names one part of a group (for a
/// profiler), or is unset and every part is.
func selected(_ variable: String, _ name: String) -> Bool {
    ProcessInfo.processInfo.environment[variable].map { $0 == name } ?? true
}
try Threads.set(threads)
var results: [(String, Any)] = [("threads", threads)]

// MARK: - matmul 1024 x 1024: cblas_sgemm from Swift vs t:matmul from Lua

if wanted("matmul") {
    note("matmul 1024 ...")
    let n = 1024
    let flop = 2.0 * Double(n * n * n)
    let a = try Tensor(uninitialized: [n, n]), b = try Tensor(uninitialized: [n, n]), c = try Tensor(uninitialized: [n, n])
    RandomStream(seed: 1).fillNormal(a.data, count: a.count)
    RandomStream(seed: 2).fillNormal(b.data, count: b.count)
    // OpenBLAS runs on the calling thread (Lesion splits the work): one sgemm call is one core.
    let sgemmSeconds = median(reps: 10) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1,
                    a.data, Int32(n), b.data, Int32(n), 0, c.data, Int32(n))
    }
    let coreSeconds = try median(reps: 30) { _ = try a.matmul(b) }
    let host = try LuaHost()
    try host.run(code: "A = tensor.randn({1024, 1024}, {seed = 1}); B = tensor.randn({1024, 1024}, {seed = 2})")
    let luaSeconds = try median(reps: 30) { try host.run(code: "local c = A:matmul(B)") }
    results += [
        ("matmul_1024_sgemm_one_thread_gflops", flop / sgemmSeconds / 1e9),
        ("matmul_1024_swift_core_ms", coreSeconds * 1e3),
        ("matmul_1024_swift_core_gflops", flop / coreSeconds / 1e9),
        ("matmul_1024_lua_ms", luaSeconds * 1e3),
        ("matmul_1024_lua_gflops", flop / luaSeconds / 1e9),
        ("matmul_1024_lua_vs_swift", coreSeconds / luaSeconds),
    ]
}

// MARK: - conv: FashionNet's 3x3 layers alone in evaluation, with each Winograd tile (explicit group)

if only.contains("conv") {
    // (name, cin, cout, input side, output crop): conv2, conv3, conv4 (cropped to 6x6 by pool3).
    // LESION_BENCH_CONV=conv4_6 measures one of them (for a profiler).
    for (name, cin, cout, side, crop) in [("conv2", 32, 64, 14, 14), ("conv3", 64, 128, 7, 7), ("conv4", 128, 128, 7, 6)] {
        let x = try Tensor(uninitialized: [500, side, side, cin])
        RandomStream(seed: 3).fillNormal(x.data, count: x.count)
        for tile in [2, 4, 6] where selected("LESION_BENCH_CONV", "\(name)_\(tile)") {
            let c = try Conv2d(cin: cin, cout: cout, k: 3, padding: 1)
            c.reset(RandomStream(seed: 4))
            c.crop = (crop, crop)
            c.winogradTile = tile
            let secs = try median(reps: 7) { _ = try c.forward(x, training: false) }
            results.append(("conv_\(name)_f\(tile)_ms_per_500", secs * 1e3))
        }
    }
    // The same layers in training (batch 64): a forward and both gradients by each tile.
    // resnet_layer3, resnet_layer4: the small ResNet's 3x3 convolutions of 32 and 64 channels.
    for (name, cin, cout, side, crop) in [("conv2", 32, 64, 14, 14), ("conv3", 64, 128, 7, 7), ("conv4", 128, 128, 7, 6),
                                          ("resnet_layer3", 32, 32, 7, 7), ("resnet_layer4", 64, 64, 4, 4)] {
        let x = try Tensor(uninitialized: [64, side, side, cin])
        RandomStream(seed: 3).fillNormal(x.data, count: x.count)
        let dy = try Tensor(uninitialized: [64, crop, crop, cout])
        RandomStream(seed: 5).fillNormal(dy.data, count: dy.count)
        for tile in [2, 4, 6, 0] where selected("LESION_BENCH_CONV", "\(name)_train_\(tile)") {
            let c = try Conv2d(cin: cin, cout: cout, k: 3, padding: 1)
            c.reset(RandomStream(seed: 4))
            c.crop = (crop, crop)
            c.winogradTile = tile == 0 ? nil : tile   // 0: the layer's own choice
            let fwd = try median(reps: 15) { _ = try c.forward(x, training: true) }
            let bwd = try median(reps: 15) { _ = try c.backward(dy, needInputGrad: true) }
            results.append(("conv_train_\(name)_f\(tile)_forward_ms", fwd * 1e3))
            results.append(("conv_train_\(name)_f\(tile)_backward_ms", bwd * 1e3))
        }
    }
    // Training steps of the small ResNet's few-channel convolutions (batch 64): the direct loop
    // (ConvDirect.swift) against im2col + GEMM, forward then both gradients.
    for (cin, cout, side) in [(8, 8, 28), (16, 16, 14), (1, 32, 28), (3, 32, 28), (3, 64, 28), (16, 32, 14), (8, 32, 28)] where selected("LESION_BENCH_CONV", "direct_c\(cin)") {
        let x = try Tensor(uninitialized: [64, side, side, cin])
        RandomStream(seed: 3).fillNormal(x.data, count: x.count)
        let dy = try Tensor(uninitialized: [64, side, side, cout])
        RandomStream(seed: 5).fillNormal(dy.data, count: dy.count)
        for direct in [true, false] {
            let c = try Conv2d(cin: cin, cout: cout, k: 3, padding: 1, bias: false)
            c.reset(RandomStream(seed: 4))
            c.direct = direct
            let fwd = try median(reps: 15) { _ = try c.forward(x, training: true) }
            let bwd = try median(reps: 15) { _ = try c.backward(dy, needInputGrad: true) }
            let gflop = 2.0 * Double(64 * side * side * cout * 9 * cin) / 1e9
            let kind = direct ? "direct" : "im2col"
            let shape = cin == cout ? "c\(cin)" : "c\(cin)x\(cout)"
            results.append(("conv_train_\(shape)_\(kind)_forward_gflops", gflop / fwd))
            results.append(("conv_train_\(shape)_\(kind)_backward_gflops", 2 * gflop / bwd))
        }
    }
}

// MARK: - FashionNet eval and train on Fashion-MNIST

func fashionNet(bn: Bool) throws -> Sequential {
    var layers: [Layer] = []
    func block(_ cin: Int, _ cout: Int) throws {
        layers.append(try Conv2d(cin: cin, cout: cout, k: 3, padding: 1))
        if bn { layers.append(try BatchNorm(cout, spatial: true)) }
        layers.append(ReLU())
    }
    try block(1, 32); layers.append(try MaxPool2d(2))
    try block(32, 64); layers.append(try MaxPool2d(2))
    try block(64, 128)
    try block(128, 128); layers.append(try MaxPool2d(2))
    layers += [Flatten(), try Linear(1152, 256), ReLU(), try Dropout(0.5), try Linear(256, 10)]
    return try Sequential(layers, seed: 1, inputShape: [1, 28, 28])
}

let gflopPerImage = 0.030
if wanted("eval") || wanted("train") || wanted("sweep") {
    note("loading Fashion-MNIST ...")
    let (train, test) = try DataFiles.fashionMNIST(root: nil)
    if wanted("eval") {
        note("eval ...")
        let m = try fashionNet(bn: false)
        _ = try m.evaluate(test.subset(Array(0..<512)), batch: 256)
        let secs = try median(reps: 3, warmup: 0) { _ = try m.evaluate(test, batch: 256) }
        results += [("eval_images_per_s", 10000 / secs), ("eval_gflops", 10000 / secs * gflopPerImage)]
        m.profile = (Array(repeating: 0, count: m.layers.count), Array(repeating: 0, count: m.layers.count))
        let t0 = now()
        _ = try m.evaluate(test, batch: 256)
        let total = now() - t0
        note("eval time per layer, per mille: " + m.layers.enumerated().map { String(format: "%@ %.0f", $1.name, m.profile!.forward[$0] / total * 1000) }.joined(separator: ", "))
        m.profile = nil
    }
    // Both models train on the same 6,400 images with the same options (the ResNet at lr 0.05);
    // LESION_BENCH_TRAIN=fashionnet or resnet measures one model alone.
    var o = FitOptions()
    o.batch = 64; o.lr = 0.01; o.momentum = 0.9; o.weightDecay = 5e-4; o.seed = 1
    let sub = try train.subset(Array(0..<6400))
    if wanted("train") && selected("LESION_BENCH_TRAIN", "fashionnet") {
        note("train ...")
        let m = try fashionNet(bn: false)
        _ = try m.fit(try train.subset(Array(0..<640)), o)
        m.profile = (Array(repeating: 0, count: m.layers.count), Array(repeating: 0, count: m.layers.count))
        let t0 = now()
        _ = try m.fit(sub, o)
        let secs = now() - t0
        results += [("train_images_per_s", 6400 / secs), ("train_gflops", 6400 / secs * gflopPerImage * 3)]
        if let p = m.profile {
            var parts: [String] = []
            for (i, l) in m.layers.enumerated() {
                parts.append(String(format: "%@ %.0f/%.0f", l.name, p.forward[i] / secs * 1000, p.backward[i] / secs * 1000))
            }
            note("train time per layer, forward/backward, per mille of the run: " + parts.joined(separator: ", "))
        }
        let mb = try fashionNet(bn: true)
        _ = try mb.fit(try train.subset(Array(0..<640)), o)
        let t1 = now()
        _ = try mb.fit(sub, o)
        results.append(("train_bn_images_per_s", 6400 / (now() - t1)))
    }
    if wanted("train") {
        // The small ResNet-18 of examples/resnet.lua (width 8, 3x3 stem), built by the Lua builder.
        if selected("LESION_BENCH_TRAIN", "resnet") {
            let r = try LuaHost().model("models.resnet18{width = 8, small_input = true, input = {1, 28, 28}, num_classes = 10}")
            var ro = o
            ro.lr = 0.05
            _ = try r.fit(try train.subset(Array(0..<640)), ro)
            let t2 = now()
            _ = try r.fit(sub, ro)
            results.append(("train_resnet_small_images_per_s", 6400 / (now() - t2)))
            if ProcessInfo.processInfo.environment["LESION_BENCH_PROFILE"] != nil {
                r.profile = (Array(repeating: 0, count: r.layers.count), Array(repeating: 0, count: r.layers.count))
                let t3 = now()
                _ = try r.fit(sub, ro)
                let secs = now() - t3
                var byKind: [String: (Double, Double)] = [:]
                for (i, l) in r.layers.enumerated() {
                    byKind[l.kind, default: (0, 0)].0 += r.profile!.forward[i] / secs * 1000
                    byKind[l.kind, default: (0, 0)].1 += r.profile!.backward[i] / secs * 1000
                }
                note("small ResNet training per layer kind, forward/backward, per mille of the run: " + byKind.sorted { $0.value.0 + $0.value.1 > $1.value.0 + $1.value.1 }
                    .map { String(format: "%@ %.0f/%.0f", $0.key, $0.value.0, $0.value.1) }.joined(separator: ", "))
                note("per layer: " + r.layers.enumerated().compactMap { i, l in
                    let f = r.profile!.forward[i] / secs * 1000, b = r.profile!.backward[i] / secs * 1000
                    return f + b >= 15 ? String(format: "%@ %.0f/%.0f", l.name, f, b) : nil
                }.joined(separator: ", "))
                r.profile = nil
            }
        }
    }
    if wanted("sweep") {
        // All 128 units of relu4 and of relu3, the 10,000 test images, full per-class table.
        let m = try fashionNet(bn: false)
        for (name, layer) in [("relu4", 9), ("relu3", 7)] where selected("LESION_BENCH_SWEEP", name) {
            note("sweep \(name) ...")
            let t0 = now()
            let r = try Ablation.sweep(m, test, layer: layer)
            results.append(("sweep_\(name)_seconds", now() - t0))
            precondition(r.units.count == 128)
        }
        // A curve: the first 0, 13, 26, ..., 128 units of relu4 ablated together (12 steps).
        if selected("LESION_BENCH_SWEEP", "curve") {
            note("curve relu4 ...")
            let steps = Array(stride(from: 0, through: 128, by: 13)) + [128]
            let t0 = now()
            let c = try Ablation.curve(m, test, layer: 9, order: Array(0..<128), steps: steps)
            results.append(("curve_relu4_seconds", now() - t0))
            precondition(c.correct.count == steps.count)
            if ProcessInfo.processInfo.environment["LESION_BENCH_PLAIN_CURVE"] != nil {
                // The same steps as one plain evaluation each (how curves were computed before).
                let t1 = now()
                for k in steps.dropFirst() { _ = try Ablation.evaluate(m, test, lesions: [9: Array(0..<k)]) }
                results.append(("curve_relu4_plain_seconds", now() - t1))
            }
        }
    }
}

// MARK: - notebook: the quickstart cold, then again after an edit of its last cell

if wanted("notebook") {
    // Not in the default set (it trains FashionNet for an epoch): `scripts/bench notebook`.
    let host0 = try LuaHost()
    let source = host0.luaDirectory + "/../examples/quickstart.lua"
    let dir = NSTemporaryDirectory() + "lesion-bench-notebook-\(getpid())"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let script = dir + "/quickstart.lua"
    let text = try String(contentsOfFile: source, encoding: .utf8)
    try text.write(toFile: script, atomically: true, encoding: .utf8)
    func run() throws -> Double {
        let host = try LuaHost()
        host.cacheRoot = dir + "/cache"
        host.echo = false
        let t0 = now()
        let (record, failure) = try host.runNotebook(file: script)
        if let failure { throw failure }
        try record.write(to: dir + "/run")
        return now() - t0
    }
    note("notebook: quickstart cold ...")
    let cold = try run()
    try (text + "report.value(\"edited\", true)\n").write(toFile: script, atomically: true, encoding: .utf8)
    note("notebook: quickstart after editing its last cell ...")
    let warm = try run()
    results += [("notebook_cold_seconds", cold), ("notebook_rerun_seconds", warm), ("notebook_rerun_fraction", warm / cold)]
}

if wanted("units") {
    results += try unitsBench()
}

if wanted("imagenet") {
    // Not in the default set (VGG-16 alone takes a minute): `scripts/bench imagenet`.
    results += try imagenetBench()
}

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
