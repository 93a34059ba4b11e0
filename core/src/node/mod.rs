//! The failover node: one sans-I/O state machine per server.
//!
//! # Protocol (classic mode)
//!
//! The owner sends a heartbeat every `interval` on every path to every peer address (and to
//! every address a peer was heard from), as the source's heartbeatd does; so does a node that is
//! starting up or waiting for the owner to hand the addresses back to it. Other backups are
//! passive: they listen, and answer a newcomer once. A heartbeat carries the sender's name,
//! priority, role, boot epoch and a sequence number that grows with every announcement (all
//! datagrams of one announcement carry the same number and the same bytes). A peer is
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
use peers::{rank, Accept, Peer, Peers};
use serde::Serialize;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use transition::{Pending, ReleaseCause, Step, Transition};

/// One member of a failover group.
#[derive(Debug)]
pub struct Node {
    config: Config,
    key: Option<AuthKey>,
    /// Every heartbeat this node sends, but for kind, role and sequence number.
    template: Message,
    /// Heartbeats between two announcements of the held addresses (`u32::MAX`: never), and
    /// how many are left until the next: the owner refreshes clients' neighbour caches on the
    /// heartbeat's own timer.
    beats_per_announce: u32,
    beats_to_announce: u32,
    /// The last announcement's bytes, shared by its datagrams and rewritten in place for the
    /// next one once they are all gone: a steady stream of heartbeats allocates nothing and
    /// encodes nothing but a role and a sequence number.
    payload: Arc<[u8]>,
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
    /// `next_deadline` as of the last input that changed state. Routine heartbeats only push
    /// peer expiry later, so it may be early, never late.
    deadline: Option<Instant>,
    /// When every peer's liveness and paths were last looked at (a full refresh).
    refreshed: Instant,
    /// Per path, where announcements go: the configured peers, then addresses peers were
    /// heard from that are not configured. Changes only when a peer's source address does.
    destinations: Vec<Vec<SocketAddr>>,
    peers: Peers,
    /// Bumped whenever a peer comes or goes.
    membership: u64,
    /// The last hand-over `Test` refused, if it still stands.
    veto: Option<Veto>,
    /// The last peer seen owning the addresses, named in the failover notification.
    last_owner: Option<String>,
    held: Vec<bool>,
    transition: Option<Transition>,
    shutdown_requested: bool,
    next_hook: u64,
    outputs: VecDeque<Output>,
    counters: Counters,
}

/// `Test` refused a hand-over (said no, or hung): the rule does not try it again until the
/// group changes or `retry` comes, so a flaky check neither blocks a takeover for ever nor runs
/// the hooks in a loop. The wait starts at `dead_after` and doubles with every refusal in a
/// row, up to [`MAX_VETO_BACKOFF`] times `dead_after` (a `Test` of `/usr/bin/false`, the
/// source's notification-only mode, runs about twice a minute with the defaults). Asked again
/// with nothing changed, a `Test` that still refuses is no news and is not notified again.
#[derive(Clone, Copy, Debug)]
struct Veto {
    membership: u64,
    retry: Instant,
    wait: Duration,
}

/// A notification for the driver (boxed: rare, and it would make every output bigger).
fn notify(n: Notification) -> Output {
    Output::Notify(Box::new(n))
}

/// A hook request for the driver (boxed, like notifications).
fn run_hook(r: HookRequest) -> Output {
    Output::RunHook(Box::new(r))
}

/// Heartbeats between two announcements of the held addresses (`u32::MAX`: never).
fn beats_per_announce(config: &Config) -> u32 {
    config.announce_every().map_or(u32::MAX, |every| {
        let beats = every
            .as_nanos()
            .div_ceil(config.protocol.interval.as_nanos());
        u32::try_from(beats).unwrap_or(u32::MAX)
    })
}

/// The longest wait between two `Test`s that refuse the same hand-over, in `dead_after`s.
const MAX_VETO_BACKOFF: u32 = 8;

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
        let beats_per_announce = beats_per_announce(&config);
        let mut node = Node {
            dead_after: config.dead_after() + skew,
            template,
            beats_per_announce,
            beats_to_announce: beats_per_announce,
            payload: Arc::from(&[][..]),
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
            peers: Peers::default(),
            membership: 0,
            veto: None,
            last_owner: None,
            transition: None,
            shutdown_requested: false,
            next_hook: 0,
            outputs: VecDeque::new(),
            counters: Counters::default(),
            deadline: None,
            refreshed: now,
            destinations: Vec::new(),
        };
        node.update_destinations();
        node.deadline = node.next_deadline();
        Ok(node)
    }

    /// The next action for the driver, until `None`. Drain after every input.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`Node::handle_timeout`] must be called next, on the driver's clock. It may come
    /// early (a routine heartbeat only pushes deadlines later and leaves it alone); a timeout
    /// with nothing due costs nothing.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.role == Role::Stopped {
            return None;
        }
        let heartbeat = self.active.then_some(self.next_heartbeat);
        match (heartbeat, self.deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The earliest deadline but the next heartbeat: end of the start-up wait, hook deadline,
    /// peer and path expiry. Only these can change what the node knows or decides.
    fn next_deadline(&self) -> Option<Instant> {
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
        if let Some(v) = self
            .veto
            .filter(|v| v.membership == self.membership && v.retry > self.refreshed)
        {
            consider(v.retry);
        }
        // Every expiry since the last full look at the peers counts, even one already past:
        // a partial refresh after a datagram must not make another peer's expiry vanish.
        for peer in self.peers.iter() {
            if let Some(t) = peer.next_expiry(self.refreshed, self.dead_after) {
                consider(t);
            }
        }
        next
    }

    /// Handles a datagram that arrived on `path` from `from`.
    pub fn handle_datagram(&mut self, now: Instant, path: PathId, from: SocketAddr, bytes: &[u8]) {
        self.now = self.now.max(now);
        if self.role == Role::Stopped {
            return;
        }
        if self.key.is_none() && path.0 < self.config.paths.len() {
            let repeat = (self.peers.iter_mut()).any(|p| p.accept_repeat(bytes, path.0, from, now));
            if repeat {
                // Routine: only a timestamp moved (see `Accept::Routine` below).
                self.counters.received += 1;
                return;
            }
        }
        let msg = match wire::decode_raw(bytes, self.key.as_ref()) {
            Ok(msg) => msg,
            Err(e) if e.is_auth_failure() => {
                return self.drop_datagram(DropReason::Unauthenticated)
            }
            Err(_) => return self.drop_datagram(DropReason::Malformed),
        };
        if msg.group != self.config.protocol.group || path.0 >= self.config.paths.len() {
            return self.drop_datagram(DropReason::Foreign);
        }
        let (index, new_record) = match self.peers.find(msg.sender) {
            Some(index) => (index, false),
            None => {
                let Ok(name) = std::str::from_utf8(msg.sender) else {
                    return self.drop_datagram(DropReason::Malformed);
                };
                if name == self.config.node.name {
                    return self.drop_datagram(DropReason::Foreign);
                }
                let peer = Peer::new(name.to_string(), &msg, self.config.paths.len(), now);
                (self.peers.insert(peer), true)
            }
        };
        let peer = self.peers.get_mut(index);
        let rival = peer.alive && peer.role.claims_ownership();
        let moved = peer.paths[path.0].source != Some(from);
        let accepted = peer.accept(&msg, path.0, from, now, new_record);
        if self.key.is_none() && msg.kind == MessageKind::Heartbeat && msg.seq == peer.state_seq {
            peer.last.clear();
            peer.last.extend_from_slice(bytes);
        }
        if moved {
            self.update_destinations();
        }
        match accepted {
            Accept::Replay => return self.drop_datagram(DropReason::Replayed),
            Accept::NewEpoch => {
                self.peers.get_mut(index).alive = false; // reported as up (again) by refresh
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
        let peer = self.peers.get_mut(index);
        if rival && !peer.role.claims_ownership() {
            self.rival_gone();
        }
        self.refresh(now, Some(index));
        self.decide(now);
    }

    /// A peer that claimed the addresses too no longer does (it yielded, or died): clients it
    /// reached hold a stale neighbour entry until the owner announces itself again.
    fn rival_gone(&mut self) {
        if self.role == Role::Master {
            self.announce();
        }
    }

    /// Announces every held address again, and counts down to the next refresh.
    fn announce(&mut self) {
        for vip in self.held_vips() {
            self.outputs.push_back(Output::Announce(vip));
        }
        self.beats_to_announce = self.beats_per_announce;
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
            self.beats_to_announce = self.beats_to_announce.saturating_sub(1);
            if self.role == Role::Master && self.beats_to_announce == 0 {
                self.announce();
            }
            // After a stall, resume the rhythm from now instead of sending a burst.
            let interval = self.config.protocol.interval;
            self.next_heartbeat = if self.next_heartbeat + interval > now {
                self.next_heartbeat + interval
            } else {
                now + interval
            };
        }
        if self.deadline.is_some_and(|d| now >= d) {
            // The deadline kept may be early (routine heartbeats push peer expiry later
            // without recomputing it): look again before doing the full round.
            self.deadline = self.next_deadline();
        }
        if self.deadline.is_none_or(|d| now < d) {
            // Only the heartbeat was due, or a deadline that moved on: nothing changed.
            return;
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
        // The last announcement's bytes carry the old priority, group and key: encode anew.
        self.payload = Arc::from(&[][..]);
        self.beats_per_announce = beats_per_announce(&config);
        self.beats_to_announce = self.beats_to_announce.min(self.beats_per_announce);
        self.config = config;
        self.update_destinations();
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
                .map(|p| PeerStatus {
                    name: p.name.clone(),
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
                .any(|p| p.alive && p.role.claims_ownership() && p.rank() < me)
    }

    /// Sends one announcement on every path to every configured and every learned peer
    /// address: encoded (and signed) once, its bytes shared by every datagram.
    fn send_heartbeats(&mut self, kind: MessageKind) {
        self.seq += 1;
        self.template.kind = kind;
        self.template.role = self.role;
        self.template.seq = self.seq;
        // The previous announcement's bytes are usually delivered and dropped by now: rewrite
        // them (the template changes in nothing else). Otherwise, encode anew.
        let key = self.key.as_ref();
        let reused = Arc::get_mut(&mut self.payload)
            .is_some_and(|bytes| wire::restamp(bytes, kind, self.role, self.seq, key));
        if !reused {
            let mut bytes = Vec::with_capacity(128);
            wire::encode_into(&self.template, key, &mut bytes);
            self.payload = Arc::from(bytes);
        }
        let payload = &self.payload;
        for (i, destinations) in self.destinations.iter().enumerate() {
            for &to in destinations {
                self.counters.sent += 1;
                self.outputs.push_back(Output::Transmit(Transmit {
                    path: PathId(i),
                    to,
                    payload: Arc::clone(payload),
                }));
            }
        }
    }

    fn update_destinations(&mut self) {
        self.destinations = (self.config.paths.iter().enumerate())
            .map(|(i, path)| {
                let learned = self
                    .peers
                    .iter()
                    .filter_map(|p| p.paths[i].source)
                    .filter(|addr| !path.peers.contains(addr));
                path.peers.iter().copied().chain(learned).collect()
            })
            .collect();
    }

    /// Re-derives peer liveness and path anomalies at `now`, reporting every change once.
    /// `only` limits the work to the peer a datagram came from: nothing else changes then, and
    /// other peers' expiry comes with its own timer.
    fn refresh(&mut self, now: Instant, only: Option<usize>) {
        if !self.settled && now >= self.started + self.dead_after {
            self.settled = true;
        }
        if only.is_none() {
            self.refreshed = now;
        }
        let interval = self.config.protocol.interval;
        let me = rank(self.config.node.priority, &self.config.node.name);
        let mut rival_died = false;
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
                rival_died |= !alive && peer.role.claims_ownership();
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
            if peer.rank() < me || !alive {
                continue;
            }
            for (i, path) in self.config.paths.iter().enumerate() {
                let anomalous = peer.path_anomalous(i, now, self.dead_after, interval);
                let up = peer.path_up(i, now, self.dead_after);
                let pp = &mut peer.paths[i];
                if anomalous && !pp.anomaly {
                    pp.anomaly = true;
                    self.outputs.push_back(notify(Notification::NetworkAnomaly {
                        peer: peer.name.clone(),
                        path: path.name.clone(),
                    }));
                } else if up && pp.anomaly {
                    pp.anomaly = false;
                    self.outputs
                        .push_back(notify(Notification::NetworkRecovered {
                            peer: peer.name.clone(),
                            path: path.name.clone(),
                        }));
                }
            }
        }
        if rival_died {
            self.rival_gone();
        }
    }

    /// The ownership rule (classic mode). Runs after every input; starts at most one transition.
    fn decide(&mut self, now: Instant) {
        self.apply_rule(now);
        self.active = self.role != Role::Stopped && self.sends_periodically();
        self.deadline = self.next_deadline();
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
        for p in self.peers.iter().filter(|p| p.alive) {
            let name = &p.name;
            let higher = p.rank() > me;
            someone_claims |= p.role.claims_ownership();
            i_am_best &= !higher;
            if higher && p.role.claims_ownership() && higher_claimer.is_none() {
                higher_claimer = Some(name);
            }
            if higher && p.role == Role::Backup && higher_backup.is_none() {
                higher_backup = Some(name);
            }
        }
        let vetoed = self
            .veto
            .is_some_and(|v| v.membership == self.membership && now < v.retry);
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

    fn begin(&mut self, now: Instant, mut transition: Transition) {
        transition.repeat = self.veto.is_some_and(|v| v.membership == self.membership);
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
                return self.complete(now);
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
                    self.outputs.push_back(run_hook(HookRequest {
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
        let old_news = p.kind == HookKind::Test && t.repeat;
        if !outcome.is_success() && !refused && !old_news {
            self.outputs.push_back(notify(Notification::HookFailed {
                hook: p.kind,
                vip: p.vip,
                outcome,
            }));
        }
        self.advance(now);
    }

    /// The transition's last step is done: settle the role, notify, announce.
    fn complete(&mut self, now: Instant) {
        let Some(t) = self.transition.take() else {
            return;
        };
        let refused = !t.vetoed.is_empty() || t.aborted;
        let wait = match self.veto {
            Some(v) if t.repeat => (v.wait * 2).min(self.dead_after * MAX_VETO_BACKOFF),
            _ => self.dead_after,
        };
        self.veto = refused.then_some(Veto {
            membership: self.membership,
            retry: now + wait,
            wait,
        });
        match t.event {
            HookEvent::Acquire => {
                if !(t.repeat && t.acquired.is_empty()) {
                    self.outputs.push_back(notify(Notification::Failover {
                        from: t.peer,
                        acquired: t.acquired.clone(),
                        vetoed: t.vetoed,
                    }));
                }
                self.set_role(if t.acquired.is_empty() {
                    Role::Backup
                } else {
                    Role::Master
                });
                self.beats_to_announce = self.beats_per_announce;
            }
            HookEvent::Release if t.aborted => self.set_role(Role::Master),
            HookEvent::Release => {
                self.outputs
                    .push_back(notify(Notification::Released { to: t.peer }));
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
