// swift-tools-version: 6.0
// Lesion: unit-ablation experiments on CNNs, scripted in Lua 5.4, computed in Swift on OpenBLAS.
import PackageDescription

let package = Package(
    name: "Lesion",
    products: [
        .executable(name: "lesion", targets: ["lesion"]),
        .executable(name: "lesion-bench", targets: ["lesion-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/JohnSundell/Ink", from: "0.6.0"),
    ],
    // Every module a target imports is declared here, and the core never reaches Lua
    // (Tests/LuaHostTests/PackageTests.swift checks both).
    targets: [
        // MARK: C edges
        .systemLibrary(name: "CLua", pkgConfig: "lua5.4", providers: [.apt(["liblua5.4-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg", providers: [.apt(["libturbojpeg0-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .target(name: "LuaShim", dependencies: ["CLua"]),
        .target(name: "ImageCodecs", dependencies: ["CTurboJPEG", "CPNG"]),
        .target(name: "Kernels"),

        // MARK: numeric core (no Lua)
        .target(name: "LesionTensor", dependencies: ["COpenBLAS", "CZlib", "ImageCodecs"]),
        .target(name: "LesionNN", dependencies: ["LesionTensor", "COpenBLAS", "CZlib", "Kernels"]),
        .target(name: "LesionAblation", dependencies: ["LesionNN", "LesionTensor", "COpenBLAS"]),
        .target(name: "Notebook", dependencies: ["LesionTensor", .product(name: "Ink", package: "Ink")]),

        // MARK: Lua host and executables
        .target(name: "LuaHost", dependencies: ["LesionTensor", "LesionNN", "LesionAblation", "Notebook", "CLua", "LuaShim"]),
        .executableTarget(name: "lesion", dependencies: [
            "LuaHost", "Notebook", "LesionTensor", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "lesion-bench", dependencies: ["LuaHost", "Notebook", "LesionTensor", "LesionNN", "LesionAblation", "COpenBLAS"]),
        // libFuzzer targets for every reader of outside bytes (scripts/fuzz).
        .executableTarget(name: "lesion-fuzz", dependencies: ["Notebook", "LesionTensor", "LesionNN"]),

        // MARK: tests
        .testTarget(name: "LesionTensorTests", dependencies: ["LesionTensor"]),
        .testTarget(name: "LesionNNTests", dependencies: ["LesionNN", "LesionTensor"]),
        .testTarget(name: "LesionAblationTests", dependencies: ["LesionAblation", "LesionNN", "LesionTensor"]),
        .testTarget(name: "NotebookTests", dependencies: ["Notebook", "LesionTensor"], resources: [.copy("Fixtures")]),
        .testTarget(name: "LuaHostTests", dependencies: ["LuaHost", "LesionTensor", "LesionNN", "CLua", "LuaShim"]),
    ],
    swiftLanguageModes: [.v6]
)
