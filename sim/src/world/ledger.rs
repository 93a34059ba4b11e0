//! The simulator's own account of each daemon process, kept beside core and never read by
//! it: every datagram handed to it (fresh or a stale copy, by its header's stamp; an
//! attacker's), every one taken from its outputs, each peer's newest boot epoch and when it
//! was last heard on each path, and in quorum mode the grants it was handed and gave. At a
//! few instants the node's status is recorded beside it ([`Observation::Status`]) for the
//! `status` checker to compare; when a quorum notice is decided, the grants of its claim
//! ([`Observation::Grants`]) for the `notifications` checker.

use super::World;
use crate::check::{GrantsSeen, Known, PeerKnown, PeerSaid, QuorumSaid, Said, StatusSeen};
use crate::record::Observation;
use failover_core::node::quorum::REQUESTS_KEPT;
use failover_core::wire::{self, AuthKey, MessageKind};
use failover_core::Config;
use std::collections::VecDeque;
use std::net::SocketAddr;

/// How often, at least, each node's status is recorded (simulated time, nanoseconds).
const EVERY: u64 = 10_000_000_000;
/// The wire format's message kinds, at byte 3 of the header (see `failover_core::wire`).
const KIND_HEARTBEAT: u8 = 1;
const KIND_GOODBYE: u8 = 2;
const KIND_VOTE: u8 = 3;
/// The header's length, its flag saying fields follow the sender's name, the marks' field
/// type and its standby bit (`failover_core::wire`).
const HEADER_LEN: usize = 26;
const FLAG_FIELDS: u8 = 2;
const FIELD_MARKS: u8 = 5;
const MARK_STANDBY: u8 = 2;

/// Paths a host has at most (a scenario has at most 4 segments): a sender's record is kept
/// inline, with no allocation to follow per datagram.
const PATHS: usize = 4;

/// Whether genuine datagram `bytes` carries the standby mark, read by the wire format's
/// documentation (`failover_core::wire`), not by core's decoder: after the header and
/// the sender's name, when the header's flags say fields follow, a length byte and that many
/// bytes of type-length-value fields; type 5, one byte, bit 1 is standby.
fn standby_mark(bytes: &[u8]) -> bool {
    if bytes.get(4).is_none_or(|flags| flags & FLAG_FIELDS == 0) {
        return false;
    }
    let start = HEADER_LEN + usize::from(bytes.get(7).copied().unwrap_or(0));
    let Some(&len) = bytes.get(start) else {
        return false;
    };
    let mut area = bytes
        .get(start + 1..start + 1 + usize::from(len))
        .unwrap_or(&[]);
    while let [kind, len, rest @ ..] = area {
        let Some((value, after)) = rest.split_at_checked(usize::from(*len)) else {
            return false;
        };
        if *kind == FIELD_MARKS && value.len() == 1 {
            return value[0] & MARK_STANDBY != 0;
        }
        area = after;
    }
    false
}

/// A grant to this node: the boot epoch of it that asked, and the request it answers.
type Granted = (u64, u64);

/// One sender as the ledger of a receiver's process knows it.
#[derive(Clone, Copy, Debug)]
struct Sender {
    epoch: u64,
    /// Per path, the newest sequence number of `epoch` handed over there.
    seqs: [Option<u64>; PATHS],
    /// Per path, when (the receiver's clock) that one was read.
    heard: [Option<u64>; PATHS],
    /// The newest sequence number of `epoch` on any path, whether it said goodbye, the role
    /// it announced and whether it carried the standby mark.
    newest: u64,
    left: bool,
    role: Option<failover_core::Role>,
    standby: bool,
}

impl Sender {
    /// A sender's boot `epoch`, nothing of it heard yet.
    fn new(epoch: u64) -> Sender {
        Sender {
            epoch,
            seqs: [None; PATHS],
            heard: [None; PATHS],
            newest: 0,
            left: false,
            role: None,
            standby: false,
        }
    }
}

/// The account of one host's daemon process since it started.
#[derive(Clone, Debug)]
pub(super) struct Ledger {
    known: Known,
    /// Per sender (node index).
    senders: Vec<Option<Sender>>,
    /// Fresh datagrams waiting in the socket buffers: (sender, its boot epoch, path, a grant
    /// to this node).
    pending: Vec<(usize, u64, usize, Option<Granted>)>,
    /// Quorum mode: per voter, when the newest grant to this node was read.
    grants_heard: Vec<Option<u64>>,
    /// Quorum mode: per candidate, until when the newest grant sent it promises the vote.
    promised: Vec<Option<u64>>,
    /// Quorum mode: the end of the newest promise, until the node has been looked at then.
    promise_end: Option<u64>,
    /// Quorum mode, as a claimant since it last began claiming: see [`Claim`].
    claim: Claim,
    /// This host's paths.
    paths: usize,
    /// The node's name, its group and the group's key (as its file names them now) and the
    /// promise's length (quorum mode).
    name: String,
    /// The node's index among the scenario's.
    me: usize,
    group: u16,
    key: Option<AuthKey>,
    previous_key: Option<AuthKey>,
    promise_len: Option<u64>,
    /// The lease's length (quorum mode), nanoseconds.
    lease: u64,
    /// The newest datagram taken from its outputs (its header's stamp), and where each copy
    /// of it went: (path, destination).
    copied: Option<(u64, u64)>,
    copies: Vec<(usize, SocketAddr)>,
    /// The status is to be recorded at the next instant the node has read everything.
    due: bool,
    /// When (true time) it is due again anyway.
    next: u64,
}

impl Ledger {
    /// The ledger of node `me` of `nodes`.
    pub fn new(config: &Config, me: usize, nodes: usize) -> Ledger {
        let p = &config.protocol;
        let quorum = p.mode == failover_core::config::Mode::Quorum;
        Ledger {
            known: Known::default(),
            senders: vec![None; nodes],
            pending: Vec::new(),
            grants_heard: vec![None; nodes],
            promised: vec![None; nodes],
            promise_end: None,
            claim: Claim::new(nodes),
            paths: config.paths.len(),
            name: config.node.name.clone(),
            me,
            group: p.group,
            key: (p.auth_key.as_ref()).map(|k| AuthKey::new(k.as_bytes())),
            previous_key: (p.previous_auth_key.as_ref()).map(|k| AuthKey::new(k.as_bytes())),
            promise_len: quorum.then(|| {
                let len =
                    failover_core::node::quorum::promise_len(config.lease(), p.max_clock_drift_ppm);
                len.as_nanos() as u64
            }),
            lease: config.lease().as_nanos() as u64,
            copied: None,
            copies: Vec::new(),
            due: true,
            next: 0,
        }
    }

    /// The daemon runs `config` from now (a reload it took, or a start reading an edited
    /// file): the group and key it judges datagrams by.
    pub fn configure(&mut self, config: &Config) {
        let p = &config.protocol;
        self.group = p.group;
        self.key = (p.auth_key.as_ref()).map(|k| AuthKey::new(k.as_bytes()));
        self.previous_key = (p.previous_auth_key.as_ref()).map(|k| AuthKey::new(k.as_bytes()));
    }

    /// A new process: nothing handed to it, nothing sent, no peer heard.
    pub fn restart(&mut self) {
        let nodes = self.senders.len();
        self.known = Known::default();
        self.senders = vec![None; nodes];
        self.pending.clear();
        self.grants_heard = vec![None; nodes];
        self.promised = vec![None; nodes];
        self.promise_end = None;
        self.claim = Claim::new(nodes);
        self.due = true;
    }

    /// Genuine datagram `bytes` of `from` on `path`, its header's `stamp` read, handed over
    /// at `read` (the receiver's clock) or waiting in the socket buffers (`None`).
    #[inline]
    pub fn datagram(
        &mut self,
        from: usize,
        path: usize,
        bytes: &[u8],
        stamp: Option<(u64, u64)>,
        read: Option<u64>,
    ) {
        let Some((epoch, seq)) = stamp else {
            self.known.stale += 1;
            return;
        };
        if failover_core::wire::group_of(bytes) != Some(self.group) {
            self.known.foreign += 1;
            return;
        }
        if !self.authentic(bytes) {
            self.known.unauthenticated += 1;
            return;
        }
        let s = self.senders[from].get_or_insert(Sender::new(epoch));
        if epoch < s.epoch || (epoch == s.epoch && s.seqs[path].is_some_and(|l| seq <= l)) {
            self.known.stale += 1;
            return;
        }
        if epoch > s.epoch {
            *s = Sender::new(epoch);
        }
        s.seqs[path] = Some(seq);
        if seq >= s.newest {
            s.newest = seq;
            s.left = bytes.get(3) == Some(&KIND_GOODBYE);
            s.role = wire::role_of(bytes);
            s.standby = standby_mark(bytes);
        }
        self.known.fresh += 1;
        let grant = match self.promise_len {
            Some(_) => self
                .grant(bytes)
                .filter(|g| g.0 == self.name)
                .map(|g| (g.1, g.2)),
            None => None,
        };
        match read {
            Some(at) => self.read(from, epoch, path, grant, at),
            None => self.pending.push((from, epoch, path, grant)),
        }
    }

    /// A fresh datagram of `from`'s boot `epoch` on `path` is read at `at`: heard there,
    /// unless a newer boot of `from` came after it (its paths start afresh).
    fn read(&mut self, from: usize, epoch: u64, path: usize, grant: Option<Granted>, at: u64) {
        if let Some(s) = self.senders[from].as_mut().filter(|s| s.epoch == epoch) {
            s.heard[path] = Some(at);
        }
        if let Some((epoch, seq)) = grant {
            self.grants_heard[from] = Some(at);
            self.claim.granted(from, epoch, seq, at);
        }
    }

    /// Everything waiting in the socket buffers is read at `at`.
    #[inline]
    pub fn handed(&mut self, at: u64) {
        if !self.pending.is_empty() {
            self.read_pending(at);
        }
    }

    /// (out of line: most inputs find nothing waiting)
    fn read_pending(&mut self, at: u64) {
        let mut pending = std::mem::take(&mut self.pending);
        for &(from, epoch, path, grant) in &pending {
            self.read(from, epoch, path, grant, at);
        }
        pending.clear();
        self.pending = pending;
    }

    /// An attacker's datagram was handed over.
    pub fn tampered(&mut self) {
        self.known.tampered += 1;
    }

    /// A datagram taken from the node's outputs at `now` (its clock, asked only in quorum
    /// mode), for path `to.0`'s socket to send to `to.1`.
    pub fn sent(
        &mut self,
        bytes: &[u8],
        to: (usize, SocketAddr),
        now: impl FnOnce() -> u64,
        names: &[String],
    ) {
        self.known.sent += 1;
        // One datagram goes to each destination once: its copies leave one after another.
        let stamp = wire::stamp_of(bytes);
        let first = self.copied != stamp;
        if first {
            self.copied = stamp;
            self.copies.clear();
        } else if self.copies.contains(&to) {
            self.known.resent += 1;
        }
        self.copies.push(to);
        let Some(len) = self.promise_len else {
            return;
        };
        if bytes.get(3) == Some(&KIND_HEARTBEAT) {
            // (one heartbeat goes to every destination: one request)
            let claims = first && wire::role_of(bytes).is_some_and(|r| r.claims_ownership());
            if let Some((epoch, seq)) = stamp.filter(|_| claims) {
                let now = now();
                // Its own vote goes with it, unless promised to another node then.
                let free = (self.promised.iter().enumerate())
                    .all(|(c, until)| c == self.me || until.is_none_or(|u| u <= now));
                self.claim.asked(epoch, seq, now, free);
            }
            return;
        }
        let Some((candidate, ..)) = self.grant(bytes) else {
            return;
        };
        let now = now();
        if let Some(c) = names.iter().position(|n| n == candidate) {
            self.promised[c] = Some(now + len);
            self.promise_end = Some(now + len);
        }
    }

    /// The node no longer claims the addresses: its requests and their grants are forgotten.
    pub fn claim_ended(&mut self) {
        self.claim = Claim::new(self.senders.len());
    }

    /// The grants of the node's claim, at `local` (its clock).
    fn grants(&self, names: &[String], local: u64) -> GrantsSeen {
        GrantsSeen {
            local,
            lease: self.lease,
            voters: (names.iter().cloned())
                .zip(self.claim.grants.iter().copied())
                .collect(),
            own: self.claim.own,
            asked: self.claim.requests.back().map(|r| r.1),
        }
    }

    /// Whether the node's key, or the previous one, signs `bytes` — or neither it nor the
    /// datagram has one (a mixed pair is refused either way). One that only the previous key
    /// signs is counted.
    fn authentic(&mut self, bytes: &[u8]) -> bool {
        let tagged = bytes.get(4).is_some_and(|flags| flags & 1 != 0);
        match (&self.key, tagged) {
            (None, tagged) => !tagged,
            (Some(_), false) => false,
            (Some(key), true) => {
                let signed = |k: &AuthKey| wire::decode_raw(bytes, Some(k)).is_ok();
                if signed(key) {
                    return true;
                }
                let previous = self.previous_key.as_ref().is_some_and(signed);
                self.known.previous_key += u64::from(previous);
                previous
            }
        }
    }

    /// Quorum mode: if `bytes` is a vote that grants the lease, the candidate, its boot
    /// epoch and the request answered.
    fn grant<'b>(&self, bytes: &'b [u8]) -> Option<(&'b str, u64, u64)> {
        if bytes.get(3) != Some(&KIND_VOTE) {
            return None;
        }
        let msg = (wire::decode(bytes, self.key.as_ref()).ok())
            .or_else(|| wire::decode(bytes, self.previous_key.as_ref()).ok())?;
        debug_assert_eq!(msg.kind, MessageKind::Vote);
        (msg.vote)
            .filter(|v| v.granted)
            .map(|v| (v.candidate, v.candidate_epoch, v.seq))
    }

    /// Something the status is to be looked at for (a role change, a fault's edge).
    pub fn mark(&mut self) {
        self.due = true;
    }

    /// Whether the status is to be recorded now (true time `now`, the node's clock `local`,
    /// read only while a promise runs).
    fn due(&mut self, now: u64, local: impl FnOnce() -> u64) -> bool {
        if self.promise_end.is_some_and(|end| local() >= end) {
            self.promise_end = None;
            self.due = true;
        }
        self.due || now >= self.next
    }

    /// What the ledger knows, with names.
    fn known(&self, names: &[String]) -> Known {
        let named = |v: &[Option<u64>]| -> Vec<(String, u64)> {
            (v.iter().enumerate())
                .filter_map(|(i, t)| t.map(|t| (names[i].clone(), t)))
                .collect()
        };
        Known {
            peers: (self.senders.iter().enumerate())
                .filter_map(|(i, s)| {
                    s.as_ref().map(|s| PeerKnown {
                        name: names[i].clone(),
                        epoch: s.epoch,
                        heard: s.heard[..self.paths].to_vec(),
                        left: s.left,
                        role: s.role,
                        standby: s.standby,
                    })
                })
                .collect(),
            grants_heard: named(&self.grants_heard),
            promised: named(&self.promised),
            // (the counts: the ledger's own lists stay empty, and are not copied)
            fresh: self.known.fresh,
            stale: self.known.stale,
            foreign: self.known.foreign,
            unauthenticated: self.known.unauthenticated,
            tampered: self.known.tampered,
            sent: self.known.sent,
            resent: self.known.resent,
            previous_key: self.known.previous_key,
        }
    }
}

/// Quorum mode: a claimant's requests (its heartbeats while it claims the addresses) since it
/// last began claiming, and the grants that answered them, as the protocol counts them: a
/// grant counts if it answers one of the node's newest [`REQUESTS_KEPT`] requests of this
/// boot, sent after the one the voter's counted grant answered.
#[derive(Clone, Debug)]
struct Claim {
    /// The node's boot epoch, from its own datagrams.
    epoch: Option<u64>,
    /// (sequence number, send time by its clock), oldest first.
    requests: VecDeque<(u64, u64)>,
    /// Per voter (node index): the send time of the newest request it granted, and when the
    /// grant was read.
    grants: Vec<Option<(u64, u64)>>,
    /// The newest request sent while its own vote was free (promised to no other node): its
    /// own grant, or an older one than core's (a promise may end early, at a goodbye).
    own: Option<u64>,
}

impl Claim {
    fn new(nodes: usize) -> Claim {
        Claim {
            epoch: None,
            requests: VecDeque::with_capacity(REQUESTS_KEPT),
            grants: vec![None; nodes],
            own: None,
        }
    }

    /// Request `seq` of boot `epoch` went out at `at`, its own vote `free` or not.
    fn asked(&mut self, epoch: u64, seq: u64, at: u64, free: bool) {
        self.epoch = Some(epoch);
        if self.requests.len() == REQUESTS_KEPT {
            self.requests.pop_front();
        }
        self.requests.push_back((seq, at));
        if free {
            self.own = Some(at);
        }
    }

    /// `voter`'s grant of request `seq` of the node's boot `epoch` was read at `at`.
    fn granted(&mut self, voter: usize, epoch: u64, seq: u64, at: u64) {
        if self.epoch != Some(epoch) {
            return;
        }
        let Some(&(_, sent)) = self.requests.iter().find(|r| r.0 == seq) else {
            return;
        };
        if self.grants[voter].is_none_or(|(g, _)| sent > g) {
            self.grants[voter] = Some((sent, at));
        }
    }
}

impl World<'_> {
    /// Records the grants of node `i`'s claim as they stand now.
    pub(super) fn record_grants(&mut self, i: usize) {
        let local = self.local(i).as_nanos();
        let seen = Box::new(self.hosts[i].ledger.grants(&self.names, local));
        self.observe(Observation::Grants { node: i, seen });
    }

    /// Records node `i`'s status beside the ledger, if it is due and the node has read
    /// everything it was handed.
    pub(super) fn status_if_due(&mut self, i: usize) {
        let now = self.now;
        let host = &mut self.hosts[i];
        let clock = host.clock;
        if !host.runs() || !host.inbox.is_empty() || !host.ledger.due(now, || clock.local(now)) {
            return;
        }
        host.ledger.due = false;
        host.ledger.next = now + EVERY;
        self.record_status(i);
    }

    /// Records node `i`'s status beside the ledger (out of line: the check above runs after
    /// every input, this a few times a run).
    #[inline(never)]
    fn record_status(&mut self, i: usize) {
        let local = self.local(i);
        let host = &self.hosts[i];
        let node = host.node.as_ref().expect("a running daemon");
        let status = node.status(local);
        let said = Said {
            role: status.role,
            counters: status.counters,
            peers: (status.peers.into_iter())
                .map(|p| PeerSaid {
                    name: p.name,
                    epoch: p.epoch,
                    alive: p.alive,
                    last_heard_ms: p.last_heard_ms,
                    role: p.role,
                    standby: p.standby,
                })
                .collect(),
            quorum: status.quorum.map(|q| QuorumSaid {
                lease_left_ms: q.lease_left_ms,
                granted_ms_ago: (q.voters.into_iter())
                    .map(|v| (v.name, v.granted_ms_ago))
                    .collect(),
                promised_to: q.promised_to,
            }),
        };
        let known = host.ledger.known(&self.names);
        let seen = Box::new(StatusSeen {
            local: local.as_nanos(),
            said,
            known,
        });
        self.observe(Observation::Status { node: i, seen });
    }

    /// Every node's status is to be looked at (a fault begins or ends).
    pub(super) fn mark_all(&mut self) {
        for h in &mut self.hosts {
            h.ledger.mark();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use failover_core::wire::{encode, Marks, Message};
    use failover_core::Role;

    fn heartbeat(marks: Marks, successor: Option<&str>) -> Vec<u8> {
        let msg = Message {
            group: 1,
            kind: MessageKind::Heartbeat,
            role: Role::Backup,
            priority: 0,
            epoch: 1,
            seq: 7,
            sender: "backup",
            successor,
            quorum: false,
            vote: None,
            marks,
        };
        encode(&msg, Some(&AuthKey::new(b"a key")))
    }

    #[test]
    fn the_standby_mark_is_read_from_the_fields_as_documented() {
        let standby = Marks {
            standby: true,
            ..Marks::default()
        };
        let roll_call = Marks {
            roll_call: true,
            ..Marks::default()
        };
        assert!(standby_mark(&heartbeat(standby, None)));
        assert!(standby_mark(&heartbeat(standby, Some("master"))));
        assert!(!standby_mark(&heartbeat(roll_call, Some("master"))));
        assert!(!standby_mark(&heartbeat(Marks::default(), None)));
        assert!(!standby_mark(&heartbeat(Marks::default(), Some("master"))));
    }
}
