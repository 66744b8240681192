// Concept labels on disk: an image folder with one label map per image and category, and a CSV
// that names the concepts (docs/api.md, data.concepts(dir)). Real segmentation data (Broden,
// ADE20K exports) can be laid out this way.
//
//   <root>/concepts.csv                          number,name,category (one line per concept)
//   <root>/images/<class>/.../<file>.jpg|png      as data.images reads it
//   <root>/labels/<category>/<class>/.../<file>.png   8-bit gray; a pixel's value is the number
//                                                  of its concept in that category, 0 none
import Foundation
import LesionTensor

extension ImageFolder {
    /// The concepts of a CSV: categories in order of first appearance, each with its concepts
    /// and the number that marks each in the label maps.
    static func readConcepts(_ path: String) throws(TensorError) -> [(name: String, concepts: [(number: Int, name: String)])] {
        let bytes = try ImageFile.bytes(path: path)
        guard let text = String(bytes: bytes, encoding: .utf8) else { throw TensorError(.format, "'\(path)' is not UTF-8 text") }
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        while lines.last?.isEmpty == true { lines.removeLast() }
        guard lines.first?.replacingOccurrences(of: " ", with: "") == "number,name,category" else {
            throw TensorError(.format, "'\(path)' must start with the header 'number,name,category'")
        }
        var categories: [(name: String, concepts: [(number: Int, name: String)])] = []
        var names = Set<String>()
        for (i, line) in lines.enumerated().dropFirst() {
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard f.count == 3, let number = Int(f[0]), (1...255).contains(number), !f[1].isEmpty, !f[2].isEmpty else {
                throw TensorError(.format, "'\(path)' line \(i + 1): expected 'number,name,category' with a number in 1...255, got '\(line)'")
            }
            guard names.insert(f[1]).inserted else { throw TensorError(.format, "'\(path)' line \(i + 1): concept '\(f[1])' is named twice") }
            if let c = categories.firstIndex(where: { $0.name == f[2] }) {
                guard !categories[c].concepts.contains(where: { $0.number == number }) else {
                    throw TensorError(.format, "'\(path)' line \(i + 1): number \(number) is used twice in category '\(f[2])'")
                }
                categories[c].concepts.append((number, f[1]))
            } else {
                categories.append((f[2], [(number, f[1])]))
            }
        }
        guard !categories.isEmpty else { throw TensorError(.format, "'\(path)' names no concepts") }
        return categories
    }

    /// The data set of `<root>/images` with the concept labels of `<root>/labels` (see the top
    /// of this file). Images must all have one size after `transform`; label maps are the size
    /// of their images and take the same resize (nearest neighbour) and crop. A category without
    /// a map for an image labels none of its pixels. Labels are held in memory (one byte per
    /// pixel and category).
    public static func concepts(root: String, transform: ImageTransform, classes: [String]? = nil) throws(TensorError) -> Dataset {
        let categories = try readConcepts(root + "/concepts.csv")
        let (ds, _) = try dataset(root: root + "/images", transform: transform, classes: classes)
        guard let folder = ds.source as? ImageFolder else { throw TensorError(.value, "not an image folder") }
        let (oh, ow) = (ds.sampleShape[1], ds.sampleShape[2])
        let hw = oh * ow
        var maps = [[UInt8]](repeating: [UInt8](repeating: 0, count: folder.files.count * hw), count: categories.count)
        let imagesRoot = root + "/images/"
        // The cache identity: the images', the CSV's text and every label map's size and time.
        var identity = (folder.identity ?? "") + "concepts " + String(decoding: try ImageFile.bytes(path: root + "/concepts.csv"), as: UTF8.self) + "\n"
        for (i, file) in folder.files.enumerated() {
            let img = try ImageFile.read(path: file)
            guard transform.outputSize(h: img.height, w: img.width) == (oh, ow) else {
                throw TensorError(.shape, "'\(file)' is \(img.height)x\(img.width), \(transform.outputSize(h: img.height, w: img.width)) after the transform, not \(oh)x\(ow) as the first image: label maps need images of one size (give a transform with a crop or resize = {h, w})")
            }
            let rel = ((String(file.dropFirst(imagesRoot.count))) as NSString).deletingPathExtension + ".png"
            for (c, cat) in categories.enumerated() {
                let path = root + "/labels/" + cat.name + "/" + rel
                guard FileManager.default.fileExists(atPath: path) else { continue }
                let map = try ImageFile.read(path: path)
                guard map.channels == 1 else { throw TensorError(.format, "'\(path)': a label map must be 8-bit grayscale, got \(map.channels) channels") }
                guard map.height == img.height, map.width == img.width else {
                    throw TensorError(.shape, "'\(path)' is \(map.height)x\(map.width) but its image is \(img.height)x\(img.width)")
                }
                var index = [Int](repeating: -1, count: 256)
                index[0] = 0
                for (k, concept) in cat.concepts.enumerated() { index[concept.number] = k + 1 }
                let labels = try transform.applyNearest(labels: map.pixels, h: map.height, w: map.width)
                for p in 0..<hw {
                    let k = index[Int(labels[p])]
                    guard k >= 0 else {
                        throw TensorError(.value, "'\(path)': value \(labels[p]) is not a concept of category '\(cat.name)' in concepts.csv")
                    }
                    maps[c][i * hw + p] = UInt8(k)
                }
                var st = stat()
                _ = stat(path, &st)
                identity += "\(path) \(st.st_size) \(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)\n"
            }
        }
        let labelled = ImageFolder(root: folder.root, files: folder.files, transform: transform, sampleShape: folder.sampleShape, identity: identity)
        labelled.concepts = try ConceptLabels(categories: categories.map { ($0.name, $0.concepts.map(\.name)) }, height: oh, width: ow, maps: maps)
        return try Dataset(source: labelled, labels: ds.labels, classNames: ds.classNames, name: "concepts(\(root))")
    }
}
