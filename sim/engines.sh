#!/usr/bin/env bash
# One protocol, three engines: builds failover-sim twice — the normal build (our simulator and
# turmoil) and the madsim build (RUSTFLAGS="--cfg madsim", its own target directory) — then
# runs them side by side.
#
#   sim/engines.sh bench               wall time per simulated hour under every engine, ratios
#   sim/engines.sh compare [ARGS...]   verdicts, ownership and latencies side by side
#   sim/engines.sh test                the madsim build's tests (the others run in
#                                      `cargo test --workspace`)
set -euo pipefail
cd "$(dirname "$0")/.."

madsim() {
    RUSTFLAGS="--cfg madsim" cargo "$@" -p failover-sim --target-dir target/madsim
}

case "${1:-}" in
    bench)
        cargo build --release -p failover-sim
        madsim build --release
        export FAILOVER_SIM_MADSIM="$PWD/target/madsim/release/failover-sim"
        exec target/release/failover-sim bench-engines
        ;;
    compare)
        shift
        cargo build --release -p failover-sim
        madsim build --release
        export FAILOVER_SIM_MADSIM="$PWD/target/madsim/release/failover-sim"
        exec target/release/failover-sim compare "$@"
        ;;
    test)
        madsim test --test engines_madsim
        ;;
    *)
        sed -n '2,10p' "$0" >&2
        exit 2
        ;;
esac
