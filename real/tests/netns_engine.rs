//! The same scenario files against the real daemon: every scenario of `scenarios/real/` runs
//! under the simulator and against `failoverd` processes in network namespaces (the netns
//! engine of failover-sim), and both get the same verdict from the same checkers and the same
//! ownership sequence. Needs root; skips (or fails under `FAILOVER_REQUIRE_NETNS=1`) otherwise.

use failover_sim::engine::{self, netns, Engine};
use failover_sim::{builtin, Scenario};
use failover_testbed::root_or_skip;
use std::path::{Path, PathBuf};

const FAILOVERD: &str = env!("CARGO_BIN_EXE_failoverd");

fn real_suite() -> Vec<(String, Scenario)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios/real");
    let loaded = builtin::load(&[dir]).expect("scenarios/real reads");
    assert!(
        loaded.scenarios.len() >= 12,
        "the issue's situations are all there"
    );
    loaded.scenarios
}

/// Namespaces this test process made (the engine names them after its PID).
fn our_namespaces() -> Vec<String> {
    let out = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    let prefix = format!("fo{}n", std::process::id());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .map(str::to_string)
        .collect()
}

#[test]
fn real_daemons_get_the_simulators_verdicts_and_ownership_sequences() {
    if !root_or_skip() {
        return;
    }
    let mut disagree = Vec::new();
    for (file, scenario) in real_suite() {
        let sim = engine::run(Engine::Sim, &scenario, 1).unwrap();
        let real = netns::run(&scenario, 1, Path::new(FAILOVERD))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let (sim_seq, real_seq) = (
            engine::ownership(&scenario, &sim.acts),
            engine::ownership(&scenario, &real.produced.acts),
        );
        // The client's own ARP requests: two MACs answering one is two owners at that
        // instant, seen from the wire rather than from the daemons' accounts.
        let arp = &real.arp;
        if arp.answered == 0 {
            disagree.push(format!("{file}: no ARP request answered: {arp:?}"));
        }
        let quorum = scenario.protocol.mode == failover_core::config::Mode::Quorum;
        if quorum && arp.answered_twice > 0 {
            disagree.push(format!(
                "{file}: two owners answered ARP in quorum mode: {arp:?}"
            ));
        }
        if scenario.name == "real-both-cut" && arp.answered_twice == 0 {
            disagree.push(format!(
                "{file}: classic mode with both links cut should show two owners: {arp:?}"
            ));
        }
        if !sim.findings.violations.is_empty()
            || !real.findings.violations.is_empty()
            || sim_seq != real_seq
        {
            disagree.push(format!(
                "{file}:\n  sim   {sim_seq} {:?}\n  netns {real_seq} {:?}",
                sim.findings.violations, real.findings.violations
            ));
        }
        assert_eq!(
            our_namespaces(),
            Vec::<String>::new(),
            "{file} left namespaces"
        );
    }
    assert!(disagree.is_empty(), "{}", disagree.join("\n"));
}

#[test]
fn what_the_kernel_here_cannot_do_is_refused_with_the_fault_named() {
    let (_, crash) = real_suite()
        .into_iter()
        .find(|(_, s)| s.name == "real-master-crash")
        .unwrap();
    let mut jitter = crash.clone();
    jitter.segments[0].jitter = std::time::Duration::from_millis(1);
    let err = netns::refuse(&jitter).unwrap_err();
    assert!(
        err.contains("segment `public`") && err.contains("jitter"),
        "{err}"
    );
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios/real/master-crash.toml"),
    )
    .unwrap();
    for (fault, named) in [
        (
            "kind = \"clock\"\nnode = \"backup\"\ndrift_ppm = 500.0",
            "clock of backup",
        ),
        (
            "kind = \"degrade\"\nsegment = \"public\"\ndelay = \"50ms\"\nduration = \"1s\"",
            "latency on public",
        ),
        (
            "kind = \"address\"\nnode = \"backup\"\nchange = \"remove\"",
            "address remove fails",
        ),
    ] {
        let with = format!("{text}\n[[fault]]\nat = \"1s\"\n{fault}\n");
        let scenario = Scenario::from_toml_str(&with, "refused.toml").unwrap();
        let err = engine::supports(Engine::Netns, &scenario).unwrap_err();
        assert!(err.contains(named) && err.contains("cannot"), "{err}");
    }
}
