-- Model builders, written against the public nn API.
local models = {}

local function check_options(fname, opts, allowed)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    error(string.format("bad argument #1 to '%s' (options table expected, got %s)", fname, type(opts)), 3)
  end
  for k in pairs(opts) do
    if allowed[k] == nil then
      local names = {}
      for name in pairs(allowed) do names[#names + 1] = name end
      table.sort(names)
      error(string.format("bad argument #1 to '%s' (unknown option '%s'; expected one of: %s)",
        fname, tostring(k), table.concat(names, ", ")), 3)
    end
  end
  return opts
end

--- The reference network of the benchmarks (Fashion-MNIST, 1x28x28 -> 10 classes):
--- conv1(1->32) [bn1] relu1 pool1 . conv2(32->64) [bn2] relu2 pool2 . conv3(64->128) [bn3] relu3 .
--- conv4(128->128) [bn4] relu4 pool3 . flatten1 . fc1(1152->256) relu5 dropout1 . fc2(256->10)
--- Options: bn (false), dropout (0.5; 0 leaves the layer out), seed (1), classes (10).
function models.fashionnet(opts)
  opts = check_options("fashionnet", opts, {bn = false, dropout = 0.5, seed = 1, classes = 10})
  local bn = opts.bn or false
  local p = opts.dropout == nil and 0.5 or opts.dropout
  local layers = {}
  local function add(l) layers[#layers + 1] = l end
  local function block(cin, cout)
    add(nn.Conv2d(cin, cout, 3, {padding = 1}))
    if bn then add(nn.BatchNorm2d(cout)) end
    add(nn.ReLU())
  end
  block(1, 32); add(nn.MaxPool2d(2))
  block(32, 64); add(nn.MaxPool2d(2))
  block(64, 128)
  block(128, 128); add(nn.MaxPool2d(2))
  add(nn.Flatten())
  add(nn.Linear(128 * 3 * 3, 256)); add(nn.ReLU())
  if p > 0 then add(nn.Dropout(p)) end
  add(nn.Linear(256, opts.classes or 10))
  layers.seed = opts.seed or 1
  layers.input = {1, 28, 28}
  return nn.Sequential(layers)
end

return models
