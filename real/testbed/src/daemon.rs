//! A `failoverd` in a namespace, with its configuration, state directory, status socket and log
//! in the bed's directory.

use crate::{Netns, Process};
use nix::sys::signal::Signal;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// One heartbeat path of a node.
#[derive(Clone, Debug)]
pub struct PathConfig {
    /// Path name.
    pub name: String,
    /// Local address.
    pub local: SocketAddr,
    /// Peer addresses.
    pub peers: Vec<SocketAddr>,
}

impl PathConfig {
    /// The same path over IPv6: its addresses replaced by their twins in 2001:db8::/32 (see
    /// [`crate::twin`]).
    pub fn to_ipv6(&mut self) {
        fn twin(a: &SocketAddr) -> SocketAddr {
            match a.ip() {
                IpAddr::V4(v4) => SocketAddr::new(crate::twin(v4).into(), a.port()),
                IpAddr::V6(_) => *a,
            }
        }
        self.local = twin(&self.local);
        self.peers = self.peers.iter().map(twin).collect();
    }
}

/// A node's configuration, written as failoverd's TOML.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// Node name.
    pub name: String,
    /// Priority.
    pub priority: u8,
    /// Heartbeat interval.
    pub interval: Duration,
    /// Heartbeat paths.
    pub paths: Vec<PathConfig>,
    /// The virtual addresses (prefix 24 or 64), in order.
    pub vips: Vec<IpAddr>,
    /// Their interface.
    pub vip_interface: String,
    /// Hook directory (`hooks.dir`).
    pub hooks_dir: PathBuf,
    /// Hook timeout.
    pub hook_timeout: Duration,
    /// SMTP server.
    pub smtp: SocketAddr,
    /// Shared key, if any.
    pub auth_key: Option<String>,
    /// `notify.retry_max`, if not the default.
    pub mail_retry_max: Option<Duration>,
}

impl NodeConfig {
    /// The TOML text.
    pub fn to_toml(&self) -> String {
        let mut t = String::new();
        let ms = |d: Duration| format!("\"{}ms\"", d.as_millis());
        let _ = writeln!(
            t,
            "[node]\nname = \"{}\"\npriority = {}",
            self.name, self.priority
        );
        let _ = writeln!(t, "[protocol]\ninterval = {}", ms(self.interval));
        if let Some(key) = &self.auth_key {
            let _ = writeln!(t, "auth_key = \"{key}\"");
        }
        for p in &self.paths {
            let peers: Vec<String> = p.peers.iter().map(|a| format!("\"{a}\"")).collect();
            let _ = writeln!(
                t,
                "[[path]]\nname = \"{}\"\nlocal = \"{}\"\npeers = [{}]",
                p.name,
                p.local,
                peers.join(", ")
            );
        }
        for vip in &self.vips {
            let _ = writeln!(
                t,
                "[[vip]]\naddress = \"{vip}\"\ninterface = \"{}\"",
                self.vip_interface
            );
        }
        let _ = writeln!(
            t,
            "[notify]\nsmtp_server = \"{}\"\nemail_recipient = \"ops@example.com\"\n\
             from = \"failoverd@{}.example.com\"",
            self.smtp, self.name
        );
        if let Some(max) = self.mail_retry_max {
            let _ = writeln!(t, "retry_max = {}", ms(max));
        }
        let _ = writeln!(
            t,
            "[hooks]\ndir = \"{}\"\ntimeout = {}",
            self.hooks_dir.display(),
            ms(self.hook_timeout)
        );
        t
    }

    /// Writes the TOML to `<dir>/<name>.toml` and returns the path.
    pub fn write(&self, dir: &Path) -> PathBuf {
        let path = dir.join(format!("{}.toml", self.name));
        std::fs::write(&path, self.to_toml()).expect("write the configuration");
        path
    }
}

/// A running failoverd.
#[derive(Debug)]
pub struct Daemon {
    // Drop order: the process, then the mount point it may use.
    process: Process,
    /// Its status socket.
    pub socket: PathBuf,
    /// Its state directory (`--state-dir`).
    pub state_dir: PathBuf,
    _etc_failover: Option<EtcFailover>,
}

impl Daemon {
    /// Starts `bin` inside `ns` as node `name` with `args` (e.g. `--config FILE`), its state
    /// directory, status socket and log under `dir`. A restart of the same name keeps the
    /// state directory (so the boot epoch grows) and appends to the log.
    pub fn start(bin: &Path, ns: &Netns, dir: &Path, name: &str, args: &[OsString]) -> Daemon {
        Daemon::spawn(ns.command(bin), dir, name, args, None)
    }

    /// Starts like [`Daemon::start`], the daemon finding its hooks in `hooks` under the name
    /// `/etc/failover`: the hostconfig form has no setting for the hook directory, it is
    /// always that one, as in the source system. `ip netns exec` gives the daemon a mount
    /// namespace of its own, and `hooks` is bind-mounted over `/etc/failover` in it only: each
    /// host of a bed has its own hooks, and the machine's `/etc` gets nothing but the empty
    /// mount point, made if missing and removed after.
    pub fn start_with_etc_hooks(
        bin: &Path,
        ns: &Netns,
        dir: &Path,
        name: &str,
        args: &[OsString],
        hooks: &Path,
    ) -> Daemon {
        let mount_point = EtcFailover::hold();
        let mut command = ns.command("sh");
        command
            .args(["-c", r#"mount --bind "$0" /etc/failover && exec "$@""#])
            .arg(hooks)
            .arg(bin);
        Daemon::spawn(command, dir, name, args, Some(mount_point))
    }

    /// Starts like [`Daemon::start`], after `setup` — a shell script run in the daemon's own
    /// mount namespace (`ip netns exec` gives it one), with `$STATE` naming its state
    /// directory. What it mounts there (a tiny full tmpfs, a read-only bind mount) is seen by
    /// the daemon alone and goes away with it, also when a test fails.
    pub fn start_after(
        setup: &str,
        bin: &Path,
        ns: &Netns,
        dir: &Path,
        name: &str,
        args: &[OsString],
    ) -> Daemon {
        let mut command = ns.command("sh");
        command
            .env("STATE", state_dir(dir, name))
            .args(["-e", "-c", &format!("{setup}\nexec \"$@\""), "setup"])
            .arg(bin);
        Daemon::spawn(command, dir, name, args, None)
    }

    fn spawn(
        mut command: Command,
        dir: &Path,
        name: &str,
        args: &[OsString],
        etc_failover: Option<EtcFailover>,
    ) -> Daemon {
        let socket = dir.join(format!("{name}.sock"));
        command
            .args(args)
            .arg("--state-dir")
            .arg(state_dir(dir, name))
            .arg("--socket")
            .arg(&socket)
            .args(["--log-level", "debug"]);
        let log = dir.join(format!("{name}.log"));
        Daemon {
            process: Process::spawn(command, name, &log),
            socket,
            state_dir: state_dir(dir, name),
            _etc_failover: etc_failover,
        }
    }

    /// Its PID (the daemon's own: `ip netns exec` and a setup script exec it).
    pub fn pid(&self) -> i32 {
        self.process.pid()
    }

    /// Sends a signal.
    pub fn signal(&mut self, signal: Signal) {
        self.process.signal(signal);
    }

    /// The process, to wait for its exit.
    pub fn process(&mut self) -> &mut Process {
        &mut self.process
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        self.process.output()
    }
}

fn state_dir(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}-state"))
}

/// `/etc/failover` as a mount point, held by every daemon started with
/// [`Daemon::start_with_etc_hooks`]: made if missing, and removed again, if this process made
/// it, when the last such daemon is gone. Not before: removing a directory detaches the mounts
/// on it in every other mount namespace, so a daemon still running would lose its hooks.
#[derive(Debug)]
struct EtcFailover;

const ETC_FAILOVER: &str = "/etc/failover";
/// Daemons holding the mount point, and whether this process made it.
static HOLDERS: Mutex<(usize, bool)> = Mutex::new((0, false));

impl EtcFailover {
    fn hold() -> EtcFailover {
        let mut holders = HOLDERS.lock().unwrap_or_else(PoisonError::into_inner);
        if holders.0 == 0 && !Path::new(ETC_FAILOVER).exists() {
            std::fs::create_dir(ETC_FAILOVER).unwrap_or_else(|e| panic!("{ETC_FAILOVER}: {e}"));
            holders.1 = true;
        }
        holders.0 += 1;
        EtcFailover
    }
}

impl Drop for EtcFailover {
    fn drop(&mut self) {
        let mut holders = HOLDERS.lock().unwrap_or_else(PoisonError::into_inner);
        holders.0 -= 1;
        if holders.0 == 0 && std::mem::take(&mut holders.1) {
            if let Err(e) = std::fs::remove_dir(ETC_FAILOVER) {
                eprintln!("cleanup: rmdir {ETC_FAILOVER}: {e}");
            }
        }
    }
}
