//! Unavailability: time with no holder, and client requests that went unanswered — in
//! particular while someone holds the address on a healthy network, which is what a stale ARP
//! entry (no announcement after a split brain heals) looks like from the client.

use super::{secs, Checker, Context, Findings, Holders, Liveness, Observation};

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
    /// The stretch with no holder on a healthy network while a node could own it that is
    /// furthest over what it is allowed (with no reload, the longest): address, start, length.
    longest_unowned: Option<(usize, u64, u64)>,
    /// Per address: since when it has had no holder while a node could own it.
    unowned_since: Vec<Option<u64>>,
    live: Liveness,
    standby: Vec<bool>,
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
            longest_unowned: None,
            unowned_since: vec![None; ctx.vips],
            live: Liveness::new(ctx.nodes.len()),
            standby: vec![false; ctx.nodes.len()],
        }
    }

    /// Whether some node could own the addresses: a live node that is no witness and not in
    /// standby, and in quorum mode a live majority.
    fn could_own(&self) -> bool {
        let n = self.live.nodes();
        let live = (0..n).filter(|&i| self.live.live(i)).count();
        self.ctx.majority.is_none_or(|m| live >= m)
            && (0..n).any(|i| self.live.live(i) && self.ctx.nodes[i].1 > 0 && !self.standby[i])
    }

    /// Opens or closes each address's unowned stretch after an observation at `at`.
    fn track_unowned(&mut self, at: u64) {
        let could = self.started && self.could_own();
        for vip in 0..self.unowned_since.len() {
            let unowned = could && self.holders.of(vip).is_empty();
            match (unowned, self.unowned_since[vip]) {
                (true, None) => self.unowned_since[vip] = Some(at),
                (false, Some(start)) => {
                    self.unowned_since[vip] = None;
                    self.unowned_healthy(vip, start, at);
                }
                _ => {}
            }
        }
    }

    /// `vip` had no holder over [from, to): keeps its longest healthy part, if it is the
    /// one furthest over what it is allowed so far.
    fn unowned_healthy(&mut self, vip: usize, from: u64, to: u64) {
        let (start, len) = self.ctx.longest_healthy_within(from, to);
        let over = |(_, start, len): (usize, u64, u64)| {
            i128::from(len) - i128::from(self.allowed_unowned(start, len))
        };
        if len > 0
            && self
                .longest_unowned
                .is_none_or(|l| over((vip, start, len)) > over(l))
        {
            self.longest_unowned = Some((vip, start, len));
        }
    }

    /// How long an address may go without a holder from `from` for `len` on a healthy
    /// network: by default the longest dead_after any node's file gave it meanwhile (a
    /// reload may lengthen it).
    fn allowed_unowned(&self, from: u64, len: u64) -> u64 {
        (self.ctx.expect.max_unavailable_healthy)
            .unwrap_or_else(|| self.ctx.dead_after_within(from, from + len))
            .as_nanos() as u64
    }
    /// Counts the client's requests and the time each address has no holder.
    fn observe_holders(&mut self, at: u64, obs: &Observation) {
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
}

impl Checker for Availability {
    fn observe(&mut self, at: u64, obs: &Observation) {
        self.observe_holders(at, obs);
        if let Observation::Standby { node, on } = *obs {
            self.standby[node] = on;
        }
        self.live.apply(at, obs);
        if !matches!(
            obs,
            Observation::Requests { .. } | Observation::Heard { .. }
        ) {
            self.track_unowned(at);
        }
    }

    fn finish(&mut self, at: u64, findings: &mut Findings) {
        for vip in 0..self.empty_since.len() {
            if let Some(start) = self.empty_since[vip].take() {
                self.total += at - start;
            }
            if let Some(start) = self.unowned_since[vip].take() {
                self.unowned_healthy(vip, start, at);
            }
        }
        let longest = self.longest_unowned;
        if let Some((vip, from, len)) = longest.filter(|l| l.2 > self.allowed_unowned(l.1, l.2)) {
            let allowed = self.allowed_unowned(from, len);
            findings.violate(
                "liveness",
                format!(
                    "address {vip} had no holder for {} from {} while no fault was in force or settling, allowed {}",
                    secs(len),
                    secs(from),
                    secs(allowed)
                ),
            );
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
