//! What one seed makes of a scenario: the swarm's draw added to the scheduled faults, every
//! fault resolved against the topology, and every node's configuration — the plain data a
//! world runs and the checkers judge against.

use crate::fault::Fault;
use crate::scenario::{Scenario, ScenarioError};
use failover_core::Config;
use std::borrow::Cow;

/// One seed's run of a scenario, before it runs.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The scenario with the seed's swarm draw as scheduled faults (and no swarm left).
    pub scenario: Scenario,
    /// The seed.
    pub seed: u64,
    /// The faults, resolved, in the order written (flaps expanded).
    pub faults: Vec<Fault>,
    /// Each node's core configuration.
    pub configs: Vec<Config>,
}

impl Plan {
    /// The plan of `scenario` under `seed`; an error names the field a draw made invalid.
    pub fn new(scenario: &Scenario, seed: u64) -> Result<Plan, ScenarioError> {
        let scenario = instantiate(scenario, seed).into_owned();
        let faults = scenario.resolve_faults(&scenario.name)?;
        let configs = scenario.sim_configs(&scenario.name)?;
        Ok(Plan {
            scenario,
            seed,
            faults,
            configs,
        })
    }
}

/// The scenario seed `seed` runs: in swarm mode, its scheduled faults plus those the seed
/// draws, and no swarm left; otherwise the scenario itself.
pub fn instantiate(scenario: &Scenario, seed: u64) -> Cow<'_, Scenario> {
    match &scenario.swarm {
        None => Cow::Borrowed(scenario),
        Some(swarm) => {
            let mut s = scenario.clone();
            s.faults.extend(swarm.draw(scenario, seed).faults);
            s.swarm = None;
            Cow::Owned(s)
        }
    }
}
