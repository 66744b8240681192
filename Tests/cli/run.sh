#!/usr/bin/env bash
# Command-line checks of the lesion executable: exit codes and messages as a user sees them.
# Usage: Tests/cli/run.sh path/to/lesion
set -u
tests="$(cd "$(dirname "$0")/.." && pwd)"
lesion="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
lua_dir="$(cd "$(dirname "$0")/../../lua" && pwd)"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
# Run folders and the cache go into the temporary folder.
cd "$dir"
export LESION_CACHE="$dir/cache"
suite=cli
. "$tests/check.sh"

printf 'local a, b = ...\nprint("args", arg[0] ~= nil, a, b)\nprint(tensor.eye(2):sum())\n' >"$dir/ok.lua"
printf 'local x = 1\nlocal t = tensor.eye(2)\nprint(t:get(5, 1))\n' >"$dir/bad.lua"
printf 'local x = = 2\n' >"$dir/syntax.lua"
printf 'error({code = 1})\n' >"$dir/tableerr.lua"

check "version" 0 '^0\.[0-9]+\.[0-9]+$' -- "$lesion" --version
check "help" 0 'USAGE: lesion' -- "$lesion" --help
check "run help" 0 'Arguments for the script' -- "$lesion" run --help
check "run with args" 0 'args	true	x	--flag' -- "$lesion" run "$dir/ok.lua" x --flag
check "run output" 0 '^2\.0$' -- "$lesion" run "$dir/ok.lua"
check "-- passes options to the script" 0 'args	true	--threads	4' -- "$lesion" run "$dir/ok.lua" -- --threads 4
check "-e" 0 '^3$' -- "$lesion" -e 'print(tensor.ones(3):numel())'
check "-e twice" 0 '^1$' -- "$lesion" -e 'x = 1' -e 'print(x)'
check "runtime error names file and line" 1 "bad\.lua:3: bad argument #1 to 'get' \(index 5 out of range \(1\.\.2\)\)" -- "$lesion" run "$dir/bad.lua"
check "runtime error has a traceback" 1 'stack traceback:' -- "$lesion" run "$dir/bad.lua"
check "syntax error names file and line" 1 'syntax\.lua:1:' -- "$lesion" run "$dir/syntax.lua"
check "non-string error object" 1 'error object is a table value' -- "$lesion" run "$dir/tableerr.lua"
check "-e error" 1 '\(command line\):1:' -- "$lesion" -e 'tensor.zeros({0})'
check "missing script" 64 "cannot read script" -- "$lesion" run "$dir/none.lua"
check "bad thread count" 64 'threads must be between 1 and 256' -- "$lesion" run --threads 0 "$dir/ok.lua"
check "threads option" 0 '^1$' -- "$lesion" --threads 1 -e 'print(lesion.threads())'
check "lua path env" 2 "cannot find Lesion's Lua library" -- env LESION_LUA_PATH="$dir" "$lesion" -e 'print(1)'
mkdir -p "$dir/copy/bin"
cp "$lesion" "$dir/copy/bin/lesion"
cp -r "$lua_dir" "$dir/copy/bin/lua"
check "lua/ beside an installed executable" 0 '^ok$' -- "$dir/copy/bin/lesion" -e 'print("ok")'
mkdir -p "$dir/prefix/bin" "$dir/prefix/share/lesion"
cp "$lesion" "$dir/prefix/bin/lesion"
cp -r "$lua_dir" "$dir/prefix/share/lesion/lua"
check "lua/ in ../share/lesion of an installed executable" 0 '^ok$' -- "$dir/prefix/bin/lesion" -e 'print("ok")'

printf 'local p = params{epochs = 2, lr = 0.01, bn = false, name = "run"}\nprint(p.epochs, math.type(p.epochs), p.lr, p.bn, p.name)\n' >"$dir/params.lua"
check "params defaults" 0 '^2	integer	0.01	false	run$' -- "$lesion" run "$dir/params.lua"
check "params --set typed" 0 '^5	integer	0.001	true	a=b$' -- "$lesion" run "$dir/params.lua" --set epochs=5 --set lr=1e-3 --set bn=yes --set name=a=b
check "params unknown key lists the declared ones" 1 "unknown parameter 'epoch' given with --set; the script declares: bn \(boolean\), epochs \(integer\), lr \(number\), name \(string\)" -- "$lesion" run "$dir/params.lua" --set epoch=5
check "params wrong type" 1 "'2.5' is not an integer" -- "$lesion" run "$dir/params.lua" --set epochs=2.5
check "params bad boolean" 1 "'maybe' is not a boolean" -- "$lesion" run "$dir/params.lua" --set bn=maybe
check "--set without =" 64 "--set takes key=value" -- "$lesion" run "$dir/params.lua" --set epochs
check "--set on a script without params" 2 "declares no parameters" -- "$lesion" run "$dir/ok.lua" --set a=1

# Notebook runs: cells, run folders, a failing cell, the cache.
cat >"$dir/nb.lua" <<'LUA'
-- %% [markdown]
-- # A notebook
-- %% One
local p = params{n = 3}
print("cell one", p.n)
report.value("n", p.n)
-- %% Two
report.table({{a = 1, b = "x"}}, {caption = "T"})
plot.bar{x = {"a", "b"}, y = {1, 2}, title = "Bars"}
print("cell two")
-- %% Three
print("before the error")
if p.n == 3 then local t = nil; t.x = 1 end
-- %% Four
print("cell four")
LUA
check "failing cell exits 1 and names its line" 1 'nb\.lua:13: attempt to index a nil value' -- "$lesion" run "$dir/nb.lua"
rundir="$(ls -d "$dir"/runs/nb/*/ | head -1)"
check "run folder holds the report" 0 'manifest.json report.html report.ipynb results.json' -- sh -c "ls '$rundir' | tr '\n' ' '"
check "report keeps output before the error" 0 'before the error' -- cat "$rundir/report.html"
check "report shows the error under its cell" 0 'class="error">[^<]*nb.lua:13: attempt to index a nil value' -- cat "$rundir/report.html"
check "cells after the error did not run" 0 '"status": "not run"' -- cat "$rundir/manifest.json"
check "results.json marks the failure" 0 '"failed": true' -- cat "$rundir/results.json"
check "ipynb has the error output" 0 '"output_type": "error"' -- cat "$rundir/report.ipynb"
check "--set runs land in their own folder" 0 'cell four' -- "$lesion" run "$dir/nb.lua" --set n=4
check "two run folders" 0 '^2$' -- sh -c "ls -d '$dir'/runs/nb/*/ | wc -l"
check "--out" 0 'report written to out1/report.html' -- "$lesion" run "$dir/nb.lua" --set n=5 --out out1
check "--out folder" 0 '"n": 5' -- cat "$dir/out1/results.json"

cat >"$dir/cached.lua" <<'LUA'
local calls = 0
local v = cache("square", function() calls = calls + 1; return tensor.arange(4) * tensor.arange(4), {k = "v"} end)
print("calls", calls, v:sum())
LUA
check "cache miss computes" 0 'calls	1	14' -- "$lesion" run "$dir/cached.lua"
check "cache hit does not" 0 'calls	0	14' -- "$lesion" run "$dir/cached.lua"
check "--no-cache computes" 0 'calls	1	14' -- "$lesion" run "$dir/cached.lua" --no-cache
check "cache ls" 0 '1 entry in' -- "$lesion" cache ls
check "cache size" 0 'in 1 entries' -- "$lesion" cache size
entry="$(find "$dir/cache" -name '*.safetensors' | head -1)"
printf 'garbage' | dd of="$entry" bs=1 seek=100 conv=notrunc status=none
check "a corrupt entry is detected and recomputed" 0 'unusable.*recomputing' -- "$lesion" run "$dir/cached.lua"
check "and the recomputed entry is used" 0 'calls	0	14' -- "$lesion" run "$dir/cached.lua"
check "cache clear" 0 'removed 1 file' -- "$lesion" cache clear
# A run killed while it writes a large entry leaves no entry that is used.
cat >"$dir/big.lua" <<'LUA'
local t = cache("big", function() return tensor.randn({3000, 3000}, {seed = 7}) end)
print("sum", string.format("%.3f", t:sum()))
LUA
"$lesion" run "$dir/big.lua" --out "$dir/bigrun" >/dev/null 2>&1 &
sleep 0.4; kill -9 $! 2>/dev/null; wait $! 2>/dev/null
want="$("$lesion" run "$dir/big.lua" --no-cache 2>/dev/null)"
check "after a killed run the value is right" 0 "^$want\$" -- "$lesion" run "$dir/big.lua"
check "and right again from the cache" 0 "^$want\$" -- "$lesion" run "$dir/big.lua"

# --watch runs again when the script changes.
printf 'print("version one")\n' >"$dir/w.lua"
"$lesion" run "$dir/w.lua" --watch --out "$dir/wrun" >"$dir/watch.log" 2>&1 &
watcher=$!
sleep 2; printf 'print("version two")\n' >"$dir/w.lua"; sleep 2
kill "$watcher" 2>/dev/null; wait "$watcher" 2>/dev/null
check "--watch runs the script" 0 'version one' -- cat "$dir/watch.log"
check "--watch runs it again after a change" 0 'version two' -- cat "$dir/watch.log"

# Variants: lesion sweep --grid.
cat >"$dir/grid.lua" <<'LUA'
local p = params{a = 1, b = "x", fail = false}
report.value("twice", p.a * 2)
if p.fail and p.a == 2 then error("asked to fail") end
LUA
check "sweep over two parameters" 0 'comparison written to sw1/index.html' -- "$lesion" sweep "$dir/grid.lua" --grid a=1,2 --grid b=x,y --jobs 2 --out sw1
check "comparison csv" 0 '^2,y,4,ok,[0-9.]+,"a=2,b=y/report.html"$' -- cat "$dir/sw1/comparison.csv"
check "comparison page links each report" 0 'href="a=1,b=x/report.html"' -- cat "$dir/sw1/index.html"
check "a failing variant fails the sweep" 1 'a=2 FAILED' -- "$lesion" sweep "$dir/grid.lua" --grid a=1,2 --set fail=true --out sw2
check "and is marked in the comparison" 0 '^2,4,failed \(1\)' -- cat "$dir/sw2/comparison.csv"
check "bad grid" 64 'grid takes key=v1,v2' -- "$lesion" sweep "$dir/grid.lua" --grid a

# The REPL: values printed, multi-line input, errors keep the prompt.
printf 'x = tensor.eye(2)\nx:sum()\nfunction f(a)\n  return a * 2\nend\nf(21)\nerror("oops")\n1 +\n2\n{k = 1}\n' >"$dir/repl.txt"
check "repl evaluates expressions" 0 '^42$' -- sh -c "'$lesion' repl <'$dir/repl.txt'"
check "repl continues unfinished chunks" 0 '^3$' -- sh -c "'$lesion' repl <'$dir/repl.txt'"
check "repl shows errors and goes on" 0 'stdin:1: oops' -- sh -c "'$lesion' repl <'$dir/repl.txt'"
check "repl inspects tables" 0 '^  k = 1$' -- sh -c "'$lesion' repl <'$dir/repl.txt'"

# Plugins: bundled, from --plugin and LESION_PLUGINS; a broken one is reported, not fatal.
mkdir -p "$dir/plugins" "$dir/plugins2"
printf 'local t = nil\nlocal y = t.x\n' >"$dir/plugins/broken.lua"
printf 'ablation.register_mode("half", function(ctx) return tensor.zeros({1}) end)\n' >"$dir/plugins/half.lua"
printf 'function models.envnet() return models.tinynet() end\n' >"$dir/plugins2/env.lua"
check "plugins lists the bundled plugin" 0 'attribute class_entropy' -- "$lesion" plugins
check "plugins lists --plugin folders" 1 'ablation mode half' -- "$lesion" plugins --plugin "$dir/plugins"
check "a broken plugin names its file and line" 1 'broken\.lua:2: attempt to index a nil value' -- "$lesion" plugins --plugin "$dir/plugins"
check "LESION_PLUGINS" 0 'model models.envnet' -- env LESION_PLUGINS="$dir/plugins2" "$lesion" plugins
check "a broken plugin does not stop a run" 0 '^half,max,mean,zero$' -- "$lesion" --plugin "$dir/plugins" -e 'print(table.concat(ablation.modes(), ","))'

# A shared cache: runs at once compute a cached call once (the others wait for it); a run
# killed while computing leaves a claim that the next run takes over.
cat >"$dir/slow.lua" <<'LUA'
local v = cache("slow", function()
  local f = assert(io.open(os.getenv("SLOW_LOG"), "a")); f:write("computed\n"); f:close()
  os.execute("sleep 2")
  return 42
end)
print("value", v)
LUA
export SLOW_LOG="$dir/slow.log"
"$lesion" run "$dir/slow.lua" --cache "$dir/shared" --out r1 >"$dir/r1.txt" 2>&1 &
first=$!
sleep 0.5
"$lesion" run "$dir/slow.lua" --cache "$dir/shared" --out r2 >"$dir/r2.txt" 2>&1
wait "$first"
check "two runs on one cache compute it once" 0 '^1$' -- sh -c "wc -l <'$SLOW_LOG' | tr -d ' '"
check "the waiting run gets the value" 0 '^value	42$' -- cat "$dir/r2.txt"
check "and says whom it waited for" 0 'slow\) is being computed by process' -- cat "$dir/r2.txt"
rm -f "$SLOW_LOG"
"$lesion" run "$dir/slow.lua" --cache "$dir/shared2" --out r3 >/dev/null 2>&1 &
victim=$!
sleep 0.7
kill -9 "$victim"; wait "$victim" 2>/dev/null
check "a killed owner's claim is taken over" 0 '^value	42$' -- "$lesion" run "$dir/slow.lua" --cache "$dir/shared2" --out r4
check "so the call ran twice" 0 '^2$' -- sh -c "wc -l <'$SLOW_LOG' | tr -d ' '"
unset SLOW_LOG

# Shards: processes sharing a cache each compute their share of a sweep, and any run then
# assembles the same bytes as an unsharded run; killed, missing and raced parts.
cat >"$dir/shard.lua" <<'LUA'
local p = params{n = 240}
local set = data.shapes{n = p.n, size = 12, seed = 2}
local m = nn.Sequential{nn.Conv2d(1, 16, 3, {padding = 1}), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(576, 10), seed = 3, input = {1, 12, 12}}
local r = ablation.sweep(m, set, "relu1")
r:save(arg[1])
for _, e in ipairs(lesion.cache_log()) do print("cache", e.call, e.result) end
LUA
check "--shard 5/4" 64 'shard 5/4 does not exist: shards are numbered 1 to 4' -- "$lesion" run "$dir/shard.lua" --shard 5/4
check "--shard 0/4" 64 'shard 0/4 does not exist' -- "$lesion" run "$dir/shard.lua" --shard 0/4
check "--shard x" 64 "--shard takes I/N .*got 'x'" -- "$lesion" run "$dir/shard.lua" --shard x
check "--shard without the cache" 64 'drop --no-cache' -- "$lesion" run "$dir/shard.lua" --shard 1/2 --no-cache
"$lesion" run "$dir/shard.lua" --no-cache --out s0 -- "$dir/plain.csv" >/dev/null 2>&1
for i in 1 2 3; do "$lesion" run "$dir/shard.lua" --cache "$dir/sc" --shard $i/3 -- "$dir/shard$i.csv" >"$dir/shard$i.txt" 2>&1 & done
wait
check "three shards at once" 0 '^3$' -- sh -c "cat '$dir'/shard?.txt | grep -c 'report written to runs/shard/.*/shard-[123]-of-3/report.html'"
check "each computes or assembles the whole sweep" 0 '^ok$' -- sh -c "cmp '$dir/plain.csv' '$dir/shard1.csv' && cmp '$dir/plain.csv' '$dir/shard3.csv' && echo ok"
check "the merge only reads the cache" 0 'cache	ablation.sweep\(relu1\)	hit' -- "$lesion" run "$dir/shard.lua" --cache "$dir/sc" -- "$dir/merged.csv"
check "and equals an unsharded run byte for byte" 0 '^ok$' -- sh -c "cmp '$dir/plain.csv' '$dir/merged.csv' && echo ok"
check "the manifest names the shard" 0 '"shard":"2/3"' -- sh -c "cat runs/shard/*/shard-2-of-3/manifest.json | tr -d ' \n'"
# A part lost (and the whole entry with it): the next run computes only that part, and says so.
rm -f $(grep -l 'ablation.sweep(relu1) part 5 of 16' "$dir"/sc/*/*.safetensors) $(grep -l '"label":"ablation.sweep(relu1)"' "$dir"/sc/*/*.safetensors)
check "a missing part is computed by the final run" 0 '15 of 16 parts are in the cache; computing part 5$' -- "$lesion" run "$dir/shard.lua" --cache "$dir/sc" -- "$dir/mended.csv"
check "with the same bytes" 0 '^ok$' -- sh -c "cmp '$dir/plain.csv' '$dir/mended.csv' && echo ok"
# Every call that splits, on a set of several chunks of samples (lua/lesion/parts.lua): the
# sweep (chunks x groups of units), the curve, attributes, top images and the dissection's two
# passes. Three shards at once, then a merge that only reads: the unsharded bytes.
cat >"$dir/split.lua" <<'LUA'
local set = data.concepts{n = 1300, size = 16, seed = 4}
local m = nn.Sequential{nn.Conv2d(3, 8, 3, {padding = 1}), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 8, 3, {padding = 1}),
                        nn.ReLU(), nn.Flatten(), nn.Linear(512, set.num_classes), seed = 5, input = {3, 16, 16}}
local out = assert(io.open(arg[1], "w"))
local function put(name, t) out:write(name, " ", table.concat(t:reshape({-1}):totable(), " ", 1, t:numel()), "\n") end
local r = ablation.sweep(m, set, "relu2", {mode = "mean"})
put("sweep", r.per_class); put("base", r.base.per_class); out:write(string.format("loss %.17g\n", r.base.loss))
put("curve", ablation.curve(m, set, "relu1", {3, 1, 2, 8}).per_class)
local a = units.attributes(m, set, "relu2")
for _, n in ipairs{"selectivity", "l1_in", "mean", "sparsity", "top_class", "class_correlation", "concept_iou"} do put(n, a[n]) end
local t = units.top_images(m, set, "relu1", {k = 5})
put("top", t.indices); put("topv", t.values)
local d = units.dissect(m, set, "relu1")
put("iou", d.iou); put("thresholds", d.thresholds)
local db = units.dissect(m, set, "relu1", {heap = 256})   -- bounded: candidates and bucket counts
put("iou_bounded", db.iou); out:write(string.format("iou_error %.17g\n", db.iou_error))
out:close()
for _, e in ipairs(lesion.cache_log()) do print("cache", e.call, e.result) end
LUA
"$lesion" run "$dir/split.lua" --no-cache --out sp0 -- "$dir/split0.txt" >/dev/null 2>&1
for i in 1 2 3; do "$lesion" run "$dir/split.lua" --cache "$dir/spc" --shard $i/3 --out sp$i -- "$dir/split$i.txt" >"$dir/split$i.log" 2>&1 & done
wait
check "split calls: three shards computed parts of each" 0 '^8$' -- sh -c "cat '$dir'/split?.log | grep -o 'cache	[a-z_.]*([a-z0-9]*)[ a-z]*	computed parts' | sort -u | cut -f2 | sort -u | wc -l"
check "split calls: each shard ends with the unsharded bytes" 0 '^ok$' -- sh -c "for i in 1 2 3; do cmp '$dir/split0.txt' '$dir/split'\$i'.txt' || exit 1; done; echo ok"
check "split calls: the merge only reads the cache" 0 '^hit$' -- sh -c "'$lesion' run '$dir/split.lua' --cache '$dir/spc' --out spm -- '$dir/splitm.txt' 2>/dev/null | grep '^cache' | cut -f3 | sort -u"
check "split calls: and equals an unsharded run byte for byte" 0 '^ok$' -- sh -c "cmp '$dir/split0.txt' '$dir/splitm.txt' && echo ok"
# Two processes told they are the same shard: every part is computed once, by one of them.
"$lesion" run "$dir/shard.lua" --cache "$dir/race" --shard 1/2 --out race1 -- "$dir/race1.csv" >"$dir/race1.txt" 2>&1 &
"$lesion" run "$dir/shard.lua" --cache "$dir/race" --shard 1/2 --out race2 -- "$dir/race2.csv" >"$dir/race2.txt" 2>&1
wait
# The parts named by "computed parts a-b, c of N" in both logs: all of them, then the distinct ones.
grep -ho 'computed parts [0-9, -]*' "$dir/race1.txt" "$dir/race2.txt" | sed 's/computed parts //; s/,/ /g' | tr ' ' '\n' | grep . |
  while IFS=- read -r a b; do seq "$a" "${b:-$a}"; done >"$dir/race_parts.txt"
check "racing shards compute each part once" 0 '^16 16$' -- sh -c "echo \$(wc -l <'$dir/race_parts.txt') \$(sort -un '$dir/race_parts.txt' | wc -l)"
check "and both end with the whole sweep" 0 '^ok$' -- sh -c "cmp '$dir/plain.csv' '$dir/race1.csv' && cmp '$dir/plain.csv' '$dir/race2.csv' && echo ok"
# A shard killed halfway leaves claims of a dead process: its re-run takes them over.
"$lesion" run "$dir/shard.lua" --cache "$dir/killed" --set n=120000 --shard 1/2 --out k1 -- "$dir/k.csv" >/dev/null 2>&1 &
victim=$!
for _ in $(seq 1 1200); do ls "$dir"/killed/*/*.claim 2>/dev/null | grep -q . && break; sleep 0.05; done
sleep 0.1
kill -9 "$victim"; wait "$victim" 2>/dev/null
check "the killed shard left claims" 0 '^[1-9]' -- sh -c "ls '$dir'/killed/*/*.claim 2>/dev/null | wc -l"
"$lesion" run "$dir/shard.lua" --cache "$dir/killed" --set n=120000 --no-cache --out k0 -- "$dir/k_plain.csv" >/dev/null 2>&1
check "its re-run completes" 0 'cache	ablation.sweep\(relu1\)	computed parts' -- "$lesion" run "$dir/shard.lua" --cache "$dir/killed" --set n=120000 --shard 1/2 --out k2 -- "$dir/k.csv"
check "with the unsharded bytes" 0 '^ok$' -- sh -c "cmp '$dir/k_plain.csv' '$dir/k.csv' && echo ok"

# The same bits on any number of threads: a model with every convolution path (direct, im2col,
# Winograd), batch norm, a residual block, dropout and a linear layer split into blocks,
# trained with 1, 2 and 3 threads, saves byte-identical weights.
cat >"$dir/threads.lua" <<'LUA'
local p = params{out = "m.safetensors"}
local set = data.shapes{n = 300, size = 16, seed = 2}
local m = nn.Sequential{
  nn.Conv2d(1, 8, 3, {padding = 1}), nn.BatchNorm2d(8), nn.ReLU(),
  nn.Residual{body = nn.Sequential{nn.Conv2d(8, 8, 3, {padding = 1}), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 3, {padding = 1})}},
  nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 32, 3, {padding = 1}), nn.ReLU(),
  nn.Conv2d(32, 32, 3, {padding = 1}), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
  nn.Flatten(), nn.Linear(512, 600), nn.ReLU(), nn.Dropout(0.3), nn.Linear(600, 10), seed = 3, input = {1, 16, 16}}
m:fit(set, {epochs = 1, batch = 50, lr = 0.05, momentum = 0.9, progress = false, seed = 1})
m:save(p.out)
local r = ablation.sweep(m, set, "relu4")
r:save(p.out .. ".csv")
local f = assert(io.open(p.out .. ".txt", "w"))
local e = m:evaluate(set)
f:write(string.format("evaluate %.17g %.17g\n", e.loss, e.accuracy))
local a = units.attributes(m, set, "relu4")
local names = {}
for k in pairs(a) do names[#names + 1] = k end
table.sort(names)
for _, k in ipairs(names) do
  if tensor.is_tensor(a[k]) then f:write(string.format("attribute %s %.17g\n", k, (a[k] * a[k]):sum())) end
end
local top = units.top_images(m, set, "relu4", {k = 3})
f:write("top ", lesion.inspect(top.indices), "\n")
local acts = m:activations(set, "relu2")
f:write(string.format("activations %.17g\n", (acts * acts):sum()))
f:write(string.format("curve %.17g\n", ablation.curve(m, set, "relu4", {3, 1, 2, 5}).accuracy:sum()))
f:close()
LUA
for t in 1 2 3; do "$lesion" run "$dir/threads.lua" --threads $t --no-cache --set out="$dir/threads$t.safetensors" --out th$t >/dev/null 2>&1; done
check "training gives the same bits on 1, 2 and 3 threads" 0 '^ok$' -- sh -c "cmp '$dir/threads1.safetensors' '$dir/threads2.safetensors' && cmp '$dir/threads1.safetensors' '$dir/threads3.safetensors' && echo ok"
check "and so does a sweep" 0 '^ok$' -- sh -c "[ -s '$dir/threads1.safetensors.csv' ] && cmp '$dir/threads1.safetensors.csv' '$dir/threads2.safetensors.csv' && cmp '$dir/threads1.safetensors.csv' '$dir/threads3.safetensors.csv' && echo ok"
check "and every cached call: evaluation, attributes, top images, activations, a curve" 0 '^ok$' -- sh -c "grep -q '^curve' '$dir/threads1.safetensors.txt' && cmp '$dir/threads1.safetensors.txt' '$dir/threads2.safetensors.txt' && cmp '$dir/threads1.safetensors.txt' '$dir/threads3.safetensors.txt' && echo ok"

cat >"$dir/threads_dissect.lua" <<'LUA'
local p = params{out = "d.txt"}
local set = data.concepts{n = 60, size = 24, seed = 4}
local m = nn.Sequential{nn.Conv2d(3, 16, 3, {padding = 1}), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, {padding = 1}),
  nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1152, #set.classes), seed = 2, input = {3, 24, 24}}
m:fit(set, {epochs = 1, batch = 20, lr = 0.02, progress = false, seed = 1})
local d = units.dissect(m, set, "relu2")
local f = assert(io.open(p.out, "w"))
f:write(string.format("%.17g %d\n", (d.iou * d.iou):sum(), d.detectors), lesion.inspect(d.best:totable()), "\n")
f:close()
LUA
for t in 1 2 3; do "$lesion" run "$dir/threads_dissect.lua" --threads $t --no-cache --set out="$dir/dissect$t.txt" --out thd$t >/dev/null 2>&1; done
check "and dissection" 0 '^ok$' -- sh -c "[ -s '$dir/dissect1.txt' ] && cmp '$dir/dissect1.txt' '$dir/dissect2.txt' && cmp '$dir/dissect1.txt' '$dir/dissect3.txt' && echo ok"

# lesion slurm without a cluster: the job scripts, and clear errors.
check "slurm --shards 0" 64 '--shards must be between 1 and 10000, got 0' -- "$lesion" slurm "$dir/shard.lua" --shards 0
check "slurm --dry-run writes the scripts" 0 'sbatch --parsable --array=1-3 .*/tasks.sbatch' -- "$lesion" slurm "$dir/shard.lua" --shards 3 --dry-run --out "$dir/dry"
check "one task per shard" 0 "^  3\) exec '.*' 'run' '$dir/shard.lua' '--out' '$dir/dry/shard-3-of-3' '--threads' '[0-9]+' '--cache' '.*' '--shard' '3/3' ;;$" -- cat "$dir/dry/tasks.sbatch"
check "slurm without sbatch" 1 'sbatch is not on PATH' -- env PATH=/nonexistent "$lesion" slurm "$dir/shard.lua" --shards 2 --out "$dir/nosbatch"
check "sweep --slurm without sbatch" 1 'sbatch is not on PATH' -- env PATH=/nonexistent "$lesion" sweep "$dir/shard.lua" --grid n=100,200 --slurm --out "$dir/nosbatch2"
check "slurm --status before anything ran" 0 'shard 2/2: not finished' -- "$lesion" slurm "$dir/shard.lua" --shards 2 --out "$dir/nosbatch" --status

# --sandbox: Tests/sandbox/hostile.lua tries every escape from a folder of its own (with a
# symbolic link out, a file it may read and a module it may require); a folder outside holds
# the secret. Then the limits, and the manifest.
sb="$dir/sandbox"; out="$dir/outside"
mkdir -p "$sb" "$out"
cp "$tests/sandbox/hostile.lua" "$sb/"
echo "secret" >"$out/secret.txt"
echo "readable" >"$sb/readable.txt"
echo "return {answer = 42}" >"$sb/helper_module.lua"
ln -s "$out" "$sb/link-out"
check "sandbox: every escape is refused" 0 '^all hostile attempts refused$' -- sh -c "cd '$sb' && '$lesion' run hostile.lua --sandbox --no-cache -- '$out' 2>&1"
check "sandbox: the manifest says so" 0 '"sandboxed":true' -- sh -c "tr -d ' \n' <'$sb/runs/hostile/default/manifest.json'"
echo 'print(select(2, pcall(io.open, arg[1])))' >"$sb/env.lua"
check "sandbox: LESION_SANDBOX=1 too" 0 'sandbox: io.open may not read' -- sh -c "cd '$sb' && LESION_SANDBOX=1 '$lesion' run env.lua --no-cache -- '$out/secret.txt' 2>&1"
check "sandbox: --allow-read adds a folder" 0 '^secret$' -- sh -c "cd '$sb' && echo 'print(io.open(arg[1]):read(\"l\"))' >allow.lua && '$lesion' run allow.lua --sandbox --allow-read '$out' --no-cache -- '$out/secret.txt' 2>/dev/null"
check "sandbox: nothing was written outside" 0 '^secret.txt$' -- ls "$out"
check "--allow-read without --sandbox" 64 '--allow-read is for sandboxed runs' -- "$lesion" run "$sb/hostile.lua" --allow-read /tmp
printf '%s\n' 'local p = params{x = 1}' 'report.value("opened", io.open(arg and arg[1] or "/etc/hostname") ~= nil)' >"$sb/grid.lua"
check "sandbox: sweep runs every variant sandboxed" 0 '^2$' -- sh -c "cd '$sb' && '$lesion' sweep grid.lua --grid x=1,2 --sandbox --no-cache --out sw >/dev/null 2>&1; cat sw/*/manifest.json | tr -d ' \n' | grep -o '\"sandboxed\":true' | wc -l"
check "sandbox: slurm passes it to every task" 0 "'--sandbox' '--max-memory' '2G'" -- sh -c "'$lesion' slurm '$sb/grid.lua' --shards 2 --dry-run --sandbox --max-memory 2G --out '$dir/sbdry' >/dev/null && cat '$dir/sbdry/tasks.sbatch'"
cat >"$dir/limits.lua" <<'LUA'
-- %% First
print("first cell finished")
-- %% Forever
local p = params{what = "time"}
if p.what == "time" then while true do end end
if p.what == "lua" then local t = {} while true do t[#t + 1] = string.rep("x", 1000) .. #t end end
local keep = {}
for i = 1, 1000 do keep[i] = tensor.zeros{1024, 1024} end
LUA
check "--timeout ends a loop" 1 'the time limit \(--timeout 1s\) was reached' -- "$lesion" run "$dir/limits.lua" --timeout 1 --out lim1
check "and the report keeps the first cell" 0 'first cell finished' -- cat lim1/report.html
cat >"$dir/fit_long.lua" <<'LUA'
local train = data.shapes{n = 100000, size = 28}
local m = nn.Sequential{nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 26 * 26, 10)}
m:fit(train, {epochs = 10})
LUA
check "--timeout ends a long pass" 1 'the time limit \(--timeout 1s\) was reached' -- "$lesion" run "$dir/fit_long.lua" --timeout 1 --no-cache --out lim0
check "--max-memory ends Lua's growth" 1 'the memory limit \(--max-memory 64 MiB\) was reached' -- "$lesion" run "$dir/limits.lua" --set what=lua --max-memory 64M --out lim2
check "--max-memory refuses a tensor" 1 'tensor.zeros: the memory limit \(--max-memory 64 MiB\) would be passed' -- "$lesion" run "$dir/limits.lua" --set what=tensors --max-memory 64M --out lim3
check "the manifest records the limits" 0 '"limits":\{"max_memory":67108864,"timeout":null\}' -- sh -c "tr -d ' \n' <lim3/manifest.json"
check "--max-memory x" 64 "--max-memory takes a size" -- "$lesion" run "$dir/limits.lua" --max-memory x
check "--timeout -1" 64 "--timeout takes a time" -- "$lesion" run "$dir/limits.lua" --timeout=-1

# The five experiments of examples/paper run (on small subsets; the figures of docs/results.md
# come from full runs) and record the values the results page quotes.
paper="$tests/../examples/paper"
small=(--no-cache --set train_n=1000 --set test_n=300)
check "paper 1: single units" 0 'report written' -- "$lesion" run "$paper/1_single_unit.lua" "${small[@]}" --set bootstrap=40 --out paper1
check "paper 1 records the significant drops" 0 '"units_with_significant_class_drop"' -- cat paper1/results.json
check "paper 2: attributes" 0 'report written' -- "$lesion" run "$paper/2_attributes.lua" "${small[@]}" --set rounds=40 --out paper2
check "paper 2 records the cross-validated R2" 0 '"cv_r2_max_class_drop"' -- cat paper2/results.json
check "paper 3: rotation" 0 'report written' -- "$lesion" run "$paper/3_rotation.lua" "${small[@]}" --set rounds=40 --set rotations=2 --out paper3
check "paper 3 records the rotated bases" 0 '"rotated_mean_max_class_drop"' -- cat paper3/results.json
check "paper 4: batch norm" 0 'report written' -- "$lesion" run "$paper/4_batchnorm.lua" "${small[@]}" --set rounds=40 --set seeds=1 --out paper4
check "paper 4 records both" 0 '"bn_rho_selectivity"' -- cat paper4/results.json
check "paper 5: dropout" 0 'report written' -- "$lesion" run "$paper/5_dropout.lua" "${small[@]}" --set rounds=40 --set seeds=1 --set rates=0,0.5 --out paper5
check "paper 5 records each rate" 0 '"dropout_0.5_accuracy"' -- cat paper5/results.json

# Every bound function and method misused on purpose (Tests/misuse/misuse.lua): no crash, no
# hang, and every error names its function.
"$lesion" run "$tests/misuse/misuse.lua" --no-cache --max-memory 3G --timeout "${LESION_MISUSE_TIMEOUT:-600}" --out misuse >"$dir/misuse.txt" 2>"$dir/misuse.err"
check "misuse: every function survives its misuse" 0 '^misuse: no crash$' -- cat "$dir/misuse.txt"
check "misuse: every error names its function" 1 '' -- grep -q 'errors that do not name' "$dir/misuse.txt"
check "misuse: the registry was walked" 0 '^[0-9]{3,} functions and methods' -- cat "$dir/misuse.txt"

# What an independent probe found (issue 13, item 6): Tests/misuse/probe.lua holds the cases a
# script reaches; the ones below are the command line's.
mkdir -p "$dir/probe" && mkfifo "$dir/probe/fifo" && ln -s loop "$dir/probe/loop" && ln -s /dev/null "$dir/probe/null"
check "probe: every case refused clearly" 0 '^probe: all refused clearly$' -- "$lesion" run "$tests/misuse/probe.lua" --out probe -- "$dir/probe"
printf '\xef\xbb\xbfprint("bom ok")\n' >"$dir/bom.lua"
check "a script with a byte-order mark" 0 '^bom ok$' -- "$lesion" run "$dir/bom.lua" --no-cache --out bom
printf 'print("a")\n-- x\0 y\nprint("after nul")\n' >"$dir/nul.lua"
check "a NUL byte in a comment" 0 '^after nul$' -- "$lesion" run "$dir/nul.lua" --no-cache --out nul
printf '#!/usr/bin/env lesion\nprint("shebang ok")\n' >"$dir/shebang.lua"
check "a #! first line" 0 '^shebang ok$' -- "$lesion" run "$dir/shebang.lua" --no-cache --out shebang
printf -- '-- %%%% one\rprint("cr one")\r-- %%%% two\rprint("cr two")\r' >"$dir/cr.lua"
check "CR-only line endings with cell markers" 0 '^cr two$' -- "$lesion" run "$dir/cr.lua" --no-cache --out cr
check "a script that is a FIFO" 1 "cannot read script '.*fifo': it is a FIFO" -- "$lesion" run "$dir/probe/fifo"
touch "$dir/afile"
check "--out on a file" 64 "--out '.*afile' is a file, not a folder" -- "$lesion" run "$dir/ok.lua" --out "$dir/afile"
check "--threads -1" 64 'threads must be between 1 and 256, got -1' -- "$lesion" run "$dir/ok.lua" --threads -1
check "--plugin of a missing folder" 64 "--plugin '/nonexistent-lesion' is not a folder" -- "$lesion" run "$dir/ok.lua" --plugin /nonexistent-lesion
# Ctrl-C ends the run as an error and keeps the run folder with what finished.
cat >"$dir/interrupt.lua" <<'LUA'
-- %% first
report.value("first", 1)
print("first done")
-- %% second
local x = 0
while true do x = x + 1 end
LUA
"$lesion" run "$dir/interrupt.lua" --no-cache --out interrupted >"$dir/interrupt.out" 2>&1 &
ipid=$!
for _ in $(seq 50); do grep -q "first done" "$dir/interrupt.out" 2>/dev/null && break; sleep 0.2; done
kill -INT $ipid; wait $ipid; irc=$?
check "Ctrl-C: exit status 130" 0 '^130$' -- echo "$irc"
check "Ctrl-C: the message" 0 'interrupted \(Ctrl-C\)' -- cat "$dir/interrupt.out"
check "Ctrl-C: the run folder keeps the first cell" 0 '"first":1' -- sh -c "tr -d ' \n' <interrupted/results.json"
# A failing allocation in Lua's allocator (simulated: the 100,000th fails) is survived from the
# reserve and ends the run cleanly with the folder written, wherever it happened.
cat >"$dir/oom.lua" <<'LUA'
-- %% one
report.value("one", 1)
-- %% two
local t = {}
for i = 1, 200000 do t[i] = tensor.zeros{2}:shape() end
LUA
check "out of memory in Lua's allocator ends the run" 1 "out of memory: Lua's allocator failed" -- env LESION_ALLOC_FAIL_AT=100000 "$lesion" run "$dir/oom.lua" --no-cache --out oom
check "out of memory: the folder keeps the first cell" 0 '"one":1' -- sh -c "tr -d ' \n' <oom/results.json"
# Temporary files of a write that was killed are removed by cache ls / size.
mkdir -p "$dir/tmpcache/ab"
echo x >"$dir/tmpcache/ab/abcd.safetensors.tmp-999999-1" && touch -d '2 minutes ago' "$dir/tmpcache/ab/abcd.safetensors.tmp-999999-1"
check "cache size removes a dead run's temporary" 0 '^0 B in 0 entries' -- "$lesion" cache size --cache "$dir/tmpcache"
check "the temporary is gone" 1 '' -- test -e "$dir/tmpcache/ab/abcd.safetensors.tmp-999999-1"
# Reports are safe to open: no raw HTML from Markdown, no javascript: links, a CSP.
cat >"$dir/md.lua" <<'LUA'
-- %% [markdown]
-- <script>alert(1)</script> [x](javascript:alert(2)) `a < b`
-- %% code
report.md("<img src=x onerror=alert(3)> [y](JaVa&#115;cript:alert(4))")
LUA
"$lesion" run "$dir/md.lua" --no-cache --out md >/dev/null 2>&1
check "report: raw HTML is shown as text" 1 '' -- grep -q -E '<script>alert|<img src=x' md/report.html
check "report: javascript: links are removed" 1 '' -- grep -q -i 'href="java' md/report.html
check "report: code keeps its <" 0 '<code>a &lt; b</code>' -- cat md/report.html
check "report: a Content-Security-Policy" 0 "Content-Security-Policy\" content=\"default-src 'none'" -- cat md/report.html

echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
