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
    /// An operator's request (`failoverctl standby`, `active`, `switchover`), answered by
    /// [`Output::Answer`] with the same `id` — at once, or within `dead_after` when the node
    /// must first learn who is alive (see [`crate::node`], "Operators").
    Operator {
        /// Echoed in the answer, so a driver matches it to whoever asked.
        id: u64,
        /// What is asked.
        request: Request,
    },
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

/// What an operator asks of a node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "request")]
pub enum Request {
    /// Hand the addresses over in order (if held) and stay a backup that never takes them —
    /// across restarts, the driver keeping [`crate::Node::standby`] — until [`Request::Active`].
    Standby,
    /// Leave standby: take part in the election again (with preemption, take the addresses
    /// back in order).
    Active,
    /// The owner hands the addresses to `to` (or, without it, to the best other live node),
    /// which keeps them against preemption until it lets them go.
    Switchover {
        /// The node to hand over to.
        to: Option<String>,
    },
}

impl Request {
    /// The request as one line of `failoverd`'s status socket (`standby`, `active`,
    /// `switchover`, `switchover NODE`), newline included: what `failoverctl` and the netns
    /// engine of the simulator send.
    pub fn line(&self) -> String {
        match self {
            Request::Standby => "standby\n".into(),
            Request::Active => "active\n".into(),
            Request::Switchover { to: None } => "switchover\n".into(),
            Request::Switchover { to: Some(to) } => format!("switchover {to}\n"),
        }
    }

    /// The request a status-socket line asks for: `None` if it is none of an operator's
    /// (`status`, say), `Err` saying what is wrong if it is one written wrong.
    pub fn from_line(line: &str) -> Option<Result<Request, String>> {
        let mut words = line.split_whitespace();
        let request = match words.next()? {
            "standby" => Request::Standby,
            "active" => Request::Active,
            "switchover" => Request::Switchover {
                to: words.next().map(String::from),
            },
            _ => return None,
        };
        Some(match words.next() {
            Some(extra) => Err(format!("`{}`: unexpected `{extra}`", line.trim())),
            None => Ok(request),
        })
    }
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Request::Standby => f.write_str("standby"),
            Request::Active => f.write_str("active"),
            Request::Switchover { to: None } => f.write_str("switchover"),
            Request::Switchover { to: Some(to) } => write!(f, "switchover --to {to}"),
        }
    }
}

/// A node's answer to an operator's [`Request`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// The request's id.
    pub id: u64,
    /// What was asked.
    pub request: Request,
    /// Done, or refused and why (nothing changed then).
    pub outcome: Result<Accepted, Refusal>,
}

/// What an accepted request did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "accepted")]
pub enum Accepted {
    /// The node is in standby (`already`: it was); if it held the addresses, it is releasing
    /// them to `to`.
    Standby {
        /// The node the addresses go to.
        to: Option<String>,
        /// It was in standby already.
        already: bool,
    },
    /// The node takes part in the election again (`already`: it was not in standby).
    Active {
        /// It was not in standby.
        already: bool,
    },
    /// The owner is releasing the addresses to `to`, which keeps them against preemption.
    Switchover {
        /// The node they go to.
        to: String,
    },
}

impl fmt::Display for Accepted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Accepted::Standby { already: true, .. } => f.write_str("already in standby"),
            Accepted::Standby { to: Some(to), .. } => write!(
                f,
                "in standby: handing the addresses over to {to}; this node stays a backup until `failoverctl active`"
            ),
            Accepted::Standby { to: None, .. } => f.write_str(
                "in standby: this node will not take the addresses until `failoverctl active`",
            ),
            Accepted::Active { already: true } => f.write_str("not in standby (nothing to do)"),
            Accepted::Active { already: false } => {
                f.write_str("active: this node takes part in the election again")
            }
            Accepted::Switchover { to } => write!(
                f,
                "switchover: handing the addresses over to {to}, which keeps them until it lets them go"
            ),
        }
    }
}

/// Why a request was refused; the node changed nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "refused")]
pub enum Refusal {
    /// No other node answered the roll call as a live backup that may own the addresses
    /// (not a witness, not in standby) within `dead_after`.
    NoEligibleNode {
        /// How long the node waited for answers, in milliseconds.
        waited_ms: u64,
    },
    /// The node named did not answer the roll call within `dead_after`.
    NotAlive {
        /// The node named.
        node: String,
        /// How long the node waited, in milliseconds.
        waited_ms: u64,
    },
    /// No node of that name has been heard since this node started.
    UnknownNode {
        /// The name given.
        node: String,
        /// The nodes heard, in name order.
        known: Vec<String>,
    },
    /// The node named cannot take the addresses.
    Ineligible {
        /// The node named.
        node: String,
        /// Why not.
        why: Ineligible,
    },
    /// A switchover is asked of the node that owns the addresses, and this one does not.
    NotOwner {
        /// The owner as far as this node knows.
        owner: Option<String>,
    },
    /// A hand-over, a takeover, a release or a shutdown is under way: ask again once it ends.
    Busy {
        /// What is under way.
        what: Busy,
    },
    /// The hand-over was given up while waiting for answers: the node stopped owning the
    /// addresses meanwhile (it yielded, lost its lease, or is shutting down).
    Interrupted,
    /// A witness never holds the addresses: there is nothing to hand over or keep from it.
    Witness,
}

/// Why a node named in a switchover cannot take the addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ineligible {
    /// It is the node asked.
    Itself,
    /// It is a witness (quorum mode): it votes and never holds.
    Witness,
    /// It is in standby.
    Standby,
    /// It is taking over, holding or releasing the addresses itself.
    Claims,
}

/// What keeps a node from taking a request now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Busy {
    /// An operator's hand-over waits for its roll call.
    HandOver,
    /// A takeover or release of the addresses.
    Transition,
    /// A planned shutdown.
    Shutdown,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NoEligibleNode { waited_ms } => write!(
                f,
                "no eligible node is alive: no other node answered as a backup that may own the addresses (not a witness, not in standby) within {waited_ms} ms (dead_after); nothing changed"
            ),
            Refusal::NotAlive { node, waited_ms } => write!(
                f,
                "{node} is not alive: it did not answer within {waited_ms} ms (dead_after); nothing changed"
            ),
            Refusal::UnknownNode { node, known } if known.is_empty() => {
                write!(f, "unknown node {node}: no other node has been heard")
            }
            Refusal::UnknownNode { node, known } => write!(
                f,
                "unknown node {node}: the nodes heard are {}",
                known.join(", ")
            ),
            Refusal::Ineligible { node, why } => {
                let why = match why {
                    Ineligible::Itself => "it is this node",
                    Ineligible::Witness => "it is a witness, which never holds the addresses",
                    Ineligible::Standby => "it is in standby",
                    Ineligible::Claims => "it is taking over or holding the addresses itself",
                };
                write!(f, "{node} cannot take the addresses: {why}")
            }
            Refusal::NotOwner { owner: Some(owner) } => write!(
                f,
                "this node does not hold the addresses; {owner} does: run the switchover there"
            ),
            Refusal::NotOwner { owner: None } => {
                f.write_str("this node does not hold the addresses, and no owner is heard")
            }
            Refusal::Busy { what } => f.write_str(match what {
                Busy::HandOver => "busy: an operator's hand-over is waiting for answers; try again in a moment",
                Busy::Transition => "busy: a takeover or release is under way; try again once it has ended",
                Busy::Shutdown => "busy: this node is shutting down",
            }),
            Refusal::Interrupted => f.write_str(
                "interrupted: this node stopped owning the addresses while it waited for answers; nothing was handed over",
            ),
            Refusal::Witness => f.write_str("this node is a witness: it never holds the addresses"),
        }
    }
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
    /// A hand-back was called off: the better node came back, and this node's `Test` said not
    /// to give it the addresses (`vetoed`). This node keeps them, claims them, and asks again
    /// after a back-off (a repeated refusal is not notified again).
    HandBackVetoed {
        /// The node the addresses were to go back to.
        to: Option<String>,
        /// The address whose `Test` said no (the first no calls the whole hand-back off).
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
    /// lease in time (they are out of reach, or still promised to the owner, or their votes
    /// take so long to come back that less than a second of the lease is left).
    NoQuorum {
        /// The voters that granted it in time to add the addresses.
        granted: Vec<String>,
        /// The voters that granted it too late: what their grant left of the lease was less
        /// than the second of kernel lifetime an address needs.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        late: Vec<String>,
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
            Notification::HandBackVetoed { to, .. } => format!(
                "hand-back vetoed: Test hook kept the addresses from {}",
                to.as_deref().unwrap_or("unknown peer")
            ),
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
            Notification::NoQuorum {
                granted,
                late,
                needed,
            } => {
                let mut text = format!(
                    "no quorum: takeover given up; {} of {needed} needed voter(s) granted the lease in time ({})",
                    granted.len(),
                    granted.join(", ")
                );
                if !late.is_empty() {
                    text += &format!("; too late to add an address: {}", late.join(", "));
                }
                text
            }
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
    /// Quorum mode: a takeover has no lease to add its addresses under (a majority did not
    /// grant one in time, or it ran out while hooks ran). It asks for nothing more and ends as
    /// refused once the hook or address change in flight answers, which may be much later:
    /// the no-quorum notice it then sends names the voters as they stood at this moment.
    LeaseFailed,
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
    /// The answer to a [`Command::Operator`].
    Answer(Box<Answer>),
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
