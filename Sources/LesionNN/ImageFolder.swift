// A folder of images with one subfolder per class, as torchvision's ImageFolder reads it:
// classes are the subfolders in sorted order, their images found at any depth (folders, then
// files, in sorted order). Images are decoded when a batch needs them, on all threads, so a
// folder of 50,000 images needs no more memory than one of 1,000.
import Foundation
import LesionTensor

public final class ImageFolder: SampleSource {
    public let root: String
    /// Full paths, in sample order.
    public let files: [String]
    public let transform: ImageTransform
    public var normalization: (mean: [Float], std: [Float])? { (transform.mean, transform.std) }
    public let sampleShape: [Int]
    public let identity: String?
    public var count: Int { files.count }
    /// Label maps of the images (ImageFolder.concepts), nil for a plain folder.
    public internal(set) var concepts: ConceptLabels?

    /// Extensions read (lower case).
    public static let extensions = ["jpg", "jpeg", "png"]
    /// Extensions torchvision also takes as images, which Lesion does not decode.
    static let otherImages = ["ppm", "bmp", "pgm", "tif", "tiff", "webp"]

    init(root: String, files: [String], transform: ImageTransform, sampleShape: [Int], identity: String) {
        (self.root, self.files, self.transform, self.sampleShape, self.identity) = (root, files, transform, sampleShape, identity)
    }

    /// One image decoded and transformed into `out`.
    func load(_ path: String, into out: UnsafeMutablePointer<Float>) throws(TensorError) {
        let img = try ImageFile.read(path: path)
        let (h, w) = transform.outputSize(h: img.height, w: img.width)
        guard [transform.channels, h, w] == sampleShape else {
            throw TensorError(.shape, "'\(path)' gives \(Tensor.describe([transform.channels, h, w])), but the data set's samples are \(Tensor.describe(sampleShape)); give a crop or a resize of both sides")
        }
        do { try transform.apply(img, into: out) } catch { throw TensorError(error.kind, "'\(path)': \(error.message)") }
    }

    public func read(_ items: ArraySlice<Int>, into out: UnsafeMutablePointer<Float>) throws(TensorError) {
        let per = sampleShape.reduce(1, *)
        let list = Array(items)
        let parts = min(Threads.count, list.count)
        nonisolated(unsafe) let dst = out
        try Threads.parallelFor(parts) { t throws(TensorError) in
            let (lo, hi) = Threads.range(t, of: list.count, parts: parts)
            for k in lo..<hi { try self.load(self.files[list[k]], into: dst + k * per) }
        }
    }

    // MARK: - scanning

    public struct Scan {
        public var files: [String] = []
        public var labels: [Int32] = []
        public var classNames: [String] = []
        /// Image files of kinds Lesion does not decode (bmp, tiff, webp, ...).
        public var unsupported: [String] = []
    }

    static func utf8Less(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

    /// The classes (all subfolders, or `classes` in that order) and their image files.
    public static func scan(root: String, classes: [String]? = nil) throws(TensorError) -> Scan {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: root, isDirectory: &isDir), isDir.boolValue else {
            throw TensorError(.io, "'\(root)' is not a folder")
        }
        let found: [String]
        do {
            found = try fm.contentsOfDirectory(atPath: root).filter { name in
                var d: ObjCBool = false
                return fm.fileExists(atPath: root + "/" + name, isDirectory: &d) && d.boolValue
            }.sorted(by: utf8Less)
        } catch { throw TensorError(.io, "cannot list '\(root)'") }
        let names = classes ?? found
        guard !names.isEmpty else { throw TensorError(.value, "'\(root)' has no class folders (one subfolder per class)") }
        for n in names where !found.contains(n) { throw TensorError(.value, "'\(root)' has no folder for class '\(n)'") }
        var s = Scan(classNames: names)
        for (label, name) in names.enumerated() {
            let dir = root + "/" + name
            guard let walker = fm.enumerator(atPath: dir) else { throw TensorError(.io, "cannot list '\(dir)'") }
            // torchvision walks folders in sorted order and sorts the files of each.
            var byFolder: [String: [String]] = [:]
            while let rel = walker.nextObject() as? String {
                let ext = (rel as NSString).pathExtension.lowercased()
                let isImage = extensions.contains(ext), isOther = otherImages.contains(ext)
                guard isImage || isOther else { continue }
                let folder = (rel as NSString).deletingLastPathComponent
                let path = dir + "/" + rel
                if isOther { s.unsupported.append(path); continue }
                byFolder[folder, default: []].append((rel as NSString).lastPathComponent)
            }
            for folder in byFolder.keys.sorted(by: { utf8Less(dir + "/" + $0, dir + "/" + $1) }) {
                for f in byFolder[folder]!.sorted(by: utf8Less) {
                    s.files.append(folder.isEmpty ? dir + "/" + f : dir + "/" + folder + "/" + f)
                    s.labels.append(Int32(label))
                }
            }
        }
        return s
    }

    /// The data set of a folder. With `skipBad`, files that do not decode (or are of a kind not
    /// supported) are left out and returned; otherwise the first such file is an error, found
    /// here for unsupported kinds and when its batch is read for damaged files.
    public static func dataset(root: String, transform: ImageTransform, classes: [String]? = nil, classNames: [String]? = nil,
                               skipBad: Bool = false) throws(TensorError) -> (Dataset, skipped: [String]) {
        var s = try scan(root: root, classes: classes)
        var skipped = s.unsupported
        if !skipBad, let first = s.unsupported.first {
            throw TensorError(.format, "'\(first)': \((first as NSString).pathExtension.uppercased()) images are not supported (JPEG and PNG are); pass skip_bad = true to leave such files out")
        }
        if skipBad {
            let bad = validate(s.files, transform: transform)
            skipped += bad.map { s.files[$0] }
            let keep = Set(0..<s.files.count).subtracting(bad).sorted()
            s.files = keep.map { s.files[$0] }
            s.labels = keep.map { s.labels[$0] }
        }
        guard let first = s.files.first else { throw TensorError(.value, "'\(root)' holds no JPEG or PNG images") }
        let shape: [Int]
        if let fixed = transform.fixedShape {
            shape = fixed
        } else {
            let img = try ImageFile.read(path: first)
            let (h, w) = transform.outputSize(h: img.height, w: img.width)
            shape = [transform.channels, h, w]
        }
        var id = "images \(root) \(transform.identity)\n"
        for f in s.files {
            var st = stat()
            guard stat(f, &st) == 0 else { throw TensorError(.io, "cannot read '\(f)'") }
            id += "\(f) \(st.st_size) \(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)\n"
        }
        let source = ImageFolder(root: root, files: s.files, transform: transform, sampleShape: shape, identity: id)
        let names = classNames ?? s.classNames
        guard names.count == s.classNames.count else {
            throw TensorError(.shape, "\(names.count) class names given for \(s.classNames.count) class folders")
        }
        return (try Dataset(source: source, labels: s.labels, classNames: names, name: "images(\(root))"), skipped)
    }

    /// Positions of files that do not decode or transform (all decoded once, on all threads).
    static func validate(_ files: [String], transform: ImageTransform) -> [Int] {
        let parts = min(Threads.count, max(files.count, 1))
        var bad = [[Int]](repeating: [], count: parts)
        bad.withUnsafeMutableBufferPointer { b in
            nonisolated(unsafe) let out = b.baseAddress!
            Threads.parallelFor(parts) { t in
                let (lo, hi) = Threads.range(t, of: files.count, parts: parts)
                for i in lo..<hi {
                    do throws(TensorError) {
                        let img = try ImageFile.read(path: files[i])
                        let (h, w) = transform.outputSize(h: img.height, w: img.width)
                        let buf = UnsafeMutablePointer<Float>.allocate(capacity: transform.channels * h * w)
                        defer { buf.deallocate() }
                        try transform.apply(img, into: buf)
                    } catch {
                        out[t].append(i)
                    }
                }
            }
        }
        return bad.flatMap { $0 }
    }
}
