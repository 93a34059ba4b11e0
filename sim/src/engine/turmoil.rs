//! The unchanged node on turmoil hosts: turmoil's UDP sockets, tokio's simulated clock,
//! turmoil's own faults (`crash`/`bounce`, `partition_oneway`/`repair_oneway`), and a stalled
//! daemon (its driver stops reading while its sockets keep receiving).

use super::{links_of, step, CutCounts, Deliveries, Fault, Workload};
use crate::record::Record;
use failover_core::{Command, Config, Inbox, Instant, Node, PathId};
use std::cell::RefCell;
use std::net::{Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::time::Duration;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::sync::{watch, Notify};
use tokio::time::sleep_until;
use turmoil::net::UdpSocket;

/// turmoil advances every host's clock by this much per step, idle or not (the benchmark's
/// tick, and the issue's).
pub const TICK: Duration = Duration::from_millis(1);

/// Each datagram takes between zero and this long.
pub const MAX_LATENCY: Duration = Duration::from_millis(1);

/// Runs `workload` under turmoil with `seed` and returns what the nodes did, or why turmoil
/// cannot run it (see [`super::workload_for`]).
///
/// The simulation is stepped by hand to the workload's end, each scheduled fault applied before
/// the step that starts at its time: there is no client task to wait on, and an idle one would
/// cost a wake-up on every tick.
pub fn run(workload: &Workload, seed: u64) -> Result<Vec<Record>, String> {
    if workload.loss > 0.0 {
        return Err("turmoil cannot drop single datagrams, only whole links".into());
    }
    let mut sim = turmoil::Builder::new()
        .simulation_duration(workload.duration + TICK * 2)
        .tick_duration(TICK)
        .min_message_latency(Duration::ZERO)
        .max_message_latency(MAX_LATENCY)
        .rng_seed(seed)
        .build();
    let acts = Rc::new(RefCell::new(Vec::new()));
    let hosts: Vec<Rc<Host>> = (workload.configs.iter().enumerate())
        .map(|(me, config)| {
            Rc::new(Host {
                me,
                config: config.clone(),
                boots: RefCell::new(0),
                shutdown: Notify::new(),
                stalled: watch::channel(false).0,
                acts: Rc::clone(&acts),
                nodes: workload.configs.len(),
            })
        })
        .collect();
    for (i, host) in hosts.iter().enumerate() {
        let host = Rc::clone(host);
        sim.host(Workload::node_ip(i), move || Rc::clone(&host).run());
    }
    let mut cuts = CutCounts::default();
    let mut schedule = workload.schedule.iter().peekable();
    while sim.elapsed() < workload.duration {
        while let Some(s) = schedule.next_if(|s| s.at <= sim.elapsed()) {
            apply(&mut sim, &hosts, &mut cuts, s.fault);
        }
        sim.step().map_err(|e| e.to_string())?;
    }
    let acts = acts.borrow().clone();
    Ok(acts)
}

fn apply(sim: &mut turmoil::Sim<'_>, hosts: &[Rc<Host>], cuts: &mut CutCounts, fault: Fault) {
    let ip = Workload::node_ip;
    let mut cut = |sim: &mut turmoil::Sim<'_>, (from, to): (usize, usize)| {
        if cuts.cut(from, to) {
            sim.partition_oneway(ip(from), ip(to));
        }
    };
    match fault {
        Fault::Crash(i) | Fault::Kill(i) => sim.crash(ip(i)),
        Fault::Restart(i) => sim.bounce(ip(i)),
        Fault::Shutdown(i) => hosts[i].shutdown.notify_one(),
        Fault::Pause(i) => hosts[i].stall(true),
        Fault::Resume(i) => hosts[i].stall(false),
        Fault::Freeze(i) => {
            hosts[i].stall(true);
            for link in links_of(i, hosts.len()) {
                cut(sim, link);
            }
        }
        Fault::Thaw(i) => {
            for (from, to) in links_of(i, hosts.len()) {
                if cuts.mend(from, to) {
                    sim.repair_oneway(ip(from), ip(to));
                }
            }
            hosts[i].stall(false);
        }
        Fault::Cut { from, to } => cut(sim, (from, to)),
        Fault::Mend { from, to } => {
            if cuts.mend(from, to) {
                sim.repair_oneway(ip(from), ip(to));
            }
        }
    }
}

/// What the simulation shares with every boot of one host.
struct Host {
    me: usize,
    config: Config,
    /// Boot epochs handed out so far; every (re)start takes the next one.
    boots: RefCell<u64>,
    /// The operator's planned shutdown (a real daemon's SIGTERM).
    shutdown: Notify,
    /// The daemon is stopped (SIGSTOP): its driver reads nothing until it is continued.
    stalled: watch::Sender<bool>,
    acts: Rc<RefCell<Vec<Record>>>,
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
    /// shutdown (or the host crashes).
    async fn run(self: Rc<Self>) -> turmoil::Result {
        let epoch = {
            let mut boots = self.boots.borrow_mut();
            *boots += 1;
            *boots
        };
        let (tx, mut inputs) = unbounded_channel();
        let mut sockets = Vec::with_capacity(self.config.paths.len());
        let deliveries = Rc::new(RefCell::new(Deliveries::new(self.me, self.nodes)));
        for path in 0..self.config.paths.len() {
            let port = Workload::node_addr(self.me, path).port();
            let socket = Rc::new(UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port)).await?);
            let receiver = Receiver {
                socket: Rc::clone(&socket),
                path: PathId(path),
                inputs: tx.clone(),
                deliveries: Rc::clone(&deliveries),
                acts: Rc::clone(&self.acts),
            };
            tokio::task::spawn_local(receiver.run());
            sockets.push(socket);
        }
        let shutdown = Rc::clone(&self);
        tokio::task::spawn_local(async move {
            shutdown.shutdown.notified().await;
            let _ = tx.send(Input::Shutdown);
        });
        let mut stalled = self.stalled.subscribe();
        let origin = tokio::time::Instant::now();
        let clock = || Instant::from_nanos(nanos(origin.elapsed()));
        let mut node = Node::new(self.config.clone(), epoch, clock())?;
        let mut inbox = Inbox::new(self.config.paths.len(), usize::MAX);
        loop {
            while *stalled.borrow_and_update() {
                let _ = stalled.changed().await;
            }
            collect(&mut inputs, &mut inbox);
            let at = turmoil::sim_elapsed().expect("inside the simulation");
            let transmits = step(
                &mut node,
                &mut inbox,
                clock(),
                self.me,
                at,
                &mut self.acts.borrow_mut(),
            );
            for t in transmits {
                // turmoil's UDP has no back-pressure: try_send_to never waits.
                sockets[t.path.0].try_send_to(&t.payload, t.to)?;
            }
            let Some(deadline) = node.poll_timeout() else {
                return Ok(()); // stopped: the daemon exits
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

/// One socket of one boot of a host, and where what it receives goes.
struct Receiver {
    socket: Rc<UdpSocket>,
    path: PathId,
    inputs: UnboundedSender<Input>,
    deliveries: Rc<RefCell<Deliveries>>,
    acts: Rc<RefCell<Vec<Record>>>,
}

impl Receiver {
    /// Receives for the node's lifetime, in a task of its own so no datagram is lost to a
    /// timer winning a `select!`, and datagrams keep arriving while the daemon stalls.
    async fn run(self) {
        let mut buf = vec![0u8; 2048];
        while let Ok((len, from)) = self.socket.recv_from(&mut buf).await {
            let bytes = buf[..len].to_vec();
            if let Some(heard) = self.deliveries.borrow_mut().received(from, &bytes) {
                let at = turmoil::sim_elapsed().expect("inside the simulation");
                self.acts.borrow_mut().push((nanos(at), heard));
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
