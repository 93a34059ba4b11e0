//! `failover-sim-turmoil run|trace`: the engine-neutral workloads under turmoil; and
//! `compare|bench`: the same workloads under every engine, side by side, in one run.

mod engines;

use clap::Parser;
use failover_turmoil::engine::cli::{self, EngineCommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    version,
    about = "Runs the engine-neutral failover workloads under turmoil"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    #[command(flatten)]
    Engine(EngineCommand),
    /// Runs workloads under every engine and prints verdicts, ownership and latencies side by
    /// side; fails unless every engine reaches the same verdicts and ownership sequence.
    Compare {
        #[command(flatten)]
        engines: engines::EngineArgs,
        #[command(flatten)]
        run: cli::RunArgs,
    },
    /// Times one simulated hour (and the hour with a 10 s partition) under every engine.
    Bench {
        #[command(flatten)]
        engines: engines::EngineArgs,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Engine(command) => cli::main("turmoil", command, engines::turmoil),
        Command::Compare { engines, run } => engines::report(engines.compare(&run)),
        Command::Bench { engines } => engines::report(engines.bench()),
    }
}
