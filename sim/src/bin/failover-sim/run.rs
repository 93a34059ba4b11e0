//! `failover-sim run`: every scenario under many seeds, one table row each.

use crate::usage_error;
use failover_sim::builtin;
use failover_sim::engine::{self, Engine};
use failover_sim::report::{self, Summary};
use std::io::{IsTerminal, Write};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::process::ExitCode;

pub fn main(paths: &[PathBuf], seeds: RangeInclusive<u64>, engine: Engine) -> ExitCode {
    let loaded = match builtin::load(paths) {
        Ok(loaded) => loaded,
        Err(e) => return usage_error(e),
    };
    for note in &loaded.skipped {
        eprintln!("note: {note}");
    }
    let scenarios = loaded.scenarios;
    let started = std::time::Instant::now();
    let progress = std::io::stderr().is_terminal();
    println!("{}", report::header());
    let mut failures = Vec::new();
    let mut skipped = Vec::new();
    let mut runs = 0;
    for (k, (id, scenario)) in scenarios.iter().enumerate() {
        if engine != Engine::Sim {
            if let Err(why) = engine::supports(engine, scenario) {
                skipped.push(why);
                continue;
            }
        }
        if progress {
            eprint!("\r[{}/{}] {} ...", k + 1, scenarios.len(), scenario.name);
            let _ = std::io::stderr().flush();
        }
        let mut summary = Summary::new(&scenario.name);
        for seed in seeds.clone() {
            match engine::run(engine, scenario, seed) {
                Ok(r) => summary.add_findings(seed, &r.findings),
                Err(e) => {
                    if progress {
                        eprintln!();
                    }
                    return usage_error(e);
                }
            }
            runs += 1;
        }
        if progress {
            eprint!("\r\x1b[K");
        }
        println!("{}", summary.row());
        failures.extend(
            summary
                .failures
                .iter()
                .map(|(seed, why)| (id.clone(), *seed, why.clone())),
        );
    }
    let ran = scenarios.len() - skipped.len();
    println!(
        "\n{runs} runs of {ran} scenario(s) under {} in {:.2}s wall time; {} failed",
        engine.name(),
        started.elapsed().as_secs_f64(),
        failures.len()
    );
    if !skipped.is_empty() {
        println!(
            "\nnot run under {} (engine-neutral scenarios only):",
            engine.name()
        );
        for why in &skipped {
            println!("  {why}");
        }
    }
    if ran == 0 {
        return usage_error(format!("no scenario can run under {}", engine.name()));
    }
    if failures.is_empty() {
        return ExitCode::SUCCESS;
    }
    let flag = match engine {
        Engine::Sim => String::new(),
        other => format!(" --engine {}", other.name()),
    };
    println!("\nfailures (replay each with the command shown):");
    for (id, seed, why) in &failures {
        match engine {
            Engine::Sim => println!("  {why}\n    failover-sim replay {id} --seed {seed} --trace"),
            _ => println!("  {why}\n    failover-sim run {id} --seed {seed}{flag}"),
        }
    }
    ExitCode::FAILURE
}
