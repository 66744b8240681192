// The `units` group: looking at units over 10,000 Fashion-MNIST-sized images (28 x 28, three
// channels: data.concepts) against one evaluation of the same model on the same images:
// top images (k = 9) and Network Dissection at the first and the last conv layer of a
// FashionNet-shaped CNN. LESION_BENCH_UNITS_IMAGES sets the number of images.
import Foundation
import LesionAblation
import LesionNN
import LesionTensor

func unitsBench() throws -> [(String, Any)] {
    let n = Int(ProcessInfo.processInfo.environment["LESION_BENCH_UNITS_IMAGES"] ?? "") ?? 10000
    note("units: \(n) concept images ...")
    let data = try DataFiles.concepts(n: n, size: 28, seed: 1)
    var layers: [Layer] = []
    func block(_ cin: Int, _ cout: Int) throws { layers += [try Conv2d(cin: cin, cout: cout, k: 3, padding: 1), ReLU()] }
    try block(3, 32); layers.append(try MaxPool2d(2))
    try block(32, 64); layers.append(try MaxPool2d(2))
    try block(64, 128)
    try block(128, 128); layers.append(try MaxPool2d(2))
    layers += [Flatten(), try Linear(1152, 256), ReLU(), try Linear(256, 5)]
    let m = try Sequential(layers, seed: 1, inputShape: [3, 28, 28])
    var out: [(String, Any)] = [("units_images", n)]
    let evalSeconds = try median(reps: 3, warmup: 1) { _ = try m.evaluate(data, batch: 256) }
    out.append(("units_eval_seconds", evalSeconds))
    for (name, layer) in [("relu1", 1), ("relu4", 9)] {
        let t0 = now()
        _ = try UnitImages.top(m, data, layer: layer, k: 9)
        let top = now() - t0
        let t1 = now()
        let exact = try NetworkDissection.dissect(m, data, layer: layer, quantile: 0.005)
        let dissect = now() - t1
        out += [("top_images_\(name)_seconds", top), ("top_images_\(name)_over_eval", top / evalSeconds),
                ("dissect_\(name)_seconds", dissect), ("dissect_\(name)_over_eval", dissect / evalSeconds)]
        // Bounded (DissectionBounded.swift) with the smallest heap a unit gets by default (relu1,
        // whose exact heap would hold 39,200 values), and with 1,024 values where the exact heap
        // is smaller than that (relu4: 2,450): its time, its reported bound (x 1000), and how
        // far its IoUs really are from the exact ones (x 1000).
        let t2 = now()
        let bounded = try NetworkDissection.dissect(m, data, layer: layer, quantile: 0.005, heapLimit: layer == 1 ? NetworkDissection.minimumHeap : 1024)
        let boundedSeconds = now() - t2
        var gap = 0.0
        for (a, b) in zip(bounded.iou, exact.iou) { for (x, y) in zip(a, b) { gap = max(gap, abs(x - y)) } }
        out += [("dissect_bounded_\(name)_over_eval", boundedSeconds / evalSeconds),
                ("dissect_bounded_\(name)_iou_error_x1000", 1000 * bounded.iouError), ("dissect_bounded_\(name)_largest_gap_x1000", 1000 * gap)]
    }
    return out
}
