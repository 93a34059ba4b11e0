//! `failover-sim`: run scenario suites under many seeds, replay one seed exactly, and run the
//! same scenarios under turmoil and madsim.

mod engines;
mod modes;
mod progress;
mod replay;
mod run;
mod shrink;
mod sweep;

use clap::{Parser, Subcommand};
use failover_sim::engine::Engine;
use failover_sim::sweep::{Seeds, ShardArg};
use std::path::PathBuf;
use std::process::ExitCode;

/// Deterministic simulation of the failover protocol: the real protocol code on a simulated
/// network with injected faults. Every run is reproduced exactly from its seed.
#[derive(Parser)]
#[command(name = "failover-sim", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run scenarios under many seeds and print a table of verdicts and figures; with JSON
    /// lines and JUnit results for CI. Non-zero on any violation, with a replay command per
    /// failing seed.
    Run {
        /// Scenario files, directories of *.toml, or built-in scenario names (master-crash);
        /// none = the built-in suite.
        paths: Vec<PathBuf>,
        /// Seeds 1..=N for each scenario.
        #[arg(long, default_value_t = 32)]
        seeds: u64,
        /// Run only this seed.
        #[arg(long, conflicts_with = "seeds")]
        seed: Option<u64>,
        /// The engine: our simulator, or the scenarios' engine-neutral part under turmoil or
        /// madsim (madsim needs its own build, see sim/ENGINES.md).
        #[arg(long, value_enum, default_value_t = Engine::Sim)]
        engine: Engine,
        /// Write each scenario's results to this file: a header line, then one JSON line per
        /// seed (the format of `sweep --json`, which `merge` reads).
        #[arg(long)]
        json: Option<PathBuf>,
        /// Write JUnit XML to this file: a test case per scenario, its failing seeds with
        /// their replay commands.
        #[arg(long)]
        junit: Option<PathBuf>,
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
        /// Draw the run: per node its role and what it holds, faults, client failures and
        /// split brain; FILE.svg for the picture alone, FILE.html for a page with the verdict.
        #[arg(long, value_name = "FILE")]
        timeline: Option<PathBuf>,
    },
    /// Run one scenario under a range of seeds on every core (swarm scenarios draw their
    /// faults per seed), with JSON lines and JUnit results; non-zero on any violation, with a
    /// replay command per failing seed.
    Sweep {
        /// A scenario file, or the name of a built-in scenario.
        scenario: String,
        /// Seeds: A..B (B excluded), A..=B, or N for 1..=N.
        #[arg(long, default_value = "1..=1000")]
        seeds: Seeds,
        /// Threads (default: every core). Results do not depend on it.
        #[arg(long)]
        jobs: Option<usize>,
        /// Run only the K-th of N interleaved slices of the seeds (K from 1), e.g. for a CI
        /// matrix or a job array; `merge` puts the slices' --json files back together.
        /// `auto` takes K and N from the engine running it: FAILOVER_SHARD_INDEX and
        /// FAILOVER_SHARD_COUNT, a Slurm job array, a Kubernetes Indexed Job
        /// (JOB_COMPLETION_INDEX, with FAILOVER_SHARD_COUNT) or GitLab's CI_NODE_INDEX and
        /// CI_NODE_TOTAL, in that order.
        #[arg(long, default_value = "1/1")]
        shard: ShardArg,
        /// Write one JSON line per seed (after a header line) to this file.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Write JUnit XML to this file.
        #[arg(long)]
        junit: Option<PathBuf>,
        /// Run every seed again in a second process (its own hash keys, memory layout and
        /// allocator settings); a different trace hash or different findings are a violation.
        #[arg(long)]
        check_determinism: bool,
        /// Guided by coverage (swarm scenarios): besides plain seeds, mutate the fault
        /// schedules of runs that reached a point of the protocol no earlier run had (shift,
        /// stretch, add, remove, change faults). Each seed of the range is one run; the
        /// sweep is deterministic from the range.
        #[arg(long)]
        guided: bool,
        /// Where a guided sweep writes each failing mutated run as a scenario file (its
        /// faults written out) that `replay` takes.
        #[arg(
            long,
            value_name = "DIR",
            default_value = "guided-failures",
            requires = "guided"
        )]
        failures: PathBuf,
        /// Stop at the first failing seed (in the order of the seeds): how many runs it takes
        /// to find a bug.
        #[arg(long)]
        first_failure: bool,
    },
    /// Shrink a failing seed to a minimal scenario with only scheduled faults (dropping faults,
    /// shortening them and the run, quieting the network) and write it to a file that replays
    /// the violation.
    Shrink {
        /// A scenario file, or the name of a built-in scenario.
        scenario: String,
        /// The failing seed.
        #[arg(long)]
        seed: u64,
        /// Where to write the minimal scenario.
        #[arg(long)]
        out: PathBuf,
        /// The invariant to keep breaking (default: the first the seed breaks).
        #[arg(long)]
        invariant: Option<String>,
    },
    /// Combine the --json results of a sweep's shards: one summary, failing seeds with their
    /// replay commands; an error if a shard is missing, given twice or cut short.
    Merge {
        /// Results files written by `sweep --json` (or `run --json`), directories (every
        /// *.json in them) or glob patterns ('results/shard-*.json').
        #[arg(required = true)]
        inputs: Vec<String>,
        /// Write the merged results to this file.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Write JUnit XML to this file.
        #[arg(long)]
        junit: Option<PathBuf>,
    },
    /// Run scenarios under every engine and print verdicts, ownership sequences and failover
    /// latencies side by side; fails unless the engines agree.
    Compare {
        /// Scenario files, directories or built-in names; none = the built-in suite's
        /// engine-neutral scenarios.
        paths: Vec<PathBuf>,
        /// Seeds 1..=N for each scenario.
        #[arg(long, default_value_t = 1)]
        seeds: u64,
        /// The engines to compare.
        #[arg(long, value_enum, value_delimiter = ',', default_values_t = Engine::SIMULATED)]
        engines: Vec<Engine>,
    },
    /// Classic and quorum mode on the same scenarios, in one table: each classic scenario
    /// and its quorum twin (a witness added to groups of two), with split brain, time without
    /// a holder and failover latency; fails if a quorum twin ever has two holders.
    Modes {
        /// Scenario files or directories; none = the built-in suite.
        paths: Vec<PathBuf>,
        /// Seeds 1..=N for each scenario and mode.
        #[arg(long, default_value_t = 32)]
        seeds: u64,
    },
    /// How close the simulator's figures are to another engine's (real daemons by default):
    /// failover latency p50 and p90 and the mean time without a holder, per scenario over
    /// every seed, side by side, differences over 20 % marked.
    Fidelity {
        /// Scenario files, directories (e.g. scenarios/real/) or built-in names.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Seeds (trials) 1..=N per scenario and engine.
        #[arg(long, default_value_t = 10)]
        seeds: u64,
        /// The engines, the first the reference.
        #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Engine::Sim, Engine::Netns])]
        engines: Vec<Engine>,
    },
    /// Time the benchmark workloads (one simulated hour, with and without a partition) under
    /// every engine and print wall time per simulated hour and the ratios, in one run.
    BenchEngines {
        /// The engines to time.
        #[arg(long, value_enum, value_delimiter = ',', default_values_t = Engine::SIMULATED)]
        engines: Vec<Engine>,
    },
    /// Run one workload (JSON on standard input) under an engine of this build and print what
    /// the nodes did as JSON: how a normal build reaches the madsim build.
    #[command(hide = true)]
    EngineActs {
        /// The engine.
        #[arg(long, value_enum)]
        engine: Engine,
        /// The engine's seed.
        #[arg(long)]
        seed: u64,
    },
    /// Run seeds of a scenario read from standard input, one per line, and print each one's
    /// trace hash and findings as a JSON line: the second process of `sweep
    /// --check-determinism`.
    #[command(hide = true)]
    Twin {
        /// A scenario file, or the name of a built-in scenario.
        scenario: String,
        /// The digest the sweep has of it: a scenario that changed since is refused.
        #[arg(long)]
        digest: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `failover-sim replay ... | head` should stop quietly, as other command-line tools do.
    // Not a sweep that talks to second processes over pipes: one that dies must be an error
    // naming it, not a silent end of the sweep.
    if !matches!(
        cli.command,
        Cmd::Sweep {
            check_determinism: true,
            ..
        }
    ) {
        sigpipe::reset();
    }
    match cli.command {
        Cmd::Run {
            paths,
            seeds,
            seed,
            engine,
            json,
            junit,
        } => run::main(run::Args {
            paths,
            seeds: seed.map_or(1..=seeds, |s| s..=s),
            engine,
            json,
            junit,
        }),
        Cmd::Modes { paths, seeds } => modes::main(&paths, seeds),
        Cmd::Replay {
            scenario,
            seed,
            trace,
            datagrams,
            timeline,
        } => replay::main(
            &scenario,
            seed,
            trace || datagrams,
            datagrams,
            timeline.as_deref(),
        ),
        Cmd::Sweep {
            scenario,
            seeds,
            jobs,
            shard,
            json,
            junit,
            check_determinism,
            guided,
            failures,
            first_failure,
        } => sweep::main(sweep::Args {
            scenario,
            seeds,
            jobs: jobs
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from)),
            shard,
            json,
            junit,
            check_determinism,
            guided: guided.then_some(failures),
            first_failure,
        }),
        Cmd::Shrink {
            scenario,
            seed,
            out,
            invariant,
        } => shrink::main(&scenario, seed, &out, invariant.as_deref()),
        Cmd::Merge {
            inputs,
            json,
            junit,
        } => sweep::merge(&inputs, json.as_deref(), junit.as_deref()),
        Cmd::Compare {
            paths,
            seeds,
            engines,
        } => engines::compare(&paths, seeds, &engines),
        Cmd::Fidelity {
            paths,
            seeds,
            engines,
        } => engines::fidelity(&paths, seeds, &engines),
        Cmd::BenchEngines { engines } => engines::bench(&engines),
        Cmd::EngineActs { engine, seed } => engines::acts(engine, seed),
        Cmd::Twin { scenario, digest } => sweep::twin(&scenario, &digest),
    }
}

/// Prints an error and returns the exit status for unusable input (2; 1 means "a check
/// failed").
fn usage_error(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(2)
}
