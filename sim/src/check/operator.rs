//! An operator's requests: a node in standby never acquires; an accepted hand-over goes to
//! the node it named and no other; a refusal for want of a live node is only right when none
//! was live to answer; `switchover` is refused as "not the owner" only to a node that holds
//! nothing; and the scenario's count of refusals.

use super::{secs, Checker, Context, Findings, Holders, Liveness, Observation};
use failover_core::{Accepted, Refusal};

/// Watches operators' requests and what the nodes did about them.
pub struct Operator {
    ctx: Context,
    holders: Holders,
    live: Liveness,
    /// Per node: in standby (as its disk keeps it).
    standby: Vec<bool>,
    /// An accepted hand-over: when it was answered, and the node it named.
    handing: Option<(u64, usize)>,
    refused: u32,
    /// What went wrong, as it was seen.
    found: Findings,
}

impl Operator {
    pub(super) fn new(ctx: &Context) -> Operator {
        Operator {
            holders: Holders::new(ctx.vips),
            live: Liveness::new(ctx.nodes.len()),
            standby: vec![false; ctx.nodes.len()],
            handing: None,
            refused: 0,
            found: Findings::default(),
            ctx: ctx.clone(),
        }
    }

    fn name(&self, node: usize) -> &str {
        &self.ctx.nodes[node].0
    }

    fn index(&self, name: &str) -> Option<usize> {
        self.ctx.nodes.iter().position(|(n, _)| n == name)
    }

    /// Whether the network and every host were healthy all through [from, to].
    fn healthy(&self, from: u64, to: u64) -> bool {
        self.ctx.healthy_within(from, to) == to - from
    }

    /// Checks a refusal by `node` at `at`: one that says no node it could hand to was alive,
    /// or that it does not own the addresses.
    fn check_refusal(&mut self, at: u64, node: usize, refusal: &Refusal) {
        let dead_after = self.ctx.dead_after.as_nanos() as u64;
        let began = at.saturating_sub(dead_after);
        // A node that could have answered: live through the whole roll call, may own.
        let could = |n: usize| {
            n != node
                && self.ctx.nodes[n].1 > 0
                && !self.standby[n]
                && self.live.live_since(n, began)
        };
        let wrong = match refusal {
            Refusal::NoEligibleNode { .. } => (0..self.live.nodes()).find(|&n| could(n)),
            Refusal::NotAlive { node: named, .. } => self.index(named).filter(|&n| could(n)),
            Refusal::NotOwner { .. } => {
                if (0..self.ctx.vips).any(|v| self.holders.of(v).contains(&node)) {
                    let name = self.name(node).to_string();
                    self.found.violate(
                        "operator",
                        format!(
                            "{name} answered a switchover at {} with \"not the owner\" while it held the address",
                            secs(at)
                        ),
                    );
                }
                None
            }
            _ => None,
        };
        if let Some(n) = wrong.filter(|_| self.healthy(began, at)) {
            let detail = format!(
                "{} refused at {} ({refusal}) though {} was live all along on a healthy network",
                self.name(node),
                secs(at),
                self.name(n)
            );
            self.found.violate("operator", detail);
        }
    }
}

impl Checker for Operator {
    fn observe(&mut self, at: u64, obs: &Observation) {
        if self.live.apply(at, obs) {
            // A successor that goes down before it claims: the others may take over.
            self.handing = self.handing.filter(|&(_, to)| self.live.live(to));
            return;
        }
        match obs {
            Observation::Standby { node, on } => self.standby[*node] = *on,
            Observation::Answered { node, answer } => match &answer.outcome {
                Ok(Accepted::Switchover { to })
                | Ok(Accepted::Standby {
                    to: Some(to),
                    already: false,
                }) => self.handing = self.index(to).map(|to| (at, to)),
                Ok(_) => {}
                Err(refusal) => {
                    self.refused += 1;
                    self.check_refusal(at, *node, refusal);
                }
            },
            Observation::Acquired { node, vip } => {
                if self.standby[*node] {
                    let detail = format!(
                        "{} acquired address {vip} at {} while in standby",
                        self.name(*node),
                        secs(at)
                    );
                    self.found.violate("standby", detail);
                }
                if let Some((since, to)) = self.handing.take() {
                    if *node != to && self.healthy(since, at) {
                        let detail = format!(
                            "the addresses were handed to {} at {}, but {} acquired at {}",
                            self.name(to),
                            secs(since),
                            self.name(*node),
                            secs(at)
                        );
                        self.found.violate("operator", detail);
                    }
                }
            }
            _ => {}
        }
        self.holders.apply(obs);
    }

    fn finish(&mut self, _at: u64, findings: &mut Findings) {
        findings.violations.append(&mut self.found.violations);
        if let Some(want) = self.ctx.expect.refused.filter(|&w| w != self.refused) {
            findings.violate(
                "operator",
                format!(
                    "{} operator request(s) refused, expected {want}",
                    self.refused
                ),
            );
        }
    }
}
