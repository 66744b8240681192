#!/usr/bin/env bash
# Command-line checks of the lesion executable: exit codes and messages as a user sees them.
# Usage: Tests/cli/run.sh path/to/lesion
set -u
lesion="$1"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
pass=0
fail=0

check() {  # check NAME EXPECTED_STATUS PATTERN -- command...
  local name="$1" want="$2" pattern="$3"
  shift 4
  local out status
  out="$("$@" 2>&1)"
  status=$?
  if [ "$status" -eq "$want" ] && grep -qE -- "$pattern" <<<"$out"; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    echo "FAIL cli: $name (status $status, want $want; pattern '$pattern')"
    echo "$out" | head -20 | sed 's/^/    /'
  fi
}

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
cp -r "$(dirname "$0")/../../lua" "$dir/copy/bin/lua"
check "lua/ beside an installed executable" 0 '^ok$' -- "$dir/copy/bin/lesion" -e 'print("ok")'
mkdir -p "$dir/prefix/bin" "$dir/prefix/share/lesion"
cp "$lesion" "$dir/prefix/bin/lesion"
cp -r "$(dirname "$0")/../../lua" "$dir/prefix/share/lesion/lua"
check "lua/ in ../share/lesion of an installed executable" 0 '^ok$' -- "$dir/prefix/bin/lesion" -e 'print("ok")'

mkdir -p "$dir/prefix/bin" "$dir/prefix/share/lesion"
cp "$lesion" "$dir/prefix/bin/lesion"
cp -r "$(dirname "$0")/../../lua" "$dir/prefix/share/lesion/lua"
check "lua/ in ../share/lesion of an installed executable" 0 '^ok$' -- "$dir/prefix/bin/lesion" -e 'print("ok")'

printf 'local p = params{epochs = 2, lr = 0.01, bn = false, name = "run"}\nprint(p.epochs, math.type(p.epochs), p.lr, p.bn, p.name)\n' >"$dir/params.lua"
check "params defaults" 0 '^2	integer	0.01	false	run$' -- "$lesion" run "$dir/params.lua"
check "params --set typed" 0 '^5	integer	0.001	true	a=b$' -- "$lesion" run "$dir/params.lua" --set epochs=5 --set lr=1e-3 --set bn=yes --set name=a=b
check "params unknown key lists the declared ones" 1 "unknown parameter 'epoch' given with --set; the script declares: bn \(boolean\), epochs \(integer\), lr \(number\), name \(string\)" -- "$lesion" run "$dir/params.lua" --set epoch=5
check "params wrong type" 1 "'2.5' is not an integer" -- "$lesion" run "$dir/params.lua" --set epochs=2.5
check "params bad boolean" 1 "'maybe' is not a boolean" -- "$lesion" run "$dir/params.lua" --set bn=maybe
check "--set without =" 64 "--set takes key=value" -- "$lesion" run "$dir/params.lua" --set epochs
check "--set on a script without params" 2 "declares no parameters" -- "$lesion" run "$dir/ok.lua" --set a=1

echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
