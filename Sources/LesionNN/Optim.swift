// Softmax cross-entropy, SGD as torch.optim.SGD, learning-rate schedules.
import Foundation
import LesionTensor

public enum Loss {
    /// Softmax cross-entropy of logits [N, K] against 0-based labels. Returns the summed loss
    /// and the number of correct argmax predictions; with `grad`, writes d(mean loss)/d(logits).
    public static func softmaxCrossEntropy(_ logits: Tensor, labels: UnsafePointer<Int32>, grad: Tensor?) -> (loss: Double, correct: Int) {
        let n = logits.shape[0], k = logits.shape[1]
        var total = 0.0, correct = 0
        for r in 0..<n {
            let z = logits.data + r * k
            var mx = z[0], arg = 0
            for j in 1..<max(k, 1) where z[j] > mx { mx = z[j]; arg = j }
            var sum = 0.0
            for j in 0..<k { sum += Foundation.exp(Double(z[j] - mx)) }
            let y = Int(labels[r])
            total += Foundation.log(sum) - Double(z[y] - mx)
            if arg == y { correct += 1 }
            if let grad {
                let g = grad.data + r * k
                for j in 0..<k {
                    let p = Foundation.exp(Double(z[j] - mx)) / sum
                    g[j] = Float((p - (j == y ? 1 : 0)) / Double(n))
                }
            }
        }
        return (total, correct)
    }
}

/// Stochastic gradient descent exactly as torch.optim.SGD (dampening 0, no Nesterov):
/// d = g + wd * w; v = d on the first step, else v = momentum * v + d; w -= lr * v.
public struct SGD {
    public var lr: Float
    public var momentum: Float
    public var weightDecay: Float

    public init(lr: Float, momentum: Float = 0, weightDecay: Float = 0) {
        self.lr = lr
        self.momentum = momentum
        self.weightDecay = weightDecay
    }

    public func step(_ params: [Parameter]) throws(TensorError) {
        for p in params {
            let w = p.value.data, g = p.grad.data, n = p.value.count
            if momentum != 0 {
                if p.velocity == nil {
                    let v = try Tensor(uninitialized: p.value.shape)
                    for i in 0..<n { v.data[i] = g[i] + weightDecay * w[i] }
                    p.velocity = v
                } else {
                    let v = p.velocity!.data
                    for i in 0..<n { v[i] = momentum * v[i] + (g[i] + weightDecay * w[i]) }
                }
                let v = p.velocity!.data
                for i in 0..<n { w[i] -= lr * v[i] }
            } else {
                for i in 0..<n { w[i] -= lr * (g[i] + weightDecay * w[i]) }
            }
        }
    }
}

/// The learning rate of each epoch, stepped once per epoch as PyTorch's schedulers.
public enum Schedule: Equatable {
    case constant
    /// lr * gamma^(epoch / every) (StepLR)
    case step(every: Int, gamma: Double)
    /// eta_min + (lr - eta_min) (1 + cos(pi epoch / tMax)) / 2 (CosineAnnealingLR); tMax 0 means the epoch count.
    case cosine(tMax: Int, etaMin: Double)

    public func rate(base: Double, epoch: Int, epochs: Int) -> Double {
        switch self {
        case .constant: return base
        case .step(let every, let gamma): return base * Foundation.pow(gamma, Double(epoch / max(every, 1)))
        case .cosine(let tMax, let etaMin):
            let t = Double(tMax > 0 ? tMax : epochs)
            return etaMin + (base - etaMin) * (1 + Foundation.cos(Double.pi * Double(epoch) / t)) / 2
        }
    }
}
