//! A hand-over in progress: the ordered hooks and address changes of one takeover or release.
//!
//! The source system runs `Test`, then `PreAcq*`, the address change, then `PostAcq*` (and the
//! `Rel` counterparts), each to completion before the next. A [`Transition`] is that script as
//! data: a queue of steps, at most one hook outstanding, and what the hooks decided.

use crate::io::{HookEvent, HookKind, HookOutcome, VipId};
use crate::time::Instant;
use std::collections::VecDeque;

/// One step of a hand-over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    Hook(HookKind, VipId),
    Acquire(VipId),
    Release(VipId),
}

/// Why a release happens; decides whether `Test` is asked and what follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReleaseCause {
    /// A higher-priority node is back (preemption): `Test` may veto, as in the source.
    HandBack,
    /// Another, higher-ranked node also holds the addresses: yield without asking, because
    /// keeping both is the one outcome that is never right.
    Yield,
    /// Planned shutdown: release, then say goodbye.
    Shutdown,
}

/// A hook that has been requested and not yet answered.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pending {
    pub id: crate::io::HookId,
    pub kind: HookKind,
    pub vip: VipId,
    pub deadline: Instant,
}

/// A takeover or release in progress.
#[derive(Debug)]
pub(crate) struct Transition {
    pub event: HookEvent,
    pub cause: Option<ReleaseCause>,
    /// The peer the addresses come from or go to, for hooks and notifications.
    pub peer: Option<String>,
    pub steps: VecDeque<Step>,
    pub pending: Option<Pending>,
    pub acquired: Vec<VipId>,
    pub vetoed: Vec<VipId>,
    /// `Test` refused a release: stop before any address is touched.
    pub aborted: bool,
    /// The same hand-over again after a veto, nothing having changed: a second refusal by
    /// `Test` is not news.
    pub repeat: bool,
}

impl Transition {
    /// Takeover of every address: all `Test`s first, then per address `PreAcq`, acquire, `PostAcq`.
    pub fn acquire(vips: usize, peer: Option<String>) -> Transition {
        let ids = (0..vips).map(VipId);
        let mut steps: VecDeque<Step> =
            ids.clone().map(|v| Step::Hook(HookKind::Test, v)).collect();
        for v in ids {
            steps.extend([
                Step::Hook(HookKind::PreAcq, v),
                Step::Acquire(v),
                Step::Hook(HookKind::PostAcq, v),
            ]);
        }
        Transition::new(HookEvent::Acquire, None, peer, steps)
    }

    /// Release of the addresses in `held`; `Test` is asked first only on a hand-back.
    pub fn release(held: &[VipId], cause: ReleaseCause, peer: Option<String>) -> Transition {
        let mut steps = VecDeque::new();
        if cause == ReleaseCause::HandBack {
            steps.extend(held.iter().map(|&v| Step::Hook(HookKind::Test, v)));
        }
        for &v in held {
            steps.extend([
                Step::Hook(HookKind::PreRel, v),
                Step::Release(v),
                Step::Hook(HookKind::PostRel, v),
            ]);
        }
        Transition::new(HookEvent::Release, Some(cause), peer, steps)
    }

    fn new(
        event: HookEvent,
        cause: Option<ReleaseCause>,
        peer: Option<String>,
        steps: VecDeque<Step>,
    ) -> Transition {
        Transition {
            event,
            cause,
            peer,
            steps,
            pending: None,
            acquired: Vec::new(),
            vetoed: Vec::new(),
            aborted: false,
            repeat: false,
        }
    }

    /// Applies a hook's outcome. A refusing `Test` drops that address's takeover steps, or the
    /// whole release; any other failure is only reported, and the hand-over goes on.
    pub fn hook_done(&mut self, kind: HookKind, vip: VipId, outcome: HookOutcome) {
        if kind != HookKind::Test || outcome.is_success() {
            return;
        }
        match self.event {
            HookEvent::Acquire => {
                self.vetoed.push(vip);
                self.steps.retain(|step| match *step {
                    Step::Hook(_, v) | Step::Acquire(v) | Step::Release(v) => v != vip,
                });
            }
            HookEvent::Release => {
                self.aborted = true;
                self.steps.clear();
            }
        }
    }
}
