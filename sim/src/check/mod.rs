//! Invariant checkers, kept apart from the simulator (as in TigerBeetle's): they see every
//! [`Observation`] of a run and know nothing of how it was produced, so any engine that can
//! say "this node acquired that address at this time" can be judged by them.

mod availability;
mod convergence;
mod latency;
mod notifications;
mod operator;
mod split_brain;
mod status;
mod tamper;

pub use status::{Known, PeerKnown, PeerSaid, QuorumSaid, Said, StatusSeen};

pub use crate::record::Observation;

use crate::fault::{Fault, FaultKind};
use crate::scenario::{Expect, Scenario};
use std::collections::BTreeSet;
use std::time::Duration;

/// One invariant, watching a run.
pub trait Checker {
    /// Sees one observation at simulated time `at` (nanoseconds).
    fn observe(&mut self, at: u64, obs: &Observation);
    /// The run ended at `at`: add figures and violations.
    fn finish(&mut self, at: u64, findings: &mut Findings);
    /// Whether it looks at [`Observation::Heard`] (an engine may skip the others for them:
    /// there is one per datagram).
    fn judges_deliveries(&self) -> bool {
        false
    }
}

/// What the checkers need to know of the run's set-up.
#[derive(Clone, Debug)]
pub struct Context {
    /// Node priorities, by index (names break ties: smaller wins); a witness, which never
    /// owns, has 0.
    pub nodes: Vec<(String, u8)>,
    /// Number of virtual addresses.
    pub vips: usize,
    /// What the scenario expects.
    pub expect: Expect,
    /// The protocol's dead_after.
    pub dead_after: Duration,
    /// The protocol's heartbeat interval.
    pub interval: Duration,
    /// The fastest any node's clock runs in the run, in parts per million (clock faults'
    /// drift): a node may find a peer silent for `dead_after` that little sooner.
    pub max_drift_ppm: f64,
    /// How many times an operator asks for a hand-over (a standby, its `active` at the end
    /// of its duration, a switchover): each may move the addresses on a healthy network.
    pub operator_requests: u32,
    /// Per resolved fault (by index), an operator's: the node asked something when it begins
    /// (a standby, a switchover), and whether it is asked again (`active`) when it ends;
    /// each request must be answered ([`Expect::max_answer_latency`]).
    pub asks: Vec<Option<(usize, bool)>>,
    /// Whether the run's record has every fresh delivery ([`Observation::Heard`]): then split
    /// brain is judged by what was delivered; else only by the scenario's bounds. Such an
    /// engine (the simulator) also records every hook failure and refused address change
    /// ([`Observation::HookFailed`], [`Observation::AddressRefused`]), which notices are then
    /// matched to one by one.
    pub deliveries: bool,
    /// Whether a better node takes the addresses back (without it, any one live owner is
    /// the right end).
    pub preempt: bool,
    /// When the last scheduled fault ends (nanoseconds).
    pub faults_end: u64,
    /// How long the group may take to settle after faults end (`expect.converge_within`, by
    /// default 3 × dead_after + 1 s), nanoseconds.
    pub settle: u64,
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
        let settle = (scenario.expect.converge_within)
            .unwrap_or_else(|| scenario.default_settle())
            .as_nanos() as u64;
        let margin = scenario.expect.fault_margin.as_nanos() as u64;
        let mut spans: Vec<(u64, u64)> = (faults.iter())
            .filter(|f| !f.kind.keeps_healthy())
            .map(|f| {
                let start = (f.at.as_nanos() as u64).saturating_sub(margin);
                let end = match (f.duration, &f.kind) {
                    (Some(d), _) => start + d.as_nanos() as u64 + settle,
                    (
                        None,
                        FaultKind::Partition { .. }
                        | FaultKind::LinkDown { .. }
                        | FaultKind::Degrade { .. }
                        | FaultKind::Hook { .. }
                        | FaultKind::Address { .. },
                    ) => u64::MAX,
                    (None, _) => start + settle,
                };
                (start, end)
            })
            .collect();
        spans.sort_unstable();
        let mut unhealthy: Vec<(u64, u64)> = Vec::new();
        for (start, end) in spans {
            match unhealthy.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => unhealthy.push((start, end)),
            }
        }
        Context {
            nodes: (scenario.nodes.iter())
                .map(|n| (n.name.clone(), if n.witness { 0 } else { n.priority }))
                .collect(),
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
            operator_requests: (faults.iter())
                .filter(|f| f.kind.is_operator())
                .map(|f| match f.kind {
                    FaultKind::Standby { .. } if f.duration.is_some() => 2,
                    _ => 1,
                })
                .sum(),
            asks: (faults.iter())
                .map(|f| match f.kind {
                    FaultKind::Standby { node } => Some((node, f.duration.is_some())),
                    FaultKind::Switchover { node, .. } => Some((node, false)),
                    _ => None,
                })
                .collect(),
            preempt: scenario.protocol.preempt,
            majority: scenario.quorum().then_some(scenario.nodes.len() / 2 + 1),
            lease: scenario.quorum().then(|| scenario.lease()),
            faults_end,
            settle,
            unhealthy,
        }
    }

    /// How much of [from, to) is outside every unhealthy span.
    pub fn healthy_within(&self, from: u64, to: u64) -> u64 {
        let covered: u64 = (self.unhealthy.iter())
            .map(|&(s, e)| to.min(e).saturating_sub(from.max(s)))
            .sum();
        (to - from).saturating_sub(covered)
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

    /// The node that should own the addresses among `live` ones.
    pub fn best(&self, live: impl Iterator<Item = usize>) -> Option<usize> {
        live.filter(|&n| self.nodes[n].1 > 0).max_by(|&a, &b| {
            let (na, pa) = &self.nodes[a];
            let (nb, pb) = &self.nodes[b];
            pa.cmp(pb).then(nb.cmp(na))
        })
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
}

impl Liveness {
    pub fn new(nodes: usize) -> Liveness {
        Liveness {
            up: vec![true; nodes],
            paused: vec![false; nodes],
            host_down: vec![false; nodes],
            since: vec![Some(0); nodes],
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

    /// Whether `node` has been live without a break since `from` at least.
    pub fn live_since(&self, node: usize, from: u64) -> bool {
        self.since[node].is_some_and(|s| s <= from)
    }

    pub fn nodes(&self) -> usize {
        self.up.len()
    }
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
/// `end`: how any engine that can tell what happened is judged.
pub fn judge<'r>(
    scenario: &Scenario,
    faults: &[Fault],
    record: impl IntoIterator<Item = &'r crate::record::Record>,
    end: u64,
) -> Findings {
    let mut checkers = all(&Context::new(scenario, faults));
    for (at, obs) in record {
        for c in checkers.iter_mut() {
            c.observe(*at, obs);
        }
    }
    let mut findings = Findings::default();
    for c in checkers.iter_mut() {
        c.finish(end, &mut findings);
    }
    findings
}

/// Every checker, for one run.
pub fn all(ctx: &Context) -> Vec<Box<dyn Checker>> {
    vec![
        Box::new(split_brain::SplitBrain::new(ctx)),
        Box::new(availability::Availability::new(ctx)),
        Box::new(latency::FailoverLatency::new(ctx)),
        Box::new(convergence::Convergence::new(ctx)),
        Box::new(notifications::Notifications::new(ctx)),
        Box::new(tamper::Tampered::new(ctx)),
        Box::new(operator::Operator::new(ctx)),
        Box::new(status::StatusReport::new(ctx)),
    ]
}

/// Nanoseconds as seconds with milliseconds, for reports.
pub fn secs(ns: u64) -> String {
    format!("{:.3}s", ns as f64 / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;
    use Observation::{Acquired, Released, Standby};

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
        super::judge(&scenario, &[], record, 60 * S)
    }

    #[test]
    fn an_address_left_unowned_on_a_healthy_network_breaks_liveness() {
        let record = [
            (S, Acquired { node: 0, vip: 0 }),
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
            (20 * S, Released { node: 0, vip: 0 }),
            (22 * S, Acquired { node: 1, vip: 0 }),
        ];
        assert!(!judge(&record).broken().contains("liveness"));
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
        let scenario = Scenario::builder("pair", Duration::from_secs(60))
            .segment("public")
            .node("master", 200)
            .node("backup", 100)
            .vip("192.0.2.100")
            .build()
            .unwrap();
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
