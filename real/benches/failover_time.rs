//! Failover time of failoverd, in classic and in quorum mode, against Debian's keepalived, in
//! the same namespace test bed.
//!
//! `cargo bench -p failover-real --bench failover_time` (as root; keepalived, iproute2 and
//! python3-aiosmtpd installed — `bash .ci/test` installs the last two, `apt-get install
//! keepalived` the first). Options after `--`: `--trials N` (default 20), `--idle SECONDS`
//! (default 30; 0 skips the idle measurement), `--cases crash,kill,pause,planned` (default all),
//! `--intervals 100,1000` (milliseconds; default both).
//!
//! * crash: the master's daemon gets SIGKILL and its machine drops off both networks at once;
//!   measured until the client's first request to the virtual address that the backup answers.
//! * kill: SIGKILL of the master's daemon alone (its host up, the address left on it).
//! * pause: SIGSTOP of the master's daemon (its host up); for keepalived, of both processes.
//! * planned: SIGTERM to the master's daemon; measured the same way.
//! * quorum: failoverd with `protocol.mode = "quorum"`, a witness on the client's host as the
//!   third vote. After a kill or a pause the master's kernel removes the address when its
//!   lease runs out, and the backup acquires once the voters' promise has run out.
//! * keepalived runs VRRPv3 with unicast peers on the LAN and `advert_int` equal to failoverd's
//!   interval (its only path: keepalived has one interface per instance), the same priorities
//!   (200 and 100) and so the same master-down time, 3.6 intervals.
//! * idle: resident memory and CPU (% of one core, from the kernel's per-thread run time) of
//!   daemons left alone in a bed, after they settled.
//!
//! Every trial builds a fresh bed, so no trial inherits another's ARP caches or state.

use failover_testbed::{
    ask, wait_until, Bed, Daemon, Host, Netns, Process, BACKUP, CLIENT, MAIL_SERVER, MASTER, VIP,
};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::ffi::OsString;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const FAILOVERD: &str = env!("CARGO_BIN_EXE_failoverd");
/// How long one client request may take: the resolution of the measurement.
const PROBE: Duration = Duration::from_millis(2);
const DEADLINE: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, PartialEq)]
enum Stop {
    Crash,
    Kill,
    Pause,
    Planned,
}

impl Stop {
    const ALL: [(Stop, &'static str, &'static str); 4] = [
        (Stop::Crash, "crash", "crash (SIGKILL, off both nets)"),
        (Stop::Kill, "kill", "kill (SIGKILL, host up)"),
        (Stop::Pause, "pause", "pause (SIGSTOP, host up)"),
        (Stop::Planned, "planned", "planned (SIGTERM)"),
    ];

    fn signal(self) -> Signal {
        match self {
            Stop::Crash | Stop::Kill => Signal::SIGKILL,
            Stop::Pause => Signal::SIGSTOP,
            Stop::Planned => Signal::SIGTERM,
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Daemons {
    Failoverd,
    Quorum,
    Keepalived,
}

impl Daemons {
    const ALL: [Daemons; 3] = [Daemons::Failoverd, Daemons::Quorum, Daemons::Keepalived];
}

/// One daemon of either kind, stopped the way a trial asks.
enum Running {
    Failoverd(Daemon),
    Keepalived(Keepalived),
}

impl Running {
    fn stop(&mut self, how: Stop) {
        match self {
            Running::Failoverd(d) => d.signal(how.signal()),
            Running::Keepalived(k) => k.signal(how.signal()),
        }
    }

    fn pids(&mut self) -> Vec<i32> {
        match self {
            Running::Failoverd(d) => vec![d.process().pid()],
            Running::Keepalived(k) => {
                let mut pids = vec![k.process.pid()];
                pids.extend(k.vrrp_pid());
                pids
            }
        }
    }
}

/// keepalived in the foreground (`-n`), VRRP only (`-P`); its VRRP child is killed by the PID
/// it writes, never by name.
struct Keepalived {
    process: Process,
    vrrp_pidfile: std::path::PathBuf,
}

impl Keepalived {
    fn start(bed: &Bed, host: Host, interval: Duration) -> Keepalived {
        let (priority, peer) = if host.name == MASTER.name {
            (200, BACKUP.lan)
        } else {
            (100, MASTER.lan)
        };
        let dir = bed.dir();
        let conf = dir.join(format!("keepalived-{}.conf", host.name));
        let text = format!(
            "global_defs {{\n  router_id {name}\n  vrrp_version 3\n}}\n\
             vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  \
             priority {priority}\n  advert_int {advert}\n  unicast_src_ip {src}\n  \
             unicast_peer {{\n    {peer}\n  }}\n  virtual_ipaddress {{\n    {VIP}/24 dev eth0\n  }}\n}}\n",
            name = host.name,
            advert = interval.as_secs_f64(),
            src = host.lan,
        );
        std::fs::write(&conf, text).unwrap();
        let pidfile = dir.join(format!("keepalived-{}.pid", host.name));
        let vrrp_pidfile = dir.join(format!("keepalived-{}-vrrp.pid", host.name));
        let mut command = bed.ns(host).command("keepalived");
        command
            .args(["-n", "-l", "-P", "-f"])
            .arg(&conf)
            .arg("-p")
            .arg(&pidfile)
            .arg("-r")
            .arg(&vrrp_pidfile);
        let log = dir.join(format!("keepalived-{}.log", host.name));
        Keepalived {
            process: Process::spawn(command, "keepalived", &log),
            vrrp_pidfile,
        }
    }

    fn vrrp_pid(&self) -> Option<i32> {
        std::fs::read_to_string(&self.vrrp_pidfile)
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// A planned stop is SIGTERM to the parent, which stops its VRRP child gracefully (priority
    /// 0 advertisement). A crash must not be graceful anywhere: the parent is frozen first (a
    /// dead parent would make the child shut down cleanly, a live one would restart it), then
    /// the child and the parent are killed.
    fn signal(&mut self, signal: Signal) {
        if signal == Signal::SIGSTOP {
            // both: a stopped parent alone would leave the VRRP child advertising
            let _ = kill(Pid::from_raw(self.process.pid()), Signal::SIGSTOP);
            if let Some(child) = self.vrrp_pid() {
                let _ = kill(Pid::from_raw(child), Signal::SIGSTOP);
            }
            return;
        }
        if signal != Signal::SIGKILL {
            return self.process.signal(signal);
        }
        let parent = Pid::from_raw(self.process.pid());
        let _ = kill(parent, Signal::SIGSTOP);
        if let Some(child) = self.vrrp_pid() {
            let _ = kill(Pid::from_raw(child), Signal::SIGKILL);
        }
        let _ = kill(parent, Signal::SIGKILL);
    }
}

impl Drop for Keepalived {
    fn drop(&mut self) {
        if let Some(pid) = self.vrrp_pid() {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        // the parent is killed by Process's own drop
    }
}

/// The quorum group's voters: the two hosts and the witness on the client's host.
const VOTERS: &str = r#"voters = ["master", "backup", "witness"]"#;

fn start(bed: &Bed, kind: Daemons, host: Host, interval: Duration) -> Running {
    match kind {
        Daemons::Failoverd => {
            let config = bed.config(host, interval, Duration::from_secs(2));
            Running::Failoverd(bed.start(Path::new(FAILOVERD), host, &config))
        }
        Daemons::Quorum => {
            // the classic configuration, in quorum mode, with the witness a peer on the LAN
            let config = bed.config(host, interval, Duration::from_secs(2));
            let peer = if host.name == MASTER.name {
                BACKUP
            } else {
                MASTER
            };
            let toml = config
                .to_toml()
                .replace(
                    "[protocol]\n",
                    &format!("[protocol]\nmode = \"quorum\"\n{VOTERS}\n"),
                )
                .replacen(
                    &format!("peers = [\"{}:1694\"]", peer.lan),
                    &format!("peers = [\"{}:1694\", \"{CLIENT}:1694\"]", peer.lan),
                    1,
                );
            Running::Failoverd(start_toml(bed, bed.ns(host), host.name, &toml))
        }
        Daemons::Keepalived => Running::Keepalived(Keepalived::start(bed, host, interval)),
    }
}

/// The quorum group's witness, on the client's host: it votes and holds nothing.
fn start_witness(bed: &Bed, interval: Duration) -> Daemon {
    let hooks = bed.dir().join("hooks-witness");
    std::fs::create_dir_all(&hooks).unwrap();
    let toml = format!(
        "[node]\nname = \"witness\"\npriority = 1\nwitness = true\n\
         [protocol]\ninterval = \"{}ms\"\nmode = \"quorum\"\n{VOTERS}\n\
         [[path]]\nname = \"public\"\nlocal = \"{CLIENT}:1694\"\n\
         peers = [\"{}:1694\", \"{}:1694\"]\n\
         [notify]\nsmtp_server = \"{MAIL_SERVER}\"\n[hooks]\ndir = \"{}\"\n",
        interval.as_millis(),
        MASTER.lan,
        BACKUP.lan,
        hooks.display()
    );
    start_toml(bed, &bed.client, "witness", &toml)
}

fn start_toml(bed: &Bed, ns: &Netns, name: &str, toml: &str) -> Daemon {
    let file = bed.dir().join(format!("{name}.toml"));
    std::fs::write(&file, toml).unwrap();
    let args = [OsString::from("--config"), file.into_os_string()];
    Daemon::start(Path::new(FAILOVERD), ns, bed.dir(), name, &args)
}

/// One trial: a fresh bed, both daemons settled with the master serving, then the master
/// stopped at `phase` (0..1) of an interval later; the time until the backup answers the client.
/// Spreading the phase over the trials samples every point of the heartbeat cycle alike for
/// both daemons: when the last heartbeat left decides how much of the silence is still to come.
fn trial(kind: Daemons, interval: Duration, how: Stop, phase: f64) -> Duration {
    let bed = Bed::new();
    let _witness = (kind == Daemons::Quorum).then(|| start_witness(&bed, interval));
    let mut master = start(&bed, kind, MASTER, interval);
    let _backup = start(&bed, kind, BACKUP, interval);
    let service = Bed::service();
    bed.client.run(|| {
        wait_until(DEADLINE, "the master to serve the address", || {
            ask(service, Duration::from_millis(100)).as_deref() == Some(MASTER.name)
        })
    });
    // Settle: the backup has heard the master for a while, the client's ARP entry is fresh.
    std::thread::sleep(interval * 5 + interval.mul_f64(phase));
    let t0 = Instant::now();
    master.stop(how);
    if how == Stop::Crash {
        bed.set_lan(MASTER, false);
        bed.set_direct(false);
    }
    // A tight loop, not `eventually` (whose 10 ms pause would be measured too): each attempt
    // waits at most PROBE; one that fails at once (no route yet) pauses 1 ms.
    let answered = bed.client.run(|| loop {
        let attempt = Instant::now();
        if ask(service, PROBE).as_deref() == Some(BACKUP.name) {
            return Instant::now();
        }
        assert!(t0.elapsed() < DEADLINE, "the backup never answered");
        if attempt.elapsed() < Duration::from_millis(1) {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    answered - t0
}

struct Series {
    label: String,
    /// Per kind, in the order of [`Daemons::ALL`].
    times: [Vec<Duration>; 3],
}

fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    v[v.len() / 2]
}

fn spread(v: &[Duration]) -> String {
    let mut v = v.to_vec();
    v.sort();
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    format!("{}–{}", ms(at(0.1)), ms(at(0.9)))
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// CPU time (all threads) and resident memory of a process.
fn cpu_and_rss(pid: i32) -> (Duration, u64) {
    let mut cpu = Duration::ZERO;
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            let stat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
            let ns: u64 = stat
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            cpu += Duration::from_nanos(ns);
        }
    }
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss_kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    (cpu, rss_kb)
}

/// Idle cost: both kinds, both intervals, all in one window.
fn idle(window: Duration) -> Vec<(String, u64, f64)> {
    let mut beds = Vec::new();
    for kind in [Daemons::Failoverd, Daemons::Keepalived] {
        for interval in [Duration::from_secs(1), Duration::from_millis(100)] {
            let bed = Bed::new();
            let master = start(&bed, kind, MASTER, interval);
            let backup = start(&bed, kind, BACKUP, interval);
            beds.push((kind, interval, bed, master, backup));
        }
    }
    std::thread::sleep(Duration::from_secs(5)); // elections done, start-up allocations made
    let mut before = Vec::new();
    for (_, _, _, master, backup) in &mut beds {
        let pids: Vec<Vec<i32>> = vec![master.pids(), backup.pids()];
        let cpu: Vec<Duration> = pids
            .iter()
            .map(|p| p.iter().map(|&pid| cpu_and_rss(pid).0).sum())
            .collect();
        before.push((pids, cpu));
    }
    std::thread::sleep(window);
    let mut rows = Vec::new();
    for ((kind, interval, _, _, _), (pids, cpu0)) in beds.iter().zip(&before) {
        for (role, (pids, cpu0)) in ["master", "backup"].iter().zip(pids.iter().zip(cpu0)) {
            let (cpu, rss): (Duration, u64) = pids
                .iter()
                .map(|&pid| cpu_and_rss(pid))
                .fold((Duration::ZERO, 0), |(c, r), (c2, r2)| (c + c2, r + r2));
            let share = (cpu - *cpu0).as_secs_f64() / window.as_secs_f64() * 100.0;
            let name = match kind {
                Daemons::Failoverd => "failoverd",
                Daemons::Quorum => "failoverd (quorum)",
                Daemons::Keepalived => "keepalived (parent + VRRP child)",
            };
            rows.push((
                format!("{name} {role}, interval {}", label(*interval)),
                rss,
                share,
            ));
        }
    }
    rows
}

fn label(interval: Duration) -> String {
    if interval < Duration::from_secs(1) {
        format!("{} ms", interval.as_millis())
    } else {
        format!("{} s", interval.as_secs())
    }
}

fn keepalived_available() -> bool {
    Command::new("keepalived")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str, default: u64| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1)?.parse().ok())
            .unwrap_or(default)
    };
    let trials = value("--trials", 20) as usize;
    let window = Duration::from_secs(value("--idle", 30));
    let list = |flag: &str| {
        (args.iter().position(|a| a == flag))
            .and_then(|i| args.get(i + 1))
            .map(|v| v.split(',').map(str::to_string).collect::<Vec<_>>())
    };
    let cases = list("--cases");
    let intervals: Vec<Duration> = match list("--intervals") {
        Some(ms) => (ms.iter())
            .map(|m| Duration::from_millis(m.parse().expect("--intervals: milliseconds")))
            .collect(),
        None => vec![Duration::from_millis(100), Duration::from_secs(1)],
    };
    if !nix::unistd::geteuid().is_root() {
        println!("failover_time: not run: it builds network namespaces, which needs root");
        return;
    }
    assert!(
        keepalived_available(),
        "keepalived is not installed: apt-get install -y keepalived"
    );
    let mut series = Vec::new();
    for (how, case, name) in Stop::ALL {
        if cases.as_ref().is_some_and(|c| !c.iter().any(|c| c == case)) {
            continue;
        }
        for &interval in &intervals {
            let mut s = Series {
                label: format!("{name:<32} {:>7}", label(interval)),
                times: Default::default(),
            };
            for i in 0..trials {
                let phase = (i as f64 + 0.5) / trials as f64;
                // alternate, so a noisy minute hurts every kind alike
                for (k, kind) in Daemons::ALL.into_iter().enumerate() {
                    s.times[k].push(trial(kind, interval, how, phase));
                }
                eprint!("\r{} trial {}/{trials}   ", s.label.trim_end(), i + 1);
            }
            eprintln!();
            series.push(s);
        }
    }
    println!();
    println!(
        "failover time: stop of the master's daemon -> first client request answered by the backup"
    );
    println!(
        "{trials} trials each; median (p10–p90) in ms; ratio = failoverd classic / keepalived"
    );
    println!();
    println!(
        "{:<40} {:>22} {:>22} {:>22} {:>6}",
        "case                              interval",
        "failoverd classic",
        "failoverd quorum",
        "keepalived",
        "ratio"
    );
    let mut planned_fast = None;
    let mut no_slower = true;
    let mut quorum_default = Vec::new();
    for s in &series {
        let [f, q, k] = s.times.each_ref().map(|t| median(t));
        let ratio = f.as_secs_f64() / k.as_secs_f64();
        let cell = |t: &[Duration]| format!("{} ({})", ms(median(t)), spread(t));
        println!(
            "{:<40} {:>22} {:>22} {:>22} {:>6.2}",
            s.label,
            cell(&s.times[0]),
            cell(&s.times[1]),
            cell(&s.times[2]),
            ratio
        );
        // The client asks every PROBE: medians closer than that are the same measurement.
        no_slower &= f <= k + PROBE;
        if s.label.starts_with("planned") && s.label.contains("100 ms") {
            planned_fast = Some(f);
        }
        if s.label.contains(" 1 s") && !s.label.starts_with("planned") {
            quorum_default.push(q);
        }
    }
    // (at the default interval of 1 s, at 100 ms)
    let mut idle_ok = None;
    if !window.is_zero() {
        println!();
        println!(
            "idle, {} s window after settling: resident memory and CPU",
            window.as_secs()
        );
        let mut ok_at = (true, true);
        for (name, rss_kb, share) in &idle(window) {
            println!(
                "  {name:<50} {:>6.1} MB RSS  {share:>7.4} % of a core",
                *rss_kb as f64 / 1024.0
            );
            if name.starts_with("failoverd") {
                let ok = *rss_kb < 10 * 1024 && *share < 0.1;
                if name.ends_with(" 1 s") {
                    ok_at.0 &= ok;
                } else {
                    ok_at.1 &= ok;
                }
            }
        }
        idle_ok = Some(ok_at);
    }
    println!();
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!(
        "targets: no slower than keepalived at equal settings (within the {} ms probe period): {}",
        PROBE.as_millis(),
        verdict(no_slower)
    );
    if let Some(worst) = quorum_default.iter().max() {
        println!(
            "         quorum failover (crash, kill, pause) under 4 s at the default 1 s interval: \
             {} (slowest median {} ms)",
            verdict(*worst < Duration::from_secs(4)),
            ms(*worst)
        );
    }
    if let Some(p) = planned_fast {
        println!(
            "         planned switchover under 50 ms (100 ms interval): {} ({} ms)",
            verdict(p < Duration::from_millis(50)),
            ms(p)
        );
    }
    if let Some((at_1s, at_100ms)) = idle_ok {
        println!(
            "         idle daemon under 10 MB RSS and 0.1 % of a core: {} at the default 1 s \
             interval, {} at 100 ms",
            verdict(at_1s),
            verdict(at_100ms)
        );
    }
}
