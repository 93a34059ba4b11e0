//! Split brain: two holders of one address at the same simulated instant — in all, and on a
//! healthy network (no fault in force, and the group given time to settle after each).

use super::{secs, Checker, Context, Findings, Holders, Observation};

/// Measures every window with more than one holder; the total must stay within the scenario's
/// `max_split_brain`, and the part of it on a healthy network within `max_split_brain_healthy`
/// (zero by default: classic mode may split only when faults force it to).
pub struct SplitBrain {
    ctx: Context,
    holders: Holders,
    since: Vec<Option<u64>>,
    total: u64,
    longest: u64,
    healthy: u64,
    /// The first stretch of split brain on a healthy network, for the report.
    first_healthy: Option<(u64, u64)>,
}

impl SplitBrain {
    pub(super) fn new(ctx: &Context) -> SplitBrain {
        SplitBrain {
            ctx: ctx.clone(),
            holders: Holders::new(ctx.vips),
            since: vec![None; ctx.vips],
            total: 0,
            longest: 0,
            healthy: 0,
            first_healthy: None,
        }
    }

    fn close(&mut self, vip: usize, at: u64) {
        if let Some(start) = self.since[vip].take() {
            self.total += at - start;
            self.longest = self.longest.max(at - start);
            let healthy = self.ctx.healthy_within(start, at);
            if healthy > 0 {
                self.healthy += healthy;
                self.first_healthy.get_or_insert((start, at));
            }
        }
    }
}

impl Checker for SplitBrain {
    fn observe(&mut self, at: u64, obs: &Observation) {
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
        let expect = &self.ctx.expect;
        let allowed = expect.max_split_brain.as_nanos() as u64;
        if self.total > allowed {
            findings.violate(
                "split-brain",
                format!(
                    "two holders for {} in all (longest {}), allowed {}",
                    secs(self.total),
                    secs(self.longest),
                    secs(allowed)
                ),
            );
        }
        if let Some(min) = expect
            .min_split_brain
            .filter(|m| self.total < m.as_nanos() as u64)
        {
            findings.violate(
                "split-brain-expected",
                format!(
                    "two holders for {} in all, expected at least {}",
                    secs(self.total),
                    secs(min.as_nanos() as u64)
                ),
            );
        }
        let allowed = expect.max_split_brain_healthy.as_nanos() as u64;
        if let Some((from, to)) = self.first_healthy.filter(|_| self.healthy > allowed) {
            findings.violate(
                "split-brain-healthy",
                format!(
                    "two holders for {} while no fault was in force or settling (first from {} to {}), allowed {}",
                    secs(self.healthy),
                    secs(from),
                    secs(to),
                    secs(allowed)
                ),
            );
        }
    }
}
