//! What a run must show: the scenario's `[expect]` table.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What a run must show.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Expect {
    /// Most time two nodes may hold one address at once, whatever the deliveries say: a
    /// loosening (or, in quorum mode, `"0s"`, a restatement), written with its reason. Unset,
    /// quorum mode allows none, and classic mode what the deliveries justify (see
    /// `max_split_brain_unjustified`) — none at all under an engine that does not record them.
    #[serde(with = "humantime_serde")]
    pub max_split_brain: Option<Duration>,
    /// Most time two nodes may hold one address without the deliveries justifying it: a
    /// taker must have received nothing of the other holder for `dead_after` (by the fastest
    /// clock in the run) before its takeover began, and the lower-ranked of two holders must
    /// let go within an interval of a datagram of the higher reaching it. Zero by default; a
    /// scenario that breaks the model on purpose (a clock that jumps) loosens it.
    #[serde(with = "humantime_serde")]
    pub max_split_brain_unjustified: Duration,
    /// Most of that time while no fault is in force nor settling (`converge_within` after
    /// each): zero by default, because on a healthy network nothing excuses two owners.
    #[serde(with = "humantime_serde")]
    pub max_split_brain_healthy: Duration,
    /// At least this much time with two holders of one address: a scenario that breaks an
    /// assumption on purpose (quorum mode's drift bound) shows that what the documentation
    /// says follows does follow.
    #[serde(with = "humantime_serde")]
    pub min_split_brain: Option<Duration>,
    /// Longest allowed time from losing the owner to a new owner.
    #[serde(with = "humantime_serde")]
    pub max_failover_latency: Option<Duration>,
    /// Whether the best live node must own everything after faults heal.
    pub converge: bool,
    /// Bound for that (default 3 × dead_after + 1 s after the last fault ends, and the
    /// longest back-off, 8 × dead_after, more after a fault that refuses hand-overs: a `Test`
    /// saying no or hanging, the kernel refusing an address change).
    #[serde(with = "humantime_serde")]
    pub converge_within: Option<Duration>,
    /// How much before its written time a fault may be felt: in real time a request in
    /// flight when a link is cut fails, a signal lands between two ticks. Each fault's
    /// unhealthy span (no split brain or failed request is excused outside one) starts this
    /// much earlier. Zero by default: the simulator applies faults at their instant.
    #[serde(with = "humantime_serde")]
    pub fault_margin: Duration,
    /// Most time an address may have no holder (after the first acquisition).
    #[serde(with = "humantime_serde")]
    pub max_unavailable: Option<Duration>,
    /// Longest stretch an address may have no holder while no fault is in force nor settling:
    /// the liveness bound, always on. By default `dead_after` and the time a hand-over's
    /// hooks and address changes take (`Protocol::hand_over_time`) — on a healthy network only
    /// a hand-over leaves an address unowned, for as long as its hooks take. It counts from when
    /// the best live node may claim: after its start-up wait (`dead_after` and its priority's
    /// skew) if it just started, or after the same wait once an owner left naming no live
    /// successor (see the availability checker).
    #[serde(with = "humantime_serde")]
    pub max_unavailable_healthy: Option<Duration>,
    /// Most time the client's requests may fail while the address has an owner and no fault
    /// is in force nor settling: zero by default, since then only a stale ARP entry (an owner
    /// that never announced itself) can be the cause.
    #[serde(with = "humantime_serde")]
    pub max_client_unreachable: Duration,
    /// Who holds every address at the end ("none" for nobody).
    pub owner_at_end: Option<String>,
    /// Exact number of acquisitions by nodes other than the first owner... none: unchecked.
    pub takeovers: Option<u32>,
    /// At least this many network-anomaly notifications.
    pub min_anomaly_notifications: Option<u32>,
    /// At most this many network-anomaly notifications.
    pub max_anomaly_notifications: Option<u32>,
    /// At least this many rival-claim notifications (an owner hearing a lower node claim its
    /// address for longer than a yield takes: a one-way cut).
    pub min_rival_claim_notifications: Option<u32>,
    /// At most this many rival-claim notifications.
    pub max_rival_claim_notifications: Option<u32>,
    /// At most this many ownership changes in the whole run.
    pub max_ownership_changes: Option<u32>,
    /// At most this many ownership changes (acquisitions) per address while no fault is in
    /// force nor settling: flapping, always checked. By default one (the first election) and
    /// two for each operator's request (a hand-over, and the hand-back preemption may make).
    pub max_ownership_changes_healthy: Option<u32>,
    /// At most this many takeovers begun (a node becoming `Acquiring` runs `Test` and may run
    /// `PreAcq`), completed or not.
    pub max_takeover_attempts: Option<u32>,
    /// Exactly this many operators' requests (standby, switchover) refused; none: unchecked.
    pub refused: Option<u32>,
    /// Longest an operator's request (standby, active, switchover) may wait for its answer
    /// while the daemon asked runs: by default `dead_after` and an interval — a roll call
    /// gives up after `dead_after` — and a scenario whose nodes all answer at once states how
    /// soon (the owner hands over as soon as every node has answered).
    #[serde(with = "humantime_serde")]
    pub max_answer_latency: Option<Duration>,
}

impl Default for Expect {
    fn default() -> Self {
        Expect {
            max_split_brain: None,
            max_split_brain_unjustified: Duration::ZERO,
            max_split_brain_healthy: Duration::ZERO,
            min_split_brain: None,
            max_failover_latency: None,
            converge: true,
            converge_within: None,
            fault_margin: Duration::ZERO,
            max_unavailable: None,
            max_unavailable_healthy: None,
            max_client_unreachable: Duration::ZERO,
            owner_at_end: None,
            takeovers: None,
            min_anomaly_notifications: None,
            max_anomaly_notifications: None,
            min_rival_claim_notifications: None,
            max_rival_claim_notifications: None,
            max_ownership_changes: None,
            max_ownership_changes_healthy: None,
            max_takeover_attempts: None,
            refused: None,
            max_answer_latency: None,
        }
    }
}

impl super::Scenario {
    /// Quorum mode: how long a lease lasts (core's default when the scenario sets none).
    pub fn lease(&self) -> Duration {
        let p = &self.protocol;
        let protocol = failover_core::config::ProtocolSettings {
            interval: p.interval,
            dead_after: p.dead_after,
            lease: p.lease,
            ..Default::default()
        };
        protocol.lease()
    }

    /// How often an owner announces its addresses again (core's default when the scenario
    /// sets none; `None`: never).
    pub fn announce_every(&self) -> Option<Duration> {
        let protocol = failover_core::config::ProtocolSettings {
            interval: self.protocol.interval,
            announce_every: self.protocol.announce_every,
            ..Default::default()
        };
        protocol.announce_every()
    }

    /// How long the group may take to settle after the last fault by default: three `dead_after`s,
    /// a second and two hand-overs' hook and address latencies in classic mode; quorum mode
    /// adds what a node refused a lease may have to wait — its longest back-off, and the
    /// voters' promise to the last owner.
    pub fn default_settle(&self) -> Duration {
        let dead_after = self.protocol.dead_after();
        // (and the hooks and address changes of two hand-overs, one after the other: one under
        // way when the faults end — a yield that heals a split runs them before its last
        // address is gone — and the one that puts the addresses where they belong)
        let hand_overs = self.protocol.hand_over_time(self.vips.len()) * 2;
        let classic = dead_after * 3 + Duration::from_secs(1) + hand_overs;
        if !self.quorum() {
            return classic;
        }
        let p = &self.protocol;
        let promise = failover_core::node::quorum::promise_len(self.lease(), p.max_clock_drift_ppm);
        // (a back-off counts in `dead_after`s with the priority skew, less than an interval)
        classic + (dead_after + p.interval) * failover_core::node::MAX_BACKOFF + promise
    }
}
