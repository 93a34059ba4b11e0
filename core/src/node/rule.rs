//! What a node knows of its peers (liveness, anomalies, rivals) and the ownership rule that
//! decides, after every input, whether a hand-over starts.

use super::operator::Handing;
use super::peers::{rank, Rival};
use super::transition::{ReleaseCause, Transition};
use super::{notify, Node, DEMOTED_PRIORITY};
use crate::coverage::{Point, Single};
use crate::io::{Event, HookEvent, Notification, Output, VipId};
use crate::role::Role;
use crate::time::Instant;
use crate::wire::MessageKind;

impl Node {
    /// The earliest deadline but the next heartbeat: end of the start-up wait, a request's
    /// deadline, the end of a back-off, an heir's time to claim, a rival's grace, peer and path
    /// expiry. Only these can change what the node knows or decides.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        if self.role == Role::Stopped {
            return None;
        }
        let mut next: Option<Instant> = None;
        let mut consider = |t: Instant| next = Some(next.map_or(t, |n| n.min(t)));
        if !self.settled {
            consider(self.started + self.dead_after);
        }
        if let Some(p) = self.transition.as_ref().and_then(|t| t.pending) {
            consider(p.deadline);
        }
        if let Some(t) = (self.quorum.as_ref())
            .and_then(|q| q.next_deadline(self.role.claims_ownership(), self.refreshed))
        {
            consider(t);
        }
        if let Some(b) = self.backoff.filter(|b| b.retry > self.refreshed) {
            consider(b.retry);
        }
        if let Some(heir) = self.heir.as_ref().filter(|h| h.until > self.refreshed) {
            consider(heir.until);
        }
        for t in self.handover_deadlines() {
            if t > self.refreshed {
                consider(t);
            }
        }
        // Every expiry since the last full look at the peers counts, even one already past:
        // a partial refresh after a datagram must not make another peer's expiry vanish.
        for peer in self.peers.iter() {
            if let Some(t) = peer.next_expiry(self.refreshed, self.dead_after) {
                consider(t);
            }
            if let Some(r) = peer.rival.filter(|r| !r.notified) {
                consider(r.since + self.dead_after);
            }
        }
        next
    }

    /// Re-derives peer liveness, path anomalies and rival claims at `now`, reporting every
    /// change once. `only` limits the work to the peer a datagram came from: nothing else
    /// changes then, and other peers' expiry comes with its own timer.
    pub(super) fn refresh(&mut self, now: Instant, only: Option<usize>) {
        if !self.settled && now >= self.started + self.dead_after {
            self.settled = true;
            self.coverage.hit(Single::SettledBySilence);
        }
        if only.is_none() {
            self.refreshed = now;
        }
        let interval = self.config.protocol.interval;
        let me = rank(self.priority(), &self.config.node.name);
        let owner = self.role == Role::Master;
        let held = if owner { self.held_vips() } else { Vec::new() };
        let mut rival_died = false;
        let mut came_back = false;
        let mut voter_up = false;
        let peers = (self.peers.iter_mut().enumerate())
            .filter(|(i, _)| only.is_none_or(|o| o == *i))
            .map(|(_, peer)| peer);
        for peer in peers {
            let name = &peer.name;
            let alive = peer.is_alive(now, self.dead_after);
            if alive != peer.alive {
                peer.alive = alive;
                if alive {
                    peer.since = now;
                }
                self.coverage.hit(match alive {
                    true => Single::PeerUp,
                    false => Single::PeerDown,
                });
                // (a peer that outranks this owner takes the addresses: no point announcing)
                came_back |= alive && peer.rank() < me;
                voter_up |= alive;
                rival_died |= !alive && peer.role.claims_ownership();
                self.outputs.push_back(Output::Event(if alive {
                    Event::PeerUp {
                        peer: name.clone(),
                        epoch: peer.epoch,
                    }
                } else {
                    Event::PeerDown { peer: name.clone() }
                }));
            }
            let claims = alive && peer.role.claims_ownership();
            if claims {
                self.coverage
                    .hit(Single::SettledByOwner.unless(self.settled));
                self.settled = true;
                if self.last_owner.as_ref() != Some(name) {
                    self.last_owner = Some(name.clone());
                }
            }
            // A lower-ranked owner yields as soon as it hears this one; one that still owns
            // after `dead_after` does not hear it. (One still acquiring, its hooks perhaps
            // slow, or already releasing, is on its way.)
            if owner && alive && peer.role == Role::Master && peer.rank() < me {
                self.coverage
                    .hit(Single::RivalSeen.when(peer.rival.is_none()));
                let rival = peer.rival.get_or_insert(Rival {
                    since: now,
                    notified: false,
                });
                if !rival.notified && now >= rival.since + self.dead_after {
                    rival.notified = true;
                    self.outputs.push_back(notify(
                        &mut self.coverage,
                        Notification::RivalClaim {
                            peer: name.clone(),
                            vips: held.clone(),
                        },
                    ));
                }
            } else {
                peer.rival = None;
            }
            // As in the source, the node watching a higher-ranked peer reports its paths; the
            // pair's other side stays quiet so one cut link makes one mail. (A witness sends
            // no mail: the servers watch each other.)
            if peer.rank() < me || !alive || self.config.node.witness {
                continue;
            }
            for (i, path) in self.config.paths.iter().enumerate() {
                let anomalous = peer.path_anomalous(i, now, self.dead_after, interval);
                let up = peer.path_up(i, now, self.dead_after);
                let pp = &mut peer.paths[i];
                if anomalous && !pp.anomaly {
                    pp.anomaly = true;
                    self.outputs.push_back(notify(
                        &mut self.coverage,
                        Notification::NetworkAnomaly {
                            peer: peer.name.clone(),
                            path: path.name.clone(),
                        },
                    ));
                } else if up && pp.anomaly {
                    pp.anomaly = false;
                    self.outputs.push_back(notify(
                        &mut self.coverage,
                        Notification::NetworkRecovered {
                            peer: peer.name.clone(),
                            path: path.name.clone(),
                        },
                    ));
                }
            }
        }
        // A peer heard again after silence may have held the addresses meanwhile (both sides
        // of a partition take them), and clients it reached point at it: the owner announces.
        if rival_died || (came_back && owner) {
            self.remind_clients();
        }
        // A takeover that found too few voters retries as soon as one comes up (every node
        // votes in quorum mode), not after its back-off: the group has had no owner meanwhile.
        // Every node refused so hears that voter at the same moment: each waits its priority's
        // skew, so the best retries first and is heard before the others' turn.
        let skew = super::priority_skew(interval, self.config.node.priority);
        if let Some(b) = self.backoff.as_mut().filter(|b| b.no_quorum && voter_up) {
            if b.retry > now + skew {
                self.coverage.hit(Single::RetryOnVoterUp);
                b.retry = now + skew;
            }
        }
    }

    /// The ownership rule (classic mode). Runs after every input; starts at most one
    /// transition, or gives up a takeover that a claimer heard since makes wrong.
    pub(super) fn decide(&mut self, now: Instant) {
        if let Some(asked) = self.batch.as_mut() {
            // Datagrams handed over together: the rule runs after the last of them.
            *asked = true;
            return;
        }
        self.apply_rule(now);
        self.announce_priority(now);
        let was_active = self.active;
        self.active = self.role != Role::Stopped && self.sends_periodically();
        // A node that starts sending again sends now: its heartbeat timer stood still while
        // it listened, and a beat long past is no stall of its own. One that was sending
        // keeps its overdue beat: the timer, handed over after this input, judges the stall
        // (an operator's command or a datagram read first at wake-up must not hide it).
        if self.active && !was_active && self.next_heartbeat < now {
            self.next_heartbeat = now;
        }
        self.deadline = self.next_deadline();
    }

    /// Lowers the announced priority while a refused takeover backs off (to 0 in standby), and
    /// restores it after; peers hear of either change at once.
    fn announce_priority(&mut self, now: Instant) {
        let (priority, demoted) = self.priority_due(now);
        if priority != self.template.priority && self.role != Role::Stopped {
            self.coverage.hit(Single::PriorityDemoted.when(demoted));
            self.template.priority = priority;
            // The last announcement's bytes carry the old priority: encode anew.
            self.payload = std::sync::Arc::from(&[][..]);
            self.send_heartbeats(MessageKind::Heartbeat);
        }
    }

    /// The priority this node should announce at `now` — its file's, 0 for a witness or in
    /// standby, the lowest while a refused takeover backs off — and whether it is demoted.
    pub(super) fn priority_due(&self, now: Instant) -> (u8, bool) {
        let checking = self.transition.as_ref().is_some_and(|t| t.check);
        let demoted = (self.backoff)
            .is_some_and(|b| b.event == HookEvent::Acquire && (now < b.retry || checking));
        let priority = match () {
            _ if self.config.node.witness || self.standby => 0,
            _ if demoted => DEMOTED_PRIORITY.min(self.config.node.priority),
            _ => self.config.node.priority,
        };
        (priority, demoted)
    }

    fn apply_rule(&mut self, now: Instant) {
        if self.role == Role::Stopped {
            return;
        }
        // A witness owns nothing and hands nothing over, but stops when asked like any node.
        if self.config.node.witness {
            if self.shutdown_requested {
                self.stop(None);
            }
            return;
        }
        // An owner's roll call is answered the moment it stops owning (it yields, loses its
        // lease), not once that release's hooks have run.
        let interrupted =
            (self.handover.as_ref()).is_some_and(|h| h.owner && self.role != Role::Master);
        if interrupted && self.transition.is_some() {
            self.roll_call(now);
        }
        let leased = self.quorum.as_ref().map(|q| q.leased(now));
        if let Some(t) = &mut self.transition {
            // A readiness check touches nothing and is waited for: at most a hook's timeout.
            if t.check {
                return;
            }
            // Quorum mode: a takeover whose lease ran out while its hooks ran asks for nothing
            // more; what it added is removed once it ends (below).
            let lapsed = leased == Some(false) && t.leased && t.event == HookEvent::Acquire;
            if lapsed && t.no_quorum.is_none() {
                let q = self.quorum.as_ref().expect("a lease in quorum mode");
                t.lease_failed(q.granting_in_time(now), &mut self.outputs);
            }
            if t.untouched_takeover() {
                if let Some(claimer) = self.claimer_against_takeover() {
                    self.abandon_takeover(claimer);
                    // An owner that was asking again for an address the kernel refused it
                    // still holds the others: the rule between two owners decides now.
                    if self.role == Role::Master {
                        self.apply_rule(now);
                    }
                }
            }
            return;
        }
        // An operator's hand-over: refused, carried out, or still waiting for answers.
        if self.roll_call(now) {
            return;
        }
        if leased == Some(false) && self.role == Role::Master {
            return self.lose_lease(now);
        }
        if self.shutdown_requested {
            return self.start_shutdown(now);
        }
        // The heir's turn ends once it claims — this node included: having taken over, it
        // answers to the ordinary rule, so a departed owner back within the heir's time (a
        // restart) gets the addresses back once instead of the heir taking them again.
        let my_name = self.config.node.name.as_str();
        let claiming = self.role.claims_ownership();
        self.coverage.hit(Point::heir_expired(
            self.heir.as_ref().map(|h| h.until),
            now,
        ));
        self.heir = self.heir.take().filter(|h| {
            now < h.until
                && !(h.name == my_name && claiming)
                && !(self.peers.iter())
                    .any(|p| p.name == h.name && p.alive && p.role.claims_ownership())
        });
        // Ranked by what it announces once this decision is made: a back-off that ends now
        // restores the priority (announce_priority, after the rule), and the rule must not
        // pass over this node for the lowest one it announced until now.
        let me = rank(self.priority_due(now).0, my_name);
        let mut someone_claims = false;
        let mut i_am_best = true;
        let mut higher_claimer = None;
        let mut higher_backup = None;
        for p in self.peers.iter().filter(|p| p.alive) {
            let name = &p.name;
            let higher = p.rank() > me;
            someone_claims |= p.role.claims_ownership();
            i_am_best &= !higher;
            // Only a better owner makes this one yield: one still acquiring gives up itself
            // when it hears this owner, unless it has added an address already — then it
            // becomes an owner, and this one yields to it.
            if higher && p.role == Role::Master && higher_claimer.is_none() {
                higher_claimer = Some(name);
            }
            if higher && p.role == Role::Backup && higher_backup.is_none() {
                higher_backup = Some(name);
            }
        }
        // The departed owner's choice stands over what this node can see of the others.
        match self.heir.as_ref() {
            Some(heir) if heir.name == my_name => i_am_best = true,
            Some(_) => i_am_best = false,
            None => {}
        }
        let backing_off = self.backing_off(now);
        // In standby, or waiting for the answers that decide whether it enters standby: this
        // node takes nothing over (a takeover now would leave a node in standby owning).
        let standing_by = self.standby || self.handover.is_some();
        let transition = match self.role {
            Role::Backup
                if !someone_claims && i_am_best && self.settled && !backing_off && !standing_by =>
            {
                // The heir claims: its naming is done (else a release within its wait would
                // make it take the addresses straight back). Named by a switchover, it keeps
                // them against preemption.
                let heir = self.heir.take_if(|h| h.name == my_name);
                self.kept = heir.as_ref().is_some_and(|h| h.switchover);
                self.coverage.hit(Single::TakeoverBegins);
                self.coverage.hit(Single::HeirClaims.when(heir.is_some()));
                (self.coverage).hit(Single::KeptAgainstPreemption.when(self.kept));
                Transition::acquire(
                    &self.all_vips(),
                    self.last_owner.clone(),
                    self.quorum.is_some(),
                )
            }
            // Its back-off over, a backup that would outrank the owner at its own priority
            // asks `Test` before it says so (see `Backoff`).
            Role::Backup if self.readiness_due(now, someone_claims) => {
                self.coverage.hit(Single::ReadinessCheck);
                Transition::readiness(&self.all_vips(), self.owner_heard())
            }
            Role::Master if higher_claimer.is_some() => {
                self.coverage.hit(Single::ReleaseYield);
                let winner = higher_claimer.cloned();
                Transition::release(&self.held_vips(), ReleaseCause::Yield, winner)
            }
            Role::Master
                if self.config.protocol.preempt
                    && !backing_off
                    && !self.kept
                    && higher_backup.is_some() =>
            {
                // To the best backup this node knows, not the first heard: passive backups
                // are silent, and every one that outranks this owner now speaks up at once.
                // Named in its heartbeats once released, as an operator's hand-over is, so
                // that a backup which cannot see the heir does not take over beside it.
                let to = self.successor().or_else(|| higher_backup.cloned());
                self.handing = (to.clone()).map(|to| Handing {
                    to,
                    switchover: false,
                });
                self.coverage.hit(Single::ReleaseHandBack);
                Transition::release(&self.held_vips(), ReleaseCause::HandBack, to)
            }
            // An owner without all its addresses (the kernel or `Test` refused some): it
            // asks for the missing ones again after the back-off.
            Role::Master if !backing_off && self.held.contains(&false) => {
                let missing: Vec<VipId> = (0..self.held.len())
                    .filter(|&v| !self.held[v])
                    .map(VipId)
                    .collect();
                self.coverage.hit(Single::MissingAskedAgain);
                Transition::acquire(&missing, self.last_owner.clone(), self.quorum.is_some())
            }
            // A removal the kernel refused: the address is still here, so this node still
            // claims it, and tries again.
            Role::Releasing if !backing_off => {
                self.coverage.hit(Single::ReleaseCleanup);
                Transition::release(
                    &self.held_vips(),
                    ReleaseCause::Cleanup,
                    self.releasing_to.clone(),
                )
            }
            _ => return,
        };
        self.begin(now, transition);
    }

    /// Every address of the group: what a takeover, or its readiness check, asks for.
    fn all_vips(&self) -> Vec<VipId> {
        (0..self.config.vips.len()).map(VipId).collect()
    }

    /// Whether this backup checks with `Test` before it announces its own priority again:
    /// `Test` refused a takeover of its and the back-off is over, another node claims the
    /// addresses, and that priority would have a preempting owner hand them back.
    fn readiness_due(&self, now: Instant, someone_claims: bool) -> bool {
        let refused = self
            .backoff
            .is_some_and(|b| b.event == HookEvent::Acquire && b.vetoed);
        let own = rank(self.config.node.priority, &self.config.node.name);
        refused
            && someone_claims
            && !self.backing_off(now)
            && !self.standby
            && self.config.protocol.preempt
            && (self.peers.iter()).any(|p| p.alive && p.role.claims_ownership() && p.rank() < own)
    }

    /// A live peer that makes a takeover wrong: one that holds or is giving up the addresses
    /// (whatever its rank: it has them, and preemption hands them over in order), or one
    /// acquiring them that outranks this node (the lower of two acquirers gives way).
    fn claimer_against_takeover(&self) -> Option<String> {
        let me = rank(self.priority(), &self.config.node.name);
        (self.peers.iter().filter(|p| p.alive))
            .find(|p| match p.role {
                Role::Master | Role::Releasing => true,
                Role::Acquiring => p.rank() > me,
                Role::Backup | Role::Stopped => false,
            })
            .map(|p| p.name.clone())
    }

    /// Gives up a takeover before any address was added: the request in flight is forgotten
    /// (its late answer is ignored), no further hook runs, nothing is notified. A node that
    /// holds addresses already (an owner asking again for one it was refused) stays the owner
    /// of those.
    fn abandon_takeover(&mut self, claimer: String) {
        self.coverage.hit(Single::TakeoverAbandoned);
        self.transition = None;
        self.last_owner = Some(claimer.clone());
        self.outputs
            .push_back(Output::Event(Event::TakeoverAbandoned { peer: claimer }));
        if !self.held.contains(&true) {
            self.set_role(Role::Backup);
            self.send_heartbeats(MessageKind::Heartbeat);
        }
    }

    /// Quorum mode: the owner's lease ran out unrenewed. It stops serving at once — removes
    /// its addresses, then runs `PostRel` — and says so.
    fn lose_lease(&mut self, now: Instant) {
        let held = self.held_vips();
        let q = self.quorum.as_ref().expect("a lease in quorum mode");
        self.lease_lost = true;
        self.coverage.hit(Single::ReleaseLeaseLost);
        self.outputs.push_back(notify(
            &mut self.coverage,
            Notification::LeaseLost {
                vips: held.clone(),
                granted: q.granting(now),
            },
        ));
        self.begin(
            now,
            Transition::release(&held, ReleaseCause::LeaseLost, None),
        );
    }

    fn start_shutdown(&mut self, now: Instant) {
        let held = self.held_vips();
        match self.role {
            Role::Master => {
                self.coverage.hit(Single::ReleaseShutdown);
                self.begin(
                    now,
                    Transition::release(&held, ReleaseCause::Shutdown, None),
                )
            }
            // Still removing what the kernel refused to remove: the goodbye waits for it.
            Role::Releasing => {
                self.coverage.hit(Single::ShutdownWaits);
                if !self.backing_off(now) {
                    self.coverage.hit(Single::ReleaseCleanup);
                    self.begin(now, Transition::release(&held, ReleaseCause::Cleanup, None));
                }
            }
            _ => self.stop(None),
        }
    }

    /// Who a departing owner hands the addresses to: the best-ranked peer last heard as a
    /// backup in its current boot epoch, neither a witness nor in standby. Passive backups are
    /// silent, so "alive" cannot be asked of them; if the one named has died unnoticed, the
    /// others wait their `dead_after` for it to claim and then the ordinary rule picks among
    /// them.
    pub(super) fn successor(&self) -> Option<String> {
        (self.peers.iter())
            .filter(|p| p.eligible())
            .max_by(|a, b| a.rank().cmp(&b.rank()))
            .map(|p| p.name.clone())
    }
}
