//! Faults as a run applies them: resolved against the topology (node and segment indices), each
//! with a span of time. What each kind does is written once, here, for every engine:
//!
//! | kind | the process | the host | addresses | the network |
//! |---|---|---|---|---|
//! | `crash` | dies | goes down; restarts after `duration` | vanish | nothing reaches it |
//! | `kill` | dies (SIGKILL, OOM); restarts after `duration` and removes leftovers | up | stay, still served | its host still answers ARP |
//! | `pause` | stopped (SIGSTOP, a GC, a stall) | up | stay, still served | datagrams queue in bounded buffers |
//! | `freeze` | stopped | stopped (a VM pause) | stay, served by no one | everything to and from it is lost |
//! | `shutdown` | releases, says goodbye, exits; restarts after `duration` | up | released | — |
//! | `partition`, `link_down` | — | — | — | cut (one way, or both) |
//! | `degrade` | — | — | — | loss, duplication, reordering, latency |
//! | `clock` | its clock jumps or drifts | — | — | — |
//! | `hook` | a hook fails, hangs, or is slow | — | — | — |
//! | `address` | — | the kernel refuses to add or remove addresses | — | — |
//! | `standby` | `failoverctl standby`: hands over in order, stays a backup (across restarts); `failoverctl active` after `duration` | up | released, if held | — |
//! | `switchover` | `failoverctl switchover [--to NODE]` on the node: it hands over to `to` (or the best other live node) | up | released, if held | — |
//! | `reload` | its configuration file is edited ([`ConfigChange`]) and it gets SIGHUP: `Node::reconfigure`, then a re-announcement, as `failoverd` does; a change that needs a restart is refused and the old configuration kept; after `duration`, the fields put back and reloaded again | up | stay | — |
//! | `tamper` | — | — | — | an attacker on `segment` sends every receiver a bad datagram after each it receives there: a replay, a truncation, garbage, and in a group with a key a forgery and a corruption ([`crate::world`]'s `tamper`) |
//!
//! `standby`, `switchover` and `shutdown` are planned moves, not faults of the network or a
//! host: they count towards when the run's ownership may last change (convergence), not as a
//! time in which the checkers look away ([`crate::check::Context::unhealthy`]) — a planned
//! shutdown names its successor, which takes over at once, and a restart is a node joining.
//! Nor is `tamper`: every datagram of the attacker must be dropped and change nothing, so the
//! group must behave as on a healthy network. Nor is `reload`: an operator's edit that the
//! protocol must take up as cleanly as on a healthy network (a lowered priority moves the
//! addresses by a hand-over, a key rotated in the right order moves nothing).
//!
//! A reload edits the file on the node's disk: a daemon started later (after a crash, a kill,
//! a shutdown) reads the file as it is then. A refused reload leaves the file as the daemon
//! runs it (the operator, told `reload refused`, puts it back): the simulator cannot give one
//! node addresses the others do not know, so a change that needs a restart never reaches disk.

use crate::topology::Party;
use failover_core::config::VipSettings;
use failover_core::{AddressChange, Config, HookKind};
use std::net::IpAddr;
use std::time::Duration;

/// What gets worse on a segment while `degrade` faults are in force: more loss, duplication and
/// reordering, and a latency spike.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Impairment {
    /// Probability a datagram is lost.
    pub loss: f64,
    /// Probability a datagram is delivered twice.
    pub duplicate: f64,
    /// Probability a datagram is held back (by up to an interval).
    pub reorder: f64,
    /// Extra latency, nanoseconds.
    pub delay: u64,
}

impl Impairment {
    /// Whether it changes nothing.
    pub fn is_none(&self) -> bool {
        *self == Impairment::default()
    }

    /// Two impairments at once: independent chances, added delays.
    pub fn and(self, other: Impairment) -> Impairment {
        let either = |a: f64, b: f64| 1.0 - (1.0 - a) * (1.0 - b);
        Impairment {
            loss: either(self.loss, other.loss),
            duplicate: either(self.duplicate, other.duplicate),
            reorder: either(self.reorder, other.reorder),
            delay: self.delay + other.delay,
        }
    }
}

/// What a hook does while a `hook` fault is in force.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum HookBehavior {
    /// Exits non-zero (a `Test` that says no).
    Fails,
    /// Never ends: it is killed at its deadline and counts as timed out.
    Hangs,
    /// Succeeds, but takes this much longer.
    Slow(Duration),
}

/// A fault resolved against the topology.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultKind {
    /// Cut traffic between `a` and `b` on one segment or all.
    Partition {
        /// Segment index, or every segment.
        segment: Option<usize>,
        /// One side.
        a: Vec<Party>,
        /// Other side.
        b: Vec<Party>,
        /// Only a → b.
        oneway: bool,
    },
    /// One interface down.
    LinkDown {
        /// Node.
        node: usize,
        /// Segment.
        segment: usize,
    },
    /// The host goes down; it boots again after `duration` if given.
    Crash {
        /// Node.
        node: usize,
    },
    /// The daemon dies while its host stays up; it starts again after `duration` if given.
    Kill {
        /// Node.
        node: usize,
    },
    /// The daemon process is stopped for `duration`.
    Pause {
        /// Node.
        node: usize,
    },
    /// The whole host is stopped for `duration`.
    Freeze {
        /// Node.
        node: usize,
    },
    /// The node's clock jumps forward by `offset` and runs `drift_ppm` fast (or slow).
    Clock {
        /// Node.
        node: usize,
        /// Forward jump.
        offset: Duration,
        /// Drift.
        drift_ppm: f64,
    },
    /// A hook misbehaves for `duration`.
    Hook {
        /// Node.
        node: usize,
        /// Which hook.
        hook: HookKind,
        /// How.
        behavior: HookBehavior,
    },
    /// The kernel refuses address changes of one kind for `duration`.
    Address {
        /// Node.
        node: usize,
        /// Which change fails.
        change: AddressChange,
    },
    /// Planned shutdown; the node starts again after `duration` if given.
    Shutdown {
        /// Node.
        node: usize,
    },
    /// Extra loss, duplication, reordering or latency on a segment.
    Degrade {
        /// Segment.
        segment: usize,
        /// What gets worse.
        impairment: Impairment,
    },
    /// The operator puts the node in standby; `failoverctl active` after `duration` if given.
    Standby {
        /// Node.
        node: usize,
    },
    /// The operator asks the node for a switchover, to `to` or the best other live node.
    Switchover {
        /// Node asked (the owner, if it is to succeed).
        node: usize,
        /// The node to hand over to.
        to: Option<usize>,
    },
    /// An attacker (or a broken sender) on a segment: after every datagram a node receives
    /// there, it sends that node a bad one.
    Tamper {
        /// Segment.
        segment: usize,
    },
    /// The operator edits the node's configuration file and sends its daemon SIGHUP; after
    /// `duration`, if given, puts the fields back and reloads again.
    Reload {
        /// Node.
        node: usize,
        /// What the edit changes.
        change: ConfigChange,
    },
}

impl FaultKind {
    /// Whether the network and the hosts stay healthy while it is in force: an attacker's
    /// datagrams must change nothing, and a planned hand-over must be as clean as any.
    pub fn keeps_healthy(&self) -> bool {
        self.is_planned() || matches!(self, FaultKind::Tamper { .. } | FaultKind::Reload { .. })
    }

    /// Whether it makes a node refuse a hand-over it begins — `Test` says no (or hangs), the
    /// kernel refuses an address change — so that node backs off and tries again only at the
    /// end of its back-off, up to `MAX_BACKOFF` × `dead_after` after the fault heals.
    pub fn refuses_hand_over(&self) -> bool {
        match self {
            FaultKind::Hook { hook, behavior, .. } => {
                *hook == HookKind::Test && !matches!(behavior, HookBehavior::Slow(_))
            }
            FaultKind::Address { .. } => true,
            _ => false,
        }
    }

    /// Whether the addresses move by plan: an operator's request, or a planned shutdown (the
    /// daemon releases and names its successor before it exits; its restart is a node
    /// joining). On a healthy network such a move must leave one owner throughout.
    pub fn is_planned(&self) -> bool {
        self.is_operator() || matches!(self, FaultKind::Shutdown { .. })
    }

    /// Whether this is an operator's action rather than a fault: the network and the hosts
    /// stay healthy while it runs.
    pub fn is_operator(&self) -> bool {
        matches!(
            self,
            FaultKind::Standby { .. } | FaultKind::Switchover { .. }
        )
    }

    /// The node it strikes, for the kinds that strike one.
    pub fn node(&self) -> Option<usize> {
        match *self {
            FaultKind::LinkDown { node, .. }
            | FaultKind::Crash { node }
            | FaultKind::Kill { node }
            | FaultKind::Pause { node }
            | FaultKind::Freeze { node }
            | FaultKind::Clock { node, .. }
            | FaultKind::Hook { node, .. }
            | FaultKind::Address { node, .. }
            | FaultKind::Shutdown { node }
            | FaultKind::Standby { node }
            | FaultKind::Switchover { node, .. }
            | FaultKind::Reload { node, .. } => Some(node),
            FaultKind::Partition { .. } | FaultKind::Degrade { .. } | FaultKind::Tamper { .. } => {
                None
            }
        }
    }
}

/// What a `reload` edits in a node's configuration file; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConfigChange {
    /// `node.priority`.
    pub priority: Option<u8>,
    /// `protocol.preempt`.
    pub preempt: Option<bool>,
    /// `protocol.interval`.
    pub interval: Option<Duration>,
    /// `protocol.dead_after`.
    pub dead_after: Option<Duration>,
    /// `protocol.announce_every`.
    pub announce_every: Option<Duration>,
    /// `protocol.group`.
    pub group: Option<u16>,
    /// `protocol.auth_key`, the rotation's second round: the running key becomes
    /// `previous_auth_key` unless that is given too.
    pub auth_key: Option<String>,
    /// `protocol.previous_auth_key`: the rotation's first round names the new key here.
    pub previous_auth_key: Option<String>,
    /// A `[[vip]]` added: needs a restart, so the reload is refused.
    pub add_vip: Option<IpAddr>,
    /// `protocol.lease`: a quorum setting, which needs a restart, so the reload is refused.
    pub lease: Option<Duration>,
}

impl ConfigChange {
    /// Its fields, as a scenario file names them.
    pub const FIELDS: [&'static str; 10] = [
        "priority",
        "preempt",
        "interval",
        "dead_after",
        "announce_every",
        "group",
        "auth_key",
        "previous_auth_key",
        "add_vip",
        "lease",
    ];

    /// The first field it sets, as a scenario file names it (for errors).
    pub fn first_field(&self) -> &'static str {
        let set = [
            self.priority.is_some(),
            self.preempt.is_some(),
            self.interval.is_some(),
            self.dead_after.is_some(),
            self.announce_every.is_some(),
            self.group.is_some(),
            self.auth_key.is_some(),
            self.previous_auth_key.is_some(),
            self.add_vip.is_some(),
            self.lease.is_some(),
        ];
        set.iter()
            .position(|&s| s)
            .map_or("kind", |i| Self::FIELDS[i])
    }

    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == ConfigChange::default()
    }

    /// The file `config` edited.
    pub fn apply(&self, config: &Config) -> Config {
        let mut new = config.clone();
        let p = &mut new.protocol;
        if let Some(priority) = self.priority {
            new.node.priority = priority;
        }
        p.preempt = self.preempt.unwrap_or(p.preempt);
        p.interval = self.interval.unwrap_or(p.interval);
        p.dead_after = self.dead_after.or(p.dead_after);
        p.announce_every = self.announce_every.or(p.announce_every);
        p.group = self.group.unwrap_or(p.group);
        p.lease = self.lease.or(p.lease);
        if let Some(key) = &self.auth_key {
            p.previous_auth_key = (self.previous_auth_key.clone()).or(p.auth_key.take());
            p.auth_key = Some(key.clone());
        } else if let Some(previous) = &self.previous_auth_key {
            p.previous_auth_key = Some(previous.clone());
        }
        if let Some(address) = self.add_vip {
            let interface = (config.vips.first()).map_or("eth0".into(), |v| v.interface.clone());
            new.vips.push(VipSettings {
                address,
                prefix: None,
                interface,
                primary: false,
            });
        }
        new
    }

    /// The file `config` with every field this change names put back as it was in `before`:
    /// the reload at the end of a `reload` fault's duration.
    pub fn revert(&self, before: &Config, config: &Config) -> Config {
        let mut new = config.clone();
        let (p, old) = (&mut new.protocol, &before.protocol);
        if self.priority.is_some() {
            new.node.priority = before.node.priority;
        }
        if self.preempt.is_some() {
            p.preempt = old.preempt;
        }
        if self.interval.is_some() {
            p.interval = old.interval;
        }
        if self.dead_after.is_some() {
            p.dead_after = old.dead_after;
        }
        if self.announce_every.is_some() {
            p.announce_every = old.announce_every;
        }
        if self.group.is_some() {
            p.group = old.group;
        }
        if self.lease.is_some() {
            p.lease = old.lease;
        }
        if self.auth_key.is_some() || self.previous_auth_key.is_some() {
            p.auth_key = old.auth_key.clone();
            p.previous_auth_key = old.previous_auth_key.clone();
        }
        if self.add_vip.is_some() {
            new.vips = before.vips.clone();
        }
        new
    }

    /// The change in words, as a scenario file writes its fields.
    pub fn describe(&self) -> String {
        let mut what = Vec::new();
        let d = |d: Duration| humantime::format_duration(d).to_string();
        if let Some(p) = self.priority {
            what.push(format!("priority {p}"));
        }
        if let Some(p) = self.preempt {
            what.push(format!("preempt {p}"));
        }
        if let Some(i) = self.interval {
            what.push(format!("interval {}", d(i)));
        }
        if let Some(i) = self.dead_after {
            what.push(format!("dead_after {}", d(i)));
        }
        if let Some(i) = self.announce_every {
            what.push(format!("announce_every {}", d(i)));
        }
        if let Some(g) = self.group {
            what.push(format!("group {g}"));
        }
        if self.auth_key.is_some() {
            what.push("a new auth_key".into());
        }
        if self.previous_auth_key.is_some() {
            what.push("a previous_auth_key".into());
        }
        if let Some(a) = self.add_vip {
            what.push(format!("vip {a} added"));
        }
        if let Some(l) = self.lease {
            what.push(format!("lease {}", d(l)));
        }
        what.join(", ")
    }
}

/// The operator's edits of the nodes' files for `reload` faults, as every engine makes them:
/// at a fault's start its change made to the file as it is then (the file kept, for its end),
/// at its end every field it names put back as it was.
#[derive(Debug, Default)]
pub struct Edits {
    /// Per `reload` fault in force with a duration, the node's file before it.
    before: std::collections::BTreeMap<usize, Config>,
}

impl Edits {
    /// `file` as `reload` fault `id` (`fault`) edits it at its start, or at its end (`ends`).
    pub fn edit(&mut self, id: usize, fault: &Fault, file: &Config, ends: bool) -> Config {
        let FaultKind::Reload { change, .. } = &fault.kind else {
            unreachable!("a reload fault")
        };
        if ends {
            let before = (self.before.remove(&id)).expect("kept when it began");
            return change.revert(&before, file);
        }
        if fault.duration.is_some() {
            self.before.insert(id, file.clone());
        }
        change.apply(file)
    }
}

/// What a `tamper` fault's attacker sends after a datagram it saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tamper {
    /// A datagram the same sender sent the same receiver on that path at least an interval
    /// before: stale.
    Replay,
    /// The datagram cut short.
    Truncate,
    /// The datagram broken where every decoder must refuse it: its magic, version, kind,
    /// reserved flags, role or name length, or a field area that runs past its end, repeats a
    /// field, or gives a field a length it cannot have.
    Garble,
    /// In a group with a key: the datagram claiming the owner's role at priority 255, tagged
    /// with a key that is not the group's.
    Forge,
    /// In a group with a key: one bit of the datagram flipped.
    Corrupt,
}

/// A resolved fault with its time span.
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    /// Start.
    pub at: Duration,
    /// Length, if it ends.
    pub duration: Option<Duration>,
    /// What.
    pub kind: FaultKind,
}

impl Fault {
    /// When it ends, if it does.
    pub fn end(&self) -> Option<Duration> {
        self.duration.map(|d| self.at + d)
    }
}
