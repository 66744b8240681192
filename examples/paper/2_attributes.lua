-- %% [markdown]
-- # Experiment 2: which attributes of a unit predict the damage its ablation does?
--
-- The paper found that a unit's class selectivity and the L1 norm of its weights predict how much
-- its ablation hurts particular classes, but not the overall accuracy. This notebook correlates
-- every attribute with three measures of damage — the overall drop, the largest class drop,
-- and the drop of the unit's own most selective class — and gives each correlation a 95%
-- interval (bootstrap over units), a permutation p-value and a Benjamini–Hochberg q-value over
-- the whole table. It ends with a regression from all attributes together, scored by
-- cross-validated R².
--
-- Split discipline: the attributes are measured on 10,000 **training** images and the damage on
-- the **test** set, so that no image serves both. Switches as in experiment 1 (`--set model=`,
-- `layer=`, `seed=`, `epochs=`), plus `rounds=` (bootstrap and permutation rounds).

-- %% Setup
local p = params{train_n = 60000, test_n = 10000, model = "fashionnet", layer = "", epochs = 1, seed = 1, rounds = 2000, folds = 5}
local common = dofile((arg[0]:match("^(.*)/") or ".") .. "/common.lua")
local train, test = common.data(p)
local layer = common.layer(p)
local model = common.model(p, train)
print(string.format("%s, seed %d, %s: test accuracy %.2f%%", p.model, p.seed, layer, 100 * model:evaluate(test).accuracy))

-- %% Damage (test set) and attributes (training images)
local r = ablation.sweep(model, test, layer)
local rank_set = common.rank_set(train)
local attrs = units.attributes(model, rank_set, layer)
local U = #r.units
local own = {}
for u = 1, U do own[u] = r.class_drop:get(u, math.floor(attrs.top_class[u] + 0.5)) end
local damage = {overall_drop = r.overall_drop:totable(), max_class_drop = r.max_class_drop:totable(), own_class_drop = own}
local names = {}
for _, n in ipairs(units.names()) do if n ~= "top_class" and attrs[n] then names[#names + 1] = n end end

-- %% [markdown]
-- ## Each attribute against each measure of damage (Spearman)
-- `lo`/`hi`: a 95% percentile interval from resampling the units; `p`: permutation p-value
-- (`stats.permutation`); `q`: Benjamini–Hochberg over every row of the table.

-- %% Correlations
local rows, pvalues = {}, {}
for _, name in ipairs(names) do
  local x = attrs[name]:totable()
  for _, measure in ipairs({"overall_drop", "max_class_drop", "own_class_drop"}) do
    local c = common.correlate(x, damage[measure], p.rounds, p.seed)
    if c.rho == c.rho then
      rows[#rows + 1] = {attribute = name, damage = measure, rho = c.rho, lo = c.lo, hi = c.hi, p = c.p}
      pvalues[#pvalues + 1] = c.p
    end
  end
end
local q = stats.fdr(pvalues)
for i, row in ipairs(rows) do row.q = q[i] end
report.table(rows, {columns = {"attribute", "damage", "rho", "lo", "hi", "p", "q"},
                    caption = "Spearman correlation of each attribute with each measure of damage, its 95% bootstrap interval, permutation p and FDR q"})
for _, row in ipairs(rows) do
  if row.attribute == "selectivity" or row.attribute == "l1_out" then
    report.value("rho_" .. row.attribute .. "_" .. row.damage, {row.rho, row.lo, row.hi, row.q})
  end
end

-- %% Scatter: selectivity against damage
plot.scatter{x = attrs.selectivity, y = r.max_class_drop, trend = true, title = "Class selectivity vs largest class drop",
             xlabel = "class selectivity (training images)", ylabel = "largest class drop (test images)"}
plot.scatter{x = attrs.selectivity, y = r.overall_drop, trend = true, title = "Class selectivity vs overall drop",
             xlabel = "class selectivity (training images)", ylabel = "overall drop (test images)"}

-- %% [markdown]
-- ## All attributes together
-- An ordinary least-squares fit of each measure on the standardised attributes, scored by
-- k-fold cross-validated R² (units split into folds in a fixed random order): how much of the
-- damage the attributes explain for units the fit has not seen. R² near or below 0 means no
-- predictive power.

-- %% Regression
local function standardise(v)
  local d = stats.describe(v)
  local out = {}
  for i, x in ipairs(v) do out[i] = d.std > 0 and (x - d.mean) / d.std or 0 end
  return out
end
local X = {}
for _, name in ipairs(names) do X[#X + 1] = standardise(attrs[name]:totable()) end
-- Least squares by the normal equations with a tiny ridge (Gaussian elimination).
local function fit(rowsIdx, y)
  local m = #X + 1
  local A, b = {}, {}
  for i = 1, m do A[i] = {}; b[i] = 0; for j = 1, m do A[i][j] = 0 end end
  for _, u in ipairs(rowsIdx) do
    local f = {1}
    for j = 1, #X do f[j + 1] = X[j][u] end
    for i = 1, m do
      b[i] = b[i] + f[i] * y[u]
      for j = 1, m do A[i][j] = A[i][j] + f[i] * f[j] end
    end
  end
  for i = 2, m do A[i][i] = A[i][i] + 1e-6 end
  for c = 1, m do
    local piv = c
    for i = c + 1, m do if math.abs(A[i][c]) > math.abs(A[piv][c]) then piv = i end end
    A[c], A[piv], b[c], b[piv] = A[piv], A[c], b[piv], b[c]
    for i = c + 1, m do
      local f = A[i][c] / A[c][c]
      for j = c, m do A[i][j] = A[i][j] - f * A[c][j] end
      b[i] = b[i] - f * b[c]
    end
  end
  local w = {}
  for i = m, 1, -1 do
    local s = b[i]
    for j = i + 1, m do s = s - A[i][j] * w[j] end
    w[i] = s / A[i][i]
  end
  return function(u)
    local v = w[1]
    for j = 1, #X do v = v + w[j + 1] * X[j][u] end
    return v
  end
end
local order = stats._shuffle(U, p.seed)
local cv = {}
for _, measure in ipairs({"overall_drop", "max_class_drop", "own_class_drop"}) do
  local y = damage[measure]
  local sse, sst = 0, 0
  for f = 1, p.folds do
    local trainIdx, testIdx = {}, {}
    for i, u in ipairs(order) do
      if (i - 1) % p.folds == f - 1 then testIdx[#testIdx + 1] = u else trainIdx[#trainIdx + 1] = u end
    end
    local predict = fit(trainIdx, y)
    local mean = 0
    for _, u in ipairs(trainIdx) do mean = mean + y[u] end
    mean = mean / #trainIdx
    for _, u in ipairs(testIdx) do
      sse = sse + (y[u] - predict(u)) ^ 2
      sst = sst + (y[u] - mean) ^ 2
    end
  end
  cv[#cv + 1] = {damage = measure, cv_r2 = 1 - sse / sst, attributes = #names, units = U}
  report.value("cv_r2_" .. measure, 1 - sse / sst)
end
report.table(cv, {columns = {"damage", "cv_r2", "attributes", "units"},
                  caption = string.format("%d-fold cross-validated R² of a linear fit on all attributes", p.folds)})
