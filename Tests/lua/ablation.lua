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

-- unit attributes
local a = units.attributes(m, ds, "relu2")
for _, n in ipairs({"selectivity", "l1_in", "l1_out", "mean", "sparsity", "top_class", "class_correlation"}) do
  T.shape(a[n], {8})
end
T.close(a.l1_in, m:layer("conv2").weight:abs():sum(4):sum(3):sum(2), "l1_in from Lua", 1e-5, 1e-5)
local cm = units.class_means(m, ds, "relu2")
T.shape(cm, {8, 10})
local _, top = cm:max(2)
T.close(a.top_class, top, "top_class is the argmax of the class means")
T.eq(a.selectivity:min() >= 0 and a.selectivity:max() <= 1, true, "selectivity of ReLU units in [0, 1]")
units.register("peak", function(ctx) return ctx.activations:max(1) end)
local p = units.attributes(m, ds, "relu2", {names = {"peak", "mean"}})
T.shape(p.peak, {8})
T.raises(function() units.attributes(m, ds, "relu2", {names = {"nope"}}) end, "unknown attribute 'nope'")
units.register("broken", function() return 5 end)
T.raises(function() units.attributes(m, ds, "relu2", {names = {"broken"}}) end, "attribute 'broken' returned number")
T.raises(function() units.attributes(m, ds, "fc1", {names = {"l1_out"}}) end, "no conv or linear layer reads the units of fc1")

-- rotation
local rm = ablation.rotate(m, "relu2", {seed = 4})
T.eq(table.concat(rm:layers(), ","), "conv1,relu1,pool1,conv2,relu2,relu2_rot,relu2_unrot,pool2,flatten1,fc1", "rotated layers")
local x = ds:subset(20):tensors()
T.close(rm:forward(x), m:forward(x), "rotation keeps the function", 0, 1e-4)
local rs = ablation.sweep(rm, ds, "relu2_rot")
T.eq(#rs.units, 8, "sweep at the rotated layer")
T.close(rs.accuracy[3], ablation.evaluate(rm, ds, {relu2_rot = {3}}).accuracy, "rotated sweep exact", 0, 1e-6)
T.raises(function() ablation.rotate(m, "nope") end, "no layer named 'nope'")

-- plugin modes and curves
ablation.register_mode("one", function(ctx) return tensor.ones({8}) end)
local r1 = ablation.sweep(m, ds, "relu2", {mode = "one"})
T.close(r1.accuracy[2], ablation.evaluate(m, ds, {relu2 = {2}}, {mode = "one"}).accuracy, "plugin mode", 0, 1e-6)
T.raises(function() ablation.sweep(m, ds, "relu2", {mode = "nothing"}) end, "unknown mode 'nothing'")
T.raises(function() ablation.register_mode("zero", function() end) end, "'zero' is built in")
local curve = ablation.curve(m, ds, "relu2", {3, 1, 2}, {steps = {0, 1, 3}})
T.close(curve.accuracy[1], m:evaluate(ds).accuracy, "curve step 0", 0, 1e-6)
T.close(curve.accuracy[3], ablation.evaluate(m, ds, {relu2 = {3, 1, 2}}).accuracy, "curve step 3", 0, 1e-6)
T.shape(curve.per_class, {3, 10})
T.raises(function() ablation.curve(m, ds, "relu2", {1, 2}, {steps = {5}}) end, "step 1 is 5")
-- Every step against its own evaluation, per class, in mean mode and in a plugin's mode.
for _, mode in ipairs{"mean", "one"} do
  local c = ablation.curve(m, ds, "relu2", tensor.from({5, 2, 8, 1}), {mode = mode})
  T.eq(#c.steps, 5, "default steps for 4 units: 0 to 4")
  for i, k in ipairs(c.steps) do
    local units = {}
    for j = 1, k do units[j] = c.order[j] end
    local e = k == 0 and m:evaluate(ds) or ablation.evaluate(m, ds, {relu2 = units}, {mode = mode})
    T.close(c.accuracy[i], e.accuracy, "curve " .. mode .. " step " .. k, 0, 1e-6)
    for j = 1, 10 do
      local want = e.per_class[j]
      if want == want then T.close(c.per_class:get(i, j), want, "curve per class", 0, 1e-6) end
    end
  end
end
T.raises(function() ablation.curve(m, ds, "relu2", {1, 2, 1}) end, "unit 1 appears twice")
T.raises(function() ablation.curve(m, ds, "relu2", {1, 99}) end, "unit 99 out of range")
T.raises(function() ablation.curve(m, ds, "relu2", {1, 2}, "steps") end, "table of options expected")
T.raises(function() ablation.curve(m, ds, "relu2", {1, 2}, {mode = "bogus"}) end, "bad argument #5 to 'curve' (option 'mode': unknown mode 'bogus'")
T.raises(function() ablation.sweep(m, ds, "relu2", {mode = "bogus"}) end, "bad argument #4 to 'sweep' (option 'mode': unknown mode 'bogus'")

-- Numbers far outside any range are errors, not traps.
T.raises(function() ablation.sweep(m, ds, "relu1", {units = {math.maxinteger}}) end, "unit 9223372036854775807 out of range")
T.raises(function() ablation.evaluate(m, ds, {relu1 = {math.mininteger}}) end, "out of range")
T.raises(function() tensor.arange(math.maxinteger) end, "elements is too many")
T.raises(function() ds:subset(tensor.from({1e30})) end, "out of range")

-- Bootstrap intervals of a sweep (issue 14) against a naive computation: each image's answer
-- from its own ablated evaluation, each round's resample counted by hand, NumPy-style
-- percentiles. Two chunks of samples (parts.chunk lowered) check that the parts' answers join.
do
  local small = ds:subset(80)
  local parts = require "lesion.parts"
  local saved = parts.chunk
  parts.chunk = 40
  local r = ablation.sweep(m, small, "relu2", {units = {1, 3, 5, 8}, ci = 0.9, bootstrap = 60, seed = 7})
  parts.chunk = saved
  T.shape(r.ci.class_drop, {4, 10, 2}); T.shape(r.ci.overall_drop, {4, 2}); T.shape(r.ci.class_drop_p, {4, 10})
  local n, k = #small, 10
  local labels, right = small:labels():totable(), {}
  for i = 1, n do right[i] = m:evaluate(small:subset({i})).accuracy == 1 end
  for row, u in ipairs(r.units) do
    local ablated = {}
    for i = 1, n do ablated[i] = ablation.evaluate(m, small:subset({i}), {relu2 = {u}}).accuracy == 1 end
    local drops, cdrops = {}, {}
    for c = 1, k do cdrops[c] = {} end
    for round = 0, 59 do
      local total, lost, all = {}, {}, 0
      for c = 1, k do total[c], lost[c] = 0, 0 end
      for _, i in ipairs(stats._resample(n, 7, round)) do
        local c = labels[i]
        total[c] = total[c] + 1
        local d = (right[i] and 1 or 0) - (ablated[i] and 1 or 0)
        lost[c] = lost[c] + d
        all = all + d
      end
      drops[#drops + 1] = all / n
      for c = 1, k do if total[c] > 0 then table.insert(cdrops[c], lost[c] / total[c]) end end
    end
    T.close(r.ci.overall_drop:get(row, 1), stats._percentile(drops, 5), "unit " .. u .. " overall drop low", 0, 1e-6)
    T.close(r.ci.overall_drop:get(row, 2), stats._percentile(drops, 95), "unit " .. u .. " overall drop high", 0, 1e-6)
    for c = 1, k do
      if #cdrops[c] > 0 then
        T.close(r.ci.class_drop:get(row, c, 1), stats._percentile(cdrops[c], 5), "unit " .. u .. " class " .. c .. " low", 0, 1e-6)
        T.close(r.ci.class_drop:get(row, c, 2), stats._percentile(cdrops[c], 95), "unit " .. u .. " class " .. c .. " high", 0, 1e-6)
      end
    end
  end
  -- The same sweep in one chunk gives the same intervals; the plain sweep's numbers are unchanged.
  local whole = ablation.sweep(m, small, "relu2", {units = {1, 3, 5, 8}, ci = 0.9, bootstrap = 60, seed = 7})
  T.close(whole.ci.class_drop, r.ci.class_drop, "intervals from one chunk and from two", 0, 0)
  T.close(whole.accuracy, ablation.sweep(m, small, "relu2", {units = {1, 3, 5, 8}}).accuracy, "accuracy with and without ci", 0, 0)
  local path = os.tmpname() .. ".csv"
  r:save(path)
  local f = io.open(path); local header = f:read("l"); f:close(); os.remove(path)
  T.eq(header:find("overall_drop_lo,overall_drop_hi,circle_lo,circle_hi", 1, true) ~= nil, true, "csv has the intervals")
  T.raises(function() ablation.sweep(m, small, "relu2", {ci = 2}) end, "option 'ci' must be between 0 and 1")
  T.raises(function() ablation.sweep(m, small, "relu2", {bootstrap = 1}) end, "option 'bootstrap' must be an integer from 2")
end

-- The null baseline: sweeps in rotated bases, each equal to a sweep of the rotated model.
do
  local nl = ablation.null(m, ds, "relu2", {n = 3, seed = 4})
  T.shape(nl.overall_drop, {3, 8}); T.shape(nl.mean_max_class_drop, {3})
  T.eq(nl.seeds[2], 5, "seeds follow the first")
  local direct = ablation.sweep(ablation.rotate(m, "relu2", {seed = 5}), ds, "relu2_rot")
  T.close(nl.max_class_drop:select(1, 2), direct.max_class_drop, "null run 2 is the sweep of rotation 5", 0, 0)
  T.close(nl.mean_overall_drop:get(1), nl.overall_drop:select(1, 1):mean(), "mean over units")
  T.raises(function() ablation.null(m, ds, "relu2", {n = 0}) end, "option 'n' must be an integer from 1 to 1000")
  T.raises(function() ablation.null(m, ds, "nope") end, "bad argument #3 to 'null' (no layer named 'nope'")
end

-- Curves in random orders (mean and band over seeds) and by a measure ranked on another split.
do
  local rc = ablation.curve(m, ds, "relu2", "random", {seeds = 3, steps = {0, 4, 8}})
  T.shape(rc.runs, {3, 3}); T.shape(rc.band, {3, 2})
  T.eq(#rc.orders[1], 8, "a random order holds every unit")
  local one = ablation.curve(m, ds, "relu2", rc.orders[2], {steps = {0, 4, 8}})
  T.close(rc.runs:select(1, 2), one.accuracy, "run 2 is the curve of its order", 0, 0)
  T.close(rc.accuracy, rc.runs:mean(1), "the mean of the runs")
  T.eq(rc.band:get(2, 1) <= rc.accuracy[2] and rc.accuracy[2] <= rc.band:get(2, 2), true, "the mean lies in the band")
  T.close(rc.runs:get(1, 3), rc.runs:get(2, 3), "all units ablated: the same accuracy in every order", 0, 1e-6)
  local a, b = ds:split(0.5, {seed = 1})
  local ranked = ablation.curve(m, b, "relu2", "max_class_drop", {rank_on = a, steps = {0, 2}})
  local order = ablation.sweep(m, a, "relu2"):top(8, "max_class_drop")
  T.eq(ranked.order[1], order[1].unit, "ranked on the other split")
  T.eq(ranked.ranked_on, a.name, "ranked_on names the split")
  T.raises(function() ablation.curve(m, ds, "relu2", "biggest") end, "an order is a list of units, \"random\", or a sweep's key")
  T.raises(function() ablation.curve(m, ds, "relu2", {1, 2}, {rank_on = a}) end, "option 'rank_on' goes with an order named")
end
