//! What goes into a node and what comes out: the boundary every driver implements.

use crate::role::Role;
use crate::time::Instant;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

/// Index of a path in [`crate::Config::paths`]; the driver says which path a datagram came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PathId(pub usize);

/// Index of a virtual address in [`crate::Config::vips`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct VipId(pub usize);

/// Names one request that needs an answer (a hook to run, an address to add or remove), so
/// the answer can be matched to it and a late answer to a request already given up on ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RequestId(pub u64);

/// The source system's hook scripts, in the order a takeover or release runs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum HookKind {
    /// Asked before acquiring and before releasing; a failure means "do not", notify only.
    Test,
    /// Before an address is added.
    PreAcq,
    /// After an address is added.
    PostAcq,
    /// Before an address is removed.
    PreRel,
    /// After an address is removed.
    PostRel,
}

impl HookKind {
    /// The script name (or name prefix) the source system uses.
    pub fn script_prefix(self) -> &'static str {
        match self {
            HookKind::Test => "Test",
            HookKind::PreAcq => "PreAcq",
            HookKind::PostAcq => "PostAcq",
            HookKind::PreRel => "PreRel",
            HookKind::PostRel => "PostRel",
        }
    }
}

impl fmt::Display for HookKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.script_prefix())
    }
}

/// Whether the hook is run for a takeover or a release (given to scripts as `FAILOVER_EVENT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookEvent {
    /// Taking the address over.
    Acquire,
    /// Giving the address up.
    Release,
}

impl fmt::Display for HookEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HookEvent::Acquire => "acquire",
            HookEvent::Release => "release",
        })
    }
}

/// A request to run one hook; answer it with [`Command::HookFinished`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookRequest {
    /// Echo this back in the answer.
    pub id: RequestId,
    /// Which hook.
    pub kind: HookKind,
    /// For which address.
    pub vip: VipId,
    /// Why it runs.
    pub event: HookEvent,
    /// The peer the address comes from or goes to, when known.
    pub peer: Option<String>,
    /// When core stops waiting and counts the hook as timed out, on the clock the driver gives
    /// core. A driver kills the hook then — not `hooks.timeout` after it got round to starting
    /// it — so core and the driver agree on when the hand-over went on.
    pub deadline: Instant,
}

/// How a hook ended. A driver that kills a hung hook reports `TimedOut`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookOutcome {
    /// Exit status 0, or no script present.
    Success,
    /// Non-zero exit status (the status, when there is one).
    Failed(Option<i32>),
    /// Did not finish within `hooks.timeout`.
    TimedOut,
}

impl HookOutcome {
    /// Whether the hook said yes.
    pub fn is_success(self) -> bool {
        self == HookOutcome::Success
    }
}

/// Inputs that are neither datagrams nor timers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Planned shutdown: release what is held, say goodbye so a backup takes over at once, stop.
    Shutdown,
    /// Send a heartbeat on every path now (after start, and on SIGHUP, like heartbeatd's tickle).
    Reannounce,
    /// A hook requested by [`Output::RunHook`] has ended.
    HookFinished {
        /// The request's id.
        id: RequestId,
        /// How it ended.
        outcome: HookOutcome,
    },
    /// An address change asked for by [`Output::Acquire`] or [`Output::Release`] is done, or
    /// failed (the kernel's answer, as text).
    AddressChanged {
        /// The request's id.
        id: RequestId,
        /// `Err` with the reason when the change did not happen.
        result: Result<(), String>,
    },
}

/// Which way an address changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddressChange {
    /// Added to its interface.
    Add,
    /// Removed from its interface.
    Remove,
}

impl fmt::Display for AddressChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AddressChange::Add => "add",
            AddressChange::Remove => "remove",
        })
    }
}

/// A datagram to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Which path (socket) to send it on.
    pub path: PathId,
    /// Destination.
    pub to: SocketAddr,
    /// The encoded message, shared by every datagram of one announcement.
    pub payload: Arc<[u8]>,
}

/// What a notification is about; rendered into mail by the daemon.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Notification {
    /// This node took the addresses over (or was told not to by `Test`: `vetoed` lists those).
    Failover {
        /// The previous owner, when known.
        from: Option<String>,
        /// Addresses acquired.
        acquired: Vec<VipId>,
        /// Addresses `Test` said not to acquire.
        vetoed: Vec<VipId>,
    },
    /// This node gave the addresses up.
    Released {
        /// The node it handed them to, when known.
        to: Option<String>,
    },
    /// A peer's heartbeats stopped on one path but not on all: no takeover.
    NetworkAnomaly {
        /// The peer.
        peer: String,
        /// The path name.
        path: String,
    },
    /// A path that had an anomaly carries heartbeats again.
    NetworkRecovered {
        /// The peer.
        peer: String,
        /// The path name.
        path: String,
    },
    /// A hook failed or hung; the protocol went on.
    HookFailed {
        /// Which hook.
        hook: HookKind,
        /// For which address.
        vip: VipId,
        /// How it ended.
        outcome: HookOutcome,
    },
    /// The kernel refused to add or remove an address. A failed add is undone (the node does
    /// not count the address as held) and tried again later; a failed remove may leave the
    /// address on this host while another takes it over.
    AddressFailed {
        /// Which address.
        vip: VipId,
        /// What was asked.
        change: AddressChange,
        /// The kernel's answer.
        error: String,
    },
    /// A lower-ranked node has claimed addresses this node holds for longer than it takes to
    /// hear this node's heartbeats and yield: it does not hear them (a one-way cut), and both
    /// serve the address. Classic mode cannot prevent this; it can say so, once per episode.
    RivalClaim {
        /// The node that claims.
        peer: String,
        /// The addresses both hold.
        vips: Vec<VipId>,
    },
    /// Quorum mode: a takeover was given up because a majority of voters did not grant the
    /// lease in time (they are out of reach, or still promised to the owner).
    NoQuorum {
        /// The voters that granted it.
        granted: Vec<String>,
        /// How many grants a lease needs.
        needed: usize,
    },
    /// Quorum mode: the owner's lease ran out before a majority renewed it: it removes its
    /// addresses (the kernel does too, at the lease's end, whatever the daemon does).
    LeaseLost {
        /// The addresses it held.
        vips: Vec<VipId>,
        /// The voters that still granted it.
        granted: Vec<String>,
    },
}

impl Notification {
    /// A one-line summary, used as the mail subject and in traces.
    pub fn summary(&self) -> String {
        match self {
            Notification::Failover {
                from,
                acquired,
                vetoed,
            } => {
                let from = from.as_deref().unwrap_or("unknown peer");
                if vetoed.is_empty() {
                    format!(
                        "failover: took over {} address(es) from {from}",
                        acquired.len()
                    )
                } else {
                    format!(
                        "failover: {from} is down; Test hook vetoed {} address(es), acquired {}",
                        vetoed.len(),
                        acquired.len()
                    )
                }
            }
            Notification::Released { to } => format!(
                "release: gave the addresses back to {}",
                to.as_deref().unwrap_or("no one (shutdown)")
            ),
            Notification::NetworkAnomaly { peer, path } => {
                format!("network anomaly: no heartbeats from {peer} on path {path}; no takeover")
            }
            Notification::NetworkRecovered { peer, path } => {
                format!("network recovered: heartbeats from {peer} on path {path} again")
            }
            Notification::HookFailed { hook, vip, outcome } => {
                format!("hook {hook} for vip {} failed: {outcome:?}", vip.0)
            }
            Notification::AddressFailed { vip, change, error } => {
                format!("address change failed: {change} of vip {}: {error}", vip.0)
            }
            Notification::RivalClaim { peer, vips } => {
                let vips: Vec<String> = vips.iter().map(|v| v.0.to_string()).collect();
                format!(
                    "rival claim: {peer} claims vip {} while this node holds it",
                    vips.join(", ")
                )
            }
            Notification::NoQuorum { granted, needed } => format!(
                "no quorum: takeover given up; {} of {needed} needed voter(s) granted the lease ({})",
                granted.len(),
                granted.join(", ")
            ),
            Notification::LeaseLost { vips, granted } => format!(
                "lease lost: removing {} address(es); only {} voter(s) renewed it ({})",
                vips.len(),
                granted.len(),
                granted.join(", ")
            ),
        }
    }
}

/// Why a datagram was dropped; each has a counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// Not a valid message of this protocol version.
    Malformed,
    /// Missing or wrong HMAC tag.
    Unauthenticated,
    /// Older boot epoch, or a sequence number already seen on that path.
    Replayed,
    /// Another group's message, or our own echoed back.
    Foreign,
}

/// Things worth recording that need no action from the driver.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum Event {
    /// The node's role changed.
    RoleChanged {
        /// Old role.
        from: Role,
        /// New role.
        to: Role,
    },
    /// A peer was heard from after being unknown or dead (or with a new boot epoch).
    PeerUp {
        /// The peer's name.
        peer: String,
        /// Its boot epoch.
        epoch: u64,
    },
    /// A peer is silent on every path, or said goodbye.
    PeerDown {
        /// The peer's name.
        peer: String,
    },
    /// A datagram was dropped.
    Dropped {
        /// Why.
        reason: DropReason,
    },
    /// A takeover was given up before any address was added: `peer` was heard claiming the
    /// addresses (the owner was alive after all, e.g. this node had stalled).
    TakeoverAbandoned {
        /// The claimer heard.
        peer: String,
    },
}

/// One action for the driver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Send a datagram.
    Transmit(Transmit),
    /// Add the address to its interface and announce it (gratuitous ARP / unsolicited NA);
    /// answer with [`Command::AddressChanged`].
    Acquire {
        /// Echo this back in the answer.
        id: RequestId,
        /// Which address.
        vip: VipId,
        /// Quorum mode: the lease's end. The driver gives the address a kernel lifetime
        /// (`valid_lft` and `preferred_lft`) of the whole seconds left until then, counted
        /// when it makes the change, and refuses the change if not one second is left.
        until: Option<Instant>,
    },
    /// Quorum mode: the lease was renewed; set the held address's kernel lifetime to the whole
    /// seconds left until `until` (adding it again if the kernel removed it early). No answer:
    /// the lease, not this, decides what the node holds.
    Extend {
        /// Which address.
        vip: VipId,
        /// The lease's end.
        until: Instant,
    },
    /// Remove the address from its interface (and stop announcing it); answer with
    /// [`Command::AddressChanged`].
    Release {
        /// Echo this back in the answer.
        id: RequestId,
        /// Which address.
        vip: VipId,
    },
    /// Announce an address already held again (gratuitous ARP / unsolicited NA): another node
    /// held it too, or was about to, and clients' neighbour caches may still point there.
    Announce(VipId),
    /// Run a hook and answer with [`Command::HookFinished`].
    RunHook(Box<HookRequest>),
    /// Tell a person (mail).
    Notify(Box<Notification>),
    /// Record something.
    Event(Event),
}

/// Datagram counters, for status and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Datagrams handed to the driver to send.
    pub sent: u64,
    /// Datagrams accepted.
    pub received: u64,
    /// Dropped as malformed.
    pub malformed: u64,
    /// Dropped as unauthenticated.
    pub unauthenticated: u64,
    /// Dropped as replayed, duplicated, reordered or stale.
    pub replayed: u64,
    /// Dropped as another group's or our own.
    pub foreign: u64,
    /// Authenticated only under `protocol.previous_auth_key` (whatever happened to them
    /// next): a peer still sends with the old key. Once it stops growing on every node, the
    /// rotation is done and the old key can go.
    #[serde(default)]
    pub previous_key: u64,
}
