//! What a process costs and what its namespace's kernel did with UDP, read from `/proc`: for
//! tests that flood a daemon and must say how it held up.

use std::time::Duration;

/// Clock ticks per second of `/proc/PID/stat`'s times: `USER_HZ`, fixed at 100 by Linux's ABI.
const USER_HZ: u32 = 100;

/// One reading of a process's cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    /// CPU time so far, user and system, of every thread that ever ran (utime + stime).
    pub cpu: Duration,
    /// Resident memory (VmRSS), in KiB.
    pub rss_kib: u64,
    /// Open file descriptors.
    pub fds: usize,
}

impl Usage {
    /// Reads process `pid`'s cost now; panics if it is gone.
    pub fn of(pid: i32) -> Usage {
        let stat = read(pid, "stat");
        // Fields after the command, which ends at the last ')': state is field 3, utime 14.
        let fields: Vec<&str> = stat[stat.rfind(')').expect("stat's command") + 2..]
            .split_whitespace()
            .collect();
        let ticks = |field: usize| -> u64 { fields[field - 3].parse().expect("a tick count") };
        let cpu = Duration::from_secs(ticks(14) + ticks(15)) / USER_HZ;
        let rss_kib = read(pid, "status")
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .expect("VmRSS");
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(Iterator::count)
            .unwrap_or_else(|e| panic!("/proc/{pid}/fd: {e}"));
        Usage { cpu, rss_kib, fds }
    }

    /// The share of one CPU used between `self` and a later reading `then`, `wall` apart.
    pub fn cpu_percent(&self, then: &Usage, wall: Duration) -> f64 {
        (then.cpu - self.cpu).as_secs_f64() * 100.0 / wall.as_secs_f64()
    }
}

/// The UDP counters of the network namespace process `pid` lives in (`/proc/PID/net/snmp`),
/// and what its sockets on `port` hold unread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Udp {
    /// Datagrams handed to a reader of a socket (counted as a process reads them).
    pub in_datagrams: u64,
    /// Datagrams dropped because the receiving socket's buffer was full.
    pub rcvbuf_errors: u64,
    /// Bytes waiting in the receive queues of the sockets bound to `port`.
    pub queued: u64,
}

impl Udp {
    /// Reads the counters of `pid`'s namespace, and the queues of its sockets on `port`.
    pub fn of(pid: i32, port: u16) -> Udp {
        let snmp = read(pid, "net/snmp");
        let mut udp = snmp.lines().filter(|l| l.starts_with("Udp: "));
        let (names, values) = (udp.next().expect("Udp names"), udp.next().expect("Udp"));
        let value = |name: &str| -> u64 {
            let at = names.split_whitespace().position(|n| n == name);
            let at = at.unwrap_or_else(|| panic!("no {name} in /proc/{pid}/net/snmp"));
            values
                .split_whitespace()
                .nth(at)
                .expect("a value")
                .parse()
                .expect("a number")
        };
        // /proc/net/udp: "sl local_address rem_address st tx_queue:rx_queue ...", hex.
        let local = format!(":{port:04X}");
        let queued = read(pid, "net/udp")
            .lines()
            .skip(1)
            .filter_map(|l| {
                let fields: Vec<&str> = l.split_whitespace().collect();
                fields[1].ends_with(&local).then(|| fields[4])
            })
            .map(|queues| {
                let rx = queues.split(':').nth(1).expect("tx:rx");
                u64::from_str_radix(rx, 16).expect("a hex queue length")
            })
            .sum();
        Udp {
            in_datagrams: value("InDatagrams"),
            rcvbuf_errors: value("RcvbufErrors"),
            queued,
        }
    }
}

fn read(pid: i32, what: &str) -> String {
    let path = format!("/proc/{pid}/{what}");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}
