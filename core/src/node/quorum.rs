//! Quorum mode: an address is held only under a lease that a majority of the group's voters
//! granted, and the kernel removes it when the lease runs out.
//!
//! # The rule
//!
//! Every heartbeat of a node that claims the addresses (`Acquiring`, `Master`, `Releasing`)
//! asks the voters for a lease; each voter answers it with a [`MessageKind::Vote`]. Voters are
//! the nodes listed in `protocol.voters`: the address nodes and any witnesses (nodes that vote
//! and never hold an address). With `n` voters a lease needs `⌊n/2⌋ + 1` grants, the
//! claimant's own included.
//!
//! - **Claimant.** It notes the time `s` (its clock) at which it sent each request. Once a
//!   majority has granted requests sent at `s` or later, it holds the lease until `s + L`
//!   (`L` = `protocol.lease`). It asks for no address change before it holds one, gives each
//!   address the kernel lifetime `⌊(s + L − now) / 1 s⌋` seconds when adding it, keeps that
//!   lifetime ahead with every renewal, and removes its addresses itself when the lease ends.
//! - **Voter.** Granting a request at time `g` (its clock) is a promise: it grants no other
//!   node before `g + P` on its own clock, with
//!   `P = (L + G) × (1 + ε) / (1 − ε)`, where `G` = [`KERNEL_GRANULARITY`] and `ε` is
//!   `protocol.max_clock_drift_ppm`. It may renew the promise for the same node at any time,
//!   and drops it early only when that node announces, in a newer message, that it no longer
//!   claims (it says so only after its addresses are removed).
//!
//! # Why two nodes never hold an address
//!
//! Say node A holds a lease from a request sent at true time `Tₛ`. Every voter that granted it
//! did so at a true time `T_g ≥ Tₛ` and keeps its promise until at least
//! `T_g + P / (1 + ε) ≥ Tₛ + (L + G) / (1 − ε)` (its clock runs at most `1 + ε` fast). A's
//! clock runs at least `1 − ε` fast, so A's lease ends by `Tₛ + L / (1 − ε)` true time; the
//! kernel, counting the address lifetime in whole seconds on A's clock, removes the address
//! at most `G` after that. So every voter that granted A's lease keeps its promise until A's
//! address is gone, even if A's daemon is stopped, killed or cut off meanwhile: the kernel
//! does not need its cooperation. Another node B needs a majority too, and two majorities of
//! one voter set share a voter, which grants B only once its promise to A has run out.
//!
//! Assumptions: clocks (the daemon's `CLOCK_MONOTONIC` and the kernel's timer on each host)
//! drift apart from true time by at most `ε`; a host whose clock stops while time goes on
//! (a suspended laptop; a VM whose guest clock is not advanced over a pause) breaks that; the
//! kernel removes an expired address within `G` of its lifetime (Linux checks lifetimes about
//! once a second, never more than a second late; measured in the namespace test bed).
//!
//! # Why it recovers
//!
//! When a majority of voters can hear each other and the best candidate for longer than
//! `P` plus a heartbeat interval, every promise to anyone else has run out and the candidate's
//! next request is granted by all of them. A voter that refused a request because of a
//! promise grants it by itself the moment that promise runs out, so a failover after an owner
//! dies takes `max(dead_after + skew, P)` after its last renewal, not one more interval.

use super::Node;
use crate::config::Config;
use crate::coverage::{Point, Single};
use crate::io::{Output, PathId, Transmit};
use crate::time::Instant;
use crate::wire::{self, Message, MessageKind, Vote};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// How late the kernel may remove an address after its lifetime ends: Linux checks address
/// lifetimes from a delayed work item that runs about once a second (`check_lifetime` in
/// `net/ipv4/devinet.c`), never more than a second after an expiry.
pub const KERNEL_GRANULARITY: Duration = Duration::from_secs(1);

/// How long before a whole number of seconds of lease is left the kernel's lifetime is
/// renewed, and how long before the last lifetime can run out at the latest: the time a
/// driver may take to apply a renewal (a netlink call on the daemon's worker, on a loaded
/// host) without its rounding down to whole seconds losing a second, or the address. 50 ms
/// was too little for a debug build under a test suite's load: the address expired before the
/// renewal reached the kernel.
pub const EXTEND_LEAD: Duration = Duration::from_millis(200);

/// How early the kernel may remove an address before its lifetime is over: Linux counts an
/// address's age in whole seconds with a fuzz of `HZ/50` (`ADDRCONF_TIMER_FUZZ_MINUS`).
pub const KERNEL_EARLY: Duration = Duration::from_millis(20);

/// Requests (heartbeats sent while claiming) whose send time is remembered: a grant for an
/// older one is too late to matter, and is ignored.
pub const REQUESTS_KEPT: usize = 16;

/// What a voter has promised: no grant to anyone else before `until`.
#[derive(Clone, Debug)]
pub(crate) struct Promise {
    pub to: String,
    pub until: Instant,
}

/// A request refused because of a promise to another node: granted by itself when that
/// promise runs out, if it is still fresh.
#[derive(Clone, Debug)]
struct Waiting {
    candidate: String,
    epoch: u64,
    seq: u64,
    path: PathId,
    from: SocketAddr,
    asked: Instant,
}

/// A node's quorum-mode state, as claimant and as voter.
#[derive(Debug)]
pub(crate) struct Quorum {
    /// Every voter by name, in configuration order.
    voters: Vec<String>,
    me: usize,
    majority: usize,
    lease: Duration,
    promise_len: Duration,
    interval: Duration,
    promise: Option<Promise>,
    waiting: Option<Waiting>,
    /// Requests sent while claiming: (sequence number, send time).
    requests: VecDeque<(u64, Instant)>,
    /// Per voter: the send time of the newest request it granted.
    granted: Vec<Option<Instant>>,
    /// Per voter: its newest grant came back with less of the lease left than an address
    /// added then needs (the votes' round trip is too slow for the lease).
    late: Vec<bool>,
    /// Per voter: who it said its promise was held by, when it last refused.
    refused: Vec<Option<String>>,
    /// The lease this node holds ends here (it may be past).
    lease_end: Option<Instant>,
    /// The lease end last given to the kernel as an address lifetime.
    extended: Option<Instant>,
    /// When to give the kernel the newer lease end.
    extend_at: Option<Instant>,
    /// The earliest the kernel may remove the addresses, by the lifetime it was last given:
    /// a renewal must reach it before then.
    kernel_floor: Option<Instant>,
}

/// Quorum-mode figures for `failoverctl status` and metrics.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuorumStatus {
    /// Grants a lease needs.
    pub majority: usize,
    /// Every voter, in configuration order.
    pub voters: Vec<VoterStatus>,
    /// Milliseconds left of the lease this node holds (0: none).
    pub lease_left_ms: u64,
    /// As a voter: the node this node has promised its vote to, if any.
    pub promised_to: Option<String>,
    /// Milliseconds that promise still holds.
    pub promise_left_ms: u64,
}

/// One voter as this node sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoterStatus {
    /// Its name.
    pub name: String,
    /// Milliseconds since this node sent the newest request that voter granted.
    pub granted_ms_ago: Option<u64>,
    /// The node its promise was held by when it last refused.
    pub refused_for: Option<String>,
}

/// How long a voter keeps its promise: `(lease + G) × (1 + ε) / (1 − ε)`, rounded up to the
/// microsecond — the longest a candidate may wait for the last owner's lease to be safely over.
pub fn promise_len(lease: Duration, ppm: u32) -> Duration {
    let base = (lease + KERNEL_GRANULARITY).as_nanos();
    let (up, down) = (1_000_000 + u128::from(ppm), 1_000_000 - u128::from(ppm));
    let nanos = (base * up).div_ceil(down);
    Duration::from_micros(nanos.div_ceil(1000) as u64)
}

impl Quorum {
    /// The state of a quorum-mode node; `None` in classic mode.
    pub fn new(config: &Config) -> Option<Quorum> {
        let p = &config.protocol;
        if p.mode != crate::config::Mode::Quorum {
            return None;
        }
        let n = p.voters.len();
        Some(Quorum {
            me: (p.voters.iter()).position(|v| *v == config.node.name)?,
            voters: p.voters.clone(),
            majority: n / 2 + 1,
            lease: config.lease(),
            promise_len: promise_len(config.lease(), p.max_clock_drift_ppm),
            interval: p.interval,
            promise: None,
            waiting: None,
            requests: VecDeque::with_capacity(REQUESTS_KEPT),
            granted: vec![None; n],
            late: vec![false; n],
            refused: vec![None; n],
            lease_end: None,
            extended: None,
            extend_at: None,
            kernel_floor: None,
        })
    }

    /// Whether this node holds a lease at `now`.
    pub fn leased(&self, now: Instant) -> bool {
        self.lease_end.is_some_and(|end| now < end)
    }

    /// Whether enough of the lease is left at `now` to give the kernel a lifetime of at least
    /// one whole second for an address added now.
    pub fn can_add(&self, now: Instant) -> bool {
        self.lease_end
            .is_some_and(|end| end >= now + KERNEL_GRANULARITY + EXTEND_LEAD)
    }

    pub fn lease_end(&self) -> Option<Instant> {
        self.lease_end
    }

    /// Forgets the lease: the node holds nothing and claims nothing any more.
    pub fn drop_lease(&mut self) {
        self.requests.clear();
        self.granted.iter_mut().for_each(|g| *g = None);
        self.late.iter_mut().for_each(|l| *l = false);
        self.lease_end = None;
        self.extended = None;
        self.extend_at = None;
        self.kernel_floor = None;
    }

    /// As a voter: promises `candidate` the vote from `now`, unless it is promised to another.
    fn grant(&mut self, candidate: &str, now: Instant) -> Result<(), String> {
        match &self.promise {
            Some(p) if p.to != candidate && now < p.until => Err(p.to.clone()),
            _ => {
                self.promise = Some(Promise {
                    to: candidate.to_string(),
                    until: now + self.promise_len,
                });
                if self
                    .waiting
                    .as_ref()
                    .is_some_and(|w| w.candidate == candidate)
                {
                    self.waiting = None;
                }
                Ok(())
            }
        }
    }

    /// `name` no longer claims (it said so after removing its addresses): its promise ends,
    /// and a request of its that waited is void.
    pub fn released(&mut self, name: &str) {
        if self.promise.as_ref().is_some_and(|p| p.to == name) {
            self.promise = None;
        }
        if self.waiting.as_ref().is_some_and(|w| w.candidate == name) {
            self.waiting = None;
        }
    }

    /// A request this node sent at `now` (a heartbeat while claiming): remembered, and granted
    /// by this node's own vote if that is free.
    pub fn asked(&mut self, seq: u64, now: Instant, me: &str) {
        if self.requests.len() == REQUESTS_KEPT {
            self.requests.pop_front();
        }
        self.requests.push_back((seq, now));
        if self.grant(me, now).is_ok() {
            self.granted[self.me] = Some(now);
            self.recount();
            self.plan_extend(now);
        }
    }

    /// A voter's answer to this node's request `seq`, read at `now`. True if the lease now
    /// ends later.
    pub fn answered(
        &mut self,
        voter: &str,
        seq: u64,
        holder: Result<(), String>,
        now: Instant,
    ) -> bool {
        let Some(v) = self.voters.iter().position(|n| n == voter) else {
            return false;
        };
        if let Err(holder) = holder {
            self.refused[v] = Some(holder);
            return false;
        }
        self.refused[v] = None;
        let Some(&(_, sent)) = self.requests.iter().find(|(s, _)| *s == seq) else {
            return false;
        };
        if self.granted[v].is_some_and(|g| g >= sent) {
            return false;
        }
        self.granted[v] = Some(sent);
        self.late[v] = sent + self.lease < now + KERNEL_GRANULARITY + EXTEND_LEAD;
        let before = self.lease_end;
        self.recount();
        self.lease_end != before
    }

    /// The lease a majority backs: from the `majority`-th newest grant.
    fn recount(&mut self) {
        let mut times: Vec<Instant> = self.granted.iter().flatten().copied().collect();
        if times.len() < self.majority {
            return;
        }
        times.sort_unstable_by(|a, b| b.cmp(a));
        let end = times[self.majority - 1] + self.lease;
        if self.lease_end.is_none_or(|e| end > e) {
            self.lease_end = Some(end);
        }
    }

    /// Why a takeover got no lease, as of `now`: the voters whose grant still leaves enough
    /// of the lease to add an address (a whole second of kernel lifetime), and those whose
    /// newest grant came back with less than that left — their votes take longer than the
    /// lease, less a second, to come back.
    pub fn granting_in_time(&self, now: Instant) -> (Vec<String>, Vec<String>) {
        let enough = now + KERNEL_GRANULARITY + EXTEND_LEAD;
        let in_time = |v: usize| self.granted[v].is_some_and(|g| g + self.lease >= enough);
        let names = |keep: &dyn Fn(usize) -> bool| {
            (0..self.voters.len())
                .filter(|&v| keep(v))
                .map(|v| self.voters[v].clone())
                .collect()
        };
        (names(&in_time), names(&|v| self.late[v] && !in_time(v)))
    }

    /// Voters that granted a request still within the lease at `now`.
    pub fn granting(&self, now: Instant) -> Vec<String> {
        (self.voters.iter().zip(&self.granted))
            .filter(|(_, g)| g.is_some_and(|g| g + self.lease > now))
            .map(|(name, _)| name.clone())
            .collect()
    }

    pub fn majority(&self) -> usize {
        self.majority
    }

    /// The promise length voters keep: how long a candidate may have to wait for a lease.
    pub fn promise_len(&self) -> Duration {
        self.promise_len
    }

    /// Plans giving the kernel the current lease end as the addresses' lifetime: at the
    /// first instant from `now` at which a whole number of seconds (and [`EXTEND_LEAD`]) of
    /// it is left, so rounding down to seconds loses almost nothing.
    pub fn plan_extend(&mut self, now: Instant) {
        let Some(end) = self
            .lease_end
            .filter(|&e| self.extended.is_none_or(|x| e > x))
        else {
            return;
        };
        let Some(left) = (end - EXTEND_LEAD).checked_since(now) else {
            return;
        };
        let whole = left.as_secs();
        if whole == 0 {
            return;
        }
        let mut at = end - EXTEND_LEAD - Duration::from_secs(whole);
        // The aligned instant may come after the kernel's last lifetime can run out (a
        // lifetime of one second, renewed a second later, may be gone 20 ms before): renew
        // before that floor instead, if what is left then is still worth a lifetime.
        if let Some(latest) = (self.kernel_floor)
            .and_then(|floor| floor.checked_since(now))
            .map(|left| now + left.saturating_sub(EXTEND_LEAD))
        {
            if latest < at && end.saturating_since(latest) >= KERNEL_GRANULARITY + EXTEND_LEAD {
                at = latest;
            }
        }
        self.extend_at = Some(self.extend_at.map_or(at, |x| x.min(at)));
    }

    /// The kernel was just given the lifetime `end - now`, rounded down to whole seconds as
    /// the drivers do.
    fn told_kernel(&mut self, now: Instant, end: Instant) {
        let whole = Duration::from_secs(end.saturating_since(now).as_secs());
        self.kernel_floor = Some(now + whole.saturating_sub(KERNEL_EARLY));
    }

    /// The lease end to give the kernel now, if its time has come.
    pub fn extend_due(&mut self, now: Instant) -> Option<Instant> {
        if self.extend_at.is_none_or(|at| now < at) {
            return None;
        }
        self.extend_at = None;
        let end = self.lease_end.filter(|&e| now < e)?;
        self.extended = Some(end);
        self.told_kernel(now, end);
        Some(end)
    }

    /// An address was just added with the lease end of its request as lifetime: the newest
    /// lease end is given to the kernel at the next chance.
    pub fn added(&mut self, now: Instant) {
        self.extended = None;
        if let Some(end) = self.lease_end {
            self.told_kernel(now, end);
        }
        self.plan_extend(now);
    }

    /// The next instant this state needs a look: the lease's end (until the full look at or
    /// after it, `looked` being the last one), the kernel's renewal, the end of a promise
    /// someone waits on.
    pub fn next_deadline(&self, claims: bool, looked: Instant) -> Option<Instant> {
        // Not `end > now`: the timer that fires at the lease's end recomputes the deadline
        // first, and must still find the end due — else the lapse waits for the next full
        // look (another peer's expiry, a changed datagram) while the node goes on as master.
        let lease = self.lease_end.filter(|&end| claims && end > looked);
        let promise = (self.promise.as_ref())
            .filter(|_| self.waiting.is_some())
            .map(|p| p.until);
        [lease, self.extend_at, promise].into_iter().flatten().min()
    }

    /// A snapshot for status.
    pub fn status(&self, now: Instant) -> QuorumStatus {
        let ms = |d: Duration| d.as_millis() as u64;
        QuorumStatus {
            majority: self.majority,
            voters: (self.voters.iter().enumerate())
                .map(|(i, name)| VoterStatus {
                    name: name.clone(),
                    granted_ms_ago: self.granted[i].map(|g| ms(now - g)),
                    refused_for: self.refused[i].clone(),
                })
                .collect(),
            // Rounded up: an owner with any lease left does not show none.
            lease_left_ms: self
                .lease_end
                .and_then(|e| e.checked_since(now))
                .map_or(0, |d| d.as_nanos().div_ceil(1_000_000) as u64),
            promised_to: (self.promise.as_ref())
                .filter(|p| now < p.until)
                .map(|p| p.to.clone()),
            promise_left_ms: (self.promise.as_ref())
                .and_then(|p| p.until.checked_since(now))
                .map_or(0, ms),
        }
    }
}

impl Node {
    /// What a datagram from peer `index` means in quorum mode: a vote for this node moves its
    /// lease; a claimant's heartbeat is a request to answer; a peer that no longer claims frees
    /// the vote promised to it. True when the lease moved (the rule must look again).
    pub(super) fn quorum_input(
        &mut self,
        now: Instant,
        index: usize,
        msg: &Message<&[u8]>,
        path: PathId,
        from: SocketAddr,
    ) -> bool {
        let Some(q) = self.quorum.as_mut() else {
            return false;
        };
        let peer = self.peers.get_mut(index);
        let (name, claims) = (peer.name.clone(), peer.role.claims_ownership());
        match (&msg.vote, msg.kind) {
            (Some(vote), MessageKind::Vote) => {
                let mine = vote.candidate == self.config.node.name.as_bytes()
                    && vote.candidate_epoch == self.epoch;
                if !mine {
                    return false;
                }
                let holder = match vote.granted {
                    true => Ok(()),
                    false => Err(vote
                        .holder
                        .map(|h| String::from_utf8_lossy(h).into_owned())
                        .unwrap_or_default()),
                };
                if !q.answered(&name, vote.seq, holder, now) {
                    return false;
                }
                q.plan_extend(now);
                self.lease_granted(now);
                true
            }
            (_, MessageKind::Heartbeat) if claims => {
                self.vote(now, &name, msg.epoch, msg.seq, path, from);
                false
            }
            // A goodbye says the sender holds nothing any more, whatever role it carries.
            _ => {
                if !claims || msg.kind == MessageKind::Goodbye {
                    q.released(&name);
                    // A request refused for that promise is granted now.
                    self.promise_expired(now);
                }
                false
            }
        }
    }

    /// Gives the kernel the lease's newer end as the held addresses' lifetime, when its time
    /// has come — but not for an address whose change is under way: one being removed is
    /// going (the renewal would add it back), one being added carries its own lifetime. An
    /// address whose release has not reached its removal yet (`Test` and `PreRel` may take
    /// long, and may still veto) is renewed: it is served until then.
    pub(super) fn extend_due(&mut self, now: Instant) {
        let Some(until) = self.quorum.as_mut().and_then(|q| q.extend_due(now)) else {
            return;
        };
        self.coverage.hit(Single::LeaseExtended);
        let changing = (self.transition.as_ref())
            .and_then(|t| t.pending)
            .and_then(|p| match p.step {
                super::transition::Step::Address(_, v) => Some(v),
                _ => None,
            });
        for vip in self.held_vips() {
            if Some(vip) != changing {
                self.outputs.push_back(Output::Extend { vip, until });
            }
        }
    }

    /// As a voter: answers a claimant's request (`seq` of boot epoch `epoch`, heard on `path`
    /// from `from`) with a grant, or a refusal naming the promise's holder — then that request
    /// waits, and is granted when the promise runs out.
    pub(super) fn vote(
        &mut self,
        now: Instant,
        candidate: &str,
        epoch: u64,
        seq: u64,
        path: PathId,
        from: SocketAddr,
    ) {
        let Some(q) = self.quorum.as_mut() else {
            return;
        };
        let holder = q.grant(candidate, now).err();
        self.coverage.hit(match holder {
            None => Single::VoteGranted,
            Some(_) => Single::VoteRefused,
        });
        if holder.is_some() {
            q.waiting = Some(Waiting {
                candidate: candidate.to_string(),
                epoch,
                seq,
                path,
                from,
                asked: now,
            });
        }
        self.send_vote(candidate, epoch, seq, holder, path, from);
    }

    /// A promise someone waited on has run out: the waiting request is granted, if it is
    /// still fresh (asked within the last interval) and no one else took the vote meanwhile.
    pub(super) fn promise_expired(&mut self, now: Instant) {
        let Some(q) = self.quorum.as_mut() else {
            return;
        };
        if q.promise.as_ref().is_some_and(|p| now < p.until) {
            return;
        }
        let Some(w) = q.waiting.take() else {
            return;
        };
        if now >= w.asked + q.interval || q.grant(&w.candidate, now).is_err() {
            return;
        }
        self.coverage.hit(Single::VoteGrantedLater);
        self.send_vote(&w.candidate, w.epoch, w.seq, None, w.path, w.from);
    }

    fn send_vote(
        &mut self,
        candidate: &str,
        epoch: u64,
        seq: u64,
        holder: Option<String>,
        path: PathId,
        to: SocketAddr,
    ) {
        self.seq += 1;
        let msg = Message {
            kind: MessageKind::Vote,
            role: self.role,
            seq: self.seq,
            successor: None,
            vote: Some(Vote {
                candidate,
                candidate_epoch: epoch,
                seq,
                granted: holder.is_none(),
                holder: holder.as_deref(),
            }),
            group: self.template.group,
            priority: self.template.priority,
            epoch: self.template.epoch,
            sender: self.template.sender.as_str(),
            quorum: true,
            // A vote carries the voter's state like a heartbeat: standby included.
            marks: super::marks_of(self),
        };
        let mut bytes = Vec::with_capacity(160);
        wire::encode_into(&msg, self.key.as_ref(), &mut bytes);
        self.coverage.hit(Point::sent(MessageKind::Vote, self.role));
        self.counters.sent += 1;
        self.outputs.push_back(Output::Transmit(Transmit {
            path,
            to,
            payload: Arc::from(bytes),
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_promise_covers_the_lease_the_kernel_and_both_clocks_drifting_apart() {
        let p = promise_len(Duration::from_millis(2500), 1000);
        // (2.5 s + 1 s) × 1.001 / 0.999
        assert_eq!(p, Duration::from_micros(3_507_008));
        assert_eq!(
            promise_len(Duration::from_secs(2), 0),
            Duration::from_secs(3)
        );
    }
}
