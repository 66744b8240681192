import Foundation
import Testing
@testable import LesionTensor

@Suite struct NpyTests {
    func fixture(_ name: String) throws(TensorError) -> Tensor { try Npy.read(path: fixtures + "/" + name) }

    @Test func readsFilesWrittenByNumPy() throws {
        let f4 = try fixture("f4_2x3.npy")
        #expect(f4.shape == [2, 3] && f4.toArray() == (0..<6).map { Float($0) / 4 })
        let f8 = try fixture("f8_2x3x4.npy")
        #expect(f8.shape == [2, 3, 4])
        assertClose(f8, (0..<24).map { Float((Double($0) - 5) / 3) }, rtol: 0, atol: 0)
        #expect(try fixture("i8_labels.npy").toArray() == [3, 0, 9, 1, 1])
        #expect(try fixture("u1_4x4.npy").toArray() == (0..<16).map { Float($0 * 16) })
        #expect(try fixture("b1_5.npy").toArray() == [1, 0, 1, 1, 0])
        let f2 = try fixture("f2_6.npy").toArray()
        // float16 of 1e-7 is the subnormal 2^-24 * 2 (nearest representable); others exact.
        #expect(f2[0] == 0.5 && f2[1] == -2 && f2[2] == 65504 && f2[3] == 6.1035156e-05 && f2[4] == 0x1p-23)
        #expect(f2[5] == 0 && f2[5].sign == .minus)
        #expect(try fixture("scalar_f4.npy").toArray() == [2.5])
        #expect(try fixture("v2_f4_3.npy").toArray() == [1, 2, 3])
    }

    @Test(arguments: ["fortran_f4.npy", "big_endian_f4.npy", "c8_3.npy", "empty_f4.npy"])
    func unsupportedLayoutsAreClearErrors(name: String) throws {
        do throws(TensorError) {
            _ = try fixture(name)
            Issue.record("\(name) should not load")
        } catch {
            #expect(error.kind == .format && error.message.contains(name))
        }
    }

    @Test func roundTrip() throws {
        for shape in [[1], [7], [3, 5], [2, 3, 4, 5]] {
            let t = sample(shape, seed: 3)
            let p = tempPath("rt.npy")
            try Npy.write(t, path: p)
            let back = try Npy.read(path: p)
            #expect(back.shape == shape && back.toArray() == t.toArray())
        }
    }

    /// Writes `header` (a dict literal) behind a valid preamble, then `payload` bytes.
    func file(_ header: String, payload: Int = 0, version: UInt8 = 1, claimedLength: Int? = nil) -> String {
        var h = Array(header.utf8)
        let len = claimedLength ?? h.count
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [version, 0]
        bytes += version == 1 ? [UInt8(len & 0xFF), UInt8((len >> 8) & 0xFF)]
                              : [UInt8(len & 0xFF), UInt8((len >> 8) & 0xFF), UInt8((len >> 16) & 0xFF), UInt8(len >> 24)]
        h += [UInt8](repeating: 0, count: payload)
        let p = tempPath("bad-\(UInt32.random(in: 0...UInt32.max)).npy")
        FileManager.default.createFile(atPath: p, contents: Data(bytes + h))
        return p
    }

    @Test func corruptHeadersAreClearErrorsWithoutHugeAllocations() throws {
        let cases: [(String, String)] = [
            (file("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 1000000000), }"), "does not fit|more than"),
            (file("{'descr': '<f4', 'fortran_order': False, 'shape': (100000000,), }", payload: 16), "holds"),
            (file("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", payload: 15), "holds"),
            (file("{'descr': '<f4', 'fortran_order': False, 'shape': (-3,), }"), "dimension of size"),
            (file("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }"), "bad .npy header"),
            (file("{'descr': '<f4', 'shape': (2,), }"), "fortran_order"),
            (file("{'descr': '<U3', 'fortran_order': False, 'shape': (2,), }"), "unsupported dtype"),
            (file("not a dict"), "bad .npy header"),
            (file("{'descr': '<f4'", claimedLength: 60000), "header length"),
            (file("{'descr': '<f4'", version: 2, claimedLength: Int(UInt32.max)), "header length"),
            (file("{}", version: 9), "unsupported .npy version"),
        ]
        for (path, pattern) in cases {
            do throws(TensorError) {
                _ = try Npy.read(path: path)
                Issue.record("\(path) should not load")
            } catch {
                let ok = pattern.split(separator: "|").contains { error.message.contains($0) }
                #expect(ok, "message '\(error.message)' should mention '\(pattern)'")
            }
        }
        let notNpy = tempPath("plain.npy")
        FileManager.default.createFile(atPath: notNpy, contents: Data("hello world, not numpy".utf8))
        #expect(throws: TensorError.self) { try Npy.read(path: notNpy) }
        #expect(throws: TensorError.self) { try Npy.read(path: "/nonexistent/x.npy") }
        #expect(throws: TensorError.self) { try Npy.read(path: "/tmp") }
        // Every truncation of a valid file is an error, never a crash.
        let good = try Data(contentsOf: URL(fileURLWithPath: fixtures + "/f8_2x3x4.npy"))
        for cut in stride(from: 0, to: good.count, by: 7) {
            let p = tempPath("cut.npy")
            FileManager.default.createFile(atPath: p, contents: good.prefix(cut))
            #expect(throws: TensorError.self) { try Npy.read(path: p) }
        }
    }
}
