-- report and plot outside a notebook run: values are checked, plots come back as SVG, misuse
-- is a clear error.
local T = require "helper"

local svg = plot.scatter{x = {1, 2, 3}, y = tensor.from({2, 4, 5}), title = "s", trend = true}
T.eq(svg:match("^<svg") ~= nil, true, "scatter returns SVG")
T.eq(svg:find("(r = 0.982, n = 3)", 1, true) ~= nil, true, "correlation in the title")
T.eq(plot.line{y = {a = {1, 2}, b = {2, 1}}}:match("^<svg") ~= nil, true)
T.eq(plot.bar{x = {"a", "b"}, y = {1, 2}}:match("^<svg") ~= nil, true)
T.eq(plot.hist{values = tensor.randn({100}), bins = 5}:match("^<svg") ~= nil, true)
T.eq(plot.heatmap{values = tensor.eye(3), rows = {"a", "b", "c"}}:match("^<svg") ~= nil, true)

T.raises(function() plot.scatter{x = {1, 2}} end, "bad argument #1 to 'scatter' (field 'y' is required)")
T.raises(function() plot.scatter{x = {1, 2}, y = {1}} end, "x has 2 values but y has 1")
T.raises(function() plot.scatter{x = {1, "a"}, y = {1, 2}} end, "'x'[2] is a string, expected a number")
T.raises(function() plot.bar{x = {"a"}, y = {1}, colour = "red"} end, "unknown option 'colour'")
T.raises(function() plot.heatmap{values = tensor.ones({3})} end, "'values' must be a 2-D tensor")
T.raises(function() plot.hist(5) end, "bad argument #1 to 'hist' (table expected, got number)")

report.value("x", 1)
report.value("t", {a = tensor.ones({2}), b = {1, 2}})
T.raises(function() report.value("f", print) end, "cannot record a function")
T.raises(function() report.value("v") end, "bad argument #2 to 'value' (value expected)")
report.table({{a = 1, b = "x"}, {a = 2, b = "y"}})
report.table(tensor.eye(2), {columns = {"p", "q"}, caption = "eye"})
T.raises(function() report.table(tensor.eye(2), {columns = {"p"}}) end, "2 names expected, got 1")
T.raises(function() report.table({1, 2}) end, "row 1 is a number, a table expected")
T.raises(function() report.path("../x") end, "a relative file name inside the run folder expected")
report.md("# heading")

-- Rows are read raw: a metatable whose __index raises is never called from the native side.
local trap = setmetatable({a = 1}, {__index = function() error("must not be called") end})
report.table({trap}, {columns = {"a", "b"}})
T.eq(select(1, pcall(report.value, "trap", trap)), true, "report.value reads tables raw")
