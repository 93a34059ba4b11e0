//! The figure: two nodes, 100 ms heartbeats, one simulated hour, no faults, every
//! checker on — the real protocol in the simulator. Target: 5 ms or less (median).
// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion};
use failover_sim::{run, Options, Scenario};
use std::time::Duration;

/// The benchmark scenario, built in code.
fn hour() -> Scenario {
    Scenario::builder("hour", Duration::from_secs(3600))
        .segment("public")
        .segment("direct")
        .node("master", 200)
        .node("backup", 100)
        .vip("192.0.2.100")
        .interval(Duration::from_millis(100))
        .build()
        .expect("a valid scenario")
}

/// The benchmark itself.
fn bench(c: &mut Criterion) {
    let scenario = hour();
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
