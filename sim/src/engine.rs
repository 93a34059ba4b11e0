//! The engine-neutral part of a scenario, and the verdicts every engine's run is judged by.
//!
//! Our simulator, turmoil and madsim model networks, clocks and faults differently; what they
//! can all express is a [`Workload`]: nodes with priorities, two paths (public and direct), one
//! virtual address, the heartbeat interval, a schedule of crashes, restarts, partitions, heals
//! and planned shutdowns, and a duration. An engine runs the unchanged core [`Node`] under that
//! schedule and reports what the nodes' interfaces saw — the ordered [`Observation`]s of the
//! address being acquired and released. [`judge`] turns such a trace into a [`Verdict`] with the
//! same checks whichever engine produced it, so "the protocol behaves identically" becomes a
//! comparison of two values.
//!
//! Engines offer faults per pair of hosts, not per path: a partition here cuts both paths.

use failover_core::config::{NodeSettings, PathSettings, ProtocolSettings, VipSettings};
use failover_core::{Command, Config, HookOutcome, Instant, Node, Output, Transmit};
use std::cmp::Reverse;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// The heartbeat paths every workload node has, in `Config::paths` order; path `i` listens on
/// port `BASE_PORT + i` of the node's one address (engines give a host one address).
pub const PATHS: [&str; 2] = ["public", "direct"];

/// Port of the first path.
pub const BASE_PORT: u16 = 1694;

/// One member of the group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeSpec {
    /// Unique name, as in `node.name`.
    pub name: String,
    /// As in `node.priority`.
    pub priority: u8,
}

/// Something that happens to the group at a scheduled time. Nodes are indices into
/// [`Workload::nodes`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The node's host stops at once: no release, no goodbye.
    Crash(usize),
    /// A crashed node starts again, with the next boot epoch.
    Restart(usize),
    /// The operator stops the node (`Command::Shutdown`): it releases and says goodbye.
    Shutdown(usize),
    /// Every path between the two nodes drops every datagram, both ways.
    Partition(usize, usize),
    /// Undoes a [`Fault::Partition`] of the same pair.
    Heal(usize, usize),
}

/// A fault and when it happens, measured from the start of the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scheduled {
    /// Simulated time since the start.
    pub at: Duration,
    /// What happens.
    pub fault: Fault,
}

/// Whether a node took the address or gave it up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Change {
    /// `Output::Acquire`.
    Acquired,
    /// `Output::Release`.
    Released,
}

/// One entry of an ownership sequence: which node acquired or released the address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ownership {
    /// Index into [`Workload::nodes`].
    pub node: usize,
    /// What it did.
    pub change: Change,
}

/// An ownership change as an engine observed it, on the engine's global clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Observation {
    /// Simulated time since the start of the run.
    pub at: Duration,
    /// Who and what.
    pub ownership: Ownership,
}

/// The part of a scenario every engine can run.
#[derive(Clone, Debug, PartialEq)]
pub struct Workload {
    /// Short name, used on the command line and in reports.
    pub name: String,
    /// The group, in address order (node `i` has [`Workload::node_ip`]`(i)`).
    pub nodes: Vec<NodeSpec>,
    /// `protocol.interval`.
    pub interval: Duration,
    /// How much simulated time the run covers.
    pub duration: Duration,
    /// Faults, in time order.
    pub schedule: Vec<Scheduled>,
    /// Probability that the network drops any one datagram (0 for the cross-engine
    /// workloads: turmoil has no per-message loss, only links that fail and repair).
    pub loss: f64,
    /// The ownership sequence the run must produce, when the workload states one.
    pub expected: Option<Vec<Ownership>>,
}

impl Workload {
    /// The address of node `i`'s host.
    pub fn node_ip(i: usize) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(
            192,
            0,
            2,
            10 + u8::try_from(i).expect("at most 245 nodes"),
        ))
    }

    /// Where node `i` listens for heartbeats on path `path`.
    pub fn node_addr(i: usize, path: usize) -> SocketAddr {
        SocketAddr::new(Self::node_ip(i), Self::path_port(path))
    }

    /// The port path `path` uses on every node.
    pub fn path_port(path: usize) -> u16 {
        BASE_PORT + u16::try_from(path).expect("few paths")
    }

    /// The configuration node `i` runs with: the workload's interval, both paths to every
    /// other node, one virtual address, default everything else.
    pub fn node_config(&self, i: usize) -> Config {
        let node = &self.nodes[i];
        Config {
            node: NodeSettings {
                name: node.name.clone(),
                priority: node.priority,
            },
            protocol: ProtocolSettings {
                interval: self.interval,
                ..ProtocolSettings::default()
            },
            paths: PATHS
                .iter()
                .enumerate()
                .map(|(p, name)| PathSettings {
                    name: (*name).to_string(),
                    local: Some(Self::node_addr(i, p)),
                    peers: (0..self.nodes.len())
                        .filter(|&j| j != i)
                        .map(|j| Self::node_addr(j, p))
                        .collect(),
                })
                .collect(),
            vips: vec![VipSettings {
                address: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100)),
                prefix: None,
                interface: "eth0".into(),
            }],
            notify: Default::default(),
            hooks: Default::default(),
        }
    }

    /// The node's name, for reports.
    pub fn name_of(&self, i: usize) -> &str {
        &self.nodes[i].name
    }

    /// Renders an ownership sequence as `master+ backup+ backup-`.
    pub fn render(&self, seq: impl IntoIterator<Item = Ownership>) -> String {
        seq.into_iter()
            .map(|o| {
                let sign = match o.change {
                    Change::Acquired => '+',
                    Change::Released => '-',
                };
                format!("{}{sign}", self.name_of(o.node))
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn dead_after(&self) -> Duration {
        self.node_config(0).dead_after()
    }
}

/// Drains a node's outputs the way every simulated host does, and returns the datagrams for the
/// engine to send. Hooks succeed at once (as an empty hook directory does); address changes are
/// recorded in `log` at `at` on the engine's global clock; notifications and events need no
/// action from a simulated host.
pub fn drain_outputs(
    node: &mut Node,
    now: Instant,
    me: usize,
    at: Duration,
    log: &mut Vec<Observation>,
) -> Vec<Transmit> {
    let mut transmits = Vec::new();
    while let Some(out) = node.poll_output() {
        let change = match out {
            Output::Transmit(t) => {
                transmits.push(t);
                continue;
            }
            Output::RunHook(req) => {
                let outcome = HookOutcome::Success;
                node.handle_command(
                    now,
                    Command::HookFinished {
                        id: req.id,
                        outcome,
                    },
                );
                continue;
            }
            Output::Acquire(_) => Change::Acquired,
            Output::Release(_) => Change::Released,
            Output::Notify(_) | Output::Event(_) => continue,
        };
        log.push(Observation {
            at,
            ownership: Ownership { node: me, change },
        });
    }
    transmits
}

/// Passed or failed, with what was wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckResult {
    /// The check's name.
    pub name: &'static str,
    /// `None` when the check passed, otherwise why not.
    pub failure: Option<String>,
}

/// Every check's result for one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// In a fixed order.
    pub checks: Vec<CheckResult>,
}

impl Verdict {
    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.failure.is_none())
    }

    /// The names and pass/fail bits only: what two engines must agree on.
    pub fn outcome(&self) -> Vec<(&'static str, bool)> {
        self.checks
            .iter()
            .map(|c| (c.name, c.failure.is_none()))
            .collect()
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.checks {
            match &c.failure {
                None => writeln!(f, "  ok    {}", c.name)?,
                Some(why) => writeln!(f, "  FAIL  {}: {why}", c.name)?,
            }
        }
        Ok(())
    }
}

/// The ownership sequence of a trace, without times.
pub fn ownership_sequence(trace: &[Observation]) -> Vec<Ownership> {
    trace.iter().map(|o| o.ownership).collect()
}

/// Judges one run: the same checks for every engine.
///
/// - `ownership-sequence`: the trace's sequence is the workload's expected one, if it has one.
/// - `single-owner`: at most one node holds the address, except while a partition splits the
///   group and for `dead_after` after it heals (classic mode's documented split brain).
/// - `no-long-gap`: while some node is up, the address is never unowned for longer than
///   `dead_after` plus two intervals (detection, plus a heartbeat in flight either way).
/// - `best-owner-at-end`: at the end exactly one node holds it, the best-ranked node still up.
pub fn judge(workload: &Workload, trace: &[Observation]) -> Verdict {
    let mut checks = Vec::new();
    if let Some(expected) = &workload.expected {
        let got = ownership_sequence(trace);
        checks.push(CheckResult {
            name: "ownership-sequence",
            failure: (&got != expected).then(|| {
                format!(
                    "expected [{}], got [{}]",
                    workload.render(expected.iter().copied()),
                    workload.render(got)
                )
            }),
        });
    }
    let timeline = Timeline::replay(workload, trace);
    checks.push(CheckResult {
        name: "single-owner",
        failure: timeline.split_brain,
    });
    checks.push(CheckResult {
        name: "no-long-gap",
        failure: timeline.long_gap,
    });
    checks.push(CheckResult {
        name: "best-owner-at-end",
        failure: timeline.end_failure,
    });
    Verdict { checks }
}

/// The state of the group replayed from the schedule and the observations, in time order.
struct Timeline {
    split_brain: Option<String>,
    long_gap: Option<String>,
    end_failure: Option<String>,
}

enum Step {
    Fault(Fault),
    Seen(Ownership),
    End,
}

impl Timeline {
    fn replay(w: &Workload, trace: &[Observation]) -> Timeline {
        let dead_after = w.dead_after();
        let max_gap = dead_after + w.interval * 2;
        // Faults first at equal times: an engine observes a fault's effects after the fault.
        let mut steps: Vec<(Duration, Step)> = w
            .schedule
            .iter()
            .map(|s| (s.at, Step::Fault(s.fault)))
            .chain(trace.iter().map(|o| (o.at, Step::Seen(o.ownership))))
            .collect();
        steps.sort_by_key(|(at, step)| (*at, matches!(step, Step::Seen(_))));

        let n = w.nodes.len();
        let mut up = vec![true; n];
        let mut holds = vec![false; n];
        let mut cut: Vec<(usize, usize)> = Vec::new();
        let mut tolerate_until = Duration::ZERO;
        let mut unowned_since = Some(Duration::ZERO);
        let mut t = Timeline {
            split_brain: None,
            long_gap: None,
            end_failure: None,
        };
        let mut prev = Duration::ZERO;
        for (at, step) in steps.into_iter().chain([(w.duration, Step::End)]) {
            // The state since the previous step lasted until `at`.
            let owners: Vec<&str> = (0..n).filter(|&i| holds[i]).map(|i| w.name_of(i)).collect();
            if owners.len() > 1 && cut.is_empty() && at > prev.max(tolerate_until) {
                t.split_brain.get_or_insert_with(|| {
                    let since = prev.max(tolerate_until);
                    format!(
                        "{} hold the address at once at {since:?}",
                        owners.join(" and ")
                    )
                });
            }
            prev = at;
            match step {
                Step::Fault(Fault::Crash(i)) => {
                    up[i] = false;
                    holds[i] = false;
                }
                Step::Fault(Fault::Restart(i)) => up[i] = true,
                Step::Fault(Fault::Shutdown(_)) => {} // it releases, then stops
                Step::Fault(Fault::Partition(a, b)) => cut.push((a, b)),
                Step::Fault(Fault::Heal(a, b)) => {
                    cut.retain(|&p| p != (a, b) && p != (b, a));
                    tolerate_until = at + dead_after;
                }
                Step::Seen(o) => holds[o.node] = o.change == Change::Acquired,
                Step::End => {}
            }
            let unowned = !holds.contains(&true) && up.contains(&true);
            match (unowned, unowned_since) {
                (true, None) => unowned_since = Some(at),
                (false, Some(since)) => {
                    Self::gap(&mut t.long_gap, since, at, max_gap);
                    unowned_since = None;
                }
                _ => {}
            }
        }
        if let Some(since) = unowned_since {
            Self::gap(&mut t.long_gap, since, w.duration, max_gap);
        }
        let best = (0..n)
            .filter(|&i| up[i] && !Self::shut_down(w, i))
            .max_by_key(|&i| (w.nodes[i].priority, Reverse(&w.nodes[i].name)));
        let owners: Vec<usize> = (0..n).filter(|&i| holds[i]).collect();
        if owners != best.into_iter().collect::<Vec<_>>() {
            let names: Vec<&str> = owners.iter().map(|&i| w.name_of(i)).collect();
            t.end_failure = Some(format!(
                "at the end [{}] hold the address; expected {}",
                names.join(", "),
                best.map_or("no one", |i| w.name_of(i))
            ));
        }
        t
    }

    fn gap(slot: &mut Option<String>, since: Duration, until: Duration, max: Duration) {
        if until - since > max {
            slot.get_or_insert_with(|| {
                format!("no owner from {since:?} to {until:?} (longer than {max:?})")
            });
        }
    }

    /// Whether the node's last lifecycle fault is a planned shutdown.
    fn shut_down(w: &Workload, i: usize) -> bool {
        w.schedule
            .iter()
            .rev()
            .find_map(|s| match s.fault {
                Fault::Shutdown(j) if j == i => Some(true),
                Fault::Restart(j) if j == i => Some(false),
                _ => None,
            })
            .unwrap_or(false)
    }
}

/// How long each fault took to settle on the interfaces: from the fault to the last ownership
/// change before the next fault (the takeover, the failback's acquire, the yield), or `None` if
/// nothing changed. Engines differ here within their latency models; the verdicts must not.
pub fn latencies(workload: &Workload, trace: &[Observation]) -> Vec<(String, Option<Duration>)> {
    let sched = &workload.schedule;
    sched
        .iter()
        .enumerate()
        .map(|(k, s)| {
            let until = sched.get(k + 1).map_or(workload.duration, |n| n.at);
            let last = trace
                .iter()
                .rev()
                .find(|o| o.at >= s.at && o.at < until)
                .map(|o| o.at - s.at);
            (describe(workload, s.fault), last)
        })
        .collect()
}

/// A fault in words, e.g. `crash master`.
pub fn describe(w: &Workload, fault: Fault) -> String {
    match fault {
        Fault::Crash(i) => format!("crash {}", w.name_of(i)),
        Fault::Restart(i) => format!("restart {}", w.name_of(i)),
        Fault::Shutdown(i) => format!("shutdown {}", w.name_of(i)),
        Fault::Partition(a, b) => format!("partition {}|{}", w.name_of(a), w.name_of(b)),
        Fault::Heal(a, b) => format!("heal {}|{}", w.name_of(a), w.name_of(b)),
    }
}

/// The workloads every engine runs: the five situations of the source design that need no
/// per-path or per-message fault, with their expected ownership sequences.
pub mod builtin {
    use super::*;

    const INTERVAL: Duration = Duration::from_millis(100);

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn pair() -> Vec<NodeSpec> {
        [("master", 200), ("backup", 100)]
            .into_iter()
            .map(|(name, priority)| NodeSpec {
                name: name.into(),
                priority,
            })
            .collect()
    }

    fn at(s: u64, fault: Fault) -> Scheduled {
        Scheduled { at: secs(s), fault }
    }

    fn seq(items: &[(usize, Change)]) -> Option<Vec<Ownership>> {
        Some(
            items
                .iter()
                .map(|&(node, change)| Ownership { node, change })
                .collect(),
        )
    }

    use Change::{Acquired as Acq, Released as Rel};

    /// The master crashes; the backup takes over after `dead_after`.
    pub fn master_crash() -> Workload {
        Workload {
            name: "master-crash".into(),
            nodes: pair(),
            interval: INTERVAL,
            duration: secs(20),
            schedule: vec![at(10, Fault::Crash(0))],
            expected: seq(&[(0, Acq), (1, Acq)]),
            loss: 0.0,
        }
    }

    /// Both links between the two nodes are cut for ten seconds: both own (classic mode's
    /// split brain), and when the links come back the lower-ranked one yields.
    pub fn both_links_cut() -> Workload {
        Workload {
            name: "both-links-cut".into(),
            nodes: pair(),
            interval: INTERVAL,
            duration: secs(30),
            schedule: vec![at(10, Fault::Partition(0, 1)), at(20, Fault::Heal(0, 1))],
            expected: seq(&[(0, Acq), (1, Acq), (1, Rel)]),
            loss: 0.0,
        }
    }

    /// The master crashes and comes back: the backup takes over, then hands back.
    pub fn failback() -> Workload {
        Workload {
            name: "failback".into(),
            nodes: pair(),
            interval: INTERVAL,
            duration: secs(30),
            schedule: vec![at(10, Fault::Crash(0)), at(20, Fault::Restart(0))],
            expected: seq(&[(0, Acq), (1, Acq), (1, Rel), (0, Acq)]),
            loss: 0.0,
        }
    }

    /// The master is shut down on purpose: it releases first, the backup takes over at once.
    pub fn planned_shutdown() -> Workload {
        Workload {
            name: "planned-shutdown".into(),
            nodes: pair(),
            interval: INTERVAL,
            duration: secs(20),
            schedule: vec![at(10, Fault::Shutdown(0))],
            expected: seq(&[(0, Acq), (0, Rel), (1, Acq)]),
            loss: 0.0,
        }
    }

    /// Three nodes: the two best crash in turn, the third takes over, then the best returns
    /// and gets the address back.
    pub fn three_nodes() -> Workload {
        let nodes = [("alpha", 200), ("bravo", 150), ("charlie", 100)]
            .into_iter()
            .map(|(name, priority)| NodeSpec {
                name: name.into(),
                priority,
            })
            .collect();
        Workload {
            name: "three-nodes".into(),
            nodes,
            interval: INTERVAL,
            duration: secs(40),
            schedule: vec![
                at(10, Fault::Crash(0)),
                at(20, Fault::Crash(1)),
                at(30, Fault::Restart(0)),
            ],
            expected: seq(&[(0, Acq), (1, Acq), (2, Acq), (2, Rel), (0, Acq)]),
            loss: 0.0,
        }
    }

    /// The five cross-engine workloads.
    pub fn all() -> Vec<Workload> {
        vec![
            master_crash(),
            both_links_cut(),
            failback(),
            planned_shutdown(),
            three_nodes(),
        ]
    }

    /// The benchmark workload: two nodes, 100 ms heartbeats, one simulated hour, and with
    /// `partition` a 10 s partition in the middle.
    pub fn hour(partition: bool) -> Workload {
        let (name, schedule, expected) = if partition {
            (
                "hour-partition",
                vec![
                    at(1800, Fault::Partition(0, 1)),
                    at(1810, Fault::Heal(0, 1)),
                ],
                seq(&[(0, Acq), (1, Acq), (1, Rel)]),
            )
        } else {
            ("hour", Vec::new(), seq(&[(0, Acq)]))
        };
        Workload {
            name: name.into(),
            nodes: pair(),
            interval: INTERVAL,
            duration: secs(3600),
            schedule,
            expected,
            loss: 0.0,
        }
    }

    /// [`master_crash`] with 5 % of datagrams lost: for engines with per-message loss, which
    /// must not turn a lost heartbeat into a takeover.
    pub fn lossy_master_crash() -> Workload {
        Workload {
            name: "master-crash-lossy".into(),
            loss: 0.05,
            ..master_crash()
        }
    }

    /// A workload by name, among [`all`], [`lossy_master_crash`] and the benchmark hours.
    pub fn by_name(name: &str) -> Option<Workload> {
        all()
            .into_iter()
            .chain([lossy_master_crash(), hour(false), hour(true)])
            .find(|w| w.name == name)
    }
}

/// What an engine produced for one workload and seed, with how long it took on the wall clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunRecord {
    /// The address changes observed.
    pub trace: Vec<Observation>,
    /// Wall time of the run (simulation only, not the judging).
    pub wall: Duration,
}

impl RunRecord {
    /// The line format an engine binary prints for `trace`, so a run in another process (madsim
    /// needs its own build) is judged by the same code: `wall_ns N`, then `at_ns node +|-` lines.
    pub fn to_lines(&self) -> String {
        let mut out = format!("wall_ns {}\n", self.wall.as_nanos());
        for o in &self.trace {
            let sign = match o.ownership.change {
                Change::Acquired => '+',
                Change::Released => '-',
            };
            out.push_str(&format!(
                "{} {} {sign}\n",
                o.at.as_nanos(),
                o.ownership.node
            ));
        }
        out
    }

    /// Reads what [`RunRecord::to_lines`] wrote.
    pub fn from_lines(text: &str) -> Result<RunRecord, String> {
        let mut lines = text.lines();
        let wall = lines
            .next()
            .and_then(|l| l.strip_prefix("wall_ns "))
            .and_then(|n| n.parse().ok())
            .map(Duration::from_nanos)
            .ok_or("missing `wall_ns N` line")?;
        let trace = lines
            .map(|line| {
                let bad = || format!("bad trace line `{line}`");
                let mut f = line.split(' ');
                let at = f.next().and_then(|n| n.parse().ok()).ok_or_else(bad)?;
                let node = f.next().and_then(|n| n.parse().ok()).ok_or_else(bad)?;
                let change = match f.next() {
                    Some("+") => Change::Acquired,
                    Some("-") => Change::Released,
                    _ => return Err(bad()),
                };
                Ok(Observation {
                    at: Duration::from_nanos(at),
                    ownership: Ownership { node, change },
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(RunRecord { trace, wall })
    }
}

/// The command line every engine binary shares, so `run` means the same under each engine.
pub mod cli {
    use super::*;
    use std::process::ExitCode;

    /// `run`: judge workloads under one engine; `trace`: print one run in the line format.
    #[derive(Debug, clap::Subcommand)]
    pub enum EngineCommand {
        /// Runs workloads and prints each verdict, ownership sequence and fault latencies.
        Run(RunArgs),
        /// Runs one workload once and prints its `RunRecord` lines (for other processes).
        Trace {
            /// Workload name.
            workload: String,
            /// The engine's seed.
            #[arg(long, default_value_t = 1)]
            seed: u64,
        },
    }

    /// Arguments of `run`.
    #[derive(Debug, clap::Args)]
    pub struct RunArgs {
        /// First seed.
        #[arg(long, default_value_t = 1)]
        pub seed: u64,
        /// How many consecutive seeds to run each workload with.
        #[arg(long, default_value_t = 1)]
        pub seeds: u64,
        /// Workload names (default: the five cross-engine workloads).
        pub workloads: Vec<String>,
    }

    /// Resolves names to workloads, or says which name is unknown.
    pub fn workloads(names: &[String]) -> Result<Vec<Workload>, String> {
        if names.is_empty() {
            return Ok(builtin::all());
        }
        names
            .iter()
            .map(|n| builtin::by_name(n).ok_or_else(|| format!("unknown workload `{n}`")))
            .collect()
    }

    /// Carries out `command` with `engine` (`name` labels the output).
    pub fn main(
        name: &str,
        command: EngineCommand,
        engine: impl Fn(&Workload, u64) -> Result<RunRecord, String>,
    ) -> ExitCode {
        let result = match command {
            EngineCommand::Run(args) => run(name, &args, engine),
            EngineCommand::Trace { workload, seed } => workloads(&[workload])
                .and_then(|w| engine(&w[0], seed))
                .map(|r| {
                    print!("{}", r.to_lines());
                    true
                }),
        };
        match result {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        }
    }

    fn run(
        name: &str,
        args: &RunArgs,
        engine: impl Fn(&Workload, u64) -> Result<RunRecord, String>,
    ) -> Result<bool, String> {
        let mut all_passed = true;
        for w in workloads(&args.workloads)? {
            for seed in args.seed..args.seed + args.seeds {
                let record = engine(&w, seed)?;
                let verdict = judge(&w, &record.trace);
                all_passed &= verdict.passed();
                println!(
                    "{} [{name}, seed {seed}]: {} in {:?}",
                    w.name,
                    if verdict.passed() { "pass" } else { "FAIL" },
                    record.wall
                );
                print!("{verdict}");
                let seq = ownership_sequence(&record.trace);
                println!("  ownership: {}", w.render(seq));
                for (fault, latency) in latencies(&w, &record.trace) {
                    println!("  {fault}: {}", show_latency(latency));
                }
            }
        }
        Ok(all_passed)
    }

    /// A latency for tables: milliseconds, or `-` when nothing changed.
    pub fn show_latency(latency: Option<Duration>) -> String {
        latency.map_or("-".into(), |d| format!("{:.1} ms", d.as_secs_f64() * 1e3))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(ms: u64, node: usize, change: Change) -> Observation {
        Observation {
            at: Duration::from_millis(ms),
            ownership: Ownership { node, change },
        }
    }

    #[test]
    fn a_clean_takeover_passes_every_check() {
        let w = builtin::master_crash();
        let trace = [
            seen(300, 0, Change::Acquired),
            seen(10_260, 1, Change::Acquired),
        ];
        assert!(judge(&w, &trace).passed());
        assert_eq!(
            latencies(&w, &trace),
            [("crash master".to_string(), Some(Duration::from_millis(260)))]
        );
    }

    #[test]
    fn two_owners_on_a_healthy_network_is_split_brain() {
        let w = builtin::planned_shutdown();
        let trace = [
            seen(300, 0, Change::Acquired),
            seen(500, 1, Change::Acquired),
        ];
        let failed: Vec<_> = judge(&w, &trace)
            .outcome()
            .into_iter()
            .filter(|(_, ok)| !ok)
            .map(|(name, _)| name)
            .collect();
        assert_eq!(
            failed,
            ["ownership-sequence", "single-owner", "best-owner-at-end"]
        );
    }

    #[test]
    fn split_brain_during_a_partition_is_tolerated_until_it_heals() {
        let w = builtin::both_links_cut();
        let yield_at = |ms| {
            let trace = [
                seen(300, 0, Change::Acquired),
                seen(10_300, 1, Change::Acquired),
                seen(ms, 1, Change::Released),
            ];
            judge(&w, &trace).checks[1].failure.clone()
        };
        assert_eq!(yield_at(20_010), None);
        assert!(yield_at(25_000).is_some());
    }

    #[test]
    fn an_unowned_stretch_longer_than_detection_fails() {
        let w = builtin::master_crash();
        let trace = [
            seen(300, 0, Change::Acquired),
            seen(12_000, 1, Change::Acquired),
        ];
        let v = judge(&w, &trace);
        assert_eq!(v.checks[2].name, "no-long-gap");
        assert!(v.checks[2].failure.is_some(), "{v}");
    }

    #[test]
    fn run_records_survive_the_line_format() {
        let record = RunRecord {
            trace: vec![seen(1, 0, Change::Acquired), seen(2, 1, Change::Released)],
            wall: Duration::from_micros(1234),
        };
        assert_eq!(RunRecord::from_lines(&record.to_lines()), Ok(record));
        assert!(RunRecord::from_lines("wall_ns 1\n5 0 ?\n").is_err());
    }
}
