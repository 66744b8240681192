import Foundation
import Testing
@testable import LesionNN
@testable import LesionTensor

func tmp(_ name: String) -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lesion-nn-tests-\(getpid())")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir.appendingPathComponent(name).path
}

func write(_ bytes: [UInt8], _ name: String) -> String {
    let p = tmp(name)
    FileManager.default.createFile(atPath: p, contents: Data(bytes))
    return p
}

/// Every layer kind with state, in one model.
func everyLayerModel(seed: UInt64) throws -> Sequential {
    try Sequential([Conv2d(cin: 2, cout: 4, k: 3, padding: 1), BatchNorm(4, spatial: true), ReLU(), MaxPool2d(2),
                    Conv2d(cin: 4, cout: 4, k: 1, bias: false), AvgPool2d(2), Flatten(), Linear(16, 8),
                    BatchNorm(8, spatial: false), Dropout(0.3), Linear(8, 3)], seed: seed, inputShape: [2, 8, 8])
}

@Suite struct WeightsTests {
    @Test func saveLoadRoundTripOfEveryLayer() throws {
        let a = try everyLayerModel(seed: 1)
        // Give BatchNorm non-trivial running statistics.
        a.training = true
        _ = try a.forwardInternal(sample([6, 2, 8, 8], seed: 2), training: true)
        a.training = false
        let p = tmp("every.safetensors")
        try a.save(path: p)
        let b = try everyLayerModel(seed: 99)
        try b.load(path: p)
        for ((n1, t1), (n2, t2)) in zip(a.stateDict(), b.stateDict()) {
            #expect(n1 == n2 && t1.toArray() == t2.toArray(), "\(n1)")
        }
        #expect((b.layers[1] as! BatchNorm).batchesTracked == 1)
        let x = sample([3, 2, 8, 8], seed: 5)
        #expect(try a.forward(x).toArray() == b.forward(x).toArray())
    }

    @Test func renameAndMismatchMessages() throws {
        let a = try everyLayerModel(seed: 1)
        let p = tmp("renamed.safetensors")
        var entries: [(String, Safetensors.Value)] = []
        for (n, t) in a.stateDict() { entries.append((n.replacingOccurrences(of: "conv1", with: "features.0"), .f32(t))) }
        try Safetensors.write(path: p, entries)
        let b = try everyLayerModel(seed: 2)
        do throws(TensorError) {
            try b.load(path: p)
            Issue.record("loading without rename should fail")
        } catch {
            #expect(error.message.contains("missing from the file: conv1.weight, conv1.bias"))
            #expect(error.message.contains("not in the model: features.0.bias, features.0.weight"))
        }
        try b.load(path: p, rename: ["features.0": "conv1"])
        #expect(b.layers[0].parameters[0].value.toArray() == a.layers[0].parameters[0].value.toArray())

        let other = try Sequential([Conv2d(cin: 2, cout: 4, k: 5, padding: 1)], seed: 1)
        try Safetensors.write(path: p, [("conv1.weight", .f32(try Tensor(zeros: [4, 2, 3, 3]))), ("conv1.bias", .f32(try Tensor(zeros: [4])))])
        do throws(TensorError) {
            try other.load(path: p)
            Issue.record("a shape mismatch should fail")
        } catch {
            #expect(error.message.contains("conv1.weight: file has {4,2,3,3}, model has {4,2,5,5}"))
        }
    }

    @Test func readsOtherDtypes() throws {
        // Header and data written by hand: F16 [2] = {1.5, -2}, BF16 [1] = {3.0}, F64 [1] = {0.25}, I64 scalar 7.
        let header = #"{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[4,6]},"c":{"dtype":"F64","shape":[1],"data_offsets":[6,14]},"d":{"dtype":"I64","shape":[],"data_offsets":[14,22]}}"#
        var bytes = [UInt8](repeating: 0, count: 8)
        let h = Array(header.utf8)
        for i in 0..<8 { bytes[i] = UInt8((h.count >> (8 * i)) & 0xFF) }
        bytes += h
        bytes += [0x00, 0x3E, 0x00, 0xC0]                           // 1.5, -2 in F16
        bytes += [0x40, 0x40]                                       // 3.0 in BF16
        bytes += withUnsafeBytes(of: (0.25 as Double).bitPattern.littleEndian, Array.init)
        bytes += withUnsafeBytes(of: Int64(7).littleEndian, Array.init)
        let (e, _) = try Safetensors.read(path: write(bytes, "dtypes.safetensors"))
        #expect(e.map(\.name) == ["a", "b", "c", "d"])
        #expect(e[0].tensor.toArray() == [1.5, -2] && e[1].tensor.toArray() == [3] && e[2].tensor.toArray() == [0.25])
        #expect(e[3].tensor.toArray() == [7] && e[3].shape == [])
    }

    @Test func corruptSafetensorsAreClearErrors() throws {
        func file(_ header: String, data: Int = 0, claimed: UInt64? = nil) -> [UInt8] {
            let h = Array(header.utf8)
            let n = claimed ?? UInt64(h.count)
            return (0..<8).map { UInt8((n >> (8 * UInt64($0))) & 0xFF) } + h + [UInt8](repeating: 0, count: data)
        }
        let cases: [([UInt8], String)] = [
            ([1, 2, 3], "too short"),
            (file("{}", claimed: 1 << 40), "does not fit"),
            (file("{}", claimed: 500), "does not fit"),
            (file("[1,2]"), "does not start with '{'"),
            (file("{\"a\": nope}"), "not JSON"),
            (file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: 4), "outside the 4 bytes"),
            (file(#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: 8), "its offsets span 8"),
            (file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, data: 8), "outside"),
            (file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: 8), "overlap"),
            (file(#"{"a":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}"#, data: 8), "has dtype C64"),
            (file(#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, data: 4), "bad shape"),
            (file(#"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}"#, data: 4), "too large"),
            (file(#"{"a":{"dtype":"F32","shape":[1]}}"#, data: 4), "lacks dtype, shape or data_offsets"),
        ]
        for (i, (bytes, text)) in cases.enumerated() {
            let p = write(bytes, "bad\(i).safetensors")
            do throws(TensorError) {
                _ = try Safetensors.read(path: p)
                Issue.record("case \(i) should fail")
            } catch {
                #expect(error.message.contains(text), "case \(i): '\(error.message)' should contain '\(text)'")
            }
        }
        // Every truncation of a valid file fails cleanly.
        let m = try everyLayerModel(seed: 1)
        let good = tmp("good.safetensors")
        try m.save(path: good)
        let data = try Data(contentsOf: URL(fileURLWithPath: good))
        for cut in stride(from: 0, to: data.count, by: max(1, data.count / 50)) {
            #expect(throws: TensorError.self) { try m.load(path: write(Array(data.prefix(cut)), "cut.safetensors")) }
        }
    }
}

@Suite struct DataFileTests {
    func idxBytes(_ dims: [Int], _ payload: [UInt8]) -> [UInt8] {
        var b: [UInt8] = [0, 0, 8, UInt8(dims.count)]
        for d in dims { b += [UInt8(d >> 24 & 0xFF), UInt8(d >> 16 & 0xFF), UInt8(d >> 8 & 0xFF), UInt8(d & 0xFF)] }
        return b + payload
    }

    func gzip(_ path: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/gzip")
        p.arguments = ["-kf", path]
        try p.run()
        p.waitUntilExit()
        return path + ".gz"
    }

    @Test func idxRawAndGzip() throws {
        let img = write(idxBytes([2, 2, 3], [0, 51, 102, 153, 204, 255, 255, 0, 0, 0, 0, 255]), "img.idx")
        let lab = write(idxBytes([2], [1, 0]), "lab.idx")
        let raw = try DataFiles.idx(images: img, labels: lab, classNames: nil, name: "t")
        #expect(raw.sampleShape == [1, 2, 3] && raw.count == 2 && raw.numClasses == 2)
        #expect(raw.images!.toArray().prefix(3) == [0, 0.2, 0.4])
        let gz = try DataFiles.idx(images: try gzip(img), labels: try gzip(lab), classNames: nil, name: "t")
        #expect(gz.images!.toArray() == raw.images!.toArray() && gz.labels == raw.labels)
    }

    @Test func corruptIDXAreClearErrors() throws {
        let cases: [([UInt8], String)] = [
            ([0, 0], "too short"),
            ([1, 2, 8, 1, 0, 0, 0, 1, 5], "bad magic"),
            ([0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0], "only unsigned-byte"),
            (idxBytes([0x7FFF_FFFF, 0x7FFF_FFFF], []), "more than"),
            (idxBytes([100, 28, 28], [1, 2, 3]), "truncated: its header says 78400 bytes of data, it holds 3"),
            (idxBytes([2], [1, 2, 3]), "more data than its header says"),
            (idxBytes([0], []), "has size 0"),
            ([0, 0, 8, 9], "dimensions"),
        ]
        for (i, (bytes, text)) in cases.enumerated() {
            let p = write(bytes, "bad\(i).idx")
            do throws(TensorError) {
                _ = try DataFiles.readIDX(p)
                Issue.record("case \(i) should fail")
            } catch {
                #expect(error.message.contains(text), "case \(i): '\(error.message)' should contain '\(text)'")
            }
        }
        // A gzip stream cut short, and one with damaged bytes.
        let whole = try Data(contentsOf: URL(fileURLWithPath: try gzip(write(idxBytes([50, 20, 20], (0..<20000).map { UInt8($0 % 251) }), "big.idx"))))
        #expect(throws: TensorError.self) { try DataFiles.readIDX(write(Array(whole.prefix(whole.count / 2)), "cut.idx.gz")) }
        var damaged = Array(whole)
        for i in stride(from: 40, to: damaged.count - 20, by: 97) { damaged[i] ^= 0x5A }
        #expect(throws: TensorError.self) { try DataFiles.readIDX(write(damaged, "damaged.idx.gz")) }
        #expect(throws: TensorError.self) { try DataFiles.readIDX("/nonexistent.idx") }
        // Images and labels that disagree.
        let img = write(idxBytes([3, 2, 2], [UInt8](repeating: 1, count: 12)), "i3.idx")
        let lab = write(idxBytes([2], [0, 1]), "l2.idx")
        #expect(throws: TensorError.self) { try DataFiles.idx(images: img, labels: lab, classNames: nil, name: "x") }
    }

    @Test func cifarBatches() throws {
        let dir = tmp("cifar")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        func batch(_ labels: [UInt8]) -> [UInt8] { labels.flatMap { [$0] + [UInt8](repeating: $0 &* 20, count: 3072) } }
        for i in 1...5 { _ = write(batch([UInt8(i), 0]), "cifar/data_batch_\(i).bin") }
        _ = write(batch([9, 3, 1]), "cifar/test_batch.bin")
        let (train, test) = try DataFiles.cifar10(dir: dir)
        #expect(train.count == 10 && test.count == 3 && train.sampleShape == [3, 32, 32])
        #expect(test.labels == [9, 3, 1] && abs(test.images!.data[0] - 180 / 255) < 1e-7)
        _ = write(batch([3]).dropLast(), "cifar/test_batch.bin")
        #expect(throws: TensorError.self) { try DataFiles.cifar10(dir: dir) }
        _ = write(batch([12]), "cifar/test_batch.bin")
        #expect(throws: TensorError.self) { try DataFiles.cifar10(dir: dir) }
    }

    @Test func shapesAreDeterministicAndBalanced() throws {
        let a = try DataFiles.shapes(n: 100, size: 20, seed: 3), b = try DataFiles.shapes(n: 100, size: 20, seed: 3)
        let c = try DataFiles.shapes(n: 100, size: 20, seed: 4)
        #expect(a.images!.toArray() == b.images!.toArray() && a.images!.toArray() != c.images!.toArray())
        #expect((0..<10).allSatisfy { k in a.labels.filter { $0 == k }.count == 10 })
        #expect(a.images!.toArray().allSatisfy { $0 >= 0 && $0 <= 1 })
    }

    @Test func subsetsSplitsAndBalance() throws {
        let d = try DataFiles.shapes(n: 200, size: 8, seed: 1)
        let (a, b) = try d.split(0.25, seed: 7)
        #expect(a.count == 50 && b.count == 150 && Set(a.indices).isDisjoint(with: Set(b.indices)))
        let (a2, _) = try d.split(0.25, seed: 7)
        #expect(a2.indices == a.indices)
        let bal = try d.balanced(5, seed: 1)
        #expect(bal.count == 50 && (0..<10).allSatisfy { k in bal.viewLabels.filter { $0 == k }.count == 5 })
        #expect(throws: TensorError.self) { try d.balanced(21, seed: 1) }
        #expect(throws: TensorError.self) { try d.subset([200]) }
        let p = Dataset.permutation(1000, seed: 1, stream: 0)
        #expect(Set(p).count == 1000 && p != Array(0..<1000))
    }

    /// Batches end at every break (the chunks of a call cut into parts), as few and as even as
    /// the batch size allows.
    @Test func batchesEndAtBreaks() throws {
        let d = try DataFiles.shapes(n: 23, size: 8, seed: 1)
        var ranges: [Range<Int>] = []
        try d.forEachBatch(5, breaks: [12, 7, 20]) { x, r, _ throws(TensorError) in
            #expect(x.shape[0] == r.count)
            ranges.append(r)
        }
        #expect(ranges == [0..<4, 4..<7, 7..<12, 12..<16, 16..<20, 20..<23])
        ranges = []
        try d.forEachBatch(5) { _, r, _ throws(TensorError) in ranges.append(r) }
        #expect(ranges == [0..<5, 5..<10, 10..<15, 15..<19, 19..<23])
    }
}
