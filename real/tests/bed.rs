//! failoverd for real: the built binaries in network namespaces (master, backup and client on a
//! LAN, plus the direct link), a real SMTP server, and a client that must reach the address.
//! Needs root; skips (or fails under `FAILOVER_REQUIRE_NETNS=1`) otherwise.

use failover_real::status::{query, Report};
use failover_testbed::{
    eventually, holds_for, request, root_or_skip, wait_until, Bed, Daemon, Host, Smtp, BACKUP,
    MAIL_SERVER, MASTER, VIP,
};
use nix::sys::signal::Signal;
use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

const FAILOVERD: &str = env!("CARGO_BIN_EXE_failoverd");
const INTERVAL: Duration = Duration::from_millis(100);
const HOOK_TIMEOUT: Duration = Duration::from_secs(2);
/// Generous: CI machines are loaded, and nothing here asserts speed.
const DEADLINE: Duration = Duration::from_secs(15);

struct Running {
    // Field order is drop order: daemons and mail server before the bed's namespaces.
    master: Daemon,
    backup: Daemon,
    smtp: Smtp,
    bed: Bed,
}

/// The bed with both daemons started and the master holding the address.
fn two_nodes(prepare: impl FnOnce(&Bed)) -> Running {
    let bed = Bed::new();
    prepare(&bed);
    let smtp = Smtp::start(&bed.client, MAIL_SERVER, bed.dir());
    let master = start(&bed, MASTER);
    let backup = start(&bed, BACKUP);
    wait_until(DEADLINE, "the master to hold the address", || {
        bed.holds(MASTER)
    });
    Running {
        master,
        backup,
        smtp,
        bed,
    }
}

fn start(bed: &Bed, host: Host) -> Daemon {
    bed.start(
        Path::new(FAILOVERD),
        host,
        &bed.config(host, INTERVAL, HOOK_TIMEOUT),
    )
}

fn report(daemon: &Daemon) -> Option<Report> {
    let line = query(&daemon.socket).ok()?;
    serde_json::from_str(&line).ok()
}

/// Who answers a client's request to the virtual address.
fn reached(bed: &Bed) -> Option<String> {
    request(&bed.client, Bed::service(), Duration::from_millis(300))
}

fn wait_reached(bed: &Bed, host: Host) {
    wait_until(
        DEADLINE,
        &format!("the client to reach {} at {VIP}", host.name),
        || reached(bed).as_deref() == Some(host.name),
    );
}

/// A crash: the process dies at once and the machine drops off both networks.
fn crash_master(r: &mut Running) {
    r.master.signal(Signal::SIGKILL);
    r.bed.set_lan(MASTER, false);
    r.bed.set_direct(false);
}

fn hook(bed: &Bed, host: Host, name: &str, body: &str) -> PathBuf {
    let path = bed.hook_dir(host).join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn the_address_comes_up_on_the_master_and_the_client_reaches_it() {
    if !root_or_skip() {
        return;
    }
    let r = two_nodes(|_| {});
    wait_reached(&r.bed, MASTER);
    assert!(!r.bed.holds(BACKUP));
    let ping = r
        .bed
        .client
        .command("ping")
        .args(["-c", "1", "-W", "5", &VIP.to_string()])
        .output()
        .expect("ping (iputils-ping)");
    assert!(
        ping.status.success(),
        "{}",
        String::from_utf8_lossy(&ping.stdout)
    );
    // (its role turns master when the PostAcq hooks are done, a moment after the address)
    let master = eventually(DEADLINE, "the master's report saying master", || {
        report(&r.master).filter(|m| m.role.to_string() == "master")
    });
    assert_eq!(master.vips[0].holder.as_deref(), Some("master"));
    // (the master's heartbeat saying it is master may trail its address by a moment)
    let backup = eventually(DEADLINE, "the backup to see the master holding it", || {
        report(&r.backup).filter(|b| b.vips[0].holder.as_deref() == Some("master"))
    });
    assert_eq!(backup.role.to_string(), "backup");
    assert!(backup.peers.iter().any(|p| p.name == "master" && p.alive));
    let heard = &backup.peers[0].last_heartbeat_ms;
    assert!(
        heard["public"].is_some() && heard["direct"].is_some(),
        "heartbeats on both paths: {heard:?}"
    );
}

#[test]
fn master_killed_the_backup_takes_over_and_a_restarted_master_gets_it_back_in_order() {
    if !root_or_skip() {
        return;
    }
    let order = |bed: &Bed| bed.dir().join("hooks.log");
    let mut r = two_nodes(|bed| {
        for host in [MASTER, BACKUP] {
            for kind in ["PreAcq", "PostAcq", "PreRel", "PostRel"] {
                let log = order(bed).display().to_string();
                hook(
                    bed,
                    host,
                    kind,
                    &format!("echo \"$FAILOVER_NODE $FAILOVER_HOOK $FAILOVER_EVENT $FAILOVER_ADDRESS\" >> {log}"),
                );
            }
        }
    });
    wait_reached(&r.bed, MASTER);

    crash_master(&mut r);
    wait_until(DEADLINE, "the backup to hold the address", || {
        r.bed.holds(BACKUP)
    });
    wait_reached(&r.bed, BACKUP);
    let backup_mac = r.bed.backup.mac("eth0");
    assert_eq!(
        r.bed.client.neighbour(&VIP.to_string()),
        Some(backup_mac),
        "gratuitous ARP pointed the client at the backup"
    );
    let mail = r.smtp.wait_for(DEADLINE, "backup: failover: took over");
    assert_eq!(mail.to, "ops@example.com");
    assert!(mail.body.contains("Came from: master"), "{}", mail.body);

    // The machine comes back (with the address it had when it died still configured), and
    // failoverd starts again.
    let hooks_before = std::fs::read_to_string(order(&r.bed)).unwrap();
    r.bed.set_lan(MASTER, true);
    r.bed.set_direct(true);
    r.master = start(&r.bed, MASTER);
    wait_reached(&r.bed, MASTER);
    wait_until(DEADLINE, "the backup to drop the address", || {
        !r.bed.holds(BACKUP)
    });
    assert!(
        r.master.log().contains("left over from an earlier run"),
        "the leftover address was reconciled at start:\n{}",
        r.master.log()
    );
    let all = std::fs::read_to_string(order(&r.bed)).unwrap();
    let after: Vec<&str> = all[hooks_before.len()..].lines().collect();
    let at = |line: &str| {
        after
            .iter()
            .position(|l| l.starts_with(line))
            .unwrap_or_else(|| panic!("no `{line}` hook ran after the restart: {after:?}"))
    };
    assert!(
        at("backup PostRel release") < at("master PreAcq acquire"),
        "the backup released before the master acquired: {after:?}"
    );
    r.smtp.wait_for(
        DEADLINE,
        "backup: release: gave the addresses back to master",
    );
}

#[test]
fn only_the_direct_link_cut_is_an_anomaly_and_no_takeover() {
    if !root_or_skip() {
        return;
    }
    let r = two_nodes(|_| {});
    r.bed.set_direct(false);
    let mail = r
        .smtp
        .wait_for(DEADLINE, "network anomaly: master silent on direct");
    assert!(mail.body.contains("no takeover"), "{}", mail.body);
    holds_for(
        Duration::from_secs(2),
        "the master keeping the address alone",
        || r.bed.holds(MASTER) && !r.bed.holds(BACKUP),
    );
    wait_reached(&r.bed, MASTER);
    r.bed.set_direct(true);
    r.smtp
        .wait_for(DEADLINE, "network recovered: master on direct");
    assert!(!r
        .smtp
        .messages()
        .iter()
        .any(|m| m.subject.contains("backup: failover")));
}

#[test]
fn both_links_cut_means_takeover() {
    if !root_or_skip() {
        return;
    }
    let r = two_nodes(|_| {});
    r.bed.set_direct(false);
    r.bed.set_lan(MASTER, false);
    wait_until(DEADLINE, "the backup to hold the address", || {
        r.bed.holds(BACKUP)
    });
    wait_reached(&r.bed, BACKUP);
    r.smtp.wait_for(DEADLINE, "backup: failover: took over");
}

#[test]
fn sigterm_on_the_master_is_a_planned_switchover() {
    if !root_or_skip() {
        return;
    }
    let mut r = two_nodes(|_| {});
    wait_reached(&r.bed, MASTER);
    r.master.signal(Signal::SIGTERM);
    let status = r.master.process().wait_exit(DEADLINE);
    assert!(
        status.is_some_and(|s| s.success()),
        "failoverd exits 0 after handing over: {status:?}\n{}",
        r.master.log()
    );
    assert!(!r.bed.holds(MASTER), "released before exiting");
    wait_until(DEADLINE, "the backup to hold the address", || {
        r.bed.holds(BACKUP)
    });
    wait_reached(&r.bed, BACKUP);
    r.smtp.wait_for(
        DEADLINE,
        "master: release: gave the addresses back to no one",
    );
    r.smtp.wait_for(DEADLINE, "backup: failover: took over");
    assert!(!r.master.socket.exists(), "the status socket is removed");
}

#[test]
fn a_vetoing_test_hook_keeps_the_backup_from_taking_over() {
    if !root_or_skip() {
        return;
    }
    let mut r = two_nodes(|bed| {
        hook(bed, BACKUP, "Test", "echo 'not ready to serve'; exit 1");
    });
    crash_master(&mut r);
    let mail = r.smtp.wait_for(
        DEADLINE,
        "backup: failover: master is down; Test hook vetoed",
    );
    assert!(mail.body.contains("NOT taken over"), "{}", mail.body);
    holds_for(
        Duration::from_secs(1),
        "the backup not holding the address",
        || !r.bed.holds(BACKUP),
    );
    let log = r.backup.log();
    assert!(
        log.contains("not ready to serve"),
        "hook output is logged:\n{log}"
    );
    let backup = report(&r.backup).expect("the backup still answers");
    assert_eq!(backup.role.to_string(), "backup");
}

#[test]
fn a_hung_hook_is_killed_and_the_takeover_goes_on() {
    if !root_or_skip() {
        return;
    }
    let pids = |bed: &Bed| bed.dir().join("hung.pids");
    let mut r = two_nodes(|bed| {
        let file = pids(bed).display().to_string();
        hook(
            bed,
            BACKUP,
            "PreAcq-hang",
            &format!("sleep 600 & echo \"$$ $!\" > {file}; wait"),
        );
    });
    crash_master(&mut r);
    let mail = r
        .smtp
        .wait_for(DEADLINE, "backup: hook PreAcq failed (hung");
    assert!(mail.body.contains("went on"), "{}", mail.body);
    wait_until(DEADLINE, "the backup to hold the address", || {
        r.bed.holds(BACKUP)
    });
    wait_reached(&r.bed, BACKUP);
    assert!(r.backup.log().contains("hook hung and was killed"));
    let text = std::fs::read_to_string(pids(&r.bed)).unwrap();
    for pid in text.split_whitespace() {
        wait_until(DEADLINE, &format!("hook process {pid} to be gone"), || {
            !Path::new(&format!("/proc/{pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|s| s.contains(") Z "))
        });
    }
}

#[test]
fn a_hostconfig_pair_works_as_in_the_source_document() {
    if !root_or_skip() {
        return;
    }
    let bed = Bed::new();
    // The source document's keys, with its typographic quotes. Paths bind no address of their
    // own: both share one socket on port 1694, and the backup learns the master's LAN address.
    let master = "HOSTNAME=-AUTOMATIC-\nFAILOVER_BCAST_IPS=”192.0.2.11 198.51.100.11”\n\
        FAILOVER_PEER_IP_PAIRS=“eth0:192.0.2.100”\nFAILOVER_EMAIL_RECIPIENT=ops@example.com\n";
    let backup = "FAILOVER_PEER_IP=198.51.100.10\nFAILOVER_PEER_IP_PAIRS=\"eth0:192.0.2.100\"\n";
    let mut daemons = Vec::new();
    for (host, text) in [(MASTER, master), (BACKUP, backup)] {
        let file = bed.dir().join(format!("{}.hostconfig", host.name));
        std::fs::write(&file, text).unwrap();
        let args = [OsString::from("--hostconfig"), file.into_os_string()];
        let dir = bed.dir().join(host.name);
        std::fs::create_dir_all(&dir).unwrap();
        daemons.push(Daemon::start(
            Path::new(FAILOVERD),
            bed.ns(host),
            &dir,
            host.name,
            &args,
        ));
    }
    wait_reached(&bed, MASTER);
    let backup_report = eventually(
        DEADLINE,
        "the backup to hear the master on both paths",
        || {
            // (the master's heartbeat saying it is master may trail its address by a moment)
            report(&daemons[1]).filter(|b| {
                b.vips[0].holder.as_deref() == Some("master")
                    && b.peers
                        .iter()
                        .any(|p| p.alive && p.last_heartbeat_ms.values().all(Option::is_some))
            })
        },
    );
    assert_eq!(backup_report.role.to_string(), "backup");
    assert!(!bed.holds(BACKUP));
}
