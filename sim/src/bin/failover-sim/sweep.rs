//! `failover-sim sweep`: one scenario under a range of seeds, on every core, sharded; JSON
//! lines and JUnit for CI; and `merge`, which puts shards back together.

use crate::progress::Progress;
use crate::usage_error;
use failover_sim::report::{self, Summary};
use failover_sim::results::{self, Header, Junit, Line, Merged, SeedLine};
use failover_sim::sweep::{self, Seeds, Shard, SweepOptions};
use failover_sim::{builtin, swarm, Scenario};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Failing seeds whose drawn faults are printed in full; the rest get their replay command.
const SHOWN_IN_FULL: usize = 3;
/// Replay commands printed; beyond that the JSON results hold them all.
const REPLAYS_PRINTED: usize = 100;

/// What `sweep` was asked.
pub struct Args {
    pub scenario: String,
    pub seeds: Seeds,
    pub jobs: usize,
    pub shard: Shard,
    pub json: Option<PathBuf>,
    pub junit: Option<PathBuf>,
    pub check_determinism: bool,
}

fn create(path: &Path) -> Result<BufWriter<File>, String> {
    File::create(path)
        .map(BufWriter::new)
        .map_err(|e| format!("{}: {e}", path.display()))
}

pub fn main(args: Args) -> ExitCode {
    let scenario = match builtin::resolve(&args.scenario) {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    let header = Header::new(&scenario, &args.scenario, args.seeds, args.shard);
    let mut json = match args.json.as_deref().map(create).transpose() {
        Ok(j) => j,
        Err(e) => return usage_error(e),
    };
    let line = |l: &Line| serde_json::to_string(l).expect("lines serialize");
    let mut written = Ok(());
    if let Some(out) = json.as_mut() {
        written = writeln!(out, "{}", line(&Line::Sweep(header.clone())));
    }
    let total = args.shard.len(args.seeds);
    let mut progress = Progress::new(&scenario.name, total);
    let mut summary = Summary::new(&scenario.name);
    let mut failed: Vec<SeedLine> = Vec::new();
    let started = std::time::Instant::now();
    let options = SweepOptions {
        jobs: args.jobs,
        shard: args.shard,
        check_determinism: args.check_determinism,
    };
    let swept = sweep::sweep(&scenario, args.seeds, options, |outcome| {
        let first = outcome.violations.first();
        summary.add(
            outcome.seed,
            &outcome.figures,
            first.map(|v| (v.invariant, v.detail.as_str())),
        );
        let seed = SeedLine::new(&outcome);
        if let Some(out) = json.as_mut() {
            if written.is_ok() {
                written = writeln!(out, "{}", line(&Line::Seed(seed.clone())));
            }
        }
        if !seed.passed() {
            failed.push(seed);
        }
        progress.seed(first.is_some(), failed.len() as u64);
    });
    progress.finish();
    if let Err(e) = swept {
        return usage_error(e);
    }
    if let Some(e) = written
        .err()
        .or_else(|| json.as_mut().and_then(|j| j.flush().err()))
    {
        return usage_error(format!("{}: {e}", args.json.unwrap_or_default().display()));
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!("{}\n{}", report::header(), summary.row());
    println!(
        "\n{total} seeds of {} (shard {}) in {elapsed:.2}s on {} job(s): {:.0} seeds/s; {} failed",
        args.seeds,
        args.shard,
        args.jobs,
        total as f64 / elapsed.max(1e-9),
        failed.len()
    );
    if let Some(path) = &args.junit {
        let xml = results::junit([Junit {
            header: &header,
            passed: total - failed.len() as u64,
            failed: failed.iter().collect(),
        }]);
        if let Err(e) = std::fs::write(path, xml) {
            return usage_error(format!("{}: {e}", path.display()));
        }
    }
    report_failures(&scenario, &header, &failed)
}

/// Prints each failing seed with its replay command (the first few with the faults their
/// swarm drew) and returns the exit status.
fn report_failures(scenario: &Scenario, header: &Header, failed: &[SeedLine]) -> ExitCode {
    if failed.is_empty() {
        return ExitCode::SUCCESS;
    }
    println!("\nfailing seeds (replay each with the command shown):");
    for (i, seed) in failed.iter().enumerate().take(REPLAYS_PRINTED) {
        println!();
        for v in &seed.violations {
            println!("seed {}: {}: {}", seed.seed, v.invariant, v.detail);
        }
        if i < SHOWN_IN_FULL {
            if let Some(s) = &scenario.swarm {
                print!("{}", swarm::describe(&s.draw(scenario, seed.seed)));
            }
        }
        println!(
            "  failover-sim replay {} --seed {} --trace",
            header.source, seed.seed
        );
    }
    if failed.len() > REPLAYS_PRINTED {
        println!(
            "\n... and {} more failing seeds (all in the --json results)",
            failed.len() - REPLAYS_PRINTED
        );
    }
    ExitCode::FAILURE
}

/// `merge`: combines results files, prints one summary per sweep, writes merged JSON and
/// JUnit if asked; non-zero on a failing seed, and an error when shards are missing.
pub fn merge(files: &[PathBuf], json: Option<&Path>, junit: Option<&Path>) -> ExitCode {
    let mut texts = Vec::new();
    for f in files {
        match std::fs::read_to_string(f) {
            Ok(t) => texts.push((f.display().to_string(), t)),
            Err(e) => return usage_error(format!("{}: {e}", f.display())),
        }
    }
    let sweeps = match results::merge(&texts) {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    println!("{}", report::header());
    let mut incomplete = Vec::new();
    for m in &sweeps {
        let mut summary = Summary::new(&m.header.scenario);
        for s in m.seeds.values() {
            let first = s.violations.first();
            summary.add(
                s.seed,
                &s.figures,
                first.map(|v| (v.invariant.as_str(), v.detail.as_str())),
            );
        }
        println!("{}", summary.row());
        let missing = m.missing();
        if !missing.is_empty() {
            incomplete.push(format!(
                "{} {}: shard(s) {} of {} missing",
                m.header.scenario,
                m.header.seeds,
                missing
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                m.count
            ));
        }
    }
    let complete = |m: &Merged| Header {
        shard: if m.missing().is_empty() {
            "1/1".into()
        } else {
            m.header.shard.clone()
        },
        ..m.header.clone()
    };
    if let Some(path) = json {
        let mut text = String::new();
        for m in &sweeps {
            text += &serde_json::to_string(&Line::Sweep(complete(m))).expect("lines serialize");
            text.push('\n');
            for s in m.seeds.values() {
                text += &serde_json::to_string(&Line::Seed(s.clone())).expect("lines serialize");
                text.push('\n');
            }
        }
        if let Err(e) = std::fs::write(path, text) {
            return usage_error(format!("{}: {e}", path.display()));
        }
    }
    let headers: Vec<Header> = sweeps.iter().map(complete).collect();
    if let Some(path) = junit {
        let xml = results::junit(sweeps.iter().zip(&headers).map(|(m, header)| Junit {
            header,
            passed: m.seeds.values().filter(|s| s.passed()).count() as u64,
            failed: m.seeds.values().filter(|s| !s.passed()).collect(),
        }));
        if let Err(e) = std::fs::write(path, xml) {
            return usage_error(format!("{}: {e}", path.display()));
        }
    }
    let seeds: usize = sweeps.iter().map(|m| m.seeds.len()).sum();
    let failing: Vec<(&Header, &SeedLine)> = (sweeps.iter().zip(&headers))
        .flat_map(|(m, h)| {
            m.seeds
                .values()
                .filter(|s| !s.passed())
                .map(move |s| (h, s))
        })
        .collect();
    println!(
        "\n{seeds} seeds of {} sweep(s) from {} file(s); {} failed",
        sweeps.len(),
        files.len(),
        failing.len()
    );
    for (h, s) in failing.iter().take(REPLAYS_PRINTED) {
        let v = &s.violations[0];
        println!(
            "  seed {}: {}: {}\n    failover-sim replay {} --seed {} --trace",
            s.seed, v.invariant, v.detail, h.source, s.seed
        );
    }
    if !incomplete.is_empty() {
        return usage_error(format!("incomplete sweep: {}", incomplete.join("; ")));
    }
    if failing.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
