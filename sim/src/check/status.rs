//! What a node reports about itself (`failoverctl status`, metrics) agrees with what the engine
//! that ran it knows, independently of core's logic: operators and dashboards read these
//! figures, and a wrong one misleads them however well the protocol behaves.
//!
//! The engine takes the node's status at a few instants (a role change, a fault's boundary,
//! a promise's end, every second of simulated time) — each when the node has just read every
//! input it had, so nothing it was handed is unread — and records it beside its own ledger of
//! that daemon process ([`Observation::Status`]). The ledger is kept from the datagrams
//! themselves: each genuine datagram's header stamp (boot epoch, sequence number) says whether
//! it is newer than everything its sender sent before on that path, which is exactly what a
//! receiver may accept. This checker compares:
//!
//! - **conservation**: every datagram handed to the process is counted once — `received`
//!   equals the fresh ones, the four drop counters together equal the stale copies (the
//!   network's duplicates, late reorderings) plus the attacker's; `replayed` is at least the
//!   stale copies; `sent` equals the datagrams the engine took from its outputs, none of
//!   them a second copy to an address on a path that already had one; the previous key's
//!   count is at least the genuine datagrams that key alone signs (an operator removes the
//!   old key once it stops growing);
//! - **peers**: exactly the senders of fresh datagrams are listed, in name order, each with the newest boot
//!   epoch delivered, each path's `last_heard_ms` the age of the newest fresh datagram there
//!   (in the node's own clock), and alive only if one was heard within `dead_after` (plus the
//!   priority skew, under an interval) and it said no goodbye since; dead only if none was
//!   heard within `dead_after` or it said goodbye;
//! - **quorum**: a master has lease left, never more than a lease lasts; a voter shown as granting did
//!   grant (a vote delivered to this process), no longer ago than its grant arrived; a
//!   promise to another node is shown only while the grant this node sent it runs.

use super::{secs, Checker, Context, Findings, Observation};
use failover_core::{Counters, Role};
use serde::{Deserialize, Serialize};
use std::rc::Rc;

const MS: u64 = 1_000_000;

/// A node's status at one instant, and what the engine knows of that daemon process.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatusSeen {
    /// The node's clock, nanoseconds.
    pub local: u64,
    /// What its status says.
    pub said: Said,
    /// What the engine knows.
    pub known: Known,
}

/// The parts of [`failover_core::node::Status`] judged here.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Said {
    /// Its role.
    pub role: Role,
    /// Its counters.
    pub counters: Counters,
    /// Every peer listed: name, boot epoch, alive, per path the milliseconds since heard.
    pub peers: Vec<PeerSaid>,
    /// Quorum mode: its lease and promise.
    pub quorum: Option<QuorumSaid>,
}

/// One peer of [`Said::peers`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeerSaid {
    /// Its name.
    pub name: String,
    /// Its boot epoch.
    pub epoch: u64,
    /// Whether it counts as alive.
    pub alive: bool,
    /// Per path, milliseconds since last heard there.
    pub last_heard_ms: Vec<Option<u64>>,
    /// The role it last announced.
    pub role: Role,
    /// Whether it says it is in standby.
    pub standby: bool,
}

/// The quorum figures of a status.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuorumSaid {
    /// Milliseconds left of its lease.
    pub lease_left_ms: u64,
    /// Per voter, by name: milliseconds since the newest request it granted was sent.
    pub granted_ms_ago: Vec<(String, Option<u64>)>,
    /// The node its own vote is promised to.
    pub promised_to: Option<String>,
}

/// What the engine knows of one daemon process, since it started.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Known {
    /// Genuine datagrams handed to it that were newer than any of their sender's on their
    /// path (and of no older boot epoch than its newest).
    pub fresh: u64,
    /// Genuine datagrams handed to it that were not: duplicates, late copies.
    pub stale: u64,
    /// Genuine datagrams of another group (by the group its file then names) handed to it.
    #[serde(default)]
    pub foreign: u64,
    /// Genuine datagrams signed by no key its file names (or signed, when it names none).
    #[serde(default)]
    pub unauthenticated: u64,
    /// An attacker's datagrams handed to it.
    pub tampered: u64,
    /// Datagrams taken from its outputs.
    pub sent: u64,
    /// Of those, copies of one it had already sent to the same address on the same path.
    #[serde(default)]
    pub resent: u64,
    /// Genuine datagrams handed to it that its file's previous key signs, and not its key
    /// (a key rotation under way).
    #[serde(default)]
    pub previous_key: u64,
    /// Per peer whose fresh datagrams it was handed, in node order.
    pub peers: Vec<PeerKnown>,
    /// Quorum mode: per voter, by name, when (its clock) the newest grant from that voter
    /// to it was handed to it.
    pub grants_heard: Vec<(String, u64)>,
    /// Quorum mode: per candidate, by name, until when (its clock) the newest grant it sent
    /// that candidate promises its vote.
    pub promised: Vec<(String, u64)>,
}

/// One peer of [`Known::peers`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeerKnown {
    /// Its name.
    pub name: String,
    /// The newest boot epoch of its fresh datagrams.
    pub epoch: u64,
    /// Per path, when (the receiver's clock) its newest fresh datagram of that epoch there
    /// was handed over.
    pub heard: Vec<Option<u64>>,
    /// Whether its newest datagram of that epoch (by sequence number) was a goodbye.
    pub left: bool,
    /// The role that datagram announced (none: one too short to say).
    pub role: Option<Role>,
    /// Whether that datagram carried the standby mark.
    pub standby: bool,
}

/// Compares every status the run recorded with the engine's ledger.
pub struct StatusReport {
    names: Vec<String>,
    /// Each node's `dead_after` and interval follow its reloads.
    ctx: Rc<Context>,
    /// The configured lease, milliseconds (quorum mode).
    lease_ms: Option<u64>,
    /// Per node, how many statuses were found wrong: the first is reported, the rest counted
    /// (one wrong counter is wrong at every look after it).
    wrong: Vec<u64>,
    found: Findings,
}

impl StatusReport {
    pub(super) fn new(ctx: &Rc<Context>) -> StatusReport {
        StatusReport {
            names: ctx.nodes.iter().map(|(name, _)| name.clone()).collect(),
            ctx: ctx.clone(),
            lease_ms: ctx.lease.map(|l| l.as_millis() as u64),
            wrong: vec![0; ctx.nodes.len()],
            found: Findings::default(),
        }
    }

    /// What is wrong with one status, each as a sentence.
    fn judge(&self, node: usize, at: u64, seen: &StatusSeen) -> Vec<String> {
        let mut wrong = Vec::new();
        conservation(seen, &mut wrong);
        // The timing in force; right after a reload changed it, the peers' liveness follows
        // either, and is not judged.
        let ns = |d: std::time::Duration| d.as_nanos() as u64;
        let s = self.ctx.settings_at(node, at);
        let (dead_after, interval) = (ns(s.dead_after), ns(s.interval));
        let settled = ns(self.ctx.longest_dead_after() + self.ctx.longest_interval());
        let before = self.ctx.settings_at(node, at.saturating_sub(settled));
        let timing = (before.dead_after == s.dead_after && before.interval == s.interval)
            .then_some((dead_after, interval));
        self.peers(seen, timing, &mut wrong);
        self.quorum(&self.names[node], seen, &mut wrong);
        wrong
    }

    fn peers(&self, seen: &StatusSeen, timing: Option<(u64, u64)>, wrong: &mut Vec<String>) {
        let (said, known, now) = (&seen.said.peers, &seen.known.peers, seen.local);
        // (a few hundred statuses a run: nothing is allocated unless one is wrong)
        if said.windows(2).any(|w| w[0].name >= w[1].name) {
            let listed: Vec<&str> = said.iter().map(|p| p.name.as_str()).collect();
            wrong.push(format!(
                "lists peers out of name order: [{}]",
                listed.join(", ")
            ));
        }
        if !same_names(said, known) {
            let listed: Vec<&str> = said.iter().map(|p| p.name.as_str()).collect();
            let heard: Vec<&str> = known.iter().map(|p| p.name.as_str()).collect();
            wrong.push(format!(
                "lists peers [{}], but fresh datagrams came from [{}]",
                listed.join(", "),
                heard.join(", ")
            ));
            return;
        }
        for p in said {
            let k = known.iter().find(|k| k.name == p.name).expect("same names");
            if k.role.is_some_and(|r| r != p.role) || p.standby != k.standby {
                let said = |standby| if standby { " in standby" } else { "" };
                wrong.push(format!(
                    "shows {} as {}{}, its newest datagram announced {}{}",
                    p.name,
                    p.role,
                    said(p.standby),
                    k.role.map_or("no role".into(), |r| r.to_string()),
                    said(k.standby)
                ));
            }
            if p.epoch != k.epoch {
                wrong.push(format!(
                    "shows {} in boot epoch {}, its newest delivered is {}",
                    p.name, p.epoch, k.epoch
                ));
            }
            let ages = || (k.heard.iter()).map(|t| t.map(|t| now.saturating_sub(t) / MS));
            if !p.last_heard_ms.iter().copied().eq(ages()) {
                wrong.push(format!(
                    "shows {} last heard {:?} ms ago per path, its fresh datagrams came {:?} ms ago",
                    p.name,
                    p.last_heard_ms,
                    ages().collect::<Vec<_>>()
                ));
            }
            let within = |span: u64| k.heard.iter().flatten().any(|&t| t + span > now);
            let Some((dead_after, interval)) = timing else {
                continue;
            };
            if p.alive && (k.left || !within(dead_after + interval)) {
                let why = if k.left {
                    "it said goodbye"
                } else {
                    "nothing fresh of it came within dead_after"
                };
                wrong.push(format!("shows {} alive, but {why}", p.name));
            }
            if !p.alive && !k.left && within(dead_after) {
                wrong.push(format!(
                    "shows {} dead, but a fresh datagram of it came within dead_after",
                    p.name
                ));
            }
        }
    }

    fn quorum(&self, me: &str, seen: &StatusSeen, wrong: &mut Vec<String>) {
        let (Some(q), Some(lease_ms)) = (&seen.said.quorum, self.lease_ms) else {
            return;
        };
        let (known, now) = (&seen.known, seen.local);
        if seen.said.role == Role::Master && q.lease_left_ms == 0 {
            wrong.push("is master with no lease left".into());
        }
        if q.lease_left_ms > lease_ms {
            wrong.push(format!(
                "shows {} ms of lease left, more than the {lease_ms} ms a lease lasts",
                q.lease_left_ms
            ));
        }
        // (its own vote is given without a datagram: only the others' are known)
        for (voter, ago) in q.granted_ms_ago.iter().filter(|v| v.0 != me) {
            let Some(ago) = *ago else { continue };
            let Some(&(_, at)) = known.grants_heard.iter().find(|g| &g.0 == voter) else {
                wrong.push(format!(
                    "shows {voter}'s grant {ago} ms ago, but no grant of it was delivered"
                ));
                continue;
            };
            if ago < now.saturating_sub(at) / MS {
                wrong.push(format!(
                    "shows {voter}'s grant {ago} ms ago, but the newest came {} ms ago and \
                     answered a request sent before",
                    now.saturating_sub(at) / MS
                ));
            }
        }
        if let Some(to) = q.promised_to.as_ref().filter(|&to| to != me) {
            match known.promised.iter().find(|p| &p.0 == to) {
                Some(&(_, until)) if now >= until => wrong.push(format!(
                    "shows its vote promised to {to}, but the grant it sent ran out {} ago",
                    secs(now - until)
                )),
                None => wrong.push(format!(
                    "shows its vote promised to {to}, but it sent it no grant"
                )),
                _ => {}
            }
        }
    }
}

/// Whether the peers listed are those heard, each name as many times.
fn same_names(said: &[PeerSaid], known: &[PeerKnown]) -> bool {
    let listed = |name: &str| said.iter().filter(|p| p.name == name).count();
    let heard = |name: &str| known.iter().filter(|k| k.name == name).count();
    said.len() == known.len() && said.iter().all(|p| listed(&p.name) == heard(&p.name))
}

/// Every datagram handed over counted once, under the right heading; every one sent counted.
fn conservation(seen: &StatusSeen, wrong: &mut Vec<String>) {
    let (c, k) = (&seen.said.counters, &seen.known);
    let drops = c.malformed + c.unauthenticated + c.replayed + c.foreign;
    if c.received != k.fresh {
        wrong.push(format!(
            "counts {} received, but {} fresh datagrams were handed to it",
            c.received, k.fresh
        ));
    }
    if drops != k.stale + k.tampered + k.foreign + k.unauthenticated {
        wrong.push(format!(
            "counts {drops} dropped ({} malformed, {} unauthenticated, {} replayed, {} foreign), \
             but {} stale copies, {} of another group, {} under no key of its own and {} \
             attacker's datagrams were handed to it",
            c.malformed,
            c.unauthenticated,
            c.replayed,
            c.foreign,
            k.stale,
            k.foreign,
            k.unauthenticated,
            k.tampered
        ));
    } else if c.foreign < k.foreign {
        wrong.push(format!(
            "counts {} foreign, but {} datagrams of another group were handed to it",
            c.foreign, k.foreign
        ));
    } else if c.replayed < k.stale {
        wrong.push(format!(
            "counts {} replayed, but {} stale copies were handed to it",
            c.replayed, k.stale
        ));
    }
    if c.sent != k.sent {
        wrong.push(format!(
            "counts {} sent, but {} datagrams were taken from its outputs",
            c.sent, k.sent
        ));
    }
    if k.resent > 0 {
        wrong.push(format!(
            "sent {} datagram(s) a second time to the same address on the same path",
            k.resent
        ));
    }
    // (at least: an attacker's replay of an old one counts too, unknown to the ledger)
    if c.previous_key < k.previous_key {
        wrong.push(format!(
            "counts {} under the previous key, but {} genuine datagrams signed only by it \
             were handed to it",
            c.previous_key, k.previous_key
        ));
    }
}

impl Checker for StatusReport {
    fn observe(&mut self, at: u64, obs: &Observation) {
        let Observation::Status { node, seen } = obs else {
            return;
        };
        let wrong = self.judge(*node, at, seen);
        if wrong.is_empty() {
            return;
        }
        self.wrong[*node] += 1;
        if self.wrong[*node] == 1 {
            let name = &self.names[*node];
            let detail = format!("{name}'s status at {}: {}", secs(at), wrong.join("; "));
            self.found.violate("status", detail);
        }
    }

    fn finish(&mut self, _at: u64, findings: &mut Findings) {
        for (node, &n) in self.wrong.iter().enumerate().filter(|(_, &n)| n > 1) {
            let name = &self.names[node];
            let detail = format!(
                "{name}'s status was wrong {} more time(s) after that",
                n - 1
            );
            self.found.violate("status", detail);
        }
        findings.violations.append(&mut self.found.violations);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;
    use std::time::Duration;

    const S: u64 = 1_000_000_000;

    /// The checker of master (0) and backup (1): dead_after 3 s (its default), interval 1 s,
    /// in quorum mode with a 2 s lease when `quorum`.
    fn checker(quorum: bool) -> StatusReport {
        let mut b = Scenario::builder("pair", Duration::from_secs(60))
            .segment("public")
            .segment("direct")
            .node("master", 200)
            .node("backup", 100);
        if quorum {
            b = b.node("witness", 1).quorum();
        }
        let scenario = b.vip("192.0.2.100").build().unwrap();
        let mut ctx = Context::new(&scenario, &[]);
        ctx.lease = quorum.then(|| Duration::from_secs(2));
        StatusReport::new(&Rc::new(ctx))
    }

    fn judge(c: &mut StatusReport, node: usize, seen: StatusSeen) -> Vec<String> {
        c.observe(
            10 * S,
            &Observation::Status {
                node,
                seen: Box::new(seen),
            },
        );
        let mut findings = Findings::default();
        c.finish(60 * S, &mut findings);
        findings.violations.into_iter().map(|v| v.detail).collect()
    }

    /// Backup at 10 s, having read 20 fresh heartbeats of master (epoch 1, last on both
    /// paths 500 ms ago) and 3 stale copies, and sent 7: what a correct status says of it.
    fn backup_at_ten() -> StatusSeen {
        let heard = vec![Some(9_500_000_000), Some(9_500_000_000)];
        StatusSeen {
            local: 10 * S,
            said: Said {
                role: Role::Backup,
                counters: Counters {
                    sent: 7,
                    received: 20,
                    replayed: 3,
                    ..Counters::default()
                },
                peers: vec![PeerSaid {
                    name: "master".into(),
                    epoch: 1,
                    alive: true,
                    last_heard_ms: vec![Some(500), Some(500)],
                    role: Role::Master,
                    standby: false,
                }],
                quorum: None,
            },
            known: Known {
                fresh: 20,
                stale: 3,
                sent: 7,
                peers: vec![PeerKnown {
                    name: "master".into(),
                    epoch: 1,
                    heard,
                    left: false,
                    role: Some(Role::Master),
                    standby: false,
                }],
                ..Known::default()
            },
        }
    }

    #[test]
    fn a_status_that_agrees_with_the_ledger_passes() {
        assert_eq!(
            judge(&mut checker(false), 1, backup_at_ten()),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_datagram_not_counted_or_counted_as_received_when_stale_is_a_violation() {
        let mut seen = backup_at_ten();
        seen.said.counters.received = 19;
        let found = judge(&mut checker(false), 1, seen);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("backup's status at 10.000s: counts 19 received, but 20 fresh"),
            "{found:?}"
        );
        // A duplicate the network made counted as received, not as replayed.
        let mut seen = backup_at_ten();
        seen.said.counters.received = 21;
        seen.said.counters.replayed = 2;
        let found = judge(&mut checker(false), 1, seen);
        assert!(found[0].contains("counts 21 received"), "{found:?}");
        assert!(found[0].contains("counts 2 dropped"), "{found:?}");
        // Stale copies dropped under another heading.
        let mut seen = backup_at_ten();
        seen.said.counters.replayed = 2;
        seen.said.counters.malformed = 1;
        let found = judge(&mut checker(false), 1, seen);
        assert!(
            found[0].contains("counts 2 replayed, but 3 stale"),
            "{found:?}"
        );
        // Sent miscounted.
        let mut seen = backup_at_ten();
        seen.known.sent = 8;
        let found = judge(&mut checker(false), 1, seen);
        assert!(
            found[0].contains("counts 7 sent, but 8 datagrams"),
            "{found:?}"
        );
        // One of them a copy sent to the same address again.
        let mut seen = backup_at_ten();
        seen.known.resent = 1;
        let found = judge(&mut checker(false), 1, seen);
        assert!(
            found[0].contains("sent 1 datagram(s) a second time"),
            "{found:?}"
        );
    }

    #[test]
    fn datagrams_signed_by_the_previous_key_are_counted_at_least() {
        let mut seen = backup_at_ten();
        seen.known.previous_key = 4;
        seen.said.counters.previous_key = 3;
        let found = judge(&mut checker(false), 1, seen.clone());
        assert!(
            found[0].contains("counts 3 under the previous key, but 4 genuine"),
            "{found:?}"
        );
        // More: an attacker may replay old ones, unknown to the ledger.
        seen.said.counters.previous_key = 5;
        assert_eq!(judge(&mut checker(false), 1, seen), Vec::<String>::new());
    }

    #[test]
    fn an_attackers_datagram_is_a_drop_of_any_heading() {
        let mut seen = backup_at_ten();
        seen.known.tampered = 1;
        seen.said.counters.unauthenticated = 1;
        assert_eq!(judge(&mut checker(false), 1, seen), Vec::<String>::new());
    }

    #[test]
    fn peers_listed_wrongly_are_violations() {
        let mut seen = backup_at_ten();
        seen.said.peers.clear();
        let found = judge(&mut checker(false), 1, seen);
        assert!(
            found[0].contains("lists peers [], but fresh datagrams came from [master]"),
            "{found:?}"
        );
        let mut seen = backup_at_ten();
        seen.said.peers[0].epoch = 2;
        let found = judge(&mut checker(false), 1, seen);
        assert!(found[0].contains("master in boot epoch 2"), "{found:?}");
        let mut seen = backup_at_ten();
        seen.said.peers[0].last_heard_ms[1] = None;
        let found = judge(&mut checker(false), 1, seen);
        assert!(found[0].contains("last heard"), "{found:?}");
        // Dead though heard 500 ms ago; alive though it said goodbye.
        let mut seen = backup_at_ten();
        seen.said.peers[0].alive = false;
        let found = judge(&mut checker(false), 1, seen);
        assert!(found[0].contains("shows master dead"), "{found:?}");
        let mut seen = backup_at_ten();
        seen.known.peers[0].left = true;
        let found = judge(&mut checker(false), 1, seen);
        assert!(found[0].contains("it said goodbye"), "{found:?}");
        // Two peers, listed out of name order.
        let mut seen = backup_at_ten();
        let mut witness = seen.said.peers[0].clone();
        witness.name = "witness".into();
        seen.said.peers.insert(0, witness);
        let mut heard = seen.known.peers[0].clone();
        heard.name = "witness".into();
        seen.known.peers.push(heard);
        let found = judge(&mut checker(false), 1, seen.clone());
        assert!(
            found[0].contains("lists peers out of name order: [witness, master]"),
            "{found:?}"
        );
        seen.said.peers.swap(0, 1);
        assert_eq!(judge(&mut checker(false), 1, seen), Vec::<String>::new());
    }

    #[test]
    fn liveness_is_judged_by_the_sure_bounds_around_dead_after() {
        // Heard 3.5 s ago: past dead_after (3 s), within it plus the skew (under 1 s).
        let mut seen = backup_at_ten();
        seen.known.peers[0].heard = vec![Some(6_500_000_000), None];
        seen.said.peers[0].last_heard_ms = vec![Some(3500), None];
        for alive in [true, false] {
            seen.said.peers[0].alive = alive;
            assert_eq!(
                judge(&mut checker(false), 1, seen.clone()),
                Vec::<String>::new()
            );
        }
        // 4.5 s ago: dead for sure.
        seen.known.peers[0].heard = vec![Some(5_500_000_000), None];
        seen.said.peers[0].last_heard_ms = vec![Some(4500), None];
        seen.said.peers[0].alive = true;
        let found = judge(&mut checker(false), 1, seen);
        assert!(found[0].contains("nothing fresh of it came"), "{found:?}");
    }

    #[test]
    fn quorum_figures_that_no_vote_explains_are_violations() {
        let quorum = |granted: Option<u64>, promised_to: Option<&str>, lease: u64| QuorumSaid {
            lease_left_ms: lease,
            granted_ms_ago: vec![
                ("backup".into(), None),
                ("master".into(), granted),
                ("witness".into(), None),
            ],
            promised_to: promised_to.map(String::from),
        };
        let mut seen = backup_at_ten();
        seen.known.grants_heard = vec![("master".into(), 9_000_000_000)];
        seen.known.promised = vec![("master".into(), 12 * S)];
        seen.said.quorum = Some(quorum(Some(1200), Some("master"), 0));
        assert_eq!(
            judge(&mut checker(true), 1, seen.clone()),
            Vec::<String>::new()
        );
        // A lease longer than a lease lasts.
        seen.said.quorum = Some(quorum(Some(1200), None, 2001));
        let found = judge(&mut checker(true), 1, seen.clone());
        assert!(found[0].contains("2001 ms of lease left"), "{found:?}");
        // A master with no lease.
        let mut master = seen.clone();
        master.said.role = Role::Master;
        master.said.quorum = Some(quorum(Some(1200), None, 0));
        let found = judge(&mut checker(true), 1, master);
        assert!(
            found[0].contains("is master with no lease left"),
            "{found:?}"
        );
        // A grant younger than its arrival; a grant from a voter that sent none.
        seen.said.quorum = Some(quorum(Some(900), None, 0));
        let found = judge(&mut checker(true), 1, seen.clone());
        assert!(
            found[0].contains("the newest came 1000 ms ago"),
            "{found:?}"
        );
        let mut none = seen.clone();
        none.known.grants_heard.clear();
        none.said.quorum = Some(quorum(Some(1200), None, 0));
        let found = judge(&mut checker(true), 1, none);
        assert!(
            found[0].contains("no grant of it was delivered"),
            "{found:?}"
        );
        // A promise shown at the very instant it ran out, or never made.
        seen.local = 12 * S;
        seen.said.quorum = Some(quorum(None, Some("master"), 0));
        seen.said.peers[0].last_heard_ms = vec![Some(2500), Some(2500)];
        let found = judge(&mut checker(true), 1, seen.clone());
        assert!(found[0].contains("ran out 0.000s ago"), "{found:?}");
        seen.said.quorum = Some(quorum(None, Some("witness"), 0));
        let found = judge(&mut checker(true), 1, seen.clone());
        assert!(found[0].contains("promised to witness, but it sent it no grant"));
        // Its own vote is given without a datagram.
        seen.said.quorum = Some(quorum(None, Some("backup"), 0));
        assert_eq!(judge(&mut checker(true), 1, seen), Vec::<String>::new());
    }

    #[test]
    fn a_node_wrong_at_every_look_is_reported_once_with_a_count() {
        let mut c = checker(false);
        let mut seen = backup_at_ten();
        seen.said.counters.received = 0;
        for at in 1..=3 {
            let seen = Box::new(seen.clone());
            c.observe(at * S, &Observation::Status { node: 1, seen });
        }
        let mut findings = Findings::default();
        c.finish(60 * S, &mut findings);
        let found: Vec<&str> = findings
            .violations
            .iter()
            .map(|v| v.detail.as_str())
            .collect();
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].contains("at 1.000s"), "{found:?}");
        assert_eq!(
            found[1],
            "backup's status was wrong 2 more time(s) after that"
        );
    }
}
