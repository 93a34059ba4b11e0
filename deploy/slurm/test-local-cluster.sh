#!/bin/bash
# Tests the Slurm example for real: brings up a single-node Slurm cluster (Debian's slurm-wlm
# and munge) whose every file is in a temporary directory, submits deploy/slurm/submit.sh's
# 4-task array over 40,000 seeds of a swarm scenario and its dependent merge, waits, and
# compares the merged results with a sweep of the same seeds on this machine alone, seed for
# seed: verdicts, violations, figures and trace hashes. Exits non-zero on any difference.
#
# Root only (the daemons run as root). Installs slurm-wlm and munge if missing. Leaves
# nothing behind: the daemons are stopped by their PIDs and the directory is removed, also
# when it fails or is interrupted. Nothing listens beyond 127.0.0.1 ports picked free.
#
#   bash deploy/slurm/test-local-cluster.sh
#
# Settings, from the environment:
#   FAILOVER_SIM  the failover-sim program (default: cargo build --release, then that build)
#   SCENARIO      default swarm-three-nodes
#   SEEDS         default 1..=40000
#   SHARDS        default 4
#   TIMEOUT       seconds to wait for the jobs (default 3600)
set -euo pipefail
repo=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
SCENARIO=${SCENARIO:-swarm-three-nodes}
SEEDS=${SEEDS:-1..=40000}
SHARDS=${SHARDS:-4}
TIMEOUT=${TIMEOUT:-3600}
started=$SECONDS
say() { printf '[%4ds] %s\n' $((SECONDS - started)) "$*"; }

if [ "$(id -u)" -ne 0 ]; then
    echo "test-local-cluster: needs root (it starts munged, slurmctld and slurmd)" >&2
    exit 2
fi
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null ||
    ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
    say "installing slurm-wlm and munge"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq slurm-wlm munge >/dev/null ||
        { apt-get update -qq && apt-get install -y -qq slurm-wlm munge >/dev/null; }
fi
if [ -z "${FAILOVER_SIM:-}" ]; then
    say "building failover-sim (release)"
    cargo build --release -q -p failover-sim --manifest-path "$repo/Cargo.toml"
    FAILOVER_SIM=${CARGO_TARGET_DIR:-$repo/target}/release/failover-sim
fi
FAILOVER_SIM=$(readlink -f "$FAILOVER_SIM")
[ -x "$FAILOVER_SIM" ] || { echo "test-local-cluster: $FAILOVER_SIM is not a program" >&2; exit 2; }

dir=$(mktemp -d /tmp/failover-slurm.XXXXXX)
chmod 711 "$dir" # munged wants its socket's directories searchable by all
pids=()
jobs_submitted=()
# Ends process $1: TERM, up to 5 s to go, then KILL.
stop() {
    kill "$1" 2>/dev/null || return 0
    for _ in $(seq 1 50); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$1" 2>/dev/null || true
}
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [ ${#jobs_submitted[@]} -gt 0 ] && [ -n "${SLURM_CONF:-}" ]; then
        scancel "${jobs_submitted[@]}" 2>/dev/null || true
        # Let slurmd end what it started before it is stopped itself.
        for _ in $(seq 1 50); do
            [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
            sleep 0.2
        done
    fi
    if [ "$status" -ne 0 ]; then
        for log in "$dir"/log/*.log; do
            [ -f "$log" ] && { echo "--- last lines of $log"; tail -n 20 "$log"; }
        done
    fi
    # Stopped in reverse order of start, each by its PID.
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        stop "${pids[i]}"
        wait "${pids[i]}" 2>/dev/null || true
    done
    # Whatever this cluster started and outlived it (a job step whose slurmd went first):
    # each such process has this cluster's SLURM_CONF in its environment.
    local p
    for p in $(env -u SLURM_CONF grep -lxsF --null-data "SLURM_CONF=$dir/slurm.conf" \
        /proc/[0-9]*/environ | cut -d/ -f3); do
        [ "$p" != $$ ] && [ "$p" != "$BASHPID" ] && stop "$p"
    done
    rm -rf "$dir"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$dir"/{munge,state,spool,log,results}
# munge: a key of its own, a socket in the directory.
dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$dir/munge/munge.key"
setsid munged --foreground --force --key-file="$dir/munge/munge.key" \
    --socket="$dir/munge/munge.socket" --pid-file="$dir/munge/munged.pid" \
    --seed-file="$dir/munge/munged.seed" --log-file="$dir/log/munged.log" \
    >"$dir/log/munged.out" 2>&1 &
pids+=($!)

# Two free ports on 127.0.0.1 for slurmctld and slurmd.
read -r ctld_port slurmd_port < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s:
    x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
node=$(hostname -s)
export SLURM_CONF=$dir/slurm.conf
cat >"$SLURM_CONF" <<CONF
ClusterName=failover-test
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MinJobAge=3600
NodeName=$node NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=sweep Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
for _ in $(seq 1 50); do [ -S "$dir/munge/munge.socket" ] && break; sleep 0.1; done
setsid slurmctld -D >"$dir/log/slurmctld.out" 2>&1 &
pids+=($!)
setsid slurmd -D -N "$node" >"$dir/log/slurmd.out" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
    [ "$(sinfo -h -o %T 2>/dev/null)" = idle ] && break
    sleep 0.2
done
[ "$(sinfo -h -o %T)" = idle ] || { echo "test-local-cluster: the node never came up" >&2; exit 1; }
say "single-node cluster up: node $node, $(nproc) CPUs, ports $ctld_port/$slurmd_port, $(sinfo -V)"

# The example, as a user submits it.
export FAILOVER_SIM SCENARIO SEEDS
export RESULTS=$dir/results/shards MERGED=$dir/results/merged
submitted=$SECONDS
ids=$(cd "$dir/results" && "$repo/deploy/slurm/submit.sh" "$SHARDS")
read -r array merge <<<"$ids"
jobs_submitted=("$array" "$merge")
say "submitted: array job $array ($SHARDS tasks of $SCENARIO, seeds $SEEDS), merge job $merge (afterok)"
state=
while :; do
    state=$(scontrol show job "$merge" -o | grep -o 'JobState=[A-Z_]*' | cut -d= -f2)
    case $state in
    COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE) break ;;
    esac
    if [ $((SECONDS - submitted)) -gt "$TIMEOUT" ]; then
        echo "test-local-cluster: the jobs did not end within ${TIMEOUT}s" >&2
        squeue >&2
        exit 1
    fi
    sleep 2
done
slurm_time=$((SECONDS - submitted))
say "merge job $merge: $state after ${slurm_time}s"
for out in "$dir"/results/failover-sweep-*.out; do
    echo "--- $(basename "$out")"
    cat "$out"
done
echo "--- failover-merge-$merge.out"
cat "$dir/results/failover-merge-$merge.out"
# The merge exits 0 when every seed passed and 1 when some failed (both are whole results,
# compared below); anything else is a failure of the example.
exit_code=$(scontrol show job "$merge" -o | grep -o ' ExitCode=[0-9:]*' | cut -d= -f2)
case "$state $exit_code" in
"COMPLETED 0:0" | "FAILED 1:0") ;;
*)
    echo "test-local-cluster: the merge job ended $state with exit code $exit_code" >&2
    exit 1
    ;;
esac

say "the same seeds on this machine alone"
whole_started=$SECONDS
"$FAILOVER_SIM" sweep "$SCENARIO" --seeds "$SEEDS" --json "$dir/whole.json" >"$dir/whole.out" ||
    [ $? -eq 1 ]
grep 'seeds of' "$dir/whole.out"
whole_time=$((SECONDS - whole_started))

# Seed for seed: the header (scenario, digest, seed range, shard 1/1), then every seed's line
# (verdict, violations, figures, trace hash), sorted.
merged=$MERGED.json
if ! cmp -s <(head -n 1 "$merged") <(head -n 1 "$dir/whole.json"); then
    echo "test-local-cluster: the headers differ:" >&2
    head -n 1 "$merged" "$dir/whole.json" >&2
    exit 1
fi
if ! cmp -s <(tail -n +2 "$merged" | sort) <(tail -n +2 "$dir/whole.json" | sort); then
    echo "test-local-cluster: the merged results differ from the one-machine sweep:" >&2
    diff <(tail -n +2 "$merged" | sort) <(tail -n +2 "$dir/whole.json" | sort) | head -n 20 >&2
    exit 1
fi
seeds=$(($(wc -l <"$merged") - 1))
failed=$(grep -c '"verdict":"fail"' "$merged" || true)
say "identical, seed for seed: $seeds seeds ($failed failing) from $SHARDS Slurm shards and the merge" \
    "(${slurm_time}s from submission to the merge's end) as from one machine (${whole_time}s)"
