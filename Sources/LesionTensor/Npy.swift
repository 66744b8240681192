// NumPy .npy files (format versions 1.0, 2.0 and 3.0). Reading accepts little-endian, C-order
// float32 and float64, and integer, boolean and float16 arrays (converted to float32). Every
// size in the header is checked against the file's real length before anything is allocated.
import Foundation

public enum Npy {
    /// Element types a .npy file may hold, as NumPy writes their `descr`.
    enum DType: String {
        case f4, f8, f2, i1, i2, i4, i8, u1, u2, u4, u8, b1
        var size: Int {
            switch self {
            case .i1, .u1, .b1: return 1
            case .f2, .i2, .u2: return 2
            case .f4, .i4, .u4: return 4
            case .f8, .i8, .u8: return 8
            }
        }
    }

    /// Largest header we accept (NumPy writes a few hundred bytes).
    static let maxHeaderBytes = 1 << 20

    // MARK: - reading

    public static func read(path: String) throws(TensorError) -> Tensor {
        let (f, fileSize) = try Files.openForReading(path)
        defer { fclose(f) }
        func readBytes(_ n: Int) throws(TensorError) -> [UInt8] {
            var b = [UInt8](repeating: 0, count: n)
            let got = b.withUnsafeMutableBytes { fread($0.baseAddress, 1, n, f) }
            guard got == n else { throw TensorError(.format, "'\(path)' is truncated (not a complete .npy file)") }
            return b
        }
        guard fileSize >= 10 else { throw TensorError(.format, "'\(path)' is too short to be a .npy file (\(fileSize) bytes)") }
        let pre = try readBytes(8)
        guard pre[0] == 0x93, Array(pre[1...5]) == Array("NUMPY".utf8) else {
            throw TensorError(.format, "'\(path)' is not a .npy file (bad magic)")
        }
        let major = pre[6]
        let lenBytes: Int
        switch major {
        case 1: lenBytes = 2
        case 2, 3: lenBytes = 4
        default: throw TensorError(.format, "'\(path)': unsupported .npy version \(major).\(pre[7])")
        }
        let lb = try readBytes(lenBytes)
        var headerLen = 0
        for (i, b) in lb.enumerated() { headerLen |= Int(b) << (8 * i) }
        let dataStart = 8 + lenBytes + headerLen
        guard headerLen <= maxHeaderBytes, dataStart <= fileSize else {
            throw TensorError(.format, "'\(path)': header length \(headerLen) does not fit in a file of \(fileSize) bytes")
        }
        let header = try parseHeader(try readBytes(headerLen), path: path)
        let count: Int
        do { count = try Tensor.checkShape(header.shape) } catch {
            throw TensorError(.format, "'\(path)': header shape is unusable (\(error.message))")
        }
        let (need, overflow) = count.multipliedReportingOverflow(by: header.dtype.size)
        guard !overflow, need <= fileSize - dataStart else {
            throw TensorError(.format, "'\(path)': header says \(Tensor.describe(header.shape)) of '\(header.dtype.rawValue)' (\(need) bytes of data) but the file holds \(fileSize - dataStart)")
        }
        let t = try Tensor(uninitialized: header.shape)
        if header.dtype == .f4 {
            guard fread(t.data, 4, count, f) == count else { throw TensorError(.format, "'\(path)' is truncated") }
            return t
        }
        // Convert in chunks so a large float64 file needs no second full-size buffer.
        let chunk = 1 << 16
        var buf = [UInt8](repeating: 0, count: chunk * header.dtype.size)
        var done = 0
        while done < count {
            let n = Swift.min(chunk, count - done)
            let got = buf.withUnsafeMutableBytes { fread($0.baseAddress, header.dtype.size, n, f) }
            guard got == n else { throw TensorError(.format, "'\(path)' is truncated") }
            buf.withUnsafeBytes { convert($0, header.dtype, n, into: t.data + done) }
            done += n
        }
        return t
    }

    static func convert(_ raw: UnsafeRawBufferPointer, _ dt: DType, _ n: Int, into out: UnsafeMutablePointer<Float>) {
        for i in 0..<n {
            let o = i * dt.size
            switch dt {
            case .f4: out[i] = Float(bitPattern: raw.loadUnaligned(fromByteOffset: o, as: UInt32.self).littleEndian)
            case .f8: out[i] = Float(Double(bitPattern: raw.loadUnaligned(fromByteOffset: o, as: UInt64.self).littleEndian))
            case .f2: out[i] = halfToFloat(raw.loadUnaligned(fromByteOffset: o, as: UInt16.self).littleEndian)
            case .i1: out[i] = Float(raw.loadUnaligned(fromByteOffset: o, as: Int8.self))
            case .u1: out[i] = Float(raw[o])
            case .b1: out[i] = raw[o] != 0 ? 1 : 0
            case .i2: out[i] = Float(raw.loadUnaligned(fromByteOffset: o, as: Int16.self).littleEndian)
            case .u2: out[i] = Float(raw.loadUnaligned(fromByteOffset: o, as: UInt16.self).littleEndian)
            case .i4: out[i] = Float(raw.loadUnaligned(fromByteOffset: o, as: Int32.self).littleEndian)
            case .u4: out[i] = Float(raw.loadUnaligned(fromByteOffset: o, as: UInt32.self).littleEndian)
            case .i8: out[i] = Float(raw.loadUnaligned(fromByteOffset: o, as: Int64.self).littleEndian)
            case .u8: out[i] = Float(raw.loadUnaligned(fromByteOffset: o, as: UInt64.self).littleEndian)
            }
        }
    }

    /// IEEE 754 half precision to single.
    public static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exp = Int(h >> 10) & 0x1F
        let man = UInt32(h & 0x3FF)
        if exp == 0 {
            // Zero or subnormal: man * 2^-24.
            let v = Float(man) * 0x1p-24
            return sign != 0 ? -v : v
        }
        if exp == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (man << 13)) }
        return Float(bitPattern: sign | UInt32(exp - 15 + 127) << 23 | (man << 13))
    }

    // MARK: - header

    struct Header {
        var dtype: DType
        var shape: [Int]
    }

    /// Parses the Python-literal dict of a .npy header: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
    static func parseHeader(_ bytes: [UInt8], path: String) throws(TensorError) -> Header {
        var p = PyLiteralParser(bytes)
        let bad = { (why: String) in TensorError(.format, "'\(path)': bad .npy header (\(why))") }
        guard let dict = p.parseDict() else { throw bad("not a Python dict literal") }
        guard case .string(let descr)? = dict["descr"] else { throw bad("no 'descr' string") }
        guard case .bool(let fortran)? = dict["fortran_order"] else { throw bad("no 'fortran_order' boolean") }
        guard case .tuple(let dims)? = dict["shape"] else { throw bad("no 'shape' tuple") }
        if fortran {
            throw TensorError(.format, "'\(path)': Fortran-order arrays are not supported; save with np.ascontiguousarray")
        }
        guard descr.count == 3, let order = descr.first, let dt = DType(rawValue: String(descr.dropFirst())) else {
            throw TensorError(.format, "'\(path)': unsupported dtype '\(descr)' (float32, float64, float16, integers or bool expected)")
        }
        if order == ">" && dt.size > 1 {
            throw TensorError(.format, "'\(path)': big-endian dtype '\(descr)' is not supported")
        }
        guard order == "<" || order == "|" || order == "=" || (order == ">" && dt.size == 1) else {
            throw TensorError(.format, "'\(path)': unsupported dtype '\(descr)'")
        }
        for d in dims where d < 1 {
            throw TensorError(.format, "'\(path)': shape has a dimension of size \(d); empty arrays are not supported")
        }
        return Header(dtype: dt, shape: dims.isEmpty ? [1] : dims)
    }

    // MARK: - writing

    /// Writes float32, C order, format 1.0; atomically (a temporary file renamed into place).
    public static func write(_ t: Tensor, path: String) throws(TensorError) {
        let shapeText = t.rank == 1 ? "(\(t.shape[0]),)" : "(" + t.shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shapeText), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        let hl = header.utf8.count
        guard hl <= 65535 else { throw TensorError(.shape, "shape too long for a .npy 1.0 header") }
        bytes += [UInt8(hl & 0xFF), UInt8(hl >> 8)] + Array(header.utf8)
        try AtomicFile.write(path: path) { f throws(TensorError) in
            guard fwrite(bytes, 1, bytes.count, f) == bytes.count,
                  fwrite(t.data, 4, t.count, f) == t.count else {
                throw TensorError(.io, "cannot write '\(path)': \(String(cString: strerror(errno)))")
            }
        }
    }
}

// MARK: - a tiny Python literal parser (dicts, strings, booleans, tuples of ints)

struct PyLiteralParser {
    enum Value { case string(String), bool(Bool), tuple([Int]), int(Int) }
    let b: [UInt8]
    var i = 0

    init(_ bytes: [UInt8]) { b = bytes }

    mutating func skipSpace() { while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x09 || b[i] == 0x0D { i += 1 } }

    mutating func eat(_ c: Character) -> Bool {
        skipSpace()
        guard i < b.count, b[i] == c.asciiValue! else { return false }
        i += 1
        return true
    }

    mutating func parseDict() -> [String: Value]? {
        guard eat("{") else { return nil }
        var d: [String: Value] = [:]
        while true {
            if eat("}") { return d }
            guard case .string(let k)? = parseValue(), eat(":"), let v = parseValue() else { return nil }
            d[k] = v
            if eat(",") { continue }
            return eat("}") ? d : nil
        }
    }

    mutating func parseValue() -> Value? {
        skipSpace()
        guard i < b.count else { return nil }
        let c = b[i]
        if c == 0x27 || c == 0x22 {  // ' or "
            i += 1
            let start = i
            while i < b.count, b[i] != c { i += 1 }
            guard i < b.count else { return nil }
            defer { i += 1 }
            return .string(String(decoding: b[start..<i], as: UTF8.self))
        }
        if c == 0x28 {  // (
            i += 1
            var dims: [Int] = []
            while true {
                if eat(")") { return .tuple(dims) }
                guard case .int(let v)? = parseValue() else { return nil }
                dims.append(v)
                if eat(",") { continue }
                return eat(")") ? .tuple(dims) : nil
            }
        }
        if match("True") { return .bool(true) }
        if match("False") { return .bool(false) }
        // An integer, possibly NumPy 2's "np.int64(3)"-free plain form; 'L' suffix of Python 2.
        var neg = false
        if b[i] == 0x2D { neg = true; i += 1 }
        let start = i
        var v = 0
        while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int(b[i] - 0x30))
            if o1 || o2 { return nil }
            v = s
            i += 1
        }
        guard i > start else { return nil }
        if i < b.count, b[i] == 0x4C { i += 1 }
        return .int(neg ? -v : v)
    }

    mutating func match(_ word: String) -> Bool {
        let w = Array(word.utf8)
        guard i + w.count <= b.count, Array(b[i..<(i + w.count)]) == w else { return false }
        i += w.count
        return true
    }
}

// MARK: - atomic writes

public enum AtomicFile {
    /// Writes through `body` into a temporary file next to `path`, then renames it into place,
    /// so that readers never see a half-written file.
    public static func write(path: String, _ body: (UnsafeMutablePointer<FILE>) throws(TensorError) -> Void) throws(TensorError) {
        try Files.checkWritable(path)
        let tmp = path + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        guard let f = fopen(tmp, "wb") else {
            throw TensorError(.io, "cannot write '\(path)': \(String(cString: strerror(errno)))")
        }
        do throws(TensorError) {
            try body(f)
            guard fflush(f) == 0 else { throw TensorError(.io, "cannot write '\(path)': \(String(cString: strerror(errno)))") }
        } catch {
            fclose(f)
            unlink(tmp)
            throw error
        }
        fclose(f)
        guard rename(tmp, path) == 0 else {
            let why = String(cString: strerror(errno))
            unlink(tmp)
            throw TensorError(.io, "cannot write '\(path)': \(why)")
        }
    }
}
