-- %% [markdown]
-- # Experiment 4: batch normalisation
--
-- The paper compared networks trained with and without batch normalisation. This notebook
-- trains the model both ways with several seeds, sweeps the layer's units in each, and compares
-- the overall and largest class drops and the correlations of selectivity and L1 norm with the
-- damage. Differences between the two are read against the spread between seeds.
-- Switches as in experiment 1, plus `seeds=` (how many seeds).

-- %% Setup
local p = params{train_n = 60000, test_n = 10000, model = "fashionnet", layer = "", epochs = 1, seeds = 3, rounds = 1000}
local common = dofile((arg[0]:match("^(.*)/") or ".") .. "/common.lua")
local train, test = common.data(p)
local rank_set = common.rank_set(train)

-- %% Train and sweep
local rows = {}
for _, bn in ipairs({false, true}) do
  for seed = 1, p.seeds do
    local q = {model = p.model, layer = p.layer, epochs = p.epochs, seed = seed}
    local r, _, sel, l1 = common.measure(q, train, test, rank_set, {bn = bn}, p.rounds)
    rows[#rows + 1] = {bn = bn, seed = seed, accuracy = r.base.accuracy, mean_overall_drop = r.overall_drop:mean(),
                       max_overall_drop = r.overall_drop:max(), mean_max_class_drop = r.max_class_drop:mean(),
                       rho_selectivity = sel.rho, rho_l1_out = l1.rho}
    print(string.format("bn=%s seed %d: accuracy %.2f%%, mean largest class drop %.4f", tostring(bn), seed, 100 * r.base.accuracy, r.max_class_drop:mean()))
  end
end
report.table(rows, {columns = {"bn", "seed", "accuracy", "mean_overall_drop", "max_overall_drop", "mean_max_class_drop", "rho_selectivity", "rho_l1_out"},
                    caption = "With and without batch normalisation, per seed"})

-- %% Summary over seeds
local summary = {}
for _, bn in ipairs({false, true}) do
  local v = {accuracy = {}, mean_max_class_drop = {}, mean_overall_drop = {}, rho_selectivity = {}, rho_l1_out = {}}
  for _, r in ipairs(rows) do if r.bn == bn then for k, t in pairs(v) do t[#t + 1] = r[k] end end end
  local row = {bn = bn, seeds = #v.accuracy}
  for k, t in pairs(v) do
    local d = stats.describe(t)
    row[k], row[k .. "_sd"] = d.mean, d.std
  end
  summary[#summary + 1] = row
  report.value((bn and "bn" or "plain") .. "_mean_max_class_drop", {row.mean_max_class_drop, row.mean_max_class_drop_sd})
  report.value((bn and "bn" or "plain") .. "_rho_selectivity", {row.rho_selectivity, row.rho_selectivity_sd})
  report.value((bn and "bn" or "plain") .. "_accuracy", {row.accuracy, row.accuracy_sd})
end
report.table(summary, {columns = {"bn", "seeds", "accuracy", "accuracy_sd", "mean_overall_drop", "mean_overall_drop_sd", "mean_max_class_drop",
                                  "mean_max_class_drop_sd", "rho_selectivity", "rho_selectivity_sd", "rho_l1_out", "rho_l1_out_sd"},
                       caption = "Mean and standard deviation over seeds"})
