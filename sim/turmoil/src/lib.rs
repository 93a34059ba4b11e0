//! The failover protocol under turmoil: the unchanged core [`failover_core::Node`] on turmoil
//! hosts, with turmoil's UDP sockets, tokio's simulated clock and turmoil's own faults.
//!
//! Running the very same node under a second, independently written simulator is what makes
//! "the protocol behaves the same under a simulated network and real sockets" believable: a
//! verdict that only our simulator reaches would be a property of our simulator. Each node is
//! a turmoil host with one socket per path; crashes and restarts are `crash`/`bounce`, a
//! partition is `partition`/`repair` of the host pair, a planned shutdown is the operator's
//! command delivered to the host's driver.

#[path = "../../src/engine.rs"]
pub mod engine;
mod host;

use engine::{Fault, Observation, Workload};
use host::Host;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;
use tokio::sync::Notify;

/// How turmoil is set up; the defaults are the benchmark's.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// turmoil advances every host's clock by this much per step, idle or not.
    pub tick: Duration,
    /// Each datagram takes between zero and this long (turmoil's default is 100 ms).
    pub max_latency: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            tick: Duration::from_millis(1),
            max_latency: Duration::from_millis(1),
        }
    }
}

/// Runs `workload` under turmoil with `seed` and returns the address changes the hosts saw, or
/// why turmoil cannot run it.
///
/// The simulation is stepped by hand until the workload's duration, applying each scheduled
/// fault before the step that starts at its time: there is no client to wait for, and an idle
/// client would cost a task wake-up on every tick.
pub fn run(workload: &Workload, seed: u64, options: Options) -> Result<Vec<Observation>, String> {
    if workload.loss > 0.0 {
        return Err(format!(
            "{}: turmoil cannot drop single datagrams (its links fail and repair as a whole)",
            workload.name
        ));
    }
    let mut sim = turmoil::Builder::new()
        .simulation_duration(workload.duration + options.tick * 2)
        .tick_duration(options.tick)
        .min_message_latency(Duration::ZERO)
        .max_message_latency(options.max_latency)
        .rng_seed(seed)
        .build();
    let log = Rc::new(RefCell::new(Vec::new()));
    let hosts: Vec<Rc<Host>> = (0..workload.nodes.len())
        .map(|me| {
            Rc::new(Host {
                me,
                config: workload.node_config(me),
                boots: RefCell::new(0),
                shutdown: Notify::new(),
                log: Rc::clone(&log),
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
    let trace = log.borrow().clone();
    Ok(trace)
}

fn apply(sim: &mut turmoil::Sim<'_>, hosts: &[Rc<Host>], fault: Fault) {
    let ip = Workload::node_ip;
    match fault {
        Fault::Crash(i) => sim.crash(ip(i)),
        Fault::Restart(i) => sim.bounce(ip(i)),
        Fault::Shutdown(i) => hosts[i].shutdown.notify_one(),
        Fault::Partition(a, b) => sim.partition(ip(a), ip(b)),
        Fault::Heal(a, b) => sim.repair(ip(a), ip(b)),
    }
}
