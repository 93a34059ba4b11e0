//! The discrete-event loop: every simulated node runs the real [`failover_core::Node`]; the
//! loop owns time, the network, the hosts, faults and the client, and tells the checkers what
//! happened.
//!
//! Events are ordered by (time, sequence number) and all randomness comes from the run's seed,
//! forked per purpose, so a seed replays the same run byte for byte. Like every driver, the
//! loop hands a node its inputs through an [`failover_core::Inbox`]: everything that reaches a
//! node at one instant — datagrams, answers, its timer — is collected first and handed over by
//! the input rule once the instant's events are in.

mod client;
mod clock;
mod faults;
mod host;

use crate::check::{self, Checker, Context, Findings};
use crate::fault::{Fault, HookBehavior, Impairment};
use crate::net::{Cuts, Fate, Link};
use crate::plan::Plan;
use crate::queue::EventQueue;
use crate::record::{Observation, Record};
use crate::scenario::{Scenario, ScenarioError};
use crate::topology::{self, Party};
use crate::trace::Trace;
use client::Client;
use failover_core::{
    AddressChange, Command, Event, HookOutcome, Instant, Node, Output, PathId, Request, Role, VipId,
};
use host::{Host, Job, Running, Task};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
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

/// Something due at a simulated instant.
enum Due {
    /// One announcement reaches a host on the paths of `paths` (a bit per path), all at
    /// once. `from` is the sender's index; with a path's segment it gives the source address.
    Arrival {
        to: u32,
        paths: u32,
        from: u32,
        payload: Arc<[u8]>,
    },
    /// A node's timer (the queue keeps one per node, cleared when the node goes down).
    Timer {
        node: usize,
    },
    /// The job a host runs ends (unless `generation` says it was suspended since).
    JobEnds {
        node: usize,
        incarnation: u64,
        generation: u64,
    },
    /// An ARP entry of the client goes stale (the client's timer slot).
    ClientTimer,
    FaultBegins(usize),
    FaultEnds(usize),
    /// First start of a node; queued after faults at time zero, so a clock set at 0 s is the
    /// node's clock from its first instant.
    Start(usize),
    /// Quorum mode: an address's kernel lifetime ends (unless renewed since: `at` differs).
    Expires {
        node: u32,
        vip: u32,
        at: u64,
    },
}

/// A datagram on its way, before it is queued.
struct Outgoing {
    at: u64,
    to: u32,
    path: u32,
    from: u32,
    payload: Arc<[u8]>,
}

impl Outgoing {
    /// Whether it arrives with `other`: the same announcement, host and instant.
    fn joins(&self, other: &Outgoing) -> bool {
        (self.at, self.to, self.from) == (other.at, other.to, other.from)
            && Arc::ptr_eq(&self.payload, &other.payload)
    }
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
    checkers: Vec<Box<dyn Checker>>,
    trace: Trace,
    acts: Vec<Record>,
    record: Option<Vec<Record>>,
    /// When simulated time stopped moving, if it did.
    livelock: Option<u64>,
    /// The first of core's invariants seen broken (see `check_node`).
    core_broken: Option<String>,
    /// Each virtual address, written out once.
    vip_names: Vec<String>,
    /// Each node's address on each segment, by segment then node.
    addresses: Vec<Vec<SocketAddr>>,
    interval: u64,
    client: Client,
    job_generation: u64,
    /// Datagrams the input being handled sent (see `send_outgoing`).
    outgoing: Vec<Option<Outgoing>>,
    /// When, within its granularity, the kernel removes an address whose lifetime is over.
    kernel: ChaCha8Rng,
    /// Operators' requests asked so far: the next one's id.
    requests: u64,
    /// The newest (boot epoch, sequence number) of each sender's datagrams that reached each
    /// receiver, by receiver then sender: what makes a delivery `Heard`.
    newest: Vec<Option<(u64, u64)>>,
}

/// The random stream of the kernel's address-lifetime checks.
const KERNEL_STREAM: u64 = 0x4b45_524e; // "KERN"

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
            checkers: check::all(&ctx),
            trace: Trace::new(options.keep_datagrams),
            acts: Vec::new(),
            record: options.record.then(Vec::new),
            livelock: None,
            core_broken: None,
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
            kernel: crate::rng::fork(plan.seed, KERNEL_STREAM),
            requests: 0,
            newest: vec![None; n * n],
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
        for c in &mut self.checkers {
            c.finish(self.now, &mut findings);
        }
        // Core's inboxes count what a full buffer dropped; the run reports it.
        findings.figures.datagrams_overflowed =
            (self.hosts.iter()).map(|h| h.inbox.overflowed()).sum();
        RunReport {
            scenario: self.scenario.name.clone(),
            seed: self.seed,
            findings,
            trace: self.trace,
            faults: self.faults.to_vec(),
            acts: self.acts,
            record: self.record.unwrap_or_default(),
        }
    }

    fn observe(&mut self, obs: Observation) {
        // Requests counted so far happened under the state before this observation.
        if !matches!(
            obs,
            Observation::Requests { .. }
                | Observation::Heard { .. }
                | Observation::BufferOverflowed { .. }
        ) {
            self.flush_client();
        }
        for c in &mut self.checkers {
            c.observe(self.now, &obs);
        }
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

    fn dispatch(&mut self, due: Due) {
        match due {
            Due::Arrival {
                to,
                paths,
                from,
                payload,
            } => self.arrive(to as usize, paths, from as usize, payload),
            Due::Timer { node } => self.wake(node),
            Due::JobEnds {
                node,
                incarnation,
                generation,
            } => self.job_ends(node, incarnation, generation),
            Due::ClientTimer => self.client.dirty = true,
            Due::Start(i) => self.start(i),
            Due::FaultBegins(id) => self.begin_fault(id),
            Due::FaultEnds(id) => self.end_fault(id),
            Due::Expires { node, vip, at } => self.expire(node as usize, vip as usize, at),
        }
    }

    /// Datagrams reach host `to` on `paths`: into its daemon's socket buffers, if the host
    /// runs, is not frozen (its network is gone) and the daemon has its sockets open.
    fn arrive(&mut self, to: usize, paths: u32, from: usize, payload: Arc<[u8]>) {
        let host = &self.hosts[to];
        if !host.answers() || host.node.is_none() {
            return;
        }
        // (a scenario has at most 4 segments: no allocation per arrival)
        let mut on = [(PathId(0), topology::address(0, 0)); 4];
        let mut count = 0;
        for p in (0..host.segments.len()).filter(|p| paths & 1 << p != 0) {
            let addr = self.addresses[host.segments[p]][from];
            self.trace
                .delivery(self.now, (to as u64) << 8 | p as u64, || {
                    (
                        String::new(),
                        format!("deliver to {to} on path {p} from {addr}"),
                    )
                });
            on[count] = (PathId(p), addr);
            count += 1;
        }
        let stamp = failover_core::wire::stamp_of(&payload);
        let fresh = stamp > self.newest[to * self.hosts.len() + from];
        let datagrams = on[..count]
            .iter()
            .map(|&(path, addr)| (path, addr, Arc::clone(&payload)));
        // Alone at this instant (nothing else is due now, nothing waits to be handed over):
        // straight to a running daemon, by the same rule, without queueing them first.
        let alone = !self.hosts[to].woken && self.queue.peek_time().is_none_or(|at| at > self.now);
        if alone && self.hosts[to].runs() {
            if fresh {
                self.hear(to, from, stamp);
            }
            let host = &mut self.hosts[to];
            let now = Instant::from_nanos(host.clock.local(self.now));
            let node = host.node.as_mut().expect("a running daemon");
            host.inbox.deliver_now(node, now, datagrams);
            self.after_input(to);
            return;
        }
        let host = &mut self.hosts[to];
        let (mut kept, mut dropped) = (false, 0);
        for (path, addr, bytes) in datagrams {
            match host.inbox.datagram(path, addr, bytes) {
                true => kept = true,
                false => dropped += 1,
            }
        }
        // What a full buffer dropped was never heard: only what it kept counts.
        if fresh && kept {
            self.hear(to, from, stamp);
        }
        if dropped > 0 {
            let what = format!("socket buffer full: {dropped} datagram(s) dropped");
            self.note(Some(to), what);
            self.observe(Observation::BufferOverflowed { node: to, dropped });
        }
        if kept {
            self.wake(to);
        }
    }

    /// A datagram of `from` newer than any before it reached `to`'s daemon (read now, or
    /// waiting in its socket buffers): what the split-brain checker judges takeovers by.
    fn hear(&mut self, to: usize, from: usize, stamp: Option<(u64, u64)>) {
        self.newest[to * self.hosts.len() + from] = stamp;
        self.observe(Observation::Heard { node: to, from });
    }

    /// Host `i` has something to hand its daemon (or its timer is due): at once if nothing
    /// else is due at this instant, else once everything due now is in.
    fn wake(&mut self, i: usize) {
        if self.hosts[i].woken {
            return;
        }
        if self.queue.peek_time().is_none_or(|at| at > self.now) {
            self.hand_over(i);
        } else {
            self.hosts[i].woken = true;
            self.woken.push(i);
        }
    }

    /// Hands host `i`'s daemon its inputs by the input rule, if it runs, and carries out
    /// what it asks for.
    fn hand_over(&mut self, i: usize) {
        if !self.hosts[i].runs() {
            return;
        }
        let now = self.local(i);
        let host = &mut self.hosts[i];
        let node = host.node.as_mut().expect("a running daemon");
        host.inbox.deliver(node, now);
        self.after_input(i);
    }

    /// Hands every woken host's daemon its inputs by the input rule, and carries out what it
    /// asks for.
    fn wake_all(&mut self) {
        let mut woken = std::mem::take(&mut self.woken);
        woken.sort_unstable();
        for i in woken.drain(..) {
            self.hosts[i].woken = false;
            self.hand_over(i);
        }
        self.woken = woken;
    }

    fn local(&self, i: usize) -> Instant {
        Instant::from_nanos(self.hosts[i].clock.local(self.now))
    }

    /// The daemon of host `i` starts (a boot, a restart after a kill or a shutdown): first it
    /// removes what an earlier run left on the interfaces, as the daemon does, then it runs.
    fn start(&mut self, i: usize) {
        for v in 0..self.hosts[i].held.len() {
            self.hosts[i].expires[v] = None;
            if std::mem::take(&mut self.hosts[i].held[v]) {
                let addr = &self.vip_names[v];
                self.note(Some(i), format!("removed leftover address {addr}"));
                self.client.dirty = true;
                self.observe(Observation::Released { node: i, vip: v });
            }
        }
        let now = self.local(i);
        let h = &mut self.hosts[i];
        h.incarnation += 1;
        let node = Node::new(h.config.clone(), h.incarnation, now)
            .expect("the simulator builds valid configs");
        // As the daemon does: the flag its state directory kept.
        h.node = Some(if h.standby { node.in_standby() } else { node });
        let epoch = h.incarnation;
        self.note(Some(i), format!("start (boot epoch {epoch})"));
        self.observe(Observation::Up { node: i });
        self.after_input(i);
    }

    /// The daemon of host `i` is gone (crashed with its host, killed, or exited after a
    /// planned shutdown); its host keeps whatever is on its interfaces.
    fn end_process(&mut self, i: usize, why: &str) {
        self.hosts[i].forget_process();
        self.queue.clear_timer(i);
        self.note(Some(i), why.to_string());
        self.observe(Observation::Down { node: i });
    }

    fn after_input(&mut self, i: usize) {
        while let Some(out) = self.hosts[i].node.as_mut().and_then(Node::poll_output) {
            self.output(i, out);
        }
        self.check_node(i);
        self.store_standby(i);
        self.send_outgoing();
        self.reschedule(i, false);
    }

    /// Core's own invariants after every input, and one between core and this driver: the
    /// host never has an address its node believes is not there. The first break is kept.
    fn check_node(&mut self, i: usize) {
        if self.core_broken.is_some() {
            return;
        }
        let Some(node) = self.hosts[i].node.as_ref() else {
            return;
        };
        let held = &self.hosts[i].held;
        let broken = node.check_invariants().err().or_else(|| {
            (0..held.len())
                .find(|&v| held[v] && !node.holds(VipId(v)))
                .map(|v| format!("its host has {} and it believes not", self.vip_names[v]))
        });
        if let Some(why) = broken {
            let name = &self.hosts[i].name;
            self.core_broken = Some(format!("{name} at {}: {why}", check::secs(self.now)));
        }
    }

    /// Keeps the daemon's standby flag on its host's disk, as the daemon keeps it in its
    /// state directory.
    fn store_standby(&mut self, i: usize) {
        let Some(on) = self.hosts[i].node.as_ref().map(Node::standby) else {
            return;
        };
        if std::mem::replace(&mut self.hosts[i].standby, on) != on {
            let what = if on {
                "standby stored"
            } else {
                "standby cleared"
            };
            self.note(Some(i), what.into());
            self.observe(Observation::Standby { node: i, on });
        }
    }

    /// An operator asks host `i`'s daemon (`failoverctl`): the request reaches it like any
    /// command, if a daemon runs there (a stopped one reads it when it runs again).
    fn ask(&mut self, i: usize, request: Request) {
        if self.hosts[i].node.is_none() {
            self.note(Some(i), format!("failoverctl {request}: no daemon answers"));
            return;
        }
        self.requests += 1;
        let id = self.requests;
        self.note(Some(i), format!("failoverctl {request}"));
        self.hosts[i]
            .inbox
            .command(Command::Operator { id, request });
        self.wake(i);
    }

    /// Queues the datagrams an input made, one event per announcement, host and arrival
    /// time: an announcement sent on several paths that lands on them at once arrives as one.
    fn send_outgoing(&mut self) {
        let mut outgoing = std::mem::take(&mut self.outgoing);
        for k in 0..outgoing.len() {
            let Some(first) = outgoing[k].take() else {
                continue;
            };
            let mut paths = 1 << first.path;
            for later in outgoing[k + 1..].iter_mut() {
                if later.as_ref().is_some_and(|l| l.joins(&first)) {
                    paths |= 1 << later.take().expect("some").path;
                }
            }
            let due = Due::Arrival {
                to: first.to,
                paths,
                from: first.from,
                payload: first.payload,
            };
            self.queue.push(first.at, due);
        }
        outgoing.clear();
        self.outgoing = outgoing;
    }

    fn reschedule(&mut self, i: usize, force: bool) {
        let h = &self.hosts[i];
        let Some(local) = h.node.as_ref().and_then(Node::poll_timeout) else {
            return;
        };
        let at = h.clock.true_time(local.as_nanos()).max(self.now);
        if force || self.queue.timer(i).is_none_or(|cur| at < cur) {
            self.queue.set_timer(i, at, Due::Timer { node: i });
        }
    }

    fn output(&mut self, i: usize, out: Output) {
        match out {
            Output::Transmit(t) => self.transmit(i, t.path.0, t.to, t.payload),
            Output::Acquire { id, vip, until } => {
                let task = Task::Address {
                    change: AddressChange::Add,
                    vip,
                    until,
                };
                self.enqueue(i, Job { id, task });
            }
            Output::Release { id, vip } => {
                let task = Task::Address {
                    change: AddressChange::Remove,
                    vip,
                    until: None,
                };
                self.enqueue(i, Job { id, task });
            }
            Output::Extend { vip, until } => self.extend(i, vip.0, until),
            Output::Announce(v) => {
                if self.hosts[i].held[v.0] {
                    // The owner's periodic refresh: frequent enough that formatting an
                    // address each time would show in a simulated hour's cost.
                    let what = ["announce ", &self.vip_names[v.0], " (gratuitous ARP)"].concat();
                    self.note(Some(i), what);
                    self.client
                        .gratuitous(&self.hosts, &self.cuts, i, v.0, self.now);
                }
            }
            Output::RunHook(req) => {
                let addr = &self.vip_names[req.vip.0];
                let how = match self.hosts[i].hook_behavior(req.kind) {
                    None => "ok".to_string(),
                    Some(HookBehavior::Fails) => "fails".to_string(),
                    Some(HookBehavior::Hangs) => "hangs".to_string(),
                    Some(HookBehavior::Slow(extra)) => format!("slow (+{extra:?})"),
                };
                let what = format!("hook {} {} for {addr}: {how}", req.kind, req.event);
                self.note(Some(i), what);
                let deadline = self.hosts[i].clock.true_time(req.deadline.as_nanos());
                let task = Task::Hook {
                    kind: req.kind,
                    deadline,
                };
                self.enqueue(i, Job { id: req.id, task });
            }
            Output::Notify(n) => {
                self.note(Some(i), format!("notify: {}", n.summary()));
                let obs = Observation::Notified {
                    node: i,
                    notification: *n,
                };
                self.act(obs.clone());
                self.observe(obs);
            }
            Output::Answer(answer) => {
                let said = match &answer.outcome {
                    Ok(done) => done.to_string(),
                    Err(refusal) => format!("refused: {refusal}"),
                };
                self.note(Some(i), format!("answer to {}: {said}", answer.request));
                self.observe(Observation::Answered {
                    node: i,
                    answer: *answer,
                });
            }
            Output::Event(Event::RoleChanged { from, to }) => {
                let obs = Observation::RoleChanged { node: i, from, to };
                self.act(obs.clone());
                self.note(Some(i), format!("role {from} -> {to}"));
                self.observe(obs);
                if to == Role::Stopped {
                    self.end_process(i, "stopped after planned shutdown");
                }
            }
            Output::Event(Event::PeerUp { peer, epoch }) => {
                self.note(Some(i), format!("peer {peer} up (epoch {epoch})"))
            }
            Output::Event(Event::PeerDown { peer }) => {
                self.note(Some(i), format!("peer {peer} down"))
            }
            Output::Event(Event::TakeoverAbandoned { peer }) => {
                self.note(Some(i), format!("takeover abandoned: {peer} claims"))
            }
            Output::Event(Event::Dropped { reason }) => {
                self.note(Some(i), format!("dropped a datagram: {reason:?}"))
            }
        }
    }

    /// Queues a request of host `i`'s daemon; it starts at once if nothing runs.
    fn enqueue(&mut self, i: usize, job: Job) {
        self.hosts[i].queue.push_back(job);
        if self.hosts[i].running.is_none() {
            self.start_job(i);
        }
    }

    /// Starts the next queued job of host `i`: it ends after its latency, or a hung hook at
    /// its deadline, when the daemon kills it.
    fn start_job(&mut self, i: usize) {
        if self.hosts[i].running.is_some() {
            return;
        }
        let Some(job) = self.hosts[i].queue.pop_front() else {
            return;
        };
        let protocol = &self.scenario.protocol;
        let nanos = |d: std::time::Duration| d.as_nanos() as u64;
        let ends = match job.task {
            Task::Hook { kind, deadline, .. } => {
                let took = match self.hosts[i].hook_behavior(kind) {
                    Some(HookBehavior::Hangs) => u64::MAX,
                    Some(HookBehavior::Slow(extra)) => nanos(protocol.hook_latency(kind) + extra),
                    Some(HookBehavior::Fails) | None => nanos(protocol.hook_latency(kind)),
                };
                self.now.saturating_add(took).min(deadline.max(self.now))
            }
            Task::Address { .. } => self.now + nanos(protocol.address_latency),
        };
        self.job_generation += 1;
        self.hosts[i].running = Some(Running {
            job,
            ends,
            generation: self.job_generation,
            suspended: None,
        });
        self.push_job_end(i);
    }

    fn push_job_end(&mut self, i: usize) {
        let h = &self.hosts[i];
        if let Some(r) = h.running.filter(|r| r.suspended.is_none()) {
            let due = Due::JobEnds {
                node: i,
                incarnation: h.incarnation,
                generation: r.generation,
            };
            self.queue.push(r.ends, due);
        }
    }

    /// The running job of host `i` ends: its effect on the host, its answer to the daemon.
    fn job_ends(&mut self, i: usize, incarnation: u64, generation: u64) {
        let h = &self.hosts[i];
        let current = h.incarnation == incarnation
            && h.running
                .is_some_and(|r| r.generation == generation && r.suspended.is_none());
        if !current {
            return;
        }
        let Running { job, .. } = self.hosts[i].running.take().expect("current");
        let answer = match job.task {
            Task::Hook { kind, deadline, .. } => {
                let outcome = match self.hosts[i].hook_behavior(kind) {
                    _ if self.now >= deadline => HookOutcome::TimedOut,
                    Some(HookBehavior::Fails) => HookOutcome::Failed(Some(1)),
                    _ => HookOutcome::Success,
                };
                Command::HookFinished {
                    id: job.id,
                    outcome,
                }
            }
            Task::Address { change, vip, until } => {
                let addr = self.vip_names[vip.0].clone();
                let lifetime = until.map(|u| self.lifetime(i, u));
                // An address already there, or already gone, needs no change the kernel could
                // refuse: the daemon looks first (it finds a leftover, or one the kernel's
                // lifetime removed) and answers that it is so.
                let already = self.hosts[i].held[vip.0] == (change == AddressChange::Add);
                let result = if self.hosts[i].refuses(change) && !already {
                    self.note(Some(i), format!("address {change} {addr}: refused"));
                    Err("Cannot assign requested address (os error 99)".to_string())
                } else if let Some(Err(e)) = lifetime {
                    // As the daemon does: no address without a lifetime of a whole second.
                    self.note(Some(i), format!("address {change} {addr}: {e}"));
                    Err(e)
                } else {
                    self.change_address(i, change, vip.0);
                    if let Some(Ok(secs)) = lifetime {
                        self.set_expiry(i, vip.0, secs);
                    }
                    Ok(())
                };
                Command::AddressChanged { id: job.id, result }
            }
        };
        self.start_job(i);
        self.hosts[i].inbox.command(answer);
        self.wake(i);
    }

    /// Quorum mode: the whole seconds of lifetime the kernel gives an address set now for a
    /// lease ending at `until` on host `i`'s clock, or why there is not one.
    fn lifetime(&self, i: usize, until: Instant) -> Result<u64, String> {
        let local = self.hosts[i].clock.local(self.now);
        match until.as_nanos().saturating_sub(local) / 1_000_000_000 {
            0 => Err("lease ends within a second: no kernel lifetime to give".to_string()),
            secs => Ok(secs),
        }
    }

    /// The kernel counts `secs` from now on host `i`'s clock, and removes the address when
    /// it next checks after that: Linux's check runs about once a second and counts ages
    /// with a 20 ms fuzz, so from 20 ms early to a second late.
    fn set_expiry(&mut self, i: usize, vip: usize, secs: u64) {
        let clock = self.hosts[i].clock;
        let end = clock.true_time(clock.local(self.now) + secs * 1_000_000_000);
        let at = (end + self.kernel.random_range(0..=1_020_000_000))
            .saturating_sub(20_000_000)
            .max(self.now);
        self.hosts[i].expires[vip] = Some(at);
        let (node, vip) = (i as u32, vip as u32);
        self.queue.push(at, Due::Expires { node, vip, at });
    }

    /// Quorum mode: the lease was renewed; the address's lifetime with it (and the address
    /// is added again if the kernel removed it early — the daemon's `replace` does that).
    fn extend(&mut self, i: usize, vip: usize, until: Instant) {
        let Ok(secs) = self.lifetime(i, until) else {
            return;
        };
        if !self.hosts[i].held[vip] {
            if self.hosts[i].refuses(AddressChange::Add) {
                return;
            }
            self.change_address(i, AddressChange::Add, vip);
        }
        let addr = &self.vip_names[vip];
        self.note(Some(i), format!("lifetime of {addr}: {secs}s"));
        self.set_expiry(i, vip, secs);
    }

    /// Quorum mode: an address's lifetime is over, unless it was renewed since (`at`).
    fn expire(&mut self, i: usize, vip: usize, at: u64) {
        if self.hosts[i].expires[vip] != Some(at) {
            return;
        }
        self.hosts[i].expires[vip] = None;
        if self.hosts[i].held[vip] {
            let addr = &self.vip_names[vip];
            self.note(
                Some(i),
                format!("kernel removed {addr}: its lifetime is over"),
            );
            self.change_address(i, AddressChange::Remove, vip);
        }
    }

    /// The kernel adds or removes an address of host `i` (the add announced at once by
    /// gratuitous ARP, as the daemon does).
    fn change_address(&mut self, i: usize, change: AddressChange, vip: usize) {
        let add = change == AddressChange::Add;
        if !add {
            self.hosts[i].expires[vip] = None;
        }
        if std::mem::replace(&mut self.hosts[i].held[vip], add) == add {
            return;
        }
        let addr = self.vip_names[vip].clone();
        self.client.dirty = true;
        self.act(match add {
            true => Observation::Acquired { node: i, vip },
            false => Observation::Released { node: i, vip },
        });
        if add {
            self.note(Some(i), format!("acquire {addr} (gratuitous ARP)"));
            self.observe(Observation::Acquired { node: i, vip });
            self.client
                .gratuitous(&self.hosts, &self.cuts, i, vip, self.now);
        } else {
            self.note(Some(i), format!("release {addr}"));
            self.observe(Observation::Released { node: i, vip });
        }
    }

    /// Suspends (or resumes) the job host `i` runs: a frozen host runs nothing, and a stopped
    /// daemon makes no netlink call (its hooks, processes of their own, run on). A hook whose
    /// deadline passed meanwhile is killed as soon as the daemon runs again, as the daemon
    /// does: its time is core's, not what was left of it when the host stopped.
    fn suspend_job(&mut self, i: usize, suspend: bool) {
        let Some(mut r) = self.hosts[i].running else {
            return;
        };
        match (suspend, r.suspended) {
            (true, None) => r.suspended = Some(r.ends.saturating_sub(self.now)),
            (false, Some(left)) => {
                self.job_generation += 1;
                r.generation = self.job_generation;
                r.ends = self.now.saturating_add(left);
                if let Task::Hook { deadline, .. } = r.job.task {
                    r.ends = r.ends.min(deadline.max(self.now));
                }
                r.suspended = None;
            }
            _ => return,
        }
        self.hosts[i].running = Some(r);
        self.push_job_end(i);
    }

    fn transmit(&mut self, i: usize, path: usize, to: SocketAddr, payload: Arc<[u8]>) {
        let segment = self.hosts[i].segments[path];
        let from = self.addresses[segment][i];
        let n = self.hosts.len();
        let dest = topology::owner_of(to, self.scenario.segments.len())
            .filter(|&(s, j)| s == segment && j < n && j != i);
        let tag = 1 << 32 | (i as u64) << 16 | (segment as u64) << 8;
        let Some((_, j)) = dest else {
            self.trace.datagram(self.now, tag, &payload, || {
                (String::new(), format!("no host at {to}"))
            });
            return;
        };
        let path_at_dest = self.hosts[j].segments.iter().position(|&s| s == segment);
        let (Some(dest_path), true) = (
            path_at_dest,
            self.cuts.passes(segment, Party::Node(i), Party::Node(j)),
        ) else {
            self.trace.datagram(self.now, tag | 1, &payload, || {
                (String::new(), format!("cut: {from} -> {to}"))
            });
            return;
        };
        let fate = match self.fixed_latency[segment] {
            Some(latency) => Fate::Delivered(latency, None),
            None => {
                let idx = (segment * n + i) * n + j;
                let seed = self.seed;
                let link = self.links[idx].get_or_insert_with(|| Link::new(seed, segment, i, j));
                let seg = &self.scenario.segments[segment];
                link.fate(seg, &self.impairments[segment], self.interval)
            }
        };
        match fate {
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
                let at = self.now + delay;
                if let Some(d2) = dup {
                    let payload = payload.clone();
                    let at = self.now + d2;
                    (self.outgoing).push(Some(Outgoing {
                        at,
                        to,
                        path,
                        from,
                        payload,
                    }));
                }
                (self.outgoing).push(Some(Outgoing {
                    at,
                    to,
                    path,
                    from,
                    payload,
                }));
            }
        }
    }

    /// Requests whose outcome may have changed at the current instant: report those before it
    /// under the old outcome, and take the new one.
    fn settle_client(&mut self) {
        self.client.dirty = false;
        for v in 0..self.vip_names.len() {
            if self.client.served[v] {
                self.client.confirmed_until(v, self.now);
            }
            let ok = self.client.request(&self.hosts, &self.cuts, v, self.now);
            if ok != self.client.served[v] {
                self.flush_vip(v);
                self.client.served[v] = ok;
            }
        }
        let owner = self.hosts.len();
        match self.client.next_expiry(self.now) {
            Some(at) => self.queue.set_timer(owner, at, Due::ClientTimer),
            None => self.queue.clear_timer(owner),
        }
    }

    /// Reports the requests to `v` before now that are not reported yet.
    fn flush_vip(&mut self, v: usize) {
        let since = std::mem::replace(&mut self.client.since[v], self.now);
        let count = self.client.requests_between(since, self.now);
        if count > 0 {
            let ok = self.client.served[v];
            self.observe(Observation::Requests { vip: v, ok, count });
        }
    }

    fn flush_client(&mut self) {
        for v in 0..self.vip_names.len() {
            self.flush_vip(v);
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
        // What a node woken again and again at one instant looks like to the loop.
        for _ in 0..=LIVELOCK_EVENTS {
            world.queue.push(5_000_000_000, Due::ClientTimer);
        }
        world.run_to_end();
        let report = world.finish();
        let broken = report.findings.broken();
        assert!(broken.contains("livelock"), "{broken:?}");
        assert!(report.findings.violations[0].detail.contains("at 5.000s"));
    }
}
