import Foundation
import LesionTensor
import Testing
@testable import Notebook

@Suite struct HashTests {
    @Test func sha256KnownAnswers() {
        // FIPS 180-4 examples.
        #expect(SHA256.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test func xxh64KnownAnswers() {
        // Values from the Python xxhash package (xxhash.xxh64(data, seed).intdigest()).
        #expect(XXH64.hash([], seed: 0) == 0xef46db3751d8e999)
        #expect(XXH64.hash(Array("a".utf8), seed: 0) == 0xd24ec4f1a98c6e5b)
        #expect(XXH64.hash(Array("abc".utf8), seed: 0) == 0x44bc2cf5ad770999)
        #expect(XXH64.hash([], seed: 7) == 0x95f0626f6f0a4409)
        #expect(XXH64.hash(Array("abc".utf8), seed: 7) == 0x9e755206156676d7)
        let long = (0..<3).flatMap { _ in (0..<256).map { UInt8($0) } } + Array("xyz".utf8)
        #expect(XXH64.hash(long, seed: 0) == 0xe921a1b45bd779f8)
        #expect(XXH64.hash(long, seed: 7) == 0xb63555d1bf05377f)
    }
}

@Suite struct JSONTests {
    @Test func roundTrip() throws {
        let v: JSON = .object([("b", .array([.number(1), .number(2.5), .null, .bool(true)])), ("a", .string("x\n\"y\"\u{1}é"))])
        #expect(try JSON.parse(v.text(indent: 2)) == v)
        #expect(try JSON.parse(v.text(indent: 0)) == v)
        #expect(v.text(indent: 0) == #"{"b":[1,2.5,null,true],"a":"x\n\"y\"\u0001é"}"#)
    }

    @Test func parsesEscapesAndRejectsBadText() throws {
        #expect(try JSON.parse(#"["\u00e9\ud83d\ude00", -1.5e3]"#) == .array([.string("é😀"), .number(-1500)]))
        // Found by scripts/fuzz (json): a high surrogate before another escape trapped on overflow.
        // A lone surrogate is U+FFFD; what follows it is read as itself.
        #expect(try JSON.parse(#""\uD85e\uD9e5x""#) == .string("\u{FFFD}\u{FFFD}x"))
        #expect(try JSON.parse(#""\uD83D\u0041""#) == .string("\u{FFFD}A"))
        #expect(try JSON.parse(#""\udc00""#) == .string("\u{FFFD}"))
        for bad in ["", "[1,", "{\"a\" 1}", "tru", "[1] x", "\"abc", #""\u+123""#, #""\u12""#] {
            #expect(throws: JSON.ParseError.self) { try JSON.parse(bad) }
        }
    }

    @Test func nonFiniteNumbersBecomeNull() {
        #expect(JSON.array([.number(.nan), .number(.infinity)]).text(indent: 0) == "[null,null]")
    }
}

/// A record as a run of the three-cell script below would leave it, the third cell failing.
func sampleRecord() -> RunRecord {
    let script = """
        -- %% [markdown]
        -- # Title
        -- Some *text* & more.
        -- %% Load
        print("hello")
        -- %% Table
        report.table(...)
        -- %% Fails
        error("boom")
        -- %% Never
        print("no")
        """
    let r = RunRecord(scriptPath: "demo.lua", scriptText: script, version: "0.0.1", threads: 2)
    r.parameters = [.init(name: "epochs", type: "integer", value: .number(2), overridden: true)]
    r.enter(0); r.enter(1)
    r.add(.text("hello\n")); r.add(.text("world <b>\n"))
    r.enter(2)
    let t = Table(columns: ["unit", "drop", "class"], rows: [[.number(1), .number(0.25), .string("Coat")], [.number(2), .null, .string("Bag & co")]], caption: "Drops")
    r.add(.table(t)); r.tables.append(t)
    r.add(.svg(try! Plot.bar(labels: ["a", "b"], values: [1, 2], labels: Labels(title: "T")), title: "T"))
    r.add(.markdown("**bold**"))
    r.values = [("acc", .number(0.9))]
    r.enter(3)
    r.add(.text("before\n"))
    r.fail(message: "demo.lua:9: boom", traceback: "stack traceback:\n\tdemo.lua:9: in main chunk")
    return r
}

@Suite struct RenderTests {
    static func schema() throws -> SchemaValidator {
        let url = try #require(Bundle.module.url(forResource: "nbformat.v4.5.schema", withExtension: "json", subdirectory: "Fixtures"))
        return SchemaValidator(root: try JSON.parse(Data(contentsOf: url)))
    }

    @Test func ipynbIsValidAgainstNbformatSchema() throws {
        let v = try RenderTests.schema()
        let nb = sampleRecord().ipynb()
        #expect(v.validate(nb) == [])
        // And the validator does reject what nbformat rejects.
        guard case .object(var kv) = nb else { Issue.record("not an object"); return }
        kv.append(("extra", .number(1)))
        #expect(!v.validate(.object(kv)).isEmpty)
        var bad = sampleRecord().ipynb()
        if case .object(var top) = bad, case .array(var cells)? = bad["cells"], case .object(var c) = cells[1] {
            c.removeAll { $0.0 == "outputs" }
            cells[1] = .object(c)
            top[0] = ("cells", .array(cells))
            bad = .object(top)
        }
        #expect(!v.validate(bad).isEmpty)
    }

    @Test func ipynbOutputs() throws {
        let nb = sampleRecord().ipynb()
        let cells = try #require(nb["cells"]?.array)
        #expect(cells.count == 5)
        #expect(cells[0]["cell_type"]?.string == "markdown")
        let load = try #require(cells[1]["outputs"]?.array)
        #expect(load.count == 1)
        #expect(load[0]["text"] == .array([.string("hello\n"), .string("world <b>\n")]))
        let table = try #require(cells[2]["outputs"]?.array)
        #expect(table.map { $0["output_type"]?.string } == ["display_data", "display_data", "display_data"])
        #expect(table[0]["data"]?["text/html"] != nil)
        #expect(table[1]["data"]?["image/svg+xml"] != nil)
        let fails = try #require(cells[3]["outputs"]?.array)
        #expect(fails.last?["output_type"]?.string == "error")
        #expect(fails.last?["evalue"]?.string == "demo.lua:9: boom")
        #expect(cells[3]["execution_count"] == .number(3))
        #expect(cells[4]["execution_count"] == .null)
    }

    @Test func htmlIsWellFormedAndSelfContained() throws {
        let html = sampleRecord().html()
        let tags = try Markup.check(html)
        #expect(tags.contains("svg") && tags.contains("table") && tags.contains("style"))
        #expect(!tags.contains("script") && !tags.contains("link") && !tags.contains("img"))
        #expect(!html.contains("http://") || !html.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "").contains("http://"))
        #expect(!html.contains("https://"))
        // Output text is escaped; the failing cell shows its error after its earlier output.
        #expect(html.contains("world &lt;b&gt;"))
        let before = try #require(html.range(of: "before"))
        let error = try #require(html.range(of: "demo.lua:9: boom"))
        #expect(before.lowerBound < error.lowerBound)
        #expect(html.contains("not run"))
        #expect(html.contains("<h1>Title</h1>"))     // Markdown rendered by Ink
        #expect(html.contains("<td class=\"num\" style=\"text-align:right\">0.25</td>"))
    }

    @Test func manifestAndResults() throws {
        let r = sampleRecord()
        let m = r.manifestJSON
        #expect(m["failed"] == .bool(true))
        let cells = try #require(m["cells"]?.array)
        #expect(cells.map { $0["status"]?.string } == ["ok", "ok", "ok", "failed", "not run"])
        #expect(m["script"]?["sha256"]?.string == SHA256.hex(r.scriptText))
        #expect(r.resultsJSON["values"]?["acc"] == .number(0.9))
        #expect(r.resultsJSON["tables"]?.array?.count == 1)
    }

    @Test func parameterIDs() {
        let a = [RunRecord.Parameter(name: "a", type: "integer", value: .number(1), overridden: false),
                 RunRecord.Parameter(name: "b", type: "string", value: .string("x"), overridden: true)]
        #expect(RunRecord.parameterID(a) == RunRecord.parameterID(a.reversed()))
        var c = a
        c[0].value = .number(2)
        #expect(RunRecord.parameterID(a) != RunRecord.parameterID(c))
        #expect(RunRecord.parameterID(a).count == 8)
        #expect(RunRecord.parameterID([]) == "default")
    }

    @Test func plainTableAlignsNumbersRight() {
        let t = Table(columns: ["n", "name"], rows: [[.number(5), .string("a")], [.number(12.5), .string("bb")]])
        #expect(HTML.plainTable(t) == "n     name\n----  ----\n   5  a\n12.5  bb")
    }
}

@Suite struct PlotTests {
    @Test func everyPlotIsWellFormedSVG() throws {
        let x = (0..<50).map { Double($0) / 7 }
        let y = x.map { $0 * 2 + sin($0) }
        let svgs = [
            try Plot.scatter(x: x, y: y, trend: true, labels: Labels(title: "S", xlabel: "x", ylabel: "y")),
            try Plot.line(x: nil, series: [("a", y), ("b", x)], labels: Labels(title: "L")),
            try Plot.bar(labels: ["one", "two & three"], values: [1, -2], labels: Labels()),
            try Plot.hist(values: y, bins: 10, labels: Labels(title: "H")),
            try Plot.heatmap(values: (0..<60).map(Double.init), rows: 6, cols: 10, rowLabels: nil, colLabels: nil, labels: Labels(title: "M")),
        ]
        for s in svgs {
            let tags = try Markup.check(s, html: false)
            #expect(tags.first == "svg")
            #expect(!s.contains("nan") && !s.contains("NaN"))
        }
        #expect(svgs[0].contains("(r = 0.9"))    // the correlation in the title
    }

    @Test func scatterTitleCarriesPearsonR() throws {
        // r of (1,2,3,4) and (2,4,5,4) by hand: sxy 3.5 / sqrt(sxx 5 * syy 4.75) = 0.7182.
        let s = try Plot.scatter(x: [1, 2, 3, 4], y: [2, 4, 5, 4], labels: Labels(title: "t"))
        #expect(s.contains("t (r = 0.718, n = 4)"))
    }

    @Test func longCategoryLabelsTurn() throws {
        let names = (1...20).map { "category number \($0)" }
        let s = try Plot.bar(labels: names, values: names.indices.map(Double.init), labels: Labels())
        #expect(s.components(separatedBy: "rotate(-45").count - 1 == 20)
        let short = try Plot.bar(labels: ["a", "b"], values: [1, 2], labels: Labels())
        #expect(!short.contains("rotate(-45"))
    }

    @Test func turnedLabelsStayInsideTheFigure() throws {
        // A comparison page's bars: the first label is long. Each turned label ends at its bar's
        // centre and reaches 0.71 x its length (6.6 px a character) to the left; none may start
        // left of the figure.
        let names = ["model=resnet,bn=false,dropout=0.5,seed=3", "b", "c", "d", "e", "f", "g", "h"]
        let s = try Plot.bar(labels: names, values: names.indices.map(Double.init), labels: Labels())
        let anchors = s.components(separatedBy: "transform=\"rotate(-45 ").dropFirst().map { part in
            Double(part.prefix { $0 != " " })!
        }
        #expect(anchors.count == names.count)
        for (x, name) in zip(anchors, names) { #expect(x - 0.71 * 6.6 * Double(name.count) >= 0, "'\(name)' at \(x)") }
        // The bars moved with the axis: the first starts right of the plot's left edge.
        let firstBar = Double(s.components(separatedBy: "<rect x=\"").dropFirst(2).first!.prefix { $0 != "\"" })!
        #expect(firstBar > 0.71 * 6.6 * Double(names[0].count) - 40)
    }

    @Test func imageGridDrawsTilesOverlayAndOutline() throws {
        // Two 2x3 gray images scaled by 2, one with an overlay outlined above 0.5.
        let a = ImageGrid.Tile(pixels: [0, 0.5, 1, 1, 0.5, 0], channels: 1, height: 2, width: 3, title: "a")
        let b = ImageGrid.Tile(pixels: [Float](repeating: 0, count: 6), channels: 1, height: 2, width: 3,
                               overlay: [0, 0, 0, 0, 0, 2], threshold: 0.5, title: "b & c")
        let g = try ImageGrid(tiles: [a, b], cols: 2, scale: 2)
        #expect(g.width == 2 * 6 + 4 && g.height == 4 + 16)
        let px = g.pixels()
        func at(_ x: Int, _ y: Int) -> [UInt8] { Array(px[(y * g.width + x) * 3..<(y * g.width + x) * 3 + 3]) }
        #expect(at(0, 0) == [0, 0, 0] && at(2, 0) == [128, 128, 128] && at(5, 3) == [0, 0, 0] && at(4, 1) == [255, 255, 255])
        #expect(at(6, 0) == [255, 255, 255])                   // the gap
        #expect(at(10, 0) == [0, 0, 0])                        // no overlay there
        #expect(at(14, 3) == [0, 255, 255])                    // the thresholded pixel's outline
        let png = try g.png()
        #expect(Array(png.prefix(4)) == [0x89, 0x50, 0x4e, 0x47])
        let decoded = try ImageFile.decode(png)
        #expect(decoded.width == g.width && decoded.height == g.height && decoded.pixels == px)
        let svg = g.svg(png: png, title: "T")
        #expect(try Markup.check(svg, html: false).first == "svg")
        #expect(svg.contains("b &amp; c") && svg.contains("data:image/png;base64,"))
        #expect(throws: PlotError.self) { try ImageGrid(tiles: [a, ImageGrid.Tile(pixels: [0], channels: 1, height: 1, width: 1)]) }
    }

    @Test func unitCardsAreWellFormedAndSortable() throws {
        let png = try ImageGrid(tiles: [ImageGrid.Tile(pixels: [0.5], channels: 1, height: 1, width: 1)], scale: 2).png()
        let cards = [
            UnitCard(unit: 3, picture: (png, 2, 2), concepts: [("red", 0.25)], values: [("drop", 0.5), ("mean", .nan)],
                     classDrop: [("a & b", 0.2), ("c", -0.1)]),
            UnitCard(unit: 7, values: [("drop", -1)]),
        ]
        let html = UnitCards.html(layer: "layer1.0", cards: cards)
        _ = try Markup.check("<div>" + html.components(separatedBy: "<style>")[0] + "</div>", html: true)
        #expect(html.contains("id=\"units-layer1-0-3\"") && html.contains("href=\"#units-layer1-0-7\""))
        #expect(html.contains("<title>a &amp; b: 0.2</title>"))
        #expect(html.contains("data-v=\"0.5\"") && html.contains("data-v=\"\">NaN"))
        #expect(html.contains("window.lesionSort"))
    }

    @Test func niceTicks() {
        let t = Plot.ticks(Plot.Span(0, 1), count: 6).map(Plot.num)
        #expect(t == ["0", "0.2", "0.4", "0.6", "0.8", "1"])
        #expect(Plot.ticks(Plot.Span(-3, 97), count: 6).map(Plot.num) == ["0", "20", "40", "60", "80"])
    }

    @Test func badInputIsAnError() {
        #expect(throws: PlotError.self) { try Plot.scatter(x: [1], y: [1, 2], labels: Labels()) }
        #expect(throws: PlotError.self) { try Plot.hist(values: [.nan], bins: 5, labels: Labels()) }
        #expect(throws: PlotError.self) { try Plot.heatmap(values: [1, 2, 3], rows: 2, cols: 2, rowLabels: nil, colLabels: nil, labels: Labels()) }
        #expect(throws: PlotError.self) { try Plot.line(x: nil, series: [("a", [1, 2]), ("b", [1])], labels: Labels()) }
    }
}

@Suite struct CacheTests {
    static func tempRoot() -> String {
        let d = NSTemporaryDirectory() + "lesion-cache-test-\(UUID().uuidString)"
        return d
    }

    /// Claims: one holder at a time; a claim whose owner is a dead process of this host, or an
    /// old claim of another host, is taken over; a young claim of another host is respected.
    @Test func claims() throws {
        let c = DiskCache(root: CacheTests.tempRoot())
        defer { try? FileManager.default.removeItem(atPath: c.root) }
        guard case .claimed(let first) = c.claim("k1") else { Issue.record("expected a claim"); return }
        guard case .held(let owner) = c.claim("k1") else { Issue.record("a second claim must wait"); return }
        #expect(owner == DiskCache.me)
        c.release(first)
        guard case .claimed(let again) = c.claim("k1") else { Issue.record("released, so claimable"); return }
        c.release(again)
        let host = String(DiskCache.me.split(separator: " ")[0])
        // A process of this host that has exited.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/true")
        try p.run()
        p.waitUntilExit()
        let claimPath = c.path("k2") + ".claim"
        try FileManager.default.createDirectory(atPath: (claimPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try "\(host) \(p.processIdentifier)\n".write(toFile: claimPath, atomically: true, encoding: .utf8)
        guard case .claimed(let taken) = c.claim("k2") else { Issue.record("a dead owner's claim is taken over"); return }
        #expect((try? String(contentsOfFile: claimPath, encoding: .utf8))?.hasPrefix(DiskCache.me) == true)
        c.release(taken)
        // Another host: young, then old.
        try "elsewhere 1\n".write(toFile: claimPath, atomically: true, encoding: .utf8)
        guard case .held(let other) = c.claim("k2") else { Issue.record("a young claim of another host is held"); return }
        #expect(other == "elsewhere 1")
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -7200)], ofItemAtPath: claimPath)
        guard case .claimed(let old) = c.claim("k2", stale: 3600) else { Issue.record("an old claim is taken over"); return }
        c.release(old)
        // An empty claim (its writer killed before it wrote its name): young, then gone after
        // 10 seconds; and no claim file of ours is ever left beside it.
        FileManager.default.createFile(atPath: claimPath, contents: Data())
        guard case .held = c.claim("k2") else { Issue.record("a young empty claim is held"); return }
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -11)], ofItemAtPath: claimPath)
        guard case .claimed(let empty) = c.claim("k2") else { Issue.record("an empty claim older than 10 s is taken over"); return }
        c.release(empty)
        let folder = (claimPath as NSString).deletingLastPathComponent
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.contains(".new-") }.isEmpty)
        // Threads racing for one claim: exactly one wins.
        let wins = ManagedAtomicCounter()
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            if case .claimed = c.claim("k3") { wins.increment() }
        }
        #expect(wins.value == 1)
    }

    /// fetchOrCompute: threads asking for one key at once compute it once (the others wait for
    /// the claim's owner and read its entry); an entry that does not decode is recomputed.
    @Test func fetchOrComputeComputesOnce() throws {
        let c = DiskCache(root: CacheTests.tempRoot())
        defer { try? FileManager.default.removeItem(atPath: c.root) }
        let computed = ManagedAtomicCounter(), hits = ManagedAtomicCounter(), waits = ManagedAtomicCounter()
        @Sendable func value() throws -> Double {
            try c.fetchOrCompute("k", decode: { $0.value["v"]?.number }, compute: {
                computed.increment()
                usleep(300_000)                 // long enough for the others to find the claim held
                return 42
            }, store: { v in
                try c.store("k", label: "k", value: .object([("v", .number(v))]), tensors: [])
            }, event: { e in
                switch e {
                case .hit: hits.increment()
                case .waiting: waits.increment()
                default: break
                }
            })
        }
        let results = UnsafeMutablePointer<Double>.allocate(capacity: 4)
        defer { results.deallocate() }
        let done = DispatchGroup()
        nonisolated(unsafe) let out = results
        for i in 0..<4 {       // four threads of their own (Dispatch would run two at a time here)
            done.enter()
            Thread { out[i] = (try? value()) ?? -1; done.leave() }.start()
        }
        done.wait()
        #expect((0..<4).allSatisfy { results[$0] == 42 })
        #expect(computed.value == 1 && hits.value == 3 && waits.value == 3, "computed \(computed.value), hits \(hits.value), waits \(waits.value)")
        #expect(try value() == 42 && computed.value == 1 && hits.value == 4)
        var corrupt: [String?] = []
        let again = try c.fetchOrCompute("k", decode: { _ in Double?.none }, compute: { 7.0 }, store: { _ in }) { e in
            if case .corrupt(let why) = e { corrupt.append(why) }
        }
        #expect(again == 7 && corrupt.count == 1 && corrupt[0] == nil)
    }

    /// fillParts: three shards filling one call's 12 parts at once compute each part once and
    /// each end with all of them; a shard alone takes the others' parts after its own; parts
    /// already stored are loaded, not computed.
    @Test func fillPartsComputesEachPartOnce() throws {
        let c = DiskCache(root: CacheTests.tempRoot())
        defer { try? FileManager.default.removeItem(atPath: c.root) }
        let keys = (0..<12).map { "part\($0)" }
        let counts = UnsafeMutablePointer<ManagedAtomicCounter>.allocate(capacity: 12)
        counts.initialize(from: (0..<12).map { _ in ManagedAtomicCounter() }, count: 12)
        defer { counts.deinitialize(count: 12); counts.deallocate() }
        nonisolated(unsafe) let shared = counts
        @Sendable func fill(_ shard: Shard) throws -> (have: Set<Int>, computed: [Int]) {
            var have = Set<Int>()
            let computed = try c.fillParts(keys: keys, have: &have, share: shard.share(of: 12), shards: shard.count,
                                           load: { p in if case .hit = c.load(keys[p]) { return true } else { return false } },
                                           compute: { batch in
                                               for p in batch {
                                                   shared[p].increment()
                                                   usleep(20_000)
                                                   try c.store(keys[p], label: "p", value: .number(Double(p)), tensors: [])
                                               }
                                           }, waiting: { _ in })
            return (have, computed)
        }
        let results = UnsafeMutablePointer<(Set<Int>, [Int])>.allocate(capacity: 3)
        results.initialize(repeating: ([], []), count: 3)
        defer { results.deinitialize(count: 3); results.deallocate() }
        nonisolated(unsafe) let out = results
        let done = DispatchGroup()
        for i in 0..<3 {
            done.enter()
            Thread { out[i] = (try? fill(try Shard(index: i + 1, count: 3))) ?? ([], []); done.leave() }.start()
        }
        done.wait()
        #expect((0..<12).allSatisfy { counts[$0].value == 1 }, "\((0..<12).map { counts[$0].value })")
        for i in 0..<3 {
            #expect(results[i].0 == Set(0..<12), "shard \(i + 1) ends with every part")
            #expect(Set(results[i].1).isSuperset(of: try Shard(index: i + 1, count: 3).share(of: 12)), "shard \(i + 1) computed its own share")
        }
        // Everything stored: nothing to compute.
        #expect(try fill(try Shard(index: 2, count: 3)).computed.isEmpty)
        // A shard alone: its share first, then the rest.
        let alone = DiskCache(root: CacheTests.tempRoot())
        defer { try? FileManager.default.removeItem(atPath: alone.root) }
        var have: Set<Int> = [0]
        let order = try alone.fillParts(keys: keys, have: &have, share: 4..<8, shards: 3, load: { _ in false },
                                        compute: { _ in }, waiting: { _ in })
        #expect(have == Set(0..<12))
        #expect(Array(order.prefix(4)) == [4, 5, 6, 7] && Set(order) == Set(1..<12), "\(order)")
    }

    @Test func storeAndLoad() throws {
        let c = DiskCache(root: CacheTests.tempRoot())
        defer { try? FileManager.default.removeItem(atPath: c.root) }
        let t = try Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        try c.store("abcdef", label: "x", value: .object([("v", .string("t0"))]), tensors: [("t0", t)])
        guard case .hit(let e) = c.load("abcdef") else { Issue.record("expected a hit"); return }
        #expect(e.label == "x")
        #expect(e.tensors["t0"]?.shape == [2, 3])
        #expect(e.tensors["t0"].map { Array(UnsafeBufferPointer(start: $0.data, count: 6)) } == [1, 2, 3, 4, 5, 6])
        guard case .miss = c.load("other") else { Issue.record("expected a miss"); return }
        #expect(c.list().count == 1)
    }

    @Test func corruptEntriesAreDetectedAndRemoved() throws {
        let c = DiskCache(root: CacheTests.tempRoot())
        defer { try? FileManager.default.removeItem(atPath: c.root) }
        let t = try Tensor(shape: [1000], values: (0..<1000).map(Float.init))
        // A flipped byte in the data, a truncated file, a file that is not an entry.
        for damage in 0..<3 {
            try c.store("k\(damage)", label: "x", value: .null, tensors: [("t0", t)])
            let p = c.path("k\(damage)")
            var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: p)))
            switch damage {
            case 0: bytes[bytes.count - 100] ^= 0x40
            case 1: bytes = Array(bytes.prefix(bytes.count / 2))
            default: bytes = Array("not a cache entry at all".utf8)
            }
            try Data(bytes).write(to: URL(fileURLWithPath: p))
            guard case .corrupt = c.load("k\(damage)") else { Issue.record("damage \(damage) not detected"); continue }
            #expect(!FileManager.default.fileExists(atPath: p))
        }
    }

    @Test func leftoversOfAKilledWriterAreNotEntries() throws {
        let c = DiskCache(root: CacheTests.tempRoot())
        defer { try? FileManager.default.removeItem(atPath: c.root) }
        let t = try Tensor(shape: [10], values: (0..<10).map(Float.init))
        try c.store("aa11", label: "x", value: .null, tensors: [("t0", t)])
        // What a writer killed before its rename leaves: a temporary file beside the entry.
        let tmp = (c.path("bb22") as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        try Data(repeating: 7, count: 50).write(to: URL(fileURLWithPath: c.path("bb22") + ".tmp-123-456"))
        guard case .miss = c.load("bb22") else { Issue.record("a temporary file was used"); return }
        #expect(c.list().map(\.key) == ["aa11"])
        #expect(c.clear().0 == 2)
        #expect(c.list().isEmpty)
    }
}

@Suite struct ParamsTests {
    @Test func overridesParseByTheDefaultsType() {
        #expect(ParameterType.integer.parse("12") == .number(12))
        #expect(ParameterType.integer.parse("2.5") == nil)
        #expect(ParameterType.integer.parse("") == nil)
        #expect(ParameterType.number.parse("1e-3") == .number(0.001))
        #expect(ParameterType.number.parse("inf") == nil)
        #expect(ParameterType.number.parse("nan") == nil)
        #expect(ParameterType.boolean.parse("Yes") == .bool(true))
        #expect(ParameterType.boolean.parse("off") == .bool(false))
        #expect(ParameterType.boolean.parse("maybe") == nil)
        #expect(ParameterType.string.parse("a=b") == .string("a=b"))
    }
}

/// A counter several threads add to.
final class ManagedAtomicCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func increment() { lock.lock(); n += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return n }
}

/// What the host takes from Notebook to run a script: its text as Lua reads the file, the
/// traceback apart from the message, and the run folder's default name.
@Suite struct ScriptTextTests {
    @Test func dropsAByteOrderMarkOnly() {
        #expect(CellScript.text(fileBytes: [0xEF, 0xBB, 0xBF] + Array("print(1)".utf8)) == "print(1)")
        #expect(CellScript.text(fileBytes: Array("x = 'é'".utf8)) == "x = 'é'")
    }

    @Test func splitsTheTracebackWithoutTheHostsFrames() {
        let (m, t) = CellScript.splitTraceback("a.lua:3: boom\nstack traceback:\n\t[C]: in ?\n\ta.lua:3: in local '__lesion_cell'\n\ta.lua:9: in main chunk")
        #expect(m == "a.lua:3: boom")
        #expect(t == "stack traceback:\n\ta.lua:9: in main chunk")
        #expect(CellScript.splitTraceback("plain").0 == "plain")
    }

    @Test func defaultRunFolder() {
        let r = RunRecord(scriptPath: "dir/demo.lua", scriptText: "", version: "0", threads: 1)
        #expect(r.defaultDirectory(shard: nil).hasPrefix("runs/demo/"))
        #expect(r.defaultDirectory(shard: try! Shard(parsing: "2/3")).hasSuffix("/shard-2-of-3"))
    }
}
