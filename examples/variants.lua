-- %% [markdown]
-- # Does the picture change with the network? Rotation, batch norm and dropout
--
-- The second half of Zhou, Sun, Bau and Torralba (2018): the same unit ablation, on variants of
-- the network. A random rotation of a layer's basis computes the same function with units that
-- are mixtures of the original ones; batch normalisation and dropout change how training spreads
-- information over units. Each run is one variant; `lesion sweep` runs them all and puts the
-- values recorded here side by side (`index.html` and `comparison.csv`):
--
--     lesion sweep examples/variants.lua --grid bn=false,true --grid dropout=0,0.5 --grid rotate=false,true
--
-- One variant alone: `lesion run examples/variants.lua --set bn=true`. Training (two epochs) is
-- cached per variant; rotating happens after training, so both rotate settings share it.

-- %% Train the variant
local p = params{bn = false, dropout = 0.5, rotate = false, epochs = 2, seed = 1, layer = "relu4"}

local train, test = data.fashion_mnist()
local model = models.fashionnet{bn = p.bn, dropout = p.dropout, seed = p.seed}
model:fit(train, {epochs = p.epochs, batch = 64, lr = 0.01, momentum = 0.9, weight_decay = 5e-4, seed = p.seed})
local layer = p.layer
if p.rotate then
  model = ablation.rotate(model, layer, {seed = p.seed})
  layer = layer .. "_rot"
end
local base = model:evaluate(test)
report.value("test_accuracy", base.accuracy)
print(string.format("bn %s, dropout %.2f, rotate %s: test accuracy %.2f%%; units of %s", tostring(p.bn), p.dropout,
  tostring(p.rotate), 100 * base.accuracy, layer))

-- %% [markdown]
-- ## One unit at a time
-- The study's findings to check on each variant: no single unit costs much overall accuracy,
-- some cost one class a lot; how concentrated the damage is.

-- %% Sweep
local r = ablation.sweep(model, test, layer)
local function share_above(t, threshold)
  local n = 0
  for _, v in ipairs(t:totable()) do if v > threshold then n = n + 1 end end
  return n / #r.units
end
local summary = {
  worst_overall_drop = r.overall_drop:max(),
  mean_overall_drop = r.overall_drop:mean(),
  worst_class_drop = r.max_class_drop:max(),
  mean_max_class_drop = r.max_class_drop:mean(),
  units_costing_a_class_2_points = share_above(r.max_class_drop, 0.02),
}
for k, v in pairs(summary) do report.value(k, v) end
report.table({
  {measure = "worst overall drop (points)", value = 100 * summary.worst_overall_drop},
  {measure = "mean overall drop (points)", value = 100 * summary.mean_overall_drop},
  {measure = "worst class drop (points)", value = 100 * summary.worst_class_drop},
  {measure = "mean of each unit's worst class drop (points)", value = 100 * summary.mean_max_class_drop},
  {measure = "share of units costing some class over 2 points", value = summary.units_costing_a_class_2_points},
  columns = {"measure", "value"},
}, {caption = "Damage of ablating one unit of " .. layer})
plot.hist{values = r.max_class_drop, bins = 20, title = "Worst class drop per unit (" .. layer .. ")",
          xlabel = "accuracy drop of the unit's worst class"}

-- %% [markdown]
-- ## What predicts the damage
-- Spearman correlation of unit attributes with the damage; the study found class selectivity and
-- weight norms tied to the class damage but not to the overall damage, and rotation weakening
-- the tie of selectivity.

-- %% Correlations
local attrs = units.attributes(model, test, layer)
local rows = {}
for _, name in ipairs{"selectivity", "l1_in", "l1_out", "sparsity"} do
  local ok1, rho1 = pcall(stats.spearman, attrs[name], r.overall_drop)
  local ok2, rho2 = pcall(stats.spearman, attrs[name], r.max_class_drop)
  rows[#rows + 1] = {attribute = name, overall_drop = ok1 and rho1 or 0 / 0, max_class_drop = ok2 and rho2 or 0 / 0}
  if ok2 then report.value("spearman_" .. name .. "_max_class_drop", rho2) end
end
rows.columns = {"attribute", "overall_drop", "max_class_drop"}
report.table(rows, {caption = "Spearman correlation with the damage of ablating the unit"})
plot.scatter{x = attrs.selectivity, y = r.max_class_drop, trend = true, title = "Selectivity and class damage (" .. layer .. ")",
             xlabel = "class selectivity", ylabel = "worst class drop"}
