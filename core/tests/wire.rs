//! The wire format: what is documented is what is sent, and nothing malformed gets through or
//! panics the decoder.

use failover_core::wire::{
    decode, encode, group_of, stamp_of, AuthKey, DecodeError, Marks, Message, MessageKind,
};
use failover_core::Role;

fn message(kind: MessageKind, role: Role) -> Message {
    Message {
        group: 7,
        kind,
        role,
        priority: 200,
        epoch: 3,
        seq: 42,
        sender: "master".into(),
        successor: None,
        quorum: false,
        vote: None,
        marks: Marks::default(),
    }
}

fn borrowed(m: &Message) -> Message<&str> {
    Message {
        group: m.group,
        kind: m.kind,
        role: m.role,
        priority: m.priority,
        epoch: m.epoch,
        seq: m.seq,
        sender: &m.sender,
        successor: m.successor.as_deref(),
        quorum: false,
        vote: None,
        marks: m.marks,
    }
}

#[test]
fn the_bytes_are_the_documented_layout() {
    let bytes = encode(&message(MessageKind::Heartbeat, Role::Master), None);
    let mut expected = vec![b'F', b'O', 1, 1, 0, 2, 200, 6, 0, 7];
    expected.extend(3u64.to_be_bytes());
    expected.extend(42u64.to_be_bytes());
    expected.extend(b"master");
    assert_eq!(bytes, expected);
    assert_eq!(
        bytes.len(),
        32,
        "a heartbeat is as small as the source's 32-byte datagram"
    );
}

#[test]
fn a_goodbye_names_its_successor_in_a_field_after_the_name() {
    let mut bye = message(MessageKind::Goodbye, Role::Stopped);
    bye.successor = Some("bravo".into());
    let bytes = encode(&bye, None);
    assert_eq!(bytes[4], 0b10, "flag bit 1: fields follow the name");
    assert_eq!(&bytes[26..32], b"master");
    assert_eq!(&bytes[32..], &[7, 1, 5, b'b', b'r', b'a', b'v', b'o'][..]);
    assert_eq!(decode(&bytes, None).unwrap(), borrowed(&bye));
    let key = AuthKey::new(b"sixteen byte key!");
    let signed = encode(&bye, Some(&key));
    assert_eq!(signed.len(), bytes.len() + 32);
    assert_eq!(decode(&signed, Some(&key)).unwrap(), borrowed(&bye));

    // A field of a later version is skipped; a broken or repeated one is refused.
    let mut later = bytes.clone();
    later[32] += 3;
    later.extend([9, 1, 0xaa]);
    assert_eq!(decode(&later, None).unwrap(), borrowed(&bye));
    let mut cut = bytes.clone();
    cut[34] = 50; // the successor's length runs past the field area
    assert_eq!(decode(&cut, None), Err(DecodeError::BadField));
    let mut twice = bytes.clone();
    twice[32] += 7;
    twice.extend([1, 5]);
    twice.extend(b"bravo");
    assert_eq!(decode(&twice, None), Err(DecodeError::BadField));
    let mut empty = bytes[..32].to_vec();
    empty.extend([2, 1, 0]);
    assert_eq!(decode(&empty, None), Err(DecodeError::BadField));
    let mut short = bytes.clone();
    short.truncate(33);
    assert!(decode(&short, None).is_err());
}

#[test]
fn an_operators_marks_are_one_field_of_one_byte_sent_only_when_a_bit_is_set() {
    // What a node that has released for a switchover says: backup, its successor named,
    // the successor keeping the addresses.
    let mut handed = message(MessageKind::Heartbeat, Role::Backup);
    handed.successor = Some("bravo".into());
    handed.marks.switchover = true;
    let bytes = encode(&handed, None);
    assert_eq!(
        &bytes[32..],
        &[10, 1, 5, b'b', b'r', b'a', b'v', b'o', 5, 1, 0b100][..]
    );
    assert_eq!(decode(&bytes, None).unwrap(), borrowed(&handed));
    let mut all = message(MessageKind::Heartbeat, Role::Master);
    all.marks = Marks {
        roll_call: true,
        standby: true,
        switchover: true,
    };
    let bytes = encode(&all, None);
    assert_eq!(&bytes[32..], &[3, 5, 1, 0b111][..]);
    assert_eq!(decode(&bytes, None).unwrap(), borrowed(&all));
    // No bit set: no field at all, a heartbeat as small as before.
    assert_eq!(
        encode(&message(MessageKind::Heartbeat, Role::Master), None).len(),
        32
    );

    // A later version's bits are ignored; a repeated field or one of another length is not.
    let mut later = bytes.clone();
    later[35] |= 0b1000_0000;
    assert_eq!(decode(&later, None).unwrap(), borrowed(&all));
    let mut twice = bytes.clone();
    twice[32] += 3;
    twice.extend([5, 1, 0]);
    assert_eq!(decode(&twice, None), Err(DecodeError::BadField));
    let mut long = bytes[..32].to_vec();
    long.extend([4, 5, 2, 1, 1]);
    assert_eq!(decode(&long, None), Err(DecodeError::BadField));
}

#[test]
fn every_kind_and_role_round_trips_with_and_without_a_key() {
    let key = AuthKey::new(b"sixteen byte key!");
    for kind in [MessageKind::Heartbeat, MessageKind::Goodbye] {
        for role in [
            Role::Backup,
            Role::Acquiring,
            Role::Master,
            Role::Releasing,
            Role::Stopped,
        ] {
            let m = message(kind, role);
            assert_eq!(decode(&encode(&m, None), None).unwrap(), borrowed(&m));
            let signed = encode(&m, Some(&key));
            assert_eq!(signed.len(), 32 + 32);
            assert_eq!(decode(&signed, Some(&key)).unwrap(), borrowed(&m));
        }
    }
}

#[test]
fn authentication_failures_are_typed() {
    let key = AuthKey::new(b"sixteen byte key!");
    let m = message(MessageKind::Heartbeat, Role::Master);
    let signed = encode(&m, Some(&key));
    let other = AuthKey::new(b"another key, 16+ bytes");
    assert_eq!(decode(&signed, Some(&other)), Err(DecodeError::BadTag));
    for i in 0..signed.len() {
        let mut flipped = signed.clone();
        flipped[i] ^= 0x20;
        assert!(
            decode(&flipped, Some(&key)).is_err(),
            "byte {i} flipped was accepted"
        );
    }
    let mut tampered = signed.clone();
    tampered[25] ^= 1; // the sequence number: a replay with a forged counter
    assert_eq!(decode(&tampered, Some(&key)), Err(DecodeError::BadTag));
    assert_eq!(
        decode(&encode(&m, None), Some(&key)),
        Err(DecodeError::MissingTag)
    );
    assert_eq!(decode(&signed, None), Err(DecodeError::UnexpectedTag));
    assert!(DecodeError::BadTag.is_auth_failure() && !DecodeError::BadMagic.is_auth_failure());
    assert_eq!(format!("{key:?}"), "AuthKey(..)", "keys never reach logs");
}

#[test]
fn malformed_input_gets_a_typed_error() {
    let good = encode(&message(MessageKind::Heartbeat, Role::Master), None);
    for len in 0..good.len() {
        assert!(
            decode(&good[..len], None).is_err(),
            "truncated to {len} bytes"
        );
    }
    let with = |i: usize, b: u8| {
        let mut v = good.clone();
        v[i] = b;
        decode(&v, None).map(|_| ())
    };
    assert_eq!(with(0, b'X'), Err(DecodeError::BadMagic));
    assert_eq!(with(2, 9), Err(DecodeError::UnsupportedVersion(9)));
    assert_eq!(with(3, 9), Err(DecodeError::UnknownKind(9)));
    assert_eq!(with(5, 9), Err(DecodeError::UnknownRole(9)));
    assert_eq!(with(4, 0x80), Err(DecodeError::ReservedFlags(0x80)));
    assert_eq!(with(7, 0), Err(DecodeError::BadName));
    assert_eq!(with(26, 0xff), Err(DecodeError::BadName));
    let mut long = good.clone();
    long.push(0);
    assert_eq!(decode(&long, None), Err(DecodeError::LengthMismatch));
}

#[test]
fn random_and_mutated_bytes_never_panic() {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let key = AuthKey::new(b"sixteen byte key!");
    let good = encode(&message(MessageKind::Heartbeat, Role::Master), Some(&key));
    for _ in 0..100_000 {
        let len = (next() % 100) as usize;
        let random: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let _ = decode(&random, None);
        let _ = decode(&random, Some(&key));
        let mut mutated = good.clone();
        let at = (next() as usize) % mutated.len();
        mutated[at] = next() as u8;
        mutated.truncate((next() as usize) % (good.len() + 1));
        let _ = decode(&mutated, Some(&key));
    }
}

#[test]
fn a_restamped_message_is_the_message_encoded_anew() {
    let key = AuthKey::new(b"a shared key of some length");
    for key in [None, Some(&key)] {
        let mut bytes = encode(&message(MessageKind::Heartbeat, Role::Backup), key);
        assert!(failover_core::wire::restamp(
            &mut bytes,
            MessageKind::Goodbye,
            Role::Master,
            99,
            key
        ));
        let mut fresh = message(MessageKind::Goodbye, Role::Master);
        fresh.seq = 99;
        assert_eq!(bytes, encode(&fresh, key), "keyed: {}", key.is_some());
        assert_eq!(decode(&bytes, key).unwrap(), borrowed(&fresh));
    }
    // Bytes encoded without a key are not restamped with one, and the reverse.
    let mut plain = encode(&message(MessageKind::Heartbeat, Role::Backup), None);
    let before = plain.clone();
    assert!(!failover_core::wire::restamp(
        &mut plain,
        MessageKind::Heartbeat,
        Role::Master,
        1,
        Some(&key)
    ));
    assert_eq!(plain, before);
    assert!(!failover_core::wire::restamp(
        &mut [0u8; 3],
        MessageKind::Heartbeat,
        Role::Master,
        1,
        None
    ));
}

#[test]
fn a_repeat_differs_only_in_its_sequence_number() {
    let first = encode(&message(MessageKind::Heartbeat, Role::Master), None);
    let mut next = message(MessageKind::Heartbeat, Role::Master);
    next.seq = 43;
    assert_eq!(
        failover_core::wire::repeat_of(&first, &encode(&next, None)),
        Some(43)
    );
    for changed in [
        Message {
            role: Role::Releasing,
            ..next.clone()
        },
        Message {
            kind: MessageKind::Goodbye,
            ..next.clone()
        },
        Message {
            epoch: 4,
            ..next.clone()
        },
        Message {
            priority: 100,
            ..next.clone()
        },
        Message {
            sender: "masteR".into(),
            ..next.clone()
        },
    ] {
        assert_eq!(
            failover_core::wire::repeat_of(&first, &encode(&changed, None)),
            None,
            "{changed:?}"
        );
    }
    assert_eq!(failover_core::wire::repeat_of(&[], &first), None);
}

#[test]
fn the_group_is_read_from_the_header_of_any_message_and_of_nothing_else() {
    let key = AuthKey::new(b"a shared key of 16+ bytes");
    for kind in [MessageKind::Heartbeat, MessageKind::Goodbye] {
        let bytes = encode(&message(kind, Role::Master), Some(&key));
        assert_eq!(group_of(&bytes), Some(7));
    }
    let bytes = encode(&message(MessageKind::Heartbeat, Role::Master), None);
    assert_eq!(group_of(&bytes[..25]), None, "shorter than a header");
    let mut other_version = bytes.clone();
    other_version[2] = 2;
    assert_eq!(group_of(&other_version), None);
    assert_eq!(group_of(b"not a heartbeat at all, but long"), None);
}

#[test]
fn the_epoch_and_sequence_are_read_from_the_header_keyed_or_not() {
    let key = AuthKey::new(b"a shared key of 16+ bytes");
    let mut msg = message(MessageKind::Heartbeat, Role::Master);
    msg.epoch = 0x0102_0304_0506_0708;
    msg.seq = 77;
    for key in [None, Some(&key)] {
        let bytes = encode(&msg, key);
        assert_eq!(stamp_of(&bytes), Some((msg.epoch, 77)));
        assert_eq!(stamp_of(&bytes[..25]), None, "shorter than a header");
    }
    assert_eq!(stamp_of(b"not a heartbeat at all, but long"), None);
}
