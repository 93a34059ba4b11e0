//! Reloads (an operator's edit of a node's file and SIGHUP, the `reload` fault): what each
//! node's configuration file says over the run, worked out here from the scenario alone, and
//! a checker that every reload was taken or refused as the daemon must.
//!
//! The other checkers judge by the settings in force at each time ([`Context::settings_at`]):
//! the best node to own, preemption, `dead_after` and the interval. This one holds the node to
//! each reload: one taken must be announced — the first datagram the node sends after it
//! carries the new priority — and one that changes what needs a restart (an address, a quorum
//! setting) or that core's `Config::validate` refuses must be refused, naming that field,
//! with the node announcing the priority it had. Whether a reload is refused is decided here
//! by the rule [`failover_core::Node::reconfigure`] documents, written again, not by calling
//! it: a reload wrongly taken or wrongly refused breaks the `reload` invariant.

use super::{Checker, Context, Findings, Observation};
use crate::fault::{Fault, FaultKind};
use crate::record::Carried;
use crate::scenario::Scenario;
use failover_core::{Accepted, Config, ConfigError, Role};
use std::rc::Rc;
use std::time::Duration;

/// What of a node's configuration the checkers judge by.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// `node.priority` (0 for a witness, which never owns).
    pub priority: u8,
    /// `protocol.preempt`.
    pub preempt: bool,
    /// `protocol.interval`.
    pub interval: Duration,
    /// The effective `protocol.dead_after`.
    pub dead_after: Duration,
    /// `protocol.group`.
    pub group: u16,
    /// How often an owner announces its addresses again (`None`: never).
    pub announce_every: Option<Duration>,
}

impl Settings {
    fn of(config: &Config) -> Settings {
        Settings {
            priority: if config.node.witness {
                0
            } else {
                config.node.priority
            },
            preempt: config.protocol.preempt,
            interval: config.protocol.interval,
            dead_after: config.dead_after(),
            group: config.protocol.group,
            announce_every: config.announce_every(),
        }
    }
}

/// What a reload must come to.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// The field the daemon must refuse, if any.
    pub refused: Option<String>,
    /// The settings in force after it: the file's new ones, or on a refusal those it kept.
    pub settings: Settings,
}

/// The file each node runs with over the run, and what each reload must come to.
pub(super) struct Files {
    /// Per node, the settings its file gives it from each time on (nanoseconds; the first
    /// from 0).
    pub settings: Vec<Vec<(u64, Settings)>>,
    /// Per resolved fault, a reload's outcome when it begins and, if it has a duration, when
    /// it ends (the fields put back).
    pub reloads: Vec<Option<(Outcome, Option<Outcome>)>>,
    /// How many reloads taken change a priority or preemption: each may move the addresses
    /// once, by an ordered hand-over, on a healthy network.
    pub moves: u32,
}

impl Files {
    /// Every node's file from the scenario's own configuration, edited by each reload in the
    /// order the run applies them (at one instant: in the order of the faults, a fault's
    /// start before its end); a refused edit leaves the file as it was.
    pub fn new(scenario: &Scenario, faults: &[Fault]) -> Files {
        let n = scenario.nodes.len();
        let mut files: Vec<Config> = (0..n).map(|i| scenario.sim_config(i)).collect();
        let mut settings: Vec<Vec<(u64, Settings)>> =
            (files.iter()).map(|c| vec![(0, Settings::of(c))]).collect();
        let mut reloads = vec![None; faults.len()];
        let mut edits: Vec<(u64, usize, bool)> = Vec::new();
        for (k, f) in faults.iter().enumerate() {
            if let FaultKind::Reload { .. } = f.kind {
                edits.push((f.at.as_nanos() as u64, k, false));
                if let Some(end) = f.end() {
                    edits.push((end.as_nanos() as u64, k, true));
                }
            }
        }
        edits.sort_by_key(|&(at, k, end)| (at, 2 * k + usize::from(end)));
        let mut before: Vec<Option<Config>> = vec![None; faults.len()];
        let mut moves = 0;
        for (at, k, end) in edits {
            let FaultKind::Reload { node, change } = &faults[k].kind else {
                unreachable!("only reloads are listed")
            };
            let old = &files[*node];
            let new = match (end, &before[k]) {
                (false, _) => change.apply(old),
                (true, Some(b)) => change.revert(b, old),
                (true, None) => unreachable!("a reload ends after it began"),
            };
            if !end {
                before[k] = Some(old.clone());
            }
            let refused = refusal(old, &new);
            let was = Settings::of(old);
            let outcome = Outcome {
                settings: if refused.is_none() {
                    Settings::of(&new)
                } else {
                    was.clone()
                },
                refused,
            };
            if outcome.refused.is_none() {
                let s = &outcome.settings;
                moves += u32::from((s.priority, s.preempt) != (was.priority, was.preempt));
                files[*node] = new;
                settings[*node].push((at, Settings::of(&files[*node])));
            }
            let slot: &mut (Outcome, Option<Outcome>) =
                reloads[k].get_or_insert_with(|| (outcome.clone(), None));
            if end {
                slot.1 = Some(outcome);
            }
        }
        Files {
            settings,
            reloads,
            moves,
        }
    }
}

/// The field a running daemon must refuse in `new` (its file edited from `old`), if any: what
/// `Config::validate` refuses, then what needs a restart — the node's name, the paths, the
/// addresses, the quorum settings (mode, voters, the lease in force, drift bound) and being a
/// witness.
fn refusal(old: &Config, new: &Config) -> Option<String> {
    if let Err(e) = new.validate() {
        return Some(match e {
            ConfigError::Invalid { field, .. } => field,
            ConfigError::Parse { .. } => "the file".into(),
        });
    }
    let (p, q) = (&new.protocol, &old.protocol);
    let quorum = |p: &failover_core::config::ProtocolSettings| {
        let lease = (p.mode == failover_core::config::Mode::Quorum).then(|| p.lease());
        (p.mode, p.voters.clone(), lease, p.max_clock_drift_ppm)
    };
    let path =
        (0..new.paths.len().min(old.paths.len())).find(|&i| new.paths[i].name != old.paths[i].name);
    let vip = (0..new.vips.len().min(old.vips.len())).find(|&i| new.vips[i] != old.vips[i]);
    Some(if new.node.name != old.node.name {
        "node.name".into()
    } else if new.paths.len() != old.paths.len() {
        "path".into()
    } else if let Some(i) = path {
        format!("path[{i}].name")
    } else if new.vips.len() != old.vips.len() {
        "vip".into()
    } else if quorum(p) != quorum(q) || new.node.witness != old.node.witness {
        "protocol.mode".into()
    } else if let Some(i) = vip {
        format!("vip[{i}]")
    } else {
        return None;
    })
}

/// Holds each node to every reload that reached its daemon ([`Observation::Reloaded`]).
pub struct Reload {
    ctx: Rc<Context>,
    /// Per node, in standby (it announces priority 0).
    standby: Vec<bool>,
    /// Per node, whether it ever began a takeover: one that ended refused lowers the
    /// priority it announces to 1 while it backs off.
    demoted: Vec<bool>,
    /// Priorities announced after a reload, judged once the instant they were sent at is
    /// over: the datagram may come before or after an operator's request handled in the same
    /// wake-up (the daemon reads its backlog at once after a stall), so the node's standby
    /// before it or after it may be the one in force — (when, node, got, the file's priority,
    /// in standby before, what the message names).
    announced: Vec<(u64, usize, u8, u8, bool, String)>,
    wrong: Vec<String>,
}

impl Reload {
    pub(super) fn new(ctx: &Rc<Context>) -> Reload {
        let n = ctx.nodes.len();
        Reload {
            ctx: ctx.clone(),
            standby: vec![false; n],
            demoted: vec![false; n],
            announced: Vec::new(),
            wrong: Vec::new(),
        }
    }

    fn reloaded(
        &mut self,
        at: u64,
        node: usize,
        (fault, ends): (usize, bool),
        refused: &Option<String>,
        announced: &Option<Result<Carried, String>>,
    ) {
        let name = &self.ctx.nodes[node].0;
        let when = super::secs(at);
        let expected = match self.ctx.reloads.get(fault).cloned().flatten() {
            Some((first, _)) if !ends => first,
            Some((_, Some(then))) if ends => then,
            _ => {
                self.wrong.push(format!(
                    "{name} reloaded at {when} for fault {fault}, which has no such reload"
                ));
                return;
            }
        };
        match (&expected.refused, refused) {
            (None, Some(field)) => self.wrong.push(format!(
                "{name}'s reload at {when} (fault {fault}) was refused for `{field}`, though it changes nothing that needs a restart"
            )),
            (Some(field), None) => self.wrong.push(format!(
                "{name}'s reload at {when} (fault {fault}) was taken, though `{field}` needs a restart or is invalid"
            )),
            (Some(want), Some(got)) if want != got => self.wrong.push(format!(
                "{name}'s reload at {when} (fault {fault}) was refused for `{got}`, expected `{want}`"
            )),
            _ => {}
        }
        // What the node announces after it: the priority of the file it runs with now (the
        // new one, or the one kept on a refusal), 0 in standby, or 1 while a refused takeover
        // backs off.
        let announced = match announced {
            None => return,
            Some(Ok(announced)) => *announced,
            Some(Err(why)) => {
                self.wrong.push(format!(
                    "{name}'s first datagram after its reload at {when} (fault {fault}) does not decode under the key its file names: {why}"
                ));
                return;
            }
        };
        let file = &expected.settings;
        let what = format!("after its reload at {when} (fault {fault})");
        self.announced.push((
            at,
            node,
            announced.priority,
            file.priority,
            self.standby[node],
            what,
        ));
        if announced.group != file.group {
            self.wrong.push(format!(
                "{name} sent a datagram of group {} after its reload at {when} (fault {fault}), its file says group {}",
                announced.group, file.group
            ));
        }
    }
}

impl Reload {
    /// Judges the priorities announced before `now`.
    fn judge_announced(&mut self, now: u64) {
        let (due, later) = (std::mem::take(&mut self.announced).into_iter())
            .partition(|a: &(u64, usize, u8, u8, bool, String)| a.0 < now);
        self.announced = later;
        for (_, node, got, priority, before, what) in due {
            let want = |standby: bool| if standby { 0 } else { priority };
            let right = [want(before), want(self.standby[node])].contains(&got)
                || (self.demoted[node] && got == 1);
            if !right {
                let name = &self.ctx.nodes[node].0;
                let want = want(self.standby[node]);
                self.wrong.push(format!(
                    "{name} announced priority {got} {what}, expected {want}"
                ));
            }
        }
    }
}

impl Checker for Reload {
    fn observe(&mut self, at: u64, obs: &Observation) {
        if self.announced.first().is_some_and(|a| a.0 < at) {
            self.judge_announced(at);
        }
        match obs {
            Observation::Standby { node, on } => self.standby[*node] = *on,
            // As the request is answered, not once the wake-up that read it is over: a
            // standby and an `active` read in one backlog leave nothing changed on the disk,
            // but a datagram between them says standby.
            Observation::Answered { node, answer } => match answer.outcome {
                Ok(Accepted::Standby { .. }) => self.standby[*node] = true,
                Ok(Accepted::Active { .. }) => self.standby[*node] = false,
                _ => {}
            },
            // (a takeover that ends refused — vetoed, failed, abandoned, short of a quorum —
            // demotes the node while it backs off)
            Observation::RoleChanged {
                node,
                to: Role::Acquiring,
                ..
            } => self.demoted[*node] = true,
            Observation::Reloaded {
                node,
                fault,
                ends,
                refused,
                announced,
            } => self.reloaded(at, *node, (*fault, *ends), refused, announced),
            _ => {}
        }
    }

    fn finish(&mut self, _at: u64, findings: &mut Findings) {
        self.judge_announced(u64::MAX);
        for wrong in self.wrong.drain(..) {
            findings.violate("reload", wrong);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::FaultSpec;

    const S: u64 = 1_000_000_000;

    /// Master (200) and backup (100); the master's file edited at 20 s (priority 50, for
    /// 10 s) and at 25 s (an address added: refused).
    fn scenario() -> (Scenario, Vec<Fault>) {
        let at = |s: u64| Duration::from_secs(s);
        let scenario = Scenario::builder("pair", at(60))
            .segment("public")
            .node("master", 200)
            .node("backup", 100)
            .vip("192.0.2.100")
            .fault(FaultSpec {
                at: at(20),
                duration: Some(at(10)),
                kind: "reload".into(),
                node: Some("master".into()),
                priority: Some(50),
                ..FaultSpec::default()
            })
            .fault(FaultSpec {
                at: at(25),
                kind: "reload".into(),
                node: Some("master".into()),
                add_vip: Some("192.0.2.101".parse().unwrap()),
                ..FaultSpec::default()
            })
            .build()
            .unwrap();
        let faults = scenario.resolve_faults("pair").unwrap();
        (scenario, faults)
    }

    #[test]
    fn the_files_follow_every_reload_taken_and_none_refused() {
        let (scenario, faults) = scenario();
        let ctx = Context::new(&scenario, &faults);
        let priority = |at: u64| ctx.settings_at(0, at).priority;
        assert_eq!(
            (
                priority(0),
                priority(20 * S),
                priority(29 * S),
                priority(30 * S)
            ),
            (200, 50, 50, 200)
        );
        assert_eq!(ctx.settings_at(1, 25 * S).priority, 100);
        let (taken, put_back) = ctx.reloads[0].clone().unwrap();
        let put_back = put_back.unwrap();
        assert_eq!((taken.refused, taken.settings.priority), (None, 50));
        assert_eq!((put_back.refused, put_back.settings.priority), (None, 200));
        let (refused, none) = ctx.reloads[1].clone().unwrap();
        assert_eq!(none, None);
        assert_eq!(refused.refused.as_deref(), Some("vip"));
        assert_eq!(refused.settings.priority, 50, "the priority in force kept");
        // The best node follows: the backup while the master's file says 50.
        assert_eq!(ctx.best(0..2, 21 * S), Some(1));
        assert_eq!(ctx.best(0..2, 31 * S), Some(0));
        // Two moves allowed on a healthy network: the lowered priority and its end.
        assert_eq!(ctx.planned_moves, 2);
    }

    fn judge(record: &[(u64, Observation)]) -> Vec<String> {
        let (scenario, faults) = scenario();
        crate::check::violations(
            Reload::new(&Rc::new(Context::new(&scenario, &faults))),
            record,
        )
    }

    fn reloaded(fault: usize, refused: Option<&str>, announced: Result<u8, &str>) -> Observation {
        Observation::Reloaded {
            node: 0,
            fault,
            ends: false,
            refused: refused.map(Into::into),
            announced: Some(
                announced
                    .map(|priority| Carried { priority, group: 1 })
                    .map_err(Into::into),
            ),
        }
    }

    fn ends(mut obs: Observation) -> Observation {
        if let Observation::Reloaded { ends, .. } = &mut obs {
            *ends = true;
        }
        obs
    }

    #[test]
    fn reloads_taken_and_refused_as_the_daemon_must_pass() {
        let record = [
            (20 * S, reloaded(0, None, Ok(50))),
            (25 * S, reloaded(1, Some("vip"), Ok(50))),
            (30 * S, ends(reloaded(0, None, Ok(200)))),
        ];
        assert_eq!(judge(&record), Vec::<String>::new());
    }

    #[test]
    fn a_reload_wrongly_refused_or_taken_or_not_announced_is_a_violation() {
        let wrong = judge(&[
            (20 * S, reloaded(0, Some("protocol.mode"), Ok(200))),
            (25 * S, reloaded(1, None, Ok(50))),
            (30 * S, ends(reloaded(0, None, Err("bad tag")))),
        ]);
        assert_eq!(wrong.len(), 4, "{wrong:?}");
        assert!(
            wrong[0].contains("refused for `protocol.mode`, though"),
            "{wrong:?}"
        );
        assert!(wrong[1].contains("announced priority 200") && wrong[1].contains("expected 50"));
        assert!(wrong[2].contains("was taken, though `vip`"), "{wrong:?}");
        assert!(
            wrong[3].contains("does not decode under the key"),
            "{wrong:?}"
        );
    }

    #[test]
    fn a_node_in_standby_announces_zero_and_one_backing_off_one() {
        let standby = Observation::Standby { node: 0, on: true };
        let record = [(10 * S, standby), (20 * S, reloaded(0, None, Ok(0)))];
        assert_eq!(judge(&record), Vec::<String>::new());
        let takeover = Observation::RoleChanged {
            node: 0,
            from: Role::Backup,
            to: Role::Acquiring,
        };
        let record = [(10 * S, takeover), (20 * S, reloaded(0, None, Ok(1)))];
        assert_eq!(judge(&record), Vec::<String>::new());
        assert_eq!(judge(&[(20 * S, reloaded(0, None, Ok(1)))]).len(), 1);
    }

    #[test]
    fn a_standby_left_in_the_same_wake_up_as_a_reload_may_come_first() {
        // Stopped in standby, the daemon reads a SIGHUP and `failoverctl active` at once when
        // it runs again: its first datagram already has its new file's priority.
        let on = Observation::Standby { node: 0, on: true };
        let off = Observation::Standby { node: 0, on: false };
        let record = [
            (10 * S, on.clone()),
            (20 * S, reloaded(0, None, Ok(50))),
            (20 * S, off),
        ];
        assert_eq!(judge(&record), Vec::<String>::new());
        // Still in standby once that instant is over: 50 was wrong.
        let wrong = judge(&[(10 * S, on), (20 * S, reloaded(0, None, Ok(50)))]);
        assert!(
            wrong.len() == 1 && wrong[0].contains("expected 0"),
            "{wrong:?}"
        );
    }
}
