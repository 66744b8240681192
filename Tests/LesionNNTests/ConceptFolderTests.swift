import Foundation
import Testing
@testable import LesionNN
@testable import LesionTensor

/// Concept labels from disk: concepts.csv, images/<class>/..., labels/<category>/<class>/....png.
@Suite struct ConceptFolderTests {
    func write(_ root: String, _ rel: String, _ img: Image8) throws {
        let path = root + "/" + rel
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try ImageFile.writePNG(img, path: path)
    }

    /// Two classes, three 4x6 images; shape maps for all, a colour map for one.
    func folder(csv: String = "number,name,category\n3,circle,shape\n7,square,shape\n1,red,color\n") throws -> String {
        let root = NSTemporaryDirectory() + "lesion-concepts-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try csv.write(toFile: root + "/concepts.csv", atomically: true, encoding: .utf8)
        for (i, rel) in ["a/x", "a/y", "b/z"].enumerated() {
            try write(root, "images/\(rel).png", Image8(width: 6, height: 4, channels: 3, pixels: (0..<72).map { UInt8(($0 * 3 + i) % 256) }))
            // Shape map: left half circle (3), right half square (7) in image 0; all square in the others.
            let shape = (0..<24).map { p -> UInt8 in i == 0 ? (p % 6 < 3 ? 3 : 7) : 7 }
            try write(root, "labels/shape/\(rel).png", Image8(width: 6, height: 4, channels: 1, pixels: shape))
        }
        try write(root, "labels/color/a/y.png", Image8(width: 6, height: 4, channels: 1, pixels: (0..<24).map { $0 < 6 ? 1 : 0 }))
        return root
    }

    @Test func masksFollowTheLabelMaps() throws {
        let root = try folder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let ds = try ImageFolder.concepts(root: root, transform: .plain)
        let c = try #require(ds.source.concepts)
        #expect(c.names == ["circle", "square", "red"])
        #expect(c.categories.map(\.name) == ["shape", "color"])
        #expect(ds.count == 3 && ds.classNames == ["a", "b"] && ds.sampleShape == [3, 4, 6])
        let m0 = try c.masks(0)   // [3, 4, 6]
        #expect(m0.data[0] == 1 && m0.data[3] == 0)                 // circle at column 0, not at column 3
        #expect(m0.data[24 + 3] == 1 && m0.data[24] == 0)           // square at column 3
        #expect((0..<24).allSatisfy { m0.data[48 + $0] == 0 })      // no colour map for image 0
        let m1 = try c.masks(1)
        #expect((0..<24).map { m1.data[48 + $0] } == (0..<24).map { $0 < 6 ? Float(1) : 0 })   // red: the first row
        // Resized by nearest neighbour to 2x3 and cropped to 2x2 (columns 0 and 1 of 3).
        let small = try ImageFolder.concepts(root: root, transform: ImageTransform(resize: .exact(2, 3), crop: (2, 2)))
        let s0 = try small.source.concepts!.masks(0)
        #expect(small.sampleShape == [3, 2, 2])
        // Column 0 of the 2x3 map reads source column 1 (circle), column 1 reads column 3 (square).
        #expect([s0.data[0], s0.data[1], s0.data[4], s0.data[5]] == [1, 0, 0, 1])
    }

    @Test func badFoldersAreClearErrors() throws {
        func message(_ csv: String, _ change: (String) throws -> Void = { _ in }) throws -> String {
            let root = try folder(csv: csv)
            defer { try? FileManager.default.removeItem(atPath: root) }
            try change(root)
            do { _ = try ImageFolder.concepts(root: root, transform: .plain); return "" } catch { return error.message }
        }
        let good = "number,name,category\n3,circle,shape\n7,square,shape\n1,red,color\n"
        #expect(try message("name,number\n").contains("must start with the header 'number,name,category'"))
        #expect(try message("number,name,category\n0,circle,shape\n").contains("a number in 1...255"))
        #expect(try message("number,name,category\n3,circle,shape\n4,circle,color\n").contains("'circle' is named twice"))
        #expect(try message("number,name,category\n3,circle,shape\n1,red,color\n").contains("value 7 is not a concept of category 'shape'"))
        #expect(try message(good) { root in
            try self.write(root, "labels/color/b/z.png", Image8(width: 6, height: 4, channels: 3, pixels: [UInt8](repeating: 0, count: 72)))
        }.contains("must be 8-bit grayscale"))
        #expect(try message(good) { root in
            try self.write(root, "labels/color/b/z.png", Image8(width: 3, height: 4, channels: 1, pixels: [UInt8](repeating: 0, count: 12)))
        }.contains("is 4x3 but its image is 4x6"))
        #expect(try message(good) { root in
            try self.write(root, "images/b/w.png", Image8(width: 5, height: 4, channels: 3, pixels: [UInt8](repeating: 0, count: 60)))
        }.contains("label maps need images of one size"))
    }
}
