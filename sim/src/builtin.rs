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

/// Scenarios named on a command line, with what was passed over and why.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Each scenario with the name a replay command can use to find it again (its file).
    pub scenarios: Vec<(String, Scenario)>,
    /// TOML files in the directories given that are not scenarios (a `Cargo.toml`, a CI
    /// file): skipped, each with a note saying so.
    pub skipped: Vec<String>,
}

/// Scenarios from files, built-in names (as [`resolve`] finds them: a file first), and
/// directories searched recursively for `*.toml` (the built-in suite when `paths` is empty).
/// A file named on its own must be a scenario; a TOML file found in a directory that does not
/// look like one is skipped with a note, not an error.
pub fn load(paths: &[PathBuf]) -> Result<Loaded, String> {
    if paths.is_empty() {
        let suite = suite().map_err(|e| e.to_string())?;
        return Ok(Loaded {
            scenarios: suite.into_iter().map(|s| (s.name.clone(), s)).collect(),
            skipped: Vec::new(),
        });
    }
    let mut loaded = Loaded::default();
    for p in paths {
        if !p.is_dir() {
            let scenario = match p.to_str() {
                Some(name) => resolve(name)?,
                None => Scenario::load(p).map_err(|e| e.to_string())?,
            };
            loaded.scenarios.push((p.display().to_string(), scenario));
            continue;
        }
        let mut found = Vec::new();
        toml_files(p, &mut found)?;
        found.sort();
        let before = loaded.scenarios.len();
        for f in found {
            let text = std::fs::read_to_string(&f).map_err(|e| format!("{}: {e}", f.display()))?;
            if !Scenario::looks_like_one(&text) {
                loaded
                    .skipped
                    .push(format!("{}: not a scenario, skipped", f.display()));
                continue;
            }
            let scenario = Scenario::from_toml_str(&text, &f.display().to_string())
                .map_err(|e| e.to_string())?;
            loaded.scenarios.push((f.display().to_string(), scenario));
        }
        if loaded.scenarios.len() == before {
            return Err(format!("{}: no scenario files (*.toml) in it", p.display()));
        }
    }
    Ok(loaded)
}

/// Every `*.toml` under `dir`, its subdirectories included.
fn toml_files(dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        if path.is_dir() {
            toml_files(&path, found)?;
        } else if path.extension().is_some_and(|x| x == "toml") {
            found.push(path);
        }
    }
    Ok(())
}
