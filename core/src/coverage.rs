//! Coverage of the protocol: which states, transitions, hook and address outcomes, drops,
//! notifications, operators' requests and answers, and message kinds a node went through.
//!
//! Every [`crate::Node`] keeps a [`Coverage`], a fixed-size bit set with one named bit per
//! [`Point`], set where the thing happens. It is cheap (a bit set per event, no allocation) and
//! write-only for the protocol: nothing the node decides reads it, so recording it changes no
//! behaviour and no trace. The simulator takes each node's set at the end of a run (the union
//! over nodes and restarts), a sweep says which points its seeds reached and which they never
//! did, and a coverage-guided sweep keeps the runs that reached something new.
//!
//! A point's place in the set follows this file's order: bit sets written by one version are
//! read by the same version (results files carry the version that wrote them).

use crate::io::{Accepted, AddressChange, Busy, HookEvent, HookKind, HookOutcome};
use crate::io::{DropReason, Ineligible, Notification, Refusal, Request};
use crate::role::Role;
use crate::time::Instant;
use crate::wire::MessageKind;
use std::fmt;
use std::time::Duration;

/// Declares the points that stand alone, with their names, in order.
macro_rules! single_points {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)*) => {
        /// A point that stands alone (the families of points — per role, per hook... — are
        /// built by [`Point`]'s constructors).
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u16)]
        pub enum Single {
            $($(#[$doc])* $variant,)*
        }

        const SINGLE_NAMES: &[&str] = &[$($name,)*];
    };
}

single_points! {
    /// A takeover began.
    TakeoverBegins => "takeover begins",
    /// An owner asks again for addresses it lacks.
    MissingAskedAgain => "owner asks again for addresses it lacks",
    /// A release began: a higher owner was heard.
    ReleaseYield => "release begins: yield to a higher owner",
    /// A release began: a higher node is back (preemption).
    ReleaseHandBack => "release begins: hand back to a higher node",
    /// A release began: a planned shutdown.
    ReleaseShutdown => "release begins: planned shutdown",
    /// A release began: an operator's standby or switchover.
    ReleaseOperator => "release begins: operator's hand-over",
    /// A release began again: the kernel kept an address.
    ReleaseCleanup => "release begins: removal tried again",
    /// A release began: the lease ran out.
    ReleaseLeaseLost => "release begins: lease lost",
    /// A takeover was given up before any address was added.
    TakeoverAbandoned => "takeover abandoned: a claimer heard",
    /// A takeover ended with every address asked for acquired.
    TakeoverAll => "takeover done: every address acquired",
    /// A takeover ended with some addresses acquired, not all.
    TakeoverSome => "takeover done: some addresses acquired",
    /// A takeover ended with nothing acquired.
    TakeoverNone => "takeover done: nothing acquired",
    /// A release ended with every address removed.
    ReleaseDone => "release done",
    /// A release ended with an address the kernel kept.
    ReleaseKept => "release done: the kernel kept an address",
    /// `Test` refused a takeover.
    VetoTakeover => "veto: takeover",
    /// `Test` refused a takeover again (not notified again).
    VetoTakeoverAgain => "veto: takeover again (not notified)",
    /// `Test` refused a release, which stopped.
    VetoRelease => "veto: release aborted",
    /// A hook answered after core stopped waiting for it.
    HookAnswerLate => "hook answered too late (ignored)",
    /// An address change answered after core stopped waiting for it.
    AddressAnswerLate => "address change answered too late (ignored)",
    /// A refused address change again (not notified again).
    AddressRefusedAgain => "address change refused again (not notified)",
    /// A refused hand-over set a back-off.
    BackoffBegins => "back-off begins",
    /// A refusal in a row doubled the back-off.
    BackoffDoubles => "back-off doubles",
    /// The back-off reached its longest.
    BackoffLongest => "back-off at its longest",
    /// A node announced a lowered priority while its takeovers back off.
    PriorityDemoted => "priority lowered while a takeover backs off",
    /// A backup at the end of its back-off asked `Test` alone before announcing its priority.
    ReadinessCheck => "readiness check before the priority is restored",
    /// That check said yes.
    ReadinessPassed => "readiness check passed",
    /// A goodbye or a hand-over named this node's heir.
    HeirNamed => "heir named by another node",
    /// This node named its heir in its heartbeats, having released for an operator.
    HeirNamedMine => "heir named by this node after an operator's hand-over",
    /// The heir named claimed.
    HeirClaims => "this node claims as the heir named",
    /// An heir's time to claim ran out.
    HeirExpired => "an heir's time to claim ran out",
    /// A goodbye named a successor.
    GoodbyeSuccessor => "goodbye names a successor",
    /// A goodbye named no one.
    GoodbyeAlone => "goodbye names no successor",
    /// A shutdown waits for a removal the kernel refused.
    ShutdownWaits => "shutdown waits for a refused removal",
    /// A peer came alive.
    PeerUp => "peer up",
    /// A peer went silent on every path, or said goodbye.
    PeerDown => "peer down",
    /// A peer was heard in a new boot epoch.
    PeerNewEpoch => "peer heard in a new boot epoch",
    /// A lower-ranked owner claimed what this owner holds.
    RivalSeen => "rival owner seen",
    /// The start-up wait ended by silence.
    SettledBySilence => "start-up wait ends in silence",
    /// The start-up wait ended because an owner was heard.
    SettledByOwner => "start-up wait ends: an owner heard",
    /// A fresh message changed what this node knew of a peer.
    ReceivedFresh => "received: a change",
    /// A routine heartbeat, decoded.
    ReceivedRoutine => "received: routine",
    /// A routine heartbeat taken without decoding.
    ReceivedRepeat => "received: routine repeat (not decoded)",
    /// A message accepted under the previous key.
    ReceivedPreviousKey => "received under the previous key",
    /// A roll call answered.
    RollCallAnswered => "roll call answered",
    /// This node called the roll.
    RollCallBegins => "roll call begins",
    /// Standby entered.
    StandbyOn => "standby entered",
    /// Standby left.
    StandbyOff => "standby left",
    /// A switchover's successor holds the addresses against preemption.
    KeptAgainstPreemption => "switchover's successor keeps the addresses",
    /// The held addresses announced on the heartbeat's timer.
    AnnouncePeriodic => "addresses announced: periodic",
    /// An owner woke from a stall of `dead_after` or more and announced its addresses.
    AnnounceAfterStall => "addresses announced after a stall",
    /// A backup woke from a stall of `dead_after` or more and listened again before judging.
    ListensAfterStall => "backup listens again after a stall",
    /// The held addresses announced after a rival yielded or a peer came back.
    AnnounceReminder => "addresses announced: reminder",
    /// At a wake-up, the timer was due while datagrams waited unread.
    TimerAfterDatagrams => "input rule: timer due with datagrams waiting",
    /// At a wake-up, the timer was due while answers or commands waited.
    TimerAfterCommands => "input rule: timer due with answers waiting",
    /// Quorum mode: this voter granted a request.
    VoteGranted => "vote granted",
    /// Quorum mode: this voter refused a request, promised to another.
    VoteRefused => "vote refused: promised to another",
    /// Quorum mode: a refused request granted when the promise ran out.
    VoteGrantedLater => "vote granted when a promise ran out",
    /// Quorum mode: a takeover waited for its lease.
    LeaseWaited => "takeover waits for a lease",
    /// Quorum mode: a takeover got its lease while waiting.
    LeaseGranted => "lease granted to a waiting takeover",
    /// Quorum mode: a takeover gave up for want of a lease.
    LeaseMissing => "takeover without a lease",
    /// A takeover refused for want of voters retries at once: a voter came up.
    RetryOnVoterUp => "no-quorum back-off ended by a voter coming up",
    /// Quorum mode: the addresses' kernel lifetime renewed.
    LeaseExtended => "lease extended to the kernel",
}

const SINGLES: usize = SINGLE_NAMES.len();
const ROLES: [Role; 5] = [
    Role::Backup,
    Role::Acquiring,
    Role::Master,
    Role::Releasing,
    Role::Stopped,
];
/// Every role change the protocol makes (a stopped node never changes again: its daemon
/// ends, and a new one starts as a backup).
const TRANSITIONS: [(Role, Role); 8] = [
    (Role::Backup, Role::Acquiring),
    (Role::Backup, Role::Stopped),
    (Role::Acquiring, Role::Backup),
    (Role::Acquiring, Role::Master),
    (Role::Master, Role::Releasing),
    (Role::Releasing, Role::Master),
    (Role::Releasing, Role::Backup),
    (Role::Releasing, Role::Stopped),
];
/// Every message a node sends, by kind and the sender's role: heartbeats and votes in any
/// role but stopped, goodbyes as a backup or once a shutdown's release is done.
const MESSAGES: [(MessageKind, Role); 10] = [
    (MessageKind::Heartbeat, Role::Backup),
    (MessageKind::Heartbeat, Role::Acquiring),
    (MessageKind::Heartbeat, Role::Master),
    (MessageKind::Heartbeat, Role::Releasing),
    (MessageKind::Goodbye, Role::Backup),
    (MessageKind::Goodbye, Role::Releasing),
    (MessageKind::Vote, Role::Backup),
    (MessageKind::Vote, Role::Acquiring),
    (MessageKind::Vote, Role::Master),
    (MessageKind::Vote, Role::Releasing),
];
/// The hooks each hand-over runs, as (kind, event): `Test` asked on both.
const HOOK_SLOTS: [(HookKind, HookEvent); 6] = [
    (HookKind::Test, HookEvent::Acquire),
    (HookKind::Test, HookEvent::Release),
    (HookKind::PreAcq, HookEvent::Acquire),
    (HookKind::PostAcq, HookEvent::Acquire),
    (HookKind::PreRel, HookEvent::Release),
    (HookKind::PostRel, HookEvent::Release),
];
const HOOK_OUTCOMES: [&str; 3] = ["ok", "failed", "timed out"];
const ADDRESS_OUTCOMES: [&str; 3] = ["ok", "refused", "no answer in time"];
const DROPS: [&str; 4] = ["malformed", "unauthenticated", "replayed", "foreign"];
const NOTIFICATIONS: [&str; 10] = [
    "failover",
    "released",
    "network anomaly",
    "network recovered",
    "hook failed",
    "address failed",
    "rival claim",
    "no quorum",
    "lease lost",
    "hand-back vetoed",
];
const REQUESTS: [&str; 4] = [
    "standby",
    "active",
    "switchover to a node named",
    "switchover to the best",
];
const ANSWERS: [&str; 19] = [
    "accepted: standby, handing over",
    "accepted: standby",
    "accepted: already in standby",
    "accepted: active",
    "accepted: already active",
    "accepted: switchover",
    "refused: no eligible node",
    "refused: not alive",
    "refused: unknown node",
    "refused: ineligible, itself",
    "refused: ineligible, a witness",
    "refused: ineligible, in standby",
    "refused: ineligible, claims",
    "refused: not the owner",
    "refused: busy with a hand-over",
    "refused: busy with a transition",
    "refused: busy shutting down",
    "refused: interrupted",
    "refused: a witness",
];

/// Where each family of points begins, in bit order.
const ROLE_AT: usize = SINGLES;
const TRANSITION_AT: usize = ROLE_AT + ROLES.len();
const HOOK_AT: usize = TRANSITION_AT + TRANSITIONS.len();
const ADDRESS_AT: usize = HOOK_AT + HOOK_SLOTS.len() * HOOK_OUTCOMES.len();
const DROP_AT: usize = ADDRESS_AT + 2 * ADDRESS_OUTCOMES.len();
const NOTIFICATION_AT: usize = DROP_AT + DROPS.len();
const REQUEST_AT: usize = NOTIFICATION_AT + NOTIFICATIONS.len();
const ANSWER_AT: usize = REQUEST_AT + REQUESTS.len();
const SENT_AT: usize = ANSWER_AT + ANSWERS.len();
const RECEIVED_AT: usize = SENT_AT + MESSAGES.len();
/// How many points there are.
pub const POINTS: usize = RECEIVED_AT + MESSAGES.len();
const WORDS: usize = POINTS.div_ceil(64);

/// One thing a node can go through, by its place in a [`Coverage`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Point(u16);

/// How an address change ended, for [`Point::address`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressOutcome {
    /// Done.
    Done,
    /// The kernel refused it.
    Refused,
    /// No answer by the request's deadline.
    NoAnswer,
}

fn role_index(role: Role) -> usize {
    usize::from(role.code())
}

fn kind_name(kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::Heartbeat => "heartbeat",
        MessageKind::Goodbye => "goodbye",
        MessageKind::Vote => "vote",
    }
}

impl From<Single> for Point {
    fn from(s: Single) -> Point {
        Point(s as u16)
    }
}

impl From<Single> for Option<Point> {
    fn from(s: Single) -> Option<Point> {
        Some(s.into())
    }
}

// What the node decides is kept out of the node: the choice of a point is made here, so the
// node's own code holds no condition that only coverage reads (a mutant of one would change
// nothing a checker can see).
impl Single {
    /// This point if `reached`.
    pub fn when(self, reached: bool) -> Option<Point> {
        reached.then(|| self.into())
    }

    /// This point unless `not_reached`.
    pub fn unless(self, not_reached: bool) -> Option<Point> {
        self.when(!not_reached)
    }
}

impl Point {
    fn at(index: usize) -> Point {
        debug_assert!(index < POINTS);
        Point(index as u16)
    }

    /// The node entered `role`.
    pub fn role(role: Role) -> Point {
        Point::at(ROLE_AT + role_index(role))
    }

    /// The node's role went from `from` to `to`; `None` for a change the protocol never
    /// makes.
    pub fn transition(from: Role, to: Role) -> Option<Point> {
        let i = TRANSITIONS.iter().position(|&t| t == (from, to))?;
        Some(Point::at(TRANSITION_AT + i))
    }

    /// A `kind` hook run for `event` ended with `outcome`.
    pub fn hook(kind: HookKind, event: HookEvent, outcome: HookOutcome) -> Point {
        let slot = (HOOK_SLOTS.iter())
            .position(|&s| s == (kind, event))
            // (every hook runs in one hand-over but Test, listed for both)
            .unwrap_or_else(|| HOOK_SLOTS.iter().position(|s| s.0 == kind).unwrap_or(0));
        let outcome = match outcome {
            HookOutcome::Success => 0,
            HookOutcome::Failed(_) => 1,
            HookOutcome::TimedOut => 2,
        };
        Point::at(HOOK_AT + slot * HOOK_OUTCOMES.len() + outcome)
    }

    /// The veto a `kind` hook's `outcome` makes of a hand-over for `event`, if any (`again`:
    /// the same takeover refused before).
    pub fn veto(
        kind: HookKind,
        event: HookEvent,
        outcome: HookOutcome,
        again: bool,
    ) -> Option<Point> {
        if kind != HookKind::Test || outcome.is_success() {
            return None;
        }
        Some(
            match (event, again) {
                (HookEvent::Release, _) => Single::VetoRelease,
                (HookEvent::Acquire, false) => Single::VetoTakeover,
                (HookEvent::Acquire, true) => Single::VetoTakeoverAgain,
            }
            .into(),
        )
    }

    /// The back-off a hand-over that ended sets, if it was `refused`: begun, doubled (refused
    /// `again`, a back-off before it), or `wait` at its `longest`.
    pub fn backoff(
        refused: bool,
        before: bool,
        again: bool,
        wait: Duration,
        longest: Duration,
    ) -> Option<Point> {
        let s = match (before && again, wait == longest) {
            (true, true) => Single::BackoffLongest,
            (true, false) => Single::BackoffDoubles,
            (false, _) => Single::BackoffBegins,
        };
        s.when(refused)
    }

    /// How a takeover ended: with how many addresses `acquired`, `vetoed` or `failed`.
    pub fn takeover(acquired: usize, vetoed: usize, failed: usize) -> Point {
        match acquired {
            0 => Single::TakeoverNone,
            n if n < acquired + vetoed + failed => Single::TakeoverSome,
            _ => Single::TakeoverAll,
        }
        .into()
    }

    /// An heir named until `until` whose time to claim has run out at `now`.
    pub fn heir_expired(until: Option<Instant>, now: Instant) -> Option<Point> {
        Single::HeirExpired.when(until.is_some_and(|u| now >= u))
    }

    /// An address `change` ended with `outcome`.
    pub fn address(change: AddressChange, outcome: AddressOutcome) -> Point {
        let change = match change {
            AddressChange::Add => 0,
            AddressChange::Remove => 1,
        };
        let outcome = match outcome {
            AddressOutcome::Done => 0,
            AddressOutcome::Refused => 1,
            AddressOutcome::NoAnswer => 2,
        };
        Point::at(ADDRESS_AT + change * ADDRESS_OUTCOMES.len() + outcome)
    }

    /// A datagram was dropped for `reason`.
    pub fn dropped(reason: DropReason) -> Point {
        Point::at(
            DROP_AT
                + match reason {
                    DropReason::Malformed => 0,
                    DropReason::Unauthenticated => 1,
                    DropReason::Replayed => 2,
                    DropReason::Foreign => 3,
                },
        )
    }

    /// The node asked for a notification of this kind.
    pub fn notified(n: &Notification) -> Point {
        Point::at(
            NOTIFICATION_AT
                + match n {
                    Notification::Failover { .. } => 0,
                    Notification::Released { .. } => 1,
                    Notification::NetworkAnomaly { .. } => 2,
                    Notification::NetworkRecovered { .. } => 3,
                    Notification::HookFailed { .. } => 4,
                    Notification::AddressFailed { .. } => 5,
                    Notification::RivalClaim { .. } => 6,
                    Notification::NoQuorum { .. } => 7,
                    Notification::LeaseLost { .. } => 8,
                    Notification::HandBackVetoed { .. } => 9,
                },
        )
    }

    /// An operator asked this.
    pub fn requested(request: &Request) -> Point {
        Point::at(
            REQUEST_AT
                + match request {
                    Request::Standby => 0,
                    Request::Active => 1,
                    Request::Switchover { to: Some(_) } => 2,
                    Request::Switchover { to: None } => 3,
                },
        )
    }

    /// The node answered an operator so.
    pub fn answered(outcome: &Result<Accepted, Refusal>) -> Point {
        let i = match outcome {
            Ok(Accepted::Standby { already: true, .. }) => 2,
            Ok(Accepted::Standby { to: Some(_), .. }) => 0,
            Ok(Accepted::Standby { to: None, .. }) => 1,
            Ok(Accepted::Active { already: false }) => 3,
            Ok(Accepted::Active { already: true }) => 4,
            Ok(Accepted::Switchover { .. }) => 5,
            Err(Refusal::NoEligibleNode { .. }) => 6,
            Err(Refusal::NotAlive { .. }) => 7,
            Err(Refusal::UnknownNode { .. }) => 8,
            Err(Refusal::Ineligible { why, .. }) => match why {
                Ineligible::Itself => 9,
                Ineligible::Witness => 10,
                Ineligible::Standby => 11,
                Ineligible::Claims => 12,
            },
            Err(Refusal::NotOwner { .. }) => 13,
            Err(Refusal::Busy { what }) => match what {
                Busy::HandOver => 14,
                Busy::Transition => 15,
                Busy::Shutdown => 16,
            },
            Err(Refusal::Interrupted) => 17,
            Err(Refusal::Witness) => 18,
        };
        Point::at(ANSWER_AT + i)
    }

    /// The node sent a message of `kind` in role `role`; `None` for one it never sends.
    pub fn sent(kind: MessageKind, role: Role) -> Option<Point> {
        let i = MESSAGES.iter().position(|&m| m == (kind, role))?;
        Some(Point::at(SENT_AT + i))
    }

    /// The node accepted a message of `kind` from a peer in role `role`; `None` for one no
    /// node sends.
    pub fn received(kind: MessageKind, role: Role) -> Option<Point> {
        let i = MESSAGES.iter().position(|&m| m == (kind, role))?;
        Some(Point::at(RECEIVED_AT + i))
    }

    /// Every point, in bit order.
    pub fn all() -> impl Iterator<Item = Point> {
        (0..POINTS).map(Point::at)
    }

    /// The point's place in a [`Coverage`].
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

impl fmt::Display for Point {
    /// The point's name: what a sweep lists when no run reached it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = self.index();
        match i {
            _ if i < ROLE_AT => f.write_str(SINGLE_NAMES[i]),
            _ if i < TRANSITION_AT => write!(f, "role {}", ROLES[i - ROLE_AT]),
            _ if i < HOOK_AT => {
                let (from, to) = TRANSITIONS[i - TRANSITION_AT];
                write!(f, "role {from} -> {to}")
            }
            _ if i < ADDRESS_AT => {
                let k = i - HOOK_AT;
                let (kind, event) = HOOK_SLOTS[k / HOOK_OUTCOMES.len()];
                let outcome = HOOK_OUTCOMES[k % HOOK_OUTCOMES.len()];
                write!(f, "hook {kind} ({event}): {outcome}")
            }
            _ if i < DROP_AT => {
                let k = i - ADDRESS_AT;
                let change = ["add", "remove"][k / ADDRESS_OUTCOMES.len()];
                let outcome = ADDRESS_OUTCOMES[k % ADDRESS_OUTCOMES.len()];
                write!(f, "address {change}: {outcome}")
            }
            _ if i < NOTIFICATION_AT => write!(f, "dropped: {}", DROPS[i - DROP_AT]),
            _ if i < REQUEST_AT => {
                write!(f, "notified: {}", NOTIFICATIONS[i - NOTIFICATION_AT])
            }
            _ if i < ANSWER_AT => write!(f, "operator asks: {}", REQUESTS[i - REQUEST_AT]),
            _ if i < SENT_AT => write!(f, "operator answered: {}", ANSWERS[i - ANSWER_AT]),
            _ if i < RECEIVED_AT => {
                let (kind, role) = MESSAGES[i - SENT_AT];
                write!(f, "sent: {} in role {role}", kind_name(kind))
            }
            _ => {
                let (kind, role) = MESSAGES[i - RECEIVED_AT];
                write!(
                    f,
                    "received: {} from a peer in role {role}",
                    kind_name(kind)
                )
            }
        }
    }
}

impl crate::Node {
    /// What this node went through so far: states, transitions, hook and address outcomes,
    /// drops, notifications, operators' requests and answers, message kinds.
    pub fn coverage(&self) -> &Coverage {
        &self.coverage
    }
}

/// The points a node (or a run, or a sweep) went through: one bit per [`Point`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Coverage([u64; WORDS]);

impl Coverage {
    /// Marks `point` reached (nothing, for `None`: a point [`Point`] has none for).
    #[inline]
    pub fn hit(&mut self, point: impl Into<Option<Point>>) {
        if let Some(p) = point.into() {
            let i = p.index();
            self.0[i / 64] |= 1 << (i % 64);
        }
    }

    /// Whether `point` was reached.
    pub fn contains(&self, point: impl Into<Point>) -> bool {
        let i = point.into().index();
        self.0[i / 64] & (1 << (i % 64)) != 0
    }

    /// Adds everything `other` reached.
    pub fn union(&mut self, other: &Coverage) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a |= b;
        }
    }

    /// Whether `other` reached some point this did not.
    pub fn lacks_some_of(&self, other: &Coverage) -> bool {
        self.0.iter().zip(other.0).any(|(a, b)| b & !a != 0)
    }

    /// How many points were reached.
    pub fn count(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// The points reached, in bit order.
    pub fn reached(&self) -> impl Iterator<Item = Point> + '_ {
        Point::all().filter(|&p| self.contains(p))
    }

    /// The points never reached, in bit order.
    pub fn unreached(&self) -> impl Iterator<Item = Point> + '_ {
        Point::all().filter(|&p| !self.contains(p))
    }

    /// The bit set as hexadecimal digits (word by word, lowest bit first): how results files
    /// keep it. Read back by [`Coverage::from_hex`] of the same version.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|w| format!("{w:016x}")).collect()
    }

    /// The bit set [`Coverage::to_hex`] wrote; `None` if `hex` is not one of this version.
    pub fn from_hex(hex: &str) -> Option<Coverage> {
        if hex.len() != WORDS * 16 || !hex.is_ascii() {
            return None;
        }
        let mut words = [0; WORDS];
        for (w, chunk) in words.iter_mut().zip(hex.as_bytes().chunks(16)) {
            *w = u64::from_str_radix(std::str::from_utf8(chunk).ok()?, 16).ok()?;
        }
        let c = Coverage(words);
        // No bit beyond the last point.
        (c.count() == c.reached().count()).then_some(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_point_has_a_name_of_its_own() {
        let names: Vec<String> = Point::all().map(|p| p.to_string()).collect();
        let unique: BTreeSet<&String> = names.iter().collect();
        assert_eq!(unique.len(), POINTS, "{names:#?}");
        let name = |p: Option<Point>| p.expect("a point").to_string();
        assert_eq!(
            name(Point::transition(Role::Backup, Role::Acquiring)),
            "role backup -> acquiring"
        );
        assert_eq!(Point::transition(Role::Stopped, Role::Releasing), None);
        assert_eq!(
            Point::hook(HookKind::Test, HookEvent::Release, HookOutcome::TimedOut).to_string(),
            "hook Test (release): timed out"
        );
        assert_eq!(
            name(Point::received(MessageKind::Goodbye, Role::Releasing)),
            "received: goodbye from a peer in role releasing"
        );
        assert_eq!(Point::sent(MessageKind::Goodbye, Role::Master), None);
        assert_eq!(
            Point::answered(&Err(Refusal::Witness)).to_string(),
            "operator answered: refused: a witness"
        );
    }

    #[test]
    fn a_bit_set_counts_unions_and_reads_back_what_it_wrote() {
        let mut a = Coverage::default();
        a.hit(Single::TakeoverBegins);
        a.hit(Point::sent(MessageKind::Vote, Role::Releasing));
        a.hit(Point::sent(MessageKind::Vote, Role::Stopped));
        let mut b = Coverage::default();
        b.hit(Point::role(Role::Master));
        assert!(a.lacks_some_of(&b) && b.lacks_some_of(&a));
        b.union(&a);
        assert_eq!(b.count(), 3);
        assert!(!b.lacks_some_of(&a));
        assert_eq!(Coverage::from_hex(&b.to_hex()), Some(b));
        assert_eq!(Coverage::from_hex("00"), None);
        assert_eq!(b.unreached().count(), POINTS - 3);
    }
}
