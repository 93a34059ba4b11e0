//! The five cross-engine workloads under turmoil reach the verdicts and ownership sequences
//! every engine must reach, and a seed replays exactly.

use failover_turmoil::engine::{builtin, judge, ownership_sequence, Workload};
use failover_turmoil::{run, Options};

fn check(workload: Workload) {
    let trace = run(&workload, 7, Options::default()).expect("turmoil runs");
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
    let first = run(&w, 42, Options::default()).unwrap();
    assert_eq!(first, run(&w, 42, Options::default()).unwrap());
}

#[test]
fn per_message_loss_is_refused_not_ignored() {
    let err = run(&builtin::lossy_master_crash(), 1, Options::default()).unwrap_err();
    assert!(err.contains("cannot drop single datagrams"), "{err}");
}
