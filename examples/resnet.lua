-- %% [markdown]
-- # Units of a residual network
--
-- The study this tool follows (Zhou, Sun, Bau and Torralba, 2018) ablated units of ResNets as
-- well as of plain CNNs. This notebook builds a small ResNet in Lua (the blocks of ResNet-18,
-- 8 channels wide at first instead of 64), trains it on Fashion-MNIST for an epoch (about a
-- minute on 2 cores), compares it with FashionNet, and ablates every unit of two points: a
-- block's output (`layer4.1`, after the block's final ReLU, as torchvision's module returns it)
-- and a point inside that block (`layer4.1.relu1`, between its two convolutions).
--
-- The same notebook runs on torchvision's pretrained networks and an ImageNet-style folder
-- (one subfolder per class; see docs/imagenet.md for exporting the weights):
-- `scripts/run examples/resnet.lua --set arch=resnet18 --set weights=resnet18.safetensors --set images=val/`

-- %% Setup
local p = params{arch = "small", width = 8, epochs = 1, seed = 1, weights = "", images = "", limit = 0,
                 block = "layer4.1", inside = "layer4.1.relu1"}

local train, test, model
if p.images == "" then
  train, test = data.fashion_mnist()
else
  test = data.images(p.images)
  if #test.classes == 1000 then test = data.images(p.images, {classes = "imagenet"}) end
end
if p.limit > 0 and p.limit < #test then test = test:subset(p.limit) end
print(test)

-- %% [markdown]
-- ## The model
-- `models.resnet18{...}` is written in lua/lesion/models.lua from `nn.Residual` and nested
-- `nn.Sequential`s; its points have torchvision's names. A variant is an option or an edit of
-- that builder: `bn = false`, `dropout = 0.2`, `width = 16`.

-- %% Build or load
if p.weights ~= "" then
  model = models[p.arch]{num_classes = #test.classes}
  model:load(p.weights)
elseif p.arch == "small" then
  model = models.resnet18{width = p.width, small_input = true, input = {1, 28, 28}, num_classes = 10, seed = p.seed}
else
  error("give --set weights=PATH for arch '" .. p.arch .. "' (a model with random weights tells nothing)")
end
print(model)
if train then
  local h = model:fit(train, {epochs = p.epochs, batch = 64, lr = 0.05, momentum = 0.9, weight_decay = 5e-4,
                              schedule = "cosine", seed = p.seed})
  report.value("train_images_per_s", h.images_per_s[#h.images_per_s])
end
local base = model:evaluate(test)
report.value("accuracy", base.accuracy)
print(string.format("%s: accuracy %.2f%% on %d images", p.arch, 100 * base.accuracy, #test))

-- %% Compare with FashionNet
if train then
  local f = models.fashionnet{seed = p.seed}
  f:fit(train, {epochs = p.epochs, batch = 64, lr = 0.01, momentum = 0.9, weight_decay = 5e-4, seed = p.seed})
  local fb = f:evaluate(test)
  report.value("fashionnet_accuracy", fb.accuracy)
  report.table({{model = "small ResNet-18", params = model:num_params(), accuracy = base.accuracy},
                {model = "FashionNet", params = f:num_params(), accuracy = fb.accuracy}},
               {columns = {"model", "params", "accuracy"}, caption = "Test accuracy after " .. p.epochs .. " epoch(s)"})
end

-- %% [markdown]
-- ## Ablate every unit of a block's output, and of a point inside the block
-- The sweep is exact (equal to one evaluation per unit with that unit set to zero); it carries
-- only the changed samples through the block's branches and the rest of the network.

-- %% Sweeps
local results = {}
for _, point in ipairs{p.block, p.inside} do
  local r = ablation.sweep(model, test, point)
  local worst_class = r.class_drop:max(2)
  results[point] = r
  report.value("worst_overall_drop:" .. point, r.overall_drop:max())
  report.value("worst_class_drop:" .. point, worst_class:max())
  print(string.format("%s: %d units; the worst costs %.2f points overall, but up to %.2f points of one class",
    point, #r.units, 100 * r.overall_drop:max(), 100 * worst_class:max()))
  plot.scatter{x = r.overall_drop, y = r.max_class_drop, title = point .. ": overall vs worst class drop",
               xlabel = "overall accuracy drop", ylabel = "max class drop"}
end

-- %% What predicts the damage?
local rows = {}
for _, point in ipairs{p.block, p.inside} do
  local r = results[point]
  local a = units.attributes(model, test, point, {names = {"selectivity", "l1_in", "l1_out", "sparsity"}})
  for _, name in ipairs{"selectivity", "l1_in", "l1_out", "sparsity"} do
    local ok, rho = pcall(stats.spearman, a[name], r.max_class_drop)
    local ok2, rho2 = pcall(stats.spearman, a[name], r.overall_drop)
    rows[#rows + 1] = {point = point, attribute = name, rho_max_class = ok and rho or 0 / 0, rho_overall = ok2 and rho2 or 0 / 0}
  end
end
report.table(rows, {columns = {"point", "attribute", "rho_max_class", "rho_overall"},
                    caption = "Spearman correlation of unit attributes with the damage of ablating the unit"})
