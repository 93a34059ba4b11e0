//! `failover-sim-madsim run|trace`: the engine-neutral workloads under madsim.
//!
//! Only a `RUSTFLAGS="--cfg madsim"` build simulates; any other build of this binary refuses
//! to run rather than run the workloads on the real clock and network.

use clap::Parser;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    version,
    about = "Runs the engine-neutral failover workloads under madsim"
)]
struct Cli {
    #[command(subcommand)]
    command: failover_madsim::engine::cli::EngineCommand,
}

#[cfg(madsim)]
fn main() -> ExitCode {
    use failover_madsim::engine::{cli, RunRecord};
    let command = Cli::parse().command;
    cli::main("madsim", command, |workload, seed| {
        let start = std::time::Instant::now();
        let trace = failover_madsim::run(workload, seed, Default::default());
        Ok(RunRecord {
            trace,
            wall: start.elapsed(),
        })
    })
}

#[cfg(not(madsim))]
fn main() -> ExitCode {
    let _ = Cli::parse();
    eprintln!(
        "error: this failover-sim-madsim was built without madsim; build it with \
         RUSTFLAGS=\"--cfg madsim\" cargo build -p failover-madsim --target-dir target/madsim"
    );
    ExitCode::from(2)
}
