// safetensors files (Hugging Face's format): an 8-byte little-endian header length, a JSON
// header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}, then the
// data. Reading checks every size and offset against the file before making tensors, and
// converts F16, BF16, F64 and integer types to float32.
import Foundation

public enum Safetensors {
    public struct Entry {
        public var name: String
        public var dtype: String        // as stored: "F32", "I64", ...
        public var shape: [Int]         // as stored ([] for a scalar)
        public var tensor: Tensor       // float32; a scalar reads as shape [1]
    }

    static let sizes: [String: Int] = ["F32": 4, "F64": 8, "F16": 2, "BF16": 2, "I64": 8, "I32": 4,
                                       "I16": 2, "I8": 1, "U8": 1, "U16": 2, "U32": 4, "U64": 8, "BOOL": 1]
    /// Reference implementations refuse headers over 100 MB.
    static let maxHeader = 100_000_000

    public static func read(path: String) throws(TensorError) -> (entries: [Entry], metadata: [String: String]) {
        // Read with stdio (FileManager.contents leaks its buffer when a read fails, which
        // AddressSanitizer reports); only regular files.
        let (f, size) = try Files.openForReading(path)
        defer { fclose(f) }
        var file = Data(count: size)
        let got = file.withUnsafeMutableBytes { fread($0.baseAddress, 1, size, f) }
        guard got == size else { throw TensorError(.io, "cannot read '\(path)'") }
        return try parse(file, path: path)
    }

    static func parse(_ file: Data, path: String) throws(TensorError) -> (entries: [Entry], metadata: [String: String]) {
        func bad(_ why: String) -> TensorError { TensorError(.format, "'\(path)' is not a valid safetensors file (\(why))") }
        guard file.count >= 8 else { throw bad("\(file.count) bytes, too short for a header") }
        var n: UInt64 = 0
        for i in 0..<8 { n |= UInt64(file[file.startIndex + i]) << (8 * UInt64(i)) }
        guard n <= UInt64(maxHeader), Int(n) <= file.count - 8 else {
            throw bad("header length \(n) does not fit in a file of \(file.count) bytes")
        }
        let headerBytes = file[(file.startIndex + 8)..<(file.startIndex + 8 + Int(n))]
        guard headerBytes.first == UInt8(ascii: "{") else { throw bad("header does not start with '{'") }
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: headerBytes) } catch { throw bad("header is not JSON") }
        guard let dict = json as? [String: Any] else { throw bad("header is not a JSON object") }
        let dataStart = 8 + Int(n), dataLen = file.count - dataStart
        var metadata: [String: String] = [:]
        var entries: [Entry] = []
        var spans: [(Int, Int, String)] = []
        for (name, value) in dict {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else { throw bad("__metadata__ is not an object") }
                for (k, v) in m {
                    guard let s = v as? String else { throw bad("metadata '\(k)' is not a string") }
                    metadata[k] = s
                }
                continue
            }
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                  let shapeAny = info["shape"] as? [Any], let offAny = info["data_offsets"] as? [Any], offAny.count == 2 else {
                throw bad("entry '\(name)' lacks dtype, shape or data_offsets")
            }
            guard let size = sizes[dtype] else {
                throw TensorError(.format, "'\(path)': tensor '\(name)' has dtype \(dtype); supported: \(sizes.keys.sorted().joined(separator: ", "))")
            }
            var shape: [Int] = []
            var count = 1
            for d in shapeAny {
                guard let v = (d as? NSNumber)?.intValue, v >= 0, "\(d)" == "\(v)" else { throw bad("entry '\(name)' has a bad shape") }
                shape.append(v)
                let (p, o) = count.multipliedReportingOverflow(by: v)
                guard !o, p <= Tensor.maxElements else { throw bad("entry '\(name)' is too large") }
                count = p
            }
            guard let b = (offAny[0] as? NSNumber)?.intValue, let e = (offAny[1] as? NSNumber)?.intValue,
                  b >= 0, b <= e, e <= dataLen else {
                throw bad("entry '\(name)' has data offsets outside the \(dataLen) bytes of data")
            }
            guard e - b == count * size else {
                throw bad("entry '\(name)' is \(Tensor.describe(shape)) of \(dtype) (\(count * size) bytes) but its offsets span \(e - b)")
            }
            guard count >= 1 else { throw TensorError(.format, "'\(path)': tensor '\(name)' is empty; empty tensors are not supported") }
            spans.append((b, e, name))
            let t = try Tensor(uninitialized: shape.isEmpty ? [1] : shape)
            file.withUnsafeBytes { raw in
                convert(UnsafeRawBufferPointer(rebasing: raw[(dataStart + b)..<(dataStart + e)]), dtype, count, t.data)
            }
            entries.append(Entry(name: name, dtype: dtype, shape: shape, tensor: t))
        }
        spans.sort { $0.0 < $1.0 }
        for i in 1..<max(1, spans.count) where spans[i].0 < spans[i - 1].1 {
            throw bad("tensors '\(spans[i - 1].2)' and '\(spans[i].2)' overlap")
        }
        entries.sort { $0.name < $1.name }
        return (entries, metadata)
    }

    static func convert(_ raw: UnsafeRawBufferPointer, _ dtype: String, _ n: Int, _ out: UnsafeMutablePointer<Float>) {
        func u16(_ i: Int) -> UInt16 { raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian }
        switch dtype {
        case "F32": for i in 0..<n { out[i] = Float(bitPattern: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self).littleEndian) }
        case "F64": for i in 0..<n { out[i] = Float(Double(bitPattern: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self).littleEndian)) }
        case "F16": for i in 0..<n { out[i] = Npy.halfToFloat(u16(i)) }
        case "BF16": for i in 0..<n { out[i] = Float(bitPattern: UInt32(u16(i)) << 16) }
        case "I64": for i in 0..<n { out[i] = Float(raw.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self).littleEndian) }
        case "U64": for i in 0..<n { out[i] = Float(raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self).littleEndian) }
        case "I32": for i in 0..<n { out[i] = Float(raw.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self).littleEndian) }
        case "U32": for i in 0..<n { out[i] = Float(raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self).littleEndian) }
        case "I16": for i in 0..<n { out[i] = Float(Int16(bitPattern: u16(i))) }
        case "U16": for i in 0..<n { out[i] = Float(u16(i)) }
        case "I8": for i in 0..<n { out[i] = Float(raw.loadUnaligned(fromByteOffset: i, as: Int8.self)) }
        default: for i in 0..<n { out[i] = dtype == "BOOL" ? (raw[i] != 0 ? 1 : 0) : Float(raw[i]) }
        }
    }

    /// A tensor to write: float32 values, or (for PyTorch's num_batches_tracked) an int64 scalar.
    public enum Value {
        case f32(Tensor)
        case i64Scalar(Int64)
    }

    /// Writes entries in the given order, contiguously, atomically.
    public static func write(path: String, _ entries: [(String, Value)], metadata: [String: String] = [:]) throws(TensorError) {
        func quote(_ s: String) -> String {
            var o = "\""
            for u in s.unicodeScalars {
                switch u {
                case "\"": o += "\\\""
                case "\\": o += "\\\\"
                case _ where u.value < 0x20: o += String(format: "\\u%04x", u.value)
                default: o.unicodeScalars.append(u)
                }
            }
            return o + "\""
        }
        var parts: [String] = []
        if !metadata.isEmpty {
            parts.append("\"__metadata__\":{" + metadata.keys.sorted().map { "\(quote($0)):\(quote(metadata[$0]!))" }.joined(separator: ",") + "}")
        }
        var offset = 0
        for (name, v) in entries {
            let (dtype, shape, bytes): (String, [Int], Int)
            switch v {
            case .f32(let t): (dtype, shape, bytes) = ("F32", t.shape, t.count * 4)
            case .i64Scalar: (dtype, shape, bytes) = ("I64", [], 8)
            }
            parts.append("\(quote(name)):{\"dtype\":\"\(dtype)\",\"shape\":[\(shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
        }
        var header = Array(("{" + parts.joined(separator: ",") + "}").utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var pre = [UInt8](repeating: 0, count: 8)
        for i in 0..<8 { pre[i] = UInt8((UInt64(header.count) >> (8 * UInt64(i))) & 0xFF) }
        try AtomicFile.write(path: path) { f throws(TensorError) in
            func put(_ p: UnsafeRawPointer, _ n: Int) throws(TensorError) {
                guard fwrite(p, 1, n, f) == n else { throw TensorError(.io, "cannot write '\(path)': \(String(cString: strerror(errno)))") }
            }
            try put(pre, 8)
            try put(header, header.count)
            for (_, v) in entries {
                switch v {
                case .f32(let t): try put(t.data, t.count * 4)
                case .i64Scalar(let x): var le = x.littleEndian; try put(&le, 8)
                }
            }
        }
    }
}
