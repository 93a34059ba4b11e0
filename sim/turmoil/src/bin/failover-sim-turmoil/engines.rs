//! Every engine behind one signature, and the side-by-side reports.

use failover_turmoil::engine::cli::{show_latency, workloads, RunArgs};
use failover_turmoil::engine::{
    builtin, judge, latencies, ownership_sequence, RunRecord, Workload,
};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// How to reach the engines that do not run in this process.
#[derive(Debug, clap::Args)]
pub struct EngineArgs {
    /// The `failover-sim-madsim` binary (a `--cfg madsim` build, made by `sim/engines.sh`).
    #[arg(long, default_value = "target/madsim/release/failover-sim-madsim")]
    madsim: PathBuf,
}

type Engine<'a> = (
    &'static str,
    Box<dyn Fn(&Workload, u64) -> Result<RunRecord, String> + 'a>,
);

/// turmoil in this process, with the benchmark's 1 ms tick.
pub fn turmoil(workload: &Workload, seed: u64) -> Result<RunRecord, String> {
    let start = Instant::now();
    let trace = failover_turmoil::run(workload, seed, Default::default())?;
    Ok(RunRecord {
        trace,
        wall: start.elapsed(),
    })
}

impl EngineArgs {
    fn engines(&self) -> Vec<Engine<'_>> {
        vec![
            ("turmoil", Box::new(turmoil)),
            ("madsim", Box::new(|w, seed| self.madsim(w, seed))),
        ]
    }

    /// madsim in its own process: its build replaces the clock and RNG of the whole binary.
    fn madsim(&self, workload: &Workload, seed: u64) -> Result<RunRecord, String> {
        let out = std::process::Command::new(&self.madsim)
            .args(["trace", &workload.name, "--seed", &seed.to_string()])
            .output()
            .map_err(|e| {
                format!(
                    "{}: {e} (build it with sim/engines.sh)",
                    self.madsim.display()
                )
            })?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        RunRecord::from_lines(&String::from_utf8_lossy(&out.stdout))
    }

    /// Prints each workload's verdict, ownership and fault latencies per engine; `Ok(false)`
    /// when the engines disagree on a verdict or an ownership sequence, or a check fails.
    pub fn compare(&self, args: &RunArgs) -> Result<bool, String> {
        let mut agree = true;
        for w in workloads(&args.workloads)? {
            for seed in args.seed..args.seed + args.seeds {
                println!("{} (seed {seed})", w.name);
                let mut first = None;
                for (name, engine) in self.engines() {
                    let r = engine(&w, seed)?;
                    let verdict = judge(&w, &r.trace);
                    let seq = ownership_sequence(&r.trace);
                    let lat: Vec<String> = latencies(&w, &r.trace)
                        .into_iter()
                        .map(|(f, l)| format!("{f} {}", show_latency(l)))
                        .collect();
                    println!(
                        "  {name:<8} {:<5} {:<40} {}",
                        if verdict.passed() { "pass" } else { "FAIL" },
                        w.render(seq.iter().copied()),
                        lat.join(", ")
                    );
                    if !verdict.passed() {
                        print!("{verdict}");
                    }
                    let key = (verdict.outcome(), seq);
                    agree &= verdict.passed() && *first.get_or_insert_with(|| key.clone()) == key;
                }
            }
        }
        println!(
            "{}",
            if agree {
                "every engine reached the same verdicts and ownership sequences"
            } else {
                "ENGINES DISAGREE"
            }
        );
        Ok(agree)
    }

    /// Times the benchmark hours under every engine and prints wall time per simulated hour
    /// and the ratios to the fastest engine.
    pub fn bench(&self) -> Result<bool, String> {
        let mut agree = true;
        println!(
            "{:<16} {:<8} {:>14} {:>10}  verdict  ownership",
            "workload", "engine", "wall/sim-hour", "ratio"
        );
        for w in [builtin::hour(false), builtin::hour(true)] {
            let mut rows = Vec::new();
            for (name, engine) in self.engines() {
                let r = best_of(&*engine, &w)?;
                let per_hour = r.wall.mul_f64(3600.0 / w.duration.as_secs_f64());
                rows.push((
                    name,
                    per_hour,
                    judge(&w, &r.trace),
                    ownership_sequence(&r.trace),
                ));
            }
            let fastest = rows.iter().map(|r| r.1).min().unwrap_or(Duration::ZERO);
            for (name, per_hour, verdict, seq) in &rows {
                println!(
                    "{:<16} {name:<8} {:>14} {:>9.0}×  {:<7}  {}",
                    w.name,
                    format!("{:.3} s", per_hour.as_secs_f64()),
                    per_hour.as_secs_f64() / fastest.as_secs_f64().max(1e-9),
                    if verdict.passed() { "pass" } else { "FAIL" },
                    w.render(seq.iter().copied())
                );
                agree &= verdict.passed() && (verdict, seq) == (&rows[0].2, &rows[0].3);
            }
        }
        Ok(agree)
    }
}

/// The fastest of a few runs for quick engines (one run for slow ones), to damp noise from a
/// shared machine without spending minutes.
fn best_of(
    engine: &dyn Fn(&Workload, u64) -> Result<RunRecord, String>,
    w: &Workload,
) -> Result<RunRecord, String> {
    let mut best = engine(w, 1)?;
    if best.wall < Duration::from_secs(1) {
        for _ in 0..4 {
            let r = engine(w, 1)?;
            if r.wall < best.wall {
                best = r;
            }
        }
    }
    Ok(best)
}

/// The exit code for a comparison.
pub fn report(result: Result<bool, String>) -> ExitCode {
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
