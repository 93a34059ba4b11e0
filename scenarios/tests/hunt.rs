//! Scenarios a sweep must find violations in, and the minimal reproductions shrinking wrote
//! from them: they keep breaking what they broke, and their traces are snapshots, so a change
//! of protocol behaviour shows up as a reviewable diff (`cargo insta review`).

use failover_sim::{builtin, run, swarm, Options};

fn trace_text(report: &failover_sim::RunReport) -> String {
    let mut text: Vec<String> = report.trace.records.iter().map(|r| r.to_string()).collect();
    text.extend(
        report
            .findings
            .violations
            .iter()
            .map(|v| format!("VIOLATION {}: {}", v.invariant, v.detail)),
    );
    text.push(format!("trace hash: {}", report.hash()));
    text.join("\n")
}

#[test]
fn the_shrunk_split_brain_replays_both_links_cut_and_the_split() {
    let scenario = builtin::find("classic-split-brain-seed-2")
        .unwrap()
        .unwrap();
    assert!(scenario.swarm.is_none());
    let report = run(&scenario, 2, &Options::default()).unwrap();
    assert_eq!(Vec::from_iter(report.findings.broken()), ["split-brain"]);
    insta::assert_snapshot!("classic-split-brain-seed-2", trace_text(&report));
}

#[test]
fn a_swarm_seed_draws_the_same_faults_and_runs_the_same_way() {
    let scenario = builtin::find("swarm-two-nodes").unwrap().unwrap();
    let draw = swarm::describe(&scenario.swarm.as_ref().unwrap().draw(&scenario, 2));
    let report = run(&scenario, 2, &Options::default()).unwrap();
    assert!(report.passed(), "{:?}", report.findings.violations);
    insta::assert_snapshot!(
        "swarm-two-nodes-seed-2",
        format!("{draw}\n{}", trace_text(&report))
    );
}
