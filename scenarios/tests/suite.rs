//! The built-in suite, run the way CI users run it: every scenario under many seeds must pass,
//! and every seed must replay to the same trace, byte for byte.

use failover_sim::{builtin, run, Options, Scenario};

const SEEDS: u64 = 16;

fn suite() -> Vec<Scenario> {
    let suite = builtin::suite().expect("the built-in suite parses");
    assert!(
        suite.len() >= 12,
        "the suite covers the source document's situations"
    );
    suite
}

#[test]
fn every_scenario_passes_under_every_seed() {
    let mut failures = Vec::new();
    for scenario in suite() {
        for seed in 1..=SEEDS {
            let report = run(&scenario, seed, &Options::default()).unwrap();
            for v in &report.findings.violations {
                failures.push(format!(
                    "{} seed {seed}: {}: {}",
                    scenario.name, v.invariant, v.detail
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_same_seed_gives_the_same_trace_byte_for_byte() {
    for scenario in suite() {
        for seed in [1, 7, 1_000_003] {
            let options = Options {
                keep_datagrams: true,
                ..Options::default()
            };
            let a = run(&scenario, seed, &options).unwrap();
            let b = run(&scenario, seed, &options).unwrap();
            assert_eq!(a.hash(), b.hash(), "{} seed {seed}", scenario.name);
            let text = |r: &failover_sim::RunReport| {
                r.trace
                    .records
                    .iter()
                    .map(|r| r.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            assert_eq!(text(&a), text(&b), "{} seed {seed}", scenario.name);
        }
    }
}

#[test]
fn different_seeds_give_different_runs_where_the_network_is_random() {
    let lossy = builtin::find("loss-20pct-no-false-failover")
        .unwrap()
        .unwrap();
    let hashes: std::collections::BTreeSet<String> = (1..=5)
        .map(|seed| run(&lossy, seed, &Options::default()).unwrap().hash())
        .collect();
    assert_eq!(hashes.len(), 5, "the seed drives the network's randomness");
}

/// Readable traces of the key scenarios: any change of protocol behaviour shows up here as a
/// reviewable diff (`cargo insta review`).
#[test]
fn traces_of_the_key_scenarios() {
    for name in [
        "master-crash",
        "master-restart-failback",
        "direct-cut-only",
        "both-cut",
        "master-paused",
        "planned-shutdown",
        "hook-veto",
        "three-nodes-priorities",
        "quorum-both-cut",
        "quorum-master-paused",
        "reload-lower-owner-priority",
        "reload-raise-backup-priority",
        "reload-key-rotation",
        "reload-timing",
        "reload-refused",
        "reload-group",
        "quorum-reload",
    ] {
        let scenario = builtin::find(name).unwrap().unwrap();
        let report = run(&scenario, 1, &Options::default()).unwrap();
        let mut text: Vec<String> = report.trace.records.iter().map(|r| r.to_string()).collect();
        text.push(format!("trace hash: {}", report.hash()));
        insta::assert_snapshot!(name, text.join("\n"));
    }
}
