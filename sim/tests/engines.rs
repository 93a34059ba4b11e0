//! One protocol, three engines: the built-in suite's engine-neutral scenarios under turmoil
//! (and, through the madsim build, madsim) reach the verdicts and ownership sequences our
//! simulator reaches; what an engine cannot model is refused, never ignored. The madsim build
//! has tests of its own (`engines_madsim.rs`).
#![cfg(not(madsim))]

use failover_sim::builtin;
use failover_sim::engine::{self, judge, ownership, Engine, Workload};
use failover_sim::record::Observation;
use std::process::Command;

/// The cross-engine situations and the ownership sequence each must produce.
const EXPECTED: [(&str, &str); 8] = [
    ("master-crash", "master+ backup+"),
    ("both-cut", "master+ backup+ backup-"),
    ("master-restart-failback", "master+ backup+ backup- master+"),
    ("planned-shutdown", "master+ master- backup+"),
    ("three-nodes-priorities", "alpha+ bravo+ bravo- alpha+"),
    ("backup-stall", "master+"),
    ("three-nodes-planned-shutdown", "alpha+ alpha- bravo+"),
    ("master-killed", "master+ backup+ backup- master+"),
];

#[test]
fn turmoil_reaches_the_verdicts_and_ownership_of_our_simulator() {
    for (name, expected) in EXPECTED {
        let scenario = builtin::find(name).unwrap().unwrap();
        for seed in [1, 7] {
            let sim = engine::run(Engine::Sim, &scenario, seed).unwrap();
            let turmoil = engine::run(Engine::Turmoil, &scenario, seed).unwrap();
            for (engine, run) in [("sim", &sim), ("turmoil", &turmoil)] {
                assert_eq!(
                    run.findings.violations,
                    vec![],
                    "{name} seed {seed} under {engine}"
                );
                assert_eq!(
                    ownership(&scenario, &run.acts),
                    expected,
                    "{name} under {engine}"
                );
            }
        }
    }
}

#[test]
fn turmoil_replays_a_seed_exactly() {
    let scenario = builtin::find("master-restart-failback").unwrap().unwrap();
    let a = engine::run(Engine::Turmoil, &scenario, 42).unwrap();
    let b = engine::run(Engine::Turmoil, &scenario, 42).unwrap();
    assert_eq!(a.acts, b.acts);
}

#[test]
fn what_only_our_simulator_models_is_refused_with_the_reason() {
    let one_link = builtin::find("direct-cut-only").unwrap().unwrap();
    let err = Workload::from_scenario(&one_link).unwrap_err();
    assert!(err.contains("link down master on direct"), "{err}");
    let lossy = builtin::find("loss-20pct-no-false-failover")
        .unwrap()
        .unwrap();
    assert!(
        Workload::from_scenario(&lossy).is_ok(),
        "madsim drops single datagrams"
    );
    let err = engine::run(Engine::Turmoil, &lossy, 1).unwrap_err();
    assert!(
        err.contains("turmoil cannot drop single datagrams"),
        "{err}"
    );
}

#[test]
fn another_engines_run_is_held_to_the_scenarios_expectations() {
    // A run in which the backup grabs the address while the master still holds it, on a
    // healthy network: the checkers must say so, whichever engine produced it.
    let scenario = builtin::find("planned-shutdown").unwrap().unwrap();
    let workload = Workload::from_scenario(&scenario).unwrap();
    let acts = [
        (3_000_000_000, Observation::Acquired { node: 0, vip: 0 }),
        (5_000_000_000, Observation::Acquired { node: 1, vip: 0 }),
    ];
    let findings = judge(&scenario, &workload, &acts);
    let broken = findings.broken();
    // (these engines record deliveries: two owners on a healthy network, neither having heard
    // the other, is the healthy-network split)
    assert!(broken.contains("split-brain-healthy"), "{broken:?}");
    assert!(broken.contains("owner-at-end"), "{broken:?}");
}

/// `failover-sim compare` across all three engines. madsim runs in the madsim build of the
/// binary, which `.ci/test` (the README's test command) makes and names in
/// `FAILOVER_SIM_MADSIM`; a plain `cargo test` without it skips this test, loudly, and
/// fails under `FAILOVER_REQUIRE_MADSIM=1` (as in CI).
#[test]
fn the_three_engines_agree_on_every_engine_neutral_scenario() {
    if std::env::var_os("FAILOVER_SIM_MADSIM").is_none() {
        let why = "the_three_engines_agree_on_every_engine_neutral_scenario: SKIPPED: needs the \
                   madsim build (run `bash .ci/test`, or set FAILOVER_SIM_MADSIM)";
        // CI sets this: there a check that cannot run is a failure, not a pass.
        if std::env::var("FAILOVER_REQUIRE_MADSIM").is_ok_and(|v| v == "1") {
            panic!("{why}; FAILOVER_REQUIRE_MADSIM=1 makes a skip a failure");
        }
        eprintln!("{why}");
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_failover-sim"))
        .args(["compare", "--seeds", "2"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (name, expected) in EXPECTED {
        for engine in ["sim", "turmoil", "madsim"] {
            let row = (text.lines())
                .skip_while(|l| !l.starts_with(&format!("{name} (seed 2)")))
                .find(|l| l.trim_start().starts_with(engine))
                .unwrap_or_else(|| panic!("no {engine} row for {name}:\n{text}"));
            assert!(row.contains(&format!("pass   {expected} ")), "{row}");
        }
    }
}
