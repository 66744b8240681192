-- The ablation module: the native sweep wrapped in a result object.
local ablation = require "lesion.ablation"   -- the native table (evaluate, _sweep)

local Result = {}
Result.__index = Result

local keys = {accuracy = true, overall_drop = true, max_class_drop = true}

--- r:top(n, key): rows {unit =, value =} of the n units with the largest `key`
--- ("overall_drop", "max_class_drop" or "accuracy"), largest first.
function Result:top(n, key)
  key = key or "max_class_drop"
  if not keys[key] then
    error(string.format("bad argument #2 to 'top' (unknown key '%s'; expected accuracy, max_class_drop or overall_drop)", tostring(key)), 2)
  end
  if type(n) ~= "number" or n < 1 then error("bad argument #1 to 'top' (positive number expected)", 2) end
  local values, order = self[key]:sort({descending = true})
  local rows = {}
  for i = 1, math.min(n, #self.units) do
    local k = order[i]
    rows[i] = {unit = self.units[k], value = values[i], accuracy = self.accuracy[k],
               overall_drop = self.overall_drop[k], max_class_drop = self.max_class_drop[k]}
  end
  return rows
end

local function csv_field(s)
  s = tostring(s)
  if s:find('[,"\n]') then s = '"' .. s:gsub('"', '""') .. '"' end
  return s
end

local function json_string(s)
  return '"' .. tostring(s):gsub('[%c"\\]', function(c)
    if c == '"' then return '\\"' elseif c == "\\" then return "\\\\" end
    return string.format("\\u%04x", c:byte())
  end) .. '"'
end

local function json_number(x)
  if x ~= x or x == math.huge or x == -math.huge then return "null" end
  return string.format("%.17g", x)
end

--- r:save(path): CSV (unit, accuracy, overall_drop, max_class_drop, one drop column per class)
--- or JSON, by the file's extension.
function Result:save(path)
  if type(path) ~= "string" then error("bad argument #1 to 'save' (string expected, got " .. type(path) .. ")", 2) end
  local ext = path:match("%.(%w+)$")
  local lines = {}
  if ext == "csv" then
    local header = {"unit", "accuracy", "overall_drop", "max_class_drop"}
    for _, c in ipairs(self.classes) do header[#header + 1] = csv_field(c) end
    lines[1] = table.concat(header, ",")
    for i, u in ipairs(self.units) do
      local row = {u, json_number(self.accuracy[i]), json_number(self.overall_drop[i]), json_number(self.max_class_drop[i])}
      for k = 1, #self.classes do row[#row + 1] = json_number(self.class_drop:get(i, k)) end
      lines[#lines + 1] = table.concat(row, ",")
    end
  elseif ext == "json" then
    local rows = {}
    for i, u in ipairs(self.units) do
      local drops = {}
      for k = 1, #self.classes do drops[k] = json_number(self.class_drop:get(i, k)) end
      rows[i] = string.format('{"unit":%d,"accuracy":%s,"overall_drop":%s,"max_class_drop":%s,"class_drop":[%s]}',
        u, json_number(self.accuracy[i]), json_number(self.overall_drop[i]), json_number(self.max_class_drop[i]),
        table.concat(drops, ","))
    end
    local classes = {}
    for k, c in ipairs(self.classes) do classes[k] = json_string(c) end
    lines[1] = string.format('{"layer":%s,"mode":%s,"base_accuracy":%s,"classes":[%s],"units":[%s]}',
      json_string(self.layer), json_string(self.mode), json_number(self.base.accuracy),
      table.concat(classes, ","), table.concat(rows, ","))
  else
    error("bad argument #1 to 'save' (path must end in .csv or .json, got '" .. path .. "')", 2)
  end
  local f, err = io.open(path, "w")
  if not f then error("save: cannot write '" .. path .. "': " .. tostring(err), 2) end
  f:write(table.concat(lines, "\n"), "\n")
  f:close()
end

--- ablation.sweep(model, set, layer, {units =, mode = "zero" | "mean", batch =}): each unit
--- ablated alone. See docs/api.md for the fields of the result.
function ablation.sweep(model, set, layer, opts)
  local ok, units, base, correct, totals = pcall(ablation._sweep, model, set, layer, opts)
  if not ok then
    -- Name the public function, at the caller's line.
    error((tostring(units):gsub("^[^:]*:%d+: ", ""):gsub("'[%w%.]*_sweep'", "'sweep'")), 2)
  end
  local r = setmetatable({layer = layer, mode = (opts and opts.mode) or "zero", units = units, base = base,
                          classes = set.classes}, Result)
  local n = totals:sum()
  r.accuracy = correct:sum(2) / n
  r.per_class = correct / totals
  r.overall_drop = r.accuracy * -1 + base.accuracy
  r.class_drop = r.per_class * -1 + base.per_class
  r.max_class_drop = r.class_drop:max(2)
  return r
end

return ablation
