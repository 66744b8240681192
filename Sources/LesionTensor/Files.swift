// Opening files named by scripts: every reader goes through `Files.openForReading` and every
// writer through `Files.checkWritable`, so that a FIFO never blocks a run, a device is never
// replaced by a regular file, and a message says what the path really is (missing, a folder,
// a symbolic-link loop, a FIFO or device).
import Foundation

public enum Files {
    /// What a path that is not a regular file is, for messages; nil for a regular file.
    static func kind(_ st: stat) -> String? {
        switch st.st_mode & S_IFMT {
        case S_IFREG: return nil
        case S_IFDIR: return "a folder"
        case S_IFIFO: return "a FIFO"
        case S_IFCHR, S_IFBLK: return "a device"
        case S_IFSOCK: return "a socket"
        default: return "not a regular file"
        }
    }

    static func reason() -> String { String(cString: strerror(errno)) }

    /// Opens a regular file for reading and returns its descriptor and size. The open does not
    /// wait for a FIFO's writer (O_NONBLOCK), and anything but a regular file is refused before
    /// a byte is read.
    public static func open(_ path: String, for what: String = "open") throws(TensorError) -> (fd: Int32, size: Int) {
        let fd = Foundation.open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw TensorError(.io, "cannot \(what) '\(path)': \(reason())") }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let why = reason()
            close(fd)
            throw TensorError(.io, "cannot \(what) '\(path)': \(why)")
        }
        if let k = kind(st) {
            close(fd)
            throw TensorError(.io, "cannot \(what) '\(path)': it is \(k), not a regular file")
        }
        // Regular files ignore O_NONBLOCK, but clear it so that nothing later depends on it.
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        return (fd, Int(st.st_size))
    }

    /// A stdio stream over `open(path)` (closed with fclose).
    public static func openForReading(_ path: String, for what: String = "open") throws(TensorError) -> (file: UnsafeMutablePointer<FILE>, size: Int) {
        let (fd, size) = try open(path, for: what)
        guard let f = fdopen(fd, "rb") else {
            let why = reason()
            close(fd)
            throw TensorError(.io, "cannot \(what) '\(path)': \(why)")
        }
        return (f, size)
    }

    /// A whole regular file of at most `limit` bytes.
    public static func bytes(_ path: String, limit: Int) throws(TensorError) -> [UInt8] {
        let (fd, size) = try open(path)
        defer { close(fd) }
        guard size <= limit else { throw TensorError(.value, "'\(path)' is \(size) bytes, more than the \(limit) allowed") }
        var b = [UInt8](repeating: 0, count: size)
        var got = 0
        while got < size {
            let n = b.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress! + got, size - got) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw TensorError(.io, "cannot read '\(path)': \(n < 0 ? reason() : "it ended early")") }
            got += n
        }
        return b
    }

    /// Refuses to write over anything that exists and is not a regular file (a device, a
    /// FIFO, a folder): a write replaces the file by renaming a new one over it.
    public static func checkWritable(_ path: String) throws(TensorError) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }        // a new path
        if (st.st_mode & S_IFMT) == S_IFLNK {
            // A link is replaced, not followed; but say so when it points at a device.
            var target = stat()
            if stat(path, &target) == 0, let k = kind(target) {
                throw TensorError(.io, "cannot write '\(path)': it leads to \(k), not a regular file")
            }
            return
        }
        if let k = kind(st) { throw TensorError(.io, "cannot write '\(path)': it is \(k), not a regular file") }
    }
}
