//! The built-in scenarios, embedded at build time: the suite (`scenarios/suite/`), the
//! benchmark workloads (`scenarios/bench/`) and the hunts (`scenarios/hunt/`, scenarios a
//! sweep must find violations in); and how the command line finds a scenario by name or file.

use crate::scenario::{Scenario, ScenarioError};
use std::path::{Path, PathBuf};

include!(concat!(env!("OUT_DIR"), "/builtin.rs"));

fn parse(set: &[(&str, &str)]) -> Result<Vec<Scenario>, ScenarioError> {
    set.iter()
        .map(|(file, text)| Scenario::from_toml_str(text, &format!("builtin:{file}")))
        .collect()
}

/// Every scenario of the built-in suite, parsed.
pub fn suite() -> Result<Vec<Scenario>, ScenarioError> {
    parse(SUITE)
}

/// Every benchmark workload, parsed.
pub fn bench() -> Result<Vec<Scenario>, ScenarioError> {
    parse(BENCH)
}

/// A built-in scenario (suite, benchmark or hunt) by name (`master-crash`) or file name
/// (`master-crash.toml`).
pub fn find(name: &str) -> Option<Result<Scenario, ScenarioError>> {
    let file = name.strip_suffix(".toml").unwrap_or(name);
    SUITE
        .iter()
        .chain(BENCH)
        .chain(HUNT)
        .find(|(f, _)| f.strip_suffix(".toml") == Some(file))
        .map(|(f, text)| Scenario::from_toml_str(text, &format!("builtin:{f}")))
}

/// A scenario named on the command line: a file if one exists by that name, else a built-in
/// one. The error lists the built-in names.
pub fn resolve(name: &str) -> Result<Scenario, String> {
    if Path::new(name).exists() {
        return Scenario::load(Path::new(name)).map_err(|e| e.to_string());
    }
    match find(name) {
        Some(s) => s.map_err(|e| e.to_string()),
        None => {
            let names: Vec<&str> = (SUITE.iter().chain(BENCH).chain(HUNT))
                .map(|(f, _)| f.trim_end_matches(".toml"))
                .collect();
            Err(format!(
                "`{name}` is neither a file nor a built-in scenario; built-in ones are: {}",
                names.join(", ")
            ))
        }
    }
}

/// Scenarios from files and directories of `*.toml` (the built-in suite when `paths` is
/// empty), each with the name a replay command can use to find it again.
pub fn load(paths: &[PathBuf]) -> Result<Vec<(String, Scenario)>, String> {
    if paths.is_empty() {
        let suite = suite().map_err(|e| e.to_string())?;
        return Ok(suite.into_iter().map(|s| (s.name.clone(), s)).collect());
    }
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| format!("{}: {e}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "toml"))
                .collect();
            found.sort();
            if found.is_empty() {
                return Err(format!("{}: no *.toml scenario files", p.display()));
            }
            files.extend(found);
        } else {
            files.push(p.clone());
        }
    }
    files
        .iter()
        .map(|f| {
            Scenario::load(f)
                .map(|s| (f.display().to_string(), s))
                .map_err(|e| e.to_string())
        })
        .collect()
}
