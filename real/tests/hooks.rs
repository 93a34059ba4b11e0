//! The hook runner with real scripts: name order, environment, exit status, and a hung hook
//! killed with everything it started. Needs no root.

use failover_core::{HookEvent, HookKind, HookOutcome};
use failover_real::hooks::{run, scripts, HookJob};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};
use tempfile::TempDir;

fn script(dir: &Path, name: &str, body: &str) {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn job(dir: &Path, kind: HookKind, timeout: Duration) -> HookJob {
    HookJob {
        kind,
        event: HookEvent::Acquire,
        dir: dir.to_path_buf(),
        address: "192.0.2.100".into(),
        prefix: 24,
        interface: "eth0".into(),
        peer: Some("master".into()),
        node: "backup".into(),
        deadline: tokio::time::Instant::now() + timeout,
        timeout,
    }
}

#[test]
fn scripts_are_found_by_prefix_in_name_order_and_test_by_exact_name() {
    let dir = TempDir::new().unwrap();
    for name in [
        "PreAcq-b",
        "PreAcq-a",
        "PreAcq",
        "PostAcq",
        "Test",
        "Test.orig",
        "README",
    ] {
        script(dir.path(), name, "true");
    }
    let names = |kind| -> Vec<String> {
        scripts(dir.path(), kind)
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    };
    assert_eq!(names(HookKind::PreAcq), ["PreAcq", "PreAcq-a", "PreAcq-b"]);
    assert_eq!(names(HookKind::Test), ["Test"]);
    assert_eq!(names(HookKind::PreRel), Vec::<String>::new());
    assert!(scripts(&dir.path().join("missing"), HookKind::Test).is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn scripts_run_in_order_with_the_environment_and_the_first_failure_counts() {
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("out");
    let log = out.display();
    script(
        dir.path(),
        "PreAcq1",
        &format!(
            "echo \"1 $1 $2 $FAILOVER_EVENT $FAILOVER_HOOK $FAILOVER_ADDRESS/$FAILOVER_PREFIX \
             $FAILOVER_INTERFACE $FAILOVER_PEER $FAILOVER_NODE\" >> {log}; exit 3"
        ),
    );
    script(dir.path(), "PreAcq2", &format!("echo 2 >> {log}; exit 4"));
    std::fs::write(dir.path().join("PreAcq3"), "#!/bin/sh\nexit 5\n").unwrap(); // not executable
    let outcome = run(&job(dir.path(), HookKind::PreAcq, Duration::from_secs(10))).await;
    assert_eq!(
        outcome,
        HookOutcome::Failed(Some(3)),
        "the first failure is the outcome"
    );
    let lines = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        lines, "1 eth0 192.0.2.100 acquire PreAcq 192.0.2.100/24 eth0 master backup\n2\n",
        "every executable script ran, in name order; the non-executable one was skipped"
    );
    let none = run(&job(dir.path(), HookKind::PostAcq, Duration::from_secs(10))).await;
    assert_eq!(none, HookOutcome::Success, "no script is success");
}

#[tokio::test(flavor = "current_thread")]
async fn a_hung_hook_is_killed_at_its_timeout_with_what_it_started() {
    let dir = TempDir::new().unwrap();
    let pids = dir.path().join("pids");
    script(
        dir.path(),
        "Test",
        &format!("sleep 600 & echo \"$$ $!\" > {}; wait", pids.display()),
    );
    let started = Instant::now();
    let outcome = run(&job(dir.path(), HookKind::Test, Duration::from_millis(500))).await;
    assert_eq!(outcome, HookOutcome::TimedOut);
    assert!(started.elapsed() >= Duration::from_millis(500));
    let text = std::fs::read_to_string(&pids).unwrap();
    for pid in text.split_whitespace() {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            // gone, or a zombie waiting for its parent (init) to reap it
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"));
            if stat.map_or(true, |s| s.contains(") Z ")) {
                break;
            }
            assert!(Instant::now() < deadline, "process {pid} still runs");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// A hook the daemon reaches late (its queue was busy) gets only what is left of core's
/// deadline, not `hooks.timeout` from when it started: core gives up at that deadline, and
/// the hand-over it goes on with must not wait behind the hook.
#[tokio::test(flavor = "current_thread")]
async fn a_hook_started_late_is_killed_at_cores_deadline_not_a_full_timeout_later() {
    let dir = TempDir::new().unwrap();
    script(dir.path(), "PreRel", "sleep 600");
    let mut late = job(dir.path(), HookKind::PreRel, Duration::from_secs(10));
    // Core asked 9.7 s ago: 300 ms of its 10 s are left.
    late.deadline = tokio::time::Instant::now() + Duration::from_millis(300);
    let started = Instant::now();
    let outcome = run(&late).await;
    assert_eq!(outcome, HookOutcome::TimedOut);
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "killed at the deadline core gave, after {took:?}, not hooks.timeout after its start"
    );
}
