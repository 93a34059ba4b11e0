//! Seeds per second of a sweep over a 10-minute swarm scenario (two and three nodes), on one
//! job and on every core: the figure behind "millions of seeds". Target: 2,000 seeds/s per
//! core or better. Criterion reports it as throughput (elements = seeds).
// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use failover_sim::builtin;
use failover_sim::sweep::{sweep, Shard, SweepOptions};

/// Seeds per measured iteration.
const SEEDS: u64 = 200;

fn bench(c: &mut Criterion) {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let mut group = c.benchmark_group("sweep of a 10-minute swarm scenario");
    group.throughput(Throughput::Elements(SEEDS));
    group.sample_size(10);
    for name in ["swarm-two-nodes", "swarm-three-nodes"] {
        let scenario = builtin::find(name).unwrap().unwrap();
        for jobs in [1, cores] {
            let options = SweepOptions {
                jobs,
                shard: Shard::default(),
                twin: None,
            };
            let id = BenchmarkId::new(name, format!("{jobs} job(s)"));
            group.bench_with_input(id, &options, |b, options| {
                let mut start = 1;
                b.iter(|| {
                    // Fresh seeds every iteration: each draws other faults.
                    let seeds = format!("{start}..{}", start + SEEDS).parse().unwrap();
                    start += SEEDS;
                    let mut failed = 0;
                    sweep(&scenario, seeds, options.clone(), |o| {
                        failed += usize::from(!o.violations.is_empty())
                    })
                    .unwrap();
                    assert_eq!(failed, 0, "{name}: the suite's swarm scenarios pass");
                });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
