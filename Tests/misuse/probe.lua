-- Regression cases from an independent probe of about 1,000 misuses (issue 13, item 6): each
-- once crashed, hung or trapped the host, or gave an unclear message. Each must now be a clear
-- Lua error whose message matches the pattern. Usage: lesion run probe.lua -- <scratch folder>
local scratch = assert(arg[1], "usage: probe.lua <scratch folder>")
local cases, failed = 0, 0

local function refuses(what, pattern, fn, ...)
  cases = cases + 1
  local ok, err = pcall(fn, ...)
  if ok then
    failed = failed + 1
    print("ACCEPTED: " .. what)
  elseif not tostring(err):find(pattern) then
    failed = failed + 1
    print("UNCLEAR: " .. what .. "\n  got: " .. tostring(err) .. "\n  wanted: " .. pattern)
  end
end

local function accepts(what, fn, ...)
  cases = cases + 1
  local ok, err = pcall(fn, ...)
  if not ok then
    failed = failed + 1
    print("REFUSED: " .. what .. ": " .. tostring(err))
  end
end

-- Nested and cyclic tables: every walk of a script's table has a depth limit and sees cycles.
local cyclic = {} cyclic[1] = cyclic
refuses("tensor.from of a table that holds itself", "nested more than 32 deep %(or a table that holds itself%)", tensor.from, cyclic)
local deep = {1} for _ = 1, 99 do deep = {deep} end
refuses("tensor.from of 100 nested tables", "nested more than 32 deep", tensor.from, deep)
local c = {} c.c = c
refuses("report.table with a cycle", "nested too deeply %(or a cycle%)", report.table, {{a = c}})
refuses("report.value with a cycle", "nested too deeply %(or a cycle%)", report.value, "x", c)
refuses("cache key with a cycle", "nested too deeply %(or a cycle%)", cache, c, function() return 1 end)
accepts("cache value nested 40 deep", cache, "probe-deep40", function()
  local a = {1} for _ = 1, 40 do a = {a} end return a end)
refuses("cache value nested 80 deep", "nested too deeply", cache, "probe-deep80", function()
  local a = {1} for _ = 1, 80 do a = {a} end return a end)
-- After a stack overflow in the script, a walk must still find room on the stack.
local function overflow() return overflow() + 1 end
pcall(overflow)
refuses("report.table with a cycle after a stack overflow", "nested too deeply", report.table, {{a = c}})

-- Integer overflow in shape arithmetic.
local t = tensor.zeros{2, 3}
refuses("reshape to {1<<62, 4, -1}", "cannot reshape {2,3} %(6 elements%)", t.reshape, t, {1 << 62, 4, -1})
refuses("narrow by math.maxinteger", "does not fit in dimension 2 of size 3", t.narrow, t, 2, 2, math.maxinteger)
refuses("a convolution with padding math.maxinteger", "padding 9223372036854775807 is larger than 1048576",
  nn.Conv2d, 1, 8, 3, {padding = math.maxinteger})
refuses("max pooling with stride 1<<40", "stride 1099511627776 is larger", nn.MaxPool2d, 2, {stride = 1 << 40})
refuses("adaptive pooling to 1<<40", "larger than 1048576", nn.AdaptiveAvgPool2d, 1 << 40)

-- Huge batches and class counts are sized by the data, not allocated as asked.
local m = models.fashionnet{}
local small = data.shapes{n = 6}
accepts("fit with batch 1<<40 (the whole set is one batch)", m.fit, m, small, {batch = 1 << 40, epochs = 1, progress = false})
accepts("evaluate with batch 1e18", m.evaluate, m, small, {batch = 1e18})
accepts("activations with batch 1<<40", m.activations, m, small, "relu1", {batch = 1 << 40})
refuses("fashionnet{classes = 1e18}", "option 'classes' must be an integer from 1 to 1048576", models.fashionnet, {classes = 1e18})
refuses("labels of 3e9", "labels must be integers from 1 to 1048576", data.from_tensors, tensor.zeros{2, 1, 4, 4}, tensor.from{3e9, 1})
refuses("labels of inf", "labels must be integers from 1", data.from_tensors, tensor.from{{1}, {2}}, tensor.from{1 / 0, 1})
refuses("labels of 2^62", "labels must be integers from 1", data.from_tensors, tensor.from{{1}, {2}}, tensor.from{2 ^ 62, 1})
refuses("{classes = 1<<40}", "option 'classes' must be a count from 1 to 1048576", data.from_tensors,
  tensor.from{{1}, {2}}, tensor.from{1, 2}, {classes = 1 << 40})

-- Files that are not regular files: no blocking on a FIFO, no writing over a device.
local fifo = scratch .. "/fifo"
refuses("tensor.load of a FIFO", "it is a FIFO, not a regular file", tensor.load, fifo)
refuses("data.idx of a FIFO", "it is a FIFO, not a regular file", data.idx, fifo, fifo)
refuses("m:load of a FIFO", "it is a FIFO, not a regular file", m.load, m, fifo)
refuses("data.image of a FIFO", "it is a FIFO, not a regular file", data.image, fifo)
refuses("tensor.load of a folder", "it is a folder, not a regular file", tensor.load, scratch)
refuses("tensor.load of a symbolic-link loop", "Too many levels of symbolic links", tensor.load, scratch .. "/loop")
refuses("t:save over a FIFO", "cannot write '.*fifo': it is a FIFO, not a regular file", t.save, t, fifo)
refuses("t:save through a link to /dev/null", "it leads to a device, not a regular file", t.save, t, scratch .. "/null")

-- Messages that name the function, the argument and the problem.
refuses("stats.describe(nil)", "^bad argument #1 to '[%w.]*describe' %(tensor or array of numbers expected, got nil%)$", stats.describe, nil)
refuses("nn.Sequential with a string seed", "bad argument #1 to '[%w.]*Sequential' %(field 'seed': number expected, got string%)",
  nn.Sequential, {nn.ReLU(), seed = "x"})
refuses("nn.Sequential with a string input", "field 'input': shape table expected", nn.Sequential, {nn.ReLU(), input = "x"})
refuses("a NaN unit", "option 'units': element 1 is %-?nan, expected a whole unit number", ablation.sweep, m, small, "relu4", {units = {0 / 0}})
refuses("units.attributes{names = 5}", "option 'names' must be a list of attribute names, got number", units.attributes, m, small, "relu4", {names = 5})
refuses("fashionnet{dropout = -1}", "option 'dropout' must be a rate from 0 up to 1, got %-1", models.fashionnet, {dropout = -1})
refuses("fashionnet{bn = 'x'}", "option 'bn' must be a boolean, got string", models.fashionnet, {bn = "x"})
refuses("resnet18{width = 0}", "option 'width' must be an integer from 1 to 1048576, got 0", models.resnet18, {width = 0})
refuses("a method called without a name", "^bad argument #2 to 'reshape'", t.reshape, t, {1 << 62, 4, -1})

print(string.format("probe: %d cases, %d failed", cases, failed))
if failed == 0 then print("probe: all refused clearly") end
