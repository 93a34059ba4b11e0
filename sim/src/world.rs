//! The discrete-event loop: every simulated node runs the real [`failover_core::Node`]; the
//! loop owns time, the network, faults and the client, and tells the checkers what happened.
//!
//! Events are ordered by (time, sequence number) and all randomness comes from the run's seed,
//! forked per link, so a seed replays the same run byte for byte.

use crate::check::{self, Checker, Context, Findings, Observation};
use crate::engine::{Act, Did};
use crate::net::{self, Cuts, Fate, Impairment, Link};
use crate::queue::EventQueue;
use crate::scenario::{Fault, FaultKind, Party, Scenario, ScenarioError};
use crate::timeline::Mark;
use crate::trace::Trace;
use failover_core::{
    Command, Config, Event, HookId, HookKind, HookOutcome, Instant, Node, Output, PathId, Role,
};
use std::net::SocketAddr;
use std::sync::Arc;

/// Events at one simulated instant beyond which a run counts as stuck.
const LIVELOCK_EVENTS: u32 = 1_000_000;

/// How to run.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Keep a readable record of every datagram (they are always hashed).
    pub keep_datagrams: bool,
    /// Keep what a timeline picture needs (`RunReport::marks`).
    pub timeline: bool,
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
    /// What the nodes did, as a driver sees it: the record every engine produces, compared
    /// across engines (`crate::engine`).
    pub acts: Vec<Act>,
    /// What the checkers saw, in time order, when `Options::timeline` asked for it.
    pub marks: Vec<(u64, Mark)>,
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

enum Ev {
    /// `from` is the sender's node index; with the segment it gives the source address.
    Deliver {
        to: u32,
        path: u32,
        from: u32,
        payload: Arc<[u8]>,
    },
    /// A node's timer (the queue keeps one per node, cleared when the node goes down).
    Timer {
        node: usize,
    },
    Hook {
        node: usize,
        incarnation: u64,
        id: HookId,
        outcome: HookOutcome,
    },
    FaultStart(usize),
    FaultEnd(usize),
    /// First start of a node; queued after faults at time zero, so a clock set at 0 s is the
    /// node's clock from its first instant.
    Start(usize),
}

/// A node's clock: `local = base_local + (t - base_true) · (1 + ppm/1e6)`; never runs backwards.
#[derive(Clone, Copy)]
struct Clock {
    base_true: u64,
    base_local: u64,
    ppm: f64,
}

impl Clock {
    fn local(&self, t: u64) -> u64 {
        let elapsed = t.saturating_sub(self.base_true);
        if self.ppm == 0.0 {
            self.base_local + elapsed
        } else {
            self.base_local + (elapsed as f64 * (1.0 + self.ppm / 1e6)) as u64
        }
    }

    /// The first true instant at which the local clock reads `local` or later. (Floating
    /// point can land a nanosecond short; a timer set there would find nothing due and be set
    /// again for the same instant, for ever.)
    fn true_time(&self, local: u64) -> u64 {
        let ahead = local.saturating_sub(self.base_local);
        if self.ppm == 0.0 {
            return self.base_true + ahead;
        }
        let mut t = self.base_true + (ahead as f64 / (1.0 + self.ppm / 1e6)).ceil() as u64;
        while self.local(t) < local {
            t += 1;
        }
        while t > self.base_true && self.local(t - 1) >= local {
            t -= 1;
        }
        t
    }
}

struct SimNode {
    name: String,
    config: Config,
    /// Path index → segment index.
    segments: Vec<usize>,
    node: Option<Node>,
    incarnation: u64,
    paused: bool,
    /// What arrived while paused: run, in order, when the pause ends.
    deferred: Vec<Ev>,
    clock: Clock,
    held: Vec<bool>,
    /// Hook faults in force: (fault id, hook, hang).
    hook_faults: Vec<(usize, HookKind, bool)>,
}

/// One run of one scenario under one seed.
pub struct World<'s> {
    scenario: &'s Scenario,
    seed: u64,
    now: u64,
    queue: EventQueue<Ev>,
    nodes: Vec<SimNode>,
    links: Vec<Option<Link>>,
    cuts: Cuts,
    /// `degrade` faults in force: (fault id, segment, impairment).
    degrades: Vec<(usize, usize, Impairment)>,
    /// Per segment, every degrade in force on it at once.
    trouble: Vec<Impairment>,
    faults: Vec<Fault>,
    checkers: Vec<Box<dyn Checker>>,
    trace: Trace,
    acts: Vec<Act>,
    /// When simulated time stopped moving, if it did.
    livelock: Option<u64>,
    /// Each virtual address, written out once.
    vip_names: Vec<String>,
    /// Each node's address on each segment, by segment then node.
    addresses: Vec<Vec<SocketAddr>>,
    /// `Some` when a timeline is wanted.
    marks: Option<Vec<(u64, Mark)>>,
    interval: u64,
    /// The client, one request to each address every `client.interval` from time zero: who
    /// each address's ARP entry points to, whether requests succeed, whether something that
    /// may change that happened at the current instant, and from when requests to each
    /// address have not been reported. Requests are counted when their outcome changes, not
    /// one by one: an hour of them costs nothing while nothing happens.
    arp: Vec<Option<usize>>,
    served: Vec<bool>,
    client_dirty: bool,
    client_since: Vec<u64>,
}

/// Runs `scenario` under `seed`.
pub fn run(scenario: &Scenario, seed: u64, options: &Options) -> Result<RunReport, ScenarioError> {
    let scenario = scenario.instantiate(seed);
    let faults = scenario.resolve_faults(&scenario.name)?;
    let configs = scenario.sim_configs(&scenario.name)?;
    let mut world = World::new(&scenario, seed, faults, configs, options);
    world.run_to_end();
    Ok(world.finish())
}

impl<'s> World<'s> {
    /// A world for `scenario` with its resolved `faults` and every node's checked `configs`.
    fn new(
        scenario: &'s Scenario,
        seed: u64,
        faults: Vec<Fault>,
        configs: Vec<Config>,
        options: &Options,
    ) -> World<'s> {
        let n = scenario.nodes.len();
        let ctx = Context::new(scenario, &faults);
        let nodes = (configs.into_iter().enumerate())
            .map(|(i, config)| {
                let segments = scenario.node_segments(i);
                SimNode {
                    name: scenario.nodes[i].name.clone(),
                    config,
                    segments,
                    node: None,
                    incarnation: 0,
                    paused: false,
                    deferred: Vec::new(),
                    clock: Clock {
                        base_true: 0,
                        base_local: 0,
                        ppm: 0.0,
                    },
                    held: vec![false; scenario.vips.len()],
                    hook_faults: Vec::new(),
                }
            })
            .collect();
        let mut world = World {
            scenario,
            seed,
            now: 0,
            queue: EventQueue::default(),
            nodes,
            links: (0..scenario.segments.len() * n * n).map(|_| None).collect(),
            cuts: Cuts::default(),
            degrades: Vec::new(),
            trouble: vec![Impairment::default(); scenario.segments.len()],
            checkers: check::all(&ctx),
            trace: Trace::new(options.keep_datagrams),
            acts: Vec::new(),
            livelock: None,
            vip_names: scenario
                .vips
                .iter()
                .map(|v| v.address.to_string())
                .collect(),
            addresses: (0..scenario.segments.len())
                .map(|seg| (0..n).map(|node| net::address(seg, node)).collect())
                .collect(),
            marks: options.timeline.then(Vec::new),
            interval: scenario.protocol.interval.as_nanos() as u64,
            arp: vec![None; scenario.vips.len()],
            served: vec![false; scenario.vips.len()],
            client_dirty: false,
            client_since: vec![0; scenario.vips.len()],
            faults,
        };
        for (id, f) in world.faults.iter().enumerate() {
            let at = f.at.as_nanos() as u64;
            world.queue.push(at, Ev::FaultStart(id));
            if let Some(d) = f.duration {
                world.queue.push(at + d.as_nanos() as u64, Ev::FaultEnd(id));
            }
        }
        for i in 0..n {
            world.push(0, Ev::Start(i));
        }
        world
    }

    fn push(&mut self, at: u64, ev: Ev) {
        self.queue.push(at, ev);
    }

    /// Runs every event up to the scenario's end, or until time stops moving: a livelock (a
    /// node woken again and again at one instant) ends the run as a violation, not a hang.
    fn run_to_end(&mut self) {
        let end = self.scenario.duration.as_nanos() as u64;
        let mut at_once = 0;
        while let Some((at, ev)) = self.queue.pop() {
            if at > end {
                break;
            }
            at_once = if at == self.now { at_once + 1 } else { 0 };
            if at_once > LIVELOCK_EVENTS {
                self.livelock = Some(at);
                return;
            }
            if self.client_dirty && at > self.now {
                // A request at an instant sees what every event at that instant did.
                self.settle_client();
            }
            self.now = at;
            self.dispatch(ev);
        }
        if self.client_dirty {
            self.settle_client();
        }
        self.now = end;
    }

    fn finish(mut self) -> RunReport {
        self.flush_client();
        let mut findings = Findings::default();
        if let Some(at) = self.livelock {
            findings.violate(
                "livelock",
                format!(
                    "more than {LIVELOCK_EVENTS} events at {}: simulated time stopped",
                    check::secs(at)
                ),
            );
        }
        for c in &mut self.checkers {
            c.finish(self.now, &mut findings);
        }
        RunReport {
            scenario: self.scenario.name.clone(),
            seed: self.seed,
            findings,
            trace: self.trace,
            faults: self.faults,
            acts: self.acts,
            marks: self.marks.unwrap_or_default(),
        }
    }

    fn observe(&mut self, obs: Observation<'_>) {
        // Requests counted so far happened under the state before this observation.
        if !matches!(obs, Observation::Requests { .. }) {
            self.flush_client();
        }
        for c in &mut self.checkers {
            c.observe(self.now, &obs);
        }
        if let Some(marks) = self.marks.as_mut() {
            marks.push((self.now, Mark::of(&obs)));
        }
    }

    fn act(&mut self, node: usize, what: Did) {
        self.acts.push(Act {
            at: self.now,
            node,
            what,
        });
    }

    fn record(&mut self, node: Option<usize>, what: String) {
        let who = node.map_or("-", |i| self.nodes[i].name.as_str());
        self.trace.record(self.now, who, what);
    }

    fn dispatch(&mut self, ev: Ev) {
        let target = match ev {
            Ev::Deliver { to, .. } => Some(to as usize),
            Ev::Timer { node, .. } | Ev::Hook { node, .. } => Some(node),
            _ => None,
        };
        if let Some(i) = target {
            if self.nodes[i].paused {
                self.nodes[i].deferred.push(ev);
                return;
            }
        }
        match ev {
            Ev::Deliver {
                to,
                path,
                from,
                payload,
            } => {
                let (to, path) = (to as usize, path as usize);
                let from = self.addresses[self.nodes[to].segments[path]][from as usize];
                let now = self.local(to);
                let Some(node) = self.nodes[to].node.as_mut() else {
                    return;
                };
                self.trace
                    .delivery(self.now, (to as u64) << 8 | path as u64, || {
                        (
                            String::new(),
                            format!("deliver to {to} on path {path} from {from}"),
                        )
                    });
                node.handle_datagram(now, PathId(path), from, &payload);
                self.after_input(to);
            }
            Ev::Timer { node: i } => {
                let now = self.local(i);
                if let Some(node) = self.nodes[i].node.as_mut() {
                    node.handle_timeout(now);
                    self.after_input(i);
                }
            }
            Ev::Hook {
                node: i,
                incarnation,
                id,
                outcome,
            } => {
                if self.nodes[i].incarnation != incarnation {
                    return;
                }
                let now = self.local(i);
                if let Some(node) = self.nodes[i].node.as_mut() {
                    node.handle_command(now, Command::HookFinished { id, outcome });
                    self.after_input(i);
                }
            }
            Ev::Start(i) => self.start(i),
            Ev::FaultStart(id) => self.fault(id, true),
            Ev::FaultEnd(id) => self.fault(id, false),
        }
    }

    fn local(&self, i: usize) -> Instant {
        Instant::from_nanos(self.nodes[i].clock.local(self.now))
    }

    fn start(&mut self, i: usize) {
        let now = self.local(i);
        let n = &mut self.nodes[i];
        n.incarnation += 1;
        n.node = Some(
            Node::new(n.config.clone(), n.incarnation, now)
                .expect("the simulator builds valid configs"),
        );
        let epoch = n.incarnation;
        self.record(Some(i), format!("start (boot epoch {epoch})"));
        self.observe(Observation::Up { node: i });
        self.after_input(i);
    }

    /// The node is gone (crash, or the end of a planned shutdown): whatever it still holds
    /// vanishes with it.
    fn take_down(&mut self, i: usize, why: &str) {
        self.nodes[i].node = None;
        self.queue.clear_timer(i);
        for v in 0..self.nodes[i].held.len() {
            if std::mem::take(&mut self.nodes[i].held[v]) {
                self.client_dirty = true;
                self.observe(Observation::Released { node: i, vip: v });
            }
        }
        self.record(Some(i), why.to_string());
        self.observe(Observation::Down { node: i });
    }

    fn after_input(&mut self, i: usize) {
        while let Some(out) = self.nodes[i].node.as_mut().and_then(Node::poll_output) {
            self.output(i, out);
        }
        self.reschedule(i, false);
    }

    fn reschedule(&mut self, i: usize, force: bool) {
        let n = &self.nodes[i];
        let Some(local) = n.node.as_ref().and_then(Node::poll_timeout) else {
            return;
        };
        let at = n.clock.true_time(local.as_nanos()).max(self.now);
        if force || self.queue.timer(i).is_none_or(|cur| at < cur) {
            self.queue.set_timer(i, at, Ev::Timer { node: i });
        }
    }

    fn output(&mut self, i: usize, out: Output) {
        match out {
            Output::Transmit(t) => self.transmit(i, t.path.0, t.to, t.payload),
            Output::Acquire(v) => {
                self.act(i, Did::Acquired { vip: v.0 });
                self.nodes[i].held[v.0] = true;
                self.arp[v.0] = Some(i);
                self.client_dirty = true;
                let addr = self.scenario.vips[v.0].address;
                self.record(Some(i), format!("acquire {addr} (gratuitous ARP)"));
                self.observe(Observation::Acquired { node: i, vip: v.0 });
            }
            Output::Announce(v) => {
                // The owner's periodic refresh: frequent enough that formatting an address
                // each time would show in a simulated hour's cost.
                let what = ["announce ", &self.vip_names[v.0], " (gratuitous ARP)"].concat();
                self.record(Some(i), what);
                if self.nodes[i].held[v.0] {
                    self.arp[v.0] = Some(i);
                    self.client_dirty = true;
                }
            }
            Output::Release(v) => {
                self.act(i, Did::Released { vip: v.0 });
                self.nodes[i].held[v.0] = false;
                self.client_dirty = true;
                let addr = self.scenario.vips[v.0].address;
                self.record(Some(i), format!("release {addr}"));
                self.observe(Observation::Released { node: i, vip: v.0 });
            }
            Output::RunHook(req) => {
                let fault = self.nodes[i]
                    .hook_faults
                    .iter()
                    .find(|f| f.1 == req.kind)
                    .map(|f| f.2);
                let addr = self.scenario.vips[req.vip.0].address;
                let how = match fault {
                    Some(true) => "hangs",
                    Some(false) => "fails",
                    None => "ok",
                };
                self.record(
                    Some(i),
                    format!("hook {} {} for {addr}: {how}", req.kind, req.event),
                );
                if fault != Some(true) {
                    let outcome = if fault.is_some() {
                        HookOutcome::Failed(Some(1))
                    } else {
                        HookOutcome::Success
                    };
                    let at = self.now + self.scenario.protocol.hook_latency.as_nanos() as u64;
                    let incarnation = self.nodes[i].incarnation;
                    self.push(
                        at,
                        Ev::Hook {
                            node: i,
                            incarnation,
                            id: req.id,
                            outcome,
                        },
                    );
                }
            }
            Output::Notify(n) => {
                self.record(Some(i), format!("notify: {}", n.summary()));
                self.observe(Observation::Notified {
                    node: i,
                    notification: &n,
                });
                self.act(i, Did::Notified(*n));
            }
            Output::Event(Event::RoleChanged { from, to }) => {
                self.act(i, Did::Role { from, to });
                self.record(Some(i), format!("role {from} -> {to}"));
                self.observe(Observation::RoleChanged { node: i, from, to });
                if to == Role::Stopped {
                    self.take_down(i, "stopped after planned shutdown");
                }
            }
            Output::Event(Event::PeerUp { peer, epoch }) => {
                self.record(Some(i), format!("peer {peer} up (epoch {epoch})"))
            }
            Output::Event(Event::PeerDown { peer }) => {
                self.record(Some(i), format!("peer {peer} down"))
            }
            Output::Event(Event::Dropped { reason }) => {
                self.record(Some(i), format!("dropped a datagram: {reason:?}"))
            }
        }
    }

    fn transmit(&mut self, i: usize, path: usize, to: SocketAddr, payload: Arc<[u8]>) {
        let segment = self.nodes[i].segments[path];
        let from = self.addresses[segment][i];
        let n = self.nodes.len();
        let dest = net::owner_of(to, self.scenario.segments.len())
            .filter(|&(s, j)| s == segment && j < n && j != i);
        let tag = 1 << 32 | (i as u64) << 16 | (segment as u64) << 8;
        let Some((_, j)) = dest else {
            self.trace.datagram(self.now, tag, &payload, || {
                (String::new(), format!("no host at {to}"))
            });
            return;
        };
        let path_at_dest = self.nodes[j].segments.iter().position(|&s| s == segment);
        let (Some(dest_path), true) = (
            path_at_dest,
            self.cuts.passes(segment, Party::Node(i), Party::Node(j)),
        ) else {
            self.trace.datagram(self.now, tag | 1, &payload, || {
                (String::new(), format!("cut: {from} -> {to}"))
            });
            return;
        };
        let idx = (segment * n + i) * n + j;
        let seed = self.seed;
        let link = self.links[idx].get_or_insert_with(|| Link::new(seed, segment, i, j));
        let seg = &self.scenario.segments[segment];
        match link.fate(seg, &self.trouble[segment], self.interval) {
            Fate::Lost => {
                self.trace.datagram(self.now, tag | 2, &payload, || {
                    (String::new(), format!("lost: {from} -> {to}"))
                });
            }
            Fate::Delivered(delay, dup) => {
                self.trace.datagram(self.now, tag | 3, &payload, || {
                    (String::new(), format!("send: {from} -> {to}"))
                });
                let (to, path, from) = (j as u32, dest_path as u32, i as u32);
                if let Some(d2) = dup {
                    let payload = payload.clone();
                    self.push(
                        self.now + d2,
                        Ev::Deliver {
                            to,
                            path,
                            from,
                            payload,
                        },
                    );
                }
                self.push(
                    self.now + delay,
                    Ev::Deliver {
                        to,
                        path,
                        from,
                        payload,
                    },
                );
            }
        }
    }

    fn fault(&mut self, id: usize, starting: bool) {
        let fault = self.faults[id].clone();
        let label = self.scenario.describe(&fault.kind);
        self.record(
            None,
            format!(
                "fault {} {label}",
                if starting { "begins:" } else { "ends:" }
            ),
        );
        self.observe(if starting {
            Observation::FaultStarted { fault: id }
        } else {
            Observation::FaultEnded { fault: id }
        });
        self.client_dirty = true;
        match fault.kind {
            FaultKind::Partition {
                segment,
                a,
                b,
                oneway,
            } => {
                if starting {
                    self.cuts.partition(id, segment, &a, &b, oneway);
                } else {
                    self.cuts.heal(id);
                }
            }
            FaultKind::LinkDown { node, segment } => self.cuts.set_link(node, segment, !starting),
            FaultKind::Crash { node } => {
                if starting && self.nodes[node].node.is_some() {
                    self.take_down(node, "crash");
                } else if !starting && self.nodes[node].node.is_none() {
                    self.start(node);
                }
            }
            FaultKind::Shutdown { node } => {
                if starting {
                    let now = self.local(node);
                    if let Some(n) = self.nodes[node].node.as_mut() {
                        n.handle_command(now, Command::Shutdown);
                        self.after_input(node);
                    }
                } else if self.nodes[node].node.is_none() {
                    self.start(node);
                }
            }
            FaultKind::Pause { node } => {
                if starting {
                    self.nodes[node].paused = true;
                    self.observe(Observation::Paused { node });
                } else {
                    self.resume(node);
                }
            }
            FaultKind::Clock {
                node,
                offset,
                drift_ppm,
            } => {
                let n = &mut self.nodes[node];
                let local = n.clock.local(self.now);
                n.clock = if starting {
                    Clock {
                        base_true: self.now,
                        base_local: local + offset.as_nanos() as u64,
                        ppm: drift_ppm,
                    }
                } else {
                    Clock {
                        base_true: self.now,
                        base_local: local,
                        ppm: 0.0,
                    }
                };
                self.reschedule(node, true);
            }
            FaultKind::Hook { node, hook, hang } => {
                let faults = &mut self.nodes[node].hook_faults;
                if starting {
                    faults.push((id, hook, hang));
                } else {
                    faults.retain(|f| f.0 != id);
                }
            }
            FaultKind::Degrade {
                segment,
                impairment,
            } => {
                if starting {
                    self.degrades.push((id, segment, impairment));
                } else {
                    self.degrades.retain(|d| d.0 != id);
                }
                self.trouble[segment] = (self.degrades.iter())
                    .filter(|d| d.1 == segment)
                    .fold(Impairment::default(), |all, d| all.and(d.2));
            }
        }
    }

    /// Ends a pause: everything that piled up runs now, in the order it arrived.
    fn resume(&mut self, i: usize) {
        self.nodes[i].paused = false;
        self.observe(Observation::Resumed { node: i });
        let piled = std::mem::take(&mut self.nodes[i].deferred);
        for ev in piled {
            if !matches!(ev, Ev::Timer { .. }) {
                self.push(self.now, ev);
            }
        }
        if self.nodes[i].node.is_some() {
            // Whatever was due while frozen is due now.
            self.queue.set_timer(i, self.now, Ev::Timer { node: i });
        }
    }

    /// Requests whose outcome may have changed at the current instant: report those before it
    /// under the old outcome, and take the new one.
    fn settle_client(&mut self) {
        self.client_dirty = false;
        for v in 0..self.arp.len() {
            let ok = self.serves(v);
            if ok != self.served[v] {
                self.flush_vip(v);
                self.served[v] = ok;
            }
        }
    }

    fn serves(&self, v: usize) -> bool {
        let seg = self.scenario.client_segment();
        self.arp[v].is_some_and(|n| {
            let node = &self.nodes[n];
            node.node.is_some()
                && !node.paused
                && node.held[v]
                && self.cuts.passes(seg, Party::Client, Party::Node(n))
                && self.cuts.passes(seg, Party::Node(n), Party::Client)
        })
    }

    /// Reports the requests to `v` before now that are not reported yet.
    fn flush_vip(&mut self, v: usize) {
        let every = self.scenario.client.interval.as_nanos() as u64;
        let since = std::mem::replace(&mut self.client_since[v], self.now);
        let count = self.now.div_ceil(every) - since.div_ceil(every);
        if count > 0 {
            let ok = self.served[v];
            self.observe(Observation::Requests { vip: v, ok, count });
        }
    }

    fn flush_client(&mut self) {
        for v in 0..self.arp.len() {
            self.flush_vip(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timer_set_on_a_drifting_clock_never_fires_before_its_local_deadline() {
        for ppm in [-5_000.0, -123.4, 0.0, 77.7, 5_000.0, 50_000.0] {
            let clock = Clock {
                base_true: 1_000_003,
                base_local: 3_600_000_000_007,
                ppm,
            };
            for k in 0..20_000u64 {
                let local = clock.base_local + k * 1_000_037 + k % 7;
                let t = clock.true_time(local);
                assert!(
                    clock.local(t) >= local,
                    "ppm {ppm}: local {local} read at {t}"
                );
                assert!(
                    t == clock.base_true || clock.local(t - 1) < local,
                    "the first such instant"
                );
            }
        }
    }

    #[test]
    fn simulated_time_that_stops_moving_ends_the_run_as_a_livelock() {
        let scenario = Scenario::builder("stuck", std::time::Duration::from_secs(60))
            .segment("public")
            .node("a", 100)
            .node("b", 50)
            .vip("192.0.2.100")
            .build()
            .unwrap();
        let faults = scenario.resolve_faults("stuck").unwrap();
        let configs = scenario.sim_configs("stuck").unwrap();
        let mut world = World::new(&scenario, 1, faults, configs, &Options::default());
        // What a node woken again and again at one instant looks like to the loop.
        for id in 0..=u64::from(LIVELOCK_EVENTS) {
            let stale = Ev::Hook {
                node: 0,
                incarnation: 99,
                id: HookId(id),
                outcome: HookOutcome::Success,
            };
            world.push(5_000_000_000, stale);
        }
        world.run_to_end();
        let report = world.finish();
        let broken = report.findings.broken();
        assert!(broken.contains("livelock"), "{broken:?}");
        assert!(report.findings.violations[0].detail.contains("at 5.000s"));
    }
}
