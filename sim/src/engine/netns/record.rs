//! Turning a real run into the checkers' record: what the daemons wrote (`failoverd
//! --events`), what the client saw, and what the engine did to the hosts, put on one time line
//! (CLOCK_MONOTONIC, from the run's start) as [`Observation`]s.

use super::monitor::Change;
use super::probe::Probe;
use crate::record::{Carried, Observation, Record};
use failover_core::acts::{self, Act};
use failover_core::{AddressChange, Role};
use std::net::IpAddr;
use std::path::Path;

/// One daemon's act log as it is now (none yet: empty).
pub(super) fn read_acts(path: &Path) -> Result<Vec<acts::Record>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    (text.lines().enumerate())
        .map(|(n, line)| {
            serde_json::from_str(line).map_err(|e| format!("{}:{}: {e}", path.display(), n + 1))
        })
        .collect()
}

/// A SIGHUP as the daemon answered it: when (the datagram re-announcing the node, or the
/// reload itself if none followed), the field it refused, and what that datagram carried.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Answer {
    pub at: u64,
    pub refused: Option<String>,
    pub announced: Option<Result<Carried, String>>,
}

/// What one daemon's act log says, on the run's time line.
#[derive(Debug, Default)]
pub(super) struct DaemonRecord {
    /// Everything the checkers see.
    pub seen: Vec<Record>,
    /// What it did by the protocol, as the record engines are compared on.
    pub acts: Vec<Record>,
    /// Its answers to SIGHUP, in order.
    pub answers: Vec<Answer>,
}

/// One daemon's act log, at times since `t0`. Without `addresses` its address changes are
/// left out (the kernel's own record of them is used instead: [`monitored`]).
pub(super) fn daemon_acts(
    path: &Path,
    node: usize,
    t0: u64,
    addresses: bool,
) -> Result<DaemonRecord, String> {
    let DaemonRecord {
        mut seen,
        mut acts,
        mut answers,
    } = DaemonRecord::default();
    for rec in read_acts(path)? {
        let at = rec.t_ns.saturating_sub(t0);
        if !addresses && matches!(rec.act, Act::Address { .. } | Act::LeftoverRemoved { .. }) {
            continue;
        }
        let obs = match rec.act.clone() {
            Act::Start { .. } => Observation::Up { node },
            Act::LeftoverRemoved { vip, .. } => Observation::Released { node, vip: vip.0 },
            Act::Role { from, to } => Observation::RoleChanged { node, from, to },
            Act::Address {
                vip,
                change,
                ok: true,
                ..
            } => match change {
                AddressChange::Add => Observation::Acquired { node, vip: vip.0 },
                AddressChange::Remove => Observation::Released { node, vip: vip.0 },
            },
            Act::Notified { notification } => Observation::Notified { node, notification },
            Act::Answered { answer } => Observation::Answered { node, answer },
            Act::Standby { on } => Observation::Standby { node, on },
            Act::Reloaded { refused } => {
                answers.push(Answer {
                    at,
                    refused,
                    announced: None,
                });
                continue;
            }
            Act::Reannounced { carried } => {
                // (the last reload handled decides what the node sends)
                if let Some(last) = answers.last_mut().filter(|a| a.announced.is_none()) {
                    (last.at, last.announced) = (at, Some(carried));
                }
                continue;
            }
            Act::Announce { vip, .. } => Observation::Announced { node, vip: vip.0 },
            Act::Address { ok: false, .. }
            | Act::HookStarted { .. }
            | Act::HookEnded { .. }
            | Act::Stop => continue,
        };
        // What the daemon did by the protocol: not its start, nor the clean-up before it, nor
        // its answers to the operator (which the simulator does not count among acts either).
        let done = !matches!(
            rec.act,
            Act::Start { .. }
                | Act::LeftoverRemoved { .. }
                | Act::Answered { .. }
                | Act::Standby { .. }
        );
        if done {
            acts.push((at, obs.clone()));
        }
        let stopped = matches!(
            obs,
            Observation::RoleChanged {
                to: Role::Stopped,
                ..
            }
        );
        seen.push((at, obs));
        if stopped {
            seen.push((at, Observation::Down { node }));
        }
    }
    Ok(DaemonRecord {
        seen,
        acts,
        answers,
    })
}

/// The kernel's address changes on node `node` as observations since `t0`: an address counts
/// as acquired when it appears and released when it goes (a lifetime renewed is neither).
pub(super) fn monitored(changes: &[Change], vips: &[IpAddr], node: usize, t0: u64) -> Vec<Record> {
    let mut present = vec![false; vips.len()];
    let mut out = Vec::new();
    for &(at, address, added) in changes {
        let Some(vip) = vips.iter().position(|v| *v == address) else {
            continue;
        };
        if std::mem::replace(&mut present[vip], added) != added {
            let at = at.saturating_sub(t0);
            out.push((
                at,
                match added {
                    true => Observation::Acquired { node, vip },
                    false => Observation::Released { node, vip },
                },
            ));
        }
    }
    out
}

/// Removes from `changes` (the kernel's record of node `node`) the removals the engine made
/// itself and noted in `notes` (a crash flushes the host's addresses): for each noted release,
/// the first removal of that address the kernel reported after it.
pub(super) fn drop_echoes(changes: &mut Vec<Record>, notes: &[Record], node: usize) {
    for (noted, what) in notes {
        let Observation::Released { node: n, vip } = *what else {
            continue;
        };
        let echo = changes.iter().position(|(at, c)| {
            *at >= *noted
                && matches!(*c, Observation::Released { node: m, vip: v } if m == n && v == vip)
        });
        if let (true, Some(echo)) = (n == node, echo) {
            changes.remove(echo);
        }
    }
}

/// The client's requests as the simulator reports them, since `t0`: runs of answered and
/// unanswered ones, each run also cut at every time in `cuts` (the run's other observations,
/// in order), so that — as in the simulator, which reports the requests so far before each
/// observation — a run is judged under the state it happened in. A request's outcome stands
/// until the next request, or until that one was due (`interval` after it) if it came later:
/// the prober is a thread on a shared machine and sometimes late, and its lateness says
/// nothing of the address (a request that fails while a new owner's announcement is on its
/// way would otherwise count the prober's delay as the protocol's). A piece of a run with no
/// request in it is not reported (its time goes to the next report, as in the simulator).
pub(super) fn requests(
    probes: &[Probe],
    vips: usize,
    t0: u64,
    cuts: &[u64],
    interval: u64,
) -> Vec<Record> {
    let mut out = Vec::new();
    for vip in 0..vips {
        let mine: Vec<(u64, bool)> = (probes.iter())
            .filter(|p| p.vip == vip)
            .map(|p| (p.at.saturating_sub(t0), p.answered_by.is_some()))
            .collect();
        let Some(&(last, _)) = mine.last() else {
            continue;
        };
        let mut runs = Runs {
            vip,
            out: &mut out,
            run: None,
            cuts: cuts.iter().copied().peekable(),
        };
        let mut previous: Option<u64> = None;
        for &(at, ok) in &mine {
            if runs.run.is_none_or(|(was, ..)| was != ok) {
                // The run before ends here, or when this request was due if it came late.
                let end = previous.map_or(at, |p| (p + interval).min(at));
                runs.cut_until(end);
                runs.report(end);
                runs.run = Some((ok, 0, at));
            }
            runs.cut_until(at);
            if let Some((_, count, first)) = runs.run.as_mut() {
                if *count == 0 {
                    *first = at;
                }
                *count += 1;
            }
            previous = Some(at);
        }
        runs.report(last + 1);
    }
    out
}

/// One address's requests being counted into runs of one outcome.
struct Runs<'a, I: Iterator<Item = u64>> {
    vip: usize,
    out: &'a mut Vec<Record>,
    /// The run being counted: its outcome, how many requests so far and when the first of
    /// them was sent.
    run: Option<(bool, u64, u64)>,
    cuts: std::iter::Peekable<I>,
}

impl<I: Iterator<Item = u64>> Runs<'_, I> {
    /// Reports the run so far at `at`, if it holds a request.
    fn report(&mut self, at: u64) {
        if let Some((ok, count, first)) = self.run.take().filter(|&(_, count, _)| count > 0) {
            let vip = self.vip;
            let requests = Observation::Requests {
                vip,
                ok,
                count,
                first,
            };
            self.out.push((at, requests));
        }
    }

    /// Reports the run at each cut up to `at`, and goes on with its outcome.
    fn cut_until(&mut self, at: u64) {
        while let Some(c) = self.cuts.next_if(|&c| c <= at) {
            let outcome = self.run.map(|(ok, ..)| ok);
            self.report(c);
            self.run = outcome.map(|ok| (ok, 0, c));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Requests at these times after 100 (the runs' `t0`), answered or not.
    fn probes_after_100(outcomes: &[(u64, bool)]) -> Vec<Probe> {
        (outcomes.iter())
            .map(|&(at, ok)| Probe {
                at: 100 + at,
                vip: 0,
                answered_by: ok.then(|| "n".to_string()),
            })
            .collect()
    }

    fn requests_at(record: &[Record]) -> Vec<(u64, bool, u64)> {
        (record.iter())
            .map(|(at, obs)| match *obs {
                Observation::Requests { ok, count, .. } => (*at, ok, count),
                _ => unreachable!(),
            })
            .collect()
    }

    #[test]
    fn requests_are_reported_before_each_observation_and_at_each_change() {
        // ok at 0, 10, 20; failed at 30, 40; ok at 50, 60 — with observations at 35 and 45.
        let probes = probes_after_100(&[
            (0, true),
            (10, true),
            (20, true),
            (30, false),
            (40, false),
            (50, true),
            (60, true),
        ]);
        let record = requests(&probes, 1, 100, &[35, 45], 10);
        assert_eq!(
            requests_at(&record),
            vec![
                (30, true, 3),
                (35, false, 1),
                (45, false, 1),
                // (45 to 50 had no request: its time goes to the next report, as in the
                // simulator)
                (61, true, 2),
            ]
        );
    }

    #[test]
    fn a_late_request_ends_the_run_before_it_when_it_was_due() {
        // interval 10: failed at 0, the next request 7 late (ok at 17), then failed at 27
        // and 49 (late: the run stands, both failed), ok at 50.
        let probes =
            probes_after_100(&[(0, false), (17, true), (27, false), (49, false), (50, true)]);
        let record = requests(&probes, 1, 100, &[], 10);
        assert_eq!(
            requests_at(&record),
            vec![
                // (10 to 17: the prober's delay, given to the request that came)
                (10, false, 1),
                (27, true, 1),
                (50, false, 2),
                (51, true, 1),
            ]
        );
        // A cut inside the late stretch reports up to it first, under the old outcome.
        let record = requests(&probes[..2], 1, 100, &[5, 12], 10);
        assert_eq!(requests_at(&record), vec![(5, false, 1), (18, true, 1)]);
    }

    #[test]
    fn a_removal_the_engine_noted_is_dropped_once_and_the_kernels_own_kept() {
        let released = |vip| Observation::Released { node: 0, vip };
        let mut changes = vec![
            (5, Observation::Acquired { node: 0, vip: 0 }),
            (8, released(0)),
            (12, released(0)),
            (13, released(1)),
            (40, released(0)),
        ];
        let notes = vec![
            (10, released(0)),
            (11, Observation::Released { node: 1, vip: 1 }),
        ];
        drop_echoes(&mut changes, &notes, 0);
        assert_eq!(
            changes,
            vec![
                (5, Observation::Acquired { node: 0, vip: 0 }),
                (8, released(0)),
                (13, released(1)),
                (40, released(0)),
            ]
        );
    }
}
