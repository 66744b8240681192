-- Hostile scripts, run with `lesion run --sandbox` by Tests/cli/run.sh: every escape must be
-- refused with a clear message; the last lines check what a sandboxed script may still do.
-- Prints "refused <name>" per escape and "ok <name>" per allowed use; fails on anything else.
local outside = arg[1]                         -- a folder outside everything allowed
local function refused(name, pattern, f)
  local ok, err = pcall(f)
  if ok then error("ESCAPED: " .. name, 0) end
  if not tostring(err):find(pattern, 1, true) then error("wrong message for " .. name .. ": " .. tostring(err), 0) end
  print("refused " .. name)
end
local function allowed(name, f)
  local ok, err = pcall(f)
  if not ok then error("wrongly refused: " .. name .. ": " .. tostring(err), 0) end
  print("ok " .. name)
end
local secret = outside .. "/secret.txt"
refused("os.execute", "os.execute is not available", function() return os.execute("true") end)
refused("io.popen", "io.popen is not available", function() return io.popen("true") end)
refused("os.exit", "os.exit is not available", function() os.exit(0) end)
refused("os.getenv", "os.getenv is not available", function() return os.getenv("HOME") end)
refused("os.tmpname", "os.tmpname is not available", function() return os.tmpname() end)
refused("package.loadlib", "package.loadlib is not available", function() return package.loadlib("libc.so.6", "system") end)
refused("debug", "global 'debug'", function() return debug.getinfo(1) end)
refused("require debug", "module 'debug' not found", function() return require "debug" end)
refused("binary chunk", "attempt to load a binary chunk", function() return assert(load(string.dump(function() end))) end)
refused("binary chunk, mode b", "attempt to load a binary chunk", function() return assert(load(string.dump(function() end), "x", "b")) end)
refused("io.open outside", "sandbox: io.open may not read", function() return io.open(secret) end)
refused("io.open ..", "sandbox: io.open may not read", function() return io.open("../../../../../../../../etc/passwd") end)
refused("io.open symbolic link", "sandbox: io.open may not read", function() return io.open("link-out/secret.txt") end)
refused("io.open write beside the script", "sandbox: io.open may not write", function() return io.open("planted.lua", "w") end)
refused("io.open append", "sandbox: io.open may not write", function() return io.open(secret, "a") end)
refused("io.open read-write", "sandbox: io.open may not write", function() return io.open(report.path("x.txt") .. "/../../../../planted.txt", "r+") end)
refused("io.lines", "sandbox: io.lines may not read", function() for _ in io.lines(secret) do end end)
refused("io.input", "sandbox: io.input may not read", function() return io.input(secret) end)
refused("io.output", "sandbox: io.output may not write", function() return io.output(outside .. "/out.txt") end)
refused("os.remove", "sandbox: os.remove may not write", function() return os.remove(secret) end)
refused("os.rename", "sandbox: os.rename may not write", function() return os.rename(secret, report.path("stolen.txt")) end)
refused("loadfile", "sandbox: loadfile may not read", function() return loadfile(secret) end)
refused("dofile", "sandbox: loadfile may not read", function() return dofile(secret) end)
refused("require outside", "sandbox: loadfile may not read", function()
  local saved = package.path
  package.path = outside .. "/?.txt"
  local ok, err = pcall(require, "secret")
  package.path = saved
  if not ok then error(err, 0) end
end)
refused("C module", "not found", function() package.cpath = "/usr/lib/x86_64-linux-gnu/lua/5.4/?.so"; return require "lpeg" end)
refused("a number for a path", "takes a file name", function() return io.open(42) end)
refused("a table with __tostring", "takes a file name", function() return io.open(setmetatable({}, {__tostring = function() return "x" end})) end)
refused("in a coroutine", "sandbox: io.open may not read", function() return coroutine.wrap(function() return io.open(secret) end)() end)
refused("string metatable", "sandbox: io.open may not read", function()
  local mt = getmetatable("")
  local old = mt.__index
  mt.__index = function(s, k) return io.open(secret) end
  local ok, err = pcall(function() return ("x"):anything() end)
  mt.__index = old
  if not ok then error(err, 0) end
end)
refused("a new _ENV", "sandbox: io.open may not read", function() return load("return io.open(...)", "x", "t", {io = io})(secret) end)
refused("m:save", "sandbox: m:save may not write", function() nn.Sequential{nn.Linear(2, 2)}:save(outside .. "/m.safetensors") end)
refused("m:load", "sandbox: m:load may not read", function() nn.Sequential{nn.Linear(2, 2)}:load(secret) end)
refused("t:save", "sandbox: t:save may not write", function() tensor.zeros{2}:save(outside .. "/t.npy") end)
refused("tensor.load", "sandbox: tensor.load may not read", function() return tensor.load(secret) end)
refused("data.image", "sandbox: data.image may not read", function() return data.image(secret) end)
refused("data.images", "sandbox: data.images may not read", function() return data.images(outside) end)
refused("data.save_image", "sandbox: data.save_image may not write", function() data.save_image(tensor.zeros{1, 2, 2}, outside .. "/x.png") end)
refused("data.idx", "sandbox: data.idx may not read", function() return data.idx(secret, secret) end)
refused("data.npy", "sandbox: data.npy may not read", function() return data.npy(secret, secret) end)
refused("data.fashion_mnist root", "sandbox: data.fashion_mnist may not read", function() return data.fashion_mnist{root = outside} end)
refused("r:save", "sandbox: io.open may not write", function()
  local ds = data.shapes{n = 20, size = 8}
  local m = nn.Sequential{nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(72, ds.num_classes), input = {1, 8, 8}}
  ablation.sweep(m, ds, "relu1"):save(outside .. "/r.csv")
end)
allowed("write in the run folder", function() local f = assert(io.open(report.path("notes.txt"), "w")); f:write("fine"); f:close() end)
allowed("read it back", function() assert(io.open(report.path("notes.txt")):read("a") == "fine") end)
allowed("read beside the script", function() assert(io.open("readable.txt")):close() end)
allowed("require beside the script", function() assert(require("helper_module").answer == 42) end)
allowed("load text", function() assert(load("return 1 + 1")() == 2) end)
allowed("m:save in the run folder", function() nn.Sequential{nn.Linear(2, 2)}:save(report.path("m.safetensors")) end)
print("all hostile attempts refused")
