//! One protocol, three engines: the unchanged core [`failover_core::Node`] under our simulator,
//! under [turmoil](https://crates.io/crates/turmoil) and under
//! [madsim](https://crates.io/crates/madsim), judged by the same invariant checkers.
//!
//! A verdict that only our simulator reached would be a property of our simulator; one that
//! turmoil's and madsim's independently written networks, clocks and schedulers reach too is a
//! property of the protocol. What they can all express is a [`Workload`]: the engine-neutral
//! part of a scenario (nodes, paths, virtual addresses, protocol settings, scheduled crashes,
//! kills, restarts, planned shutdowns, stalls of a daemon and host-to-host cuts). Each engine's driver is as thin as the
//! daemon's: it feeds the node datagrams, timeouts and commands on the engine's clock through
//! the same [`Inbox`] and input rule, answers hooks and address changes at once, sends what the
//! node asks, and records what the node did as [`Record`]s. [`judge`]
//! replays the schedule and those acts through [`crate::check`], so every engine is held to the
//! scenario's own expectations by the very same code.
//!
//! madsim replaces the clock, the RNG and the network of a whole binary, and only when built
//! with `RUSTFLAGS="--cfg madsim"`: such a build has the madsim engine and no turmoil; a normal
//! build has turmoil and reaches madsim by running the madsim build of this binary
//! ([`madsim_binary`]).

mod judge;
#[cfg(madsim)]
mod madsim;
#[cfg(not(madsim))]
pub mod netns;
#[cfg(not(madsim))]
mod turmoil;
mod workload;

pub use judge::judge;
pub use workload::{Fault, Scheduled, Workload};

use crate::check::Findings;
use crate::record::{Observation, Record};
use crate::scenario::Scenario;
use crate::world::{self, Options};
use failover_core::{Command, HookOutcome, Inbox, Instant, Node, Output, Transmit};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// An engine the protocol runs under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Engine {
    /// Our deterministic simulator: every fault kind, the client, the full trace.
    Sim,
    /// turmoil: hosts with simulated UDP and tokio's paused clock on 1 ms ticks.
    Turmoil,
    /// madsim: nodes with simulated endpoints; only a `--cfg madsim` build runs it in-process.
    Madsim,
    /// Real `failoverd` processes in network namespaces, in real time (root only).
    Netns,
}

impl Engine {
    /// The simulated engines, in the order reports show them: what `compare` runs unless
    /// told otherwise.
    pub const SIMULATED: [Engine; 3] = [Engine::Sim, Engine::Turmoil, Engine::Madsim];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Sim => "sim",
            Engine::Turmoil => "turmoil",
            Engine::Madsim => "madsim",
            Engine::Netns => "netns",
        }
    }
}

/// Drains a node's outputs the way every simulated host's driver does and returns the
/// datagrams to send. Hooks succeed and addresses change at once (as with an empty hook
/// directory and a quick kernel): their answers go into `inbox`, which the caller hands over
/// again until it is empty ([`step`]). What the node did is recorded in `acts` at `at` on
/// the engine's global clock.
fn drain_outputs(
    node: &mut Node,
    inbox: &mut Inbox<Vec<u8>>,
    me: usize,
    at: Duration,
    acts: &mut Vec<Record>,
) -> Vec<Transmit> {
    let mut transmits = Vec::new();
    let at = u64::try_from(at.as_nanos()).unwrap_or(u64::MAX);
    while let Some(out) = node.poll_output() {
        let what = match out {
            Output::Transmit(t) => {
                transmits.push(t);
                continue;
            }
            Output::RunHook(req) => {
                let outcome = HookOutcome::Success;
                inbox.command(Command::HookFinished {
                    id: req.id,
                    outcome,
                });
                continue;
            }
            Output::Acquire { id, vip, .. } => {
                inbox.command(Command::AddressChanged { id, result: Ok(()) });
                Observation::Acquired {
                    node: me,
                    vip: vip.0,
                }
            }
            Output::Release { id, vip } => {
                inbox.command(Command::AddressChanged { id, result: Ok(()) });
                Observation::Released {
                    node: me,
                    vip: vip.0,
                }
            }
            Output::Notify(n) => Observation::Notified {
                node: me,
                notification: *n,
            },
            Output::Event(failover_core::Event::RoleChanged { from, to }) => {
                Observation::RoleChanged { node: me, from, to }
            }
            // (Addresses change at once here: one asked to be announced is held.)
            Output::Announce(vip) => Observation::Announced {
                node: me,
                vip: vip.0,
            },
            // Neighbour caches are our simulator's client's business; these engines refuse
            // quorum mode, whose lifetimes they do not model (`Workload::from_scenario`).
            // (Operators' requests are our simulator's: `Workload::from_scenario` refuses them.)
            Output::Event(_) | Output::Extend { .. } | Output::Answer(_) => continue,
        };
        acts.push((at, what));
    }
    transmits
}

/// One wake-up of a simulated host's driver: everything collected in `inbox` goes to the node
/// by the input rule ([`Inbox::deliver`]), and the answers to what it asks for after them,
/// until nothing is left. Returns the datagrams to send.
pub fn step(
    node: &mut Node,
    inbox: &mut Inbox<Vec<u8>>,
    now: Instant,
    me: usize,
    at: Duration,
    acts: &mut Vec<Record>,
) -> Vec<Transmit> {
    let mut transmits = Vec::new();
    loop {
        inbox.deliver(node, now);
        transmits.extend(drain_outputs(node, inbox, me, at, acts));
        if inbox.is_empty() {
            return transmits;
        }
    }
}

/// What one boot of a simulated host's sockets received, as the checkers want it: every
/// datagram of a node newer than any before it from that node (by boot epoch and sequence
/// number), recorded as [`Observation::Heard`] when it reaches the sockets — the daemon
/// reading or stalled — as our simulator records it. With these the checkers judge split
/// brain, rival claims and who a notice names by what was delivered, not by bounds alone.
#[derive(Debug)]
pub struct Deliveries {
    me: usize,
    newest: Vec<Option<(u64, u64)>>,
}

impl Deliveries {
    /// For host `me` of `nodes`.
    pub fn new(me: usize, nodes: usize) -> Deliveries {
        Deliveries {
            me,
            newest: vec![None; nodes],
        }
    }

    /// `bytes` from `from` reached the sockets: what to record, if it is news.
    pub fn received(&mut self, from: SocketAddr, bytes: &[u8]) -> Option<Observation> {
        let sender = Workload::node_of(from.ip())?;
        let stamp = failover_core::wire::stamp_of(bytes)?;
        let newest = self.newest.get_mut(sender)?;
        if Some(stamp) <= *newest {
            return None;
        }
        *newest = Some(stamp);
        Some(Observation::Heard {
            node: self.me,
            from: sender,
            role: failover_core::wire::role_of(bytes)?,
        })
    }
}

/// How many faults cut each direction between two hosts: an engine's partition and repair
/// verbs are not counted, so a freeze's cut ending must not repair a partition still in
/// force.
#[derive(Debug, Default)]
pub struct CutCounts(std::collections::BTreeMap<(usize, usize), u32>);

impl CutCounts {
    /// One more cut from `from` to `to`; true if the link was whole until now.
    pub fn cut(&mut self, from: usize, to: usize) -> bool {
        let n = self.0.entry((from, to)).or_default();
        *n += 1;
        *n == 1
    }

    /// One cut fewer; true if the link is whole again.
    pub fn mend(&mut self, from: usize, to: usize) -> bool {
        match self.0.get_mut(&(from, to)) {
            Some(n) if *n > 1 => {
                *n -= 1;
                false
            }
            Some(_) => {
                self.0.remove(&(from, to));
                true
            }
            None => false,
        }
    }
}

/// The links a frozen host loses: to and from every other host.
pub fn links_of(node: usize, nodes: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..nodes)
        .filter(move |&j| j != node)
        .flat_map(move |j| [(node, j), (j, node)])
}

/// Who acquired and released what, in order: `master+ backup+ backup- master+`. The
/// sequence every engine must agree on.
pub fn ownership(scenario: &Scenario, acts: &[Record]) -> String {
    acts.iter()
        .filter_map(|(_, what)| {
            let (node, sign) = match *what {
                Observation::Acquired { node, .. } => (node, '+'),
                Observation::Released { node, .. } => (node, '-'),
                _ => return None,
            };
            Some(format!("{}{sign}", scenario.nodes[node].name))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// What the ARP census saw over a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
/// (The netns engine's: real hosts answer real ARP requests.)
pub struct ArpCensus {
    /// Requests sent (one per address per tick).
    pub asked: u64,
    /// Requests some host answered.
    pub answered: u64,
    /// Requests answered by two or more distinct MAC addresses: two owners at that instant.
    pub answered_twice: u64,
    /// When that was first seen, CLOCK_MONOTONIC nanoseconds.
    pub first_twice: Option<u64>,
}

/// One run of one scenario under one engine.
#[derive(Debug)]
pub struct EngineRun {
    /// What the nodes did.
    pub acts: Vec<Record>,
    /// The checkers' figures and violations.
    pub findings: Findings,
    /// Wall time of the simulation (not of judging it).
    pub wall: Duration,
    /// Real daemons only: who answered the client's ARP requests.
    pub arp: Option<ArpCensus>,
}

impl EngineRun {
    /// The violated invariants' names, sorted: what two engines must agree on.
    pub fn verdict(&self) -> Vec<&'static str> {
        self.findings.broken().into_iter().collect()
    }
}

/// Runs `scenario` under `engine` with `seed`. Our simulator runs any scenario; the others
/// only its [`Workload`], and refuse, saying why, a scenario that needs more.
pub fn run(engine: Engine, scenario: &Scenario, seed: u64) -> Result<EngineRun, String> {
    if engine == Engine::Sim {
        let start = std::time::Instant::now();
        let report = world::run(scenario, seed, &Options::default()).map_err(|e| e.to_string())?;
        return Ok(EngineRun {
            wall: start.elapsed(),
            acts: report.acts,
            findings: report.findings,
            arp: None,
        });
    }
    #[cfg(not(madsim))]
    if engine == Engine::Netns {
        let real = netns::run(scenario, seed, &netns::failoverd()?)?;
        return Ok(EngineRun {
            acts: real.produced.acts,
            findings: real.findings,
            wall: Duration::from_nanos(real.produced.wall_ns),
            arp: Some(real.arp),
        });
    }
    let workload = workload_for(engine, scenario)?;
    let Produced { acts, wall_ns } = produce(engine, &workload, seed)?;
    Ok(EngineRun {
        findings: judge(scenario, &workload, &acts),
        acts,
        wall: Duration::from_nanos(wall_ns),
        arp: None,
    })
}

/// Whether `engine` can run `scenario`, or why not: our simulator runs everything; turmoil
/// and madsim their [`Workload`]; real daemons what the kernel here can do
/// ([`netns::refuse`]).
pub fn supports(engine: Engine, scenario: &Scenario) -> Result<(), String> {
    match engine {
        Engine::Sim => Ok(()),
        #[cfg(not(madsim))]
        Engine::Netns => netns::refuse(scenario),
        #[cfg(madsim)]
        Engine::Netns => Err("the madsim build runs no real daemons; use a normal build".into()),
        Engine::Turmoil | Engine::Madsim => workload_for(engine, scenario).map(drop),
    }
}

/// The workload `engine` runs for `scenario`, or why it cannot run it: beyond what no engine
/// but ours can express ([`Workload::from_scenario`]), turmoil cannot drop single datagrams
/// (its links fail and repair as a whole).
pub fn workload_for(engine: Engine, scenario: &Scenario) -> Result<Workload, String> {
    let workload = Workload::from_scenario(scenario)?;
    if engine == Engine::Turmoil && workload.loss > 0.0 {
        return Err(format!(
            "{}: segment loss: turmoil cannot drop single datagrams, only whole links",
            scenario.name
        ));
    }
    Ok(workload)
}

/// What an engine produced, as `failover-sim engine-acts` prints it for another process.
#[derive(Debug, Serialize, Deserialize)]
pub struct Produced {
    /// What the nodes did.
    pub acts: Vec<Record>,
    /// Wall time of the simulation, in nanoseconds.
    pub wall_ns: u64,
}

/// Runs `workload` under an engine of this build, timing only the simulation.
pub fn produce(engine: Engine, workload: &Workload, seed: u64) -> Result<Produced, String> {
    let start = std::time::Instant::now();
    let acts = match engine {
        #[cfg(not(madsim))]
        Engine::Turmoil => turmoil::run(workload, seed)?,
        #[cfg(madsim)]
        Engine::Madsim => madsim::run(workload, seed),
        #[cfg(madsim)]
        Engine::Turmoil => {
            return Err(
                "this is the madsim build of failover-sim: it has no turmoil (madsim \
                        replaces the clock and network of the whole binary); use a normal build"
                    .into(),
            )
        }
        #[cfg(not(madsim))]
        Engine::Madsim => return in_madsim_build(workload, seed),
        Engine::Sim | Engine::Netns => {
            return Err(format!(
                "the {} engine runs through engine::run",
                engine.name()
            ))
        }
    };
    let wall_ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
    Ok(Produced { acts, wall_ns })
}

/// The command that makes the madsim build.
const MADSIM_BUILD: &str =
    "RUSTFLAGS=\"--cfg madsim\" cargo build --release -p failover-sim --target-dir target/madsim";

/// Where the madsim build of this binary is: `$FAILOVER_SIM_MADSIM`, else beside this
/// binary's target directory as `sim/engines.sh` and the README build it
/// (`target/madsim/{release,debug}/failover-sim`).
pub fn madsim_binary() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("FAILOVER_SIM_MADSIM") {
        let path = PathBuf::from(path);
        return match path.exists() {
            true => Ok(path),
            false => Err(format!(
                "FAILOVER_SIM_MADSIM={}: no such file",
                path.display()
            )),
        };
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    // target/<profile>/failover-sim, or target/<profile>/deps/<test> for tests.
    let target = exe
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "target"))
        .map(PathBuf::from);
    let candidates = target
        .iter()
        .flat_map(|t| ["release", "debug"].map(|p| t.join("madsim").join(p).join("failover-sim")));
    candidates.into_iter().find(|p| p.exists()).ok_or_else(|| {
        format!(
            "the madsim engine needs the madsim build of failover-sim; make it with\n  \
             {MADSIM_BUILD}\n(or point FAILOVER_SIM_MADSIM at it)"
        )
    })
}

/// Runs the workload in the madsim build (a process of its own, see [`madsim_binary`]): the
/// workload goes in as JSON on standard input, [`Produced`] comes back as JSON.
#[cfg(not(madsim))]
fn in_madsim_build(workload: &Workload, seed: u64) -> Result<Produced, String> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let binary = madsim_binary()?;
    let mut child = Command::new(&binary)
        .args([
            "engine-acts",
            "--engine",
            "madsim",
            "--seed",
            &seed.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", binary.display()))?;
    let input = serde_json::to_vec(workload).expect("workloads serialize");
    let written = child.stdin.take().expect("piped").write_all(&input);
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() || written.is_err() {
        return Err(format!(
            "{}: {}\n(a madsim build older than this failover-sim cannot read its workloads; \
             rebuild it: {MADSIM_BUILD})",
            binary.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("{}: unreadable output: {e}", binary.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use failover_core::wire::{encode, Message, MessageKind};
    use failover_core::Role;

    fn heartbeat(epoch: u64, seq: u64, role: Role) -> Vec<u8> {
        let msg = Message {
            group: 1,
            kind: MessageKind::Heartbeat,
            role,
            priority: 200,
            epoch,
            seq,
            sender: "master",
            successor: None,
            quorum: false,
            vote: None,
            marks: Default::default(),
        };
        encode(&msg, None)
    }

    #[test]
    fn a_delivery_is_recorded_once_with_its_senders_role_and_never_when_stale() {
        let mut d = Deliveries::new(1, 2);
        let from = Workload::node_addr(0, 1);
        let heard = |role| Observation::Heard {
            node: 1,
            from: 0,
            role,
        };
        assert_eq!(
            d.received(from, &heartbeat(1, 5, Role::Master)),
            Some(heard(Role::Master))
        );
        // The same round on the other path, and an older one: nothing new.
        let other_path = Workload::node_addr(0, 0);
        assert_eq!(d.received(other_path, &heartbeat(1, 5, Role::Master)), None);
        assert_eq!(d.received(from, &heartbeat(1, 4, Role::Master)), None);
        // A new boot epoch is news whatever its sequence number.
        assert_eq!(
            d.received(from, &heartbeat(2, 1, Role::Backup)),
            Some(heard(Role::Backup))
        );
        // Not a node of the run, or not a datagram of ours: not recorded.
        let stranger = SocketAddr::from(([198, 51, 100, 7], 1694));
        assert_eq!(d.received(stranger, &heartbeat(3, 1, Role::Master)), None);
        assert_eq!(d.received(from, b"garbage"), None);
    }
}
