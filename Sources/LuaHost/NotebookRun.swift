// Running a script as a notebook: the host's side (one Lua state, a hook at each cell marker,
// the record of each cell's outputs); what a notebook is (cells, records, the run folder's
// name) lives in Notebook.
import CLua
import Foundation
import LesionTensor
import LuaShim
import Notebook

extension LuaHost {
    /// Records a seed a script passed, with the script line that passed it (for the manifest).
    func noteSeed(_ seed: UInt64) {
        guard let r = record else { return }
        luaL_where(L, 1)
        let place = Lua(L).string(at: -1) ?? ""
        lesion_pop(L, 1)
        let entry: JSON = .object([("seed", .number(Double(seed))), ("at", .string(String(place.dropLast(2))))])
        if !r.seeds.contains(entry) { r.seeds.append(entry) }
    }

    /// The run folder: `--out` if given, else the record's own (RunRecord.defaultDirectory).
    public func runDirectory() -> String {
        if let d = outputDirectory { return d }
        return record?.defaultDirectory(shard: shard) ?? "runs/lesion/default"
    }

    /// Runs a script as a notebook: cell by cell in one Lua state (it is one chunk whose cell
    /// markers call a hook), recording each cell's outputs. Returns the record and the error
    /// that stopped the run, if any; the caller writes the run folder.
    public func runNotebook(file: String, args: [String] = []) throws -> (RunRecord, ScriptError?) {
        let data: [UInt8]
        do { data = try Files.bytes(file, limit: 1 << 28) } catch {
            throw ScriptError(message: error.message.replacingOccurrences(of: "cannot open '", with: "cannot read script '"))
        }
        let text = CellScript.text(fileBytes: data)
        let record = RunRecord(scriptPath: file, scriptText: text, version: LuaHost.version, threads: Threads.count)
        record.shard = shard
        record.sandboxed = isSandboxed
        (record.maxMemory, record.timeout) = (limits.maxMemory, limits.timeout)
        self.record = record
        let lua = Lua(L)
        lua.newTable(array: Int32(args.count), record: 1)
        lua.push(file)
        lua.setIndex(-2, 0)
        for (i, a) in args.enumerated() { lua.push(a); lua.setIndex(-2, i + 1) }
        lua.setGlobal("arg")
        lua.push(LuaHost.cellHook as LuaFunction)
        lua.setGlobal("__LESION_CELL")
        defer { lua.pushNil(); lua.setGlobal("__LESION_CELL") }
        let chunk = CellScript(text: text).chunk(hook: "__lesion_cell", prefix: "local __lesion_cell <const> = __LESION_CELL; ")
        // By length, not as a C string: a NUL byte in a comment or string is Lua source too.
        let status = Array(chunk.utf8).withUnsafeBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) { lesion_loadbuffer(L, $0.baseAddress, $0.count, "@" + file) }
        }
        do {
            try load(status: status)
            for a in args { lua.push(a) }
            try call(nargs: Int32(args.count), nresults: 0)
        } catch let e as ScriptError {
            let (message, traceback) = CellScript.splitTraceback(e.message)
            record.fail(message: message, traceback: traceback)
            record.defaultSeed = state(RandomDefaults.self).seed
            return (record, e)
        }
        record.finish()
        record.defaultSeed = state(RandomDefaults.self).seed
        return (record, nil)
    }

    /// __lesion_cell(i): the chunk reached the marker of cell i (0-based).
    static let cellHook: LuaFunction = { L in
        Lua.bind(L, "cell") { lua in
            let i = try lua.integer(1)
            LuaHost.from(lua.L).record?.enter(i)
            return 0
        }
    }
}
