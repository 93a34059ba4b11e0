//! The deterministic simulator: the real failover protocol on a simulated network with
//! injected faults, judged by invariant checkers, reproducible from a seed.
//!
//! [`run`] plays one [`Scenario`] under one seed and returns a [`RunReport`]: figures,
//! violations and a trace whose hash is the same every time the seed is replayed. [`engine`]
//! runs the same scenarios' engine-neutral part under turmoil and madsim, judged by the same
//! checkers.

//!
//! The modules, in the order data flows through them:
//!
//! | module | what |
//! |---|---|
//! | [`topology`], [`fault`], [`record`], [`rng`] | the shared vocabulary: addresses and parties, resolved faults, what a run records, random streams |
//! | [`scenario`] | the file format: plain data, checked whole when read |
//! | [`swarm`] | a seed's draw of faults within a scenario's bounds |
//! | [`plan`] | what one seed makes of a scenario: faults resolved, configurations |
//! | [`net`], [`queue`], [`world`] | the network, the event queue, and the loop that runs a plan |
//! | [`check`] | the invariant checkers, which see only the record |
//! | [`trace`], [`timeline`], [`report`] | what a run looks like to a person |
//! | [`sweep`], [`results`], [`shrink`] | many seeds, their results, and the smallest failing case |
//! | [`engine`] | the same scenarios under turmoil and madsim, judged by the same checkers |
//! | [`builtin`] | the scenarios built into the binary |

pub mod builtin;
pub mod check;
pub mod engine;
pub mod fault;
pub mod net;
pub mod plan;
pub mod queue;
pub mod record;
pub mod report;
pub mod results;
pub mod rng;
pub mod scenario;
pub mod shrink;
pub mod swarm;
pub mod sweep;
pub mod timeline;
pub mod topology;
pub mod trace;
pub mod world;

pub use plan::Plan;
pub use scenario::{Scenario, ScenarioError};
pub use world::{run, run_plan, Options, RunReport};
