-- Assertions for Lua-side tests. Each test script errors on its first failure.
local T = {}

local function fail(msg, level) error(msg, (level or 1) + 2) end

function T.eq(a, b, what)
  if a ~= b then fail(string.format("%s: expected %s, got %s", what or "eq", tostring(b), tostring(a))) end
end

--- |a - b| <= atol + rtol * |b| for numbers, or elementwise (shapes first) for tensors / tables.
function T.close(a, b, what, rtol, atol)
  rtol, atol = rtol or 1e-5, atol or 1e-6
  what = what or "close"
  if type(a) == "number" and type(b) == "number" then
    if not (math.abs(a - b) <= atol + rtol * math.abs(b)) then
      fail(string.format("%s: expected %.9g, got %.9g", what, b, a))
    end
    return
  end
  if tensor.is_tensor(b) then b = b:totable() end
  if tensor.is_tensor(a) then a = a:totable() end
  if type(a) ~= "table" or type(b) ~= "table" then fail(what .. ": cannot compare " .. type(a) .. " with " .. type(b)) end
  if #a ~= #b then fail(string.format("%s: length %d expected, got %d", what, #b, #a)) end
  for i = 1, #b do T.close(a[i], b[i], what .. "[" .. i .. "]", rtol, atol) end
end

--- fn() must raise an error whose message contains `text` (plain find).
function T.raises(fn, text, what)
  local ok, err = pcall(fn)
  if ok then fail((what or text) .. ": expected an error, got none") end
  err = tostring(err)
  if text and not err:find(text, 1, true) then
    fail(string.format("%s: expected an error containing %q, got %q", what or "raises", text, err))
  end
  return err
end

function T.shape(t, s, what) T.eq(table.concat(t:shape(), ","), table.concat(s, ","), what or "shape") end

return T
