-- %% [markdown]
-- # Experiment 5: dropout
--
-- The paper trained with several dropout rates: dropout spreads what a network knows over more
-- units, and single units should then matter less. This notebook trains the model at several
-- rates and seeds, sweeps the layer, and compares the drops and the correlations of selectivity
-- with the damage, against the spread between seeds. Dropout acts before the last layer of
-- FashionNet (and of the ResNet, before `fc`). Switches as in experiment 1, plus `rates=` (a
-- comma-separated list) and `seeds=`.

-- %% Setup
local p = params{train_n = 60000, test_n = 10000, model = "fashionnet", layer = "", epochs = 1, seeds = 2, rates = "0,0.25,0.5", rounds = 1000}
local common = dofile((arg[0]:match("^(.*)/") or ".") .. "/common.lua")
local train, test = common.data(p)
local rank_set = common.rank_set(train)
local rates = {}
for v in p.rates:gmatch("[^,]+") do rates[#rates + 1] = assert(tonumber(v), "--set rates= takes numbers separated by commas") end

-- %% Train and sweep
local rows = {}
for _, rate in ipairs(rates) do
  for seed = 1, p.seeds do
    local q = {model = p.model, layer = p.layer, epochs = p.epochs, seed = seed}
    local r, _, sel = common.measure(q, train, test, rank_set, {dropout = rate}, p.rounds)
    rows[#rows + 1] = {dropout = rate, seed = seed, accuracy = r.base.accuracy, mean_overall_drop = r.overall_drop:mean(),
                       mean_max_class_drop = r.max_class_drop:mean(), largest_class_drop = r.max_class_drop:max(),
                       rho_selectivity = sel.rho}
    print(string.format("dropout %.2f seed %d: accuracy %.2f%%, mean largest class drop %.4f", rate, seed, 100 * r.base.accuracy, r.max_class_drop:mean()))
  end
end
report.table(rows, {columns = {"dropout", "seed", "accuracy", "mean_overall_drop", "mean_max_class_drop", "largest_class_drop", "rho_selectivity"},
                    caption = "Per dropout rate and seed"})

-- %% Summary over seeds
local summary = {}
for _, rate in ipairs(rates) do
  local v = {accuracy = {}, mean_max_class_drop = {}, rho_selectivity = {}}
  for _, r in ipairs(rows) do if r.dropout == rate then for k, t in pairs(v) do t[#t + 1] = r[k] end end end
  local row = {dropout = rate, seeds = #v.accuracy}
  for k, t in pairs(v) do
    local d = stats.describe(t)
    row[k], row[k .. "_sd"] = d.mean, d.std
  end
  summary[#summary + 1] = row
  report.value(string.format("dropout_%g_mean_max_class_drop", rate), {row.mean_max_class_drop, row.mean_max_class_drop_sd})
  report.value(string.format("dropout_%g_accuracy", rate), {row.accuracy, row.accuracy_sd})
end
report.table(summary, {columns = {"dropout", "seeds", "accuracy", "accuracy_sd", "mean_max_class_drop", "mean_max_class_drop_sd", "rho_selectivity", "rho_selectivity_sd"},
                       caption = "Mean and standard deviation over seeds"})
plot.line{x = rates, y = (function() local t = {} for i, r in ipairs(summary) do t[i] = r.mean_max_class_drop end return t end)(),
          title = "Mean largest class drop per unit against the dropout rate", xlabel = "dropout", ylabel = "mean largest class drop"}
