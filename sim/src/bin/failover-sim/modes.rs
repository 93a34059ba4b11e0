//! `failover-sim modes`: classic and quorum mode on the same scenarios, in one run — what each
//! guarantee costs and buys (split brain, time without a holder, failover latency).

use crate::usage_error;
use failover_sim::builtin;
use failover_sim::report::{self, Summary};
use failover_sim::{Options, Scenario};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

pub fn main(paths: &[PathBuf], seeds: u64) -> ExitCode {
    let loaded = match builtin::load(paths) {
        Ok(loaded) => loaded,
        Err(e) => return usage_error(e),
    };
    let classic: Vec<&Scenario> = (loaded.scenarios.iter())
        .map(|(_, s)| s)
        .filter(|s| !s.quorum())
        .collect();
    if classic.is_empty() {
        return usage_error("no classic-mode scenario to compare (quorum ones are twins already)");
    }
    let progress = std::io::stderr().is_terminal();
    println!("{}", report::header());
    let mut quorum_split = Vec::new();
    for (k, scenario) in classic.iter().enumerate() {
        for run in [(*scenario).clone(), scenario.quorum_twin()] {
            if progress {
                eprint!("\r[{}/{}] {} ...", k + 1, classic.len(), run.name);
                let _ = std::io::stderr().flush();
            }
            let mut summary = Summary::new(&run.name);
            for seed in 1..=seeds {
                match failover_sim::run(&run, seed, &Options::default()) {
                    Ok(report) => summary.add_findings(seed, &report.findings),
                    Err(e) => return usage_error(format!("{}: {e}", run.name)),
                }
            }
            if progress {
                eprint!("\r\x1b[K");
            }
            println!("{}", summary.row());
            if run.quorum() {
                quorum_split.extend(
                    summary
                        .failures
                        .iter()
                        .map(|(seed, why)| format!("  {} seed {seed}: {why}", run.name)),
                );
            }
        }
    }
    println!(
        "\n`NAME@quorum` is NAME in quorum mode (a witness added to groups of two), judged by \
         quorum mode's promise: never two holders, convergence once a majority is connected."
    );
    if quorum_split.is_empty() {
        ExitCode::SUCCESS
    } else {
        println!(
            "quorum mode broke its promise:\n{}",
            quorum_split.join("\n")
        );
        ExitCode::FAILURE
    }
}
