//! `failover-sim sweep`: one scenario under a range of seeds, on every core, sharded, or
//! guided by coverage; JSON lines and JUnit for CI; `merge`, which puts shards back together;
//! and `twin`, the second process of `--check-determinism`.

use crate::progress::Progress;
use crate::usage_error;
use failover_core::Coverage;
use failover_sim::report::{self, Summary};
use failover_sim::results::{self, CoverageLine, Header, Junit, Line, Merged, SeedLine};
use failover_sim::scenario::FaultSpec;
use failover_sim::sweep::{self, Mutant, Outcome, Seeds, Shard, ShardArg, SweepOptions, Twin};
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
    /// Guided by coverage, writing failing mutants' scenarios to this directory.
    pub guided: Option<PathBuf>,
    pub first_failure: bool,
}

fn create(path: &Path) -> Result<BufWriter<File>, String> {
    File::create(path)
        .map(BufWriter::new)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// A failing seed, and the faults to show for it when it was a guided sweep's mutant.
struct Failed {
    line: SeedLine,
    mutant: Option<Mutant>,
}

pub fn main(args: Args) -> ExitCode {
    let scenario = match builtin::resolve(&args.scenario) {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    if args.guided.is_some() && args.check_determinism {
        return usage_error(
            "--guided with --check-determinism: the second process runs seeds, not the \
             mutated schedules of a guided sweep; check a plain sweep's seeds instead",
        );
    }
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
    let mut failed: Vec<Failed> = Vec::new();
    let mut coverage = Coverage::default();
    let mut kept = Ok(());
    let started = std::time::Instant::now();
    let options = SweepOptions {
        jobs: args.jobs,
        shard,
        twin,
        first_failure: args.first_failure,
    };
    let mut take = |outcome: Outcome, mutant: Option<&Mutant>| {
        let first = outcome.violations.first();
        summary.add(
            outcome.seed,
            &outcome.figures,
            first.map(|v| (v.invariant, v.detail.as_str())),
        );
        coverage.union(&outcome.coverage);
        let mut seed = SeedLine::new(&outcome);
        if let (Some(m), Some(dir), false) = (mutant, &args.guided, seed.passed()) {
            match write_mutant(&scenario, &args.scenario, m, outcome.seed, dir) {
                Ok(command) => seed.replay = Some(command),
                Err(e) => kept = kept.clone().and(Err(e)),
            }
        }
        if let Some(out) = json.as_mut() {
            if written.is_ok() {
                written = writeln!(out, "{}", line(&Line::Seed(seed.clone())));
            }
        }
        if !seed.passed() {
            failed.push(Failed {
                line: seed,
                mutant: mutant.cloned(),
            });
        }
        progress.seed(first.is_some(), failed.len() as u64);
    };
    let swept = match &args.guided {
        Some(_) => sweep::guided(&scenario, args.seeds, &options, take).map(Some),
        None => sweep::sweep(&scenario, args.seeds, options, |o| take(o, None)).map(|()| None),
    };
    progress.finish();
    let guided = match swept {
        Ok(g) => g,
        Err(e) => return usage_error(e),
    };
    if let Err(e) = kept {
        return usage_error(e);
    }
    if let Some(out) = json.as_mut() {
        if written.is_ok() {
            written = writeln!(
                out,
                "{}",
                line(&Line::Coverage(CoverageLine::of(&coverage)))
            );
        }
    }
    if let Some(e) = written
        .err()
        .or_else(|| json.as_mut().and_then(|j| j.flush().err()))
    {
        return usage_error(format!("{}: {e}", args.json.unwrap_or_default().display()));
    }
    let elapsed = started.elapsed().as_secs_f64();
    let ran = summary.seeds as u64;
    println!("{}\n{}", report::header(), summary.row());
    println!(
        "\n{ran} seeds of {} (shard {}) in {elapsed:.2}s on {} job(s){}: {:.0} seeds/s; {} failed",
        args.seeds,
        shard,
        args.jobs,
        if args.check_determinism {
            ", each seed also in a second process"
        } else {
            ""
        },
        ran as f64 / elapsed.max(1e-9),
        failed.len()
    );
    if let Some(g) = &guided {
        println!(
            "guided by coverage: {} of the {} runs were mutants of earlier runs; {} runs kept \
             for reaching a new point",
            g.mutants, g.runs, g.corpus
        );
    }
    if let (true, Some(f)) = (args.first_failure, failed.first()) {
        println!(
            "stopped at the first failure: run {ran} of the sweep (seed {})",
            f.line.seed
        );
    }
    print!("\n{}", report::coverage(&coverage));
    if let Some(path) = &args.junit {
        let xml = results::junit([Junit {
            header: &header,
            passed: ran - failed.len() as u64,
            failed: failed.iter().map(|f| &f.line).collect(),
        }]);
        if let Err(e) = std::fs::write(path, xml) {
            return usage_error(format!("{}: {e}", path.display()));
        }
    }
    report_failures(&scenario, &header, &failed)
}

/// Writes a guided sweep's failing mutant, run `slot`, as a scenario file in `dir` — its
/// faults written out, as `shrink --out` writes them — and returns the command replaying it.
fn write_mutant(
    base: &Scenario,
    source: &str,
    mutant: &Mutant,
    slot: u64,
    dir: &Path,
) -> Result<String, String> {
    let scenario = mutant.scenario(base, slot);
    let path = dir.join(format!("{}.toml", scenario.name));
    let seed = mutant.schedule.seed;
    let command = format!(
        "failover-sim replay {} --seed {seed} --trace",
        path.display()
    );
    let lineage: String = (mutant.lineage.iter())
        .map(|step| format!("#   {step}\n"))
        .collect();
    let text = format!(
        "# Written by `failover-sim sweep {source} --guided`: its run {slot}, which fails.\n\
         # How its faults came about:\n{lineage}# Replay: {command}\n{}",
        toml::to_string(&scenario).expect("scenarios serialize")
    );
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&path, text))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(command)
}

/// Prints each failing seed with its replay command (the first few with the faults their
/// swarm drew, or a mutant's) and returns the exit status.
fn report_failures(scenario: &Scenario, header: &Header, failed: &[Failed]) -> ExitCode {
    if failed.is_empty() {
        return ExitCode::SUCCESS;
    }
    println!("\nfailing seeds (replay each with the command shown):");
    for (i, f) in failed.iter().enumerate().take(REPLAYS_PRINTED) {
        let seed = &f.line;
        println!();
        for v in &seed.violations {
            println!("seed {}: {}: {}", seed.seed, v.invariant, v.detail);
        }
        if i < SHOWN_IN_FULL {
            match (&f.mutant, &scenario.swarm) {
                (Some(m), _) => print!(
                    "# a mutant: {}, then {} mutation(s) (its file lists them)\n{}",
                    m.lineage.first().map_or("", String::as_str),
                    m.lineage.len().saturating_sub(1),
                    FaultSpec::to_toml(&m.schedule.faults)
                ),
                (None, Some(s)) => print!("{}", swarm::describe(&s.draw(scenario, seed.seed))),
                (None, None) => {}
            }
        }
        println!("  {}", seed.replay_command(header));
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
            s.replay_command(h)
        );
    }
    if failing.len() > REPLAYS_PRINTED {
        println!(
            "  ... and {} more failing seeds (all in the merged --json results)",
            failing.len() - REPLAYS_PRINTED
        );
    }
    for m in &sweeps {
        if let Some(c) = m.coverage() {
            print!("\n{}: {}", m.header.scenario, report::coverage(&c));
        }
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
            let coverage = m.coverage().map(|c| Line::Coverage(CoverageLine::of(&c)));
            let lines = std::iter::once(Line::Sweep(header.clone()))
                .chain(m.seeds.values().cloned().map(Line::Seed))
                .chain(coverage);
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
