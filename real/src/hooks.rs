//! Hook scripts, as in the source system: a directory per virtual address holding `Test` and
//! scripts whose names start with `PreAcq`, `PostAcq`, `PreRel` or `PostRel`.
//!
//! Scripts of one hook run one after another in name order, each with the address's interface
//! and address as arguments (like ucarp) and these environment variables:
//!
//! | variable | value |
//! |---|---|
//! | `FAILOVER_EVENT` | `acquire` or `release` |
//! | `FAILOVER_HOOK` | `Test`, `PreAcq`, `PostAcq`, `PreRel` or `PostRel` |
//! | `FAILOVER_ADDRESS`, `FAILOVER_PREFIX` | the virtual address and its prefix length |
//! | `FAILOVER_INTERFACE` | its interface |
//! | `FAILOVER_PEER` | the node the address comes from or goes to (empty when unknown) |
//! | `FAILOVER_NODE` | this node's name |
//!
//! Every script runs; the hook's outcome is the first failure. The request's deadline — core's,
//! `hooks.timeout` after core asked — bounds the whole hook: a script still running then is
//! killed with its process group (a shell's children too), and the hook counts as timed out.
//! Core gives up at that same instant, so both agree on when the hand-over went on. Output goes to the log line by line, as it
//! comes. A directory or script that is missing means success; a file that is not executable
//! is skipped with a warning, as `run-parts` does.
//!
//! Hooks run as root, so they obey strict modes ([`trust`]): a script, or a directory above
//! it, that someone other than root (or the daemon's user) owns or may write refuses the
//! start — and a reload — naming the file and why; one that turns so later is not run (logged,
//! and the hook fails, so a `Test` says no).

use crate::trust::{self, Kind, Untrusted};
use failover_core::{Config, HookEvent, HookKind, HookOutcome};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::time::{timeout_at, Instant};

/// Everything one hook run needs, taken from the configuration when it was requested.
#[derive(Clone, Debug)]
pub struct HookJob {
    /// Which hook.
    pub kind: HookKind,
    /// Why it runs.
    pub event: HookEvent,
    /// The address's script directory (`<hooks.dir>/<address>`).
    pub dir: PathBuf,
    /// The virtual address.
    pub address: String,
    /// Its prefix length.
    pub prefix: u8,
    /// Its interface.
    pub interface: String,
    /// The peer the address comes from or goes to.
    pub peer: Option<String>,
    /// This node's name.
    pub node: String,
    /// When every script of the hook must have ended (core's deadline, on this clock).
    pub deadline: Instant,
    /// `hooks.timeout`, for the log.
    pub timeout: Duration,
}

/// Where hook directories live unless `hooks.dir` says otherwise.
pub const DEFAULT_DIR: &str = "/etc/failover";

/// The script directory of virtual address `vip` (an index into `config.vips`).
pub fn dir_of(config: &Config, vip: usize) -> PathBuf {
    let dir = config.hooks.dir.as_deref().unwrap_or(DEFAULT_DIR);
    Path::new(dir).join(config.vips[vip].address.to_string())
}

/// Checks every executable hook script of every address, and the directories above them,
/// against strict modes. A missing directory has no hooks and is fine.
pub fn check_trusted(config: &Config) -> Result<(), Untrusted> {
    const KINDS: [HookKind; 5] = [
        HookKind::Test,
        HookKind::PreAcq,
        HookKind::PostAcq,
        HookKind::PreRel,
        HookKind::PostRel,
    ];
    for vip in 0..config.vips.len() {
        let dir = dir_of(config, vip);
        if !dir.exists() {
            continue;
        }
        trust::check(&dir, Kind::Directory)?;
        for script in KINDS.iter().flat_map(|&kind| scripts(&dir, kind)) {
            if is_executable(&script) {
                trust::check(&script, Kind::File)?;
            }
        }
    }
    Ok(())
}

fn is_executable(script: &Path) -> bool {
    script
        .metadata()
        .is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

/// The scripts of `kind` in `dir`, in name order: `Test` by exact name, the others by prefix.
pub fn scripts(dir: &Path, kind: HookKind) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let prefix = kind.script_prefix();
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            match kind {
                HookKind::Test => name == prefix,
                _ => name.starts_with(prefix),
            }
        })
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    found
}

/// Runs the hook's scripts and says how it went. Never fails: every problem is an outcome.
pub async fn run(job: &HookJob) -> HookOutcome {
    let deadline = job.deadline;
    let mut outcome = HookOutcome::Success;
    for script in scripts(&job.dir, job.kind) {
        if !is_executable(&script) {
            tracing::warn!(script = %script.display(), "hook script is not executable; skipped");
            continue;
        }
        let result = match trust::check(&script, Kind::File) {
            Ok(_) => run_script(job, &script, deadline).await,
            Err(e) => {
                tracing::error!("hook not run: {e}");
                HookOutcome::Failed(None)
            }
        };
        if outcome.is_success() {
            outcome = result;
        }
        if result == HookOutcome::TimedOut {
            break; // the hook's time is up: later scripts do not run
        }
    }
    outcome
}

async fn run_script(job: &HookJob, script: &Path, deadline: Instant) -> HookOutcome {
    let name = script.display().to_string();
    let mut command = Command::new(script);
    command
        .args([&job.interface, &job.address])
        .env("FAILOVER_EVENT", job.event.to_string())
        .env("FAILOVER_HOOK", job.kind.script_prefix())
        .env("FAILOVER_ADDRESS", &job.address)
        .env("FAILOVER_PREFIX", job.prefix.to_string())
        .env("FAILOVER_INTERFACE", &job.interface)
        .env("FAILOVER_PEER", job.peer.as_deref().unwrap_or(""))
        .env("FAILOVER_NODE", &job.node)
        .current_dir(&job.dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            tracing::error!(hook = %name, "cannot start hook: {e}");
            return HookOutcome::Failed(None);
        }
    };
    tracing::info!(hook = %name, event = %job.event, address = %job.address, "running hook");
    if let Some(out) = child.stdout.take() {
        tokio::spawn(log_lines(name.clone(), out));
    }
    if let Some(err) = child.stderr.take() {
        tokio::spawn(log_lines(name.clone(), err));
    }
    match timeout_at(deadline, child.wait()).await {
        Ok(Ok(status)) if status.success() => {
            tracing::info!(hook = %name, "hook succeeded");
            HookOutcome::Success
        }
        Ok(Ok(status)) => {
            tracing::warn!(hook = %name, "hook failed: {status}");
            HookOutcome::Failed(status.code())
        }
        Ok(Err(e)) => {
            tracing::error!(hook = %name, "cannot wait for hook: {e}");
            HookOutcome::Failed(None)
        }
        Err(_) => {
            if let Some(pid) = child.id().and_then(|id| i32::try_from(id).ok()) {
                // The script leads its own process group: this also ends what it started.
                if let Err(e) = killpg(Pid::from_raw(pid), Signal::SIGKILL) {
                    tracing::warn!(hook = %name, "cannot kill hook's process group: {e}");
                }
            }
            let _ = child.kill().await;
            tracing::error!(hook = %name, timeout = ?job.timeout, "hook hung and was killed");
            HookOutcome::TimedOut
        }
    }
}

/// Logs a hook's output as it comes, so a hung hook's last words are in the log too.
async fn log_lines(hook: String, pipe: impl AsyncRead + Unpin) {
    let mut lines = BufReader::new(pipe).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::info!(hook = %hook, "| {line}");
    }
}
