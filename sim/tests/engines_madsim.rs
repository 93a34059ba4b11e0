//! The engine-neutral scenarios under madsim reach the verdicts and ownership sequences of our
//! simulator, per-message loss included. Runs only in the madsim build:
//! `RUSTFLAGS="--cfg madsim" cargo test -p failover-sim --target-dir target/madsim --test engines_madsim`.
#![cfg(madsim)]

use failover_sim::builtin;
use failover_sim::engine::{self, ownership, Engine};

const SCENARIOS: [&str; 9] = [
    "master-crash",
    "both-cut",
    "master-restart-failback",
    "planned-shutdown",
    "three-nodes-priorities",
    "loss-20pct-no-false-failover",
    "backup-stall",
    "three-nodes-planned-shutdown",
    "master-killed",
];

#[test]
fn madsim_reaches_the_verdicts_and_ownership_of_our_simulator() {
    for name in SCENARIOS {
        let scenario = builtin::find(name).unwrap().unwrap();
        for seed in 1..=5 {
            let sim = engine::run(Engine::Sim, &scenario, seed).unwrap();
            let madsim = engine::run(Engine::Madsim, &scenario, seed).unwrap();
            assert_eq!(madsim.findings.violations, vec![], "{name} seed {seed}");
            assert_eq!(
                ownership(&scenario, &madsim.acts),
                ownership(&scenario, &sim.acts),
                "{name} seed {seed}"
            );
        }
    }
}

#[test]
fn madsim_replays_a_seed_exactly() {
    let scenario = builtin::find("master-restart-failback").unwrap().unwrap();
    let a = engine::run(Engine::Madsim, &scenario, 42).unwrap();
    let b = engine::run(Engine::Madsim, &scenario, 42).unwrap();
    assert_eq!(a.acts, b.acts);
}

#[test]
fn this_build_has_no_turmoil() {
    let scenario = builtin::find("master-crash").unwrap().unwrap();
    let err = engine::run(Engine::Turmoil, &scenario, 1).unwrap_err();
    assert!(err.contains("no turmoil"), "{err}");
}
