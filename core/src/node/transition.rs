//! A hand-over in progress: the ordered hooks and address changes of one takeover or release.
//!
//! The source system runs `Test`, then `PreAcq*`, the address change, then `PostAcq*` (and the
//! `Rel` counterparts), each to completion before the next. A [`Transition`] is that script as
//! data: a queue of steps, at most one request (hook or address change) outstanding, and what
//! the answers decided. Because core never asks for a second thing before the first is
//! answered, a driver that runs requests one at a time in the order asked (the daemon's action
//! queue, the simulator's per-node queue) runs exactly what core believes is running.

use crate::io::{AddressChange, Event, HookEvent, HookKind, HookOutcome, Output, RequestId, VipId};
use crate::time::Instant;
use std::collections::VecDeque;

/// One step of a hand-over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Quorum mode: wait for a lease granted by a majority before anything else (no hook runs
    /// for a takeover that has none: hooks start services, mount disks).
    Lease,
    Hook(HookKind, VipId),
    Address(AddressChange, VipId),
}

impl Step {
    fn vip(self) -> Option<VipId> {
        match self {
            Step::Lease => None,
            Step::Hook(_, v) | Step::Address(_, v) => Some(v),
        }
    }
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
    /// An operator's standby or switchover: release (no `Test`: the operator decided), then
    /// name the successor.
    Operator,
    /// A backup still has an address the kernel would not remove: try again, no hooks (they
    /// ran with the release that failed).
    Cleanup,
    /// Quorum mode: the lease ran out. Serving stops first — the addresses are removed, then
    /// `PostRel` runs; no `Test`, and no `PreRel` before the removal.
    LeaseLost,
}

/// A request that has been made and not yet answered.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pending {
    pub id: RequestId,
    pub step: Step,
    /// Past this, core stops waiting: a hook counts as timed out, an address change as failed.
    pub deadline: Instant,
}

/// A takeover or release in progress.
#[derive(Debug)]
pub(crate) struct Transition {
    pub event: HookEvent,
    /// The peer the addresses come from or go to, for hooks and notifications.
    pub peer: Option<String>,
    pub steps: VecDeque<Step>,
    pub pending: Option<Pending>,
    pub acquired: Vec<VipId>,
    pub vetoed: Vec<VipId>,
    /// Addresses the kernel would not add or remove.
    pub failed: Vec<VipId>,
    /// An address change has been asked for: past this point a takeover is no longer given
    /// up silently when the owner turns out to be alive.
    pub touched: bool,
    /// `Test` refused a release: stop before any address is touched.
    pub aborted: bool,
    /// The same hand-over again after a refusal, nothing having changed: a second refusal by
    /// `Test` (or the kernel) is not news.
    pub repeat: bool,
    /// Quorum mode: the takeover got its lease (and may touch hooks and addresses).
    pub leased: bool,
    /// Quorum mode: the takeover was given up for want of a lease, or lost it on the way —
    /// and the voters that granted it in time then, and too late (what the notice names:
    /// grants that come back while a slow hook still runs do not undo the loss).
    pub no_quorum: Option<(Vec<String>, Vec<String>)>,
    /// Only `Test`, asked by a backup whose takeover was refused before it announces its own
    /// priority again: that priority makes a preempting owner hand the addresses back, and a
    /// `Test` that still says no would send them straight on to the next node — a hand-over
    /// at every back-off's end. The node stays a backup meanwhile and claims nothing.
    pub check: bool,
}

impl Transition {
    /// Takeover of `vips`: in quorum mode the lease first; then all `Test`s, then per address
    /// `PreAcq`, add, `PostAcq`.
    pub fn acquire(vips: &[VipId], peer: Option<String>, quorum: bool) -> Transition {
        let mut steps: VecDeque<Step> = quorum.then_some(Step::Lease).into_iter().collect();
        steps.extend(vips.iter().map(|&v| Step::Hook(HookKind::Test, v)));
        for &v in vips {
            steps.extend([
                Step::Hook(HookKind::PreAcq, v),
                Step::Address(AddressChange::Add, v),
                Step::Hook(HookKind::PostAcq, v),
            ]);
        }
        Transition::new(HookEvent::Acquire, peer, steps)
    }

    /// The readiness check of a backup backing off (see [`Transition::check`]): `Test` for
    /// every address, as a takeover from `owner` would ask, and nothing else.
    pub fn readiness(vips: &[VipId], owner: Option<String>) -> Transition {
        let steps = vips
            .iter()
            .map(|&v| Step::Hook(HookKind::Test, v))
            .collect();
        Transition {
            check: true,
            ..Transition::new(HookEvent::Acquire, owner, steps)
        }
    }

    /// Release of the addresses in `held`; `Test` is asked first only on a hand-back, and a
    /// cleanup runs no hooks at all.
    pub fn release(held: &[VipId], cause: ReleaseCause, peer: Option<String>) -> Transition {
        let mut steps = VecDeque::new();
        if cause == ReleaseCause::HandBack {
            steps.extend(held.iter().map(|&v| Step::Hook(HookKind::Test, v)));
        }
        for &v in held {
            let remove = Step::Address(AddressChange::Remove, v);
            match cause {
                ReleaseCause::Cleanup | ReleaseCause::LeaseLost => steps.push_back(remove),
                _ => steps.extend([
                    Step::Hook(HookKind::PreRel, v),
                    remove,
                    Step::Hook(HookKind::PostRel, v),
                ]),
            }
        }
        if cause == ReleaseCause::LeaseLost {
            steps.extend(held.iter().map(|&v| Step::Hook(HookKind::PostRel, v)));
        }
        Transition::new(HookEvent::Release, peer, steps)
    }

    fn new(event: HookEvent, peer: Option<String>, steps: VecDeque<Step>) -> Transition {
        Transition {
            event,
            peer,
            steps,
            pending: None,
            acquired: Vec::new(),
            vetoed: Vec::new(),
            failed: Vec::new(),
            touched: false,
            aborted: false,
            repeat: false,
            leased: false,
            no_quorum: None,
            check: false,
        }
    }

    /// A takeover that has added nothing yet: it can still be given up without a trace on
    /// the interfaces.
    pub fn untouched_takeover(&self) -> bool {
        self.event == HookEvent::Acquire && !self.touched && !self.check
    }

    /// Applies a hook's outcome. A refusing `Test` drops that address's takeover steps, or the
    /// whole release; any other failure is only reported, and the hand-over goes on.
    pub fn hook_done(&mut self, kind: HookKind, vip: VipId, outcome: HookOutcome) {
        if kind != HookKind::Test || outcome.is_success() {
            return;
        }
        self.vetoed.push(vip);
        match self.event {
            HookEvent::Acquire => self.drop_steps_of(vip),
            HookEvent::Release => {
                self.aborted = true;
                self.steps.clear();
            }
        }
    }

    /// An address the kernel would not add (its `PostAcq` does not run) or remove.
    pub fn change_failed(&mut self, change: AddressChange, vip: VipId) {
        self.failed.push(vip);
        if change == AddressChange::Add {
            self.drop_steps_of(vip);
        }
    }

    fn drop_steps_of(&mut self, vip: VipId) {
        self.steps.retain(|step| step.vip() != Some(vip));
    }

    /// Quorum mode: the lease is missing or gone, `granting` being who granted it in time
    /// and too late at that moment; nothing more is asked for, and the hand-over ends as
    /// refused once the request in flight is answered. The driver is told now, in `outputs`
    /// ([`crate::Event::LeaseFailed`]): the notice's voters are decided at this instant,
    /// though the notice may come much later.
    pub fn lease_failed(
        &mut self,
        granting: (Vec<String>, Vec<String>),
        outputs: &mut VecDeque<Output>,
    ) {
        self.no_quorum.get_or_insert(granting);
        self.steps.clear();
        outputs.push_back(Output::Event(Event::LeaseFailed));
    }
}
