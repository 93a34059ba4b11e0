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
//! | `tamper` | — | — | — | an attacker on `segment` sends every receiver a bad datagram after each it receives there: a replay, a truncation, garbage, and in a group with a key a forgery and a corruption ([`crate::world`]'s `tamper`) |
//!
//! `standby`, `switchover` and `shutdown` are planned moves, not faults of the network or a
//! host: they count towards when the run's ownership may last change (convergence), not as a
//! time in which the checkers look away ([`crate::check::Context::unhealthy`]) — a planned
//! shutdown names its successor, which takes over at once, and a restart is a node joining.
//! Nor is `tamper`: every datagram of the attacker must be dropped and change nothing, so the
//! group must behave as on a healthy network.

use crate::topology::Party;
use failover_core::{AddressChange, HookKind};
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
}

impl FaultKind {
    /// Whether the network and the hosts stay healthy while it is in force: an attacker's
    /// datagrams must change nothing, and a planned hand-over must be as clean as any.
    pub fn keeps_healthy(&self) -> bool {
        self.is_planned() || matches!(self, FaultKind::Tamper { .. })
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
            | FaultKind::Switchover { node, .. } => Some(node),
            FaultKind::Partition { .. } | FaultKind::Degrade { .. } | FaultKind::Tamper { .. } => {
                None
            }
        }
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
