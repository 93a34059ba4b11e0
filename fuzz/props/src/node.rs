//! `node_datagrams`: a real node fed arbitrary datagrams between genuine ones.
//!
//! The fuzzer's bytes are read as a script: whether the group has a key and runs in classic
//! or quorum mode, then [`Step`]s — arbitrary datagrams on any path from any source, genuine
//! heartbeats, goodbyes and (in quorum mode) votes of two peers (made by the real encoder,
//! tagged with the group's key), those same datagrams corrupted or replayed, the node's own
//! datagrams echoed back, time passing (the timer fired at every instant it asks for), answers
//! to the hooks and address changes it asks for, and operator commands. Datagrams arrive one
//! by one or several in one wake-up, through the [`Inbox`] every driver uses.
//!
//! Two nodes built alike run the script: the *subject* is given every step, its *twin* every
//! step but the datagrams that do not authenticate — those `wire::decode_raw` refuses with
//! the group's key setting, malformed ones included. After every step:
//!
//! - nothing panicked;
//! - a refused datagram given to the subject alone changed nothing a driver or an operator
//!   sees: role, status (peers, what it holds) and timer as before, and one output, its drop
//!   event;
//! - subject and twin put out the same outputs but those drop events, and have the same role,
//!   status and timer: what was refused changed nothing later either;
//! - the subject's counters are the twin's plus one malformed or unauthenticated drop per
//!   refused datagram, as the decoder classes it, and every datagram a running node is given is
//!   counted exactly once;
//! - a timer that fired asks for the next one later, so a driver never spins.

use arbitrary::{Arbitrary, Unstructured};
use failover_core::config::Mode;
use failover_core::node::Status;
use failover_core::wire::{self, AuthKey, Message, MessageKind, Vote};
use failover_core::{
    Command, Config, Counters, DropReason, Event, HookOutcome, Inbox, Instant, Node, Output,
    PathId, Request, RequestId, Role,
};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The group's key when the script asks for one.
pub const KEY: &str = "node fuzzing key, sixteen bytes or more";

/// The node under test: `bravo`, between `alpha` (above it) and `charlie` (below).
const CONFIG: &str = r#"
[node]
name = "bravo"
priority = 150

[protocol]
interval = "1s"

[[path]]
name = "public"
local = "192.0.2.10:1694"
peers = ["192.0.2.11:1694", "192.0.2.12:1694"]

[[path]]
name = "direct"
local = "198.51.100.10:1694"
peers = ["198.51.100.11:1694", "198.51.100.12:1694"]

[[vip]]
address = "192.0.2.100"
interface = "eth0"
"#;

/// The node's peers, as they name themselves.
const PEERS: [&str; 2] = ["alpha", "charlie"];

/// The node's boot epoch: votes for it name it.
const EPOCH: u64 = 7;

/// How many of the node's latest requests (heartbeats) a peer's vote may answer: more than
/// the node remembers, so some answers come too late.
const REQUESTS_ANSWERED: usize = 24;

/// Runs the script in `data`; panics when a property does not hold.
pub fn check(data: &[u8]) {
    let mut input = Unstructured::new(data);
    // The first byte: bit 0 gives the group a key, bit 1 runs it in quorum mode.
    let Ok(setup) = u8::arbitrary(&mut input) else {
        return;
    };
    let (keyed, quorum) = (setup & 1 != 0, setup & 2 != 0);
    // To read a reproducer: FUZZ_TRACE=1 prints the script as it runs.
    let trace = std::env::var_os("FUZZ_TRACE").is_some();
    if trace {
        eprintln!("keyed: {keyed}, quorum: {quorum}");
    }
    let mut run = Run::new(keyed, quorum);
    while !input.is_empty() {
        let Ok(step) = Step::arbitrary(&mut input) else {
            break;
        };
        if trace {
            eprintln!("at {}: {step:?}", run.now);
        }
        run.step(step);
    }
}

/// One thing that happens to the node.
#[derive(Arbitrary, Debug)]
enum Step {
    /// One datagram, alone in its wake-up.
    Datagram(Datagram),
    /// Several datagrams waiting in the sockets at one wake-up.
    Burst(Vec<Datagram>),
    /// The node's own last datagram comes back to it (a broadcast address, a loop).
    Echo,
    /// Time passes, in tenths of a second (up to 25.5 s: past `dead_after` and most
    /// back-offs); the timer fires at every instant the node asks for on the way.
    Wait { tenths: u8 },
    /// The oldest request the node waits on is answered.
    Answer { ok: bool },
    /// An operator's planned shutdown.
    Shutdown,
    /// An operator's reload (heartbeat now).
    Reannounce,
    /// An operator's standby (0), active (1) or switchover (2 and up: to nobody named, the
    /// other peer, the node itself or a stranger).
    Operator { request: u8 },
}

/// A datagram as it reaches the node.
#[derive(Arbitrary, Debug)]
enum Datagram {
    /// Any bytes, on any path, from any source.
    Garbage {
        path: u8,
        source: u8,
        bytes: Vec<u8>,
    },
    /// A peer's genuine heartbeat, as the peer would send it next.
    Genuine(Heartbeat),
    /// A genuine heartbeat changed on the way (and not sent by the peer: its sequence stays).
    Corrupt {
        heartbeat: Heartbeat,
        edits: Vec<Edit>,
    },
    /// A genuine datagram delivered earlier, again.
    Replay { index: u8 },
}

/// A peer's next message.
#[derive(Arbitrary, Debug)]
struct Heartbeat {
    /// `alpha` or `charlie`.
    charlie: bool,
    /// Public, direct, or a path the node does not have.
    path: u8,
    source: u8,
    role: u8,
    priority: u8,
    goodbye: bool,
    /// In a goodbye: the node, the other peer, or a stranger.
    successor: Option<u8>,
    /// A vote (in place of a heartbeat or goodbye).
    vote: Option<VoteOn>,
    /// 2: another group's message; 3: one sent in the other mode; else the group's own.
    foreign: u8,
    /// 0: the same sequence number again (another datagram of the same round); else added.
    next: u8,
    /// A new boot epoch.
    restart: bool,
    /// An operator's marks: roll call, standby, switchover (one bit each).
    marks: u8,
}

/// A peer's answer to one of the node's requests (its heartbeats while it claims).
#[derive(Arbitrary, Debug)]
struct VoteOn {
    /// Which of the node's latest heartbeats it answers, newest first (past the last: a
    /// sequence number the node never sent).
    answers: u8,
    granted: bool,
    /// In a refusal: the promise's holder — the node, the other peer, or a stranger.
    holder: Option<u8>,
    /// Answers an earlier run of the node.
    stale_epoch: bool,
    /// Answers another candidate.
    other_candidate: bool,
}

/// A change to a datagram on the way.
#[derive(Arbitrary, Debug)]
enum Edit {
    Truncate(u8),
    Flip { at: u8, mask: u8 },
    Set { at: u8, byte: u8 },
    Extend(Vec<u8>),
}

/// A peer as the script plays it.
#[derive(Clone, Copy, Debug)]
struct PeerState {
    epoch: u64,
    seq: u64,
}

/// A request the node waits on.
#[derive(Clone, Copy, Debug)]
enum Pending {
    Hook(RequestId),
    Address(RequestId),
}

/// One of the two nodes and what its driver keeps.
struct Driven {
    node: Node,
    inbox: Inbox<Vec<u8>>,
    pending: VecDeque<Pending>,
    /// What the node put out since the last comparison.
    outputs: Vec<Output>,
    /// Its last datagram and the path it went on.
    last_sent: Option<(PathId, Arc<[u8]>)>,
    /// The sequence numbers of its latest heartbeats, newest first: what votes answer.
    requests: VecDeque<u64>,
    key: Option<AuthKey>,
}

impl Driven {
    fn new(config: Config, key: Option<AuthKey>) -> Driven {
        let paths = config.paths.len();
        let node =
            Node::new(config, EPOCH, Instant::ZERO).expect("the fuzzed node's config is valid");
        let mut driven = Driven {
            node,
            inbox: Inbox::new(paths, usize::MAX),
            pending: VecDeque::new(),
            outputs: Vec::new(),
            last_sent: None,
            requests: VecDeque::new(),
            key,
        };
        driven.drain();
        driven
    }

    /// Takes every output, as a driver does after every input.
    fn drain(&mut self) {
        while let Some(out) = self.node.poll_output() {
            match &out {
                Output::RunHook(req) => self.pending.push_back(Pending::Hook(req.id)),
                Output::Acquire { id, .. } | Output::Release { id, .. } => {
                    self.pending.push_back(Pending::Address(*id))
                }
                Output::Transmit(t) => {
                    let msg = wire::decode(&t.payload, self.key.as_ref())
                        .expect("the node's own datagram decodes");
                    let repeat = self.requests.front() == Some(&msg.seq);
                    if msg.kind == MessageKind::Heartbeat && !repeat {
                        self.requests.truncate(REQUESTS_ANSWERED - 1);
                        self.requests.push_front(msg.seq);
                    }
                    self.last_sent = Some((t.path, t.payload.clone()));
                }
                _ => {}
            }
            self.outputs.push(out);
        }
    }

    /// Hands over what the inbox holds at `now`, by the input rule.
    fn deliver(&mut self, now: Instant) {
        self.inbox.deliver(&mut self.node, now);
        self.drain();
    }

    /// Every datagram counted: accepted or dropped for any reason.
    fn counted(&self) -> u64 {
        let c = self.node.counters();
        c.received + c.malformed + c.unauthenticated + c.replayed + c.foreign
    }
}

/// A refused datagram: how the decoder classes it.
fn refusal(bytes: &[u8], key: Option<&AuthKey>) -> Option<DropReason> {
    match wire::decode_raw(bytes, key) {
        Ok(_) => None,
        Err(e) if e.is_auth_failure() => Some(DropReason::Unauthenticated),
        Err(_) => Some(DropReason::Malformed),
    }
}

/// A datagram ready to deliver.
struct Ready {
    path: PathId,
    from: SocketAddr,
    bytes: Vec<u8>,
    refused: Option<DropReason>,
}

struct Run {
    key: Option<AuthKey>,
    quorum: bool,
    subject: Driven,
    twin: Driven,
    now: Instant,
    peers: [PeerState; 2],
    /// Genuine datagrams delivered so far, for replays.
    delivered: Vec<(PathId, SocketAddr, Vec<u8>)>,
    /// Refused datagrams given to the subject alone, by how they were refused.
    refused: Counters,
    /// The last operator request's id.
    operator_ids: u64,
}

impl Run {
    fn new(keyed: bool, quorum: bool) -> Run {
        // Read once: a fuzzer runs this hundreds of thousands of times a minute.
        static CONFIG_READ: OnceLock<Config> = OnceLock::new();
        let mut config = CONFIG_READ
            .get_or_init(|| {
                Config::from_toml_str(CONFIG, "node_datagrams").expect("a valid config")
            })
            .clone();
        if keyed {
            config.protocol.auth_key = Some(KEY.to_string());
        }
        if quorum {
            config.protocol.mode = Mode::Quorum;
            config.protocol.voters = ["alpha", "bravo", "charlie"].map(String::from).to_vec();
        }
        let key = keyed.then(|| AuthKey::new(KEY.as_bytes()));
        let mut run = Run {
            key: key.clone(),
            quorum,
            subject: Driven::new(config.clone(), key.clone()),
            twin: Driven::new(config, key),
            now: Instant::ZERO,
            peers: [PeerState { epoch: 1, seq: 0 }; 2],
            delivered: Vec::new(),
            refused: Counters::default(),
            operator_ids: 0,
        };
        run.compare();
        run
    }

    fn step(&mut self, step: Step) {
        match step {
            Step::Datagram(d) => {
                let ready = self.ready(d);
                match ready.refused {
                    Some(reason) => self.refuse_alone(ready, reason),
                    None => self.deliver(vec![ready]),
                }
            }
            Step::Burst(ds) => {
                let ready = ds.into_iter().map(|d| self.ready(d)).collect();
                self.deliver(ready);
            }
            Step::Echo => {
                if let Some((path, bytes)) = self.subject.last_sent.clone() {
                    let from = self.subject.node.config().paths[path.0]
                        .local
                        .expect("configured");
                    let refused = refusal(&bytes, self.key.as_ref());
                    self.deliver(vec![Ready {
                        path,
                        from,
                        bytes: bytes.to_vec(),
                        refused,
                    }]);
                }
            }
            Step::Wait { tenths } => self.wait(Duration::from_millis(100 * u64::from(tenths))),
            Step::Answer { ok } => {
                if let Some(pending) = self.subject.pending.front().copied() {
                    let command = match pending {
                        Pending::Hook(id) => Command::HookFinished {
                            id,
                            outcome: if ok {
                                HookOutcome::Success
                            } else {
                                HookOutcome::Failed(Some(1))
                            },
                        },
                        Pending::Address(id) => Command::AddressChanged {
                            id,
                            result: if ok {
                                Ok(())
                            } else {
                                Err("refused by the fuzzer".into())
                            },
                        },
                    };
                    self.command(command);
                }
            }
            Step::Shutdown => self.command(Command::Shutdown),
            Step::Reannounce => self.command(Command::Reannounce),
            Step::Operator { request } => {
                self.operator_ids += 1;
                let request = match request {
                    0 => Request::Standby,
                    1 => Request::Active,
                    n => Request::Switchover {
                        to: match n % 4 {
                            0 => None,
                            1 => Some(PEERS[0].to_string()),
                            2 => Some("bravo".to_string()),
                            _ => Some("zulu".to_string()),
                        },
                    },
                };
                self.command(Command::Operator {
                    id: self.operator_ids,
                    request,
                })
            }
        }
        self.compare();
    }

    /// The bytes of a datagram, where it comes from, and whether the node must refuse it.
    fn ready(&mut self, d: Datagram) -> Ready {
        let (path, from, bytes) = match d {
            Datagram::Garbage {
                path,
                source,
                bytes,
            } => {
                let path = PathId(path.into());
                (path, source_address(path, source, 0), bytes)
            }
            Datagram::Genuine(h) => self.heartbeat(&h, true),
            Datagram::Corrupt { heartbeat, edits } => {
                let (path, from, mut bytes) = self.heartbeat(&heartbeat, false);
                for edit in edits {
                    apply(edit, &mut bytes);
                }
                (path, from, bytes)
            }
            Datagram::Replay { index } => match self.delivered.len() {
                0 => (PathId(0), source_address(PathId(0), 0, 0), Vec::new()),
                n => self.delivered[usize::from(index) % n].clone(),
            },
        };
        let refused = refusal(&bytes, self.key.as_ref());
        if refused.is_none() {
            self.delivered.push((path, from, bytes.clone()));
        }
        Ready {
            path,
            from,
            bytes,
            refused,
        }
    }

    /// A peer's next datagram; `send` moves the peer on (a corrupted copy leaves it).
    fn heartbeat(&mut self, h: &Heartbeat, send: bool) -> (PathId, SocketAddr, Vec<u8>) {
        let peer = usize::from(h.charlie);
        let mut state = self.peers[peer];
        if h.restart {
            state.epoch += 1;
        }
        state.seq += u64::from(h.next);
        if send {
            self.peers[peer] = state;
        }
        let someone = |s: u8| match s % 3 {
            0 => "bravo",
            1 => PEERS[1 - peer],
            _ => "zulu",
        };
        let requests = &self.subject.requests;
        let vote = h.vote.as_ref().map(|v| Vote {
            candidate: if v.other_candidate { "zulu" } else { "bravo" },
            candidate_epoch: if v.stale_epoch { EPOCH - 1 } else { EPOCH },
            seq: match requests.get(usize::from(v.answers)) {
                Some(&seq) => seq,
                None => requests.front().map_or(1, |newest| newest + 1),
            },
            granted: v.granted,
            holder: v.holder.filter(|_| !v.granted).map(someone),
        });
        let msg = Message {
            group: if h.foreign % 4 == 2 { 2 } else { 1 },
            kind: match (&vote, h.goodbye) {
                (Some(_), _) => MessageKind::Vote,
                (None, true) => MessageKind::Goodbye,
                (None, false) => MessageKind::Heartbeat,
            },
            role: Role::from_code(h.role % 5).expect("codes 0 to 4 are roles"),
            priority: h.priority,
            epoch: state.epoch,
            seq: state.seq,
            sender: PEERS[peer],
            successor: h.successor.map(someone).filter(|_| h.goodbye),
            quorum: self.quorum != (h.foreign % 4 == 3),
            vote,
            marks: crate::wire::marks(h.marks),
        };
        let path = PathId(usize::from(h.path % 3));
        let from = source_address(path, h.source, peer);
        (path, from, wire::encode(&msg, self.key.as_ref()))
    }

    /// A refused datagram, given to the subject alone, straight to the node's input: it must
    /// change nothing but its drop counter, and put out its drop event alone.
    fn refuse_alone(&mut self, d: Ready, reason: DropReason) {
        let s = &mut self.subject;
        let before = (
            s.node.role(),
            status(&s.node, self.now),
            s.node.poll_timeout(),
        );
        let counted = s.counted();
        s.node.handle_datagram(self.now, d.path, d.from, &d.bytes);
        let outputs = std::iter::from_fn(|| s.node.poll_output()).collect::<Vec<_>>();
        let after = (
            s.node.role(),
            status(&s.node, self.now),
            s.node.poll_timeout(),
        );
        assert_eq!(
            before, after,
            "a datagram refused as {reason:?} changed the node: {:?}",
            d.bytes
        );
        if before.0 == Role::Stopped {
            assert!(outputs.is_empty(), "a stopped node put out {outputs:?}");
            assert_eq!(s.counted(), counted, "a stopped node counted a datagram");
            return;
        }
        assert_eq!(
            outputs,
            [Output::Event(Event::Dropped { reason })],
            "a datagram refused as {reason:?}: {:?}",
            d.bytes
        );
        assert_eq!(s.counted(), counted + 1);
        match reason {
            DropReason::Malformed => self.refused.malformed += 1,
            _ => self.refused.unauthenticated += 1,
        }
    }

    /// Datagrams waiting together: the subject gets them all, the twin the genuine ones.
    /// Every one is counted, unless a genuine one ends a planned shutdown (the node stops,
    /// and a stopped node reads nothing): then those before it are.
    fn deliver(&mut self, datagrams: Vec<Ready>) {
        let running = self.subject.node.role() != Role::Stopped;
        let before = (self.subject.node.counters(), self.twin.node.counters());
        let counted = self.subject.counted();
        let n = datagrams.len() as u64;
        let mut refused = Counters::default();
        for d in datagrams {
            match d.refused {
                None => {
                    (self.twin.inbox).datagram(d.path, d.from, d.bytes.clone());
                }
                Some(DropReason::Malformed) => refused.malformed += 1,
                Some(_) => refused.unauthenticated += 1,
            }
            self.subject.inbox.datagram(d.path, d.from, d.bytes);
        }
        let now = self.now;
        self.subject.deliver(now);
        self.twin.deliver(now);
        if !running {
            assert_eq!(
                self.subject.counted(),
                counted,
                "a stopped node counted datagrams"
            );
        } else if self.subject.node.role() != Role::Stopped {
            assert_eq!(
                self.subject.counted(),
                counted + n,
                "{n} datagrams at one wake-up, counted otherwise"
            );
            self.refused.malformed += refused.malformed;
            self.refused.unauthenticated += refused.unauthenticated;
        } else {
            // Stopped on the way: the refused ones it read are the subject's drops the twin
            // does not have, and can be no more than were sent.
            assert!(self.subject.counted() <= counted + n);
            let (s, t) = (self.subject.node.counters(), self.twin.node.counters());
            let read = |s: u64, s0: u64, t: u64, t0: u64| (s - s0) - (t - t0);
            let malformed = read(
                s.malformed,
                before.0.malformed,
                t.malformed,
                before.1.malformed,
            );
            let unauthenticated = read(
                s.unauthenticated,
                before.0.unauthenticated,
                t.unauthenticated,
                before.1.unauthenticated,
            );
            assert!(malformed <= refused.malformed);
            assert!(unauthenticated <= refused.unauthenticated);
            self.refused.malformed += malformed;
            self.refused.unauthenticated += unauthenticated;
        }
    }

    fn command(&mut self, command: Command) {
        let now = self.now;
        for d in [&mut self.subject, &mut self.twin] {
            if let Command::HookFinished { .. } | Command::AddressChanged { .. } = command {
                d.pending.pop_front();
            }
            d.inbox.command(command.clone());
            d.deliver(now);
        }
    }

    /// Time passes until `now + by`; the timer fires at each instant the node asks for.
    fn wait(&mut self, by: Duration) {
        let until = self.now + by;
        while let Some(due) = self.subject.node.poll_timeout().filter(|&t| t <= until) {
            self.now = self.now.max(due);
            let now = self.now;
            self.subject.deliver(now);
            self.twin.deliver(now);
            if let Some(next) = self.subject.node.poll_timeout() {
                assert!(
                    next > now,
                    "after its timer fired at {now} the node asks for it again at {next}"
                );
            }
        }
        self.now = until;
    }

    /// Subject and twin have done the same thing, but for the refused datagrams' drop events,
    /// and differ in nothing but those datagrams' counters.
    fn compare(&mut self) {
        let refused_drop = |o: &Output| {
            matches!(
                o,
                Output::Event(Event::Dropped {
                    reason: DropReason::Malformed | DropReason::Unauthenticated
                })
            )
        };
        let (s, t) = (&mut self.subject, &mut self.twin);
        let ours: Vec<Output> = s.outputs.drain(..).filter(|o| !refused_drop(o)).collect();
        let theirs: Vec<Output> = t.outputs.drain(..).filter(|o| !refused_drop(o)).collect();
        assert_eq!(ours, theirs, "refused datagrams changed what the node does");
        assert_eq!(s.node.role(), t.node.role());
        assert_eq!(s.node.poll_timeout(), t.node.poll_timeout());
        assert_eq!(status(&s.node, self.now), status(&t.node, self.now));
        let (mine, twins) = (s.node.counters(), t.node.counters());
        let refused = self.refused;
        assert_eq!(
            mine,
            Counters {
                malformed: twins.malformed + refused.malformed,
                unauthenticated: twins.unauthenticated + refused.unauthenticated,
                ..twins
            },
            "counters differ by more than the {refused:?} refused datagrams"
        );
    }
}

/// Status but for the counters, which [`Run::compare`] checks apart.
fn status(node: &Node, now: Instant) -> Status {
    Status {
        counters: Counters::default(),
        ..node.status(now)
    }
}

/// Where a datagram on `path` comes from: peer `peer`'s address there, the other peer's, or a
/// stranger's.
fn source_address(path: PathId, source: u8, peer: usize) -> SocketAddr {
    let host = 11 + (peer + usize::from(source % 2)) % 2;
    let text = match (source % 5, path.0) {
        (0 | 1, 1) => format!("198.51.100.{host}:1694"),
        (0 | 1, _) => format!("192.0.2.{host}:1694"),
        (2, _) => "192.0.2.99:1694".to_string(),
        (3, _) => "198.51.100.99:40000".to_string(),
        _ => "[2001:db8::11]:1694".to_string(),
    };
    text.parse().expect("a socket address")
}

fn apply(edit: Edit, bytes: &mut Vec<u8>) {
    match edit {
        Edit::Truncate(n) => bytes.truncate(bytes.len().saturating_sub(n.into())),
        Edit::Flip { at, mask } => {
            if let Some(b) = bytes.get_mut(usize::from(at)) {
                *b ^= mask;
            }
        }
        Edit::Set { at, byte } => {
            if let Some(b) = bytes.get_mut(usize::from(at)) {
                *b = byte;
            }
        }
        Edit::Extend(more) => bytes.extend(more),
    }
}
