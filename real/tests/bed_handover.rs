//! Hand-overs in the namespace bed that depend on the daemon's input rule, its goodbye, the
//! kernel's answers and the hostconfig form: a stalled backup, a planned shutdown among three,
//! an address the kernel refuses, heartbeats to broadcast addresses, and the source document's
//! own pair, whose master fails over its own public address. Needs root; skips (or fails under
//! `FAILOVER_REQUIRE_NETNS=1`) otherwise.

use failover_real::status::{query, Report};
use failover_testbed::{
    eventually, holds_for, request, root_or_skip, wait_until, AddressMonitor, Bed, Daemon, Host,
    Mail, Netns, Smtp, Trio, ALPHA, BACKUP, BRAVO, CHARLIE, MAIL_SERVER, MASTER, SERVICE_PORT, VIP,
};
use nix::sys::signal::Signal;
use std::ffi::OsString;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

const FAILOVERD: &str = env!("CARGO_BIN_EXE_failoverd");
const INTERVAL: Duration = Duration::from_millis(100);
/// Generous: CI machines are loaded, and nothing here asserts speed.
const DEADLINE: Duration = Duration::from_secs(15);

/// `dead_after` of a node of `priority` at [`INTERVAL`]: 3 × interval plus the priority skew.
fn dead_after(priority: u32) -> Duration {
    INTERVAL * 3 + INTERVAL * (255 - priority) / 256
}

fn report(daemon: &Daemon) -> Option<Report> {
    let line = query(&daemon.socket).ok()?;
    serde_json::from_str(&line).ok()
}

/// Waits for `daemon`'s report to show `holder` holding the address (its first) and the
/// daemon itself in `role`.
fn wait_report(daemon: &Daemon, role: &str, holder: Option<&str>) -> Report {
    let what = format!("a report of role {role}, the address held by {holder:?}");
    eventually(DEADLINE, &what, || {
        report(daemon)
            .filter(|r| r.role.to_string() == role && r.vips[0].holder.as_deref() == holder)
    })
}

/// Waits until a client request to `address` is answered by `host`.
fn wait_reached(client: &Netns, address: Ipv4Addr, host: Host) {
    let to = SocketAddr::new(address.into(), SERVICE_PORT);
    wait_until(
        DEADLINE,
        &format!("the client to reach {} at {address}", host.name),
        || request(client, to, Duration::from_millis(300)).as_deref() == Some(host.name),
    );
}

/// Hooks of `kinds` in `dir` that append "NODE HOOK EVENT" to `log`.
fn logging_hooks(dir: &Path, kinds: &[&str], log: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for kind in kinds {
        let path = dir.join(kind);
        let line = r#""$FAILOVER_NODE $FAILOVER_HOOK $FAILOVER_EVENT""#;
        let body = format!("#!/bin/sh\necho {line} >> {}\n", log.display());
        std::fs::write(&path, body).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The failover notices from `node` delivered so far, or from any node if `None`.
fn failover_mails(smtp: &Smtp, node: Option<&str>) -> Vec<Mail> {
    let subject = format!("{}: failover:", node.unwrap_or(""));
    let mails = smtp.messages().into_iter();
    mails.filter(|m| m.subject.contains(&subject)).collect()
}

/// Where [`start_hostconfig`] writes `host`'s file, in a directory of the host's own (the
/// hostconfig form names no socket or state directory, so two daemons must not share one).
fn hostconfig_file(bed: &Bed, host: Host) -> PathBuf {
    bed.dir().join(host.name).join("hostconfig")
}

/// Starts a daemon on `host` of `bed` from hostconfig `text`. With `hooks`, the daemon sees
/// that directory as `/etc/failover`.
fn start_hostconfig(bed: &Bed, host: Host, text: &str, hooks: Option<&Path>) -> Daemon {
    let file = hostconfig_file(bed, host);
    let dir = file.parent().unwrap().to_path_buf();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(&file, text).unwrap();
    let args = [OsString::from("--hostconfig"), file.into_os_string()];
    let (bin, ns) = (Path::new(FAILOVERD), bed.ns(host));
    match hooks {
        Some(hooks) => Daemon::start_with_etc_hooks(bin, ns, &dir, host.name, &args, hooks),
        None => Daemon::start(bin, ns, &dir, host.name, &args),
    }
}

/// A crash of `master`: the process dies at once and the machine drops off both networks.
fn crash_master(bed: &Bed, master: &mut Daemon) {
    master.signal(Signal::SIGKILL);
    bed.set_lan(MASTER, false);
    bed.set_direct(false);
}

/// Stalls of about 0.5, 1, 2 and 5 × the backup's `dead_after`, in tenths.
const STALLS_TENTHS: [u32; 4] = [5, 10, 20, 50];
const TRIALS_PER_STALL: usize = 4;

#[test]
fn a_stalled_backup_reads_the_heartbeats_queued_meanwhile_and_moves_nothing() {
    if !root_or_skip() {
        return;
    }
    let bed = Bed::new();
    let hooks_log = bed.dir().join("hooks.log");
    logging_hooks(
        &bed.hook_dir(BACKUP),
        &["Test", "PreAcq", "PostAcq"],
        &hooks_log,
    );
    let monitor = AddressMonitor::start(&bed.backup, &bed.dir().join("backup-addresses.log"));
    let smtp = Smtp::start(&bed.client, MAIL_SERVER, bed.dir());
    let config = |host| bed.config(host, INTERVAL, Duration::from_secs(2));
    let _master = bed.start(Path::new(FAILOVERD), MASTER, &config(MASTER));
    let mut backup = bed.start(Path::new(FAILOVERD), BACKUP, &config(BACKUP));
    wait_reached(&bed.client, VIP, MASTER);
    let master_mac = bed.master.mac("eth0");
    let client_entry = || bed.client.neighbour(&VIP.to_string());
    assert_eq!(client_entry().as_ref(), Some(&master_mac));
    wait_report(&backup, "backup", Some(MASTER.name));

    let dead_after = dead_after(100);
    let mut trials = Vec::new();
    for tenths in STALLS_TENTHS {
        let stall = dead_after * tenths / 10;
        for _ in 0..TRIALS_PER_STALL {
            let (changes, hooks) = (monitor.lines(VIP).len(), read(&hooks_log).len());
            backup.signal(Signal::SIGSTOP);
            std::thread::sleep(stall);
            backup.signal(Signal::SIGCONT);
            // It has woken and judged the master by the heartbeats that waited for it; a takeover
            // begun and undone shows in the monitor, the hook log or the client's entry.
            wait_report(&backup, "backup", Some(MASTER.name));
            holds_for(dead_after, "the backup not holding the address", || {
                !bed.holds(BACKUP)
            });
            let moved = [
                monitor.lines(VIP)[changes..].join("\n"),
                read(&hooks_log)[hooks..].to_string(),
                match client_entry() {
                    Some(mac) if mac == master_mac => String::new(),
                    other => format!("client's entry for {VIP}: {other:?}"),
                },
            ];
            let moved: Vec<String> = moved.into_iter().filter(|m| !m.is_empty()).collect();
            trials.push((stall, moved));
        }
    }
    // Mail goes out in order: once a later notice (the direct link's anomaly) has arrived, a
    // failover notice queued during the stalls would have too.
    bed.set_direct(false);
    smtp.wait_for(DEADLINE, "backup: network anomaly: master silent on direct");
    let moved: Vec<String> = (trials.iter())
        .filter(|(_, moved)| !moved.is_empty())
        .map(|(stall, moved)| format!("stall of {stall:?}:\n{}", moved.join("\n")))
        .collect();
    assert!(
        moved.is_empty(),
        "the backup moved after {} of {} stalls:\n{}",
        moved.len(),
        trials.len(),
        moved.join("\n")
    );
    assert_eq!(failover_mails(&smtp, Some(BACKUP.name)), vec![]);
    assert_eq!(
        monitor.added(VIP),
        Vec::<String>::new(),
        "nor between stalls"
    );
}

/// alpha (200) owns the address; SIGTERM hands it to bravo alone, charlie never moves.
fn a_planned_shutdown_of_three(bravo_priority: u8, charlie_priority: u8) {
    let trio = Trio::new();
    let monitor = |host: Host| {
        let log = trio.dir().join(format!("{}-addresses.log", host.name));
        AddressMonitor::start(trio.ns(host), &log)
    };
    let (bravo_monitor, charlie_monitor) = (monitor(BRAVO), monitor(CHARLIE));
    let smtp = Smtp::start(&trio.client, MAIL_SERVER, trio.dir());
    let mut daemons: Vec<Daemon> = [
        (ALPHA, 200),
        (BRAVO, bravo_priority),
        (CHARLIE, charlie_priority),
    ]
    .into_iter()
    .map(|(host, priority)| {
        trio.start(
            Path::new(FAILOVERD),
            host,
            &trio.config(host, priority, INTERVAL),
        )
    })
    .collect();
    wait_reached(&trio.client, VIP, ALPHA);
    wait_report(&daemons[0], "master", Some(ALPHA.name));
    for backup in &daemons[1..] {
        wait_report(backup, "backup", Some(ALPHA.name));
    }
    // alpha names its successor from the backups it has heard (passive backups answer it once).
    eventually(DEADLINE, "alpha to have heard both backups", || {
        report(&daemons[0]).filter(|r| r.peers.len() == 2)
    });
    // Settled: passive backups do not hear each other, so each counts the other as down (the
    // state in which every backup once took over at a goodbye).
    for (backup, other) in [(&daemons[1], CHARLIE), (&daemons[2], BRAVO)] {
        let what = format!("{} to be silent to the other backup", other.name);
        eventually(DEADLINE, &what, || {
            let r = report(backup)?;
            (!r.peers.iter().any(|p| p.name == other.name && p.alive)).then_some(())
        });
    }
    smtp.wait_for(DEADLINE, "alpha: failover: took over");
    let earlier = failover_mails(&smtp, None).len();

    let alpha = &mut daemons[0];
    alpha.signal(Signal::SIGTERM);
    let status = alpha.process().wait_exit(DEADLINE);
    assert!(
        status.is_some_and(|s| s.success()),
        "alpha exits 0 after handing over: {status:?}\n{}",
        alpha.log()
    );
    assert!(!trio.holds(ALPHA), "alpha released before exiting");
    wait_until(DEADLINE, "bravo to hold the address", || trio.holds(BRAVO));
    wait_reached(&trio.client, VIP, BRAVO);
    let mail = smtp.wait_for(DEADLINE, "bravo: failover: took over");
    assert_eq!(mail.from, "failoverd@bravo.example.com");
    wait_report(&daemons[2], "backup", Some(BRAVO.name));
    // charlie waits its own dead_after for the heir to claim; give it three.
    let charlie_wait = dead_after(u32::from(charlie_priority)) * 3;
    holds_for(charlie_wait, "charlie not holding the address", || {
        !trio.holds(CHARLIE)
    });
    assert_eq!(
        charlie_monitor.added(VIP),
        Vec::<String>::new(),
        "charlie never added the address"
    );
    assert_eq!(bravo_monitor.added(VIP).len(), 1, "bravo added it once");
    let failovers = &failover_mails(&smtp, None)[earlier..];
    assert_eq!(failovers, [mail], "one failover notice, from bravo");
}

#[test]
fn a_planned_shutdown_of_three_hands_over_to_the_next_in_line_only() {
    if !root_or_skip() {
        return;
    }
    a_planned_shutdown_of_three(150, 100);
}

#[test]
fn a_planned_shutdown_of_three_with_equal_backups_hands_over_to_the_smaller_name_only() {
    if !root_or_skip() {
        return;
    }
    a_planned_shutdown_of_three(150, 150);
}

#[test]
fn an_address_the_kernel_refuses_is_not_held_and_is_taken_once_its_interface_is_back() {
    if !root_or_skip() {
        return;
    }
    let bed = Bed::new();
    // The backup's address goes on an interface of its own, which the test can take away.
    let make_vip0 = || {
        bed.backup.ip("link add vip0 type veth peer name vip0-peer");
        bed.backup.ip("link set vip0 up");
    };
    make_vip0();
    let monitor = AddressMonitor::start(&bed.backup, &bed.dir().join("backup-addresses.log"));
    let smtp = Smtp::start(&bed.client, MAIL_SERVER, bed.dir());
    let mut config = bed.config(BACKUP, INTERVAL, Duration::from_secs(2));
    config.vip_interface = "vip0".into();
    let mut master = bed.start(
        Path::new(FAILOVERD),
        MASTER,
        &bed.config(MASTER, INTERVAL, Duration::from_secs(2)),
    );
    let backup = bed.start(Path::new(FAILOVERD), BACKUP, &config);
    wait_until(DEADLINE, "the master to hold the address", || {
        bed.holds(MASTER)
    });
    wait_report(&backup, "backup", Some(MASTER.name));

    bed.backup.ip("link del vip0");
    crash_master(&bed, &mut master);
    let mail = smtp.wait_for(DEADLINE, "backup: could not add 192.0.2.100/24 on vip0");
    assert!(mail.body.contains("NOT taken over"), "{}", mail.body);
    // (held by no one: not by the backup, and the master is gone)
    wait_report(&backup, "backup", None);
    assert_eq!(
        monitor.added(VIP),
        Vec::<String>::new(),
        "nothing was added"
    );

    // Tried again with a back-off that doubles from dead_after: after the sixth refusal the
    // next try waits the longest, 8 × dead_after (doubling on, it would be 32 ×).
    let dead_after = dead_after(100);
    let refusals = || backup.log().matches("cannot add the address").count();
    wait_until(DEADLINE * 2, "six refused attempts", || refusals() >= 6);
    make_vip0();
    wait_until(
        dead_after * 8 + Duration::from_secs(5),
        "the backup to add the address once vip0 is back",
        || bed.backup.has_address("vip0", &VIP.to_string()),
    );
    smtp.wait_for(DEADLINE, "backup: failover: took over");
    wait_report(&backup, "master", Some(BACKUP.name));
    let refused: Vec<Mail> = (smtp.messages().into_iter())
        .filter(|m| m.subject.contains("could not add"))
        .collect();
    assert_eq!(
        refused.len(),
        1,
        "a refusal repeated is not news: {refused:?}"
    );
}

#[test]
fn heartbeats_to_broadcast_addresses_reach_the_backup_on_both_paths() {
    if !root_or_skip() {
        return;
    }
    let bed = Bed::new();
    let pairs = "FAILOVER_PEER_IP_PAIRS=\"eth0:192.0.2.100\"\n";
    let master_text = format!("FAILOVER_BCAST_IPS=\"192.0.2.255 198.51.100.255\"\n{pairs}");
    let backup_text = format!("FAILOVER_PEER_IP=198.51.100.10\n{pairs}");
    let mut master = start_hostconfig(&bed, MASTER, &master_text, None);
    let backup = start_hostconfig(&bed, BACKUP, &backup_text, None);
    wait_reached(&bed.client, VIP, MASTER);
    // (its public path is learned: the master's first heartbeats there can only have come to
    // the LAN's broadcast address)
    eventually(
        DEADLINE,
        "the backup to hear the master on both paths",
        || {
            report(&backup).filter(|r| {
                r.vips[0].holder.as_deref() == Some(MASTER.name)
                    && r.peers.iter().any(|p| {
                        p.name == MASTER.name
                            && p.alive
                            && ["public", "direct"]
                                .iter()
                                .all(|path| p.last_heartbeat_ms[*path].is_some())
                    })
            })
        },
    );
    let log = master.log();
    assert!(
        !log.contains("cannot send heartbeats"),
        "the kernel takes datagrams to broadcast addresses:\n{log}"
    );

    crash_master(&bed, &mut master);
    wait_until(DEADLINE, "the backup to hold the address", || {
        bed.holds(BACKUP)
    });
    wait_reached(&bed.client, VIP, BACKUP);
}

#[test]
fn the_source_documents_pair_fails_over_the_masters_own_address_and_gives_it_back_in_order() {
    if !root_or_skip() {
        return;
    }
    let bed = Bed::new();
    let own = MASTER.lan;
    // The source document's files: the master names only where heartbeats go, so its own
    // public address (192.0.2.10 on eth0) is the one that fails over.
    let master_text = "HOSTNAME=-AUTOMATIC-\nFAILOVER_BCAST_IPS=\"192.0.2.11 198.51.100.11\"\n\
        FAILOVER_EMAIL_RECIPIENT=ops@example.com\n";
    let backup_text =
        "FAILOVER_PEER_IP=198.51.100.10\nFAILOVER_PEER_IP_PAIRS=\"eth0:192.0.2.10\"\n";
    let hooks_log = bed.dir().join("hooks.log");
    let hooks = |host: Host| {
        let etc = bed.dir().join(format!("etc-failover-{}", host.name));
        let kinds = ["PreAcq", "PostAcq", "PreRel", "PostRel"];
        logging_hooks(&etc.join(own.to_string()), &kinds, &hooks_log);
        etc
    };
    let (master_hooks, backup_hooks) = (hooks(MASTER), hooks(BACKUP));
    let start_master = || start_hostconfig(&bed, MASTER, master_text, Some(&master_hooks));
    let mut master = start_master();
    let check = bed
        .master
        .command(FAILOVERD)
        .args(["--check", "--hostconfig"])
        .arg(hostconfig_file(&bed, MASTER))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&check.stdout).into_owned()
        + &String::from_utf8_lossy(&check.stderr);
    assert!(check.status.success(), "--check: {said}");
    let backup = start_hostconfig(&bed, BACKUP, backup_text, Some(&backup_hooks));
    wait_report(&master, "master", Some(MASTER.name));
    wait_report(&backup, "backup", Some(MASTER.name));
    wait_reached(&bed.client, own, MASTER);

    crash_master(&bed, &mut master);
    // (a machine that is down answers for no address; its OS adds it again at boot)
    bed.master.ip(&format!("addr del {own}/24 dev eth0"));
    wait_until(DEADLINE, "the backup to hold the master's address", || {
        bed.backup.has_address("eth0", &own.to_string())
    });
    wait_reached(&bed.client, own, BACKUP);

    let (hooks_before, log_before) = (read(&hooks_log).len(), master.log().len());
    bed.master.ip(&format!("addr add {own}/24 dev eth0"));
    bed.set_lan(MASTER, true);
    bed.set_direct(true);
    master = start_master();
    wait_until(DEADLINE, "the backup to give the address back", || {
        !bed.backup.has_address("eth0", &own.to_string())
    });
    wait_report(&master, "master", Some(MASTER.name));
    wait_until(DEADLINE, "the master's PostAcq to have run", || {
        read(&hooks_log)[hooks_before..].contains("master PostAcq")
    });
    let hooks = read(&hooks_log);
    let after: Vec<&str> = hooks[hooks_before..].lines().collect();
    let at = |line: &str| {
        (after.iter().position(|l| l.starts_with(line)))
            .unwrap_or_else(|| panic!("no `{line}` hook ran after the restart: {after:?}"))
    };
    assert!(
        at("backup PostRel release") < at("master PreAcq acquire"),
        "the backup released before the master acquired: {after:?}"
    );
    wait_reached(&bed.client, own, MASTER);
    let restarted = &master.log()[log_before..];
    assert!(
        restarted.contains("this host's own address: kept")
            && !restarted.contains("left over from an earlier run"),
        "the master kept its own address at start:\n{restarted}"
    );
}
