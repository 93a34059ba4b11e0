//! failoverd's security promises, tested for real in the namespace bed: a shared key rotated
//! on every node in turn, by SIGHUP, with no heartbeat dropped and nothing moving (classic and
//! quorum mode); real heartbeats captured on the LAN and replayed with a spoofed source after
//! the master restarted, dropped and counted (with a key and without); the status socket's
//! mode, group and client credentials; metrics served beyond loopback only when allowed.
//! Needs root; skips (or fails under `FAILOVER_REQUIRE_NETNS=1`) otherwise.

use failover_core::acts::{Act, Record};
use failover_core::wire::{decode, encode, AuthKey, Message, MessageKind};
use failover_core::{Counters, Role};
use failover_real::status::{query, Report};
use failover_testbed::{
    eventually, holds_for, root_or_skip, wait_until, Bed, Daemon, Host, Netns, NodeConfig, BACKUP,
    CLIENT, MASTER,
};
use nix::sys::signal::Signal;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const FAILOVERD: &str = env!("CARGO_BIN_EXE_failoverd");
const FAILOVERCTL: &str = env!("CARGO_BIN_EXE_failoverctl");
/// 250 ms: `dead_after` is 750 ms, so a daemon that the loaded machine leaves unscheduled for a
/// few hundred ms around its reload is not taken for dead (at 100 ms a rotation test saw a
/// backup start a takeover twice in a dozen runs at load 10).
const INTERVAL: Duration = Duration::from_millis(250);
const HOOK_TIMEOUT: Duration = Duration::from_secs(2);
/// Generous: CI machines are loaded, and nothing here asserts speed.
const DEADLINE: Duration = Duration::from_secs(15);
/// How long each step of a rotation is watched: ten heartbeats, over three times `dead_after`.
const WATCH: Duration = Duration::from_secs(1);

const OLD_KEY: &str = "the key in use since install";
const NEW_KEY: &str = "the key that replaces it, 16+";
const STRAY_KEY: &str = "a key no peer has heard of";

/// The rotation as README documents it: (`auth_key`, `previous_auth_key`) for each step,
/// every node reloading in turn before the next step begins.
const ROTATION: [(&str, Option<&str>); 3] = [
    (OLD_KEY, Some(NEW_KEY)), // 1: accept the new key beside the old; still send the old
    (NEW_KEY, Some(OLD_KEY)), // 2: send the new; still accept the old
    (NEW_KEY, None),          // 3: the new key alone
];

fn report(socket: &Path) -> Option<Report> {
    serde_json::from_str(&query(socket).ok()?).ok()
}

fn must_report(daemon: &Daemon) -> Report {
    eventually(DEADLINE, "a status report", || report(&daemon.socket))
}

/// Every act in an `--events` file.
fn records(path: &Path) -> Vec<Record> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// The acts that change something: roles, addresses, hooks, mail.
fn changes(path: &Path) -> Vec<Act> {
    records(path)
        .into_iter()
        .map(|r| r.act)
        .filter(|act| {
            matches!(
                act,
                Act::Role { .. }
                    | Act::Address { .. }
                    | Act::HookStarted { .. }
                    | Act::Notified { .. }
                    | Act::LeftoverRemoved { .. }
            )
        })
        .collect()
}

/// `text` with `lines` added to its `[protocol]` table.
fn with_protocol(text: &str, lines: &str) -> String {
    assert!(text.contains("[protocol]\n"), "{text}");
    text.replacen("[protocol]\n", &format!("[protocol]\n{lines}"), 1)
}

/// A heartbeat claiming to be the master, from a boot far in the future, at priority 255.
fn forged_heartbeat(key: &str) -> Vec<u8> {
    let msg = Message {
        group: 1,
        kind: MessageKind::Heartbeat,
        role: Role::Master,
        priority: 255,
        epoch: u64::MAX - 1,
        seq: 1,
        sender: "master",
        successor: None,
        quorum: false,
        vote: None,
        marks: Default::default(),
    };
    encode(&msg, Some(&AuthKey::new(key.as_bytes())))
}

fn at_1694(ip: std::net::Ipv4Addr) -> SocketAddr {
    SocketAddr::new(ip.into(), 1694)
}

// ---------------------------------------------------------------------------------------
// Key rotation

/// Which guarantee the group runs under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Classic,
    /// With a witness on the client host: three voters.
    Quorum,
}

/// Master and backup (and in quorum mode a witness on the client host), each with an
/// `--events` file, under a key the test rewrites and reloads node by node.
struct Group {
    // Field order is drop order: daemons before the bed's namespaces.
    daemons: Vec<Daemon>,
    reloads: Vec<usize>,
    mode: Mode,
    bed: Bed,
}

const NAMES: [&str; 3] = ["master", "backup", "witness"];

impl Group {
    fn start(mode: Mode) -> Group {
        let mut group = Group {
            daemons: Vec::new(),
            reloads: Vec::new(),
            mode,
            bed: Bed::new(),
        };
        let members = if mode == Mode::Quorum { 3 } else { 2 };
        for (i, name) in NAMES.iter().enumerate().take(members) {
            group.write(i, OLD_KEY, None);
            let args = [
                OsString::from("--config"),
                group.config_path(i).into_os_string(),
                OsString::from("--events"),
                group.events_path(i).into_os_string(),
            ];
            let ns = group.ns(i);
            let daemon = Daemon::start(Path::new(FAILOVERD), ns, group.bed.dir(), name, &args);
            group.daemons.push(daemon);
            group.reloads.push(0);
        }
        wait_until(DEADLINE, "the master to hold the address", || {
            group.bed.holds(MASTER)
        });
        eventually(DEADLINE, "the master's report saying master", || {
            report(&group.daemons[0].socket).filter(|r| r.role == Role::Master)
        });
        for i in 1..members {
            eventually(DEADLINE, "every node to see the master alive", || {
                let r = report(&group.daemons[i].socket)?;
                let master = r.peers.iter().find(|p| p.name == "master")?;
                (master.alive && master.role == Role::Master).then_some(())
            });
        }
        group
    }

    fn ns(&self, i: usize) -> &Netns {
        [&self.bed.master, &self.bed.backup, &self.bed.client][i]
    }

    fn config_path(&self, i: usize) -> PathBuf {
        self.bed.dir().join(format!("{}.toml", NAMES[i]))
    }

    fn events_path(&self, i: usize) -> PathBuf {
        self.bed.dir().join(format!("{}.events", NAMES[i]))
    }

    /// Node `i`'s configuration with these keys.
    fn toml(&self, i: usize, auth: &str, previous: Option<&str>) -> String {
        let mut protocol = String::new();
        if let Some(previous) = previous {
            protocol += &format!("previous_auth_key = \"{previous}\"\n");
        }
        if self.mode == Mode::Quorum {
            protocol += "mode = \"quorum\"\nvoters = [\"master\", \"backup\", \"witness\"]\n";
        }
        if i == 2 {
            // The witness: a voter on the LAN only, holding no address.
            return format!(
                "[node]\nname = \"witness\"\nwitness = true\n\
                 [protocol]\ninterval = \"{}ms\"\nauth_key = \"{auth}\"\n{protocol}\
                 [[path]]\nname = \"public\"\nlocal = \"{}\"\npeers = [\"{}\", \"{}\"]\n\
                 [notify]\nemail_recipient = \"ops@example.com\"\n",
                INTERVAL.as_millis(),
                at_1694(CLIENT),
                at_1694(MASTER.lan),
                at_1694(BACKUP.lan),
            );
        }
        let host = [MASTER, BACKUP][i];
        let mut config: NodeConfig = self.bed.config(host, INTERVAL, HOOK_TIMEOUT);
        config.auth_key = Some(auth.into());
        if self.mode == Mode::Quorum {
            config.paths[0].peers.push(at_1694(CLIENT));
        }
        with_protocol(&config.to_toml(), &protocol)
    }

    fn write(&self, i: usize, auth: &str, previous: Option<&str>) {
        std::fs::write(self.config_path(i), self.toml(i, auth, previous)).unwrap();
    }

    /// Rewrites node `i`'s keys and reloads it with SIGHUP, waiting until it has applied them.
    fn reload(&mut self, i: usize, auth: &str, previous: Option<&str>) {
        self.write(i, auth, previous);
        self.daemons[i].signal(Signal::SIGHUP);
        self.reloads[i] += 1;
        let daemon = &self.daemons[i];
        let want = self.reloads[i];
        wait_until(DEADLINE, &format!("{} to reload", NAMES[i]), || {
            daemon.log().matches("configuration reloaded").count() >= want
        });
        assert!(!daemon.log().contains("reload refused"), "{}", daemon.log());
    }

    fn counters(&self, i: usize) -> Counters {
        must_report(&self.daemons[i]).counters
    }

    fn members(&self) -> std::ops::Range<usize> {
        0..self.daemons.len()
    }

    /// Nothing moves for `WATCH`: the master holds the address, the backup does not.
    fn watch(&self, what: &str) {
        holds_for(WATCH, what, || {
            self.bed.holds(MASTER) && !self.bed.holds(BACKUP)
        });
    }
}

fn rotate_the_key_on_every_node_in_turn(mode: Mode) {
    let mut g = Group::start(mode);
    let acts: Vec<Vec<Act>> = g.members().map(|i| changes(&g.events_path(i))).collect();
    let epochs: Vec<u64> = g
        .members()
        .map(|i| must_report(&g.daemons[i]).epoch)
        .collect();

    for (step, (auth, previous)) in ROTATION.into_iter().enumerate() {
        for node in g.members() {
            g.reload(node, auth, previous);
            let what = format!("step {}, {} reloaded: nothing moves", step + 1, NAMES[node]);
            g.watch(&what);
            for i in g.members() {
                let c = g.counters(i);
                assert_eq!(c.unauthenticated, 0, "{what}: {}: {c:?}", NAMES[i]);
            }
            if (step, node) == (1, 0) {
                // The master sends the new key; the others still send the old one and take
                // the new as their previous key: the counters show the new key in use.
                for i in 1..g.daemons.len() {
                    eventually(DEADLINE, "the master's new key seen as previous", || {
                        (g.counters(i).previous_key > 0).then_some(())
                    });
                }
            }
        }
        if step == 1 {
            // Every node sends the new key: no datagram under the old one any more.
            std::thread::sleep(INTERVAL * 3);
            let before: Vec<u64> = g.members().map(|i| g.counters(i).previous_key).collect();
            g.watch("after step 2 on every node");
            let after: Vec<u64> = g.members().map(|i| g.counters(i).previous_key).collect();
            assert_eq!(after, before, "the old key is no longer in use");
        }
    }

    for i in g.members() {
        let r = must_report(&g.daemons[i]);
        assert_eq!(r.epoch, epochs[i], "{}: reloads are not restarts", NAMES[i]);
        assert_eq!(
            changes(&g.events_path(i)),
            acts[i],
            "{}: no role, address, hook or mail changed during the rotation",
            NAMES[i]
        );
        assert!(r.counters.received > 0);
    }

    // The old key is refused now: a forged master heartbeat under it, sent to every node.
    let forged = forged_heartbeat(OLD_KEY);
    let targets = [MASTER.lan, BACKUP.lan, CLIENT];
    g.bed.client.run(|| {
        let socket = UdpSocket::bind(SocketAddr::new(CLIENT.into(), 0)).unwrap();
        for &ip in &targets[..g.daemons.len()] {
            socket.send_to(&forged, at_1694(ip)).unwrap();
        }
    });
    for i in g.members() {
        eventually(DEADLINE, "the old key's datagram refused", || {
            (g.counters(i).unauthenticated == 1).then_some(())
        });
    }
    let view = must_report(&g.daemons[1]);
    let master = view.peers.iter().find(|p| p.name == "master").unwrap();
    assert_eq!(
        (master.epoch, master.priority),
        (epochs[0], 200),
        "the forgery changed nothing"
    );

    // And the counters do see a wrong order: a node that sends a key its peers do not accept
    // yet is dropped as unauthenticated (a master doing that would be taken for dead).
    g.reload(1, STRAY_KEY, Some(NEW_KEY));
    eventually(DEADLINE, "the stray key's datagrams dropped", || {
        (g.counters(0).unauthenticated > 1).then_some(())
    });
}

#[test]
fn a_key_rotated_on_both_nodes_in_turn_drops_no_heartbeat_and_moves_nothing() {
    if !root_or_skip() {
        return;
    }
    rotate_the_key_on_every_node_in_turn(Mode::Classic);
}

#[test]
fn a_key_rotated_on_every_voter_in_turn_keeps_the_lease() {
    if !root_or_skip() {
        return;
    }
    rotate_the_key_on_every_node_in_turn(Mode::Quorum);
}

// ---------------------------------------------------------------------------------------
// Replays across a restart

/// Every datagram waiting on `socket`, and those arriving for `period` (the socket's read
/// timeout is short: a quiet moment after `period` ends the capture).
fn capture(socket: &UdpSocket, period: Duration) -> Vec<Vec<u8>> {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    loop {
        match socket.recv_from(&mut buf) {
            Ok((n, _)) => got.push(buf[..n].to_vec()),
            Err(_) if start.elapsed() >= period => return got,
            Err(_) => {}
        }
    }
}

/// The master heartbeats to one more address on the LAN: the test's socket on the client
/// host, which keeps copies of real heartbeats. The master restarts (a new boot epoch); then
/// the client replays what it kept to the backup with the master's own source address.
fn replays_after_a_restart_change_nothing(key: Option<&str>) {
    let bed = Bed::new();
    let tap = at_1694(CLIENT);
    let socket = bed.client.run(|| UdpSocket::bind(tap).unwrap());
    socket
        .set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let mut master_config = bed.config(MASTER, INTERVAL, HOOK_TIMEOUT);
    master_config.auth_key = key.map(Into::into);
    master_config.paths[0].peers.push(tap);
    let mut backup_config = bed.config(BACKUP, INTERVAL, HOOK_TIMEOUT);
    backup_config.auth_key = key.map(Into::into);
    let backup_events = bed.dir().join("backup.events");
    let start = |host: Host, config: &NodeConfig, extra: &[OsString]| {
        let file = config.write(bed.dir());
        let mut args = vec![OsString::from("--config"), file.into_os_string()];
        args.extend_from_slice(extra);
        Daemon::start(
            Path::new(FAILOVERD),
            bed.ns(host),
            bed.dir(),
            host.name,
            &args,
        )
    };
    let mut master = start(MASTER, &master_config, &[]);
    let events = [OsString::from("--events"), backup_events.clone().into()];
    let backup = start(BACKUP, &backup_config, &events);
    let settled = |master: &Daemon, epoch: u64| {
        eventually(
            DEADLINE,
            "the master to own the address, seen by the backup",
            || {
                let m = report(&master.socket)?;
                let b = report(&backup.socket)?;
                let seen = b.peers.iter().find(|p| p.name == "master")?;
                let ok = m.epoch > epoch
                    && m.role == Role::Master
                    && bed.holds(MASTER)
                    && b.vips[0].holder.as_deref() == Some("master")
                    && seen.epoch == m.epoch;
                ok.then_some(m.epoch)
            },
        )
    };
    let first = settled(&master, 0);
    let decode_with_key = |bytes: &[u8]| {
        let key = key.map(|k| AuthKey::new(k.as_bytes()));
        let msg = decode(bytes, key.as_ref()).expect("a real heartbeat of the master");
        assert_eq!(msg.sender, "master");
        (msg.epoch, msg.seq)
    };
    // Longer than the second run will have lasted at the replay, so the first run's sequence
    // numbers reach past the second's: some replay carries the very number the backup took
    // last (once a way through, without a key).
    let mut replays = capture(&socket, Duration::from_secs(8));

    // A restart: a planned stop (the backup takes over), then a start with a new epoch.
    master.signal(Signal::SIGTERM);
    assert!(master.process().wait_exit(DEADLINE).is_some());
    replays.extend(capture(&socket, Duration::ZERO));
    let first_run = replays.len();
    assert!(replays.iter().all(|d| decode_with_key(d).0 == first));
    master = start(MASTER, &master_config, &[]);
    let second = settled(&master, first);
    assert!(second > first);
    // Heartbeats of the running master too, received by the backup long before they come
    // back: a live node's datagrams with old sequence numbers.
    let recent = capture(&socket, Duration::from_secs(1));
    assert!(recent.iter().all(|d| decode_with_key(d).0 == second));
    let last_seq = |datagrams: &[Vec<u8>]| datagrams.iter().map(|d| decode_with_key(d).1).max();
    let (first_seqs, second_seqs) = (last_seq(&replays), last_seq(&recent));
    assert!(
        first_seqs > second_seqs,
        "the first run's numbers ({first_seqs:?}) reach past the second's ({second_seqs:?})"
    );
    replays.extend(recent);
    std::thread::sleep(Duration::from_millis(500));
    let _ = capture(&socket, Duration::ZERO);

    let before = must_report(&backup);
    let acts = changes(&backup_events);
    // The attacker on the LAN sends as the master: its address and port (nftables' SNAT).
    let nft = |args: &[&str]| {
        let out = bed
            .client
            .command("nft")
            .args(args)
            .output()
            .expect("nft (nftables)");
        assert!(
            out.status.success(),
            "nft {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    nft(&["add", "table", "ip", "spoof"]);
    nft(&[
        "add",
        "chain",
        "ip",
        "spoof",
        "post",
        "{ type nat hook postrouting priority 100; }",
    ]);
    let master_source = at_1694(MASTER.lan).to_string();
    let backup_lan = BACKUP.lan.to_string();
    nft(&[
        "add",
        "rule",
        "ip",
        "spoof",
        "post",
        "ip",
        "daddr",
        &backup_lan,
        "udp",
        "dport",
        "1694",
        "snat",
        "to",
        &master_source,
    ]);
    for datagram in &replays {
        socket.send_to(datagram, at_1694(BACKUP.lan)).unwrap();
    }
    let sent = replays.len() as u64;
    eventually(DEADLINE, "every replay counted", || {
        let c = report(&backup.socket)?.counters;
        (c.replayed >= before.counters.replayed + sent).then_some(())
    });
    holds_for(
        Duration::from_secs(2),
        "nothing moves after the replays",
        || {
            let Some(b) = report(&backup.socket) else {
                return false;
            };
            let seen = b.peers.iter().find(|p| p.name == "master");
            b.counters.replayed == before.counters.replayed + sent
                && b.role == Role::Backup
                && seen.is_some_and(|p| p.epoch == second && p.alive && p.role == Role::Master)
                && bed.holds(MASTER)
                && !bed.holds(BACKUP)
        },
    );
    let after = must_report(&backup);
    assert_eq!(
        after.counters.unauthenticated,
        before.counters.unauthenticated
    );
    assert_eq!(changes(&backup_events), acts, "the backup did nothing");
    let m = must_report(&master);
    assert_eq!((m.epoch, m.role), (second, Role::Master));
    eprintln!(
        "replayed {sent} datagrams ({first_run} of epoch {first} up to sequence {first_seqs:?}, \
         {} of epoch {second} up to {second_seqs:?}): all dropped; backup counters {:?}",
        sent as usize - first_run,
        after.counters
    );
}

#[test]
fn heartbeats_captured_before_a_restart_and_replayed_after_it_are_dropped_with_a_key() {
    if !root_or_skip() {
        return;
    }
    replays_after_a_restart_change_nothing(Some(OLD_KEY));
}

#[test]
fn heartbeats_captured_before_a_restart_and_replayed_after_it_are_dropped_without_a_key() {
    if !root_or_skip() {
        return;
    }
    replays_after_a_restart_change_nothing(None);
}

// ---------------------------------------------------------------------------------------
// The status socket and the metrics endpoint

const NOBODY: &str = "65534";
const ROOT: [&str; 5] = ["--reuid", "0", "--regid", "0", "--keep-groups"];

/// The master alone, with `control` as its `[control]` table; the bed's directory opened to
/// other users (a socket's directory must be searchable to connect to it).
fn lone_master(control: &str) -> (Daemon, Bed) {
    let bed = Bed::new();
    std::fs::set_permissions(bed.dir(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = bed.config(MASTER, INTERVAL, HOOK_TIMEOUT);
    let file = config.write(bed.dir());
    let text = format!("{}[control]\n{control}\n", config.to_toml());
    std::fs::write(&file, text).unwrap();
    let args = [OsString::from("--config"), file.into_os_string()];
    let daemon = Daemon::start(
        Path::new(FAILOVERD),
        &bed.master,
        bed.dir(),
        "master",
        &args,
    );
    wait_until(DEADLINE, "the master to hold the address", || {
        bed.holds(MASTER)
    });
    (daemon, bed)
}

/// `failoverctl status` run by another user (`setpriv` options: ids and groups).
fn failoverctl_as(ids: &[&str], daemon: &Daemon) -> Output {
    failoverctl_asking(ids, daemon, &["status"])
}

/// `failoverctl ARGS…` run by another user.
fn failoverctl_asking(ids: &[&str], daemon: &Daemon, args: &[&str]) -> Output {
    Command::new("setpriv")
        .args(ids)
        .arg(FAILOVERCTL)
        .arg("--socket")
        .arg(&daemon.socket)
        .args(args)
        .output()
        .expect("setpriv (util-linux)")
}

fn answered(out: &Output) -> bool {
    let text = String::from_utf8_lossy(&out.stdout);
    out.status.success() && text.contains("node master (priority 200): master")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn the_status_socket_is_roots_alone_by_its_mode_and_by_each_clients_credentials() {
    if !root_or_skip() {
        return;
    }
    let (daemon, _bed) = lone_master("");
    let meta = std::fs::metadata(&daemon.socket).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o600, "root only by default");
    assert_eq!(meta.uid(), 0);

    let root = failoverctl_as(&ROOT, &daemon);
    assert!(answered(&root), "root may ask: {}", stderr(&root));

    // Another user: the kernel refuses the connection (the file's mode).
    let nobody = ["--reuid", NOBODY, "--regid", NOBODY, "--clear-groups"];
    let out = failoverctl_as(&nobody, &daemon);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("Permission denied") && err.contains("control.socket_group"),
        "{err}"
    );

    // The file opened to everyone by hand: the daemon refuses the client all the same,
    // tells it why and logs it.
    std::fs::set_permissions(&daemon.socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = failoverctl_as(&nobody, &daemon);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("failoverd refused: permission denied: uid 65534 may not ask"),
        "{err}"
    );
    wait_until(DEADLINE, "the refusal logged", || {
        let log = daemon.log();
        log.contains("client refused") && log.contains("uid=65534")
    });
    // Nor may it ask for maintenance: refused before the node hears of it.
    for args in [&["standby"][..], &["switchover"], &["active"]] {
        let out = failoverctl_asking(&nobody, &daemon, args);
        assert!(!out.status.success(), "{args:?}");
        let err = stderr(&out);
        assert!(
            err.contains("failoverd refused: permission denied: uid 65534 may not ask"),
            "{args:?}: {err}"
        );
    }
    let status = must_report(&daemon);
    assert!(!status.standby && status.pending.is_none() && status.role == Role::Master);
    let root = failoverctl_as(&ROOT, &daemon);
    assert!(answered(&root), "root still may: {}", stderr(&root));
}

#[test]
fn members_of_the_socket_group_may_ask_and_other_users_may_not() {
    if !root_or_skip() {
        return;
    }
    let group = nix::unistd::Group::from_name("users")
        .unwrap()
        .expect("group `users` (every Debian system has it)");
    let gid = group.gid.as_raw().to_string();
    let (daemon, _bed) = lone_master("socket_group = \"users\"");
    let meta = std::fs::metadata(&daemon.socket).unwrap();
    assert_eq!(
        (meta.mode() & 0o777, meta.gid()),
        (0o660, group.gid.as_raw()),
        "the group may connect"
    );

    let primary = failoverctl_as(
        &["--reuid", NOBODY, "--regid", &gid, "--clear-groups"],
        &daemon,
    );
    assert!(answered(&primary), "primary group: {}", stderr(&primary));
    let supplementary = failoverctl_as(
        &["--reuid", NOBODY, "--regid", NOBODY, "--groups", &gid],
        &daemon,
    );
    assert!(
        answered(&supplementary),
        "supplementary group: {}",
        stderr(&supplementary)
    );

    let nobody = ["--reuid", NOBODY, "--regid", NOBODY, "--clear-groups"];
    let out = failoverctl_as(&nobody, &daemon);
    assert!(!out.status.success(), "not a member: the file's mode");
    assert!(
        stderr(&out).contains("Permission denied"),
        "{}",
        stderr(&out)
    );
    std::fs::set_permissions(&daemon.socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = failoverctl_as(&nobody, &daemon);
    assert!(!out.status.success(), "not a member: the daemon's check");
    assert!(
        stderr(&out).contains("members of group `users`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn metrics_allowed_beyond_loopback_are_served_to_another_host() {
    if !root_or_skip() {
        return;
    }
    let listen = SocketAddr::new(MASTER.lan.into(), 9694);
    let (_daemon, bed) = lone_master(&format!(
        "metrics = \"{listen}\"\nmetrics_allow_remote = true"
    ));
    let answer = bed.client.run(|| {
        let mut http = TcpStream::connect(listen).expect("the metrics listener on the LAN");
        http.write_all(b"GET /metrics HTTP/1.1\r\nHost: master\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        http.read_to_string(&mut answer).unwrap();
        answer
    });
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    for line in [
        "failover_role{node=\"master\",role=\"master\"} 1",
        "failover_datagrams_previous_key_total 0",
    ] {
        assert!(answer.contains(line), "missing `{line}` in:\n{answer}");
    }
}
