//! Running a hand-over: one request at a time (a hook, an address change), each answered or
//! given up on at its deadline, then the role settled, notified and announced.

use super::transition::{Pending, Step, Transition};
use super::{notify, Backoff, Node, MAX_BACKOFF};
use crate::coverage::{AddressOutcome, Point, Single};
use crate::io::{
    AddressChange, HookEvent, HookKind, HookOutcome, HookRequest, Notification, Output, RequestId,
};
use crate::role::Role;
use crate::time::Instant;
use crate::wire::MessageKind;

impl Node {
    pub(super) fn begin(&mut self, now: Instant, mut transition: Transition) {
        transition.repeat = self.backoff.is_some_and(|b| b.event == transition.event);
        if transition.check {
            // A backup asking `Test` alone claims nothing: its role and heartbeats stay.
            self.transition = Some(transition);
            return self.advance(now);
        }
        self.set_role(match (transition.event, self.role) {
            // An owner asking again for addresses it lacks stays the owner meanwhile.
            (HookEvent::Acquire, Role::Master) => Role::Master,
            (HookEvent::Acquire, _) => Role::Acquiring,
            (HookEvent::Release, _) => Role::Releasing,
        });
        self.send_heartbeats(MessageKind::Heartbeat);
        self.transition = Some(transition);
        self.advance(now);
    }

    /// Asks for the next step, or completes the hand-over when none are left.
    pub(super) fn advance(&mut self, now: Instant) {
        let Some(t) = self.transition.as_mut() else {
            return;
        };
        if t.pending.is_some() {
            return;
        }
        let Some(step) = t.steps.pop_front() else {
            return self.complete(now);
        };
        let id = RequestId(self.next_request);
        self.next_request += 1;
        // Neither a hook nor the kernel gets longer than a hook may take.
        let mut deadline = now + self.config.hooks.timeout;
        let quorum = self.quorum.as_ref();
        match step {
            Step::Lease if quorum.is_some_and(|q| q.can_add(now)) => {
                t.leased = true;
                return self.advance(now);
            }
            // Voters still promised to the last owner grant once that promise runs out.
            Step::Lease => {
                self.coverage.hit(Single::LeaseWaited);
                let q = quorum.expect("a lease step in quorum mode");
                deadline = now + q.promise_len() + self.config.protocol.interval;
            }
            Step::Address(AddressChange::Add, _) if quorum.is_some_and(|q| !q.can_add(now)) => {
                // The lease ran out while hooks ran: nothing is added without one.
                let q = quorum.expect("a lease in quorum mode");
                t.lease_failed(q.granting_in_time(now), &mut self.outputs);
                return self.complete(now);
            }
            _ => {}
        }
        t.pending = Some(Pending { id, step, deadline });
        let output = match step {
            // Nothing to ask of the driver: votes answer it (`lease_granted`).
            Step::Lease => return,
            Step::Hook(kind, vip) => Output::RunHook(Box::new(HookRequest {
                id,
                kind,
                vip,
                event: t.event,
                peer: t.peer.clone(),
                deadline,
            })),
            Step::Address(AddressChange::Add, vip) => {
                t.touched = true;
                self.held[vip.0] = true;
                let until = self.quorum.as_ref().and_then(|q| q.lease_end());
                Output::Acquire { id, vip, until }
            }
            Step::Address(AddressChange::Remove, vip) => Output::Release { id, vip },
        };
        self.outputs.push_back(output);
    }

    /// The pending request, taken if `id` names it (a late answer to a request already given
    /// up on names another).
    fn take_pending(&mut self, id: RequestId) -> Option<Pending> {
        let t = self.transition.as_mut()?;
        let p = t.pending.filter(|p| p.id == id)?;
        t.pending = None;
        Some(p)
    }

    /// Votes moved the lease: a takeover waiting for one goes on.
    pub(super) fn lease_granted(&mut self, now: Instant) {
        let waiting = (self.transition.as_ref())
            .and_then(|t| t.pending)
            .is_some_and(|p| p.step == Step::Lease);
        if waiting && self.quorum.as_ref().is_some_and(|q| q.can_add(now)) {
            let t = self.transition.as_mut().expect("a pending request");
            t.pending = None;
            t.leased = true;
            self.coverage.hit(Single::LeaseGranted);
            self.advance(now);
        }
    }

    pub(super) fn hook_finished(&mut self, now: Instant, id: RequestId, outcome: HookOutcome) {
        let Some(Pending {
            step: Step::Hook(kind, vip),
            ..
        }) = self.take_pending(id)
        else {
            return self.coverage.hit(Single::HookAnswerLate);
        };
        let t = self
            .transition
            .as_mut()
            .expect("a pending request has a transition");
        self.coverage.hit(Point::hook(kind, t.event, outcome));
        (self.coverage).hit(Point::veto(kind, t.event, outcome, t.repeat));
        t.hook_done(kind, vip, outcome);
        // A `Test` that answers "no" decides; one that hangs has failed, and is reported.
        let refused = kind == HookKind::Test && matches!(outcome, HookOutcome::Failed(_));
        let old_news = kind == HookKind::Test && t.repeat;
        if !outcome.is_success() && !refused && !old_news {
            self.outputs.push_back(notify(
                &mut self.coverage,
                Notification::HookFailed {
                    hook: kind,
                    vip,
                    outcome,
                },
            ));
        }
        self.advance(now);
    }

    /// The answer to an address change (`overdue`: none came, and core gave up waiting).
    pub(super) fn address_changed(
        &mut self,
        now: Instant,
        id: RequestId,
        result: Result<(), String>,
        overdue: bool,
    ) {
        let Some(Pending {
            step: Step::Address(change, vip),
            ..
        }) = self.take_pending(id)
        else {
            return self.coverage.hit(Single::AddressAnswerLate);
        };
        let t = self
            .transition
            .as_mut()
            .expect("a pending request has a transition");
        self.coverage.hit(Point::address(
            change,
            match (&result, overdue) {
                (Ok(()), _) => AddressOutcome::Done,
                (Err(_), false) => AddressOutcome::Refused,
                (Err(_), true) => AddressOutcome::NoAnswer,
            },
        ));
        match (change, result) {
            (AddressChange::Add, Ok(())) => {
                t.acquired.push(vip);
                if let Some(q) = self.quorum.as_mut() {
                    q.added(now);
                }
            }
            (AddressChange::Remove, Ok(())) => self.held[vip.0] = false,
            (change, Err(error)) => {
                // A refused add leaves nothing behind; a refused removal leaves the address
                // here, still held, and a backup that holds one cleans it up (rule.rs).
                if change == AddressChange::Add {
                    self.held[vip.0] = false;
                }
                t.change_failed(change, vip);
                if t.repeat {
                    self.coverage.hit(Single::AddressRefusedAgain);
                } else {
                    self.outputs.push_back(notify(
                        &mut self.coverage,
                        Notification::AddressFailed { vip, change, error },
                    ));
                }
            }
        }
        self.advance(now);
    }

    /// A request whose deadline has passed unanswered: a hook has timed out, an address
    /// change has failed.
    pub(super) fn request_overdue(&mut self, now: Instant) {
        let Some(p) = self.transition.as_ref().and_then(|t| t.pending) else {
            return;
        };
        if now < p.deadline {
            return;
        }
        match p.step {
            Step::Lease => {
                let t = self.transition.as_mut().expect("a pending request");
                t.pending = None;
                let q = self.quorum.as_ref().expect("a lease step in quorum mode");
                t.lease_failed(q.granting_in_time(now), &mut self.outputs);
                self.advance(now);
            }
            Step::Hook(..) => self.hook_finished(now, p.id, HookOutcome::TimedOut),
            Step::Address(..) => {
                let timeout = self.config.hooks.timeout;
                let error = format!("no answer within hooks.timeout ({timeout:?})");
                self.address_changed(now, p.id, Err(error), true);
            }
        }
    }

    /// The transition's last step is done: settle the role, notify, announce.
    fn complete(&mut self, now: Instant) {
        let Some(t) = self.transition.take() else {
            return;
        };
        let refused =
            !t.vetoed.is_empty() || !t.failed.is_empty() || t.aborted || t.no_quorum.is_some();
        let longest = self.dead_after * MAX_BACKOFF;
        let wait = match self.backoff {
            Some(b) if t.repeat => (b.wait * 2).min(longest),
            _ => self.dead_after,
        };
        let before = self.backoff.is_some();
        (self.coverage).hit(Point::backoff(refused, before, t.repeat, wait, longest));
        self.backoff = refused.then_some(Backoff {
            event: t.event,
            retry: now + wait,
            wait,
            no_quorum: t.no_quorum.is_some(),
            vetoed: !t.vetoed.is_empty(),
        });
        match t.event {
            // Said yes: the back-off is over, and the priority is announced again (rule.rs);
            // said no: a refusal repeated, nothing to tell.
            HookEvent::Acquire if t.check => {
                self.coverage.hit(Single::ReadinessPassed.when(!refused));
                return;
            }
            HookEvent::Acquire => {
                let (acquired, vetoed) = (t.acquired.len(), t.vetoed.len());
                (self.coverage).hit(Point::takeover(acquired, vetoed, t.failed.len()));
                self.coverage
                    .hit(Single::LeaseMissing.when(t.no_quorum.is_some()));
                if let Some((granted, late)) = t.no_quorum.filter(|_| !self.no_quorum_told) {
                    self.no_quorum_told = true;
                    let q = self.quorum.as_ref().expect("no quorum in quorum mode");
                    self.outputs.push_back(notify(
                        &mut self.coverage,
                        Notification::NoQuorum {
                            granted,
                            late,
                            needed: q.majority(),
                        },
                    ));
                }
                let news = !t.acquired.is_empty() || (!t.vetoed.is_empty() && !t.repeat);
                if news {
                    self.outputs.push_back(notify(
                        &mut self.coverage,
                        Notification::Failover {
                            from: t.peer,
                            acquired: t.acquired.clone(),
                            vetoed: t.vetoed,
                        },
                    ));
                }
                self.set_role(if self.held.contains(&true) {
                    Role::Master
                } else {
                    Role::Backup
                });
                self.beats_to_announce = self.beats_per_announce;
            }
            HookEvent::Release if t.aborted => {
                if !t.repeat {
                    self.outputs.push_back(notify(
                        &mut self.coverage,
                        Notification::HandBackVetoed {
                            to: t.peer,
                            vetoed: t.vetoed,
                        },
                    ));
                }
                // (No heir to name: the addresses stay.)
                self.handing = None;
                self.set_role(Role::Master);
            }
            // The kernel kept an address: this node keeps claiming it (Releasing) and tries
            // again after the back-off, for the same node; a shutdown says goodbye only once
            // it is gone.
            HookEvent::Release if self.held.contains(&true) => {
                self.coverage.hit(Single::ReleaseKept);
                self.releasing_to = t.peer;
            }
            HookEvent::Release => {
                self.coverage.hit(Single::ReleaseDone);
                self.releasing_to = None;
                // A lost lease was notified when its release began.
                if !std::mem::take(&mut self.lease_lost) {
                    self.outputs.push_back(notify(
                        &mut self.coverage,
                        Notification::Released { to: t.peer },
                    ));
                }
                if self.shutdown_requested {
                    let successor = self.successor();
                    return self.stop(successor);
                }
                self.set_role(Role::Backup);
                self.hand_over_released(now);
            }
        }
        self.send_heartbeats(MessageKind::Heartbeat);
    }
}
