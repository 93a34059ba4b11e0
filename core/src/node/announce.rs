//! What a node says: heartbeats on every path, goodbyes, and announcements of the addresses
//! it holds (gratuitous ARP, done by the driver).

use super::peers::rank;
use super::{marks_of, Node};
use crate::config::Config;
use crate::coverage::{Point, Single};
use crate::io::{Output, PathId, Transmit};
use crate::role::Role;
use crate::time::Instant;
use crate::wire::{self, MessageKind};
use std::sync::Arc;

/// Heartbeats between two announcements of the held addresses (`u32::MAX`: never).
pub(super) fn beats_per_announce(config: &Config) -> u32 {
    config.announce_every().map_or(u32::MAX, |every| {
        let beats = every
            .as_nanos()
            .div_ceil(config.protocol.interval.as_nanos());
        u32::try_from(beats).unwrap_or(u32::MAX)
    })
}

impl Node {
    /// The heartbeat timer: send if this node owes the group a heartbeat, announce the held
    /// addresses when their turn comes, and set the next beat.
    pub(super) fn heartbeat_due(&mut self, now: Instant) {
        if self.active {
            self.send_heartbeats(MessageKind::Heartbeat);
            // The repetition after a role change ends on this timer, not on an input.
            if now >= self.repeat_until {
                self.active = self.sends_periodically();
            }
        }
        self.beats_to_announce = self.beats_to_announce.saturating_sub(1);
        // An owner that wakes from a stall (its process or host stopped) as long as the
        // others wait before taking over may find they did, pointed the clients at
        // themselves and gave the addresses up again (a planned shutdown, say) without a
        // word it could hear: it tells the clients where the addresses are at once, not at
        // its next periodic announcement.
        let stalled = now >= self.next_heartbeat + self.dead_after;
        if self.role == Role::Master && (self.beats_to_announce == 0 || stalled) {
            (self.coverage).hit(match stalled {
                true => Single::AnnounceAfterStall,
                false => Single::AnnouncePeriodic,
            });
            self.announce();
        }
        // After a stall, resume the rhythm from now instead of sending a burst.
        let interval = self.config.protocol.interval;
        self.next_heartbeat = if self.next_heartbeat + interval > now {
            self.next_heartbeat + interval
        } else {
            now + interval
        };
    }

    /// Clients another node may have reached — a rival claimant that yielded or died, a peer
    /// heard again after a silence in which it may have held the addresses — hold a stale
    /// neighbour entry until the owner announces itself again.
    pub(super) fn remind_clients(&mut self) {
        if self.role == Role::Master {
            self.coverage.hit(Single::AnnounceReminder);
            self.announce();
        }
    }

    /// Announces every held address again, and counts down to the next refresh.
    pub(super) fn announce(&mut self) {
        // Quorum mode: an owner whose lease ran out (it was stopped, say, and has not yet
        // looked) must not point clients at itself.
        if self.quorum.as_ref().is_some_and(|q| !q.leased(self.now)) {
            return;
        }
        if self.announced.replace(self.now) == Some(self.now) {
            return;
        }
        for vip in self.held_vips() {
            self.outputs.push_back(Output::Announce(vip));
        }
        self.beats_to_announce = self.beats_per_announce;
    }

    /// Whether this node owes the group a heartbeat every interval: it owns (or is taking or
    /// giving up) the addresses, it is starting up, its role changed within `dead_after`, or
    /// it outranks the owner and waits for the hand-back. Everyone else listens, which halves
    /// the traffic of the source's two-node setup.
    pub(super) fn sends_periodically(&self) -> bool {
        // A witness only answers.
        if self.config.node.witness {
            return false;
        }
        if self.role.claims_ownership() || !self.settled || self.now < self.repeat_until {
            return true;
        }
        // A roll call is repeated until it is answered or given up.
        if self.handover.is_some() {
            return true;
        }
        // (An owner that holds the addresses by a switchover hands nothing back: no need to
        // remind it.)
        let me = rank(self.priority(), &self.config.node.name);
        self.config.protocol.preempt
            && self.peers.iter().any(|p| {
                p.alive && p.role.claims_ownership() && p.rank() < me && !p.marks.switchover
            })
    }

    /// Sends one announcement on every path to every configured and every learned peer
    /// address: encoded (and signed) once, its bytes shared by every datagram.
    pub(super) fn send_heartbeats(&mut self, kind: MessageKind) {
        self.seq += 1;
        self.coverage.hit(Point::sent(kind, self.role));
        self.template.kind = kind;
        self.template.role = self.role;
        self.template.seq = self.seq;
        // What an operator's commands add, and the successor this node names.
        let marks = marks_of(self);
        let successor = self.heir.as_ref().filter(|h| h.mine).map(|h| &h.name);
        if marks != self.template.marks || successor != self.template.successor.as_ref() {
            self.template.marks = marks;
            self.template.successor = successor.cloned();
            self.payload = Arc::from(&[][..]);
        }
        // The previous announcement's bytes are usually delivered and dropped by now: rewrite
        // them (the template changes in nothing else). Otherwise, encode anew.
        let key = self.key.as_ref();
        let reused = Arc::get_mut(&mut self.payload)
            .is_some_and(|bytes| wire::restamp(bytes, kind, self.role, self.seq, key));
        if !reused {
            let mut bytes = Vec::with_capacity(128);
            wire::encode_into(&self.template, key, &mut bytes);
            self.payload = Arc::from(bytes);
        }
        // Quorum mode: a claimant's heartbeat asks the voters for its lease.
        if kind == MessageKind::Heartbeat && self.role.claims_ownership() {
            if let Some(q) = self.quorum.as_mut() {
                q.asked(self.seq, self.now, &self.config.node.name);
            }
        }
        let payload = &self.payload;
        for (i, destinations) in self.destinations.iter().enumerate() {
            for &to in destinations {
                self.counters.sent += 1;
                self.outputs.push_back(Output::Transmit(Transmit {
                    path: PathId(i),
                    to,
                    payload: Arc::clone(payload),
                }));
            }
        }
    }

    /// Says goodbye — naming `successor`, the node the addresses go to, when this node owned
    /// them — then reports `Stopped`: a driver may exit on that event, so everything the node
    /// still had to send comes before it.
    pub(super) fn stop(&mut self, successor: Option<String>) {
        self.coverage.hit(match successor {
            Some(_) => Single::GoodbyeSuccessor,
            None => Single::GoodbyeAlone,
        });
        self.heir = successor.map(|name| super::Heir {
            name,
            until: self.now,
            switchover: false,
            mine: true,
        });
        self.send_heartbeats(MessageKind::Goodbye);
        self.set_role(Role::Stopped);
    }

    pub(super) fn update_destinations(&mut self) {
        self.destinations = (self.config.paths.iter().enumerate())
            .map(|(i, path)| {
                let learned = self
                    .peers
                    .iter()
                    .filter_map(|p| p.paths[i].source)
                    .filter(|addr| !path.peers.contains(addr));
                path.peers.iter().copied().chain(learned).collect()
            })
            .collect();
    }
}
