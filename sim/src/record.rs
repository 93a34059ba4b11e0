//! The one vocabulary of what happens in a run. The simulator records it; turmoil, madsim and
//! the daemon's event log report it; the checkers judge it and the timeline draws it — each
//! knowing nothing of how it was produced.

use failover_core::{AddressChange, Answer, HookEvent, HookKind, HookOutcome, Notification, Role};
use serde::{Deserialize, Serialize};

/// Something that happened, at a time the record carries beside it (nanoseconds since the
/// start of the run on the engine's global clock).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "what")]
pub enum Observation {
    /// `vip` is on `node`'s interface (and announced).
    Acquired {
        /// Node index.
        node: usize,
        /// Address index.
        vip: usize,
    },
    /// `vip` is no longer on `node`'s interface (released, removed at start as a leftover, or
    /// gone with its host).
    Released {
        /// Node index.
        node: usize,
        /// Address index.
        vip: usize,
    },
    /// `node`'s daemon started.
    Up {
        /// Node index.
        node: usize,
    },
    /// `node`'s daemon ended: crashed with its host, killed, or stopped after a planned
    /// shutdown.
    Down {
        /// Node index.
        node: usize,
    },
    /// `node`'s daemon is stopped (SIGSTOP): its host still serves what it holds.
    Paused {
        /// Node index.
        node: usize,
    },
    /// `node`'s daemon runs again.
    Resumed {
        /// Node index.
        node: usize,
    },
    /// `node`'s host went down (a crash) or is frozen (a VM pause): it serves no one.
    HostDown {
        /// Node index.
        node: usize,
    },
    /// `node`'s host runs again.
    HostUp {
        /// Node index.
        node: usize,
    },
    /// `node`'s daemon began a round of gratuitous ARP for `vip`, which it holds, as core
    /// asked again (`Output::Announce`: the periodic refresh, or a reminder after a rival
    /// yielded, a peer came back or the daemon woke from a stall). An engine may record the
    /// round that goes with adding the address as well (the daemon's act log has it).
    Announced {
        /// Node index.
        node: usize,
        /// Address index.
        vip: usize,
    },
    /// A scheduled fault began.
    FaultStarted {
        /// Index into the run's resolved faults.
        fault: usize,
    },
    /// A scheduled fault ended.
    FaultEnded {
        /// Index into the run's resolved faults.
        fault: usize,
    },
    /// `node` sent a notification.
    Notified {
        /// Node index.
        node: usize,
        /// What it said.
        notification: Notification,
    },
    /// `node` changed role.
    RoleChanged {
        /// Node index.
        node: usize,
        /// Old role.
        from: Role,
        /// New role.
        to: Role,
    },
    /// `node` answered an operator's request (standby, active, switchover).
    Answered {
        /// Node index.
        node: usize,
        /// The request and its answer.
        answer: Answer,
    },
    /// `node` gave up a takeover before it added anything, because another node claims the
    /// addresses (core's `Event::TakeoverAbandoned`): what its hooks answer from then on is
    /// ignored, and nothing of that takeover is notified (the simulator's record).
    TakeoverAbandoned {
        /// Node index.
        node: usize,
        /// The claimer it heard (node index), if it is one of the scenario's.
        rival: Option<usize>,
    },
    /// `node`'s standby flag, as kept on its disk across restarts, changed.
    Standby {
        /// Node index.
        node: usize,
        /// In standby now.
        on: bool,
    },
    /// A datagram of `from` newer than any before it (by its boot epoch and sequence number:
    /// not a duplicate, not one overtaken by a later one) reached `node`'s sockets, its daemon
    /// running or paused: what the split-brain checker judges a takeover by. Only an engine
    /// that sees every delivery records it ([`crate::check::Context::deliveries`]).
    Heard {
        /// The receiver.
        node: usize,
        /// The sender.
        from: usize,
        /// The role the datagram announces.
        role: Role,
    },
    /// Datagrams for `node`'s daemon that found its socket buffers full (a daemon stopped
    /// longer than they hold): `dropped` of them lost at this instant, as the kernel drops
    /// them, unread.
    BufferOverflowed {
        /// Node index.
        node: usize,
        /// How many were dropped.
        dropped: u64,
    },
    /// A hook of `node` began to run (the simulator's record): the order of hooks and
    /// address changes the source system prescribes is judged by it.
    HookStarted {
        /// Node index.
        node: usize,
        /// Which hook.
        hook: HookKind,
        /// For which address.
        vip: usize,
        /// For a takeover or a release.
        event: HookEvent,
    },
    /// A hook of `node` failed or was killed at its deadline (the simulator's record; see
    /// [`crate::check::Context::deliveries`]).
    HookFailed {
        /// Node index.
        node: usize,
        /// Which hook.
        hook: HookKind,
        /// For which address.
        vip: usize,
        /// For a takeover or a release.
        event: HookEvent,
        /// When the node asked for it.
        asked: u64,
        /// How it ended.
        outcome: HookOutcome,
    },
    /// The kernel refused `node` an address change (the simulator's record).
    AddressRefused {
        /// Node index.
        node: usize,
        /// Address index.
        vip: usize,
        /// What was asked.
        change: AddressChange,
    },
    /// An attacker's datagram (a `tamper` fault) was handed to `node`'s running daemon on its
    /// own, and what it did: `changed` says what moved beyond one drop counter and one
    /// `Dropped` event, if anything (the simulator's record).
    Tampered {
        /// The receiver.
        node: usize,
        /// What the attacker sent.
        how: crate::fault::Tamper,
        /// What it changed, if anything.
        changed: Option<String>,
    },
    /// `node`'s daemon read its configuration file again (SIGHUP: a `reload` fault's start,
    /// or its end putting the fields back) and took it, or refused it naming the field,
    /// keeping the configuration it ran with (the simulator's record).
    Reloaded {
        /// Node index.
        node: usize,
        /// The `reload` fault, by index into the run's resolved faults.
        fault: usize,
        /// Whether it is the fault's end (the fields put back), not its start.
        ends: bool,
        /// The field core refused, if it did.
        refused: Option<String>,
        /// The first datagram the daemon sent after it, decoded under the `auth_key` of the
        /// file it runs with, or the decoder's error (none: no daemon ran — the file is read
        /// at its next start —, or the daemon handled another reload before it sent one).
        announced: Option<Result<Carried, String>>,
    },
    /// `node`'s status (`failoverctl status`) at an instant it had read every input it was
    /// handed, beside what the engine knows of its daemon process (the simulator's record;
    /// see [`crate::check::StatusSeen`]).
    Status {
        /// Node index.
        node: usize,
        /// The status and the engine's ledger.
        seen: Box<crate::check::StatusSeen>,
    },
    /// Quorum mode: the grants of `node`'s claim as they stood when it decided who granted
    /// it, for the notice that names them: a lease lost, a takeover without a lease (the
    /// simulator's record; see [`crate::check::GrantsSeen`]).
    Grants {
        /// Node index.
        node: usize,
        /// Its requests' grants, by the engine's ledger.
        seen: Box<crate::check::GrantsSeen>,
    },
    /// `count` client requests to `vip`, since the last such record, all succeeded or all
    /// failed.
    Requests {
        /// Address index.
        vip: usize,
        /// Whether they were answered.
        ok: bool,
        /// How many.
        count: u64,
        /// When the first of them was sent (nanoseconds): the record comes when their
        /// outcome changes, and the last one before may have come well before them.
        first: u64,
    },
}

impl Observation {
    /// What a node did, as opposed to what was done to it or measured: the part of a run
    /// every engine's driver reports, and engines are compared on.
    pub fn is_act(&self) -> bool {
        matches!(
            self,
            Observation::Acquired { .. }
                | Observation::Released { .. }
                | Observation::Notified { .. }
                | Observation::RoleChanged { .. }
        )
    }
}

/// What a datagram says of its sender that a reload may change (the daemon's act log has the
/// same: `failoverd --events`).
pub use failover_core::acts::Carried;

/// An observation with its time.
pub type Record = (u64, Observation);
