// Data set files: IDX (raw or gzip, read through zlib), CIFAR-10 binary batches, and the
// generated `shapes` set. Readers trust no header: sizes are checked against the data that is
// actually there before the tensors are made.
import CZlib
import Foundation
import LesionTensor

public enum DataFiles {
    /// Largest IDX payload accepted (2 GiB).
    static let maxIDXBytes = 1 << 31

    /// An IDX file: (dims, bytes of unsigned-byte data). Accepts gzip or raw.
    public static func readIDX(_ path: String) throws(TensorError) -> (dims: [Int], data: [UInt8]) {
        let (fd, _) = try Files.open(path)
        guard let gz = gzdopen(fd, "rb") else {
            close(fd)
            throw TensorError(.io, "cannot open '\(path)'")
        }
        defer { gzclose(gz) }
        func read(_ n: Int, into p: UnsafeMutableRawPointer) throws(TensorError) -> Int {
            let got = gzread(gz, p, UInt32(n))
            if got < 0 {
                var errnum: Int32 = 0
                let msg = gzerror(gz, &errnum).map { String(cString: $0) } ?? "read error"
                throw TensorError(.format, "'\(path)': corrupt compressed data (\(msg))")
            }
            return Int(got)
        }
        var magic = [UInt8](repeating: 0, count: 4)
        guard try typed({ try magic.withUnsafeMutableBytes { p in try read(4, into: p.baseAddress!) } }) == 4 else {
            throw TensorError(.format, "'\(path)' is too short to be an IDX file")
        }
        guard magic[0] == 0, magic[1] == 0 else { throw TensorError(.format, "'\(path)' is not an IDX file (bad magic)") }
        guard magic[2] == 0x08 else {
            throw TensorError(.format, "'\(path)': only unsigned-byte IDX data (type 0x08) is supported, got type 0x\(String(magic[2], radix: 16))")
        }
        let nd = Int(magic[3])
        guard nd >= 1 && nd <= 4 else { throw TensorError(.format, "'\(path)': IDX with \(nd) dimensions (1 to 4 expected)") }
        var dimBytes = [UInt8](repeating: 0, count: 4 * nd)
        guard try typed({ try dimBytes.withUnsafeMutableBytes { p in try read(4 * nd, into: p.baseAddress!) } }) == 4 * nd else {
            throw TensorError(.format, "'\(path)' is truncated in its header")
        }
        var dims: [Int] = []
        var total = 1
        for d in 0..<nd {
            let v = Int(dimBytes[4 * d]) << 24 | Int(dimBytes[4 * d + 1]) << 16 | Int(dimBytes[4 * d + 2]) << 8 | Int(dimBytes[4 * d + 3])
            guard v >= 1 else { throw TensorError(.format, "'\(path)': dimension \(d + 1) has size \(v)") }
            dims.append(v)
            total *= v
            guard total <= maxIDXBytes else { throw TensorError(.format, "'\(path)': header claims more than \(maxIDXBytes) bytes of data") }
        }
        // Read in chunks: memory grows with the data actually present, not with the header's claim.
        var data: [UInt8] = []
        data.reserveCapacity(min(total, 1 << 24))
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while data.count < total {
            let want = min(chunk.count, total - data.count)
            let got = try typed { try chunk.withUnsafeMutableBytes { p in try read(want, into: p.baseAddress!) } }
            if got == 0 { break }
            data.append(contentsOf: chunk[0..<got])
        }
        guard data.count == total else {
            throw TensorError(.format, "'\(path)' is truncated: its header says \(total) bytes of data, it holds \(data.count)")
        }
        let extra = try typed { try chunk.withUnsafeMutableBytes { p in try read(1, into: p.baseAddress!) } }
        guard extra == 0 else { throw TensorError(.format, "'\(path)' has more data than its header says") }
        return (dims, data)
    }

    /// Images (IDX [N, H, W], scaled to [0, 1]) and labels (IDX [N]) as a data set.
    public static func idx(images: String, labels: String, classNames: [String]?, name: String) throws(TensorError) -> Dataset {
        let (idims, idata) = try readIDX(images)
        let (ldims, ldata) = try readIDX(labels)
        guard idims.count == 3 else {
            throw TensorError(.format, "'\(images)': expected images {N,H,W}, got \(Tensor.describe(idims))")
        }
        guard ldims.count == 1 else { throw TensorError(.format, "'\(labels)': expected labels {N}, got \(Tensor.describe(ldims))") }
        guard ldims[0] == idims[0] else {
            throw TensorError(.format, "'\(images)' has \(idims[0]) images but '\(labels)' has \(ldims[0]) labels")
        }
        let x = try Tensor(uninitialized: [idims[0], 1, idims[1], idims[2]])
        for i in 0..<idata.count { x.data[i] = Float(idata[i]) / 255 }
        let maxLabel = Int(ldata.max() ?? 0)
        let names = classNames ?? (0...maxLabel).map(String.init)
        guard maxLabel < names.count else {
            throw TensorError(.format, "'\(labels)' has label \(maxLabel), but there are \(names.count) classes")
        }
        return try Dataset(images: x, labels: ldata.map(Int32.init), classNames: names, name: name)
    }

    public static let fashionClasses = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    public static let cifarClasses = ["airplane", "automobile", "bird", "cat", "deer",
                                      "dog", "frog", "horse", "ship", "truck"]

    /// The folder holding Fashion-MNIST: root, then $LESION_DATA (itself or its fashion-mnist
    /// folder), then the Debian package's folder.
    public static func findFashionMNIST(root: String?) throws(TensorError) -> String {
        var candidates: [String] = []
        if let root { candidates += [root, root + "/fashion-mnist"] }
        if let env = ProcessInfo.processInfo.environment["LESION_DATA"], !env.isEmpty {
            candidates += [env, env + "/fashion-mnist"]
        }
        candidates.append("/usr/share/datasets/fashion-mnist")
        for dir in candidates where fashionFile(dir, "t10k-labels-idx1-ubyte") != nil { return dir }
        throw TensorError(.io, "Fashion-MNIST not found (looked in \(candidates.joined(separator: ", "))); install it with `sudo apt-get install dataset-fashion-mnist` (or scripts/setup.sh), or pass {root = DIR} holding the four IDX files")
    }

    static func fashionFile(_ dir: String, _ stem: String) -> String? {
        for name in [stem + ".gz", stem] where FileManager.default.fileExists(atPath: dir + "/" + name) { return dir + "/" + name }
        return nil
    }

    public static func fashionMNIST(root: String?) throws(TensorError) -> (train: Dataset, test: Dataset) {
        let dir = try findFashionMNIST(root: root)
        func file(_ stem: String) throws(TensorError) -> String {
            guard let f = fashionFile(dir, stem) else { throw TensorError(.io, "'\(dir)' lacks \(stem)(.gz)") }
            return f
        }
        let train = try idx(images: file("train-images-idx3-ubyte"), labels: file("train-labels-idx1-ubyte"),
                            classNames: fashionClasses, name: "fashion-mnist/train")
        let test = try idx(images: file("t10k-images-idx3-ubyte"), labels: file("t10k-labels-idx1-ubyte"),
                           classNames: fashionClasses, name: "fashion-mnist/test")
        return (train, test)
    }

    // MARK: - CIFAR-10

    /// One CIFAR-10 binary batch file: records of 1 label byte + 3072 image bytes (R, G, B planes).
    static func readCIFARBatch(_ path: String) throws(TensorError) -> (images: [UInt8], labels: [Int32]) {
        let d = try Files.bytes(path, limit: 1 << 31)
        let rec = 3073
        guard d.count > 0, d.count % rec == 0 else {
            throw TensorError(.format, "'\(path)' is not a CIFAR-10 binary batch: \(d.count) bytes is not a multiple of \(rec)")
        }
        let n = d.count / rec
        var images = [UInt8](repeating: 0, count: n * 3072)
        var labels = [Int32](repeating: 0, count: n)
        try typed { try d.withUnsafeBytes { (p: UnsafeRawBufferPointer) in
            for i in 0..<n {
                let l = p[i * rec]
                guard l < 10 else { throw TensorError(.format, "'\(path)': record \(i + 1) has label \(l) (0 to 9 expected)") }
                labels[i] = Int32(l)
                images.withUnsafeMutableBytes { dst in
                    dst.baseAddress!.advanced(by: i * 3072).copyMemory(from: p.baseAddress!.advanced(by: i * rec + 1), byteCount: 3072)
                }
            }
        } }
        return (images, labels)
    }

    public static func cifar10(dir: String) throws(TensorError) -> (train: Dataset, test: Dataset) {
        func load(_ files: [String], _ name: String) throws(TensorError) -> Dataset {
            var images: [UInt8] = [], labels: [Int32] = []
            for f in files {
                let (i, l) = try readCIFARBatch(dir + "/" + f)
                images += i
                labels += l
            }
            let x = try Tensor(uninitialized: [labels.count, 3, 32, 32])
            for i in 0..<images.count { x.data[i] = Float(images[i]) / 255 }
            return try Dataset(images: x, labels: labels, classNames: cifarClasses, name: name)
        }
        return (try load((1...5).map { "data_batch_\($0).bin" }, "cifar10/train"), try load(["test_batch.bin"], "cifar10/test"))
    }

    // MARK: - shapes

    public static let shapeClasses = ["circle", "square", "triangle", "cross", "ring",
                                      "horizontal stripes", "vertical stripes", "checkerboard", "diagonal", "x"]

    /// A generated set of n grey images (size x size) of ten classes of shapes and textures, with
    /// position, size, contrast and noise varying; deterministic by seed. Sample i has class
    /// i mod 10, so every prefix is nearly balanced.
    public static func shapes(n: Int, size: Int = 28, seed: UInt64 = 0, noise: Float = 0.1) throws(TensorError) -> Dataset {
        guard n >= 1 else { throw TensorError(.value, "n must be positive, got \(n)") }
        guard size >= 8 && size <= 256 else { throw TensorError(.value, "size must be in 8...256, got \(size)") }
        let x = try Tensor(zeros: [n, 1, size, size])
        var labels = [Int32](repeating: 0, count: n)
        let s = Float(size)
        for i in 0..<n {
            let c = i % 10
            labels[i] = Int32(c)
            let r = RandomStream(seed: seed, stream: UInt64(i))
            var w: UInt64 = 0
            func u(_ lo: Float, _ hi: Float) -> Float {
                defer { w += 1 }
                return lo + (hi - lo) * Float(r.word(w) >> 8) * 0x1p-24
            }
            let cx = s / 2 + u(-s / 7, s / 7), cy = s / 2 + u(-s / 7, s / 7)
            let rad = u(s / 5, s / 3.2)
            let ink = u(0.6, 1.0)
            let period = max(2, rad / u(2.2, 3.2))
            let img = x.data + i * size * size
            for py in 0..<size {
                for px in 0..<size {
                    let dx = Float(px) + 0.5 - cx, dy = Float(py) + 0.5 - cy
                    let d = (dx * dx + dy * dy).squareRoot()
                    let inBox = abs(dx) <= rad && abs(dy) <= rad
                    let on: Bool
                    switch c {
                    case 0: on = d <= rad
                    case 1: on = abs(dx) <= rad * 0.8 && abs(dy) <= rad * 0.8
                    case 2: on = dy >= -rad && dy <= rad && abs(dx) <= (dy + rad) / 2
                    case 3: on = (abs(dx) <= rad / 3.5 && abs(dy) <= rad) || (abs(dy) <= rad / 3.5 && abs(dx) <= rad)
                    case 4: on = d <= rad && d >= rad * 0.6
                    case 5: on = inBox && Int(((dy + rad) / period).rounded(.down)) % 2 == 0
                    case 6: on = inBox && Int(((dx + rad) / period).rounded(.down)) % 2 == 0
                    case 7: on = inBox && (Int(((dx + rad) / period).rounded(.down)) + Int(((dy + rad) / period).rounded(.down))) % 2 == 0
                    case 8: on = inBox && abs(dx - dy) <= rad / 3.5
                    default: on = inBox && (abs(dx - dy) <= rad / 4.5 || abs(dx + dy) <= rad / 4.5)
                    }
                    let v = (on ? ink : 0) + noise * u(-1, 1)
                    img[py * size + px] = min(1, max(0, v))
                }
            }
        }
        return try Dataset(images: x, labels: labels, classNames: shapeClasses, name: "shapes(n=\(n),size=\(size),seed=\(seed))")
    }
}
