-- What the five experiments share: the model a `--set model=` names, trained (and cached) the
-- same way, and the default layer of each model. Loaded with dofile from each notebook.
local common = {}

--- Fashion-MNIST's training and test sets, or their first p.train_n and p.test_n images (a
--- quick look, and how the test suite runs these notebooks).
function common.data(p)
  local train, test = data.fashion_mnist()
  if p.train_n and p.train_n < #train then train = train:subset(p.train_n) end
  if p.test_n and p.test_n < #test then test = test:subset(p.test_n) end
  return train, test
end

--- Where attributes are measured: up to 10,000 training images (never the test set, where the
--- damage is measured).
function common.rank_set(train) return train:subset(math.min(10000, #train)) end

--- The default layer of a model: relu4 of FashionNet, layer4.0 of the small ResNet.
function common.layer(p) return p.layer ~= "" and p.layer or (p.model == "resnet" and "layer4.0" or "relu4") end

--- The model `p.model` names ("fashionnet" or "resnet"), with `opts` passed to its builder
--- (bn, dropout), trained on `train` for p.epochs with seed p.seed (cached by Lesion).
function common.model(p, train, opts)
  opts = opts or {}
  local m
  if p.model == "resnet" then
    m = models.resnet18{width = 8, small_input = true, input = {1, 28, 28}, num_classes = 10, seed = p.seed,
                        bn = opts.bn, dropout = opts.dropout}
  elseif p.model == "fashionnet" then
    m = models.fashionnet{seed = p.seed, bn = opts.bn, dropout = opts.dropout}
  else
    error("--set model= takes fashionnet or resnet, got '" .. tostring(p.model) .. "'", 2)
  end
  m:fit(train, {epochs = p.epochs, batch = 64, lr = p.model == "resnet" and 0.05 or 0.01, momentum = 0.9,
                weight_decay = 5e-4, seed = p.seed, progress = false})
  return m
end

--- Spearman's rho of x and y with a bootstrap interval and a permutation p: {rho, lo, hi, p}.
--- (Cached: the resampling rounds are the slow part of a re-run.)
function common.correlate(x, y, rounds, seed)
  return cache({"paper.correlate", x, y, rounds, seed}, function()
    local ok, rho = pcall(stats.spearman, x, y)
    if not ok or rho ~= rho then return {rho = 0 / 0, lo = 0 / 0, hi = 0 / 0, p = 0 / 0} end
    local b = stats.bootstrap(function(s) return (stats.spearman(s[1], s[2])) end, {x, y}, {n = rounds, seed = seed})
    return {rho = rho, lo = b.lo, hi = b.hi, p = stats.permutation(x, y, {n = rounds, seed = seed})}
  end)
end

--- Trains the model of `q` (with builder options `opts`), sweeps its layer on `test` and
--- measures its attributes on `rank_set`: the sweep, the attributes, and Spearman's rho of
--- selectivity and of the outgoing L1 norm with the largest class drop (common.correlate).
function common.measure(q, train, test, rank_set, opts, rounds)
  local layer = common.layer(q)
  local m = common.model(q, train, opts)
  local r = ablation.sweep(m, test, layer)
  local a = units.attributes(m, rank_set, layer)
  local damage = r.max_class_drop:totable()
  return r, a, common.correlate(a.selectivity:totable(), damage, rounds, q.seed),
    common.correlate(a.l1_out:totable(), damage, rounds, q.seed)
end

return common
