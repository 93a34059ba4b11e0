//! The bounds of a swarm scenario (its `[swarm]` table): which fault kinds a seed may turn on
//! and how far each may go. The draw itself is [`crate::swarm`]'s.

use super::Scenario;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A kind of fault a swarm may draw.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SwarmKind {
    /// A symmetric partition, on one segment or all, the client on a side or not.
    Partition,
    /// A one-way partition.
    Oneway,
    /// One node's interface on one segment down.
    LinkDown,
    /// Loss on a segment.
    Loss,
    /// A latency spike on a segment.
    Delay,
    /// Duplication on a segment.
    Duplicate,
    /// Reordering on a segment.
    Reorder,
    /// A host goes down (and, four times in five, boots again).
    Crash,
    /// A daemon dies while its host stays up, and starts again (systemd's `Restart=`).
    Kill,
    /// A daemon process stops for a while.
    Pause,
    /// A whole host stops for a while.
    Freeze,
    /// A planned shutdown (and a restart).
    Shutdown,
    /// A clock jumps forward and drifts.
    Clock,
    /// A hook fails or hangs.
    Hook,
    /// A hook takes several intervals.
    SlowHook,
    /// The kernel refuses to add or remove addresses.
    Address,
    /// An operator's `failoverctl standby` on a node, `failoverctl active` after the
    /// duration (drawn only when listed: not in [`SwarmKind::ALL`]).
    Standby,
    /// An operator's `failoverctl switchover` on a node, to another or to the best (drawn only
    /// when listed).
    Switchover,
    /// An operator's edit of a node's file and SIGHUP, put back after the duration: a
    /// priority, faster heartbeats or a longer dead_after, a key added beside the one in use
    /// — or an edit the daemon must refuse (an address added, a quorum lease, a dead_after
    /// below twice the interval), alone or with one of those (drawn only when listed).
    Reload,
    /// An attacker on a segment for a while: after every datagram a node receives there, a
    /// bad one — replays, truncations, garbage, and in a group with a key forgeries and
    /// corruptions — each of which must be dropped and change nothing (drawn only when
    /// listed: not in [`SwarmKind::ALL`], so existing swarms draw what they did).
    Tamper,
}

impl SwarmKind {
    /// Every fault kind, in the order a seed considers them: the default. An operator's
    /// actions and an attacker ([`SwarmKind::LISTED`]) are drawn only by a swarm that lists
    /// them, so the draws of every existing swarm stay what they were.
    pub const ALL: [SwarmKind; 16] = [
        SwarmKind::Partition,
        SwarmKind::Oneway,
        SwarmKind::LinkDown,
        SwarmKind::Loss,
        SwarmKind::Delay,
        SwarmKind::Duplicate,
        SwarmKind::Reorder,
        SwarmKind::Crash,
        SwarmKind::Kill,
        SwarmKind::Pause,
        SwarmKind::Freeze,
        SwarmKind::Shutdown,
        SwarmKind::Clock,
        SwarmKind::Hook,
        SwarmKind::SlowHook,
        SwarmKind::Address,
    ];

    /// Kinds drawn only by a swarm that lists them: an operator's actions, and an attacker.
    pub const LISTED: [SwarmKind; 4] = [
        SwarmKind::Standby,
        SwarmKind::Switchover,
        SwarmKind::Reload,
        SwarmKind::Tamper,
    ];

    /// Its name in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            SwarmKind::Partition => "partition",
            SwarmKind::Oneway => "oneway",
            SwarmKind::LinkDown => "link_down",
            SwarmKind::Loss => "loss",
            SwarmKind::Delay => "delay",
            SwarmKind::Duplicate => "duplicate",
            SwarmKind::Reorder => "reorder",
            SwarmKind::Crash => "crash",
            SwarmKind::Kill => "kill",
            SwarmKind::Pause => "pause",
            SwarmKind::Freeze => "freeze",
            SwarmKind::Shutdown => "shutdown",
            SwarmKind::Clock => "clock",
            SwarmKind::Hook => "hook",
            SwarmKind::SlowHook => "slow_hook",
            SwarmKind::Address => "address",
            SwarmKind::Standby => "standby",
            SwarmKind::Switchover => "switchover",
            SwarmKind::Reload => "reload",
            SwarmKind::Tamper => "tamper",
        }
    }
}

/// The most faults one seed may draw: more would be no test of the protocol, only of memory.
pub const MAX_FAULTS: u32 = 1000;

/// The bounds of what a seed may draw.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Swarm {
    /// No drawn fault begins before this (the group settles first).
    #[serde(with = "humantime_serde")]
    pub start: Duration,
    /// The last `heal` of the run has no drawn fault: convergence is checked there.
    #[serde(with = "humantime_serde")]
    pub heal: Duration,
    /// Each seed draws between one and this many faults.
    pub max_faults: u32,
    /// The kinds a seed chooses from (each seed turns a random non-empty subset on).
    pub kinds: Vec<SwarmKind>,
    /// Shortest drawn fault.
    #[serde(with = "humantime_serde")]
    pub min_duration: Duration,
    /// Longest drawn fault.
    #[serde(with = "humantime_serde")]
    pub max_duration: Duration,
    /// Worst loss probability.
    pub max_loss: f64,
    /// Worst duplication probability.
    pub max_duplicate: f64,
    /// Worst reordering probability.
    pub max_reorder: f64,
    /// Worst latency spike.
    #[serde(with = "humantime_serde")]
    pub max_delay: Duration,
    /// Worst clock drift, parts per million either way. By default 500: the most Linux's
    /// clock discipline (adjtimex) slews CLOCK_MONOTONIC, which the daemon's timers read.
    pub max_drift_ppm: f64,
    /// Worst forward clock jump. None by default: CLOCK_MONOTONIC never steps (NTP and
    /// `date` step the wall clock, which the daemon's timers do not read); it leaps forward
    /// only when the whole host stopped, which `freeze` draws. A scenario that models a
    /// broken clock sets this, and loosens `max_split_brain_unjustified` with its reason.
    #[serde(with = "humantime_serde")]
    pub max_clock_jump: Duration,
    /// Longest extra time a slow hook takes.
    #[serde(with = "humantime_serde")]
    pub max_hook_latency: Duration,
    /// Whether partitions may put the client on one side.
    pub client_partitions: bool,
}

impl Default for Swarm {
    fn default() -> Self {
        Swarm {
            start: Duration::from_secs(10),
            heal: Duration::from_secs(60),
            max_faults: 6,
            kinds: SwarmKind::ALL.to_vec(),
            min_duration: Duration::from_secs(1),
            max_duration: Duration::from_secs(20),
            max_loss: 0.5,
            max_duplicate: 0.3,
            max_reorder: 0.3,
            max_delay: Duration::from_secs(1),
            max_drift_ppm: 500.0,
            max_clock_jump: Duration::ZERO,
            max_hook_latency: Duration::from_secs(5),
            client_partitions: true,
        }
    }
}

impl Swarm {
    /// Checks the bounds against the scenario; the message names the field.
    pub fn validate(&self, scenario: &Scenario) -> Result<(), (String, String)> {
        let bad = |field: &str, msg: String| Err((format!("swarm.{field}"), msg));
        if self.kinds.is_empty() {
            return bad("kinds", "at least one kind".into());
        }
        if self.max_faults == 0 || self.max_faults > MAX_FAULTS {
            return bad("max_faults", format!("between 1 and {MAX_FAULTS}"));
        }
        if self.min_duration.is_zero() || self.min_duration > self.max_duration {
            return bad(
                "min_duration",
                "more than zero and at most max_duration".into(),
            );
        }
        // A drawn latency is whole milliseconds, at least one.
        for (field, longest) in [
            ("max_delay", self.max_delay),
            ("max_hook_latency", self.max_hook_latency),
        ] {
            if longest < Duration::from_millis(1) {
                return bad(
                    field,
                    format!(
                        "is {longest:?}; at least 1ms (leave its kind out of `kinds` for none)"
                    ),
                );
            }
        }
        let span =
            (self.start.checked_add(self.max_duration)).and_then(|d| d.checked_add(self.heal));
        if span.is_none_or(|span| span > scenario.duration) {
            return bad(
                "heal",
                format!(
                    "start ({:?}) + max_duration ({:?}) + heal ({:?}) must fit in the run ({:?})",
                    self.start, self.max_duration, self.heal, scenario.duration
                ),
            );
        }
        for (field, p) in [
            ("max_loss", self.max_loss),
            ("max_duplicate", self.max_duplicate),
            ("max_reorder", self.max_reorder),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return bad(field, "a probability, 0 to 1".into());
            }
        }
        if !(0.0..1e6).contains(&self.max_drift_ppm) {
            return bad("max_drift_ppm", "between 0 and 1,000,000".into());
        }
        Ok(())
    }
}
