//! The boot epoch: a number that grows with every start of the daemon.
//!
//! Peers keep the highest epoch they heard from a node and drop anything older as a replay, so a
//! restarted node must never reuse or fall below an old epoch. Two sources together make that
//! hold: a counter persisted in the state directory (survives clock steps backwards), and the
//! wall clock in milliseconds (survives a lost or wiped state directory). The epoch is the
//! larger of "last epoch + 1" and "now in ms since 1970".
//!
//! A state directory that cannot be written (full, read-only) does not stop the daemon: the
//! epoch from the clock is used and the caller logs and mails the trouble. Only a restart
//! before it is fixed *and* after the clock was stepped back could then reuse an epoch (the
//! peers would drop that run's messages as replays until its epoch passes the old one). An
//! epoch file that cannot be read or makes no sense refuses the start: that needs a person.

use std::fs;
use std::io;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

const FILE: &str = "epoch";

/// This start's epoch, and whether it was recorded.
#[derive(Debug)]
pub struct Next {
    /// The epoch.
    pub epoch: u64,
    /// `Err` when it could not be written to the state directory.
    pub stored: io::Result<()>,
}

/// Picks this start's epoch and records it in `state_dir` (created if missing) before
/// returning, so a crash right after start still counts as a start. Fails only when the
/// last epoch cannot be read or is not a number.
pub fn next(state_dir: &Path) -> io::Result<Next> {
    let with_path =
        |path: &Path, e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    let file = state_dir.join(FILE);
    let last = match fs::read_to_string(&file) {
        Ok(text) => text.trim().parse::<u64>().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{}: `{}` is not an epoch number (remove the file to start over)",
                    file.display(),
                    text.trim()
                ),
            )
        })?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
        Err(e) => return Err(with_path(&file, e)),
    };
    let clock = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let epoch = last.saturating_add(1).max(clock);
    let stored = fs::create_dir_all(state_dir)
        .map_err(|e| with_path(state_dir, e))
        .and_then(|()| store(&file, epoch).map_err(|e| with_path(&file, e)));
    Ok(Next { epoch, stored })
}

/// Writes the epoch atomically, so a crash leaves the old number or the new, never a torn one.
fn store(file: &Path, epoch: u64) -> io::Result<()> {
    crate::state_file::write_atomically(file, &format!("{epoch}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("failoverd-epoch-{}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn every_start_gets_a_larger_epoch_even_if_the_clock_goes_back() {
        let dir = temp_dir("grow");
        let first = next(&dir).unwrap().epoch;
        let second = next(&dir).unwrap().epoch;
        assert!(second > first);
        // A clock far behind the stored counter (e.g. stepped back): the counter still wins.
        let ahead = second + 1_000_000_000_000;
        fs::write(dir.join(FILE), format!("{ahead}\n")).unwrap();
        assert_eq!(next(&dir).unwrap().epoch, ahead + 1);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_lost_state_directory_still_gives_an_epoch_past_earlier_runs() {
        let dir = temp_dir("lost");
        let before = next(&dir).unwrap().epoch;
        fs::remove_dir_all(&dir).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(
            next(&dir).unwrap().epoch > before,
            "the wall clock carries it"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_corrupt_epoch_file_is_an_error_naming_it() {
        let dir = temp_dir("corrupt");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(FILE), "garbage").unwrap();
        let err = next(&dir).unwrap_err().to_string();
        assert!(err.contains("epoch") && err.contains("garbage"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_state_directory_that_cannot_be_written_still_gives_an_epoch_and_says_why() {
        let dir = temp_dir("blocked");
        // The temporary file's place is taken by a directory: the epoch cannot be written
        // (as on a full disk or a read-only mount, which root's tests cannot make here).
        fs::create_dir_all(dir.join("epoch.tmp")).unwrap();
        let clock = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let next = next(&dir).unwrap();
        assert!(
            u128::from(next.epoch) >= clock.as_millis(),
            "from the clock"
        );
        let err = next.stored.unwrap_err().to_string();
        assert!(err.contains(&dir.display().to_string()), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
