-- %% [markdown]
-- # Experiment 3: units in a randomly rotated basis of the layer
--
-- If a unit's damage came from the layer's function alone, any basis of the layer would do as
-- well. The paper rotated a layer's basis at random (the network computes the same function) and
-- found the single units of the rotated basis less class-specific. This notebook sweeps the
-- layer's own units and the units of several random rotations (`ablation.null`), and compares
-- the largest class drops and their correlation with class selectivity, with intervals.
-- Switches as in experiment 1, plus `rotations=` (how many random bases).

-- %% Setup
local p = params{train_n = 60000, test_n = 10000, model = "fashionnet", layer = "", epochs = 1, seed = 1, rotations = 5, rounds = 1000}
local common = dofile((arg[0]:match("^(.*)/") or ".") .. "/common.lua")
local train, test = common.data(p)
local layer = common.layer(p)
local model = common.model(p, train)
print(string.format("%s, seed %d, %s: test accuracy %.2f%%", p.model, p.seed, layer, 100 * model:evaluate(test).accuracy))

-- %% The layer's own units and rotated ones
local own = ablation.sweep(model, test, layer)
local null = ablation.null(model, test, layer, {n = p.rotations, seed = p.seed})
local rank_set = common.rank_set(train)

-- %% Compare
local rows = {}
local function row(name, r, attrs)
  local c = common.correlate(attrs.selectivity:totable(), r.max_class_drop:totable(), p.rounds, p.seed)
  local d = stats.describe(r.max_class_drop)
  local b = stats.bootstrap(function(s) return stats.describe(s).mean end, r.max_class_drop:totable(), {n = p.rounds, seed = p.seed})
  return {basis = name, mean_max_class_drop = d.mean, lo = b.lo, hi = b.hi, largest = d.max,
          mean_overall_drop = r.overall_drop:mean(), rho_selectivity = c.rho, rho_lo = c.lo, rho_hi = c.hi}
end
rows[1] = row("own units", own, units.attributes(model, rank_set, layer))
for i, r in ipairs(null.runs) do
  local rotated = ablation.rotate(model, layer, {seed = null.seeds[i]})
  rows[#rows + 1] = row("rotation " .. null.seeds[i], r, units.attributes(rotated, rank_set, layer .. "_rot"))
end
report.table(rows, {columns = {"basis", "mean_max_class_drop", "lo", "hi", "largest", "mean_overall_drop", "rho_selectivity", "rho_lo", "rho_hi"},
                    caption = "Largest class drop per unit (mean over units, 95% bootstrap interval over units), and Spearman's rho of selectivity with it, in the layer's own basis and in random rotations"})
local rotated_means = null.mean_max_class_drop
report.value("own_mean_max_class_drop", rows[1].mean_max_class_drop)
report.value("own_mean_max_class_drop_ci", {rows[1].lo, rows[1].hi})
report.value("rotated_mean_max_class_drop", {rotated_means:mean(), (rotated_means:min()), (rotated_means:max())})
local above = 0
for i = 1, #null.runs do if rows[1].mean_max_class_drop > rotated_means[i] then above = above + 1 end end
report.value("rotations_below_own", above)
print(string.format("own basis: mean largest class drop %.4f [%.4f, %.4f]; rotations: %.4f (%.4f to %.4f); own above %d of %d rotations",
  rows[1].mean_max_class_drop, rows[1].lo, rows[1].hi, rotated_means:mean(), rotated_means:min(), rotated_means:max(), above, #null.runs))

-- %% Distribution
plot.hist{values = own.max_class_drop, bins = 20, title = "Largest class drop per unit: the layer's own basis", xlabel = "largest class drop"}
plot.hist{values = null.max_class_drop:reshape({-1}), bins = 20, title = "Largest class drop per unit: random rotations (all)", xlabel = "largest class drop"}
