//! The standby flag, kept in the state directory: a node the operator put in standby
//! (`failoverctl standby`) stays a backup across restarts of its daemon — a crash, an upgrade,
//! a reboot in the middle of maintenance — until `failoverctl active`.
//!
//! The file `<state-dir>/standby` holds `standby` or `active` (a missing file is `active`),
//! written atomically and fsync'd before the operator's request is answered. A file that
//! cannot be read or holds anything else refuses the start: whether the node may take the
//! addresses is not something to guess.

use crate::mail::{self, Mail};
use crate::operator::Reply;
use crate::state_file::{named, write_atomically};
use failover_core::{Answer, Config};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;
use tokio::sync::{mpsc, oneshot};

const FILE: &str = "standby";

/// Whether the state directory says this node is in standby.
pub fn load(state_dir: &Path) -> io::Result<bool> {
    let file = state_dir.join(FILE);
    match fs::read_to_string(&file) {
        Ok(text) => match text.trim() {
            "standby" => Ok(true),
            "active" => Ok(false),
            other => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{}: `{}` is neither `standby` nor `active` (write the one this node should start in)",
                    file.display(),
                    other.escape_debug()
                ),
            )),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(named(&file, e)),
    }
}

/// Records the flag in `state_dir` (created if missing), durably, before returning.
pub fn store(state_dir: &Path, standby: bool) -> io::Result<()> {
    let file = state_dir.join(FILE);
    fs::create_dir_all(state_dir).map_err(|e| named(state_dir, e))?;
    let text = if standby { "standby\n" } else { "active\n" };
    write_atomically(&file, text).map_err(|e| named(&file, e))
}

/// An operator's request answered: the flag to keep, and the answer to send once it is kept.
#[derive(Debug)]
pub struct Job {
    /// The node's standby flag after the request.
    pub standby: bool,
    /// The node's answer.
    pub answer: Answer,
    /// Where the answer goes (none if whoever asked has gone).
    pub reply: Option<oneshot::Sender<Reply>>,
    /// The configuration, to mail a failure to write.
    pub config: Config,
}

/// Starts the task that keeps the flag in `state_dir` (where it reads `stored` now) and
/// answers operators after each write, in the order they were answered. A write that fails is
/// logged and mailed, the request's answer says so, and the node runs on — as with the epoch;
/// the next request tries again.
pub fn spawn_writer(
    state_dir: PathBuf,
    stored: bool,
    mail: mpsc::UnboundedSender<Mail>,
) -> mpsc::UnboundedSender<Job> {
    let (tx, mut jobs) = mpsc::unbounded_channel::<Job>();
    tokio::spawn(async move {
        let mut on_disk = Some(stored);
        while let Some(job) = jobs.recv().await {
            let written = if on_disk == Some(job.standby) {
                Ok(())
            } else {
                let (dir, flag) = (state_dir.clone(), job.standby);
                let write = tokio::task::spawn_blocking(move || store(&dir, flag));
                let result = write.await.unwrap_or_else(|e| Err(io::Error::other(e)));
                on_disk = result.is_ok().then_some(job.standby);
                result.map_err(|e| e.to_string())
            };
            if let Err(e) = &written {
                tracing::error!("--state-dir: cannot store the standby flag: {e}; going on");
                let what = format!(
                    "The standby flag cannot be written: {e}. This node is {} now, but a restart of the daemon would not keep that.",
                    if job.standby { "in standby" } else { "active" }
                );
                let subject = "state directory cannot be written";
                let _ = mail.send(mail::trouble(
                    &job.config,
                    subject,
                    &what,
                    SystemTime::now(),
                ));
            }
            let reply = Reply::new(&job.answer, written);
            if reply.ok {
                tracing::info!(request = %job.answer.request, "{}", reply.message);
            } else {
                tracing::warn!(request = %job.answer.request, "{}", reply.message);
            }
            if let Some(to) = job.reply {
                let _ = to.send(reply);
            }
        }
    });
    tx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir() -> tempfile::TempDir {
        tempfile::Builder::new()
            .prefix("failoverd-standby-")
            .tempdir()
            .unwrap()
    }

    #[test]
    fn the_flag_survives_a_restart_and_a_missing_file_means_active() {
        let dir = temp_dir();
        assert!(!load(dir.path()).unwrap());
        store(dir.path(), true).unwrap();
        assert!(load(dir.path()).unwrap());
        assert_eq!(
            fs::read_to_string(dir.path().join(FILE)).unwrap(),
            "standby\n"
        );
        store(dir.path(), false).unwrap();
        assert!(!load(dir.path()).unwrap());
        let left: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file left behind");
    }

    #[test]
    fn a_corrupt_flag_is_an_error_naming_the_file_and_what_it_holds() {
        let dir = temp_dir();
        fs::write(dir.path().join(FILE), "stanby\n").unwrap();
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("standby") && err.contains("`stanby`"), "{err}");
        assert!(err.contains(&dir.path().display().to_string()), "{err}");
        fs::write(dir.path().join(FILE), [0xff, 0xfe]).unwrap();
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(err.contains(&dir.path().display().to_string()), "{err}");
    }

    #[test]
    fn a_flag_that_cannot_be_written_says_where() {
        let dir = temp_dir();
        // The temporary file's place is taken by a directory (as on a read-only mount, which
        // root's tests cannot make here).
        fs::create_dir_all(dir.path().join("standby.tmp")).unwrap();
        let err = store(dir.path(), true).unwrap_err().to_string();
        assert!(err.contains("standby"), "{err}");
        assert!(!load(dir.path()).unwrap(), "nothing half-written");
    }
}
