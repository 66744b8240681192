-- Model builders, written against the public nn API.
local models = {}

-- What each option may be, beyond the type of its default: a rate in [0, 1), a positive integer
-- count, an integer seed, an input shape (a table, or false for any size).
local option_kinds = {dropout = "rate", classes = "count", num_classes = "count", width = "count",
  hidden = "count", in_channels = "count", seed = "integer", input = "shape"}

local function option_error(fname, k, v, what)
  error(string.format("bad argument #1 to '%s' (option '%s' must be %s, got %s)", fname, k, what,
    type(v) == "number" and tostring(v) or type(v)), 4)
end

local function check_options(fname, opts, allowed)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    error(string.format("bad argument #1 to '%s' (options table expected, got %s)", fname, type(opts)), 3)
  end
  for k, v in pairs(opts) do
    if allowed[k] == nil then
      local names = {}
      for name in pairs(allowed) do names[#names + 1] = name end
      table.sort(names)
      error(string.format("bad argument #1 to '%s' (unknown option '%s'; expected one of: %s)",
        fname, tostring(k), table.concat(names, ", ")), 3)
    end
    local kind = option_kinds[k]
    if kind == "rate" then
      if type(v) ~= "number" or not (v >= 0 and v < 1) then option_error(fname, k, v, "a rate from 0 up to 1") end
    elseif kind == "count" then
      if math.type(v) == "float" and v == math.floor(v) then v = math.tointeger(v) end
      if math.type(v) ~= "integer" or v < 1 or v > 1 << 20 then option_error(fname, k, v, "an integer from 1 to 1048576") end
    elseif kind == "integer" then
      if type(v) ~= "number" or v ~= math.floor(v) or v ~= v then option_error(fname, k, v, "an integer") end
    elseif kind == "shape" then
      if type(v) ~= "table" and v ~= false then option_error(fname, k, v, "a shape table such as {3, 224, 224}, or false") end
    elseif type(v) ~= type(allowed[k]) then
      option_error(fname, k, v, "a " .. type(allowed[k]))
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

-- torchvision's architectures, with its module names (so its state dicts load as they are).
-- Every builder takes num_classes (1000), seed (1) and input ({3, 224, 224}; false for any size);
-- AlexNet and VGG also hidden (4096: the width of the classifier's two hidden layers) and dropout.

local function input_option(opts, channels)
  if opts.input == false then return nil end
  return opts.input or {channels or 3, 224, 224}
end

local function conv(cin, cout, k, o) return nn.Conv2d(cin, cout, k, o) end

--- AlexNet (torchvision's, after "One weird trick"): features.0 ... features.12, avgpool,
--- classifier.0 ... classifier.6.
function models.alexnet(opts)
  opts = check_options("alexnet", opts, {num_classes = 1000, seed = 1, input = true, dropout = 0.5, hidden = 4096})
  local p = opts.dropout == nil and 0.5 or opts.dropout
  local hidden = opts.hidden or 4096
  local features = nn.Sequential{
    conv(3, 64, 11, {stride = 4, padding = 2}), nn.ReLU(), nn.MaxPool2d(3, {stride = 2}),
    conv(64, 192, 5, {padding = 2}), nn.ReLU(), nn.MaxPool2d(3, {stride = 2}),
    conv(192, 384, 3, {padding = 1}), nn.ReLU(),
    conv(384, 256, 3, {padding = 1}), nn.ReLU(),
    conv(256, 256, 3, {padding = 1}), nn.ReLU(), nn.MaxPool2d(3, {stride = 2}),
    name = "features"}
  local classifier = nn.Sequential{
    nn.Dropout(p), nn.Linear(256 * 6 * 6, hidden), nn.ReLU(),
    nn.Dropout(p), nn.Linear(hidden, hidden), nn.ReLU(),
    nn.Linear(hidden, opts.num_classes or 1000), name = "classifier"}
  return nn.Sequential{features, nn.AdaptiveAvgPool2d(6, {name = "avgpool"}), nn.Flatten({name = "flatten"}), classifier,
    seed = opts.seed or 1, input = input_option(opts)}
end

local vgg_configs = {
  vgg11 = {64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"},
  vgg13 = {64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"},
  vgg16 = {64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"},
  vgg19 = {64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"},
}

--- VGG-11/13/16/19 (bn = true: with batch norm after each convolution): features.*, avgpool,
--- classifier.0 ... classifier.6.
for name, cfg in pairs(vgg_configs) do
  models[name] = function(opts)
    opts = check_options(name, opts, {num_classes = 1000, seed = 1, input = true, bn = false, dropout = 0.5, hidden = 4096})
    local p = opts.dropout == nil and 0.5 or opts.dropout
    local hidden = opts.hidden or 4096
    local layers, cin = {}, 3
    for _, v in ipairs(cfg) do
      if v == "M" then
        layers[#layers + 1] = nn.MaxPool2d(2, {stride = 2})
      else
        layers[#layers + 1] = conv(cin, v, 3, {padding = 1})
        if opts.bn then layers[#layers + 1] = nn.BatchNorm2d(v) end
        layers[#layers + 1] = nn.ReLU()
        cin = v
      end
    end
    layers.name = "features"
    local classifier = nn.Sequential{
      nn.Linear(512 * 7 * 7, hidden), nn.ReLU(), nn.Dropout(p),
      nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(p),
      nn.Linear(hidden, opts.num_classes or 1000), name = "classifier"}
    return nn.Sequential{nn.Sequential(layers), nn.AdaptiveAvgPool2d(7, {name = "avgpool"}), nn.Flatten({name = "flatten"}),
      classifier, seed = opts.seed or 1, input = input_option(opts)}
  end
end

local function norm(c, bn) if bn ~= false then return nn.BatchNorm2d(c) end end

local function shortcut(cin, cout, stride, bn)
  if stride == 1 and cin == cout then return nil end
  local parts = {conv(cin, cout, 1, {stride = stride, bias = bn == false})}
  if bn ~= false then parts[2] = nn.BatchNorm2d(cout) end
  parts.name = "downsample"
  return nn.Sequential(parts)
end

local function sequence(list)
  local t = {}
  for _, l in ipairs(list) do if l then t[#t + 1] = l end end
  return t
end

--- torchvision's BasicBlock: conv1 bn1 relu1 conv2 bn2 (+ downsample), then the block's ReLU.
--- Options: bn (true; false leaves batch norm out and gives the convolutions biases).
function models.basic_block(cin, cout, stride, opts)
  opts = check_options("basic_block", opts, {bn = true})
  local bn = opts.bn
  local body = sequence{
    conv(cin, cout, 3, {stride = stride or 1, padding = 1, bias = bn == false}), norm(cout, bn), nn.ReLU(),
    conv(cout, cout, 3, {padding = 1, bias = bn == false}), norm(cout, bn)}
  return nn.Residual{body = nn.Sequential(body), shortcut = shortcut(cin, cout, stride or 1, bn)}
end

--- torchvision's Bottleneck (ResNet v1.5: the stride on the 3x3): conv1 bn1 relu1 conv2 bn2
--- relu2 conv3 bn3 (+ downsample), then the block's ReLU; `width` channels inside, 4x out.
function models.bottleneck(cin, width, stride, opts)
  opts = check_options("bottleneck", opts, {bn = true})
  local bn = opts.bn
  local body = sequence{
    conv(cin, width, 1, {bias = bn == false}), norm(width, bn), nn.ReLU(),
    conv(width, width, 3, {stride = stride or 1, padding = 1, bias = bn == false}), norm(width, bn), nn.ReLU(),
    conv(width, width * 4, 1, {bias = bn == false}), norm(width * 4, bn)}
  return nn.Residual{body = nn.Sequential(body), shortcut = shortcut(cin, width * 4, stride or 1, bn)}
end

local resnet_configs = {
  resnet18 = {block = "basic", depths = {2, 2, 2, 2}},
  resnet34 = {block = "basic", depths = {3, 4, 6, 3}},
  resnet50 = {block = "bottleneck", depths = {3, 4, 6, 3}},
  resnet101 = {block = "bottleneck", depths = {3, 4, 23, 3}},
}

--- ResNet-18/34/50/101: conv1 bn1 relu maxpool, layer1 ... layer4 (blocks layerN.i), avgpool,
--- flatten, fc. Variants as options: width (64: channels of layer1; layer k has width * 2^(k-1)),
--- in_channels (3), small_input (false; true: a 3x3 stride-1 stem and no max-pool, for 28x28 or
--- 32x32 images), bn (true), dropout (0: none; else before fc).
for name, cfg in pairs(resnet_configs) do
  models[name] = function(opts)
    opts = check_options(name, opts, {num_classes = 1000, seed = 1, input = true, width = 64, in_channels = 3,
      small_input = false, bn = true, dropout = 0})
    local bn, width = opts.bn, opts.width or 64
    local cin = opts.in_channels or (type(opts.input) == "table" and opts.input[1]) or 3
    local expansion = cfg.block == "basic" and 1 or 4
    local parts = {}
    local function add(l) if l then parts[#parts + 1] = l end end
    if opts.small_input then
      add(conv(cin, width, 3, {padding = 1, bias = bn == false, name = "conv1"}))
    else
      add(conv(cin, width, 7, {stride = 2, padding = 3, bias = bn == false, name = "conv1"}))
    end
    if bn ~= false then add(nn.BatchNorm2d(width, {name = "bn1"})) end
    add(nn.ReLU({name = "relu"}))
    if not opts.small_input then add(nn.MaxPool2d(3, {stride = 2, padding = 1, name = "maxpool"})) end
    local inplanes = width
    for stage, depth in ipairs(cfg.depths) do
      local planes = width * 2 ^ (stage - 1) // 1
      local blocks = {}
      for i = 1, depth do
        local stride = (i == 1 and stage > 1) and 2 or 1
        if cfg.block == "basic" then
          blocks[i] = models.basic_block(inplanes, planes, stride, {bn = bn})
        else
          blocks[i] = models.bottleneck(inplanes, planes, stride, {bn = bn})
        end
        inplanes = planes * expansion
      end
      blocks.name = "layer" .. stage
      add(nn.Sequential(blocks))
    end
    add(nn.AdaptiveAvgPool2d(1, {name = "avgpool"}))
    add(nn.Flatten({name = "flatten"}))
    if (opts.dropout or 0) > 0 then add(nn.Dropout(opts.dropout, {name = "dropout"})) end
    add(nn.Linear(inplanes, opts.num_classes or 1000, {name = "fc"}))
    parts.seed = opts.seed or 1
    if not opts.small_input then parts.input = input_option(opts, cin) elseif opts.input then parts.input = opts.input end
    return nn.Sequential(parts)
  end
end

return models
