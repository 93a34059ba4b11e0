//! The failover protocol under madsim: the unchanged core [`failover_core::Node`] on madsim
//! nodes, with madsim's endpoints, clock and network faults.
//!
//! A second, independently written simulator running the very same node is what makes a
//! verdict a property of the protocol rather than of our simulator. madsim replaces the clock,
//! the RNG and the network of the whole binary, and does so only when built with
//! `RUSTFLAGS="--cfg madsim"` (in its own target directory, see `sim/ENGINES.md`); a plain
//! build of this crate compiles the shared workload types and nothing that could pretend to
//! simulate.

#[path = "../../src/engine.rs"]
pub mod engine;
#[cfg(madsim)]
mod host;
#[cfg(madsim)]
mod runner;

#[cfg(madsim)]
pub use runner::{run, Options};
