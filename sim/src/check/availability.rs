//! Unavailability: time with no holder, and client requests that went unanswered — in
//! particular while someone holds the address on a healthy network, which is what a stale ARP
//! entry (no announcement after a split brain heals) looks like from the client. A client
//! learns of an acquisition only from the new owner's gratuitous ARP: requests failing for
//! [`Context::announcing`] after it are that announcement's way, not a stale entry.

use super::{secs, Checker, Context, Findings, Holders, Liveness, Observation};
use std::rc::Rc;

/// Counts time without a holder (from the first acquisition on: a cold start is not an
/// outage) and the client's failed requests.
pub struct Availability {
    ctx: Rc<Context>,
    holders: Holders,
    /// Per address: when the client's requests were last counted.
    counted_at: Vec<u64>,
    /// Failed requests' time while the address had a holder and nothing was wrong.
    unreachable: u64,
    /// Per address: since when it has had a holder (none: it has none now).
    owned_since: Vec<Option<u64>>,
    /// Per address: when it was last acquired.
    acquired_at: Vec<Option<u64>>,
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
    /// Per node: whether it has held an address since its daemon started.
    owned: Vec<bool>,
    /// When an owner last let go (released, or its daemon stopped) naming no live successor:
    /// the others then wait for an owner anew.
    departed: u64,
    /// `heard[to][from]`: when `to` last received a fresh datagram of `from`.
    heard: Vec<Vec<Option<u64>>>,
}

impl Availability {
    pub(super) fn new(ctx: &Rc<Context>) -> Availability {
        Availability {
            ctx: ctx.clone(),
            holders: Holders::new(ctx.vips),
            counted_at: vec![0; ctx.vips],
            unreachable: 0,
            owned_since: vec![None; ctx.vips],
            acquired_at: vec![None; ctx.vips],
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
            owned: vec![false; ctx.nodes.len()],
            departed: 0,
            heard: vec![vec![None; ctx.nodes.len()]; ctx.nodes.len()],
        }
    }

    /// From when some node must own the addresses, if one can: the best-ranked live node
    /// that is no witness and not in standby (the others defer to it once they hear it),
    /// once it has listened for an owner for its `dead_after` (with its priority's skew)
    /// since it started, or since the last owner left with no live successor to name (see
    /// [`Availability::successor_live`]) — and in quorum mode with a live majority.
    fn could_own_from(&self, at: u64) -> Option<u64> {
        let n = self.live.nodes();
        let live = (0..n).filter(|&i| self.live.live(i)).count();
        if self.ctx.majority.is_some_and(|m| live < m) {
            return None;
        }
        let candidates = (0..n).filter(|&i| self.live.live(i) && !self.standby[i]);
        let best = self.ctx.best(candidates, at)?;
        let listening = self.live.started(best).max(self.departed);
        Some((listening + self.ctx.startup_wait(best, at)).max(at))
    }

    /// Opens or closes each address's unowned stretch after an observation at `at`.
    fn track_unowned(&mut self, at: u64) {
        let from = self.could_own_from(at).filter(|_| self.started);
        for vip in 0..self.unowned_since.len() {
            let unowned = from.filter(|_| self.holders.of(vip).is_empty());
            self.unowned_since[vip] = match (unowned, self.unowned_since[vip]) {
                // Running, and someone may still claim now: it goes on.
                (Some(from), Some(start)) if start <= at && from == at => Some(start),
                // It ends here: the address is owned, no one could own it, or who could
                // must wait anew (a departure restarts the others' wait).
                (from, Some(start)) if start < at => {
                    self.unowned_healthy(vip, start, at);
                    from
                }
                // Not yet counting (or not open): from when it would count now.
                (from, _) => from,
            };
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
    /// reload may lengthen it), and the hand-over's hooks and address changes.
    fn allowed_unowned(&self, from: u64, len: u64) -> u64 {
        match self.ctx.expect.max_unavailable_healthy {
            Some(allowed) => allowed.as_nanos() as u64,
            None => {
                self.ctx.dead_after_within(from, from + len).as_nanos() as u64 + self.ctx.hand_over
            }
        }
    }
    /// Counts the client's requests and the time each address has no holder.
    fn observe_holders(&mut self, at: u64, obs: &Observation) {
        if let Observation::Requests {
            vip,
            ok,
            count,
            first,
        } = *obs
        {
            let since = std::mem::replace(&mut self.counted_at[vip], at).max(first);
            if ok {
                self.ok += count;
            } else if self.started {
                self.failed += count;
                let healthy = self.failed_owned(vip, since, at);
                if healthy > 0 {
                    self.unreachable += healthy;
                    self.first_unreachable.get_or_insert((since, at));
                }
            }
            return;
        }
        let Some(vip) = self.holders.apply(obs) else {
            return;
        };
        let owned = !self.holders.of(vip).is_empty();
        self.owned_since[vip] = owned.then(|| self.owned_since[vip].unwrap_or(at));
        if matches!(obs, Observation::Acquired { .. }) {
            self.acquired_at[vip] = Some(at);
        }
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

impl Availability {
    /// Of failed requests to `vip` over [since, at), the time the address had a holder, no
    /// fault was in force or recovering, and the last acquisition's announcement had had
    /// its time to reach the client.
    fn failed_owned(&self, vip: usize, since: u64, at: u64) -> u64 {
        let Some(owned) = self.owned_since[vip] else {
            return 0;
        };
        let from = since.max(owned);
        if from >= at {
            return 0;
        }
        let healthy = self.ctx.recovered_within(from, at);
        let announcing = (self.acquired_at[vip]).map_or((0, 0), |acquired| {
            let (start, end) = (acquired.max(from), (acquired + self.ctx.announcing).min(at));
            (start, end.max(start))
        });
        healthy - self.ctx.recovered_within(announcing.0, announcing.1)
    }

    /// Whether the successor a departing owner's goodbye must name is live: the
    /// best-ranked node it heard since both last started that is no witness and not in
    /// standby (the protocol names a backup so heard; if that one has died unnoticed, the
    /// others wait their `dead_after` for it).
    fn successor_live(&self, owner: usize, at: u64) -> bool {
        let since = |i: usize| self.live.started(i).max(self.live.started(owner));
        let known = (0..self.live.nodes())
            .filter(|&i| i != owner && !self.standby[i])
            .filter(|&i| self.heard[owner][i].is_some_and(|t| t >= since(i)));
        (self.ctx.best(known, at)).is_some_and(|i| self.live.live(i))
    }
}

impl Checker for Availability {
    fn judges_deliveries(&self) -> bool {
        true
    }

    fn observe(&mut self, at: u64, obs: &Observation) {
        match *obs {
            Observation::Heard { node, from, .. } => {
                self.heard[node][from] = Some(at);
                return;
            }
            // A node's status or grants (a few hundred a run) change nothing judged here: who holds,
            // who could own and since when change only at observations of their own (a
            // reload's settings at its fault's edge, the first thing at that instant), and
            // between them `track_unowned` would leave every stretch as it is.
            Observation::Status { .. } | Observation::Grants { .. } => return,
            _ => {}
        }
        self.observe_holders(at, obs);
        match *obs {
            Observation::Standby { node, on } => self.standby[node] = on,
            Observation::Acquired { node, .. } => self.owned[node] = true,
            // An owner letting go (a hand-back, a shutdown's goodbye) names the best backup
            // it knows; if that one is not live, the others wait for it as for an owner.
            Observation::Released { node, .. } if !self.successor_live(node, at) => {
                self.departed = at
            }
            Observation::Down { node } => {
                let owner = std::mem::take(&mut self.owned[node]);
                if owner && !self.successor_live(node, at) {
                    self.departed = at;
                }
            }
            _ => {}
        }
        self.live.apply(at, obs);
        if !matches!(obs, Observation::Requests { .. }) {
            self.track_unowned(at);
        }
    }

    fn finish(&mut self, at: u64, findings: &mut Findings) {
        for vip in 0..self.empty_since.len() {
            if let Some(start) = self.empty_since[vip].take() {
                self.total += at - start;
            }
            if let Some(start) = self.unowned_since[vip].take().filter(|&s| s < at) {
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
