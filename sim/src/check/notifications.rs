//! Notifications: every address taken over named in exactly one failover notice, every
//! release notified exactly once, network anomalies never repeated before their recovery,
//! and the counts the scenario expects.
//!
//! Where the engine records what it did to the nodes (the simulator: hook failures and
//! refused address changes, [`Context::deliveries`]), notices are matched to those events one
//! by one: each failure of a hook other than `Test` is notified exactly once, naming its hook,
//! address and outcome; a `Test` that says no is a veto, named in the takeover's notice, never
//! a hook failure; a `Test` that says no to a hand-back calls it off, named in a hand-back
//! veto notice; a refused address change is notified at most once, and so is a veto — a
//! refusal repeated after a back-off is no news — but the first refusal of a takeover, and of
//! a release, of each node since it started (classic mode: nothing refuses one before it) must
//! be. No notice names an event that
//! did not happen. And when two owners resolve, the one that lets go names the one that stays.
//! A witness sends no notice at all. A quorum notice (no quorum for a takeover, a lease lost)
//! names as granting only voters of the group, each once, fewer than a majority — and, where
//! the engine keeps a ledger of the votes, exactly those its grants justify ([`super::grants`]); and a
//! takeover given up for want of a majority is notified once, not again at each retry. A
//! rival-claim notice comes only once the claim has lasted `dead_after`, and a failover notice
//! names a previous owner the node had heard claim ([`super::claims`]) and at least one address
//! taken over or vetoed (a takeover that got nothing else is told by its own notices: the
//! refused address change, no quorum).

use super::claims::HeardClaims;
use super::grants::{self, GrantsSeen};
use super::{Checker, Context, Findings, Observation};
use failover_core::{AddressChange, HookEvent, HookKind, HookOutcome, Notification, Role};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

/// A hook failure or refused address change the engine recorded, and which notices named it.
#[derive(Clone, Debug)]
struct Event {
    at: u64,
    what: Failure,
    /// Named by a hook-failure or address-failure notice.
    noticed: bool,
    /// Named as vetoed by a takeover notice.
    vetoed: bool,
    /// A notice is owed: the hand-over it belongs to was still going on (one given up — the
    /// owner heard after all — waits for nothing, and says nothing of a hook ending later).
    owed: bool,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Failure {
    Hook {
        hook: HookKind,
        vip: usize,
        event: HookEvent,
        outcome: HookOutcome,
    },
    Address {
        vip: usize,
        change: AddressChange,
    },
}

impl Failure {
    /// What refuses a hand-over of kind `hand_over`: its `Test` failing or hanging (a
    /// takeover's vetoes its address, a hand-back's calls it off), or the kernel refusing its
    /// address change (an add for a takeover, a removal for a release).
    fn refuses(self, hand_over: HookEvent) -> bool {
        match self {
            Failure::Hook { hook, event, .. } => hook == HookKind::Test && event == hand_over,
            Failure::Address { change, .. } => {
                change
                    == match hand_over {
                        HookEvent::Acquire => AddressChange::Add,
                        HookEvent::Release => AddressChange::Remove,
                    }
            }
        }
    }
}

/// The failure a notice names among `events` that fit it: one still owed a notice before one
/// that is not (a takeover given up may have left a hook to fail after it, unnoticed, just
/// before the next takeover's same failure), and of those the latest.
fn named(events: &mut [Event], fits: impl Fn(&Event) -> bool) -> Option<&mut Event> {
    let owed = (events.iter()).rposition(|e| e.owed && fits(e));
    let index = owed.or_else(|| events.iter().rposition(&fits))?;
    events.get_mut(index)
}

/// Matches notifications against what the nodes did, node by node.
pub struct Notifications {
    ctx: Rc<Context>,
    /// Per node: takeovers (its role became master), for `expect.takeovers`.
    takeovers: Vec<u32>,
    /// Takeovers begun (a role became acquiring), for `expect.max_takeover_attempts`.
    attempts: u32,
    /// Per node: addresses it added that no failover notice has named yet.
    unnotified: Vec<BTreeSet<usize>>,
    /// Per node: completed releases and release notices.
    releases: Vec<(u32, u32)>,
    /// Per (node, peer, path): whether an anomaly is outstanding.
    anomaly: BTreeMap<(usize, String, String), bool>,
    anomalies: u32,
    rival_claims: u32,
    repeated: Vec<String>,
    /// Per node: its role, and (quorum mode) the addresses the kernel removed while it
    /// claimed them — their lifetime ran out a moment before a renewal that then added them
    /// back: a restore, not a takeover. (The end of its claim clears them; a later takeover
    /// starts from `Backup`.)
    roles: Vec<Role>,
    restorable: Vec<BTreeSet<usize>>,
    /// Per node: a lost lease was notified and the release it began has not ended.
    lease_lost: Vec<bool>,
    /// Per node: it notified a takeover given up for want of a majority, and has since
    /// neither taken the addresses over, nor ended a release, nor restarted: a refusal
    /// repeated after the back-off is no news.
    no_quorum_told: Vec<bool>,
    /// Per node, since its daemon started: the failures recorded.
    events: Vec<Vec<Event>>,
    /// Per node: it let an address go while another node held it — the notice of that
    /// release must name the one that stays.
    yielded_to: Vec<Option<usize>>,
    /// Per node: who holds each address (for `yielded_to`).
    holders: super::Holders,
    /// Per node: a release notice that did not name the owner that stays, judged when the
    /// release ends — a planned shutdown's (the node stops) names no one.
    misnamed: Vec<Option<String>>,
    /// Per node: hook-failure notices that came before the engine recorded a failure at the
    /// same instant.
    early: Vec<Vec<(u64, Failure, String)>>,
    /// Last fresh delivery, by receiver then sender.
    heard: Vec<Option<u64>>,
    /// Since when each node holds each address, by address then node.
    held_since: Vec<Option<u64>>,
    /// Per node: since when it has its role.
    role_since: Vec<Option<u64>>,
    /// Per node: it answered an operator since its last release ended — a release now is
    /// the operator's hand-over, to whom the operator chose.
    asked: Vec<bool>,
    /// Per node: since when its daemon is stopped, if it is.
    paused_since: Vec<Option<u64>>,
    /// Since when each owner has heard each rival claim.
    claims: HeardClaims,
    /// Per node: the grants of its claim when it last decided who granted its lease.
    grants: Vec<Option<Box<GrantsSeen>>>,
    mismatches: Vec<String>,
}

impl Notifications {
    pub(super) fn new(ctx: &Rc<Context>) -> Notifications {
        let n = ctx.nodes.len();
        Notifications {
            ctx: ctx.clone(),
            takeovers: vec![0; n],
            attempts: 0,
            unnotified: vec![BTreeSet::new(); n],
            releases: vec![(0, 0); n],
            anomaly: BTreeMap::new(),
            anomalies: 0,
            rival_claims: 0,
            repeated: Vec::new(),
            roles: vec![Role::Backup; n],
            restorable: vec![BTreeSet::new(); n],
            lease_lost: vec![false; n],
            no_quorum_told: vec![false; n],
            events: vec![Vec::new(); n],
            yielded_to: vec![None; n],
            holders: super::Holders::new(ctx.vips),
            paused_since: vec![None; n],
            early: vec![Vec::new(); n],
            misnamed: vec![None; n],
            heard: vec![None; n * n],
            held_since: vec![None; ctx.vips * n],
            asked: vec![false; n],
            role_since: vec![None; n],
            claims: HeardClaims::new(ctx),
            grants: vec![None; n],
            mismatches: Vec::new(),
        }
    }

    /// What is wrong with the voters a quorum notice names as having granted the lease (a
    /// takeover given up for want of a majority, a lease lost): each must be a voter of the
    /// group, named once, and fewer than a majority; `needed` is the majority. (A no-quorum
    /// notice also names the voters that granted too late, once each and not among those
    /// that granted in time.)
    fn voters_wrong(&self, notification: &Notification, granted: &[String]) -> Option<String> {
        let majority = self.ctx.majority?;
        let late = match notification {
            Notification::NoQuorum { late, .. } => late.as_slice(),
            _ => &[],
        };
        let mut seen = BTreeSet::new();
        if let Some(stranger) =
            (granted.iter().chain(late)).find(|g| !self.ctx.nodes.iter().any(|(n, _)| n == *g))
        {
            return Some(format!("names {stranger:?}, no voter of the group"));
        }
        if let Some(twice) = granted.iter().chain(late).find(|g| !seen.insert(*g)) {
            return Some(format!("names {twice} twice"));
        }
        if granted.len() >= majority {
            return Some(format!(
                "names {} voters, a majority of {majority}",
                granted.len()
            ));
        }
        match notification {
            Notification::NoQuorum { needed, .. } if *needed != majority => Some(format!(
                "says {needed} are needed, the majority is {majority}"
            )),
            _ => None,
        }
    }

    /// Matches the notice `notification` of `node` to the failures it names.
    fn match_notice(&mut self, at: u64, node: usize, notification: &Notification) {
        let name = &self.ctx.nodes[node].0.clone();
        let events = &mut self.events[node];
        match notification {
            Notification::HookFailed { hook, vip, outcome } => {
                let what = Failure::Hook {
                    hook: *hook,
                    vip: vip.0,
                    event: HookEvent::Acquire,
                    outcome: *outcome,
                };
                let same = |e: &Event| match (e.what, what) {
                    (
                        Failure::Hook {
                            hook, vip, outcome, ..
                        },
                        Failure::Hook {
                            hook: h,
                            vip: v,
                            outcome: o,
                            ..
                        },
                    ) => hook == h && vip == v && outcome == o,
                    _ => false,
                };
                if *hook == HookKind::Test && matches!(outcome, HookOutcome::Failed(_)) {
                    self.mismatches.push(format!(
                        "{name} notified a Test that said no as a hook failure at {} (it is a veto)",
                        super::secs(at)
                    ));
                } else if let Some(e) = named(events, |e| !e.noticed && same(e)) {
                    e.noticed = true;
                } else {
                    // (core times a hook out itself at its deadline, which may come before
                    // the engine records the kill at that same instant)
                    self.early[node].push((at, what, notification.summary()));
                }
            }
            Notification::AddressFailed { vip, change, error } => {
                let want = Failure::Address {
                    vip: vip.0,
                    change: *change,
                };
                if let Some(e) = named(events, |e| !e.noticed && e.what == want) {
                    e.noticed = true;
                } else if !error.starts_with("no answer within") {
                    self.mismatches.push(format!(
                        "{name} notified at {} {} with no such refusal left unnotified",
                        super::secs(at),
                        notification.summary()
                    ));
                }
            }
            Notification::Failover { vetoed, .. } | Notification::HandBackVetoed { vetoed, .. } => {
                if let Notification::Failover { from, .. } = notification {
                    let misnamed = self.claims.misnamed(&self.ctx, at, node, from.as_deref());
                    self.mismatches.extend(misnamed);
                }
                let events = &mut self.events[node];
                let (hand_over, what) = match notification {
                    Notification::Failover { .. } => (HookEvent::Acquire, "a takeover"),
                    _ => (HookEvent::Release, "a hand-back"),
                };
                for vip in vetoed {
                    let veto = |e: &Event| {
                        e.what.refuses(hand_over)
                            && matches!(e.what, Failure::Hook { vip: v, .. } if v == vip.0)
                    };
                    if let Some(e) = named(events, |e| !e.vetoed && veto(e)) {
                        e.vetoed = true;
                    } else {
                        self.mismatches.push(format!(
                            "{name} notified at {} {what} of address {} vetoed by a Test that never said no",
                            super::secs(at),
                            vip.0
                        ));
                    }
                }
            }
            Notification::RivalClaim { peer, .. } => {
                if let Some(early) = self.claims.early(&self.ctx, at, node, peer) {
                    self.mismatches.push(early);
                }
            }
            Notification::Released { to } => {
                if let Some(stays) = self.yielded_to[node].take() {
                    // (or a node it ranks above itself: a hand-back to a better backup begun
                    // before it heard the owner that stays)
                    let rank = |n: usize| self.ctx.rank_at(n, at);
                    let named = (to.as_deref())
                        .and_then(|t| self.ctx.nodes.iter().position(|(n, _)| n == t));
                    let better = named.is_some_and(|n| rank(n) > rank(node));
                    let stays = &self.ctx.nodes[stays].0;
                    if to.as_deref() != Some(stays.as_str()) && !better {
                        self.misnamed[node] = Some(format!(
                            "{name} let the addresses go to {stays} at {} and its notice named {to:?}",
                            super::secs(at)
                        ));
                    }
                }
            }
            _ => {}
        }
    }

    /// What a node's notices left out of the failures recorded since it started.
    fn unnotified(&mut self, node: usize) {
        let name = &self.ctx.nodes[node].0;
        for (at, _, summary) in self.early[node].drain(..) {
            self.mismatches.push(format!(
                "{name} notified at {} {summary} with no such failure left unnotified",
                super::secs(at)
            ));
        }
        let events = std::mem::take(&mut self.events[node]);
        for e in &events {
            if let Failure::Hook {
                hook, vip, outcome, ..
            } = e.what
            {
                if hook != HookKind::Test && e.owed && !e.noticed {
                    self.mismatches.push(format!(
                        "{name}'s hook {hook} for address {vip} ended {outcome:?} at {} and no notice said so",
                        super::secs(e.at)
                    ));
                }
            }
        }
        if self.ctx.majority.is_some() {
            return;
        }
        for (what, hand_over) in [
            ("takeover", HookEvent::Acquire),
            ("release", HookEvent::Release),
        ] {
            if let Some(first) = (events.iter()).find(|e| e.owed && e.what.refuses(hand_over)) {
                if !(first.vetoed || first.noticed) {
                    self.mismatches.push(format!(
                        "{name} was refused a {what} at {} ({:?}) and no notice said so",
                        super::secs(first.at),
                        first.what
                    ));
                }
            }
        }
    }
}

impl Checker for Notifications {
    fn judges_deliveries(&self) -> bool {
        true
    }

    fn observe(&mut self, at: u64, obs: &Observation) {
        match *obs {
            Observation::HookFailed {
                node,
                hook,
                vip,
                event,
                asked,
                outcome,
            } => {
                let what = Failure::Hook {
                    hook,
                    vip,
                    event,
                    outcome,
                };
                let early = (self.early[node].iter()).position(|&(t, w, _)| {
                    t == at
                        && matches!(w, Failure::Hook { hook: h, vip: v, outcome: o, .. } if h == hook && v == vip && o == outcome)
                });
                let going_on = match event {
                    HookEvent::Acquire => Role::Acquiring,
                    HookEvent::Release => Role::Releasing,
                };
                self.events[node].push(Event {
                    at,
                    what,
                    noticed: early.map(|i| self.early[node].remove(i)).is_some(),
                    vetoed: false,
                    owed: self.roles[node] == going_on
                        && self.role_since[node].is_some_and(|since| asked >= since),
                });
                return;
            }
            Observation::AddressRefused { node, vip, change } => {
                let what = Failure::Address { vip, change };
                self.events[node].push(Event {
                    at,
                    what,
                    noticed: false,
                    vetoed: false,
                    owed: self.roles[node].claims_ownership(),
                });
                return;
            }
            // A yield: it lets go while another holds, having heard that one since it held
            // (not an operator's hand-over, nor a hand-back to a backup it thinks better).
            Observation::Released { node, vip } => {
                self.holders.apply(obs);
                let others = self.holders.of(vip);
                let n = self.ctx.nodes.len();
                if let [stays] = *others {
                    let heard = self.heard[node * n + stays];
                    let since =
                        self.held_since[vip * n + stays].max(self.held_since[vip * n + node]);
                    let asked = self.asked[node];
                    if self.roles[node] == Role::Releasing && heard >= since && !asked {
                        self.yielded_to[node] = Some(stays);
                    }
                }
                self.held_since[vip * n + node] = None;
            }
            Observation::Acquired { node, vip } => {
                if !self.holders.of(vip).contains(&node) {
                    self.held_since[vip * self.ctx.nodes.len() + node] = Some(at);
                }
                self.holders.apply(obs);
            }
            Observation::RoleChanged { node, from, to } if from != to => {
                self.role_since[node] = Some(at);
                self.claims.role(at, node, to);
                if from == Role::Releasing {
                    self.asked[node] = false;
                    if let Some(m) = self.misnamed[node].take().filter(|_| to != Role::Stopped) {
                        self.mismatches.push(m);
                    }
                }
            }
            Observation::Heard { node, from, role } => {
                self.heard[node * self.ctx.nodes.len() + from] = Some(at);
                self.claims.heard(at, node, self.roles[node], from, role);
                return;
            }
            Observation::Answered { node, .. } => self.asked[node] = true,
            // Its failures are owed nothing: core ignores what the hooks of a takeover it gave
            // up answer — also one the engine recorded a moment before, at the same instant
            // the claimer was heard.
            Observation::TakeoverAbandoned { node, .. } => {
                let since = self.role_since[node].unwrap_or(0);
                for e in (self.events[node].iter_mut()).filter(|e| e.at >= since) {
                    if matches!(
                        e.what,
                        Failure::Hook {
                            event: HookEvent::Acquire,
                            ..
                        }
                    ) {
                        e.owed = false;
                    }
                }
            }
            Observation::Notified {
                node,
                ref notification,
            } if self.ctx.deliveries => self.match_notice(at, node, notification),
            _ => {}
        }
        match *obs {
            // (a restore may come while the claim goes on in another role: a renewal during
            // a release's hooks adds back what the kernel removed a moment before)
            Observation::RoleChanged { node, to, .. } if !to.claims_ownership() => {
                self.roles[node] = to;
                self.restorable[node].clear();
            }
            Observation::Released { node, vip } if self.roles[node].claims_ownership() => {
                self.restorable[node].insert(vip);
                return;
            }
            Observation::Acquired { node, vip } if self.restorable[node].remove(&vip) => return,
            _ => {}
        }
        if let Observation::RoleChanged { node, to, .. } = *obs {
            self.roles[node] = to;
        }
        match *obs {
            Observation::RoleChanged {
                node,
                to: Role::Master,
                from: Role::Acquiring,
            } => {
                self.takeovers[node] += 1;
                self.no_quorum_told[node] = false;
            }
            Observation::RoleChanged {
                to: Role::Acquiring,
                ..
            } => self.attempts += 1,
            Observation::Acquired { node, vip } => {
                self.unnotified[node].insert(vip);
            }
            Observation::RoleChanged {
                node,
                from: Role::Releasing,
                to: Role::Backup | Role::Stopped,
            } => {
                // (the back-off a refusal left is the release's now)
                self.no_quorum_told[node] = false;
                self.releases[node].0 += 1;
                self.lease_lost[node] = false;
            }
            // A restarted process remembers nothing it notified: its first notice of a link
            // still cut is no repeat; and a takeover cut short by its end was never mailed.
            // A lost lease is notified as its release begins: cut short by the process's end,
            // that release is done all the same (the host is gone, or its kernel removes the
            // address when the lifetime ends).
            Observation::Paused { node } => {
                self.paused_since[node].get_or_insert(at);
            }
            Observation::Grants { node, ref seen } => self.grants[node] = Some(seen.clone()),
            Observation::Resumed { node } | Observation::Up { node } => {
                self.paused_since[node] = None;
            }
            Observation::Down { node } => {
                self.no_quorum_told[node] = false;
                self.grants[node] = None;
                self.claims.down(node);
                // A failure its process did not live to read — at the instant it died, or
                // while it was stopped — is no missing notice.
                let cut = self.paused_since[node].take().unwrap_or(at);
                self.misnamed[node] = None;
                self.events[node].retain(|e| e.at < cut);
                if self.ctx.deliveries {
                    self.unnotified(node);
                }
                self.yielded_to[node] = None;
                if std::mem::take(&mut self.lease_lost[node]) {
                    self.releases[node].0 += 1;
                }
                self.anomaly.retain(|(n, _, _), _| *n != node);
                self.unnotified[node].clear();
                self.roles[node] = Role::Backup;
                self.restorable[node].clear();
            }
            // A witness votes and never holds: the servers watch each other, and it sends
            // no mail of any kind.
            Observation::Notified {
                node,
                ref notification,
            } if self.ctx.nodes[node].1 == 0 => self.repeated.push(format!(
                "{} (a witness) sent a notice: {}",
                self.ctx.nodes[node].0,
                notification.summary()
            )),
            Observation::Notified {
                node,
                ref notification,
            } => match notification {
                Notification::NoQuorum { granted, .. }
                | Notification::LeaseLost { granted, .. } => {
                    let name = &self.ctx.nodes[node].0;
                    let justified = match self.grants[node].take() {
                        Some(seen) => grants::wrong(name, notification, &seen),
                        // (the engine records them: a notice decided at no instant it knows)
                        None if self.ctx.deliveries => Some(
                            "its voters were decided at no instant the engine was told of \
                             (a lost lease, a takeover's lease failing)"
                                .into(),
                        ),
                        None => None,
                    };
                    if let Some(wrong) = self.voters_wrong(notification, granted).or(justified) {
                        self.repeated
                            .push(format!("{name}: {}: {wrong}", notification.summary()));
                    }
                    if matches!(notification, Notification::NoQuorum { .. })
                        && std::mem::replace(&mut self.no_quorum_told[node], true)
                    {
                        self.repeated.push(format!(
                            "{} repeated a no-quorum notice before any takeover of its succeeded",
                            self.ctx.nodes[node].0
                        ));
                    }
                    if matches!(notification, Notification::LeaseLost { .. }) {
                        self.releases[node].1 += 1;
                        self.lease_lost[node] = true;
                    }
                }
                Notification::RivalClaim { .. } => self.rival_claims += 1,
                Notification::Failover {
                    acquired, vetoed, ..
                } => {
                    if acquired.is_empty() && vetoed.is_empty() {
                        self.repeated.push(format!(
                            "{} sent a failover notice naming no address taken over or vetoed",
                            self.ctx.nodes[node].0
                        ));
                    }
                    for vip in acquired {
                        if !self.unnotified[node].remove(&vip.0) {
                            self.repeated.push(format!(
                                "{} notified a takeover of address {} it had not made",
                                self.ctx.nodes[node].0, vip.0
                            ));
                        }
                    }
                }
                // (a lost lease is the notice of the release it starts)
                Notification::Released { .. } => self.releases[node].1 += 1,
                Notification::NetworkAnomaly { peer, path }
                | Notification::NetworkRecovered { peer, path } => {
                    let anomaly = matches!(notification, Notification::NetworkAnomaly { .. });
                    self.anomalies += u32::from(anomaly);
                    let open = self
                        .anomaly
                        .entry((node, peer.clone(), path.clone()))
                        .or_default();
                    if *open == anomaly {
                        self.repeated.push(format!(
                            "{} repeated {}",
                            self.ctx.nodes[node].0,
                            notification.summary()
                        ));
                    }
                    *open = anomaly;
                }
                _ => {}
            },
            _ => {}
        }
    }

    fn finish(&mut self, _at: u64, findings: &mut Findings) {
        if self.ctx.deliveries {
            for node in 0..self.ctx.nodes.len() {
                self.unnotified(node);
            }
        }
        for m in self.mismatches.drain(..) {
            findings.violate("notifications", m);
        }
        findings.figures.anomalies = self.anomalies;
        findings.figures.rival_claims = self.rival_claims;
        for (n, (name, _)) in self.ctx.nodes.iter().enumerate() {
            if let Some(vip) = self.unnotified[n].first() {
                findings.violate(
                    "notifications",
                    format!("{name} took over address {vip} and no failover notice named it"),
                );
            }
            let (released, told) = self.releases[n];
            if released != told {
                findings.violate(
                    "notifications",
                    format!("{name} released {released} time(s) but sent {told} release notice(s)"),
                );
            }
        }
        for r in self.repeated.drain(..) {
            findings.violate("notifications", r);
        }
        let e = &self.ctx.expect;
        if let Some(min) = e.min_anomaly_notifications.filter(|&m| self.anomalies < m) {
            findings.violate(
                "notifications",
                format!(
                    "{} network-anomaly notice(s), expected at least {min}",
                    self.anomalies
                ),
            );
        }
        if let Some(max) = e.max_anomaly_notifications.filter(|&m| self.anomalies > m) {
            findings.violate(
                "notifications",
                format!(
                    "{} network-anomaly notice(s), expected at most {max}",
                    self.anomalies
                ),
            );
        }
        if let Some(min) = (e.min_rival_claim_notifications).filter(|&m| self.rival_claims < m) {
            findings.violate(
                "notifications",
                format!(
                    "{} rival-claim notice(s), expected at least {min}",
                    self.rival_claims
                ),
            );
        }
        if let Some(max) = (e.max_rival_claim_notifications).filter(|&m| self.rival_claims > m) {
            findings.violate(
                "notifications",
                format!(
                    "{} rival-claim notice(s), expected at most {max}",
                    self.rival_claims
                ),
            );
        }
        if let Some(max) = e.max_takeover_attempts.filter(|&m| self.attempts > m) {
            findings.violate(
                "takeover-attempts",
                format!(
                    "{} takeover(s) begun, at most {max} expected",
                    self.attempts
                ),
            );
        }
        let total: u32 = self.takeovers.iter().sum();
        if let Some(want) = e.takeovers.filter(|&w| w != total) {
            findings.violate("takeovers", format!("{total} takeover(s), expected {want}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;
    use failover_core::VipId;
    use std::time::Duration;

    const S: u64 = 1_000_000_000;

    /// This checker over `record` for master (0) and backup (1), with every failure recorded.
    fn judge(record: &[(u64, Observation)]) -> Vec<String> {
        let scenario = crate::check::pair();
        let ctx = Context {
            deliveries: true,
            ..Context::new(&scenario, &[])
        };
        crate::check::violations(Notifications::new(&Rc::new(ctx)), record)
    }

    /// This checker over `record` for alpha (0), bravo (1) and a witness (2) in quorum mode.
    fn judge_quorum(record: &[(u64, Observation)]) -> Vec<String> {
        judge_quorum_as(record, true)
    }

    /// As [`judge_quorum`], the engine recording every delivery (and the grants of each
    /// quorum notice) or not.
    fn judge_quorum_as(record: &[(u64, Observation)], deliveries: bool) -> Vec<String> {
        let scenario = Scenario::builder("trio", Duration::from_secs(60))
            .segment("public")
            .node("alpha", 200)
            .node("bravo", 100)
            .witness("witness")
            .vip("192.0.2.100")
            .quorum()
            .build()
            .unwrap();
        let ctx = Context {
            deliveries,
            ..Context::new(&scenario, &[])
        };
        crate::check::violations(Notifications::new(&Rc::new(ctx)), record)
    }

    fn role(node: usize, from: Role, to: Role) -> Observation {
        Observation::RoleChanged { node, from, to }
    }

    fn hook_failed(node: usize, hook: HookKind, outcome: HookOutcome) -> Observation {
        Observation::HookFailed {
            node,
            hook,
            vip: 0,
            event: HookEvent::Acquire,
            asked: 10 * S,
            outcome,
        }
    }

    /// The backup's `Test` said no, for a hand-over of kind `event` it asked at `asked`.
    fn test_said_no(event: HookEvent, asked: u64) -> Observation {
        Observation::HookFailed {
            node: 1,
            hook: HookKind::Test,
            vip: 0,
            event,
            asked,
            outcome: HookOutcome::Failed(Some(1)),
        }
    }

    fn notified(node: usize, notification: Notification) -> Observation {
        Observation::Notified { node, notification }
    }

    /// The backup begins a takeover at 10 s whose PreAcq fails.
    fn failing_pre_acq() -> Vec<(u64, Observation)> {
        vec![
            (10 * S, role(1, Role::Backup, Role::Acquiring)),
            (
                11 * S,
                hook_failed(1, HookKind::PreAcq, HookOutcome::Failed(Some(1))),
            ),
        ]
    }

    fn pre_acq_notice() -> Observation {
        notified(
            1,
            Notification::HookFailed {
                hook: HookKind::PreAcq,
                vip: VipId(0),
                outcome: HookOutcome::Failed(Some(1)),
            },
        )
    }

    #[test]
    fn a_hook_failure_is_notified_exactly_once() {
        let mut record = failing_pre_acq();
        record.push((11 * S, pre_acq_notice()));
        assert_eq!(judge(&record), Vec::<String>::new());

        let unsaid = judge(&failing_pre_acq());
        assert_eq!(unsaid.len(), 1, "{unsaid:?}");
        assert!(unsaid[0].contains("backup's hook PreAcq for address 0 ended Failed"));

        record.push((12 * S, pre_acq_notice()));
        let doubled = judge(&record);
        assert_eq!(doubled.len(), 1, "{doubled:?}");
        assert!(doubled[0].contains("with no such failure left unnotified"));
    }

    #[test]
    fn a_failover_notice_names_an_address_taken_over_or_vetoed() {
        let mut record = failing_pre_acq();
        record.push((11 * S, pre_acq_notice()));
        let empty = Notification::Failover {
            from: None,
            acquired: vec![],
            vetoed: vec![],
        };
        record.push((11 * S, notified(1, empty)));
        let found = judge(&record);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("backup sent a failover notice naming no address"),
            "{found:?}"
        );
    }

    #[test]
    fn a_test_that_says_no_is_a_veto_in_the_takeover_notice_not_a_hook_failure() {
        let mut record = vec![
            (10 * S, role(1, Role::Backup, Role::Acquiring)),
            (
                11 * S,
                hook_failed(1, HookKind::Test, HookOutcome::Failed(Some(1))),
            ),
        ];
        let veto = notified(
            1,
            Notification::Failover {
                from: None,
                acquired: vec![],
                vetoed: vec![VipId(0)],
            },
        );
        record.push((11 * S, veto));
        assert_eq!(judge(&record), Vec::<String>::new());
        record.pop();
        // Refused and silent: the first refusal since the node started must be said.
        let silent = judge(&record);
        assert!(silent[0].contains("was refused a takeover"), "{silent:?}");
        let wrong = notified(
            1,
            Notification::HookFailed {
                hook: HookKind::Test,
                vip: VipId(0),
                outcome: HookOutcome::Failed(Some(1)),
            },
        );
        record.push((11 * S, wrong));
        assert!(judge(&record)[0].contains("(it is a veto)"));
    }

    #[test]
    fn a_test_that_says_no_to_a_hand_back_is_a_hand_back_veto_said_once() {
        // The backup owns; at 30 s it begins handing back to the master, and its Test says no.
        let mut record = vec![
            (10 * S, role(1, Role::Backup, Role::Acquiring)),
            (10 * S, role(1, Role::Acquiring, Role::Master)),
            (30 * S, role(1, Role::Master, Role::Releasing)),
            (31 * S, test_said_no(HookEvent::Release, 30 * S)),
        ];
        let veto = notified(
            1,
            Notification::HandBackVetoed {
                to: Some("master".into()),
                vetoed: vec![VipId(0)],
            },
        );
        record.push((31 * S, veto.clone()));
        record.push((31 * S, role(1, Role::Releasing, Role::Master)));
        let judged = judge(&record);
        assert!(
            !judged
                .iter()
                .any(|m| m.contains("hand-back") || m.contains("release")),
            "{judged:?}"
        );
        // Called off and silent: the first refusal of a release must be said.
        let silent: Vec<_> = (record.iter())
            .filter(|(_, o)| !matches!(o, Observation::Notified { .. }))
            .cloned()
            .collect();
        let judged = judge(&silent);
        assert!(
            judged.iter().any(|m| m.contains("was refused a release")),
            "{judged:?}"
        );
        // A veto no Test gave.
        let invented = vec![(5 * S, veto)];
        let judged = judge(&invented);
        assert!(
            judged
                .iter()
                .any(|m| m.contains("vetoed by a Test that never said no")),
            "{judged:?}"
        );
    }

    #[test]
    fn a_veto_names_the_refusal_of_the_takeover_it_ends_not_one_given_up_before() {
        let test_no = |asked| test_said_no(HookEvent::Acquire, asked);
        let veto = notified(
            1,
            Notification::Failover {
                from: None,
                acquired: vec![],
                vetoed: vec![VipId(0)],
            },
        );
        for test_then_abandoned in [false, true] {
            // A takeover given up as the claimer is heard; its Test says no at that instant
            // (recorded before the node reads the claimer) or a moment later.
            let mut record = vec![(10 * S, role(1, Role::Backup, Role::Acquiring))];
            let first_no = if test_then_abandoned {
                10 * S
            } else {
                10 * S + 5_000_000
            };
            if test_then_abandoned {
                record.push((first_no, test_no(10 * S)));
            }
            record.push((
                10 * S,
                Observation::TakeoverAbandoned {
                    node: 1,
                    rival: Some(0),
                },
            ));
            record.push((10 * S, role(1, Role::Acquiring, Role::Backup)));
            if !test_then_abandoned {
                record.push((first_no, test_no(10 * S)));
            }
            // The next takeover's Test says no too, and that veto is notified.
            record.push((11 * S, role(1, Role::Backup, Role::Acquiring)));
            record.push((11 * S + 5_000_000, test_no(11 * S)));
            record.push((11 * S + 5_000_000, veto.clone()));
            record.push((11 * S + 5_000_000, role(1, Role::Acquiring, Role::Backup)));
            assert_eq!(
                judge(&record),
                Vec::<String>::new(),
                "{test_then_abandoned}"
            );
            // Without that notice, the refusal of the takeover that ran to its end is unsaid.
            record.remove(record.len() - 2);
            let unsaid = judge(&record);
            assert!(
                unsaid[0].contains("was refused a takeover at 11.005s"),
                "{unsaid:?}"
            );
        }
    }

    #[test]
    fn a_failure_of_a_takeover_given_up_is_owed_no_notice() {
        let record = vec![
            (10 * S, role(1, Role::Backup, Role::Acquiring)),
            (10 * S + S / 2, role(1, Role::Acquiring, Role::Backup)),
            (
                11 * S,
                hook_failed(1, HookKind::PreAcq, HookOutcome::TimedOut),
            ),
        ];
        assert_eq!(judge(&record), Vec::<String>::new());
    }

    #[test]
    fn the_owner_that_lets_go_of_two_names_the_one_that_stays() {
        use Observation::{Acquired, Heard, Released};
        let record = vec![
            (S, Acquired { node: 0, vip: 0 }),
            (20 * S, Acquired { node: 1, vip: 0 }),
            (20 * S, role(1, Role::Acquiring, Role::Master)),
            (
                30 * S,
                Heard {
                    node: 1,
                    from: 0,
                    role: Role::Master,
                },
            ),
            (30 * S, role(1, Role::Master, Role::Releasing)),
            (30 * S, Released { node: 1, vip: 0 }),
        ];
        let named = |to: Option<&str>| {
            let mut r = record.clone();
            let to = to.map(String::from);
            r.push((30 * S, notified(1, Notification::Released { to })));
            r.push((30 * S, role(1, Role::Releasing, Role::Backup)));
            judge(&r)
        };
        assert!(!named(Some("master")).iter().any(|v| v.contains("let the")));
        let none = named(None);
        assert!(
            none.iter()
                .any(|v| v.contains("backup let the addresses go to master")),
            "{none:?}"
        );
    }

    #[test]
    fn a_witness_sends_no_notice() {
        let anomaly = Notification::NetworkAnomaly {
            peer: "alpha".into(),
            path: "direct".into(),
        };
        let found = judge_quorum(&[(10 * S, notified(2, anomaly.clone()))]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("witness (a witness) sent a notice"),
            "{found:?}"
        );
        assert_eq!(
            judge_quorum(&[(10 * S, notified(1, anomaly))]),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_quorum_notice_names_the_voters_its_grants_justify() {
        let notice = Notification::NoQuorum {
            granted: vec!["bravo".into()],
            late: vec![],
            needed: 2,
        };
        // Bravo's takeover failed at 10 s: its own request of 9.5 s granted, none else.
        let grants = |bravo_own: Option<u64>| {
            let seen = crate::check::GrantsSeen {
                local: 10 * S,
                lease: 3 * S,
                voters: vec![
                    ("alpha".into(), None),
                    ("bravo".into(), None),
                    ("witness".into(), None),
                ],
                own: bravo_own,
                asked: Some(9 * S + S / 2),
            };
            Observation::Grants {
                node: 1,
                seen: Box::new(seen),
            }
        };
        let justified = [
            (10 * S, grants(Some(9 * S + S / 2))),
            (10 * S, notified(1, notice.clone())),
        ];
        assert_eq!(judge_quorum(&justified), Vec::<String>::new());
        // A voter none of whose grants it read may not be named.
        let named_witness = Notification::NoQuorum {
            granted: vec!["witness".into()],
            late: vec![],
            needed: 2,
        };
        let found = judge_quorum(&[(10 * S, grants(None)), (10 * S, notified(1, named_witness))]);
        assert!(
            found[0].contains("names witness, but no grant"),
            "{found:?}"
        );
        // A notice whose voters were decided at no instant the engine was told of.
        let found = judge_quorum(&[(10 * S, notified(1, notice.clone()))]);
        assert!(found[0].contains("decided at no instant"), "{found:?}");
        // Each is judged against its own decision: the grants are used once.
        let found = judge_quorum(&[
            justified[0].clone(),
            justified[1].clone(),
            (20 * S, notified(1, notice)),
        ]);
        assert!(
            found.iter().any(|f| f.contains("decided at no instant")),
            "{found:?}"
        );
    }

    #[test]
    fn a_quorum_notice_names_fewer_than_a_majority_of_the_groups_voters() {
        // (the lists' shape, judged whether the engine keeps a ledger of the votes or not)
        let judge_quorum = |record: &[(u64, Observation)]| judge_quorum_as(record, false);
        let no_quorum = |granted: &[&str], needed| Notification::NoQuorum {
            granted: granted.iter().map(|g| g.to_string()).collect(),
            late: vec![],
            needed,
        };
        let ok = judge_quorum(&[(10 * S, notified(1, no_quorum(&["bravo"], 2)))]);
        assert_eq!(ok, Vec::<String>::new());
        // Votes that came back too late to add the address: named apart, not as granted.
        let late = |granted: &[&str], late: &[&str]| Notification::NoQuorum {
            granted: granted.iter().map(|g| g.to_string()).collect(),
            late: late.iter().map(|g| g.to_string()).collect(),
            needed: 2,
        };
        let ok = judge_quorum(&[(10 * S, notified(1, late(&["bravo"], &["witness"])))]);
        assert_eq!(ok, Vec::<String>::new());
        for (notice, why) in [
            (late(&["bravo"], &["bravo"]), "names bravo twice"),
            (late(&["bravo"], &["zulu"]), "names \"zulu\", no voter"),
        ] {
            let found = judge_quorum(&[(10 * S, notified(1, notice))]);
            assert!(found.iter().any(|f| f.contains(why)), "{why}: {found:?}");
        }
        for (notice, why) in [
            (no_quorum(&[""], 2), "names \"\", no voter of the group"),
            (no_quorum(&["bravo", "bravo"], 2), "names bravo twice"),
            (
                no_quorum(&["bravo", "witness"], 2),
                "names 2 voters, a majority of 2",
            ),
            (
                no_quorum(&["bravo"], 3),
                "says 3 are needed, the majority is 2",
            ),
        ] {
            let found = judge_quorum(&[(10 * S, notified(1, notice))]);
            assert!(found.iter().any(|f| f.contains(why)), "{why}: {found:?}");
        }
        // A lost lease too (its release notice is owed by the release it begins).
        let lost = Notification::LeaseLost {
            vips: vec![VipId(0)],
            granted: vec!["nobody".into()],
        };
        let found = judge_quorum(&[(10 * S, notified(0, lost))]);
        assert!(
            found.iter().any(|f| f.contains("\"nobody\", no voter")),
            "{found:?}"
        );
    }

    #[test]
    fn a_takeover_refused_for_want_of_a_majority_is_notified_once_until_one_succeeds() {
        let no_quorum = || Notification::NoQuorum {
            granted: vec!["bravo".into()],
            late: vec![],
            needed: 2,
        };
        let twice = [
            (10 * S, notified(1, no_quorum())),
            (16 * S, notified(1, no_quorum())),
        ];
        let found = judge_quorum(&twice);
        assert!(
            found
                .iter()
                .any(|f| f.contains("bravo repeated a no-quorum notice")),
            "{found:?}"
        );
        // A takeover that succeeded in between: the next refusal is news again.
        let record = [
            twice[0].clone(),
            (12 * S, role(1, Role::Backup, Role::Acquiring)),
            (13 * S, role(1, Role::Acquiring, Role::Master)),
            twice[1].clone(),
        ];
        let found = judge_quorum(&record);
        assert!(!found.iter().any(|f| f.contains("repeated")), "{found:?}");
    }

    fn heard(node: usize, from: usize, role: Role) -> Observation {
        Observation::Heard { node, from, role }
    }

    /// Master (0) owns from 1 s; the backup (1) claims from 10 s, heard by the master from
    /// 10.001 s on; the master mails a rival claim at `at`. (Start-up wait of the master: 3 s
    /// and its priority's skew, 0.215 s.)
    fn rival_mailed_at(at: u64) -> Vec<String> {
        let record = [
            (S, role(0, Role::Acquiring, Role::Master)),
            (5 * S, heard(0, 1, Role::Backup)),
            (10 * S + S / 1000, heard(0, 1, Role::Master)),
            (
                at,
                notified(
                    0,
                    Notification::RivalClaim {
                        peer: "backup".into(),
                        vips: vec![VipId(0)],
                    },
                ),
            ),
        ];
        judge(&record)
    }

    #[test]
    fn a_rival_claim_is_mailed_only_once_it_has_lasted_dead_after() {
        assert_eq!(
            rival_mailed_at(13 * S + 216 * S / 1000),
            Vec::<String>::new()
        );
        let early = rival_mailed_at(10 * S + 2 * S / 1000);
        assert_eq!(early.len(), 1, "{early:?}");
        assert!(
            early[0].contains("master notified at 10.002s a rival claim of backup, heard claiming only since 10.001s"),
            "{early:?}"
        );
    }

    #[test]
    fn a_release_its_test_refused_does_not_restart_a_rival_claim() {
        let record = vec![
            (S, role(0, Role::Acquiring, Role::Master)),
            (2 * S, heard(0, 1, Role::Master)),
            (3 * S, role(0, Role::Master, Role::Releasing)),
            (3 * S + 5_000_000, role(0, Role::Releasing, Role::Master)),
            (
                5 * S + S / 2,
                notified(
                    0,
                    Notification::RivalClaim {
                        peer: "backup".into(),
                        vips: vec![VipId(0)],
                    },
                ),
            ),
        ];
        assert_eq!(judge(&record), Vec::<String>::new());
    }

    #[test]
    fn a_rival_heard_as_backup_again_starts_its_claim_afresh() {
        let mut record = vec![
            (S, role(0, Role::Acquiring, Role::Master)),
            (2 * S, heard(0, 1, Role::Master)),
            (4 * S, heard(0, 1, Role::Backup)),
            (5 * S, heard(0, 1, Role::Master)),
        ];
        let mail = notified(
            0,
            Notification::RivalClaim {
                peer: "backup".into(),
                vips: vec![VipId(0)],
            },
        );
        record.push((6 * S, mail));
        let found = judge(&record);
        assert!(
            found
                .iter()
                .any(|f| f.contains("heard claiming only since 5.000s")),
            "{found:?}"
        );
    }

    /// The backup heard the master claim (or not) and takes over at 10 s, naming `from`.
    fn takeover_naming(heard_master: bool, from: Option<&str>) -> Vec<String> {
        let mut record = vec![];
        if heard_master {
            record.push((2 * S, heard(1, 0, Role::Master)));
        }
        record.extend([
            (10 * S, role(1, Role::Backup, Role::Acquiring)),
            (10 * S, Observation::Acquired { node: 1, vip: 0 }),
            (
                10 * S,
                notified(
                    1,
                    Notification::Failover {
                        from: from.map(String::from),
                        acquired: vec![VipId(0)],
                        vetoed: vec![],
                    },
                ),
            ),
        ]);
        judge(&record)
    }

    /// The backup takes over at 10 s with its address vetoed, owns nothing, hears the master
    /// releasing at 12 s (or not), and takes the address at 14 s asking again, naming `from`.
    fn reasked_naming(heard_releasing: bool, from: Option<&str>) -> Vec<String> {
        let failover = |from: Option<&str>, acquired: Vec<VipId>, vetoed: Vec<VipId>| {
            let from = from.map(String::from);
            notified(
                1,
                Notification::Failover {
                    from,
                    acquired,
                    vetoed,
                },
            )
        };
        let mut record = vec![
            (10 * S, role(1, Role::Backup, Role::Acquiring)),
            (10 * S, test_said_no(HookEvent::Acquire, 10 * S)),
            (10 * S, failover(None, vec![], vec![VipId(0)])),
            (10 * S, role(1, Role::Acquiring, Role::Master)),
        ];
        if heard_releasing {
            record.push((12 * S, heard(1, 0, Role::Releasing)));
        }
        record.extend([
            (14 * S, Observation::Acquired { node: 1, vip: 0 }),
            (14 * S, failover(from, vec![VipId(0)], vec![])),
        ]);
        judge(&record)
    }

    #[test]
    fn an_owner_asking_again_names_a_claimant_heard_since_its_takeover() {
        assert_eq!(reasked_naming(true, Some("master")), Vec::<String>::new());
        assert_eq!(reasked_naming(false, None), Vec::<String>::new());
        let invented = reasked_naming(false, Some("master"));
        assert!(
            invented
                .iter()
                .any(|f| f.contains("names master as the previous owner, never heard claiming")),
            "{invented:?}"
        );
    }

    #[test]
    fn a_failover_notice_names_the_owner_the_node_heard_claim() {
        assert_eq!(takeover_naming(true, Some("master")), Vec::<String>::new());
        assert_eq!(takeover_naming(false, None), Vec::<String>::new());
        let unnamed = takeover_naming(true, None);
        assert!(
            unnamed
                .iter()
                .any(|f| f.contains("names no previous owner, though it had heard master claim")),
            "{unnamed:?}"
        );
        let invented = takeover_naming(false, Some("master"));
        assert!(
            invented
                .iter()
                .any(|f| f.contains("names master as the previous owner, never heard claiming")),
            "{invented:?}"
        );
    }
}
