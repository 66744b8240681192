-- nn, models and data from Lua: layers, models, training, evaluation, weights, data sets.
local T = require "helper"

-- data.shapes and data-set methods
local ds = data.shapes{n = 600, size = 16, seed = 1}
T.eq(#ds, 600, "#ds"); T.eq(ds.num_classes, 10, "num_classes"); T.eq(ds.classes[1], "circle", "classes")
T.eq(table.concat(ds.shape, ","), "1,16,16", "shape")
local x, y = ds:get(1)
T.shape(x, {1, 16, 16}); T.eq(y, 1, "label of sample 1 is class 1")
local _, y2 = ds:get(2); T.eq(y2, 2, "label of sample 2")
T.eq(#ds:subset(10), 10, "subset(n)")
local picked = ds:subset{3, 1}
T.eq(select(2, picked:get(1)), 3, "subset{...} keeps order")
T.eq(#ds:subset(tensor.from{5, 6, 7}), 3, "subset(tensor)")
local a, b = ds:split(0.75, {seed = 2})
T.eq(#a + #b, 600, "split sizes"); T.eq(#a, 450, "split fraction")
local bal = ds:balanced(4, {seed = 1})
T.eq(#bal, 40, "balanced"); T.close(bal:labels():mean(), 5.5, "balanced labels mean")
local xs, ys = ds:subset(5):tensors()
T.shape(xs, {5, 1, 16, 16}); T.close(ys, {1, 2, 3, 4, 5}, "tensors labels")
T.eq(tostring(ds):find("600 samples", 1, true) ~= nil, true, "tostring dataset")

-- data.from_tensors: labels are 1-based from Lua
local ft = data.from_tensors(tensor.rand({6, 4}, {seed = 1}), tensor.from{1, 2, 3, 1, 2, 3}, {classes = {"a", "b", "c"}})
T.eq(ft.num_classes, 3, "from_tensors classes"); T.eq(select(2, ft:get(3)), 3, "from_tensors label")

-- a model from layers, with automatic names
local m = nn.Sequential{
  nn.Conv2d(1, 8, 3, {padding = 1}), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
  nn.Conv2d(8, 16, 3, {padding = 1}), nn.ReLU(), nn.AvgPool2d(2),
  nn.Flatten(), nn.Linear(16 * 4 * 4, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 10),
  seed = 1, input = {1, 16, 16},
}
T.eq(table.concat(m:layers(), ","), "conv1,bn1,relu1,pool1,conv2,relu2,pool2,flatten1,fc1,relu3,dropout1,fc2", "names")
T.eq(m:num_params(), (8*9+8) + 16 + (16*8*9+16) + (256*32+32) + (32*10+10), "num_params")
local c1 = m:layer("conv1")
T.eq(c1.kind, "Conv2d"); T.shape(c1.weight, {8, 1, 3, 3}); T.shape(c1.bias, {8})
-- PyTorch's default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = 9
T.eq(c1.weight:abs():max() <= 1 / 3, true, "init bound")
T.close(m:layer("bn1").running_var, tensor.ones({8}), "bn running_var starts at 1")
T.eq(tostring(m):find("conv1", 1, true) ~= nil and tostring(m):find("total parameters", 1, true) ~= nil, true, "summary")
local logits = m:forward(xs)
T.shape(logits, {5, 10})
T.shape(m:predict(xs), {5})
T.shape(m:activations(xs, "relu2"), {5, 16, 8, 8})
T.shape(m:activations(ds:subset(7), "fc1"), {7, 32})

-- the same seed gives the same weights; a clone is independent
local m2 = nn.Sequential{nn.Conv2d(1, 8, 3, {padding = 1}), nn.Flatten(), nn.Linear(8 * 16 * 16, 10), seed = 1}
local m3 = nn.Sequential{nn.Conv2d(1, 8, 3, {padding = 1}), nn.Flatten(), nn.Linear(8 * 16 * 16, 10), seed = 1}
T.eq(tensor.allclose(m2:layer("conv1").weight, m3:layer("conv1").weight, {rtol = 0, atol = 0}), true, "seeded init")
local cl = m2:clone()
cl:layer("conv1").weight:fill(0)
T.eq(m2:layer("conv1").weight:abs():sum() > 0, true, "clone is a deep copy")

-- training: loss falls, accuracy rises, and the same seeds repeat bit for bit
local train, test = ds:split(0.8, {seed = 1})
local function trained()
  local net = nn.Sequential{
    nn.Conv2d(1, 8, 3, {padding = 1}), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(8, 16, 3, {padding = 1}), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(256, 10), seed = 3, input = {1, 16, 16}}
  local h = net:fit(train, {epochs = 3, batch = 32, lr = 0.05, momentum = 0.9, seed = 4, progress = false,
                            schedule = "cosine"})
  return net, h
end
local net, h = trained()
T.eq(h.epochs, 3); T.eq(h.loss[3] < h.loss[1], true, "loss falls")
T.close(h.lr[1], 0.05, "cosine lr epoch 1"); T.close(h.lr[2], 0.05 * (1 + math.cos(math.pi / 3)) / 2, "cosine lr epoch 2")
local ev = net:evaluate(test)
T.eq(ev.n, 120, "evaluate n"); T.eq(ev.accuracy > 0.25, true, "accuracy well above chance (0.1): " .. ev.accuracy)
T.shape(ev.per_class, {10}); T.shape(ev.confusion, {10, 10}); T.eq(ev.confusion:sum(), 120, "confusion total")
local net2, h2 = trained()
T.eq(h2.loss[3], h.loss[3], "same seeds, same loss")
T.eq(tensor.allclose(net:layer("fc1").weight, net2:layer("fc1").weight, {rtol = 0, atol = 0}), true, "same weights")
T.eq(net:is_training(), false, "fit leaves the model in evaluation mode")

-- step schedule
local hs = nn.Sequential{nn.Flatten(), nn.Linear(256, 10), seed = 1}:fit(train:subset(64),
  {epochs = 3, batch = 32, lr = 0.1, progress = false, schedule = {kind = "step", every = 2, gamma = 0.5}})
T.close(hs.lr[2], 0.1, "step lr"); T.close(hs.lr[3], 0.05, "step lr after 2 epochs")

-- weights: save and load, with PyTorch's names
local path = os.tmpname() .. ".safetensors"
net:save(path)
local fresh = nn.Sequential{
  nn.Conv2d(1, 8, 3, {padding = 1}), nn.ReLU(), nn.MaxPool2d(2),
  nn.Conv2d(8, 16, 3, {padding = 1}), nn.ReLU(), nn.MaxPool2d(2),
  nn.Flatten(), nn.Linear(256, 10), seed = 99, input = {1, 16, 16}}
fresh:load(path)
T.eq(tensor.allclose(fresh:forward(xs), net:forward(xs), {rtol = 0, atol = 0}), true, "load reproduces logits")
os.remove(path)

-- train and eval modes: dropout is random only in training
local dm = nn.Sequential{nn.Flatten(), nn.Dropout(0.5), seed = 1}
local ones = tensor.ones({2, 1, 4, 4})
T.eq(dm:forward(ones):sum(), 32, "eval mode: identity")
dm:train_mode()
local z = dm:forward(ones)
T.eq(z:sum() ~= 32 and (z:max() == 2), true, "train mode: inverted dropout")
dm:eval_mode()

-- Lambda: a forward-only layer written in Lua
local lm = nn.Sequential{nn.Lambda(function(t) return t * 2 end), nn.Flatten(), seed = 1}
T.close(lm:forward(tensor.ones({1, 1, 2, 2})), {{2, 2, 2, 2}}, "Lambda forward")

-- models.fashionnet has the layer names of the API
local fnet = models.fashionnet{seed = 1}
T.eq(table.concat(fnet:layers(), ","),
  "conv1,relu1,pool1,conv2,relu2,pool2,conv3,relu3,conv4,relu4,pool3,flatten1,fc1,relu5,dropout1,fc2", "fashionnet names")
T.eq(fnet:num_params(), 537994, "fashionnet parameters")
local fbn = models.fashionnet{seed = 1, bn = true, dropout = 0}
T.eq(table.concat(fbn:layers(), ","),
  "conv1,bn1,relu1,pool1,conv2,bn2,relu2,pool2,conv3,bn3,relu3,conv4,bn4,relu4,pool3,flatten1,fc1,relu5,fc2", "fashionnet bn names")
