//! An operator's requests — standby, active, switchover — and the roll call that tells an
//! owner which backups are alive before it hands the addresses over (see "Operators" in the
//! module documentation of [`crate::node`]).

use super::transition::{ReleaseCause, Transition};
use super::{Heir, Node};
use crate::coverage::{Point, Single};
use crate::io::{Accepted, Answer, Busy, Ineligible, Output, Refusal, Request};
use crate::role::Role;
use crate::time::Instant;
use crate::wire::MessageKind;

/// An operator's hand-over waiting for its roll call to be answered.
#[derive(Clone, Debug)]
pub(crate) struct HandOver {
    id: u64,
    pub request: Request,
    /// When the roll call began: a peer heard since then is alive.
    began: Instant,
    /// Asked of the owner (a release follows), not of a backup entering standby.
    pub owner: bool,
}

/// The successor an operator's hand-over chose, named in this node's heartbeats once its
/// release is done.
#[derive(Clone, Debug)]
pub(crate) struct Handing {
    pub(super) to: String,
    /// By a switchover: the successor keeps the addresses against preemption.
    pub(super) switchover: bool,
}

/// What the answers so far make of a hand-over.
enum Verdict {
    Wait,
    Refuse(Refusal),
    /// Hand the addresses to this node (or, for a backup entering standby, go ahead).
    To(Option<String>),
}

impl Node {
    /// Takes an operator's request: answered at once, or once the roll call has decided.
    pub(super) fn operator(&mut self, now: Instant, id: u64, request: Request) {
        self.coverage.hit(Point::requested(&request));
        let idle = self.transition.is_none();
        let outcome = match &request {
            _ if self.handover.is_some() => Err(Refusal::Busy {
                what: Busy::HandOver,
            }),
            Request::Active => {
                let already = !self.standby;
                self.set_standby(now, false);
                Ok(Accepted::Active { already })
            }
            _ if self.config.node.witness => Err(Refusal::Witness),
            _ if self.shutdown_requested => Err(Refusal::Busy {
                what: Busy::Shutdown,
            }),
            Request::Standby if self.standby => Ok(Accepted::Standby {
                to: None,
                already: true,
            }),
            Request::Standby => match self.role {
                // An owner is heard: nothing to hand over, and someone holds the addresses.
                Role::Backup if self.owner_heard().is_some() => {
                    self.set_standby(now, true);
                    Ok(Accepted::Standby {
                        to: None,
                        already: false,
                    })
                }
                Role::Backup => return self.call_roll(now, id, request, false),
                Role::Master if idle => return self.call_roll(now, id, request, true),
                _ => Err(Refusal::Busy {
                    what: Busy::Transition,
                }),
            },
            Request::Switchover { to } => match self.role {
                Role::Master if !idle => Err(Refusal::Busy {
                    what: Busy::Transition,
                }),
                Role::Master => match to {
                    Some(name) if *name == self.config.node.name => Err(Refusal::Ineligible {
                        node: name.clone(),
                        why: Ineligible::Itself,
                    }),
                    Some(name) if self.peers.find(name.as_bytes()).is_none() => {
                        Err(Refusal::UnknownNode {
                            node: name.clone(),
                            known: self.peers.iter().map(|p| p.name.clone()).collect(),
                        })
                    }
                    _ => return self.call_roll(now, id, request, true),
                },
                Role::Acquiring | Role::Releasing => Err(Refusal::Busy {
                    what: Busy::Transition,
                }),
                _ => Err(Refusal::NotOwner {
                    owner: self.owner_heard(),
                }),
            },
        };
        self.answer(id, request, outcome);
    }

    /// A peer alive now (heard within `dead_after`) that claims the addresses, if any.
    pub(super) fn owner_heard(&self) -> Option<String> {
        (self.peers.iter())
            .filter(|p| p.is_alive(self.now, self.dead_after) && p.role.claims_ownership())
            .max_by(|a, b| a.role.cmp(&b.role).then(a.rank().cmp(&b.rank())))
            .map(|p| p.name.clone())
    }

    /// Enters or leaves standby: the announced priority follows at the next decision, and the
    /// change is repeated for `dead_after` so one lost heartbeat does not hide it.
    fn set_standby(&mut self, now: Instant, on: bool) {
        if self.standby != on {
            self.coverage.hit(match on {
                true => Single::StandbyOn,
                false => Single::StandbyOff,
            });
            self.standby = on;
            self.repeat_until = now + self.dead_after;
        }
    }

    /// Begins a roll call: this node's heartbeats ask every node to answer until it decides.
    fn call_roll(&mut self, now: Instant, id: u64, request: Request, owner: bool) {
        self.coverage.hit(Single::RollCallBegins);
        self.handover = Some(HandOver {
            id,
            request,
            began: now,
            owner,
        });
        self.send_heartbeats(MessageKind::Heartbeat);
    }

    /// When the pending hand-over must be looked at again: one interval after its roll call
    /// began (enough for every live node to answer), and `dead_after` after (given up).
    pub(super) fn handover_deadlines(&self) -> impl Iterator<Item = Instant> {
        let p = &self.config.protocol;
        let (interval, dead_after) = (p.interval, self.config.dead_after());
        (self.handover.as_ref().map(|h| h.began))
            .into_iter()
            .flat_map(move |began| [began + interval, began + dead_after])
    }

    /// Looks at the pending hand-over, if any: refuses it, carries it out, or lets it wait.
    /// True when it began the release (the rule has nothing more to do at this input).
    pub(super) fn roll_call(&mut self, now: Instant) -> bool {
        let Some(h) = self.handover.as_ref() else {
            return false;
        };
        // The role the request was asked in: an owner that stopped owning (it yielded, lost
        // its lease) hands nothing over.
        let asked_as = if h.owner { Role::Master } else { Role::Backup };
        let verdict = if self.shutdown_requested || self.role != asked_as {
            Verdict::Refuse(Refusal::Interrupted)
        } else {
            self.verdict(h, now)
        };
        let to = match verdict {
            Verdict::Wait => return false,
            Verdict::Refuse(refusal) => {
                let h = self.handover.take().expect("pending");
                self.answer(h.id, h.request, Err(refusal));
                return false;
            }
            Verdict::To(to) => to,
        };
        let h = self.handover.take().expect("pending");
        let switchover = matches!(h.request, Request::Switchover { .. });
        let outcome = match &to {
            Some(to) if switchover => Accepted::Switchover { to: to.clone() },
            _ => {
                self.set_standby(now, true);
                Accepted::Standby {
                    to: to.clone(),
                    already: false,
                }
            }
        };
        self.answer(h.id, h.request, Ok(outcome));
        // (A backup entering standby has nothing to hand over.)
        let Some(to) = to.filter(|_| h.owner) else {
            return false;
        };
        self.handing = Some(Handing {
            to: to.clone(),
            switchover,
        });
        self.coverage.hit(Single::ReleaseOperator);
        let release = Transition::release(&self.held_vips(), ReleaseCause::Operator, Some(to));
        self.begin(now, release);
        true
    }

    /// What the answers so far make of hand-over `h` at `now`.
    fn verdict(&self, h: &HandOver, now: Instant) -> Verdict {
        let waited = now - h.began;
        let given_up = waited >= self.config.dead_after();
        let waited_ms = waited.as_millis() as u64;
        let heard = |p: &&super::Peer| p.heard_since(h.began);
        if let Request::Switchover { to: Some(name) } = &h.request {
            let named = (self.peers.iter()).find(|p| p.name == *name);
            return match named.filter(heard) {
                Some(p) if p.eligible() => Verdict::To(Some(p.name.clone())),
                Some(p) => Verdict::Refuse(Refusal::Ineligible {
                    node: name.clone(),
                    why: match () {
                        _ if p.marks.standby => Ineligible::Standby,
                        _ if p.priority == 0 => Ineligible::Witness,
                        _ => Ineligible::Claims,
                    },
                }),
                None if given_up => Verdict::Refuse(Refusal::NotAlive {
                    node: name.clone(),
                    waited_ms,
                }),
                None => Verdict::Wait,
            };
        }
        // A backup entering standby needs some other node that can own the addresses alive:
        // one that claims them, or an eligible backup.
        let can_own = |p: &&super::Peer| p.eligible() || p.role.claims_ownership();
        let best = (self.peers.iter())
            .filter(heard)
            .filter(|p| if h.owner { p.eligible() } else { can_own(p) })
            .max_by(|a, b| a.rank().cmp(&b.rank()));
        let everyone = (self.peers.iter()).all(|p| p.left || p.heard_since(h.began))
            && self.every_configured_peer_known();
        match best {
            Some(p) if everyone || waited >= self.config.protocol.interval || !h.owner => {
                Verdict::To(h.owner.then(|| p.name.clone()))
            }
            _ if given_up => Verdict::Refuse(Refusal::NoEligibleNode { waited_ms }),
            _ => Verdict::Wait,
        }
    }

    /// Whether every peer address of this node's file is one a known peer sends from: a
    /// node not heard since this one started (a passive backup, silent while an owner is
    /// heard) may be live all the same, and the roll call then waits its interval for it.
    fn every_configured_peer_known(&self) -> bool {
        (self.config.paths.iter().enumerate()).all(|(i, path)| {
            (path.peers.iter()).all(|&a| (self.peers.iter()).any(|p| p.paths[i].source == Some(a)))
        })
    }

    /// Once an operator's hand-over has released the addresses: the successor is named in
    /// this node's heartbeats (and taken as heir here too, so this node does not take the
    /// addresses back meanwhile) until it claims them or `dead_after` has passed.
    pub(super) fn hand_over_released(&mut self, now: Instant) {
        if let Some(Handing { to, switchover }) = self.handing.take() {
            self.coverage.hit(Single::HeirNamedMine);
            self.heir = Some(Heir {
                name: to,
                until: now + self.dead_after,
                switchover,
                mine: true,
            });
        }
    }

    /// Answers an operator's request.
    pub(super) fn answer(&mut self, id: u64, request: Request, outcome: Result<Accepted, Refusal>) {
        self.coverage.hit(Point::answered(&outcome));
        self.outputs.push_back(Output::Answer(Box::new(Answer {
            id,
            request,
            outcome,
        })));
    }
}
