// Image files at the edge: JPEG and PNG to 8-bit pixels and back, through the C codecs
// (ImageCodecs, on libjpeg-turbo and libpng). Sizes in a file's header are checked before any
// allocation; every error names the file.
import Foundation
import ImageCodecs

/// 8-bit pixels, rows packed, `channels` interleaved (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA).
public struct Image8: Sendable {
    public var width: Int, height: Int, channels: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        (self.width, self.height, self.channels, self.pixels) = (width, height, channels, pixels)
    }
}

public enum ImageFile {
    /// Largest image accepted: 2^28 pixels (a 16384 x 16384 image).
    public static let maxPixels = 1 << 28
    /// Largest file read: 1 GiB.
    public static let maxBytes = 1 << 30

    public static func decode(_ bytes: [UInt8]) throws(TensorError) -> Image8 {
        var img = lesion_image()
        var err = [CChar](repeating: 0, count: 256)
        let rc = bytes.withUnsafeBufferPointer { b in
            lesion_image_decode(b.baseAddress, b.count, maxPixels, &img, &err, err.count)
        }
        guard rc == 0, let p = img.pixels else {
            throw TensorError(.format, String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        defer { lesion_image_free(&img) }
        let n = Int(img.width) * Int(img.height) * Int(img.channels)
        return Image8(width: Int(img.width), height: Int(img.height), channels: Int(img.channels),
                      pixels: Array(UnsafeBufferPointer(start: p, count: n)))
    }

    /// The file's bytes, refusing what is not a regular file or is too large.
    public static func bytes(path: String) throws(TensorError) -> [UInt8] {
        try Files.bytes(path, limit: maxBytes)
    }

    public static func read(path: String) throws(TensorError) -> Image8 {
        let b = try bytes(path: path)
        do { return try decode(b) } catch { throw TensorError(.format, "'\(path)': \(error.message)") }
    }

    /// The image as PNG bytes (for pictures embedded in reports).
    public static func encodePNG(_ img: Image8) throws(TensorError) -> [UInt8] {
        guard img.pixels.count == img.width * img.height * img.channels else {
            throw TensorError(.shape, "\(img.pixels.count) bytes for a \(img.width)x\(img.height) image of \(img.channels) channels")
        }
        var err = [CChar](repeating: 0, count: 256)
        var out: UnsafeMutablePointer<UInt8>? = nil
        var size = 0
        let rc = img.pixels.withUnsafeBufferPointer { p in
            lesion_png_encode(p.baseAddress, Int32(img.width), Int32(img.height), Int32(img.channels), &out, &size, &err, err.count)
        }
        defer { lesion_free(out) }
        guard rc == 0, let out else { throw TensorError(.memory, String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)) }
        return Array(UnsafeBufferPointer(start: out, count: size))
    }

    public static func writePNG(_ img: Image8, path: String) throws(TensorError) {
        guard img.pixels.count == img.width * img.height * img.channels else {
            throw TensorError(.shape, "\(img.pixels.count) bytes for a \(img.width)x\(img.height) image of \(img.channels) channels")
        }
        var err = [CChar](repeating: 0, count: 256)
        let rc = img.pixels.withUnsafeBufferPointer { p in
            lesion_png_write(path, p.baseAddress, Int32(img.width), Int32(img.height), Int32(img.channels), &err, err.count)
        }
        guard rc == 0 else { throw TensorError(.io, String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)) }
    }
}
