-- Seeing units from Lua: units.top_images, units.heatmap and plot.images, with the misuse each
-- must refuse clearly.
local T = require "helper"

local ds = data.shapes{n = 30, seed = 2}
local m = nn.Sequential{nn.Conv2d(1, 4, 3, {padding = 1}), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(4 * 14 * 14, 10), input = {1, 28, 28}, seed = 5}

-- Top images: the best sample of each unit is the one whose map has the largest value.
local t = units.top_images(m, ds, "relu1", {k = 4})
T.shape(t.indices, {4, 4}, "indices")
T.shape(t.values, {4, 4}, "values")
T.eq(t.k, 4, "k")
T.eq(t.by, "max", "by")
local x = ds:tensors()
local acts = m:activations(x, "relu1")                    -- {30, 4, 28, 28}
for u = 1, 4 do
  local best, at = -math.huge, 0
  for i = 1, 30 do
    local v = acts[i][u]:max()
    if v > best then best, at = v, i end
  end
  T.eq(t.indices[u][1], at, "unit " .. u .. "'s best sample")
  T.close(t.values[u][1], best, "unit " .. u .. "'s best score")
  for r = 2, 4 do T.eq(t.values[u][r] <= t.values[u][r - 1], true, "ranked") end
end
local some = units.top_images(m, ds, "relu1", {k = 2, units = {3, 1}, by = "mean"})
T.eq(some.units[1], 3, "units in the order asked")
T.close(some.values[2][1], acts[some.indices[2][1]][1]:mean(), "mean score", 1e-5, 1e-6)

-- Heatmaps: a map per image at the image's size; one image gives {H,W}.
local maps = units.heatmap(m, x:narrow(1, 1, 3), "pool1", 2)
T.shape(maps, {3, 28, 28}, "heatmaps")
T.shape(units.heatmap(m, x[1], "relu1", 1), {28, 28}, "one image")
T.close(units.heatmap(m, x:narrow(1, 1, 2), "relu1", 4), acts:narrow(1, 1, 2):select(2, 4), "same size: the map itself")

-- Pictures.
local svg = plot.images{images = ds, indices = t.indices[1], overlay = units.heatmap(m, ds:subset(t.indices[1]:totable()):tensors(), "relu1", 1),
                        threshold = 0.3, titles = {"1", "2", "3", "4"}, cols = 2, title = "unit 1"}
T.eq(svg:find("data:image/png;base64,", 1, true) ~= nil, true, "a PNG inside")
T.eq(type(plot.images{images = x:narrow(1, 1, 5)}), "string", "a tensor of images")

-- Misuse.
T.raises(function() units.top_images(m, ds, "relu1", {k = 31}) end, "option 'k' (31) is larger than the set (30 samples)")
T.raises(function() units.top_images(m, ds, "relu1", {k = 0}) end, "option 'k' must be at least 1")
T.raises(function() units.top_images(m, ds, "relu1", {by = "median"}) end, "option 'by' must be \"max\" or \"mean\"")
T.raises(function() units.top_images(m, ds, "relu1", {units = {5}}) end, "bad argument #4 to 'top_images' (unit 5 is out of range: the layer has 4 units)")
T.raises(function() units.top_images(m, ds, "nope") end, "nope")
T.raises(function() units.top_images(m, ds, "relu1", {kk = 1}) end, "unknown option 'kk'")
T.raises(function() units.heatmap(m, x:narrow(1, 1, 2), "fc1", 1) end, "layer 'fc1' has no spatial extent")
T.raises(function() units.heatmap(m, x:narrow(1, 1, 2), "relu1", 5) end, "unit 5 is out of range")
T.raises(function() units.heatmap(m, tensor.zeros{2, 3, 28, 28}, "relu1", 1) end, "expected images of {1,28,28}")
T.raises(function() plot.images{} end, "field 'images' is required")
T.raises(function() plot.images{images = "x"} end, "'images' must be a tensor or a data set")
T.raises(function() plot.images{images = ds, indices = {0}} end, "is not a sample of the set (1 to 30)")
T.raises(function() plot.images{images = x:narrow(1, 1, 2), titles = {"a"}} end, "one title per image (2)")
T.raises(function() plot.images{images = x:narrow(1, 1, 2), threshold = 1} end, "give 'overlay' too")
T.raises(function() plot.images{images = x:narrow(1, 1, 2), overlay = tensor.zeros{3, 28, 28}} end, "one map per image (2)")
T.raises(function() plot.images{images = tensor.zeros{2, 2, 8, 8}} end, "1 or 3 channels")
T.raises(function() plot.images{images = x:narrow(1, 1, 2), mean = {0, 0}} end, "'mean' needs 1 values")
