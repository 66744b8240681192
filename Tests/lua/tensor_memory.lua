-- 10,000 temporary tensors in a loop: memory held by tensors returns once they are collected.
local T = require "helper"
collectgarbage()
local before = tensor.memory()
local peak = 0
for i = 1, 10000 do
  local t = tensor.ones({32, 32}) * i   -- two tensors of 4 KiB per iteration
  peak = math.max(peak, tensor.memory().bytes)
end
collectgarbage(); collectgarbage()
local after = tensor.memory()
T.eq(after.bytes, before.bytes, "bytes after collection")
T.eq(after.tensors, before.tensors, "tensors after collection")
-- 20,000 tensors of 4 KiB were made (80 MB); the collector must have kept far fewer alive.
T.eq(peak < 64 * 2^20, true, "peak bytes held " .. peak)

-- Large tensors: the host forces collections so garbage does not pile up past its threshold.
for i = 1, 50 do local t = tensor.zeros({1024, 1024 * 4}) end  -- 16 MiB each, 800 MiB in all
T.eq(tensor.memory().bytes <= 160 * 2^20, true, "large tensors held " .. tensor.memory().bytes)
