-- The units module: attributes of the units of one layer, built in or added by plugins.
local units = assert(package.loaded["lesion.units"], "the native units module is missing")  -- _collect, class_means, ...
local parts = require "lesion.parts"

local builtin = {"selectivity", "l1_in", "l1_out", "mean", "sparsity", "top_class", "class_correlation"}
local isBuiltin = {}
for _, n in ipairs(builtin) do isBuiltin[n] = true end
isBuiltin.concept_iou = true   -- from units.dissect, for sets with concept labels
local plugins = {}   -- name -> fn(ctx)

--- units.register(name, fn): fn(ctx) returns a tensor{U}; ctx has activations (N x U spatial
--- means), labels (1-based), probs (N x K predicted probabilities), model, layer.
function units.register(name, fn)
  if type(name) ~= "string" or name == "" then error("bad argument #1 to 'register' (non-empty string expected)", 2) end
  if isBuiltin[name] then error("bad argument #1 to 'register' ('" .. name .. "' is built in)", 2) end
  if type(fn) ~= "function" then error("bad argument #2 to 'register' (function expected, got " .. type(fn) .. ")", 2) end
  plugins[name] = fn
end

--- Internal (the plugin loader): the attribute registered under `name`, and putting one back
--- (nil removes it).
function units._registered(name) return plugins[name] end
function units._restore(name, fn)
  if type(name) ~= "string" then error("bad argument #1 to '_restore' (string expected, got " .. type(name) .. ")", 2) end
  if fn ~= nil and type(fn) ~= "function" then error("bad argument #2 to '_restore' (function or nil expected, got " .. type(fn) .. ")", 2) end
  plugins[name] = fn
end

function units.names()
  local names = {}
  for _, n in ipairs(builtin) do names[#names + 1] = n end
  local extra = {}
  for n in pairs(plugins) do extra[#extra + 1] = n end
  table.sort(extra)
  for _, n in ipairs(extra) do names[#names + 1] = n end
  return names
end

--- units.attributes(model, set, layer, {names =}): a table of tensor{U} by name (all known
--- attributes by default).
function units.attributes(model, set, layer, opts)
  parts.count(set, "attributes", 2)
  if opts ~= nil and type(opts) ~= "table" then error("bad argument #4 to 'attributes' (options table expected, got " .. type(opts) .. ")", 2) end
  for k in pairs(opts or {}) do
    if k ~= "names" and k ~= "quantile" then error("bad argument #4 to 'attributes' (unknown option '" .. tostring(k) .. "'; expected one of: names, quantile)", 2) end
  end
  local names = (opts and opts.names) or units.names()
  if type(names) ~= "table" then
    error("bad argument #4 to 'attributes' (option 'names' must be a list of attribute names, got " .. type(names) .. ")", 2)
  end
  if not (opts and opts.names) and set.concepts ~= nil then
    names = {table.unpack(names)}
    names[#names + 1] = "concept_iou"
  end
  local native, extra, dissect = {}, {}, false
  for i, n in ipairs(names) do
    if n == "concept_iou" then dissect = true
    elseif isBuiltin[n] then native[#native + 1] = n
    elseif plugins[n] then extra[#extra + 1] = n
    else error(string.format("bad argument #4 to 'attributes' (unknown attribute '%s'; known: %s)", tostring(n), table.concat(units.names(), ", ")), 2) end
  end
  -- Parts: chunks of samples (lesion.parts), each one pass over its samples; the attributes
  -- come from all of them together.
  local chunks = parts.chunks(#set)
  local function compute(ps)
    return parts.progress("attributes", chunks, ps, function()
      local out = {}
      for _, p in ipairs(ps) do out[p] = {units._collect(model, parts.samples(set, chunks[p]), layer)} end
      return out
    end)
  end
  local function assemble(ps)
    local acts, probs, labels, zeros, values = {}, {}, {}, {}, 0
    for c, part in ipairs(ps) do
      acts[c], probs[c], labels[c] = part[1], part[2], part[3]
      for u, z in ipairs(part[4]) do zeros[u] = (zeros[u] or 0) + z end
      values = values + part[5]
    end
    acts, probs, labels = tensor.cat(acts, 1), tensor.cat(probs, 1), tensor.cat(labels, 1)
    return units._attributes_of(model, layer, native, acts, probs, labels, zeros, values), acts, probs, labels
  end
  local ok, out, acts, probs, labels = pcall(lesion._cached_split, "units.attributes(" .. tostring(layer) .. ")",
    {model, set, layer, native, cut = "samples"}, #chunks, compute, assemble)
  if not ok then error((tostring(out):gsub("^[^:]*:%d+: ", ""):gsub("'[%w%.]*_attributes_of'", "'attributes'")), 2) end
  if dissect then
    -- concept_iou: the unit's best IoU with a labelled concept (units.dissect).
    local okd, d = pcall(units.dissect, model, set, layer, {quantile = opts and opts.quantile})
    if not okd then error((tostring(d):gsub("^[^:]*:%d+: ", ""):gsub("'dissect'", "'attributes'")), 2) end
    out.concept_iou = d.best_iou
  end
  for _, n in ipairs(extra) do
    local v = plugins[n]{activations = acts, labels = labels, probs = probs, model = model, layer = layer}
    if not tensor.is_tensor(v) or v:numel() ~= acts:size(2) then
      error(string.format("attribute '%s' returned %s; expected a tensor of %d values (one per unit)", n,
        tensor.is_tensor(v) and ("a tensor of " .. v:numel()) or type(v), acts:size(2)), 2)
    end
    out[n] = v:reshape({acts:size(2)})
  end
  return out
end

--- units.top_images(model, set, layer, {k = 9, units =, by = "max" | "mean", batch =}): per
--- unit, the k samples of the set that excite it most, best first. Returns {indices =
--- tensor{U,k} (1-based samples), values = tensor{U,k} (their scores), units = tensor{U},
--- k =, by =, layer =}. One pass over the data; cached like a sweep.
function units.top_images(model, set, layer, opts)
  parts.count(set, "top_images", 2)
  if opts ~= nil and type(opts) ~= "table" then error("bad argument #4 to 'top_images' (options table expected, got " .. type(opts) .. ")", 2) end
  local o = opts or {}
  local key = {model, set, layer, k = o.k, units = o.units, by = o.by, cut = "samples"}
  -- Parts: chunks of samples (lesion.parts); the k best of a set are the k best of its chunks' k best.
  local chunks = parts.chunks(#set)
  if #chunks > 1 and type(o.k) == "number" and o.k > #set then
    error(string.format("bad argument #4 to 'top_images' (option 'k' (%s) is larger than the set (%d samples))", tostring(o.k), #set), 2)
  end
  local function compute(ps)
    return parts.progress("top_images", chunks, ps, function()
      local out = {}
      for _, p in ipairs(ps) do
        local c, oc = chunks[p], {}
        for k, v in pairs(o) do oc[k] = v end
        if #chunks > 1 and type(o.k) == "number" then oc.k = math.min(o.k, c.count) end
        local idx, val, which = units._top_images(model, parts.samples(set, c), layer, oc)
        out[p] = {idx + (c.first - 1), val, which}
      end
      return out
    end)
  end
  local function assemble(ps)
    if #ps == 1 then return table.unpack(ps[1]) end
    local k = o.k or 9
    local idx, val = {}, {}
    for u = 1, ps[1][1]:size(1) do
      local cands = {}
      for _, part in ipairs(ps) do
        for r = 1, part[1]:size(2) do cands[#cands + 1] = {part[2]:get(u, r), part[1]:get(u, r)} end
      end
      -- Best first; equal scores: the earlier sample first (as one pass ranks them).
      table.sort(cands, function(a, b) return a[1] > b[1] or (a[1] == b[1] and a[2] < b[2]) end)
      idx[u], val[u] = {}, {}
      for r = 1, k do idx[u][r], val[u][r] = cands[r][2], cands[r][1] end
    end
    return tensor.from(idx), tensor.from(val), ps[1][3]
  end
  local ok, indices, values, which = pcall(lesion._cached_split, "units.top_images(" .. tostring(layer) .. ")", key, #chunks,
    compute, assemble)
  if not ok then error((tostring(indices):gsub("^[^:]*:%d+: ", ""):gsub("'[%w%.]*_top_images'", "'top_images'")), 2) end
  return {indices = indices, values = values, units = which, k = indices:size(2), by = o.by or "max", layer = layer}
end

--- A dissection cut into chunks of samples (lesion.parts), as two calls of parts that shards
--- share: each chunk's largest values of every unit, whose union gives the thresholds; then
--- each chunk's counts at those thresholds, which add up to the set's. (Past the heaps'
--- budget the "thresholds" are each unit's candidates, and the counts are per bucket.)
local function dissect_chunks(label, model, set, layer, native, chunks)
  local key = {model, set, layer, quantile = native.quantile, heap = native.heap, cut = "samples"}
  local quantile = native.quantile or 0.005
  local function thresholds()
    return lesion._cached_split(label .. " thresholds", key, #chunks, function(ps)
      return parts.progress("dissect", chunks, ps, function()
        local out = {}
        for _, p in ipairs(ps) do
          out[p] = {units._dissect_largest(model, parts.samples(set, chunks[p]), layer,
            {quantile = native.quantile, batch = native.batch, heap = native.heap, samples = #set})}
        end
        return out
      end)
    end, function(ps)
      local list = {}
      for c, part in ipairs(ps) do list[c] = part[1] end
      return units._dissect_thresholds(list, #set * ps[1][2], quantile, native.heap)
    end)
  end
  -- A run that computes every part itself takes one pass instead, its batches cut where the
  -- chunks' are (the same bits).
  local function whole()
    local breaks = {}
    for i, c in ipairs(chunks) do breaks[i] = c.first end
    return units._dissect(model, set, layer, {quantile = native.quantile, batch = native.batch, heap = native.heap, breaks = breaks})
  end
  return lesion._cached_split(label, key, #chunks, function(ps)
    local t = thresholds()
    return parts.progress("dissect", chunks, ps, function()
      local out = {}
      for _, p in ipairs(ps) do
        out[p] = {t, units._dissect_counts(model, parts.samples(set, chunks[p]), layer, t, {batch = native.batch})}
      end
      return out
    end)
  end, function(ps)
    local sums = {{}, {}, {}, {}, {}, {}}
    for _, part in ipairs(ps) do
      for j = 1, 6 do
        local s = sums[j]
        for i, v in ipairs(part[j + 1]) do s[i] = (s[i] or 0) + v end
      end
    end
    return units._dissect_result(set, ps[1][1], sums[1], sums[2], sums[3], sums[4], sums[5], sums[6], quantile)
  end, whole)
end

--- units.dissect(model, set, layer, {quantile = 0.005, iou = 0.04, batch =, heap =}): Network
--- Dissection of the layer's units against the concepts labelled in the set's pixels. Returns
--- {iou = tensor{U,C}, best = tensor{U} (1-based concept), best_iou = tensor{U}, best_concept =
--- {names}, best_category = {names}, concepts = {names}, categories = {each concept's},
--- thresholds = tensor{U}, detectors = number of units whose best IoU passes `iou`, layer =,
--- iou_error = the largest error any IoU may have (0: exact; past `heap` values per unit, by
--- default a 64 MB budget shared by the units, the thresholds are bracketed)}.
--- Cached like a sweep (the cut `iou` is applied after).
function units.dissect(model, set, layer, opts)
  parts.count(set, "dissect", 2)
  if opts ~= nil and type(opts) ~= "table" then error("bad argument #4 to 'dissect' (options table expected, got " .. type(opts) .. ")", 2) end
  local o = opts or {}
  local cut = o.iou or 0.04
  if type(cut) ~= "number" or cut ~= cut or cut < 0 or cut > 1 then
    error("bad argument #4 to 'dissect' (option 'iou' must be a number in [0, 1], got " .. tostring(o.iou) .. ")", 2)
  end
  local native = {quantile = o.quantile, batch = o.batch, heap = o.heap}
  for k in pairs(o) do
    if k ~= "quantile" and k ~= "iou" and k ~= "batch" and k ~= "heap" then
      error("bad argument #4 to 'dissect' (unknown option '" .. tostring(k) .. "'; expected one of: batch, heap, iou, quantile)", 2)
    end
  end
  local label = "units.dissect(" .. tostring(layer) .. ")"
  local chunks = parts.chunks(#set)
  local ok, iou, thresholds, concepts, categories, iou_error
  if #chunks == 1 then
    ok, iou, thresholds, concepts, categories, iou_error = pcall(lesion._cached, label, {model, set, layer, quantile = o.quantile, heap = o.heap},
      function() return units._dissect(model, set, layer, native) end)
  else
    ok, iou, thresholds, concepts, categories, iou_error = pcall(dissect_chunks, label, model, set, layer, native, chunks)
  end
  if not ok then error((tostring(iou):gsub("^[^:]*:%d+: ", ""):gsub("'[%w%.]*_dissect'", "'dissect'")), 2) end
  local best_iou, best = iou:max(2)
  local d = {iou = iou, best = best, best_iou = best_iou, thresholds = thresholds, concepts = concepts,
             categories = categories, best_concept = {}, best_category = {}, detectors = 0, layer = layer, cut = cut,
             iou_error = iou_error or 0}
  for u = 1, iou:size(1) do
    d.best_concept[u] = concepts[best[u]]
    d.best_category[u] = categories[best[u]]
    if best_iou[u] > cut then d.detectors = d.detectors + 1 end
  end
  return d
end

return units
