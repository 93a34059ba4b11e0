//! Running daemons on loopback (127.0.0.x) inside a private network namespace of the test's
//! own: election, `failoverctl status`, `/metrics`, bad datagrams, SIGHUP, a leftover address
//! reconciled at start, and the `--events` record of a takeover and a planned stop. The virtual address goes on an interface of its own per daemon.
//! Needs root (the daemons add addresses); skips (or fails under FAILOVER_REQUIRE_NETNS=1)
//! otherwise.

use failover_core::wire::{encode, AuthKey, Message, MessageKind};
use failover_core::{Notification, Role};
use failover_real::events::{monotonic_ns, Act, Record};
use failover_real::status::{query, Report};
use failover_testbed::{
    eventually, holds_for, root_or_skip, wait_until, Daemon, Netns, NodeConfig, PathConfig, Smtp,
};
use nix::sys::signal::Signal;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tempfile::TempDir;

const FAILOVERD: &str = env!("CARGO_BIN_EXE_failoverd");
const FAILOVERCTL: &str = env!("CARGO_BIN_EXE_failoverctl");
const DEADLINE: Duration = Duration::from_secs(15);
const KEY: &str = "a shared key of 16+ bytes";
const ALPHA: &str = "127.0.0.2:1694";
const BETA: &str = "127.0.0.3:1694";

/// A namespace with loopback and one dummy interface per daemon, and a directory.
struct Loopback {
    dir: TempDir,
    ns: Netns,
}

impl Loopback {
    fn new(interfaces: &[&str]) -> Loopback {
        let ns = Netns::new("lo");
        for dev in interfaces {
            // A veth pair with both ends here (these kernels may have no dummy driver).
            ns.ip(&format!("link add {dev} type veth peer name {dev}-peer"));
            ns.ip(&format!("link set {dev} up"));
            ns.ip(&format!("link set {dev}-peer up"));
        }
        Loopback {
            dir: TempDir::new().unwrap(),
            ns,
        }
    }

    fn config(&self, name: &str, priority: u8, local: &str, peer: &str, dev: &str) -> NodeConfig {
        NodeConfig {
            name: name.into(),
            priority,
            interval: Duration::from_millis(100),
            paths: vec![PathConfig {
                name: "lo".into(),
                local: local.parse().unwrap(),
                peers: vec![peer.parse().unwrap()],
            }],
            vips: vec!["192.0.2.100".parse().unwrap()],
            vip_interface: dev.into(),
            hooks_dir: self.dir.path().join("no-hooks"),
            hook_timeout: Duration::from_secs(2),
            smtp: "127.0.0.1:25".parse().unwrap(),
            auth_key: Some(KEY.into()),
            mail_retry_max: None,
        }
    }

    fn start(&self, config: &NodeConfig, extra: &[&str]) -> Daemon {
        let file = config.write(self.dir.path());
        let mut args: Vec<OsString> = extra.iter().map(OsString::from).collect();
        args.extend([OsString::from("--config"), file.into_os_string()]);
        Daemon::start(
            Path::new(FAILOVERD),
            &self.ns,
            self.dir.path(),
            &config.name,
            &args,
        )
    }

    fn holds(&self, dev: &str) -> bool {
        self.ns.has_address(dev, "192.0.2.100")
    }

    /// Where node `name` writes its acts (`--events`).
    fn events(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.events"))
    }
}

/// Every line of an `--events` file, each parsed with the daemon's own type.
fn records(path: &Path) -> Vec<Record> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// A short name for an act, so whole sequences compare and print readably.
fn label(act: &Act) -> String {
    match act {
        Act::Start { .. } => "start".into(),
        Act::LeftoverRemoved { vip, address } => format!("leftover_removed {}:{address}", vip.0),
        Act::Role { from, to } => format!("role {from}->{to}"),
        Act::Address {
            vip,
            address,
            change,
            ok,
            ..
        } => format!("address {change} {}:{address} ok={ok}", vip.0),
        Act::Announce { vip, address } => format!("announce {}:{address}", vip.0),
        Act::HookStarted {
            vip,
            hook,
            hook_event,
        } => format!("hook_started {}:{hook} {hook_event}", vip.0),
        Act::HookEnded { vip, hook, outcome } => format!("hook_ended {}:{hook} {outcome:?}", vip.0),
        Act::Notified { notification } => {
            let kind = serde_json::to_value(notification).unwrap()["kind"].clone();
            format!("notified {}", kind.as_str().unwrap())
        }
        Act::Answered { answer } => format!("answered {}", answer.request),
        Act::Standby { on } => format!("standby {on}"),
        Act::Reloaded { refused } => format!("reloaded refused={refused:?}"),
        Act::Reannounced { carried } => format!("reannounced {carried:?}"),
        Act::Stop => "stop".into(),
    }
}

fn labels(records: &[Record]) -> Vec<String> {
    records.iter().map(|r| label(&r.act)).collect()
}

/// Whether `expected` occurs in `labels` in that order, other acts in between allowed.
fn in_order(labels: &[String], expected: &[&str]) -> bool {
    let mut rest = labels.iter();
    expected.iter().all(|e| rest.any(|l| l == e))
}

fn report(daemon: &Daemon) -> Option<Report> {
    serde_json::from_str(&query(&daemon.socket).ok()?).ok()
}

fn wait_role(daemon: &Daemon, role: Role) -> Report {
    eventually(DEADLINE, &format!("role {role}"), || {
        report(daemon).filter(|r| r.role == role)
    })
}

fn failoverctl(daemon: &Daemon, args: &[&str]) -> String {
    let out = Command::new(FAILOVERCTL)
        .arg("--socket")
        .arg(&daemon.socket)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn two_daemons_elect_a_master_and_report_it_through_failoverctl_and_metrics() {
    if !root_or_skip() {
        return;
    }
    let bed = Loopback::new(&["va", "vb"]);
    let alpha = bed.start(
        &bed.config("alpha", 200, ALPHA, BETA, "va"),
        &["--metrics", "127.0.0.1:9694"],
    );
    let beta = bed.start(&bed.config("beta", 100, BETA, ALPHA, "vb"), &[]);
    wait_role(&alpha, Role::Master);
    wait_until(DEADLINE, "the address on alpha's interface", || {
        bed.holds("va")
    });
    let beta_report = eventually(DEADLINE, "beta to see alpha as master", || {
        report(&beta).filter(|r| r.vips[0].holder.as_deref() == Some("alpha"))
    });
    assert_eq!(beta_report.role, Role::Backup);
    assert!(!bed.holds("vb"));

    let json = failoverctl(&alpha, &["status", "--json"]);
    let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(parsed["node"], "alpha");
    assert_eq!(parsed["role"], "master");
    assert_eq!(parsed["vips"][0]["address"], "192.0.2.100/24");
    assert_eq!(parsed["vips"][0]["holder"], "alpha");
    assert_eq!(parsed["peers"][0]["name"], "beta");
    assert!(parsed["counters"]["sent"].as_u64().unwrap() > 0);
    assert!(parsed["peers"][0]["last_heartbeat_ms"]["lo"].is_u64());

    let text = failoverctl(&beta, &["status"]);
    assert!(text.contains("node beta (priority 100): backup"), "{text}");
    assert!(
        text.contains("192.0.2.100/24 on vb: held by alpha"),
        "{text}"
    );
    assert!(
        text.contains("alpha (priority 200): master, alive"),
        "{text}"
    );
    assert!(text.contains("lo ") && text.contains(" ms ago"), "{text}");

    let metrics = bed.ns.run(|| {
        let mut http = TcpStream::connect("127.0.0.1:9694").expect("metrics listener");
        http.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        http.read_to_string(&mut answer).unwrap();
        answer
    });
    assert!(metrics.starts_with("HTTP/1.1 200 OK"), "{metrics}");
    for line in [
        "failover_role{node=\"alpha\",role=\"master\"} 1",
        "failover_role{node=\"alpha\",role=\"backup\"} 0",
        "failover_vip_held{address=\"192.0.2.100/24\",interface=\"va\"} 1",
        "failover_datagrams_dropped_total{reason=\"malformed\"} 0",
        "failover_peer_alive{peer=\"beta\"}",
    ] {
        assert!(metrics.contains(line), "missing `{line}` in:\n{metrics}");
    }
}

#[test]
fn bad_datagrams_are_dropped_and_counted_in_status() {
    if !root_or_skip() {
        return;
    }
    let bed = Loopback::new(&["va"]);
    let alpha = bed.start(&bed.config("alpha", 200, ALPHA, BETA, "va"), &[]);
    wait_role(&alpha, Role::Master);
    let to: SocketAddr = ALPHA.parse().unwrap();
    let heartbeat = |key: Option<&AuthKey>, seq: u64| {
        let msg = Message {
            group: 1,
            kind: MessageKind::Heartbeat,
            role: Role::Backup,
            priority: 10,
            epoch: 5,
            seq,
            sender: "gamma",
            successor: None,
            quorum: false,
            vote: None,
            marks: Default::default(),
        };
        encode(&msg, key)
    };
    let right = AuthKey::new(KEY.as_bytes());
    let wrong = AuthKey::new(b"not the shared key at all");
    bed.ns.run(|| {
        let socket = UdpSocket::bind("127.0.0.3:0").unwrap();
        socket.send_to(b"\x00\x01 not a heartbeat", to).unwrap();
        socket.send_to(&heartbeat(None, 1), to).unwrap(); // no tag
        socket.send_to(&heartbeat(Some(&wrong), 2), to).unwrap(); // bad tag
        let good = heartbeat(Some(&right), 3);
        socket.send_to(&good, to).unwrap();
        socket.send_to(&good, to).unwrap(); // replayed
    });
    let r = eventually(DEADLINE, "the drops to be counted", || {
        report(&alpha).filter(|r| r.counters.replayed >= 1)
    });
    assert_eq!(r.counters.malformed, 1, "{:?}", r.counters);
    assert_eq!(r.counters.unauthenticated, 2, "{:?}", r.counters);
    assert_eq!(r.counters.replayed, 1, "{:?}", r.counters);
    assert!(
        r.peers.iter().any(|p| p.name == "gamma"),
        "the good one was accepted"
    );
    assert_eq!(r.role, Role::Master, "bad datagrams change nothing");
}

#[test]
fn sighup_applies_a_good_configuration_and_keeps_the_old_one_when_the_new_is_bad() {
    if !root_or_skip() {
        return;
    }
    let bed = Loopback::new(&["va", "vb"]);
    let alpha_config = bed.config("alpha", 200, ALPHA, BETA, "va");
    let events = bed.events("alpha");
    let mut alpha = bed.start(&alpha_config, &["--events", events.to_str().unwrap()]);
    let beta = bed.start(&bed.config("beta", 100, BETA, ALPHA, "vb"), &[]);
    wait_until(DEADLINE, "alpha to hold the address", || bed.holds("va"));
    let epoch = report(&alpha).unwrap().epoch;

    // Lower alpha's priority below beta's: the reload hands the address over in order.
    let mut lower = alpha_config.clone();
    lower.priority = 50;
    lower.write(bed.dir.path());
    alpha.signal(Signal::SIGHUP);
    wait_until(DEADLINE, "beta to hold the address", || bed.holds("vb"));
    assert!(!bed.holds("va"));
    let r = wait_role(&alpha, Role::Backup);
    assert_eq!(
        (r.priority, r.epoch),
        (50, epoch),
        "a reload is not a restart"
    );
    wait_role(&beta, Role::Master);

    // A broken file: logged, and the daemon runs on with what it had.
    std::fs::write(bed.dir.path().join("alpha.toml"), "[node]\nname = 1\n").unwrap();
    alpha.signal(Signal::SIGHUP);
    wait_until(DEADLINE, "the refused reload to be logged", || {
        alpha.log().contains("reload refused")
    });
    assert!(
        alpha.log().contains("alpha.toml"),
        "the error names the file"
    );
    assert!(alpha.process().is_running());
    assert_eq!(report(&alpha).unwrap().priority, 50);

    // The act log says what each SIGHUP came to, and what the peers heard next.
    let reloads: Vec<String> = labels(&records(&events))
        .into_iter()
        .filter(|l| l.starts_with("reload") || l.starts_with("reannounced"))
        .collect();
    assert_eq!(
        reloads,
        [
            "reloaded refused=None",
            "reannounced Ok(Carried { priority: 50, group: 1 })",
            "reloaded refused=Some(\"the file\")",
            "reannounced Ok(Carried { priority: 50, group: 1 })",
        ],
        "{reloads:?}"
    );
}

#[test]
fn an_address_left_over_from_a_crash_is_removed_at_start() {
    if !root_or_skip() {
        return;
    }
    let bed = Loopback::new(&["va", "vb"]);
    let _beta = bed.start(&bed.config("beta", 200, BETA, ALPHA, "vb"), &[]);
    wait_until(DEADLINE, "beta to hold the address", || bed.holds("vb"));
    // alpha died holding the address; now it starts again, as the lower-priority node.
    bed.ns.ip("addr add 192.0.2.100/24 dev va");
    let events = bed.events("alpha");
    let alpha = bed.start(
        &bed.config("alpha", 100, ALPHA, BETA, "va"),
        &["--events", events.to_str().unwrap()],
    );
    wait_role(&alpha, Role::Backup);
    wait_until(DEADLINE, "the leftover to be gone", || !bed.holds("va"));
    assert!(alpha.log().contains("left over from an earlier run"));
    let acts = labels(&records(&events));
    assert_eq!(
        acts[..2],
        ["leftover_removed 0:192.0.2.100", "start"],
        "the removal is recorded before the start: {acts:?}"
    );
    eventually(DEADLINE, "alpha to see beta as the holder", || {
        report(&alpha).filter(|r| r.vips[0].holder.as_deref() == Some("beta"))
    });
}

#[test]
fn a_second_daemon_on_the_same_status_socket_refuses_to_start() {
    if !root_or_skip() {
        return;
    }
    let bed = Loopback::new(&["va"]);
    let config = bed.config("alpha", 200, ALPHA, BETA, "va");
    let first = bed.start(&config, &[]);
    wait_role(&first, Role::Master); // alone: its peer never answers
    wait_until(DEADLINE, "alpha to hold the address", || bed.holds("va"));
    let mut other = config.clone();
    other.paths[0].local = "127.0.0.4:1694".parse().unwrap();
    let mut second = bed.start(&other, &[]);
    let status = second.process().wait_exit(DEADLINE);
    assert!(status.is_some_and(|s| !s.success()), "{status:?}");
    assert!(
        second.log().contains("another failoverd answers"),
        "{}",
        second.log()
    );
    assert!(
        bed.holds("va"),
        "the running daemon's address was not touched"
    );
    assert_eq!(report(&first).unwrap().role, Role::Master);
}

#[test]
fn mail_waits_for_a_late_server_while_heartbeats_go_on() {
    if !root_or_skip() {
        return;
    }
    let bed = Loopback::new(&["va", "vb"]);
    let server: SocketAddr = "127.0.0.1:2525".parse().unwrap();
    let mut alpha_config = bed.config("alpha", 200, ALPHA, BETA, "va");
    alpha_config.smtp = server;
    let alpha = bed.start(&alpha_config, &[]);
    let beta = bed.start(&bed.config("beta", 100, BETA, ALPHA, "vb"), &[]);
    wait_role(&alpha, Role::Master);
    wait_until(DEADLINE, "a failed delivery to be retried", || {
        alpha.log().contains("mail not delivered, will retry")
    });
    // The mail queue retrying must not hold up a single heartbeat: beta never stops hearing
    // alpha (it would take over after 0.3 s of silence).
    holds_for(
        Duration::from_secs(2),
        "beta seeing alpha as master",
        || {
            report(&beta).is_some_and(|r| {
                r.role == Role::Backup && r.peers.iter().any(|p| p.name == "alpha" && p.alive)
            })
        },
    );
    let smtp = Smtp::start(&bed.ns, server, bed.dir.path());
    let mail = smtp.wait_for(Duration::from_secs(30), "alpha: failover: took over");
    assert_eq!(mail.to, "ops@example.com");
    assert!(!bed.holds("vb"));
}

#[test]
fn the_events_file_records_a_takeover_and_a_planned_stop_on_the_hosts_monotonic_clock() {
    if !root_or_skip() {
        return;
    }
    let bed = Loopback::new(&["va", "vb"]);
    let (alpha_events, beta_events) = (bed.events("alpha"), bed.events("beta"));
    let before = monotonic_ns().unwrap();
    let mut alpha = bed.start(
        &bed.config("alpha", 200, ALPHA, BETA, "va"),
        &["--events", alpha_events.to_str().unwrap()],
    );
    let beta = bed.start(
        &bed.config("beta", 100, BETA, ALPHA, "vb"),
        &["--events", beta_events.to_str().unwrap()],
    );
    wait_until(DEADLINE, "alpha to record becoming master", || {
        labels(&records(&alpha_events)).contains(&"role acquiring->master".to_string())
    });
    let mastered = monotonic_ns().unwrap();
    assert!(bed.holds("va"), "recorded only once the address is there");
    let acts = labels(&records(&alpha_events));
    let takeover = [
        "start",
        "role backup->acquiring",
        "hook_started 0:Test acquire",
        "hook_ended 0:Test Success",
        "hook_started 0:PreAcq acquire",
        "hook_ended 0:PreAcq Success",
        "address add 0:192.0.2.100 ok=true",
        "announce 0:192.0.2.100",
        "hook_started 0:PostAcq acquire",
        "hook_ended 0:PostAcq Success",
        "notified failover",
        "role acquiring->master",
    ];
    assert_eq!(acts[..takeover.len()], takeover, "{acts:?}");
    let failover = records(&alpha_events)
        .into_iter()
        .find_map(|r| match r.act {
            Act::Notified { notification } => Some(notification),
            _ => None,
        });
    assert!(
        matches!(failover, Some(Notification::Failover { ref acquired, .. }) if acquired.len() == 1),
        "{failover:?}"
    );

    alpha.signal(Signal::SIGTERM);
    let status = alpha.process().wait_exit(DEADLINE);
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    wait_role(&beta, Role::Master);
    let after = monotonic_ns().unwrap();
    let alpha_records = records(&alpha_events);
    let acts = labels(&alpha_records);
    assert!(
        in_order(
            &acts[takeover.len()..],
            &[
                "role master->releasing",
                "address remove 0:192.0.2.100 ok=true",
                "notified released",
                "stop",
            ]
        ),
        "{acts:?}"
    );
    assert_eq!(acts.last().map(String::as_str), Some("stop"), "{acts:?}");

    // One time line: each file in order, within the test's own readings, alpha's at once.
    let beta_records = records(&beta_events);
    for (node, records) in [("alpha", &alpha_records), ("beta", &beta_records)] {
        assert!(records.iter().all(|r| r.node == node));
        let times: Vec<u64> = records.iter().map(|r| r.t_ns).collect();
        assert!(times.is_sorted(), "{node}: {times:?}");
        assert!(before <= times[0] && times[times.len() - 1] <= after);
    }
    let at = |records: &[Record], label_: &str| {
        let found = records.iter().find(|r| label(&r.act) == label_);
        found.unwrap_or_else(|| panic!("no `{label_}`")).t_ns
    };
    assert!(at(&alpha_records, "role acquiring->master") <= mastered);
    // Beta adds the address only after alpha has removed it: a hand-over in order, told
    // apart across two processes' files.
    assert!(
        at(&alpha_records, "address remove 0:192.0.2.100 ok=true")
            < at(&beta_records, "address add 0:192.0.2.100 ok=true")
    );
}

/// `config`'s TOML made a quorum group's: every node a voter, alpha and beta the address
/// nodes, `witness` the third vote without an address.
fn quorum_toml(config: &NodeConfig, peers: &[&str], witness: bool) -> String {
    let peers: Vec<String> = peers.iter().map(|p| format!("\"{p}\"")).collect();
    let mut toml = config.to_toml().replace(
        "[protocol]\n",
        "[protocol]\nmode = \"quorum\"\nvoters = [\"alpha\", \"beta\", \"witness\"]\n",
    );
    let line = |t: &str| {
        t.lines()
            .find(|l| l.starts_with("peers = "))
            .unwrap()
            .to_string()
    };
    toml = toml.replace(&line(&toml), &format!("peers = [{}]", peers.join(", ")));
    if witness {
        toml = toml.replace("priority = 1\n", "priority = 1\nwitness = true\n");
        let vip = toml.find("[[vip]]").unwrap();
        let notify = toml.find("[notify]").unwrap();
        toml.replace_range(vip..notify, "");
    }
    toml
}

#[test]
fn quorum_status_and_metrics_show_the_votes_the_lease_and_the_promise() {
    if !root_or_skip() {
        return;
    }
    const WITNESS: &str = "127.0.0.4:1694";
    let bed = Loopback::new(&["va", "vb"]);
    let start = |name: &str, priority, local, peers: &[&str], dev, witness, extra: &[&str]| {
        let config = bed.config(name, priority, local, peers[0], dev);
        let file = bed.dir.path().join(format!("{name}.toml"));
        std::fs::write(&file, quorum_toml(&config, peers, witness)).unwrap();
        let mut args: Vec<OsString> = extra.iter().map(OsString::from).collect();
        args.extend([OsString::from("--config"), file.into_os_string()]);
        Daemon::start(Path::new(FAILOVERD), &bed.ns, bed.dir.path(), name, &args)
    };
    let alpha = start(
        "alpha",
        200,
        ALPHA,
        &[BETA, WITNESS],
        "va",
        false,
        &["--metrics", "127.0.0.1:9695"],
    );
    let beta = start("beta", 100, BETA, &[ALPHA, WITNESS], "vb", false, &[]);
    let witness = start("witness", 1, WITNESS, &[ALPHA, BETA], "va", true, &[]);
    wait_role(&alpha, Role::Master);
    let held = eventually(DEADLINE, "alpha to report a lease", || {
        report(&alpha).filter(|r| r.quorum.as_ref().is_some_and(|q| q.lease_left_ms > 0))
    });
    let q = held.quorum.unwrap();
    assert_eq!(q.majority, 2);
    let names: Vec<&str> = q.voters.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["alpha", "beta", "witness"]);
    assert!(
        q.voters
            .iter()
            .filter(|v| v.granted_ms_ago.is_some())
            .count()
            >= 2,
        "a lease stands on a majority's grants: {q:?}"
    );
    for voter in [&beta, &witness] {
        let r = eventually(DEADLINE, "the voter's promise to alpha", || {
            report(voter).filter(|r| {
                r.quorum
                    .as_ref()
                    .is_some_and(|q| q.promised_to.as_deref() == Some("alpha"))
            })
        });
        let q = r.quorum.unwrap();
        assert!(q.promise_left_ms > 0 && q.lease_left_ms == 0, "{q:?}");
    }
    assert!(bed.holds("va") && !bed.holds("vb"));

    let text = failoverctl(&alpha, &["status"]);
    assert!(text.contains("quorum: lease held, "), "{text}");
    assert!(text.contains("a lease needs 2 of 3 votes"), "{text}");
    assert!(
        text.contains("voter witness: granted a request sent "),
        "{text}"
    );
    let text = failoverctl(&beta, &["status"]);
    assert!(
        text.contains("no lease held; vote promised to alpha for "),
        "{text}"
    );

    let metrics = bed.ns.run(|| {
        let mut http = TcpStream::connect("127.0.0.1:9695").expect("metrics listener");
        http.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        http.read_to_string(&mut answer).unwrap();
        answer
    });
    for line in [
        "failover_votes_needed 2",
        "failover_lease_remaining_seconds ",
        "failover_vote_granted_seconds{voter=\"witness\"} ",
    ] {
        assert!(metrics.contains(line), "missing `{line}` in:\n{metrics}");
    }
    assert!(
        !metrics.contains("failover_lease_remaining_seconds 0.000"),
        "{metrics}"
    );
}
