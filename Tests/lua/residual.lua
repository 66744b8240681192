-- Residual models from Lua: nn.Residual, nested sequences and their dotted names, and every
-- model call at points inside and at the ends of blocks.
local T = require "helper"

local function block(cin, cout, stride)
  local shortcut
  if stride ~= 1 or cin ~= cout then
    shortcut = nn.Sequential{nn.Conv2d(cin, cout, 1, {stride = stride, bias = false}), nn.BatchNorm2d(cout)}
  end
  return nn.Residual{
    body = nn.Sequential{nn.Conv2d(cin, cout, 3, {stride = stride, padding = 1, bias = false}), nn.BatchNorm2d(cout), nn.ReLU(),
                         nn.Conv2d(cout, cout, 3, {padding = 1, bias = false}), nn.BatchNorm2d(cout)},
    shortcut = shortcut}
end

local function small()
  return nn.Sequential{
    nn.Conv2d(1, 8, 3, {padding = 1, name = "conv1"}), nn.ReLU({name = "relu"}),
    nn.Sequential{block(8, 8, 1), block(8, 12, 2), name = "layer1"},
    nn.AdaptiveAvgPool2d(1, {name = "avgpool"}), nn.Flatten({name = "flatten"}), nn.Linear(12, 10, {name = "fc"}),
    seed = 3, input = {1, 16, 16}}
end

local m = small()
T.eq(table.concat(m:layers(), ","), table.concat({"conv1", "relu",
  "layer1.0.conv1", "layer1.0.bn1", "layer1.0.relu1", "layer1.0.conv2", "layer1.0.bn2", "layer1.0.add", "layer1.0",
  "layer1.1.conv1", "layer1.1.bn1", "layer1.1.relu1", "layer1.1.conv2", "layer1.1.bn2",
  "layer1.1.downsample.0", "layer1.1.downsample.1", "layer1.1.add", "layer1.1",
  "avgpool", "flatten", "fc"}, ","), "dotted names in execution order")
T.eq(m:layer("layer1.1.downsample.0").kind, "Conv2d", "a shortcut's layer")
T.eq(m:layer("layer1.1.add").kind, "Add", "the sum is a point")
T.shape(m:layer("layer1.1.downsample.1").running_mean, {12})
T.eq(tostring(m):find("layer1.1.downsample.0", 1, true) ~= nil, true, "tostring lists nested names")

-- nested sequences name their children by position; a model nested once belongs to its parent
local inner = nn.Sequential{nn.Linear(4, 4), nn.ReLU(), name = "head"}
local outer = nn.Sequential{nn.Flatten(), inner, seed = 1}
T.eq(table.concat(outer:layers(), ","), "flatten1,head.0,head.1", "positions inside a nested sequence")
T.raises(function() return inner:layers() end, "this model is now part of model", "a nested model is not used alone")
T.raises(function() return nn.Sequential{inner} end, "already belongs to model", "nested twice")

-- training, evaluation, activations, save/load and clone
local train = data.shapes{n = 256, size = 16, seed = 1}
local test = data.shapes{n = 128, size = 16, seed = 2}
local h = m:fit(train, {epochs = 2, batch = 32, lr = 0.05, momentum = 0.9, seed = 1, progress = false})
T.eq(h.loss[2] < h.loss[1], true, "the residual model learns")
local e = m:evaluate(test)
T.shape(m:activations(test:subset(4), "layer1.0"), {4, 8, 16, 16})
T.shape(m:activations(test:subset(4), "layer1.1.downsample.1"), {4, 12, 8, 8})
local path = os.tmpname() .. ".safetensors"
m:save(path)
local m2 = small()
m2:load(path)
T.close(m2:evaluate(test).accuracy, e.accuracy, "save and load keep the function")
T.close(m:clone():forward(test:subset(3):tensors()), m:forward(test:subset(3):tensors()), "clone")
os.remove(path)

-- a block's output with all of its units ablated is the ReLU of nothing: all zeros
local all = {}
for u = 1, 8 do all[u] = u end
local x = test:subset(2):tensors()
-- ablation at every kind of point equals one evaluation per unit
for _, point in ipairs{"relu", "layer1.0.relu1", "layer1.0.bn2", "layer1.0", "layer1.1.downsample.1", "layer1.1"} do
  local r = ablation.sweep(m, test, point, {units = {1, 3}})
  for i, u in ipairs(r.units) do
    local one = ablation.evaluate(m, test, {[point] = {u}})
    T.close(r.accuracy[i], one.accuracy, point .. " unit " .. u)
  end
end
-- rotating a block's output keeps the function
local rot = ablation.rotate(m, "layer1.0", {seed = 4})
T.close(rot:forward(x), m:forward(x), "rotation keeps the logits", 1e-4, 1e-5)
T.eq(rot:layer("layer1.0_rot").kind, "Conv2d", "the rotated units")
-- attributes at a block output: l1_in adds the branches (an identity shortcut counts 1)
local a = units.attributes(m, test, "layer1.0", {names = {"l1_in", "l1_out", "selectivity"}})
T.shape(a.l1_in, {8})
local w = m:layer("layer1.0.conv2").weight
T.close(a.l1_in:get(1), w:select(1, 1):abs():sum() + 1, "l1_in of a block with an identity shortcut")
local b = units.attributes(m, test, "layer1.1", {names = {"l1_in"}})
local body, short = m:layer("layer1.1.conv2").weight, m:layer("layer1.1.downsample.0").weight
T.close(b.l1_in:get(2), body:select(1, 2):abs():sum() + short:select(1, 2):abs():sum(), "l1_in of a block with a projection")

-- misuse
T.raises(function() return nn.Residual{} end, "field 'body' is missing", "no body")
T.raises(function() return nn.Residual{body = nn.ReLU()} end, "field 'body' should be a model", "body not a model")
T.raises(function() return nn.Residual{body = nn.Sequential{nn.ReLU()}, extra = 1} end, "unknown field 'extra'", "unknown field")
T.raises(function() return nn.Residual{nn.ReLU()} end, "a block takes named fields", "layers without body =")
-- a block used as another block's shortcut belongs to it
local inner_block = nn.Residual{body = nn.Sequential{nn.ReLU()}}
nn.Residual{body = nn.Sequential{nn.ReLU()}, shortcut = inner_block}
T.raises(function() return nn.Sequential{inner_block} end, "already belongs to model", "a shortcut block reused")
T.raises(function()
  return nn.Sequential{nn.Residual{body = nn.Sequential{nn.Conv2d(2, 4, 3, {padding = 1})}}, input = {2, 8, 8}}
end, "the branches' outputs differ", "branches of different shapes")
T.raises(function() return nn.MaxPool2d(3, {padding = 2}) end, "between 0 and half the window", "padding too large")
T.raises(function() return nn.AdaptiveAvgPool2d(0) end, "output size must be a positive integer", "adaptive size")
local rb = nn.Residual{body = nn.Sequential{nn.ReLU()}}
nn.Sequential{rb}
T.raises(function() return nn.Sequential{rb} end, "already belongs to model", "a block in two models")

-- grouped convolutions (MobileNet- and ResNeXt-style)
local gm = nn.Sequential{nn.Conv2d(4, 8, 3, {padding = 1, groups = 2}), seed = 1}
T.shape(gm:layer("conv1").weight, {8, 2, 3, 3})
T.eq(gm:layer("conv1").groups, 2, "groups setting")
T.eq(gm:layer("conv1").description, "Conv2d(4, 8, 3, stride=1, padding=1, groups=2)", "description")
T.raises(function() return nn.Conv2d(4, 6, 3, {groups = 4}) end, "option 'groups' must divide both channel counts", "groups")

-- a residual model inside a cached value comes back with its wiring, settings and weights
local stored = cache("a residual model", function() return m end)
local again = cache("a residual model", function() error("computed twice") end)
local xs = test:subset(3):tensors()
T.close(again:forward(xs), m:forward(xs), "a residual model through the cache")
T.eq(table.concat(again:layers(), ","), table.concat(m:layers(), ","), "names through the cache")
T.eq(stored:layer("layer1.1.downsample.0").stride, 2, "settings through the cache")
