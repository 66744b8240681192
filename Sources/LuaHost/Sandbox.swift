// `lesion run --sandbox`: running someone else's script without handing it the machine.
//
// A sandboxed state has no os.execute, io.popen, package.loadlib, C modules, debug library or
// binary chunks; every function that opens, removes or renames a file, in Lua's libraries and
// in Lesion's bindings alike, checks the path first: reading is allowed inside the script's
// folder, Lesion's Lua library, the data folders (/usr/share/datasets, $LESION_DATA and
// --allow-read), the cache and the run folder; writing inside the run folder only. Paths are
// resolved (.., symbolic links) before they are compared. Memory and wall time limits are
// in Limits (LesionTensor) and LuaShim's allocator and hook; see Run in the CLI.
import CLua
import Foundation
import LuaShim

/// What a sandboxed run may read besides its own folders, and its limits.
public struct SandboxPolicy: Sendable {
    /// Folders (and files) a script may read besides its own folder, Lesion's Lua library, the
    /// cache, the run folder and the data folders.
    public var readable: [String]
    public init(readable: [String] = []) { self.readable = readable }

    /// The data folders every sandboxed script may read.
    public static var dataFolders: [String] {
        var out = ["/usr/share/datasets"]
        if let env = ProcessInfo.processInfo.environment["LESION_DATA"], !env.isEmpty {
            out += env.split(separator: ":").map(String.init)
        }
        return out
    }
}

/// Whether a file is to be read or written.
public enum FileAccess: Sendable { case read, write }

/// The sandbox of a state: nil until it is entered, then the folders it reads, resolved when
/// entered (the run folder is resolved at each check: it is named once the script declares its
/// parameters).
final class SandboxState: HostState {
    var readable: [String]?
}

extension LuaHost {
    /// Whether this state runs sandboxed.
    public var isSandboxed: Bool { state(SandboxState.self).readable != nil }

    /// Puts the state in the sandbox for `script` (a file); the plugins already loaded stay.
    /// There is no way back.
    public func enterSandbox(_ policy: SandboxPolicy, script: String) throws {
        guard !isSandboxed else { return }
        let folder = (script as NSString).deletingLastPathComponent
        let scriptFolder = folder.isEmpty ? "." : folder
        let roots = [scriptFolder, luaDirectory, cacheRoot] + SandboxPolicy.dataFolders + policy.readable
        state(SandboxState.self).readable = roots.compactMap(LuaHost.resolve)
        let lua = Lua(L)
        _ = lua.getGlobal("lesion")
        lua.push(LuaHost.guardFactory as LuaFunction)
        lua.setField(-2, "_sandbox_guard")
        lua.pop()
        _ = try run(code: LuaHost.sandboxCode, name: "=(sandbox)", args: [scriptFolder, luaDirectory])
    }

    /// Lua's side of entering the sandbox: the guarded functions replace the originals (which
    /// stay only as upvalues of the guards, out of reach without the debug library).
    static let sandboxCode = """
        local script_folder, lua_folder = ...
        local guard = lesion._sandbox_guard
        lesion._sandbox_guard = nil
        for _, name in ipairs{"open", "lines", "input", "output"} do io[name] = guard(io[name], "io." .. name) end
        os.remove = guard(os.remove, "os.remove")
        os.rename = guard(os.rename, "os.rename")
        local loadfile_t = guard(loadfile, "loadfile")
        loadfile = loadfile_t
        local load0 = load
        function load(chunk, name, mode, env) return load0(chunk, name, "t", env) end
        function dofile(path)
          local f, err = loadfile_t(path)
          if not f then error(err, 2) end
          return f()
        end
        local function refused(name)
          return function() error("sandbox: " .. name .. " is not available in a sandboxed run", 2) end
        end
        os.execute, io.popen, os.exit = refused("os.execute"), refused("io.popen"), refused("os.exit")
        os.tmpname, os.getenv = refused("os.tmpname"), refused("os.getenv")
        package.loadlib = refused("package.loadlib")
        package.cpath = ""
        package.path = lua_folder .. "/?.lua;" .. lua_folder .. "/?/init.lua;" .. script_folder .. "/?.lua"
        debug, package.loaded.debug = nil, nil
        -- require: modules already loaded, and Lua files found on package.path and read through
        -- the guarded loadfile; never C modules.
        package.searchers = {package.searchers[1], function(name)
          local path, err = package.searchpath(name, package.path)
          if not path then return err end
          local f, lerr = loadfile_t(path)
          if not f then error(lerr, 2) end
          return f, path
        end}
        """

    /// Throws when the sandbox (if any) does not let `function` read or write `path`.
    func checkAccess(_ path: String, _ access: FileAccess, _ function: String) throws {
        guard let readable = state(SandboxState.self).readable else { return }
        let run = runDirectory()
        if let r = LuaHost.resolve(path) {
            let allowed = access == .write ? [LuaHost.resolve(run)].compactMap { $0 } : readable + [LuaHost.resolve(run)].compactMap { $0 }
            if allowed.contains(where: { r == $0 || r.hasPrefix($0 == "/" ? "/" : $0 + "/") }) { return }
        }
        switch access {
        case .read:
            throw LuaRaise("sandbox: \(function) may not read '\(path)' (a sandboxed script reads only its own folder, the data folders, the cache and its run folder; `lesion run --allow-read DIR` adds one)")
        case .write:
            throw LuaRaise("sandbox: \(function) may not write '\(path)' (a sandboxed script writes only inside its run folder, \(run); use report.path(name))")
        }
    }

    /// An absolute path with every symbolic link and `..` resolved; for a file that does not
    /// exist yet, its nearest existing folder resolved and the rest appended (which must not
    /// hold `..`). Nil when that cannot be done safely (a dangling link).
    static func resolve(_ path: String) -> String? {
        guard !path.isEmpty, !path.utf8.contains(0) else { return nil }
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        var head = absolute.split(separator: "/").map(String.init)
        var tail: [String] = []
        while true {
            let p = "/" + head.joined(separator: "/")
            if let r = realpath(p, nil) {
                defer { free(r) }
                let s = String(cString: r)
                return tail.isEmpty ? s : (s == "/" ? "" : s) + "/" + tail.reversed().joined(separator: "/")
            }
            var st = stat()
            if lstat(p, &st) == 0 { return nil }           // there, but not resolvable: a dangling link
            guard let last = head.popLast(), last != "..", last != "." else { return nil }
            tail.append(last)
        }
    }

    /// lesion._sandbox_guard(fn, name): fn behind the sandbox's path checks (only while the
    /// sandbox is entered; removed after).
    static let guardFactory: LuaFunction = { L in
        Lua.bind(L, "lesion._sandbox_guard") { lua in
            guard lua.type(1) == LUA_TFUNCTION else { throw lua.argError(1, expected: "function") }
            _ = try lua.string(2)
            lua_settop(lua.L, 2)
            lesion_pushclosure(lua.L, guarded, 2)
            return 1
        }
    }

    /// A guarded library function: its path arguments checked, then the original called with
    /// the same arguments (loadfile's mode made "t").
    static let guarded: LuaFunction = { L in
        let name = Lua(L!).string(at: lesion_upvalueindex(3)) ?? "?"
        return Lua.bind(L, name) { lua in
            let host = LuaHost.from(lua.L)
            func check(_ i: Int32, _ access: FileAccess) throws {
                guard lua.type(i) == LUA_TSTRING, let p = lua.string(at: i) else {
                    throw LuaRaise("sandbox: \(name) takes a file name (a string), got \(lua.typeName(i))")
                }
                try host.checkAccess(p, access, name)
            }
            switch name {
            case "io.open":
                let mode = lua.type(2) == LUA_TSTRING ? lua.string(at: 2) ?? "r" : "r"
                try check(1, mode.contains(where: { "wa+".contains($0) }) ? .write : .read)
            case "io.lines", "loadfile":
                if !lua.isNoneOrNil(1) { try check(1, .read) }
            case "io.input":
                if lua.type(1) == LUA_TSTRING { try check(1, .read) }
            case "io.output":
                if lua.type(1) == LUA_TSTRING { try check(1, .write) }
            case "os.remove":
                try check(1, .write)
            case "os.rename":
                try check(1, .write)
                try check(2, .write)
            default:
                throw LuaRaise("sandbox: \(name) is not available in a sandboxed run")
            }
            if name == "loadfile" {
                // Text chunks only: mode "t" (a chunk's env, argument 3, kept as given).
                if lua.top < 2 { lua_settop(lua.L, 2) }
                lua.push("t")
                lua_copy(lua.L, -1, 2)
                lua.pop()
            }
            let n = lua.top
            lua_pushvalue(lua.L, lesion_upvalueindex(2))
            lua_rotate(lua.L, 1, 1)
            guard lesion_pcall(lua.L, n, LUA_MULTRET, 0) == LUA_OK else { throw LuaPassOn(lua) }
            return lua.top
        }
    }
}

extension Lua {
    /// The file name at i, checked against the sandbox (if any) for `function`.
    func path(_ i: Int32, _ access: FileAccess, for function: String) throws -> String {
        let p = try string(i)
        try LuaHost.from(L).checkAccess(p, access, function)
        return p
    }
}
