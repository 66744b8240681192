-- How the expensive calls (ablation.sweep and curve, units.attributes, top_images and dissect)
-- are cut into parts for lesion._cached_split, so that shards share their work.
--
-- The cut is by chunks of samples first: a part runs the model over its own samples only, so
-- shards repeat nothing (each sample's answer does not depend on which samples share a call).
-- A set too small for chunks is cut by units instead where a call can (a sweep), at the cost
-- of each shard running the model to the layer over the whole set. The cut depends only on the
-- call (the set's size and the units), never on the number of shards, and a run that computes
-- every part itself goes through the same parts: sharded and unsharded results are the same
-- bits.
local parts = {}

--- The fewest samples in a chunk, and the most chunks of a call (also the parts a sweep aims
--- at: a set of few chunks is cut into groups of units too, up to about this many parts, so
--- that up to this many shards have work).
parts.chunk = 512
parts.max = 256

--- The number of samples of `set`, argument `arg` of `fname`, or the error that it is not a
--- data set.
function parts.count(set, fname, arg)
  local mt = getmetatable(set)
  if type(set) ~= "userdata" or type(mt) ~= "table" or mt.__name ~= "dataset" then
    local got = type(mt) == "table" and type(mt.__name) == "string" and mt.__name or type(set)
    error(string.format("bad argument #%d to '%s' (data set expected, got %s)", arg, fname, got), 3)
  end
  return #set
end

--- The chunks of a set of n samples: a list of {first =, count =} (1-based, in order).
function parts.chunks(n)
  local k = math.max(1, math.min(parts.max, n // parts.chunk))
  local out = {}
  for i = 1, k do
    local first = (i - 1) * n // k + 1
    out[i] = {first = first, count = i * n // k - first + 1}
  end
  return out
end

--- Runs fn() under one progress line named `name` for the chunks of parts `ps` (fn's passes
--- over them, one after another); returns what fn returns.
function parts.progress(name, chunks, ps, fn)
  local total, seen = 0, {}
  for _, p in ipairs(ps) do
    local c = chunks[p]
    if c and not seen[c] then seen[c] = true; total = total + c.count end
  end
  return lesion._progress(name, total, fn)
end

--- A chunk's samples of `set` as a set of their own (the set itself when the chunk is all of it).
function parts.samples(set, chunk)
  if chunk.first == 1 and chunk.count == #set then return set end
  local idx = {}
  for i = 1, chunk.count do idx[i] = chunk.first + i - 1 end
  return set:subset(idx)
end

--- The list `all` cut into k groups of consecutive elements (sizes differ by at most one).
function parts.groups(all, k)
  local out = {}
  for g = 1, k do out[g] = table.move(all, (g - 1) * #all // k + 1, g * #all // k, 1, {}) end
  return out
end

--- One evaluation of the union of chunks from each chunk's evaluation ({accuracy, loss, n,
--- per_class, confusion}): the counts add exactly; the loss is the mean of the chunks' losses
--- weighted by their sizes.
function parts.evaluation(list)
  if #list == 1 then return list[1] end
  local confusion, n, loss = list[1].confusion, 0, 0
  for i, e in ipairs(list) do
    if i > 1 then confusion = confusion + e.confusion end
    n = n + e.n
    loss = loss + e.loss * e.n
  end
  local k = confusion:size(1)
  local rows = confusion:sum(2)
  local right, per = 0, {}
  for c = 1, k do
    local hit = confusion:get(c, c)
    right = right + hit
    per[c] = rows[c] > 0 and hit / rows[c] or 0 / 0
  end
  return {accuracy = right / math.max(n, 1), loss = loss / math.max(n, 1), n = n, per_class = tensor.from(per),
          confusion = confusion}
end

--- The values mode "mean" ablates a layer's units to, over the whole set (cached: one pass for
--- every chunk and shard), so that chunks ablate to the same values a whole-set call would.
function parts.means(model, set, layer)
  return lesion._cached("ablation.means(" .. tostring(layer) .. ")", {model, set, layer},
    function() return package.loaded["lesion.ablation"]._means(model, set, layer) end)
end

return parts
