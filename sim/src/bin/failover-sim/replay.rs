//! `failover-sim replay`: one seed of one scenario, exactly as any earlier run had it.

use crate::usage_error;
use failover_sim::report::ms;
use failover_sim::{builtin, run, timeline, Options};
use std::path::Path;
use std::process::ExitCode;

pub fn main(
    name: &str,
    seed: u64,
    trace: bool,
    datagrams: bool,
    timeline: Option<&Path>,
) -> ExitCode {
    let scenario = match builtin::resolve(name) {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    let options = Options {
        keep_datagrams: datagrams,
        record: timeline.is_some(),
        hash_only: false,
    };
    let report = match run(&scenario, seed, &options) {
        Ok(r) => r,
        Err(e) => return usage_error(e),
    };
    println!("scenario {} seed {seed}", scenario.name);
    if let Some(swarm) = &scenario.swarm {
        print!(
            "{}",
            failover_sim::swarm::describe(&swarm.draw(&scenario, seed))
        );
    }
    if trace {
        for r in &report.trace.records {
            println!("{r}");
        }
    }
    let f = &report.findings.figures;
    println!(
        "failovers: {:?}; split brain {} (longest {}); unavailable {}; client requests {} ok, {} failed; anomalies {}",
        f.failover_latencies.iter().map(|&l| ms(Some(l))).collect::<Vec<_>>(),
        ms(Some(f.split_brain_total)),
        ms(Some(f.split_brain_longest)),
        ms(Some(f.unavailable)),
        f.requests_ok,
        f.requests_failed,
        f.anomalies,
    );
    if f.datagrams_overflowed > 0 {
        println!(
            "datagrams lost on full socket buffers: {}",
            f.datagrams_overflowed
        );
    }
    for v in &report.findings.violations {
        println!("VIOLATION {}: {}", v.invariant, v.detail);
    }
    println!("verdict: {}", if report.passed() { "pass" } else { "FAIL" });
    if let Some(path) = timeline {
        let picture = match path.extension().and_then(|e| e.to_str()) {
            Some("svg") => timeline::svg(&scenario, &report),
            _ => timeline::html(&scenario, &report),
        };
        if let Err(e) = std::fs::write(path, picture) {
            return usage_error(format!("{}: {e}", path.display()));
        }
        println!("timeline: {}", path.display());
    }
    println!("trace hash: {}", report.hash());
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
