//! The client's requests as the checkers see them: counted when their outcome changes, and
//! reported up to the instant before each change.

use super::World;
use crate::record::Observation;

impl World<'_> {
    /// Requests whose outcome may have changed at the current instant: report those before it
    /// under the old outcome, and take the new one.
    pub(super) fn settle_client(&mut self) {
        self.client.dirty = false;
        for v in 0..self.vip_names.len() {
            if self.client.served[v] {
                self.client.confirmed_until(v, self.now);
            }
            let ok = self.client.request(&self.hosts, &self.cuts, v, self.now);
            if ok != self.client.served[v] {
                self.flush_vip(v);
                self.client.served[v] = ok;
            }
        }
        let owner = self.hosts.len();
        match self.client.next_expiry(self.now) {
            Some(at) => self.queue.set_timer(owner, at),
            None => self.queue.clear_timer(owner),
        }
    }

    /// Reports the requests to `v` before now that are not reported yet.
    fn flush_vip(&mut self, v: usize) {
        let since = std::mem::replace(&mut self.client.since[v], self.now);
        let count = self.client.requests_between(since, self.now);
        if count > 0 {
            let ok = self.client.served[v];
            let first = self.client.first_request(since);
            self.observe(Observation::Requests {
                vip: v,
                ok,
                count,
                first,
            });
        }
    }

    pub(super) fn flush_client(&mut self) {
        for v in 0..self.vip_names.len() {
            self.flush_vip(v);
        }
    }
}
