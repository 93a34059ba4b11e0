//! A fault as a scenario file writes it: `[[fault]]` tables of names and durations.

use super::{is_false, is_zero};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A fault as written: `kind` says which, the other fields its parameters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// When it starts.
    #[serde(with = "humantime_serde")]
    pub at: Duration,
    /// How long it lasts (crash, kill and shutdown: time until the restart; standby: until
    /// `failoverctl active`; none = for good).
    #[serde(
        with = "humantime_serde",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub duration: Option<Duration>,
    /// partition, link_down, crash, kill, pause, freeze, clock, hook, address, shutdown, flap,
    /// degrade, tamper; or an operator's standby, switchover, reload.
    pub kind: String,
    /// The node it hits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The segment it hits (partition: none = every segment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    /// Partition: one side (node names or "client").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub a: Vec<String>,
    /// Partition: the other side.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub b: Vec<String>,
    /// Partition: only traffic from `a` to `b` is cut.
    #[serde(default, skip_serializing_if = "is_false")]
    pub oneway: bool,
    /// Clock: a forward jump of the node's clock.
    #[serde(
        with = "humantime_serde",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub offset: Option<Duration>,
    /// Clock: drift in parts per million (may be negative, above -1e6).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub drift_ppm: f64,
    /// Hook: test, pre_acq, post_acq, pre_rel, post_rel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook: Option<String>,
    /// Hook: fail, hang or slow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behavior: Option<String>,
    /// Hook: how much longer a slow hook takes.
    #[serde(
        with = "humantime_serde",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub latency: Option<Duration>,
    /// Address: which change the kernel refuses, add or remove.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<String>,
    /// Degrade: loss probability while it lasts.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub loss: f64,
    /// Degrade: probability a datagram is delivered twice while it lasts.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub duplicate: f64,
    /// Degrade: probability a datagram is held back, so it arrives out of order.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reorder: f64,
    /// Degrade: extra latency while it lasts (a latency spike).
    #[serde(
        with = "humantime_serde",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub delay: Option<Duration>,
    /// Flap: time down, then the same time up.
    #[serde(
        with = "humantime_serde",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub period: Option<Duration>,
    /// Flap: how many times the link goes down.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub count: u32,
    /// Switchover: the node to hand over to (none: the best other live node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Reload: the node's new `priority`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
    /// Reload: the node's new `preempt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preempt: Option<bool>,
    /// Reload: the node's new heartbeat `interval`.
    #[serde(
        with = "humantime_serde",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub interval: Option<Duration>,
    /// Reload: the node's new `dead_after`.
    #[serde(
        with = "humantime_serde",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub dead_after: Option<Duration>,
    /// Reload: the node's new `announce_every`.
    #[serde(
        with = "humantime_serde",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub announce_every: Option<Duration>,
    /// Reload: the node's new `group`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<u16>,
    /// Reload: a new `auth_key` (the running one becomes `previous_auth_key` unless that is
    /// given too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_key: Option<String>,
    /// Reload: a `previous_auth_key` (a rotation's first round names the new key here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_auth_key: Option<String>,
    /// Reload: an address added to the node's `[[vip]]`s — needs a restart: refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_vip: Option<std::net::IpAddr>,
    /// Reload: a new quorum `lease` — needs a restart: refused.
    #[serde(
        with = "humantime_serde",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub lease: Option<Duration>,
}

impl FaultSpec {
    /// Faults as a scenario file writes them: `[[fault]]` tables.
    pub fn to_toml(faults: &[FaultSpec]) -> String {
        #[derive(Serialize)]
        struct Faults<'a> {
            fault: &'a [FaultSpec],
        }
        toml::to_string(&Faults { fault: faults }).expect("faults serialize")
    }
}

fn is_zero_u32(x: &u32) -> bool {
    *x == 0
}
