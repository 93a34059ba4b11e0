//! The record of a run: readable records of what matters, and a hash of everything, datagrams
//! included. Same seed, same records, same hash — byte for byte.

use std::fmt;

/// A stable 64-bit hash built by hand (std's `DefaultHasher` may change between Rust versions,
/// and a trace hash printed today must still match next year's replay).
#[derive(Clone, Copy, Debug)]
pub struct TraceHash(u64);

impl Default for TraceHash {
    fn default() -> Self {
        TraceHash(0x6a09_e667_f3bc_c908)
    }
}

impl TraceHash {
    /// Folds one word in.
    #[inline]
    pub fn word(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    /// Folds bytes in, eight at a time (little-endian words; the last one padded with zeros).
    #[inline]
    pub fn bytes(&mut self, bytes: &[u8]) {
        self.word(bytes.len() as u64);
        // Every datagram of a run comes through here: whole words straight from the slice,
        // only the tail copied.
        let mut words = bytes.chunks_exact(8);
        for chunk in &mut words {
            self.word(u64::from_le_bytes(chunk.try_into().expect("eight bytes")));
        }
        let tail = words.remainder();
        if !tail.is_empty() {
            let mut w = [0u8; 8];
            w[..tail.len()].copy_from_slice(tail);
            self.word(u64::from_le_bytes(w));
        }
    }

    /// The final value, mixed once more so close traces give distant hashes.
    pub fn finish(self) -> u64 {
        let mut x = self.0;
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x
    }
}

/// One readable trace line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Simulated time, nanoseconds.
    pub at: u64,
    /// The node it concerns, by name, or "-" for the network and the client.
    pub who: String,
    /// What happened.
    pub what: String,
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.at / 1_000_000;
        write!(
            f,
            "{:>5}.{:03}s  {:<8} {}",
            ms / 1000,
            ms % 1000,
            self.who,
            self.what
        )
    }
}

/// Records and hash of one run.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    /// Readable records, in order.
    pub records: Vec<Record>,
    hash: TraceHash,
    /// Also keep a record per datagram (off by default: an hour is ~100k of them).
    keep_datagrams: bool,
    /// Keep no readable records at all, only the hash.
    hash_only: bool,
}

impl Trace {
    /// An empty trace; `keep_datagrams` keeps a record per datagram too.
    pub fn new(keep_datagrams: bool) -> Trace {
        Trace {
            keep_datagrams,
            ..Trace::default()
        }
    }

    /// A trace that keeps only its hash: all a sweep reads of a run, and a run writes some
    /// hundred records it would drop again.
    pub fn hash_only() -> Trace {
        Trace {
            hash_only: true,
            ..Trace::default()
        }
    }

    /// Adds a readable record (and hashes it).
    pub fn record(&mut self, at: u64, who: &str, what: String) {
        self.hash.word(at);
        self.hash.bytes(who.as_bytes());
        self.hash.bytes(what.as_bytes());
        if self.hash_only {
            return;
        }
        self.records.push(Record {
            at,
            who: who.to_string(),
            what,
        });
    }

    /// Hashes a datagram event; a record is kept only when asked.
    #[inline]
    pub fn datagram(
        &mut self,
        at: u64,
        tag: u64,
        payload: &[u8],
        describe: impl FnOnce() -> (String, String),
    ) {
        self.hash.word(at);
        self.hash.word(tag);
        self.hash.bytes(payload);
        if self.keep_datagrams {
            let (who, what) = describe();
            self.records.push(Record { at, who, what });
        }
    }

    /// Hashes the delivery of a datagram already hashed with its bytes when it was sent; a
    /// record is kept only when asked.
    #[inline]
    pub fn delivery(&mut self, at: u64, tag: u64, describe: impl FnOnce() -> (String, String)) {
        self.hash.word(at);
        self.hash.word(tag);
        if self.keep_datagrams {
            let (who, what) = describe();
            self.records.push(Record { at, who, what });
        }
    }

    /// The hash so far, as printed: 16 hex digits.
    pub fn hash_hex(&self) -> String {
        format!("{:016x}", self.hash.finish())
    }
}
