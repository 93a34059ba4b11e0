//! The bare floor under the simulator's figures: the real protocol (two `failover_core`
//! nodes) driven by a minimal event loop — a heap of timers and datagrams, one fixed latency,
//! hooks and address changes answered at once; no network model, faults, client, trace or
//! checkers. What the simulator costs is measured against it in the same run (`benches/`).

use failover_core::config::{NodeSettings, PathSettings, ProtocolSettings, VipSettings};
use failover_core::{Command, Config, HookOutcome, Instant, Node, Output, PathId, Role};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The one-way latency of every datagram (the simulator's default for a segment).
const LATENCY: Duration = Duration::from_micros(200);

fn addr(path: usize, node: usize) -> SocketAddr {
    let net = if path == 0 { "192.0.2" } else { "198.51.100" };
    format!("{net}.{}:1694", 10 + node).parse().unwrap()
}

/// Two nodes as the scenarios name them, master 200 and backup 100, on the public and
/// direct paths, one address.
fn config(me: usize, interval: Duration) -> Config {
    Config {
        node: NodeSettings {
            name: ["master", "backup"][me].into(),
            priority: [200, 100][me],
            witness: false,
        },
        protocol: ProtocolSettings {
            interval,
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

/// What the floor counted.
pub struct FloorRun {
    /// Datagrams delivered.
    pub delivered: u64,
    /// Whether the master owned the address at the end, and the backup did not.
    pub master_owns: bool,
}

/// The bare floor: two nodes heartbeating every `interval` for `duration` of their time, in
/// a heap-plus-datagram loop.
pub fn floor(interval: Duration, duration: Duration) -> FloorRun {
    let sources = [[addr(0, 0), addr(1, 0)], [addr(0, 1), addr(1, 1)]];
    let mut nodes = [0, 1].map(|i| Node::new(config(i, interval), 1, Instant::ZERO).unwrap());
    let mut timers = [None; 2];
    let mut heap = BinaryHeap::new();
    let mut pushed = 0u64;
    let mut push = |heap: &mut BinaryHeap<_>, at: Instant, event: Event| {
        pushed += 1;
        heap.push(Reverse((at, pushed, event)));
    };
    let end = Instant::ZERO + duration;
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
