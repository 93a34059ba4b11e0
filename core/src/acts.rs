//! The record a daemon keeps of what it did (`failoverd --events FILE`): one JSON object per
//! line, each stamped with CLOCK_MONOTONIC. A test harness that runs scenarios against real
//! daemons reads these lines and judges them with the simulator's checkers; the format lives
//! here, beside the protocol, so the daemon that writes it and the harness that reads it
//! cannot disagree about it.
//!
//! A line: `{"t_ns":81234567890,"node":"alpha","event":"role","from":"backup","to":"acquiring"}`.

use crate::io::{AddressChange, Answer, HookEvent, HookKind, HookOutcome, Notification, VipId};
use crate::role::Role;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// What the daemon did. `vip` is an index into the configuration's `vips`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Act {
    /// The daemon runs: its sockets are bound and leftovers reconciled.
    Start {
        /// Its boot epoch.
        epoch: u64,
    },
    /// An address an earlier run left behind (a crash, a kill -9) was removed at start.
    LeftoverRemoved {
        /// Which address.
        vip: VipId,
        /// The address.
        address: IpAddr,
    },
    /// Core's role changed.
    Role {
        /// Old role.
        from: Role,
        /// New role.
        to: Role,
    },
    /// The kernel finished an address change: from now on the address is on (or off) the
    /// interface. An address found already so counts as `ok`.
    Address {
        /// Which address.
        vip: VipId,
        /// The address.
        address: IpAddr,
        /// Added or removed.
        change: AddressChange,
        /// Whether the change happened.
        ok: bool,
        /// The kernel's refusal, when it refused.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// A round of gratuitous ARP (or unsolicited NA) for a held address begins.
    Announce {
        /// Which address.
        vip: VipId,
        /// The address.
        address: IpAddr,
    },
    /// A hook's scripts start.
    HookStarted {
        /// For which address.
        vip: VipId,
        /// Which hook.
        hook: HookKind,
        /// Why it runs. Not named `event`: that key is the line's kind.
        hook_event: HookEvent,
    },
    /// A hook ended.
    HookEnded {
        /// For which address.
        vip: VipId,
        /// Which hook.
        hook: HookKind,
        /// How it ended.
        outcome: HookOutcome,
    },
    /// Core asked for a notification (mail).
    Notified {
        /// As core gave it.
        notification: Notification,
    },
    /// Core answered an operator's request (`failoverctl standby`, `active`, `switchover`).
    Answered {
        /// The request and the answer, as core gave them.
        answer: Answer,
    },
    /// The node entered or left standby (the flag its state directory keeps across restarts;
    /// a daemon that starts in standby writes this after `start`).
    Standby {
        /// In standby now.
        on: bool,
    },
    /// SIGHUP: the configuration file was read again and taken, or refused whole (the
    /// running configuration kept).
    Reloaded {
        /// The field that needs a restart or is invalid, when refused (`the file` when it
        /// cannot be read or parsed): [`crate::ConfigError::field`].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        refused: Option<String>,
    },
    /// The first datagram the node sent after a reload (its re-announcement), read as a peer
    /// whose file has the same `auth_key` reads it: what the peers now hear of this node.
    Reannounced {
        /// The priority and group it carries, or why it does not decode.
        carried: Result<Carried, String>,
    },
    /// A planned shutdown is complete; the process ends next.
    Stop,
}

/// What a node's datagram tells its peers of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Carried {
    /// The priority it announces (0 in standby, 1 while a refused takeover backs off).
    pub priority: u8,
    /// Its group.
    pub group: u16,
}

impl Carried {
    /// What `payload`, a datagram of this node, carries, decoded under `key` (the node's
    /// `auth_key`), or the decoder's error.
    pub fn of(payload: &[u8], key: Option<&crate::wire::AuthKey>) -> Result<Carried, String> {
        crate::wire::decode_raw(payload, key)
            .map(|m| Carried {
                priority: m.priority,
                group: m.group,
            })
            .map_err(|e| e.to_string())
    }
}

/// One line of the file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// CLOCK_MONOTONIC, in nanoseconds, when the act happened.
    pub t_ns: u64,
    /// The node's name.
    pub node: String,
    /// What happened (its `event` key and fields sit beside `t_ns` and `node`).
    #[serde(flatten)]
    pub act: Act,
}
