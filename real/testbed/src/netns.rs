//! One network namespace: a host of the bed.

use nix::sched::{setns, CloneFlags};
use std::ffi::OsStr;
use std::fs::File;
use std::process::Command;

/// A network namespace made with `ip netns add`, deleted on drop.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// A new namespace with its loopback up; `tag` ends its unique name.
    pub fn new(tag: &str) -> Netns {
        let name = crate::unique(tag);
        run_ip(&["netns", "add", &name]).unwrap_or_else(|e| panic!("ip netns add {name}: {e}"));
        let ns = Netns { name };
        ns.ip("link set lo up");
        ns
    }

    /// The namespace's name (for `ip netns exec`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n NAME <args>` and returns its output; panics with ip's message on failure.
    pub fn ip(&self, args: &str) -> String {
        self.try_ip(args)
            .unwrap_or_else(|e| panic!("ip -n {} {args}: {e}", self.name))
    }

    /// Runs `ip -n NAME <args>`.
    pub fn try_ip(&self, args: &str) -> Result<String, String> {
        let mut all = vec!["-n", &self.name];
        all.extend(args.split_whitespace());
        run_ip(&all)
    }

    /// A command that runs `program` inside the namespace.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name]).arg(program);
        command
    }

    /// Runs `f` on a thread that has entered the namespace: sockets it opens live there.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let path = format!("/run/netns/{}", self.name);
        std::thread::scope(|s| {
            s.spawn(|| {
                let ns = File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
                setns(ns, CloneFlags::CLONE_NEWNET).unwrap_or_else(|e| panic!("setns {path}: {e}"));
                f()
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    /// Whether `address` is on `dev`.
    pub fn has_address(&self, dev: &str, address: &str) -> bool {
        self.ip(&format!("-o addr show dev {dev}"))
            .split_whitespace()
            .any(|word| word.split('/').next() == Some(address))
    }

    /// The MAC address of `dev`.
    pub fn mac(&self, dev: &str) -> String {
        let out = self.ip(&format!("-o link show dev {dev}"));
        let mut words = out.split_whitespace();
        words.find(|&w| w == "link/ether");
        words
            .next()
            .unwrap_or_else(|| panic!("no MAC on {dev}: {out}"))
            .to_string()
    }

    /// The MAC this host's neighbour table has for `address` (IPv4 or IPv6), if any.
    pub fn neighbour(&self, address: &str) -> Option<String> {
        self.neighbour_entry(address).map(|(mac, _)| mac)
    }

    /// The MAC and the state (`REACHABLE`, `STALE`, ...) of this host's neighbour entry for
    /// `address`, if it has one with a MAC.
    pub fn neighbour_entry(&self, address: &str) -> Option<(String, String)> {
        let out = self.ip(&format!("neigh show {address}"));
        let mut words = out.split_whitespace();
        words.find(|&w| w == "lladdr")?;
        let mac = words.next()?.to_string();
        let state = (words.rev()).find(|w| w.chars().all(|c| c.is_ascii_uppercase()))?;
        Some((mac, state.to_string()))
    }

    /// Sets the sysctl `key` (as under `/proc/sys`, e.g. `net/ipv6/conf/eth0/accept_dad`) of
    /// this namespace: `net/` sysctls belong to the namespace of whoever opens them.
    pub fn sysctl(&self, key: &str, value: &str) {
        let path = format!("/proc/sys/{key}");
        self.run(|| std::fs::write(&path, value))
            .unwrap_or_else(|e| panic!("{}: {path} = {value}: {e}", self.name));
    }

    /// The namespace's IPv6 counter `name` from `/proc/net/snmp6` (e.g.
    /// `Icmp6InNeighborAdvertisements`).
    pub fn snmp6(&self, name: &str) -> u64 {
        // /proc/thread-self: the thread's namespace (/proc/self/net is the main thread's).
        let text = self
            .run(|| std::fs::read_to_string("/proc/thread-self/net/snmp6"))
            .unwrap_or_else(|e| panic!("{}: /proc/net/snmp6: {e}", self.name));
        text.lines()
            .find_map(|line| {
                let (key, value) = line.split_once(char::is_whitespace)?;
                (key == name).then(|| value.trim().parse().ok()).flatten()
            })
            .unwrap_or_else(|| panic!("no {name} in /proc/net/snmp6"))
    }

    /// Sets `dev` up or down.
    pub fn set_link(&self, dev: &str, up: bool) {
        self.ip(&format!(
            "link set {dev} {}",
            if up { "up" } else { "down" }
        ));
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Err(e) = run_ip(&["netns", "delete", &self.name]) {
            eprintln!("cleanup: ip netns delete {}: {e}", self.name);
        }
    }
}

fn run_ip(args: &[&str]) -> Result<String, String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip (install iproute2): {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}
