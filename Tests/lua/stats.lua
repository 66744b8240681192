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

-- Inference (issue 14): intervals, permutation p-values, FDR, bootstrap. References from SciPy
-- 1.17 / NumPy 2 recorded here; the permutation p against the exact one from all 5,040
-- permutations (itertools in Python).
local a = {0.3, 1.2, -0.5, 2.2, 0.9, 1.7, -1.1, 0.4, 2.8, 1.0}
local b = {0.1, 0.9, -0.2, 1.5, 1.6, 0.8, -0.9, 0.2, 2.0, 1.3}
local r1, p1, lo, hi = stats.pearson(a, b, {ci = 0.95})
T.close(r1, 0.9019132476354009, "pearson r with ci", 1e-9, 0)
T.close(lo, 0.6301017678558397, "pearson ci low (scipy confidence_interval)", 1e-9, 0)
T.close(hi, 0.9768292060473467, "pearson ci high", 1e-9, 0)
_, _, lo, hi = stats.pearson(a, b, {ci = 0.9})
T.close(lo, 0.6966106516916235, "pearson 90% low", 1e-9, 0); T.close(hi, 0.9706884266872813, "pearson 90% high", 1e-9, 0)
-- Spearman: Fisher's z with Bonett and Wright's standard error, computed with scipy.stats.norm.
_, _, lo, hi = stats.spearman(a, b, {ci = 0.95})
T.close(lo, 0.3185872189597455, "spearman ci low", 1e-9, 0); T.close(hi, 0.9672760242263805, "spearman ci high", 1e-9, 0)
T.raises(function() stats.pearson(a, b, {ci = 1.5}) end, "ci must be between 0 and 1")
T.raises(function() stats.pearson(a, b, {level = 0.9}) end, "unknown option 'level'")

local pp, pr = stats.permutation({1, 2, 3, 4, 5, 6, 7}, {2, 1, 4, 3, 7, 5, 6}, {n = 20000, seed = 3})
T.close(pr, 0.8214285714285715, "permutation r (spearman)", 1e-9, 0)
T.close(pp, 0.034126984126984124, "permutation p near the exact one", 0, 0.006)
local pp2 = stats.permutation({1, 2, 3, 4, 5, 6, 7}, {2, 1, 4, 3, 7, 5, 6}, {n = 20000, seed = 3})
T.eq(pp2, pp, "permutation p: same seed, same value")
local pq = stats.permutation({1, 2, 3, 4, 5, 6, 7}, {2, 1, 4, 3, 7, 5, 6}, {n = 20000, seed = 3, method = "pearson"})
T.close(pq, 0.034126984126984124, "permutation p (pearson)", 0, 0.006)
T.raises(function() stats.permutation(a, b, {method = "kendall"}) end, "option 'method' must be \"spearman\" or \"pearson\"")

T.close(stats.fdr{0.01, 0.04, 0.03, 0.2, 0.5, 0.001, 0.04},
  {0.035, 0.056, 0.056, 0.23333333333333336, 0.5, 0.007, 0.056}, "fdr (scipy false_discovery_control)", 1e-6, 0)
T.raises(function() stats.fdr{0.5, 1.5} end, "p-value 2 is 1.5")
T.raises(function() stats.fdr{} end, "at least one p-value")

T.close(stats._percentile({3.0, 1.0, 4.0, 1.5, 9.0, 2.6, 5.0}, 2.5), 1.075, "percentile 2.5 (numpy)", 1e-12, 0)
T.close(stats._percentile({3.0, 1.0, 4.0, 1.5, 9.0, 2.6, 5.0}, 97.5), 8.4, "percentile 97.5 (numpy)", 1e-12, 0)

-- The bootstrap: each round is the statistic of that round's resample (recomputed here by
-- hand), the interval is the percentiles of the rounds, and for a mean it is close to
-- mean ± 1.96 sd / sqrt(n).
local function mean(t) local s = 0 for _, v in ipairs(t) do s = s + v end return s / #t end
local big = {}
for i = 1, 400 do big[i] = math.sin(i * 1.7) * 3 + i % 7 end
local bs = stats.bootstrap(mean, big, {n = 500, seed = 11})
T.close(bs.estimate, mean(big), "bootstrap estimate")
local idx = stats._resample(#big, 11, 4)
local by_hand = {}
for k, i in ipairs(idx) do by_hand[k] = big[i] end
T.close(bs.values:get(5), mean(by_hand), "round 5 is the mean of its resample", 1e-6, 0)
local sd = stats.describe(big).std
T.close(bs.hi - bs.lo, 2 * 1.959963984540054 * sd / math.sqrt(#big), "interval width near the normal one", 0.12, 0)
T.close(bs.se, sd / math.sqrt(#big), "bootstrap se near sd / sqrt(n)", 0.12, 0)
-- Paired columns are resampled together; tensors by rows.
local pb = stats.bootstrap(function(s) return (stats.spearman(s[1], s[2])) end, {a, tensor.from(b)}, {n = 200, seed = 1})
T.close(pb.estimate, 0.8303030303030302, "paired bootstrap estimate (scipy spearmanr)", 1e-6, 0)
T.eq(pb.lo <= pb.estimate and pb.estimate <= pb.hi, true, "the estimate lies in its interval")
local again = stats.bootstrap(function(s) return (stats.spearman(s[1], s[2])) end, {a, tensor.from(b)}, {n = 200, seed = 1})
T.eq(again.lo, pb.lo, "bootstrap: same seed, same interval")
T.raises(function() stats.bootstrap(mean, {a, {1, 2}}) end, "column 2 has 2 values, column 1 has 10")
T.raises(function() stats.bootstrap(function() return "x" end, big) end, "the statistic returned string")
T.raises(function() stats.bootstrap(mean, big, {n = 1}) end, "option 'n' must be an integer from 2 to 1000000")
