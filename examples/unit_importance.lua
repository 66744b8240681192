-- %% [markdown]
-- # Which units matter, to which classes, and what about a unit predicts it?
-- Zhou, Sun, Bau, Torralba (2018), on Fashion-MNIST. Run: `scripts/run examples/unit_importance.lua`;
-- `--set weights=path.safetensors` sweeps saved weights instead of training (training is cached).

-- %% Model

local p = params{weights = "", layer = "relu4"}
local weights = p.weights ~= "" and p.weights or nil

local train, test = data.fashion_mnist()
local model = models.fashionnet{seed = 1}
if weights then
  model:load(weights)
else
  model:fit(train, {epochs = 2, batch = 64, lr = 0.01, momentum = 0.9, weight_decay = 5e-4, seed = 1})
  model:save(report.path("fashionnet.safetensors"))
end

-- %% Sweep

local t0 = lesion.clock()
local r = ablation.sweep(model, test, p.layer)
print(string.format("\nswept %d units of " .. p.layer .. " on %d test images in %.1f s", #r.units, #test, lesion.clock() - t0))
print(string.format("overall accuracy %.2f%%", 100 * r.base.accuracy))
print(string.format("worst overall drop from one unit: %.2f points", 100 * r.overall_drop:max()))
local worstClass, where = r.class_drop:max(2)
local w, u = worstClass:max(1)
u = u[1]
print(string.format("worst class drop from one unit: %.2f points (unit %d, class %s)",
  100 * w[1], r.units[u], test.classes[where[u]]))

-- %% Attributes and the top units
local attrs = units.attributes(model, test, p.layer)
print("\ntop 10 units by largest class drop:")
print("  unit  max class drop  overall drop  selectivity")
for _, row in ipairs(r:top(10, "max_class_drop")) do
  print(string.format("  %4d  %13.2f  %12.2f  %11.3f", row.unit, 100 * row.max_class_drop,
    100 * row.overall_drop, attrs.selectivity[row.unit]))
end

-- %% Correlations
print("\nSpearman correlation of each attribute with the damage of ablating the unit:")
print("  attribute           overall drop (rho, p)    max class drop (rho, p)")
for _, name in ipairs(units.names()) do
  local a = attrs[name]
  local ok1, r1, p1 = pcall(stats.spearman, a, r.overall_drop)
  local ok2, r2, p2 = pcall(stats.spearman, a, r.max_class_drop)
  if ok1 and ok2 then
    print(string.format("  %-18s  %+.3f  (p %.2g)        %+.3f  (p %.2g)", name, r1, p1, r2, p2))
  end
end

-- %% [markdown]
-- ## Ablating many units together
-- Units removed in order of the damage they do alone to their worst class, to overall
-- accuracy, and in a random order (seeded): accuracy as more of them go. All steps of a curve
-- take one pass over the test set.

-- %% Curves
local function order_by(key)
  local out = {}
  for i, row in ipairs(r:top(#r.units, key)) do out[i] = row.unit end
  return out
end
local random = {}
for i = 1, #r.units do random[i] = r.units[i] end
math.randomseed(1)
for i = #random, 2, -1 do local j = math.random(i); random[i], random[j] = random[j], random[i] end
local t1 = lesion.clock()
local curves = {}
for name, order in pairs{["by max class drop"] = order_by("max_class_drop"), ["by overall drop"] = order_by("overall_drop"),
                         random = random} do
  curves[name] = ablation.curve(model, test, p.layer, order)
end
print(string.format("\nthree curves of %d steps in %.1f s", #curves.random.steps, lesion.clock() - t1))
local series = {}
for name, c in pairs(curves) do series[name] = c.accuracy:totable() end
plot.line{x = curves.random.steps, y = series, title = "Accuracy as units of " .. p.layer .. " are ablated together",
          xlabel = "units ablated", ylabel = "test accuracy"}

-- %% Results file
local csv = report.path(p.layer .. "_sweep.csv")
r:save(csv)
print("\nper-unit results written to " .. csv)
