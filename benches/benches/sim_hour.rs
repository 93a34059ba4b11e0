//! The figure: two nodes, 100 ms heartbeats, one simulated hour, no faults, every
//! checker on — the real protocol in the simulator (`scenarios/bench/hour.toml`, the workload
//! `failover-sim bench-engines` also runs under turmoil and madsim) — beside the bare floor
//! under it: the same two nodes driven by a minimal event loop (a heap of timers and
//! datagrams, the segment's 200 µs latency, hooks and address changes answered at once; no
//! network model, faults, client, trace or checkers). The simulator's worth is what it adds
//! to the floor; its cost is the ratio, printed at the end of the run (target: 2× or less).
//!
//! `cargo bench -p failover-benches --bench sim_hour` runs both under criterion, then times
//! them alternately (so that a busy host slows both alike) and prints the medians and ratio.

use criterion::Criterion;
use failover_benches::{floor, FloorRun};
use failover_sim::{builtin, run, Options, Scenario};
use std::time::Duration;

/// `hour.toml`: 100 ms heartbeats for one hour.
fn floor_hour() -> FloorRun {
    floor(Duration::from_millis(100), Duration::from_secs(3600))
}

/// The simulator's run of the same hour, every checker on.
fn simulate(scenario: &Scenario) {
    let report = run(scenario, 1, &Options::default()).unwrap();
    assert!(report.passed(), "{:?}", report.findings.violations);
}

/// The median of `samples`, in milliseconds.
fn median_ms(samples: &mut [Duration]) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1e3
}

/// Times the floor and the simulator alternately and prints their medians and the ratio.
fn ratio(scenario: &Scenario) {
    const ROUNDS: usize = 15;
    let (mut bare, mut sim) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let start = std::time::Instant::now();
        std::hint::black_box(floor_hour());
        bare.push(start.elapsed());
        let start = std::time::Instant::now();
        simulate(scenario);
        sim.push(start.elapsed());
    }
    let (bare, sim) = (median_ms(&mut bare), median_ms(&mut sim));
    println!(
        "one simulated hour, medians of {ROUNDS} alternate runs: bare floor {bare:.2} ms, \
         simulator with every checker {sim:.2} ms — ratio {:.2}× (target ≤ 2×)",
        sim / bare
    );
}

fn main() {
    let scenario = builtin::find("hour").unwrap().unwrap();
    let report = run(&scenario, 1, &Options::default()).unwrap();
    assert!(report.passed(), "{:?}", report.findings.violations);
    assert!(
        report.findings.figures.requests_ok > 350_000,
        "the client ran all hour"
    );
    let bare = floor_hour();
    assert!(bare.master_owns, "the floor's master owns all hour");
    // The owner heartbeats on both paths every 100 ms; the backup, settled, only listens.
    assert!(
        (72_000..72_100).contains(&bare.delivered),
        "the floor delivers the owner's heartbeats: {}",
        bare.delivered
    );

    let mut c = Criterion::default().sample_size(20).configure_from_args();
    c.bench_function(
        "floor: 2 nodes, 100 ms, 1 simulated hour, bare event loop",
        |b| b.iter(floor_hour),
    );
    c.bench_function(
        "sim: 2 nodes, 100 ms, 1 simulated hour, all checkers",
        |b| b.iter(|| simulate(&scenario)),
    );
    c.final_summary();
    // `--test` (cargo test --benches) and `--list` run nothing to compare.
    if std::env::args().any(|a| a == "--bench") {
        ratio(&scenario);
    }
}
