import Foundation
import Testing

/// The house's rules on imports, read from the sources and Package.swift: every module a target
/// imports is one it declares (or the system's), and the numeric core and Notebook never reach
/// Lua, directly or through what they declare.
@Suite struct PackageTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let system: Set<String> = ["Foundation", "Glibc", "Darwin", "Dispatch", "Synchronization", "Testing", "XCTest"]
    static let core: Set<String> = ["LesionTensor", "LesionNN", "LesionAblation", "Notebook"]
    static let lua: Set<String> = ["CLua", "LuaShim", "LuaHost"]

    /// Each target of Package.swift (name, folder, declared dependencies as module names).
    static func targets() throws -> [(name: String, folder: String, dependencies: Set<String>)] {
        let text = try String(contentsOf: root.appendingPathComponent("Package.swift"), encoding: .utf8)
        let kinds = try NSRegularExpression(pattern: #"\.(target|executableTarget|testTarget|systemLibrary)\(name: "([^"]+)""#)
        let matches = kinds.matches(in: text, range: NSRange(text.startIndex..., in: text))
        let ns = text as NSString
        var out: [(String, String, Set<String>)] = []
        for (i, m) in matches.enumerated() {
            let kind = ns.substring(with: m.range(at: 1)), name = ns.substring(with: m.range(at: 2))
            // The declaration runs to the next target's.
            let end = i + 1 < matches.count ? matches[i + 1].range.location : ns.length
            let body = ns.substring(with: NSRange(location: m.range.location, length: end - m.range.location))
            var deps = Set<String>()
            if let open = body.range(of: "dependencies: [") {
                let list = body[open.upperBound...].prefix { $0 != "]" }
                let names = try NSRegularExpression(pattern: #""([^"]+)""#)
                let s = String(list)
                for d in names.matches(in: s, range: NSRange(s.startIndex..., in: s)) {
                    let token = (s as NSString).substring(with: d.range(at: 1))
                    // .product(name: "X", package: "Y"): module X; the package name is not a module.
                    let before = (s as NSString).substring(to: d.range.location)
                    if before.hasSuffix("package: ") { continue }
                    deps.insert(token)
                }
            }
            out.append((name, kind == "testTarget" ? "Tests/\(name)" : "Sources/\(name)", deps))
        }
        return out
    }

    /// The modules the Swift files of a folder import.
    static func imports(_ folder: String) throws -> Set<String> {
        let dir = root.appendingPathComponent(folder)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".swift") }
        var out = Set<String>()
        for f in files {
            for line in try String(contentsOf: dir.appendingPathComponent(f), encoding: .utf8).split(separator: "\n") {
                let words = line.split(separator: " ").filter { !$0.hasPrefix("@") }
                if words.count >= 2, words[0] == "import" { out.insert(String(words[1])) }
            }
        }
        return out
    }

    @Test func everyImportIsDeclared() throws {
        let targets = try Self.targets()
        #expect(targets.count >= 20, "Package.swift's targets were read: \(targets.map(\.name))")
        var undeclared: [String] = []
        for t in targets {
            guard FileManager.default.fileExists(atPath: Self.root.appendingPathComponent(t.folder).path) else { continue }
            for m in try Self.imports(t.folder) where !Self.system.contains(m) && !t.dependencies.contains(m) {
                undeclared.append("\(t.name) imports \(m)")
            }
        }
        #expect(undeclared.isEmpty, "imports not declared in Package.swift: \(undeclared)")
    }

    @Test func theCoreNeverReachesLua() throws {
        let targets = try Self.targets()
        let deps = Dictionary(uniqueKeysWithValues: targets.map { ($0.name, $0.dependencies) })
        for name in Self.core {
            // Everything the target depends on, transitively.
            var seen = Set<String>(), stack = Array(deps[name] ?? [])
            while let d = stack.popLast() { if seen.insert(d).inserted { stack += deps[d] ?? [] } }
            #expect(seen.isDisjoint(with: Self.lua), "\(name) depends on \(seen.intersection(Self.lua))")
            #expect(try Self.imports("Sources/\(name)").isDisjoint(with: Self.lua), "\(name) imports Lua")
        }
    }
}
