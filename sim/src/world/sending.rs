//! Datagrams a daemon sends: each through the network (cuts, the link's randomness) to the
//! host at its destination, then queued, one event per announcement, host and arrival time.

use super::{Due, World};
use crate::net::Fate;
use crate::net::Link;
use crate::topology::{self, Party};
use std::net::SocketAddr;
use std::sync::Arc;

/// An announcement on its way to one host, before it is queued: every path it lands on at
/// that instant.
pub(super) struct Outgoing {
    at: u64,
    to: u32,
    /// A bit per path at the destination.
    paths: u32,
    from: u32,
    payload: Arc<[u8]>,
}

impl World<'_> {
    /// Queues the datagrams an input made, one event per announcement, host and arrival time
    /// (in the order each was first sent).
    pub(super) fn send_outgoing(&mut self) {
        // (most inputs send nothing)
        if self.outgoing.is_empty() {
            return;
        }
        for o in self.outgoing.drain(..) {
            let due = Due::Arrival {
                to: o.to,
                paths: o.paths,
                from: o.from,
                payload: o.payload,
            };
            self.queue.push(o.at, due);
        }
    }

    /// A datagram on its way: an announcement sent on several paths that lands on them at
    /// once arrives as one.
    fn on_its_way(&mut self, at: u64, to: u32, path: u32, from: u32, payload: Arc<[u8]>) {
        let same = |o: &&mut Outgoing| {
            (o.at, o.to, o.from) == (at, to, from) && Arc::ptr_eq(&o.payload, &payload)
        };
        match self.outgoing.iter_mut().find(same) {
            Some(o) => o.paths |= 1 << path,
            None => self.outgoing.push(Outgoing {
                at,
                to,
                paths: 1 << path,
                from,
                payload,
            }),
        }
    }

    pub(super) fn transmit(&mut self, i: usize, path: usize, to: SocketAddr, payload: Arc<[u8]>) {
        let segment = self.hosts[i].segments[path];
        let from = self.addresses[segment][i];
        let n = self.hosts.len();
        let dest = topology::owner_of(to, self.scenario.segments.len())
            .filter(|&(s, j)| s == segment && j < n && j != i);
        let tag = 1 << 32 | (i as u64) << 16 | (segment as u64) << 8;
        let Some((_, j)) = dest else {
            self.trace.datagram(self.now, tag, &payload, || {
                (String::new(), format!("no host at {to}"))
            });
            return;
        };
        let path_at_dest = self.hosts[j].segments.iter().position(|&s| s == segment);
        let (Some(dest_path), true) = (
            path_at_dest,
            self.cuts.passes(segment, Party::Node(i), Party::Node(j)),
        ) else {
            self.trace.datagram(self.now, tag | 1, &payload, || {
                (String::new(), format!("cut: {from} -> {to}"))
            });
            return;
        };
        let fate = match self.fixed_latency[segment] {
            Some(latency) => Fate::Delivered(latency, None),
            None => {
                let idx = (segment * n + i) * n + j;
                let seed = self.seed;
                let link = self.links[idx].get_or_insert_with(|| Link::new(seed, segment, i, j));
                let seg = &self.scenario.segments[segment];
                link.fate(seg, &self.impairments[segment], self.interval)
            }
        };
        match fate {
            Fate::Lost => {
                self.trace.datagram(self.now, tag | 2, &payload, || {
                    (String::new(), format!("lost: {from} -> {to}"))
                });
            }
            Fate::Delivered(delay, dup) => {
                self.trace.datagram(self.now, tag | 3, &payload, || {
                    (String::new(), format!("send: {from} -> {to}"))
                });
                let (to, path, from) = (j as u32, dest_path as u32, i as u32);
                if let Some(d2) = dup {
                    self.on_its_way(self.now + d2, to, path, from, payload.clone());
                }
                self.on_its_way(self.now + delay, to, path, from, payload);
            }
        }
    }
}
