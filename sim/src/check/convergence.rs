//! Convergence: once the faults have healed, the highest-priority live eligible node owns
//! every address, alone, within a bound, and keeps it to the end. A node in standby is not
//! eligible; a node a switchover handed the addresses to keeps them against preemption for as
//! long as it claims them without a break — also when it was stalled or cut off meanwhile and
//! comes back an owner (the ordinary rule between two owners decides which stays).

use super::{secs, Checker, Context, Findings, Holders, Liveness, Observation};
use failover_core::Accepted;
use std::rc::Rc;

/// Checks the end state and when it was reached.
pub struct Convergence {
    ctx: Rc<Context>,
    holders: Holders,
    /// A node is live when its daemon runs, unpaused, on a host that is up.
    live: Liveness,
    /// Per node: in standby (as its disk keeps it).
    standby: Vec<bool>,
    /// The node an accepted switchover named, until it acquires (or someone else does first,
    /// or it goes down).
    switching_to: Option<usize>,
    /// Per node: it acquired by a switchover and has claimed the addresses since, its daemon
    /// running: it keeps them against preemption.
    kept: Vec<bool>,
    last_change: u64,
}

impl Convergence {
    pub(super) fn new(ctx: &Rc<Context>) -> Convergence {
        Convergence {
            holders: Holders::new(ctx.vips),
            live: Liveness::new(ctx.nodes.len()),
            standby: vec![false; ctx.nodes.len()],
            switching_to: None,
            kept: vec![false; ctx.nodes.len()],
            last_change: 0,
            ctx: ctx.clone(),
        }
    }

    fn index(&self, name: &str) -> Option<usize> {
        self.ctx.nodes.iter().position(|(n, _)| n == name)
    }

    fn describe(&self, holders: &[usize]) -> String {
        if holders.is_empty() {
            return "nobody".into();
        }
        let names: Vec<&str> = holders
            .iter()
            .map(|&n| self.ctx.nodes[n].0.as_str())
            .collect();
        names.join(" and ")
    }
}

impl Checker for Convergence {
    fn observe(&mut self, at: u64, obs: &Observation) {
        if self.live.apply(at, obs) {
            if let Observation::Down { node } = *obs {
                // A restarted daemon remembers no switchover.
                self.switching_to = self.switching_to.filter(|&n| n != node);
                self.kept[node] = false;
            }
            return;
        }
        match obs {
            Observation::Standby { node, on } => self.standby[*node] = *on,
            Observation::Answered { answer, .. } => {
                if let Ok(Accepted::Switchover { to }) = &answer.outcome {
                    self.switching_to = self.index(to);
                }
            }
            Observation::Acquired { node, .. } => {
                // The first acquisition after the answer: by the node named, or the
                // switchover came to nothing.
                let named = self.switching_to.take();
                self.kept[*node] |= named == Some(*node);
            }
            // The hold ends when the node stops claiming the addresses, not when the kernel
            // drops one (a lifetime run out in quorum mode) that the node then adds again.
            Observation::RoleChanged { node, to, .. } if !to.claims_ownership() => {
                self.kept[*node] = false;
            }
            _ => {}
        }
        if self.holders.apply(obs).is_some() {
            self.last_change = at;
        }
    }

    fn finish(&mut self, at: u64, findings: &mut Findings) {
        let expect = &self.ctx.expect;
        if let Some(owner) = &expect.owner_at_end {
            let wanted: Vec<usize> = match owner.as_str() {
                "none" => vec![],
                name => self
                    .ctx
                    .nodes
                    .iter()
                    .position(|(n, _)| n == name)
                    .into_iter()
                    .collect(),
            };
            for vip in 0..self.ctx.vips {
                if self.holders.of(vip) != wanted.as_slice() {
                    findings.violate(
                        "owner-at-end",
                        format!(
                            "address {vip} is held by {} at the end, expected {owner}",
                            self.describe(self.holders.of(vip))
                        ),
                    );
                }
            }
        }
        if !expect.converge {
            return;
        }
        let deadline = self.ctx.faults_end + self.ctx.settle;
        if at < deadline {
            findings.violate(
                "convergence",
                format!(
                    "the run ends at {} before the convergence deadline {}",
                    secs(at),
                    secs(deadline)
                ),
            );
            return;
        }
        let nodes = self.live.nodes();
        let live = |&n: &usize| self.live.live(n);
        let voters = (0..nodes).filter(live).count();
        // Quorum mode: without a majority of voters alive nobody may own (a node in standby
        // still votes).
        let quorate = self.ctx.majority.is_none_or(|majority| voters >= majority);
        let eligible = (0..nodes).filter(live).filter(|&n| !self.standby[n]);
        let best = (self.ctx).best(eligible, at).filter(|_| quorate);
        // Without preemption the owner keeps the addresses: any one live owner of them all
        // is right; with it, only the best live eligible node — unless a switchover handed
        // them to one that keeps them. Preemption is each node's own (a reload may change
        // it): the owner hands back only if it preempts, and a better backup that does not
        // preempt stays quiet, so either node not preempting lets the owner keep them.
        let preempts = |n: usize| self.ctx.settings_at(n, at).preempt;
        let preempt = |one: usize| preempts(one) && best.is_none_or(preempts);
        let owner = match self.holders.of(0) {
            [one] if quorate && !preempt(*one) && live(one) => Some(*one),
            [one] if quorate && self.kept[*one] && live(one) => Some(*one),
            _ => best,
        };
        let preempt = owner.is_none_or(preempt);
        for vip in 0..self.ctx.vips {
            let holders = self.holders.of(vip);
            if holders != owner.as_slice() {
                let wanted = match preempt {
                    _ if !quorate => "fewer than a majority of voters live, so it should be",
                    _ if owner.is_some_and(|o| self.kept[o]) => "a switchover handed it to",
                    true => "the best live node not in standby is",
                    false => "it should be one live node, and the same for every address:",
                };
                findings.violate(
                    "convergence",
                    format!(
                        "address {vip} is held by {} at the end; {wanted} {}",
                        self.describe(holders),
                        self.describe(owner.as_slice())
                    ),
                );
            }
        }
        if self.last_change > deadline {
            findings.violate(
                "convergence",
                format!(
                    "ownership still changed at {}, after the deadline {} (faults healed at {})",
                    secs(self.last_change),
                    secs(deadline),
                    secs(self.ctx.faults_end)
                ),
            );
        }
    }
}
