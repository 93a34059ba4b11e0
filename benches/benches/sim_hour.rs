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
// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use criterion::Criterion;
use failover_core::config::{NodeSettings, PathSettings, ProtocolSettings, VipSettings};
use failover_core::{Command, Config, HookOutcome, Instant, Node, Output, PathId, Role};
use failover_sim::{builtin, run, Options, Scenario};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The segments' one-way latency in `hour.toml` (the simulator's default).
const LATENCY: Duration = Duration::from_micros(200);

fn addr(path: usize, node: usize) -> SocketAddr {
    let net = if path == 0 { "192.0.2" } else { "198.51.100" };
    format!("{net}.{}:1694", 10 + node).parse().unwrap()
}

/// `hour.toml`'s two nodes as core configurations.
fn config(me: usize) -> Config {
    Config {
        node: NodeSettings {
            name: ["master", "backup"][me].into(),
            priority: [200, 100][me],
            witness: false,
        },
        protocol: ProtocolSettings {
            interval: Duration::from_millis(100),
            ..ProtocolSettings::default()
        },
        paths: ["public", "direct"]
            .iter()
            .enumerate()
            .map(|(p, name)| PathSettings {
                name: name.to_string(),
                local: Some(addr(p, me)),
                peers: vec![addr(p, 1 - me)],
            })
            .collect(),
        vips: vec![VipSettings {
            address: "192.0.2.100".parse().unwrap(),
            prefix: None,
            interface: "eth0".into(),
            primary: false,
        }],
        notify: Default::default(),
        hooks: Default::default(),
        control: Default::default(),
    }
}

/// What the floor's heap holds, ordered by time and then by when it was pushed.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    /// A node's timer, as it asked for it (stale when it has since asked for another).
    Timer(usize),
    /// A datagram arriving.
    Datagram(usize, usize, Arc<[u8]>),
}

/// What the floor counted: datagrams delivered, and whether the master owned at the end.
struct FloorRun {
    delivered: u64,
    master_owns: bool,
}

/// The bare floor: one simulated hour of `hour.toml` in a heap-plus-datagram loop.
fn floor() -> FloorRun {
    let sources = [[addr(0, 0), addr(1, 0)], [addr(0, 1), addr(1, 1)]];
    let mut nodes = [0, 1].map(|i| Node::new(config(i), 1, Instant::ZERO).unwrap());
    let mut timers = [None; 2];
    let mut heap = BinaryHeap::new();
    let mut pushed = 0u64;
    let mut push = |heap: &mut BinaryHeap<_>, at: Instant, event: Event| {
        pushed += 1;
        heap.push(Reverse((at, pushed, event)));
    };
    let end = Instant::ZERO + Duration::from_secs(3600);
    let mut delivered = 0;
    for i in 0..2 {
        timers[i] = nodes[i].poll_timeout();
        push(&mut heap, timers[i].unwrap(), Event::Timer(i));
    }
    while let Some(Reverse((now, _, event))) = heap.pop() {
        if now > end {
            break;
        }
        let i = match event {
            Event::Timer(i) if timers[i] == Some(now) => {
                nodes[i].handle_timeout(now);
                i
            }
            Event::Timer(_) => continue,
            Event::Datagram(to, path, bytes) => {
                nodes[to].handle_datagram(now, PathId(path), sources[1 - to][path], &bytes);
                delivered += 1;
                to
            }
        };
        while let Some(out) = nodes[i].poll_output() {
            let answer = match out {
                Output::Transmit(tx) => {
                    push(
                        &mut heap,
                        now + LATENCY,
                        Event::Datagram(1 - i, tx.path.0, tx.payload),
                    );
                    continue;
                }
                Output::RunHook(req) => Command::HookFinished {
                    id: req.id,
                    outcome: HookOutcome::Success,
                },
                Output::Acquire { id, .. } | Output::Release { id, .. } => {
                    Command::AddressChanged { id, result: Ok(()) }
                }
                _ => continue,
            };
            nodes[i].handle_command(now, answer);
        }
        let timer = nodes[i].poll_timeout();
        if timer != timers[i] {
            timers[i] = timer;
            if let Some(at) = timer {
                push(&mut heap, at, Event::Timer(i));
            }
        }
    }
    FloorRun {
        delivered,
        master_owns: nodes[0].role() == Role::Master && !nodes[1].role().claims_ownership(),
    }
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
        std::hint::black_box(floor());
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
    let bare = floor();
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
        |b| b.iter(floor),
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
