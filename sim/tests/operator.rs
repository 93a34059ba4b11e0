//! An operator's standby and switchover in the simulator, and the checkers that judge them:
//! each scenario of the suite passes, and the same record doctored to show what a wrong
//! protocol would do — a node in standby taking the address, a hand-over going to another
//! node than the one named, a refusal while an eligible node was live — is caught.

use failover_core::{Accepted, Answer, Refusal, Request};
use failover_sim::check::{judge, Findings};
use failover_sim::record::{Observation, Record};
use failover_sim::{builtin, run, Options, RunReport, Scenario};

fn scenario(name: &str) -> Scenario {
    builtin::find(name)
        .unwrap_or_else(|| panic!("{name} is in the suite"))
        .expect("it reads")
}

fn recorded(scenario: &Scenario) -> RunReport {
    let options = Options {
        record: true,
        ..Options::default()
    };
    let report = run(scenario, 1, &options).unwrap();
    assert!(
        report.passed(),
        "{}: {:?}",
        scenario.name,
        report.findings.violations
    );
    report
}

fn rejudge(scenario: &Scenario, report: &RunReport, record: &[Record]) -> Findings {
    let end = scenario.duration.as_nanos() as u64;
    judge(scenario, &report.faults, record, end, true)
}

/// The violations of `invariant` in `findings`, as their details.
fn violations(findings: &Findings, invariant: &str) -> Vec<String> {
    (findings.violations.iter())
        .filter(|v| v.invariant == invariant)
        .map(|v| v.detail.clone())
        .collect()
}

fn index(scenario: &Scenario, name: &str) -> usize {
    scenario.node_index(name).unwrap()
}

/// The position of the first record that `pred` matches.
fn find(record: &[Record], pred: impl Fn(&Observation) -> bool) -> usize {
    record
        .iter()
        .position(|(_, obs)| pred(obs))
        .expect("it is in the record")
}

#[test]
fn the_checkers_see_the_undoctored_runs_pass_and_rejudge_them_the_same() {
    for name in [
        "standby-two-nodes",
        "standby-refused-backup-paused",
        "switchover-three-nodes",
        "switchover-refusals-three-nodes",
        "switchover-under-loss",
        "quorum-standby-switchover",
    ] {
        let scenario = scenario(name);
        let report = recorded(&scenario);
        let again = rejudge(&scenario, &report, &report.record);
        assert!(
            again.violations.is_empty(),
            "{name}: {:?}",
            again.violations
        );
    }
}

#[test]
fn a_node_in_standby_that_takes_the_address_is_caught_even_with_no_one_else_left() {
    let scenario = scenario("standby-two-nodes");
    let report = recorded(&scenario);
    let (master, backup) = (index(&scenario, "master"), index(&scenario, "backup"));
    let mut record = report.record.clone();
    // The master stored its standby flag; a second later, as if the backup had died, it
    // takes the address back though it is still in standby.
    let stored = find(
        &record,
        |o| matches!(o, Observation::Standby { node, on: true } if *node == master),
    );
    let at = record[stored].0 + 1_000_000_000;
    let pos = record.partition_point(|(t, _)| *t <= at);
    record.splice(
        pos..pos,
        [
            (at, Observation::Down { node: backup }),
            (
                at,
                Observation::Released {
                    node: backup,
                    vip: 0,
                },
            ),
            (
                at,
                Observation::Acquired {
                    node: master,
                    vip: 0,
                },
            ),
        ],
    );
    let findings = rejudge(&scenario, &report, &record);
    let caught = violations(&findings, "standby");
    assert_eq!(caught.len(), 1, "{:?}", findings.violations);
    assert!(
        caught[0].contains("master acquired address 0"),
        "{caught:?}"
    );
}

#[test]
fn a_hand_over_that_goes_to_another_node_than_the_one_named_is_caught() {
    let scenario = scenario("switchover-three-nodes");
    let report = recorded(&scenario);
    let mut record = report.record.clone();
    // The switchover named charlie; have bravo be the one that takes the address instead.
    let answered = find(&record, |o| {
        matches!(o, Observation::Answered { answer, .. }
            if matches!(&answer.outcome, Ok(Accepted::Switchover { to }) if to == "charlie"))
    });
    let (charlie, bravo) = (index(&scenario, "charlie"), index(&scenario, "bravo"));
    let acquired = answered
        + find(
            &record[answered..],
            |o| matches!(o, Observation::Acquired { node, .. } if *node == charlie),
        );
    record[acquired].1 = Observation::Acquired {
        node: bravo,
        vip: 0,
    };
    let findings = rejudge(&scenario, &report, &record);
    let caught = violations(&findings, "operator");
    assert!(
        caught
            .iter()
            .any(|d| d.contains("handed to charlie") && d.contains("bravo acquired")),
        "{:?}",
        findings.violations
    );
}

#[test]
fn a_refusal_while_an_eligible_node_was_live_on_a_healthy_network_is_caught() {
    let scenario = scenario("standby-two-nodes");
    let report = recorded(&scenario);
    let master = index(&scenario, "master");
    let mut record = report.record.clone();
    // Before the real request, the master "refuses" a standby for want of a live backup,
    // though the backup has been up all along and the network is healthy.
    let at = 15_000_000_000;
    let pos = record.partition_point(|(t, _)| *t <= at);
    let answer = Answer {
        id: 99,
        request: Request::Standby,
        outcome: Err(Refusal::NoEligibleNode { waited_ms: 3_000 }),
    };
    record.insert(
        pos,
        (
            at,
            Observation::Answered {
                node: master,
                answer,
            },
        ),
    );
    let findings = rejudge(&scenario, &report, &record);
    let caught = violations(&findings, "operator");
    assert!(
        caught.iter().any(|d| d.contains("backup was live")),
        "{:?}",
        findings.violations
    );
}

#[test]
fn a_switchover_refused_as_not_the_owner_by_the_owner_is_caught() {
    let scenario = scenario("switchover-three-nodes");
    let report = recorded(&scenario);
    let alpha = index(&scenario, "alpha");
    let mut record = report.record.clone();
    let at = 15_000_000_000;
    let pos = record.partition_point(|(t, _)| *t <= at);
    let answer = Answer {
        id: 99,
        request: Request::Switchover { to: None },
        outcome: Err(Refusal::NotOwner { owner: None }),
    };
    record.insert(
        pos,
        (
            at,
            Observation::Answered {
                node: alpha,
                answer,
            },
        ),
    );
    let findings = rejudge(&scenario, &report, &record);
    let caught = violations(&findings, "operator");
    assert!(
        caught.iter().any(|d| d.contains("\"not the owner\"")),
        "{:?}",
        findings.violations
    );
}
