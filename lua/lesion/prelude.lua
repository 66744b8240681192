-- Lesion's Lua prelude: loaded into every state after the native modules.
-- Helpers written against the public API only.

--- lesion.inspect(v): a readable one-line-per-field rendering of tables, for the REPL and -e.
local function inspect(v, indent, seen)
  indent = indent or ""
  seen = seen or {}
  if type(v) ~= "table" then
    if type(v) == "string" then return string.format("%q", v) end
    return tostring(v)
  end
  if seen[v] then return "<cycle>" end
  seen[v] = true
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    if type(a) == type(b) and (type(a) == "number" or type(a) == "string") then return a < b end
    return type(a) < type(b)
  end)
  if #keys == 0 then return "{}" end
  local parts = {}
  local inner = indent .. "  "
  for _, k in ipairs(keys) do
    local key = type(k) == "string" and k:match("^[%a_][%w_]*$") and k or "[" .. inspect(k) .. "]"
    parts[#parts + 1] = inner .. key .. " = " .. inspect(v[k], inner, seen)
  end
  return "{\n" .. table.concat(parts, ",\n") .. "\n" .. indent .. "}"
end

function lesion.inspect(v) return inspect(v) end

-- Modules written in Lua become globals like the native ones.
models = require "lesion.models"
-- lesion/ablation.lua extends the native ablation table (found through package.loaded).
dofile(package.searchpath("lesion.ablation", package.path))
dofile(package.searchpath("lesion.units", package.path))
dofile(package.searchpath("lesion.report", package.path))
dofile(package.searchpath("lesion.stats", package.path))

--- lesion.plugins(): the plugins loaded, {file =, ok =, error =, registers = {...}} each.
function lesion.plugins() return require("lesion.plugins").list() end

return lesion
