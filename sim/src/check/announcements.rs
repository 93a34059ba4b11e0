//! An owner's announcements keep their rhythm: on a healthy network where nothing happens, it
//! announces an address again every `protocol.announce_every`, not more often. A gratuitous
//! ARP is a broadcast every host on the segment handles, so a daemon that sends them at every
//! heartbeat floods the segment (keepalived's `garp_master_refresh` is minutes for that
//! reason); one that repeats a reminder no event asked for is as wrong.
//!
//! Judged: an announcement of an address by a node less than half `announce_every` after
//! its previous one (any, with `announce_every = "0s"`: never again), all through a healthy
//! stretch that began `dead_after` and an interval before the previous one (a stall or a
//! silence that began earlier may still be what it reminds of), is a reminder, and needs a
//! reason seen since the last announcement that no other reminder spent. Every observation
//! but deliveries, status reads and client requests is one — a role change, a notice, a
//! node up or down, a pause, a fault, an operator's request —; so is a datagram of a peer not
//! heard for more than one and a half of the peer's intervals (a node that only listens is
//! heard again when it speaks, and the owner reminds the clients: it may have held the
//! addresses meanwhile). Several peers heard again at one instant are several reasons: the
//! daemon reads them in one go and reminds the clients for each. Judged only with every
//! delivery recorded ([`Context::deliveries`]), and not on a segment that loses datagrams
//! all along.

use super::{secs, Checker, Context, Findings, Observation};
use std::rc::Rc;

/// Watches each node's announcements of each address.
pub struct Announcements {
    ctx: Rc<Context>,
    /// Whether the run is judged at all (see the module's doc): if not, nothing is tracked.
    judged: bool,
    /// How many observations that may call for a reminder were seen so far.
    events: u64,
    /// The last instant seen, and `events` before it.
    now: (u64, u64),
    /// Per node and address: the last announcement, and how many of `events` it and the
    /// reminders before it accounted for.
    last: Vec<Vec<Option<(u64, u64)>>>,
    /// Per node and peer: when it last heard the peer.
    heard: Vec<Vec<Option<u64>>>,
    found: Findings,
}

impl Announcements {
    pub(super) fn new(ctx: &Rc<Context>) -> Announcements {
        Announcements {
            judged: ctx.deliveries && !ctx.lossy,
            events: 0,
            now: (0, 0),
            last: vec![vec![None; ctx.vips]; ctx.nodes.len()],
            heard: vec![vec![None; ctx.nodes.len()]; ctx.nodes.len()],
            found: Findings::default(),
            ctx: ctx.clone(),
        }
    }

    /// Whether `node`'s announcement at `at` came less than half `announce_every` after its
    /// previous one at `since` (any, with `announce_every = "0s"`), both in one healthy
    /// stretch that began `dead_after` and an interval before `since`.
    fn too_soon(&self, node: usize, since: u64, at: u64) -> bool {
        let settings = self.ctx.settings_at(node, since);
        let lookback = (settings.dead_after + settings.interval).as_nanos() as u64;
        let from = since.saturating_sub(lookback);
        self.ctx.healthy_within(from, at) == at - from
            && (settings.announce_every)
                .is_none_or(|every| at - since < every.as_nanos() as u64 / 2)
    }

    fn violate(&mut self, node: usize, vip: usize, since: u64, at: u64) {
        let every = (self.ctx.settings_at(node, since).announce_every)
            .map_or("never again".into(), |e| {
                format!("announce_every {}", secs(e.as_nanos() as u64))
            });
        let detail = format!(
            "{} announced address {vip} at {} and again at {}, with no reason left between \
             them on a healthy network ({every})",
            self.ctx.nodes[node].0,
            secs(since),
            secs(at)
        );
        self.found.violate("announcements", detail);
    }
}

impl Checker for Announcements {
    fn observe(&mut self, at: u64, obs: &Observation) {
        if !self.judged {
            return;
        }
        if at != self.now.0 {
            self.now = (at, self.events);
        }
        match *obs {
            Observation::Announced { node, vip } => {
                let used = match self.last[node][vip] {
                    // A reminder: it spends one reason seen since the last announcement.
                    Some((since, used)) if self.too_soon(node, since, at) => {
                        if used == self.events {
                            self.violate(node, vip, since, at);
                        }
                        (used + 1).min(self.events)
                    }
                    // A periodic refresh, or one after a fault, starts the count afresh:
                    // reasons seen before this instant are done with, those seen at it may
                    // still call for reminders (the refresh's turn may come as a peer
                    // comes back).
                    _ => self.now.1,
                };
                self.last[node][vip] = Some((at, used));
            }
            Observation::Heard { node, from, .. } => {
                let rhythm = self.ctx.settings_at(from, at).interval.as_nanos() as u64;
                let last = self.heard[node][from].replace(at);
                if last.is_none_or(|t| at - t > rhythm * 3 / 2) {
                    self.events += 1;
                }
            }
            Observation::Status { .. }
            | Observation::Grants { .. }
            | Observation::Requests { .. } => {}
            _ => self.events += 1,
        }
    }

    fn judges_deliveries(&self) -> bool {
        self.judged
    }

    fn finish(&mut self, _at: u64, findings: &mut Findings) {
        findings.violations.append(&mut self.found.violations);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::{Fault, FaultKind};
    use crate::scenario::Scenario;
    use std::time::Duration;

    const S: u64 = 1_000_000_000;

    fn judge(scenario: &Scenario, faults: &[Fault], record: &[(u64, Observation)]) -> Vec<String> {
        let ctx = Context {
            deliveries: true,
            ..Context::new(scenario, faults)
        };
        crate::check::violations(Announcements::new(&Rc::new(ctx)), record)
    }

    fn announced(node: usize) -> Observation {
        Observation::Announced { node, vip: 0 }
    }

    #[test]
    fn announcements_every_announce_every_pass() {
        // (the pair's interval is 1 s: core announces every 10 s by default)
        let record: Vec<_> = (1..6).map(|k| (k * 10 * S, announced(0))).collect();
        assert!(judge(&super::super::pair(), &[], &record).is_empty());
    }

    #[test]
    fn an_announcement_at_every_heartbeat_on_a_quiet_network_is_a_violation() {
        let record: Vec<_> = (10..14).map(|k| (k * S, announced(0))).collect();
        let found = judge(&super::super::pair(), &[], &record);
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found[0].contains("master announced address 0 at 10.000s and again at 11.000s"));
    }

    #[test]
    fn an_event_between_two_announcements_may_call_for_a_reminder() {
        let record = [
            (9 * S + S / 2, heard(1)),
            (10 * S, announced(0)),
            (10 * S + S / 4, heard(1)),
            (
                (10 * S + S / 2),
                Observation::RoleChanged {
                    node: 1,
                    from: failover_core::Role::Master,
                    to: failover_core::Role::Backup,
                },
            ),
            (11 * S, announced(0)),
            // A delivery in the peer's rhythm is no event.
            (11 * S + S / 2, heard(1)),
            (12 * S, announced(0)),
        ];
        let found = judge(&super::super::pair(), &[], &record);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("at 11.000s and again at 12.000s"),
            "{found:?}"
        );
    }

    fn heard(from: usize) -> Observation {
        Observation::Heard {
            node: 0,
            from,
            role: failover_core::Role::Backup,
        }
    }

    #[test]
    fn a_peer_heard_again_after_a_silence_may_call_for_a_reminder() {
        let record = [
            (10 * S, heard(1)),
            (11 * S, heard(1)),
            (20 * S, announced(0)),
            // Silent for 9 s: back.
            (20 * S + 1, heard(1)),
            (20 * S + 2, announced(0)),
            // In its rhythm again: no reason.
            (21 * S, heard(1)),
            (21 * S + 1, announced(0)),
        ];
        let found = judge(&super::super::pair(), &[], &record);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("at 20.000s and again at 21.000s"),
            "{found:?}"
        );
    }

    #[test]
    fn peers_heard_again_at_one_instant_are_a_reason_each() {
        let record = [
            (10 * S, announced(0)),
            (20 * S, heard(1)),
            (20 * S, heard(2)),
            // (its refresh's turn, and a reminder for each)
            (20 * S, announced(0)),
            (20 * S, announced(0)),
            (20 * S, announced(0)),
            (20 * S, announced(0)),
        ];
        let mut scenario = super::super::pair();
        scenario.nodes.push(scenario.nodes[1].clone());
        scenario.nodes[2].name = "charlie".into();
        let found = judge(&scenario, &[], &record);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("at 20.000s and again at 20.000s"),
            "{found:?}"
        );
    }

    #[test]
    fn announcements_near_a_fault_are_not_judged() {
        let pause = Fault {
            at: Duration::from_secs(20),
            duration: Some(Duration::from_secs(2)),
            kind: FaultKind::Pause { node: 0 },
        };
        // Each pair straddles or follows the pause within its settling time.
        let record = [(19 * S, announced(0)), (23 * S, announced(0))];
        assert!(judge(&super::super::pair(), &[pause], &record).is_empty());
    }

    #[test]
    fn with_announce_every_zero_an_owner_never_announces_twice_without_a_reason() {
        let mut scenario = super::super::pair();
        scenario.protocol.announce_every = Some(Duration::ZERO);
        let record = [(10 * S, announced(0)), (50 * S, announced(0))];
        let found = judge(&scenario, &[], &record);
        assert!(found[0].contains("(never again)"), "{found:?}");
        // Another node's, or another address's, is its own.
        let record = [(10 * S, announced(0)), (50 * S, announced(1))];
        assert!(judge(&scenario, &[], &record).is_empty());
    }
}
