//! The figure: two nodes, 100 ms heartbeats, one simulated hour, no faults, every
//! checker on — the real protocol in the simulator (`scenarios/bench/hour.toml`, the workload
//! `failover-sim bench-engines` also runs under turmoil and madsim). Target: 5 ms or less
//! (median).
// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion};
use failover_sim::{builtin, run, Options};

/// The benchmark itself.
fn bench(c: &mut Criterion) {
    let scenario = builtin::find("hour").unwrap().unwrap();
    let report = run(&scenario, 1, &Options::default()).unwrap();
    assert!(report.passed(), "{:?}", report.findings.violations);
    assert!(
        report.findings.figures.requests_ok > 350_000,
        "the client ran all hour"
    );
    c.bench_function(
        "sim: 2 nodes, 100 ms, 1 simulated hour, all checkers",
        |b| b.iter(|| run(&scenario, 1, &Options::default()).unwrap()),
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
