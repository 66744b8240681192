// The `imagenet` group: torchvision's architectures at 224 x 224 with random weights (built by
// lua/lesion/models.lua), evaluation speed and sweeps of ResNet-18 block outputs.
// LESION_BENCH_IMAGENET names one part (eval_resnet18, sweep_layer4, ...) to measure alone.
import Foundation
import LesionAblation
import LesionNN
import LesionTensor
import LuaHost

func imagenetBench() throws -> [(String, Any)] {
    var out: [(String, Any)] = []
    let host = try LuaHost()
    /// n random 224 x 224 images in 10 classes.
    func images(_ n: Int) throws -> Dataset {
        let x = try Tensor(uninitialized: [n, 3, 224, 224])
        RandomStream(seed: 9).fillNormal(x.data, count: x.count)
        return try Dataset(images: x, labels: (0..<n).map { Int32($0 % 10) }, classNames: (0..<10).map { "c\($0)" }, name: "random224")
    }
    let evalSet = try images(64)
    for name in ["alexnet", "vgg16", "resnet18", "resnet50"] where selected("LESION_BENCH_IMAGENET", "eval_" + name) {
        note("imagenet: evaluation of \(name) ...")
        let m = try host.model("models.\(name){num_classes = 10}")
        let reps = name == "vgg16" ? 1 : 3
        let s = try median(reps: reps, warmup: 1) { _ = try m.evaluate(evalSet, batch: 32) }
        out.append(("eval_\(name)_images_per_s", Double(evalSet.count) / s))
        out.append(("eval_\(name)_batch", m.fittingBatch(32, sample: [3, 224, 224])))
        if ProcessInfo.processInfo.environment["LESION_BENCH_PROFILE"] != nil {
            m.profile = (Array(repeating: 0, count: m.layers.count), Array(repeating: 0, count: m.layers.count))
            _ = try m.evaluate(evalSet, batch: 32)
            let total = m.profile!.forward.reduce(0, +)
            note("\(name) evaluation per layer, per mille: " + m.layers.enumerated().compactMap { i, l in
                let v = m.profile!.forward[i] / total * 1000
                return v >= 5 ? String(format: "%@ %.0f", l.name, v) : nil
            }.joined(separator: ", "))
            var byKind: [String: Double] = [:]
            for (i, l) in m.layers.enumerated() { byKind[l.kind, default: 0] += m.profile!.forward[i] / total * 1000 }
            note("\(name) evaluation per layer kind, per mille: " + byKind.sorted { $0.value > $1.value }
                .map { String(format: "%@ %.0f", $0.key, $0.value) }.joined(separator: ", "))
            m.profile = nil
        }
    }
    let sweeps = ["sweep_layer4", "sweep_layer3"].filter { selected("LESION_BENCH_IMAGENET", $0) }
    guard !sweeps.isEmpty else { return out }
    let m = try host.model("models.resnet18{num_classes = 10}")
    let evalSeconds = try median(reps: 3, warmup: 1) { _ = try m.evaluate(evalSet, batch: 32) }
    for (part, point, n) in [("sweep_layer4", "layer4.1", 64), ("sweep_layer3", "layer3.1", Int(ProcessInfo.processInfo.environment["LESION_BENCH_SWEEP_IMAGES"] ?? "") ?? 32)] where selected("LESION_BENCH_IMAGENET", part) {
        note("imagenet: sweep of resnet18 \(point) over \(n) images ...")
        let data = try evalSet.subset(Array(0..<n))
        let layer = m.index(of: point)!
        let t0 = now()
        let r = try Ablation.sweep(m, data, layer: layer, batch: 32)
        let seconds = now() - t0
        out.append(("\(part)_units", r.units.count))
        out.append(("\(part)_seconds_per_1000", seconds / Double(n) * 1000))
        out.append(("\(part)_over_evaluation_seconds_per_1000", (seconds / Double(n) - evalSeconds / Double(evalSet.count)) * 1000))
    }
    return out
}
