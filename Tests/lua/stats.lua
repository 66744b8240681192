-- stats from Lua, against SciPy 1.17 values recorded here.
local T = require "helper"
local x = {1.0, 2.5, 3.1, 4.7, 5.0, 6.2, 7.7, 8.1}
local y = {2.1, 1.9, 3.5, 3.9, 6.1, 5.5, 8.0, 7.2}
local r, p = stats.pearson(x, y)
-- Tensors are accepted too (float32: the values round, so a looser tolerance).
local rt = stats.pearson(tensor.from(x), tensor.from(y))
T.close(rt, 0.9423036496339856, "pearson r from tensors", 1e-6, 0)
T.close(r, 0.9423036496339856, "pearson r", 1e-9, 0); T.close(p, 0.00045962115141103346, "pearson p", 1e-6, 0)
r, p = stats.spearman(x, y)
T.close(r, 0.9285714285714287, "spearman r", 1e-9, 0); T.close(p, 0.0008629681828999767, "spearman p", 1e-6, 0)
T.close(stats.rank{3, 1, 4, 1, 5}, {3, 1.5, 4, 1.5, 5}, "rank with ties")
local d = stats.describe{0.5, -1.25, 3.0, 2.0, 0.0, 7.5}
T.close(d.mean, 1.9583333333333333, "mean"); T.close(d.std, 3.100067203572636, "std")
T.eq(d.median, 1.25, "median"); T.eq(d.n, 6, "n")
local cr, cp = stats.pearson({2, 2, 2}, {1, 2, 3})
T.eq(cr ~= cr and cp ~= cp, true, "constant input gives NaN")
T.raises(function() stats.pearson({1, 2, 3}, {1, 2}) end, "bad argument #2 to 'pearson' (2 values, expected 3 like argument #1)")
T.raises(function() stats.spearman({1, 2}, {1, 2}) end, "at least 3 pairs")
T.raises(function() stats.pearson({1, "a", 3}, {1, 2, 3}) end, "element 2 is a string, expected a number")
T.raises(function() stats.pearson({1, 0/0, 3}, {1, 2, 3}) end, "values must be finite")
T.raises(function() stats.describe({}) end, "describe needs at least one value")
T.raises(function() stats.rank(5) end, "tensor or array of numbers expected, got number")
