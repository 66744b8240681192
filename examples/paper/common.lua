-- What the five experiments share: the model a `--set model=` names, trained (and cached) the
-- same way, and the default layer of each model. Loaded with dofile from each notebook.
local common = {}

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

return common
