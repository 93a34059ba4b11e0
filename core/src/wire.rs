//! The wire format: versioned, compact, big-endian binary.
//!
//! ```text
//! offset  size  field
//! 0       2     magic "FO"
//! 2       1     version (1)
//! 3       1     kind (1 heartbeat, 2 goodbye, 3 vote)
//! 4       1     flags (bit 0: HMAC tag present; bit 1: fields follow the name; bit 2: the
//!               sender runs in quorum mode; other bits reserved, must be 0)
//! 5       1     sender's role (Role::code)
//! 6       1     sender's priority
//! 7       1     sender name length n (1..=64)
//! 8       2     group
//! 10      8     boot epoch
//! 18      8     sequence number
//! 26      n     sender name, UTF-8
//! 26+n    1+e   only when flag bit 1 is set: e (1 byte), then e bytes of fields
//! end     32    HMAC-SHA256 over every byte before it (only when flag bit 0 is set)
//! ```
//!
//! Fields are type-length-value (type 1 byte, length 1 byte, value), each type at most once.
//! A heartbeat has none and stays as small as the source's 32-byte datagram; fields carry
//! what only some messages need:
//!
//! | type | value | sent in |
//! |---|---|---|
//! | 1 | successor's name, UTF-8 (1..=64 bytes) | a goodbye of the owner: who takes over |
//! | 2 | candidate's name, UTF-8 (1..=64 bytes) | a vote: whom it answers |
//! | 3 | candidate's boot epoch (8), the sequence number answered (8), granted (1: 0 or 1) | a vote |
//! | 4 | the name of the node the voter's grant is held by, UTF-8 (1..=64 bytes) | a refused vote |
//! | 5 | one byte of [`Marks`]: bit 0 roll call, bit 1 standby, bit 2 switchover; other bits ignored | what an operator's command adds (see below) |
//!
//! Field 1 is also sent in the heartbeats of a node that has just released the addresses for
//! an operator's hand-over (`failoverctl standby` or `switchover`), until its successor claims
//! them: the heartbeat's role says `Backup`, and the successor takes over at once while the
//! others wait for it, as after a goodbye. Field 5 is sent only when one of its bits is set, so
//! a group no operator touches sends exactly what it did before:
//!
//! - *roll call*: an owner asked to hand over wants to know who is alive — every node that
//!   hears it answers with one heartbeat (passive backups are otherwise silent);
//! - *standby*: the sender is in standby and never takes the addresses (it also announces
//!   priority 0);
//! - *switchover*: in a message that names a successor, the successor keeps the addresses
//!   against preemption; in an owner's heartbeat, it holds them so.
//!
//! A vote must carry fields 2 and 3; the quorum flag says which mode the sender runs in, so a
//! group whose members disagree about it (one of them would take over without a majority)
//! drops the other side's messages as foreign instead of mixing the two rules.
//!
//! A decoder skips field types it does not know, so later versions can add fields that older
//! nodes ignore.

use crate::role::Role;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
use thiserror::Error;

/// The only version this build speaks.
pub const VERSION: u8 = 1;
/// Length of the HMAC-SHA256 tag.
pub const TAG_LEN: usize = 32;
/// Longest sender name.
pub const MAX_NAME_LEN: usize = 64;
const HEADER_LEN: usize = 26;
const FLAG_TAG: u8 = 1;
const FLAG_FIELDS: u8 = 2;
const FLAG_QUORUM: u8 = 4;
const FIELD_SUCCESSOR: u8 = 1;
const FIELD_CANDIDATE: u8 = 2;
const FIELD_ANSWER: u8 = 3;
const FIELD_HOLDER: u8 = 4;
const FIELD_MARKS: u8 = 5;
const MARK_ROLL_CALL: u8 = 1;
const MARK_STANDBY: u8 = 2;
const MARK_SWITCHOVER: u8 = 4;

/// Message kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageKind {
    /// Periodic heartbeat, also sent at once on role changes.
    Heartbeat,
    /// Planned shutdown: the sender holds nothing and sends nothing more.
    Goodbye,
    /// Quorum mode: a voter's answer to a claimant's heartbeat (which asks for a lease).
    Vote,
}

/// One message. Decoding borrows the sender's name from the datagram (`Message<&str>`), so the
/// receive path allocates nothing; encoding takes any string type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message<S = String> {
    /// Group number.
    pub group: u16,
    /// Kind.
    pub kind: MessageKind,
    /// Sender's role.
    pub role: Role,
    /// Sender's priority.
    pub priority: u8,
    /// Sender's boot epoch.
    pub epoch: u64,
    /// Sender's sequence number, one per announcement: it grows with every round of
    /// heartbeats, and every datagram of a round carries the same number.
    pub seq: u64,
    /// Sender's name.
    pub sender: S,
    /// In an owner's goodbye: the node it hands the addresses to, so the other backups wait
    /// for that one instead of all taking over at once.
    pub successor: Option<S>,
    /// The sender runs in quorum mode.
    pub quorum: bool,
    /// In a vote: what it answers and how.
    pub vote: Option<Vote<S>>,
    /// What an operator's commands add: a roll call, standby, a switchover.
    pub marks: Marks,
}

/// What an operator's commands add to a message (field 5; see the module documentation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Marks {
    /// Every node that hears this message answers it with one heartbeat.
    pub roll_call: bool,
    /// The sender is in standby: it never takes the addresses.
    pub standby: bool,
    /// With a successor: it keeps the addresses against preemption. Without: the sender (an
    /// owner) holds them so.
    pub switchover: bool,
}

impl Marks {
    fn byte(self) -> u8 {
        let bit = |on: bool, bit: u8| if on { bit } else { 0 };
        bit(self.roll_call, MARK_ROLL_CALL)
            | bit(self.standby, MARK_STANDBY)
            | bit(self.switchover, MARK_SWITCHOVER)
    }

    fn from_byte(byte: u8) -> Marks {
        Marks {
            roll_call: byte & MARK_ROLL_CALL != 0,
            standby: byte & MARK_STANDBY != 0,
            switchover: byte & MARK_SWITCHOVER != 0,
        }
    }

    /// Whether no bit is set (the field is then not sent).
    pub fn is_empty(self) -> bool {
        self.byte() == 0
    }
}

/// A voter's answer to one heartbeat of a claimant (quorum mode).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vote<S = String> {
    /// The claimant answered.
    pub candidate: S,
    /// The claimant's boot epoch, so an answer to an earlier run of it counts for nothing.
    pub candidate_epoch: u64,
    /// The sequence number of the heartbeat answered: the claimant knows when it sent it.
    pub seq: u64,
    /// Whether the voter grants the lease (and promises it to no one else meanwhile).
    pub granted: bool,
    /// When refused: who the voter's promise is held by.
    pub holder: Option<S>,
}

/// The group's shared key, kept as an HMAC already keyed (so each message costs two hash
/// blocks less). Its bytes never appear in `Debug` output or logs.
#[derive(Clone)]
pub struct AuthKey(Hmac<Sha256>);

impl AuthKey {
    /// A key from its bytes.
    pub fn new(bytes: &[u8]) -> AuthKey {
        AuthKey(Hmac::<Sha256>::new_from_slice(bytes).expect("HMAC takes keys of any length"))
    }

    fn mac(&self) -> Hmac<Sha256> {
        self.0.clone()
    }
}

impl fmt::Debug for AuthKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthKey(..)")
    }
}

/// Why bytes are not a message we accept.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// Shorter than the fixed header.
    #[error("datagram of {len} bytes is shorter than the header")]
    TooShort {
        /// Length received.
        len: usize,
    },
    /// Not this protocol.
    #[error("bad magic")]
    BadMagic,
    /// A version this build does not speak.
    #[error("unsupported version {0}")]
    UnsupportedVersion(u8),
    /// Unknown message kind.
    #[error("unknown message kind {0}")]
    UnknownKind(u8),
    /// Unknown role code.
    #[error("unknown role {0}")]
    UnknownRole(u8),
    /// Reserved flag bits set.
    #[error("reserved flags {0:#04x} set")]
    ReservedFlags(u8),
    /// Sender name empty, too long or not UTF-8.
    #[error("bad sender name")]
    BadName,
    /// Length does not match the header.
    #[error("length does not match the header")]
    LengthMismatch,
    /// A key is configured but the message has no tag.
    #[error("message is not authenticated")]
    MissingTag,
    /// No key is configured but the message has a tag.
    #[error("message is authenticated but no key is configured")]
    UnexpectedTag,
    /// The tag does not match.
    #[error("authentication tag does not match")]
    BadTag,
    /// The fields after the name are cut short, repeated, or hold a bad value.
    #[error("bad field")]
    BadField,
}

impl DecodeError {
    /// Whether this is an authentication failure (counted apart from malformed datagrams).
    pub fn is_auth_failure(&self) -> bool {
        matches!(
            self,
            DecodeError::MissingTag | DecodeError::UnexpectedTag | DecodeError::BadTag
        )
    }
}

fn kind_code(kind: MessageKind) -> u8 {
    match kind {
        MessageKind::Heartbeat => 1,
        MessageKind::Goodbye => 2,
        MessageKind::Vote => 3,
    }
}

/// Encodes `msg`, with a tag when `key` is given. Names longer than 64 bytes are cut (config
/// validation prevents them).
pub fn encode<S: AsRef<str>>(msg: &Message<S>, key: Option<&AuthKey>) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + MAX_NAME_LEN + TAG_LEN);
    encode_into(msg, key, &mut out);
    out
}

/// [`encode`], appending to `out`: a sender reuses one buffer for every message.
pub fn encode_into<S: AsRef<str>>(msg: &Message<S>, key: Option<&AuthKey>, out: &mut Vec<u8>) {
    let start = out.len();
    let name = clip(msg.sender.as_ref().as_bytes());
    let successor = (msg.successor.as_ref()).map(|s| clip(s.as_ref().as_bytes()));
    let mut flags = if key.is_some() { FLAG_TAG } else { 0 };
    if successor.is_some() || msg.vote.is_some() || !msg.marks.is_empty() {
        flags |= FLAG_FIELDS;
    }
    if msg.quorum {
        flags |= FLAG_QUORUM;
    }
    out.extend_from_slice(b"FO");
    out.push(VERSION);
    out.push(kind_code(msg.kind));
    out.push(flags);
    out.push(msg.role.code());
    out.push(msg.priority);
    out.push(name.len() as u8);
    out.extend_from_slice(&msg.group.to_be_bytes());
    out.extend_from_slice(&msg.epoch.to_be_bytes());
    out.extend_from_slice(&msg.seq.to_be_bytes());
    out.extend_from_slice(name);
    if flags & FLAG_FIELDS != 0 {
        let area = out.len();
        out.push(0);
        let mut field = |kind: u8, value: &[u8]| {
            out.extend_from_slice(&[kind, value.len() as u8]);
            out.extend_from_slice(value);
        };
        if let Some(successor) = successor {
            field(FIELD_SUCCESSOR, successor);
        }
        if let Some(vote) = &msg.vote {
            field(FIELD_CANDIDATE, clip(vote.candidate.as_ref().as_bytes()));
            let mut answer = [0u8; 17];
            answer[..8].copy_from_slice(&vote.candidate_epoch.to_be_bytes());
            answer[8..16].copy_from_slice(&vote.seq.to_be_bytes());
            answer[16] = u8::from(vote.granted);
            field(FIELD_ANSWER, &answer);
            if let Some(holder) = &vote.holder {
                field(FIELD_HOLDER, clip(holder.as_ref().as_bytes()));
            }
        }
        if !msg.marks.is_empty() {
            field(FIELD_MARKS, &[msg.marks.byte()]);
        }
        // At most 3 names of 64 bytes and 26 bytes more: the length fits its byte.
        out[area] = (out.len() - area - 1) as u8;
    }
    if let Some(key) = key {
        let mut mac = key.mac();
        mac.update(&out[start..]);
        out.extend_from_slice(&mac.finalize().into_bytes());
    }
}

/// A name cut to the longest the format carries (config validation prevents longer ones).
fn clip(name: &[u8]) -> &[u8] {
    &name[..name.len().min(MAX_NAME_LEN)]
}

/// Where the tag starts (or would): after the header, the name and any fields.
fn body_len(bytes: &[u8]) -> Option<usize> {
    let name_end = HEADER_LEN + usize::from(*bytes.get(7)?);
    if bytes.get(4)? & FLAG_FIELDS == 0 {
        return Some(name_end);
    }
    Some(name_end + 1 + usize::from(*bytes.get(name_end)?))
}

/// Rewrites an encoded message in place with another kind, role and sequence number (and its
/// tag, when `key` is given): a sender's heartbeats differ in nothing else, so one buffer
/// serves them all. False, and `bytes` untouched, if `bytes` is not a message this build
/// encoded with the same key setting.
pub fn restamp(
    bytes: &mut [u8],
    kind: MessageKind,
    role: Role,
    seq: u64,
    key: Option<&AuthKey>,
) -> bool {
    let Some(body) = body_len(bytes) else {
        return false;
    };
    let tagged = key.is_some();
    if bytes.len() != body + if tagged { TAG_LEN } else { 0 }
        || bytes[0..2] != *b"FO"
        || (bytes[4] & FLAG_TAG != 0) != tagged
    {
        return false;
    }
    bytes[3] = kind_code(kind);
    bytes[5] = role.code();
    bytes[18..26].copy_from_slice(&seq.to_be_bytes());
    if let Some(key) = key {
        let mut mac = key.mac();
        mac.update(&bytes[..body]);
        bytes[body..].copy_from_slice(&mac.finalize().into_bytes());
    }
    true
}

/// The sequence number of `bytes` if it is `earlier` but for that number: the same sender,
/// epoch, role, priority and kind. Only for unauthenticated groups — a tag would have to be
/// checked, and the tag is part of what must match.
pub fn repeat_of(earlier: &[u8], bytes: &[u8]) -> Option<u64> {
    let same = bytes.len() == earlier.len()
        && bytes.len() > HEADER_LEN
        && bytes[..18] == earlier[..18]
        && bytes[HEADER_LEN..] == earlier[HEADER_LEN..];
    same.then(|| u64::from_be_bytes(bytes[18..26].try_into().expect("8 bytes")))
}

/// Decodes and, when `key` is given, authenticates a datagram. Never panics.
pub fn decode<'a>(bytes: &'a [u8], key: Option<&AuthKey>) -> Result<Message<&'a str>, DecodeError> {
    let msg = decode_raw(bytes, key)?;
    let text = |name: &'a [u8]| std::str::from_utf8(name).map_err(|_| DecodeError::BadName);
    Ok(Message {
        group: msg.group,
        kind: msg.kind,
        role: msg.role,
        priority: msg.priority,
        epoch: msg.epoch,
        seq: msg.seq,
        sender: text(msg.sender)?,
        successor: msg.successor.map(text).transpose()?,
        quorum: msg.quorum,
        marks: msg.marks,
        vote: match msg.vote {
            Some(v) => Some(Vote {
                candidate: text(v.candidate)?,
                candidate_epoch: v.candidate_epoch,
                seq: v.seq,
                granted: v.granted,
                holder: v.holder.map(text).transpose()?,
            }),
            None => None,
        },
    })
}

/// The group a datagram's header names, read before (and without) decoding or
/// authenticating it: how a process serving several groups on one socket (a witness of
/// several groups) tells which of its nodes a datagram is for. `None` when the bytes are too
/// short for a header or are not this version's magic and version — malformed for everyone.
/// The group is not authenticated here: the node it is handed to checks the whole datagram.
pub fn group_of(bytes: &[u8]) -> Option<u16> {
    let header = bytes.get(..HEADER_LEN)?;
    (&header[0..2] == b"FO" && header[2] == VERSION)
        .then(|| u16::from_be_bytes([header[8], header[9]]))
}

/// The boot epoch and sequence number a datagram's header carries, read without decoding or
/// authenticating it: how an observer that sees every delivery (the simulator's split-brain
/// checker) tells a sender's fresh datagram from a late copy of an older one. `None` when the
/// bytes are too short for a header or are not this version's magic and version.
pub fn stamp_of(bytes: &[u8]) -> Option<(u64, u64)> {
    let header = bytes.get(..HEADER_LEN)?;
    let word = |at: usize| u64::from_be_bytes(header[at..at + 8].try_into().expect("8 bytes"));
    (&header[0..2] == b"FO" && header[2] == VERSION).then(|| (word(10), word(18)))
}

/// The role a datagram announces, read from its header without decoding the rest (nor
/// checking its tag): what a simulator records of a delivery for its checkers.
pub fn role_of(bytes: &[u8]) -> Option<Role> {
    let header = bytes.get(..HEADER_LEN)?;
    (&header[0..2] == b"FO" && header[2] == VERSION)
        .then(|| Role::from_code(header[5]))
        .flatten()
}

/// [`decode`] but for the sender's name, left as bytes: a receiver that recognises a known
/// peer's name needs no UTF-8 check, and must check it (`DecodeError::BadName`) otherwise.
pub fn decode_raw<'a>(
    bytes: &'a [u8],
    key: Option<&AuthKey>,
) -> Result<Message<&'a [u8]>, DecodeError> {
    let header: &[u8; HEADER_LEN] = bytes
        .get(..HEADER_LEN)
        .and_then(|h| h.try_into().ok())
        .ok_or(DecodeError::TooShort { len: bytes.len() })?;
    if &header[0..2] != b"FO" {
        return Err(DecodeError::BadMagic);
    }
    if header[2] != VERSION {
        return Err(DecodeError::UnsupportedVersion(header[2]));
    }
    let kind = match header[3] {
        1 => MessageKind::Heartbeat,
        2 => MessageKind::Goodbye,
        3 => MessageKind::Vote,
        other => return Err(DecodeError::UnknownKind(other)),
    };
    let flags = header[4];
    if flags & !(FLAG_TAG | FLAG_FIELDS | FLAG_QUORUM) != 0 {
        return Err(DecodeError::ReservedFlags(flags));
    }
    let role = Role::from_code(header[5]).ok_or(DecodeError::UnknownRole(header[5]))?;
    let name_len = usize::from(header[7]);
    if name_len == 0 || name_len > MAX_NAME_LEN {
        return Err(DecodeError::BadName);
    }
    let name_end = HEADER_LEN + name_len;
    let body = body_len(bytes).ok_or(DecodeError::LengthMismatch)?;
    let tagged = flags & FLAG_TAG != 0;
    let expected = body + if tagged { TAG_LEN } else { 0 };
    if bytes.len() != expected {
        return Err(DecodeError::LengthMismatch);
    }
    match (key, tagged) {
        (Some(_), false) => return Err(DecodeError::MissingTag),
        (None, true) => return Err(DecodeError::UnexpectedTag),
        (Some(key), true) => {
            let mut mac = key.mac();
            mac.update(&bytes[..body]);
            mac.verify_slice(&bytes[body..])
                .map_err(|_| DecodeError::BadTag)?;
        }
        (None, false) => {}
    }
    let sender = &bytes[HEADER_LEN..name_end];
    let mut successor = None;
    let (mut candidate, mut answer, mut holder) = (None, None, None);
    let mut marks = None;
    if flags & FLAG_FIELDS != 0 {
        let name = |value: &'a [u8]| match value.len() {
            1..=MAX_NAME_LEN => Ok(value),
            _ => Err(DecodeError::BadField),
        };
        for field in fields(&bytes[name_end + 1..body]) {
            let (kind, value) = field?;
            let slot = match kind {
                FIELD_SUCCESSOR => &mut successor,
                FIELD_CANDIDATE => &mut candidate,
                FIELD_HOLDER => &mut holder,
                FIELD_ANSWER if answer.is_none() && value.len() == 17 && value[16] <= 1 => {
                    answer = Some(value);
                    continue;
                }
                FIELD_ANSWER => return Err(DecodeError::BadField),
                FIELD_MARKS if marks.is_none() && value.len() == 1 => {
                    marks = Some(Marks::from_byte(value[0]));
                    continue;
                }
                FIELD_MARKS => return Err(DecodeError::BadField),
                _ => continue, // a later version's field: skipped
            };
            if slot.replace(name(value)?).is_some() {
                return Err(DecodeError::BadField);
            }
        }
    }
    let vote = match (kind, candidate, answer) {
        (MessageKind::Vote, Some(candidate), Some(answer)) => {
            let u64_of = |b: &[u8]| u64::from_be_bytes(b.try_into().expect("8 bytes"));
            Some(Vote {
                candidate,
                candidate_epoch: u64_of(&answer[..8]),
                seq: u64_of(&answer[8..16]),
                granted: answer[16] == 1,
                holder,
            })
        }
        (MessageKind::Vote, _, _) => return Err(DecodeError::BadField),
        _ => None,
    };
    let u64_at = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&header[at..at + 8]);
        u64::from_be_bytes(b)
    };
    Ok(Message {
        group: u16::from_be_bytes([header[8], header[9]]),
        kind,
        role,
        priority: header[6],
        epoch: u64_at(10),
        seq: u64_at(18),
        sender,
        successor,
        quorum: flags & FLAG_QUORUM != 0,
        vote,
        marks: marks.unwrap_or_default(),
    })
}

/// The (type, value) fields of a field area, in order, then `BadField` if one runs past its
/// end (read as they are taken: nothing is collected per datagram).
fn fields(mut area: &[u8]) -> impl Iterator<Item = Result<(u8, &[u8]), DecodeError>> {
    std::iter::from_fn(move || match *area {
        [] => None,
        [kind, len, ref rest @ ..] if rest.len() >= usize::from(len) => {
            let (value, after) = rest.split_at(usize::from(len));
            area = after;
            Some(Ok((kind, value)))
        }
        _ => {
            area = &[];
            Some(Err(DecodeError::BadField))
        }
    })
}
