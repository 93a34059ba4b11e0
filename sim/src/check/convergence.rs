//! Convergence: once the faults have healed, the highest-priority live eligible node owns
//! every address, alone, within a bound, and keeps it to the end. A node in standby is not
//! eligible; a node a switchover handed the addresses to keeps them against preemption for as
//! long as it claims them without a break — also when it was stalled or cut off meanwhile and
//! comes back an owner (the ordinary rule between two owners decides which stays). A node whose
//! `Test` says no at the end (a hook fault still in force) can take nothing over, and an owner
//! whose `Test` says no keeps the addresses against preemption (it vetoes the hand-back).

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
    /// Per node: how many `Test`-refusing hook faults are in force.
    refusing: Vec<u32>,
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
            refusing: vec![0; ctx.nodes.len()],
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
            Observation::FaultStarted { fault } => {
                if let Some(node) = self.ctx.test_refusals[*fault] {
                    self.refusing[node] += 1;
                }
            }
            Observation::FaultEnded { fault } => {
                if let Some(node) = self.ctx.test_refusals[*fault] {
                    self.refusing[node] -= 1;
                }
            }
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
        let deadline = self.ctx.converge_by;
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
        let refusing = |n: usize| self.refusing[n] > 0;
        let eligible = (0..nodes)
            .filter(live)
            .filter(|&n| !self.standby[n] && !refusing(n));
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
            [one] if quorate && refusing(*one) && live(one) => Some(*one),
            _ => best,
        };
        let preempt = owner.is_none_or(preempt);
        for vip in 0..self.ctx.vips {
            let holders = self.holders.of(vip);
            if holders != owner.as_slice() {
                let wanted = match preempt {
                    _ if !quorate => "fewer than a majority of voters live, so it should be",
                    _ if owner.is_some_and(|o| self.kept[o]) => "a switchover handed it to",
                    _ if owner.is_some_and(refusing) => {
                        "its Test vetoes a hand-back, so it stays with"
                    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::{Fault, FaultKind, HookBehavior};
    use failover_core::HookKind;
    use std::time::Duration;

    const S: u64 = 1_000_000_000;

    /// The convergence verdicts on `record` of the master/backup pair of 60 s, `refusing`'s
    /// `Test` saying no from 5 s for `duration` (to the end if `None`).
    fn judge(refusing: usize, duration: Option<u64>, record: &[(u64, Observation)]) -> Vec<String> {
        let faults = [Fault {
            at: Duration::from_secs(5),
            duration: duration.map(Duration::from_secs),
            kind: FaultKind::Hook {
                node: refusing,
                hook: HookKind::Test,
                behavior: HookBehavior::Fails,
            },
        }];
        let ctx = Rc::new(Context::new(&crate::check::pair(), &faults));
        crate::check::violations(Convergence::new(&ctx), record)
    }

    fn held_by(node: usize) -> [(u64, Observation); 2] {
        [
            (S, Observation::Acquired { node, vip: 0 }),
            (5 * S, Observation::FaultStarted { fault: 0 }),
        ]
    }

    #[test]
    fn a_node_whose_test_says_no_is_not_the_owner_convergence_expects() {
        assert_eq!(judge(0, None, &held_by(1)), Vec::<String>::new());
        // The same end without the refusal in force: the master should own.
        let unrefused = &held_by(1)[..1];
        let found = judge(0, None, unrefused);
        assert!(
            found.len() == 1 && found[0].contains("the best live node"),
            "{found:?}"
        );
    }

    #[test]
    fn an_owner_whose_test_says_no_keeps_the_addresses_against_preemption() {
        assert_eq!(judge(1, None, &held_by(1)), Vec::<String>::new());
        // Healed at 6 s: the master should have it back.
        let ended = [
            held_by(1).to_vec(),
            vec![(6 * S, Observation::FaultEnded { fault: 0 })],
        ]
        .concat();
        let found = judge(1, Some(1), &ended);
        assert!(
            found.len() == 1 && found[0].contains("the best live node"),
            "{found:?}"
        );
    }
}
