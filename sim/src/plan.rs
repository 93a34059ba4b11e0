//! What one seed makes of a scenario: the swarm's draw added to the scheduled faults, every
//! fault resolved against the topology, and every node's configuration — the plain data a
//! world runs and the checkers judge against.

use crate::check::Context;
use crate::fault::Fault;
use crate::scenario::{Scenario, ScenarioError};
use failover_core::Config;
use std::borrow::Cow;
use std::time::Duration;

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
            Cow::Owned(lasting_to_convergence(s))
        }
    }
}

/// `scenario`, made to last until its convergence can be judged: a swarm's schedule (drawn, or
/// mutated by a guided sweep) ends its faults before the last `heal` of the run, but one that
/// settles slowly — an address change refused late, its back-off lengthened by a reload of
/// `dead_after` earlier in the run — may need longer than that to converge, and the run then
/// goes on until it has had that long. (A written scenario's author chooses its length: one
/// too short for its faults is a violation, `convergence`.)
pub(crate) fn lasting_to_convergence(mut scenario: Scenario) -> Scenario {
    if !scenario.expect.converge {
        return scenario;
    }
    if let Ok(faults) = scenario.resolve_faults(&scenario.name) {
        let by = Context::new(&scenario, &faults).converge_by;
        // (to the millisecond above, as a written scenario's duration is)
        let by = Duration::from_millis(by.div_ceil(1_000_000));
        scenario.duration = scenario.duration.max(by);
    }
    scenario
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{run, Options};

    /// Two nodes for ten minutes: the backup's `dead_after` lengthened for a while early on
    /// (which lengthens the back-off a refusal may leave), and the master refused address
    /// changes until the last minute.
    const LATE_REFUSAL: &str = r#"
        name = "late-refusal"
        duration = "10m"
        [[segment]]
        name = "public"
        [[node]]
        name = "master"
        priority = 200
        [[node]]
        name = "backup"
        priority = 100
        [[vip]]
        address = "192.0.2.100"
        [[fault]]
        at = "1m"
        duration = "20s"
        kind = "reload"
        node = "backup"
        dead_after = "6s"
        [[fault]]
        at = "8m 20s"
        duration = "40s"
        kind = "address"
        node = "master"
        change = "add"
    "#;

    #[test]
    fn a_schedule_that_settles_late_runs_until_its_convergence_can_be_judged() {
        let written = Scenario::from_toml_str(LATE_REFUSAL, "late-refusal.toml").unwrap();
        let report = run(&written, 1, &Options::default()).unwrap();
        assert!(
            (report.findings.violations.iter())
                .any(|v| v.detail.contains("before the convergence deadline")),
            "a written scenario too short for its faults says so: {:?}",
            report.findings.violations
        );
        let lasting = lasting_to_convergence(written.clone());
        assert!(lasting.duration > written.duration);
        let report = run(&lasting, 1, &Options::default()).unwrap();
        assert!(
            report.findings.violations.is_empty(),
            "{:?}",
            report.findings.violations
        );
    }
}
