//! Judging another engine's run with our checkers.

use super::{Fault, Workload};
use crate::check::{self, Findings};
use crate::record::{Observation, Record};
use crate::scenario::Scenario;
use failover_core::Role;

/// What happened at one instant, for the checkers.
enum Step<'a> {
    FaultStarted(usize),
    FaultEnded(usize),
    Life(Fault),
    Act(&'a Observation),
}

/// Replays `workload`'s schedule and an engine's `acts` through every checker of the scenario
/// in time order, as our simulator would have shown them: nodes come up at zero; a crash
/// takes what the node held with it, a kill leaves it on the host until the node restarts
/// and removes it; a frozen host serves no one; a node that reports `Stopped` is down. At
/// equal times the schedule goes first: an engine sees a fault's effects after the fault.
pub fn judge(scenario: &Scenario, workload: &Workload, acts: &[Record]) -> Findings {
    let faults = scenario
        .resolve_faults(&scenario.name)
        .expect("a workload's scenario is valid");
    let nanos = |d: std::time::Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    let mut steps: Vec<(u64, u8, Step<'_>)> = Vec::new();
    for (id, f) in faults.iter().enumerate() {
        steps.push((nanos(f.at), 0, Step::FaultStarted(id)));
        if let Some(end) = f.end() {
            steps.push((nanos(end), 0, Step::FaultEnded(id)));
        }
    }
    for s in &workload.schedule {
        steps.push((nanos(s.at), 1, Step::Life(s.fault)));
    }
    steps.extend(acts.iter().map(|(at, what)| (*at, 2, Step::Act(what))));
    steps.sort_by_key(|(at, rank, _)| (*at, *rank)); // stable: acts stay in engine order

    let n = scenario.nodes.len();
    let mut record: Vec<Record> = (0..n).map(|node| (0, Observation::Up { node })).collect();
    let mut up = vec![true; n];
    let mut host_up = vec![true; n];
    let mut held = vec![vec![false; scenario.vips.len()]; n];
    for (at, _, step) in steps {
        let mut observe = |obs| record.push((at, obs));
        match step {
            Step::FaultStarted(fault) => observe(Observation::FaultStarted { fault }),
            Step::FaultEnded(fault) => observe(Observation::FaultEnded { fault }),
            Step::Life(Fault::Crash(node)) if up[node] => {
                up[node] = false;
                host_up[node] = false;
                observe(Observation::HostDown { node });
                for vip in 0..held[node].len() {
                    if std::mem::take(&mut held[node][vip]) {
                        observe(Observation::Released { node, vip });
                    }
                }
                observe(Observation::Down { node });
            }
            Step::Life(Fault::Kill(node)) if up[node] => {
                up[node] = false;
                observe(Observation::Down { node });
            }
            Step::Life(Fault::Restart(node)) if !up[node] => {
                up[node] = true;
                if !std::mem::replace(&mut host_up[node], true) {
                    observe(Observation::HostUp { node });
                }
                for vip in 0..held[node].len() {
                    if std::mem::take(&mut held[node][vip]) {
                        observe(Observation::Released { node, vip });
                    }
                }
                observe(Observation::Up { node });
            }
            Step::Life(Fault::Pause(node)) => observe(Observation::Paused { node }),
            Step::Life(Fault::Resume(node)) => observe(Observation::Resumed { node }),
            Step::Life(Fault::Freeze(node)) => observe(Observation::HostDown { node }),
            Step::Life(Fault::Thaw(node)) => observe(Observation::HostUp { node }),
            Step::Life(_) => {}
            Step::Act(act) => {
                match *act {
                    Observation::Acquired { node, vip } => held[node][vip] = true,
                    Observation::Released { node, vip } => held[node][vip] = false,
                    _ => {}
                }
                observe(act.clone());
                if let Observation::RoleChanged {
                    node,
                    to: Role::Stopped,
                    ..
                } = *act
                {
                    up[node] = false;
                    observe(Observation::Down { node });
                }
            }
        }
    }
    // (turmoil's and madsim's drivers record every fresh delivery; their hooks and kernels
    // never fail, so there is no failure to leave unrecorded)
    check::judge(scenario, &faults, &record, nanos(scenario.duration), true)
}
