//! Unavailability: time with no holder, and client requests that went unanswered — in
//! particular while someone holds the address on a healthy network, which is what a stale ARP
//! entry (no announcement after a split brain heals) looks like from the client.

use super::{secs, Checker, Context, Findings, Holders, Observation};

/// Counts time without a holder (from the first acquisition on: a cold start is not an
/// outage) and the client's failed requests.
pub struct Availability {
    ctx: Context,
    holders: Holders,
    /// Per address: when the client's requests were last counted.
    counted_at: Vec<u64>,
    /// Failed requests' time while the address had a holder and nothing was wrong.
    unreachable: u64,
    first_unreachable: Option<(u64, u64)>,
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
            ctx: ctx.clone(),
            holders: Holders::new(ctx.vips),
            counted_at: vec![0; ctx.vips],
            unreachable: 0,
            first_unreachable: None,
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
    fn observe(&mut self, at: u64, obs: &Observation) {
        if let Observation::Requests { vip, ok, count } = *obs {
            let since = std::mem::replace(&mut self.counted_at[vip], at);
            if ok {
                self.ok += count;
            } else if self.started {
                self.failed += count;
                if !self.holders.of(vip).is_empty() {
                    let healthy = self.ctx.healthy_within(since, at);
                    if healthy > 0 {
                        self.unreachable += healthy;
                        self.first_unreachable.get_or_insert((since, at));
                    }
                }
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
        let allowed = self.ctx.expect.max_client_unreachable.as_nanos() as u64;
        if let Some((from, to)) = self
            .first_unreachable
            .filter(|_| self.unreachable > allowed)
        {
            findings.violate(
                "client-unreachable",
                format!(
                    "the client's requests failed for {} while the address had an owner and no fault was in force (first from {} to {}), allowed {}",
                    secs(self.unreachable),
                    secs(from),
                    secs(to),
                    secs(allowed)
                ),
            );
        }
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
