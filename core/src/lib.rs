//! The IP failover protocol, written once and driven by any engine.
//!
//! A [`Node`] is a sans-I/O state machine in the style of quinn-proto and str0m: the driver feeds
//! it datagrams, timeouts and commands, each with the time as the driver's clock sees it, and
//! drains [`Output`]s (datagrams to send, addresses to acquire or release, hooks to run,
//! notifications). Core reads no clock, opens no socket and uses no OS randomness, which is why
//! the very same code runs under the deterministic simulator and in the production daemon.

pub mod config;
pub mod hostconfig;
pub mod io;
pub mod node;
pub mod role;
pub mod time;
pub mod wire;

pub use config::{Config, ConfigError};
pub use io::{
    Command, Counters, DropReason, Event, HookEvent, HookId, HookKind, HookOutcome, HookRequest,
    Notification, Output, PathId, Transmit, VipId,
};
pub use node::Node;
pub use role::Role;
pub use time::Instant;
