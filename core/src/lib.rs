//! The IP failover protocol, written once and driven by any engine.
//!
//! A [`Node`] is a sans-I/O state machine in the style of quinn-proto and str0m: the driver feeds
//! it datagrams, timeouts and commands, each with the time as the driver's clock sees it, and
//! drains [`Output`]s (datagrams to send, addresses to acquire or release, hooks to run,
//! notifications). Core reads no clock, opens no socket and uses no OS randomness, which is why
//! the very same code runs under the deterministic simulator and in the production daemon.
//!
//! # Run loop
//!
//! Every driver — the daemon, the simulator, the turmoil and madsim hosts — obeys the same
//! rules; a driver that breaks one makes the simulator's verdicts say nothing about it.
//!
//! 1. **Time.** Every input carries `now` on one monotonic clock per node; an input never
//!    carries an instant earlier than the one before (checked in debug builds).
//! 2. **Input order.** At every wake-up the driver first collects everything ready — every
//!    datagram already in its sockets' buffers, every hook or address change that has ended,
//!    every operator command — and hands it over through an [`Inbox`]: datagrams first, in the
//!    order received; then answers and commands, in the order they came; then the timeout,
//!    only if it is still due. A timer never decides that a peer is silent while that peer's
//!    heartbeat waits unread (after a stall of the process, a VM pause, a starved CPU), and
//!    the ownership rule runs once all the datagrams are in, so a backlog is judged by the
//!    newest of what it says, not by an old heartbeat that a later one in it corrects.
//! 3. **Drain.** After handing inputs over, the driver drains [`Node::poll_output`] until it
//!    is empty and carries the outputs out in order, then sleeps until the next input or
//!    [`Node::poll_timeout`].
//! 4. **One request at a time.** Hooks ([`Output::RunHook`]) and address changes
//!    ([`Output::Acquire`], [`Output::Release`]) are requests: the driver runs them one after
//!    another in the order asked (core never has two outstanding) and answers each with a
//!    [`Command`]. A hook is killed at its request's `deadline`, on the clock core was given,
//!    so core and driver agree on when the hand-over went on. [`Output::Announce`] needs no
//!    answer.
//! 5. **Faults.** What a fault does to a node is the same everywhere: a *crash* ends the host
//!    (process, addresses, links); a *kill* ends the process only (its addresses stay until it
//!    starts again and removes them); a *pause* stops the process (datagrams queue in bounded
//!    buffers, the kernel keeps serving its addresses); a *freeze* stops the whole host (it
//!    neither runs nor answers; what is sent to it is lost).

pub mod acts;
pub mod config;
pub mod coverage;
pub mod hostconfig;
mod inbox;
pub mod io;
pub mod node;
pub mod role;
pub mod time;
pub mod wire;

pub use config::{Config, ConfigError};
pub use coverage::Coverage;
pub use inbox::Inbox;
pub use io::{
    Accepted, AddressChange, Answer, Busy, Command, Counters, DropReason, Event, HookEvent,
    HookKind, HookOutcome, HookRequest, Ineligible, Notification, Output, PathId, Refusal, Request,
    RequestId, Transmit, VipId,
};
pub use node::Node;
pub use role::Role;
pub use time::Instant;
