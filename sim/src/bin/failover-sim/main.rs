//! `failover-sim`: run scenario suites under many seeds, replay one seed exactly, and run the
//! same scenarios under turmoil and madsim.

mod engines;
mod replay;
mod run;

use clap::{Parser, Subcommand};
use failover_sim::engine::Engine;
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
        /// The engine: our simulator, or the scenarios' engine-neutral part under turmoil or
        /// madsim (madsim needs its own build, see sim/ENGINES.md).
        #[arg(long, value_enum, default_value_t = Engine::Sim)]
        engine: Engine,
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
    /// Run scenarios under every engine and print verdicts, ownership sequences and failover
    /// latencies side by side; fails unless the engines agree.
    Compare {
        /// Scenario files or directories; none = the built-in suite's engine-neutral scenarios.
        paths: Vec<PathBuf>,
        /// Seeds 1..=N for each scenario.
        #[arg(long, default_value_t = 1)]
        seeds: u64,
        /// The engines to compare.
        #[arg(long, value_enum, value_delimiter = ',', default_values_t = Engine::ALL)]
        engines: Vec<Engine>,
    },
    /// Time the benchmark workloads (one simulated hour, with and without a partition) under
    /// every engine and print wall time per simulated hour and the ratios, in one run.
    BenchEngines {
        /// The engines to time.
        #[arg(long, value_enum, value_delimiter = ',', default_values_t = Engine::ALL)]
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
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Cmd::Run {
            paths,
            seeds,
            seed,
            engine,
        } => run::main(&paths, seed.map_or(1..=seeds, |s| s..=s), engine),
        Cmd::Replay {
            scenario,
            seed,
            trace,
            datagrams,
        } => replay::main(&scenario, seed, trace || datagrams, datagrams),
        Cmd::Compare {
            paths,
            seeds,
            engines,
        } => engines::compare(&paths, seeds, &engines),
        Cmd::BenchEngines { engines } => engines::bench(&engines),
        Cmd::EngineActs { engine, seed } => engines::acts(engine, seed),
    }
}

/// Prints an error and returns the exit status for unusable input (2; 1 means "a check
/// failed").
fn usage_error(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(2)
}
