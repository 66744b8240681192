-- The plugin loader: runs each plugin file, noting what it registers (unit attributes, ablation
-- modes, models, layers). A plugin that fails is reported with its file and line, everything it
-- registered before failing is taken back (so no half-loaded plugin is left), and the others
-- still load.
local plugins = {}
local loaded = {}

local function copy(t)
  local s = {}
  for k, v in pairs(t) do s[k] = v end
  return s
end

--- Puts table t back as `before` was (new keys removed, changed ones restored).
local function restore(t, before)
  for k in pairs(t) do if before[k] == nil then t[k] = nil end end
  for k, v in pairs(before) do t[k] = v end
end

--- Loads the files in order; returns what this call loaded, {file =, ok =, error =, registers = {...}}
--- each (plugins.list() has every plugin loaded so far). A failed plugin's `registers` is empty.
function plugins.load(files)
  local now = {}
  for _, file in ipairs(files) do
    local registers, undo = {}, {}
    --- A register function that also notes what it registered and how to take it back.
    local function tracked(register, registered, restore, what)
      return function(name, fn)
        local previous = registered(name)
        register(name, fn)
        registers[#registers + 1] = what .. " " .. tostring(name)
        undo[#undo + 1] = function() restore(name, previous) end
      end
    end
    local ur, ar = units.register, ablation.register_mode
    units.register = tracked(ur, units._registered, units._restore, "attribute")
    ablation.register_mode = tracked(ar, ablation._registered_mode, ablation._restore_mode, "ablation mode")
    local models_before, nn_before = copy(models), copy(nn)
    local ok, err = pcall(dofile, file)
    units.register, ablation.register_mode = ur, ar
    if ok then
      local added = {}
      for k in pairs(models) do if not models_before[k] then added[#added + 1] = "model models." .. k end end
      for k in pairs(nn) do if not nn_before[k] then added[#added + 1] = "layer nn." .. k end end
      table.sort(added)
      for _, a in ipairs(added) do registers[#registers + 1] = a end
    else
      for i = #undo, 1, -1 do undo[i]() end
      restore(models, models_before)
      restore(nn, nn_before)
      registers = {}
    end
    local entry = {file = file, ok = ok, error = not ok and tostring(err) or nil, registers = registers}
    loaded[#loaded + 1] = entry
    now[#now + 1] = entry
  end
  return now
end

--- lesion.plugins(): what has been loaded, in order.
function plugins.list() return loaded end

return plugins
