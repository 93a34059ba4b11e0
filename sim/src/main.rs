//! `failover-sim`: run scenario suites under many seeds, and replay one seed exactly.

use clap::{Parser, Subcommand};
use failover_sim::report::{self, Summary};
use failover_sim::{builtin, run, Options, Scenario};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Deterministic simulation of the failover protocol: the real protocol code on a simulated
/// network with injected faults. Every run is reproduced exactly from its seed.
#[derive(Parser)]
#[command(name = "failover-sim", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run scenarios under many seeds and print a table of verdicts and figures.
    Run {
        /// Scenario files or directories of *.toml; none = the built-in suite.
        paths: Vec<PathBuf>,
        /// Seeds 1..=N for each scenario.
        #[arg(long, default_value_t = 32)]
        seeds: u64,
        /// Run only this seed.
        #[arg(long, conflicts_with = "seeds")]
        seed: Option<u64>,
    },
    /// Replay one seed of one scenario; ends with the trace hash.
    Replay {
        /// A scenario file, or the name of a built-in scenario (e.g. master-crash).
        scenario: String,
        /// The seed to replay.
        #[arg(long)]
        seed: u64,
        /// Print the trace readably.
        #[arg(long)]
        trace: bool,
        /// Also trace every datagram (implies --trace).
        #[arg(long)]
        datagrams: bool,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Cmd::Run { paths, seeds, seed } => run_many(&paths, seed.map_or(1..=seeds, |s| s..=s)),
        Cmd::Replay {
            scenario,
            seed,
            trace,
            datagrams,
        } => replay(&scenario, seed, trace || datagrams, datagrams),
    }
}

/// Scenarios with the name a replay command can use to find them again.
fn load(paths: &[PathBuf]) -> Result<Vec<(String, Scenario)>, String> {
    if paths.is_empty() {
        let suite = builtin::suite().map_err(|e| e.to_string())?;
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

fn run_many(paths: &[PathBuf], seeds: std::ops::RangeInclusive<u64>) -> ExitCode {
    let scenarios = match load(paths) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let started = std::time::Instant::now();
    println!("{}", report::header());
    let mut failures = Vec::new();
    let mut runs = 0;
    for (k, (id, scenario)) in scenarios.iter().enumerate() {
        eprint!("\r[{}/{}] {} ...", k + 1, scenarios.len(), scenario.name);
        let _ = std::io::stderr().flush();
        let mut summary = Summary::new(&scenario.name);
        for seed in seeds.clone() {
            match run(scenario, seed, &Options::default()) {
                Ok(r) => summary.add(&r),
                Err(e) => {
                    eprintln!("\nerror: {e}");
                    return ExitCode::from(2);
                }
            }
            runs += 1;
        }
        eprint!("\r\x1b[K");
        println!("{}", summary.row());
        failures.extend(
            summary
                .failures
                .iter()
                .map(|(seed, why)| (id.clone(), *seed, why.clone())),
        );
    }
    println!(
        "\n{runs} runs of {} scenario(s) in {:.2}s wall time; {} failed",
        scenarios.len(),
        started.elapsed().as_secs_f64(),
        failures.len()
    );
    if failures.is_empty() {
        return ExitCode::SUCCESS;
    }
    println!("\nfailures (replay each with the command shown):");
    for (id, seed, why) in &failures {
        println!("  {why}\n    failover-sim replay {id} --seed {seed} --trace");
    }
    ExitCode::FAILURE
}

fn replay(name: &str, seed: u64, trace: bool, datagrams: bool) -> ExitCode {
    let scenario = if Path::new(name).exists() {
        Scenario::load(Path::new(name))
    } else if let Some(s) = builtin::find(name) {
        s
    } else {
        eprintln!("error: `{name}` is neither a file nor a built-in scenario; built-in ones are:");
        for (file, _) in builtin::SUITE {
            eprintln!("  {}", file.trim_end_matches(".toml"));
        }
        return ExitCode::from(2);
    };
    let scenario = match scenario {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let report = match run(
        &scenario,
        seed,
        &Options {
            keep_datagrams: datagrams,
        },
    ) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    println!("scenario {} seed {seed}", scenario.name);
    if trace {
        for r in &report.trace.records {
            println!("{r}");
        }
    }
    let f = &report.findings.figures;
    println!(
        "failovers: {:?}; split brain {} (longest {}); unavailable {}; client requests {} ok, {} failed; anomalies {}",
        f.failover_latencies.iter().map(|&l| report::ms(Some(l))).collect::<Vec<_>>(),
        report::ms(Some(f.split_brain_total)),
        report::ms(Some(f.split_brain_longest)),
        report::ms(Some(f.unavailable)),
        f.requests_ok,
        f.requests_failed,
        f.anomalies,
    );
    for v in &report.findings.violations {
        println!("VIOLATION {}: {}", v.invariant, v.detail);
    }
    println!("verdict: {}", if report.passed() { "pass" } else { "FAIL" });
    println!("trace hash: {}", report.hash());
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
