import CLua
import Foundation
import LesionTensor
import LuaShim
import Testing
@testable import LuaHost

let luaTests = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("lua").path

/// A host whose package.path also finds Tests/lua/helper.lua.
func makeHost() throws -> LuaHost {
    let host = try LuaHost()
    host.cacheRoot = NSTemporaryDirectory() + "lesion-test-cache-" + UUID().uuidString
    try host.run(code: "package.path = ... .. '/?.lua;' .. package.path", args: [luaTests])
    return host
}

@Suite struct LuaScriptTests {
    /// Every Lua-side test script; a new file under Tests/lua must be listed here.
    static let scripts = ["tensor_api.lua", "tensor_misuse.lua", "tensor_memory.lua", "nn_api.lua", "nn_misuse.lua", "stats.lua", "ablation.lua", "cache.lua", "report.lua", "residual.lua", "images.lua", "units_seeing.lua", "dissection.lua"]

    @Test(arguments: scripts)
    func luaScript(_ name: String) throws {
        let host = try makeHost()
        do {
            try host.run(file: luaTests + "/" + name)
        } catch let e as ScriptError {
            Issue.record("\(name) failed:\n\(e.message)")
        }
    }

    @Test func everyScriptIsListed() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: luaTests)
            .filter { $0.hasSuffix(".lua") && $0 != "helper.lua" }
        #expect(Set(files) == Set(Self.scripts))
    }
}

@Suite struct BindingTests {
    /// Calls `fn` (a global path like "tensor.zeros") with the results of `argsCode` under
    /// pcall from C, checks the stack is as it was, and returns the error message (nil on success).
    func call(_ host: LuaHost, _ code: String) throws -> String? {
        let L = host.L
        let before = lua_gettop(L)
        let status = code.withCString { lesion_loadbuffer(L, $0, strlen($0), "=test") }
        #expect(status == LUA_OK)
        let rc = lesion_pcall(L, 0, 0, 0)
        var message: String?
        if rc != LUA_OK {
            message = String(cString: lesion_tostring(L, -1))
            lesion_pop(L, 1)
        }
        #expect(lua_gettop(L) == before, "stack not balanced after \(code)")
        return message
    }

    @Test func stackIsBalancedAfterEveryCall() throws {
        let host = try makeHost()
        let calls = [
            "tensor.zeros({2,3})", "tensor.ones(2,3)", "tensor.randn({4}, {seed=1})", "tensor.from{{1,2},{3,4}}",
            "local t = tensor.eye(3); t:sum(); t:sum(1); t:max(2); t:sort(); t:totable(); t:shape(); tostring(t)",
            "local t = tensor.eye(3); local _ = t[1]; t:get(1,1); t:set(1,1,2); t:narrow(1,1,2); t:select(2,1)",
            "tensor.qr(tensor.eye(3))", "tensor.random_rotation(4, {seed=1})", "tensor.memory()",
            "tensor.zeros({0})", "tensor.eye(3):get(9,9)", "tensor.randn({2}, {bad=1})", "tensor.eye(2):matmul(tensor.eye(3))",
            "local _ = tensor.eye(2) + tensor.eye(3)", "tensor.load('/nonexistent')", "tensor.from{1,'x'}",
        ]
        for c in calls { _ = try call(host, c) }
    }

    @Test func exactErrorMessages() throws {
        let host = try makeHost()
        let cases: [(String, String)] = [
            ("tensor.zeros({0})", "test:1: bad argument #1 to 'zeros' (size of dimension 1 must be a positive integer, got 0)"),
            ("local a = tensor.ones({3,4}); a:matmul(tensor.ones({5,2}))",
             "test:1: bad argument #1 to 'matmul' (expected {4,*} to multiply {3,4}, got {5,2})"),
            ("local a = tensor.ones({2}); a.matmul(a, 7)", "test:1: bad argument #2 to 'matmul' (tensor expected, got number)"),
            ("tensor.eye(3):narrow(1, 0, 1)", "test:1: bad argument #2 to 'narrow' (index 0 out of range (1..3))"),
            ("tensor.eye(3).sum(5)", "test:1: bad argument #1 to 'sum' (tensor expected, got number)"),
            ("tensor.randn({2}, {sed = 1})", "test:1: bad argument #2 to 'randn' (unknown option 'sed'; expected one of: mean, seed, std)"),
            ("local _ = tensor.eye(2) * tensor.eye(3)",
             "test:1: attempt to multiply tensors of shapes {2,2} and {3,3} (shapes {2,2} and {3,3} do not broadcast)"),
            ("tensor.load('/nonexistent/a.npy')", "test:1: tensor.load: cannot open '/nonexistent/a.npy': No such file or directory"),
        ]
        for (code, expected) in cases {
            let got = try call(host, code)
            #expect(got == expected, "for \(code)")
        }
    }

    @Test func scriptErrorsNameFileAndLine() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lesion-err-\(getpid()).lua").path
        try "local x = 1\nlocal t = tensor.eye(2)\nt:get(5, 1)\n".write(toFile: path, atomically: true, encoding: .utf8)
        let host = try makeHost()
        do {
            try host.run(file: path)
            Issue.record("the script should fail")
        } catch let e as ScriptError {
            #expect(e.message.hasPrefix("\(path):3: bad argument #1 to 'get' (index 5 out of range (1..2))"))
            #expect(e.message.contains("stack traceback:"))
            #expect(e.message.contains("\(path):3: in main chunk"))
        }
        // Syntax errors name the line as well.
        try "local x = = 1\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: ScriptError.self) { try host.run(file: path) }
        do { try host.run(file: path) } catch let e as ScriptError { #expect(e.message.contains("\(path):1:")) }
    }

    @Test func scriptArguments() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lesion-args-\(getpid()).lua").path
        try "local a, b = ...\nresult = arg[0] .. '|' .. arg[1] .. '|' .. a .. b\n".write(toFile: path, atomically: true, encoding: .utf8)
        let host = try makeHost()
        try host.run(file: path, args: ["x", "y"])
        #expect(try host.run(code: "return result") == ["\(path)|x|xy"])
    }

    /// A strict-mode _G (raising __index/__newindex) must not make the host raise through Swift.
    @Test func strictGlobalsDoNotBreakTheHost() throws {
        let host = try makeHost()
        try host.run(code: "setmetatable(_G, {__newindex = function(_, k) error('assign to undeclared ' .. k) end, __index = function(_, k) error('undeclared ' .. k) end})")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lesion-strict-\(getpid()).lua").path
        try "return tensor.eye(2):sum()\n".write(toFile: path, atomically: true, encoding: .utf8)
        try host.run(file: path, args: ["a"])
        #expect(try host.run(code: "return tensor.ones(3)").first?.contains("tensor{3}") == true)
        #expect(throws: ScriptError.self) { try host.run(code: "undeclared_global = 1") }
    }

    @Test func paramsTakeTypedOverrides() throws {
        let host = try makeHost()
        host.parameterOverrides = ["n": "7", "rate": "0.5", "on": "false"]
        #expect(try host.run(code: "local p = params{n = 1, rate = 2.0, on = true, tag = 'a'}; return p.n, math.type(p.n), p.rate, p.on, p.tag")
                == ["7", "integer", "0.5", "false", "a"])
        #expect(host.declaredParameters == ["n": .integer, "rate": .number, "on": .boolean, "tag": .string])
        #expect(try call(host, "params{n = 1, rate = 1.5, on = true, x = {}}")?.contains("parameter 'x': default must be a number, boolean or string, got table") == true)
        host.parameterOverrides = ["m": "1"]
        #expect(try call(host, "params{n = 1}")?.contains("unknown parameter 'm' given with --set; the script declares: n (integer)") == true)
    }

    @Test func modulesAreGlobalsAndRequirable() throws {
        let host = try makeHost()
        #expect(try host.run(code: "return require('lesion.tensor') == tensor, require('lesion').version == lesion.version")
                == ["true", "true"])
        #expect(try host.run(code: "return lesion.threads() >= 1") == ["true"])
    }
}

@Suite struct NotebookRunTests {
    func script(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "lesion-nb-\(UUID().uuidString).lua"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func aRunWhoseThirdCellFails() throws {
        let path = try script("""
            -- %% One
            local p = params{n = 2}
            local shared = 40
            print("one", p.n)
            -- %% [markdown]
            -- Between the cells.
            -- %% Two
            report.value("answer", shared + p.n)
            report.table({{a = 1}})
            print("two")
            -- %% Three
            print("three starts")
            local t = nil
            t.field = 1
            -- %% Four
            print("four")
            """)
        defer { unlink(path) }
        let host = try makeHost()
        host.parameterOverrides = ["n": "3"]
        let (record, failure) = try host.runNotebook(file: path)
        let error = try #require(failure)
        #expect(error.message.contains(":14: attempt to index a nil value (local 't')"))
        #expect(record.cells.count == 5)
        let texts = record.cells.map { c in c.outputs.compactMap { o -> String? in if case .text(let t) = o { return t }; return nil }.joined() }
        #expect(texts == ["one\t3\n", "", "two\n", "three starts\n", ""])
        #expect(record.cells.map(\.failed) == [false, false, false, true, false])
        #expect(record.cells.map(\.ran) == [true, true, true, true, false])
        if case .error(let m, let tb)? = record.cells[3].outputs.last {
            #expect(m.contains(":14: attempt to index a nil value"))
            #expect(tb.hasPrefix("stack traceback:"))
        } else {
            Issue.record("the failing cell has no error output")
        }
        // Locals live across cells (one Lua chunk); values and tables before the error are kept.
        #expect(record.values.first?.1 == .number(43))
        #expect(record.tables.count == 1)
        #expect(record.parameters.map(\.name) == ["n"])
        #expect(record.parameters.first?.overridden == true)
        #expect(host.runDirectory().hasPrefix("runs/lesion-nb-"))
    }

    @Test func syntaxErrorsAndPlainScripts() throws {
        let bad = try script("-- %% A\nlocal x = = 1\n")
        defer { unlink(bad) }
        let (r1, f1) = try makeHost().runNotebook(file: bad)
        #expect(f1?.message.contains(":2:") == true)
        #expect(r1.failed)
        let plain = try script("print('no cells')\nprint(1 + 1)\n")
        defer { unlink(plain) }
        let (r2, f2) = try makeHost().runNotebook(file: plain)
        #expect(f2 == nil)
        #expect(r2.cells.count == 1)
        if case .text(let t)? = r2.cells[0].outputs.first { #expect(t == "no cells\n2\n") } else { Issue.record("no output") }
    }
}

@Suite struct PluginTests {
    @Test func bundledAndBrokenPlugins() throws {
        let dir = NSTemporaryDirectory() + "lesion-plugins-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // The broken plugin registers an attribute, a mode, a model and replaces a layer before it
        // fails: all of that is taken back.
        try """
            units.register('half_loaded', function(ctx) return ctx.activations:mean(1) end)
            ablation.register_mode('half_mode', function(ctx) return tensor.ones({4}) end)
            function models.half() return models.tinynet() end
            nn.ReLU = nil
            local t = nil
            local y = t.x
            """.write(toFile: dir + "/a_broken.lua", atomically: true, encoding: .utf8)
        try "units.register('twice_mean', function(ctx) return ctx.activations:mean(1) * 2 end)\nfunction models.mine() return models.tinynet() end\n"
            .write(toFile: dir + "/b_fine.lua", atomically: true, encoding: .utf8)
        let host = try makeHost()
        let loaded = try host.loadPlugins(extra: [dir])
        #expect(loaded.map { ($0.file as NSString).lastPathComponent } == ["extras.lua", "a_broken.lua", "b_fine.lua"])
        #expect(loaded.map(\.ok) == [true, false, true])
        #expect(loaded[0].registers == ["attribute class_entropy", "ablation mode max", "model models.tinynet"])
        #expect(loaded[1].error?.contains("a_broken.lua:6: attempt to index a nil value (local 't')") == true)
        #expect(loaded[1].registers.isEmpty)
        try host.run(code: """
            local T = require "helper"
            for _, n in ipairs(units.names()) do T.eq(n ~= "half_loaded", true, "attribute taken back") end
            for _, n in ipairs(ablation.modes()) do T.eq(n ~= "half_mode", true, "mode taken back") end
            T.eq(models.half, nil, "model taken back")
            T.eq(type(nn.ReLU), "function", "replaced layer put back")
            """)
        #expect(loaded[2].registers == ["attribute twice_mean", "model models.mine"])
        // What they registered works: class_entropy against the class means, computed here;
        // the "max" mode against ablation.evaluate.
        try host.run(code: """
            local T = require "helper"
            local ds = data.shapes{n = 120, size = 12, seed = 4}
            local m = nn.Sequential{nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(400, 10), seed = 2, input = {1, 12, 12}}
            local a = units.attributes(m, ds, "relu1", {names = {"class_entropy", "twice_mean", "mean"}})
            local cm = units.class_means(m, ds, "relu1")
            for u = 1, 4 do
              local s, h = 0, 0
              for k = 1, 10 do s = s + cm:get(u, k) end
              for k = 1, 10 do local p = cm:get(u, k) / s; if p > 0 then h = h - p * math.log(p, 2) end end
              T.close(a.class_entropy[u], h, "entropy of unit " .. u, 1e-4, 1e-5)
            end
            T.close(a.twice_mean, a.mean * 2, "plugin attribute", 1e-5, 1e-6)
            local r = ablation.sweep(m, ds, "relu1", {mode = "max"})
            for i = 1, 4 do
              T.close(r.accuracy[i], ablation.evaluate(m, ds, {relu1 = {i}}, {mode = "max"}).accuracy, "max mode", 0, 1e-6)
            end
            T.eq(#models.mine():layers(), 8)
            """)
        #expect(host.plugins.count == 3)
    }
}
