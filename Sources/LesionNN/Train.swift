// Training and evaluation loops.
import Foundation
import LesionTensor

public struct FitOptions {
    public var epochs = 1
    public var batch = 64
    public var lr = 0.01
    public var momentum = 0.0
    public var weightDecay = 0.0
    public var schedule = Schedule.constant
    public var seed: UInt64 = 0
    public var shuffle = true
    public init() {}
}

public struct FitProgress {
    public var epoch: Int, epochs: Int, batch: Int, batches: Int
    public var loss: Double, accuracy: Double
    public var imagesPerSecond: Double, elapsed: Double
    public var lr: Double
    public var epochDone: Bool
}

public struct EpochStats {
    public var loss: Double, accuracy: Double, lr: Double, seconds: Double, imagesPerSecond: Double
}

public struct Evaluation {
    public var accuracy: Double
    public var loss: Double
    public var perClass: [Double]
    /// confusion[true * K + predicted]
    public var confusion: [Int]
    public var n: Int
}

public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

extension Sequential {
    /// Throws when the data's samples or classes do not fit the model.
    public func checkFits(_ data: Dataset) throws(TensorError) { try checkData(data) }

    /// Whether the model can read the data's samples (its classes need not be the model's:
    /// looking at units on other data, as dissection on concept images does).
    public func checkReads(_ data: Dataset) throws(TensorError) { _ = try lastWidth(data) }

    func checkData(_ data: Dataset) throws(TensorError) {
        let nClasses = try lastWidth(data)
        if let nClasses, nClasses != data.numClasses {
            throw TensorError(.shape, "the model has \(nClasses) outputs but the data set has \(data.numClasses) classes")
        }
    }

    /// The model's number of outputs for this data, when shapes are known.
    func lastWidth(_ data: Dataset) throws(TensorError) -> Int? {
        if let s = inputShape, s != data.sampleShape {
            throw TensorError(.shape, "the model expects samples {\(s.map(String.init).joined(separator: ","))} but '\(data.name)' has {\(data.sampleShape.map(String.init).joined(separator: ","))}")
        }
        guard let last = try shapes(batch: 1, sample: data.sampleShape).last, let s = last else { return nil }
        return s.count == 2 ? s[1] : nil
    }

    /// Trains with SGD on softmax cross-entropy; returns per-epoch loss and accuracy (means
    /// over the epoch's batches, as seen during training). Leaves the model in evaluation mode.
    public func fit(_ data: Dataset, _ o: FitOptions, progress: ((FitProgress) -> Void)? = nil) throws(TensorError) -> [EpochStats] {
        guard o.epochs >= 1, o.batch >= 1 else { throw TensorError(.value, "epochs and batch must be positive") }
        try checkData(data)
        training = true
        noiseSeed = o.seed
        defer { training = false }
        var sgd = SGD(lr: Float(o.lr), momentum: Float(o.momentum), weightDecay: Float(o.weightDecay))
        let n = data.count
        // A batch larger than the data is the whole data (nothing is sized by the asked batch).
        var o = o
        o.batch = min(o.batch, n)
        let batches = (n + o.batch - 1) / o.batch
        var history: [EpochStats] = []
        var x: Tensor?
        var labels = [Int32](repeating: 0, count: o.batch)
        var dlogits: Tensor?
        let params = parameters
        for epoch in 0..<o.epochs {
            let lr = o.schedule.rate(base: o.lr, epoch: epoch, epochs: o.epochs)
            sgd.lr = Float(lr)
            let order = o.shuffle ? Dataset.permutation(n, seed: o.seed, stream: UInt64(epoch)) : Array(0..<n)
            let t0 = monotonicSeconds()
            var lossSum = 0.0, correct = 0, seen = 0
            for b in 0..<batches {
                try Limits.checkTime()
                let lo = b * o.batch, hi = min(n, lo + o.batch)
                let xb = try Buffers.reuse(x, [hi - lo] + data.sampleShape)
                x = xb
                try labels.withUnsafeMutableBufferPointer { p throws(TensorError) in try data.gather(order[lo..<hi], into: xb, labels: p.baseAddress!) }
                let logits = try forwardInternal(xb, training: true)
                let g = try Buffers.reuse(dlogits, logits.shape)
                dlogits = g
                let (l, c) = labels.withUnsafeBufferPointer { Loss.softmaxCrossEntropy(logits, labels: $0.baseAddress!, grad: g) }
                guard l.isFinite else {
                    throw TensorError(.numeric, "the loss became \(l) at epoch \(epoch + 1), batch \(b + 1); try a smaller learning rate")
                }
                zeroGrad()
                try backward(g)
                try sgd.step(params)
                lossSum += l
                correct += c
                seen += hi - lo
                if let progress {
                    let el = monotonicSeconds() - t0
                    progress(FitProgress(epoch: epoch + 1, epochs: o.epochs, batch: b + 1, batches: batches,
                                         loss: lossSum / Double(seen), accuracy: Double(correct) / Double(seen),
                                         imagesPerSecond: Double(seen) / max(el, 1e-9), elapsed: el, lr: lr,
                                         epochDone: b + 1 == batches))
                }
            }
            let secs = monotonicSeconds() - t0
            history.append(EpochStats(loss: lossSum / Double(seen), accuracy: Double(correct) / Double(seen),
                                      lr: lr, seconds: secs, imagesPerSecond: Double(seen) / secs))
        }
        return history
    }

    /// Runs the model in evaluation mode over the data in batches; `body` sees each batch's
    /// output of layer `through` (internal layout) with the batch's positions.
    public func eachBatch(_ data: Dataset, batch: Int, through last: Int? = nil, breaks: [Int] = [],
                          _ body: (Tensor, Range<Int>, UnsafePointer<Int32>) throws(TensorError) -> Void) throws(TensorError) {
        let saved = training
        training = false
        defer { training = saved }
        try data.forEachBatch(fittingBatch(batch, sample: data.sampleShape), breaks: breaks) { xb, range, labels throws(TensorError) in
            try body(try forwardInternal(xb, through: last, training: false), range, labels)
        }
    }

    /// Accuracy, mean loss, per-class accuracy and confusion matrix in evaluation mode.
    public func evaluate(_ data: Dataset, batch: Int = 256) throws(TensorError) -> Evaluation {
        try checkData(data)
        let k = data.numClasses
        var confusion = [Int](repeating: 0, count: k * k)
        var lossSum = 0.0
        try eachBatch(data, batch: batch) { logits, range, labels throws(TensorError) in
            guard logits.rank == 2, logits.shape[1] == k else {
                throw TensorError(.shape, "the model's output is \(Tensor.describe(Layout.logicalShape(logits))), expected {N,\(k)} for \(k) classes")
            }
            lossSum += Loss.softmaxCrossEntropy(logits, labels: labels, grad: nil).loss
            for r in 0..<range.count {
                let p = Tensor.argExtreme(logits.data + r * k, k, 1, largest: true)
                confusion[Int(labels[r]) * k + p] += 1
            }
        }
        return Evaluation.from(confusion: confusion, classes: k, lossSum: lossSum)
    }

    /// 0-based predicted classes of an NCHW batch, in evaluation mode.
    public func predict(_ x: Tensor, batch: Int = 256) throws(TensorError) -> [Int] {
        let saved = training
        training = false
        defer { training = saved }
        var out: [Int] = []
        let n = x.shape[0]
        let batch = fittingBatch(batch, sample: Array(x.shape.dropFirst()))
        var lo = 0
        while lo < n {
            let hi = min(n, lo + batch)
            let xb = try x.narrow(dim: 0, start: lo, length: hi - lo)
            let logits = try forwardInternal(xb, training: false)
            guard logits.rank == 2 else { throw TensorError(.shape, "the model's output is not {N,K}") }
            let k = logits.shape[1]
            for r in 0..<(hi - lo) { out.append(Tensor.argExtreme(logits.data + r * k, k, 1, largest: true)) }
            lo = hi
        }
        return out
    }

    /// The output of layer `index` for every sample, NCHW (or [N, F]), in evaluation mode.
    public func activations(_ data: Dataset, layer index: Int, batch: Int = 256) throws(TensorError) -> Tensor {
        var result: Tensor?
        try eachBatch(data, batch: batch, through: index) { out, range, _ throws(TensorError) in
            let part = try Layout.toNCHW(out)
            let per = part.count / part.shape[0]
            if result == nil { result = try Tensor(uninitialized: [data.count] + Array(part.shape.dropFirst())) }
            (result!.data + range.lowerBound * per).update(from: part.data, count: part.count)
        }
        return result!
    }
}

extension Evaluation {
    /// Accuracy, loss and per-class accuracy from a confusion matrix and the summed loss.
    public static func from(confusion: [Int], classes k: Int, lossSum: Double) -> Evaluation {
        let n = confusion.reduce(0, +)
        var right = 0
        var perClass = [Double](repeating: .nan, count: k)
        for c in 0..<k {
            right += confusion[c * k + c]
            let row = confusion[(c * k)..<((c + 1) * k)].reduce(0, +)
            if row > 0 { perClass[c] = Double(confusion[c * k + c]) / Double(row) }
        }
        return Evaluation(accuracy: Double(right) / Double(max(n, 1)), loss: lossSum / Double(max(n, 1)),
                          perClass: perClass, confusion: confusion, n: n)
    }
}
