//! IPv6 in the namespace bed: a group whose heartbeats and address are IPv6 only, and a mixed
//! group (one path of each family, one address of each). Addresses come from 2001:db8::/32
//! only (the bed's twins of its IPv4 networks, see `failover_testbed::twin`). Needs root;
//! skips (or fails under `FAILOVER_REQUIRE_NETNS=1`) otherwise.
//!
//! What a client relies on is that its neighbour entry for the address follows the owner at
//! once. The client's neighbour timers are stretched here (no probe for ten minutes, entries
//! reachable as long), and it sends nothing between the moment an owner is lost and the check:
//! so when its entry has moved to the new owner's MAC, nothing but the new owner's unsolicited
//! advertisement can have moved it — not a timeout, not a probe (and the client's count of
//! solicitations sent is checked to be unchanged).

use failover_core::config::VipSettings;
use failover_real::status::{query, Report};
use failover_real::vip::{Addresses, Change};
use failover_testbed::{
    eventually, request, root_or_skip, wait_until, Bed, Daemon, Host, NodeConfig, Smtp, BACKUP,
    MAIL_SERVER, MASTER, VIP, VIP6,
};
use nix::sys::signal::Signal;
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

const FAILOVERD: &str = env!("CARGO_BIN_EXE_failoverd");
const INTERVAL: Duration = Duration::from_millis(100);
const HOOK_TIMEOUT: Duration = Duration::from_secs(2);
/// Generous: CI machines are loaded, and nothing here asserts speed.
const DEADLINE: Duration = Duration::from_secs(15);

/// `host`'s configuration in `bed`: its paths turned to IPv6 where `ipv6` says so (in the
/// order public, direct), holding `vips`.
fn config(bed: &Bed, host: Host, ipv6: [bool; 2], vips: &[IpAddr]) -> NodeConfig {
    let mut config = bed.config(host, INTERVAL, HOOK_TIMEOUT);
    for (path, v6) in config.paths.iter_mut().zip(ipv6) {
        if v6 {
            path.to_ipv6();
        }
    }
    config.vips = vips.to_vec();
    config
}

fn report(daemon: &Daemon) -> Option<Report> {
    serde_json::from_str(&query(&daemon.socket).ok()?).ok()
}

/// Waits until the backup's report shows the master holding every address and heard on both
/// paths: the heartbeats of either family arrive.
fn wait_heard_on_both_paths(backup: &Daemon, addresses: usize) {
    eventually(
        DEADLINE,
        "the backup to hear the master, holding every address, on both paths",
        || {
            report(backup).filter(|r| {
                r.vips.len() == addresses
                    && r.vips.iter().all(|v| v.holder.as_deref() == Some("master"))
                    && r.peers.iter().any(|p| {
                        p.name == "master"
                            && p.alive
                            && ["public", "direct"]
                                .iter()
                                .all(|path| p.last_heartbeat_ms[*path].is_some())
                    })
            })
        },
    );
}

/// Waits until a request from the client to `address` is answered by `host`.
fn wait_reached(bed: &Bed, address: IpAddr, host: Host) {
    wait_until(
        DEADLINE,
        &format!("the client to reach {} at {address}", host.name),
        || {
            request(
                &bed.client,
                Bed::service_at(address),
                Duration::from_millis(300),
            )
            .as_deref()
                == Some(host.name)
        },
    );
}

/// Stretches the client's neighbour timers on eth0, both families: an entry stays reachable
/// for ten minutes once confirmed and is not probed for ten minutes once stale. Within a test,
/// an entry then changes its MAC only when a neighbour announces one.
fn stretch_neighbour_timers(bed: &Bed) {
    for family in ["ipv4", "ipv6"] {
        let key = |name: &str| format!("net/{family}/neigh/eth0/{name}");
        bed.client.sysctl(&key("base_reachable_time_ms"), "600000");
        bed.client.sysctl(&key("delay_first_probe_time"), "600");
    }
}

/// What the client's kernel has sent to resolve neighbours so far: IPv6 solicitations.
fn solicitations(bed: &Bed) -> u64 {
    bed.client.snmp6("Icmp6OutNeighborSolicits")
}

/// Waits until the client's neighbour entry for `address` holds `host`'s MAC — the client
/// sending nothing meanwhile — and checks that no solicitation of its own (counted from
/// `solicited_before`) can have done it: the owner's advertisement did. An IPv6 entry an
/// unsolicited advertisement updated is STALE (a solicited answer would leave it REACHABLE).
fn wait_entry_moves_unasked(bed: &Bed, address: IpAddr, host: Host, solicited_before: u64) {
    let mac = bed.ns(host).mac("eth0");
    let entry = eventually(
        DEADLINE,
        &format!(
            "the client's neighbour entry for {address} to point at {} ({mac})",
            host.name
        ),
        || {
            bed.client
                .neighbour_entry(&address.to_string())
                .filter(|(at, _)| *at == mac)
        },
    );
    assert_eq!(
        solicitations(bed),
        solicited_before,
        "the client asked for no neighbour while its entry for {address} moved"
    );
    if address.is_ipv6() {
        assert_eq!(
            entry.1, "STALE",
            "updated by an unsolicited advertisement: {entry:?}"
        );
    }
}

fn logging_hooks(bed: &Bed, host: Host, address: IpAddr, log: &Path) {
    for kind in ["PreAcq", "PostAcq", "PreRel", "PostRel"] {
        let path = bed.hook_dir_of(host, address).join(kind);
        let line =
            "$FAILOVER_NODE $FAILOVER_HOOK $FAILOVER_EVENT $FAILOVER_ADDRESS/$FAILOVER_PREFIX";
        let body = format!("#!/bin/sh\necho \"{line}\" >> {}\n", log.display());
        std::fs::write(&path, body).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

#[test]
fn an_ipv6_group_fails_over_the_clients_neighbour_entry_follows_and_the_master_gets_it_back_in_order(
) {
    if !root_or_skip() {
        return;
    }
    let bed = Bed::new();
    stretch_neighbour_timers(&bed);
    let hooks_log = bed.dir().join("hooks.log");
    for host in [MASTER, BACKUP] {
        logging_hooks(&bed, host, VIP6.into(), &hooks_log);
    }
    let smtp = Smtp::start(&bed.client, MAIL_SERVER, bed.dir());
    let vip: IpAddr = VIP6.into();
    let start = |host| {
        bed.start(
            Path::new(FAILOVERD),
            host,
            &config(&bed, host, [true; 2], &[vip]),
        )
    };
    let mut master = start(MASTER);
    let backup = start(BACKUP);
    wait_until(DEADLINE, "the master to hold the address", || {
        bed.holds_address(MASTER, vip)
    });
    wait_heard_on_both_paths(&backup, 1);
    wait_reached(&bed, vip, MASTER);
    assert_eq!(
        bed.client.neighbour(&vip.to_string()),
        Some(bed.master.mac("eth0"))
    );
    assert!(!bed.holds_address(BACKUP, vip));
    assert!(
        !bed.holds(MASTER) && !bed.holds(BACKUP),
        "no IPv4 address in an IPv6 group"
    );

    // The backup's interface as a production host has it: with duplicate address detection.
    bed.backup.sysctl("net/ipv6/conf/eth0/accept_dad", "1");

    // The master crashes: its daemon killed, its machine off both networks.
    let solicited = solicitations(&bed);
    master.signal(Signal::SIGKILL);
    bed.set_lan(MASTER, false);
    bed.set_direct(false);
    wait_until(DEADLINE, "the backup to hold the address", || {
        bed.holds_address(BACKUP, vip)
    });
    let added = bed.backup.ip("-o -6 addr show dev eth0");
    let line = added.lines().find(|l| l.contains("2001:db8:0:1::100/64"));
    assert!(
        line.is_some_and(|l| l.contains("nodad") && !l.contains("tentative")),
        "added without duplicate address detection, usable at once: {added}"
    );
    wait_entry_moves_unasked(&bed, vip, BACKUP, solicited);
    wait_reached(&bed, vip, BACKUP);
    let mail = smtp.wait_for(DEADLINE, "backup: failover: took over");
    assert!(
        mail.body.contains("Acquired:") && mail.body.contains("2001:db8:0:1::100/64 on eth0"),
        "{}",
        mail.body
    );

    // The machine comes back, with the address it had when it died, and failoverd starts again.
    let hooks_before = std::fs::read_to_string(&hooks_log).unwrap().len();
    bed.set_lan(MASTER, true);
    bed.set_direct(true);
    let solicited = solicitations(&bed);
    master = start(MASTER);
    wait_until(DEADLINE, "the backup to give the address back", || {
        !bed.holds_address(BACKUP, vip) && bed.holds_address(MASTER, vip)
    });
    wait_entry_moves_unasked(&bed, vip, MASTER, solicited);
    wait_reached(&bed, vip, MASTER);
    wait_until(DEADLINE, "the master's PostAcq to have run", || {
        std::fs::read_to_string(&hooks_log).unwrap()[hooks_before..].contains("master PostAcq")
    });
    let hooks = std::fs::read_to_string(&hooks_log).unwrap();
    let after: Vec<&str> = hooks[hooks_before..].lines().collect();
    let at = |line: &str| {
        (after.iter().position(|l| l.starts_with(line)))
            .unwrap_or_else(|| panic!("no `{line}` hook ran after the restart: {after:?}"))
    };
    assert!(
        at("backup PostRel release") < at("master PreAcq acquire"),
        "the backup released before the master acquired: {after:?}"
    );
    assert!(
        after.contains(&"master PostAcq acquire 2001:db8:0:1::100/64"),
        "hooks are told the IPv6 address and its prefix: {after:?}"
    );
    assert!(
        master.log().contains("left over from an earlier run"),
        "the address the crash left was removed at start:\n{}",
        master.log()
    );
}

#[test]
fn a_mixed_group_moves_an_ipv4_and_an_ipv6_address_together_and_back() {
    if !root_or_skip() {
        return;
    }
    let bed = Bed::new();
    stretch_neighbour_timers(&bed);
    // Heartbeats over IPv6 on the LAN and over IPv4 on the direct link; both families move.
    let vips: [IpAddr; 2] = [VIP6.into(), VIP.into()];
    let start = |host| {
        bed.start(
            Path::new(FAILOVERD),
            host,
            &config(&bed, host, [true, false], &vips),
        )
    };
    let _master = start(MASTER);
    let backup = start(BACKUP);
    wait_until(DEADLINE, "the master to hold both addresses", || {
        vips.iter().all(|&vip| bed.holds_address(MASTER, vip))
    });
    wait_heard_on_both_paths(&backup, 2);
    for vip in vips {
        wait_reached(&bed, vip, MASTER);
    }

    // Both links of the master cut, its daemon alive: the backup takes both addresses.
    let solicited = solicitations(&bed);
    bed.set_lan(MASTER, false);
    bed.set_direct(false);
    wait_until(DEADLINE, "the backup to hold both addresses", || {
        vips.iter().all(|&vip| bed.holds_address(BACKUP, vip))
    });
    for vip in vips {
        wait_entry_moves_unasked(&bed, vip, BACKUP, solicited);
    }
    for vip in vips {
        wait_reached(&bed, vip, BACKUP);
    }

    // Healed: the backup yields to the better owner, which announces both addresses again.
    let solicited = solicitations(&bed);
    bed.set_lan(MASTER, true);
    bed.set_direct(true);
    wait_until(DEADLINE, "the backup to give both addresses up", || {
        vips.iter().all(|&vip| !bed.holds_address(BACKUP, vip))
    });
    assert!(
        vips.iter().all(|&vip| bed.holds_address(MASTER, vip)),
        "the master kept both"
    );
    for vip in vips {
        wait_entry_moves_unasked(&bed, vip, MASTER, solicited);
    }
    for vip in vips {
        wait_reached(&bed, vip, MASTER);
    }
    wait_heard_on_both_paths(&backup, 2);
}

/// Quorum mode's lease is the kernel's address lifetime: for an IPv6 address too, added
/// without duplicate address detection, renewed, removed by the kernel when it runs out and
/// added again by a renewal after that.
#[test]
fn an_ipv6_address_takes_a_lifetime_that_is_renewed_and_enforced_by_the_kernel() {
    if !root_or_skip() {
        return;
    }
    let ns = failover_testbed::Netns::new("l");
    let vip = VipSettings {
        address: VIP6.into(),
        prefix: None,
        interface: "lo".into(),
        primary: false,
    };
    let line = || {
        let all = ns.ip("-o -6 addr show dev lo");
        all.lines()
            .find(|l| l.contains("2001:db8:0:1::100/64"))
            .map(str::to_string)
    };
    let valid_secs = |line: &str| -> u32 {
        let words: Vec<&str> = line.split_whitespace().collect();
        let at = words
            .iter()
            .position(|&w| w == "valid_lft")
            .expect("valid_lft");
        words[at + 1]
            .trim_end_matches("sec")
            .parse()
            .expect("seconds")
    };
    ns.run(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let addresses = Addresses::connect().unwrap();
            assert_eq!(addresses.add(&vip, Some(30)).await.unwrap(), Change::Done);
            let added = line().expect("the address is there");
            assert!(
                added.contains("nodad") && !added.contains("tentative"),
                "{added}"
            );
            assert!((28..=30).contains(&valid_secs(&added)), "{added}");

            // Renewed to 2 s: gone within a few seconds, by the kernel's own hand.
            addresses.renew(&vip, 2).await.unwrap();
            assert!(valid_secs(&line().unwrap()) <= 2);
            wait_until(DEADLINE, "the kernel to remove the expired address", || {
                line().is_none()
            });
            // A renewal after that adds it again, still without detection.
            addresses.renew(&vip, 30).await.unwrap();
            let again = line().expect("added again");
            assert!(
                again.contains("nodad") && valid_secs(&again) >= 28,
                "{again}"
            );
            // Added while there: the lifetime is set, the change reported as already so.
            assert_eq!(
                addresses.add(&vip, Some(10)).await.unwrap(),
                Change::AlreadySo
            );
            assert!(valid_secs(&line().unwrap()) <= 10);
            assert_eq!(addresses.remove(&vip).await.unwrap(), Change::Done);
            assert_eq!(addresses.remove(&vip).await.unwrap(), Change::AlreadySo);
            assert!(line().is_none());
        });
    });
}
