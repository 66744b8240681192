// lesion-fuzz: libFuzzer targets for the readers of outside bytes. scripts/fuzz builds it with
// -sanitize=fuzzer,address (and -D FUZZING, which drops the plain main below) and picks the
// target with LESION_FUZZ_TARGET; seed corpora live in Tests/fuzz/<target>. A reader may throw
// (bad input is an error); it may not crash, leak or hang.
import Foundation
import LesionNN
import LesionTensor
import Notebook

enum FuzzTarget: String, CaseIterable {
    case npy, safetensors, idx, idxgz, cifar, image, json, cells, cache

    static let chosen: FuzzTarget = {
        let name = ProcessInfo.processInfo.environment["LESION_FUZZ_TARGET"] ?? ""
        guard let t = FuzzTarget(rawValue: name) else {
            FileHandle.standardError.write(Data("lesion-fuzz: set LESION_FUZZ_TARGET to one of: \(allCases.map(\.rawValue).joined(separator: ", "))\n".utf8))
            exit(64)
        }
        return t
    }()

    /// A file of this process's own in memory (/dev/shm) for readers that take a path.
    static let folder: String = {
        let d = "/dev/shm/lesion-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(atPath: "/dev/shm/lesion-fuzz-\(getpid())") }
        return d
    }()

    static func file(_ name: String, _ bytes: UnsafeRawBufferPointer) -> String {
        let p = folder + "/" + name
        FileManager.default.createFile(atPath: p, contents: Data(bytes))
        return p
    }

    /// Runs the target's reader over the input.
    func run(_ bytes: UnsafeRawBufferPointer) {
        switch self {
        case .npy:
            _ = try? Npy.read(path: FuzzTarget.file("x.npy", bytes))
        case .safetensors:
            _ = try? Safetensors.read(path: FuzzTarget.file("x.safetensors", bytes))
        case .idx, .idxgz:
            // The input split in two: images, then labels (the first byte says where).
            let cut = bytes.isEmpty ? 0 : min(bytes.count, 1 + Int(bytes[0]) * max(1, bytes.count / 256))
            let suffix = self == .idxgz ? ".gz" : ""
            let images = FuzzTarget.file("images" + suffix, UnsafeRawBufferPointer(rebasing: bytes[min(1, bytes.count)..<cut]))
            let labels = FuzzTarget.file("labels" + suffix, UnsafeRawBufferPointer(rebasing: bytes[cut...]))
            _ = try? DataFiles.idx(images: images, labels: labels, classNames: nil, name: "fuzz")
        case .cifar:
            // Every batch file of the folder is the input (links to one file).
            let dir = FuzzTarget.folder + "/cifar"
            try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let p = FuzzTarget.file("cifar/test_batch.bin", bytes)
            for i in 1...5 where access(dir + "/data_batch_\(i).bin", F_OK) != 0 { symlink(p, dir + "/data_batch_\(i).bin") }
            _ = try? DataFiles.cifar10(dir: dir)
        case .image:
            _ = try? ImageFile.read(path: FuzzTarget.file("x.img", bytes))
        case .json:
            _ = try? JSON.parse(Data(bytes))
        case .cells:
            let s = CellScript(text: String(decoding: bytes, as: UTF8.self))
            _ = s.chunk(hook: "h")
        case .cache:
            let cache = DiskCache(root: FuzzTarget.folder + "/cache")
            let key = "00fuzz"
            let p = cache.path(key)
            try? FileManager.default.createDirectory(atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            FileManager.default.createFile(atPath: p, contents: Data(bytes))
            _ = cache.load(key)
        }
    }
}

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func lesionFuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    FuzzTarget.chosen.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

/// libFuzzer's driver, called from our own entry point: SwiftPM links an executable's `main` to
/// `<target>_main`, so libFuzzer's own main is not the one that runs.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

@_cdecl("lesion_fuzz_main")
public func lesionFuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var values = argv
    return LLVMFuzzerRunDriver(&count, &values, lesionFuzzOne)
}
#else
@main
struct FuzzMain {
    static func main() {
        print("lesion-fuzz holds libFuzzer targets (\(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))); run them with scripts/fuzz [target] [seconds]")
    }
}
#endif
