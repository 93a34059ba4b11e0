//! The daemon on a host: its start (leftovers removed first) and its end, what the driver
//! does after every input (drain the outputs, check core's invariants, keep the standby flag),
//! an operator's request, and each output carried out.

use super::host::{Job, Task};
use super::World;
use crate::check;
use crate::fault::HookBehavior;
use crate::record::Observation;
use failover_core::{AddressChange, Command, Event, Node, Output, Request, Role, VipId};

impl World<'_> {
    /// The daemon of host `i` starts (a boot, a restart after a kill or a shutdown): first it
    /// removes what an earlier run left on the interfaces, as the daemon does, then it runs.
    pub(super) fn start(&mut self, i: usize) {
        for v in 0..self.hosts[i].held.len() {
            self.hosts[i].expires[v] = None;
            if std::mem::take(&mut self.hosts[i].held[v]) {
                let addr = &self.vip_names[v];
                self.note(Some(i), format!("removed leftover address {addr}"));
                self.client.dirty = true;
                self.observe(Observation::Released { node: i, vip: v });
            }
        }
        let now = self.local(i);
        let h = &mut self.hosts[i];
        h.incarnation += 1;
        h.ledger.restart();
        h.ledger.configure(&h.config);
        let node = Node::new(h.config.clone(), h.incarnation, now)
            .expect("the simulator builds valid configs");
        // As the daemon does: the flag its state directory kept.
        h.node = Some(if h.standby { node.in_standby() } else { node });
        let epoch = h.incarnation;
        self.note(Some(i), format!("start (boot epoch {epoch})"));
        self.observe(Observation::Up { node: i });
        self.after_input(i);
    }

    /// The daemon of host `i` is gone (crashed with its host, killed, or exited after a
    /// planned shutdown); its host keeps whatever is on its interfaces.
    pub(super) fn end_process(&mut self, i: usize, why: &str) {
        self.hups_unread(i);
        self.hosts[i].forget_process();
        self.queue.clear_timer(i);
        self.note(Some(i), why.to_string());
        self.observe(Observation::Down { node: i });
    }

    pub(super) fn after_input(&mut self, i: usize) {
        while let Some(out) = self.hosts[i].node.as_mut().and_then(Node::poll_output) {
            self.output(i, out);
        }
        self.check_node(i);
        self.status_if_due(i);
        self.store_standby(i);
        self.send_outgoing();
        self.reschedule(i, false);
    }

    /// Core's own invariants after every input, and one between core and this driver: the
    /// host never has an address its node believes is not there. The first break is kept.
    fn check_node(&mut self, i: usize) {
        if self.core_broken.is_some() {
            return;
        }
        let Some(node) = self.hosts[i].node.as_ref() else {
            return;
        };
        let held = &self.hosts[i].held;
        let broken = node.check_invariants().err().or_else(|| {
            (0..held.len())
                .find(|&v| held[v] && !node.holds(VipId(v)))
                .map(|v| format!("its host has {} and it believes not", self.vip_names[v]))
        });
        if let Some(why) = broken {
            let name = &self.hosts[i].name;
            self.core_broken = Some(format!("{name} at {}: {why}", check::secs(self.now)));
        }
    }

    /// Keeps the daemon's standby flag on its host's disk, as the daemon keeps it in its
    /// state directory.
    fn store_standby(&mut self, i: usize) {
        let Some(on) = self.hosts[i].node.as_ref().map(Node::standby) else {
            return;
        };
        if std::mem::replace(&mut self.hosts[i].standby, on) != on {
            let what = if on {
                "standby stored"
            } else {
                "standby cleared"
            };
            self.note(Some(i), what.into());
            self.observe(Observation::Standby { node: i, on });
        }
    }

    /// An operator asks host `i`'s daemon (`failoverctl`): the request reaches it like any
    /// command, if a daemon runs there (a stopped one reads it when it runs again).
    pub(super) fn ask(&mut self, i: usize, request: Request) {
        if self.hosts[i].node.is_none() {
            self.note(Some(i), format!("failoverctl {request}: no daemon answers"));
            return;
        }
        self.requests += 1;
        let id = self.requests;
        self.note(Some(i), format!("failoverctl {request}"));
        self.hosts[i]
            .inbox
            .command(Command::Operator { id, request });
        self.wake(i);
    }

    pub(super) fn output(&mut self, i: usize, out: Output) {
        match out {
            Output::Transmit(t) => {
                self.announced(i, &t.payload);
                let clock = self.hosts[i].clock;
                let now = self.now;
                let ledger = &mut self.hosts[i].ledger;
                ledger.sent(
                    &t.payload,
                    (t.path.0, t.to),
                    || clock.local(now),
                    &self.names,
                );
                self.transmit(i, t.path.0, t.to, t.payload)
            }
            Output::Acquire { id, vip, until } => {
                let task = Task::Address {
                    change: AddressChange::Add,
                    vip,
                    until,
                };
                self.enqueue(i, Job { id, task });
            }
            Output::Release { id, vip } => {
                let task = Task::Address {
                    change: AddressChange::Remove,
                    vip,
                    until: None,
                };
                self.enqueue(i, Job { id, task });
            }
            Output::Extend { vip, until } => self.extend(i, vip.0, until),
            Output::Announce(v) => {
                if self.hosts[i].held[v.0] {
                    // The owner's periodic refresh: frequent enough that formatting an
                    // address each time would show in a simulated hour's cost.
                    let what = ["announce ", &self.vip_names[v.0], " (gratuitous ARP)"].concat();
                    self.note(Some(i), what);
                    self.observe(Observation::Announced { node: i, vip: v.0 });
                    self.announce(i, v.0);
                }
            }
            Output::RunHook(req) => {
                let addr = &self.vip_names[req.vip.0];
                let how = match self.hosts[i].hook_behavior(req.kind) {
                    None => "ok".to_string(),
                    Some(HookBehavior::Fails) => "fails".to_string(),
                    Some(HookBehavior::Hangs) => "hangs".to_string(),
                    Some(HookBehavior::Slow(extra)) => format!("slow (+{extra:?})"),
                };
                let what = format!("hook {} {} for {addr}: {how}", req.kind, req.event);
                self.note(Some(i), what);
                let deadline = req.deadline.as_nanos();
                let task = Task::Hook {
                    kind: req.kind,
                    vip: req.vip,
                    event: req.event,
                    asked: self.now,
                    deadline,
                };
                self.enqueue(i, Job { id: req.id, task });
            }
            Output::Notify(n) => {
                self.note(Some(i), format!("notify: {}", n.summary()));
                // (decided now; a no-quorum notice's voters were, at `Event::LeaseFailed`)
                if matches!(*n, failover_core::Notification::LeaseLost { .. }) {
                    self.record_grants(i);
                }
                let obs = Observation::Notified {
                    node: i,
                    notification: *n,
                };
                self.act(obs.clone());
                self.observe(obs);
            }
            Output::Answer(answer) => {
                let said = match &answer.outcome {
                    Ok(done) => done.to_string(),
                    Err(refusal) => format!("refused: {refusal}"),
                };
                self.note(Some(i), format!("answer to {}: {said}", answer.request));
                self.observe(Observation::Answered {
                    node: i,
                    answer: *answer,
                });
            }
            Output::Event(Event::RoleChanged { from, to }) => {
                self.hosts[i].ledger.mark();
                if !to.claims_ownership() {
                    self.hosts[i].ledger.claim_ended();
                }
                let obs = Observation::RoleChanged { node: i, from, to };
                self.act(obs.clone());
                self.note(Some(i), format!("role {from} -> {to}"));
                self.observe(obs);
                if to == Role::Stopped {
                    self.end_process(i, "stopped after planned shutdown");
                }
            }
            Output::Event(Event::PeerUp { peer, epoch }) => {
                self.note(Some(i), format!("peer {peer} up (epoch {epoch})"))
            }
            Output::Event(Event::PeerDown { peer }) => {
                self.note(Some(i), format!("peer {peer} down"))
            }
            Output::Event(Event::TakeoverAbandoned { peer }) => {
                self.note(Some(i), format!("takeover abandoned: {peer} claims"));
                let rival = self.scenario.node_index(&peer);
                self.observe(Observation::TakeoverAbandoned { node: i, rival });
            }
            Output::Event(Event::LeaseFailed) => {
                self.note(Some(i), "takeover has no lease".to_string());
                self.record_grants(i);
            }
            Output::Event(Event::Dropped { reason }) => {
                self.note(Some(i), format!("dropped a datagram: {reason:?}"))
            }
        }
    }
}
