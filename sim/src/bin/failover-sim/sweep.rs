//! `failover-sim sweep`: one scenario under a range of seeds, on every core, sharded; JSON
//! lines and JUnit for CI; `merge`, which puts shards back together; and `twin`, the second
//! process of `--check-determinism`.

use crate::progress::Progress;
use crate::usage_error;
use failover_sim::report::{self, Summary};
use failover_sim::results::{self, Header, Junit, Line, Merged, SeedLine};
use failover_sim::sweep::{self, Seeds, Shard, ShardArg, SweepOptions, Twin};
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
    pub shard: ShardArg,
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
    let shard = match args.shard {
        ShardArg::Given(shard) => shard,
        ShardArg::Auto => match sweep::from_engine(|name| std::env::var(name).ok()) {
            Ok(found) => {
                eprintln!("shard {} ({})", found.shard, found.source);
                found.shard
            }
            Err(e) => return usage_error(e),
        },
    };
    let header = Header::new(&scenario, &args.scenario, args.seeds, shard);
    let twin = if args.check_determinism {
        match std::env::current_exe() {
            Ok(me) => Some(Twin::new(
                me,
                ["twin", &args.scenario, "--digest", &header.digest],
            )),
            Err(e) => return usage_error(format!("--check-determinism: this program: {e}")),
        }
    } else {
        None
    };
    let mut json = match args.json.as_deref().map(create).transpose() {
        Ok(j) => j,
        Err(e) => return usage_error(e),
    };
    let line = |l: &Line| serde_json::to_string(l).expect("lines serialize");
    let mut written = Ok(());
    if let Some(out) = json.as_mut() {
        written = writeln!(out, "{}", line(&Line::Sweep(header.clone())));
    }
    let total = shard.len(args.seeds);
    let mut progress = Progress::new(&scenario.name, total);
    let mut summary = Summary::new(&scenario.name);
    let mut failed: Vec<SeedLine> = Vec::new();
    let started = std::time::Instant::now();
    let options = SweepOptions {
        jobs: args.jobs,
        shard,
        twin,
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
        "\n{total} seeds of {} (shard {}) in {elapsed:.2}s on {} job(s){}: {:.0} seeds/s; {} failed",
        args.seeds,
        shard,
        args.jobs,
        if args.check_determinism {
            ", each seed also in a second process"
        } else {
            ""
        },
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
        println!("  {}", header.replay(seed.seed));
    }
    if failed.len() > REPLAYS_PRINTED {
        println!(
            "\n... and {} more failing seeds (all in the --json results)",
            failed.len() - REPLAYS_PRINTED
        );
    }
    ExitCode::FAILURE
}

/// The results files `merge` was given: files as they are, every `*.json` directly in a
/// directory, and the files a glob pattern matches (quoted, so no shell expanded it), each
/// group in name order.
fn results_files(inputs: &[String]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for input in inputs {
        let path = Path::new(input);
        let mut found: Vec<PathBuf> = if path.is_dir() {
            let entries = std::fs::read_dir(path).map_err(|e| format!("{input}: {e}"))?;
            let mut json = Vec::new();
            for entry in entries {
                let p = entry.map_err(|e| format!("{input}: {e}"))?.path();
                if p.is_file() && p.extension().is_some_and(|x| x == "json") {
                    json.push(p);
                }
            }
            if json.is_empty() {
                return Err(format!("{input}: no results (*.json) in this directory"));
            }
            json
        } else if path.exists() {
            vec![path.to_path_buf()]
        } else if input.contains(['*', '?', '[']) {
            let matches = glob::glob(input).map_err(|e| format!("{input}: {e}"))?;
            let found = matches
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("{input}: {e}"))?;
            if found.is_empty() {
                return Err(format!("{input}: no file matches this pattern"));
            }
            found
        } else {
            return Err(format!("{input}: no such file or directory"));
        };
        found.sort();
        files.extend(found);
    }
    Ok(files)
}

/// `merge`: combines results files, prints one summary per sweep and writes the merged JSON
/// and JUnit if asked; non-zero on a failing seed, and an error (writing nothing) when a
/// shard is missing, given twice or cut short.
pub fn merge(inputs: &[String], json: Option<&Path>, junit: Option<&Path>) -> ExitCode {
    let files = match results_files(inputs) {
        Ok(f) => f,
        Err(e) => return usage_error(e),
    };
    let mut texts = Vec::new();
    for f in &files {
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
    let mut problems = Vec::new();
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
        problems.extend(
            (m.problems().into_iter())
                .map(|p| format!("{} {}: {p}", m.header.scenario, m.header.seeds)),
        );
    }
    let seeds: usize = sweeps.iter().map(|m| m.seeds.len()).sum();
    let headers: Vec<Header> = (sweeps.iter())
        .map(|m: &Merged| Header {
            shard: Shard::default().to_string(),
            ..m.header.clone()
        })
        .collect();
    let failing: Vec<(&Header, &SeedLine)> = (sweeps.iter().zip(&headers))
        .flat_map(|(m, h)| (m.seeds.values().filter(|s| !s.passed())).map(move |s| (h, s)))
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
            "  seed {}: {}: {}\n    {}",
            s.seed,
            v.invariant,
            v.detail,
            h.replay(s.seed)
        );
    }
    if failing.len() > REPLAYS_PRINTED {
        println!(
            "  ... and {} more failing seeds (all in the merged --json results)",
            failing.len() - REPLAYS_PRINTED
        );
    }
    if !problems.is_empty() {
        return usage_error(format!(
            "incomplete sweep, nothing written:\n  {}",
            problems.join("\n  ")
        ));
    }
    if let Some(path) = json {
        let mut text = String::new();
        for (m, header) in sweeps.iter().zip(&headers) {
            let lines = std::iter::once(Line::Sweep(header.clone()))
                .chain(m.seeds.values().cloned().map(Line::Seed));
            for line in lines {
                text += &serde_json::to_string(&line).expect("lines serialize");
                text.push('\n');
            }
        }
        if let Err(e) = std::fs::write(path, text) {
            return usage_error(format!("{}: {e}", path.display()));
        }
    }
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
    if failing.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `twin`: the second process of `sweep --check-determinism`, serving seeds of the scenario
/// the sweep runs (refused if it is no longer the one the sweep read: another digest).
pub fn twin(name: &str, digest: &str) -> ExitCode {
    let scenario = match builtin::resolve(name) {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    let mine = results::digest(&scenario);
    if mine != digest {
        return usage_error(format!(
            "{name}: digest {mine}, but the sweep read it as {digest}: it changed meanwhile"
        ));
    }
    match sweep::twin::serve(&scenario, std::io::stdin().lock(), std::io::stdout().lock()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => usage_error(format!("standard input: {e}")),
    }
}
