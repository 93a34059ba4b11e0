//! An owner's gratuitous ARP on its way to the clients: `protocol.announce_latency` after the
//! daemon asks for it (an address added, or announced again), the frame reaches the segment —
//! the daemon's announcer (a task, a packet socket) and the wire. Measured against real
//! daemons in the namespace bed: 0.4–0.6 ms typically from the address added to the frame at
//! the client, 1.9 ms at the 90th percentile, 3.4 ms at worst on a loaded machine (README,
//! "the client"). Until then a client whose ARP entry names the old owner still sends to it.
//!
//! The frame goes out only from the daemon process that asked (one killed meanwhile sends
//! nothing), only for an address the host still holds (the daemon stops announcing one it
//! releases), and not while the daemon or its host is stopped (it goes when they run again).

use super::{Due, World};

impl World<'_> {
    /// Host `i`'s daemon starts announcing `vip`: the frame reaches the segment after
    /// `announce_latency`.
    pub(super) fn announce(&mut self, i: usize, vip: usize) {
        let latency = self.scenario.protocol.announce_latency.as_nanos() as u64;
        if latency == 0 {
            return self.gratuitous_arp(i, vip);
        }
        let due = Due::Announcement {
            node: i as u32,
            vip: vip as u32,
            incarnation: self.hosts[i].incarnation,
        };
        self.queue.push(self.now + latency, due);
    }

    /// The announcement of `vip` by host `i`'s daemon (`incarnation`) is due to leave.
    pub(super) fn announcement_due(&mut self, i: usize, vip: usize, incarnation: u64) {
        let h = &self.hosts[i];
        if h.node.is_none() || h.incarnation != incarnation {
            return;
        }
        if !h.runs() {
            self.hosts[i].announcing.push(vip);
            return;
        }
        self.gratuitous_arp(i, vip);
    }

    /// Host `i`'s daemon runs again: the announcements it held back leave now.
    pub(super) fn announce_held(&mut self, i: usize) {
        for vip in std::mem::take(&mut self.hosts[i].announcing) {
            self.gratuitous_arp(i, vip);
        }
    }

    /// Host `i`'s gratuitous ARP for `vip` reaches the segment, if it still holds `vip`.
    fn gratuitous_arp(&mut self, i: usize, vip: usize) {
        if !self.hosts[i].held[vip] {
            return;
        }
        let moved = (self.client).gratuitous(&self.hosts, &self.cuts, i, vip, self.now);
        if moved {
            let what = format!(
                "client: {} now at {}",
                self.vip_names[vip], self.hosts[i].name
            );
            self.note(None, what);
        }
    }
}
