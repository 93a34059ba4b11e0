//! An attacker on a segment (a `tamper` fault): after every datagram a node receives there, it
//! sends that node a bad one — a stale replay, a truncation, garbage no decoder may accept,
//! and, in a group with a key, a forgery (the owner's role at priority 255, under a tag it
//! cannot compute) and a corruption (one bit flipped). A real network corrupts what its
//! checksums miss, a host on the LAN can send anything to port 1694, and a switch can replay.
//!
//! Each bad datagram reaches its receiver's sockets a microsecond after the genuine one and is
//! handed to the running daemon on its own; its node's status, next deadline and outputs are
//! compared before and after: it must have been dropped — one drop counter up, one `Dropped`
//! event, nothing else — for what is wrong with it (garbage carrying the genuine datagram's
//! sequence number must not pass the decoder to be dropped as a stale copy); the record says
//! what else it changed, for the checkers to judge.
//! A daemon that is stopped, or has other inputs waiting at that instant, gets none: its run
//! would otherwise be judged against what it had not read yet.

use super::{Due, World};
use crate::fault::Tamper;
use crate::record::Observation;
use crate::rng;
use failover_core::node::Status;
use failover_core::wire::TAG_LEN;
use failover_core::{Counters, DropReason, Event, Instant, Output, PathId, Role};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::sync::Arc;

const STREAM: u64 = 0x5441_4d50; // "TAMP"
/// How long after the genuine datagram the attacker's arrives (nanoseconds).
const AFTER: u64 = 1_000;
/// The wire format's header length and flags (see `failover_core::wire`).
const HEADER_LEN: usize = 26;
const FLAG_TAG: u8 = 1;
const FLAG_FIELDS: u8 = 2;

/// Where the attacker captured a datagram: (receiver, sender, receiver's path).
type Capture = (usize, usize, usize);

/// The attacker of every `tamper` fault in a run.
pub(super) struct Attacker {
    rng: ChaCha8Rng,
    /// The group has a key: forgeries and corruptions are the attacker's to try (in a group
    /// without one, a forged datagram is a genuine one: nothing can tell them apart).
    keyed: bool,
    /// Faults in force: (fault id, segment).
    active: Vec<(usize, usize)>,
    /// Per (receiver, sender, receiver's path): the first datagram seen there, and when.
    captured: BTreeMap<Capture, (u64, Arc<[u8]>)>,
}

impl Attacker {
    pub fn new(seed: u64, keyed: bool) -> Attacker {
        Attacker {
            rng: rng::fork(seed, STREAM),
            keyed,
            active: Vec::new(),
            captured: BTreeMap::new(),
        }
    }

    pub fn begin(&mut self, id: usize, segment: usize) {
        self.active.push((id, segment));
    }

    pub fn end(&mut self, id: usize) {
        self.active.retain(|&(f, _)| f != id);
    }

    fn on(&self, segment: usize) -> bool {
        self.active.iter().any(|&(_, s)| s == segment)
    }

    /// The bad datagram sent after `genuine` (from `key` at `now`), and what it is.
    fn bad(&mut self, key: Capture, now: u64, interval: u64, genuine: &[u8]) -> (Tamper, Vec<u8>) {
        let (since, first) = self
            .captured
            .entry(key)
            .or_insert_with(|| (now, genuine.into()));
        let stale = (*since + interval <= now).then(|| first.to_vec());
        let kinds: &[Tamper] = if self.keyed {
            &[
                Tamper::Replay,
                Tamper::Truncate,
                Tamper::Garble,
                Tamper::Forge,
                Tamper::Corrupt,
            ]
        } else {
            &[Tamper::Replay, Tamper::Truncate, Tamper::Garble]
        };
        let how = match kinds[self.rng.random_range(0..kinds.len())] {
            Tamper::Replay if stale.is_none() => Tamper::Truncate,
            how => how,
        };
        let bytes = match how {
            Tamper::Replay => stale.expect("captured long enough ago"),
            Tamper::Truncate => genuine[..self.rng.random_range(0..genuine.len())].to_vec(),
            Tamper::Garble => self.garble(genuine),
            Tamper::Forge => {
                let mut b = genuine.to_vec();
                b[5] = Role::Master.code();
                b[6] = 255;
                let tag = b.len().saturating_sub(TAG_LEN);
                self.rng.fill(&mut b[tag..]);
                b
            }
            Tamper::Corrupt => {
                let mut b = genuine.to_vec();
                let at = self.rng.random_range(0..b.len());
                b[at] ^= 1 << self.rng.random_range(0..8);
                b
            }
        };
        (how, bytes)
    }

    /// `genuine` broken where the wire format leaves a decoder no choice but to refuse it,
    /// its length kept consistent so that only the broken part gives it away.
    fn garble(&mut self, genuine: &[u8]) -> Vec<u8> {
        let mut b = genuine.to_vec();
        let name_end = HEADER_LEN + usize::from(b[7]);
        let tagged = b[4] & FLAG_TAG != 0;
        let way = self.rng.random_range(0..18);
        match way {
            0 => b[0] ^= 0x20,
            1 => b[2] = failover_core::wire::VERSION + self.rng.random_range(1..=9),
            2 => b[3] = [0, 4, 255][self.rng.random_range(0..3)],
            3 => b[4] |= 8 << self.rng.random_range(0..5),
            4 => b[5] = self.rng.random_range(5..=255),
            // A name of no bytes, or longer than 64.
            5 | 6 => {
                let len = if way == 5 {
                    0
                } else {
                    self.rng.random_range(65..=100)
                };
                let rest = b.split_off(name_end);
                b.truncate(HEADER_LEN);
                b[7] = len;
                b.resize(HEADER_LEN + usize::from(len), b'n');
                b.extend_from_slice(&rest);
            }
            // A vote must carry a candidate and an answer (a vote made a heartbeat's kind would
            // be genuine: its magic broken instead).
            7 if b[3] != 3 => b[3] = 3,
            7 => b[0] ^= 0x20,
            // Another group's (on the same LAN, on the same port).
            8 => b[8] ^= 0x5a,
            // A tag where the group has no key, or none where it has one.
            9 if tagged => {
                b.truncate(b.len() - TAG_LEN);
                b[4] &= !FLAG_TAG;
            }
            9 => {
                b[4] |= FLAG_TAG;
                b.extend_from_slice(&[0x7e; TAG_LEN]);
            }
            _ => {
                let fields: Vec<u8> = match way {
                    10 => vec![1, 5, b'a'],                             // runs past the end
                    11 => vec![1, 1, b'x', 1, 1, b'y'],                 // a successor twice
                    12 => vec![5, 2, 1, 0],                             // marks are one byte
                    13 => [vec![3, 16], vec![0; 16]].concat(),          // an answer is 17 bytes
                    14 => [vec![3, 17], vec![0; 16], vec![2]].concat(), // granted is 0 or 1
                    15 => vec![1, 0],                                   // a name is 1 to 64 bytes
                    16 => [vec![4, 65], vec![b'a'; 65]].concat(),       // ... not 65
                    _ => vec![5, 1, 1, 5, 1, 2],                        // marks twice
                };
                b.truncate(name_end);
                b[4] |= FLAG_FIELDS;
                b.push(fields.len() as u8);
                b.extend_from_slice(&fields);
                if tagged {
                    let mut tag = [0u8; TAG_LEN];
                    self.rng.fill(&mut tag[..]);
                    b.extend_from_slice(&tag);
                }
            }
        }
        b
    }
}

impl World<'_> {
    /// A genuine datagram from `from` reaches host `to` on `paths`: on each path whose segment
    /// has an attacker, the attacker's bad datagram follows.
    pub(super) fn tamper_after(&mut self, to: usize, paths: u32, from: usize, payload: &Arc<[u8]>) {
        if self.attacker.active.is_empty() {
            return;
        }
        for p in (0..self.hosts[to].segments.len()).filter(|p| paths & 1 << p != 0) {
            if !self.attacker.on(self.hosts[to].segments[p]) || payload.len() < HEADER_LEN {
                continue;
            }
            let (how, bytes) = self
                .attacker
                .bad((to, from, p), self.now, self.interval, payload);
            let due = Due::Tampered {
                to: to as u32,
                path: p as u32,
                from: from as u32,
                how,
                payload: bytes.into(),
            };
            self.queue.push(self.now + AFTER, due);
        }
    }

    /// The attacker's datagram reaches host `to`: handed to its daemon on its own and judged.
    pub(super) fn tampered(
        &mut self,
        to: usize,
        path: usize,
        from: usize,
        how: Tamper,
        payload: &[u8],
    ) {
        let host = &self.hosts[to];
        let alone = !host.woken && self.queue.peek_time().is_none_or(|at| at > self.now);
        if !host.answers() || !host.runs() || !alone {
            return;
        }
        let addr = self.addresses[host.segments[path]][from];
        let now = self.local(to);
        self.hosts[to].ledger.tampered();
        let node = self.hosts[to].node.as_mut().expect("a running daemon");
        let (before, timer) = (node.status(now), node.poll_timeout());
        node.handle_datagram(now, PathId(path), addr, payload);
        let outputs: Vec<Output> = std::iter::from_fn(|| node.poll_output()).collect();
        let changed = judge(
            &before,
            &node.status(now),
            timer,
            node.poll_timeout(),
            &outputs,
        )
        .or_else(|| wrong_reason(how, &outputs));
        let what = changed.as_deref().unwrap_or("dropped");
        self.note(
            Some(to),
            format!(
                "attacker's datagram ({how:?}, {} bytes): {what}",
                payload.len()
            ),
        );
        self.observe(Observation::Tampered {
            node: to,
            how,
            changed,
        });
        for out in outputs {
            self.output(to, out);
        }
        self.after_input(to);
    }
}

/// A bad datagram dropped for another reason than what is wrong with it: garbage taken for a
/// stale copy of the genuine datagram (it carries the same sequence number) was decoded when it
/// should not have been.
fn wrong_reason(how: Tamper, outputs: &[Output]) -> Option<String> {
    use DropReason::{Foreign, Malformed, Replayed, Unauthenticated};
    let right: &[DropReason] = match how {
        Tamper::Replay => &[Replayed],
        // The lengths the header announces are checked before any tag: a datagram cut short
        // is malformed, never an authentication failure (a false forgery alarm).
        Tamper::Truncate => &[Malformed],
        Tamper::Corrupt => &[Malformed, Unauthenticated],
        Tamper::Garble => &[Malformed, Unauthenticated, Foreign],
        Tamper::Forge => &[Unauthenticated],
    };
    outputs.iter().find_map(|o| match o {
        Output::Event(Event::Dropped { reason }) if !right.contains(reason) => Some(format!(
            "dropped as {reason:?}, not for what is wrong with it"
        )),
        _ => None,
    })
}

/// What a bad datagram changed in a node, beyond one drop counted and its `Dropped` event
/// (none at all by a stopped node, which reads nothing).
fn judge(
    before: &Status,
    after: &Status,
    timer: Option<Instant>,
    timer_after: Option<Instant>,
    outputs: &[Output],
) -> Option<String> {
    let (b, a) = (before.counters, after.counters);
    if a.received != b.received {
        return Some("accepted it as a message".into());
    }
    let want = u64::from(before.role != Role::Stopped);
    let grown = |f: fn(&Counters) -> u64| f(&a) - f(&b);
    let reasons = [
        (DropReason::Malformed, grown(|c| c.malformed)),
        (DropReason::Unauthenticated, grown(|c| c.unauthenticated)),
        (DropReason::Replayed, grown(|c| c.replayed)),
        (DropReason::Foreign, grown(|c| c.foreign)),
    ];
    let counted: u64 = reasons.iter().map(|r| r.1).sum();
    if counted != want {
        return Some(format!("{counted} drop(s) counted, {want} expected"));
    }
    let events: Vec<DropReason> = (outputs.iter())
        .filter_map(|o| match o {
            Output::Event(Event::Dropped { reason }) => Some(*reason),
            _ => None,
        })
        .collect();
    if events.len() != outputs.len() || events.len() as u64 != want {
        return Some(format!("outputs {outputs:?}"));
    }
    if let Some(&reason) = events.first() {
        if !reasons.iter().any(|&(r, n)| r == reason && n == 1) {
            return Some(format!("a {reason:?} drop reported, another counted"));
        }
    }
    let unchanged = Status {
        counters: b,
        ..after.clone()
    };
    if unchanged != *before {
        return Some(format!("its state changed: {before:?} became {after:?}"));
    }
    if timer != timer_after {
        return Some(format!(
            "its next deadline moved from {timer:?} to {timer_after:?}"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use failover_core::wire::{self, AuthKey, Marks, Message, MessageKind};

    fn heartbeat(key: Option<&AuthKey>) -> Vec<u8> {
        let msg = Message {
            group: 1,
            kind: MessageKind::Heartbeat,
            role: Role::Master,
            priority: 200,
            epoch: 3,
            seq: 7,
            sender: "master",
            successor: None,
            quorum: false,
            vote: None,
            marks: Marks::default(),
        };
        wire::encode(&msg, key)
    }

    #[test]
    fn every_bad_datagram_is_refused_by_the_decoder() {
        let key = AuthKey::new(b"a key of at least sixteen bytes");
        for keyed in [false, true] {
            let key = keyed.then_some(&key);
            let genuine = heartbeat(key);
            assert!(wire::decode(&genuine, key).is_ok());
            let mut attacker = Attacker::new(1, keyed);
            let mut seen = std::collections::BTreeSet::new();
            for round in 0..2_000u64 {
                let (how, bad) = attacker.bad((0, 1, 0), round * 1_000, 10_000, &genuine);
                seen.insert(format!("{how:?}"));
                if how == Tamper::Replay {
                    // The same bytes as the genuine one: stale by its sequence number, which
                    // the node, not the decoder, judges.
                    assert_eq!(bad, genuine);
                    continue;
                }
                // (another group's decodes, and the node drops it as foreign)
                assert!(
                    wire::decode(&bad, key).map_or(true, |m| m.group != 1),
                    "keyed {keyed}: a {how:?} datagram decodes: {bad:?}"
                );
            }
            assert_eq!(seen.len(), if keyed { 5 } else { 3 }, "{seen:?}");
        }
    }

    #[test]
    fn a_bad_datagram_must_be_dropped_for_what_is_wrong_with_it() {
        let dropped = |reason| [Output::Event(Event::Dropped { reason })];
        let garbage_as_stale = wrong_reason(Tamper::Garble, &dropped(DropReason::Replayed));
        assert!(garbage_as_stale.is_some_and(|w| w.contains("dropped as Replayed")));
        assert_eq!(
            wrong_reason(Tamper::Garble, &dropped(DropReason::Malformed)),
            None
        );
        assert_eq!(
            wrong_reason(Tamper::Replay, &dropped(DropReason::Replayed)),
            None
        );
        assert!(wrong_reason(Tamper::Forge, &dropped(DropReason::Malformed)).is_some());
        // A cut datagram fails its lengths before any tag is looked at.
        assert!(wrong_reason(Tamper::Truncate, &dropped(DropReason::Unauthenticated)).is_some());
        assert_eq!(
            wrong_reason(Tamper::Truncate, &dropped(DropReason::Malformed)),
            None
        );
    }
}
