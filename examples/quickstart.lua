-- %% [markdown]
-- # Lesion quickstart: which units of a CNN matter, and to which classes?
--
-- This notebook trains the reference CNN (FashionNet) on Fashion-MNIST, ablates every unit of
-- `relu4` (the 128 channels of conv4) one at a time, and asks what about a unit predicts the
-- damage its ablation does — the experiment of Zhou, Sun, Bau and Torralba (2018).
--
-- Run it with `scripts/run examples/quickstart.lua` (about 30 s on 2 cores the first time;
-- a few seconds after that, because training, evaluation, the sweep and the attributes are
-- cached). Parameters can be changed from the command line, each setting getting its own run
-- folder: `scripts/run examples/quickstart.lua --set epochs=2`.

-- %% Setup
local p = params{epochs = 1, seed = 1, layer = "relu4"}

local train, test = data.fashion_mnist()
print(train)
print(test)
print(string.format("Lesion %s on %d threads", lesion.version, lesion.threads()))

-- %% [markdown]
-- ## Train
-- SGD with momentum on the 60,000 training images. The result is cached by the model's
-- architecture and initial weights, the data and the options: re-running this notebook loads
-- the trained weights instead of training again.

-- %% Train
local model = models.fashionnet{seed = p.seed}
print(model)
local history = model:fit(train, {epochs = p.epochs, batch = 64, lr = 0.01, momentum = 0.9,
                                  weight_decay = 5e-4, seed = p.seed})
local base = model:evaluate(test)
report.value("test_accuracy", base.accuracy)
report.value("train_loss", history.loss[#history.loss])
print(string.format("test accuracy %.2f%% (loss %.4f) after %d epoch(s)", 100 * base.accuracy, base.loss, p.epochs))

-- %% Per-class accuracy
local rows = {}
for k, name in ipairs(test.classes) do
  rows[k] = {class = name, accuracy = base.per_class[k]}
end
report.table(rows, {columns = {"class", "accuracy"}, caption = "Test accuracy per class"})
plot.bar{x = test.classes, y = base.per_class, title = "Test accuracy per class", ylabel = "accuracy"}

-- %% [markdown]
-- ## Ablate every unit of the layer, one at a time
-- `ablation.sweep` sets one unit's activation to zero and measures the accuracy of every class,
-- for each unit. It computes the layer's activations once and carries only the ablated channel
-- forward, so all 128 units take about as long as one evaluation of the test set.

-- %% Sweep
local r = ablation.sweep(model, test, p.layer)
local worst_class, where = r.class_drop:max(2)
report.value("base_accuracy", r.base.accuracy)
report.value("worst_overall_drop", r.overall_drop:max())
report.value("worst_class_drop", worst_class:max())
print(string.format("%d units of %s: the worst unit costs %.2f points overall, but up to %.2f points of one class",
  #r.units, p.layer, 100 * r.overall_drop:max(), 100 * worst_class:max()))

-- %% Top units
local attrs = units.attributes(model, test, p.layer)
local top = {}
for i, row in ipairs(r:top(10, "max_class_drop")) do
  local u = row.unit
  top[i] = {unit = u, max_class_drop = row.max_class_drop, class = test.classes[where[u]],
            overall_drop = row.overall_drop, selectivity = attrs.selectivity[u], l1_out = attrs.l1_out[u]}
end
report.table(top, {columns = {"unit", "max_class_drop", "class", "overall_drop", "selectivity", "l1_out"},
                   caption = "The 10 units whose ablation hurts one class most"})

-- %% Class drop heatmap
-- The 32 units with the largest class drop, and the drop (in accuracy) of each class.
local order = {}
for i, row in ipairs(r:top(32, "max_class_drop")) do order[i] = row.unit end
local drops, names = {}, {}
for i, u in ipairs(order) do
  drops[i] = r.class_drop[u]:totable()
  names[i] = "unit " .. u
end
plot.heatmap{values = tensor.from(drops), rows = names, cols = test.classes,
             title = "Class accuracy drop when one unit is ablated", xlabel = "class", ylabel = "unit"}

-- %% [markdown]
-- ## What do the most damaging units respond to?
-- A card per unit: the nine test images that excite it most, with its activation map over each
-- (red to yellow where it fires), the accuracy each class loses without it, and its attributes.
-- The table above the cards sorts by any column.

-- %% Unit cards
local worst = {}
for i, row in ipairs(r:top(5, "max_class_drop")) do worst[i] = row.unit end
report.units(model, test, p.layer, {units = worst, sweep = r, attributes = attrs, k = 9})

-- %% [markdown]
-- ## What predicts a unit's importance?
-- The paper's finding: class selectivity and the L1 norm of a unit's outgoing weights predict
-- how much its ablation hurts the class it hurts most, but not the overall accuracy.

-- %% Correlations
plot.scatter{x = attrs.selectivity, y = r.max_class_drop, trend = true,
             title = "Selectivity vs max class drop", xlabel = "class selectivity", ylabel = "max class drop"}
local corr = {}
for _, name in ipairs(units.names()) do
  local ok1, r1, p1 = pcall(stats.spearman, attrs[name], r.overall_drop)
  local ok2, r2, p2 = pcall(stats.spearman, attrs[name], r.max_class_drop)
  if ok1 and ok2 then
    corr[#corr + 1] = {attribute = name, rho_overall = r1, p_overall = p1, rho_max_class = r2, p_max_class = p2}
  end
end
report.table(corr, {columns = {"attribute", "rho_overall", "p_overall", "rho_max_class", "p_max_class"},
                    caption = "Spearman correlation of each attribute with the damage of ablating the unit"})
report.value("spearman_selectivity_max_class_drop", stats.spearman(attrs.selectivity, r.max_class_drop))
