//! Convergence: once the faults have healed, the highest-priority live node owns every address,
//! alone, within a bound, and keeps it to the end.

use super::{secs, Checker, Context, Findings, Holders, Observation};

/// Checks the end state and when it was reached.
pub struct Convergence {
    ctx: Context,
    holders: Holders,
    /// Daemon running, daemon stopped, host down or frozen: a node is live when its daemon
    /// runs, unpaused, on a host that is up.
    up: Vec<bool>,
    paused: Vec<bool>,
    host_down: Vec<bool>,
    last_change: u64,
}

impl Convergence {
    pub(super) fn new(ctx: &Context) -> Convergence {
        Convergence {
            holders: Holders::new(ctx.vips),
            up: vec![true; ctx.nodes.len()],
            paused: vec![false; ctx.nodes.len()],
            host_down: vec![false; ctx.nodes.len()],
            last_change: 0,
            ctx: ctx.clone(),
        }
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
        match *obs {
            Observation::Down { node } => self.up[node] = false,
            Observation::Up { node } => {
                self.up[node] = true;
                self.paused[node] = false;
            }
            Observation::Paused { node } => self.paused[node] = true,
            Observation::Resumed { node } => self.paused[node] = false,
            Observation::HostDown { node } => self.host_down[node] = true,
            Observation::HostUp { node } => self.host_down[node] = false,
            _ => {
                if self.holders.apply(obs).is_some() {
                    self.last_change = at;
                }
            }
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
        let live = |&n: &usize| self.up[n] && !self.paused[n] && !self.host_down[n];
        let voters = (0..self.up.len()).filter(live).count();
        // Quorum mode: without a majority of voters alive nobody may own.
        let best = match self.ctx.majority {
            Some(majority) if voters < majority => None,
            _ => (self.ctx).best((0..self.up.len()).filter(live)),
        };
        // Without preemption the owner keeps the addresses: any one live owner of them all
        // is right; with it, only the best live node.
        let owner = match self.holders.of(0) {
            [one] if !self.ctx.preempt && live(one) => Some(*one),
            _ => best,
        };
        for vip in 0..self.ctx.vips {
            let holders = self.holders.of(vip);
            if holders != owner.as_slice() {
                let wanted = match (self.ctx.preempt, best) {
                    (_, None) if self.ctx.majority.is_some() => {
                        "fewer than a majority of voters live, so it should be"
                    }
                    (true, _) => "the best live node is",
                    (false, _) => "it should be one live node, and the same for every address:",
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
