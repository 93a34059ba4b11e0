//! Judging another engine's run with our checkers.

use super::{Act, Did, Fault, Workload};
use crate::check::{self, Context, Findings, Observation};
use crate::scenario::Scenario;
use failover_core::Role;

/// What happened at one instant, for the checkers.
enum Step<'a> {
    FaultStarted(usize),
    FaultEnded(usize),
    Life(Fault),
    Act(&'a Act),
}

/// Replays `workload`'s schedule and an engine's `acts` through every checker of the scenario
/// in time order, as our simulator would have shown them: nodes come up at zero; a crash
/// takes what the node held with it; a node that reports `Stopped` is down. At equal times
/// the schedule goes first: an engine sees a fault's effects after the fault.
pub fn judge(scenario: &Scenario, workload: &Workload, acts: &[Act]) -> Findings {
    let faults = scenario
        .resolve_faults(&scenario.name)
        .expect("a workload's scenario is valid");
    let nanos = |d: std::time::Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    let mut steps: Vec<(u64, u8, Step<'_>)> = Vec::new();
    for (id, f) in faults.iter().enumerate() {
        steps.push((nanos(f.at), 0, Step::FaultStarted(id)));
        if let Some(d) = f.duration {
            steps.push((nanos(f.at + d), 0, Step::FaultEnded(id)));
        }
    }
    for s in &workload.schedule {
        steps.push((nanos(s.at), 1, Step::Life(s.fault)));
    }
    steps.extend(acts.iter().map(|a| (a.at, 2, Step::Act(a))));
    steps.sort_by_key(|(at, rank, _)| (*at, *rank)); // stable: acts stay in engine order

    let ctx = Context::new(scenario, &faults);
    let mut checkers = check::all(&ctx);
    let mut observe = |at: u64, obs: Observation<'_>| {
        for c in checkers.iter_mut() {
            c.observe(at, &obs);
        }
    };
    let n = scenario.nodes.len();
    let mut up = vec![true; n];
    let mut held = vec![vec![false; scenario.vips.len()]; n];
    for node in 0..n {
        observe(0, Observation::Up { node });
    }
    for (at, _, step) in steps {
        match step {
            Step::FaultStarted(fault) => observe(at, Observation::FaultStarted { fault }),
            Step::FaultEnded(fault) => observe(at, Observation::FaultEnded { fault }),
            Step::Life(Fault::Crash(node)) if up[node] => {
                up[node] = false;
                for vip in 0..held[node].len() {
                    if std::mem::take(&mut held[node][vip]) {
                        observe(at, Observation::Released { node, vip });
                    }
                }
                observe(at, Observation::Down { node });
            }
            Step::Life(Fault::Restart(node)) if !up[node] => {
                up[node] = true;
                observe(at, Observation::Up { node });
            }
            Step::Life(_) => {}
            Step::Act(act) => {
                let node = act.node;
                match &act.what {
                    Did::Acquired { vip } => {
                        held[node][*vip] = true;
                        observe(at, Observation::Acquired { node, vip: *vip });
                    }
                    Did::Released { vip } => {
                        held[node][*vip] = false;
                        observe(at, Observation::Released { node, vip: *vip });
                    }
                    Did::Notified(notification) => {
                        observe(at, Observation::Notified { node, notification });
                    }
                    &Did::Role { from, to } => {
                        observe(at, Observation::RoleChanged { node, from, to });
                        if to == Role::Stopped {
                            up[node] = false;
                            observe(at, Observation::Down { node });
                        }
                    }
                }
            }
        }
    }
    let mut findings = Findings::default();
    let end = nanos(scenario.duration);
    for c in checkers.iter_mut() {
        c.finish(end, &mut findings);
    }
    findings
}
