//! The unchanged node on turmoil hosts: turmoil's UDP sockets, tokio's simulated clock,
//! turmoil's own faults (`crash`/`bounce`, `partition_oneway`/`repair_oneway`).

use super::{drain_outputs, Act, Fault, Workload};
use failover_core::{Command, Config, Instant, Node, PathId};
use std::cell::RefCell;
use std::net::{Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::time::Duration;
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};
use tokio::sync::Notify;
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
pub fn run(workload: &Workload, seed: u64) -> Result<Vec<Act>, String> {
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
                acts: Rc::clone(&acts),
            })
        })
        .collect();
    for (i, host) in hosts.iter().enumerate() {
        let host = Rc::clone(host);
        sim.host(Workload::node_ip(i), move || Rc::clone(&host).run());
    }
    let mut schedule = workload.schedule.iter().peekable();
    while sim.elapsed() < workload.duration {
        while let Some(s) = schedule.next_if(|s| s.at <= sim.elapsed()) {
            apply(&mut sim, &hosts, s.fault);
        }
        sim.step().map_err(|e| e.to_string())?;
    }
    let acts = acts.borrow().clone();
    Ok(acts)
}

fn apply(sim: &mut turmoil::Sim<'_>, hosts: &[Rc<Host>], fault: Fault) {
    let ip = Workload::node_ip;
    match fault {
        Fault::Crash(i) => sim.crash(ip(i)),
        Fault::Restart(i) => sim.bounce(ip(i)),
        Fault::Shutdown(i) => hosts[i].shutdown.notify_one(),
        Fault::Cut { from, to } => sim.partition_oneway(ip(from), ip(to)),
        Fault::Mend { from, to } => sim.repair_oneway(ip(from), ip(to)),
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
    acts: Rc<RefCell<Vec<Act>>>,
}

/// What wakes the driver besides its timer.
enum Input {
    Datagram(PathId, SocketAddr, Vec<u8>),
    Shutdown,
}

impl Host {
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
        for path in 0..self.config.paths.len() {
            let port = Workload::node_addr(self.me, path).port();
            let socket = Rc::new(UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port)).await?);
            tokio::task::spawn_local(receive(Rc::clone(&socket), PathId(path), tx.clone()));
            sockets.push(socket);
        }
        let shutdown = Rc::clone(&self);
        tokio::task::spawn_local(async move {
            shutdown.shutdown.notified().await;
            let _ = tx.send(Input::Shutdown);
        });
        let origin = tokio::time::Instant::now();
        let clock = || Instant::from_nanos(nanos(origin.elapsed()));
        let mut node = Node::new(self.config.clone(), epoch, clock())?;
        loop {
            let at = turmoil::sim_elapsed().expect("inside the simulation");
            let transmits =
                drain_outputs(&mut node, clock(), self.me, at, &mut self.acts.borrow_mut());
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

/// Receives on one socket for the node's lifetime, in a task of its own so no datagram is
/// lost to a timer winning a `select!`.
async fn receive(socket: Rc<UdpSocket>, path: PathId, inputs: UnboundedSender<Input>) {
    let mut buf = vec![0u8; 2048];
    while let Ok((len, from)) = socket.recv_from(&mut buf).await {
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
