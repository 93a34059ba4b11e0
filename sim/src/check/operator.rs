//! An operator's requests: a node in standby never acquires; an accepted hand-over goes to
//! the node it named and no other; a refusal for want of a live node is only right when none
//! was live to answer; `switchover` is refused as "not the owner" only to a node that holds
//! nothing; a node refused as ineligible for the reason it really is (a witness, itself, or a
//! server in standby or claiming), and its own name never as an unknown node; and the
//! scenario's count of refusals. Every request is answered, within
//! `dead_after` and an interval (a roll call gives up after `dead_after`) or the scenario's
//! `max_answer_latency`, unless the daemon asked stops meanwhile; a hand-over to no node
//! named goes to the best node live through its roll call; and `standby` or `active` says
//! "already" exactly when the node was in that state before it was asked (what `failoverctl`
//! prints, and what a script deciding whether it changed anything reads).

use super::{secs, Checker, Context, Findings, Holders, Liveness, Observation};
use failover_core::{Accepted, Ineligible, Refusal, Request};
use std::collections::VecDeque;
use std::rc::Rc;

/// Watches operators' requests and what the nodes did about them.
pub struct Operator {
    ctx: Rc<Context>,
    holders: Holders,
    live: Liveness,
    /// Per node: in standby (as its disk keeps it).
    standby: Vec<bool>,
    /// Per node: in standby as its daemon last said or stored it (a standby and an `active`
    /// read in one go answer one after the other and leave the disk as it was).
    said: Vec<bool>,
    /// An accepted hand-over: when it was answered, and the node it named.
    handing: Option<(u64, usize)>,
    refused: u32,
    /// Per node: when each request asked of it and not yet answered was asked, in order.
    pending: Vec<VecDeque<u64>>,
    /// What went wrong, as it was seen.
    found: Findings,
}

impl Operator {
    pub(super) fn new(ctx: &Rc<Context>) -> Operator {
        Operator {
            holders: Holders::new(ctx.vips),
            live: Liveness::new(ctx.nodes.len()),
            standby: vec![false; ctx.nodes.len()],
            said: vec![false; ctx.nodes.len()],
            handing: None,
            refused: 0,
            pending: vec![VecDeque::new(); ctx.nodes.len()],
            found: Findings::default(),
            ctx: ctx.clone(),
        }
    }

    fn name(&self, node: usize) -> &str {
        &self.ctx.nodes[node].0
    }

    fn index(&self, name: &str) -> Option<usize> {
        self.ctx.nodes.iter().position(|(n, _)| n == name)
    }

    /// Whether the network and every host were healthy all through [from, to].
    fn healthy(&self, from: u64, to: u64) -> bool {
        self.ctx.healthy_within(from, to) == to - from
    }

    /// Checks a refusal by `node` at `at`: one that says no node it could hand to was alive,
    /// or that it does not own the addresses.
    fn check_refusal(&mut self, at: u64, node: usize, refusal: &Refusal) {
        // (the roll call gives up after the asked node's own dead_after)
        let dead_after = self.ctx.settings_at(node, at).dead_after.as_nanos() as u64;
        let began = at.saturating_sub(dead_after);
        // A node that could have answered: live through the whole roll call, may own.
        let could = |n: usize| {
            n != node
                && self.ctx.settings_at(n, at).priority > 0
                && !self.standby[n]
                && self.live.live_since(n, began)
        };
        let wrong = match refusal {
            Refusal::NoEligibleNode { .. } => (0..self.live.nodes()).find(|&n| could(n)),
            Refusal::NotAlive { node: named, .. } => self.index(named).filter(|&n| could(n)),
            Refusal::NotOwner { .. } => {
                if (0..self.ctx.vips).any(|v| self.holders.of(v).contains(&node)) {
                    let name = self.name(node).to_string();
                    self.found.violate(
                        "operator",
                        format!(
                            "{name} answered a switchover at {} with \"not the owner\" while it held the address",
                            secs(at)
                        ),
                    );
                }
                None
            }
            Refusal::Ineligible { node: named, why } => {
                self.check_ineligible(at, node, named, *why);
                None
            }
            // A node knows its own name: asked to hand over to itself, it says so.
            Refusal::UnknownNode { node: named, .. } if named == self.name(node) => {
                let detail = format!(
                    "{named} refused at {} ({refusal}): its own name, which it cannot hand over to",
                    secs(at)
                );
                self.found.violate("operator", detail);
                None
            }
            _ => None,
        };
        if let Some(n) = wrong.filter(|_| self.healthy(began, at)) {
            let detail = format!(
                "{} refused at {} ({refusal}) though {} was live all along on a healthy network",
                self.name(node),
                secs(at),
                self.name(n)
            );
            self.found.violate("operator", detail);
        }
    }

    /// Checks the reason `node` gave at `at` for refusing to hand over to `named`: "itself"
    /// only for its own name, "a witness" exactly for a witness (one in standby or claiming
    /// the addresses is a server, and a witness is neither).
    fn check_ineligible(&mut self, at: u64, node: usize, named: &str, why: Ineligible) {
        let wrong = match (self.index(named), why) {
            (_, Ineligible::Itself) => named != self.name(node),
            (Some(n), Ineligible::Witness) => self.ctx.nodes[n].1 != 0,
            (Some(n), Ineligible::Standby | Ineligible::Claims) => self.ctx.nodes[n].1 == 0,
            (None, _) => false,
        };
        if wrong {
            let detail = format!(
                "{} refused at {} ({}): not why {named} cannot take the addresses",
                self.name(node),
                secs(at),
                Refusal::Ineligible {
                    node: named.to_string(),
                    why
                }
            );
            self.found.violate("operator", detail);
        }
    }

    /// How long a request may wait for its answer.
    fn answer_bound(&self) -> u64 {
        let default = self.ctx.longest_dead_after() + self.ctx.longest_interval();
        self.ctx
            .expect
            .max_answer_latency
            .unwrap_or(default)
            .as_nanos() as u64
    }

    /// Requests still unanswered at `at` past their bound.
    fn overdue(&mut self, at: u64) {
        let bound = self.answer_bound();
        for node in 0..self.pending.len() {
            while let Some(&asked) = self.pending[node].front().filter(|&&t| at > t + bound) {
                self.pending[node].pop_front();
                let detail = format!(
                    "{} was asked at {} and had not answered {} later",
                    self.name(node),
                    secs(asked),
                    secs(bound)
                );
                self.found.violate("operator", detail);
            }
        }
    }

    /// An operator's request to `node` at `at` (a scheduled one's start or end): judged if a
    /// daemon runs there to read it, under an engine that records every answer at its instant
    /// (the simulator; a real daemon's status socket adds its own delays).
    fn asked(&mut self, at: u64, node: usize) {
        if self.ctx.deliveries && self.live.live(node) {
            self.pending[node].push_back(at);
        }
    }

    /// Whether `node`'s answer at `at` says "already" rightly: in standby before it was asked
    /// (`standby`), or not (`active`). Every engine records an answer before the change of
    /// the stored flag it brings (the daemon stores the flag once it has answered).
    fn check_already(&mut self, at: u64, node: usize, outcome: &Accepted) {
        let (already, asked_standby) = match outcome {
            Accepted::Standby { already, .. } => (*already, true),
            Accepted::Active { already } => (*already, false),
            _ => return,
        };
        let before = std::mem::replace(&mut self.said[node], asked_standby);
        if already != (before == asked_standby) {
            let request = if asked_standby { "standby" } else { "active" };
            let state = if before { "in standby" } else { "active" };
            let detail = format!(
                "{} answered {request} at {} with already = {already}, though it was {state}",
                self.name(node),
                secs(at)
            );
            self.found.violate("operator", detail);
        }
    }

    /// `node` answered at `at`: the oldest request waiting is done. A hand-over that named no
    /// node must go to the best one that could take over and was live through the roll call.
    /// (False: the answer is judged further.)
    fn answered(&mut self, at: u64, node: usize, request: &Request, outcome: &Accepted) -> bool {
        let Some(asked) = self.pending[node].pop_front() else {
            return false;
        };
        let to = match (request, outcome) {
            (Request::Switchover { to: None }, Accepted::Switchover { to })
            | (
                Request::Standby,
                Accepted::Standby {
                    to: Some(to),
                    already: false,
                },
            ) => to,
            _ => return false,
        };
        let candidates = (0..self.live.nodes())
            .filter(|&n| n != node && !self.standby[n] && self.live.live_since(n, asked));
        let Some(best) = self.ctx.best(candidates, at) else {
            return false;
        };
        if self.name(best) != to && self.healthy(asked, at) {
            let detail = format!(
                "{} handed over to {to} at {} though {}, better, was live through the roll call",
                self.name(node),
                secs(at),
                self.name(best)
            );
            self.found.violate("operator", detail);
        }
        false
    }
}

impl Checker for Operator {
    fn observe(&mut self, at: u64, obs: &Observation) {
        self.overdue(at);
        if self.live.apply(at, obs) {
            // A daemon that starts reads its standby flag from its disk.
            if let Observation::Up { node } = *obs {
                self.said[node] = self.standby[node];
            }
            // A successor that goes down before it claims: the others may take over.
            self.handing = self.handing.filter(|&(_, to)| self.live.live(to));
            // A daemon that stops or dies meanwhile answers late, or never.
            for node in (0..self.live.nodes()).filter(|&n| !self.live.live(n)) {
                self.pending[node].clear();
            }
            return;
        }
        if let Observation::Answered { node, answer } = obs {
            if let Ok(outcome) = &answer.outcome {
                self.check_already(at, *node, outcome);
            }
        }
        match obs {
            Observation::FaultStarted { fault } => {
                if let Some(&Some((node, _))) = self.ctx.asks.get(*fault) {
                    self.asked(at, node);
                }
            }
            // (only a standby asks anything at its end: `active`)
            Observation::FaultEnded { fault } => {
                if let Some(&Some((node, true))) = self.ctx.asks.get(*fault) {
                    self.asked(at, node);
                }
            }
            Observation::Standby { node, on } => {
                self.standby[*node] = *on;
                self.said[*node] = *on;
            }
            // The node the addresses are handed to enters standby before it claims them (an
            // operator asked it while the owner still released): the hand-over comes to
            // nothing, and the ordinary rule decides who owns.
            Observation::Answered { node, answer }
                if matches!(answer.outcome, Ok(Accepted::Standby { .. }))
                    && self.handing.is_some_and(|(_, to)| to == *node) =>
            {
                self.handing = None;
                if let Ok(outcome) = &answer.outcome {
                    self.answered(at, *node, &answer.request, outcome);
                }
            }
            Observation::Answered { node, answer } => match &answer.outcome {
                Ok(outcome) if self.answered(at, *node, &answer.request, outcome) => {}
                Ok(Accepted::Switchover { to })
                | Ok(Accepted::Standby {
                    to: Some(to),
                    already: false,
                }) => self.handing = self.index(to).map(|to| (at, to)),
                Ok(_) => {}
                Err(refusal) => {
                    self.pending[*node].pop_front();
                    self.refused += 1;
                    self.check_refusal(at, *node, refusal);
                }
            },
            Observation::Acquired { node, vip } => {
                if self.standby[*node] {
                    let detail = format!(
                        "{} acquired address {vip} at {} while in standby",
                        self.name(*node),
                        secs(at)
                    );
                    self.found.violate("standby", detail);
                }
                if let Some((since, to)) = self.handing.take() {
                    if *node != to && self.healthy(since, at) {
                        let detail = format!(
                            "the addresses were handed to {} at {}, but {} acquired at {}",
                            self.name(to),
                            secs(since),
                            self.name(*node),
                            secs(at)
                        );
                        self.found.violate("operator", detail);
                    }
                }
            }
            _ => {}
        }
        self.holders.apply(obs);
    }

    fn finish(&mut self, at: u64, findings: &mut Findings) {
        self.overdue(at);
        findings.violations.append(&mut self.found.violations);
        if let Some(want) = self.ctx.expect.refused.filter(|&w| w != self.refused) {
            findings.violate(
                "operator",
                format!(
                    "{} operator request(s) refused, expected {want}",
                    self.refused
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{FaultSpec, Scenario};
    use failover_core::Answer;
    use std::time::Duration;

    const S: u64 = 1_000_000_000;

    /// This checker over `record` for alpha (0), bravo (1) and charlie (2), alpha asked for
    /// standby at 20 s.
    fn judge(record: &[(u64, Observation)]) -> Vec<String> {
        let scenario = Scenario::builder("trio", Duration::from_secs(60))
            .segment("public")
            .node("alpha", 200)
            .node("bravo", 150)
            .node("charlie", 100)
            .vip("192.0.2.100")
            .fault(FaultSpec {
                at: Duration::from_secs(20),
                kind: "standby".into(),
                node: Some("alpha".into()),
                ..FaultSpec::default()
            })
            .build()
            .unwrap();
        let faults = scenario.resolve_faults("trio").unwrap();
        let ctx = Context {
            deliveries: true,
            ..Context::new(&scenario, &faults)
        };
        crate::check::violations(Operator::new(&Rc::new(ctx)), record)
    }

    fn standby_to(to: &str) -> Observation {
        Observation::Answered {
            node: 0,
            answer: Answer {
                id: 1,
                request: Request::Standby,
                outcome: Ok(Accepted::Standby {
                    to: Some(to.into()),
                    already: false,
                }),
            },
        }
    }

    const ASKED: (u64, Observation) = (20 * S, Observation::FaultStarted { fault: 0 });

    #[test]
    fn a_request_left_unanswered_is_a_violation() {
        let found = judge(&[ASKED]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("alpha was asked at 20.000s and had not answered 4.000s later"),
            "{found:?}"
        );
        // Answered within dead_after and an interval: fine.
        let answered = (20 * S + 10_000_000, standby_to("bravo"));
        assert_eq!(judge(&[ASKED, answered]), Vec::<String>::new());
        // A daemon that stops meanwhile answers late: not judged.
        let paused = (21 * S, Observation::Paused { node: 0 });
        assert_eq!(judge(&[ASKED, paused]), Vec::<String>::new());
    }

    #[test]
    fn a_hand_over_to_no_one_named_goes_to_the_best_live_node() {
        let found = judge(&[ASKED, (20 * S + 10_000_000, standby_to("charlie"))]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("alpha handed over to charlie at 20.010s though bravo, better"),
            "{found:?}"
        );
        // bravo down since before the roll call: charlie is the best.
        let down = (10 * S, Observation::Down { node: 1 });
        let answered = (21 * S, standby_to("charlie"));
        assert_eq!(judge(&[down, ASKED, answered]), Vec::<String>::new());
    }

    fn answered(request: Request, outcome: Accepted) -> Observation {
        Observation::Answered {
            node: 0,
            answer: Answer {
                id: 1,
                request,
                outcome: Ok(outcome),
            },
        }
    }

    #[test]
    fn already_says_whether_the_node_was_in_that_state_before_it_was_asked() {
        let at = 20 * S + 10_000_000;
        let standby = (at, standby_to("bravo"));
        let stored = (at, Observation::Standby { node: 0, on: true });
        assert_eq!(judge(&[ASKED, standby, stored]), Vec::<String>::new());
        let already = answered(
            Request::Standby,
            Accepted::Standby {
                to: None,
                already: true,
            },
        );
        let found = judge(&[ASKED, (at, already)]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains(
                "alpha answered standby at 20.010s with already = true, though it was active"
            ),
            "{found:?}"
        );
        // `active` of a node in standby since 10 s: it was not active already.
        let earlier = (10 * S, Observation::Standby { node: 0, on: true });
        let cleared = (at, Observation::Standby { node: 0, on: false });
        let left = |already| (at, answered(Request::Active, Accepted::Active { already }));
        assert_eq!(
            judge(&[earlier.clone(), ASKED, left(false), cleared.clone()]),
            Vec::<String>::new()
        );
        let found = judge(&[earlier, ASKED, left(true), cleared]);
        assert!(
            found.iter().any(|f| f.contains(
                "answered active at 20.010s with already = true, though it was in standby"
            )),
            "{found:?}"
        );
        // A standby and an `active` read in one go (the daemon was paused while both were
        // asked): answered one after the other, and the disk left as it was.
        let entered = (at, standby_to("bravo"));
        assert_eq!(
            judge(&[ASKED, ASKED, entered.clone(), left(false)]),
            Vec::<String>::new()
        );
        let found = judge(&[ASKED, ASKED, entered, left(true)]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("though it was in standby"), "{found:?}");
        // `active` of a node that was never in standby: nothing to do, and it says so.
        assert_eq!(judge(&[ASKED, left(true)]), Vec::<String>::new());
        let found = judge(&[ASKED, left(false)]);
        assert!(
            found
                .iter()
                .any(|f| f.contains("already = false, though it was active")),
            "{found:?}"
        );
    }

    /// alpha's refusal of a switchover to `named`.
    fn refused(named: &str, refusal: Refusal) -> Observation {
        Observation::Answered {
            node: 0,
            answer: Answer {
                id: 1,
                request: Request::Switchover {
                    to: Some(named.into()),
                },
                outcome: Err(refusal),
            },
        }
    }

    fn refused_as(named: &str, why: Ineligible) -> Observation {
        let node = named.into();
        refused(named, Refusal::Ineligible { node, why })
    }

    #[test]
    fn a_node_refused_as_ineligible_is_refused_for_what_it_is() {
        let fine = (20 * S + 1_000_000, refused_as("bravo", Ineligible::Claims));
        assert_eq!(judge(&[ASKED, fine]), Vec::<String>::new());
        for (named, why) in [
            ("bravo", Ineligible::Witness),
            ("bravo", Ineligible::Itself),
        ] {
            let found = judge(&[ASKED, (20 * S + 1_000_000, refused_as(named, why))]);
            assert_eq!(found.len(), 1, "{found:?}");
            assert!(
                found[0].contains("not why bravo cannot take the addresses"),
                "{found:?}"
            );
        }
    }

    #[test]
    fn a_node_asked_to_hand_over_to_itself_does_not_call_itself_unknown() {
        let unknown = |named: &str| {
            let (node, known) = (named.into(), vec!["bravo".into()]);
            refused(named, Refusal::UnknownNode { node, known })
        };
        let found = judge(&[ASKED, (20 * S + 1_000_000, unknown("alpha"))]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("its own name"), "{found:?}");
        // A name the group does not have is unknown indeed.
        assert_eq!(
            judge(&[ASKED, (20 * S + 1_000_000, unknown("zulu"))]),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_hand_over_to_a_node_that_enters_standby_first_comes_to_nothing() {
        let handed = (20 * S + 10_000_000, standby_to("bravo"));
        let alpha_back = (25 * S, Observation::Acquired { node: 0, vip: 0 });
        let found = judge(&[ASKED, handed.clone(), alpha_back.clone()]);
        assert!(
            found.len() == 1 && found[0].contains("handed to bravo"),
            "{found:?}"
        );
        // bravo put in standby before it claimed: no one else is wrong to take them.
        let bravo_standby = Observation::Answered {
            node: 1,
            answer: Answer {
                id: 2,
                request: Request::Standby,
                outcome: Ok(Accepted::Standby {
                    to: None,
                    already: false,
                }),
            },
        };
        let found = judge(&[ASKED, handed, (21 * S, bravo_standby), alpha_back]);
        assert_eq!(found, Vec::<String>::new());
    }
}
