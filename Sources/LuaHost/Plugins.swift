// Plugins: Lua files that add ablation modes, attributes or layers (lua/plugins, folders in
// LESION_PLUGINS, `lesion run --plugin DIR`), loaded by lua/lesion/plugins.lua; a plugin that
// fails is reported with its file and line and the others still load.
import CLua
import Foundation
import LuaShim

final class LoadedPlugins: HostState {
    var list: [LuaHost.Plugin] = []
}

extension LuaHost {
    public struct Plugin {
        public var file: String
        public var ok: Bool
        public var error: String?
        public var registers: [String]
    }

    /// The plugin files to load: lua/plugins/*.lua (bundled), then every folder in
    /// LESION_PLUGINS (colon-separated), then `extra` folders; each folder's files in name order.
    public func pluginFiles(extra: [String] = []) -> [String] {
        var dirs = [luaDirectory + "/plugins"]
        if let env = ProcessInfo.processInfo.environment["LESION_PLUGINS"] {
            dirs += env.split(separator: ":").map(String.init).filter { !$0.isEmpty }
        }
        dirs += extra
        var files: [String] = []
        for d in dirs {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: d) else { continue }
            files += names.filter { $0.hasSuffix(".lua") }.sorted().map { d + "/" + $0 }
        }
        return files
    }

    /// Plugins loaded into this state, in order.
    public var plugins: [Plugin] { state(LoadedPlugins.self).list }

    /// Loads plugins; one that fails is reported in its entry (file and line) and the others
    /// still load. Returns the plugins this call loaded.
    @discardableResult
    public func loadPlugins(extra: [String] = []) throws -> [Plugin] {
        let files = pluginFiles(extra: extra)
        let lua = Lua(L)
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        _ = lua.getGlobal("require")
        lua.push("lesion.plugins")
        try call(nargs: 1, nresults: 1)
        guard lua.type(-1) == LUA_TTABLE, lua.rawField(-1, "load") == LUA_TFUNCTION else {
            throw ScriptError(message: "lesion.plugins: the plugin loader is missing (lua/lesion/plugins.lua)")
        }
        lua.newTable(array: Int32(files.count))
        for (i, f) in files.enumerated() { lua.push(f); lua.setIndex(-2, i + 1) }
        try call(nargs: 1, nresults: 1)
        var out: [Plugin] = []   // only what this call loaded (plugins.load returns that)
        for i in 0..<lua.rawLength(-1) {
            lua_rawgeti(L, -1, lua_Integer(i + 1))
            lua.rawField(-1, "file"); let file = lua.string(at: -1) ?? "?"; lua.pop()
            lua.rawField(-1, "ok"); let ok = lua_toboolean(L, -1) != 0; lua.pop()
            lua.rawField(-1, "error"); let err = lua.string(at: -1); lua.pop()
            lua.rawField(-1, "registers")
            var regs: [String] = []
            for k in 0..<lua.rawLength(-1) { lua_rawgeti(L, -1, lua_Integer(k + 1)); regs.append(lua.string(at: -1) ?? "?"); lua.pop() }
            lua.pop(2)
            out.append(Plugin(file: file, ok: ok, error: err, registers: regs))
        }
        state(LoadedPlugins.self).list += out
        return out
    }
}
