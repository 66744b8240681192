import Foundation
import Testing
@testable import LesionTensor

/// Compares shapes first, then every element: |a - b| <= atol + rtol * |b|.
func assertClose(_ a: Tensor, _ b: Tensor, rtol: Float = 1e-5, atol: Float = 1e-6,
                 _ what: String = "", sourceLocation: SourceLocation = #_sourceLocation) {
    guard a.shape == b.shape else {
        Issue.record("\(what) shapes differ: \(a.shape) vs \(b.shape)", sourceLocation: sourceLocation)
        return
    }
    var worst = 0, bad = 0
    var worstErr: Float = 0
    for i in 0..<a.count {
        let err = abs(a.data[i] - b.data[i])
        let ok = err <= atol + rtol * abs(b.data[i]) || (a.data[i].isNaN && b.data[i].isNaN)
        if !ok {
            bad += 1
            if err > worstErr || worstErr.isNaN == false && err.isNaN { worstErr = err; worst = i }
        }
    }
    if bad > 0 {
        Issue.record("\(what) \(bad) of \(a.count) elements differ; worst at \(worst): \(a.data[worst]) vs \(b.data[worst])",
                     sourceLocation: sourceLocation)
    }
}

func assertClose(_ a: Tensor, _ values: [Float], shape: [Int]? = nil, rtol: Float = 1e-5, atol: Float = 1e-6,
                 _ what: String = "", sourceLocation: SourceLocation = #_sourceLocation) {
    let b = try! Tensor(shape: shape ?? a.shape, values: values)
    assertClose(a, b, rtol: rtol, atol: atol, what, sourceLocation: sourceLocation)
}

/// A tensor of the given shape with reproducible values in [-1, 1) from a simple LCG
/// (independent of the library's RNG).
func sample(_ shape: [Int], seed: UInt32 = 1) -> Tensor {
    let t = try! Tensor(zeros: shape)
    var s = seed &* 2_654_435_761 &+ 12345
    for i in 0..<t.count {
        s = s &* 1_664_525 &+ 1_013_904_223
        t.data[i] = Float(s >> 8) / Float(1 << 23) - 1
    }
    return t
}

let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path

func tempPath(_ name: String) -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lesion-tests-\(getpid())")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir.appendingPathComponent(name).path
}
