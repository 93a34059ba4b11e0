//! The one input order every driver obeys, as code: drivers put what they received into an
//! [`Inbox`] and let it hand everything to the node.
//!
//! The rule (see the crate documentation, "Run loop"): at every wake-up, first every datagram
//! already received, in the order received; then every answer and command (hook results,
//! address changes, operator commands), in the order they came; and only then the timer, if
//! it is still due. A timer never fires while evidence that would have stopped it is waiting
//! unread: after a stall (SIGSTOP, a VM pause, a starved CPU) the owner's heartbeats queued in
//! the socket buffers are seen before the silence they end is judged (keepalived's issue
//! #2066, "A thread timer expired", is this bug). The datagrams go in as one batch
//! ([`Node::handle_datagrams`]): the ownership rule judges the backlog by its newest word.

use crate::coverage::Single;
use crate::io::{Command, PathId};
use crate::node::Node;
use crate::time::Instant;
use std::net::SocketAddr;

/// One received datagram, waiting for the node.
#[derive(Clone, Debug)]
struct Datagram<B> {
    path: PathId,
    from: SocketAddr,
    bytes: B,
}

/// Inputs a driver has received but not yet handed to the node. `B` is however the driver
/// holds a datagram's bytes (a `Vec<u8>` read from a socket, a shared `Arc<[u8]>`...).
///
/// Each path holds at most `capacity` datagrams, like a socket's receive buffer: what arrives
/// when it is full is dropped (counted in [`Inbox::overflowed`]). A driver that reads real
/// sockets has the kernel's buffer for that and may leave the inbox unbounded; the simulator
/// bounds it so a paused node loses what a paused process would.
#[derive(Clone, Debug)]
pub struct Inbox<B> {
    datagrams: Vec<Datagram<B>>,
    commands: Vec<Command>,
    capacity: usize,
    /// Datagrams waiting, per path.
    waiting: Vec<usize>,
    overflowed: u64,
}

impl<B: AsRef<[u8]>> Inbox<B> {
    /// An inbox for `paths` paths holding at most `capacity` datagrams on each.
    pub fn new(paths: usize, capacity: usize) -> Inbox<B> {
        Inbox {
            datagrams: Vec::new(),
            commands: Vec::new(),
            capacity,
            waiting: vec![0; paths],
            overflowed: 0,
        }
    }

    /// A datagram received on `path` from `from`; false if that path's buffer was full and
    /// it was dropped.
    pub fn datagram(&mut self, path: PathId, from: SocketAddr, bytes: B) -> bool {
        if let Some(waiting) = self.waiting.get_mut(path.0) {
            if *waiting >= self.capacity {
                self.overflowed += 1;
                return false;
            }
            *waiting += 1;
        }
        self.datagrams.push(Datagram { path, from, bytes });
        true
    }

    /// A hook's or an address change's answer, or an operator's command.
    pub fn command(&mut self, command: Command) {
        self.commands.push(command);
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.datagrams.is_empty() && self.commands.is_empty()
    }

    /// Datagrams dropped because their path's buffer was full.
    pub fn overflowed(&self) -> u64 {
        self.overflowed
    }

    /// Forgets everything waiting (the process that would have read it is gone).
    pub fn clear(&mut self) {
        self.datagrams.clear();
        self.commands.clear();
        self.waiting.fill(0);
    }

    /// Datagrams that are all there is at `now` (nothing waits, nothing else is due): handed
    /// straight to `node` in order, then the timer if due — the rule, without queueing what
    /// would be taken out again at once. With anything already waiting they join the queue
    /// and everything is handed over in order. They may be borrowed (`D`): they become the
    /// inbox's own `B` only if they have to wait.
    pub fn deliver_now<D: AsRef<[u8]> + Into<B>>(
        &mut self,
        node: &mut Node,
        now: Instant,
        datagrams: impl IntoIterator<Item = (PathId, SocketAddr, D)>,
    ) {
        if self.is_empty() {
            let mut datagrams = datagrams.into_iter().peekable();
            if datagrams.peek().is_some() && due(node, now) {
                node.coverage.hit(Single::TimerAfterDatagrams);
            }
            node.handle_datagrams(now, datagrams);
            if due(node, now) {
                node.handle_timeout(now);
            }
        } else {
            for (path, from, bytes) in datagrams {
                self.datagram(path, from, bytes.into());
            }
            self.deliver(node, now);
        }
    }

    /// Hands everything waiting to `node` at `now` in the rule's order — datagrams, then
    /// answers and commands, then the timer if it is due once they are all in. The node's
    /// outputs pile up in order; drain them after this returns.
    pub fn deliver(&mut self, node: &mut Node, now: Instant) {
        if due(node, now) {
            // The situations the rule exists for (coverage only: the order is the same).
            if !self.datagrams.is_empty() {
                node.coverage.hit(Single::TimerAfterDatagrams);
            }
            if !self.commands.is_empty() {
                node.coverage.hit(Single::TimerAfterCommands);
            }
        }
        if !self.datagrams.is_empty() {
            let datagrams = self.datagrams.drain(..).map(|d| (d.path, d.from, d.bytes));
            node.handle_datagrams(now, datagrams);
            self.waiting.fill(0);
        }
        for command in self.commands.drain(..) {
            node.handle_command(now, command);
        }
        if due(node, now) {
            node.handle_timeout(now);
        }
    }
}

/// Whether `node`'s timer is due at `now`.
fn due(node: &Node, now: Instant) -> bool {
    node.poll_timeout().is_some_and(|due| due <= now)
}
