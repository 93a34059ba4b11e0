//! The built-in scenario suite, embedded at build time from `scenarios/suite/`.

use crate::scenario::{Scenario, ScenarioError};

include!(concat!(env!("OUT_DIR"), "/suite.rs"));

/// Every built-in scenario, parsed.
pub fn suite() -> Result<Vec<Scenario>, ScenarioError> {
    SUITE
        .iter()
        .map(|(file, text)| Scenario::from_toml_str(text, &format!("builtin:{file}")))
        .collect()
}

/// A built-in scenario by name (`master-crash`) or file name (`master-crash.toml`).
pub fn find(name: &str) -> Option<Result<Scenario, ScenarioError>> {
    let file = name.strip_suffix(".toml").unwrap_or(name);
    SUITE
        .iter()
        .find(|(f, _)| f.strip_suffix(".toml") == Some(file))
        .map(|(f, text)| Scenario::from_toml_str(text, &format!("builtin:{f}")))
}
