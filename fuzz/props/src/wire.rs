//! `wire_decode`: the datagram codec (`failover_core::wire`), which every byte from the
//! network goes through first.

use arbitrary::{Arbitrary, Unstructured};
use failover_core::wire::{self, AuthKey, Marks, Message, MessageKind, Vote, MAX_NAME_LEN};
use failover_core::Role;

/// The key the corpus's authenticated datagrams are tagged with (`seeds` writes them).
pub const KEY: &str = "fuzzing key: sixteen bytes or more";

/// Decodes `data` as a datagram, with and without a key, and checks that whatever decodes
/// re-encodes to a datagram that decodes equal, can be restamped, and is its own repeat; then
/// builds a message from the same bytes and checks that it survives encoding both ways.
pub fn check(data: &[u8]) {
    let key = AuthKey::new(KEY.as_bytes());
    for key in [None, Some(&key)] {
        decoded_round_trips(data, key);
    }
    if let Ok(built) = Built::arbitrary(&mut Unstructured::new(data)) {
        let msg = built.message();
        for key in [None, Some(&AuthKey::new(KEY.as_bytes()))] {
            let bytes = wire::encode(&msg, key);
            let back = wire::decode(&bytes, key).expect("an encoded message decodes");
            assert_eq!(back, as_str(&msg), "encode then decode changed the message");
        }
    }
}

fn decoded_round_trips(data: &[u8], key: Option<&AuthKey>) {
    let raw = wire::decode_raw(data, key);
    let Ok(msg) = wire::decode(data, key) else {
        // The text check comes after everything else: a raw decode may succeed alone, and
        // then only because a name is not UTF-8.
        if let Ok(raw) = raw {
            let utf8 = |b: &[u8]| std::str::from_utf8(b).is_ok();
            let names = [raw.sender].into_iter().chain(raw.successor);
            let vote = raw
                .vote
                .iter()
                .flat_map(|v| [v.candidate].into_iter().chain(v.holder));
            assert!(
                !names.chain(vote).all(utf8),
                "decode_raw accepted what decode refused, with names in UTF-8"
            );
        }
        return;
    };
    let raw = raw.expect("decode accepted what decode_raw refused");
    assert_eq!(raw.sender, msg.sender.as_bytes());
    assert_eq!(raw.seq, msg.seq);
    assert_eq!(raw.quorum, msg.quorum);
    assert_eq!(raw.vote.is_some(), msg.vote.is_some());
    assert_eq!(
        msg.vote.is_some(),
        msg.kind == MessageKind::Vote,
        "a vote decoded without its answer, or an answer outside a vote"
    );
    let again = wire::encode(&msg, key);
    assert_eq!(
        wire::decode(&again, key).as_ref(),
        Ok(&msg),
        "re-encoded message decodes differently"
    );
    // A sender rewrites its last datagram in place for the next heartbeat.
    let mut stamped = data.to_vec();
    assert!(
        wire::restamp(
            &mut stamped,
            MessageKind::Goodbye,
            Role::Master,
            !msg.seq,
            key
        ),
        "restamp refused a datagram that decodes"
    );
    let stamped = wire::decode(&stamped, key).expect("a restamped datagram decodes");
    assert_eq!(
        (stamped.kind, stamped.role, stamped.seq),
        (MessageKind::Goodbye, Role::Master, !msg.seq)
    );
    assert_eq!(
        (stamped.sender, stamped.epoch, stamped.quorum),
        (msg.sender, msg.epoch, msg.quorum)
    );
    assert_eq!(wire::repeat_of(data, data), Some(msg.seq));
}

/// A message built from the fuzzer's bytes, within what the format carries.
#[derive(Arbitrary, Debug)]
struct Built {
    group: u16,
    goodbye: bool,
    role: u8,
    priority: u8,
    epoch: u64,
    seq: u64,
    sender: String,
    successor: Option<String>,
    quorum: bool,
    /// Makes the message a vote.
    vote: Option<BuiltVote>,
    /// An operator's marks (roll call, standby, switchover), one bit each.
    marks: u8,
}

/// A voter's answer built from the fuzzer's bytes.
#[derive(Arbitrary, Debug)]
struct BuiltVote {
    candidate: String,
    candidate_epoch: u64,
    seq: u64,
    granted: bool,
    holder: Option<String>,
}

impl Built {
    fn message(&self) -> Message {
        Message {
            group: self.group,
            kind: match (&self.vote, self.goodbye) {
                (Some(_), _) => MessageKind::Vote,
                (None, true) => MessageKind::Goodbye,
                (None, false) => MessageKind::Heartbeat,
            },
            role: Role::from_code(self.role % 5).expect("codes 0 to 4 are roles"),
            priority: self.priority,
            epoch: self.epoch,
            seq: self.seq,
            sender: name(&self.sender),
            successor: self.successor.as_deref().map(name),
            quorum: self.quorum,
            vote: self.vote.as_ref().map(|v| Vote {
                candidate: name(&v.candidate),
                candidate_epoch: v.candidate_epoch,
                seq: v.seq,
                granted: v.granted,
                holder: v.holder.as_deref().map(name),
            }),
            marks: marks(self.marks),
        }
    }
}

/// Marks from the three low bits of a byte (the rest the format ignores).
pub(crate) fn marks(bits: u8) -> Marks {
    Marks {
        roll_call: bits & 1 != 0,
        standby: bits & 2 != 0,
        switchover: bits & 4 != 0,
    }
}

/// A name the format carries: 1 to 64 bytes of UTF-8 (config validation keeps them so).
fn name(text: &str) -> String {
    let mut end = text.len().min(MAX_NAME_LEN);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    match &text[..end] {
        "" => "x".to_string(),
        name => name.to_string(),
    }
}

fn as_str(msg: &Message) -> Message<&str> {
    Message {
        group: msg.group,
        kind: msg.kind,
        role: msg.role,
        priority: msg.priority,
        epoch: msg.epoch,
        seq: msg.seq,
        sender: &msg.sender,
        successor: msg.successor.as_deref(),
        quorum: msg.quorum,
        vote: msg.vote.as_ref().map(|v| Vote {
            candidate: v.candidate.as_str(),
            candidate_epoch: v.candidate_epoch,
            seq: v.seq,
            granted: v.granted,
            holder: v.holder.as_deref(),
        }),
        marks: msg.marks,
    }
}
