//! What a guided sweep learns from a run: the points of the protocol its nodes reached (core's
//! [`Coverage`]), and which kind of fault was in force at each step the nodes took — a role
//! change, an address added or removed, a notification — on the node that took it or
//! elsewhere.
//!
//! The second half is what makes a fault schedule *near* a bug. A `Test` hook that refuses a
//! takeover is rare, and so is a takeover while a `PreAcq` hook fails: but the second is one
//! parameter away from the first. Each point alone says nothing of that; "a takeover began
//! under a hook fault on its own node" does, and keeps such a schedule for mutation.

use crate::fault::{Fault, FaultKind, HookBehavior};
use crate::record::{Observation, Record};
use failover_core::coverage::{Point, POINTS};
use failover_core::{AddressChange, Coverage, HookKind};

/// Kinds of fault told apart, for [`fault_class`].
const FAULT_CLASSES: usize = 26;
/// Steps told apart: every point of the protocol, an address added and one removed.
const STEPS: usize = POINTS + 2;
/// How many features there are: the points, then (step, fault class, on the node or not).
pub const FEATURES: usize = POINTS + STEPS * FAULT_CLASSES * 2;

/// The features one run reached, each once, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Feedback(Vec<u32>);

impl Feedback {
    /// What a run with this `coverage` whose nodes did `acts` under `faults` reached.
    pub fn of(coverage: &Coverage, acts: &[Record], faults: &[Fault]) -> Feedback {
        let mut features: Vec<u32> = coverage.reached().map(|p| p.index() as u32).collect();
        for (t, obs) in acts {
            let Some((step, node)) = step(obs) else {
                continue;
            };
            for f in faults.iter().filter(|f| in_force(f, *t)) {
                let here = f.kind.node() == Some(node);
                let feature = POINTS + (step * FAULT_CLASSES + fault_class(&f.kind)) * 2;
                features.push((feature + usize::from(here)) as u32);
            }
        }
        features.sort_unstable();
        features.dedup();
        Feedback(features)
    }

    /// The features, in order.
    pub fn features(&self) -> &[u32] {
        &self.0
    }
}

/// Whether `f` is in force at `t` (nanoseconds).
fn in_force(f: &Fault, t: u64) -> bool {
    let nanos = |d: std::time::Duration| d.as_nanos() as u64;
    nanos(f.at) <= t && f.end().is_none_or(|end| t < nanos(end))
}

/// The step an act is, and the node that took it.
fn step(obs: &Observation) -> Option<(usize, usize)> {
    Some(match obs {
        Observation::RoleChanged { node, from, to } => {
            (Point::transition(*from, *to)?.index(), *node)
        }
        Observation::Notified { node, notification } => {
            (Point::notified(notification).index(), *node)
        }
        Observation::Acquired { node, .. } => (POINTS, *node),
        Observation::Released { node, .. } => (POINTS + 1, *node),
        _ => return None,
    })
}

/// A fault's kind, as far as the protocol can tell kinds apart.
fn fault_class(kind: &FaultKind) -> usize {
    let hook = |h: HookKind| match h {
        HookKind::Test => 0,
        HookKind::PreAcq => 1,
        HookKind::PostAcq => 2,
        HookKind::PreRel => 3,
        HookKind::PostRel => 4,
    };
    match kind {
        FaultKind::Partition { oneway: false, .. } => 0,
        FaultKind::Partition { oneway: true, .. } => 1,
        FaultKind::LinkDown { .. } => 2,
        FaultKind::Crash { .. } => 3,
        FaultKind::Kill { .. } => 4,
        FaultKind::Pause { .. } => 5,
        FaultKind::Freeze { .. } => 6,
        FaultKind::Clock { .. } => 7,
        FaultKind::Hook {
            hook: h,
            behavior: HookBehavior::Slow(_),
            ..
        } => 8 + hook(*h),
        FaultKind::Hook { hook: h, .. } => 13 + hook(*h),
        FaultKind::Address {
            change: AddressChange::Add,
            ..
        } => 18,
        FaultKind::Address { .. } => 19,
        FaultKind::Shutdown { .. } => 20,
        FaultKind::Degrade { .. } => 21,
        FaultKind::Standby { .. } => 22,
        FaultKind::Switchover { .. } => 23,
        FaultKind::Tamper { .. } => 24,
        FaultKind::Reload { .. } => 25,
    }
}
