//! What the netns engine asks of the operating system: network namespaces, `ip` and `nft`
//! commands, and child processes — each owned by a value whose `Drop` removes it, so a run
//! that fails, panics or is interrupted leaves nothing behind.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A network namespace made for this run (`ip netns add`), deleted on drop.
#[derive(Debug)]
pub(super) struct Ns {
    name: String,
}

impl Ns {
    /// A new namespace named `fo<pid>n<serial><tag>`, its loopback up.
    pub fn new(tag: &str) -> Result<Ns, String> {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let serial = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("fo{}n{serial}{tag}", std::process::id());
        run("ip", &["netns", "add", &name], None)?;
        let ns = Ns { name };
        ns.ip("link set lo up")?;
        Ok(ns)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip -n NAME ARGS`.
    pub fn ip(&self, args: &str) -> Result<String, String> {
        let mut all = vec!["-n", &self.name];
        all.extend(args.split_whitespace());
        run("ip", &all, None)
    }

    /// `nft -f -` inside the namespace with `script` as its input.
    pub fn nft(&self, script: &str) -> Result<String, String> {
        run(
            "ip",
            &["netns", "exec", &self.name, "nft", "-f", "-"],
            Some(script),
        )
    }

    /// `sysctl -w SETTING` inside the namespace (a network setting of its own).
    pub fn sysctl(&self, setting: &str) -> Result<String, String> {
        run(
            "ip",
            &["netns", "exec", &self.name, "sysctl", "-q", "-w", setting],
            None,
        )
    }

    /// A command that runs `program` inside the namespace.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name]).arg(program);
        command
    }

    /// Runs `f` on a thread of its own that has entered the namespace: sockets it opens live
    /// there. The thread runs until `f` returns.
    pub fn spawn<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<std::thread::JoinHandle<T>, String> {
        let path = format!("/run/netns/{}", self.name);
        let ns = File::open(&path).map_err(|e| format!("{path}: {e}"))?;
        Ok(std::thread::spawn(move || {
            nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET)
                .unwrap_or_else(|e| panic!("setns {path}: {e}"));
            f()
        }))
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        if let Err(e) = run("ip", &["netns", "delete", &self.name], None) {
            eprintln!("cleanup: ip netns delete {}: {e}", self.name);
        }
    }
}

/// Runs a command to its end; its output, or its error output as the error.
fn run(program: &str, args: &[&str], input: Option<&str>) -> Result<String, String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {program} (is it installed?): {e}"))?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin
            .write_all(text.as_bytes())
            .map_err(|e| format!("{program}: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A child process, its output in a log file, killed (by PID) on drop.
#[derive(Debug)]
pub(super) struct Proc {
    child: Child,
}

impl Proc {
    pub fn spawn(mut command: Command, log: &Path) -> Result<Proc, String> {
        let out = File::options()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start {command:?}: {e}"))?;
        Ok(Proc { child })
    }

    pub fn signal(&mut self, signal: nix::sys::signal::Signal) {
        if self.running() {
            let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
            let _ = nix::sys::signal::kill(pid, signal);
        }
    }

    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.running() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
