//! One failover node as madsim node software: a daemon's driver loop on madsim endpoints and
//! madsim's clock, with no protocol logic of its own.

use crate::engine::{drain_outputs, Observation, Workload, PATHS};
use failover_core::{Command, Config, Instant, Node, PathId};
use madsim::net::Endpoint;
use madsim::time::sleep_until;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};

/// Every datagram on an endpoint carries this tag (madsim's endpoints demultiplex by tag).
const TAG: u64 = 0;

/// What the simulation shares with every boot of one node.
pub(crate) struct Host {
    /// Index of the node in the workload.
    pub me: usize,
    pub config: Config,
    /// Boot epochs handed out so far; every (re)start takes the next one.
    pub boots: AtomicU64,
    /// Where address changes are observed, for every node.
    pub log: Arc<Mutex<Vec<Observation>>>,
    /// The start of the run on madsim's global clock, for observation times.
    pub start: madsim::time::Instant,
}

/// What wakes the driver besides its timer.
enum Input {
    Datagram(PathId, SocketAddr, Vec<u8>),
    Shutdown,
}

impl Host {
    /// Runs the node from boot until it stops after a planned shutdown (or the node is killed).
    pub async fn run(self: Arc<Self>) {
        let epoch = self.boots.fetch_add(1, Ordering::Relaxed) + 1;
        let (tx, mut inputs) = unbounded_channel();
        let mut endpoints = Vec::with_capacity(PATHS.len());
        for path in 0..PATHS.len() {
            let addr = Workload::node_addr(self.me, path);
            let endpoint = Endpoint::bind(addr).await.expect("the node's own address");
            madsim::task::spawn(receive(endpoint.clone(), PathId(path), tx.clone()));
            endpoints.push(endpoint);
        }
        madsim::task::spawn(async move {
            // SIGINT/SIGTERM of a real daemon; a task of its own so a signal is never missed.
            if madsim::signal::ctrl_c().await.is_ok() {
                let _ = tx.send(Input::Shutdown);
            }
        });
        let origin = madsim::time::Instant::now();
        let clock = || Instant::from_nanos(nanos(origin.elapsed()));
        let mut node = Node::new(self.config.clone(), epoch, clock()).expect("a valid config");
        loop {
            let at = self.start.elapsed();
            let transmits = {
                let mut log = self.log.lock().expect("no panics while held");
                drain_outputs(&mut node, clock(), self.me, at, &mut log)
            };
            for t in transmits {
                // A lost or unroutable datagram is the network's business, as with UDP.
                let _ = endpoints[t.path.0].send_to(t.to, TAG, &t.payload).await;
            }
            let Some(deadline) = node.poll_timeout() else {
                return; // stopped: the daemon exits
            };
            let wake = origin + Duration::from_nanos(deadline.as_nanos());
            tokio::select! {
                biased;
                Some(input) = inputs.recv() => match input {
                    Input::Datagram(path, from, bytes) => {
                        node.handle_datagram(clock(), path, from, &bytes);
                    }
                    Input::Shutdown => node.handle_command(clock(), Command::Shutdown),
                },
                () = sleep_until(wake) => node.handle_timeout(clock()),
            }
        }
    }
}

/// Receives on one endpoint for the node's lifetime. `Endpoint::recv_from` is not cancel-safe
/// (it takes the datagram, then sleeps), so it never races a timer: it runs in its own task.
async fn receive(endpoint: Endpoint, path: PathId, inputs: UnboundedSender<Input>) {
    let mut buf = vec![0u8; 2048];
    while let Ok((len, from)) = endpoint.recv_from(TAG, &mut buf).await {
        if inputs
            .send(Input::Datagram(path, from, buf[..len].to_vec()))
            .is_err()
        {
            return;
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
