-- Every function and method the host registers, misused on purpose (Tests/cli runs this with
-- --max-memory and --timeout): found by walking the modules and the methods of a tensor, a
-- model, a data set and a result, so a new binding is covered without anyone listing it. Each
-- is called with each bad value in each of its first four argument positions, and with random
-- mixtures of bad and plausible values. None may crash or hang the process; an error must be a
-- message that names the function (its name, or "bad argument #k to '<name>'").
local seed = 1
local function random(n) seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n + 1 end

local ds = data.shapes{n = 12, size = 8, seed = 1}
local m = nn.Sequential{nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(72, ds.num_classes), input = {1, 8, 8}, seed = 1}
local t = tensor.rand({2, 3}, {seed = 1})
local r = ablation.sweep(m, ds, "relu1")
local bad = {
  {"nil", nil}, {"a string", "x"}, {"an empty table", {}}, {"true", true}, {"a function", function() return 1 end},
  {"NaN", 0 / 0}, {"infinity", math.huge}, {"-infinity", -math.huge}, {"-1", -1}, {"0", 0}, {"0.5", 0.5},
  {"1e18", 1e18}, {"2^63", math.maxinteger}, {"a huge size", {1e6, 1e6}}, {"a table of NaN", {0 / 0, 0 / 0}},
  {"a negative size", {-3, 2}}, {"a 2x3 tensor", t}, {"an empty-ish tensor", tensor.zeros{1}},
  {"a model", m}, {"a data set", ds}, {"a layer name", "relu1"}, {"a coroutine", coroutine.create(function() end)},
  {"options with bad fields", {n = -1, k = 0 / 0, batch = 0, seed = "x", units = {0}, size = 1e9}},
}

-- Functions not to call: those that end the process or wait for input, by design.
local skip = {["lesion.repl"] = true}
local functions = {}
local function collect(prefix, tbl, self)
  local names = {}
  for k, v in pairs(tbl) do if type(k) == "string" and type(v) == "function" then names[#names + 1] = k end end
  table.sort(names)
  for _, k in ipairs(names) do
    local full = prefix .. k
    if not skip[full] then functions[#functions + 1] = {name = full, short = k, f = tbl[k], self = self} end
  end
end
for _, mod in ipairs{"tensor", "nn", "models", "data", "ablation", "units", "stats", "plot", "report", "lesion"} do
  if type(_G[mod]) == "table" then collect(mod .. ".", _G[mod]) end
end
for _, g in ipairs{"params", "cache"} do
  if type(_G[g]) == "function" then functions[#functions + 1] = {name = g, short = g, f = _G[g]} end
end
local function methods(label, obj)
  local mt = getmetatable(obj)
  local idx = mt and mt.__index
  if type(idx) == "table" then collect(label .. ":", idx, obj) end
end
methods("t", t); methods("m", m); methods("ds", ds); methods("r", r)

local calls, errors, unnamed = 0, 0, {}
local function call(fn, args, n)
  calls = calls + 1
  local ok, err
  if fn.self ~= nil then
    ok, err = pcall(fn.f, fn.self, table.unpack(args, 1, n))
  else
    ok, err = pcall(fn.f, table.unpack(args, 1, n))
  end
  if not ok then
    errors = errors + 1
    local msg = tostring(err)
    local short = fn.short:gsub("^_", "")
    if not (msg:find(short, 1, true) or msg:find("bad argument", 1, true) or msg:find("sandbox", 1, true)) then
      unnamed[#unnamed + 1] = fn.name .. ": " .. msg:sub(1, 160)
    end
  end
end

-- Each function gets a second at most (building an ImageNet model with defaults is slow, not
-- wrong); calls are made in the same order every run.
local plausible = {m, ds, "relu1", t, 3, {2, 2}, {}}
local boxed = {}
for _, fn in ipairs(functions) do
  io.stderr:write(fn.name, "\n")
  io.stderr:flush()
  local start = lesion.clock()
  local function late()
    if lesion.clock() - start < 1 then return false end
    boxed[#boxed + 1] = fn.name
    return true
  end
  for k = 1, 4 do
    for _, b in ipairs(bad) do
      local args = {}
      args[k] = b[2]
      call(fn, args, k)
    end
    if late() then goto next end
  end
  for _ = 1, 40 do
    if late() then goto next end
    local args = {}
    for k = 1, 4 do
      if random(2) == 1 then args[k] = bad[random(#bad)][2] else args[k] = plausible[random(#plausible)] end
    end
    call(fn, args, 4)
  end
  ::next::
end
print(string.format("%d functions and methods, %d calls, %d errors; cut short after a second: %s", #functions, calls, errors,
  #boxed > 0 and table.concat(boxed, ", ") or "none"))
if #unnamed > 0 then
  print("errors that do not name their function:")
  table.sort(unnamed)
  local last
  for _, u in ipairs(unnamed) do if u ~= last then print("  " .. u) end; last = u end
end
print("misuse: no crash")
