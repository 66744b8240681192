// params{key = default, ...}: a script's parameters, overridden from the command line with
// `lesion run script.lua --set key=value`, typed by the default's type.
import CLua
import LuaShim
import Notebook

extension LuaHost {
    /// A declared parameter's type, as `--set` parses values for it.
    public typealias ParameterType = Notebook.ParameterType

    /// The parameters the script declared with params{}, by name.
    public var declaredParameters: [String: ParameterType] { state(ParamsBinding.Declared.self).types }
}

enum ParamsBinding {
    final class Declared: HostState {
        var types: [String: LuaHost.ParameterType] = [:]
    }

    static func register(_ lua: Lua) {
        LuaHost.from(lua.L).publishFunction(lua, "params", params)
    }

    static let params: LuaFunction = { L in
        Lua.bind(L, "params") { lua in
            try lua.table(1)
            let host = LuaHost.from(lua.L)
            var declared: [(String, LuaHost.ParameterType)] = []
            try lua.forEachField(1) { key in
                guard let key else { throw LuaArgError(1, "parameter names must be strings") }
                let t: LuaHost.ParameterType
                switch lua.type(-1) {
                case LUA_TNUMBER: t = lesion_isinteger_number(lua.L, -1) != 0 ? .integer : .number
                case LUA_TBOOLEAN: t = .boolean
                case LUA_TSTRING: t = .string
                default: throw LuaArgError(1, "parameter '\(key)': default must be a number, boolean or string, got \(lua.typeName(-1))")
                }
                declared.append((key, t))
            }
            for (k, t) in declared { host.state(Declared.self).types[k] = t }
            let list = host.declaredParameters.keys.sorted().map { "\($0) (\(host.declaredParameters[$0]!.rawValue))" }.joined(separator: ", ")
            for key in host.parameterOverrides.keys.sorted() where host.declaredParameters[key] == nil {
                throw LuaRaise("params: unknown parameter '\(key)' given with --set; the script declares: \(list)")
            }
            // The result: a new table with the defaults, then the overrides.
            lua.newTable(record: Int32(declared.count))
            lua_pushnil(lua.L)
            while lua_next(lua.L, 1) != 0 {
                lua_pushvalue(lua.L, -2)
                lesion_insert(lua.L, -2)
                lua_rawset(lua.L, -4)
            }
            var recorded: [RunRecord.Parameter] = []
            for (key, t) in declared {
                lua.rawField(1, key)
                let fallback = (try? lua.json(-1, arg: 1)) ?? .null
                lua.pop()
                guard let text = host.parameterOverrides[key] else {
                    recorded.append(.init(name: key, type: t.rawValue, value: fallback, overridden: false))
                    continue
                }
                guard let v = t.parse(text) else {
                    let a = t == .integer ? "an" : "a"
                    throw LuaRaise("params: --set \(key)=\(text): '\(text)' is not \(a) \(t.rawValue), as the default of '\(key)' is; the script declares: \(list)")
                }
                switch (t, v) {
                case (.integer, _): lua.push(Int(text) ?? 0)   // parsed as an integer above
                case (_, .number(let d)): lua.push(d)
                case (_, .bool(let b)): lua.push(b)
                case (_, .string(let s)): lua.push(s)
                default: lua.pushNil()
                }
                lua.setField(-2, key)
                recorded.append(.init(name: key, type: t.rawValue, value: v, overridden: true))
            }
            if let r = host.record {
                for p in recorded {
                    if let k = r.parameters.firstIndex(where: { $0.name == p.name }) { r.parameters[k] = p } else { r.parameters.append(p) }
                }
                r.parameters.sort { $0.name < $1.name }
            }
            return 1
        }
    }
}
