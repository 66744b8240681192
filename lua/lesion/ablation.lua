-- The ablation module: the native sweep wrapped in a result object.
local ablation = assert(package.loaded["lesion.ablation"], "the native ablation module is missing")  -- _sweep, _evaluate, rotate
local parts = require "lesion.parts"

--- Calls a native function; its errors name `public` and point at the caller of the caller.
local function native(public, f, ...)
  local r = table.pack(pcall(f, ...))
  if not r[1] then
    error((tostring(r[2]):gsub("^[^:]*:%d+: ", ""):gsub("'[%w%.]*_[%w_]+'", "'" .. public .. "'")), 3)
  end
  return table.unpack(r, 2, r.n)
end

-- Modes added by plugins: name -> fn(ctx) returning a tensor of one value per unit.
local modes = {}

--- ablation.register_mode(name, fn): fn({model =, set =, layer =}) returns the value of each
--- unit of the layer when ablated (a tensor{U}); then {mode = name} works in sweep and evaluate.
function ablation.register_mode(name, fn)
  if type(name) ~= "string" or name == "" then error("bad argument #1 to 'register_mode' (non-empty string expected)", 2) end
  if name == "zero" or name == "mean" then error("bad argument #1 to 'register_mode' ('" .. name .. "' is built in)", 2) end
  if type(fn) ~= "function" then error("bad argument #2 to 'register_mode' (function expected, got " .. type(fn) .. ")", 2) end
  modes[name] = fn
end

--- Internal (the plugin loader): the mode registered under `name`, and putting one back.
function ablation._registered_mode(name) return modes[name] end
function ablation._restore_mode(name, fn)
  if type(name) ~= "string" then error("bad argument #1 to '_restore_mode' (string expected, got " .. type(name) .. ")", 2) end
  if fn ~= nil and type(fn) ~= "function" then error("bad argument #2 to '_restore_mode' (function or nil expected, got " .. type(fn) .. ")", 2) end
  modes[name] = fn
end

function ablation.modes()
  local names = {"zero", "mean"}
  for k in pairs(modes) do names[#names + 1] = k end
  table.sort(names)
  return names
end

--- Options with a plugin mode turned into per-unit values for the native side; `where` names
--- the options argument in errors (e.g. "#4 to 'sweep'").
local function resolve(opts, model, set, layer, where)
  if type(opts) ~= "table" or opts.mode == nil or opts.mode == "zero" or opts.mode == "mean" then return opts end
  local fn = modes[opts.mode]
  if not fn then
    error(string.format("bad argument %s (option 'mode': unknown mode '%s'; modes are: %s)", where, tostring(opts.mode),
      table.concat(ablation.modes(), ", ")), 3)
  end
  local values = fn{model = model, set = set, layer = layer}
  if not tensor.is_tensor(values) then
    error("the ablation mode '" .. opts.mode .. "' returned " .. type(values) .. ", expected a tensor of one value per unit", 3)
  end
  local out = {}
  for k, v in pairs(opts) do if k ~= "mode" then out[k] = v end end
  out.values = values
  return out
end

--- ablation.evaluate(model, set, {[layer] = {units...}, ...}, {mode =, batch =}): evaluation with
--- the units of one or more layers ablated together.
function ablation.evaluate(model, set, lesions, opts)
  if type(opts) == "table" and modes[opts.mode] then
    local layer, count = nil, 0
    for k in pairs(lesions) do layer = k; count = count + 1 end
    if count ~= 1 then error("bad argument #4 to 'evaluate' (a plugin mode takes the units of one layer)", 2) end
    opts = resolve(opts, model, set, layer, "#4 to 'evaluate'")
  end
  return native("evaluate", ablation._evaluate, model, set, lesions, opts)
end

--- ablation.curve(model, set, layer, order, {steps =, mode =, batch =}): ablates the first k units
--- of `order` together, for each k of `steps` (default: 0 to #order in about ten steps), in one
--- pass over the data like a sweep; returns {steps, accuracy = tensor{S}, per_class = tensor{S,K},
--- order}. Cached like a sweep.
function ablation.curve(model, set, layer, order, opts)
  parts.count(set, "curve", 2)
  if opts ~= nil and type(opts) ~= "table" then error("bad argument #5 to 'curve' (table of options expected, got " .. type(opts) .. ")", 2) end
  -- Random orders: several curves, their mean and band.
  if order == "random" then
    opts = opts or {}
    local seeds = opts.seeds or 5
    if math.type(seeds) == "integer" then
      if seeds < 1 or seeds > 1000 then error("bad argument #5 to 'curve' (option 'seeds' must be a count from 1 to 1000 or a list of seeds)", 2) end
      local list = {}
      for i = 1, seeds do list[i] = i - 1 end
      seeds = list
    end
    if type(seeds) ~= "table" or #seeds == 0 then error("bad argument #5 to 'curve' (option 'seeds' must be a count from 1 to 1000 or a list of seeds)", 2) end
    local count = native("curve", ablation._unit_count, model, set, layer)
    if count == nil then error("bad argument #4 to 'curve' (random orders need a model whose layer sizes are known)", 2) end
    local rest = {}
    for k, v in pairs(opts) do if k ~= "seeds" then rest[k] = v end end
    local runs, orders, curves = {}, {}, nil
    for i, s in ipairs(seeds) do
      if math.type(s) ~= "integer" or s < 0 then error("bad argument #5 to 'curve' (seed " .. i .. " must be a non-negative integer)", 2) end
      orders[i] = stats._shuffle(count, s)
      curves = ablation.curve(model, set, layer, orders[i], rest)
      runs[i] = curves.accuracy
    end
    local all = tensor.stack(runs)
    local out = {steps = curves.steps, accuracy = all:mean(1), runs = all, orders = orders, seeds = seeds, base = curves.base}
    out.band = tensor.stack({(all:min(1)), (all:max(1))}, 2)
    out.std = #seeds > 1 and all:std(1) or all:mean(1) * 0
    return out
  end
  -- An order by a sweep's measure, ranked on another split (rank_on) than the one measured.
  local ranked_on
  if type(order) == "string" then
    opts = opts or {}
    local rank_set = opts.rank_on or set
    parts.count(rank_set, "curve", 5)
    local r = ablation.sweep(model, rank_set, layer, {mode = opts.mode, batch = opts.batch})
    local ok, rows = pcall(r.top, r, #r.units, order)
    if not ok then
      error("bad argument #4 to 'curve' (an order is a list of units, \"random\", or a sweep's key: accuracy, max_class_drop or overall_drop; got '" .. order .. "')", 2)
    end
    order = {}
    for i, row in ipairs(rows) do order[i] = row.unit end
    ranked_on = rank_set.name
    local rest = {}
    for k, v in pairs(opts) do if k ~= "rank_on" then rest[k] = v end end
    opts = rest
  elseif opts and opts.rank_on ~= nil then
    error("bad argument #5 to 'curve' (option 'rank_on' goes with an order named by a sweep's key, such as \"max_class_drop\")", 2)
  end
  if tensor.is_tensor(order) then order = order:totable() end
  if type(order) ~= "table" or #order == 0 then error("bad argument #4 to 'curve' (a non-empty list of units expected)", 2) end
  if opts ~= nil and type(opts) ~= "table" then error("bad argument #5 to 'curve' (table of options expected, got " .. type(opts) .. ")", 2) end
  opts = opts or {}
  local steps = opts.steps
  if steps == nil then
    steps = {}
    local n = #order
    local stride = math.max(1, math.ceil(n / 10))
    for k = 0, n, stride do steps[#steps + 1] = k end
    if steps[#steps] ~= n then steps[#steps + 1] = n end
  end
  if type(steps) ~= "table" then error("bad argument #5 to 'curve' (option 'steps' must be a list of counts)", 2) end
  for i, k in ipairs(steps) do
    if type(k) ~= "number" or k < 0 or k > #order or k % 1 ~= 0 then
      error(string.format("bad argument #5 to 'curve' (step %d is %s; steps are counts from 0 to %d)", i, tostring(k), #order), 2)
    end
  end
  local native_opts = {mode = opts.mode, batch = opts.batch}
  local resolved = resolve(native_opts, model, set, layer, "#5 to 'curve'")
  local key = {model, set, layer, order = order, steps = steps, mode = resolved.mode, values = resolved.values, cut = "samples"}
  -- Parts: chunks of samples (lesion.parts); their counts add up exactly.
  local chunks = parts.chunks(#set)
  if resolved.mode == "mean" and #chunks > 1 then
    resolved = {batch = resolved.batch, values = native("curve", parts.means, model, set, layer)}
  end
  local function compute(ps)
    return parts.progress("curve", chunks, ps, function()
      local out = {}
      for _, p in ipairs(ps) do
        out[p] = {ablation._curve(model, parts.samples(set, chunks[p]), layer, order, steps, resolved)}
      end
      return out
    end)
  end
  local function assemble(ps)
    local bases, correct, totals = {}, ps[1][2], ps[1][3]
    for c = 1, #ps do
      bases[c] = ps[c][1]
      if c > 1 then correct, totals = correct + ps[c][2], totals + ps[c][3] end
    end
    return parts.evaluation(bases), correct, totals
  end
  local base, correct, totals = native("curve", lesion._cached_split, "ablation.curve(" .. tostring(layer) .. ")", key,
    #chunks, compute, assemble)
  return {steps = steps, accuracy = correct:sum(2) / totals:sum(), per_class = correct / totals, order = order, base = base,
          ranked_on = ranked_on}
end

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
  local rows = {columns = {"unit", "value", "accuracy", "overall_drop", "max_class_drop"}}
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
    -- With intervals: each drop's ends, after the drops.
    if self.ci then
      header[#header + 1], header[#header + 2] = "overall_drop_lo", "overall_drop_hi"
      for _, c in ipairs(self.classes) do
        header[#header + 1], header[#header + 2] = csv_field(c .. "_lo"), csv_field(c .. "_hi")
      end
    end
    lines[1] = table.concat(header, ",")
    for i, u in ipairs(self.units) do
      local row = {u, json_number(self.accuracy[i]), json_number(self.overall_drop[i]), json_number(self.max_class_drop[i])}
      for k = 1, #self.classes do row[#row + 1] = json_number(self.class_drop:get(i, k)) end
      if self.ci then
        row[#row + 1], row[#row + 2] = json_number(self.ci.overall_drop:get(i, 1)), json_number(self.ci.overall_drop:get(i, 2))
        for k = 1, #self.classes do
          row[#row + 1], row[#row + 2] = json_number(self.ci.class_drop:get(i, k, 1)), json_number(self.ci.class_drop:get(i, k, 2))
        end
      end
      lines[#lines + 1] = table.concat(row, ",")
    end
  elseif ext == "json" then
    local rows = {}
    for i, u in ipairs(self.units) do
      local drops = {}
      for k = 1, #self.classes do drops[k] = json_number(self.class_drop:get(i, k)) end
      local ci = ""
      if self.ci then
        local ends = {}
        for k = 1, #self.classes do
          ends[k] = "[" .. json_number(self.ci.class_drop:get(i, k, 1)) .. "," .. json_number(self.ci.class_drop:get(i, k, 2)) .. "]"
        end
        ci = string.format(',"overall_drop_ci":[%s,%s],"class_drop_ci":[%s]', json_number(self.ci.overall_drop:get(i, 1)),
          json_number(self.ci.overall_drop:get(i, 2)), table.concat(ends, ","))
      end
      rows[i] = string.format('{"unit":%d,"accuracy":%s,"overall_drop":%s,"max_class_drop":%s,"class_drop":[%s]%s}',
        u, json_number(self.accuracy[i]), json_number(self.overall_drop[i]), json_number(self.max_class_drop[i]),
        table.concat(drops, ","), ci)
    end
    local classes = {}
    for k, c in ipairs(self.classes) do classes[k] = json_string(c) end
    local ci = ""
    if self.ci then
      ci = string.format(',"ci":{"level":%s,"bootstrap":%d,"seed":%d,"base_accuracy":[%s,%s]}', json_number(self.ci.level),
        self.ci.bootstrap, self.ci.seed, json_number(self.ci.base_accuracy[1]), json_number(self.ci.base_accuracy[2]))
    end
    lines[1] = string.format('{"layer":%s,"mode":%s,"base_accuracy":%s,"classes":[%s]%s,"units":[%s]}',
      json_string(self.layer), json_string(self.mode), json_number(self.base.accuracy),
      table.concat(classes, ","), ci, table.concat(rows, ","))
  else
    error("bad argument #1 to 'save' (path must end in .csv or .json, got '" .. path .. "')", 2)
  end
  local f, err = io.open(path, "w")
  if not f then error("save: cannot write '" .. path .. "': " .. tostring(err), 2) end
  f:write(table.concat(lines, "\n"), "\n")
  f:close()
end

--- A sweep's result object from the native counts.
local function result(layer, opts, units, base, correct, totals, set)
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

--- ablation.sweep(model, set, layer, {units =, mode = "zero" | "mean", batch =}): each unit
--- ablated alone. See docs/api.md for the fields of the result.
-- Turned samples (tensor{F+1,2}: a row {F, 0}, then rows {unit row, position}) of unit rows
-- first .. first + n - 1, rebased to rows 1 .. n.
local function turned_rows(turned, first, n)
  local out = {{0, 0}}
  for j, row in ipairs(turned:totable()) do
    if j > 1 and row[1] >= first and row[1] < first + n then out[#out + 1] = {row[1] - first + 1, row[2]} end
  end
  out[1][1] = #out - 1
  return tensor.from(out)
end

-- The turned samples of several parts in one tensor: each part's rows moved by `row`, its
-- positions by `pos`.
local function turned_join(list)
  local out = {{0, 0}}
  for _, part in ipairs(list) do
    for j, row in ipairs(part.turned:totable()) do
      if j > 1 then out[#out + 1] = {row[1] + part.row, row[2] + part.pos} end
    end
  end
  out[1][1] = #out - 1
  return tensor.from(out)
end

-- The interval options of a sweep ({ci =, bootstrap =, seed =}), checked and taken out of opts.
local function interval_options(opts)
  if type(opts) ~= "table" or (opts.ci == nil and opts.bootstrap == nil) then return opts, nil end
  local ci, rounds, seed = opts.ci or 0.95, opts.bootstrap or 1000, opts.seed or 0
  if type(ci) ~= "number" or not (ci > 0 and ci < 1) then
    error("bad argument #4 to 'sweep' (option 'ci' must be between 0 and 1, got " .. tostring(ci) .. ")", 3)
  end
  if math.type(rounds) ~= "integer" or rounds < 2 or rounds > 100000 then
    error("bad argument #4 to 'sweep' (option 'bootstrap' must be an integer from 2 to 100000, got " .. tostring(rounds) .. ")", 3)
  end
  if math.type(seed) ~= "integer" or seed < 0 then
    error("bad argument #4 to 'sweep' (option 'seed' must be a non-negative integer, got " .. tostring(seed) .. ")", 3)
  end
  local rest = {}
  for k, v in pairs(opts) do if k ~= "ci" and k ~= "bootstrap" and k ~= "seed" then rest[k] = v end end
  return rest, {ci = ci, bootstrap = rounds, seed = seed}
end

function ablation.sweep(model, set, layer, opts)
  parts.count(set, "sweep", 2)
  local intervals
  opts, intervals = interval_options(opts)
  local resolved = resolve(opts, model, set, layer, "#4 to 'sweep'")
  -- Cached by everything that determines the numbers (the batch size does not).
  local key = {model, set, layer}
  if type(resolved) == "table" then key.units, key.mode, key.values = resolved.units, resolved.mode, resolved.values end
  key.cut = "samples"
  -- With intervals, the parts also keep each sample's answers (one more cache entry's worth).
  key.answers = intervals ~= nil or nil
  -- Cut into parts that shards compute and a later run assembles (lesion._cached_split).
  local label = "ablation.sweep(" .. tostring(layer) .. ")"
  local all = type(resolved) == "table" and resolved.units or nil
  local function finish(units, base, correct, totals, rights, turned)
    local r = result(layer, opts, units, base, correct, totals, set)
    if intervals then
      r.ci = native("sweep", ablation._intervals, set, rights, turned, #units, intervals)
    end
    return r
  end
  if all == nil then
    local count = native("sweep", ablation._unit_count, model, set, layer)
    if count == nil then  -- known only by running the model: one piece
      local o = {}
      if type(resolved) == "table" then for k, v in pairs(resolved) do o[k] = v end end
      o.answers = intervals ~= nil or nil
      return finish(native("sweep", lesion._cached, label, key, function() return ablation._sweep(model, set, layer, o) end))
    end
    all = {}
    for u = 1, count do all[u] = u end
  elseif tensor.is_tensor(all) then
    all = all:totable()
  end
  -- Parts: chunks of samples (each runs the model over its own samples) times groups of
  -- units (about lesion.parts.max parts in all; a set of one chunk is cut by units alone). A unit's
  -- counts do not depend on its group, and a chunk's on the others: the parts add up exactly.
  local chunks = parts.chunks(#set)
  local groups = parts.groups(all, math.max(1, math.min(#all, -(-parts.max // #chunks))))
  local ng = #groups
  local base_opts = {}
  if type(resolved) == "table" then for k, v in pairs(resolved) do base_opts[k] = v end end
  base_opts.answers = intervals ~= nil or nil
  if base_opts.mode == "mean" and #chunks > 1 then base_opts.mode, base_opts.values = nil, parts.means(model, set, layer) end
  local function compute(ps)
    -- Part p is chunk (p - 1) // ng + 1 and group (p - 1) % ng + 1; one native call per chunk.
    local byChunk, out = {}, {}
    for _, p in ipairs(ps) do
      local c = (p - 1) // ng + 1
      byChunk[c] = byChunk[c] or {}
      table.insert(byChunk[c], p)
    end
    local of = {}
    for _, p in ipairs(ps) do of[p] = chunks[(p - 1) // ng + 1] end
    return parts.progress("sweep", of, ps, function()
      for c = 1, #chunks do
        local list = byChunk[c]
        if list then
          local us = {}
          for _, p in ipairs(list) do local g = groups[(p - 1) % ng + 1]; table.move(g, 1, #g, #us + 1, us) end
          local o = {}
          for k, v in pairs(base_opts) do o[k] = v end
          o.units = us
          local u, b, cr, t, rights, turned = ablation._sweep(model, parts.samples(set, chunks[c]), layer, o)
          local row = 1
          for _, p in ipairs(list) do
            local n = #groups[(p - 1) % ng + 1]
            out[p] = {table.move(u, row, row + n - 1, 1, {}), b, cr:narrow(1, row, n), t}
            if rights then out[p][5], out[p][6] = rights, turned_rows(turned, row, n) end
            row = row + n
          end
        end
      end
      return out
    end)
  end
  local function assemble(ps)
    local us, rows = {}, {}
    for g = 1, ng do
      table.move(ps[g][1], 1, #ps[g][1], #us + 1, us)
      local sum = ps[g][3]
      for c = 2, #chunks do sum = sum + ps[(c - 1) * ng + g][3] end
      rows[g] = sum
    end
    local bases, totals = {}, ps[1][4]
    for c = 1, #chunks do
      bases[c] = ps[(c - 1) * ng + 1][2]
      if c > 1 then totals = totals + ps[(c - 1) * ng + 1][4] end
    end
    if not intervals then return us, parts.evaluation(bases), tensor.cat(rows, 1), totals end
    -- Answers: each chunk's base answers (from its first group), turned samples moved to the
    -- whole sweep's rows and the set's positions.
    local rights, list, row = {}, {}, 0
    for c = 1, #chunks do rights[c] = ps[(c - 1) * ng + 1][5] end
    for g = 1, ng do
      for c = 1, #chunks do list[#list + 1] = {turned = ps[(c - 1) * ng + g][6], row = row, pos = chunks[c].first - 1} end
      row = row + #ps[g][1]
    end
    return us, parts.evaluation(bases), tensor.cat(rows, 1), totals, tensor.cat(rights, 1), turned_join(list)
  end
  return finish(native("sweep", lesion._cached_split, label, key, #chunks * ng, compute, assemble))
end

--- ablation.null(model, set, layer, {n = 5, seed = 0, mode =, batch =}): the null baseline of a
--- sweep: the same sweep in n randomly rotated bases of the layer (ablation.rotate with seeds
--- seed, seed + 1, ...; the units swept are those of `<layer>_rot`). Returns {runs (each a sweep
--- result), seeds, overall_drop = tensor{n,U}, max_class_drop = tensor{n,U}, mean_overall_drop =
--- tensor{n}, mean_max_class_drop = tensor{n}} (means over units, one per rotation): what the
--- measures give for units that are random mixtures of the layer's own.
function ablation.null(model, set, layer, opts)
  parts.count(set, "null", 2)
  if opts ~= nil and type(opts) ~= "table" then error("bad argument #4 to 'null' (options table expected, got " .. type(opts) .. ")", 2) end
  opts = opts or {}
  for k in pairs(opts) do
    if k ~= "n" and k ~= "seed" and k ~= "mode" and k ~= "batch" then
      error("bad argument #4 to 'null' (unknown option '" .. tostring(k) .. "'; expected one of: batch, mode, n, seed)", 2)
    end
  end
  local n, seed = opts.n or 5, opts.seed or 0
  if math.type(n) ~= "integer" or n < 1 or n > 1000 then
    error("bad argument #4 to 'null' (option 'n' must be an integer from 1 to 1000, got " .. tostring(n) .. ")", 2)
  end
  if math.type(seed) ~= "integer" or seed < 0 then
    error("bad argument #4 to 'null' (option 'seed' must be a non-negative integer, got " .. tostring(seed) .. ")", 2)
  end
  local name = layer
  if math.type(layer) == "integer" then name = model:layers()[layer] end
  if type(name) ~= "string" then error("bad argument #3 to 'null' (a layer name or index expected, got " .. type(layer) .. ")", 2) end
  local names = model:layers()
  local known = false
  for _, l in ipairs(names) do known = known or l == name end
  if not known then error("bad argument #3 to 'null' (no layer named '" .. name .. "'; layers are: " .. table.concat(names, ", ") .. ")", 2) end
  local out = {runs = {}, seeds = {}}
  local overall, maxc, mo, mm = {}, {}, {}, {}
  for i = 1, n do
    local s = seed + i - 1
    local ok, rotated = pcall(ablation.rotate, model, name, {seed = s})
    if not ok then error((tostring(rotated):gsub("^[^:]*:%d+: ", "")), 2) end
    local r = ablation.sweep(rotated, set, name .. "_rot", {mode = opts.mode, batch = opts.batch})
    out.runs[i], out.seeds[i] = r, s
    overall[i], maxc[i] = r.overall_drop, r.max_class_drop
    mo[i], mm[i] = r.overall_drop:mean(), r.max_class_drop:mean()
  end
  out.overall_drop, out.max_class_drop = tensor.stack(overall), tensor.stack(maxc)
  out.mean_overall_drop, out.mean_max_class_drop = tensor.from(mo), tensor.from(mm)
  return out
end

return ablation
