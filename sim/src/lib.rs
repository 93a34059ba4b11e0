//! The deterministic simulator: the real failover protocol on a simulated network with
//! injected faults, judged by invariant checkers, reproducible from a seed.
//!
//! [`run`] plays one [`Scenario`] under one seed and returns a [`RunReport`]: figures,
//! violations and a trace whose hash is the same every time the seed is replayed. [`engine`]
//! runs the same scenarios' engine-neutral part under turmoil and madsim, judged by the same
//! checkers.

pub mod builtin;
pub mod check;
pub mod engine;
pub mod net;
pub mod queue;
pub mod report;
pub mod results;
pub mod scenario;
pub mod shrink;
pub mod swarm;
pub mod sweep;
pub mod timeline;
pub mod trace;
pub mod world;

pub use scenario::{Scenario, ScenarioError};
pub use world::{run, Options, RunReport};
