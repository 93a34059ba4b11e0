//! Network-namespace test beds for failoverd's tests and its benchmark, shared so both measure
//! the same set-up.
//!
//! Everything a bed creates — namespaces, links, processes, files — belongs to a value whose
//! `Drop` removes it, so a failing or panicking test cleans up too. Processes are killed by
//! PID, never by name. Namespace names carry the test process's PID and a counter, so tests
//! running in parallel threads, or several test binaries at once, never collide; the LAN's
//! bridge lives in a namespace of its own, so nothing touches the host's network. Addresses
//! come only from 192.0.2.0/24 (the LAN) and 198.51.100.0/24 (the direct link, or a trio's
//! backend LAN), and their IPv6 twins in 2001:db8::/32 (2001:db8:0:1::/64 and
//! 2001:db8:0:2::/64, see [`twin`]). Outside the bed's temporary directory, only `/etc/failover` is made (empty,
//! as a mount point) while a daemon uses it, and removed after.

mod bed;
mod daemon;
mod monitor;
mod netns;
mod process;
mod service;
mod smtp;
mod trio;
mod usage;

pub use bed::{twin, Bed, Host, BACKUP, CLIENT, MAIL_SERVER, MASTER, SERVICE_PORT, VIP, VIP6};
pub use daemon::{Daemon, NodeConfig, PathConfig};
pub use monitor::AddressMonitor;
pub use netns::Netns;
pub use process::Process;
pub use service::{ask, request, Service};
pub use smtp::{Mail, Smtp};
pub use trio::{Trio, ALPHA, BRAVO, CHARLIE, TRIO};
pub use usage::{Udp, Usage};

use std::io::Write as _;
use std::time::{Duration, Instant};

/// Whether this test can build namespaces. When not root it prints why it skips (naming the
/// test: the harness names test threads after their tests) and returns false — unless
/// `FAILOVER_REQUIRE_NETNS=1` (set by CI), where a skip is a failure.
pub fn root_or_skip() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("this test");
    let why = format!(
        "{test}: SKIPPED: needs root to build network namespaces (run `sudo bash .ci/test`)"
    );
    if std::env::var("FAILOVER_REQUIRE_NETNS").is_ok_and(|v| v == "1") {
        panic!("{why}; FAILOVER_REQUIRE_NETNS=1 makes a skip a failure");
    }
    // Straight to stderr, not eprintln!: the test harness captures (and hides) the output
    // of passing tests, and a skip must be seen.
    let _ = writeln!(std::io::stderr(), "{why}");
    false
}

/// Polls `cond` every 10 ms until it holds; panics naming `what` after `timeout`. Tests wait
/// for conditions, never for fixed times, and deadlines are generous: CI machines are busy.
pub fn wait_until(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    eventually(timeout, what, || cond().then_some(()));
}

/// Polls `f` every 10 ms until it returns a value; panics naming `what` after `timeout`.
pub fn eventually<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = f() {
            return value;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for: {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Checks that `cond` holds every 10 ms for all of `period` (e.g. "no takeover happens"),
/// panicking with `what` at the first time it does not.
pub fn holds_for(period: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < period {
        assert!(cond(), "{what} stopped holding after {:?}", start.elapsed());
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A name unique to this process and call, e.g. `fo1234x7m`.
pub(crate) fn unique(tag: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("fo{}x{n}{tag}", std::process::id())
}
