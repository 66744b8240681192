// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11).
// Counter-based: element i of a stream is a pure function of (seed, stream, i), so a fill
// gives the same numbers whatever the thread count or the order in which parts are filled.

public struct RandomStream: Sendable {
    public let seed: UInt64
    public let stream: UInt64

    public init(seed: UInt64, stream: UInt64 = 0) {
        self.seed = seed
        self.stream = stream
    }

    /// Four 32-bit words for block `n` of this stream.
    @inline(__always)
    func block(_ n: UInt64) -> (UInt32, UInt32, UInt32, UInt32) {
        var c0 = UInt32(truncatingIfNeeded: n), c1 = UInt32(truncatingIfNeeded: n >> 32)
        var c2 = UInt32(truncatingIfNeeded: stream), c3 = UInt32(truncatingIfNeeded: stream >> 32)
        var k0 = UInt32(truncatingIfNeeded: seed), k1 = UInt32(truncatingIfNeeded: seed >> 32)
        for _ in 0..<10 {
            let p0 = UInt64(0xD251_1F53) &* UInt64(c0)
            let p1 = UInt64(0xCD9E_8D57) &* UInt64(c2)
            let n0 = UInt32(truncatingIfNeeded: p1 >> 32) ^ c1 ^ k0
            let n2 = UInt32(truncatingIfNeeded: p0 >> 32) ^ c3 ^ k1
            c1 = UInt32(truncatingIfNeeded: p1)
            c3 = UInt32(truncatingIfNeeded: p0)
            c0 = n0
            c2 = n2
            k0 &+= 0x9E37_79B9
            k1 &+= 0xBB67_AE85
        }
        return (c0, c1, c2, c3)
    }

    /// 32-bit word `i` of the stream.
    @inline(__always) public func word(_ i: UInt64) -> UInt32 { RandomStream.lane(block(i >> 2), Int(i & 3)) }

    /// Word q (0...3) of a block.
    @inline(__always) static func lane(_ b: (UInt32, UInt32, UInt32, UInt32), _ q: Int) -> UInt32 {
        switch q {
        case 0: return b.0
        case 1: return b.1
        case 2: return b.2
        default: return b.3
        }
    }

    /// Uniform in [0, 1) with 24 random bits: exactly representable as Float.
    @inline(__always) static func unit(_ w: UInt32) -> Float { Float(w >> 8) * 0x1p-24 }

    /// Fills `out` with uniforms in [lo, hi); element j takes word `start + j`.
    /// Each Philox block gives four consecutive words: one block per four elements.
    public func fillUniform(_ out: UnsafeMutablePointer<Float>, count: Int, lo: Float = 0, hi: Float = 1, start: UInt64 = 0) {
        let span = hi - lo
        var j = 0
        while j < count {
            let i = start + UInt64(j)
            let b = block(i >> 2)
            var q = Int(i & 3)
            while q < 4 && j < count {
                out[j] = lo + span * RandomStream.unit(RandomStream.lane(b, q))
                q += 1
                j += 1
            }
        }
    }

    /// Fills `out` with normals by Box–Muller: block b (words 4b..4b+3) gives normals 4b..4b+3.
    public func fillNormal(_ out: UnsafeMutablePointer<Float>, count: Int, mean: Float = 0, std: Float = 1) {
        var j = 0
        var b: UInt64 = 0
        while j < count {
            let w = block(b)
            let (z0, z1) = RandomStream.boxMuller(w.0, w.1)
            let (z2, z3) = RandomStream.boxMuller(w.2, w.3)
            out[j] = mean + std * Float(z0)
            if j + 1 < count { out[j + 1] = mean + std * Float(z1) }
            if j + 2 < count { out[j + 2] = mean + std * Float(z2) }
            if j + 3 < count { out[j + 3] = mean + std * Float(z3) }
            j += 4
            b += 1
        }
    }

    @inline(__always)
    static func boxMuller(_ a: UInt32, _ b: UInt32) -> (Double, Double) {
        let u1 = (Double(a) + 1) * 0x1p-32          // (0, 1]: log is finite
        let u2 = Double(b) * 0x1p-32                // [0, 1)
        let r = (-2 * _log(u1)).squareRoot()
        let t = 2 * Double.pi * u2
        return (r * _cos(t), r * _sin(t))
    }
}

#if canImport(Glibc)
import Glibc
@inline(__always) func _log(_ x: Double) -> Double { Glibc.log(x) }
@inline(__always) func _cos(_ x: Double) -> Double { Glibc.cos(x) }
@inline(__always) func _sin(_ x: Double) -> Double { Glibc.sin(x) }
#else
import Darwin
@inline(__always) func _log(_ x: Double) -> Double { Darwin.log(x) }
@inline(__always) func _cos(_ x: Double) -> Double { Darwin.cos(x) }
@inline(__always) func _sin(_ x: Double) -> Double { Darwin.sin(x) }
#endif
