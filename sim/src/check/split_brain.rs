//! Split brain: two holders of one address at the same simulated instant — in all, on a
//! healthy network (no fault in force, and the group given time to settle after each), and
//! where what was delivered does not justify it.
//!
//! Classic mode cannot avoid two owners when the network hides the owner from a backup; it
//! must not have two for any other reason. So each instant of split brain is judged by the
//! deliveries the engine recorded ([`Observation::Heard`]), pair by pair of holders:
//!
//! - **The taker was justified**: the later of the two to add the address had received no
//!   fresh datagram of the other, since the other held the address, for `dead_after`
//!   (shortened by the fastest clock drift in the run) before its takeover began (its last
//!   change to `Acquiring`). (One that arrives once the address is being added cannot stop
//!   it, and one from before the other held it says nothing of its ownership: the next rule
//!   applies.)
//! - **The lower let go in time**: once a fresh datagram of the higher-ranked holder, an owner
//!   (`Master`), reaches the lower-ranked one while the lower is an owner too, the lower must
//!   change role within one interval (its release then takes what its hooks take). A lower
//!   holder whose daemon is down or stopped cannot act, and is not asked to until it runs
//!   again; a higher one that is letting go (`Releasing`: a planned shutdown whose removal the
//!   kernel refuses) is not yielded to.
//!
//! Ranks are the scenario's priorities (names break ties), as the protocol's are unless a
//! node announces less (standby, a refused takeover's demotion — which makes it yield sooner).

use super::{secs, Checker, Context, Findings, Holders, Liveness, Observation};
use failover_core::Role;
use std::rc::Rc;

/// Measures every window with more than one holder; the total must stay within the scenario's
/// `max_split_brain` (if set; in quorum mode zero), the part of it on a healthy network within
/// `max_split_brain_healthy` (zero by default: classic mode may split only when faults force
/// it to), and — where deliveries are recorded — the part they do not justify within
/// `max_split_brain_unjustified` (zero by default).
pub struct SplitBrain {
    ctx: Rc<Context>,
    holders: Holders,
    since: Vec<Option<u64>>,
    total: u64,
    longest: u64,
    healthy: u64,
    /// The first stretch of split brain on a healthy network, for the report.
    first_healthy: Option<(u64, u64)>,
    justify: Justify,
}

impl SplitBrain {
    pub(super) fn new(ctx: &Rc<Context>) -> SplitBrain {
        SplitBrain {
            ctx: ctx.clone(),
            holders: Holders::new(ctx.vips),
            since: vec![None; ctx.vips],
            total: 0,
            longest: 0,
            healthy: 0,
            first_healthy: None,
            justify: Justify::new(ctx),
        }
    }

    fn close(&mut self, vip: usize, at: u64) {
        if let Some(start) = self.since[vip].take() {
            self.total += at - start;
            self.longest = self.longest.max(at - start);
            let healthy = self.ctx.healthy_within(start, at);
            if healthy > 0 {
                self.healthy += healthy;
                self.first_healthy.get_or_insert((start, at));
            }
        }
    }
}

impl Checker for SplitBrain {
    fn judges_deliveries(&self) -> bool {
        true
    }

    fn observe(&mut self, at: u64, obs: &Observation) {
        self.justify.observe(at, obs, &self.holders);
        if let Some(vip) = self.holders.apply(obs) {
            let split = self.holders.of(vip).len() > 1;
            match (split, self.since[vip]) {
                (true, None) => self.since[vip] = Some(at),
                (false, Some(_)) => self.close(vip, at),
                _ => {}
            }
        }
    }

    fn finish(&mut self, at: u64, findings: &mut Findings) {
        for vip in 0..self.since.len() {
            self.close(vip, at);
        }
        self.justify.advance(at);
        findings.figures.split_brain_total = self.total;
        findings.figures.split_brain_longest = self.longest;
        let expect = &self.ctx.expect;
        let blanket = match (expect.max_split_brain, self.ctx.majority) {
            (Some(max), _) => Some(max),
            (None, Some(_)) => Some(std::time::Duration::ZERO),
            (None, None) if !self.ctx.deliveries => Some(std::time::Duration::ZERO),
            (None, None) => None,
        };
        if let Some(allowed) = blanket.map(|d| d.as_nanos() as u64) {
            if self.total > allowed {
                findings.violate(
                    "split-brain",
                    format!(
                        "two holders for {} in all (longest {}), allowed {}",
                        secs(self.total),
                        secs(self.longest),
                        secs(allowed)
                    ),
                );
            }
        }
        let allowed = expect.max_split_brain_unjustified.as_nanos() as u64;
        if let Some(first) = self.justify.first.as_ref() {
            if self.ctx.deliveries && self.justify.unjustified > allowed {
                findings.violate(
                    "split-brain-unjustified",
                    format!(
                        "two holders for {} that the deliveries do not justify (first at {}: {}), allowed {}",
                        secs(self.justify.unjustified),
                        secs(first.0),
                        first.1,
                        secs(allowed)
                    ),
                );
            }
        }
        if let Some(min) = expect
            .min_split_brain
            .filter(|m| self.total < m.as_nanos() as u64)
        {
            findings.violate(
                "split-brain-expected",
                format!(
                    "two holders for {} in all, expected at least {}",
                    secs(self.total),
                    secs(min.as_nanos() as u64)
                ),
            );
        }
        let allowed = expect.max_split_brain_healthy.as_nanos() as u64;
        if let Some((from, to)) = self.first_healthy.filter(|_| self.healthy > allowed) {
            findings.violate(
                "split-brain-healthy",
                format!(
                    "two holders for {} while no fault was in force or settling (first from {} to {}), allowed {}",
                    secs(self.healthy),
                    secs(from),
                    secs(to),
                    secs(allowed)
                ),
            );
        }
    }
}

/// Two holders of one address, `lo` ranked below `hi`.
#[derive(Clone, Debug)]
struct Pair {
    vip: usize,
    lo: usize,
    hi: usize,
    /// Why the later of the two added the address without justification, if it did.
    unjustified_take: Option<String>,
    /// When a fresh datagram of `hi` reached `lo` while `lo` ran as an owner, not yet acted on.
    heard: Option<u64>,
}

/// The part of split brain the deliveries do not justify.
struct Justify {
    /// Each node's settings over the run (priorities, dead_after, interval: a reload changes
    /// them).
    ctx: Rc<Context>,
    nodes: usize,
    /// Last fresh delivery, by receiver then sender.
    heard: Vec<Option<u64>>,
    /// When each node's current takeover began (its last change to `Acquiring`), and its
    /// last fresh delivery of each sender by then.
    began: Vec<Option<(u64, Vec<Option<u64>>)>>,
    roles: Vec<Role>,
    /// Since when each node holds each address, by address then node.
    held_since: Vec<Option<u64>>,
    live: Liveness,
    pairs: Vec<Pair>,
    /// Accounted up to here.
    at: u64,
    unjustified: u64,
    first: Option<(u64, String)>,
}

impl Justify {
    fn new(ctx: &Rc<Context>) -> Justify {
        let n = ctx.nodes.len();
        Justify {
            ctx: ctx.clone(),
            nodes: n,
            heard: vec![None; n * n],
            began: vec![None; n],
            roles: vec![Role::Backup; n],
            held_since: vec![None; ctx.vips * n],
            live: Liveness::new(n),
            pairs: Vec::new(),
            at: 0,
            unjustified: 0,
            first: None,
        }
    }

    /// Window before a takeover of `node` began at `began` in which a delivery of the other
    /// holder makes it unjustified, nanoseconds: the dead_after its file gave it then,
    /// shortened by the fastest clock drift in the run.
    fn silence(&self, node: usize, began: u64) -> u64 {
        let dead_after = self.ctx.settings_at(node, began).dead_after.as_nanos() as f64;
        (dead_after / (1.0 + self.ctx.max_drift_ppm / 1e6)) as u64
    }

    /// When, if ever, `pair` stops being justified: the lower holder lets go within its own
    /// interval of hearing the higher one.
    fn deadline(&self, pair: &Pair) -> Option<(u64, String)> {
        if let Some(why) = &pair.unjustified_take {
            return Some((0, why.clone()));
        }
        let heard = pair.heard.filter(|_| self.live.live(pair.lo))?;
        // (a reload since may have made the lower holder the higher one: it need not yield)
        if self.ctx.rank_at(pair.lo, self.at) > self.ctx.rank_at(pair.hi, self.at) {
            return None;
        }
        let interval = self.ctx.settings_at(pair.lo, heard).interval.as_nanos() as u64;
        // (and the yield's hooks and removals: `PreRel` runs before each address goes, behind
        // a hook that may already be running)
        Some((
            heard + interval + self.ctx.hand_over,
            format!(
                "node {} still owned {} after a datagram of node {} reached it at {}",
                pair.lo,
                pair.vip,
                pair.hi,
                secs(heard)
            ),
        ))
    }

    /// Counts unjustified time up to `at`, under the state since the last observation.
    fn advance(&mut self, at: u64) {
        let from = self.at;
        self.at = at;
        let start = (self.pairs.iter())
            .filter_map(|p| self.deadline(p))
            .min_by_key(|(t, _)| *t);
        if let Some((t, why)) = start {
            let begin = t.max(from);
            if begin < at {
                self.unjustified += at - begin;
                self.first.get_or_insert((begin, why));
            }
        }
    }

    fn observe(&mut self, at: u64, obs: &Observation, holders: &Holders) {
        self.advance(at);
        if self.live.apply(at, obs) {
            let node = match *obs {
                Observation::Up { node }
                | Observation::Down { node }
                | Observation::Paused { node }
                | Observation::Resumed { node }
                | Observation::HostDown { node }
                | Observation::HostUp { node } => node,
                _ => unreachable!("liveness observations name a node"),
            };
            if matches!(obs, Observation::Up { .. } | Observation::Down { .. }) {
                self.roles[node] = Role::Backup;
                self.began[node] = None;
            }
            // A holder that cannot act is not asked to; once it runs again, it has an
            // interval from then to act on what it was sent.
            if self.live.live(node) {
                for p in self.pairs.iter_mut().filter(|p| p.lo == node) {
                    p.heard = p.heard.map(|_| at);
                }
            }
            return;
        }
        match *obs {
            Observation::Heard { node, from, role } => {
                self.heard[node * self.nodes + from] = Some(at);
                // What the datagram says counts, not what its sender is by now: one sent
                // while it was still acquiring (delayed on the way) asks no owner to yield.
                let owners = self.roles[node] == Role::Master && role == Role::Master;
                // Ranked as the files give them now: a reload may have turned the pair round
                // since it formed (a node whose priority was lowered for a while).
                let below = self.ctx.rank_at(node, at) < self.ctx.rank_at(from, at);
                let pair =
                    |p: &&mut Pair| (p.lo, p.hi) == (node, from) || (p.lo, p.hi) == (from, node);
                for p in self.pairs.iter_mut().filter(pair) {
                    if below && p.lo != node {
                        (p.lo, p.hi, p.heard) = (node, from, None);
                    }
                    if below && owners && p.heard.is_none() {
                        p.heard = Some(at);
                    }
                }
            }
            Observation::RoleChanged { node, to, .. } => {
                self.roles[node] = to;
                if to == Role::Acquiring {
                    let row = node * self.nodes..(node + 1) * self.nodes;
                    self.began[node] = Some((at, self.heard[row].to_vec()));
                }
                for p in (self.pairs.iter_mut()).filter(|p| p.lo == node || p.hi == node) {
                    p.heard = None;
                }
            }
            Observation::Acquired { node, vip } if !holders.of(vip).contains(&node) => {
                for &other in holders.of(vip) {
                    let (began, last) = match &self.began[node] {
                        Some((began, heard)) => (*began, heard[other]),
                        None => (at, self.heard[node * self.nodes + other]),
                    };
                    let other_since = self.held_since[vip * self.nodes + other].unwrap_or(0);
                    let silence = self.silence(node, began);
                    let unjustified_take = last
                        .filter(|&t| t + silence > began && t >= other_since)
                        .map(|t| {
                            format!(
                                "node {node} added address {vip} held by node {other}, whose datagram reached it at {}, less than dead_after before its takeover began at {}",
                                secs(t),
                                secs(began)
                            )
                        });
                    let (lo, hi) = if self.ctx.rank_at(node, at) < self.ctx.rank_at(other, at) {
                        (node, other)
                    } else {
                        (other, node)
                    };
                    self.pairs.push(Pair {
                        vip,
                        lo,
                        hi,
                        unjustified_take,
                        heard: None,
                    });
                }
                self.held_since[vip * self.nodes + node] = Some(at);
            }
            Observation::Released { node, vip } => {
                self.held_since[vip * self.nodes + node] = None;
                self.pairs
                    .retain(|p| p.vip != vip || (p.lo != node && p.hi != node));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    /// A heartbeat of the master (claiming) reaches the backup.
    fn master_heard() -> Observation {
        Heard {
            node: 1,
            from: 0,
            role: Role::Master,
        }
    }

    /// Master (0, priority 200) and backup (1, 100), one address, heartbeats every second.
    fn judge(record: &[(u64, Observation)]) -> Findings {
        let scenario = crate::check::pair();
        // (a fault in force throughout: split brain on a healthy network is another check)
        let ctx = Context {
            deliveries: true,
            unhealthy: vec![(0, 60 * S)],
            ..Context::new(&scenario, &[])
        };
        let mut checker = SplitBrain::new(&Rc::new(ctx));
        for (at, obs) in record {
            checker.observe(*at, obs);
        }
        let mut findings = Findings::default();
        checker.finish(60 * S, &mut findings);
        findings
    }

    use Observation::{Acquired, Heard, Paused, Released, Resumed, RoleChanged};

    fn role(node: usize, from: Role, to: Role) -> Observation {
        RoleChanged { node, from, to }
    }

    /// The master owns from 1 s; the backup takes over at 20 s, its takeover begun at
    /// `began`; both own from then on.
    fn both_own(began: u64) -> Vec<(u64, Observation)> {
        vec![
            (S, role(0, Role::Backup, Role::Acquiring)),
            (S, Acquired { node: 0, vip: 0 }),
            (S, role(0, Role::Acquiring, Role::Master)),
            (began, role(1, Role::Backup, Role::Acquiring)),
            (20 * S, Acquired { node: 1, vip: 0 }),
            (20 * S, role(1, Role::Acquiring, Role::Master)),
        ]
    }

    #[test]
    fn a_takeover_after_a_silence_of_dead_after_is_justified_until_the_owner_is_heard() {
        let mut record = vec![(5 * S, master_heard())];
        record.extend(both_own(19 * S));
        // The master's heartbeat reaches the backup at 30 s; it yields within the interval.
        record.push((30 * S, master_heard()));
        record.push((30 * S, role(1, Role::Master, Role::Releasing)));
        record.push((30 * S + 10_000_000, Released { node: 1, vip: 0 }));
        let f = judge(&record);
        assert_eq!(f.broken().len(), 0, "{:?}", f.violations);
        assert_eq!(f.figures.split_brain_total, 10 * S + 10_000_000);
    }

    #[test]
    fn a_takeover_begun_soon_after_hearing_the_owner_is_unjustified_from_its_start() {
        let mut record = vec![(17 * S, master_heard())];
        record.extend(both_own(19 * S));
        record.push((25 * S, Released { node: 1, vip: 0 }));
        let f = judge(&record);
        assert_eq!(f.violations.len(), 1, "{:?}", f.violations);
        assert_eq!(f.violations[0].invariant, "split-brain-unjustified");
        assert!(f.violations[0].detail.starts_with("two holders for 5.000s"));
    }

    #[test]
    fn a_lower_owner_that_hears_the_higher_and_keeps_the_address_is_unjustified_after_an_interval()
    {
        let mut record = both_own(19 * S);
        record.push((30 * S, master_heard()));
        record.push((40 * S, Released { node: 1, vip: 0 }));
        let f = judge(&record);
        assert_eq!(
            f.broken().into_iter().collect::<Vec<_>>(),
            ["split-brain-unjustified"]
        );
        // From 31.03 s (an interval after the delivery, and the 30 ms a hand-over's hooks
        // take by default) to the release at 40 s.
        assert!(
            f.violations[0].detail.starts_with("two holders for 8.970s"),
            "{}",
            f.violations[0].detail
        );
    }

    #[test]
    fn a_stopped_lower_owner_is_given_an_interval_from_when_it_runs_again() {
        let mut record = both_own(19 * S);
        record.push((25 * S, Paused { node: 1 }));
        record.push((30 * S, master_heard()));
        record.push((35 * S, Resumed { node: 1 }));
        record.push((35 * S + S / 2, role(1, Role::Master, Role::Releasing)));
        record.push((36 * S, Released { node: 1, vip: 0 }));
        let f = judge(&record);
        assert_eq!(f.broken().len(), 0, "{:?}", f.violations);
        // The same, but it does nothing once it runs: unjustified from 36.03 s to 38 s.
        let mut record = both_own(19 * S);
        record.push((25 * S, Paused { node: 1 }));
        record.push((30 * S, master_heard()));
        record.push((35 * S, Resumed { node: 1 }));
        record.push((38 * S, Released { node: 1, vip: 0 }));
        let f = judge(&record);
        assert!(
            f.violations[0].detail.starts_with("two holders for 1.970s"),
            "{:?}",
            f.violations
        );
    }
}
