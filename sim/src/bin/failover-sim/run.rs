//! `failover-sim run`: every scenario under many seeds, one table row each; and, for CI, the
//! same as JSON lines (a section per scenario, as `sweep --json` writes) and JUnit XML (a test
//! case per scenario).

use crate::usage_error;
use failover_sim::builtin;
use failover_sim::engine::{self, Engine};
use failover_sim::report::{self, Summary};
use failover_sim::results::{self, CoverageLine, Header, Line, RunCase, SeedLine};
use failover_sim::sweep::{Outcome, Seeds, Shard};
use failover_sim::Scenario;
use std::io::{IsTerminal, Write};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// What `run` was asked.
pub struct Args {
    pub paths: Vec<PathBuf>,
    pub seeds: RangeInclusive<u64>,
    pub engine: Engine,
    pub json: Option<PathBuf>,
    pub junit: Option<PathBuf>,
}

/// One scenario's results.
struct Ran {
    header: Header,
    seeds: Vec<SeedLine>,
    time: Duration,
}

/// A scenario the engine cannot run.
struct Skipped {
    scenario: String,
    source: String,
    why: String,
}

/// One seed under `engine`: the simulator's runs have a trace hash, the other engines' none.
fn one(engine: Engine, scenario: &Scenario, seed: u64) -> Result<Outcome, String> {
    if engine == Engine::Sim {
        let report =
            failover_sim::run(scenario, seed, &Default::default()).map_err(|e| e.to_string())?;
        return Ok(Outcome {
            seed,
            hash: report.hash(),
            violations: report.findings.violations,
            figures: report.findings.figures,
            coverage: report.coverage,
        });
    }
    let run = engine::run(engine, scenario, seed)?;
    Ok(Outcome {
        seed,
        hash: String::new(),
        violations: run.findings.violations,
        figures: run.findings.figures,
        coverage: Default::default(),
    })
}

pub fn main(args: Args) -> ExitCode {
    let Args {
        paths,
        seeds,
        engine,
        json,
        junit,
    } = args;
    let loaded = match builtin::load(&paths) {
        Ok(loaded) => loaded,
        Err(e) => return usage_error(e),
    };
    for note in &loaded.skipped {
        eprintln!("note: {note}");
    }
    let scenarios = loaded.scenarios;
    let range = Seeds {
        start: *seeds.start(),
        end: seeds.end() + 1,
    };
    let started = Instant::now();
    let progress = std::io::stderr().is_terminal();
    println!("{}", report::header());
    let mut ran: Vec<Ran> = Vec::new();
    let mut skipped = Vec::new();
    for (k, (id, scenario)) in scenarios.iter().enumerate() {
        if engine != Engine::Sim {
            if let Err(why) = engine::supports(engine, scenario) {
                skipped.push(Skipped {
                    scenario: scenario.name.clone(),
                    source: id.clone(),
                    why,
                });
                continue;
            }
        }
        if progress {
            eprint!("\r[{}/{}] {} ...", k + 1, scenarios.len(), scenario.name);
            let _ = std::io::stderr().flush();
        }
        let mut header = Header::new(scenario, id, range, Shard::default());
        header.engine = engine.name().to_string();
        let mut summary = Summary::new(&scenario.name);
        let mut lines = Vec::new();
        let began = Instant::now();
        for seed in seeds.clone() {
            match one(engine, scenario, seed) {
                Ok(o) => {
                    let first = o.violations.first();
                    summary.add(
                        seed,
                        &o.figures,
                        first.map(|v| (v.invariant, v.detail.as_str())),
                    );
                    lines.push(SeedLine::new(&o));
                }
                Err(e) => {
                    if progress {
                        eprintln!();
                    }
                    return usage_error(e);
                }
            }
        }
        if progress {
            eprint!("\r\x1b[K");
        }
        println!("{}", summary.row());
        ran.push(Ran {
            header,
            seeds: lines,
            time: began.elapsed(),
        });
    }
    let runs: usize = ran.iter().map(|r| r.seeds.len()).sum();
    let failures: Vec<(&Header, &SeedLine)> = (ran.iter())
        .flat_map(|r| (r.seeds.iter().filter(|s| !s.passed())).map(move |s| (&r.header, s)))
        .collect();
    println!(
        "\n{runs} runs of {} scenario(s) under {} in {:.2}s wall time; {} failed",
        ran.len(),
        engine.name(),
        started.elapsed().as_secs_f64(),
        failures.len()
    );
    if !skipped.is_empty() {
        println!(
            "\nnot run under {} (engine-neutral scenarios only):",
            engine.name()
        );
        for s in &skipped {
            println!("  {}", s.why);
        }
    }
    if let Err(e) = write_results(&ran, &skipped, engine, json.as_deref(), junit.as_deref()) {
        return usage_error(e);
    }
    if ran.is_empty() {
        return usage_error(format!("no scenario can run under {}", engine.name()));
    }
    if failures.is_empty() {
        return ExitCode::SUCCESS;
    }
    println!("\nfailures (replay each with the command shown):");
    for (header, s) in &failures {
        let v = &s.violations[0];
        println!(
            "  {}: {}: {}\n    {}",
            header.scenario,
            v.invariant,
            v.detail,
            header.replay(s.seed)
        );
    }
    ExitCode::FAILURE
}

/// Writes the JSON lines and the JUnit XML asked for.
fn write_results(
    ran: &[Ran],
    skipped: &[Skipped],
    engine: Engine,
    json: Option<&Path>,
    junit: Option<&Path>,
) -> Result<(), String> {
    let write = |path: &Path, text: String| {
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
    };
    if let Some(path) = json {
        let mut text = String::new();
        for r in ran {
            // As `sweep` writes it: the section ends with what its seeds reached (under the
            // simulator; the other engines record none).
            let reached = (r.seeds.iter().filter_map(SeedLine::coverage)).reduce(|mut all, c| {
                all.union(&c);
                all
            });
            let lines = std::iter::once(Line::Sweep(r.header.clone()))
                .chain(r.seeds.iter().cloned().map(Line::Seed))
                .chain(reached.map(|c| Line::Coverage(CoverageLine::of(&c))));
            for line in lines {
                text += &serde_json::to_string(&line).expect("lines serialize");
                text.push('\n');
            }
        }
        write(path, text)?;
    }
    if let Some(path) = junit {
        let cases: Vec<RunCase> = (ran.iter())
            .map(|r| RunCase::Ran {
                header: &r.header,
                seeds: &r.seeds,
                time: r.time,
            })
            .chain(skipped.iter().map(|s| RunCase::Skipped {
                scenario: &s.scenario,
                source: &s.source,
                why: &s.why,
            }))
            .collect();
        write(path, results::junit_run(engine.name(), &cases))?;
    }
    Ok(())
}
