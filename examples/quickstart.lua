-- Lesion quickstart: the tensor core from Lua.
-- Run it with `scripts/run examples/quickstart.lua` (sets up, builds in release, runs).
--
-- The idea behind the paper's rotation experiment, in a few lines: re-expressing a layer's
-- units in a random orthogonal basis changes what each single unit is, but not what the
-- network computes, because the next layer can undo the rotation.

print("Lesion " .. lesion.version .. " on " .. lesion.threads() .. " threads")

-- 512 samples of a 64-unit layer's activations, and a 10-class linear read-out.
local acts = tensor.randn({512, 64}, {seed = 1}):relu()
local readout = tensor.randn({64, 10}, {seed = 2}) / 8
local logits = acts:matmul(readout)

-- Rotate the units (acts R) and undo the rotation in the read-out (R^T W).
local R = tensor.random_rotation(64, {seed = 3})
local rotated = acts:matmul(R)
local logits_rot = rotated:matmul(R:t():matmul(readout))

local diff = (logits - logits_rot):abs():max()
print(string.format("largest change of a logit after rotating the basis: %.2e", diff))

-- Single units, though, are no longer the same: sparsity is a property of the basis.
local function sparsity(x)
  local zeros = 0
  for _, row in ipairs(x:totable()) do
    for _, v in ipairs(row) do if v == 0 then zeros = zeros + 1 end end
  end
  return zeros / x:numel()
end
print(string.format("fraction of zero activations: %.3f in the unit basis, %.3f after rotation",
  sparsity(acts), sparsity(rotated)))

-- Ablating unit u (zeroing its column) and measuring the change of the logits.
local drops = {}
for u = 1, 64 do
  local mask = tensor.ones({1, 64}); mask:set(1, u, 0)
  drops[u] = ((acts * mask):matmul(readout) - logits):norm()
end
local d = tensor.from(drops)
local sorted, order = d:sort({descending = true})
print(string.format("ablating one unit moves the logits by %.2f on average; most: unit %d (%.2f)",
  d:mean(), order[1], sorted[1]))
