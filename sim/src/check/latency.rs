//! Failover latency: from losing the owner (its host down or frozen, or its address released
//! with no one else serving it) to another node acquiring the address; flapping: how often
//! the address changes hands; and races: two nodes taking over at once.
//!
//! On a healthy network only nodes of equal priority may race for the addresses: the
//! priority skew of every wait (`interval × (255 − priority) / 256`) lets the better one claim
//! first and be heard, and a goodbye or an operator's hand-over names whom to hand to. So a
//! takeover abandoned there because a rival of another priority claims (core's
//! `TakeoverAbandoned`) means two nodes believed themselves next — a goodbye that named no
//! one, say — which fast hooks and a fast network happen to hide, and slower ones turn into
//! two owners. (Not judged where a segment loses datagrams all run long: there the better
//! node's claim, or the goodbye naming it, may be lost on any healthy stretch.)

use super::{secs, Checker, Context, Findings, Holders, Observation};
use std::rc::Rc;

/// Times each failover; the longest must stay within `max_failover_latency`.
pub struct FailoverLatency {
    holders: Holders,
    /// Per address: when its serving owner was lost, and who that was.
    lost: Vec<Option<(u64, usize)>>,
    /// Hosts that serve no one (down or frozen), by node.
    host_down: Vec<bool>,
    latencies: Vec<u64>,
    allowed: Option<u64>,
    changes: u32,
    max_changes: Option<u32>,
    ctx: Rc<Context>,
    /// Per address: acquisitions on a healthy network, and the first beyond the bound.
    changes_healthy: Vec<u32>,
    first_flap: Option<(u64, usize)>,
    /// The first takeover abandoned on a healthy network for a rival of another priority:
    /// when, who, and the rival.
    first_race: Option<(u64, usize, usize)>,
}

impl FailoverLatency {
    pub(super) fn new(ctx: &Rc<Context>) -> FailoverLatency {
        FailoverLatency {
            holders: Holders::new(ctx.vips),
            lost: vec![None; ctx.vips],
            host_down: vec![false; ctx.nodes.len()],
            latencies: Vec::new(),
            allowed: ctx.expect.max_failover_latency.map(|d| d.as_nanos() as u64),
            changes: 0,
            max_changes: ctx.expect.max_ownership_changes,
            ctx: ctx.clone(),
            changes_healthy: vec![0; ctx.vips],
            first_flap: None,
            first_race: None,
        }
    }

    /// Whether anyone but `gone` still serves `vip` (a host that is down or frozen does not;
    /// a host whose daemon is paused or killed still does).
    fn served_without(&self, vip: usize, gone: usize) -> bool {
        self.holders
            .of(vip)
            .iter()
            .any(|&n| n != gone && !self.host_down[n])
    }
}

impl FailoverLatency {
    fn max_changes_healthy(&self) -> u32 {
        let e = &self.ctx.expect;
        (e.max_ownership_changes_healthy).unwrap_or(1 + 2 * self.ctx.planned_moves)
    }
}

impl Checker for FailoverLatency {
    fn observe(&mut self, at: u64, obs: &Observation) {
        match *obs {
            Observation::HostDown { node } => {
                self.host_down[node] = true;
                for vip in 0..self.lost.len() {
                    if self.holders.of(vip).contains(&node) && !self.served_without(vip, node) {
                        self.lost[vip].get_or_insert((at, node));
                    }
                }
            }
            Observation::HostUp { node } => {
                self.host_down[node] = false;
                // Back with the address still on its interface (a thawed host): the owner was
                // never replaced, and a later failover is timed from its own loss.
                for vip in 0..self.lost.len() {
                    if self.holders.of(vip).contains(&node) {
                        self.lost[vip] = None;
                    }
                }
            }
            Observation::Released { node, vip } => {
                self.holders.apply(obs);
                if !self.served_without(vip, node) && self.lost[vip].is_none() {
                    self.lost[vip] = Some((at, node));
                }
            }
            Observation::TakeoverAbandoned {
                node,
                rival: Some(rival),
            } if self.ctx.settings_at(node, at).priority
                != self.ctx.settings_at(rival, at).priority
                && !self.ctx.lossy
                && self.ctx.healthy_within(at, at + 1) > 0 =>
            {
                self.first_race.get_or_insert((at, node, rival));
            }
            Observation::Acquired { node, vip } => {
                self.holders.apply(obs);
                self.changes += 1;
                if self.ctx.healthy_within(at, at + 1) > 0 {
                    self.changes_healthy[vip] += 1;
                    if self.changes_healthy[vip] > self.max_changes_healthy() {
                        self.first_flap.get_or_insert((at, vip));
                    }
                }
                if let Some((since, old)) = self.lost[vip].take() {
                    if node != old {
                        self.latencies.push(at - since);
                    }
                }
            }
            _ => {}
        }
    }

    fn finish(&mut self, _at: u64, findings: &mut Findings) {
        findings.figures.failover_latencies = self.latencies.clone();
        findings.figures.ownership_changes = self.changes;
        if let Some((at, vip)) = self.first_flap {
            findings.violate(
                "flapping-healthy",
                format!(
                    "address {vip} changed hands {} times while no fault was in force or settling (beyond the bound at {}), at most {} expected",
                    self.changes_healthy[vip],
                    secs(at),
                    self.max_changes_healthy()
                ),
            );
        }
        if let Some((at, node, rival)) = self.first_race {
            let name = |i: usize| &self.ctx.nodes[i].0;
            findings.violate(
                "takeover-race",
                format!(
                    "{} and {} took over at once at {} while no fault was in force or settling (their priorities differ: the better should have claimed first, or been named)",
                    name(rival),
                    name(node),
                    secs(at)
                ),
            );
        }
        if let Some(max) = self.max_changes.filter(|&m| self.changes > m) {
            findings.violate(
                "flapping",
                format!(
                    "the address changed hands {} times, at most {max} expected",
                    self.changes
                ),
            );
        }
        if let (Some(allowed), Some(&worst)) = (self.allowed, self.latencies.iter().max()) {
            if worst > allowed {
                findings.violate(
                    "failover-latency",
                    format!("a failover took {}, allowed {}", secs(worst), secs(allowed)),
                );
            }
        }
    }
}
