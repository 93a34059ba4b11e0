//! The discrete-event loop: every simulated node runs the real [`failover_core::Node`]; the
//! loop owns time, the network, the hosts, faults and the client, and tells the checkers what
//! happened.
//!
//! Events are ordered by (time, sequence number) and all randomness comes from the run's seed,
//! forked per purpose, so a seed replays the same run byte for byte. Like every driver, the
//! loop hands a node its inputs through an [`failover_core::Inbox`]: everything that reaches a
//! node at one instant — datagrams, answers, its timer — is collected first and handed over by
//! the input rule once the instant's events are in.
//!
//! This module is the loop itself: what is due (`Due`), the world's state, dispatching and
//! the run's report. Each part of the world it drives is a module of its own:
//!
//! | module | what |
//! |---|---|
//! | `delivery` | what reaches a daemon and when it is handed over (the input rule), its timer |
//! | `daemon` | a daemon's start and end, the driver's work after every input, outputs carried out |
//! | `jobs` | the daemon's action queue: hooks and address changes one at a time, killed at core's deadline |
//! | `kernel` | addresses on the host's interfaces, quorum-mode lifetimes |
//! | `announce` | an owner's gratuitous ARP on its way to the clients |
//! | `sending` | datagrams through the network into the queue |
//! | `faults` | each fault kind begun and ended |
//! | `tamper` | an attacker's bad datagrams, each judged as the node handles it |
//! | `host`, `clock` | one server's state; its clock's drift and jumps |
//! | `client`, `client_requests` | the client's ARP cache and requests; their outcomes reported |

mod announce;
mod client;
mod client_requests;
mod clock;
mod daemon;
mod delivery;
mod faults;
mod host;
mod jobs;
mod kernel;
mod ledger;
mod reload;
mod sending;
mod tamper;

use crate::check::{self, Checkers, Context, Findings};
use crate::fault::{Fault, Impairment};
use crate::net::{Cuts, Link};
use crate::plan::Plan;
use crate::queue::{EventQueue, Next};
use crate::record::{Observation, Record};
use crate::scenario::{Scenario, ScenarioError};
use crate::topology;
use crate::trace::Trace;
use client::Client;
use failover_core::Coverage;
use host::Host;
use rand_chacha::ChaCha8Rng;
use sending::Outgoing;
use std::net::SocketAddr;
use std::sync::Arc;

/// Events at one simulated instant beyond which a run counts as stuck.
const LIVELOCK_EVENTS: u32 = 1_000_000;

/// How to run.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Keep a readable record of every datagram (they are always hashed).
    pub keep_datagrams: bool,
    /// Keep every observation in `RunReport::record` (for a timeline picture).
    pub record: bool,
    /// Keep no readable trace, only its hash (`RunReport::trace` has no records): what a
    /// sweep reads of a run.
    pub hash_only: bool,
}

/// Everything a run produced.
#[derive(Debug)]
pub struct RunReport {
    /// Scenario name.
    pub scenario: String,
    /// Seed.
    pub seed: u64,
    /// Figures and violations.
    pub findings: Findings,
    /// The trace.
    pub trace: Trace,
    /// The faults as resolved (flaps expanded).
    pub faults: Vec<Fault>,
    /// What the nodes did, as their drivers saw it — addresses added and removed, role
    /// changes, notifications: the record every engine produces, compared across engines
    /// (`crate::engine`).
    pub acts: Vec<Record>,
    /// Everything the checkers saw, in time order, when `Options::record` asked for it.
    pub record: Vec<Record>,
    /// What the nodes went through: the union over every node and every start of its daemon.
    pub coverage: Coverage,
}

impl RunReport {
    /// Whether every invariant held.
    pub fn passed(&self) -> bool {
        self.findings.violations.is_empty()
    }

    /// The trace hash, 16 hex digits.
    pub fn hash(&self) -> String {
        self.trace.hash_hex()
    }
}

/// Something due at a simulated instant, besides the queue's timers: one per node (its
/// daemon's, cleared when it goes down) and the client's after them (an ARP entry goes stale).
enum Due {
    /// One announcement reaches a host on the paths of `paths` (a bit per path), all at
    /// once. `from` is the sender's index; with a path's segment it gives the source address.
    Arrival {
        to: u32,
        paths: u32,
        from: u32,
        payload: Arc<[u8]>,
    },
    /// The job a host runs ends (unless `generation` says it was suspended since).
    JobEnds {
        node: usize,
        incarnation: u64,
        generation: u64,
    },
    FaultBegins(usize),
    FaultEnds(usize),
    /// First start of a node; queued after faults at time zero, so a clock set at 0 s is the
    /// node's clock from its first instant.
    Start(usize),
    /// An attacker's datagram reaches host `to` on `path`, claiming to come from `from`.
    Tampered {
        to: u32,
        path: u32,
        from: u32,
        how: crate::fault::Tamper,
        payload: Arc<[u8]>,
    },
    /// Quorum mode: an address's kernel lifetime ends (unless renewed since: `at` differs).
    Expires {
        node: u32,
        vip: u32,
        at: u64,
    },
    /// A gratuitous ARP that daemon `incarnation` of host `node` asked for reaches the
    /// segment (`protocol.announce_latency` later).
    Announcement {
        node: u32,
        vip: u32,
        incarnation: u64,
    },
}

/// One run of one plan.
pub struct World<'p> {
    scenario: &'p Scenario,
    seed: u64,
    now: u64,
    queue: EventQueue<Due>,
    hosts: Vec<Host>,
    /// Hosts to hand their inbox to before time moves on, in the order woken.
    woken: Vec<usize>,
    links: Vec<Option<Link>>,
    cuts: Cuts,
    /// `degrade` faults in force: (fault id, segment, impairment).
    degrades: Vec<(usize, usize, Impairment)>,
    /// Per segment, every degrade in force on it at once.
    impairments: Vec<Impairment>,
    /// Per segment, its latency when nothing random applies to it (no jitter, loss,
    /// duplication, reordering or degrade): every datagram takes it, and no link is asked.
    fixed_latency: Vec<Option<u64>>,
    faults: &'p [Fault],
    checkers: Checkers,
    trace: Trace,
    acts: Vec<Record>,
    record: Option<Vec<Record>>,
    /// When simulated time stopped moving, if it did.
    livelock: Option<u64>,
    /// The first of core's invariants seen broken (see `check_node`).
    core_broken: Option<String>,
    /// Each virtual address, written out once.
    vip_names: Vec<String>,
    /// Each node's name, by index.
    names: Vec<String>,
    /// Each node's address on each segment, by segment then node.
    addresses: Vec<Vec<SocketAddr>>,
    interval: u64,
    client: Client,
    job_generation: u64,
    /// Datagrams the input being handled sent (see `send_outgoing`).
    outgoing: Vec<Outgoing>,
    /// When, within its granularity, the kernel removes an address whose lifetime is over.
    kernel: ChaCha8Rng,
    /// Operators' requests asked so far: the next one's id.
    requests: u64,
    /// The newest (boot epoch, sequence number) of each sender's datagrams that reached each
    /// receiver, by receiver then sender: what makes a delivery `Heard`.
    newest: Vec<Option<(u64, u64)>>,
    /// The attacker of `tamper` faults: what is in force, what it captured, its randomness.
    attacker: tamper::Attacker,
    /// The operator's edits of the nodes' files (`reload` faults).
    edits: crate::fault::Edits,
}

/// Runs `scenario` under `seed`.
pub fn run(scenario: &Scenario, seed: u64, options: &Options) -> Result<RunReport, ScenarioError> {
    let plan = Plan::new(scenario, seed)?;
    Ok(run_plan(&plan, options))
}

/// Runs a plan already made.
pub fn run_plan(plan: &Plan, options: &Options) -> RunReport {
    let mut world = World::new(plan, options);
    world.run_to_end();
    world.finish()
}

impl<'p> World<'p> {
    fn new(plan: &'p Plan, options: &Options) -> World<'p> {
        let scenario = &plan.scenario;
        let n = scenario.nodes.len();
        let ctx = Context {
            deliveries: true,
            ..Context::new(scenario, &plan.faults)
        };
        let hosts = (plan.configs.iter().enumerate())
            .map(|(i, config)| {
                Host::new(
                    scenario.nodes[i].name.clone(),
                    config.clone(),
                    scenario.node_segments(i),
                    scenario.vips.len(),
                    scenario.protocol.socket_buffer,
                    (i, n),
                )
            })
            .collect();
        let segment = scenario.client_segment();
        let nanos = |d: std::time::Duration| d.as_nanos() as u64;
        let seg = &scenario.segments[segment];
        let client = Client::new(
            plan.seed,
            segment,
            nanos(scenario.client.interval),
            nanos(scenario.client.arp_timeout),
            nanos(seg.latency),
            nanos(seg.jitter),
            scenario.vips.len(),
        );
        let mut world = World {
            scenario,
            seed: plan.seed,
            now: 0,
            queue: EventQueue::default(),
            hosts,
            woken: Vec::new(),
            links: (0..scenario.segments.len() * n * n).map(|_| None).collect(),
            cuts: Cuts::default(),
            degrades: Vec::new(),
            impairments: vec![Impairment::default(); scenario.segments.len()],
            fixed_latency: (scenario.segments.iter())
                .map(|seg| seg.is_quiet().then_some(nanos(seg.latency)))
                .collect(),
            faults: &plan.faults,
            checkers: Checkers::new(ctx),
            trace: match options.hash_only {
                true => Trace::hash_only(),
                false => Trace::new(options.keep_datagrams),
            },
            acts: Vec::new(),
            record: options.record.then(Vec::new),
            livelock: None,
            core_broken: None,
            names: scenario.nodes.iter().map(|n| n.name.clone()).collect(),
            vip_names: (scenario.vips.iter())
                .map(|v| v.address.to_string())
                .collect(),
            addresses: (0..scenario.segments.len())
                .map(|seg| (0..n).map(|node| topology::address(seg, node)).collect())
                .collect(),
            interval: nanos(scenario.protocol.interval),
            client,
            job_generation: 0,
            outgoing: Vec::new(),
            kernel: crate::rng::fork(plan.seed, kernel::STREAM),
            requests: 0,
            newest: vec![None; n * n],
            attacker: tamper::Attacker::new(plan.seed, scenario.protocol.auth_key.is_some()),
            edits: crate::fault::Edits::default(),
        };
        for (id, f) in plan.faults.iter().enumerate() {
            world.queue.push(nanos(f.at), Due::FaultBegins(id));
            if let Some(end) = f.end() {
                world.queue.push(nanos(end), Due::FaultEnds(id));
            }
        }
        for i in 0..n {
            world.queue.push(0, Due::Start(i));
        }
        world
    }

    /// Runs every event up to the scenario's end, or until time stops moving: a livelock (a
    /// node woken again and again at one instant) ends the run as a violation, not a hang.
    fn run_to_end(&mut self) {
        let end = self.scenario.duration.as_nanos() as u64;
        let mut at_once = 0;
        loop {
            if let Some((at, due)) = self.queue.pop_due(self.now) {
                at_once += 1;
                if at_once > LIVELOCK_EVENTS {
                    self.livelock = Some(at);
                    return;
                }
                self.dispatch(due);
                continue;
            }
            // Everything due now is in: the nodes take their inputs (which may queue more
            // for now), then the client's requests see what the instant did.
            if !self.woken.is_empty() {
                self.wake_all();
                continue;
            }
            if self.client.dirty {
                self.settle_client();
            }
            match self.queue.peek_time() {
                Some(at) if at <= end => {
                    self.now = at;
                    at_once = 0;
                }
                _ => break,
            }
        }
        self.now = end;
    }

    fn finish(mut self) -> RunReport {
        self.flush_client();
        // Every running node's status at the end, as it stands.
        for i in 0..self.hosts.len() {
            self.hosts[i].ledger.mark();
            self.status_if_due(i);
        }
        let mut findings = Findings::default();
        if let Some(why) = self.core_broken.take() {
            findings.violate("core-invariant", why);
        }
        if let Some(at) = self.livelock {
            findings.violate(
                "livelock",
                format!(
                    "more than {LIVELOCK_EVENTS} events at {}: simulated time stopped",
                    check::secs(at)
                ),
            );
        }
        self.checkers.finish(self.now, &mut findings);
        // Core's inboxes count what a full buffer dropped; the run reports it.
        findings.figures.datagrams_overflowed =
            (self.hosts.iter()).map(|h| h.inbox.overflowed()).sum();
        let mut coverage = Coverage::default();
        for h in &mut self.hosts {
            h.forget_process();
            coverage.union(&h.coverage);
        }
        RunReport {
            scenario: self.scenario.name.clone(),
            seed: self.seed,
            findings,
            trace: self.trace,
            faults: self.faults.to_vec(),
            acts: self.acts,
            record: self.record.unwrap_or_default(),
            coverage,
        }
    }

    fn observe(&mut self, obs: Observation) {
        // Requests counted so far happened under the state before this observation.
        if !matches!(
            obs,
            Observation::Requests { .. }
                | Observation::Heard { .. }
                | Observation::BufferOverflowed { .. }
                | Observation::Status { .. }
                | Observation::Grants { .. }
                | Observation::Announced { .. }
        ) {
            self.flush_client();
        }
        self.checkers.observe(self.now, &obs);
        if let Some(record) = self.record.as_mut() {
            record.push((self.now, obs));
        }
    }

    /// Something node `node` did, as its driver saw it.
    fn act(&mut self, obs: Observation) {
        self.acts.push((self.now, obs));
    }

    fn note(&mut self, node: Option<usize>, what: String) {
        let who = node.map_or("-", |i| self.hosts[i].name.as_str());
        self.trace.record(self.now, who, what);
    }

    fn dispatch(&mut self, next: Next<Due>) {
        let due = match next {
            Next::Event(due) => due,
            Next::Timer(client) if client == self.hosts.len() => {
                self.client.dirty = true;
                return;
            }
            Next::Timer(node) => {
                self.wake(node);
                return;
            }
        };
        match due {
            Due::Arrival {
                to,
                paths,
                from,
                payload,
            } => self.arrive(to as usize, paths, from as usize, payload),
            Due::JobEnds {
                node,
                incarnation,
                generation,
            } => self.job_ends(node, incarnation, generation),
            Due::Start(i) => self.start(i),
            Due::FaultBegins(id) => self.begin_fault(id),
            Due::FaultEnds(id) => self.end_fault(id),
            Due::Expires { node, vip, at } => self.expire(node as usize, vip as usize, at),
            Due::Announcement {
                node,
                vip,
                incarnation,
            } => self.announcement_due(node as usize, vip as usize, incarnation),
            Due::Tampered {
                to,
                path,
                from,
                how,
                payload,
            } => self.tampered(to as usize, path as usize, from as usize, how, &payload),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulated_time_that_stops_moving_ends_the_run_as_a_livelock() {
        let scenario = Scenario::builder("stuck", std::time::Duration::from_secs(60))
            .segment("public")
            .node("a", 100)
            .node("b", 50)
            .vip("192.0.2.100")
            .build()
            .unwrap();
        let plan = Plan::new(&scenario, 1).unwrap();
        let mut world = World::new(&plan, &Options::default());
        // What a node woken again and again at one instant looks like to the loop (an
        // address's lifetime, long renewed: nothing happens).
        for _ in 0..=LIVELOCK_EVENTS {
            let due = Due::Expires {
                node: 0,
                vip: 0,
                at: 0,
            };
            world.queue.push(5_000_000_000, due);
        }
        world.run_to_end();
        let report = world.finish();
        let broken = report.findings.broken();
        assert!(broken.contains("livelock"), "{broken:?}");
        assert!(report.findings.violations[0].detail.contains("at 5.000s"));
    }
}
