//! Datagrams a daemon sends: each through the network (cuts, the link's randomness) to the
//! host at its destination, then queued, one event per announcement, host and arrival time.

use super::{Due, World};
use crate::net::Fate;
use crate::net::Link;
use crate::topology::{self, Party};
use std::net::SocketAddr;
use std::sync::Arc;

/// A datagram on its way, before it is queued.
pub(super) struct Outgoing {
    at: u64,
    to: u32,
    path: u32,
    from: u32,
    payload: Arc<[u8]>,
}

impl Outgoing {
    /// Whether it arrives with `other`: the same announcement, host and instant.
    fn joins(&self, other: &Outgoing) -> bool {
        (self.at, self.to, self.from) == (other.at, other.to, other.from)
            && Arc::ptr_eq(&self.payload, &other.payload)
    }
}

impl World<'_> {
    /// Queues the datagrams an input made, one event per announcement, host and arrival
    /// time: an announcement sent on several paths that lands on them at once arrives as one.
    pub(super) fn send_outgoing(&mut self) {
        let mut outgoing = std::mem::take(&mut self.outgoing);
        for k in 0..outgoing.len() {
            let Some(first) = outgoing[k].take() else {
                continue;
            };
            let mut paths = 1 << first.path;
            for later in outgoing[k + 1..].iter_mut() {
                if later.as_ref().is_some_and(|l| l.joins(&first)) {
                    paths |= 1 << later.take().expect("some").path;
                }
            }
            let due = Due::Arrival {
                to: first.to,
                paths,
                from: first.from,
                payload: first.payload,
            };
            self.queue.push(first.at, due);
        }
        outgoing.clear();
        self.outgoing = outgoing;
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
                let at = self.now + delay;
                if let Some(d2) = dup {
                    let payload = payload.clone();
                    let at = self.now + d2;
                    (self.outgoing).push(Some(Outgoing {
                        at,
                        to,
                        path,
                        from,
                        payload,
                    }));
                }
                (self.outgoing).push(Some(Outgoing {
                    at,
                    to,
                    path,
                    from,
                    payload,
                }));
            }
        }
    }
}
