//! Runs a workload on a madsim runtime: one madsim node per failover node, faults applied by a
//! supervisor task on madsim's clock.

use crate::engine::{Fault, Observation, Workload};
use crate::host::Host;
use madsim::net::NetSim;
use madsim::runtime::{Handle, NodeHandle, Runtime};
use madsim::time::sleep_until;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How madsim is set up; the defaults are the benchmark's.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Each datagram's network latency is drawn from zero to this (madsim adds its own small
    /// send and receive delays and rounds every sleep up to 1 ms).
    pub max_latency: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_latency: Duration::from_millis(1),
        }
    }
}

/// Runs `workload` under madsim with `seed` and returns the address changes the nodes saw.
pub fn run(workload: &Workload, seed: u64, options: Options) -> Vec<Observation> {
    let mut config = madsim::Config::default();
    config.net.send_latency = Duration::ZERO..options.max_latency;
    config.net.packet_loss_rate = workload.loss;
    let runtime = Runtime::with_seed_and_config(seed, config);
    let workload = workload.clone();
    runtime.block_on(async move {
        let log = Arc::new(Mutex::new(Vec::new()));
        let start = madsim::time::Instant::now();
        let handle = Handle::current();
        let nodes: Vec<NodeHandle> = (0..workload.nodes.len())
            .map(|me| {
                let host = Arc::new(Host {
                    me,
                    config: workload.node_config(me),
                    boots: AtomicU64::new(0),
                    log: Arc::clone(&log),
                    start,
                });
                handle
                    .create_node()
                    .name(workload.name_of(me))
                    .ip(Workload::node_ip(me))
                    .init(move || Arc::clone(&host).run())
                    .build()
            })
            .collect();
        for s in &workload.schedule {
            sleep_until(start + s.at).await;
            apply(&handle, &nodes, s.fault);
        }
        sleep_until(start + workload.duration).await;
        let trace = log.lock().expect("no panics while held").clone();
        trace
    })
}

fn apply(handle: &Handle, nodes: &[NodeHandle], fault: Fault) {
    let id = |i: usize| nodes[i].id();
    let net = NetSim::current();
    match fault {
        Fault::Crash(i) => handle.kill(id(i)),
        Fault::Restart(i) => handle.restart(id(i)),
        Fault::Shutdown(i) => handle.send_ctrl_c(id(i)),
        Fault::Partition(a, b) => {
            net.clog_link(id(a), id(b));
            net.clog_link(id(b), id(a));
        }
        Fault::Heal(a, b) => {
            net.unclog_link(id(a), id(b));
            net.unclog_link(id(b), id(a));
        }
    }
}
