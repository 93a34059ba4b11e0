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
        let unsupported = (engines.iter()).find_map(|&e| engine::supports(e, &s).err());
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
                if let Some(arp) = &run.arp {
                    println!(
                        "           ARP: {} of {} requests answered, {} by two MACs at once",
                        arp.answered, arp.asked, arp.answered_twice
                    );
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

/// One engine's figures over many seeds of a scenario.
struct Figures {
    latencies: Vec<u64>,
    unavailable: Vec<u64>,
}

impl Figures {
    fn of(engine: Engine, scenario: &Scenario, seeds: u64) -> Result<Figures, String> {
        let mut f = Figures {
            latencies: Vec::new(),
            unavailable: Vec::new(),
        };
        for seed in 1..=seeds {
            let run = engine::run(engine, scenario, seed)?;
            f.latencies.extend(&run.findings.figures.failover_latencies);
            f.unavailable.push(run.findings.figures.unavailable);
        }
        f.latencies.sort_unstable();
        Ok(f)
    }

    /// (name, value) of each figure, `None` where there is nothing to measure.
    fn rows(&self) -> [(&'static str, Option<u64>); 3] {
        let pct = |p: f64| {
            let n = self.latencies.len();
            (n > 0).then(|| self.latencies[((n as f64 * p).ceil() as usize).clamp(1, n) - 1])
        };
        let mean =
            (self.unavailable.iter().sum::<u64>()).checked_div(self.unavailable.len() as u64);
        [
            ("failover p50", pct(0.5)),
            ("failover p90", pct(0.9)),
            ("unavailable (mean)", mean),
        ]
    }
}

pub fn fidelity(paths: &[PathBuf], seeds: u64, engines: &[Engine]) -> ExitCode {
    let scenarios = match portable(paths, engines) {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    print!("{:<36} {:<20}", "scenario", "figure");
    for e in engines {
        print!(" {:>11}", e.name());
    }
    println!("  difference");
    let mut far = 0;
    for scenario in &scenarios {
        let mut all = Vec::new();
        for &engine in engines {
            match Figures::of(engine, scenario, seeds) {
                Ok(f) => all.push(f.rows()),
                Err(e) => return usage_error(e),
            }
        }
        for k in 0..3 {
            let name = all[0][k].0;
            let values: Vec<Option<u64>> = all.iter().map(|rows| rows[k].1).collect();
            if values.iter().all(Option::is_none) {
                continue;
            }
            print!("{:<36} {:<20}", scenario.name, name);
            for v in &values {
                print!(" {:>11}", ms(*v));
            }
            let diffs: Vec<String> = (values[1..].iter())
                .map(|v| match (values[0], *v) {
                    (Some(a), Some(b)) if a > 0 => {
                        let d = (b as f64 - a as f64) / a as f64 * 100.0;
                        let mark = if d.abs() > 20.0 { " !" } else { "" };
                        far += usize::from(d.abs() > 20.0);
                        format!("{d:+.0}%{mark}")
                    }
                    _ => "-".into(),
                })
                .collect();
            println!("  {}", diffs.join(" "));
        }
    }
    println!(
        "\n{} scenario(s), {seeds} seed(s) each per engine; {far} figure(s) more than 20 % apart (marked !)",
        scenarios.len()
    );
    ExitCode::SUCCESS
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
