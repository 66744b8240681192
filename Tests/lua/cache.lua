-- cache(key, fn) and the automatic caching of Lesion's expensive calls: the same inputs hit,
-- any changed input misses, values come back as they were stored.
local T = require "helper"

local calls = 0
local function counted(...)
  local values = table.pack(...)
  return function() calls = calls + 1; return table.unpack(values, 1, values.n) end
end
local function last() local log = lesion.cache_log(); return log[#log].result end

-- Same key: computed once.
local a = cache("k", counted(tensor.arange(3)))
local b = cache("k", counted(tensor.arange(3)))
T.eq(calls, 1, "second call hits")
T.close(a, b, "same value")

-- Values of every kind come back as stored, several results too.
local v, n, s, z = cache("kinds", function()
  return {1, 2.5, "s", true, {x = tensor.ones({2, 2})}, [10] = math.huge, name = "n", nan = 0 / 0}, 42, "str", nil
end)
local v2, n2, s2, z2 = cache("kinds", function() error("must not run") end)
T.eq(last(), "hit")
T.eq(math.type(v2[1]), "integer"); T.eq(math.type(v2[2]), "float"); T.eq(v2[2], 2.5)
T.eq(v2[3], "s"); T.eq(v2[4], true); T.eq(v2[10], math.huge); T.eq(v2.name, "n"); T.eq(v2.nan ~= v2.nan, true, "NaN")
T.close(v2[5].x, tensor.ones({2, 2})); T.eq(n2, 42); T.eq(s2, "str"); T.eq(z2, nil)
-- A cached tensor does not change with the original.
local t = tensor.zeros({3})
local c1 = cache("alias", function() return t end)
t[1] = 5
local c2 = cache("alias", function() return t end)
T.eq(c2[1], 0, "the stored value is a copy")

-- Table keys: order does not matter, types do.
calls = 0
cache({a = 1, b = "x"}, counted(1)); cache({b = "x", a = 1}, counted(1))
T.eq(calls, 1, "table key order")
cache({1}, counted(1)); cache({1.0}, counted(1))
T.eq(calls, 3, "an integer and a float key differ")

-- Models and data sets in keys: by content.
local m = models.fashionnet{seed = 1}
calls = 0
cache({"m", m}, counted(1)); cache({"m", m:clone()}, counted(1))
T.eq(calls, 1, "an equal model hits")
m:layer("fc2").bias:set(1, 0.5)
cache({"m", m}, counted(1))
T.eq(calls, 2, "a changed weight misses")
cache({"m", models.fashionnet{seed = 2}}, counted(1))
T.eq(calls, 3, "another seed misses")
local ds = data.shapes{n = 60, size = 12, seed = 1}
cache({ds}, counted(1)); cache({data.shapes{n = 60, size = 12, seed = 1}}, counted(1))
T.eq(calls, 4, "equal data hit")
cache({ds:subset(50)}, counted(1)); cache({data.shapes{n = 60, size = 12, seed = 2}}, counted(1))
T.eq(calls, 6, "a subset and other data miss")

-- A model as a value: a new model with the same weights.
local small = nn.Sequential{nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.GlobalAvgPool(), nn.Linear(4, 3), nn.Dropout(0.2), seed = 4, input = {1, 8, 8}}
local back = cache("model", function() return small end)
back = cache("model", function() error("must not run") end)
T.eq(back ~= small, true)
T.eq(table.concat(back:layers(), ","), table.concat(small:layers(), ","))
local x = tensor.randn({2, 1, 8, 8}, {seed = 3})
T.close(back:forward(x), small:forward(x), "same function", 0, 0)

-- Automatic caching: m:fit by the model before training, the data and the options.
local train = data.shapes{n = 64, size = 12, seed = 5}
local function net() return nn.Sequential{nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(400, 10), seed = 7, input = {1, 12, 12}} end
local opts = {epochs = 1, batch = 16, lr = 0.05, progress = false, seed = 3}
local m1, m2, m3 = net(), net(), net()
local h1 = m1:fit(train, opts)
T.eq(last(), "miss")
local h2 = m2:fit(train, opts)
T.eq(last(), "hit")
T.eq(h2.loss[1], h1.loss[1], "history from the cache")
T.close(m2:layer("fc1").weight, m1:layer("fc1").weight, "trained weights from the cache", 0, 0)
m3:fit(train, {epochs = 1, batch = 16, lr = 0.02, progress = false, seed = 3})
T.eq(last(), "miss", "another learning rate misses")
m2:fit(train, opts)
T.eq(last(), "miss", "training a trained model again misses")

-- m:evaluate, m:activations, ablation.sweep, units.attributes.
m1:evaluate(train); m1:evaluate(train); T.eq(last(), "hit", "evaluate")
m1:activations(train, "relu1"); m1:activations(train, "relu1"); T.eq(last(), "hit", "activations")
m1:activations(train, "conv1"); T.eq(last(), "miss", "activations of another layer")
local r1 = ablation.sweep(m1, train, "relu1")
local r2 = ablation.sweep(m1, train, "relu1", {batch = 7})
T.eq(last(), "hit", "sweep (the batch size does not matter)")
T.close(r2.per_class, r1.per_class, "same sweep", 0, 0)
ablation.sweep(m1, train, "relu1", {mode = "mean"}); T.eq(last(), "miss", "another mode")
ablation.sweep(m1, train, "relu1", {units = {1, 2}}); T.eq(last(), "miss", "other units")
units.attributes(m1, train, "relu1"); units.attributes(m1, train, "relu1"); T.eq(last(), "hit", "attributes")

-- A model with a Lambda layer is never cached (its Lua function cannot be identified).
local lam = nn.Sequential{nn.Flatten(), nn.Lambda(function(x) return x * 2 end), nn.Linear(144, 10), seed = 1, input = {1, 12, 12}}
local before = #lesion.cache_log()
lam:evaluate(train)
T.eq(#lesion.cache_log(), before, "no cache lookup for a Lambda model")

-- Misuse.
T.raises(function() cache(1, counted(1)) end, "bad argument #1 to 'cache' (string or table expected, got number)")
T.raises(function() cache("x", 1) end, "bad argument #2 to 'cache' (function expected, got number)")
T.raises(function() cache({print}, counted(1)) end, "a function cannot be part of a cache key")
T.raises(function() cache("fails", function() error("inner problem") end) end, "inner problem")
T.raises(function() cache("co", function() return coroutine.create(print) end) end, "cannot cache the result")
