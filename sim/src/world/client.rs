//! The client: a request to every virtual address every `client.interval`, sent to whichever
//! host its ARP cache names — the harsh part of failover that a holder list hides.
//!
//! - A gratuitous ARP (an acquisition, an announcement) updates an entry the client already
//!   has, if it crosses the network to the client (Linux creates none from one, `arp_accept=0`),
//!   `protocol.announce_latency` after the daemon asked for it (the world's `announce`).
//! - An entry is trusted for `client.arp_timeout` after it was last confirmed (an answered
//!   request or a gratuitous ARP); an answered request confirms it again.
//! - A request with no entry, or a stale one, is preceded by a broadcast ARP request: every
//!   host that has the address, is up, not frozen, and reachable both ways answers, and the
//!   last answer to arrive wins (so after a split brain the client may pick either).
//! - A request succeeds if the entry's host has the address, answers (up, not frozen; a
//!   stopped or killed daemon does not matter, the kernel and the service do) and is
//!   reachable both ways.
//!
//! Requests are counted when their outcome changes, not one by one: an hour of them costs
//! nothing while nothing happens.

use super::host::Host;
use crate::net::Cuts;
use crate::rng;
use crate::topology::Party;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// The random stream of ARP answer races.
const STREAM: u64 = 0x4152_5043; // "ARPC"

/// A cached ARP entry: which host's MAC address, and until when it is trusted.
#[derive(Clone, Copy, Debug)]
struct Entry {
    node: usize,
    trusted_until: u64,
}

/// The client's ARP cache and request accounting.
pub(super) struct Client {
    pub segment: usize,
    every: u64,
    arp_timeout: u64,
    latency: u64,
    jitter: u64,
    entries: Vec<Option<Entry>>,
    /// Per address: whether requests succeed now, and from when they are not yet reported.
    pub served: Vec<bool>,
    pub since: Vec<u64>,
    /// Something that may change an outcome happened at the current instant.
    pub dirty: bool,
    rng: ChaCha8Rng,
}

impl Client {
    pub fn new(
        seed: u64,
        segment: usize,
        every: u64,
        arp_timeout: u64,
        latency: u64,
        jitter: u64,
        vips: usize,
    ) -> Client {
        Client {
            segment,
            every,
            arp_timeout,
            latency,
            jitter,
            entries: vec![None; vips],
            served: vec![false; vips],
            since: vec![0; vips],
            dirty: false,
            rng: rng::fork(seed, STREAM),
        }
    }

    /// Whether host `n` answers the client for `vip` now.
    fn reaches(hosts: &[Host], cuts: &Cuts, segment: usize, n: usize, vip: usize) -> bool {
        let h = &hosts[n];
        h.answers()
            && h.held[vip]
            && cuts.passes(segment, Party::Client, Party::Node(n))
            && cuts.passes(segment, Party::Node(n), Party::Client)
    }

    /// A gratuitous ARP from host `n` for `vip` reaches the segment at `now`: the entry moves
    /// to it, if the announcement reaches the client and the client has an entry to move.
    /// Whether it named another host before.
    pub fn gratuitous(
        &mut self,
        hosts: &[Host],
        cuts: &Cuts,
        n: usize,
        vip: usize,
        now: u64,
    ) -> bool {
        let heard = hosts[n].answers() && cuts.passes(self.segment, Party::Node(n), Party::Client);
        let Some(entry) = self.entries[vip].as_mut().filter(|_| heard) else {
            return false;
        };
        let moved = entry.node != n;
        *entry = Entry {
            node: n,
            trusted_until: now + self.arp_timeout,
        };
        self.dirty = true;
        moved
    }

    /// Whether a request to `vip` at `now` succeeds, resolving the address first if the
    /// entry is missing or stale.
    pub fn request(&mut self, hosts: &[Host], cuts: &Cuts, vip: usize, now: u64) -> bool {
        if let Some(entry) = self.entries[vip].filter(|e| now < e.trusted_until) {
            return Self::reaches(hosts, cuts, self.segment, entry.node, vip);
        }
        let mut last: Option<(u64, usize)> = None;
        let answering: Vec<usize> = (0..hosts.len())
            .filter(|&n| Self::reaches(hosts, cuts, self.segment, n, vip))
            .collect();
        for &n in &answering {
            let delay = if answering.len() > 1 && self.jitter > 0 {
                self.latency + self.rng.random_range(0..=self.jitter)
            } else {
                self.latency
            };
            if last.is_none_or(|(d, _)| delay >= d) {
                last = Some((delay, n));
            }
        }
        match last {
            Some((_, node)) => {
                self.entries[vip] = Some(Entry {
                    node,
                    trusted_until: now + self.arp_timeout,
                });
                true
            }
            None => false,
        }
    }

    /// The requests of `vip` answered until `now` confirmed its entry: it is trusted
    /// `arp_timeout` after the last of them.
    pub fn confirmed_until(&mut self, vip: usize, now: u64) {
        let last_request = now.saturating_sub(1) / self.every * self.every;
        if let Some(entry) = self.entries[vip].as_mut() {
            entry.trusted_until = entry.trusted_until.max(last_request + self.arp_timeout);
        }
    }

    /// When the earliest entry of a failing address goes stale: the client asks again then.
    pub fn next_expiry(&self, now: u64) -> Option<u64> {
        (0..self.entries.len())
            .filter(|&v| !self.served[v])
            .filter_map(|v| self.entries[v].map(|e| e.trusted_until))
            .filter(|&t| t > now)
            .min()
    }

    /// When the first request at or after `since` is sent.
    pub fn first_request(&self, since: u64) -> u64 {
        since.div_ceil(self.every) * self.every
    }

    /// How many requests to `vip` fall in [since, now).
    pub fn requests_between(&self, since: u64, now: u64) -> u64 {
        now.div_ceil(self.every) - since.div_ceil(self.every)
    }
}
