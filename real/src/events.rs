//! `--events FILE`: a machine-readable record of every act of the daemon — its start, a
//! leftover address removed, a role change, an address change the kernel finished, an
//! announcement, a hook, a notification, a reload taken or refused and the datagram that
//! re-announced the node after it, its stop — one JSON object per line, each stamped
//! with CLOCK_MONOTONIC.
//!
//! It is for test harnesses that run scenarios against real daemons and judge them with the
//! simulator's checkers. Every process on a host reads the same monotonic clock, so several
//! daemons' records and the harness's own observations ([`monotonic_ns`]) fall on one time
//! line. Each line is written whole, with no buffer of ours, to a file opened for appending,
//! at the moment the act happens: a SIGKILL later loses nothing already written. Acts are
//! rare (never one per heartbeat), so writing in place costs the loop nothing that matters.
//!
//! A line, as [`Record`] reads and writes it:
//! `{"t_ns":81234567890,"node":"alpha","event":"role","from":"backup","to":"acquiring"}`.

pub use failover_core::acts::{Act, Record};

use nix::time::{clock_gettime, ClockId};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// CLOCK_MONOTONIC in nanoseconds: the clock of [`Record::t_ns`], the same in every process
/// on the host.
pub fn monotonic_ns() -> io::Result<u64> {
    let now = Duration::from(clock_gettime(ClockId::CLOCK_MONOTONIC)?);
    u64::try_from(now.as_nanos()).map_err(io::Error::other)
}

/// Where acts go: a cloneable handle for the loop and the action worker, or nothing when
/// `--events` is not given (then every write is a no-op).
#[derive(Clone, Debug, Default)]
pub struct EventLog(Option<Arc<Sink>>);

#[derive(Debug)]
struct Sink {
    path: PathBuf,
    node: String,
    file: Mutex<File>,
    /// Whether a write has failed already: the warning is logged once, not per act.
    failed: AtomicBool,
}

impl EventLog {
    /// Opens (creating if needed) `path` for appending; `node` names every line.
    pub fn open(path: &Path, node: &str) -> io::Result<EventLog> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(EventLog(Some(Arc::new(Sink {
            path: path.to_path_buf(),
            node: node.to_owned(),
            file: Mutex::new(file),
            failed: AtomicBool::new(false),
        }))))
    }

    /// Appends `act`, stamped now. A failure is logged once and otherwise ignored: the record
    /// serves tests, and the protocol must not stop for it.
    pub fn write(&self, act: Act) {
        let Some(sink) = &self.0 else { return };
        if let Err(e) = sink.append(act) {
            if !sink.failed.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    "--events {}: cannot write ({e}); the daemon goes on, acts may be missing",
                    sink.path.display()
                );
            }
        }
    }
}

impl Sink {
    fn append(&self, act: Act) -> io::Result<()> {
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        // The clock is read under the lock, so the file's lines are in time order.
        let record = Record {
            t_ns: monotonic_ns()?,
            node: self.node.clone(),
            act,
        };
        let mut line = serde_json::to_vec(&record)?;
        line.push(b'\n');
        file.write_all(&line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use failover_core::acts::Carried;
    use failover_core::{
        Accepted, AddressChange, Answer, HookEvent, HookKind, HookOutcome, Notification, Refusal,
        Request, Role, VipId,
    };
    use std::net::IpAddr;

    #[test]
    fn every_kind_reads_back_as_written_with_its_kind_under_event() {
        let address: IpAddr = "192.0.2.100".parse().unwrap();
        let vip = VipId(0);
        let acts = [
            Act::Start { epoch: 7 },
            Act::LeftoverRemoved { vip, address },
            Act::Role {
                from: Role::Backup,
                to: Role::Acquiring,
            },
            Act::Address {
                vip,
                address,
                change: AddressChange::Remove,
                ok: false,
                error: Some("refused".into()),
            },
            Act::Announce { vip, address },
            Act::HookStarted {
                vip,
                hook: HookKind::PreAcq,
                hook_event: HookEvent::Acquire,
            },
            Act::HookEnded {
                vip,
                hook: HookKind::PreAcq,
                outcome: HookOutcome::Failed(Some(1)),
            },
            Act::Notified {
                notification: Notification::Released { to: None },
            },
            Act::Answered {
                answer: Answer {
                    id: 3,
                    request: Request::Switchover {
                        to: Some("bravo".into()),
                    },
                    outcome: Ok(Accepted::Switchover { to: "bravo".into() }),
                },
            },
            Act::Answered {
                answer: Answer {
                    id: 4,
                    request: Request::Standby,
                    outcome: Err(Refusal::NoEligibleNode { waited_ms: 300 }),
                },
            },
            Act::Standby { on: true },
            Act::Reloaded { refused: None },
            Act::Reloaded {
                refused: Some("vip".into()),
            },
            Act::Reannounced {
                carried: Ok(Carried {
                    priority: 50,
                    group: 7,
                }),
            },
            Act::Reannounced {
                carried: Err("bad tag".into()),
            },
            Act::Stop,
        ];
        let kinds = [
            "start",
            "leftover_removed",
            "role",
            "address",
            "announce",
            "hook_started",
            "hook_ended",
            "notified",
            "answered",
            "answered",
            "standby",
            "reloaded",
            "reloaded",
            "reannounced",
            "reannounced",
            "stop",
        ];
        for (act, kind) in acts.into_iter().zip(kinds) {
            let record = Record {
                t_ns: 1,
                node: "alpha".into(),
                act,
            };
            let line = serde_json::to_string(&record).unwrap();
            let value: serde_json::Value = serde_json::from_str(&line).unwrap();
            assert_eq!(value["event"], kind, "{line}");
            assert_eq!(serde_json::from_str::<Record>(&line).unwrap(), record);
        }
    }

    #[test]
    fn lines_are_appended_whole_and_a_closed_log_writes_nothing() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("events");
        std::fs::write(&path, "earlier run\n").unwrap();
        let log = EventLog::open(&path, "alpha").unwrap();
        let before = monotonic_ns().unwrap();
        log.clone().write(Act::Start { epoch: 3 });
        log.write(Act::Stop);
        EventLog::default().write(Act::Stop);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert_eq!(lines[0], "earlier run");
        let start: Record = serde_json::from_str(lines[1]).unwrap();
        let stop: Record = serde_json::from_str(lines[2]).unwrap();
        assert_eq!(
            (start.node.as_str(), start.act),
            ("alpha", Act::Start { epoch: 3 })
        );
        assert_eq!(stop.act, Act::Stop);
        assert!(before <= start.t_ns && start.t_ns <= stop.t_ns);
        assert!(stop.t_ns <= monotonic_ns().unwrap());
    }
}
