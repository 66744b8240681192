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

-- Concept data and Network Dissection.
local cs = data.concepts{n = 60, size = 16, seed = 2}
T.eq(#cs.concepts, 16, "concepts: 5 shapes, 6 colours, 5 textures")
T.eq(cs.concepts[1], "circle", "the first concept")
T.eq(cs.num_classes, 5, "classes are the shapes")
local mk = cs:masks(3)
T.shape(mk, {16, 16, 16}, "masks")
T.eq(mk:sum(), 2 * 16 * 16, "every pixel has a shape or texture, and a colour")
T.eq(cs:subset({3}):masks(1):sum(), mk:sum(), "a subset keeps its samples' masks")
T.eq(data.shapes{n = 3}.concepts, nil, "a set without concepts")
local det = nn.Sequential{nn.Conv2d(3, 4, 1), nn.ReLU(), input = {3, 16, 16}, seed = 3}
local d = units.dissect(det, cs, "relu1", {quantile = 0.1})
T.shape(d.iou, {4, 16}, "iou")
T.eq(#d.best_concept, 4, "a best concept per unit")
for u = 1, 4 do
  T.close(d.best_iou[u], d.iou[u]:max(), "best IoU")
  T.eq(d.best_concept[u], d.concepts[d.best[u]], "best concept's name")
end
local n = 0
for u = 1, 4 do if d.best_iou[u] > 0.04 then n = n + 1 end end
T.eq(d.detectors, n, "detectors above 0.04")
T.eq(units.dissect(det, cs, "relu1", {quantile = 0.1, iou = 1}).detectors, 0, "no unit passes IoU 1")
-- Past `heap` values per unit the thresholds are bracketed: every IoU within the reported bound.
T.eq(d.iou_error, 0, "an exact dissection")
local db = units.dissect(det, cs, "relu1", {quantile = 0.1, heap = 64})
T.eq(db.iou_error > 0 and db.iou_error < 0.05, true, "a bounded dissection reports its bound: " .. db.iou_error)
T.eq((db.iou - d.iou):abs():max() <= db.iou_error + 1e-6, true, "and keeps to it")
T.raises(function() units.dissect(det, cs, "relu1", {heap = 0}) end, "option 'heap' must be from 1 to 2^30 values, got 0")
T.raises(function() units.dissect(det, data.shapes{n = 5, size = 16}, "relu1") end, "has no concept labels")
T.raises(function() units.dissect(det, cs, "relu1", {quantile = 1}) end, "option 'quantile' must be in [0, 1)")
T.raises(function() units.dissect(det, cs, "relu1", {iou = "x"}) end, "option 'iou' must be a number")
T.raises(function() units.dissect(det, cs, "relu1", {q = 1}) end, "unknown option 'q'")
T.raises(function() data.shapes{n = 3}:masks(1) end, "has no concept labels")
T.raises(function() cs:masks(61) end, "sample 61 is out of range (1 to 60)")
T.raises(function() data.concepts{n = 0} end, "option 'n' must be in 1..1000000")
local flat = nn.Sequential{nn.Conv2d(3, 2, 1), nn.Flatten(), input = {3, 16, 16}}
T.raises(function() units.dissect(flat, cs, "flatten1") end, "has no spatial extent")
local big = nn.Sequential{nn.Conv2d(3, 4, 1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 16 * 16, 1000), input = {3, 16, 16}}
T.eq(units.dissect(big, cs, "relu1").iou:size(1), 4, "a model of 1000 classes on concept data")
T.eq(units.top_images(big, cs, "relu1", {k = 2}).indices:size(1), 4, "top images of a model of other classes")

-- Unit cards.
local sw = ablation.sweep(m, ds, "relu1")
local at = units.attributes(m, ds, "relu1", {names = {"mean", "selectivity"}})
local cards = report.units(m, ds, "relu1", {sweep = sw, attributes = at, k = 3})
local _, ncards = cards:gsub('<div class="card" id=', "")
T.eq(ncards, 4, "a card per unit")
T.eq(select(2, cards:gsub("data:image/png;base64,", "")), 4, "a picture per card")
T.eq(cards:find('href="#units-relu1-3"', 1, true) ~= nil, true, "the table links to the cards")
T.eq(cards:find("max class drop", 1, true) ~= nil and cards:find("selectivity", 1, true) ~= nil, true, "columns")
-- A dissection's fields (concept data has 3 channels, this model reads 1).
local fake = {iou = tensor.from{{0.1, 0.3}, {0.2, 0}, {0, 0}, {0.5, 0.05}}, concepts = {"sky", "grass"}, thresholds = tensor.from{0.1, 0.2, 0.3, 0.4}}
local two = report.units(m, ds, "relu1", {units = {2, 4}, dissection = fake, k = 2})
T.eq(select(2, two:gsub('<div class="card" id=', "")), 2, "the units asked for")
T.eq(two:find("sky <span>0.5</span> · grass <span>0.05</span>", 1, true) ~= nil, true, "unit 4's concepts, best first")
T.raises(function() report.units(m, ds, "relu1", {k = 0}) end, "option 'k' must be a positive integer")
T.raises(function() report.units(m, ds, "relu1", {sweep = {}}) end, "option 'sweep' must be the result of ablation.sweep")
T.raises(function() report.units(m, ds, "relu1", {colour = 1}) end, "unknown option 'colour'")
T.raises(function() report.units(m, ds, "relu1", {units = {9}}) end, "unit 9 is out of range")

-- concept_iou: the best IoU of units.dissect, among the defaults only for a set with concepts.
local cls = nn.Sequential{nn.Conv2d(3, 4, 1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 256, 5), input = {3, 16, 16}, seed = 3}
local a3 = units.attributes(cls, cs, "relu1", {quantile = 0.1})
T.close(a3.concept_iou, units.dissect(cls, cs, "relu1", {quantile = 0.1}).best_iou, "concept_iou")
T.eq(units.attributes(m, ds, "relu1").concept_iou, nil, "no concept_iou without concepts")
T.raises(function() units.attributes(m, ds, "relu1", {names = {"concept_iou"}}) end, "has no concept labels")
T.raises(function() units.register("concept_iou", function() end) end, "is built in")
