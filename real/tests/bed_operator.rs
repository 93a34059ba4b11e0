//! Planned maintenance with the daemons running, in the namespace bed: `failoverctl standby`
//! hands the address over in order and lasts across a restart of the daemon until
//! `failoverctl active`; `failoverctl switchover --to NODE` in a group of three moves it to
//! that node alone, which keeps it; and both are refused, with the reason and exit status 1,
//! when no node that could take the address answers. Needs root; skips (or fails under
//! `FAILOVER_REQUIRE_NETNS=1`) otherwise.

use failover_core::acts::{Act, Record};
use failover_core::{AddressChange, HookKind};
use failover_real::status::{query, Report};
use failover_testbed::{
    holds_for, request, root_or_skip, wait_until, AddressMonitor, Bed, Daemon, Host, Netns,
    NodeConfig, Trio, ALPHA, BACKUP, BRAVO, CHARLIE, MASTER, SERVICE_PORT, VIP,
};
use nix::sys::signal::Signal;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const FAILOVERD: &str = env!("CARGO_BIN_EXE_failoverd");
const FAILOVERCTL: &str = env!("CARGO_BIN_EXE_failoverctl");
const INTERVAL: Duration = Duration::from_millis(100);
/// Generous: CI machines are loaded, and nothing here asserts speed.
const DEADLINE: Duration = Duration::from_secs(15);

/// `dead_after` of a node of `priority` at [`INTERVAL`]: 3 × interval plus the priority skew.
fn dead_after(priority: u32) -> Duration {
    INTERVAL * 3 + INTERVAL * (255 - priority) / 256
}

/// What `failoverctl` said and how it ended.
struct Said {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Runs `failoverctl --socket SOCKET ARGS…` against `daemon` (from the test's own namespace:
/// the socket is a file).
fn failoverctl(daemon: &Daemon, args: &[&str]) -> Said {
    let out = Command::new(FAILOVERCTL)
        .arg("--socket")
        .arg(&daemon.socket)
        .args(args)
        .output()
        .expect("run failoverctl");
    Said {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn report(daemon: &Daemon) -> Report {
    let line = query(&daemon.socket).expect("the daemon answers");
    serde_json::from_str(&line).expect("a report")
}

/// Starts failoverd on `host` in `ns` with `config`, writing its acts to `<dir>/NAME.events`.
fn start(ns: &Netns, dir: &Path, host: Host, config: &NodeConfig) -> Daemon {
    let file = config.write(dir);
    let args = [
        OsString::from("--config"),
        file.into_os_string(),
        OsString::from("--events"),
        events(dir, host).into_os_string(),
    ];
    Daemon::start(Path::new(FAILOVERD), ns, dir, host.name, &args)
}

fn events(dir: &Path, host: Host) -> PathBuf {
    dir.join(format!("{}.events", host.name))
}

/// Every act `host`'s daemons wrote so far (all its runs, in order).
fn acts(dir: &Path, host: Host) -> Vec<Record> {
    let text = std::fs::read_to_string(events(dir, host)).unwrap_or_default();
    let lines = text.lines();
    lines
        .map(|l| serde_json::from_str(l).expect("an act"))
        .collect()
}

/// When (CLOCK_MONOTONIC) `host`'s kernel finished changing the address the `n`th time that
/// way (0: first).
fn address_changed(dir: &Path, host: Host, change: AddressChange, n: usize) -> u64 {
    let times: Vec<u64> = (acts(dir, host).into_iter())
        .filter(|r| matches!(r.act, Act::Address { change: c, ok: true, .. } if c == change))
        .map(|r| r.t_ns)
        .collect();
    *times
        .get(n)
        .unwrap_or_else(|| panic!("{} {change:?} #{n} in {times:?}", host.name))
}

/// The hooks `host` ran so far, in order.
fn hooks_run(dir: &Path, host: Host) -> Vec<HookKind> {
    (acts(dir, host).into_iter())
        .filter_map(|r| match r.act {
            Act::HookStarted { hook, .. } => Some(hook),
            _ => None,
        })
        .collect()
}

/// An executable hook of `kind` for the address on `dir` that succeeds (so that the hooks
/// run and show in the act log).
fn hook(dir: &Path, kind: &str) {
    let path = dir.join(kind);
    std::fs::write(&path, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn reached(client: &Netns) -> Option<String> {
    let to = SocketAddr::new(VIP.into(), SERVICE_PORT);
    request(client, to, Duration::from_millis(300))
}

fn wait_reached(client: &Netns, host: Host) {
    wait_until(
        DEADLINE,
        &format!("the client to reach {} at {VIP}", host.name),
        || reached(client).as_deref() == Some(host.name),
    );
}

/// Waits until `daemon` reports `owner` holding the address: it runs and hears the owner, so
/// it will answer a roll call.
fn wait_hears(daemon: &Daemon, owner: Host) {
    let what = format!(
        "{} to hear {} own the address",
        daemon.socket.display(),
        owner.name
    );
    wait_until(DEADLINE, &what, || {
        let report = query(&daemon.socket).ok();
        let report = report.and_then(|line| serde_json::from_str::<Report>(&line).ok());
        report.is_some_and(|r| r.vips[0].holder.as_deref() == Some(owner.name))
    });
}

fn standby_file(daemon: &Daemon) -> String {
    std::fs::read_to_string(daemon.state_dir.join("standby")).unwrap_or_default()
}

#[test]
fn standby_hands_over_in_order_and_lasts_across_a_restart_until_active() {
    if !root_or_skip() {
        return;
    }
    let bed = Bed::new();
    let dir = bed.dir().to_path_buf();
    for host in [MASTER, BACKUP] {
        let hooks = bed.hook_dir(host);
        for kind in ["Test", "PreAcq", "PostAcq", "PreRel", "PostRel"] {
            hook(&hooks, kind);
        }
    }
    let config = |host| bed.config(host, INTERVAL, Duration::from_secs(2));
    let mut master = start(&bed.master, &dir, MASTER, &config(MASTER));
    let backup = start(&bed.backup, &dir, BACKUP, &config(BACKUP));
    wait_reached(&bed.client, MASTER);
    wait_hears(&backup, MASTER);

    let said = failoverctl(&master, &["standby"]);
    assert!(said.ok, "{} {}", said.stdout, said.stderr);
    assert!(
        said.stdout.contains("handing the addresses over to backup"),
        "{}",
        said.stdout
    );
    wait_reached(&bed.client, BACKUP);
    assert!(!bed.holds(MASTER));
    // In order: the master's address was gone before the backup's came, and the master ran
    // PreRel and PostRel but no Test (the operator decided).
    let removed = address_changed(&dir, MASTER, AddressChange::Remove, 0);
    let added = address_changed(&dir, BACKUP, AddressChange::Add, 0);
    assert!(removed < added, "removed {removed} ns, added {added} ns");
    use HookKind::*;
    assert_eq!(
        hooks_run(&dir, MASTER),
        [Test, PreAcq, PostAcq, PreRel, PostRel]
    );
    let status = report(&master);
    assert!(status.standby && status.role.to_string() == "backup");
    assert_eq!(standby_file(&master), "standby\n");
    let text = failoverctl(&master, &["status"]).stdout;
    assert!(text.contains("standby:"), "{text}");
    let on_backup = report(&backup);
    let seen = &on_backup.peers[0];
    assert!(seen.standby && seen.priority == 0, "{seen:?}");

    // The daemon killed and started again: the state directory keeps it in standby.
    master.signal(Signal::SIGKILL);
    master.process().wait_exit(DEADLINE).expect("it dies");
    let master = start(&bed.master, &dir, MASTER, &config(MASTER));
    wait_until(DEADLINE, "the restarted master to answer", || {
        query(&master.socket).is_ok()
    });
    assert!(report(&master).standby);
    holds_for(dead_after(200) * 5, "the backup keeps the address", || {
        !bed.holds(MASTER) && bed.holds(BACKUP)
    });
    assert!(master
        .log()
        .contains("in standby (the state directory says so)"));

    // Active: the ordinary hand-back, in order.
    let said = failoverctl(&master, &["active"]);
    assert!(said.ok, "{} {}", said.stdout, said.stderr);
    assert!(said.stdout.contains("active"), "{}", said.stdout);
    wait_reached(&bed.client, MASTER);
    let released = address_changed(&dir, BACKUP, AddressChange::Remove, 0);
    let back = address_changed(&dir, MASTER, AddressChange::Add, 1);
    assert!(released < back, "released {released} ns, added {back} ns");
    assert!(!bed.holds(BACKUP));
    assert!(!report(&master).standby);
    assert_eq!(standby_file(&master), "active\n");
    // Asked again: nothing to do, and said so.
    let said = failoverctl(&master, &["active"]);
    assert!(
        said.ok && said.stdout.contains("not in standby"),
        "{}",
        said.stdout
    );
}

#[test]
fn standby_and_switchover_are_refused_when_no_node_that_could_take_over_answers() {
    if !root_or_skip() {
        return;
    }
    let bed = Bed::new();
    let dir = bed.dir().to_path_buf();
    let config = |host| bed.config(host, INTERVAL, Duration::from_secs(2));
    let master = start(&bed.master, &dir, MASTER, &config(MASTER));
    let mut backup = start(&bed.backup, &dir, BACKUP, &config(BACKUP));
    wait_reached(&bed.client, MASTER);
    wait_hears(&backup, MASTER);

    // Asked of the backup, a switchover names the owner to ask instead.
    let said = failoverctl(&backup, &["switchover"]);
    assert!(!said.ok);
    assert!(
        said.stderr
            .contains("does not hold the addresses; master does"),
        "{}",
        said.stderr
    );
    let said = failoverctl(&master, &["switchover", "--to", "zulu"]);
    assert!(!said.ok);
    assert!(
        said.stderr
            .contains("unknown node zulu: the nodes heard are backup"),
        "{}",
        said.stderr
    );

    // The backup's daemon stopped: the passive master cannot tell until it calls the roll,
    // and nobody answers within dead_after.
    backup.signal(Signal::SIGSTOP);
    for args in [
        &["standby"][..],
        &["switchover"],
        &["switchover", "--to", "backup"],
    ] {
        let said = failoverctl(&master, args);
        assert!(!said.ok, "{args:?}: {}", said.stdout);
        let why = if args.len() == 3 {
            "backup is not alive"
        } else {
            "no eligible node is alive"
        };
        assert!(
            said.stderr.contains(why) && said.stderr.contains("nothing changed"),
            "{args:?}: {}",
            said.stderr
        );
    }
    assert!(bed.holds(MASTER));
    let status = report(&master);
    assert!(!status.standby && status.role.to_string() == "master");
    assert_eq!(standby_file(&master), "", "nothing stored");
    backup.signal(Signal::SIGCONT);
    holds_for(dead_after(100) * 2, "the master keeps the address", || {
        bed.holds(MASTER) && !bed.holds(BACKUP)
    });
    assert_eq!(reached(&bed.client).as_deref(), Some(MASTER.name));
}

#[test]
fn a_switchover_to_a_named_node_moves_the_address_there_alone_and_it_keeps_it() {
    if !root_or_skip() {
        return;
    }
    let trio = Trio::new();
    let dir = trio.dir().to_path_buf();
    // bravo's kernel reports every address change: it must never add the address.
    let bravo_monitor = AddressMonitor::start(trio.ns(BRAVO), &dir.join("bravo.monitor"));
    let start_trio = |host: Host, priority| {
        start(
            trio.ns(host),
            &dir,
            host,
            &trio.config(host, priority, INTERVAL),
        )
    };
    let alpha = start_trio(ALPHA, 200);
    let mut bravo = start_trio(BRAVO, 150);
    let charlie = start_trio(CHARLIE, 100);
    wait_reached(&trio.client, ALPHA);
    wait_hears(&bravo, ALPHA);
    wait_hears(&charlie, ALPHA);

    let said = failoverctl(&alpha, &["switchover", "--to", "charlie"]);
    assert!(said.ok, "{} {}", said.stdout, said.stderr);
    assert!(said.stdout.contains("to charlie"), "{}", said.stdout);
    wait_reached(&trio.client, CHARLIE);
    let removed = address_changed(&dir, ALPHA, AddressChange::Remove, 0);
    let added = address_changed(&dir, CHARLIE, AddressChange::Add, 0);
    assert!(removed < added, "removed {removed} ns, added {added} ns");
    assert!(report(&charlie).kept);
    let text = failoverctl(&charlie, &["status"]).stdout;
    assert!(text.contains("against preemption"), "{text}");
    // Preemption does not take it back: charlie keeps it, alpha and bravo stay backups.
    holds_for(dead_after(100) * 5, "charlie keeps the address", || {
        trio.holds(CHARLIE) && !trio.holds(ALPHA) && !trio.holds(BRAVO)
    });
    assert_eq!(
        bravo_monitor.added(VIP),
        Vec::<String>::new(),
        "bravo never took the address: {}",
        bravo_monitor.report()
    );
    assert!(!report(&alpha).standby, "a switchover is no standby");

    // bravo's daemon gone: a switchover to it is refused and moves nothing.
    bravo.signal(Signal::SIGKILL);
    bravo.process().wait_exit(DEADLINE).expect("it dies");
    let said = failoverctl(&charlie, &["switchover", "--to", "bravo"]);
    assert!(!said.ok, "{}", said.stdout);
    assert!(
        said.stderr.contains("bravo is not alive"),
        "{}",
        said.stderr
    );
    assert!(trio.holds(CHARLIE));

    // Without a name: the best other live node, alpha.
    let said = failoverctl(&charlie, &["switchover"]);
    assert!(said.ok, "{} {}", said.stdout, said.stderr);
    assert!(said.stdout.contains("to alpha"), "{}", said.stdout);
    wait_reached(&trio.client, ALPHA);
    assert!(!trio.holds(CHARLIE));
}
