//! The properties the fuzz targets check, one module per target, written once for both ways
//! they run: under libFuzzer (`fuzz/fuzz_targets/`, nightly, `cargo fuzz run TARGET`) and as
//! ordinary tests on the stable toolchain that replay every checked-in corpus file and crash
//! reproducer (`tests/corpus.rs`, run by `cargo test --workspace`, so CI runs them).
//!
//! Each `check` takes the fuzzer's bytes and panics when a property does not hold. Nothing in
//! them may depend on anything but those bytes: a file in the corpus replays the same way
//! every time.
//!
//! | target | what it feeds | what must hold |
//! |---|---|---|
//! | `wire_decode` | [`wire::check`]: arbitrary datagrams to the wire decoder, and messages (heartbeats, goodbyes, votes) built from the bytes to the encoder | no panic; what decodes re-encodes to what decodes equal |
//! | `node_datagrams` | [`node::check`]: a real node in classic or quorum mode, with a key or without, arbitrary datagrams between genuine heartbeats, goodbyes and votes, timers, answers | no panic; a datagram that does not authenticate changes nothing but its drop counter |
//! | `config_toml` | [`config::check`]: `Config::from_toml_str` | no panic; what is accepted starts a node and is written back as TOML read the same |
//! | `hostconfig` | [`hostconfig::check`]: the `/etc/hostconfig` reader | no panic; an error names a line of the file, or none |
//! | `scenario` | [`scenario::check`]: `failover_sim::Scenario::from_toml_str` | no panic; what is accepted plans under any seed and is written back as a scenario read again |

pub mod config;
pub mod hostconfig;
pub mod node;
pub mod scenario;
pub mod wire;

/// What must hold of one input: panics if it does not.
pub type Property = fn(&[u8]);

/// Every target's name with its property, as `cargo fuzz` and the corpus directories name it.
pub const TARGETS: [(&str, Property); 5] = [
    ("wire_decode", wire::check),
    ("node_datagrams", node::check),
    ("config_toml", config::check),
    ("hostconfig", hostconfig::check),
    ("scenario", scenario::check),
];
