//! `ip monitor address` in a namespace for a whole test: every address added or removed there,
//! as the kernel reports it. An address held for a few milliseconds (a takeover begun and
//! undone at once) is missed by polling `ip addr`; the kernel's report of it is not.

use crate::{eventually, Netns, Process};
use std::net::IpAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Added to and removed from `lo` until the monitor reports it: then it is listening.
const MARKER: &str = "198.51.100.254/32";

/// A running `ip -o -ts monitor address`, its report in a log file; killed on drop.
#[derive(Debug)]
pub struct AddressMonitor {
    process: Process,
}

impl AddressMonitor {
    /// Starts monitoring `ns`, writing to `log`, and returns once it is listening (start it
    /// before the daemons, so nothing they do escapes it).
    pub fn start(ns: &Netns, log: &Path) -> AddressMonitor {
        let mut command = Command::new("ip");
        command.args(["-o", "-ts", "-n", ns.name(), "monitor", "address"]);
        let monitor = AddressMonitor {
            process: Process::spawn(command, "ip monitor address", log),
        };
        let marker = format!(" inet {MARKER} ");
        eventually(Duration::from_secs(20), "ip monitor to listen", || {
            ns.ip(&format!("addr add {MARKER} dev lo"));
            ns.ip(&format!("addr del {MARKER} dev lo"));
            std::thread::sleep(Duration::from_millis(50));
            monitor.report().contains(&marker).then_some(())
        });
        monitor
    }

    /// The kernel's report lines about `address` so far, added or `Deleted`, one line each
    /// with its time.
    pub fn lines(&self, address: impl Into<IpAddr>) -> Vec<String> {
        let needle = match address.into() {
            IpAddr::V4(v4) => format!(" inet {v4}/"),
            IpAddr::V6(v6) => format!(" inet6 {v6}/"),
        };
        let report = self.report();
        let about = report.lines().filter(|line| line.contains(&needle));
        about.map(str::to_string).collect()
    }

    /// Those of them that report `address` added.
    pub fn added(&self, address: impl Into<IpAddr>) -> Vec<String> {
        let mut lines = self.lines(address);
        lines.retain(|line| !line.contains("] Deleted "));
        lines
    }

    /// Everything reported so far.
    pub fn report(&self) -> String {
        self.process.output()
    }
}
