import CLua
import Foundation
import LuaShim
import LesionNN
import LesionTensor
import Notebook

/// A script failed: the message (with the script's file and line) and a traceback.
public struct ScriptError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// State that a binding keeps for one Lua state: a final class declared in the binding's own
/// file, made on first use (`LuaHost.state`), so LuaHost itself knows no binding's fields.
protocol HostState: AnyObject {
    init()
}

/// Owns one lua_State with Lesion's modules loaded, and the settings of the run (what the
/// `lesion` command sets). What each binding keeps lives in the binding's own file.
public final class LuaHost {
    public static let version = "0.1.0"

    public let L: OpaquePointer
    /// The folder holding `lesion/*.lua` (Lesion's Lua half).
    public let luaDirectory: String

    /// `--set key=value` overrides (of the parameters a script declares with params{}).
    public var parameterOverrides: [String: String] = [:]
    /// The notebook run in progress (cells, outputs, values), if the script runs as one.
    public internal(set) var record: RunRecord?
    /// `--out DIR`: the run folder; nil for runs/<script>/<parameter id>.
    public var outputDirectory: String?
    /// Whether print and report output also go to standard output (off for benchmarks).
    public var echo = true
    /// The cache (`cache`, and m:fit, m:activations, ablation.sweep, units.attributes).
    public var cacheEnabled = true
    public var cacheRoot = DiskCache.defaultRoot()
    /// `--shard I/N`: this run is one of N sharing the cache (ShardBinding.swift).
    public var shard: Shard?
    /// `--max-memory` and `--timeout` (Limits.swift).
    public internal(set) var limits = RunLimits()
    /// Each binding's state, by type (`state`).
    private var states: [ObjectIdentifier: HostState] = [:]

    public init(luaDirectory: String? = LuaHost.findLuaDirectory()) throws {
        guard let luaDirectory else {
            throw ScriptError(message: "cannot find Lesion's Lua library (a folder holding lesion/prelude.lua); set LESION_LUA_PATH to the lua/ folder of a Lesion checkout or installation")
        }
        guard let L = lesion_newstate() else { throw ScriptError(message: "cannot create a Lua state (out of memory)") }
        self.L = L
        self.luaDirectory = luaDirectory
        lesion_getextraspace(L).storeBytes(of: Unmanaged.passUnretained(self).toOpaque(), as: UnsafeMutableRawPointer.self)
        luaL_openlibs(L)
        let lua = Lua(L)
        try run(code: "local d = ...; package.path = d .. '/?.lua;' .. d .. '/?/init.lua;' .. package.path",
                name: "=(lesion)", args: [luaDirectory])
        registerLesion(lua)
        TensorBinding.register(lua)
        NNBinding.register(lua)
        DataBinding.register(lua)
        StatsBinding.register(lua)
        AblationBinding.register(lua)
        UnitsBinding.register(lua)
        ParamsBinding.register(lua)
        ReportBinding.register(lua)
        PlotBinding.register(lua)
        CacheBinding.register(lua)
        ShardBinding.register(lua)
        try run(code: "require 'lesion.prelude'", name: "=(lesion)")
    }

    deinit { lua_close(L) }

    /// The state of type S that a binding keeps for this Lua state.
    func state<S: HostState>(_ type: S.Type) -> S {
        if let s = states[ObjectIdentifier(type)] { return s as! S }
        let s = S()
        states[ObjectIdentifier(type)] = s
        return s
    }

    /// The host that owns L.
    static func from(_ L: OpaquePointer) -> LuaHost {
        let p = lesion_getextraspace(L).load(as: UnsafeMutableRawPointer.self)
        return Unmanaged<LuaHost>.fromOpaque(p).takeUnretainedValue()
    }

    // MARK: - modules

    /// Makes a table of functions the global `name` and `require "lesion.<name>"`-able.
    func registerModule(_ lua: Lua, _ name: String, _ functions: [(String, LuaFunction)]) {
        lua.newTable(record: Int32(functions.count))
        for (fname, f) in functions {
            lua.push(f)
            lua.setField(-2, fname)
        }
        publish(lua, name)
    }

    /// Makes f the global function `name` and `require "lesion.<name>"`-able (params, cache).
    func publishFunction(_ lua: Lua, _ name: String, _ f: @escaping LuaFunction) {
        lua.push(f)
        publish(lua, name)
    }

    /// Sets the table on top as global `name` and as package.loaded["lesion.<name>"]; pops it.
    func publish(_ lua: Lua, _ name: String) {
        lua.pushLoaded()
        lua_pushvalue(L, -2)
        lua.setField(-2, "lesion." + name)
        lua.pop()
        lua.setGlobal(name)
    }

    func registerLesion(_ lua: Lua) {
        lua.newTable()
        lua.push(LuaHost.version)
        lua.setField(-2, "version")
        lua.push(LuaHost.threads as LuaFunction)
        lua.setField(-2, "threads")
        lua.push(LuaHost.clock as LuaFunction)
        lua.setField(-2, "clock")
        lua_pushvalue(L, -1)
        lua.setGlobal("lesion")
        lua.pushLoaded()
        lua_pushvalue(L, -2)
        lua.setField(-2, "lesion")
        lua.pop(2)
    }

    /// lesion.threads(n?): returns the thread count; sets it first when n is given.
    static let threads: LuaFunction = { L in
        Lua.bind(L, "lesion.threads") { lua in
            if let n = try lua.optInteger(1) {
                guard n >= 1 && n <= 256 else { throw LuaArgError(1, "thread count must be in 1..256, got \(n)") }
                try Threads.set(n)
            }
            lua.push(Threads.count)
            return 1
        }
    }

    /// lesion.clock(): seconds on a monotonic wall clock (os.clock is CPU time of all threads).
    static let clock: LuaFunction = { L in
        Lua.bind(L, "lesion.clock") { lua in
            var ts = timespec()
            clock_gettime(CLOCK_MONOTONIC, &ts)
            lua.push(Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9)
            return 1
        }
    }

    // MARK: - running code

    /// Runs a script file with `arg` set as lua.c does (arg[0] = script, arg[1...] = args),
    /// the args also passed as `...`.
    public func run(file: String, args: [String] = []) throws {
        let lua = Lua(L)
        lua.newTable(array: Int32(args.count), record: 1)
        lua.push(file)
        lua.setIndex(-2, 0)
        for (i, a) in args.enumerated() {
            lua.push(a)
            lua.setIndex(-2, i + 1)
        }
        lua.setGlobal("arg")
        try load(status: lesion_loadfile(L, file))
        for a in args { lua.push(a) }
        try call(nargs: Int32(args.count), nresults: 0)
    }

    /// Runs a chunk of code; returns its results converted with tostring.
    @discardableResult
    public func run(code: String, name: String = "=(command line)", args: [String] = []) throws -> [String] {
        let base = lua_gettop(L)
        let status = code.withCString { lesion_loadbuffer(L, $0, strlen($0), name) }
        try load(status: status)
        for a in args { Lua(L).push(a) }
        try call(nargs: Int32(args.count), nresults: LUA_MULTRET)
        var out: [String] = []
        let lua = Lua(L)
        if lua_gettop(L) > base {
            for i in (base + 1)...lua_gettop(L) {
                // tostring through Lua (pcall'd) so __tostring errors cannot escape.
                out.append(describe(i))
            }
        }
        lua_settop(L, base)
        _ = lua
        return out
    }

    /// The model a Lua expression makes (`models.resnet18{}`): for Swift programs that embed
    /// Lesion, such as the benchmark.
    public func model(_ expression: String) throws -> Sequential {
        let base = lua_gettop(L)
        defer { lua_settop(L, base) }
        let code = "return " + expression
        try load(status: code.withCString { lesion_loadbuffer(L, $0, strlen($0), "=(model)") })
        try call(nargs: 0, nresults: 1)
        guard let m = Lua(L).test(-1, Sequential.self) else { throw LuaRaise("'\(expression)' does not make a model") }
        return m
    }

    func load(status: Int32) throws {
        guard status == LUA_OK else {
            let msg = Lua(L).string(at: -1) ?? "cannot load chunk"
            lesion_pop(L, 1)
            throw ScriptError(message: msg)
        }
    }

    func call(nargs: Int32, nresults: Int32) throws {
        let status = lesion_pcall_traceback(L, nargs, nresults)
        guard status == LUA_OK else {
            let msg = Lua(L).string(at: -1) ?? "(error object is not a string)"
            lesion_pop(L, 1)
            throw ScriptError(message: msg)
        }
    }

    /// tostring(value at i) through Lua's tostring (so __tostring metamethods apply); errors
    /// inside __tostring become a Lua error of the caller.
    func tostring(_ i: Int32) throws -> String {
        let abs = lua_absindex(L, i)
        Lua(L).getGlobal("tostring")
        lua_pushvalue(L, abs)
        guard lesion_pcall(L, 1, 1, 0) == LUA_OK else {
            let m = Lua(L).string(at: -1) ?? "?"
            lesion_pop(L, 1)
            throw LuaRaise(m)
        }
        defer { lesion_pop(L, 1) }
        guard let s = Lua(L).string(at: -1) else { throw LuaRaise("'tostring' must return a string") }
        return s
    }

    /// tostring(value at i), run protected; an error in __tostring becomes the text.
    func describe(_ i: Int32) -> String {
        do {
            return try tostring(i)
        } catch let e as LuaRaise {
            return "(error in __tostring: \(e.message))"
        } catch {
            return "(error in __tostring)"
        }
    }

    // MARK: - finding lua/

    /// LESION_LUA_PATH, else a `lua` folder beside the executable, in ../share/lesion/, or in
    /// any folder above it (a source tree, where SwiftPM builds into .build/<config>/).
    public static func findLuaDirectory() -> String? {
        let fm = FileManager.default
        func holdsLesion(_ dir: String) -> Bool { fm.fileExists(atPath: dir + "/lesion/prelude.lua") }
        if let env = ProcessInfo.processInfo.environment["LESION_LUA_PATH"], !env.isEmpty {
            return holdsLesion(env) ? env : nil
        }
        let exe = (try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments.first ?? "."
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent().standardizedFileURL
        let candidates = [dir.path + "/lua", dir.deletingLastPathComponent().path + "/share/lesion/lua"]
        for c in candidates where holdsLesion(c) { return c }
        for _ in 0..<8 {
            if holdsLesion(dir.path + "/lua") { return dir.path + "/lua" }
            let up = dir.deletingLastPathComponent()
            if up.path == dir.path { break }
            dir = up
        }
        return nil
    }
}
