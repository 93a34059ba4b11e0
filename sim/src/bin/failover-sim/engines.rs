//! The same scenarios under every engine: `compare`, `bench-engines`, and `engine-acts`, how
//! a normal build runs the madsim build.

use crate::usage_error;
use failover_sim::engine::{self, Engine, EngineRun, Workload};
use failover_sim::report::ms;
use failover_sim::{builtin, Scenario};
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// The scenarios to compare: those of the built-in suite that every engine can run, or those
/// given (an error names one that an engine cannot run).
fn portable(paths: &[PathBuf], engines: &[Engine]) -> Result<Vec<Scenario>, String> {
    let mut out = Vec::new();
    for (_, s) in builtin::load(paths)?.scenarios {
        let unsupported = (engines.iter()).find_map(|&e| engine::workload_for(e, &s).err());
        match unsupported {
            None => out.push(s),
            Some(_) if paths.is_empty() => {}
            Some(why) => return Err(why),
        }
    }
    Ok(out)
}

fn verdict(run: &EngineRun) -> String {
    match run.verdict().as_slice() {
        [] => "pass".into(),
        broken => format!("FAIL {}", broken.join(",")),
    }
}

pub fn compare(paths: &[PathBuf], seeds: u64, engines: &[Engine]) -> ExitCode {
    let scenarios = match portable(paths, engines) {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    let mut agree = true;
    for scenario in &scenarios {
        for seed in 1..=seeds {
            println!("{} (seed {seed})", scenario.name);
            let mut first: Option<(Vec<&str>, String)> = None;
            for &engine in engines {
                let run = match engine::run(engine, scenario, seed) {
                    Ok(r) => r,
                    Err(e) => return usage_error(e),
                };
                let sequence = engine::ownership(scenario, &run.acts);
                let latencies: Vec<String> = (run.findings.figures.failover_latencies.iter())
                    .map(|&l| ms(Some(l)))
                    .collect();
                println!(
                    "  {:<8} {:<6} {:<44} failover {}",
                    engine.name(),
                    verdict(&run),
                    sequence,
                    if latencies.is_empty() {
                        "-".into()
                    } else {
                        latencies.join(" ")
                    }
                );
                for v in &run.findings.violations {
                    println!("           {}: {}", v.invariant, v.detail);
                }
                let key = (run.verdict(), sequence);
                agree &=
                    run.findings.violations.is_empty() && *first.get_or_insert(key.clone()) == key;
            }
        }
    }
    if agree {
        println!(
            "every engine passed {} scenario(s) with the same verdicts and ownership sequences",
            scenarios.len()
        );
        ExitCode::SUCCESS
    } else {
        println!("ENGINES DISAGREE (or a check failed): see above");
        ExitCode::FAILURE
    }
}

/// The fastest of a few runs for quick engines (one for slow ones), to damp the noise of a
/// shared machine without spending minutes.
fn best_of(engine: Engine, scenario: &Scenario) -> Result<EngineRun, String> {
    let mut best = engine::run(engine, scenario, 1)?;
    let tries = match best.wall {
        w if w < Duration::from_millis(100) => 9,
        w if w < Duration::from_secs(1) => 2,
        _ => 0,
    };
    for _ in 0..tries {
        let r = engine::run(engine, scenario, 1)?;
        if r.wall < best.wall {
            best = r;
        }
    }
    Ok(best)
}

pub fn bench(engines: &[Engine]) -> ExitCode {
    let workloads = match builtin::bench() {
        Ok(w) => w,
        Err(e) => return usage_error(e),
    };
    println!(
        "{:<16} {:<8} {:>14} {:>10}  {:<7}  ownership",
        "workload", "engine", "wall/sim-hour", "vs sim", "verdict"
    );
    let mut agree = true;
    for scenario in &workloads {
        let mut rows = Vec::new();
        for &engine in engines {
            let run = match best_of(engine, scenario) {
                Ok(r) => r,
                Err(e) => return usage_error(e),
            };
            let per_hour = run.wall.mul_f64(3600.0 / scenario.duration.as_secs_f64());
            rows.push((engine, per_hour, run));
        }
        let sim = rows.iter().find(|r| r.0 == Engine::Sim).map(|r| r.1);
        let reference = (
            rows[0].2.verdict(),
            engine::ownership(scenario, &rows[0].2.acts),
        );
        for (engine, per_hour, run) in &rows {
            let ratio = sim.map_or("-".into(), |s| {
                format!("{:.0}×", per_hour.as_secs_f64() / s.as_secs_f64().max(1e-9))
            });
            let sequence = engine::ownership(scenario, &run.acts);
            println!(
                "{:<16} {:<8} {:>14} {:>10}  {:<7}  {sequence}",
                scenario.name,
                engine.name(),
                format!("{:.4} s", per_hour.as_secs_f64()),
                ratio,
                verdict(run),
            );
            agree &= run.findings.violations.is_empty() && (run.verdict(), sequence) == reference;
        }
    }
    if agree {
        ExitCode::SUCCESS
    } else {
        println!("ENGINES DISAGREE (or a check failed)");
        ExitCode::FAILURE
    }
}

pub fn acts(engine: Engine, seed: u64) -> ExitCode {
    let mut input = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut input) {
        return usage_error(format!("standard input: {e}"));
    }
    let produced = serde_json::from_slice::<Workload>(&input)
        .map_err(|e| format!("standard input: not a workload: {e}"))
        .and_then(|w| engine::produce(engine, &w, seed));
    match produced {
        Ok(p) => {
            println!("{}", serde_json::to_string(&p).expect("acts serialize"));
            ExitCode::SUCCESS
        }
        Err(e) => usage_error(e),
    }
}
