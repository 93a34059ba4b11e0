//! What the fault tests share: the two-node scenario they start from and a fault at a second.

use failover_sim::scenario::{FaultSpec, ScenarioBuilder};
use failover_sim::Scenario;
use std::time::Duration;

/// Master (200) and backup (100) on a public and a direct segment, one address.
pub fn pair(duration: u64) -> ScenarioBuilder {
    Scenario::builder("pair", Duration::from_secs(duration))
        .segment("public")
        .segment("direct")
        .node("master", 200)
        .node("backup", 100)
        .vip("192.0.2.100")
}

/// A fault of `kind` at second `at`, the rest of it left to the caller.
pub fn fault(at: u64, kind: &str) -> FaultSpec {
    FaultSpec {
        at: Duration::from_secs(at),
        kind: kind.into(),
        ..FaultSpec::default()
    }
}
