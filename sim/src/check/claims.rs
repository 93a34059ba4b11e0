//! What a node can know of who claims the addresses, from the deliveries the engine recorded,
//! and the two notices that depend on it:
//!
//! - **A rival-claim notice** comes once the claim has lasted the owner's `dead_after` (with
//!   the priority skew, shortened by the fastest clock drift in the run): a lower owner that
//!   yields within an interval (two sides of a healed partition resolving) is no news. A
//!   claim is counted from the first delivery that announced it while the node owned (or
//!   from when the node became owner, if the last delivery did), and forgotten only when the
//!   node stopped claiming the addresses, restarted, or heard the rival announce another role —
//!   each of which makes the node forget it too, so the rule errs towards allowing. (A release
//!   is no end of owning: one its `Test` refuses leaves the node the owner, counting on.)
//! - **A failover notice names the previous owner** the node last knew: none only if it had
//!   heard no node claim the addresses since its daemon started, and otherwise one it had
//!   heard claim them, before its takeover began — or, for an owner asking again for an
//!   address it was refused, before the notice: that takeover begins with no role change the
//!   record shows, and the owner may have heard a releasing rival since it became owner.
//!   (Not judged in a run with reloads: a datagram of another group or key reaches the node
//!   but is dropped unread.)

use super::Context;
use failover_core::Role;

/// Per (receiver, sender): what the receiver heard the sender claim.
pub(super) struct HeardClaims {
    n: usize,
    /// By receiver then sender: the newest delivery announced `Master`.
    heard_master: Vec<bool>,
    /// By owner then rival: since when the claim has been heard while the owner owned.
    since: Vec<Option<u64>>,
    /// By receiver then sender: heard announcing a claiming role since the receiver started.
    claimed: Vec<bool>,
    /// `claimed` as each node's last takeover began.
    at_takeover: Vec<bool>,
    /// By node: it is the owner (a takeover it notifies now asked again for a refused
    /// address).
    owner: Vec<bool>,
    /// A reload may change a node's group or key: what reaches it is not what it reads.
    judge_names: bool,
}

impl HeardClaims {
    pub fn new(ctx: &Context) -> HeardClaims {
        let n = ctx.nodes.len();
        HeardClaims {
            n,
            heard_master: vec![false; n * n],
            since: vec![None; n * n],
            claimed: vec![false; n * n],
            at_takeover: vec![false; n * n],
            owner: vec![false; n],
            judge_names: ctx.reloads.iter().all(Option::is_none),
        }
    }

    /// A fresh datagram of `from` announcing `role` reached `node`, whose role is `mine`, at
    /// `at`.
    pub fn heard(&mut self, at: u64, node: usize, mine: Role, from: usize, role: Role) {
        let i = node * self.n + from;
        self.heard_master[i] = role == Role::Master;
        self.claimed[i] |= role.claims_ownership();
        if role != Role::Master {
            self.since[i] = None;
        } else if mine == Role::Master {
            self.since[i].get_or_insert(at);
        }
    }

    /// `node`'s role is `to` from `at` on.
    pub fn role(&mut self, at: u64, node: usize, to: Role) {
        let row = node * self.n..(node + 1) * self.n;
        self.owner[node] = to == Role::Master;
        for i in row.clone() {
            self.since[i] = match to {
                Role::Master if self.heard_master[i] => Some(self.since[i].unwrap_or(at)),
                // (a release its `Test` refused ends with the node owning still: core
                // forgets the claim only if it refreshes that peer meanwhile)
                Role::Releasing => self.since[i],
                _ => None,
            };
        }
        if to == Role::Acquiring {
            self.at_takeover[row.clone()].copy_from_slice(&self.claimed[row]);
        }
    }

    /// `node`'s daemon ended: it remembers nothing it heard.
    pub fn down(&mut self, node: usize) {
        for i in node * self.n..(node + 1) * self.n {
            self.heard_master[i] = false;
            self.since[i] = None;
            self.claimed[i] = false;
        }
    }

    /// What is wrong with `node` mailing at `at` that `rival` claims the addresses, if
    /// anything.
    pub fn early(&self, ctx: &Context, at: u64, node: usize, rival: &str) -> Option<String> {
        let r = ctx.nodes.iter().position(|(name, _)| name == rival)?;
        // (less a microsecond: a drifting clock's readings are rounded to the nanosecond)
        let wait = ctx.startup_wait(node, at) as f64 / (1.0 + ctx.max_drift_ppm / 1e6) - 1e3;
        let name = &ctx.nodes[node].0;
        match self.since[node * self.n + r] {
            Some(since) if (at - since) as f64 >= wait => None,
            Some(since) => Some(format!(
                "{name} notified at {} a rival claim of {rival}, heard claiming only since {}",
                super::secs(at),
                super::secs(since)
            )),
            None => Some(format!(
                "{name} notified at {} a rival claim of {rival}, not heard claiming while it owned",
                super::secs(at)
            )),
        }
    }

    /// What is wrong with the previous owner `from` that `node`'s failover notice at `at`
    /// names, if anything.
    pub fn misnamed(
        &self,
        ctx: &Context,
        at: u64,
        node: usize,
        from: Option<&str>,
    ) -> Option<String> {
        if !self.judge_names {
            return None;
        }
        let row = &self.at_takeover[node * self.n..(node + 1) * self.n];
        // (an owner asking again names whom it heard claim since it first took over)
        let named = if self.owner[node] {
            &self.claimed
        } else {
            &self.at_takeover
        };
        let name = &ctx.nodes[node].0;
        let when = super::secs(at);
        match from {
            None => row.iter().position(|&c| c).map(|c| {
                format!(
                    "{name}'s failover notice at {when} names no previous owner, though it had heard {} claim the addresses",
                    ctx.nodes[c].0
                )
            }),
            Some(from) => {
                let heard = (ctx.nodes.iter().position(|(n, _)| n == from)).is_some_and(|c| named[node * self.n + c]);
                (!heard).then(|| {
                    format!("{name}'s failover notice at {when} names {from} as the previous owner, never heard claiming the addresses")
                })
            }
        }
    }
}
