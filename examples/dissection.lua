-- %% [markdown]
-- # What do the units of a CNN detect? Network Dissection, and what it says about ablation
--
-- Network Dissection (Bau, Zhou, Khosla, Oliva, Torralba 2017) scores every unit against
-- concepts labelled pixel by pixel: a unit "detects" a concept when the region where it fires
-- most overlaps the concept's pixels (IoU). This notebook trains a small CNN on generated
-- concept images (`data.concepts`: coloured shapes on coloured, textured backgrounds; the CNN
-- learns the shapes), dissects every layer, counts detectors per layer and compares them with
-- a random rotation of the layer's basis, and relates a unit's best IoU to the damage its
-- ablation does. (On this data, seed 1: detectors grow from colours in relu1 to shapes in relu3;
-- rotation leaves fewer detectors in relu3, 40 of 64 against 55, as Bau et al. found for deep
-- layers, but not in relu1, whose few colour filters mix into other colour filters.)
--
-- Run it with `scripts/run examples/dissection.lua` (about half a minute on 2 cores the first
-- time; cached afterwards). `--set quantile=0.01 --set cut=0.1` changes what counts as a detector.

-- %% Setup
local p = params{seed = 1, n = 4000, size = 32, epochs = 6, quantile = 0.05, cut = 0.06}
local train = data.concepts{n = p.n, size = p.size, seed = p.seed}
local test = data.concepts{n = 1000, size = p.size, seed = p.seed + 1000}
print(train)
print("concepts: " .. table.concat(train.concepts, ", "))
local idx = {}
for i = 1, 10 do idx[i] = i end
local titles = {}
for i = 1, 10 do titles[i] = train.classes[select(2, train:get(i))] end
plot.images{images = train, indices = idx, titles = titles, title = "Concept images and their classes (the shape)"}

-- %% Train
local model = nn.Sequential{
  nn.Conv2d(3, 16, 3, {padding = 1}), nn.ReLU(), nn.MaxPool2d(2),
  nn.Conv2d(16, 32, 3, {padding = 1}), nn.ReLU(), nn.MaxPool2d(2),
  nn.Conv2d(32, 64, 3, {padding = 1}), nn.ReLU(), nn.MaxPool2d(2),
  nn.Flatten(), nn.Linear(64 * (p.size // 8) ^ 2 // 1, 5),
  input = {3, p.size, p.size}, seed = p.seed}
model:fit(train, {epochs = p.epochs, batch = 32, lr = 0.02, momentum = 0.9, seed = p.seed})
local base = model:evaluate(test)
print(string.format("test accuracy %.1f%%", 100 * base.accuracy))
report.value("test_accuracy", base.accuracy)

-- %% [markdown]
-- ## Detectors per layer
-- A unit's threshold is the top `quantile` of its values over the test set; its mask is where
-- its upsampled map passes it; a detector is a unit whose best IoU passes `cut`. The concepts
-- here are large regions, so the quantile is larger than Broden's 0.005.

-- %% Dissect every layer
local layers = {"relu1", "relu2", "relu3"}
local dissections, rows = {}, {}
local names, counts, rotated = {}, {}, {}
for i, l in ipairs(layers) do
  local d = units.dissect(model, test, l, {quantile = p.quantile, iou = p.cut})
  local r = units.dissect(ablation.rotate(model, l, {seed = p.seed}), test, l .. "_rot", {quantile = p.quantile, iou = p.cut})
  dissections[l] = d
  local by = {}
  for u = 1, #d.best_category do
    if d.best_iou[u] > p.cut then by[d.best_category[u]] = (by[d.best_category[u]] or 0) + 1 end
  end
  rows[i] = {layer = l, units = d.iou:size(1), detectors = d.detectors, rotated = r.detectors,
             shape = by.shape or 0, color = by.color or 0, texture = by.texture or 0,
             mean_best_iou = d.best_iou:mean(), rotated_mean_best_iou = r.best_iou:mean()}
  names[i], counts[i], rotated[i] = l, d.detectors / d.iou:size(1), r.detectors / d.iou:size(1)
  report.value("detectors_" .. l, d.detectors)
  report.value("detectors_rotated_" .. l, r.detectors)
end
report.table(rows, {columns = {"layer", "units", "detectors", "rotated", "shape", "color", "texture", "mean_best_iou", "rotated_mean_best_iou"},
                    caption = "Detectors per layer (units whose best IoU passes the cut), by the category of their best concept, and in a random rotation of the layer's basis"})
plot.line{x = {1, 2, 3}, y = {trained = counts, rotated = rotated}, title = "Share of units that are detectors",
          xlabel = "layer (relu1, relu2, relu3)", ylabel = "detectors / units"}

-- %% [markdown]
-- ## Does a detector matter more when ablated?
-- The damage of ablating each unit of the last layer (a sweep), against its best IoU
-- (`concept_iou`, among the attributes of a set with concept labels).

-- %% Concept IoU and damage
local l = "relu3"
local r = ablation.sweep(model, test, l)
local a = units.attributes(model, test, l, {quantile = p.quantile})
plot.scatter{x = a.concept_iou, y = r.max_class_drop, trend = true, title = "Best concept IoU vs max class drop (" .. l .. ")",
             xlabel = "best IoU", ylabel = "max class drop"}
local rho, pv = stats.spearman(a.concept_iou, r.max_class_drop)
local rho2, pv2 = stats.spearman(a.concept_iou, r.overall_drop)
report.table({{against = "max class drop", rho = rho, p = pv}, {against = "overall drop", rho = rho2, p = pv2}},
             {columns = {"against", "rho", "p"}, caption = "Spearman correlation of concept_iou with the damage of ablating the unit"})
report.value("spearman_concept_iou_max_class_drop", rho)

-- %% Cards of the strongest detectors
local order = {}
for u = 1, a.concept_iou:size(1) do order[u] = u end
table.sort(order, function(x, y) return a.concept_iou[x] > a.concept_iou[y] end)
local best = {}
for i = 1, 6 do best[i] = order[i] end
report.units(model, test, l, {units = best, sweep = r, dissection = dissections[l], attributes = {concept_iou = a.concept_iou, selectivity = a.selectivity}, k = 8})
