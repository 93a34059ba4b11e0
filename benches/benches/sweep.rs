//! Seeds per second of a sweep over a 10-minute swarm scenario (two and three nodes), on one
//! job and on every core: the figure behind "millions of seeds". Criterion reports it as
//! throughput (elements = seeds). At the end, one job's seeds/s of `swarm-two-nodes` is
//! printed beside the bare floor's runs/s of the same two nodes for the same ten minutes
//! without faults (`failover_benches::floor`): what the protocol alone costs a run bounds what
//! any sweep of it can reach (issue target: 10,000 seeds/s per core).

use criterion::{BenchmarkId, Criterion, Throughput};
use failover_benches::floor;
use failover_sim::builtin;
use failover_sim::sweep::{sweep, Shard, SweepOptions};
use failover_sim::Scenario;
use std::time::{Duration, Instant};

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
                first_failure: false,
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

/// Sweeps `seeds` seeds of `scenario` on one job from `start`; returns seeds/s.
fn seeds_per_second(scenario: &Scenario, start: u64, seeds: u64) -> f64 {
    let options = SweepOptions {
        jobs: 1,
        shard: Shard::default(),
        twin: None,
        first_failure: false,
    };
    let range = format!("{start}..{}", start + seeds).parse().unwrap();
    let began = Instant::now();
    sweep(scenario, range, options, |_| {}).unwrap();
    seeds as f64 / began.elapsed().as_secs_f64()
}

/// One job's sweep of `swarm-two-nodes` against the bare floor of its workload (1 s
/// heartbeats, 10 minutes), timed alternately so that a busy host slows both alike.
fn against_floor() {
    const ROUNDS: u64 = 5;
    const SEEDS: u64 = 1000;
    let scenario = builtin::find("swarm-two-nodes").unwrap().unwrap();
    let (interval, duration) = (Duration::from_secs(1), Duration::from_secs(600));
    let (mut swept, mut bare) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        swept.push(seeds_per_second(&scenario, 1 + round * SEEDS, SEEDS));
        let began = Instant::now();
        for _ in 0..SEEDS {
            assert!(std::hint::black_box(floor(interval, duration)).master_owns);
        }
        bare.push(SEEDS as f64 / began.elapsed().as_secs_f64());
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (swept, bare) = (median(&mut swept), median(&mut bare));
    println!(
        "swarm-two-nodes on one job, medians of {ROUNDS} alternate rounds of {SEEDS}: \
         {swept:.0} seeds/s; the bare floor of its workload (two nodes, 1 s heartbeats, \
         10 minutes, no faults): {bare:.0} runs/s — the sweep at {:.2}× the floor's cost",
        bare / swept
    );
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
    // `--test` (cargo test --benches) and `--list` run nothing to compare.
    if std::env::args().any(|a| a == "--bench") {
        against_floor();
    }
}
