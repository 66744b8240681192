-- A bundled plugin, and the worked example of how to write one. Plugins are Lua files loaded
-- before every script (from lua/plugins/, folders in LESION_PLUGINS, and --plugin DIR); they use
-- the same API as scripts. `lesion plugins` lists what each one registers.

-- An attribute: the entropy (in bits) of a unit's mean activation over the classes, read as a
-- distribution. Low entropy: the unit responds to few classes; log2(K): to all alike.
-- ctx.activations is N x U (spatial means), ctx.labels a tensor{N} of 1-based classes.
units.register("class_entropy", function(ctx)
  local acts, labels = ctx.activations, ctx.labels
  local n, u = acts:size(1), acts:size(2)
  local k = 0
  for i = 1, n do k = math.max(k, labels[i]) end
  local onehot = tensor.zeros({n, k})
  for i = 1, n do onehot:set(i, labels[i], 1) end
  local counts = onehot:sum(1):reshape({k, 1})
  local means = onehot:t():matmul(acts:relu()) / counts          -- K x U class means
  local total = means:sum(1):reshape({1, u}) + 1e-12
  local p = means / total
  local h = (p * (p + 1e-12):log()):sum(1) * (-1 / math.log(2))  -- U
  return h:reshape({u})
end)

-- An ablation mode: replace the unit by its largest activation over the data set (a "stuck on"
-- unit rather than a silenced one).
ablation.register_mode("max", function(ctx)
  local a = ctx.model:activations(ctx.set, ctx.layer)
  local n, c = a:size(1), a:size(2)
  local flat = a:reshape({n, c, a:numel() // (n * c)})
  local per_sample = flat:max(3)                                  -- N x C
  return per_sample:max(1):reshape({c})
end)

-- A model: a small CNN for quick experiments on 28x28 gray images.
function models.tinynet(opts)
  if opts ~= nil and type(opts) ~= "table" then error("bad argument #1 to 'tinynet' (table of options expected, got " .. type(opts) .. ")", 2) end
  opts = opts or {}
  return nn.Sequential{
    nn.Conv2d(1, 8, 3, {padding = 1}), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(8, 16, 3, {padding = 1}), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(16 * 7 * 7, opts.classes or 10),
    seed = opts.seed or 1, input = {1, 28, 28}}
end
