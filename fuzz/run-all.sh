#!/usr/bin/env bash
# Runs every fuzz target (or those named) for RUNS executions each (default 10,000,000), one
# after another, then minimizes its corpus: the figures in README.md ("Fuzzing") come from
#
#   fuzz/run-all.sh                 # every target, 10M executions each
#   fuzz/run-all.sh 100000 scenario # one target, briefly
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). Each run starts
# from the checked-in corpus (fuzz/corpus/TARGET/) plus the repository's real files (and
# fuzz/seeds/, for what no real file shows) as seeds, writes what it finds to the corpus, and
# stops at the first crash (in fuzz/artifacts/TARGET/; keep a reproducer in
# fuzz/regressions/TARGET/, where the corpus replay test runs it). Logs go to fuzz/logs/.
#
# Built with debug assertions (-a: integer overflow panics) and without a sanitizer (-s none):
# every crate here forbids unsafe code, so AddressSanitizer would find nothing Rust's own
# checks do not, at half the speed.
set -euo pipefail
cd "$(dirname "$0")"

runs=${1:-10000000}
# A unit slower than this many seconds is a hang and stops the run (libFuzzer counts wall
# time). Where jobs may be paused (SIGSTOP) or starved for minutes, TIMEOUT=0 turns it off:
# units slower than 10 s are then still reported (logs/TARGET.log, "Slowest unit") and kept
# as artifacts/TARGET/slow-unit-*, to be timed again alone.
timeout=${TIMEOUT:-300}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(wire_decode node_datagrams config_toml hostconfig scenario)
fi
mkdir -p logs
seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT

for target in "${targets[@]}"; do
    options=(-runs="$runs" -timeout="$timeout" -print_final_stats=1)
    extra=()
    case $target in
        wire_decode)
            # Real datagrams: the example configurations of real/dist/ run as nodes.
            cargo run -q --manifest-path ../Cargo.toml -p failover-fuzz-props \
                --example seed_datagrams -- "$seeds/wire_decode" >/dev/null
            extra=("$seeds/wire_decode")
            ;;
        node_datagrams) options+=(-max_len=512) ;;
        config_toml)
            extra=(../real/dist/two-node ../real/dist/three-node ../real/dist/ipv6 seeds/config_toml)
            options+=(-dict=dict/config.dict)
            ;;
        hostconfig)
            extra=(../real/dist/hostconfig)
            options+=(-dict=dict/hostconfig.dict)
            ;;
        scenario)
            extra=(../scenarios/suite ../scenarios/hunt ../scenarios/bench ../scenarios/real)
            options+=(-dict=dict/scenario.dict)
            ;;
        *) echo "no such target: $target" >&2; exit 2 ;;
    esac
    mkdir -p "corpus/$target"
    echo "== $target: $runs executions"
    cargo +nightly fuzz run -a -s none "$target" "corpus/$target" "${extra[@]}" -- "${options[@]}" \
        >"logs/$target.log" 2>&1 || { tail -40 "logs/$target.log"; exit 1; }
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)' "logs/$target.log"
    cargo +nightly fuzz cmin -a -s none "$target" "corpus/$target" >"logs/$target.cmin.log" 2>&1
    echo "corpus/$target: $(ls "corpus/$target" | wc -l) files after cmin"
done
