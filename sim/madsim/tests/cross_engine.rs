//! The five cross-engine workloads under madsim reach the verdicts and ownership sequences
//! every engine must reach, and a seed replays exactly. Runs only in a `--cfg madsim` build.
#![cfg(madsim)]

use failover_madsim::engine::{builtin, judge, ownership_sequence, Workload};
use failover_madsim::{run, Options};

fn check(workload: Workload) {
    let trace = run(&workload, 7, Options::default());
    let verdict = judge(&workload, &trace);
    assert!(verdict.passed(), "{}:\n{verdict}", workload.name);
    assert_eq!(
        Some(ownership_sequence(&trace)),
        workload.expected,
        "{}",
        workload.name
    );
}

#[test]
fn master_crash_and_takeover() {
    check(builtin::master_crash());
}

#[test]
fn both_links_cut() {
    check(builtin::both_links_cut());
}

#[test]
fn failback_after_restart() {
    check(builtin::failback());
}

#[test]
fn planned_shutdown() {
    check(builtin::planned_shutdown());
}

#[test]
fn three_nodes_with_priorities() {
    check(builtin::three_nodes());
}

#[test]
fn same_seed_same_trace() {
    let w = builtin::failback();
    let first = run(&w, 42, Options::default());
    assert_eq!(first, run(&w, 42, Options::default()));
}

#[test]
fn lost_heartbeats_do_not_cause_a_takeover() {
    check(builtin::lossy_master_crash());
}

#[test]
fn every_workload_passes_under_many_seeds() {
    for workload in builtin::all() {
        for seed in 1..=20 {
            let trace = run(&workload, seed, Options::default());
            assert!(
                judge(&workload, &trace).passed(),
                "{} seed {seed}",
                workload.name
            );
        }
    }
}
