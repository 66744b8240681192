-- The plugin loader: runs each plugin file, noting what it registers (unit attributes, ablation
-- modes, models, layers). A plugin that fails is reported with its file and line; the others
-- still load.
local plugins = {}
local loaded = {}

local function keys(t)
  local s = {}
  for k in pairs(t) do s[k] = true end
  return s
end

--- Loads the files in order; returns what this call loaded, {file =, ok =, error =, registers = {...}}
--- each (plugins.list() has every plugin loaded so far).
function plugins.load(files)
  local now = {}
  for _, file in ipairs(files) do
    local registers = {}
    local ur, ar = units.register, ablation.register_mode
    units.register = function(name, fn)
      registers[#registers + 1] = "attribute " .. tostring(name)
      return ur(name, fn)
    end
    ablation.register_mode = function(name, fn)
      registers[#registers + 1] = "ablation mode " .. tostring(name)
      return ar(name, fn)
    end
    local models_before, nn_before = keys(models), keys(nn)
    local ok, err = pcall(dofile, file)
    units.register, ablation.register_mode = ur, ar
    local added = {}
    for k in pairs(models) do if not models_before[k] then added[#added + 1] = "model models." .. k end end
    for k in pairs(nn) do if not nn_before[k] then added[#added + 1] = "layer nn." .. k end end
    table.sort(added)
    for _, a in ipairs(added) do registers[#registers + 1] = a end
    local entry = {file = file, ok = ok, error = not ok and tostring(err) or nil, registers = registers}
    loaded[#loaded + 1] = entry
    now[#now + 1] = entry
  end
  return now
end

--- lesion.plugins(): what has been loaded, in order.
function plugins.list() return loaded end

return plugins
