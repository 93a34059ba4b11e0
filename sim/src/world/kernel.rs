//! The host's kernel: addresses added to and removed from its interfaces (an add then
//! announced by gratuitous ARP), and in quorum mode each address's lifetime, renewed with the lease and
//! enforced when it runs out.

use super::{Due, World};
use crate::record::Observation;
use failover_core::{AddressChange, Instant};
use rand::Rng;

/// The random stream of the kernel's address-lifetime checks.
pub(super) const STREAM: u64 = 0x4b45_524e; // "KERN"

impl World<'_> {
    /// Quorum mode: the whole seconds of lifetime the kernel gives an address set now for a
    /// lease ending at `until` on host `i`'s clock, or why there is not one.
    pub(super) fn lifetime(&self, i: usize, until: Instant) -> Result<u64, String> {
        let local = self.hosts[i].clock.local(self.now);
        match until.as_nanos().saturating_sub(local) / 1_000_000_000 {
            0 => Err("lease ends within a second: no kernel lifetime to give".to_string()),
            secs => Ok(secs),
        }
    }

    /// The kernel counts `secs` from now on host `i`'s clock, and removes the address when
    /// it next checks after that: Linux's check runs about once a second and counts ages
    /// with a 20 ms fuzz, so from 20 ms early to a second late.
    pub(super) fn set_expiry(&mut self, i: usize, vip: usize, secs: u64) {
        let clock = self.hosts[i].clock;
        let end = clock.true_time(clock.local(self.now) + secs * 1_000_000_000);
        let at = (end + self.kernel.random_range(0..=1_020_000_000))
            .saturating_sub(20_000_000)
            .max(self.now);
        self.hosts[i].expires[vip] = Some(at);
        let (node, vip) = (i as u32, vip as u32);
        self.queue.push(at, Due::Expires { node, vip, at });
    }

    /// Quorum mode: the lease was renewed; the address's lifetime with it (and the address
    /// is added again if the kernel removed it early — the daemon's `replace` does that).
    pub(super) fn extend(&mut self, i: usize, vip: usize, until: Instant) {
        let Ok(secs) = self.lifetime(i, until) else {
            return;
        };
        if !self.hosts[i].held[vip] {
            if self.hosts[i].refuses(AddressChange::Add) {
                return;
            }
            self.change_address(i, AddressChange::Add, vip);
        }
        let addr = &self.vip_names[vip];
        self.note(Some(i), format!("lifetime of {addr}: {secs}s"));
        self.set_expiry(i, vip, secs);
    }

    /// Quorum mode: an address's lifetime is over, unless it was renewed since (`at`).
    pub(super) fn expire(&mut self, i: usize, vip: usize, at: u64) {
        if self.hosts[i].expires[vip] != Some(at) {
            return;
        }
        self.hosts[i].expires[vip] = None;
        if self.hosts[i].held[vip] {
            let addr = &self.vip_names[vip];
            self.note(
                Some(i),
                format!("kernel removed {addr}: its lifetime is over"),
            );
            self.change_address(i, AddressChange::Remove, vip);
        }
    }

    /// The kernel adds or removes an address of host `i` (the add then announced by
    /// gratuitous ARP, as the daemon does: `announce`).
    pub(super) fn change_address(&mut self, i: usize, change: AddressChange, vip: usize) {
        let add = change == AddressChange::Add;
        if !add {
            self.hosts[i].expires[vip] = None;
        }
        if std::mem::replace(&mut self.hosts[i].held[vip], add) == add {
            return;
        }
        let addr = self.vip_names[vip].clone();
        self.client.dirty = true;
        self.act(match add {
            true => Observation::Acquired { node: i, vip },
            false => Observation::Released { node: i, vip },
        });
        if add {
            self.note(Some(i), format!("acquire {addr} (gratuitous ARP)"));
            self.observe(Observation::Acquired { node: i, vip });
            self.announce(i, vip);
        } else {
            self.note(Some(i), format!("release {addr}"));
            self.observe(Observation::Released { node: i, vip });
        }
    }
}
