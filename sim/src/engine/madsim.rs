//! The unchanged node on madsim nodes: madsim's endpoints, clock and network faults
//! (`kill`/`restart`, `clog_link`/`unclog_link`, `packet_loss_rate`, Ctrl-C for a planned
//! shutdown), and a stalled daemon (its driver stops reading while its endpoints keep
//! receiving). Compiled only in a `--cfg madsim` build.

use super::{links_of, step, CutCounts, Deliveries, Fault, Workload};
use crate::record::Record;
use failover_core::{Command, Config, Inbox, Instant, Node, PathId};
use madsim::net::{Endpoint, NetSim};
use madsim::runtime::{Handle, NodeHandle, Runtime};
use madsim::time::sleep_until;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::sync::watch;

/// Each datagram's network latency is drawn from zero to this (madsim adds its own small send
/// and receive delays and rounds every sleep up to 1 ms).
pub const MAX_LATENCY: Duration = Duration::from_millis(1);

/// Every datagram on an endpoint carries this tag (madsim's endpoints demultiplex by tag).
const TAG: u64 = 0;

/// Runs `workload` under madsim with `seed` and returns what the nodes did.
pub fn run(workload: &Workload, seed: u64) -> Vec<Record> {
    let mut config = madsim::Config::default();
    config.net.send_latency = Duration::ZERO..MAX_LATENCY;
    config.net.packet_loss_rate = workload.loss;
    let runtime = Runtime::with_seed_and_config(seed, config);
    let workload = workload.clone();
    runtime.block_on(async move {
        let acts = Arc::new(Mutex::new(Vec::new()));
        let start = madsim::time::Instant::now();
        let handle = Handle::current();
        let hosts: Vec<Arc<Host>> = (workload.configs.iter().enumerate())
            .map(|(me, config)| {
                Arc::new(Host {
                    me,
                    config: config.clone(),
                    boots: AtomicU64::new(0),
                    stalled: watch::channel(false).0,
                    acts: Arc::clone(&acts),
                    start,
                    nodes: workload.configs.len(),
                })
            })
            .collect();
        let nodes: Vec<NodeHandle> = (hosts.iter().enumerate())
            .map(|(me, host)| {
                let host = Arc::clone(host);
                handle
                    .create_node()
                    .name(host.config.node.name.clone())
                    .ip(Workload::node_ip(me))
                    .init(move || Arc::clone(&host).run())
                    .build()
            })
            .collect();
        let mut cuts = CutCounts::default();
        for s in &workload.schedule {
            sleep_until(start + s.at).await;
            apply(&handle, &nodes, &hosts, &mut cuts, s.fault);
        }
        sleep_until(start + workload.duration).await;
        let acts = acts.lock().expect("no panics while held").clone();
        acts
    })
}

fn apply(
    handle: &Handle,
    nodes: &[NodeHandle],
    hosts: &[Arc<Host>],
    cuts: &mut CutCounts,
    fault: Fault,
) {
    let id = |i: usize| nodes[i].id();
    let net = NetSim::current();
    let mut cut = |(from, to): (usize, usize)| {
        if cuts.cut(from, to) {
            net.clog_link(id(from), id(to));
        }
    };
    match fault {
        Fault::Crash(i) | Fault::Kill(i) => handle.kill(id(i)),
        Fault::Restart(i) => handle.restart(id(i)),
        Fault::Shutdown(i) => handle.send_ctrl_c(id(i)),
        Fault::Pause(i) => hosts[i].stall(true),
        Fault::Resume(i) => hosts[i].stall(false),
        Fault::Freeze(i) => {
            hosts[i].stall(true);
            for link in links_of(i, nodes.len()) {
                cut(link);
            }
        }
        Fault::Thaw(i) => {
            for (from, to) in links_of(i, nodes.len()) {
                if cuts.mend(from, to) {
                    net.unclog_link(id(from), id(to));
                }
            }
            hosts[i].stall(false);
        }
        Fault::Cut { from, to } => cut((from, to)),
        Fault::Mend { from, to } => {
            if cuts.mend(from, to) {
                net.unclog_link(id(from), id(to));
            }
        }
    }
}

/// What the simulation shares with every boot of one node.
struct Host {
    me: usize,
    config: Config,
    /// Boot epochs handed out so far; every (re)start takes the next one.
    boots: AtomicU64,
    /// The daemon is stopped (SIGSTOP): its driver reads nothing until it is continued.
    stalled: watch::Sender<bool>,
    acts: Arc<Mutex<Vec<Record>>>,
    /// The start of the run on madsim's global clock, for the acts' times.
    start: madsim::time::Instant,
    /// Hosts in the run.
    nodes: usize,
}

/// What wakes the driver besides its timer.
enum Input {
    Datagram(PathId, SocketAddr, Vec<u8>),
    Shutdown,
}

impl Input {
    fn into_inbox(self, inbox: &mut Inbox<Vec<u8>>) {
        match self {
            Input::Datagram(path, from, bytes) => {
                inbox.datagram(path, from, bytes);
            }
            Input::Shutdown => inbox.command(Command::Shutdown),
        }
    }
}

impl Host {
    fn stall(&self, stalled: bool) {
        self.stalled.send_replace(stalled);
    }

    /// The daemon's driver loop: runs the node from boot until it stops after a planned
    /// shutdown (or the node is killed).
    async fn run(self: Arc<Self>) {
        let epoch = self.boots.fetch_add(1, Ordering::Relaxed) + 1;
        let (tx, mut inputs) = unbounded_channel();
        let mut endpoints = Vec::with_capacity(self.config.paths.len());
        let deliveries = Arc::new(Mutex::new(Deliveries::new(self.me, self.nodes)));
        for path in 0..self.config.paths.len() {
            let addr = Workload::node_addr(self.me, path);
            let endpoint = Endpoint::bind(addr).await.expect("the node's own address");
            let receiver = Receiver {
                endpoint: endpoint.clone(),
                path: PathId(path),
                inputs: tx.clone(),
                deliveries: Arc::clone(&deliveries),
                host: Arc::clone(&self),
            };
            madsim::task::spawn(receiver.run());
            endpoints.push(endpoint);
        }
        madsim::task::spawn(async move {
            // SIGINT/SIGTERM of a real daemon; a task of its own so a signal is never missed.
            if madsim::signal::ctrl_c().await.is_ok() {
                let _ = tx.send(Input::Shutdown);
            }
        });
        let mut stalled = self.stalled.subscribe();
        let origin = madsim::time::Instant::now();
        let clock = || Instant::from_nanos(nanos(origin.elapsed()));
        let mut node = Node::new(self.config.clone(), epoch, clock()).expect("a valid config");
        let mut inbox = Inbox::new(self.config.paths.len(), usize::MAX);
        loop {
            while *stalled.borrow_and_update() {
                let _ = stalled.changed().await;
            }
            collect(&mut inputs, &mut inbox);
            let at = self.start.elapsed();
            let transmits = {
                let mut acts = self.acts.lock().expect("no panics while held");
                step(&mut node, &mut inbox, clock(), self.me, at, &mut acts)
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
                _ = stalled.changed() => {}
                Some(input) = inputs.recv() => input.into_inbox(&mut inbox),
                () = sleep_until(wake) => {}
            }
        }
    }
}

/// Everything already received, into the inbox (the input rule's first step).
fn collect(inputs: &mut UnboundedReceiver<Input>, inbox: &mut Inbox<Vec<u8>>) {
    while let Ok(input) = inputs.try_recv() {
        input.into_inbox(inbox);
    }
}

/// One endpoint of one boot of a node, and where what it receives goes.
struct Receiver {
    endpoint: Endpoint,
    path: PathId,
    inputs: UnboundedSender<Input>,
    deliveries: Arc<Mutex<Deliveries>>,
    host: Arc<Host>,
}

impl Receiver {
    /// Receives for the node's lifetime. `Endpoint::recv_from` is not cancel-safe (it takes
    /// the datagram, then sleeps), so it never races a timer: it runs in its own task, and
    /// keeps receiving while the daemon stalls.
    async fn run(self) {
        let mut buf = vec![0u8; 2048];
        while let Ok((len, from)) = self.endpoint.recv_from(TAG, &mut buf).await {
            let bytes = buf[..len].to_vec();
            let heard =
                (self.deliveries.lock().expect("no panics while held")).received(from, &bytes);
            if let Some(heard) = heard {
                let at = nanos(self.host.start.elapsed());
                (self.host.acts.lock().expect("no panics while held")).push((at, heard));
            }
            if self
                .inputs
                .send(Input::Datagram(self.path, from, bytes))
                .is_err()
            {
                return;
            }
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
