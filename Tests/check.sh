# The `check` of the shell test suites (Tests/cli, Tests/slurm): source it after setting
# `suite` (the name in failure lines); it counts in `pass` and `fail`.
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
    echo "FAIL $suite: $name (status $status, want $want; pattern '$pattern')"
    echo "$out" | head -20 | sed 's/^/    /'
  fi
}
