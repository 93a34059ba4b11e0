//! `scenario`: failover-sim's scenario files (`Scenario::from_toml_str`).

use failover_sim::{Plan, Scenario, ScenarioError};

/// Reads `data` (as UTF-8, invalid sequences replaced) as a scenario file: an error names the
/// file; what is accepted plans under any seed (`failover-sim run` plans every seed before it
/// runs it) and, written back as `shrink` and `--json` write scenarios, reads again.
pub fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = Scenario::looks_like_one(&text);
    match Scenario::from_toml_str(&text, "fuzz.toml") {
        Ok(scenario) => {
            for seed in [0, 1, u64::MAX] {
                if let Err(e) = Plan::new(&scenario, seed) {
                    assert!(e.to_string().starts_with(&scenario.name), "{e}");
                }
            }
            let written = toml::to_string(&scenario).expect("a scenario serializes");
            if let Err(e) = Scenario::from_toml_str(&written, "written") {
                panic!("a scenario written back does not read: {e}\n{written}");
            }
        }
        Err(
            ScenarioError::Parse { source_name, .. } | ScenarioError::Invalid { source_name, .. },
        ) => {
            assert_eq!(source_name, "fuzz.toml");
        }
        Err(e @ ScenarioError::Io { .. }) => panic!("no file was read: {e}"),
    }
}
