-- %% [markdown]
-- # Title

-- %% Cell
local p = params{x = 1}
print(p.x)
