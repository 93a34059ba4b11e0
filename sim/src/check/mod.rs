//! Invariant checkers, kept apart from the simulator (as in TigerBeetle's): they see every
//! [`Observation`] of a run and know nothing of how it was produced, so any engine that can
//! say "this node acquired that address at this time" can be judged by them.

mod announcements;
mod availability;
mod claims;
mod convergence;
mod grants;
mod hooks;
mod latency;
mod notifications;
mod operator;
mod reload;
mod split_brain;
mod status;
mod tamper;

pub use grants::GrantsSeen;
pub use reload::{Outcome, Settings};
pub use status::{Known, PeerKnown, PeerSaid, QuorumSaid, Said, StatusSeen};

pub use crate::record::Observation;

use crate::fault::{Fault, FaultKind, HookBehavior};
use crate::scenario::{Expect, Scenario};
use failover_core::HookKind;
use std::collections::BTreeSet;
use std::rc::Rc;
use std::time::Duration;

/// One invariant, watching a run.
pub trait Checker {
    /// Sees one observation at simulated time `at` (nanoseconds).
    fn observe(&mut self, at: u64, obs: &Observation);
    /// The run ended at `at`: add figures and violations.
    fn finish(&mut self, at: u64, findings: &mut Findings);
    /// Whether it looks at [`Observation::Heard`] ([`Checkers`] shows them to no other: there
    /// is one per datagram).
    fn judges_deliveries(&self) -> bool {
        false
    }
}

/// What the checkers need to know of the run's set-up.
#[derive(Clone, Debug)]
pub struct Context {
    /// Node priorities at the start, by index (names break ties: smaller wins); a witness,
    /// which never owns, has 0. A `reload` may change them: [`Context::settings_at`].
    pub nodes: Vec<(String, u8)>,
    /// Per node, the settings its configuration file gives it from each time on
    /// (nanoseconds, the first from 0), following `reload` faults.
    pub settings: Vec<Vec<(u64, Settings)>>,
    /// Per resolved fault, a reload's outcome when it begins and, if it has a duration, when
    /// it ends: the settings it puts in force, or the field the daemon must refuse.
    pub reloads: Vec<Option<(Outcome, Option<Outcome>)>>,
    /// Number of virtual addresses.
    pub vips: usize,
    /// What the scenario expects.
    pub expect: Expect,
    /// The protocol's dead_after at the start (the longest any node's file gives it over the
    /// run: [`Context::longest_dead_after`]; at a time: [`Context::settings_at`]).
    pub dead_after: Duration,
    /// The protocol's heartbeat interval at the start.
    pub interval: Duration,
    /// The fastest any node's clock runs in the run, in parts per million (clock faults'
    /// drift): a node may find a peer silent for `dead_after` that little sooner.
    pub max_drift_ppm: f64,
    /// How many planned hand-overs the run has: an operator's requests (a standby, its
    /// `active` at the end of its duration, a switchover, a reload taken that changes a
    /// priority or preemption) and planned shutdowns (the shutdown, and the restart after its
    /// duration): each may move the addresses on a healthy network.
    pub planned_moves: u32,
    /// Per resolved fault (by index), an operator's: the node asked something when it begins
    /// (a standby, a switchover), and whether it is asked again (`active`) when it ends;
    /// each request must be answered ([`Expect::max_answer_latency`]).
    pub asks: Vec<Option<(usize, bool)>>,
    /// Per resolved fault (by index), the node whose `Test` says no (fails or hangs) while
    /// it is in force: that node cannot take the addresses over, nor hand them back.
    pub test_refusals: Vec<Option<usize>>,
    /// Whether the run's record has every fresh delivery ([`Observation::Heard`]): then split
    /// brain is judged by what was delivered; else only by the scenario's bounds. Such an
    /// engine (the simulator) also records every hook failure and refused address change
    /// ([`Observation::HookFailed`], [`Observation::AddressRefused`]), which notices are then
    /// matched to one by one.
    pub deliveries: bool,
    /// Whether a better node takes the addresses back at the start (without it, any one live
    /// owner is the right end); each node's own, after reloads: [`Context::settings_at`].
    pub preempt: bool,
    /// When the last scheduled fault ends (nanoseconds).
    pub faults_end: u64,
    /// How long the group may take to settle after faults end (`expect.converge_within`, by
    /// default 3 × dead_after + 1 s), nanoseconds.
    pub settle: u64,
    /// How long a healthy hand-over's hooks and address changes take, all addresses one
    /// after the other ([`crate::scenario::Protocol::hand_over_time`]; nanoseconds).
    pub hand_over: u64,
    /// Whether a segment loses datagrams all run long (its own `loss`, no fault): a claim
    /// or a goodbye may be lost at any time, so two nodes of different priorities may begin
    /// a takeover at once (the race rule assumes the better one's claim is heard).
    pub lossy: bool,
    /// When the group must have settled: the latest end of a fault plus `settle` — plus, by
    /// default in classic mode, the longest back-off after a fault that refuses a hand-over
    /// (`Test` saying no, the kernel refusing an address change): the retry that finds it
    /// healed may come that long after (nanoseconds).
    pub converge_by: u64,
    /// Quorum mode: how many live voters (every node, witnesses included) an owner needs.
    pub majority: Option<usize>,
    /// Quorum mode: how long a lease lasts.
    pub lease: Option<Duration>,
    /// When the network or a node is not healthy: each fault's span, from `fault_margin`
    /// before it to `settle` after it, merged and in order, nanoseconds. A fault with no
    /// duration that leaves a condition in force — a cut, a degraded segment, a hook or the
    /// kernel refusing — leaves the rest of the run unhealthy; one that is an event (a crash for
    /// good, a clock set to drift from then on) counts from its start. An operator's standby or
    /// switchover is no fault: the hand-over it asks for must be as clean as any on a healthy
    /// network.
    pub unhealthy: Vec<(u64, u64)>,
    /// The same spans with the protocol's own recovery time after each fault (the default
    /// settling time, `3 × dead_after + 1 s` in classic mode — after a hook or address fault
    /// plus the longest back-off — or `settle` if shorter) instead of `settle`: by then a split has
    /// healed and the owner has told the clients where it is, however long the scenario
    /// allows the group to converge after a pile of faults. Clients are judged outside them.
    pub recovering: Vec<(u64, u64)>,
    /// How long after an acquisition the client may still fail to reach the address: the
    /// new owner's gratuitous ARP on its way (`protocol.announce_latency`) and, as the client
    /// asks only every `client.interval`, one interval more — a request sent before the
    /// announcement arrived fails, the next one after it is the first that can succeed.
    pub announcing: u64,
}

impl Context {
    /// What the checkers of one run of `scenario` with its resolved `faults` need to know.
    pub fn new(scenario: &Scenario, faults: &[Fault]) -> Context {
        let faults_end = faults
            .iter()
            .map(|f| (f.at + f.duration.unwrap_or_default()).as_nanos() as u64)
            .max()
            .unwrap_or(0);
        let dead_after = scenario.protocol.dead_after();
        let files = reload::Files::new(scenario, faults);
        // A reload that lengthens dead_after lengthens what settling may take as well.
        let longest = (files.settings.iter().flatten())
            .map(|(_, s)| s.dead_after)
            .fold(dead_after, Duration::max);
        let settle = (scenario.expect.converge_within)
            .unwrap_or_else(|| scenario.default_settle() + (longest - dead_after) * 3)
            .as_nanos() as u64;
        let margin = scenario.expect.fault_margin.as_nanos() as u64;
        let backoff = (longest * failover_core::node::MAX_BACKOFF).as_nanos() as u64;
        // (quorum mode's default settling time has the back-off in it already)
        let own_settle = scenario.expect.converge_within.is_none() && !scenario.quorum();
        // A hook that began to hang (or crawl) while its fault was in force goes on until
        // core gives up on it at its deadline: the fault's effect outlasts it by that much.
        let timeout = scenario.protocol.hook_timeout;
        let lingering = |kind: &FaultKind| {
            match *kind {
                FaultKind::Hook { behavior, .. } => match behavior {
                    HookBehavior::Hangs => timeout,
                    HookBehavior::Slow(extra) => extra.min(timeout),
                    HookBehavior::Fails => Duration::ZERO,
                },
                _ => Duration::ZERO,
            }
            .as_nanos() as u64
        };
        let settle_after = |kind: &FaultKind| match kind.refuses_hand_over() && own_settle {
            true => settle + lingering(kind) + backoff,
            false => settle + lingering(kind),
        };
        let converge_by = (faults.iter())
            .map(|f| {
                (f.at + f.duration.unwrap_or_default()).as_nanos() as u64 + settle_after(&f.kind)
            })
            .max()
            .unwrap_or(settle);
        let unhealthy = unhealthy_spans(faults, margin, settle_after);
        // The protocol's own recovery bound, whatever the scenario allows for convergence: a
        // refused hook or address change may leave its longest back-off still to run.
        let recover = scenario.default_settle().as_nanos() as u64;
        let announcing =
            (scenario.protocol.announce_latency + scenario.client.interval).as_nanos() as u64;
        // A client cut off from the owner while it announced itself learns where the addresses
        // are only from the owner's next periodic announcement: a gratuitous ARP lost on the
        // way is not repeated before (with a fast interval, long after the group settled).
        let reannounced =
            (scenario.announce_every()).map_or(0, |every| every.as_nanos() as u64 + announcing);
        // A client's request in flight when a fault begins fails: clients are judged from a
        // round trip before each fault on.
        let round_trip = (scenario.segments.iter())
            .map(|s| (s.latency + s.jitter).as_nanos() as u64 * 2)
            .max()
            .unwrap_or(0);
        let recovering = unhealthy_spans(faults, margin.max(round_trip), |kind| match kind {
            FaultKind::Hook { .. } | FaultKind::Address { .. } => {
                settle_after(kind).min(recover + lingering(kind) + backoff)
            }
            FaultKind::Partition { .. }
            | FaultKind::LinkDown { .. }
            | FaultKind::Degrade { .. } => settle.min(recover).max(reannounced),
            _ => settle.min(recover),
        });
        Context {
            nodes: (scenario.nodes.iter())
                .map(|n| (n.name.clone(), if n.witness { 0 } else { n.priority }))
                .collect(),
            settings: files.settings.clone(),
            reloads: files.reloads.clone(),
            vips: scenario.vips.len(),
            expect: scenario.expect.clone(),
            dead_after,
            interval: scenario.protocol.interval,
            max_drift_ppm: (faults.iter())
                .filter_map(|f| match f.kind {
                    FaultKind::Clock { drift_ppm, .. } => Some(drift_ppm),
                    _ => None,
                })
                .fold(0.0, f64::max),
            deliveries: false,
            planned_moves: (faults.iter())
                .filter(|f| f.kind.is_planned())
                .map(|f| match f.kind {
                    FaultKind::Standby { .. } | FaultKind::Shutdown { .. }
                        if f.duration.is_some() =>
                    {
                        2
                    }
                    _ => 1,
                })
                .sum::<u32>()
                + files.moves,
            asks: (faults.iter())
                .map(|f| match f.kind {
                    FaultKind::Standby { node } => Some((node, f.duration.is_some())),
                    FaultKind::Switchover { node, .. } => Some((node, false)),
                    _ => None,
                })
                .collect(),
            test_refusals: (faults.iter())
                .map(|f| match f.kind {
                    FaultKind::Hook {
                        node,
                        hook: HookKind::Test,
                        ..
                    } => f.kind.refuses_hand_over().then_some(node),
                    _ => None,
                })
                .collect(),
            preempt: scenario.protocol.preempt,
            majority: scenario.quorum().then_some(scenario.nodes.len() / 2 + 1),
            lease: scenario.quorum().then(|| scenario.lease()),
            faults_end,
            settle,
            converge_by,
            lossy: scenario.segments.iter().any(|s| s.loss > 0.0),
            hand_over: scenario
                .protocol
                .hand_over_time(scenario.vips.len())
                .as_nanos() as u64,
            unhealthy,
            recovering,
            announcing,
        }
    }

    /// How long `node` listens after its daemon starts before it may claim (the protocol's
    /// start-up wait: `dead_after` plus the priority skew `interval × (255 − priority) / 256`).
    /// (The settings its file gives it at `at`.)
    pub fn startup_wait(&self, node: usize, at: u64) -> u64 {
        let s = self.settings_at(node, at);
        let skew = failover_core::node::priority_skew(s.interval, s.priority);
        (s.dead_after + skew).as_nanos() as u64
    }

    /// How much of [from, to) is outside every unhealthy span.
    pub fn healthy_within(&self, from: u64, to: u64) -> u64 {
        outside(&self.unhealthy, from, to)
    }

    /// How much of [from, to) is outside every span of recovery from a fault.
    pub fn recovered_within(&self, from: u64, to: u64) -> u64 {
        outside(&self.recovering, from, to)
    }

    /// The longest stretch of [from, to) outside every unhealthy span: its start and length.
    pub fn longest_healthy_within(&self, from: u64, to: u64) -> (u64, u64) {
        let mut best = (from, 0);
        let mut start = from;
        for &(s, e) in &self.unhealthy {
            if e <= start {
                continue;
            }
            if s >= to {
                break;
            }
            if s > start && s - start > best.1 {
                best = (start, s - start);
            }
            start = start.max(e);
        }
        if to > start && to - start > best.1 {
            best = (start, to - start);
        }
        best
    }

    /// The settings node `node`'s configuration file gives it at `at` (reloads followed).
    pub fn settings_at(&self, node: usize, at: u64) -> &Settings {
        let all = &self.settings[node];
        let i = all.partition_point(|(from, _)| *from <= at);
        &all[i.saturating_sub(1)].1
    }

    /// Node `node`'s rank at `at`: its priority, then (ties) the smaller name.
    pub fn rank_at(&self, node: usize, at: u64) -> (u8, std::cmp::Reverse<&str>) {
        let priority = self.settings_at(node, at).priority;
        (priority, std::cmp::Reverse(self.nodes[node].0.as_str()))
    }

    /// The longest `dead_after` any node's file gives it at some time of the run.
    pub fn longest_dead_after(&self) -> Duration {
        (self.settings.iter().flatten())
            .map(|(_, s)| s.dead_after)
            .fold(self.dead_after, Duration::max)
    }

    /// The longest heartbeat interval any node's file gives it at some time of the run.
    pub fn longest_interval(&self) -> Duration {
        (self.settings.iter().flatten())
            .map(|(_, s)| s.interval)
            .fold(self.interval, Duration::max)
    }

    /// The longest `dead_after` any node's file gives it at some time in [from, to].
    pub fn dead_after_within(&self, from: u64, to: u64) -> Duration {
        let mut longest = Duration::ZERO;
        for (n, all) in self.settings.iter().enumerate() {
            longest = longest.max(self.settings_at(n, from).dead_after);
            for (at, s) in all {
                if (from..=to).contains(at) {
                    longest = longest.max(s.dead_after);
                }
            }
        }
        longest
    }

    /// The node that should own the addresses among `live` ones at `at`.
    pub fn best(&self, live: impl Iterator<Item = usize>, at: u64) -> Option<usize> {
        (live.filter(|&n| self.settings_at(n, at).priority > 0))
            .max_by_key(|&n| self.rank_at(n, at))
    }
}

/// A broken invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Which invariant.
    pub invariant: &'static str,
    /// What happened, with times.
    pub detail: String,
}

/// The figures of a run.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Figures {
    /// Owner lost → new owner, per failover (nanoseconds).
    pub failover_latencies: Vec<u64>,
    /// Time with two or more holders of one address, summed over addresses.
    pub split_brain_total: u64,
    /// Longest such window.
    pub split_brain_longest: u64,
    /// Time with no holder, after the first acquisition, summed over addresses.
    pub unavailable: u64,
    /// Client requests answered.
    pub requests_ok: u64,
    /// Client requests not answered.
    pub requests_failed: u64,
    /// Acquisitions in the run.
    pub ownership_changes: u32,
    /// Network-anomaly notifications.
    pub anomalies: u32,
    /// Rival-claim notifications (an owner hearing a lower node claim its address).
    #[serde(default)]
    pub rival_claims: u32,
    /// Datagrams dropped unread because a daemon's socket buffer was full (the simulator's
    /// bounded buffers, `protocol.socket_buffer`; other engines do not see the kernel's).
    #[serde(default)]
    pub datagrams_overflowed: u64,
}

/// Figures plus violations.
#[derive(Clone, Debug, Default)]
pub struct Findings {
    /// Measured.
    pub figures: Figures,
    /// Broken.
    pub violations: Vec<Violation>,
}

impl Findings {
    /// The names of the broken invariants, each once, in name order.
    pub fn broken(&self) -> BTreeSet<&'static str> {
        self.violations.iter().map(|v| v.invariant).collect()
    }

    /// Records a violation.
    pub fn violate(&mut self, invariant: &'static str, detail: String) {
        self.violations.push(Violation { invariant, detail });
    }
}

/// Which nodes are live — the daemon runs, unpaused, on a host that is up — derived from
/// observations; shared by the checkers.
#[derive(Clone, Debug)]
pub(crate) struct Liveness {
    up: Vec<bool>,
    paused: Vec<bool>,
    host_down: Vec<bool>,
    /// Since when each node has been live, if it is.
    since: Vec<Option<u64>>,
    /// When each node's daemon last started.
    started: Vec<u64>,
}

impl Liveness {
    pub fn new(nodes: usize) -> Liveness {
        Liveness {
            up: vec![true; nodes],
            paused: vec![false; nodes],
            host_down: vec![false; nodes],
            since: vec![Some(0); nodes],
            started: vec![0; nodes],
        }
    }

    /// Applies an observation at `at`; true if it was one about liveness.
    pub fn apply(&mut self, at: u64, obs: &Observation) -> bool {
        let node = match *obs {
            Observation::Down { node } => {
                self.up[node] = false;
                node
            }
            Observation::Up { node } => {
                self.up[node] = true;
                self.paused[node] = false;
                self.started[node] = at;
                node
            }
            Observation::Paused { node } => {
                self.paused[node] = true;
                node
            }
            Observation::Resumed { node } => {
                self.paused[node] = false;
                node
            }
            Observation::HostDown { node } => {
                self.host_down[node] = true;
                node
            }
            Observation::HostUp { node } => {
                self.host_down[node] = false;
                node
            }
            _ => return false,
        };
        let live = self.live(node);
        match (live, self.since[node]) {
            (true, None) => self.since[node] = Some(at),
            (false, Some(_)) => self.since[node] = None,
            _ => {}
        }
        true
    }

    pub fn live(&self, node: usize) -> bool {
        self.up[node] && !self.paused[node] && !self.host_down[node]
    }

    /// When `node`'s daemon last started.
    pub fn started(&self, node: usize) -> u64 {
        self.started[node]
    }

    /// Whether `node` has been live without a break since `from` at least.
    pub fn live_since(&self, node: usize, from: u64) -> bool {
        self.since[node].is_some_and(|s| s <= from)
    }

    pub fn nodes(&self) -> usize {
        self.up.len()
    }
}

/// How much of [from, to) is outside every one of `spans` (merged, in order).
fn outside(spans: &[(u64, u64)], from: u64, to: u64) -> u64 {
    let covered: u64 = (spans.iter())
        .map(|&(s, e)| to.min(e).saturating_sub(from.max(s)))
        .sum();
    (to - from).saturating_sub(covered)
}

/// Each fault's span, from `margin` before it to `settle` after it (see
/// [`Context::unhealthy`]), merged and in order.
fn unhealthy_spans(
    faults: &[Fault],
    margin: u64,
    settle: impl Fn(&FaultKind) -> u64,
) -> Vec<(u64, u64)> {
    let mut spans: Vec<(u64, u64)> = (faults.iter())
        .filter(|f| !f.kind.keeps_healthy())
        .map(|f| {
            let start = (f.at.as_nanos() as u64).saturating_sub(margin);
            let end = match (f.duration, &f.kind) {
                (Some(d), kind) => start + d.as_nanos() as u64 + settle(kind),
                (
                    None,
                    FaultKind::Partition { .. }
                    | FaultKind::LinkDown { .. }
                    | FaultKind::Degrade { .. }
                    | FaultKind::Hook { .. }
                    | FaultKind::Address { .. },
                ) => u64::MAX,
                (None, kind) => start + settle(kind),
            };
            (start, end)
        })
        .collect();
    spans.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::new();
    for (start, end) in spans {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

/// Who holds each address, derived from observations; shared by the checkers.
#[derive(Clone, Debug)]
pub(crate) struct Holders {
    holders: Vec<Vec<usize>>,
}

impl Holders {
    pub fn new(vips: usize) -> Holders {
        Holders {
            holders: vec![Vec::new(); vips],
        }
    }

    /// Applies an observation; returns the address it changed.
    pub fn apply(&mut self, obs: &Observation) -> Option<usize> {
        match *obs {
            Observation::Acquired { node, vip } if !self.holders[vip].contains(&node) => {
                self.holders[vip].push(node);
                Some(vip)
            }
            Observation::Released { node, vip } => {
                self.holders[vip].retain(|&n| n != node);
                Some(vip)
            }
            _ => None,
        }
    }

    pub fn of(&self, vip: usize) -> &[usize] {
        &self.holders[vip]
    }
}

/// Every checker of `scenario` over a whole record of a run (in time order) that ended at
/// `end`: how any engine that can tell what happened is judged. `deliveries`: the record has
/// every fresh delivery ([`Context::deliveries`]).
pub fn judge<'r>(
    scenario: &Scenario,
    faults: &[Fault],
    record: impl IntoIterator<Item = &'r crate::record::Record>,
    end: u64,
    deliveries: bool,
) -> Findings {
    let ctx = Context {
        deliveries,
        ..Context::new(scenario, faults)
    };
    let mut checkers = Checkers::new(ctx);
    for (at, obs) in record {
        checkers.observe_every(*at, obs);
    }
    let mut findings = Findings::default();
    checkers.finish(end, &mut findings);
    findings
}

/// Every checker of one run, as one value: each called directly — no dynamic call per
/// observation, and a delivery ([`Observation::Heard`], one per datagram) reaches only those
/// that judge them ([`Checker::judges_deliveries`]). They report in this order.
pub struct Checkers {
    split_brain: split_brain::SplitBrain,
    availability: availability::Availability,
    latency: latency::FailoverLatency,
    convergence: convergence::Convergence,
    notifications: notifications::Notifications,
    hooks: hooks::Hooks,
    tamper: tamper::Tampered,
    operator: operator::Operator,
    reload: reload::Reload,
    status: status::StatusReport,
    announcements: announcements::Announcements,
}

/// Runs `$body` with `$c` bound to each checker of `$checkers` in turn, in report order.
macro_rules! each {
    ($checkers:expr, $c:ident => $body:expr) => {
        each!(@ $checkers, $c => $body; split_brain availability latency convergence
              notifications hooks tamper operator reload status announcements)
    };
    (@ $checkers:expr, $c:ident => $body:expr; $($field:ident)*) => {{
        let all = $checkers;
        $({
            let $c = &mut all.$field;
            $body;
        })*
    }};
}

impl Checkers {
    /// Every checker, for one run (sharing `ctx`).
    pub fn new(ctx: Context) -> Checkers {
        let ctx = &Rc::new(ctx);
        Checkers {
            split_brain: split_brain::SplitBrain::new(ctx),
            availability: availability::Availability::new(ctx),
            latency: latency::FailoverLatency::new(ctx),
            convergence: convergence::Convergence::new(ctx),
            notifications: notifications::Notifications::new(ctx),
            hooks: hooks::Hooks::new(ctx),
            tamper: tamper::Tampered::new(ctx),
            operator: operator::Operator::new(ctx),
            reload: reload::Reload::new(ctx),
            status: status::StatusReport::new(ctx),
            announcements: announcements::Announcements::new(ctx),
        }
    }

    /// Shows `obs` at `at` to every checker (a delivery only to those that judge them).
    #[inline]
    pub fn observe(&mut self, at: u64, obs: &Observation) {
        if matches!(obs, Observation::Heard { .. }) {
            each!(self, c => if c.judges_deliveries() {
                c.observe(at, obs)
            });
        } else {
            each!(self, c => c.observe(at, obs));
        }
    }

    /// Shows `obs` at `at` to every checker, a delivery too: how [`judge`] reads another
    /// engine's record (the shortcut for deliveries is the simulator's loop's).
    pub fn observe_every(&mut self, at: u64, obs: &Observation) {
        each!(self, c => c.observe(at, obs));
    }

    /// The run ended at `at`: every checker adds its figures and violations, in order.
    pub fn finish(&mut self, at: u64, findings: &mut Findings) {
        each!(self, c => c.finish(at, findings));
    }
}

/// What `checker` finds wrong in `record`, the run ending at the checkers' tests' usual
/// minute: each violation's detail, in order.
#[cfg(test)]
fn violations(mut checker: impl Checker, record: &[(u64, Observation)]) -> Vec<String> {
    for (at, obs) in record {
        checker.observe(*at, obs);
    }
    let mut findings = Findings::default();
    checker.finish(60_000_000_000, &mut findings);
    findings.violations.into_iter().map(|v| v.detail).collect()
}

/// The checkers' tests' usual group: master (0, priority 200) and backup (1, 100) on one
/// segment, one address, a minute.
#[cfg(test)]
fn pair() -> Scenario {
    Scenario::builder("pair", Duration::from_secs(60))
        .segment("public")
        .node("master", 200)
        .node("backup", 100)
        .vip("192.0.2.100")
        .build()
        .unwrap()
}

/// Nanoseconds as seconds with milliseconds, for reports.
pub fn secs(ns: u64) -> String {
    format!("{:.3}s", ns as f64 / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;
    use Observation::{Acquired, Down, Heard, Released, Standby, TakeoverAbandoned};

    const S: u64 = 1_000_000_000;

    /// Every checker over `record` for master (0) and backup (1), no faults, 60 s.
    fn judge(record: &[(u64, Observation)]) -> Findings {
        let scenario = Scenario::builder("pair", Duration::from_secs(60))
            .segment("public")
            .node("master", 200)
            .node("backup", 100)
            .vip("192.0.2.100")
            .expect(|e| e.converge = false)
            .build()
            .unwrap();
        super::judge(&scenario, &[], record, 60 * S, false)
    }

    #[test]
    fn an_address_left_unowned_on_a_healthy_network_breaks_liveness() {
        // (The master heard the backup: it is the successor it names, and live.)
        let record = [
            (S, Acquired { node: 0, vip: 0 }),
            (
                2 * S,
                Heard {
                    node: 0,
                    from: 1,
                    role: failover_core::Role::Backup,
                },
            ),
            (20 * S, Released { node: 0, vip: 0 }),
            (30 * S, Acquired { node: 1, vip: 0 }),
        ];
        let f = judge(&record);
        assert!(f.broken().contains("liveness"), "{:?}", f.violations);
        let v = f.violations.iter().find(|v| v.invariant == "liveness");
        assert!(v
            .unwrap()
            .detail
            .contains("no holder for 10.000s from 20.000s"));
        // Taken over within dead_after (3 s): live.
        let record = [
            (S, Acquired { node: 0, vip: 0 }),
            (
                2 * S,
                Heard {
                    node: 0,
                    from: 1,
                    role: failover_core::Role::Backup,
                },
            ),
            (20 * S, Released { node: 0, vip: 0 }),
            (22 * S, Acquired { node: 1, vip: 0 }),
        ];
        assert!(!judge(&record).broken().contains("liveness"));
    }

    #[test]
    fn clients_fail_from_their_first_failed_request_not_from_the_record_before() {
        // Requests recorded answered at 20 s; the next, none sent for a while, fail from
        // 24.99 s until they are recorded at 25 s: 10 ms of failures, not 5 s.
        const MS: u64 = 1_000_000;
        let record = [
            (S, Acquired { node: 0, vip: 0 }),
            (
                20 * S,
                Observation::Requests {
                    vip: 0,
                    ok: true,
                    count: 1900,
                    first: S,
                },
            ),
            (
                25 * S,
                Observation::Requests {
                    vip: 0,
                    ok: false,
                    count: 2,
                    first: 25 * S - 10 * MS,
                },
            ),
        ];
        let found = judge(&record);
        let detail = (found.violations.into_iter())
            .find(|v| v.invariant == "client-unreachable")
            .map(|v| v.detail)
            .expect("requests failed while the master held the address");
        assert!(detail.contains("failed for 0.010s"), "{detail}");
        assert!(detail.contains("first from 24.990s to 25.000s"), "{detail}");
    }

    #[test]
    fn across_a_hand_over_clients_may_fail_only_until_the_new_owners_announcement_reaches_them() {
        // The master hands over at 20 s: no holder until the backup adds at 20.015 s; the
        // client's requests fail from 20.001 s until `ok_from`. Allowed after the add: the
        // announcement's 2 ms and one 10 ms request interval.
        const MS: u64 = 1_000_000;
        let hand_over = |ok_from: u64| {
            let requests = |ok, count| Observation::Requests {
                vip: 0,
                ok,
                count,
                first: 0,
            };
            [
                (S, Acquired { node: 0, vip: 0 }),
                (
                    2 * S,
                    Heard {
                        node: 0,
                        from: 1,
                        role: failover_core::Role::Backup,
                    },
                ),
                (20 * S, requests(true, 1899)),
                (20 * S, Released { node: 0, vip: 0 }),
                (20 * S + 15 * MS, requests(false, 2)),
                (20 * S + 15 * MS, Acquired { node: 1, vip: 0 }),
                (ok_from, requests(false, 1)),
                (30 * S, requests(true, 990)),
            ]
        };
        let unreachable = |ok_from| {
            let f = judge(&hand_over(ok_from));
            (f.violations.into_iter())
                .find(|v| v.invariant == "client-unreachable")
                .map(|v| v.detail)
        };
        // (the failures while no node held the address are unavailability, not this)
        assert_eq!(unreachable(20 * S + 27 * MS), None);
        let late = unreachable(20 * S + 40 * MS).expect("a client left behind");
        assert!(late.contains("failed for 0.013s"), "{late}");
    }

    #[test]
    fn after_an_owner_leaves_naming_no_live_successor_the_others_are_owed_their_wait() {
        // The master's goodbye can name no one it has not heard: the backup listens for
        // dead_after plus its skew (3 s + 155/256 s) before it may claim, then liveness's
        // dead_after runs.
        let left = |taken: u64| {
            [
                (S, Acquired { node: 0, vip: 0 }),
                (20 * S, Released { node: 0, vip: 0 }),
                (20 * S, Down { node: 0 }),
                (taken, Acquired { node: 1, vip: 0 }),
            ]
        };
        assert!(!judge(&left(26 * S)).broken().contains("liveness"));
        assert!(judge(&left(27 * S)).broken().contains("liveness"));
        // Had it heard the backup since both started, the goodbye names it, which takes
        // over at once: the wait is not owed.
        let mut named = left(24 * S).to_vec();
        named.insert(
            1,
            (
                10 * S,
                Heard {
                    node: 0,
                    from: 1,
                    role: failover_core::Role::Backup,
                },
            ),
        );
        let f = judge(&named);
        assert!(f.broken().contains("liveness"), "{:?}", f.violations);
    }

    #[test]
    fn two_takeovers_at_once_on_a_healthy_network_are_a_race_unless_priorities_tie() {
        let record = [
            (S, Acquired { node: 0, vip: 0 }),
            (20 * S, Released { node: 0, vip: 0 }),
            (20 * S, Down { node: 0 }),
            (
                24 * S,
                TakeoverAbandoned {
                    node: 1,
                    rival: Some(0),
                },
            ),
        ];
        let f = judge(&record);
        assert!(f.broken().contains("takeover-race"), "{:?}", f.violations);
        let tied = Scenario::builder("tied", Duration::from_secs(60))
            .segment("public")
            .node("alpha", 100)
            .node("bravo", 100)
            .vip("192.0.2.100")
            .expect(|e| e.converge = false)
            .build()
            .unwrap();
        let f = super::judge(&tied, &[], &record, 60 * S, false);
        assert!(!f.broken().contains("takeover-race"), "{:?}", f.violations);
    }

    #[test]
    fn no_owner_is_no_fault_of_liveness_when_every_eligible_node_is_in_standby() {
        let record = [
            (S, Acquired { node: 0, vip: 0 }),
            (19 * S, Standby { node: 1, on: true }),
            (20 * S, Standby { node: 0, on: true }),
            (20 * S, Released { node: 0, vip: 0 }),
        ];
        let f = judge(&record);
        assert!(!f.broken().contains("liveness"), "{:?}", f.violations);
    }

    #[test]
    fn owners_changing_on_a_healthy_network_is_flapping() {
        let record = [
            (S, Acquired { node: 0, vip: 0 }),
            (10 * S, Released { node: 0, vip: 0 }),
            (10 * S, Acquired { node: 1, vip: 0 }),
            (20 * S, Released { node: 1, vip: 0 }),
            (20 * S, Acquired { node: 0, vip: 0 }),
        ];
        let f = judge(&record);
        assert!(
            f.broken().contains("flapping-healthy"),
            "{:?}",
            f.violations
        );
        assert!(!judge(&record[..1]).broken().contains("flapping-healthy"));
    }

    #[test]
    fn the_longest_healthy_stretch_skips_unhealthy_spans() {
        let scenario = pair();
        let ctx = Context {
            unhealthy: vec![(10, 20), (30, 35)],
            ..Context::new(&scenario, &[])
        };
        assert_eq!(ctx.longest_healthy_within(0, 100), (35, 65));
        assert_eq!(ctx.longest_healthy_within(12, 33), (20, 10));
        assert_eq!(ctx.longest_healthy_within(12, 18), (12, 0));
        assert_eq!(ctx.longest_healthy_within(5, 12), (5, 5));
    }
}
