#!/usr/bin/env bash
# One protocol, three engines: builds the turmoil engine (workspace, release) and the madsim
# engine (RUSTFLAGS="--cfg madsim", its own target dir), then runs them side by side.
#
#   sim/engines.sh bench               wall time per simulated hour under every engine, ratios
#   sim/engines.sh compare [ARGS...]   verdicts, ownership and latencies side by side
#   sim/engines.sh test                the madsim engine's tests (the turmoil ones run in
#                                      `cargo test --workspace`)
set -euo pipefail
cd "$(dirname "$0")/.."

madsim_build() {
    RUSTFLAGS="--cfg madsim" cargo "$@" -p failover-madsim --target-dir target/madsim
}

case "${1:-}" in
    bench | compare)
        cargo build --release -p failover-turmoil
        madsim_build build --release
        exec target/release/failover-sim-turmoil "$@" \
            --madsim target/madsim/release/failover-sim-madsim
        ;;
    test)
        madsim_build test
        ;;
    *)
        sed -n '2,9p' "$0" >&2
        exit 2
        ;;
esac
