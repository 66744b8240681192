import Testing
@testable import LesionAblation
@testable import LesionNN
@testable import LesionTensor

/// Top images against sorting every sample's score computed from the full activations; the
/// bilinear resize against torch.nn.functional.interpolate; heatmaps against the plain
/// activations resized.
@Suite struct UnitImagesTests {
    func model() throws -> Sequential {
        try Sequential([Conv2d(cin: 2, cout: 5, k: 3, padding: 1), ReLU(), MaxPool2d(2), Flatten(), Linear(5 * 3 * 3, 3)],
                       seed: 2, inputShape: [2, 6, 6])
    }

    @Test(arguments: UnitImages.Score.allCases) func topImagesEqualAFullSort(by: UnitImages.Score) throws {
        let m = try model()
        // Two samples equal to an earlier one: ties rank the earlier sample first.
        let x = values([70, 2, 6, 6], seed: 5)
        for i in 0..<72 { x.data[40 * 72 + i] = x.data[3 * 72 + i]; x.data[41 * 72 + i] = x.data[3 * 72 + i] }
        let ds = try Dataset(images: x, labels: (0..<70).map { Int32($0 % 3) }, classNames: ["a", "b", "c"], name: "t")
        let k = 7
        // Batches of 16 leave a partial last batch; units in a chosen order.
        let top = try UnitImages.top(m, ds, layer: 1, k: k, units: [4, 0, 2], by: by, batch: 16)
        let acts = try Layout.toNCHW(m.forwardInternal(x, through: 1, training: false))   // [70, 5, 6, 6]
        #expect(top.units == [4, 0, 2])
        for (j, u) in [4, 0, 2].enumerated() {
            let scores: [Float] = (0..<70).map { i in
                let p = acts.data + (i * 5 + u) * 36
                let v = (0..<36).map { p[$0] }
                return by == .max ? v.max()! : Float(v.reduce(0.0) { $0 + Double($1) } / 36)
            }
            let order = (0..<70).sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
            #expect(top.indices[j] == Array(order.prefix(k)), "unit \(u)")
            #expect(top.values[j] == order.prefix(k).map { scores[$0] })
        }
        #expect(try UnitImages.top(m, ds, layer: 1, k: 70, by: by).indices[0].count == 70)
    }

    @Test func tiesAndNaN() {
        var h = UnitImages.Heap(3)
        for (i, s) in [Float(1), 5, .nan, 5, 2, 5, 0].enumerated() { h.offer(s, index: i) }
        #expect(h.ranked().map(\.index) == [1, 3, 5])
        var g = UnitImages.Heap(4)
        for (i, s) in [Float(-1), .nan, 3].enumerated() { g.offer(s, index: i) }
        #expect(g.ranked().map(\.index) == [2, 0])
    }

    @Test func badRequests() throws {
        let m = try model()
        let ds = try dataFor(m, n: 10, shape: [2, 6, 6], classes: 3, seed: 5)
        #expect(throws: TensorError.self) { try UnitImages.top(m, ds, layer: 1, k: 11) }
        #expect(throws: TensorError.self) { try UnitImages.top(m, ds, layer: 1, k: 0) }
        #expect(throws: TensorError.self) { try UnitImages.top(m, ds, layer: 1, k: 2, units: [5]) }
        #expect(throws: TensorError.self) { try UnitImages.heatmaps(m, try Tensor(zeros: [1, 2, 6, 6]), layer: 4, unit: 0) }
        #expect(throws: TensorError.self) { try UnitImages.heatmaps(m, try Tensor(zeros: [1, 2, 6, 6]), layer: 1, unit: 5) }
    }

    /// Values of F.interpolate(x, size = (7, 5), mode = "bilinear", align_corners = False) for
    /// x = arange(12).reshape(1, 1, 3, 4) ** 1.5 - 3, recorded with PyTorch 2.13.
    @Test func interpolationEqualsPyTorch() throws {
        let x = try Tensor(shape: [1, 1, 3, 4], values: (0..<12).map { Float(Double($0) * Double($0).squareRoot()) - 3 })
        let y = try x.interpolatedBilinear(height: 7, width: 5)
        let torch: [Float] = [
            -3.0, -2.3, -1.085786, 0.538745, 2.196152, -1.857143, -0.939109, 0.489132, 2.296629, 4.099597,
            1.571429, 3.143565, 5.213886, 7.570282, 9.809929, 5.0, 7.226238, 9.938639, 12.843935, 15.52026,
            11.268893, 13.852804, 16.955532, 20.231165, 23.218523, 17.537786, 20.47937, 23.972425, 27.618395,
            30.916786, 19.627417, 22.688227, 26.31139, 30.080805, 33.482872,
        ]
        #expect(y.shape == [1, 1, 7, 5])
        for i in 0..<35 { #expect(abs(y.data[i] - torch[i]) <= 2e-5 * max(1, abs(torch[i])), "y[\(i)] = \(y.data[i]), torch \(torch[i])") }
        // Same size: the identity.
        let same = try x.interpolatedBilinear(height: 3, width: 4)
        #expect((0..<12).allSatisfy { same.data[$0] == x.data[$0] })
    }

    @Test func heatmapIsTheUnitsMapResized() throws {
        let m = try model()
        let x = values([3, 2, 6, 6], seed: 9)
        let maps = try UnitImages.heatmaps(m, x, layer: 2, unit: 3)   // after the pool: 3x3, back to 6x6
        #expect(maps.shape == [3, 6, 6])
        let acts = try Layout.toNCHW(m.forwardInternal(x, through: 2, training: false))   // [3, 5, 3, 3]
        let plane = try Tensor(uninitialized: [3, 3, 3])
        for i in 0..<3 { for p in 0..<9 { plane.data[i * 9 + p] = acts.data[(i * 5 + 3) * 9 + p] } }
        let expected = try plane.interpolatedBilinear(height: 6, width: 6)
        #expect((0..<maps.count).allSatisfy { maps.data[$0] == expected.data[$0] })
        // Upsampling by 2 (align_corners = False): output pixel 0 is source pixel 0 itself, and
        // pixel 1 is 3/4 of source 0 and 1/4 of source 1.
        #expect(maps.data[0] == plane.data[0])
        #expect(abs(maps.data[1] - (0.75 * plane.data[0] + 0.25 * plane.data[1])) <= 1e-6)
    }
}
