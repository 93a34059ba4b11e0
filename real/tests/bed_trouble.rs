//! failoverd when its host misbehaves, in the namespace bed with the real SMTP server: the
//! mail server away across a restart of the daemon, a full or read-only state directory, the
//! kernel refusing to add an address and refusing to remove one, the address's interface
//! renamed under the daemon. Each is logged and mailed, and the protocol goes on. Needs root;
//! skips (or fails under `FAILOVER_REQUIRE_NETNS=1`) otherwise.

use failover_real::status::{query, Report};
use failover_testbed::{
    holds_for, root_or_skip, wait_until, Bed, Daemon, Host, NodeConfig, Smtp, BACKUP, MAIL_SERVER,
    MASTER, VIP,
};
use nix::sys::signal::Signal;
use std::ffi::OsString;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const FAILOVERD: &str = env!("CARGO_BIN_EXE_failoverd");
const INTERVAL: Duration = Duration::from_millis(100);
const DEADLINE: Duration = Duration::from_secs(15);

fn config(bed: &Bed, host: Host) -> NodeConfig {
    let mut config = bed.config(host, INTERVAL, Duration::from_secs(2));
    config.mail_retry_max = Some(Duration::from_secs(1));
    config
}

fn start(bed: &Bed, host: Host) -> Daemon {
    bed.start(Path::new(FAILOVERD), host, &config(bed, host))
}

/// Starts `host`'s daemon after `setup` ran in its own mount namespace (see
/// [`Daemon::start_after`]).
fn start_after(bed: &Bed, host: Host, setup: &str) -> Daemon {
    let file = config(bed, host).write(bed.dir());
    let args = [OsString::from("--config"), file.into_os_string()];
    Daemon::start_after(
        setup,
        Path::new(FAILOVERD),
        bed.ns(host),
        bed.dir(),
        host.name,
        &args,
    )
}

fn report(daemon: &Daemon) -> Option<Report> {
    serde_json::from_str(&query(&daemon.socket).ok()?).ok()
}

/// The backup settled, hearing the master on both paths.
fn settled(backup: &Daemon) {
    wait_until(
        DEADLINE,
        "the backup to hear the master on both paths",
        || {
            report(backup).is_some_and(|r| {
                r.vips[0].holder.as_deref() == Some(MASTER.name)
                    && r.peers[0].last_heartbeat_ms.values().all(Option::is_some)
            })
        },
    );
}

/// How many notifications the daemon has logged.
fn notified(daemon: &Daemon) -> usize {
    daemon.log().matches("notification: ").count()
}

/// Cuts the direct link and heals it, waiting each time for the backup's notice: two
/// messages, an anomaly and a recovery.
fn flap_direct(bed: &Bed, backup: &Daemon) {
    let before = notified(backup);
    bed.set_direct(false);
    wait_until(DEADLINE, "the backup's anomaly notice", || {
        notified(backup) > before
    });
    bed.set_direct(true);
    wait_until(DEADLINE, "the backup's recovery notice", || {
        notified(backup) > before + 1
    });
}

fn spooled(daemon: &Daemon) -> usize {
    std::fs::read_dir(daemon.state_dir.join("mail"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn mail_survives_a_server_away_and_a_restart_and_is_delivered_once_in_order() {
    if !root_or_skip() {
        return;
    }
    let bed = Bed::new();
    let _master = start(&bed, MASTER);
    let mut backup = start(&bed, BACKUP);
    wait_until(DEADLINE, "the master to hold the address", || {
        bed.holds(MASTER)
    });
    settled(&backup);
    // No mail server: four notices, each spooled before its first attempt.
    flap_direct(&bed, &backup);
    flap_direct(&bed, &backup);
    wait_until(DEADLINE, "four spooled messages", || spooled(&backup) == 4);
    wait_until(DEADLINE, "retries at the capped back-off", || {
        backup
            .log()
            .matches("mail not delivered, will retry")
            .count()
            >= 5
    });
    // The daemon restarts meanwhile; one more notice after the restart.
    backup.signal(Signal::SIGTERM);
    let status = backup.process().wait_exit(DEADLINE);
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    assert_eq!(spooled(&backup), 4, "what was not delivered stays spooled");
    backup = start(&bed, BACKUP);
    settled(&backup);
    assert!(backup
        .log()
        .contains("mail left by an earlier run goes out first"));
    flap_direct(&bed, &backup);
    wait_until(DEADLINE, "six spooled messages", || spooled(&backup) == 6);
    // The server returns: every message once, in the order they happened.
    let smtp = Smtp::start(&bed.client, MAIL_SERVER, bed.dir());
    wait_until(DEADLINE, "the spool to empty", || spooled(&backup) == 0);
    let from_backup: Vec<String> = smtp
        .messages()
        .into_iter()
        .filter(|m| m.subject.starts_with("[failover] backup: "))
        .map(|m| m.subject)
        .collect();
    let anomaly = "[failover] backup: network anomaly: master silent on direct";
    let recovered = "[failover] backup: network recovered: master on direct";
    assert_eq!(
        from_backup,
        [anomaly, recovered].repeat(3),
        "once each, in order"
    );
}

/// Checks for all of `period` that the backup stays a backup hearing the master.
fn never_takes_over(bed: &Bed, backup: &Daemon, period: Duration) {
    holds_for(
        period,
        "the backup staying a backup that hears the master",
        || {
            !bed.holds(BACKUP)
                && report(backup)
                    .is_some_and(|r| r.role.to_string() == "backup" && r.peers[0].alive)
        },
    );
}

#[test]
fn a_full_state_directory_is_logged_and_mailed_and_heartbeats_go_on() {
    if !root_or_skip() {
        return;
    }
    let bed = Bed::new();
    let smtp = Smtp::start(&bed.client, MAIL_SERVER, bed.dir());
    let _master = start(&bed, MASTER);
    // The backup's state directory: a 256 KiB tmpfs of its own, filled to the last byte.
    let full = "mkdir -p \"$STATE\"; mount -t tmpfs -o size=256k tmpfs \"$STATE\"\n\
                dd if=/dev/zero of=\"$STATE/filler\" bs=4k 2>/dev/null || true";
    let backup = start_after(&bed, BACKUP, full);
    wait_until(DEADLINE, "the master to hold the address", || {
        bed.holds(MASTER)
    });
    settled(&backup);
    let mail = smtp.wait_for(DEADLINE, "backup: state directory cannot be written");
    assert!(
        mail.body.contains("No space left on device"),
        "{}",
        mail.body
    );
    // A notice while the disk is full: the spool cannot take it, the server still gets it.
    flap_direct(&bed, &backup);
    smtp.wait_for(DEADLINE, "backup: network recovered: master on direct");
    smtp.wait_for(DEADLINE, "backup: mail spool cannot be written");
    let log = backup.log();
    assert!(log.contains("mail spool: cannot write"), "{log}");
    never_takes_over(&bed, &backup, Duration::from_secs(2));
    // Space again (in the daemon's own mount namespace): the spool works anew.
    let freed = Command::new("nsenter")
        .arg(format!("--mount=/proc/{}/ns/mnt", backup.pid()))
        .args(["rm", "-f"])
        .arg(backup.state_dir.join("filler"))
        .status()
        .expect("nsenter");
    assert!(freed.success());
    flap_direct(&bed, &backup);
    wait_until(DEADLINE, "the spool to work again", || {
        backup.log().contains("mail spool writable again")
    });
    never_takes_over(&bed, &backup, Duration::from_secs(1));
}

#[test]
fn a_read_only_state_directory_is_logged_and_mailed_and_the_node_still_takes_over() {
    if !root_or_skip() {
        return;
    }
    let bed = Bed::new();
    let smtp = Smtp::start(&bed.client, MAIL_SERVER, bed.dir());
    let read_only = "mkdir -p \"$STATE\"; mount --bind \"$STATE\" \"$STATE\"\n\
                     mount -o remount,bind,ro \"$STATE\"";
    let master = start_after(&bed, MASTER, read_only);
    wait_until(DEADLINE, "the master to hold the address", || {
        bed.holds(MASTER)
    });
    let mail = smtp.wait_for(DEADLINE, "master: state directory cannot be written");
    assert!(mail.body.contains("Read-only file system"), "{}", mail.body);
    // Its failover notice is delivered from memory.
    smtp.wait_for(DEADLINE, "master: failover: took over");
    assert!(report(&master).is_some_and(|r| r.role.to_string() == "master"));
}

#[test]
fn an_address_the_kernel_refuses_is_logged_mailed_and_retried_while_the_protocol_goes_on() {
    if !root_or_skip() {
        return;
    }
    let bed = Bed::new();
    let smtp = Smtp::start(&bed.client, MAIL_SERVER, bed.dir());
    let mut master = start(&bed, MASTER);
    // The backup runs without CAP_NET_ADMIN (a unit file that forgot it): netlink says EPERM.
    let no_admin = "exec setpriv --inh-caps=-net_admin --bounding-set=-net_admin -- \"$@\"";
    let backup = start_after(&bed, BACKUP, no_admin);
    wait_until(DEADLINE, "the master to hold the address", || {
        bed.holds(MASTER)
    });
    settled(&backup);
    master.signal(Signal::SIGKILL);
    bed.set_lan(MASTER, false);
    bed.set_direct(false);
    let mail = smtp.wait_for(DEADLINE, "backup: could not add 192.0.2.100/24 on eth0");
    assert!(
        mail.body.contains("Operation not permitted"),
        "{}",
        mail.body
    );
    wait_until(DEADLINE * 2, "a second refused attempt", || {
        backup.log().matches("cannot add the address").count() >= 2
    });
    assert!(!bed.holds(BACKUP));
    let r = report(&backup).expect("the backup still answers");
    assert_eq!(
        r.vips[0].holder, None,
        "not held by a node that could not add it"
    );
}

#[test]
fn an_interface_renamed_under_the_owner_does_not_keep_it_from_releasing_even_with_its_name_reused()
{
    if !root_or_skip() {
        return;
    }
    let bed = Bed::new();
    bed.master.ip("link add vip0 type veth peer name vip0-peer");
    bed.master.ip("link set vip0 up");
    let mut config = config(&bed, MASTER);
    config.vip_interface = "vip0".into();
    let mut master = bed.start(Path::new(FAILOVERD), MASTER, &config);
    let _backup = start(&bed, BACKUP);
    wait_until(DEADLINE, "the master to hold the address on vip0", || {
        bed.master.has_address("vip0", &VIP.to_string())
    });
    // Renamed (it must be down for that); the address goes with it. Another interface is
    // then made with the old name: the address is not on it, but the host still has it.
    bed.master.ip("link set vip0 down");
    bed.master.ip("link set vip0 name renamed0");
    bed.master.ip("link set renamed0 up");
    assert!(bed.master.has_address("renamed0", &VIP.to_string()));
    bed.master
        .ip("link add vip0 type veth peer name vip0-peer2");
    bed.master.ip("link set vip0 up");
    // A planned stop releases the address where it now is, and the backup takes over.
    master.signal(Signal::SIGTERM);
    let status = master.process().wait_exit(DEADLINE);
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}\n{}",
        master.log()
    );
    assert!(
        !bed.master.has_address("renamed0", &VIP.to_string()),
        "released"
    );
    assert!(
        master.log().contains("(renamed?) and removed there"),
        "{}",
        master.log()
    );
    wait_until(DEADLINE, "the backup to hold the address", || {
        bed.holds(BACKUP)
    });
}

#[test]
fn an_address_the_kernel_will_not_remove_is_logged_mailed_kept_claimed_and_released_once_gone() {
    if !root_or_skip() {
        return;
    }
    let bed = Bed::new();
    let smtp = Smtp::start(&bed.client, MAIL_SERVER, bed.dir());
    // The address is the master's own (`primary`: its system adds it at boot), and its daemon
    // runs without CAP_NET_ADMIN: it owns the address the system gave it, but the kernel
    // refuses it the removal (EPERM), the one refusal of an address removal the kernel makes.
    bed.master.ip(&format!("addr add {VIP}/24 dev eth0"));
    let own = config(&bed, MASTER).to_toml().replace(
        "interface = \"eth0\"",
        "interface = \"eth0\"\nprimary = true",
    );
    let file = bed.dir().join("master-own.toml");
    std::fs::write(&file, own).unwrap();
    let no_admin = "exec setpriv --inh-caps=-net_admin --bounding-set=-net_admin -- \"$@\"";
    let args = [OsString::from("--config"), file.into_os_string()];
    let (bin, ns) = (Path::new(FAILOVERD), bed.ns(MASTER));
    let mut master = Daemon::start_after(no_admin, bin, ns, bed.dir(), MASTER.name, &args);
    let backup = start(&bed, BACKUP);
    wait_until(DEADLINE, "the master to own its address", || {
        report(&master).is_some_and(|r| r.role.to_string() == "master")
    });
    settled(&backup);

    // A planned stop: the removal is refused, logged as an error and mailed; the master keeps
    // the address and keeps claiming it, so the backup does not take it over meanwhile.
    master.signal(Signal::SIGTERM);
    let mail = smtp.wait_for(DEADLINE, "master: could not remove 192.0.2.100/24 on eth0");
    assert!(
        mail.body.contains("Operation not permitted") && mail.body.contains("STILL ON THIS HOST"),
        "{}",
        mail.body
    );
    let log = master.log();
    assert!(
        (log.lines()).any(|l| l.contains("ERROR") && l.contains("cannot remove the address")),
        "logged as an error: {log}"
    );
    wait_until(DEADLINE, "a second refused attempt", || {
        master.log().matches("cannot remove the address").count() >= 2
    });
    holds_for(
        Duration::from_secs(1),
        "the master keeping and claiming the address, the backup waiting",
        || {
            bed.holds(MASTER)
                && !bed.holds(BACKUP)
                && report(&master).is_some_and(|r| r.role.to_string() == "releasing")
        },
    );
    assert!(
        master.process().is_running(),
        "a shutdown waits for the address to be gone"
    );

    // The operator removes it by hand: the master's next try finds it gone, says goodbye
    // naming the backup, and stops; the backup takes the address over.
    bed.master.ip(&format!("addr del {VIP}/24 dev eth0"));
    let status = master.process().wait_exit(DEADLINE * 2);
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}\n{}",
        master.log()
    );
    wait_until(DEADLINE, "the backup to hold the address", || {
        bed.holds(BACKUP)
    });
    smtp.wait_for(DEADLINE, "backup: failover: took over");
    let refused = (smtp.messages().into_iter())
        .filter(|m| m.subject.contains("could not remove"))
        .count();
    assert_eq!(refused, 1, "a refusal repeated is not news");
}
