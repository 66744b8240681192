-- ablation from Lua: sweeps agree with one ablated evaluation per unit; results; misuse.
local T = require "helper"
local ds = data.shapes{n = 200, size = 16, seed = 2}
local m = nn.Sequential{nn.Conv2d(1, 6, 3, {padding = 1}), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 8, 3, {padding = 1}),
                        nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(128, 10), seed = 3, input = {1, 16, 16}}
m:fit(ds, {epochs = 2, batch = 16, lr = 0.05, momentum = 0.9, progress = false, seed = 1})

for _, mode in ipairs({"zero", "mean"}) do
  for _, layer in ipairs({"relu1", "relu2"}) do
    local r = ablation.sweep(m, ds, layer, {mode = mode})
    T.close(r.base.accuracy, m:evaluate(ds).accuracy, "base accuracy")
    for i, u in ipairs(r.units) do
      local e = ablation.evaluate(m, ds, {[layer] = {u}}, {mode = mode})
      T.close(r.accuracy[i], e.accuracy, layer .. " unit " .. u .. " " .. mode, 0, 1e-6)
      T.close(r.per_class:select(1, i), e.per_class, layer .. " unit " .. u .. " per class", 0, 1e-6)
    end
  end
end

local r = ablation.sweep(m, ds, "relu2", {units = {8, 2}})
T.eq(#r.units, 2); T.eq(r.units[1], 8, "units kept in order")
T.shape(r.per_class, {2, 10}); T.shape(r.class_drop, {2, 10}); T.shape(r.max_class_drop, {2})
T.close(r.overall_drop, r.accuracy * -1 + r.base.accuracy, "overall_drop")
local top = r:top(2, "overall_drop")
T.eq(top[1].value >= top[2].value, true, "top is sorted")
local csv = os.tmpname() .. ".csv"
r:save(csv)
local f = io.open(csv); local header = f:read("l"); local first = f:read("l"); f:close(); os.remove(csv)
T.eq(header, "unit,accuracy,overall_drop,max_class_drop,circle,square,triangle,cross,ring,horizontal stripes,vertical stripes,checkerboard,diagonal,x", "csv header")
T.eq(first:match("^8,") ~= nil, true, "csv first row is unit 8")
local json = os.tmpname() .. ".json"
r:save(json)
f = io.open(json); local text = f:read("a"); f:close(); os.remove(json)
T.eq(text:find('"units":[{"unit":8,', 1, true) ~= nil, true, "json")

-- several units together
local both = ablation.evaluate(m, ds, {relu1 = {1, 2}, relu2 = {3}})
T.eq(both.n, 200, "multi-unit evaluation")

-- misuse
T.raises(function() ablation.sweep(m, ds, "relu9") end, "no layer named 'relu9'; layers are: conv1, relu1, pool1, conv2, relu2, pool2, flatten1, fc1")
T.raises(function() ablation.sweep(m, ds, "relu2", {units = {9}}) end, "unit 9 out of range for relu2, which has 8 units")
T.raises(function() ablation.sweep(m, ds, "relu2", {mode = "half"}) end, "unknown mode 'half'")
T.raises(function() ablation.sweep(m, ds, "relu2", {unit = {1}}) end, "unknown option 'unit'")
T.raises(function() ablation.sweep(m, data.shapes{n = 10, size = 28}, "relu2") end, "the model expects samples {1,16,16}")
T.raises(function() ablation.evaluate(m, ds, {nope = {1}}) end, "keys must be layer names")
T.raises(function() r:top(3, "accuracy_drop") end, "unknown key 'accuracy_drop'")
T.raises(function() r:save("/tmp/x.txt") end, "path must end in .csv or .json")
local err = T.raises(function() ablation.sweep(m, ds, "relu2", {units = {0}}) end, "bad argument #2 to 'sweep' (unit 0 out of range")
T.eq(err:find("ablation.lua:%d+:") ~= nil and err:find("lesion/ablation.lua", 1, true) == nil, true, "error at the caller's line: " .. err)
