//! What a node knows about its peers: liveness per path, boot epoch, replay windows.

use crate::role::Role;
use crate::time::Instant;
use crate::wire::{Marks, Message, MessageKind};
use serde::Serialize;
use std::cmp::Reverse;
use std::net::SocketAddr;
use std::time::Duration;

/// A node's place in the election order: higher priority first, then the smaller name, so
/// every node ranks the group identically without talking about it.
pub(crate) type Rank<'a> = (u8, Reverse<&'a str>);

pub(crate) fn rank(priority: u8, name: &str) -> Rank<'_> {
    (priority, Reverse(name))
}

/// One peer as seen from this node.
#[derive(Debug)]
pub(crate) struct Peer {
    pub name: String,
    pub epoch: u64,
    /// When the peer last came alive (its epoch first heard, or heard again after it was
    /// dead): a path's silence counts from then at the earliest, so the paths of a peer whose
    /// every link just came back are not reported as anomalies one by one.
    pub since: Instant,
    pub priority: u8,
    pub role: Role,
    /// Highest sequence number whose role/priority we applied (messages on different paths may
    /// arrive out of order; only the newest state counts).
    pub state_seq: u64,
    /// Said goodbye in the current epoch.
    pub left: bool,
    /// What an operator's commands added to its newest message: in standby, holding by a
    /// switchover, calling the roll.
    pub marks: Marks,
    /// The newest roll call of this peer answered (a sequence number), so one announcement
    /// arriving on several paths is answered once.
    pub roll_answered: u64,
    /// Liveness last reported (so PeerUp/PeerDown fire on transitions only).
    pub alive: bool,
    /// The datagram the peer's current state came from (unauthenticated groups only): its
    /// routine heartbeats repeat it but for the sequence number.
    pub last: Vec<u8>,
    pub paths: Vec<PeerPath>,
    /// A lower-ranked peer claiming what this node owns: since when (it should have heard
    /// this node and yielded long before `dead_after` is up), and whether that was notified.
    pub rival: Option<Rival>,
}

/// A lower-ranked peer seen claiming the addresses while this node owns them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rival {
    pub since: Instant,
    pub notified: bool,
}

/// A peer's heartbeats on one path.
#[derive(Debug, Default, Clone)]
pub(crate) struct PeerPath {
    /// Newest sequence number accepted on this path: anything not newer is a replay or duplicate.
    pub last_seq: Option<u64>,
    pub last_heard: Option<Instant>,
    /// The heartbeat before that: a path that carried two heartbeats since another fell
    /// silent was up while it was silent, not just the first to speak after a pause.
    pub previous: Option<Instant>,
    /// Where the peer's heartbeats come from on this path; we answer there too.
    pub source: Option<SocketAddr>,
    /// A network anomaly on this path has been notified and not yet its recovery.
    pub anomaly: bool,
}

/// How a received message relates to what we knew.
pub(crate) enum Accept {
    /// The first message of this peer's boot epoch.
    NewEpoch,
    /// A newer message of a known epoch that changed the peer's role, priority or presence.
    Fresh,
    /// A newer message of a known epoch that only says "still here": the common heartbeat.
    Routine,
    /// Old epoch, duplicate or reordered: drop it.
    Replay,
}

impl Peer {
    /// The record for a peer heard for the first time (or in a new boot epoch).
    pub fn new<S>(name: String, msg: &Message<S>, paths: usize, now: Instant) -> Peer {
        Peer {
            name,
            epoch: msg.epoch,
            since: now,
            priority: msg.priority,
            role: msg.role,
            state_seq: 0,
            left: false,
            marks: msg.marks,
            roll_answered: 0,
            alive: false,
            last: Vec::new(),
            paths: vec![PeerPath::default(); paths],
            rival: None,
        }
    }

    /// Applies a message received on `path` at `now`, unless it is stale.
    pub fn accept<S>(
        &mut self,
        msg: &Message<S>,
        path: usize,
        from: SocketAddr,
        now: Instant,
        new_record: bool,
    ) -> Accept {
        let verdict = if msg.epoch < self.epoch {
            return Accept::Replay;
        } else if msg.epoch > self.epoch || new_record {
            let paths = self.paths.len();
            let anomalies: Vec<bool> = self.paths.iter().map(|p| p.anomaly).collect();
            let name = std::mem::take(&mut self.name);
            let last = std::mem::take(&mut self.last);
            *self = Peer::new(name, msg, paths, now);
            self.last = last;
            // A restart does not heal a cut path: keep what was notified.
            for (p, anomaly) in self.paths.iter_mut().zip(anomalies) {
                p.anomaly = anomaly;
            }
            Accept::NewEpoch
        } else if self.paths[path]
            .last_seq
            .is_some_and(|last| msg.seq <= last)
        {
            return Accept::Replay;
        } else {
            Accept::Fresh
        };
        let p = &mut self.paths[path];
        p.last_seq = Some(msg.seq);
        p.previous = p.last_heard.replace(now);
        p.source = Some(from);
        let left = msg.kind == MessageKind::Goodbye;
        if msg.seq >= self.state_seq {
            self.state_seq = msg.seq;
            let unchanged = (self.priority, self.role, self.left, self.marks)
                == (msg.priority, msg.role, left, msg.marks);
            self.priority = msg.priority;
            self.role = msg.role;
            self.left = left;
            self.marks = msg.marks;
            if unchanged
                && matches!(verdict, Accept::Fresh)
                && self.alive
                && !self.paths[path].anomaly
            {
                return Accept::Routine;
            }
        }
        verdict
    }

    /// Takes a datagram that repeats [`Peer::last`] but for a newer sequence number, on a
    /// path that is up, from the address that path knows: what [`Peer::accept`] would call
    /// routine, without decoding it. False when the datagram needs the full treatment.
    pub fn accept_repeat(
        &mut self,
        bytes: &[u8],
        path: usize,
        from: SocketAddr,
        now: Instant,
    ) -> bool {
        let Some(seq) = crate::wire::repeat_of(&self.last, bytes) else {
            return false;
        };
        let p = &mut self.paths[path];
        if !self.alive
            || p.anomaly
            || p.source != Some(from)
            || seq < self.state_seq
            || p.last_seq.is_none_or(|last| seq <= last)
        {
            return false;
        }
        p.last_seq = Some(seq);
        p.previous = p.last_heard.replace(now);
        self.state_seq = seq;
        true
    }

    /// This peer's place in the election order.
    pub fn rank(&self) -> Rank<'_> {
        rank(self.priority, &self.name)
    }

    /// Whether heartbeats arrived on `path` within `dead_after` of `now`.
    pub fn path_up(&self, path: usize, now: Instant, dead_after: Duration) -> bool {
        self.paths[path]
            .last_heard
            .is_some_and(|t| t + dead_after > now)
    }

    /// Whether the peer was heard on some path at or after `since` (it answered a roll call
    /// that began then), in its current boot epoch and without saying goodbye.
    pub fn heard_since(&self, since: Instant) -> bool {
        !self.left && (self.paths.iter()).any(|p| p.last_heard.is_some_and(|t| t >= since))
    }

    /// Whether the addresses may be handed to this peer: a backup that is neither a witness
    /// nor in standby (both announce priority 0).
    pub fn eligible(&self) -> bool {
        self.role == Role::Backup && self.priority > 0 && !self.marks.standby && !self.left
    }

    /// Whether the peer counts as alive: not gone, and heard on some path recently.
    pub fn is_alive(&self, now: Instant, dead_after: Duration) -> bool {
        !self.left && (0..self.paths.len()).any(|i| self.path_up(i, now, dead_after))
    }

    /// Whether `path` is silent while another path kept carrying heartbeats well after it went
    /// quiet — a cut link, not a dead peer. A crashed peer's paths fall silent together (within
    /// one interval), so a crash never looks like an anomaly; and a peer that was silent on
    /// every path (a passive backup) and speaks again is heard on its paths one after the
    /// other, so the other path must have carried two heartbeats since this one went quiet.
    pub fn path_anomalous(
        &self,
        path: usize,
        now: Instant,
        dead_after: Duration,
        interval: Duration,
    ) -> bool {
        let silent_since = self.paths[path]
            .last_heard
            .map_or(self.since, |t| t.max(self.since));
        if silent_since + dead_after > now {
            return false;
        }
        self.paths.iter().enumerate().any(|(i, other)| {
            i != path
                && other
                    .last_heard
                    .is_some_and(|t| t > silent_since + interval)
                && other.previous.is_some_and(|t| t > silent_since)
        })
    }

    /// The earliest instant after `since` at which a path of this peer expires.
    pub fn next_expiry(&self, since: Instant, dead_after: Duration) -> Option<Instant> {
        self.paths
            .iter()
            .filter_map(|p| p.last_heard.map(|t| t + dead_after))
            .filter(|&t| t > since)
            .min()
    }
}

/// Every peer ever heard, in name order (so iteration is deterministic), found by the name's
/// bytes as they arrive on the wire. Groups are small: a scan beats any map here.
#[derive(Debug, Default)]
pub(crate) struct Peers(Vec<Peer>);

impl Peers {
    /// The index of the peer whose name is `name`.
    pub fn find(&self, name: &[u8]) -> Option<usize> {
        self.0.iter().position(|p| p.name.as_bytes() == name)
    }

    /// Adds a peer not yet known, keeping name order; returns its index.
    pub fn insert(&mut self, peer: Peer) -> usize {
        let at = self.0.partition_point(|p| p.name < peer.name);
        self.0.insert(at, peer);
        at
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Peer> {
        self.0.iter()
    }

    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, Peer> {
        self.0.iter_mut()
    }

    pub fn get_mut(&mut self, i: usize) -> &mut Peer {
        &mut self.0[i]
    }
}

/// A peer as shown by `failoverctl status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PeerStatus {
    /// Peer name.
    pub name: String,
    /// Its boot epoch.
    pub epoch: u64,
    /// Its priority.
    pub priority: u8,
    /// Its last announced role.
    pub role: Role,
    /// Whether it counts as alive.
    pub alive: bool,
    /// Whether it says it is in standby (it never takes the addresses).
    pub standby: bool,
    /// Per path (in config order): milliseconds since its last heartbeat there, if ever heard.
    pub last_heard_ms: Vec<Option<u64>>,
}
