//! Unavailability: time with no holder, and client requests that went unanswered.

use super::{secs, Checker, Context, Findings, Holders, Observation};

/// Counts time without a holder (from the first acquisition on: a cold start is not an
/// outage) and the client's failed requests.
pub struct Availability {
    holders: Holders,
    empty_since: Vec<Option<u64>>,
    started: bool,
    total: u64,
    ok: u64,
    failed: u64,
    allowed: Option<u64>,
}

impl Availability {
    pub(super) fn new(ctx: &Context) -> Availability {
        Availability {
            holders: Holders::new(ctx.vips),
            empty_since: vec![None; ctx.vips],
            started: false,
            total: 0,
            ok: 0,
            failed: 0,
            allowed: ctx.expect.max_unavailable.map(|d| d.as_nanos() as u64),
        }
    }
}

impl Checker for Availability {
    fn observe(&mut self, at: u64, obs: &Observation<'_>) {
        if let Observation::Requests { ok, count, .. } = *obs {
            if ok {
                self.ok += count;
            } else if self.started {
                self.failed += count;
            }
            return;
        }
        let Some(vip) = self.holders.apply(obs) else {
            return;
        };
        if !self.started && matches!(obs, Observation::Acquired { .. }) {
            self.started = true;
            for (v, since) in self.empty_since.iter_mut().enumerate() {
                if self.holders.of(v).is_empty() {
                    *since = Some(at);
                }
            }
        }
        if !self.started {
            return;
        }
        match (self.holders.of(vip).is_empty(), self.empty_since[vip]) {
            (true, None) => self.empty_since[vip] = Some(at),
            (false, Some(start)) => {
                self.total += at - start;
                self.empty_since[vip] = None;
            }
            _ => {}
        }
    }

    fn finish(&mut self, at: u64, findings: &mut Findings) {
        for since in self.empty_since.iter_mut() {
            if let Some(start) = since.take() {
                self.total += at - start;
            }
        }
        let f = &mut findings.figures;
        f.unavailable = self.total;
        f.requests_ok = self.ok;
        f.requests_failed = self.failed;
        if let Some(allowed) = self.allowed {
            if self.total > allowed {
                findings.violate(
                    "unavailability",
                    format!(
                        "no holder for {}, allowed {}",
                        secs(self.total),
                        secs(allowed)
                    ),
                );
            }
        }
    }
}
