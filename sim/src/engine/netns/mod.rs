//! The same scenario files against real `failoverd` processes: a network namespace per node
//! and one for the client, a bridge per segment, the daemon built from this workspace with a
//! configuration generated from the scenario, real hook scripts that obey the scenario's hook
//! faults and latencies, a real SMTP server, and a client asking every address every few
//! milliseconds. Faults are done for real (see [`Run::begin`]); what the kernel here cannot do
//! — delay, jitter, duplication, reordering (no `tc netem`), a clock's drift, a refused address
//! removal — is refused with the fault named. Each daemon writes what it did (`--events`); the
//! engine turns that, the client's answers and its own fault log into the checkers' record,
//! and the scenario is judged by the very checkers, with the very `[expect]`, of the simulator.
//!
//! Real time is slow: scenarios for this engine run at 100 ms intervals for some seconds each
//! (`scenarios/real/`). A seed only numbers a trial: nothing here is random but the machine.
//! Needs root (namespaces), `ip`, `nft` and Debian's `python3-aiosmtpd`.

mod bed;
mod census;
mod faults;
mod hooks;
mod monitor;
mod os;
mod probe;
mod record;
mod reload;

use self::bed::{Bed, MAX_NODES, VIP_INTERFACE};
use self::hooks::Hooks;
use self::monitor::Monitor;
use self::os::{Ns, Proc};
use self::probe::{monotonic_ns, Client};
use super::{ArpCensus, Produced};
use crate::check::{self, Findings};
use crate::fault::{Fault, FaultKind};
use crate::plan::Plan;
use crate::record::{Observation, Record};
use crate::scenario::Scenario;
use crate::topology;
use failover_core::config::PathSettings;
use failover_core::AddressChange;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tempfile::TempDir;

/// The SMTP server's port, on the client's address.
const SMTP_PORT: u16 = 2525;

/// Why `scenario` cannot run against real daemons here, if it cannot.
pub fn refuse(scenario: &Scenario) -> Result<(), String> {
    let refuse = |what: String| {
        Err(format!("{}: {what}: the netns engine cannot do that (the kernel here has no tc netem; see sim/ENGINES.md)", scenario.name))
    };
    if scenario.swarm.is_some() {
        return refuse("[swarm] draws faults per seed, delays among them".into());
    }
    if scenario.nodes.len() > MAX_NODES {
        return refuse(format!(
            "{} nodes (at most {MAX_NODES})",
            scenario.nodes.len()
        ));
    }
    for seg in &scenario.segments {
        if !seg.jitter.is_zero() || seg.duplicate > 0.0 || seg.reorder > 0.0 {
            return refuse(format!(
                "segment `{}` with jitter, duplication or reordering",
                seg.name
            ));
        }
    }
    let faults = scenario
        .resolve_faults(&scenario.name)
        .map_err(|e| e.to_string())?;
    for (k, f) in faults.iter().enumerate() {
        let what = || format!("fault[{k}] ({})", scenario.describe(&f.kind));
        match &f.kind {
            FaultKind::Clock { .. } | FaultKind::Tamper { .. } => return refuse(what()),
            FaultKind::Degrade { impairment, .. }
                if impairment.delay > 0
                    || impairment.duplicate > 0.0
                    || impairment.reorder > 0.0 =>
            {
                return refuse(what())
            }
            FaultKind::Address {
                change: AddressChange::Remove,
                ..
            } => return refuse(what()),
            _ => {}
        }
    }
    Ok(())
}

/// Where the `failoverd` to run is: `$FAILOVERD`, else beside this program (a build of the
/// workspace puts both in `target/<profile>/`).
pub fn failoverd() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("FAILOVERD") {
        let path = PathBuf::from(path);
        return match path.exists() {
            true => Ok(path),
            false => Err(format!("FAILOVERD={}: no such file", path.display())),
        };
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let candidates = exe
        .ancestors()
        .skip(1)
        .take(2)
        .map(|dir| dir.join("failoverd"));
    candidates.into_iter().find(|p| p.is_file()).ok_or_else(|| {
        "the netns engine runs failoverd: build it beside failover-sim \
             (cargo build --release -p failover-real), or point FAILOVERD at it"
            .to_string()
    })
}

/// Set when the user presses Ctrl-C: the run stops at its next step and cleans up.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Asks for Ctrl-C (SIGINT, SIGTERM) to stop a run in order instead of ending the process
/// with namespaces and daemons left behind.
fn catch_interrupts() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::Relaxed));
    });
}

/// Whether Ctrl-C was pressed.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

/// Runs `scenario` against real daemons (trial `seed`) and returns what they did and the
/// checkers' record of the run.
pub fn run(scenario: &Scenario, seed: u64, failoverd: &Path) -> Result<Real, String> {
    refuse(scenario)?;
    if !nix::unistd::geteuid().is_root() {
        return Err("the netns engine needs root (network namespaces)".into());
    }
    catch_interrupts();
    let plan = Plan::new(scenario, seed).map_err(|e| e.to_string())?;
    let started = std::time::Instant::now();
    let mut run = Run::new(&plan, failoverd)?;
    let record = run.play();
    if std::env::var_os("FAILOVER_NETNS_KEEP").is_some() {
        // The run's files (configurations, daemons' logs and act logs, hooks, mail) stay.
        let kept = std::mem::replace(&mut run.dir, TempDir::new().map_err(|e| e.to_string())?);
        eprintln!(
            "netns: {}'s files kept in {}",
            scenario.name,
            kept.keep().display()
        );
    }
    let record = record?;
    let wall_ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
    let end = plan.scenario.duration.as_nanos() as u64;
    let findings = check::judge(scenario, &plan.faults, &record.seen, end, false);
    Ok(Real {
        produced: Produced {
            acts: record.acts,
            wall_ns,
        },
        findings,
        arp: record.arp,
    })
}

/// What a real run gave.
#[derive(Debug)]
pub struct Real {
    /// What the daemons did, and the wall time.
    pub produced: Produced,
    /// The checkers' verdict.
    pub findings: Findings,
    /// Who answered the client's ARP requests for the addresses: two owners, seen on the wire.
    pub arp: ArpCensus,
}

/// What a run recorded.
struct Recorded {
    seen: Vec<Record>,
    acts: Vec<Record>,
    arp: ArpCensus,
}

/// One run's namespaces, processes and files.
struct Run<'p> {
    plan: &'p Plan,
    failoverd: PathBuf,
    // Field order is drop order: the client and the daemons before the namespaces.
    client: Option<Client>,
    daemons: Vec<Option<Proc>>,
    /// Quorum mode: the kernel's record of every node's addresses (it removes them itself).
    monitors: Vec<Monitor>,
    _smtp: Proc,
    bed: Bed,
    hooks: Hooks,
    dir: TempDir,
    /// The run's start on CLOCK_MONOTONIC.
    t0: u64,
    /// What the engine did to the hosts, as observations (time since `t0`).
    log: Vec<Record>,
    /// Interfaces set down, counted (faults may overlap): (node, segment) → count.
    down: std::collections::BTreeMap<(usize, usize), u32>,
    /// Operators' requests waiting for their answers.
    asking: Vec<std::thread::JoinHandle<()>>,
    /// Per node, its configuration file as it is on disk (`reload` faults edit it).
    files: Vec<failover_core::Config>,
    /// The operator's edits of the files.
    edits: crate::fault::Edits,
    /// Per node, how many times its daemon was started.
    starts: Vec<usize>,
    /// Per node, whether the engine has stopped its daemon (SIGSTOP).
    stopped: Vec<bool>,
    /// Per node, the SIGHUPs its daemon answered, in order: (reload fault, at its end).
    hups: Vec<Vec<(usize, bool)>>,
    /// Per node, SIGHUPs waiting for its stopped daemon to run again.
    waiting_hups: Vec<Vec<(usize, bool)>>,
}

impl<'p> Run<'p> {
    fn new(plan: &'p Plan, failoverd: &Path) -> Result<Run<'p>, String> {
        let scenario = &plan.scenario;
        let dir = tempfile::Builder::new()
            .prefix("failover-netns-")
            .tempdir()
            .map_err(|e| format!("a temporary directory: {e}"))?;
        let bed = Bed::new(scenario)?;
        let hooks = Hooks::write(dir.path(), scenario)?;
        let smtp_at = SocketAddr::new(bed::client_address(scenario.client_segment()), SMTP_PORT);
        let smtp = start_smtp(&bed.client, smtp_at, dir.path())?;
        let n = scenario.nodes.len();
        let mut run = Run {
            plan,
            failoverd: failoverd.to_path_buf(),
            client: None,
            daemons: (0..scenario.nodes.len()).map(|_| None).collect(),
            monitors: Vec::new(),
            _smtp: smtp,
            bed,
            hooks,
            dir,
            t0: 0,
            log: Vec::new(),
            down: Default::default(),
            asking: Vec::new(),
            files: Vec::new(),
            edits: Default::default(),
            starts: vec![0; n],
            stopped: vec![false; n],
            hups: vec![Vec::new(); n],
            waiting_hups: vec![Vec::new(); n],
        };
        run.files = (0..n).map(|i| run.config(i)).collect();
        Ok(run)
    }

    /// Starts the client and every daemon, applies the faults on time, stops at the end, and
    /// gathers the record.
    fn play(&mut self) -> Result<Recorded, String> {
        let scenario = &self.plan.scenario;
        for (s, seg) in scenario.segments.iter().enumerate() {
            if seg.loss > 0.0 {
                self.bed.lose(usize::MAX, s, seg.loss)?;
            }
        }
        let names: Vec<(&Ns, String)> = (self.bed.nodes.iter())
            .zip(&scenario.nodes)
            .map(|(ns, n)| (ns, n.name.clone()))
            .collect();
        let vips = scenario.vips.iter().map(|v| v.address).collect();
        self.client = Some(Client::start(
            &names,
            &self.bed.client,
            vips,
            scenario.client.interval,
        )?);
        if scenario.quorum() {
            self.monitors = (self.bed.nodes.iter())
                .map(Monitor::start)
                .collect::<Result<_, _>>()?;
        }
        self.t0 = monotonic_ns();
        for i in 0..scenario.nodes.len() {
            self.start_daemon(i)?;
        }
        let mut edges: Vec<(Duration, bool, usize)> = Vec::new();
        for (id, f) in self.plan.faults.iter().enumerate() {
            edges.push((f.at, true, id));
            if let Some(end) = f.end() {
                edges.push((end, false, id));
            }
        }
        edges.sort_by_key(|&(at, begins, id)| (at, !begins, id));
        for (at, begins, id) in edges {
            if at > scenario.duration {
                break;
            }
            self.sleep_until(at)?;
            let obs = if begins {
                Observation::FaultStarted { fault: id }
            } else {
                Observation::FaultEnded { fault: id }
            };
            self.note(obs);
            if begins {
                self.begin(id)?;
            } else {
                self.end(id)?;
            }
        }
        self.sleep_until(scenario.duration)?;
        let seen = self.client.take().map(Client::finish).unwrap_or_default();
        self.write_client_log(&seen.probes, &seen.macs);
        for daemon in self.daemons.iter_mut().flatten() {
            daemon.signal(nix::sys::signal::Signal::SIGKILL);
        }
        // A request still waiting ends with its daemon.
        for asking in self.asking.drain(..) {
            let _ = asking.join();
        }
        let mut recorded = self.gather(&seen.probes)?;
        recorded.arp = seen.arp;
        Ok(recorded)
    }

    /// Sleeps until `at` after the start, a little at a time so Ctrl-C stops the run.
    fn sleep_until(&self, at: Duration) -> Result<(), String> {
        let due = self.t0 + at.as_nanos() as u64;
        loop {
            if interrupted() {
                return Err("interrupted".into());
            }
            let now = monotonic_ns();
            if now >= due {
                return Ok(());
            }
            std::thread::sleep(Duration::from_nanos((due - now).min(20_000_000)));
        }
    }

    /// Records something the engine did, now.
    fn note(&mut self, obs: Observation) {
        self.log.push((monotonic_ns().saturating_sub(self.t0), obs));
    }

    /// Starts node `i`'s daemon (its boot epoch grows: the state directory is kept).
    /// Its file is as the last reload left it.
    fn start_daemon(&mut self, i: usize) -> Result<(), String> {
        self.write_file(i, &self.files[i])?;
        let dir = self.dir.path();
        let file = self.config_file(i);
        let mut command = self.bed.nodes[i].command(&self.failoverd);
        command
            .arg("--config")
            .arg(&file)
            .arg("--state-dir")
            .arg(dir.join(format!("state{i}")))
            .arg("--socket")
            .arg(self.socket(i))
            .arg("--events")
            .arg(self.events(i))
            .args(["--log-level", "info"]);
        let log = dir.join(format!("node{i}.log"));
        self.daemons[i] = Some(Proc::spawn(command, &log)?);
        self.starts[i] += 1;
        Ok(())
    }

    /// Node `i`'s configuration: the simulator's, on this bed's interfaces, hooks and mail.
    fn config(&self, i: usize) -> failover_core::Config {
        let scenario = &self.plan.scenario;
        let paths = (scenario.node_segments(i).into_iter())
            .map(|s| PathSettings {
                name: scenario.segments[s].name.clone(),
                local: Some(topology::address(s, i)),
                peers: (0..scenario.nodes.len())
                    .filter(|&j| j != i && scenario.node_segments(j).contains(&s))
                    .map(|j| topology::address(s, j))
                    .collect(),
            })
            .collect();
        let mut config = scenario.node_config(i, paths);
        for vip in &mut config.vips {
            vip.interface = VIP_INTERFACE.into();
        }
        let hooks = Hooks::dir_of(self.dir.path(), &scenario.nodes[i].name);
        config.hooks.dir = Some(hooks.display().to_string());
        let smtp = bed::client_address(scenario.client_segment());
        config.notify.smtp_server = format!("{smtp}:{SMTP_PORT}");
        config.notify.email_recipient = "ops@example.com".into();
        config.notify.from = format!("failoverd@{}.example.com", scenario.nodes[i].name);
        config
    }

    /// What the client saw, for a person (kept with `FAILOVER_NETNS_KEEP`): every request
    /// (seconds since the start, address, who answered), every move of its ARP entries, and
    /// the start on CLOCK_MONOTONIC (`t0`), to line them up with the daemons' act logs.
    fn write_client_log(&self, probes: &[probe::Probe], macs: &[probe::MacChange]) {
        let secs = |at: u64| at.saturating_sub(self.t0) as f64 / 1e9;
        let requests: String = (probes.iter())
            .map(|p| {
                let who = p.answered_by.as_deref().unwrap_or("-");
                format!("{:.4} {} {who}\n", secs(p.at), p.vip)
            })
            .collect();
        let arp: String = (macs.iter())
            .map(|m| {
                let mac = m.mac.as_deref().unwrap_or("incomplete");
                format!("{:.4} {} {mac}\n", secs(m.at), m.vip)
            })
            .collect();
        let _ = std::fs::write(self.dir.path().join("client-requests.log"), requests);
        let _ = std::fs::write(self.dir.path().join("client-arp.log"), arp);
        // (the daemons' act logs and outside captures are stamped with CLOCK_MONOTONIC)
        let _ = std::fs::write(self.dir.path().join("t0"), format!("{}\n", self.t0));
    }

    /// Everything on one time line, in order.
    fn gather(&mut self, probes: &[probe::Probe]) -> Result<Recorded, String> {
        let scenario = &self.plan.scenario;
        let notes = std::mem::take(&mut self.log);
        let mut seen = notes.clone();
        let mut acts = Vec::new();
        let monitors = std::mem::take(&mut self.monitors);
        let kernel = !monitors.is_empty();
        for i in 0..scenario.nodes.len() {
            let daemon = record::daemon_acts(&self.events(i), i, self.t0, !kernel)?;
            seen.extend(daemon.seen);
            acts.extend(daemon.acts);
            // Each answer to a SIGHUP, matched to the reload the engine sent it for.
            for (answer, &(fault, ends)) in daemon.answers.into_iter().zip(&self.hups[i]) {
                let record::Answer {
                    at,
                    refused,
                    announced,
                } = answer;
                let reloaded = Observation::Reloaded {
                    node: i,
                    fault,
                    ends,
                    refused,
                    announced,
                };
                seen.push((at, reloaded));
            }
        }
        let vips: Vec<std::net::IpAddr> = scenario.vips.iter().map(|v| v.address).collect();
        for (i, monitor) in monitors.into_iter().enumerate() {
            let mut changes = record::monitored(&monitor.finish()?, &vips, i, self.t0);
            // A crashed host's addresses are removed by the engine, which notes it: that
            // removal is the fault's, not an act of the node.
            record::drop_echoes(&mut changes, &notes, i);
            seen.extend(changes.iter().cloned());
            acts.extend(changes);
        }
        let mut cuts: Vec<u64> = seen.iter().map(|(at, _)| *at).collect();
        cuts.sort_unstable();
        cuts.dedup();
        seen.extend(record::requests(
            probes,
            scenario.vips.len(),
            self.t0,
            &cuts,
            scenario.client.interval.as_nanos() as u64,
        ));
        let end = scenario.duration.as_nanos() as u64;
        seen.retain(|(at, _)| *at <= end);
        acts.retain(|(at, _)| *at <= end);
        // (the requests so far first, then what happened at that instant: as the simulator
        // reports them)
        let request = |obs: &Observation| matches!(obs, Observation::Requests { .. });
        seen.sort_by_key(|(at, obs)| (*at, !request(obs)));
        acts.sort_by_key(|(at, _)| *at);
        Ok(Recorded {
            seen,
            acts,
            arp: ArpCensus::default(),
        })
    }

    /// The resolved faults of the plan.
    fn fault(&self, id: usize) -> &Fault {
        &self.plan.faults[id]
    }

    /// Node `i`'s status socket.
    fn socket(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("node{i}.sock"))
    }

    /// Node `i`'s configuration file.
    fn config_file(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("node{i}.toml"))
    }

    /// Node `i`'s act log (`failoverd --events`), kept across its restarts.
    fn events(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("node{i}.events"))
    }
}

/// Debian's aiosmtpd in the client's namespace, storing mail under `dir`.
fn start_smtp(client: &Ns, at: SocketAddr, dir: &Path) -> Result<Proc, String> {
    let python = "/usr/bin/python3";
    let ok = std::process::Command::new(python)
        .args(["-c", "import aiosmtpd"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        return Err(format!(
            "{python} has no aiosmtpd: install Debian's python3-aiosmtpd (bash .ci/deps does)"
        ));
    }
    let mut command = client.command(python);
    command
        .args(["-m", "aiosmtpd", "-n", "-l", &at.to_string()])
        .args(["-c", "aiosmtpd.handlers.Mailbox"])
        .arg(dir.join("maildir"));
    Proc::spawn(command, &dir.join("smtp.log"))
}
