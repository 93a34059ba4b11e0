//! The failover node: one sans-I/O state machine per server.
//!
//! # Protocol (classic mode)
//!
//! The owner sends a heartbeat every `interval` on every path to every peer address (and to
//! every address a peer was heard from), as the source's heartbeatd does; so does a node that is
//! starting up or waiting for the owner to hand the addresses back to it. Other backups are
//! passive: they listen, and answer a newcomer once. A heartbeat carries the sender's name,
//! priority, role, boot epoch and a sequence number that grows with every datagram. A peer is
//! *alive* while any path carried one of its heartbeats within `dead_after` plus a skew that
//! grows as this node's priority falls (VRRP's skew: the best backup's timer runs out first, and
//! the others hear it claim before theirs do). A path silent that long while another path still
//! carries heartbeats is a *network anomaly*: notified, but no takeover.
//!
//! Ownership goes to the highest-ranked live node (priority, then the smaller name). The
//! hand-over is ordered so two nodes never hold an address at once on a healthy network:
//!
//! 1. A node only starts acquiring when no live peer *claims* the addresses (role `Acquiring`,
//!    `Master` or `Releasing`), and after a start-up wait of `dead_after` unless it has already
//!    heard who the owner is.
//! 2. A returning higher-priority node announces itself as `Backup`; the owner sees it and
//!    (with `preempt`) hands back: `Test`, `PreRel`, release, `PostRel`, then a heartbeat
//!    saying `Backup` at once. Only then does the returning node see no claimer and acquire.
//! 3. If two nodes both claim (after a partition heals), the lower-ranked one yields.
//! 4. A planned shutdown releases first, then sends `Goodbye`; peers treat the sender as dead
//!    at once and the next node takes over without waiting `dead_after`.
//!
//! The ownership rule lives in [`Node::decide`]; a second safety mode (majority leases with a
//! witness) changes that rule and adds message kinds, without touching peer tracking, hooks or
//! the driver interface.

mod peers;
mod transition;

pub use peers::PeerStatus;

use crate::config::{Config, ConfigError};
use crate::io::{
    Command, Counters, DropReason, Event, HookEvent, HookId, HookKind, HookOutcome, HookRequest,
    Notification, Output, PathId, Transmit, VipId,
};
use crate::role::Role;
use crate::time::Instant;
use crate::wire::{self, AuthKey, Message, MessageKind};
use peers::{rank, Accept, Peer};
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;
use transition::{Pending, ReleaseCause, Step, Transition};

/// One member of a failover group.
#[derive(Debug)]
pub struct Node {
    config: Config,
    key: Option<AuthKey>,
    /// Every heartbeat this node sends, but for kind, role and sequence number.
    template: Message,
    /// Silence after which a peer or path counts as dead: `dead_after` plus the priority skew.
    dead_after: Duration,
    epoch: u64,
    seq: u64,
    role: Role,
    started: Instant,
    /// The latest time an input carried, so timers already past are not offered again.
    now: Instant,
    /// Start-up wait is over: `dead_after` has passed, or an owner has been heard.
    settled: bool,
    next_heartbeat: Instant,
    /// Whether this node heartbeats every interval (see `sends_periodically`), kept current
    /// after every input so a passive backup's timer only wakes it for peer expiry.
    active: bool,
    peers: BTreeMap<String, Peer>,
    /// Bumped whenever a peer comes or goes; a `Test` veto holds until it changes.
    membership: u64,
    vetoed_at: Option<u64>,
    /// The last peer seen owning the addresses, named in the failover notification.
    last_owner: Option<String>,
    held: Vec<bool>,
    transition: Option<Transition>,
    shutdown_requested: bool,
    next_hook: u64,
    outputs: VecDeque<Output>,
    counters: Counters,
}

/// A snapshot for `failoverctl status` and metrics.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Status {
    /// This node's name.
    pub name: String,
    /// Its current role.
    pub role: Role,
    /// Its boot epoch.
    pub epoch: u64,
    /// Addresses it holds, as configured.
    pub held: Vec<String>,
    /// Every peer ever heard, by name.
    pub peers: Vec<PeerStatus>,
    /// Datagram counters.
    pub counters: Counters,
}

impl Node {
    /// A node that starts as `Backup` and announces itself at once.
    ///
    /// `boot_epoch` must grow with every start of this node (the daemon persists a counter; the
    /// simulator counts restarts): peers use it to tell a restart from a replay.
    pub fn new(config: Config, boot_epoch: u64, now: Instant) -> Result<Node, ConfigError> {
        config.validate()?;
        let key = config
            .protocol
            .auth_key
            .as_ref()
            .map(|k| AuthKey::new(k.as_bytes()));
        let template = Message {
            group: config.protocol.group,
            kind: MessageKind::Heartbeat,
            role: Role::Backup,
            priority: config.node.priority,
            epoch: boot_epoch,
            seq: 0,
            sender: config.node.name.clone(),
        };
        let skew = config.protocol.interval * u32::from(255 - config.node.priority) / 256;
        Ok(Node {
            dead_after: config.dead_after() + skew,
            template,
            held: vec![false; config.vips.len()],
            config,
            key,
            epoch: boot_epoch,
            seq: 0,
            role: Role::Backup,
            started: now,
            now,
            settled: false,
            next_heartbeat: now,
            active: true,
            peers: BTreeMap::new(),
            membership: 0,
            vetoed_at: None,
            last_owner: None,
            transition: None,
            shutdown_requested: false,
            next_hook: 0,
            outputs: VecDeque::new(),
            counters: Counters::default(),
        })
    }

    /// The next action for the driver, until `None`. Drain after every input.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`Node::handle_timeout`] must be called next, on the driver's clock.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.role == Role::Stopped {
            return None;
        }
        let startup = (!self.settled).then_some(self.started + self.dead_after);
        let hook = self
            .transition
            .as_ref()
            .and_then(|t| t.pending)
            .map(|p| p.deadline);
        let expiries = self
            .peers
            .values()
            .filter_map(|p| p.next_expiry(self.now, self.dead_after));
        self.active
            .then_some(self.next_heartbeat)
            .into_iter()
            .chain(startup)
            .chain(hook)
            .chain(expiries)
            .min()
    }

    /// Handles a datagram that arrived on `path` from `from`.
    pub fn handle_datagram(&mut self, now: Instant, path: PathId, from: SocketAddr, bytes: &[u8]) {
        self.now = self.now.max(now);
        if self.role == Role::Stopped {
            return;
        }
        let msg = match wire::decode(bytes, self.key.as_ref()) {
            Ok(msg) => msg,
            Err(e) if e.is_auth_failure() => {
                return self.drop_datagram(DropReason::Unauthenticated)
            }
            Err(_) => return self.drop_datagram(DropReason::Malformed),
        };
        if msg.group != self.config.protocol.group
            || msg.sender == self.config.node.name
            || path.0 >= self.config.paths.len()
        {
            return self.drop_datagram(DropReason::Foreign);
        }
        let paths = self.config.paths.len();
        let new_record = !self.peers.contains_key(msg.sender);
        if new_record {
            self.peers
                .insert(msg.sender.to_string(), Peer::new(&msg, paths, now));
        }
        let Some(peer) = self.peers.get_mut(msg.sender) else {
            return;
        };
        match peer.accept(&msg, path.0, from, now, new_record) {
            Accept::Replay => return self.drop_datagram(DropReason::Replayed),
            Accept::NewEpoch => {
                peer.alive = false; // reported as up (again) by refresh below
                                    // Answer a newcomer at once so a restarted node learns the owner quickly.
                self.send_heartbeats(MessageKind::Heartbeat);
            }
            Accept::Fresh => {}
            Accept::Routine => {
                // Only a timestamp moved: liveness can only have been extended, and the
                // ownership rule sees nothing new. Expiry comes with its own timer.
                self.counters.received += 1;
                return;
            }
        }
        self.counters.received += 1;
        self.refresh(now, Some(msg.sender));
        self.decide(now);
    }

    /// Handles timers: heartbeats, peer expiry, the start-up wait, hook deadlines.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = self.now.max(now);
        if self.role == Role::Stopped {
            return;
        }
        if now >= self.next_heartbeat {
            if self.active {
                self.send_heartbeats(MessageKind::Heartbeat);
            }
            // After a stall, resume the rhythm from now instead of sending a burst.
            let interval = self.config.protocol.interval;
            self.next_heartbeat = if self.next_heartbeat + interval > now {
                self.next_heartbeat + interval
            } else {
                now + interval
            };
        }
        if let Some(p) = self.transition.as_ref().and_then(|t| t.pending) {
            if now >= p.deadline {
                self.finish_hook(now, p.id, HookOutcome::TimedOut);
            }
        }
        self.refresh(now, None);
        self.decide(now);
    }

    /// Handles an operator command or a hook's answer.
    pub fn handle_command(&mut self, now: Instant, cmd: Command) {
        self.now = self.now.max(now);
        if self.role == Role::Stopped {
            return;
        }
        match cmd {
            Command::Shutdown => self.shutdown_requested = true,
            Command::Reannounce => {
                self.send_heartbeats(MessageKind::Heartbeat);
                self.next_heartbeat = now + self.config.protocol.interval;
            }
            Command::HookFinished { id, outcome } => self.finish_hook(now, id, outcome),
        }
        self.refresh(now, None);
        self.decide(now);
    }

    /// Swaps in a new configuration (the daemon's SIGHUP) and keeps everything the node knows:
    /// its role and boot epoch, the addresses it holds, its peers and any hand-over in progress.
    ///
    /// What that knowledge is indexed by must stay: the node's name, the paths (count and
    /// names) and the virtual addresses. Changing one of those needs a restart; the error names
    /// the field and the node keeps its old configuration. Priority, timing, preemption, group,
    /// key, peer addresses, hooks and notification settings may change; the ownership rule
    /// applies them at the next input, so a driver follows this with [`Command::Reannounce`].
    pub fn reconfigure(&mut self, config: Config) -> Result<(), ConfigError> {
        config.validate()?;
        let needs_restart = |field: String, what: &str| ConfigError::Invalid {
            field,
            message: format!("changing {what} needs a restart, not a reload"),
        };
        if config.node.name != self.config.node.name {
            return Err(needs_restart("node.name".into(), "the node's name"));
        }
        if config.paths.len() != self.config.paths.len() {
            return Err(needs_restart("path".into(), "the number of paths"));
        }
        for (i, (new, old)) in config.paths.iter().zip(&self.config.paths).enumerate() {
            if new.name != old.name {
                return Err(needs_restart(format!("path[{i}].name"), "a path's name"));
            }
        }
        if config.vips.len() != self.config.vips.len() {
            return Err(needs_restart("vip".into(), "the virtual addresses"));
        }
        for (i, (new, old)) in config.vips.iter().zip(&self.config.vips).enumerate() {
            if new != old {
                return Err(needs_restart(format!("vip[{i}]"), "a virtual address"));
            }
        }
        let skew = config.protocol.interval * u32::from(255 - config.node.priority) / 256;
        self.dead_after = config.dead_after() + skew;
        self.key = config
            .protocol
            .auth_key
            .as_ref()
            .map(|k| AuthKey::new(k.as_bytes()));
        self.template.group = config.protocol.group;
        self.template.priority = config.node.priority;
        self.config = config;
        Ok(())
    }

    /// This node's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The configuration the node runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Datagram counters.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Whether the node holds `vip`.
    pub fn holds(&self, vip: VipId) -> bool {
        self.held.get(vip.0).copied().unwrap_or(false)
    }

    /// A snapshot of everything `failoverctl status` shows.
    pub fn status(&self, now: Instant) -> Status {
        Status {
            name: self.config.node.name.clone(),
            role: self.role,
            epoch: self.epoch,
            held: self
                .config
                .vips
                .iter()
                .zip(&self.held)
                .filter(|(_, &h)| h)
                .map(|(v, _)| v.address.to_string())
                .collect(),
            peers: self
                .peers
                .iter()
                .map(|(name, p)| PeerStatus {
                    name: name.clone(),
                    epoch: p.epoch,
                    priority: p.priority,
                    role: p.role,
                    alive: p.is_alive(now, self.dead_after),
                    last_heard_ms: p
                        .paths
                        .iter()
                        .map(|pp| pp.last_heard.map(|t| (now - t).as_millis() as u64))
                        .collect(),
                })
                .collect(),
            counters: self.counters,
        }
    }

    fn drop_datagram(&mut self, reason: DropReason) {
        let c = &mut self.counters;
        *match reason {
            DropReason::Malformed => &mut c.malformed,
            DropReason::Unauthenticated => &mut c.unauthenticated,
            DropReason::Replayed => &mut c.replayed,
            DropReason::Foreign => &mut c.foreign,
        } += 1;
        self.outputs
            .push_back(Output::Event(Event::Dropped { reason }));
    }

    /// Whether this node owes the group a heartbeat every interval: it owns (or is taking or
    /// giving up) the addresses, it is starting up, or it outranks the owner and waits for the
    /// hand-back. Everyone else listens, which halves the traffic of the source's two-node setup.
    fn sends_periodically(&self) -> bool {
        if self.role.claims_ownership() || !self.settled {
            return true;
        }
        let me = rank(self.config.node.priority, &self.config.node.name);
        self.config.protocol.preempt
            && self
                .peers
                .iter()
                .any(|(n, p)| p.alive && p.role.claims_ownership() && rank(p.priority, n) < me)
    }

    /// Sends one message on every path to every configured and every learned peer address.
    fn send_heartbeats(&mut self, kind: MessageKind) {
        self.template.kind = kind;
        self.template.role = self.role;
        for (i, path) in self.config.paths.iter().enumerate() {
            let learned = self
                .peers
                .values()
                .filter_map(|p| p.paths[i].source)
                .filter(|addr| !path.peers.contains(addr));
            for to in path.peers.iter().copied().chain(learned) {
                self.seq += 1;
                self.template.seq = self.seq;
                self.counters.sent += 1;
                self.outputs.push_back(Output::Transmit(Transmit {
                    path: PathId(i),
                    to,
                    payload: wire::encode(&self.template, self.key.as_ref()),
                }));
            }
        }
    }

    /// Re-derives peer liveness and path anomalies at `now`, reporting every change once.
    /// `only` limits the work to the peer a datagram came from: nothing else changes then, and
    /// other peers' expiry comes with its own timer.
    fn refresh(&mut self, now: Instant, only: Option<&str>) {
        if !self.settled && now >= self.started + self.dead_after {
            self.settled = true;
        }
        let interval = self.config.protocol.interval;
        let me = rank(self.config.node.priority, &self.config.node.name);
        let peers = self
            .peers
            .iter_mut()
            .filter(|(name, _)| only.is_none_or(|o| o == name.as_str()));
        for (name, peer) in peers {
            let alive = peer.is_alive(now, self.dead_after);
            if alive != peer.alive {
                peer.alive = alive;
                self.membership += 1;
                self.outputs.push_back(Output::Event(if alive {
                    Event::PeerUp {
                        peer: name.clone(),
                        epoch: peer.epoch,
                    }
                } else {
                    Event::PeerDown { peer: name.clone() }
                }));
            }
            if alive && peer.role.claims_ownership() {
                self.settled = true;
                if self.last_owner.as_ref() != Some(name) {
                    self.last_owner = Some(name.clone());
                }
            }
            // As in the source, the node watching a higher-ranked peer reports its paths; the
            // pair's other side stays quiet so one cut link makes one mail.
            if rank(peer.priority, name) < me || !alive {
                continue;
            }
            for (i, path) in self.config.paths.iter().enumerate() {
                let anomalous = peer.path_anomalous(i, now, self.dead_after, interval);
                let up = peer.path_up(i, now, self.dead_after);
                let pp = &mut peer.paths[i];
                if anomalous && !pp.anomaly {
                    pp.anomaly = true;
                    self.outputs
                        .push_back(Output::Notify(Notification::NetworkAnomaly {
                            peer: name.clone(),
                            path: path.name.clone(),
                        }));
                } else if up && pp.anomaly {
                    pp.anomaly = false;
                    self.outputs
                        .push_back(Output::Notify(Notification::NetworkRecovered {
                            peer: name.clone(),
                            path: path.name.clone(),
                        }));
                }
            }
        }
    }

    /// The ownership rule (classic mode). Runs after every input; starts at most one transition.
    fn decide(&mut self, now: Instant) {
        self.apply_rule(now);
        self.active = self.role != Role::Stopped && self.sends_periodically();
    }

    fn apply_rule(&mut self, now: Instant) {
        if self.transition.is_some() || self.role == Role::Stopped {
            return;
        }
        if self.shutdown_requested {
            return self.start_shutdown(now);
        }
        let me = rank(self.config.node.priority, &self.config.node.name);
        let mut someone_claims = false;
        let mut i_am_best = true;
        let mut higher_claimer = None;
        let mut higher_backup = None;
        for (name, p) in self.peers.iter().filter(|(_, p)| p.alive) {
            let higher = rank(p.priority, name) > me;
            someone_claims |= p.role.claims_ownership();
            i_am_best &= !higher;
            if higher && p.role.claims_ownership() && higher_claimer.is_none() {
                higher_claimer = Some(name);
            }
            if higher && p.role == Role::Backup && higher_backup.is_none() {
                higher_backup = Some(name);
            }
        }
        let vetoed = self.vetoed_at == Some(self.membership);
        let transition = match self.role {
            Role::Backup if !someone_claims && i_am_best && self.settled && !vetoed => {
                Transition::acquire(self.config.vips.len(), self.last_owner.clone())
            }
            Role::Master if higher_claimer.is_some() => {
                let winner = higher_claimer.cloned();
                Transition::release(&self.held_vips(), ReleaseCause::Yield, winner)
            }
            Role::Master if self.config.protocol.preempt && !vetoed && higher_backup.is_some() => {
                let to = higher_backup.cloned();
                Transition::release(&self.held_vips(), ReleaseCause::HandBack, to)
            }
            _ => return,
        };
        self.begin(now, transition);
    }

    fn held_vips(&self) -> Vec<VipId> {
        (0..self.held.len())
            .filter(|&i| self.held[i])
            .map(VipId)
            .collect()
    }

    fn start_shutdown(&mut self, now: Instant) {
        if self.role == Role::Master {
            let held = self.held_vips();
            self.begin(
                now,
                Transition::release(&held, ReleaseCause::Shutdown, None),
            );
        } else {
            self.stop();
        }
    }

    /// Says goodbye, then reports `Stopped`: a driver may exit on that event, so everything
    /// the node still had to send comes before it.
    fn stop(&mut self) {
        self.send_heartbeats(MessageKind::Goodbye);
        self.set_role(Role::Stopped);
    }

    fn begin(&mut self, now: Instant, transition: Transition) {
        self.set_role(match transition.event {
            HookEvent::Acquire => Role::Acquiring,
            HookEvent::Release => Role::Releasing,
        });
        self.send_heartbeats(MessageKind::Heartbeat);
        self.transition = Some(transition);
        self.advance(now);
    }

    /// Runs steps until one needs a hook's answer or none are left.
    fn advance(&mut self, now: Instant) {
        let Some(t) = self.transition.as_mut() else {
            return;
        };
        while t.pending.is_none() {
            let Some(step) = t.steps.pop_front() else {
                return self.complete();
            };
            match step {
                Step::Hook(kind, vip) => {
                    let id = HookId(self.next_hook);
                    self.next_hook += 1;
                    t.pending = Some(Pending {
                        id,
                        kind,
                        vip,
                        deadline: now + self.config.hooks.timeout,
                    });
                    self.outputs.push_back(Output::RunHook(HookRequest {
                        id,
                        kind,
                        vip,
                        event: t.event,
                        peer: t.peer.clone(),
                    }));
                }
                Step::Acquire(vip) => {
                    self.held[vip.0] = true;
                    t.acquired.push(vip);
                    self.outputs.push_back(Output::Acquire(vip));
                }
                Step::Release(vip) => {
                    self.held[vip.0] = false;
                    self.outputs.push_back(Output::Release(vip));
                }
            }
        }
    }

    fn finish_hook(&mut self, now: Instant, id: HookId, outcome: HookOutcome) {
        let Some(t) = self.transition.as_mut() else {
            return;
        };
        let Some(p) = t.pending.filter(|p| p.id == id) else {
            return; // an answer for a hook already timed out
        };
        t.pending = None;
        t.hook_done(p.kind, p.vip, outcome);
        // A `Test` that answers "no" decides; one that hangs has failed, and is reported.
        let refused = p.kind == HookKind::Test && matches!(outcome, HookOutcome::Failed(_));
        if !outcome.is_success() && !refused {
            self.outputs
                .push_back(Output::Notify(Notification::HookFailed {
                    hook: p.kind,
                    vip: p.vip,
                    outcome,
                }));
        }
        self.advance(now);
    }

    /// The transition's last step is done: settle the role, notify, announce.
    fn complete(&mut self) {
        let Some(t) = self.transition.take() else {
            return;
        };
        match t.event {
            HookEvent::Acquire => {
                if !t.vetoed.is_empty() {
                    self.vetoed_at = Some(self.membership);
                }
                self.outputs
                    .push_back(Output::Notify(Notification::Failover {
                        from: t.peer,
                        acquired: t.acquired.clone(),
                        vetoed: t.vetoed,
                    }));
                self.set_role(if t.acquired.is_empty() {
                    Role::Backup
                } else {
                    Role::Master
                });
            }
            HookEvent::Release if t.aborted => {
                self.vetoed_at = Some(self.membership);
                self.set_role(Role::Master);
            }
            HookEvent::Release => {
                self.outputs
                    .push_back(Output::Notify(Notification::Released { to: t.peer }));
                if t.cause == Some(ReleaseCause::Shutdown) {
                    return self.stop();
                }
                self.set_role(Role::Backup);
            }
        }
        self.send_heartbeats(MessageKind::Heartbeat);
    }

    fn set_role(&mut self, to: Role) {
        if to != self.role {
            let from = std::mem::replace(&mut self.role, to);
            self.outputs
                .push_back(Output::Event(Event::RoleChanged { from, to }));
        }
    }
}
