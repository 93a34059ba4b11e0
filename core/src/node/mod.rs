//! The failover node: one sans-I/O state machine per server.
//!
//! # Protocol (classic mode)
//!
//! The owner sends a heartbeat every `interval` on every path to every peer address (and to
//! every address a peer was heard from), as the source's heartbeatd does; so does a node that
//! is starting up, waiting for the owner to hand the addresses back to it, or whose role
//! changed within the last `dead_after` (so one lost datagram never hides a change). Other
//! backups are passive: they listen, and answer a newcomer once. A heartbeat carries the
//! sender's name, priority, role, boot epoch and a sequence number that grows with every
//! announcement (all datagrams of one announcement carry the same number and the same bytes).
//! A peer is *alive* while any path carried one of its heartbeats within `dead_after` plus a
//! skew that grows as this node's priority falls (VRRP's skew: the best backup's timer runs
//! out first, and the others hear it claim before theirs do). A path silent that long while
//! another path still carries heartbeats is a *network anomaly*: notified, but no takeover.
//!
//! Ownership goes to the highest-ranked live node (priority, then the smaller name). The
//! hand-over is ordered so two nodes never hold an address at once on a healthy network:
//!
//! 1. A node only starts acquiring when no live peer *claims* the addresses (role `Acquiring`,
//!    `Master` or `Releasing`), and after a start-up wait of `dead_after` unless it has already
//!    heard who the owner is. Until its first address change it gives the takeover up when a
//!    claimer is heard after all (an owner that was only slow to be heard, or a better-ranked
//!    node acquiring at the same time): no address added, no `PostAcq`, no mail.
//! 2. A returning higher-priority node announces itself as `Backup`; the owner sees it and
//!    (with `preempt`) hands back: `Test`, `PreRel`, release, `PostRel`, then a heartbeat
//!    saying `Backup` at once. Only then does the returning node see no claimer and acquire.
//! 3. If two nodes both claim (after a partition heals), the lower-ranked one yields. If the
//!    lower-ranked one keeps claiming for `dead_after` — it cannot hear the owner, a one-way
//!    cut — the owner notifies it once ([`Notification::RivalClaim`]).
//! 4. A planned shutdown releases first, then sends `Goodbye` naming the best backup it knows
//!    as successor. The successor takes over at once; the other backups wait for it to claim
//!    (for their own `dead_after`), so only one node moves even though passive backups never
//!    hear each other.
//!
//! # Operators
//!
//! Planned maintenance without stopping the daemon ([`Request`], answered by
//! [`Output::Answer`]):
//!
//! - **Standby.** A node in standby announces priority 0 and the standby mark, so every other
//!   node but a witness outranks it, is never named successor, and never takes the addresses
//!   — like the demotion of a refused takeover, but until [`Request::Active`]. The driver keeps
//!   the flag ([`Node::standby`]) across restarts and starts the node with
//!   [`Node::in_standby`]. A backup enters standby at once if it hears an owner; an owner
//!   first learns who is alive (the roll call, below), then releases in order — `PreRel`,
//!   remove, `PostRel`, no `Test`: the operator decided — and says `Backup` naming its
//!   successor, as a planned shutdown's goodbye does, so the successor takes over at once
//!   and the other backups, which never hear each other, wait for it.
//! - **Switchover.** The owner hands the addresses to the node named, or without a name to
//!   the best other live node, in the same order. The successor keeps them against
//!   preemption (it announces the switchover mark, and a higher-priority backup waits) for as
//!   long as it claims them without a break: until it fails, shuts down, yields, is put in
//!   standby or switched over again. (A node named claims once; a later copy of the naming
//!   does not make it heir again.) The node handing over stays an ordinary backup; it treats
//!   its successor as heir too, so it does not take them back while the successor is on its
//!   way.
//! - **Active** leaves standby: the node announces its own priority again and, with
//!   preemption, gets the addresses back by the ordinary, ordered hand-back.
//!
//! **Who is alive.** Passive backups are silent, so an owner cannot tell a live backup from a
//! dead one by listening. Asked to hand over, it calls the roll: its heartbeats carry the roll
//! call mark, repeated every interval, and every node that hears one answers with a
//! heartbeat. A node is *eligible* when it answered (heard on some path since the roll call
//! began), is a backup and announces a priority above 0 without the standby mark — so not a
//! witness, not in standby, not itself taking over or releasing. The owner decides as soon as
//! every peer it knows has answered and every peer address its configuration names is one
//! of theirs (a node restarted since it last heard a passive backup does not know it), or
//! one interval after the roll call began if some eligible node has; for a named node, as
//! soon as that node answers. It hands over to the best-ranked eligible node (or the one
//! named).
//!
//! **Refused** (nothing changes; the answer says why): when no eligible node answered within
//! `dead_after` (the silence after which a peer counts as dead) — so a paused or cut-off
//! backup that does not answer in time makes `standby` and `switchover` refuse, and one that
//! resumes within `dead_after` is handed the addresses; when the node named has not been
//! heard since this node started (unknown), did not answer within `dead_after` (not alive),
//! is this node, a witness, in standby or claiming the addresses itself; when `switchover`
//! is asked of a node that does not own the addresses; when a takeover, a release, another
//! hand-over or a shutdown is under way; and when the owner stops owning while it waits
//! (it yields, or loses its lease). A backup with no owner heard calls the roll too, takes
//! nothing over while it waits, and enters standby only if some other node that could own
//! the addresses answers: standby is never entered with no live candidate in sight. Once in
//! it, though, a node takes nothing over even when it is the only node left — as no resource
//! runs on a node that Pacemaker's `pcs node standby` put in standby. A node that answered
//! and died before it claimed is waited for like a goodbye's successor that died unnoticed:
//! the others take over after their `dead_after`; after a switchover the node that handed
//! over takes them back itself.
//!
//! In quorum mode the successor needs a lease like any taker: the voters drop the promise to
//! the old owner when it says `Backup`, and grant the successor's next request.
//!
//! Address changes and hooks are requests with answers: core asks for one at a time and waits
//! for it (or for its deadline), so its idea of what is on the interfaces follows the driver's.
//! An address the kernel will not add is counted as not held, notified, and tried again with
//! the same back-off as a refusing `Test`.
//!
//! The ownership rule lives in [`Node::decide`] (`rule.rs`).

mod announce;
mod operator;
mod peers;
pub mod quorum;
mod rule;
mod steps;
mod transition;

pub use peers::PeerStatus;
pub use quorum::{QuorumStatus, VoterStatus};

use crate::config::{Config, ConfigError};
use crate::coverage::{Coverage, Point, Single};
use crate::io::{
    Busy, Command, Counters, DropReason, Event, HookEvent, Notification, Output, PathId, Refusal,
    VipId,
};
use crate::role::Role;
use crate::time::Instant;
use crate::wire::{self, AuthKey, DecodeError, Marks, Message, MessageKind};
use operator::{HandOver, Handing};
use peers::{Accept, Peer, Peers};
use quorum::Quorum;
use serde::Serialize;
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use transition::Transition;

/// What marks this node's messages carry now (see [`crate::wire::Marks`]).
fn marks_of(node: &Node) -> Marks {
    let handing = node.heir.as_ref().filter(|h| h.mine);
    Marks {
        roll_call: node.handover.is_some(),
        standby: node.standby,
        switchover: handing.map_or(node.kept && node.role.claims_ownership(), |h| h.switchover),
    }
}

/// One member of a failover group.
#[derive(Debug)]
pub struct Node {
    config: Config,
    key: Option<AuthKey>,
    /// `protocol.previous_auth_key`: accepted on receive, never used to send.
    previous_key: Option<AuthKey>,
    /// Every heartbeat this node sends, but for kind, role and sequence number.
    template: Message,
    /// Heartbeats between two announcements of the held addresses (`u32::MAX`: never), and
    /// how many are left until the next: the owner refreshes clients' neighbour caches on the
    /// heartbeat's own timer.
    beats_per_announce: u32,
    beats_to_announce: u32,
    /// When the held addresses were last announced: a second round at the same instant (a
    /// reminder for each of several reasons, a stall on top of one) tells the clients nothing
    /// more.
    announced: Option<Instant>,
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
    /// After a role change, this node heartbeats every interval until then, so peers learn
    /// the change even if its first announcement is lost (a yield said once could be missed).
    repeat_until: Instant,
    /// `next_deadline` as of the last input that changed state. Routine heartbeats only push
    /// peer expiry later, so it may be early, never late.
    deadline: Option<Instant>,
    /// Datagrams handed over together are being taken in (see `handle_datagrams`), and
    /// whether one of them asked for the ownership rule, which then runs once after the last.
    batch: Option<bool>,
    /// When every peer's liveness and paths were last looked at (a full refresh).
    refreshed: Instant,
    /// Per path, where announcements go: the configured peers, then addresses peers were
    /// heard from that are not configured. Changes only when a peer's source address does.
    destinations: Vec<Vec<SocketAddr>>,
    peers: Peers,
    /// The last hand-over that was refused (by `Test` or the kernel), until one succeeds.
    backoff: Option<Backoff>,
    /// Quorum mode: a takeover given up for want of a majority was notified, and this node
    /// has since neither taken the addresses over nor ended a release: another is no news.
    /// (Kept apart from the back-off, which a readiness check that passes ends: `Test` said
    /// yes again, but the group may lack a majority all the same.)
    no_quorum_told: bool,
    /// The node a departed owner named to take over (or this node named, handing over for
    /// an operator), until it claims or its time is up.
    heir: Option<Heir>,
    /// In standby: announces priority 0 and never takes the addresses (see "Operators").
    standby: bool,
    /// This owner holds the addresses by an operator's switchover: it does not hand them
    /// back to a higher-priority node until it lets them go.
    kept: bool,
    /// An operator's hand-over waiting for its roll call to be answered.
    handover: Option<HandOver>,
    /// The successor an operator's hand-over chose, named once the release is done.
    handing: Option<Handing>,
    /// The last peer seen owning the addresses, named in the failover notification.
    last_owner: Option<String>,
    /// Per address: it may be on this host's interface (asked to be added, not yet removed).
    held: Vec<bool>,
    transition: Option<Transition>,
    shutdown_requested: bool,
    next_request: u64,
    outputs: VecDeque<Output>,
    counters: Counters,
    /// Quorum mode's leases and votes (`None` in classic mode).
    quorum: Option<Quorum>,
    /// The release under way began because the lease ran out, and was notified as such.
    lease_lost: bool,
    /// The node a release the kernel refused was handing the addresses to: the later try that
    /// removes them names it in the release notice, as the first try would have.
    releasing_to: Option<String>,
    /// What this node went through (see [`crate::coverage`], which reads it out): written,
    /// never read here.
    pub(crate) coverage: Coverage,
}

/// A hand-over that was refused — `Test` said no or hung, or the kernel would not add or
/// remove an address: the rule does not try it again before `retry`, so a flaky check neither
/// blocks a hand-over for ever nor runs the hooks in a loop. The wait starts at `dead_after`
/// and doubles with every refusal in a row, up to [`MAX_BACKOFF`] times `dead_after` (a `Test`
/// of `/usr/bin/false`, the source's notification-only mode, runs about twice a minute with the
/// defaults). A refusal repeated is no news and is not notified again.
///
/// A refused *takeover* also lowers the priority this node announces to the lowest until
/// `retry`: the next node takes the addresses over and keeps them, and no owner hands them
/// back to a node that cannot take them — instead of the group passing them round. Past
/// `retry`, while another node owns that this one would preempt, the priority stays low until
/// `Test` alone says yes (a readiness check, as keepalived's track scripts keep a priority
/// down until the script passes): announcing it with a `Test` that still says no would have
/// the owner hand the addresses back for nothing at every back-off's end. A check that says no
/// is a refusal repeated: the wait doubles, nothing is notified.
#[derive(Clone, Copy, Debug)]
struct Backoff {
    /// What was refused.
    event: HookEvent,
    retry: Instant,
    wait: Duration,
    /// A takeover refused for want of a majority of voters: a voter coming up may be the one
    /// missing, so the retry need not wait.
    no_quorum: bool,
    /// `Test` said no (or hung): a readiness check can tell whether it still would.
    vetoed: bool,
}

/// The priority a node announces while its takeovers are refused.
const DEMOTED_PRIORITY: u8 = 1;

/// The successor a departing owner named in its goodbye, or an owner that released for an
/// operator's hand-over named in its heartbeats.
#[derive(Clone, Debug)]
struct Heir {
    name: String,
    /// Past this the heir has not claimed: it is presumed gone, and the ordinary rule decides.
    until: Instant,
    /// By a switchover: the heir keeps the addresses against preemption.
    switchover: bool,
    /// Named by this node: its heartbeats carry the name until the heir claims.
    mine: bool,
}

/// The longest wait between two refused attempts at the same hand-over, in `dead_after`s:
/// also how long after the network heals a node that kept being refused may take to try again.
pub const MAX_BACKOFF: u32 = 8;

/// A notification for the driver (boxed: rare, and it would make every output bigger), marked
/// in `coverage`.
fn notify(coverage: &mut Coverage, n: Notification) -> Output {
    coverage.hit(Point::notified(&n));
    Output::Notify(Box::new(n))
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
    /// Addresses it holds, as configured (a string each in JSON).
    pub held: Vec<IpAddr>,
    /// Every peer ever heard, in name order (a listing that scripts and diffs can rely on).
    pub peers: Vec<PeerStatus>,
    /// Datagram counters.
    pub counters: Counters,
    /// Quorum mode: votes, lease and promise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quorum: Option<QuorumStatus>,
    /// In standby (see "Operators").
    pub standby: bool,
    /// Holds the addresses by a switchover, kept against preemption.
    pub kept: bool,
    /// An operator's request waiting for its roll call to be answered.
    pub pending: Option<crate::io::Request>,
}

impl Node {
    /// A node that starts as `Backup` and announces itself at once.
    ///
    /// `boot_epoch` must grow with every start of this node (the daemon persists a counter; the
    /// simulator counts restarts): peers use it to tell a restart from a replay.
    pub fn new(config: Config, boot_epoch: u64, now: Instant) -> Result<Node, ConfigError> {
        config.validate()?;
        let (key, previous_key) = keys(&config);
        let quorum = Quorum::new(&config);
        let template = Message {
            group: config.protocol.group,
            kind: MessageKind::Heartbeat,
            role: Role::Backup,
            // A witness ranks below every address node: it is never chosen to own.
            priority: if config.node.witness {
                0
            } else {
                config.node.priority
            },
            epoch: boot_epoch,
            seq: 0,
            sender: config.node.name.clone(),
            successor: None,
            quorum: quorum.is_some(),
            vote: None,
            marks: Marks::default(),
        };
        let beats_per_announce = announce::beats_per_announce(&config);
        let mut node = Node {
            dead_after: skewed_dead_after(&config),
            template,
            beats_per_announce,
            beats_to_announce: beats_per_announce,
            announced: None,
            payload: Arc::from(&[][..]),
            held: vec![false; config.vips.len()],
            config,
            key,
            previous_key,
            epoch: boot_epoch,
            seq: 0,
            role: Role::Backup,
            started: now,
            now,
            settled: false,
            next_heartbeat: now,
            active: true,
            batch: None,
            repeat_until: now,
            peers: Peers::default(),
            backoff: None,
            no_quorum_told: false,
            heir: None,
            standby: false,
            kept: false,
            handover: None,
            handing: None,
            last_owner: None,
            transition: None,
            shutdown_requested: false,
            next_request: 0,
            outputs: VecDeque::new(),
            counters: Counters::default(),
            deadline: None,
            refreshed: now,
            destinations: Vec::new(),
            quorum,
            lease_lost: false,
            releasing_to: None,
            coverage: Coverage::default(),
        };
        node.update_destinations();
        node.deadline = node.next_deadline();
        Ok(node)
    }

    /// This node starting in standby (the driver kept the flag across a restart): it announces
    /// priority 0 from its first heartbeat and never takes the addresses until
    /// [`crate::Request::Active`]. A witness has nothing to stand by for and ignores it.
    pub fn in_standby(mut self) -> Node {
        if !self.config.node.witness {
            self.standby = true;
            self.template.priority = 0;
        }
        self
    }

    /// Whether this node is in standby: what the driver stores, so a restart keeps it.
    pub fn standby(&self) -> bool {
        self.standby
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

    /// Takes the time an input carries: drivers give core a monotonic clock, and an input
    /// stamped earlier than the last one is a driver bug (caught in debug builds).
    fn tick(&mut self, now: Instant) {
        debug_assert!(
            now >= self.now,
            "time went backwards: {now} after {}",
            self.now
        );
        // Woken `dead_after` past the time it asked to be (its process or host was stopped),
        // a backup cannot tell the silence it saw from its own stall: it listens for
        // `dead_after` again, as after a start, before it takes anything over — instead of
        // taking over the moment it wakes beside an owner that never stopped.
        // (a timer already past when the last input was handled is due at once: that input)
        let woken_by = self.poll_timeout().map(|t| t.max(self.now));
        let stalled = woken_by.is_some_and(|t| now >= t + self.dead_after);
        if stalled && self.role == Role::Backup && self.settled {
            self.coverage.hit(Single::ListensAfterStall);
            self.settled = false;
            self.started = now;
        }
        self.now = self.now.max(now);
    }

    /// Handles datagrams received together — everything waiting at one wake-up — and only
    /// then runs the ownership rule, once, on what the newest of them say. A backlog (after a
    /// stall, the datagrams that piled up in the socket buffers) tells a story that ends with
    /// its last datagram: judged one by one, an old heartbeat of a peer that has changed since
    /// (a priority since reloaded back, a takeover since ended) would start a hand-over that
    /// the next datagram in the same backlog already makes wrong.
    pub fn handle_datagrams<B: AsRef<[u8]>>(
        &mut self,
        now: Instant,
        datagrams: impl IntoIterator<Item = (PathId, SocketAddr, B)>,
    ) {
        self.batch = Some(false);
        for (path, from, bytes) in datagrams {
            self.handle_datagram(now, path, from, bytes.as_ref());
        }
        if self.batch.take() == Some(true) {
            self.decide(now);
        }
    }

    /// Handles a datagram that arrived on `path` from `from`.
    pub fn handle_datagram(&mut self, now: Instant, path: PathId, from: SocketAddr, bytes: &[u8]) {
        self.tick(now);
        if self.role == Role::Stopped {
            return;
        }
        if self.key.is_none() && path.0 < self.config.paths.len() {
            let repeat =
                (self.peers.iter_mut()).position(|p| p.accept_repeat(bytes, path.0, from, now));
            if let Some(index) = repeat {
                // Routine: only a timestamp moved (see `Accept::Routine` below) — but a
                // claimant's routine heartbeat asks voters for its lease, and a roll call
                // waits for exactly this.
                self.counters.received += 1;
                let role = self.peers.get_mut(index).role;
                self.coverage
                    .hit(Point::received(MessageKind::Heartbeat, role));
                self.coverage.hit(Single::ReceivedRepeat);
                if self.quorum.is_some() {
                    let peer = self.peers.get_mut(index);
                    let (name, epoch, seq) = (peer.name.clone(), peer.epoch, peer.state_seq);
                    if peer.role.claims_ownership() {
                        self.vote(now, &name, epoch, seq, path, from);
                    }
                }
                if self.handover.is_some() {
                    self.decide(now);
                }
                return;
            }
        }
        let msg = match self.authenticate(bytes) {
            Ok(msg) => msg,
            Err(e) if e.is_auth_failure() => {
                return self.drop_datagram(DropReason::Unauthenticated)
            }
            Err(_) => return self.drop_datagram(DropReason::Malformed),
        };
        let foreign = msg.group != self.config.protocol.group
            || path.0 >= self.config.paths.len()
            || msg.quorum != self.quorum.is_some();
        if foreign {
            return self.drop_datagram(DropReason::Foreign);
        }
        let Ok(successor) = msg.successor.map(std::str::from_utf8).transpose() else {
            return self.drop_datagram(DropReason::Malformed);
        };
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
        // Never from a replay: an old epoch's datagram kept as the template of routine
        // heartbeats would let later replays of that epoch through `accept_repeat`.
        let current = !matches!(accepted, Accept::Replay);
        // The template is the peer's newest word: any newer message replaces it, and one that
        // is no template (a vote, which carries the sender's role too, a goodbye) leaves none
        // — else a heartbeat repeating an older one would pass as routine and leave the state
        // that message set (a backup shown releasing after its last vote).
        if current && msg.seq == peer.state_seq {
            peer.last.clear();
            // A roll call is answered every time: its repetitions must not pass as routine.
            if self.key.is_none() && msg.kind == MessageKind::Heartbeat && !msg.marks.roll_call {
                peer.last.extend_from_slice(bytes);
            }
        }
        // Every node that hears a roll call answers it once, passive backups included.
        let roll_call = !matches!(accepted, Accept::Replay)
            && msg.marks.roll_call
            && msg.seq > std::mem::replace(&mut peer.roll_answered, msg.seq);
        if moved {
            self.update_destinations();
        }
        if current {
            self.coverage.hit(Point::received(msg.kind, msg.role));
        }
        if roll_call {
            self.coverage.hit(Single::RollCallAnswered);
        }
        match accepted {
            Accept::Replay => return self.drop_datagram(DropReason::Replayed),
            Accept::NewEpoch => {
                self.coverage.hit(Single::PeerNewEpoch);
                // Reported as up (again) by the refresh below. A newcomer is answered at once,
                // so a restarted node learns the owner quickly (and that answers a roll call).
                self.peers.get_mut(index).alive = false;
                self.send_heartbeats(MessageKind::Heartbeat);
            }
            Accept::Fresh if roll_call => {
                self.coverage.hit(Single::ReceivedFresh);
                self.send_heartbeats(MessageKind::Heartbeat);
            }
            Accept::Fresh => self.coverage.hit(Single::ReceivedFresh),
            Accept::Routine => {
                self.coverage.hit(Single::ReceivedRoutine);
                // Only a timestamp moved: liveness can only have been extended, and the
                // ownership rule sees nothing new (unless a vote moved the lease, or a roll
                // call waits for answers). Expiry comes with its own timer.
                self.counters.received += 1;
                if roll_call {
                    self.send_heartbeats(MessageKind::Heartbeat);
                }
                if !self.quorum_input(now, index, &msg, path, from) && self.handover.is_none() {
                    return;
                }
                self.refresh(now, Some(index));
                return self.decide(now);
            }
        }
        self.counters.received += 1;
        self.quorum_input(now, index, &msg, path, from);
        if let Some(name) = successor {
            // A goodbye names who takes over; so does a node that has just released for an
            // operator's hand-over, in every heartbeat until the heir claims (the first
            // heard counts: repetitions do not extend the wait). A naming of this node once
            // it claims is done with: a copy on another path, or one more repetition, must
            // not make it heir again (it would take the addresses at once, as a switchover's
            // successor, the next time it is a backup).
            let handed =
                !msg.role.claims_ownership() && self.heir.as_ref().is_none_or(|h| h.name != name);
            let done = name == self.config.node.name && self.role.claims_ownership();
            if (msg.kind == MessageKind::Goodbye || handed) && !done {
                self.coverage.hit(Single::HeirNamed);
                self.heir = Some(Heir {
                    name: name.to_string(),
                    until: now + self.dead_after,
                    switchover: msg.marks.switchover,
                    mine: false,
                });
            }
        }
        let peer = self.peers.get_mut(index);
        if rival && !peer.role.claims_ownership() {
            self.remind_clients();
        }
        self.refresh(now, Some(index));
        self.decide(now);
    }

    /// Handles timers: heartbeats, peer expiry, the start-up wait, request deadlines.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tick(now);
        if self.role == Role::Stopped {
            return;
        }
        if now >= self.next_heartbeat {
            self.heartbeat_due(now);
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
        self.promise_expired(now);
        self.extend_due(now);
        self.request_overdue(now);
        self.refresh(now, None);
        self.decide(now);
    }

    /// Handles an operator command, or the answer to a hook or an address change.
    pub fn handle_command(&mut self, now: Instant, cmd: Command) {
        self.tick(now);
        if self.role == Role::Stopped {
            if let Command::Operator { id, request } = cmd {
                let refusal = Refusal::Busy {
                    what: Busy::Shutdown,
                };
                self.answer(id, request, Err(refusal));
            }
            return;
        }
        match cmd {
            Command::Shutdown => self.shutdown_requested = true,
            Command::Operator { id, request } => self.operator(now, id, request),
            Command::Reannounce => {
                self.send_heartbeats(MessageKind::Heartbeat);
                self.next_heartbeat = now + self.config.protocol.interval;
            }
            Command::HookFinished { id, outcome } => self.hook_finished(now, id, outcome),
            Command::AddressChanged { id, result } => self.address_changed(now, id, result, false),
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
        let (new, old) = (&config.protocol, &self.config.protocol);
        // The lease in force, not only the field: left out, it follows interval and
        // dead_after, and the voters' promises were made for the old one.
        let quorum_of = |p: &crate::config::ProtocolSettings| {
            let lease = (p.mode == crate::config::Mode::Quorum).then(|| p.lease());
            (p.mode, p.voters.clone(), lease, p.max_clock_drift_ppm)
        };
        if quorum_of(new) != quorum_of(old) || config.node.witness != self.config.node.witness {
            return Err(needs_restart(
                "protocol.mode".into(),
                "the mode, its voters, lease or clock drift bound (promises made under the old ones must hold)",
            ));
        }
        for (i, (new, old)) in config.vips.iter().zip(&self.config.vips).enumerate() {
            if new != old {
                return Err(needs_restart(format!("vip[{i}]"), "a virtual address"));
            }
        }
        self.dead_after = skewed_dead_after(&config);
        (self.key, self.previous_key) = keys(&config);
        self.template.group = config.protocol.group;
        // A repeat is accepted without decoding, its group and key unchecked: the next
        // datagram of each peer must be judged whole by the new ones.
        for peer in self.peers.iter_mut() {
            peer.last.clear();
        }
        // The last announcement's bytes carry the old priority, group and key: encode anew.
        self.payload = Arc::from(&[][..]);
        self.beats_per_announce = announce::beats_per_announce(&config);
        self.beats_to_announce = self.beats_to_announce.min(self.beats_per_announce);
        self.config = config;
        // The new file's priority — still 0 in standby, still the lowest while a refused
        // takeover backs off: the next datagram must not invite a hand-back.
        self.template.priority = self.priority_due(self.now).0;
        self.update_destinations();
        Ok(())
    }

    /// This node's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The state machine's own invariants, for drivers that check them after every input (the
    /// simulator does): a broken one is a bug in this crate, named in the error.
    pub fn check_invariants(&self) -> Result<(), String> {
        let role = self.role;
        let moving = self.transition.is_some();
        // A release the kernel refused leaves this node claiming what it kept (Releasing,
        // no hand-over) until its back-off ends.
        let kept = self.held.contains(&true) && self.backoff.is_some();
        match role {
            Role::Acquiring if !moving => {
                return Err(format!("{role} without a hand-over under way"));
            }
            Role::Releasing if !moving && !kept => {
                return Err(format!(
                    "{role} without a hand-over under way or an address the kernel kept"
                ));
            }
            // A readiness check runs `Test` only, in a backup backing off from a takeover.
            Role::Backup if self.transition.as_ref().is_some_and(|t| t.check) => {
                let backoff = self.backoff.map(|b| b.event);
                if backoff != Some(HookEvent::Acquire) {
                    return Err(format!("readiness check with back-off {backoff:?}"));
                }
            }
            // An owner asks again for an address the kernel or `Test` refused it (after its
            // back-off), and stays the owner meanwhile; nothing else runs in an owner.
            Role::Master
                if (self.transition.as_ref())
                    .is_some_and(|t| t.event == HookEvent::Release || t.check) =>
            {
                return Err(format!("{role} with a hand-over under way"));
            }
            Role::Backup | Role::Stopped if moving => {
                return Err(format!("{role} with a hand-over under way"));
            }
            Role::Backup if self.held.contains(&true) => {
                return Err(format!("backup holding addresses: {:?}", self.held));
            }
            Role::Master if !self.held.contains(&true) => {
                return Err(format!("master holding no address: {:?}", self.held));
            }
            // (the refusal's back-off stays until the retry's own end replaces it)
            Role::Master if self.held.contains(&false) && self.backoff.is_none() => {
                return Err(format!(
                    "master without every address and no refusal to explain it: {:?}",
                    self.held
                ));
            }
            _ => {}
        }
        if self.config.node.witness && (role.claims_ownership() || self.held.iter().any(|&h| h)) {
            return Err(format!("a witness in role {role} holding {:?}", self.held));
        }
        // In standby a node takes nothing: it may only still be giving the addresses up.
        if self.standby
            && (self.config.node.witness || matches!(role, Role::Acquiring | Role::Master))
        {
            return Err(format!("in standby in role {role}"));
        }
        if self.kept && !role.claims_ownership() {
            return Err(format!("a switchover's hold in role {role}"));
        }
        Ok(())
    }

    /// The configuration the node runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Datagram counters.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Whether `vip` may be on this host's interface: its addition was asked for and it was
    /// neither refused nor removed since.
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
                .map(|(v, _)| v.address)
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
                    standby: p.marks.standby,
                    last_heard_ms: p
                        .paths
                        .iter()
                        .map(|pp| pp.last_heard.map(|t| (now - t).as_millis() as u64))
                        .collect(),
                })
                .collect(),
            counters: self.counters,
            quorum: self.quorum.as_ref().map(|q| q.status(now)),
            standby: self.standby,
            kept: self.kept,
            pending: self.handover.as_ref().map(|h| h.request.clone()),
        }
    }

    /// Decodes a datagram under the key in use or, failing that, the previous one (a rotation
    /// under way; counted, so operators see when no peer uses the old key any more).
    fn authenticate<'a>(&mut self, bytes: &'a [u8]) -> Result<Message<&'a [u8]>, DecodeError> {
        match wire::decode_raw(bytes, self.key.as_ref()) {
            Err(DecodeError::BadTag) if self.previous_key.is_some() => {
                let msg = wire::decode_raw(bytes, self.previous_key.as_ref())?;
                self.counters.previous_key += 1;
                self.coverage.hit(Single::ReceivedPreviousKey);
                Ok(msg)
            }
            decoded => decoded,
        }
    }

    fn drop_datagram(&mut self, reason: DropReason) {
        self.coverage.hit(Point::dropped(reason));
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

    /// The priority this node announces and ranks itself by: its own, 0 in standby, or the
    /// lowest while a refused takeover backs off.
    fn priority(&self) -> u8 {
        self.template.priority
    }

    /// Whether a refused hand-over of this kind still waits for its retry.
    fn backing_off(&self, now: Instant) -> bool {
        self.backoff.is_some_and(|b| now < b.retry)
    }

    fn held_vips(&self) -> Vec<VipId> {
        (0..self.held.len())
            .filter(|&i| self.held[i])
            .map(VipId)
            .collect()
    }

    fn set_role(&mut self, to: Role) {
        if to != self.role {
            if !to.claims_ownership() {
                // Nothing held any more: a switchover's hold ends with it.
                self.kept = false;
                // The lease and this node's vote for itself go.
                if let Some(q) = self.quorum.as_mut() {
                    q.released(&self.config.node.name);
                    q.drop_lease();
                }
            }
            let from = std::mem::replace(&mut self.role, to);
            if matches!(
                (from, to),
                (Role::Acquiring, Role::Master) | (Role::Releasing, Role::Backup | Role::Stopped)
            ) {
                self.no_quorum_told = false;
            }
            self.coverage.hit(Point::role(to));
            self.coverage.hit(Point::transition(from, to));
            self.repeat_until = self.now + self.dead_after;
            self.outputs
                .push_back(Output::Event(Event::RoleChanged { from, to }));
        }
    }
}

/// The key messages are sent and checked with, and the one also accepted during a rotation.
fn keys(config: &Config) -> (Option<AuthKey>, Option<AuthKey>) {
    let key = |k: &Option<String>| k.as_ref().map(|k| AuthKey::new(k.as_bytes()));
    (
        key(&config.protocol.auth_key),
        key(&config.protocol.previous_auth_key),
    )
}

/// `dead_after` plus VRRP's priority skew.
fn skewed_dead_after(config: &Config) -> Duration {
    config.dead_after() + priority_skew(config.protocol.interval, config.node.priority)
}

/// VRRP's priority skew, `interval × (255 − priority) / 256`: how much longer than `dead_after`
/// a node of `priority` waits before it claims, so the better of two claims first and is heard.
/// Public so that the simulator's checkers bound a node's start-up wait by the same figure.
pub fn priority_skew(interval: Duration, priority: u8) -> Duration {
    interval * u32::from(255 - priority) / 256
}

#[cfg(test)]
mod invariant_tests {
    use super::*;
    use crate::config::{NodeSettings, PathSettings, ProtocolSettings, VipSettings};

    fn node(vips: usize) -> Node {
        let config = Config {
            node: NodeSettings {
                name: "alpha".into(),
                priority: 200,
                witness: false,
            },
            protocol: ProtocolSettings::default(),
            paths: vec![PathSettings {
                name: "public".into(),
                local: Some("192.0.2.10:1694".parse().unwrap()),
                peers: vec!["192.0.2.11:1694".parse().unwrap()],
            }],
            vips: (0..vips)
                .map(|i| VipSettings {
                    address: format!("192.0.2.{}", 100 + i).parse().unwrap(),
                    prefix: None,
                    interface: "eth0".into(),
                    primary: false,
                })
                .collect(),
            notify: Default::default(),
            hooks: Default::default(),
            control: Default::default(),
        };
        Node::new(config, 1, Instant::from_nanos(0)).unwrap()
    }

    #[test]
    fn a_fresh_node_keeps_its_invariants_and_broken_states_are_named() {
        let mut n = node(1);
        assert_eq!(n.check_invariants(), Ok(()));
        n.role = Role::Master;
        let err = n.check_invariants().unwrap_err();
        assert!(err.contains("master holding no address"), "{err}");
        n.held[0] = true;
        assert_eq!(n.check_invariants(), Ok(()));
        n.role = Role::Acquiring;
        let err = n.check_invariants().unwrap_err();
        assert!(err.contains("without a hand-over"), "{err}");
        n.role = Role::Releasing;
        assert!(
            n.check_invariants().is_err(),
            "no back-off: nothing explains it"
        );
        n.backoff = Some(Backoff {
            event: HookEvent::Release,
            retry: Instant::from_nanos(1),
            wait: Duration::from_secs(1),
            no_quorum: false,
            vetoed: false,
        });
        assert_eq!(n.check_invariants(), Ok(()), "the kernel kept the address");
    }

    #[test]
    fn a_heartbeat_repeating_one_from_before_a_peers_vote_is_no_routine_repeat() {
        // A quorum-mode backup hears charlie's heartbeat as a backup, then its vote sent while
        // it was releasing, then a heartbeat as a backup again, byte for byte the first but
        // for its sequence number: charlie is a backup again, not still releasing.
        let mut n = node(1);
        n.config.protocol.mode = crate::config::Mode::Quorum;
        n.config.protocol.voters = vec!["alpha".into(), "charlie".into(), "delta".into()];
        n.quorum = quorum::Quorum::new(&n.config);
        let from: SocketAddr = "192.0.2.11:1694".parse().unwrap();
        let group = n.config.protocol.group;
        let message = |kind, role, seq, vote| Message {
            group,
            kind,
            role,
            priority: 100,
            epoch: 1,
            seq,
            sender: "charlie",
            successor: None,
            quorum: true,
            vote,
            marks: Default::default(),
        };
        let heartbeat = |seq| {
            wire::encode(
                &message(MessageKind::Heartbeat, Role::Backup, seq, None),
                None,
            )
        };
        let vote = wire::Vote {
            candidate: "delta",
            candidate_epoch: 1,
            seq: 9,
            granted: true,
            holder: None,
        };
        let vote = wire::encode(
            &message(MessageKind::Vote, Role::Releasing, 2, Some(vote)),
            None,
        );
        let at = |ms: u64| Instant::from_nanos(ms * 1_000_000);
        n.handle_datagram(at(10), PathId(0), from, &heartbeat(1));
        n.handle_datagram(at(20), PathId(0), from, &vote);
        let role = |n: &Node| n.status(at(40)).peers[0].role;
        assert_eq!(role(&n), Role::Releasing);
        n.handle_datagram(at(30), PathId(0), from, &heartbeat(3));
        assert_eq!(role(&n), Role::Backup);
    }

    #[test]
    fn an_owner_lacks_an_address_only_while_a_refusal_explains_it() {
        let mut n = node(2);
        n.role = Role::Master;
        n.held = vec![true, false];
        let err = n.check_invariants().unwrap_err();
        assert!(err.contains("no refusal to explain it"), "{err}");
        n.backoff = Some(Backoff {
            event: HookEvent::Acquire,
            retry: Instant::from_nanos(1),
            wait: Duration::from_secs(1),
            no_quorum: false,
            vetoed: false,
        });
        assert_eq!(n.check_invariants(), Ok(()), "the kernel refused it");
        // Asking for it again, the node stays the owner; a release is no owner's.
        n.transition = Some(Transition::acquire(&[VipId(1)], None, false));
        assert_eq!(n.check_invariants(), Ok(()));
        n.transition = Some(Transition::release(
            &[VipId(0)],
            transition::ReleaseCause::HandBack,
            None,
        ));
        let err = n.check_invariants().unwrap_err();
        assert!(err.contains("with a hand-over under way"), "{err}");
        // A backup holds nothing.
        n.transition = None;
        n.role = Role::Backup;
        let err = n.check_invariants().unwrap_err();
        assert!(err.contains("backup holding addresses"), "{err}");
    }
}
