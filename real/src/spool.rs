//! The mail spool: every message is on disk before its first delivery attempt, so none is lost
//! to a restart, a crash, or a mail server away for hours.
//!
//! `<state-dir>/mail/` holds one file per message waiting, `<sequence>.json` — the [`Mail`] as
//! JSON, its sequence number in 20 digits so that name order is the order the notifications
//! happened. A file is written whole under a temporary name (`.<sequence>.tmp`), fsync'd,
//! renamed into place, and the directory fsync'd: a crash leaves a message spooled or not,
//! never torn. It is removed (and the directory fsync'd) once the server has taken it; a
//! message the server refuses for good (a 5xx answer: no retry can help) is moved to
//! `mail/failed/` for a person to read, so the ones behind it go on. At start the daemon
//! delivers what it finds there first, oldest first; a file it cannot read is moved to
//! `mail/failed/` too, and a temporary file (a write cut short) is removed.
//!
//! Every function here blocks (fsync): the mail task calls them off its runtime thread.

use crate::mail::Mail;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The spool's directory under the state directory.
pub const DIR: &str = "mail";
/// Where messages refused for good, and unreadable files, are set aside.
pub const FAILED: &str = "failed";

/// A message of the queue, and its file when it has one.
#[derive(Clone, Debug)]
pub struct Spooled {
    /// The message.
    pub mail: Mail,
    /// Its file; `None` when it could not be written (held in memory only).
    pub file: Option<PathBuf>,
}

/// The spool directory and the next sequence number.
#[derive(Clone, Debug)]
pub struct Spool {
    dir: PathBuf,
    next: u64,
}

impl Spool {
    /// Opens the spool under `state_dir` (creating it) and returns the messages waiting
    /// there, oldest first. On an error the spool is still usable: every store tries again.
    pub fn open(state_dir: &Path) -> (Spool, Vec<Spooled>, Option<io::Error>) {
        let dir = state_dir.join(DIR);
        let mut spool = Spool { dir, next: 1 };
        match spool.read_waiting() {
            Ok(waiting) => (spool, waiting, None),
            Err(e) => {
                let e = named(&spool.dir, e);
                (spool, Vec::new(), Some(e))
            }
        }
    }

    /// The spool's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn read_waiting(&mut self) -> io::Result<Vec<Spooled>> {
        fs::create_dir_all(&self.dir)?;
        let mut found: Vec<(u64, PathBuf)> = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let path = entry?.path();
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            if name.starts_with('.') && name.ends_with(".tmp") {
                // A write cut short by a crash: that message was never spooled.
                let _ = fs::remove_file(&path);
            } else if let Some(seq) = name.strip_suffix(".json").and_then(|n| n.parse().ok()) {
                found.push((seq, path));
            }
        }
        found.sort();
        self.next = found.last().map_or(1, |(seq, _)| seq + 1);
        let mut waiting = Vec::with_capacity(found.len());
        for (_, path) in found {
            match read(&path) {
                Ok(mail) => waiting.push(Spooled {
                    mail,
                    file: Some(path),
                }),
                Err(e) => {
                    tracing::error!(
                        "mail spool: {}: cannot read it ({e}); set aside",
                        path.display()
                    );
                    if let Err(e) = self.set_aside(&path) {
                        tracing::error!("mail spool: {e}");
                    }
                }
            }
        }
        Ok(waiting)
    }

    /// Writes `mail` to its own file, durably; the message comes back held in memory only
    /// (with the error) when it cannot be written (a full disk, a read-only directory).
    pub fn store(&mut self, mail: Mail) -> (Spooled, Option<io::Error>) {
        let seq = self.next;
        self.next += 1;
        let file = self.dir.join(format!("{seq:020}.json"));
        match write(&self.dir, &file, &mail) {
            Ok(()) => (
                Spooled {
                    mail,
                    file: Some(file),
                },
                None,
            ),
            Err(e) => (Spooled { mail, file: None }, Some(named(&file, e))),
        }
    }

    /// Removes a delivered message's file.
    pub fn remove(&self, spooled: &Spooled) -> io::Result<()> {
        let Some(file) = &spooled.file else {
            return Ok(());
        };
        fs::remove_file(file).map_err(|e| named(file, e))?;
        sync_dir(&self.dir).map_err(|e| named(&self.dir, e))
    }

    /// Moves a message's file to `failed/`, returning where it went.
    pub fn set_aside(&self, file: &Path) -> io::Result<PathBuf> {
        let failed = self.dir.join(FAILED);
        fs::create_dir_all(&failed).map_err(|e| named(&failed, e))?;
        let to = failed.join(file.file_name().unwrap_or_default());
        fs::rename(file, &to).map_err(|e| named(file, e))?;
        sync_dir(&self.dir).map_err(|e| named(&self.dir, e))?;
        Ok(to)
    }
}

fn read(file: &Path) -> io::Result<Mail> {
    let text = fs::read(file)?;
    serde_json::from_slice(&text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Temporary file, fsync, rename, fsync of the directory.
fn write(dir: &Path, file: &Path, mail: &Mail) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let name = file.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{}.tmp", name.trim_end_matches(".json")));
    let result = (|| {
        let mut out = File::create(&tmp)?;
        out.write_all(&serde_json::to_vec(mail)?)?;
        out.sync_all()?;
        fs::rename(&tmp, file)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn named(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn mail(subject: &str) -> Mail {
        Mail {
            node: "backup".into(),
            host: "192.0.2.50".into(),
            port: 2525,
            from: "failoverd@example.com".into(),
            to: "ops@example.com".into(),
            subject: subject.into(),
            body: "body\n".into(),
            retry_max: Duration::from_secs(300),
        }
    }

    fn subjects(waiting: &[Spooled]) -> Vec<&str> {
        waiting.iter().map(|s| s.mail.subject.as_str()).collect()
    }

    #[test]
    fn what_is_stored_is_found_again_in_order_and_gone_once_removed() {
        let state = tempfile::TempDir::new().unwrap();
        let (mut spool, waiting, error) = Spool::open(state.path());
        assert!(waiting.is_empty() && error.is_none());
        let stored: Vec<Spooled> = (1..=12)
            .map(|n| spool.store(mail(&format!("m{n}"))).0)
            .collect();
        assert!(stored.iter().all(|s| s.file.is_some()));
        spool.remove(&stored[0]).unwrap();
        // A restart: the rest, oldest first (m10 after m9: names sort as numbers).
        let (mut spool, waiting, _) = Spool::open(state.path());
        let expected: Vec<String> = (2..=12).map(|n| format!("m{n}")).collect();
        assert_eq!(subjects(&waiting), expected);
        // New mail goes after what waits, even after a restart.
        let (newer, _) = spool.store(mail("new"));
        let (_, waiting, _) = Spool::open(state.path());
        assert_eq!(waiting.last().unwrap().mail.subject, "new");
        assert!(newer.file.unwrap().ends_with("00000000000000000013.json"));
    }

    #[test]
    fn a_torn_write_is_dropped_and_an_unreadable_file_set_aside() {
        let state = tempfile::TempDir::new().unwrap();
        let (mut spool, _, _) = Spool::open(state.path());
        spool.store(mail("kept"));
        let dir = state.path().join(DIR);
        fs::write(dir.join(".00000000000000000007.tmp"), "{\"host\":").unwrap();
        fs::write(dir.join("00000000000000000005.json"), "not json").unwrap();
        let (_, waiting, _) = Spool::open(state.path());
        assert_eq!(subjects(&waiting), ["kept"]);
        assert!(!dir.join(".00000000000000000007.tmp").exists());
        assert!(dir.join(FAILED).join("00000000000000000005.json").exists());
    }

    #[test]
    fn a_spool_that_cannot_be_written_holds_the_message_in_memory_and_says_why() {
        let state = tempfile::TempDir::new().unwrap();
        // The spool's place is taken by a file: nothing can be written under it.
        fs::write(state.path().join(DIR), "").unwrap();
        let (mut spool, waiting, error) = Spool::open(state.path());
        assert!(waiting.is_empty());
        assert!(error.unwrap().to_string().contains(DIR));
        let (spooled, error) = spool.store(mail("held"));
        assert_eq!(spooled.mail.subject, "held");
        assert!(spooled.file.is_none());
        assert!(error.is_some());
    }
}
