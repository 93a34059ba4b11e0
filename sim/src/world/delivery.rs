//! What reaches a daemon, and when it is handed over: datagrams into its socket buffers, a
//! host woken at an instant and handed its inbox by the input rule once everything due then
//! is in, and the daemon's timer set from core's next deadline.

use super::World;
use crate::record::Observation;
use crate::topology;
use failover_core::{Instant, Node, PathId, Role};
use std::sync::Arc;

/// A datagram's bytes lent to a daemon that reads them at once: shared (reference counted)
/// only if they have to wait in its socket buffers after all.
struct Lent<'a>(&'a Arc<[u8]>);

impl AsRef<[u8]> for Lent<'_> {
    fn as_ref(&self) -> &[u8] {
        self.0
    }
}

impl From<Lent<'_>> for Arc<[u8]> {
    fn from(lent: Lent<'_>) -> Arc<[u8]> {
        Arc::clone(lent.0)
    }
}

impl World<'_> {
    /// Datagrams reach host `to` on `paths`: into its daemon's socket buffers, if the host
    /// runs, is not frozen (its network is gone) and the daemon has its sockets open.
    pub(super) fn arrive(&mut self, to: usize, paths: u32, from: usize, payload: Arc<[u8]>) {
        let host = &self.hosts[to];
        if !host.answers() || host.node.is_none() {
            return;
        }
        // (a scenario has at most 4 segments: no allocation per arrival)
        let mut on = [(PathId(0), topology::address(0, 0)); 4];
        let mut count = 0;
        for p in (0..host.segments.len()).filter(|p| paths & 1 << p != 0) {
            let addr = self.addresses[host.segments[p]][from];
            self.trace
                .delivery(self.now, (to as u64) << 8 | p as u64, || {
                    (
                        String::new(),
                        format!("deliver to {to} on path {p} from {addr}"),
                    )
                });
            on[count] = (PathId(p), addr);
            count += 1;
        }
        self.tamper_after(to, paths, from, &payload);
        let stamp = failover_core::wire::stamp_of(&payload);
        let fresh = stamp > self.newest[to * self.hosts.len() + from];
        // Alone at this instant (nothing else is due now, nothing waits to be handed over):
        // straight to a running daemon, by the same rule, without queueing them first.
        let alone = !self.hosts[to].woken && self.queue.peek_time().is_none_or(|at| at > self.now);
        if alone && self.hosts[to].runs() {
            if fresh {
                self.hear(to, from, stamp, &payload);
            }
            let host = &mut self.hosts[to];
            let now = Instant::from_nanos(host.clock.local(self.now));
            host.ledger.handed(now.as_nanos());
            for &(path, _) in &on[..count] {
                (host.ledger).datagram(from, path.0, &payload, stamp, Some(now.as_nanos()));
            }
            let node = host.node.as_mut().expect("a running daemon");
            let lent = on[..count]
                .iter()
                .map(|&(path, addr)| (path, addr, Lent(&payload)));
            host.inbox.deliver_now(node, now, lent);
            host.handed = true;
            self.after_input(to);
            return;
        }
        let host = &mut self.hosts[to];
        let (mut kept, mut dropped) = (false, 0);
        for &(path, addr) in &on[..count] {
            match host.inbox.datagram(path, addr, Arc::clone(&payload)) {
                true => {
                    kept = true;
                    host.ledger.datagram(from, path.0, &payload, stamp, None);
                }
                false => dropped += 1,
            }
        }
        // What a full buffer dropped was never heard: only what it kept counts.
        if fresh && kept {
            self.hear(to, from, stamp, &payload);
        }
        if dropped > 0 {
            let what = format!("socket buffer full: {dropped} datagram(s) dropped");
            self.note(Some(to), what);
            self.observe(Observation::BufferOverflowed { node: to, dropped });
        }
        if kept {
            self.wake(to);
        }
    }

    /// A datagram of `from` newer than any before it reached `to`'s daemon (read now, or
    /// waiting in its socket buffers): what the split-brain checker judges takeovers by.
    fn hear(&mut self, to: usize, from: usize, stamp: Option<(u64, u64)>, payload: &[u8]) {
        self.newest[to * self.hosts.len() + from] = stamp;
        let role = failover_core::wire::role_of(payload).unwrap_or(Role::Backup);
        self.observe(Observation::Heard {
            node: to,
            from,
            role,
        });
    }

    /// Host `i` has something to hand its daemon (or its timer is due): at once if nothing
    /// else is due at this instant, else once everything due now is in.
    pub(super) fn wake(&mut self, i: usize) {
        if self.hosts[i].woken {
            return;
        }
        if self.queue.peek_time().is_none_or(|at| at > self.now) {
            self.hand_over(i);
        } else {
            self.hosts[i].woken = true;
            self.woken.push(i);
        }
    }

    /// Hands host `i`'s daemon its inputs by the input rule, if it runs, and carries out
    /// what it asks for.
    fn hand_over(&mut self, i: usize) {
        if !self.hosts[i].runs() {
            return;
        }
        let now = self.local(i);
        let host = &mut self.hosts[i];
        host.ledger.handed(now.as_nanos());
        let node = host.node.as_mut().expect("a running daemon");
        host.inbox.deliver(node, now);
        host.handed = true;
        self.after_input(i);
    }

    /// Hands every woken host's daemon its inputs by the input rule, and carries out what it
    /// asks for.
    pub(super) fn wake_all(&mut self) {
        let mut woken = std::mem::take(&mut self.woken);
        woken.sort_unstable();
        for i in woken.drain(..) {
            self.hosts[i].woken = false;
            self.hand_over(i);
        }
        self.woken = woken;
    }

    pub(super) fn local(&self, i: usize) -> Instant {
        Instant::from_nanos(self.hosts[i].clock.local(self.now))
    }

    pub(super) fn reschedule(&mut self, i: usize, force: bool) {
        let handed = std::mem::take(&mut self.hosts[i].handed);
        let h = &self.hosts[i];
        let Some(local) = h.node.as_ref().and_then(Node::poll_timeout) else {
            return;
        };
        if handed && local.as_nanos() <= h.clock.local(self.now) {
            self.timer_left_due(i);
        }
        let h = &self.hosts[i];
        let at = h.clock.true_time(local.as_nanos()).max(self.now);
        if force || self.queue.timer(i).is_none_or(|cur| at < cur) {
            self.queue.set_timer(i, at);
        }
    }

    /// Core's timer is handed over last, if due, once a node has read everything: after it
    /// nothing may be due at that instant any more. One that is would wake again at once —
    /// a burst of heartbeats at one instant instead of one rhythm resumed after a stall.
    #[cold]
    fn timer_left_due(&mut self, i: usize) {
        if self.core_broken.is_none() {
            let name = &self.hosts[i].name;
            let why = "its timer is still due at the instant it ran (a burst at one instant)";
            self.core_broken = Some(format!("{name} at {}: {why}", crate::check::secs(self.now)));
        }
    }
}
