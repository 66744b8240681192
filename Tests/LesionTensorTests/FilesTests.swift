import Foundation
import Testing
@testable import LesionTensor

// Readers never block on a FIFO and writers never replace a device (issue 13's probe).
@Suite struct FilesTests {
    static func scratch() -> String {
        let d = NSTemporaryDirectory() + "lesion-files-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    @Test func whatIsNotARegularFileIsNamed() throws {
        let d = FilesTests.scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        #expect(mkfifo(d + "/fifo", 0o600) == 0)
        // Would block forever without O_NONBLOCK (no writer ever comes).
        #expect(throws: TensorError.self) { try Files.open(d + "/fifo") }
        do { _ = try Npy.read(path: d + "/fifo"); Issue.record("a FIFO was read") } catch {
            #expect(error.message == "cannot open '\(d)/fifo': it is a FIFO, not a regular file")
        }
        do { _ = try Files.bytes(d, limit: 10); Issue.record("accepted") } catch { #expect(error.message == "cannot open '\(d)': it is a folder, not a regular file") }
        do { _ = try Files.bytes(d + "/none", limit: 10); Issue.record("accepted") } catch { #expect(error.message == "cannot open '\(d)/none': No such file or directory") }
        #expect(symlink("loop", d + "/loop") == 0)
        do { _ = try Files.bytes(d + "/loop", limit: 10); Issue.record("accepted") } catch { #expect(error.message == "cannot open '\(d)/loop': Too many levels of symbolic links") }
    }

    @Test func writesRefuseDevicesAndFIFOs() throws {
        let d = FilesTests.scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        #expect(mkfifo(d + "/fifo", 0o600) == 0)
        #expect(symlink("/dev/null", d + "/null") == 0)
        let t = try Tensor(zeros: [2])
        #expect(throws: TensorError.self) { try Npy.write(t, path: d + "/fifo") }
        do { try Npy.write(t, path: d + "/null"); Issue.record("accepted") } catch { #expect(error.message == "cannot write '\(d)/null': it leads to a device, not a regular file") }
        var st = stat()
        #expect(stat("/dev/null", &st) == 0 && (st.st_mode & S_IFMT) == S_IFCHR)
        // A regular file and a new path are written.
        try Npy.write(t, path: d + "/new.npy")
        try Npy.write(t, path: d + "/new.npy")
        #expect(try Files.bytes(d + "/new.npy", limit: 1 << 20).count == 136)
    }
}
