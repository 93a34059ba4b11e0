//! One witness process serving two quorum groups, with real daemons on loopback (127.0.0.x)
//! inside a private network namespace of the test's own, each address daemon's virtual
//! address on a veth of its own: both groups elect a master on the witness's votes; one
//! group's master killed (SIGKILL, its host up) is replaced by its backup — whose lease needs
//! the witness's vote — while the other group is not disturbed; the witness's status and
//! metrics show both groups, and a datagram of a group it does not serve is counted apart.
//! Needs root (the daemons add addresses); skips (or fails under FAILOVER_REQUIRE_NETNS=1)
//! otherwise.

use failover_core::wire::{encode, AuthKey, Message, MessageKind};
use failover_core::Role;
use failover_real::status::{query, Answer, Groups, Report};
use failover_testbed::{
    eventually, holds_for, root_or_skip, wait_until, AddressMonitor, Daemon, Netns,
};
use nix::sys::signal::Signal;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tempfile::TempDir;

const FAILOVERD: &str = env!("CARGO_BIN_EXE_failoverd");
const FAILOVERCTL: &str = env!("CARGO_BIN_EXE_failoverctl");
const DEADLINE: Duration = Duration::from_secs(20);
const KEY: &str = "a shared key of 16+ bytes";
/// The witness's one address, for both groups: one socket serves them.
const WITNESS: &str = "127.0.0.9:1694";

/// One quorum group: its number, its two address nodes and its virtual address.
struct Group {
    number: u16,
    /// (name, local address, veth for the virtual address, priority): master first.
    nodes: [(&'static str, &'static str, &'static str, u8); 2],
    vip: &'static str,
}

const ONE: Group = Group {
    number: 1,
    nodes: [
        ("alpha1", "127.0.0.2:1694", "va1", 200),
        ("beta1", "127.0.0.3:1694", "vb1", 100),
    ],
    vip: "192.0.2.100",
};
const TWO: Group = Group {
    number: 2,
    nodes: [
        ("alpha2", "127.0.0.4:1694", "va2", 200),
        ("beta2", "127.0.0.5:1694", "vb2", 100),
    ],
    vip: "192.0.2.101",
};

impl Group {
    fn voters(&self) -> String {
        let [(a, ..), (b, ..)] = self.nodes;
        format!("voters = [\"{a}\", \"{b}\", \"witness\"]")
    }

    /// The TOML of address node `i` (0 the master, 1 the backup).
    fn node_toml(&self, i: usize, dir: &Path) -> String {
        let (name, local, dev, priority) = self.nodes[i];
        let peer = self.nodes[1 - i].1;
        format!(
            "[node]\nname = \"{name}\"\npriority = {priority}\n\
             [protocol]\nmode = \"quorum\"\ngroup = {}\n{}\ninterval = \"100ms\"\n\
             auth_key = \"{KEY}\"\n\
             [[path]]\nname = \"lo\"\nlocal = \"{local}\"\npeers = [\"{peer}\", \"{WITNESS}\"]\n\
             [[vip]]\naddress = \"{}\"\ninterface = \"{dev}\"\n\
             [notify]\nsmtp_server = \"127.0.0.1:25\"\nemail_recipient = \"ops@example.com\"\n\
             [hooks]\ndir = \"{}\"\n",
            self.number,
            self.voters(),
            self.vip,
            dir.join("no-hooks").display()
        )
    }

    /// The witness's TOML for this group: the same address for every group.
    fn witness_toml(&self) -> String {
        format!(
            "[node]\nname = \"witness\"\nwitness = true\n\
             [protocol]\nmode = \"quorum\"\ngroup = {}\n{}\ninterval = \"100ms\"\n\
             auth_key = \"{KEY}\"\n\
             [[path]]\nname = \"lo\"\nlocal = \"{WITNESS}\"\npeers = [\"{}\", \"{}\"]\n\
             [notify]\nemail_recipient = \"ops@example.com\"\n\
             [control]\nmetrics = \"127.0.0.1:9696\"\n",
            self.number,
            self.voters(),
            self.nodes[0].1,
            self.nodes[1].1
        )
    }
}

/// The namespace with a veth per address daemon, and a directory.
struct Bed {
    dir: TempDir,
    ns: Netns,
}

impl Bed {
    fn new() -> Bed {
        let ns = Netns::new("wg");
        for group in [&ONE, &TWO] {
            for (_, _, dev, _) in group.nodes {
                // A veth pair with both ends here (these kernels may have no dummy driver).
                ns.ip(&format!("link add {dev} type veth peer name {dev}-peer"));
                ns.ip(&format!("link set {dev} up"));
                ns.ip(&format!("link set {dev}-peer up"));
            }
        }
        Bed {
            dir: TempDir::new().unwrap(),
            ns,
        }
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn start(&self, name: &str, files: &[PathBuf]) -> Daemon {
        let args: Vec<OsString> = files
            .iter()
            .flat_map(|f| [OsString::from("--config"), f.clone().into_os_string()])
            .collect();
        Daemon::start(Path::new(FAILOVERD), &self.ns, self.dir.path(), name, &args)
    }

    fn start_node(&self, group: &Group, i: usize) -> Daemon {
        let name = group.nodes[i].0;
        let file = self.file(
            &format!("{name}.toml"),
            &group.node_toml(i, self.dir.path()),
        );
        self.start(name, &[file])
    }

    /// Whether node `i` of `group` has the group's address on its veth.
    fn holds(&self, group: &Group, i: usize) -> bool {
        self.ns.has_address(group.nodes[i].2, group.vip)
    }
}

fn report(daemon: &Daemon) -> Option<Report> {
    serde_json::from_str(&query(&daemon.socket).ok()?).ok()
}

/// The witness's answer: one report per group.
fn groups(witness: &Daemon) -> Option<Groups> {
    match serde_json::from_str(&query(&witness.socket).ok()?).ok()? {
        Answer::Groups(groups) => Some(groups),
        Answer::One(_) => None,
    }
}

/// The witness's report of `group`.
fn witness_of(witness: &Daemon, group: &Group) -> Option<Report> {
    let groups = groups(witness)?;
    let found = groups.groups.into_iter().find(|g| g.group == group.number);
    found.map(|g| g.report)
}

/// Whom the witness's vote in `group` is promised to now.
fn promised(witness: &Daemon, group: &Group) -> Option<String> {
    witness_of(witness, group)?.quorum?.promised_to
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
fn one_witness_process_serves_two_quorum_groups_and_one_groups_failover_leaves_the_other_alone() {
    if !root_or_skip() {
        return;
    }
    let bed = Bed::new();
    let monitor = AddressMonitor::start(&bed.ns, &bed.dir.path().join("addresses.log"));
    let witness_files = [
        bed.file("witness-1.toml", &ONE.witness_toml()),
        bed.file("witness-2.toml", &TWO.witness_toml()),
    ];
    let mut witness = bed.start("witness", &witness_files);
    let mut alpha1 = bed.start_node(&ONE, 0);
    let beta1 = bed.start_node(&ONE, 1);
    let alpha2 = bed.start_node(&TWO, 0);
    let beta2 = bed.start_node(&TWO, 1);

    // Both groups elect their master, each on the witness's vote in that group.
    for (group, master) in [(&ONE, &alpha1), (&TWO, &alpha2)] {
        let name = group.nodes[0].0;
        eventually(DEADLINE, &format!("{name} to hold a lease"), || {
            report(master).filter(|r| {
                r.role == Role::Master && r.quorum.as_ref().is_some_and(|q| q.lease_left_ms > 0)
            })
        });
        wait_until(DEADLINE, &format!("{name} to hold {}", group.vip), || {
            bed.holds(group, 0)
        });
        wait_until(
            DEADLINE,
            &format!("the witness's vote promised to {name}"),
            || promised(&witness, group).as_deref() == Some(name),
        );
        assert!(!bed.holds(group, 1));
    }
    let (beta1, beta2) = (beta1, beta2);
    let epoch2 = report(&alpha2).unwrap().epoch;

    // The witness's status shows both groups, each with its own peers and vote.
    let answer = groups(&witness).expect("the witness answers one report per group");
    let numbers: Vec<u16> = answer.groups.iter().map(|g| g.group).collect();
    assert_eq!(numbers, [1, 2]);
    for (g, group) in answer.groups.iter().zip([&ONE, &TWO]) {
        assert_eq!(g.report.node, "witness");
        assert!(g.report.vips.is_empty(), "a witness holds nothing");
        let mut peers: Vec<&str> = g.report.peers.iter().map(|p| p.name.as_str()).collect();
        peers.sort_unstable();
        assert_eq!(peers, [group.nodes[0].0, group.nodes[1].0]);
        assert!(g.report.counters.received > 0);
        assert_eq!(g.report.counters.foreign, 0, "{:?}", g.report.counters);
    }
    let text = failoverctl(&witness, &["status"]);
    for line in [
        "group 1:\n  node witness (priority 100): backup",
        "group 2:\n  node witness (priority 100): backup",
        "  quorum: no lease held; vote promised to alpha1 for ",
        "  quorum: no lease held; vote promised to alpha2 for ",
        "datagrams of no group served here: dropped: malformed 0, foreign 0",
    ] {
        assert!(text.contains(line), "missing `{line}` in:\n{text}");
    }

    // A datagram of a group the witness does not serve, sent to its one socket, is dropped
    // and counted apart from both groups.
    let stranger = Message {
        group: 7,
        kind: MessageKind::Heartbeat,
        role: Role::Master,
        priority: 255,
        epoch: 1,
        seq: 1,
        sender: "stranger".to_string(),
        successor: None,
        quorum: true,
        vote: None,
        marks: Default::default(),
    };
    let bytes = encode(&stranger, Some(&AuthKey::new(KEY.as_bytes())));
    bed.ns.run(|| {
        let socket = UdpSocket::bind("127.0.0.10:0").unwrap();
        socket.send_to(&bytes, WITNESS).unwrap();
    });
    let after = eventually(DEADLINE, "the stranger counted as foreign", || {
        groups(&witness).filter(|g| g.unclaimed.foreign == 1)
    });
    for g in &after.groups {
        assert_eq!(g.report.counters.foreign, 0, "{:?}", g.report.counters);
    }

    // Metrics: every sample labelled with its group.
    let metrics = bed.ns.run(|| {
        let mut http = TcpStream::connect("127.0.0.1:9696").expect("metrics listener");
        http.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        http.read_to_string(&mut answer).unwrap();
        answer
    });
    for line in [
        "failover_role{group=\"1\",node=\"witness\",role=\"backup\"} 1",
        "failover_role{group=\"2\",node=\"witness\",role=\"backup\"} 1",
        "failover_vote_promise_remaining_seconds{group=\"1\",to=\"alpha1\"} ",
        "failover_vote_promise_remaining_seconds{group=\"2\",to=\"alpha2\"} ",
        "failover_datagrams_unclaimed_total{reason=\"foreign\"} 1",
    ] {
        assert!(metrics.contains(line), "missing `{line}` in:\n{metrics}");
    }

    // Group 1's master killed, its host up: the kernel removes its address when its lease
    // runs out, and only then may beta1 take it — on its own vote and the witness's, alpha1's
    // being gone. Group 2 goes on as before all the while.
    alpha1.signal(Signal::SIGKILL);
    let group_two_undisturbed = || {
        bed.holds(&TWO, 0)
            && !bed.holds(&TWO, 1)
            && report(&alpha2).is_some_and(|r| r.role == Role::Master && r.epoch == epoch2)
            && report(&beta2).is_some_and(|r| r.role == Role::Backup)
    };
    wait_until(DEADLINE, "beta1 to take group 1's address over", || {
        assert!(group_two_undisturbed(), "group 2 was disturbed");
        bed.holds(&ONE, 1)
    });
    let taken = eventually(DEADLINE, "beta1 to report its lease", || {
        report(&beta1).filter(|r| {
            r.role == Role::Master && r.quorum.as_ref().is_some_and(|q| q.lease_left_ms > 0)
        })
    });
    let q = taken.quorum.unwrap();
    let witness_vote = q.voters.iter().find(|v| v.name == "witness").unwrap();
    assert!(
        witness_vote.granted_ms_ago.is_some(),
        "beta1's lease stands on the witness's grant: {q:?}"
    );
    wait_until(
        DEADLINE,
        "the witness's group-1 vote promised to beta1",
        || promised(&witness, &ONE).as_deref() == Some("beta1"),
    );
    holds_for(
        Duration::from_secs(2),
        "group 2 undisturbed",
        group_two_undisturbed,
    );
    assert_eq!(promised(&witness, &TWO).as_deref(), Some("alpha2"));

    // Never two holders in group 1: alpha1's kernel removed the address before beta1 added
    // it; group 2's address was never removed, nor added on beta2's interface.
    let one = monitor.lines(ONE.vip.parse::<std::net::IpAddr>().unwrap());
    let removed = one
        .iter()
        .position(|l| l.contains("Deleted") && l.contains(" va1 "))
        .unwrap_or_else(|| panic!("alpha1's address never removed:\n{}", one.join("\n")));
    let added = one
        .iter()
        .position(|l| !l.contains("Deleted") && l.contains(" vb1 "))
        .unwrap_or_else(|| panic!("beta1 never added it:\n{}", one.join("\n")));
    assert!(
        removed < added,
        "two holders in group 1:\n{}",
        one.join("\n")
    );
    let two = monitor.lines(TWO.vip.parse::<std::net::IpAddr>().unwrap());
    assert!(
        two.iter()
            .all(|l| !l.contains("Deleted") && l.contains(" va2 ")),
        "group 2's address moved:\n{}",
        two.join("\n")
    );

    // SIGHUP re-reads both files, each on its own; a group changed needs a restart, so that
    // file is refused (named) and the witness goes on serving groups 1 and 2.
    std::fs::write(
        &witness_files[1],
        TWO.witness_toml().replace("group = 2", "group = 3"),
    )
    .unwrap();
    witness.signal(Signal::SIGHUP);
    wait_until(DEADLINE, "the witness to reload", || {
        witness.log().contains("reload refused")
    });
    let log = witness.log();
    assert!(
        log.contains(
            "witness-2.toml: field `protocol.group`: changing the group of a failoverd that \
             serves several groups needs a restart"
        ),
        "{log}"
    );
    assert_eq!(log.matches("configuration reloaded").count(), 1, "{log}");
    let numbers: Vec<u16> = groups(&witness)
        .unwrap()
        .groups
        .iter()
        .map(|g| g.group)
        .collect();
    assert_eq!(numbers, [1, 2]);
    holds_for(Duration::from_secs(1), "both groups still served", || {
        bed.holds(&ONE, 1) && bed.holds(&TWO, 0)
    });
}
