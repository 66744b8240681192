-- Lesion quickstart: train the reference CNN on Fashion-MNIST, evaluate it per class, and ablate
-- one unit by hand. Run it with `scripts/run examples/quickstart.lua` (about a minute on 2 cores).
--   scripts/run examples/quickstart.lua --set epochs=2      (more training)

local p = params{epochs = 1, seed = 1}
local epochs = p.epochs

print("Lesion " .. lesion.version .. " on " .. lesion.threads() .. " threads\n")

local train, test = data.fashion_mnist()
print(train)
print(test)

local model = models.fashionnet{seed = p.seed}
print("\n" .. tostring(model) .. "\n")

local history = model:fit(train, {epochs = epochs, batch = 64, lr = 0.01, momentum = 0.9,
                                  weight_decay = 5e-4, seed = p.seed})
local base = model:evaluate(test)
print(string.format("\ntest accuracy %.2f%% (loss %.4f) after %d epoch(s), trained at %.0f images/s",
  100 * base.accuracy, base.loss, epochs, history.images_per_s[#history.images_per_s]))

print("\nper-class accuracy:")
for k, name in ipairs(test.classes) do
  print(string.format("  %-12s %6.2f%%", name, 100 * base.per_class[k]))
end

-- Ablate one unit of conv4 by hand: zero its filter and bias, so relu4's channel is always 0.
-- (The ablation module will do this for every unit at once, exactly and tens of times faster.)
local function ablated(unit)
  local m = model:clone()
  local conv = m:layer("conv4")
  for c = 1, conv.in_channels do for i = 1, 3 do for j = 1, 3 do conv.weight:set(unit, c, i, j, 0) end end end
  conv.bias:set(unit, 0)
  return m:evaluate(test)
end

print("\nablating single units of conv4 (relu4):")
for _, unit in ipairs({1, 17, 42, 77, 100}) do
  local r = ablated(unit)
  local drops = base.per_class - r.per_class
  local _, k = drops:max(1)
  k = k[1]
  print(string.format("  unit %3d: overall %+.2f points, largest class drop %+.2f points (%s)",
    unit, 100 * (r.accuracy - base.accuracy), -100 * drops[k], test.classes[k]))
end
