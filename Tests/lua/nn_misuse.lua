-- Misuse of nn, models and data: clear Lua errors that name the function and the problem.
local T = require "helper"

T.raises(function() nn.Conv2d(0, 8, 3) end, "bad argument #1 to 'Conv2d' (input channels must be a positive integer, got 0)")
T.raises(function() nn.Conv2d(1, 8, 3, {paddin = 1}) end, "unknown option 'paddin'; expected one of: bias, groups, name, padding, stride")
T.raises(function() nn.Conv2d(1, 8, 3, {stride = 0}) end, "option 'stride' must be positive")
T.raises(function() nn.Linear(3) end, "bad argument #2 to 'Linear' (number expected, got no value)")
T.raises(function() nn.Dropout(1) end, "dropout probability must be in [0, 1)")
T.raises(function() nn.MaxPool2d(2, {stride = -1}) end, "option 'stride' must be positive")
T.raises(function() nn.Lambda(5) end, "bad argument #1 to 'Lambda' (function expected, got number)")
T.raises(function() nn.ReLU({name = "a.b"}) end, "contain no '.'")
T.raises(function() nn.Sequential{} end, "a model needs at least one layer")
T.raises(function() nn.Sequential{nn.ReLU(), 5} end, "element 2 should be a layer, a block or a model, got number")
T.raises(function() nn.Sequential{nn.ReLU(), sed = 1} end, "unknown field 'sed'")
T.raises(function() nn.Sequential{nn.ReLU({name = "x"}), nn.ReLU({name = "x"})} end, "two layers are named 'x'")
local shared = nn.ReLU()
nn.Sequential{shared}
T.raises(function() nn.Sequential{shared} end, "already belongs to model")
T.raises(function() nn.Sequential{nn.Conv2d(1, 8, 3), nn.Conv2d(4, 8, 3), input = {1, 28, 28}} end,
  "conv2 (Conv2d): expected input {N,4,H,W}, got {1,8,26,26}")

-- wrong input shape for a layer
local m = nn.Sequential{nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(4 * 6 * 6, 3), seed = 1}
T.raises(function() m:forward(tensor.ones({2, 3, 8, 8})) end,
  "bad argument #1 to 'forward' (conv1 (Conv2d): expected input {N,1,H,W}, got {2,3,8,8})")
T.raises(function() m:forward(tensor.ones({2, 1, 9, 9})) end, "fc1 (Linear): expected input {N,144}, got {2,196}")
T.raises(function() m:forward(tensor.ones({2, 1, 2, 2})) end, "smaller than the 3x3 kernel")
T.raises(function() m:forward("x") end, "bad argument #1 to 'forward' (tensor expected, got string)")
local fnet = models.fashionnet{seed = 1}
T.raises(function() fnet:forward(tensor.ones({1, 28, 28})) end, "expected input {N,1,28,28}, got {1,28,28}")
T.raises(function() models.fashionnet{seeed = 1} end, "bad argument #1 to 'fashionnet' (unknown option 'seeed'; expected one of: bn, classes, dropout, seed)")

-- unknown layer names list the valid ones
T.raises(function() m:layer("conv9") end, "no layer named 'conv9'; layers are: conv1, flatten1, fc1")
T.raises(function() m:activations(tensor.ones({1, 1, 8, 8}), "relu") end, "no layer named 'relu'")

-- data that does not fit the model
local shapes28 = data.shapes{n = 20, size = 28}
T.raises(function() m:fit(shapes28, {progress = false}) end, "bad argument #1 to 'fit' (fc1 (Linear): expected input {N,144}, got {1,2704})")
T.raises(function() fnet:evaluate(data.shapes{n = 10, size = 16}) end, "the model expects samples {1,28,28} but")
local three = data.from_tensors(tensor.rand({4, 1, 28, 28}, {seed = 1}), tensor.from{1, 2, 3, 1})
T.raises(function() fnet:evaluate(three) end, "the model has 10 outputs but the data set has 3 classes")

-- fit options
T.raises(function() fnet:fit(shapes28, {epoch = 1}) end, "unknown option 'epoch'")
T.raises(function() fnet:fit(shapes28, {lr = -1}) end, "option 'lr' must be a positive number")
T.raises(function() fnet:fit(shapes28, {batch = 0}) end, "option 'batch' must be positive")
T.raises(function() fnet:fit(shapes28, {schedule = "linear"}) end, "unknown schedule 'linear'")
T.raises(function() fnet:fit(shapes28, {schedule = {kind = "step"}}) end, "needs 'every'")
T.raises(function() fnet:fit(tensor.ones({2}), {}) end, "bad argument #1 to 'fit' (dataset expected, got tensor)")

-- a Lambda is forward-only, and its errors name it
local lm = nn.Sequential{nn.Conv2d(1, 2, 3), nn.Lambda(function(t) return t end), nn.Flatten(), nn.Linear(2 * 26 * 26, 10), seed = 1}
T.raises(function() lm:fit(shapes28, {progress = false}) end, "Lambda layers are forward-only")
local bad = nn.Sequential{nn.Lambda(function(t) return "no" end), seed = 1}
T.raises(function() bad:forward(tensor.ones({1, 1, 2, 2})) end, "lambda1 (Lambda): its Lua function returned string, expected a tensor")
local failing = nn.Sequential{nn.Lambda(function(t) error("boom") end), seed = 1}
T.raises(function() failing:forward(tensor.ones({1, 1, 2, 2})) end, "boom")

-- data constructors
T.raises(function() data.shapes{n = 0} end, "option 'n' must be in 1..1000000")
T.raises(function() data.shapes{size = 4} end, "option 'size' must be in 8..256")
T.raises(function() data.shapes{count = 4} end, "unknown option 'count'")
T.raises(function() data.from_tensors(tensor.ones({3, 4}), tensor.from{1, 2}) end, "3 images but 2 labels")
T.raises(function() data.from_tensors(tensor.ones({2, 4}), tensor.from{0, 1}) end, "labels must be integers from 1")
T.raises(function() data.from_tensors(tensor.ones({2, 4}), tensor.from{1, 5}, {classes = {"a", "b"}}) end, "beyond the 2 classes")
T.raises(function() data.idx("/nonexistent/a", "/nonexistent/b") end, "cannot open '/nonexistent/a'")
T.raises(function() data.cifar10("/nonexistent") end, "cannot open '/nonexistent/data_batch_1.bin'")
T.raises(function() data.npy("/nonexistent/x.npy", "/nonexistent/y.npy") end, "cannot open")
T.raises(function() data.fashion_mnist({root = {}}) end, "option 'root': string expected, got table")
local ds = data.shapes{n = 30, size = 8}
T.raises(function() ds:get(31) end, "bad argument #1 to 'get' (index 31 out of range (1..30))")
T.raises(function() ds:subset(0) end, "subset size must be in 1..30")
T.raises(function() ds:subset{1, 99} end, "index 2 of the list is 99")
T.raises(function() ds:split(1.5) end, "fraction must be in (0, 1)")
T.raises(function() ds:balanced(4) end, "has 3 samples, fewer than 4")

-- weights files
T.raises(function() m:load("/nonexistent.safetensors") end, "cannot open '/nonexistent.safetensors'")
local junk = os.tmpname()
local f = io.open(junk, "wb"); f:write("\255\255\255\255\0\0\0\0{}"); f:close()
T.raises(function() m:load(junk) end, "is not a valid safetensors file (header length")
local path = os.tmpname()
m:save(path)
T.raises(function() fnet:load(path) end, "does not fit the model")
os.remove(path); os.remove(junk)
