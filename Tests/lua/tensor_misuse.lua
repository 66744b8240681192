-- Misuse of the tensor API: each is a Lua error that pcall catches, naming function and problem.
local T = require "helper"
local a = tensor.from{{1, 2, 3}, {4, 5, 6}}

-- wrong types and nil
T.raises(function() tensor.zeros() end, "bad argument #1 to 'zeros' (shape table expected, got no value)")
T.raises(function() tensor.zeros("3") end, "bad argument #1 to 'zeros' (shape table expected, got string)")
T.raises(function() tensor.zeros({2, "x"}) end, "size of dimension 2 must be a positive integer, got string")
T.raises(function() tensor.zeros({2.5}) end, "size of dimension 1 must be a positive integer, got 2.5")
T.raises(function() tensor.full({2}) end, "bad argument #2 to 'full' (number expected, got no value)")
T.raises(function() a:matmul(nil) end, "bad argument #1 to 'matmul' (tensor expected, got nil)")
T.raises(function() a:matmul({}) end, "bad argument #1 to 'matmul' (tensor expected, got table)")
T.raises(function() a.matmul(3, a) end, "tensor expected, got number")
T.raises(function() tensor.from{1, "a"} end, "number expected at [2], got string")
T.raises(function() tensor.from{{1, 2}, {3}} end, "element [2] should be a table of 2 elements, got 1 elements")
T.raises(function() tensor.from{} end, "empty table")
T.raises(function() tensor.cat({a, 5}) end, "element 2 should be a tensor, got number")
T.raises(function() tensor.cat({}) end, "non-empty list of tensors")
T.raises(function() return a + "x" end, "attempt to add a tensor and a string value")
T.raises(function() return a + {} end, "tensor or number expected")

-- zero, negative, huge sizes
T.raises(function() tensor.zeros({0}) end, "size of dimension 1 must be a positive integer, got 0")
T.raises(function() tensor.ones(-2) end, "size must be a positive integer, got -2")
T.raises(function() tensor.zeros({}) end, "at least one dimension")
T.raises(function() tensor.zeros({1e6, 1e6, 1e6}) end, "more than")
T.raises(function() tensor.zeros({math.maxinteger, 2}) end, "more than")
T.raises(function() tensor.randn({2^40}) end, "more than")
T.raises(function() tensor.eye(0) end, "bad argument #1 to 'eye' (size must be a positive integer, got 0)")
T.raises(function() tensor.arange(0) end, "is empty")
T.raises(function() tensor.arange(0, 1, 0) end, "step non-zero")
T.raises(function() tensor.random_rotation(0) end, "size must be in 1..16384")

-- mismatched shapes
T.raises(function() a:matmul(a) end, "bad argument #1 to 'matmul' (expected {3,*} to multiply {2,3}, got {2,3})")
T.raises(function() return a + tensor.ones({4}) end, "shapes {2,3} and {4} do not broadcast")
T.raises(function() a:reshape({4, 2}) end, "cannot reshape {2,3} (6 elements) to {4,2} (8 elements)")
T.raises(function() a:reshape({-1, -1}) end, "only one dimension may be -1")
T.raises(function() tensor.cat({a, tensor.ones({2, 2})}, 1) end, "does not match {2,3} outside dimension 1")
T.raises(function() tensor.stack({a, a:t()}) end, "tensor 2 has shape {3,2}, expected {2,3}")
T.raises(function() tensor.from{1, 2}:t() end, "2-D tensor expected")
T.raises(function() tensor.qr(tensor.ones({2, 2, 2})) end, "qr needs a 2-D tensor")

-- out-of-range indices and dimensions
T.raises(function() a:get(3, 1) end, "bad argument #1 to 'get' (index 3 out of range (1..2))")
T.raises(function() a:get(1, 0) end, "bad argument #2 to 'get' (index 0 out of range (1..3))")
T.raises(function() a:get(1) end, "1 indices given for a 2-D tensor")
T.raises(function() a:set(1, 1) end, "expected 2 indices and a value")
T.raises(function() a:select(3, 1) end, "bad argument #1 to 'select' (dimension 3 out of range (1..2))")
T.raises(function() a:narrow(2, 2, 5) end, "length 5 from index 2 does not fit in dimension 2 of size 3")
T.raises(function() a:sum(0) end, "dimension 0 out of range")
T.raises(function() a:size(5) end, "dimension 5 out of range")
T.raises(function() return a[3] end, "index 3 out of range (1..2)")
T.raises(function() a[1] = 5 end, "needs a 1-D tensor")
T.raises(function() a:get(1.5, 1) end, "number has no integer representation")
T.raises(function() a:sort({dim = 4}) end, "option 'dim': dimension 4 out of range")

-- NaN
T.raises(function() a:get(0 / 0, 1) end, "number has no integer representation")
T.raises(function() tensor.zeros({0 / 0}) end, "must be a positive integer")
T.raises(function() a:clamp(0 / 0, 1) end, "number expected, got NaN")
T.raises(function() tensor.qr(tensor.full({2, 2}, 0 / 0)) end, "NaN or infinite")
local n = tensor.full({2}, 0 / 0)
T.eq(n:sum() ~= n:sum(), true, "NaN sums to NaN")
T.eq(tostring(n):find("nan", 1, true) ~= nil, true, "NaN prints")

-- options
T.raises(function() tensor.randn({2}, {sed = 1}) end, "unknown option 'sed'; expected one of: mean, seed, std")
T.raises(function() tensor.randn({2}, {seed = -1}) end, "seed must be a non-negative integer")
T.raises(function() tensor.randn({2}, {seed = "x"}) end, "option 'seed': number expected, got string")
T.raises(function() tensor.randn({2}, 5) end, "options table expected, got number")
T.raises(function() a:sum(1, {keepdims = true}) end, "unknown option 'keepdims'")
T.raises(function() tensor.zeros({2}, {seed = 1}) end, "this function takes no options")

-- files
T.raises(function() tensor.load("/nonexistent/x.npy") end, "cannot open '/nonexistent/x.npy'")
T.raises(function() tensor.load() end, "bad argument #1 to 'load' (string expected, got no value)")
T.raises(function() a:save("/nonexistent/dir/x.npy") end, "cannot write")
local bad = os.tmpname()
local header = "{'descr': '<f4', 'fortran_order': False, 'shape': (9999999999,), }\n"
local f = io.open(bad, "wb"); f:write("\147NUMPY\1\0" .. string.char(#header, 0) .. header); f:close()
T.raises(function() tensor.load(bad) end, "header shape is unusable (shape {9999999999} has more than")
header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000, 1000), }\n"
f = io.open(bad, "wb"); f:write("\147NUMPY\1\0" .. string.char(#header, 0) .. header .. "tiny"); f:close()
T.raises(function() tensor.load(bad) end, "header says {1000,1000} of 'f4' (4000000 bytes of data) but the file holds 4")
os.remove(bad)

-- errors carry the caller's position
local err = T.raises(function() a:get(9, 9) end, "index 9 out of range")
T.eq(err:find("tensor_misuse.lua:%d+:") ~= nil, true, "position in message: " .. err)
