//! The node's protocol, driven by hand: a few nodes wired together with a fixed 1 ms delay,
//! fed by the same input rule every driver obeys ([`Inbox`]). Enough to pin each rule down;
//! fault-rich runs are the simulator's job.

use failover_core::config::{NodeSettings, PathSettings, ProtocolSettings, VipSettings};
use failover_core::wire::{encode, AuthKey, Message, MessageKind};
use failover_core::{
    Accepted, Command, Config, Event, HookKind, HookOutcome, Inbox, Ineligible, Instant, Node,
    Notification, Output, PathId, Refusal, Request, Role, VipId,
};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

const MS: u64 = 1_000_000;
const PATHS: [&str; 2] = ["public", "direct"];

fn addr(path: usize, node: usize) -> SocketAddr {
    let net = if path == 0 { "192.0.2" } else { "198.51.100" };
    format!("{net}.{}:1694", 10 + node).parse().unwrap()
}

fn config(names: &[(&str, u8)], me: usize, interval_ms: u64) -> Config {
    Config {
        node: NodeSettings {
            name: names[me].0.to_string(),
            priority: names[me].1,
            witness: false,
        },
        protocol: ProtocolSettings {
            interval: Duration::from_millis(interval_ms),
            ..ProtocolSettings::default()
        },
        paths: PATHS
            .iter()
            .enumerate()
            .map(|(p, name)| PathSettings {
                name: name.to_string(),
                local: Some(addr(p, me)),
                peers: (0..names.len())
                    .filter(|&n| n != me)
                    .map(|n| addr(p, n))
                    .collect(),
            })
            .collect(),
        vips: vec![VipSettings {
            address: "192.0.2.100".parse().unwrap(),
            prefix: None,
            interface: "eth0".into(),
            primary: false,
        }],
        notify: Default::default(),
        hooks: Default::default(),
        control: Default::default(),
    }
}

/// What happened, in time order, across all nodes.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Acquire(usize),
    Release(usize),
    Announce(usize),
    Notify(usize, Notification),
    Role(usize, Role),
    Hook(usize, HookKind),
    Abandoned(usize),
    /// An operator's request answered.
    Answer(usize, Result<Accepted, Refusal>),
}

/// Something on its way to a node: a datagram, or the answer to one of its requests.
enum Arrival {
    Datagram {
        to: usize,
        path: usize,
        from: SocketAddr,
        bytes: Vec<u8>,
    },
    Answer {
        to: usize,
        epoch: u64,
        command: Command,
    },
}

/// A few nodes on two paths with a fixed 1 ms delay, each fed through an [`Inbox`] as every
/// driver feeds its node; hooks and address changes answered after `answer_ms`.
struct Bed {
    nodes: Vec<Option<Node>>,
    inboxes: Vec<Inbox<Vec<u8>>>,
    /// A paused node's process is stopped: what reaches it waits in its inbox.
    paused: Vec<bool>,
    configs: Vec<Config>,
    epochs: Vec<u64>,
    now: u64,
    /// (arrives at, sequence) -> what arrives
    wire: BTreeMap<(u64, u64), Arrival>,
    sent: u64,
    /// cut[path][node]: that node's interface on that path is down.
    cut: [Vec<bool>; 2],
    /// (from, to): every datagram from one node to the other is dropped (a one-way cut).
    blocked: BTreeSet<(usize, usize)>,
    /// (from, to) -> how many of the next datagrams between them are lost (every path).
    lose: BTreeMap<(usize, usize), u32>,
    /// Hook answers that are not "success", per (node, kind); `None` means the hook hangs.
    hooks: BTreeMap<(usize, HookKind), Option<HookOutcome>>,
    /// Nodes whose kernel refuses to add an address, or to remove one.
    add_fails: BTreeSet<usize>,
    remove_fails: BTreeSet<usize>,
    answer_ms: u64,
    log: Vec<(u64, Seen)>,
    holders: Vec<bool>,
    max_holders: usize,
}

impl Bed {
    fn new(names: &[(&str, u8)], interval_ms: u64) -> Bed {
        let configs: Vec<Config> = (0..names.len())
            .map(|i| config(names, i, interval_ms))
            .collect();
        let mut bed = Bed {
            nodes: (0..names.len()).map(|_| None).collect(),
            inboxes: (0..names.len()).map(|_| Inbox::new(2, 64)).collect(),
            paused: vec![false; names.len()],
            epochs: vec![0; names.len()],
            configs,
            now: 0,
            wire: BTreeMap::new(),
            sent: 0,
            cut: [vec![false; names.len()], vec![false; names.len()]],
            blocked: BTreeSet::new(),
            lose: BTreeMap::new(),
            hooks: BTreeMap::new(),
            add_fails: BTreeSet::new(),
            remove_fails: BTreeSet::new(),
            answer_ms: 0,
            log: Vec::new(),
            holders: vec![false; names.len()],
            max_holders: 0,
        };
        for i in 0..names.len() {
            bed.start(i);
        }
        bed
    }

    fn start(&mut self, i: usize) {
        self.start_as(i, false);
    }

    /// Starts node `i`, in standby if `standby` (as the daemon does when its state directory
    /// says so).
    fn start_as(&mut self, i: usize, standby: bool) {
        self.epochs[i] += 1;
        let node = Node::new(
            self.configs[i].clone(),
            self.epochs[i],
            Instant::from_nanos(self.now),
        )
        .unwrap();
        self.nodes[i] = Some(if standby { node.in_standby() } else { node });
        self.inboxes[i].clear();
        self.drain(i);
    }

    fn crash(&mut self, i: usize) {
        self.nodes[i] = None;
        self.holders[i] = false;
    }

    fn node(&self, i: usize) -> &Node {
        self.nodes[i].as_ref().unwrap()
    }

    fn send(&mut self, at: u64, arrival: Arrival) {
        self.sent += 1;
        self.wire.insert((at, self.sent), arrival);
    }

    fn answer(&mut self, i: usize, command: Command) {
        let at = self.now + self.answer_ms * MS;
        let epoch = self.epochs[i];
        self.send(
            at,
            Arrival::Answer {
                to: i,
                epoch,
                command,
            },
        );
    }

    fn drain(&mut self, i: usize) {
        while let Some(out) = self.nodes[i].as_mut().and_then(Node::poll_output) {
            match out {
                Output::Transmit(t) => {
                    let to = (0..self.nodes.len())
                        .find(|&n| addr(t.path.0, n) == t.to)
                        .unwrap();
                    let lost = self.lose.get_mut(&(i, to)).filter(|n| **n > 0);
                    let lost = lost.map(|n| *n -= 1).is_some();
                    let cut = self.cut[t.path.0][i] || self.cut[t.path.0][to];
                    if !cut && !lost && !self.blocked.contains(&(i, to)) {
                        let arrival = Arrival::Datagram {
                            to,
                            path: t.path.0,
                            from: addr(t.path.0, i),
                            bytes: t.payload.to_vec(),
                        };
                        self.send(self.now + MS, arrival);
                    }
                }
                Output::Acquire { id, vip, .. } => {
                    let result = if self.add_fails.contains(&i) {
                        Err("Cannot assign requested address (os error 99)".into())
                    } else {
                        self.holders[i] = true;
                        self.max_holders = self
                            .max_holders
                            .max(self.holders.iter().filter(|&&h| h).count());
                        self.log.push((self.now, Seen::Acquire(i)));
                        Ok(())
                    };
                    assert_eq!(vip, VipId(0));
                    self.answer(i, Command::AddressChanged { id, result });
                }
                Output::Release { id, .. } => {
                    let result = if self.remove_fails.contains(&i) {
                        Err("Operation not permitted (os error 1)".into())
                    } else {
                        self.holders[i] = false;
                        self.log.push((self.now, Seen::Release(i)));
                        Ok(())
                    };
                    self.answer(i, Command::AddressChanged { id, result });
                }
                Output::Announce(_) => self.log.push((self.now, Seen::Announce(i))),
                Output::Extend { .. } => panic!("classic mode holds no lease"),
                Output::RunHook(req) => {
                    self.log.push((self.now, Seen::Hook(i, req.kind)));
                    assert_eq!(
                        req.deadline,
                        Instant::from_nanos(self.now) + self.configs[i].hooks.timeout,
                        "a hook's deadline is core's timeout"
                    );
                    match self.hooks.get(&(i, req.kind)) {
                        Some(None) => {} // hangs
                        answer => {
                            let outcome = answer.copied().flatten().unwrap_or(HookOutcome::Success);
                            let id = req.id;
                            self.answer(i, Command::HookFinished { id, outcome });
                        }
                    }
                }
                Output::Notify(n) => self.log.push((self.now, Seen::Notify(i, *n))),
                Output::Answer(a) => self.log.push((self.now, Seen::Answer(i, a.outcome))),
                Output::Event(Event::RoleChanged { to, .. }) => {
                    self.log.push((self.now, Seen::Role(i, to)))
                }
                Output::Event(Event::TakeoverAbandoned { .. }) => {
                    self.log.push((self.now, Seen::Abandoned(i)))
                }
                Output::Event(_) => {}
            }
        }
    }

    /// Runs until `until_ms`: at each instant, everything arriving then goes into the
    /// inboxes, and every running node is handed its inbox (and its timer) by the rule.
    fn run_until(&mut self, until_ms: u64) {
        let until = until_ms * MS;
        loop {
            let next_timer = (0..self.nodes.len())
                .filter(|&i| !self.paused[i])
                .filter_map(|i| Some(self.nodes[i].as_ref()?.poll_timeout()?.as_nanos()))
                .min();
            let next_arrival = self.wire.keys().next().map(|k| k.0);
            let Some(t) = next_timer.into_iter().chain(next_arrival).min() else {
                break;
            };
            if t > until {
                break;
            }
            self.now = self.now.max(t);
            while let Some(entry) = self.wire.first_entry().filter(|e| e.key().0 <= t) {
                match entry.remove() {
                    Arrival::Datagram {
                        to,
                        path,
                        from,
                        bytes,
                    } => {
                        if self.nodes[to].is_some() {
                            self.inboxes[to].datagram(PathId(path), from, bytes);
                        }
                    }
                    Arrival::Answer { to, epoch, command } => {
                        if self.nodes[to].is_some() && self.epochs[to] == epoch {
                            self.inboxes[to].command(command);
                        }
                    }
                }
            }
            for i in 0..self.nodes.len() {
                self.wake(i);
            }
        }
        self.now = until;
    }

    /// Hands node `i` what waits for it, unless it is paused.
    fn wake(&mut self, i: usize) {
        if self.paused[i] {
            return;
        }
        let now = Instant::from_nanos(self.now);
        if let Some(node) = self.nodes[i].as_mut() {
            self.inboxes[i].deliver(node, now);
            self.drain(i);
        }
    }

    /// Cuts (or restores) both of node `i`'s links.
    fn isolate(&mut self, i: usize, cut: bool) {
        self.cut[0][i] = cut;
        self.cut[1][i] = cut;
    }

    fn pause(&mut self, i: usize) {
        self.paused[i] = true;
    }

    fn resume(&mut self, i: usize) {
        self.paused[i] = false;
        self.wake(i);
    }

    fn command(&mut self, i: usize, cmd: Command) {
        self.inboxes[i].command(cmd);
        self.wake(i);
    }

    /// Asks node `i` an operator's request (answered in the log, as [`Seen::Answer`]).
    fn ask(&mut self, i: usize, request: Request) {
        self.command(i, Command::Operator { id: 7, request });
    }

    /// Node `i`'s answers so far, with the time (ms) each came.
    fn answers(&self, i: usize) -> Vec<(u64, Result<Accepted, Refusal>)> {
        (self.log.iter())
            .filter_map(|(t, s)| match s {
                Seen::Answer(n, a) if *n == i => Some((*t / MS, a.clone())),
                _ => None,
            })
            .collect()
    }

    fn first(&self, pred: impl Fn(&Seen) -> bool) -> Option<u64> {
        self.log.iter().find(|(_, s)| pred(s)).map(|(t, _)| *t / MS)
    }

    fn count(&self, pred: impl Fn(&Seen) -> bool) -> usize {
        self.log.iter().filter(|(_, s)| pred(s)).count()
    }

    fn notes(&self, node: usize) -> Vec<Notification> {
        self.log
            .iter()
            .filter_map(|(_, s)| match s {
                Seen::Notify(n, note) if *n == node => Some(note.clone()),
                _ => None,
            })
            .collect()
    }
}

const PAIR: [(&str, u8); 2] = [("master", 200), ("backup", 100)];

#[test]
fn the_higher_priority_node_takes_the_address_after_the_startup_wait() {
    let mut bed = Bed::new(&PAIR, 100);
    bed.run_until(2_000);
    assert_eq!(bed.node(0).role(), Role::Master);
    assert_eq!(bed.node(1).role(), Role::Backup);
    assert!(bed.node(0).holds(VipId(0)));
    assert_eq!(bed.holders, vec![true, false]);
    // Start-up waits dead_after (3 × 100 ms) plus the priority skew (100 ms × 55/256 = 21 ms)
    // to learn of an existing owner.
    assert_eq!(bed.first(|s| *s == Seen::Acquire(0)), Some(321));
    assert_eq!(bed.max_holders, 1);
}

#[test]
fn the_backup_takes_over_when_every_path_is_silent_for_dead_after() {
    let mut bed = Bed::new(&PAIR, 100);
    bed.run_until(2_000);
    bed.crash(0);
    bed.run_until(4_000);
    let took = bed.first(|s| *s == Seen::Acquire(1)).unwrap();
    // The master's last heartbeat left at ≤ 2000 ms; the backup waits 300 ms of silence plus
    // its priority skew (100 ms × 155/256 = 60 ms).
    assert!((2_260..=2_461).contains(&took), "took over at {took} ms");
    let notes = bed.notes(1);
    assert_eq!(
        notes,
        vec![Notification::Failover {
            from: Some("master".into()),
            acquired: vec![VipId(0)],
            vetoed: vec![]
        }],
        "a crash is a failover, never a network anomaly"
    );
}

#[test]
fn a_restarted_master_gets_the_address_back_in_order() {
    let mut bed = Bed::new(&PAIR, 100);
    bed.run_until(2_000);
    bed.crash(0);
    bed.run_until(4_000);
    bed.start(0);
    bed.run_until(6_000);
    assert_eq!(bed.node(0).role(), Role::Master);
    assert_eq!(bed.node(1).role(), Role::Backup);
    let released = bed.first(|s| *s == Seen::Release(1)).unwrap();
    let reacquired = bed
        .log
        .iter()
        .filter(|(_, s)| *s == Seen::Acquire(0))
        .nth(1)
        .unwrap()
        .0
        / MS;
    assert!(
        released < reacquired,
        "backup released at {released}, master acquired at {reacquired}"
    );
    // The hand-back does not wait for the start-up timeout: it follows the release message.
    assert!(
        reacquired - 4_000 < 100,
        "failback took {} ms",
        reacquired - 4_000
    );
    assert_eq!(bed.max_holders, 1, "never two holders on a healthy network");
    assert!(bed.notes(1).contains(&Notification::Released {
        to: Some("master".into())
    }));
}

#[test]
fn one_silent_path_is_a_network_anomaly_not_a_failover() {
    let mut bed = Bed::new(&PAIR, 100);
    bed.run_until(2_000);
    bed.cut[1][0] = true; // the master's direct link
    bed.run_until(5_000);
    assert_eq!(bed.node(1).role(), Role::Backup);
    assert_eq!(
        bed.notes(1),
        vec![Notification::NetworkAnomaly {
            peer: "master".into(),
            path: "direct".into()
        }]
    );
    assert!(
        !bed.notes(0)
            .iter()
            .any(|n| matches!(n, Notification::NetworkAnomaly { .. })),
        "only the watching side reports a cut link"
    );
    bed.cut[1][0] = false;
    bed.run_until(6_000);
    assert_eq!(bed.notes(1).len(), 2);
    assert_eq!(
        bed.notes(1)[1],
        Notification::NetworkRecovered {
            peer: "master".into(),
            path: "direct".into()
        }
    );
}

#[test]
fn both_paths_cut_means_takeover_and_the_lower_node_yields_when_they_heal() {
    let mut bed = Bed::new(&PAIR, 100);
    bed.run_until(2_000);
    bed.cut = [vec![true, false], vec![true, false]];
    bed.run_until(3_000);
    assert_eq!(
        bed.holders,
        vec![true, true],
        "classic mode: split brain while cut"
    );
    bed.cut = [vec![false, false], vec![false, false]];
    bed.run_until(4_000);
    assert_eq!(bed.holders, vec![true, false]);
    assert_eq!(bed.node(1).role(), Role::Backup);
    // Clients the backup reached meanwhile point at it: the master announces itself again
    // as soon as it hears the backup yield, not at its next periodic refresh.
    let yielded = bed.first(|s| *s == Seen::Release(1)).unwrap();
    let announced = (bed.log.iter())
        .find(|(t, s)| *s == Seen::Announce(0) && t / MS >= yielded)
        .map(|(t, _)| t / MS)
        .expect("announced again");
    assert!(
        announced - yielded <= 2,
        "announced at {announced}, yielded at {yielded}"
    );
}

#[test]
fn links_that_come_back_one_after_the_other_are_no_network_anomaly() {
    let mut bed = Bed::new(&PAIR, 100);
    bed.run_until(2_000);
    bed.cut = [vec![true, false], vec![true, false]];
    bed.run_until(3_000);
    // The direct link heals first; the public one a few heartbeats later, well within
    // dead_after of the peer coming back: nothing was ever cut alone.
    bed.cut[1] = vec![false, false];
    bed.run_until(3_150);
    bed.cut[0] = vec![false, false];
    bed.run_until(5_000);
    assert_eq!(bed.holders, vec![true, false]);
    for node in 0..2 {
        let anomalies: Vec<_> = bed
            .notes(node)
            .into_iter()
            .filter(|n| {
                matches!(
                    n,
                    Notification::NetworkAnomaly { .. } | Notification::NetworkRecovered { .. }
                )
            })
            .collect();
        assert_eq!(anomalies, vec![], "node {node}");
    }
}

#[test]
fn the_owner_announces_its_address_again_every_ten_seconds() {
    let mut bed = Bed::new(&PAIR, 100);
    bed.run_until(31_000);
    let announced: Vec<u64> = bed
        .log
        .iter()
        .filter(|(_, s)| *s == Seen::Announce(0))
        .map(|(t, _)| t / MS)
        .collect();
    // Master from 321 ms: a refresh every 100 heartbeats (10 s, the floor of the default)
    // after that, and only by it.
    assert_eq!(announced.len(), 3, "{announced:?}");
    assert!(
        announced.windows(2).all(|w| w[1] - w[0] == 10_000),
        "{announced:?}"
    );
    assert!(!bed.log.iter().any(|(_, s)| *s == Seen::Announce(1)));
}

#[test]
fn an_owner_that_wakes_from_a_stall_announces_its_address_at_once() {
    let mut bed = Bed::new(&PAIR, 100);
    bed.run_until(2_000);
    // The backup is cut off: nothing it says can remind the owner of clients to win back.
    bed.isolate(1, true);
    for stall_ms in [200, 600] {
        let before = bed.count(|s| *s == Seen::Announce(0));
        bed.pause(0);
        bed.run_until(bed.now / MS + stall_ms);
        bed.resume(0);
        let after = bed.count(|s| *s == Seen::Announce(0));
        // dead_after is 360 ms (a heartbeat every 100): the backup may have taken over
        // within the longer stall, not within the shorter.
        assert_eq!(after - before, usize::from(stall_ms > 460), "{stall_ms} ms");
        bed.run_until(bed.now / MS + 1_000);
    }
}

#[test]
fn a_backup_that_wakes_from_a_stall_listens_before_it_takes_over() {
    let mut bed = Bed::new(&PAIR, 100);
    bed.run_until(2_000);
    // A frozen host: stopped, and what is sent to it meanwhile is lost; its link comes back
    // a moment after it runs again.
    bed.isolate(1, true);
    bed.run_until(2_010);
    bed.pause(1);
    bed.run_until(3_000);
    bed.resume(1);
    bed.run_until(3_050);
    bed.isolate(1, false);
    bed.run_until(5_000);
    assert_eq!(
        bed.count(|s| *s == Seen::Role(1, Role::Acquiring)),
        0,
        "its own stall is no silence of the owner"
    );
    assert_eq!(bed.max_holders, 1);
    // An owner that died during the stall is taken over from, dead_after after the wake.
    bed.pause(1);
    bed.crash(0);
    bed.run_until(6_000);
    bed.resume(1);
    bed.run_until(8_000);
    let took = bed.first(|s| *s == Seen::Acquire(1)).expect("took over");
    assert!((6_360..6_500).contains(&took), "took over at {took} ms");
}

#[test]
fn a_vetoing_test_hook_means_notification_only() {
    let mut bed = Bed::new(&PAIR, 100);
    bed.hooks
        .insert((1, HookKind::Test), Some(HookOutcome::Failed(Some(1))));
    bed.run_until(2_000);
    bed.crash(0);
    bed.run_until(5_000);
    assert!(bed.first(|s| *s == Seen::Acquire(1)).is_none());
    assert_eq!(bed.node(1).role(), Role::Backup);
    assert_eq!(
        bed.notes(1),
        vec![Notification::Failover {
            from: Some("master".into()),
            acquired: vec![],
            vetoed: vec![VipId(0)]
        }],
        "vetoed once, not asked again while nothing changes"
    );
}

#[test]
fn a_test_hook_that_stops_refusing_is_asked_again_and_the_takeover_happens() {
    let mut bed = Bed::new(&PAIR, 100);
    bed.hooks
        .insert((1, HookKind::Test), Some(HookOutcome::Failed(Some(1))));
    bed.run_until(2_000);
    bed.crash(0);
    bed.run_until(4_000);
    assert!(bed.first(|s| *s == Seen::Acquire(1)).is_none(), "vetoed");
    bed.hooks.clear(); // the check behind Test is healthy again
    bed.run_until(6_000);
    let took = bed.first(|s| *s == Seen::Acquire(1)).expect("asked again");
    // Refusals in a row back off, doubling from dead_after (360 ms) up to 8 × dead_after.
    assert!(
        (4_000..=4_000 + 8 * 360).contains(&took),
        "asked again within the longest back-off: {took} ms"
    );
    assert_eq!(
        bed.notes(1),
        vec![
            Notification::Failover {
                from: Some("master".into()),
                acquired: vec![],
                vetoed: vec![VipId(0)]
            },
            Notification::Failover {
                from: Some("master".into()),
                acquired: vec![VipId(0)],
                vetoed: vec![]
            },
        ],
        "each refusal in a row is one notice; the takeover is another"
    );
}

#[test]
fn a_hung_test_hook_delays_the_hand_back_but_does_not_cancel_it() {
    let mut bed = Bed::new(&PAIR, 100);
    bed.run_until(2_000);
    bed.crash(0);
    bed.run_until(4_000);
    bed.hooks.insert((1, HookKind::Test), None); // hangs
    bed.start(0);
    bed.run_until(30_000);
    assert_eq!(
        bed.holders,
        vec![false, true],
        "Test hangs: the backup keeps the address"
    );
    bed.hooks.clear();
    bed.run_until(50_000);
    assert_eq!(
        bed.holders,
        vec![true, false],
        "handed back once Test answers"
    );
    let timeouts = bed
        .notes(1)
        .into_iter()
        .filter(|n| matches!(n, Notification::HookFailed { .. }))
        .count();
    assert_eq!(
        timeouts, 1,
        "a Test that hangs again and again is reported once"
    );
    assert_eq!(bed.max_holders, 1);
}

#[test]
fn a_test_hook_that_refuses_the_hand_back_is_notified_once_and_the_backup_keeps_the_address() {
    let mut bed = Bed::new(&PAIR, 100);
    bed.run_until(2_000);
    bed.crash(0);
    bed.run_until(4_000);
    bed.hooks
        .insert((1, HookKind::Test), Some(HookOutcome::Failed(Some(1))));
    bed.start(0);
    bed.run_until(30_000);
    assert_eq!(
        bed.holders,
        vec![false, true],
        "Test says no: the backup keeps the address"
    );
    let vetoes = |bed: &Bed| {
        (bed.notes(1).into_iter())
            .filter(|n| matches!(n, Notification::HandBackVetoed { .. }))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        vetoes(&bed),
        vec![Notification::HandBackVetoed {
            to: Some("master".into()),
            vetoed: vec![VipId(0)]
        }],
        "the first no is news, naming the node and the address; the same no again is not"
    );
    assert!(
        !(bed.notes(1).iter()).any(|n| matches!(n, Notification::HookFailed { .. })),
        "a Test that says no is a veto, not a hook failure"
    );
    bed.hooks.clear();
    bed.run_until(50_000);
    assert_eq!(
        bed.holders,
        vec![true, false],
        "handed back once Test agrees"
    );
    assert_eq!(vetoes(&bed).len(), 1);
    assert_eq!(bed.max_holders, 1);
}

#[test]
fn a_hung_hook_times_out_is_reported_and_the_takeover_goes_on() {
    let mut bed = Bed::new(&PAIR, 100);
    bed.hooks.insert((1, HookKind::PreAcq), None);
    bed.run_until(2_000);
    bed.crash(0);
    bed.run_until(20_000);
    let took = bed.first(|s| *s == Seen::Acquire(1)).unwrap();
    assert!(
        took >= 12_000,
        "acquired at {took}: after the 10 s hook timeout"
    );
    assert!(bed.notes(1).iter().any(|n| matches!(
        n,
        Notification::HookFailed {
            hook: HookKind::PreAcq,
            outcome: HookOutcome::TimedOut,
            ..
        }
    )));
}

#[test]
fn planned_shutdown_hands_over_at_once_without_overlap() {
    let mut bed = Bed::new(&PAIR, 1_000);
    bed.run_until(5_000);
    bed.command(0, Command::Shutdown);
    bed.run_until(5_001);
    assert_eq!(
        bed.node(0).role(),
        Role::Stopped,
        "hooks answer at once here"
    );
    bed.run_until(5_050);
    assert_eq!(
        bed.holders,
        vec![false, true],
        "well before dead_after (3 s)"
    );
    assert_eq!(bed.max_holders, 1);
    assert!(bed.notes(0).contains(&Notification::Released { to: None }));
}

#[test]
fn a_master_restarted_soon_after_a_planned_stop_gets_the_address_back_once() {
    // `systemctl restart`: the goodbye names the backup, which takes over; the master is back
    // well within `dead_after`, and the backup hands the address back — once, not again and
    // again because it still counted itself the departed owner's heir.
    let mut bed = Bed::new(&PAIR, 1_000);
    bed.run_until(5_000);
    bed.command(0, Command::Shutdown);
    bed.run_until(5_050);
    assert_eq!(bed.holders, vec![false, true]);
    bed.crash(0);
    bed.start(0);
    bed.run_until(12_000);
    assert_eq!(bed.holders, vec![true, false]);
    assert_eq!(bed.count(|s| *s == Seen::Acquire(1)), 1, "{:?}", bed.log);
    assert_eq!(bed.count(|s| *s == Seen::Release(1)), 1, "{:?}", bed.log);
    assert_eq!(bed.max_holders, 1);
}

#[test]
fn three_nodes_the_highest_live_priority_owns() {
    let trio = [("a", 50), ("b", 250), ("c", 150)];
    let mut bed = Bed::new(&trio, 100);
    bed.run_until(2_000);
    assert_eq!(bed.holders, vec![false, true, false]);
    bed.crash(1);
    bed.run_until(3_000);
    assert_eq!(bed.holders, vec![false, false, true]);
    bed.start(1);
    bed.run_until(4_000);
    assert_eq!(bed.holders, vec![false, true, false]);
    assert_eq!(bed.max_holders, 1);
}

#[test]
fn a_best_backup_whose_test_says_no_checks_before_it_asks_for_the_address_back() {
    let trio = [("alpha", 200), ("bravo", 150), ("charlie", 100)];
    let mut bed = Bed::new(&trio, 100);
    bed.hooks
        .insert((1, HookKind::Test), Some(HookOutcome::Failed(Some(1))));
    bed.run_until(2_000);
    bed.crash(0);
    bed.run_until(30_000);
    // Charlie takes over once bravo vetoes, and keeps the address: at the end of each
    // back-off bravo asks Test alone, which says no, so it never announces the priority that
    // would make charlie hand the address back (dead_after 360 ms: the back-off doubles up to
    // 2.9 s, about ten checks in 28 s).
    assert_eq!(bed.holders, vec![false, false, true]);
    assert_eq!(bed.count(|s| *s == Seen::Acquire(2)), 1);
    assert_eq!(bed.count(|s| *s == Seen::Release(2)), 0, "no hand-back");
    assert_eq!(bed.count(|s| *s == Seen::Role(1, Role::Acquiring)), 1);
    let tests = bed.count(|s| *s == Seen::Hook(1, HookKind::Test));
    assert!((6..=20).contains(&tests), "bravo checked {tests} times");
    let vetoes = |bed: &Bed| {
        (bed.notes(1).iter())
            .filter(|n| matches!(n, Notification::Failover { vetoed, .. } if !vetoed.is_empty()))
            .count()
    };
    assert_eq!(vetoes(&bed), 1, "a refusal repeated is no news");
    // Test healthy again: the next check passes, bravo announces its priority and charlie
    // hands the address back, once.
    bed.hooks.clear();
    bed.run_until(40_000);
    assert_eq!(bed.holders, vec![false, true, false]);
    assert_eq!(bed.count(|s| *s == Seen::Acquire(1)), 1);
    assert_eq!(bed.count(|s| *s == Seen::Release(2)), 1);
    assert_eq!(vetoes(&bed), 1);
    assert_eq!(bed.max_holders, 1);
}

#[test]
fn without_preemption_the_owner_keeps_the_address() {
    let mut bed = Bed::new(&PAIR, 100);
    for c in &mut bed.configs {
        c.protocol.preempt = false;
    }
    bed.crash(0);
    bed.crash(1);
    bed.start(0);
    bed.start(1);
    bed.run_until(2_000);
    bed.crash(0);
    bed.run_until(3_000);
    bed.start(0);
    bed.run_until(5_000);
    assert_eq!(bed.holders, vec![false, true]);
}

#[test]
fn equal_priorities_are_broken_by_name() {
    let twins = [("beta", 100), ("alpha", 100)];
    let mut bed = Bed::new(&twins, 100);
    bed.run_until(2_000);
    assert_eq!(bed.holders, vec![false, true]);
}

#[test]
fn replayed_malformed_and_foreign_datagrams_are_dropped_and_counted() {
    let mut bed = Bed::new(&PAIR, 100);
    bed.run_until(1_000);
    // Capture one heartbeat the master sends, then feed it to the backup twice more.
    let mut master = Node::new(bed.configs[0].clone(), 7, Instant::ZERO).unwrap();
    master.handle_timeout(Instant::ZERO);
    let Some(Output::Transmit(t)) = master.poll_output() else {
        panic!("no heartbeat")
    };
    let backup = bed.nodes[1].as_mut().unwrap();
    let now = Instant::from_nanos(1_000 * MS);
    let before = backup.counters();
    backup.handle_datagram(now, PathId(0), addr(0, 0), &t.payload);
    backup.handle_datagram(now, PathId(0), addr(0, 0), &t.payload);
    backup.handle_datagram(now, PathId(0), addr(0, 0), b"\x00garbage");
    // A datagram carrying the backup's own name (an echo, or a misconfigured twin).
    let mut own = bed.configs[0].clone();
    own.node.name = "backup".into();
    let mut echo = Node::new(own, 1, Instant::ZERO).unwrap();
    echo.handle_timeout(Instant::ZERO);
    let Some(Output::Transmit(e)) = echo.poll_output() else {
        panic!()
    };
    backup.handle_datagram(now, PathId(0), addr(0, 0), &e.payload);
    let after = backup.counters();
    // The epoch-7 heartbeat is newer than the running master's epoch 1: accepted once.
    assert_eq!(after.received, before.received + 1);
    assert_eq!(after.replayed, before.replayed + 1);
    assert_eq!(after.malformed, before.malformed + 1);
    assert_eq!(after.foreign, before.foreign + 1);
}

#[test]
fn with_a_shared_key_unauthenticated_datagrams_are_dropped() {
    let mut bed = Bed::new(&PAIR, 100);
    for c in &mut bed.configs {
        c.protocol.auth_key = Some("correct horse battery staple".into());
    }
    bed.crash(0);
    bed.crash(1);
    bed.start(0);
    bed.start(1);
    bed.run_until(1_000);
    assert_eq!(
        bed.holders,
        vec![true, false],
        "authenticated peers work together"
    );
    let mut intruder_cfg = bed.configs[0].clone();
    intruder_cfg.protocol.auth_key = Some("a different key, 16+ bytes".into());
    intruder_cfg.node.name = "intruder".into();
    intruder_cfg.node.priority = 255;
    let mut intruder = Node::new(intruder_cfg, 1, Instant::ZERO).unwrap();
    intruder.handle_timeout(Instant::ZERO);
    let Some(Output::Transmit(t)) = intruder.poll_output() else {
        panic!()
    };
    let now = Instant::from_nanos(bed.now);
    let node = bed.nodes[0].as_mut().unwrap();
    node.handle_datagram(now, PathId(0), addr(0, 1), &t.payload);
    assert_eq!(node.counters().unauthenticated, 1);
    bed.run_until(2_000);
    assert_eq!(
        bed.holders,
        vec![true, false],
        "the intruder's priority 255 changed nothing"
    );
}

const OLD_KEY: &str = "the key in use since install";
const NEW_KEY: &str = "the key that replaces it, 16+";

impl Bed {
    /// Node `i` reloads with these keys (the daemon's SIGHUP: reconfigure, then re-announce).
    fn rekey(&mut self, i: usize, auth: &str, previous: Option<&str>) {
        let protocol = &mut self.configs[i].protocol;
        protocol.auth_key = Some(auth.into());
        protocol.previous_auth_key = previous.map(Into::into);
        let config = self.configs[i].clone();
        self.nodes[i].as_mut().unwrap().reconfigure(config).unwrap();
        self.command(i, Command::Reannounce);
    }
}

/// A heartbeat of "master" in `epoch`, as its node encodes it.
fn master_heartbeat(epoch: u64, seq: u64, key: Option<&str>) -> Vec<u8> {
    let msg = Message {
        group: 1,
        kind: MessageKind::Heartbeat,
        role: Role::Master,
        priority: 200,
        epoch,
        seq,
        sender: "master",
        successor: None,
        quorum: false,
        vote: None,
        marks: Default::default(),
    };
    encode(&msg, key.map(|k| AuthKey::new(k.as_bytes())).as_ref())
}

#[test]
fn a_key_rotated_in_the_documented_order_loses_no_heartbeat() {
    let mut bed = Bed::new(&PAIR, 100);
    for c in &mut bed.configs {
        c.protocol.auth_key = Some(OLD_KEY.into());
    }
    bed.crash(0);
    bed.crash(1);
    bed.start(0);
    bed.start(1);
    bed.run_until(1_000);
    assert_eq!(bed.holders, vec![true, false]);
    let roles = bed.count(|s| matches!(s, Seen::Role(..)));
    // 1: accept the new key beside the old; 2: send the new, still accept the old; 3: new only.
    let steps = [
        (OLD_KEY, Some(NEW_KEY)),
        (NEW_KEY, Some(OLD_KEY)),
        (NEW_KEY, None),
    ];
    let mut t = 1_000;
    for (step, (auth, previous)) in steps.into_iter().enumerate() {
        for node in [0, 1] {
            bed.rekey(node, auth, previous);
            t += 1_000; // ten heartbeats, three times dead_after
            bed.run_until(t);
            assert_eq!(
                bed.holders,
                vec![true, false],
                "step {}, node {node}",
                step + 1
            );
            for i in [0, 1] {
                let c = bed.node(i).counters();
                assert_eq!(c.unauthenticated, 0, "step {}: node {i}: {c:?}", step + 1);
            }
            if (step, node) == (1, 0) {
                // The master sends the new key; the backup takes it as its previous one.
                assert!(bed.node(1).counters().previous_key >= 9);
            }
        }
    }
    assert_eq!(
        bed.count(|s| matches!(s, Seen::Role(..))),
        roles,
        "no role changed"
    );
    assert_eq!(bed.count(|s| matches!(s, Seen::Acquire(1))), 0);
    // Afterwards the old key is refused.
    let now = Instant::from_nanos(bed.now);
    let forged = master_heartbeat(u64::MAX, 1, Some(OLD_KEY));
    let epoch = bed.epochs[0];
    let backup = bed.nodes[1].as_mut().unwrap();
    backup.handle_datagram(now, PathId(0), addr(0, 0), &forged);
    assert_eq!(backup.counters().unauthenticated, 1);
    let view = &backup.status(now).peers[0];
    assert_eq!(view.epoch, epoch, "the forgery changed nothing");
}

#[test]
fn a_node_that_sends_a_new_key_before_its_peer_accepts_it_is_taken_for_dead() {
    // Why the rotation goes in two rounds: switching the master straight to the new key
    // (keeping the old as previous) leaves the backup, which knows only the old, deaf to it.
    let mut bed = Bed::new(&PAIR, 100);
    for c in &mut bed.configs {
        c.protocol.auth_key = Some(OLD_KEY.into());
    }
    bed.crash(0);
    bed.crash(1);
    bed.start(0);
    bed.start(1);
    bed.run_until(1_000);
    bed.rekey(0, NEW_KEY, Some(OLD_KEY));
    bed.run_until(2_000);
    assert!(bed.node(1).counters().unauthenticated >= 9);
    assert_eq!(
        bed.holders,
        vec![true, true],
        "a false failover: split brain"
    );
}

#[test]
fn replays_of_a_restarted_peers_earlier_epoch_are_all_dropped_without_a_key() {
    // Without a key, routine heartbeats are recognised by their bytes (`accept_repeat`): a
    // replay must never become the template they are compared with.
    let mut bed = Bed::new(&PAIR, 100);
    bed.run_until(3_000);
    bed.crash(0);
    bed.start(0);
    bed.run_until(6_000);
    assert_eq!(bed.holders, vec![true, false]);
    let now = Instant::from_nanos(bed.now);
    let before = bed.node(1).counters();
    let backup = bed.nodes[1].as_mut().unwrap();
    // Every sequence number the first run used and more: one of them is the current one.
    for seq in 1..=200 {
        let replay = master_heartbeat(1, seq, None);
        backup.handle_datagram(now, PathId(0), addr(0, 0), &replay);
    }
    let after = backup.counters();
    assert_eq!(after.replayed - before.replayed, 200, "{after:?}");
    assert_eq!(after.received, before.received);
    bed.drain(1);
    bed.run_until(9_000);
    let later = bed.node(1).counters();
    assert_eq!(
        later.replayed, after.replayed,
        "genuine heartbeats still taken"
    );
    assert!(later.received >= after.received + 29, "{later:?}");
    assert_eq!(bed.holders, vec![true, false]);
    let view = bed.node(1).status(Instant::from_nanos(bed.now));
    assert_eq!((view.peers[0].epoch, view.peers[0].role), (2, Role::Master));
}

// The threat model in README ("Security"): what an attacker on the LAN does with forged and
// recorded datagrams to a group without a key, and that the same forgeries, under a key the
// group does not share, change nothing.

/// The key an attacker without the group's key signs with.
const ATTACKER_KEY: &str = "a key the attacker made up";

impl Bed {
    /// A datagram from `from` reaches node `to` on `path` now, outside the bed's wire.
    fn inject(&mut self, to: usize, path: usize, from: SocketAddr, bytes: &[u8]) {
        let now = Instant::from_nanos(self.now);
        let node = self.nodes[to].as_mut().unwrap();
        node.handle_datagram(now, PathId(path), from, bytes);
        self.drain(to);
    }
}

/// The first two of `names` running under `key`, settled (the first holds the address); any
/// other name is a host the attacker speaks for, whose node never runs.
fn settled_under(names: &[(&str, u8)], key: Option<&str>) -> Bed {
    let mut bed = Bed::new(names, 100);
    for c in &mut bed.configs {
        c.protocol.auth_key = key.map(Into::into);
    }
    for i in 0..names.len() {
        bed.crash(i);
    }
    bed.start(0);
    bed.start(1);
    bed.run_until(3_000);
    assert_eq!(bed.holders[..2], [true, false]);
    bed
}

/// What an attacker sends: untagged if the group has no key, else under a key of its own.
fn forge(msg: Message<&str>, group_key: Option<&str>) -> Vec<u8> {
    let key = group_key.map(|_| AuthKey::new(ATTACKER_KEY.as_bytes()));
    encode(&msg, key.as_ref())
}

/// "mallory" claims the addresses at priority 255 every interval for 3 s, to both nodes.
fn claimed_by_a_forger(key: Option<&str>) -> Bed {
    let mut bed = settled_under(&[("master", 200), ("backup", 100), ("mallory", 1)], key);
    for seq in 1..=30 {
        let claim = Message {
            group: 1,
            kind: MessageKind::Heartbeat,
            role: Role::Master,
            priority: 255,
            epoch: 1,
            seq,
            sender: "mallory",
            successor: None,
            quorum: false,
            vote: None,
            marks: Default::default(),
        };
        let bytes = forge(claim, key);
        bed.inject(0, 0, addr(0, 2), &bytes);
        bed.inject(1, 0, addr(0, 2), &bytes);
        bed.run_until(3_000 + seq * 100);
    }
    bed
}

#[test]
fn a_forged_claim_at_priority_255_empties_a_keyless_group_and_is_dropped_by_a_keyed_one() {
    let bed = claimed_by_a_forger(None);
    assert_eq!(
        bed.holders,
        vec![false, false, false],
        "the owner yields to the forger, and no one takes over while it claims"
    );
    let bed = claimed_by_a_forger(Some(OLD_KEY));
    assert_eq!(bed.holders, vec![true, false, false]);
    assert_eq!(bed.count(|s| *s == Seen::Release(0)), 0, "{:?}", bed.log);
    for i in 0..2 {
        assert_eq!(bed.node(i).counters().unauthenticated, 30);
    }
}

/// A goodbye in the master's name and its current epoch, naming the backup as successor, with
/// a sequence number far ahead (the master's own datagrams then look like replays).
fn goodbye_forged_for_the_master(key: Option<&str>) -> Bed {
    let mut bed = settled_under(&PAIR, key);
    let epoch = bed.node(1).status(Instant::from_nanos(bed.now)).peers[0].epoch;
    let goodbye = Message {
        group: 1,
        kind: MessageKind::Goodbye,
        role: Role::Backup,
        priority: 200,
        epoch,
        seq: 1 << 40,
        sender: "master",
        successor: Some("backup"),
        quorum: false,
        vote: None,
        marks: Default::default(),
    };
    let bytes = forge(goodbye, key);
    bed.inject(1, 0, addr(0, 0), &bytes);
    bed.run_until(6_000);
    bed
}

#[test]
fn a_forged_goodbye_makes_a_keyless_backup_take_over_beside_the_owner_and_a_keyed_one_ignores_it() {
    let bed = goodbye_forged_for_the_master(None);
    assert_eq!(bed.holders, vec![true, true], "two holders");
    let bed = goodbye_forged_for_the_master(Some(OLD_KEY));
    assert_eq!(bed.holders, vec![true, false]);
    assert_eq!(bed.max_holders, 1);
    assert_eq!(bed.node(1).counters().unauthenticated, 1);
}

#[test]
fn a_node_just_started_takes_a_dead_peers_recorded_heartbeats_for_a_live_peer() {
    // The documented limit of anti-replay: a node remembers its peers' epochs only while it
    // runs. Under a key too: the recording is the master's own.
    let mut bed = settled_under(&PAIR, Some(OLD_KEY));
    let epoch = bed.node(1).status(Instant::from_nanos(bed.now)).peers[0].epoch;
    // Both gone; what was on the wire is lost with them. The backup starts again alone.
    bed.crash(0);
    bed.crash(1);
    bed.run_until(3_100);
    bed.start(1);
    for seq in 1..=50 {
        let recorded = master_heartbeat(epoch, seq, Some(OLD_KEY));
        bed.inject(1, 0, addr(0, 0), &recorded);
        bed.run_until(3_100 + seq * 100);
    }
    assert_eq!(
        bed.holders,
        vec![false, false],
        "no takeover while the recording plays"
    );
    let c = bed.node(1).counters();
    assert_eq!((c.received, c.replayed), (50, 0), "{c:?}");
    bed.run_until(10_000);
    assert_eq!(bed.holders, vec![false, true], "the takeover once it stops");
}

#[test]
fn a_peer_expiring_just_before_another_peers_datagram_is_still_noticed() {
    // A driver may hand the node a datagram stamped after a deadline before it hands it the
    // timeout for that deadline (two sockets and a timer race in any real event loop).
    let names = [("alpha", 200), ("bravo", 150)];
    let mut bed = Bed::new(&names, 100);
    bed.run_until(2_000);
    bed.crash(0);
    let due = bed.node(1).poll_timeout().unwrap();
    let late = Instant::from_nanos(due.as_nanos() + 300 * MS);
    // A newcomer's first heartbeat, processed first: only its own record is refreshed.
    let hello = failover_core::wire::encode(
        &failover_core::wire::Message {
            group: 1,
            kind: failover_core::wire::MessageKind::Heartbeat,
            role: Role::Backup,
            priority: 10,
            epoch: 1,
            seq: 1,
            sender: "zulu",
            successor: None,
            quorum: false,
            vote: None,
            marks: Default::default(),
        },
        None,
    );
    let node = bed.nodes[1].as_mut().unwrap();
    node.handle_datagram(late, PathId(0), addr(0, 9), &hello);
    assert!(
        node.poll_timeout().is_some_and(|t| t <= late),
        "alpha's expiry is still due"
    );
    node.handle_timeout(late);
    let mut down = false;
    while let Some(out) = node.poll_output() {
        down |= out
            == Output::Event(Event::PeerDown {
                peer: "alpha".into(),
            });
    }
    assert!(
        down,
        "alpha is reported down at the first timeout after its expiry"
    );
}

#[test]
fn a_reload_keeps_the_address_and_a_lowered_priority_hands_it_over_in_order() {
    let mut bed = Bed::new(&PAIR, 100);
    bed.run_until(2_000);
    let epoch = bed.node(0).status(Instant::from_nanos(bed.now)).epoch;
    let mut same = bed.configs[0].clone();
    same.hooks.timeout = Duration::from_secs(3);
    bed.nodes[0].as_mut().unwrap().reconfigure(same).unwrap();
    bed.command(0, Command::Reannounce);
    bed.run_until(3_000);
    assert_eq!(
        bed.holders,
        vec![true, false],
        "a reload alone moves nothing"
    );
    assert_eq!(bed.node(0).role(), Role::Master);
    assert_eq!(bed.node(0).config().hooks.timeout, Duration::from_secs(3));

    let mut lower = bed.configs[0].clone();
    lower.node.priority = 50;
    bed.nodes[0].as_mut().unwrap().reconfigure(lower).unwrap();
    bed.command(0, Command::Reannounce);
    bed.run_until(4_000);
    assert_eq!(bed.holders, vec![false, true], "the backup now outranks it");
    let status = bed.node(0).status(Instant::from_nanos(bed.now));
    assert_eq!(status.epoch, epoch, "a reload is not a restart");
    let released = bed.first(|s| *s == Seen::Release(0)).unwrap();
    let acquired = bed.first(|s| *s == Seen::Acquire(1)).unwrap();
    assert!(
        released <= acquired,
        "released {released}, acquired {acquired}"
    );
    assert_eq!(bed.max_holders, 1);
}

#[test]
fn a_reload_that_changes_what_the_node_tracks_is_refused_by_field() {
    let mut bed = Bed::new(&PAIR, 100);
    bed.run_until(2_000);
    let base = bed.configs[0].clone();
    let mut cases: Vec<(Config, &str)> = Vec::new();
    let mut c = base.clone();
    c.node.name = "other".into();
    cases.push((c, "node.name"));
    let mut c = base.clone();
    c.paths.pop();
    cases.push((c, "path"));
    let mut c = base.clone();
    c.paths[1].name = "private".into();
    cases.push((c, "path[1].name"));
    let mut c = base.clone();
    c.vips[0].address = "192.0.2.101".parse().unwrap();
    cases.push((c, "vip[0]"));
    let mut c = base.clone();
    c.protocol.interval = Duration::from_millis(1);
    cases.push((c, "protocol.interval"));
    for (config, field) in cases {
        match bed.nodes[0].as_mut().unwrap().reconfigure(config) {
            Err(failover_core::ConfigError::Invalid { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected an error naming {field}, got {other:?}"),
        }
    }
    assert_eq!(bed.node(0).config(), &base, "the old configuration stays");
    bed.run_until(3_000);
    assert_eq!(bed.holders, vec![true, false]);
}

/// A planned shutdown in a group of three: the best backup alone takes over, however the
/// priorities fall, though passive backups never hear each other.
#[test]
fn planned_shutdown_of_three_hands_over_to_the_best_backup_alone() {
    for trio in [
        [("alpha", 250), ("bravo", 150), ("charlie", 50)],
        [("alpha", 200), ("bravo", 100), ("charlie", 100)],
        [("alpha", 200), ("charlie", 100), ("bravo", 100)],
    ] {
        let mut bed = Bed::new(&trio, 100);
        bed.run_until(5_000);
        assert_eq!(bed.holders, vec![true, false, false]);
        let best = if trio[1].0 == "bravo" { 1 } else { 2 };
        let other = 3 - best;
        bed.command(0, Command::Shutdown);
        bed.run_until(8_000);
        assert_eq!(bed.node(best).role(), Role::Master, "{trio:?}");
        assert_eq!(bed.max_holders, 1, "{trio:?}: never two holders");
        assert_eq!(bed.count(|s| matches!(s, Seen::Acquire(_))), 2, "{trio:?}");
        assert_eq!(
            bed.count(|s| *s == Seen::Role(other, Role::Acquiring)),
            0,
            "{trio:?}: the other backup knew who was taking over"
        );
        let took = bed.first(|s| *s == Seen::Acquire(best)).unwrap();
        assert!(took - 5_000 < 20, "{trio:?}: at once, not after dead_after");
    }
}

/// The owner names a successor that died unnoticed: the others wait for it to claim, then
/// the ordinary rule picks one of them — later, but still one.
#[test]
fn a_successor_that_never_claims_is_waited_for_then_passed_over() {
    let trio = [("alpha", 250), ("bravo", 150), ("charlie", 50)];
    let mut bed = Bed::new(&trio, 100);
    bed.run_until(5_000);
    bed.crash(1); // passive: nobody notices
    bed.command(0, Command::Shutdown);
    bed.run_until(5_300);
    assert_eq!(
        bed.holders,
        vec![false, false, false],
        "charlie waits for bravo"
    );
    bed.run_until(8_000);
    assert_eq!(bed.holders, vec![false, false, true]);
    assert_eq!(bed.max_holders, 1);
}

/// A yield lost on every path is said again: the owner hears it at the next repetition and
/// announces itself to the clients the loser had reached.
#[test]
fn a_lost_yield_is_repeated_and_the_owner_announces_when_it_hears_it() {
    let mut bed = Bed::new(&PAIR, 100);
    bed.run_until(2_000);
    bed.blocked.extend([(0, 1), (1, 0)]);
    bed.run_until(3_000);
    assert_eq!(bed.holders, vec![true, true], "split while cut both ways");
    bed.answer_ms = 10; // the release takes a moment
    bed.blocked.clear();
    // Drop what the backup sends from the moment it starts yielding until it is a backup.
    let mut t = 3_000;
    while bed.node(1).role() == Role::Master {
        t += 1;
        bed.run_until(t);
    }
    bed.blocked.insert((1, 0));
    while bed.node(1).role() != Role::Backup {
        t += 1;
        bed.run_until(t);
    }
    bed.run_until(t + 2);
    bed.blocked.clear();
    let yielded = t;
    bed.run_until(yielded + 1_000);
    let announced = (bed.log.iter())
        .find(|(at, s)| *s == Seen::Announce(0) && at / MS >= yielded)
        .map(|(at, _)| at / MS)
        .expect("the owner announced again");
    assert!(
        announced - yielded <= 110,
        "announced {} ms after the yield: its repetition one interval later was heard",
        announced - yielded
    );
}

/// A backup that stalls (SIGSTOP, a VM pause) for up to five times `dead_after` while the
/// master lives finds the master's heartbeats waiting when it wakes, and reads them before its
/// timer: nothing moves.
#[test]
fn a_stalled_backup_reads_the_heartbeats_waiting_for_it_before_its_timer() {
    for stall_ms in [180, 360, 900, 1_800] {
        let mut bed = Bed::new(&PAIR, 100);
        bed.run_until(2_000);
        bed.pause(1);
        bed.run_until(2_000 + stall_ms);
        bed.resume(1);
        bed.run_until(5_000);
        assert_eq!(bed.holders, vec![true, false], "stalled {stall_ms} ms");
        assert_eq!(bed.max_holders, 1, "stalled {stall_ms} ms");
        assert_eq!(
            bed.count(|s| matches!(s, Seen::Hook(1, _) | Seen::Role(1, _) | Seen::Notify(1, _))),
            0,
            "stalled {stall_ms} ms: no hook, no role change, no mail"
        );
    }
}

/// A stalled owner wakes to a backlog in which a backup spoke at a priority above its own and
/// then, a moment later, at its usual one (an operator reloaded it and took it back while the
/// owner was stopped). The backlog is judged by its newest word: nothing is handed back.
#[test]
fn a_stalled_owner_judges_its_backlog_by_the_newest_heartbeat_not_the_first() {
    let trio = [("alpha", 200), ("bravo", 150), ("charlie", 100)];
    let mut bed = Bed::new(&trio, 100);
    bed.run_until(3_000);
    assert_eq!(bed.holders, vec![true, false, false]);
    // Shorter than dead_after: no backup takes over meanwhile.
    bed.pause(0);
    bed.run_until(3_200);
    let epoch = bed.epochs[2];
    for (seq, priority) in [(1_000, 216), (1_001, 100)] {
        let heartbeat = Message {
            group: 1,
            kind: MessageKind::Heartbeat,
            role: Role::Backup,
            priority,
            epoch,
            seq,
            sender: "charlie",
            successor: None,
            quorum: false,
            vote: None,
            marks: Default::default(),
        };
        let bytes = encode(&heartbeat, None);
        assert!(bed.inboxes[0].datagram(PathId(0), addr(0, 2), bytes));
    }
    bed.resume(0);
    bed.run_until(4_000);
    assert_eq!(bed.holders, vec![true, false, false]);
    let since_the_pause: Vec<_> = (bed.log.iter())
        .filter(|(t, s)| *t >= 3_000 * MS && !matches!(s, Seen::Announce(_)))
        .collect();
    assert_eq!(
        since_the_pause,
        Vec::<&(u64, Seen)>::new(),
        "no hand-back to charlie on its stale priority: no hook, no release, no mail"
    );
}

/// A takeover under way when the owner is heard again is given up before the address is
/// added: no address, no `PostAcq`, no mail.
#[test]
fn a_takeover_is_abandoned_when_the_owner_is_heard_before_the_address_is_added() {
    let mut bed = Bed::new(&PAIR, 100);
    bed.run_until(2_000);
    bed.answer_ms = 200; // the backup's Test takes a while
    bed.pause(0);
    bed.run_until(2_500);
    assert!(
        bed.first(|s| *s == Seen::Hook(1, HookKind::Test)).is_some(),
        "the backup began a takeover"
    );
    bed.resume(0);
    bed.run_until(4_000);
    assert_eq!(bed.holders, vec![true, false]);
    assert!(bed.first(|s| *s == Seen::Abandoned(1)).is_some());
    assert_eq!(bed.count(|s| *s == Seen::Hook(1, HookKind::PreAcq)), 0);
    assert_eq!(bed.count(|s| *s == Seen::Hook(1, HookKind::PostAcq)), 0);
    assert_eq!(bed.notes(1), vec![], "no false mail");
    assert_eq!(bed.node(1).role(), Role::Backup);
}

/// Two backups acquiring at once (equal priorities, the owner gone): the lower-ranked one
/// gives way before adding anything.
#[test]
fn of_two_nodes_acquiring_at_once_the_lower_gives_way() {
    let trio = [("alpha", 200), ("bravo", 100), ("charlie", 100)];
    let mut bed = Bed::new(&trio, 100);
    bed.answer_ms = 5;
    bed.run_until(5_000);
    bed.crash(0);
    bed.run_until(7_000);
    assert_eq!(bed.holders, vec![false, true, false]);
    assert_eq!(bed.max_holders, 1);
    assert_eq!(bed.count(|s| *s == Seen::Acquire(2)), 0);
}

/// A one-way cut: the backup no longer hears the master and takes over; the master hears it
/// claim and says so, once per episode.
#[test]
fn an_owner_that_hears_a_lower_node_claim_its_address_says_so_once() {
    let mut bed = Bed::new(&PAIR, 100);
    bed.run_until(2_000);
    bed.blocked.insert((0, 1));
    bed.run_until(8_000);
    assert_eq!(
        bed.holders,
        vec![true, true],
        "classic mode cannot prevent this"
    );
    let rival = Notification::RivalClaim {
        peer: "backup".into(),
        vips: vec![VipId(0)],
    };
    let claims = |bed: &Bed| (bed.notes(0).iter()).filter(|n| **n == rival).count();
    assert_eq!(claims(&bed), 1, "{:?}", bed.notes(0));
    let claimed = bed.first(|s| *s == Seen::Notify(0, rival.clone())).unwrap();
    let acquired = bed.first(|s| *s == Seen::Acquire(1)).unwrap();
    assert!(
        claimed >= acquired && claimed - acquired < 500,
        "{claimed} vs {acquired}"
    );
    bed.blocked.clear();
    bed.run_until(9_000);
    assert_eq!(bed.holders, vec![true, false]);
    bed.blocked.insert((0, 1));
    bed.run_until(15_000);
    assert_eq!(claims(&bed), 2, "a second episode, a second notice");
}

/// A split brain that heals normally is no rival claim: the lower node yields at once.
#[test]
fn a_healed_split_brain_is_no_rival_claim() {
    let mut bed = Bed::new(&PAIR, 100);
    bed.run_until(2_000);
    bed.blocked.extend([(0, 1), (1, 0)]);
    bed.run_until(3_000);
    bed.blocked.clear();
    bed.run_until(5_000);
    assert_eq!(bed.holders, vec![true, false]);
    assert!(!(bed.notes(0).iter()).any(|n| matches!(n, Notification::RivalClaim { .. })));
}

/// The kernel refuses the address: the node does not count it as held, says why once, backs
/// off, and gets it when the kernel agrees again.
#[test]
fn an_address_the_kernel_refuses_is_undone_notified_and_retried() {
    let mut bed = Bed::new(&PAIR, 100);
    bed.run_until(2_000);
    bed.add_fails.insert(1);
    bed.crash(0);
    bed.run_until(6_000);
    assert_eq!(bed.node(1).role(), Role::Backup);
    assert!(!bed.node(1).holds(VipId(0)));
    let attempts = bed.count(|s| *s == Seen::Hook(1, HookKind::PreAcq));
    assert!(attempts >= 2, "tried again with back-off: {attempts}");
    let failed: Vec<_> = (bed.notes(1).into_iter())
        .filter(|n| matches!(n, Notification::AddressFailed { .. }))
        .collect();
    assert_eq!(
        failed.len(),
        1,
        "said once while nothing changes: {failed:?}"
    );
    assert!(
        !(bed.notes(1).iter()).any(|n| matches!(n, Notification::Failover { .. })),
        "no failover mail for a failover that did not happen"
    );
    assert_eq!(
        bed.count(|s| *s == Seen::Hook(1, HookKind::PostAcq)),
        0,
        "PostAcq only after an address is there"
    );
    bed.add_fails.clear();
    bed.run_until(10_000);
    assert_eq!(bed.holders, vec![false, true]);
    assert_eq!(bed.node(1).role(), Role::Master);
}

/// The kernel refuses to remove the address when the backup hands it back: the backup says
/// so, keeps claiming it, and hands over as soon as the kernel lets it remove it.
#[test]
fn an_address_the_kernel_will_not_remove_is_notified_and_removed_later() {
    let mut bed = Bed::new(&PAIR, 100);
    bed.run_until(2_000);
    bed.crash(0);
    bed.run_until(3_000);
    bed.remove_fails.insert(1);
    bed.start(0);
    bed.run_until(5_000);
    assert_eq!(
        bed.node(1).role(),
        Role::Releasing,
        "it still has the address, so it still claims it"
    );
    assert!(bed.node(1).holds(VipId(0)));
    assert_eq!(
        bed.holders,
        vec![false, true],
        "the master waits for the address to be gone"
    );
    let failed = |bed: &Bed| {
        (bed.notes(1).into_iter())
            .filter(|n| matches!(n, Notification::AddressFailed { .. }))
            .count()
    };
    assert_eq!(failed(&bed), 1, "said once while nothing changes");
    bed.remove_fails.clear();
    bed.run_until(9_000);
    assert_eq!(
        bed.holders,
        vec![true, false],
        "removed on a later try, then handed over"
    );
    assert!(!bed.node(1).holds(VipId(0)));
    assert_eq!(failed(&bed), 1);
    assert_eq!(bed.max_holders, 1, "never two holders");
    let released: Vec<_> = (bed.notes(1).into_iter())
        .filter(|n| matches!(n, Notification::Released { .. }))
        .collect();
    assert_eq!(
        released,
        [Notification::Released {
            to: Some("master".into())
        }],
        "the try that removed it names the node it went to, not a shutdown"
    );
}

/// A planned shutdown whose address the kernel will not remove says goodbye only once it is
/// gone: until then the node keeps claiming it, so no backup takes it over.
#[test]
fn a_shutdown_waits_for_an_address_the_kernel_will_not_remove() {
    let mut bed = Bed::new(&PAIR, 100);
    bed.run_until(2_000);
    bed.remove_fails.insert(0);
    bed.command(0, Command::Shutdown);
    bed.run_until(5_000);
    assert_eq!(bed.node(0).role(), Role::Releasing);
    assert_eq!(bed.holders, vec![true, false]);
    bed.remove_fails.clear();
    bed.run_until(8_000);
    assert_eq!(bed.node(0).role(), Role::Stopped);
    assert_eq!(bed.holders, vec![false, true]);
    assert_eq!(bed.max_holders, 1);
}

/// An inbox holds what a socket buffer would: a path's datagrams beyond its capacity are
/// dropped and counted, and the others are handed over in the order they came.
#[test]
fn an_inbox_drops_what_a_full_socket_buffer_would() {
    let mut inbox: Inbox<Vec<u8>> = Inbox::new(2, 3);
    for k in 0..5u8 {
        let kept = inbox.datagram(PathId(0), addr(0, 1), vec![k]);
        assert_eq!(kept, k < 3, "datagram {k}");
    }
    assert!(
        inbox.datagram(PathId(1), addr(1, 1), vec![9]),
        "each path its own buffer"
    );
    assert_eq!(inbox.overflowed(), 2);
    let mut node = Node::new(config(&PAIR, 0, 100), 1, Instant::ZERO).unwrap();
    inbox.deliver(&mut node, Instant::ZERO);
    assert!(inbox.is_empty());
    assert_eq!(
        node.counters().malformed,
        4,
        "all four kept were handed over"
    );
    assert!(inbox.datagram(PathId(0), addr(0, 1), vec![0]), "room again");
}

// Operators: standby, active, switchover (see "Operators" in `failover_core::node`).

const TRIO: [(&str, u8); 3] = [("alpha", 200), ("bravo", 150), ("charlie", 100)];

fn standby_to(to: &str) -> Result<Accepted, Refusal> {
    Ok(Accepted::Standby {
        to: Some(to.into()),
        already: false,
    })
}

fn switchover(to: Option<&str>) -> Request {
    Request::Switchover {
        to: to.map(String::from),
    }
}

/// The time (ms) of the last thing `pred` matches.
fn last(bed: &Bed, pred: impl Fn(&Seen) -> bool) -> u64 {
    let at = bed.log.iter().rev().find(|(_, s)| pred(s)).map(|(t, _)| *t);
    at.expect("it happened") / MS
}

#[test]
fn standby_of_the_owner_hands_over_in_order_and_lasts_across_a_restart_until_active() {
    let mut bed = Bed::new(&PAIR, 100);
    bed.run_until(5_000);
    assert_eq!(bed.holders, vec![true, false]);
    bed.ask(0, Request::Standby);
    bed.run_until(5_100);
    let answers = bed.answers(0);
    assert_eq!(answers.len(), 1);
    assert!(
        answers[0].0 < 5_010,
        "the live backup answered the roll call at once"
    );
    assert_eq!(answers[0].1, standby_to("backup"));
    assert!(bed.node(0).standby());
    // In order: released (no Test: the operator decided), then taken over at once.
    let released = bed.first(|s| *s == Seen::Release(0)).unwrap();
    let taken = bed.first(|s| *s == Seen::Acquire(1)).unwrap();
    assert!(released <= taken && taken < 5_020, "{released} {taken}");
    assert_eq!(bed.count(|s| *s == Seen::Hook(0, HookKind::Test)), 1);
    assert_eq!(bed.count(|s| *s == Seen::Hook(0, HookKind::PostRel)), 1);
    assert_eq!(bed.max_holders, 1);

    // It stays a backup, also across a restart that finds the flag in its state directory.
    bed.run_until(10_000);
    bed.crash(0);
    bed.start_as(0, true);
    bed.run_until(15_000);
    assert_eq!(bed.holders, vec![false, true]);
    assert_eq!(bed.count(|s| *s == Seen::Acquire(0)), 1, "only the first");
    let now = Instant::from_nanos(bed.now);
    let seen = bed.node(1).status(now).peers;
    assert!(seen[0].standby && seen[0].priority == 0, "{seen:?}");
    // Never, not even with no one else left to own them.
    bed.crash(1);
    bed.run_until(18_000);
    assert_eq!(bed.holders, vec![false, false]);
    assert_eq!(bed.node(0).role(), Role::Backup);
    bed.start(1);
    bed.run_until(20_000);
    assert_eq!(bed.holders, vec![false, true]);

    // Active again: the ordinary hand-back, in order.
    bed.ask(0, Request::Active);
    bed.run_until(22_000);
    assert_eq!(
        bed.answers(0).last().unwrap().1,
        Ok(Accepted::Active { already: false })
    );
    assert!(!bed.node(0).standby());
    assert_eq!(bed.holders, vec![true, false]);
    assert!(last(&bed, |s| *s == Seen::Release(1)) <= last(&bed, |s| *s == Seen::Acquire(0)));
    assert_eq!(bed.max_holders, 1);
}

#[test]
fn standby_is_refused_when_no_backup_answers_within_dead_after() {
    let mut bed = Bed::new(&PAIR, 100);
    bed.run_until(5_000);
    bed.crash(1); // a passive backup: the owner cannot tell until it asks
    bed.ask(0, Request::Standby);
    bed.run_until(6_000);
    assert_eq!(
        bed.answers(0),
        vec![(5_300, Err(Refusal::NoEligibleNode { waited_ms: 300 }))]
    );
    assert!(!bed.node(0).standby());
    assert_eq!(bed.node(0).role(), Role::Master);
    assert_eq!(bed.holders, vec![true, false]);
    // With the backup back, the same request goes through.
    bed.start(1);
    bed.run_until(7_000);
    bed.ask(0, Request::Standby);
    bed.run_until(8_000);
    assert_eq!(bed.answers(0).last().unwrap().1, standby_to("backup"));
    assert_eq!(bed.holders, vec![false, true]);
}

#[test]
fn a_paused_backup_that_resumes_within_dead_after_answers_and_one_that_does_not_is_passed_over() {
    let mut bed = Bed::new(&PAIR, 100);
    bed.run_until(5_000);
    bed.pause(1);
    bed.ask(0, Request::Standby);
    bed.run_until(5_400);
    bed.resume(1);
    bed.run_until(6_000);
    assert_eq!(
        bed.answers(0),
        vec![(5_300, Err(Refusal::NoEligibleNode { waited_ms: 300 }))]
    );
    assert_eq!(bed.holders, vec![true, false], "nothing moved");
    assert_eq!(bed.count(|s| *s == Seen::Role(1, Role::Acquiring)), 0);

    bed.pause(1);
    bed.ask(0, Request::Standby);
    bed.run_until(6_150);
    bed.resume(1);
    bed.run_until(7_000);
    let (at, answer) = bed.answers(0)[1].clone();
    assert_eq!(answer, standby_to("backup"));
    assert!((6_150..6_160).contains(&at), "answered on resuming: {at}");
    assert_eq!(bed.holders, vec![false, true]);
    assert_eq!(bed.max_holders, 1);
}

#[test]
fn a_switchover_hands_over_to_the_node_named_alone_and_it_keeps_the_addresses() {
    let mut bed = Bed::new(&TRIO, 100);
    bed.run_until(5_000);
    bed.ask(0, switchover(Some("charlie")));
    bed.run_until(10_000);
    let answers = bed.answers(0);
    assert_eq!(
        answers[0].1,
        Ok(Accepted::Switchover {
            to: "charlie".into()
        })
    );
    assert!(answers[0].0 < 5_010);
    assert_eq!(bed.holders, vec![false, false, true]);
    assert_eq!(bed.max_holders, 1);
    assert!(
        bed.first(|s| *s == Seen::Acquire(2)).unwrap() < 5_020,
        "at once"
    );
    assert_eq!(
        bed.count(|s| *s == Seen::Role(1, Role::Acquiring)),
        0,
        "bravo knew whom to wait for"
    );
    // Not taken back by preemption, not even by a restarted alpha.
    assert_eq!(bed.count(|s| *s == Seen::Acquire(0)), 1);
    assert!(bed.node(2).status(Instant::from_nanos(bed.now)).kept);
    assert!(!bed.node(0).standby(), "a switchover is no standby");
    bed.crash(0);
    bed.start(0);
    bed.run_until(15_000);
    assert_eq!(bed.holders, vec![false, false, true]);
    // The hold ends with charlie: the best live node owns again.
    bed.crash(2);
    bed.run_until(17_000);
    assert_eq!(bed.holders, vec![true, false, false]);
    assert_eq!(bed.max_holders, 1);
}

/// An owner restarted since it last heard a passive backup does not know it: the roll call
/// must not end at the first answer of the nodes it knows while a configured address has not
/// answered (`swarm-operators-three-nodes`, guided: alpha handed over to charlie with bravo's
/// answer on its way, and charlie handed the addresses straight on to bravo).
#[test]
fn a_roll_call_waits_for_a_configured_address_the_owner_has_not_heard_since_it_started() {
    let mut bed = Bed::new(&TRIO, 100);
    bed.run_until(5_000);
    // Alpha restarts while bravo cannot reach it: it learns only charlie.
    bed.blocked.insert((1, 0));
    bed.crash(0);
    bed.start(0);
    bed.run_until(10_000);
    bed.blocked.clear();
    assert_eq!(bed.holders, vec![true, false, false]);
    let now = Instant::from_nanos(bed.now);
    let known: Vec<String> = bed
        .node(0)
        .status(now)
        .peers
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(
        known,
        vec!["charlie".to_string()],
        "bravo is passive: alpha never heard it"
    );
    // Bravo answers the roll call a little late (its process stopped for 50 ms).
    bed.pause(1);
    bed.ask(0, Request::Standby);
    bed.run_until(10_050);
    bed.resume(1);
    bed.run_until(12_000);
    assert_eq!(bed.answers(0)[0].1, standby_to("bravo"));
    assert_eq!(bed.holders, vec![false, true, false]);
    assert_eq!(
        bed.count(|s| *s == Seen::Acquire(2)),
        0,
        "charlie never took over"
    );
}

#[test]
fn a_switchover_without_a_name_goes_to_the_best_other_live_node() {
    let mut bed = Bed::new(&TRIO, 100);
    bed.run_until(5_000);
    bed.ask(0, switchover(None));
    bed.run_until(8_000);
    assert_eq!(
        bed.answers(0)[0].1,
        Ok(Accepted::Switchover { to: "bravo".into() })
    );
    assert_eq!(bed.holders, vec![false, true, false]);
    assert_eq!(bed.count(|s| *s == Seen::Role(2, Role::Acquiring)), 0);
    assert_eq!(bed.max_holders, 1);
}

#[test]
fn a_switchover_the_group_cannot_carry_out_is_refused_and_changes_nothing() {
    let mut bed = Bed::new(&TRIO, 100);
    bed.run_until(5_000);
    bed.ask(1, switchover(None));
    let owner = Some("alpha".to_string());
    assert_eq!(
        bed.answers(1),
        vec![(5_000, Err(Refusal::NotOwner { owner }))]
    );
    bed.ask(0, switchover(Some("zulu")));
    bed.ask(0, switchover(Some("alpha")));
    bed.run_until(5_100);
    let known = vec!["bravo".to_string(), "charlie".to_string()];
    let zulu = Refusal::UnknownNode {
        node: "zulu".into(),
        known,
    };
    let itself = Refusal::Ineligible {
        node: "alpha".into(),
        why: Ineligible::Itself,
    };
    assert_eq!(
        bed.answers(0),
        vec![(5_000, Err(zulu)), (5_000, Err(itself))]
    );

    // bravo in standby (it hears the owner: at once), then named.
    bed.ask(1, Request::Standby);
    assert_eq!(
        bed.answers(1)[1],
        (
            5_100,
            Ok(Accepted::Standby {
                to: None,
                already: false
            })
        )
    );
    bed.run_until(5_500);
    bed.ask(0, switchover(Some("bravo")));
    bed.run_until(5_600);
    let standby = Refusal::Ineligible {
        node: "bravo".into(),
        why: Ineligible::Standby,
    };
    assert_eq!(bed.answers(0)[2].1, Err(standby));

    // charlie dead (unnoticed, passive); one request at a time.
    bed.crash(2);
    bed.ask(0, switchover(Some("charlie")));
    bed.ask(0, Request::Active);
    bed.run_until(6_000);
    let busy = Refusal::Busy {
        what: failover_core::Busy::HandOver,
    };
    let dead = Refusal::NotAlive {
        node: "charlie".into(),
        waited_ms: 300,
    };
    let answers = bed.answers(0);
    assert_eq!(answers[3], (5_600, Err(busy)));
    assert_eq!(answers[4], (5_900, Err(dead)));
    // Without a name: bravo is in standby and charlie dead, so no one.
    bed.ask(0, switchover(None));
    bed.run_until(7_000);
    assert_eq!(
        bed.answers(0)[5],
        (6_300, Err(Refusal::NoEligibleNode { waited_ms: 300 }))
    );
    assert_eq!(bed.holders, vec![true, false, false]);
    assert_eq!(bed.count(|s| matches!(s, Seen::Release(_))), 0);
}

#[test]
fn a_backup_that_hears_no_owner_enters_standby_only_if_another_node_could_own() {
    let mut bed = Bed::new(&PAIR, 100);
    bed.hooks
        .insert((1, HookKind::Test), Some(HookOutcome::Failed(Some(1))));
    bed.run_until(5_000);
    bed.crash(0);
    bed.run_until(6_000); // the backup's takeover was refused by Test: nobody owns
    assert_eq!(bed.holders, vec![false, false]);
    bed.ask(1, Request::Standby);
    bed.run_until(7_000);
    assert_eq!(
        bed.answers(1),
        vec![(6_300, Err(Refusal::NoEligibleNode { waited_ms: 300 }))]
    );
    assert!(!bed.node(1).standby());
    // The master back (before it is settled as owner): the backup hears a node that can own.
    bed.start(0);
    bed.ask(1, Request::Standby);
    bed.run_until(10_000);
    let (_, answer) = bed.answers(1)[1].clone();
    assert_eq!(
        answer,
        Ok(Accepted::Standby {
            to: None,
            already: false
        })
    );
    assert_eq!(bed.holders, vec![true, false]);
}

#[test]
fn a_backup_asked_for_standby_takes_nothing_over_while_it_waits_for_answers() {
    let mut bed = Bed::new(&PAIR, 100);
    bed.hooks
        .insert((1, HookKind::Test), Some(HookOutcome::Failed(Some(1))));
    bed.run_until(5_000);
    bed.crash(0);
    // The backup's takeover is refused by Test, and asked again after a back-off.
    bed.run_until(5_450);
    assert_eq!(bed.count(|s| *s == Seen::Role(1, Role::Acquiring)), 1);
    bed.hooks.clear();
    bed.ask(1, Request::Standby);
    bed.run_until(8_000);
    // No one answers the roll call: refused, and only then is the takeover tried again.
    assert_eq!(
        bed.answers(1),
        vec![(5_750, Err(Refusal::NoEligibleNode { waited_ms: 300 }))]
    );
    let retried = last(&bed, |s| *s == Seen::Role(1, Role::Acquiring));
    assert!(
        retried >= 5_750,
        "not while it waited for answers: {retried}"
    );
    assert_eq!(bed.holders, vec![false, true]);
}
