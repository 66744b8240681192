-- The stats module's Lua half: the bootstrap of any statistic a script computes. The native
-- half (correlations with intervals, permutation p-values, FDR, the resampling indices) is in
-- LuaHost/StatsBinding.swift over LesionAblation/Inference.swift.
local stats = assert(package.loaded["lesion.stats"], "the native stats module is missing")

local function is_column(v) return tensor.is_tensor(v) or type(v) == "table" end

-- A sample's length and how to take rows `idx` of it: a tensor (rows along dimension 1), a
-- Lua array, or a list of such columns of one length (resampled together: paired data).
local function sampler(samples)
  local function one(col, what)
    if tensor.is_tensor(col) then
      local rows = col:totable()
      return #rows, function(idx)
        local out = {}
        for k, i in ipairs(idx) do out[k] = rows[i] end
        return tensor.from(out)
      end
    elseif type(col) == "table" then
      return #col, function(idx)
        local out = {}
        for k, i in ipairs(idx) do out[k] = col[i] end
        return out
      end
    end
    error(string.format("bad argument #2 to 'bootstrap' (%s must be a tensor or an array, got %s)", what, type(col)), 4)
  end
  if type(samples) == "table" and not tensor.is_tensor(samples) and #samples >= 1 and is_column(samples[1]) then
    local n, takes = nil, {}
    for c, col in ipairs(samples) do
      local len, take = one(col, "column " .. c)
      if n and len ~= n then
        error(string.format("bad argument #2 to 'bootstrap' (column %d has %d values, column 1 has %d)", c, len, n), 3)
      end
      n, takes[c] = len, take
    end
    return n, function(idx)
      local out = {}
      for c, take in ipairs(takes) do out[c] = take(idx) end
      return out
    end
  end
  return one(samples, "the sample")
end

--- stats.bootstrap(fn, samples, {n = 1000, ci = 0.95, seed = 0}): the statistic fn(samples)
--- with a percentile bootstrap interval. `samples` is a tensor (its rows are resampled), a Lua
--- array, or a list of columns of one length resampled together ({x, y} for a correlation);
--- fn gets a resample of the same form and returns a number. Returns {estimate, lo, hi, se,
--- n, values} (values: tensor{n} of the resampled statistics; NaN results are left out of the
--- interval and counted in `undefined`). Each round's indices come from a Philox stream (seed,
--- round): the same bits everywhere.
function stats.bootstrap(fn, samples, opts)
  if type(fn) ~= "function" then error("bad argument #1 to 'bootstrap' (function expected, got " .. type(fn) .. ")", 2) end
  if opts ~= nil and type(opts) ~= "table" then error("bad argument #3 to 'bootstrap' (options table expected, got " .. type(opts) .. ")", 2) end
  opts = opts or {}
  for k in pairs(opts) do
    if k ~= "n" and k ~= "ci" and k ~= "seed" then
      error("bad argument #3 to 'bootstrap' (unknown option '" .. tostring(k) .. "'; expected one of: ci, n, seed)", 2)
    end
  end
  local rounds, level, seed = opts.n or 1000, opts.ci or 0.95, opts.seed or 0
  if math.type(rounds) ~= "integer" or rounds < 2 or rounds > 1000000 then
    error("bad argument #3 to 'bootstrap' (option 'n' must be an integer from 2 to 1000000, got " .. tostring(rounds) .. ")", 2)
  end
  if type(level) ~= "number" or not (level > 0 and level < 1) then
    error("bad argument #3 to 'bootstrap' (option 'ci' must be between 0 and 1, got " .. tostring(level) .. ")", 2)
  end
  if math.type(seed) ~= "integer" or seed < 0 then
    error("bad argument #3 to 'bootstrap' (option 'seed' must be a non-negative integer, got " .. tostring(seed) .. ")", 2)
  end
  local n, take = sampler(samples)
  if n < 2 then error("bad argument #2 to 'bootstrap' (at least 2 values expected, got " .. n .. ")", 2) end
  local function value(s, what)
    local v = fn(s)
    if type(v) ~= "number" then error("bootstrap: the statistic returned " .. type(v) .. " for " .. what .. ", expected a number", 3) end
    return v
  end
  local estimate = value(samples, "the whole sample")
  local values, kept = {}, {}
  for r = 1, rounds do
    local v = value(take(stats._resample(n, seed, r - 1)), "round " .. r)
    values[r] = v
    if v == v then kept[#kept + 1] = v end
  end
  local result = {estimate = estimate, n = rounds, undefined = rounds - #kept, values = tensor.from(values)}
  if #kept >= 2 then
    local alpha = (1 - level) / 2 * 100
    result.lo, result.hi = stats._percentile(kept, alpha), stats._percentile(kept, 100 - alpha)
    result.se = stats.describe(kept).std
  else
    result.lo, result.hi, result.se = 0 / 0, 0 / 0, 0 / 0
  end
  return result
end

return stats
