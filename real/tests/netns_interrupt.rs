//! Ctrl-C during a run of the netns engine: the run stops at its next step and removes every
//! namespace and process it made. (A test binary of its own: the interruption is for the whole
//! process.) Needs root; skips (or fails under `FAILOVER_REQUIRE_NETNS=1`) otherwise.

use failover_sim::engine::netns;
use failover_sim::Scenario;
use failover_testbed::root_or_skip;
use nix::sys::signal::{raise, Signal};
use std::path::{Path, PathBuf};
use std::time::Duration;

const FAILOVERD: &str = env!("CARGO_BIN_EXE_failoverd");

/// This process's namespaces and failoverd children.
fn leftovers() -> (Vec<String>, Vec<String>) {
    let out = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    let prefix = format!("fo{}n", std::process::id());
    let namespaces = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .map(str::to_string)
        .collect();
    let me = std::process::id().to_string();
    let children = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| stat.contains("(failoverd)"))
        .filter(|stat| stat.split_whitespace().nth(3) == Some(me.as_str()))
        .collect();
    (namespaces, children)
}

#[test]
fn ctrl_c_stops_a_real_run_and_leaves_nothing_behind() {
    if !root_or_skip() {
        return;
    }
    let file =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios/real/master-crash.toml");
    let scenario = Scenario::load(&file).unwrap();
    let run = std::thread::spawn(move || netns::run(&scenario, 1, Path::new(FAILOVERD)));
    // Once the daemons run (their namespaces exist), press Ctrl-C.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while leftovers().1.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the run never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    raise(Signal::SIGINT).unwrap();
    let result = run.join().unwrap();
    assert_eq!(result.err().as_deref(), Some("interrupted"));
    assert_eq!(
        leftovers(),
        (vec![], vec![]),
        "namespaces and daemons removed"
    );
}
