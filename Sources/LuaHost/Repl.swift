// `lesion repl`: one entry at a time, tried first as an expression, results shown through
// lesion.inspect; an unfinished entry asks for more lines.
import CLua
import Foundation
import LuaShim

extension LuaHost {
    public enum ReplResult: Equatable {
        /// The chunk is not finished (an open block, string or bracket): read more lines.
        case incomplete
        /// It ran; its results, rendered (tables through lesion.inspect).
        case ok([String])
        case error(String)
    }

    /// Evaluates one REPL entry: tried first as an expression (`return <code>`), then as a chunk.
    public func replEval(_ code: String) -> ReplResult {
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        var status = ("return " + code).withCString { lesion_loadbuffer(L, $0, strlen($0), "=stdin") }
        if status != LUA_OK {
            let asExpression = Lua(L).string(at: -1) ?? ""
            lesion_pop(L, 1)
            // `1 +` is unfinished as an expression though not as a statement.
            if asExpression.hasSuffix("<eof>"),
               code.withCString({ lesion_loadbuffer(L, $0, strlen($0), "=stdin") }) != LUA_OK {
                lesion_pop(L, 1)
                return .incomplete
            }
            status = code.withCString { lesion_loadbuffer(L, $0, strlen($0), "=stdin") }
            if status != LUA_OK {
                let msg = Lua(L).string(at: -1) ?? "syntax error"
                return status == LUA_ERRSYNTAX && msg.hasSuffix("<eof>") ? .incomplete : .error(msg)
            }
        }
        guard lesion_pcall_traceback(L, 0, LUA_MULTRET) == LUA_OK else {
            return .error(Lua(L).string(at: -1) ?? "(error object is not a string)")
        }
        var out: [String] = []
        for i in stride(from: top + 1, through: lua_gettop(L), by: 1) {
            out.append((lua_type(L, i) == LUA_TTABLE ? inspect(i) : nil) ?? describe(i))
        }
        return .ok(out)
    }

    /// lesion.inspect(value at i), run protected; nil when it is missing or fails.
    func inspect(_ i: Int32) -> String? {
        let abs = lua_absindex(L, i), base = lua_gettop(L)
        defer { lua_settop(L, base) }
        let lua = Lua(L)
        guard lua.getGlobal("lesion") == LUA_TTABLE, lua.rawField(-1, "inspect") == LUA_TFUNCTION else { return nil }
        lua_pushvalue(L, abs)
        guard lesion_pcall(L, 1, 1, 0) == LUA_OK else { return nil }
        return lua.string(at: -1)
    }
}
