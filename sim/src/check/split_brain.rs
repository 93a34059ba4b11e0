//! Split brain: two holders of one address at the same simulated instant.

use super::{secs, Checker, Context, Findings, Holders, Observation};

/// Measures every window with more than one holder; the total must stay within the scenario's
/// `max_split_brain`.
pub struct SplitBrain {
    holders: Holders,
    since: Vec<Option<u64>>,
    total: u64,
    longest: u64,
    allowed: u64,
}

impl SplitBrain {
    pub(super) fn new(ctx: &Context) -> SplitBrain {
        SplitBrain {
            holders: Holders::new(ctx.vips),
            since: vec![None; ctx.vips],
            total: 0,
            longest: 0,
            allowed: ctx.expect.max_split_brain.as_nanos() as u64,
        }
    }

    fn close(&mut self, vip: usize, at: u64) {
        if let Some(start) = self.since[vip].take() {
            self.total += at - start;
            self.longest = self.longest.max(at - start);
        }
    }
}

impl Checker for SplitBrain {
    fn observe(&mut self, at: u64, obs: &Observation<'_>) {
        if let Some(vip) = self.holders.apply(obs) {
            let split = self.holders.of(vip).len() > 1;
            match (split, self.since[vip]) {
                (true, None) => self.since[vip] = Some(at),
                (false, Some(_)) => self.close(vip, at),
                _ => {}
            }
        }
    }

    fn finish(&mut self, at: u64, findings: &mut Findings) {
        for vip in 0..self.since.len() {
            self.close(vip, at);
        }
        findings.figures.split_brain_total = self.total;
        findings.figures.split_brain_longest = self.longest;
        if self.total > self.allowed {
            findings.violate(
                "split-brain",
                format!(
                    "two holders for {} in all (longest {}), allowed {}",
                    secs(self.total),
                    secs(self.longest),
                    secs(self.allowed)
                ),
            );
        }
    }
}
