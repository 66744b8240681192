#!/usr/bin/env bash
# A one-node Slurm cluster on this machine (Debian's slurm-wlm and munge, from scripts/setup.sh):
# munged, slurmctld and slurmd with a generated configuration in a temporary folder, stopped
# afterwards. Through it: a 4-shard sweep with `lesion slurm` (equal byte for byte to an
# unsharded run), a shard cancelled and the run re-submitted (only that shard runs again), and
# a 2x2 grid with `lesion sweep --slurm` (the comparison equal to a local `lesion sweep`).
# Usage: Tests/slurm/run.sh path/to/lesion. Needs root (slurmd runs jobs as their user).
set -u
tests="$(cd "$(dirname "$0")/.." && pwd)"
lesion="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
if [ "$(id -u)" -ne 0 ] || ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  echo "slurm: skipped (needs root, slurm-wlm and munge: scripts/setup.sh installs them)"
  exit 0
fi
dir="$(mktemp -d)"
chmod 755 "$dir"
C="$dir/cluster"
mkdir -p "$C/state" "$C/spool" "$C/log" "$C/munge"
chmod 700 "$C/munge"
stop() {
  for f in "$C/slurmd.pid" "$C/slurmctld.pid" "$C/munge/munged.pid"; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
  done
  sleep 0.5
  rm -rf "$dir"
}
trap stop EXIT
suite=slurm
. "$tests/check.sh"

# Ports away from Slurm's defaults, so a real cluster on this machine is left alone.
port=$((17000 + RANDOM % 2000))
head -c 1024 /dev/urandom >"$C/munge/munge.key"
chmod 400 "$C/munge/munge.key"
munged --force -S "$C/munge/socket" --key-file "$C/munge/munge.key" --pid-file "$C/munge/munged.pid" \
  --log-file "$C/munge/munged.log" --seed-file "$C/munge/seed" || { echo "slurm: munged did not start"; exit 1; }
host="$(hostname)"
cat >"$C/slurm.conf" <<CONF
ClusterName=lesiontest
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
AuthInfo=socket=$C/munge/socket
CredType=cred/munge
StateSaveLocation=$C/state
SlurmdSpoolDir=$C/spool
SlurmctldPidFile=$C/slurmctld.pid
SlurmdPidFile=$C/slurmd.pid
SlurmctldLogFile=$C/log/slurmctld.log
SlurmdLogFile=$C/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=lesion Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$C/slurm.conf"
slurmctld -f "$C/slurm.conf" && slurmd -f "$C/slurm.conf" || { echo "slurm: the daemons did not start"; tail "$C"/log/*; exit 1; }
for _ in $(seq 1 100); do sinfo -h -o %t 2>/dev/null | grep -q idle && break; sleep 0.2; done
check "the cluster is up" 0 '^idle' -- sinfo -h -o %t

# Waits until the queue is empty (at most 5 minutes).
drain() { for _ in $(seq 1 1500); do [ -z "$(squeue -h 2>/dev/null)" ] && return 0; sleep 0.2; done; return 1; }

cd "$dir"
cat >"$dir/sweep.lua" <<'LUA'
local p = params{n = 400, seed = 3, width = 16, csv = "out.csv"}
local set = data.shapes{n = p.n, size = 12, seed = 2}
local m = nn.Sequential{nn.Conv2d(1, p.width, 3, {padding = 1}), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(36 * p.width, 10), seed = p.seed, input = {1, 12, 12}}
m:fit(set, {epochs = 1, batch = 32, lr = 0.05, progress = false, seed = p.seed})
local r = ablation.sweep(m, set, "relu1")
r:save(p.csv)
report.value("worst_drop", r.overall_drop:max())
report.value("accuracy", r.base.accuracy)
LUA
"$lesion" run "$dir/sweep.lua" --no-cache --set csv="$dir/plain.csv" --out plain >/dev/null 2>&1
check "lesion slurm submits" 0 'submitted job [0-9]+ \(shards 1-4 of 4\)' -- "$lesion" slurm "$dir/sweep.lua" --shards 4 --cache "$dir/cache" --set csv="$dir/merged.csv" --out "$dir/s4"
drain
check "every shard finished" 0 '^final: written' -- "$lesion" slurm "$dir/sweep.lua" --shards 4 --cache "$dir/cache" --set csv="$dir/merged.csv" --out "$dir/s4" --status
check "the merged sweep equals an unsharded run byte for byte" 0 '^ok$' -- sh -c "cmp '$dir/plain.csv' '$dir/merged.csv' && echo ok"
check "the merge only read the cache" 0 'ablation.sweep\(relu1\)","key":"[0-9a-f]+","result":"hit"' -- sh -c "tr -d ' \\n' <'$dir/s4/merged/manifest.json'"

# A shard cancelled: the merge never runs; re-submitting runs that shard and the merge.
"$lesion" slurm "$dir/sweep.lua" --shards 4 --cache "$dir/cache2" --set csv="$dir/merged2.csv" --out "$dir/c4" >"$dir/c4.txt" 2>&1
job=$(grep -o 'submitted job [0-9]*' "$dir/c4.txt" | head -1 | grep -o '[0-9]*$')
scancel "${job}_3"
drain
check "the cancelled shard is listed with its log" 0 'shard 3/4: (not finished|FAILED).*log: .*task-3.out' -- "$lesion" slurm "$dir/sweep.lua" --shards 4 --cache "$dir/cache2" --set csv="$dir/merged2.csv" --out "$dir/c4" --status
check "re-submitting runs only that shard" 0 'submitted job [0-9]+ \(shard 3 of 4\)' -- "$lesion" slurm "$dir/sweep.lua" --shards 4 --cache "$dir/cache2" --set csv="$dir/merged2.csv" --out "$dir/c4"
drain
check "and completes the run" 0 '^ok$' -- sh -c "cmp '$dir/plain.csv' '$dir/merged2.csv' && echo ok"

# A 2x2 grid: one array task per variant, then the comparison.
"$lesion" sweep "$dir/sweep.lua" --grid seed=3,4 --grid width=8,16 --no-cache --out "$dir/local" >/dev/null 2>&1
check "lesion sweep --slurm submits" 0 'submitted job [0-9]+ \(variants 1-4 of 4\)' -- "$lesion" sweep "$dir/sweep.lua" --grid seed=3,4 --grid width=8,16 --cache "$dir/cache3" --out "$dir/grid" --slurm
drain
# The seconds column (before the report's link) differs; everything else must not.
for f in local grid; do sed -E 's/,[0-9.]+,("[^"]*"|[^,]*)$/,\1/' "$dir/$f/comparison.csv" >"$dir/$f.csv"; done
check "the grid's comparison equals a local sweep's" 0 '^ok$' -- sh -c "[ \$(wc -l <'$dir/grid.csv') -eq 5 ] && cmp '$dir/local.csv' '$dir/grid.csv' && echo ok"

echo "slurm: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
