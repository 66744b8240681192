import Foundation
import Testing
@testable import LesionNN
@testable import LesionTensor

@Suite struct BatchNormTests {
    /// Channel 0 holds 1, 2, 3, 4; channel 1 holds 2, 2, 2, 6 (computed by hand below).
    func input() throws -> Tensor { try Tensor(shape: [4, 2], values: [1, 2, 2, 2, 3, 2, 4, 6]) }

    @Test func trainingUsesBatchStatisticsAndUpdatesRunningOnes() throws {
        let bn = try BatchNorm(2, spatial: false)
        let y = try bn.forward(try input(), training: true)
        // Biased variances: 1.25 and 3; unbiased: 5/3 and 4.
        let s0 = (1.25 + 1e-5).squareRoot(), s1 = (3 + 1e-5).squareRoot()
        let want: [Double] = [(1 - 2.5) / s0, (2 - 3) / s1, (2 - 2.5) / s0, (2 - 3) / s1,
                              (3 - 2.5) / s0, (2 - 3) / s1, (4 - 2.5) / s0, (6 - 3) / s1]
        for i in 0..<8 { #expect(abs(Double(y.data[i]) - want[i]) < 1e-5) }
        #expect(abs(bn.runningMean.data[0] - 0.25) < 1e-7 && abs(bn.runningMean.data[1] - 0.3) < 1e-7)
        #expect(abs(Double(bn.runningVar.data[0]) - (0.9 + 0.1 * 5.0 / 3)) < 1e-6)
        #expect(abs(Double(bn.runningVar.data[1]) - (0.9 + 0.1 * 4)) < 1e-6)
        #expect(bn.batchesTracked == 1)
    }

    @Test func evaluationUsesRunningStatistics() throws {
        let bn = try BatchNorm(2, spatial: false)
        bn.runningMean.data.update(from: [0.5, -1], count: 2)
        bn.runningVar.data.update(from: [4, 0.25], count: 2)
        bn.weight.value.data.update(from: [2, 1], count: 2)
        bn.bias.value.data.update(from: [0, 1], count: 2)
        let y = try bn.forward(try input(), training: false)
        let x: [Double] = [1, 2, 2, 2, 3, 2, 4, 6]
        for i in 0..<8 {
            let c = i % 2
            let want = c == 0 ? 2 * (x[i] - 0.5) / (4 + 1e-5).squareRoot() : (x[i] + 1) / (0.25 + 1e-5).squareRoot() + 1
            #expect(abs(Double(y.data[i]) - want) < 1e-5)
        }
        #expect(bn.batchesTracked == 0)
    }

    @Test func spatialStatisticsSpanBatchAndPositions() throws {
        // BatchNorm2d: a channel's statistics are over N, H and W.
        let bn = try BatchNorm(1, spatial: true)
        let x = try Tensor(shape: [2, 1, 2, 1], values: [0, 2, 4, 6])   // NHWC: N=2, H=1, W=2, C=1
        _ = try bn.forward(x, training: true)
        #expect(abs(bn.runningMean.data[0] - 0.3) < 1e-7)                 // 0.1 * mean 3
        #expect(abs(Double(bn.runningVar.data[0]) - (0.9 + 0.1 * 20.0 / 3)) < 1e-6)
    }

    @Test func oneValuePerChannelInTrainingIsAnError() throws {
        let bn = try BatchNorm(3, spatial: false)
        #expect(throws: TensorError.self) { try bn.forward(try Tensor(zeros: [1, 3]), training: true) }
    }
}

@Suite struct SGDTests {
    /// torch.optim.SGD(lr=0.1, momentum=0.9, weight_decay=0.1) on w = 1 with gradients 0.5 then 0.2:
    /// step 1: d = 0.5 + 0.1 = 0.6, v = 0.6, w = 0.94;
    /// step 2: d = 0.2 + 0.094 = 0.294, v = 0.54 + 0.294 = 0.834, w = 0.94 - 0.0834 = 0.8566.
    @Test func momentumAndWeightDecayAsPyTorch() throws {
        let p = try Parameter("w", Tensor(shape: [1], values: [1]))
        let sgd = SGD(lr: 0.1, momentum: 0.9, weightDecay: 0.1)
        p.grad.data[0] = 0.5
        try sgd.step([p])
        #expect(abs(p.value.data[0] - 0.94) < 1e-6)
        p.grad.data[0] = 0.2
        try sgd.step([p])
        #expect(abs(p.value.data[0] - 0.8566) < 1e-6)
    }

    @Test func plainSGD() throws {
        let p = try Parameter("w", Tensor(shape: [2], values: [1, -2]))
        p.grad.data.update(from: [0.5, 0.25], count: 2)
        try SGD(lr: 0.2).step([p])
        #expect(p.value.toArray() == [0.9, -2.05])
    }

    @Test func schedules() {
        #expect(Schedule.step(every: 2, gamma: 0.5).rate(base: 1, epoch: 3, epochs: 10) == 0.5)
        #expect(Schedule.step(every: 2, gamma: 0.5).rate(base: 1, epoch: 4, epochs: 10) == 0.25)
        let c = Schedule.cosine(tMax: 0, etaMin: 0)
        #expect(c.rate(base: 0.1, epoch: 0, epochs: 4) == 0.1)
        #expect(abs(c.rate(base: 0.1, epoch: 2, epochs: 4) - 0.05) < 1e-12)
        #expect(abs(c.rate(base: 0.1, epoch: 1, epochs: 4) - 0.1 * (1 + cos(Double.pi / 4)) / 2) < 1e-12)
    }

    @Test func crossEntropyAgainstHandComputation() throws {
        let logits = try Tensor(shape: [2, 3], values: [1, 2, 3, 0, 0, 0])
        let labels: [Int32] = [2, 0]
        let g = try Tensor(zeros: [2, 3])
        let (loss, correct) = labels.withUnsafeBufferPointer { Loss.softmaxCrossEntropy(logits, labels: $0.baseAddress!, grad: g) }
        let l0 = log(exp(1.0) + exp(2.0) + exp(3.0)) - 3, l1 = log(3.0)
        #expect(abs(loss - (l0 + l1)) < 1e-9)
        #expect(correct == 2)   // row 0 predicts class 2; row 1 is a tie, and the first maximum (0) is taken
        let p0 = exp(3.0) / (exp(1.0) + exp(2.0) + exp(3.0))
        #expect(abs(Double(g.data[2]) - (p0 - 1) / 2) < 1e-7)
        #expect(abs(Double(g.data[3]) - (1.0 / 3 - 1) / 2) < 1e-7)
    }
}
