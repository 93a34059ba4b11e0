//! The protocol's own cost: two nodes, the owner's 100 ms heartbeats on two paths, one hour of their time,
//! datagrams handed straight from one to the other. This is the floor under any engine's figure
//! for the same workload (the simulator's bench adds network model, faults and checkers).
// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion};
use failover_core::config::{NodeSettings, PathSettings, ProtocolSettings, VipSettings};
use failover_core::{Command, Config, HookOutcome, Instant, Node, Output, PathId};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

fn addr(path: usize, node: usize) -> SocketAddr {
    let net = if path == 0 { "192.0.2" } else { "198.51.100" };
    format!("{net}.{}:1694", 10 + node).parse().unwrap()
}

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

type Inbox = Vec<(usize, PathId, SocketAddr, Arc<[u8]>)>;

/// Moves a node's datagrams to the inbox and answers its hooks with success at once.
fn drain(node: &mut Node, i: usize, t: Instant, inbox: &mut Inbox, sources: &[[SocketAddr; 2]; 2]) {
    while let Some(out) = node.poll_output() {
        match out {
            Output::Transmit(tx) => inbox.push((1 - i, tx.path, sources[i][tx.path.0], tx.payload)),
            Output::RunHook(req) => {
                let outcome = HookOutcome::Success;
                node.handle_command(
                    t,
                    Command::HookFinished {
                        id: req.id,
                        outcome,
                    },
                );
            }
            _ => {}
        }
    }
}

/// Runs both nodes for `hours` of simulated time; returns datagrams exchanged.
fn exchange(hours: u64) -> u64 {
    let mut nodes = [0, 1].map(|i| Node::new(config(i), 1, Instant::ZERO).unwrap());
    let end = Instant::ZERO + Duration::from_secs(3600 * hours);
    let mut delivered = 0;
    let mut inbox = Inbox::new();
    let sources = [[addr(0, 0), addr(1, 0)], [addr(0, 1), addr(1, 1)]];
    loop {
        let (i, t) = [0, 1]
            .into_iter()
            .filter_map(|i| Some((i, nodes[i].poll_timeout()?)))
            .min_by_key(|&(_, t)| t)
            .unwrap();
        if t > end {
            break delivered;
        }
        nodes[i].handle_timeout(t);
        drain(&mut nodes[i], i, t, &mut inbox, &sources);
        while let Some((to, path, from, bytes)) = inbox.pop() {
            nodes[to].handle_datagram(t, path, from, &bytes);
            delivered += 1;
            drain(&mut nodes[to], to, t, &mut inbox, &sources);
        }
    }
}

/// The benchmark itself.
fn bench(c: &mut Criterion) {
    let datagrams = exchange(1);
    assert!(
        (72_000..72_100).contains(&datagrams),
        "the owner heartbeats on both paths, the backup listens: {datagrams}"
    );
    c.bench_function("core: 2 nodes, 100 ms, 1 simulated hour", |b| {
        b.iter(|| exchange(1))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
