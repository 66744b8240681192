-- Lua half of the report module: report.units gathers what each unit's card shows from the
-- results a script already has (a sweep, attributes, a dissection), then the native
-- report._units draws the thumbnails and the cards.
local report = assert(package.loaded["lesion.report"], "the native report module is missing")

local function fail(msg) error("bad argument #4 to 'units' (" .. msg .. ")", 3) end

--- Rows of a result tensor{U,...} for the cards' units: `at[u]` is the row of unit u.
local function rows(t, at, list)
  local out = {}
  for i, u in ipairs(list) do
    local r = at[u]
    if t:dim() == 1 then out[i] = r and t[r] or 0 / 0
    else
      local row = {}
      for j = 1, t:size(2) do row[j] = r and t:get(r, j) or 0 / 0 end
      out[i] = row
    end
  end
  return tensor.from(out)
end

local function identity(n) local at = {}; for u = 1, n do at[u] = u end; return at end

--- report.units(model, set, layer, {units =, k = 9, sweep =, attributes =, dissection =, batch =}):
--- a card per unit (its top images with heatmaps, best concepts with IoU, attributes, and the
--- accuracy each class loses when it is ablated) under a table of all units that sorts by any
--- column and links to each card. Returns the HTML.
function report.units(model, set, layer, opts)
  require("lesion.parts").count(set, "units", 2)
  if opts ~= nil and type(opts) ~= "table" then error("bad argument #4 to 'units' (options table expected, got " .. type(opts) .. ")", 2) end
  local o = opts or {}
  for key in pairs(o) do
    if key ~= "units" and key ~= "k" and key ~= "sweep" and key ~= "attributes" and key ~= "dissection" and key ~= "batch" then
      fail("unknown option '" .. tostring(key) .. "'; expected one of: attributes, batch, dissection, k, sweep, units")
    end
  end
  local k = o.k or 9
  if math.type(k) ~= "integer" or k < 1 then fail("option 'k' must be a positive integer, got " .. tostring(o.k)) end
  if k > #set then k = #set end
  local which = o.units
  if which == nil and o.sweep ~= nil then which = o.sweep.units end
  local ok, top = pcall(units.top_images, model, set, layer, {k = k, units = which, batch = o.batch})
  if not ok then error((tostring(top):gsub("^[^:]*:%d+: ", ""):gsub("'top_images'", "'units'")), 2) end
  local list = {}
  for i = 1, top.units:size(1) do list[i] = math.tointeger(top.units[i]) end
  local spec = {values = {}}
  local s = o.sweep
  if s ~= nil then
    if type(s) ~= "table" or s.units == nil or s.class_drop == nil then fail("option 'sweep' must be the result of ablation.sweep") end
    local at = {}
    for i, u in ipairs(s.units) do at[u] = i end
    spec.values[#spec.values + 1] = {"overall drop", rows(s.overall_drop, at, list)}
    spec.values[#spec.values + 1] = {"max class drop", rows(s.max_class_drop, at, list)}
    spec.class_drop = rows(s.class_drop, at, list)
    spec.classes = set.classes
  end
  if o.attributes ~= nil then
    if type(o.attributes) ~= "table" then fail("option 'attributes' must be the result of units.attributes") end
    local names = {}
    for name, v in pairs(o.attributes) do
      if not tensor.is_tensor(v) then fail("attribute '" .. tostring(name) .. "' is not a tensor") end
      names[#names + 1] = name
    end
    table.sort(names)
    for _, name in ipairs(names) do
      spec.values[#spec.values + 1] = {name, rows(o.attributes[name], identity(o.attributes[name]:numel()), list)}
    end
  end
  local d = o.dissection
  if d ~= nil then
    if type(d) ~= "table" or d.iou == nil or d.concepts == nil then fail("option 'dissection' must be the result of units.dissect") end
    local at = identity(d.iou:size(1))
    spec.iou = rows(d.iou, at, list)
    spec.concepts = d.concepts
    spec.thresholds = rows(d.thresholds, at, list)
  end
  return report._units(model, set, layer, top.indices, top.units, spec)
end

return report
