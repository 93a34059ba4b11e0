//! Scenario files: topology, protocol settings, scheduled faults, the network's random
//! behaviour, duration and expectations — plain data, as written. TOML on disk; the same
//! [`Scenario`] can be built in code with [`Scenario::builder`].
//!
//! Reading a file checks it whole ([`resolve`]: names resolved to nodes and segments, every
//! fault's parameters, the configuration core would refuse), so an error names the file and
//! the field before anything runs. What a seed makes of it — the swarm's draw, the resolved
//! faults, each node's configuration — is a [`crate::plan::Plan`].

mod configs;
mod expect;
mod resolve;
mod spec;
mod swarm;
mod twin;

pub use expect::Expect;
pub use spec::FaultSpec;
pub use swarm::{Swarm, SwarmKind};
pub use twin::TWIN_WITNESS;

use crate::fault::{FaultKind, HookBehavior};
use crate::topology::Party;
use failover_core::config::{Mode, ProtocolSettings};
use failover_core::HookKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;
use thiserror::Error;

/// A whole scenario, as written in a file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name, shown in tables and replay commands.
    pub name: String,
    /// What situation this is and what a user relies on in it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Simulated time to run.
    #[serde(with = "humantime_serde")]
    pub duration: Duration,
    /// Protocol settings shared by every node.
    #[serde(default)]
    pub protocol: Protocol,
    /// The simulated client.
    #[serde(default)]
    pub client: Client,
    /// Networks. The client sits on the one named "public" (or the first).
    #[serde(rename = "segment")]
    pub segments: Vec<Segment>,
    /// Servers.
    #[serde(rename = "node")]
    pub nodes: Vec<NodeSpec>,
    /// Virtual addresses.
    #[serde(rename = "vip")]
    pub vips: Vec<Vip>,
    /// Scheduled faults.
    #[serde(rename = "fault", default)]
    pub faults: Vec<FaultSpec>,
    /// What must hold for the run to pass.
    #[serde(default)]
    pub expect: Expect,
    /// Swarm mode: every seed draws its own faults within these bounds (see [`crate::swarm`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swarm: Option<Swarm>,
}

/// Protocol settings given to every node's core configuration, and how long the things a
/// daemon waits on (hooks, the kernel) take.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Protocol {
    /// Heartbeat interval.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Silence after which a peer is dead (default 3 × interval).
    #[serde(with = "humantime_serde")]
    pub dead_after: Option<Duration>,
    /// Failback to a returning higher-priority node.
    pub preempt: bool,
    /// Shared HMAC key.
    pub auth_key: Option<String>,
    /// How often the owner announces its addresses again (default 10 s, `0s` never).
    #[serde(with = "humantime_serde")]
    pub announce_every: Option<Duration>,
    /// Hook timeout.
    #[serde(with = "humantime_serde")]
    pub hook_timeout: Duration,
    /// How long a healthy hook takes, all told (default 5 ms: about what starting a shell
    /// script costs; measured against real daemons by `failover-sim fidelity`).
    #[serde(with = "humantime_serde")]
    pub hook_latency: Duration,
    /// Per hook kind (test, pre_acq, post_acq, pre_rel, post_rel), in place of
    /// `hook_latency`: slow hooks of several intervals are where hand-over races live.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        with = "hook_latencies"
    )]
    pub hook_latencies: BTreeMap<HookKind, Duration>,
    /// How long the kernel takes to add or remove an address.
    #[serde(with = "humantime_serde")]
    pub address_latency: Duration,
    /// How long from an address added (or announced again) to its gratuitous ARP reaching
    /// the clients: the daemon's announcer and the wire. Default 2 ms, the 90th percentile
    /// measured against real daemons in the namespace bed (README, "the client").
    #[serde(with = "humantime_serde")]
    pub announce_latency: Duration,
    /// Datagrams a path's socket buffers while the daemon is stopped; more are dropped, as a
    /// full socket buffer drops them.
    pub socket_buffer: usize,
    /// `classic` (the default) or `quorum`: every node (witnesses included) votes, and an
    /// address is held only under a majority's lease.
    pub mode: Mode,
    /// Quorum mode: the lease (core's default when unset).
    #[serde(with = "humantime_serde")]
    pub lease: Option<Duration>,
    /// Quorum mode: the clock drift bound every node assumes (core's default: 1000 ppm).
    pub max_clock_drift_ppm: u32,
}

impl Default for Protocol {
    fn default() -> Self {
        Protocol {
            interval: Duration::from_secs(1),
            dead_after: None,
            preempt: true,
            auth_key: None,
            announce_every: None,
            hook_timeout: Duration::from_secs(10),
            hook_latency: Duration::from_millis(5),
            hook_latencies: BTreeMap::new(),
            address_latency: Duration::from_micros(200),
            announce_latency: Duration::from_millis(2),
            socket_buffer: 256,
            mode: Mode::Classic,
            lease: None,
            max_clock_drift_ppm: ProtocolSettings::default().max_clock_drift_ppm,
        }
    }
}

impl Protocol {
    /// Effective `dead_after`.
    pub fn dead_after(&self) -> Duration {
        self.dead_after.unwrap_or(self.interval * 3)
    }

    /// How long a healthy `kind` hook takes.
    pub fn hook_latency(&self, kind: HookKind) -> Duration {
        self.hook_latencies
            .get(&kind)
            .copied()
            .unwrap_or(self.hook_latency)
    }

    /// How long the requests of a healthy hand-over of `vips` addresses take, one after the
    /// other as core asks them: the owner's `Test`, `PreRel`, removal and `PostRel` of each,
    /// then the taker's `Test` of each and its `PreAcq`, addition and `PostAcq`. An address
    /// may be without a holder for most of it (the last released waits for every `PostRel`
    /// and `PreAcq` between) — with slow hooks and several addresses, longer than
    /// `dead_after`.
    pub fn hand_over_time(&self, vips: usize) -> Duration {
        use HookKind::{PostAcq, PostRel, PreAcq, PreRel, Test};
        let hooks: Duration = [Test, PreRel, PostRel, Test, PreAcq, PostAcq]
            .into_iter()
            .map(|kind| self.hook_latency(kind))
            .sum();
        (hooks + self.address_latency * 2) * vips as u32
    }
}

/// `hook_latencies` as a table keyed by the hook's name in the file (`pre_acq = "2s"`).
mod hook_latencies {
    use super::hook_name;
    use failover_core::HookKind;
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serializer};
    use std::collections::BTreeMap;
    use std::time::Duration;

    pub fn serialize<S: Serializer>(
        map: &BTreeMap<HookKind, Duration>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_map(
            map.iter()
                .map(|(k, v)| (hook_name(*k), humantime::format_duration(*v).to_string())),
        )
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<HookKind, Duration>, D::Error> {
        let raw = BTreeMap::<String, String>::deserialize(d)?;
        raw.into_iter()
            .map(|(k, v)| {
                let kind = super::hook_kind(&k).ok_or_else(|| {
                    D::Error::custom(format!(
                        "`{k}`: one of test, pre_acq, post_acq, pre_rel, post_rel"
                    ))
                })?;
                let d = humantime::parse_duration(&v)
                    .map_err(|e| D::Error::custom(format!("{k} = {v:?}: {e}")))?;
                Ok((kind, d))
            })
            .collect()
    }
}

/// A hook kind by its name in scenario files.
pub fn hook_kind(name: &str) -> Option<HookKind> {
    Some(match name {
        "test" => HookKind::Test,
        "pre_acq" => HookKind::PreAcq,
        "post_acq" => HookKind::PostAcq,
        "pre_rel" => HookKind::PreRel,
        "post_rel" => HookKind::PostRel,
        _ => return None,
    })
}

/// A hook kind's name in scenario files.
pub fn hook_name(kind: HookKind) -> &'static str {
    match kind {
        HookKind::Test => "test",
        HookKind::PreAcq => "pre_acq",
        HookKind::PostAcq => "post_acq",
        HookKind::PreRel => "pre_rel",
        HookKind::PostRel => "post_rel",
    }
}

/// The client that sends requests to every virtual address, through its ARP cache.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Client {
    /// Time between requests to each address.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// How long an ARP entry is trusted after it was last confirmed (an answered request, a
    /// gratuitous ARP): then the client asks again and every holder that hears it answers, the
    /// last answer winning. Linux: `base_reachable_time` (30 s, drawn between 15 and 45 s)
    /// plus the probes before an entry fails.
    #[serde(with = "humantime_serde")]
    pub arp_timeout: Duration,
}

impl Default for Client {
    fn default() -> Self {
        Client {
            interval: Duration::from_millis(10),
            arp_timeout: Duration::from_secs(30),
        }
    }
}

/// One network segment and its random behaviour.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Segment {
    /// Name ("public", "direct", ...): also the path name in node configurations.
    pub name: String,
    /// Minimum one-way latency.
    #[serde(with = "humantime_serde", default = "Segment::default_latency")]
    pub latency: Duration,
    /// Extra latency drawn uniformly from [0, jitter].
    #[serde(
        with = "humantime_serde",
        default,
        skip_serializing_if = "Duration::is_zero"
    )]
    pub jitter: Duration,
    /// Probability a datagram is lost.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub loss: f64,
    /// Probability a datagram is delivered twice.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub duplicate: f64,
    /// Probability a datagram is held back (by up to an interval), so it arrives out of order.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reorder: f64,
}

impl Segment {
    /// A datagram's latency on a segment that says none: a switched LAN's.
    pub const DEFAULT_LATENCY: Duration = Duration::from_micros(200);

    fn default_latency() -> Duration {
        Segment::DEFAULT_LATENCY
    }

    /// Whether every datagram takes exactly `latency`: no randomness to draw.
    pub fn is_quiet(&self) -> bool {
        self.jitter.is_zero() && self.loss == 0.0 && self.duplicate == 0.0 && self.reorder == 0.0
    }
}

/// One server.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// Name.
    pub name: String,
    /// Priority, 1–255 (a witness has none that matters).
    #[serde(default = "NodeSpec::default_priority")]
    pub priority: u8,
    /// Segments it has an interface on (default: all).
    #[serde(default)]
    pub segments: Option<Vec<String>>,
    /// Quorum mode: a witness votes and never holds an address.
    #[serde(default, skip_serializing_if = "is_false")]
    pub witness: bool,
    /// Segments on which its file names no peer: there it sends only to the nodes it has
    /// heard there, by their datagrams' source addresses — the source document's backup,
    /// whose `/etc/hostconfig` names only the master's direct-link address. Another node on
    /// each such segment must name it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub learns: Vec<String>,
}

impl NodeSpec {
    fn default_priority() -> u8 {
        100
    }
}

/// One virtual address.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vip {
    /// The address.
    pub address: IpAddr,
}

/// A scenario that cannot be run, naming the file and the field or fault at fault.
#[derive(Debug, Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Not valid TOML for the schema.
    #[error("{source_name}: {message}")]
    Parse {
        /// File or label.
        source_name: String,
        /// Parser message with line and column.
        message: String,
    },
    /// A value makes no sense.
    #[error("{source_name}: `{field}`: {message}")]
    Invalid {
        /// File or label.
        source_name: String,
        /// Field, e.g. `fault[2].node`.
        field: String,
        /// What is wrong.
        message: String,
    },
}

impl Scenario {
    /// Parses and checks a scenario; `source_name` prefixes every error.
    pub fn from_toml_str(text: &str, source_name: &str) -> Result<Scenario, ScenarioError> {
        let scenario: Scenario = toml::from_str(text).map_err(|e| ScenarioError::Parse {
            source_name: source_name.to_string(),
            message: e.to_string(),
        })?;
        scenario.check(source_name)?;
        Ok(scenario)
    }

    /// Whether `text` is meant as a scenario at all: TOML with a scenario's keys. Another
    /// TOML file in a directory of scenarios (a `Cargo.toml`, a CI configuration) is not,
    /// and is skipped rather than refused.
    pub fn looks_like_one(text: &str) -> bool {
        let Ok(table) = text.parse::<toml::Table>() else {
            return true; // broken TOML: let the parser say where
        };
        ["duration", "segment", "node", "vip"]
            .iter()
            .any(|key| table.contains_key(*key))
    }

    /// Reads a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Scenario::from_toml_str(&text, &path.display().to_string())
    }

    /// A scenario built in code: two segments, no nodes yet.
    pub fn builder(name: &str, duration: Duration) -> ScenarioBuilder {
        ScenarioBuilder(Scenario {
            name: name.to_string(),
            description: String::new(),
            duration,
            protocol: Protocol::default(),
            client: Client::default(),
            segments: Vec::new(),
            nodes: Vec::new(),
            vips: Vec::new(),
            faults: Vec::new(),
            expect: Expect::default(),
            swarm: None,
        })
    }

    /// The segment the client is on.
    pub fn client_segment(&self) -> usize {
        self.segments
            .iter()
            .position(|s| s.name == "public")
            .unwrap_or(0)
    }

    /// Whether the group runs in quorum mode.
    pub fn quorum(&self) -> bool {
        self.protocol.mode == Mode::Quorum
    }

    /// Index of a node by name.
    pub fn node_index(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// Segments node `i` is on, as segment indices, in path order.
    pub fn node_segments(&self, i: usize) -> Vec<usize> {
        match &self.nodes[i].segments {
            None => (0..self.segments.len()).collect(),
            Some(names) => names
                .iter()
                .filter_map(|n| self.segments.iter().position(|s| &s.name == n))
                .collect(),
        }
    }

    /// A fault in words, for traces and reports.
    pub fn describe(&self, kind: &FaultKind) -> String {
        let s = self;
        let node = |i: usize| s.nodes[i].name.as_str();
        let seg = |i: usize| s.segments[i].name.as_str();
        let side = |ps: &[Party]| {
            ps.iter()
                .map(|p| match p {
                    Party::Node(n) => node(*n),
                    Party::Client => "client",
                })
                .collect::<Vec<_>>()
                .join(",")
        };
        match kind {
            FaultKind::Partition {
                segment,
                a,
                b,
                oneway,
            } => format!(
                "partition {} {} {} {}",
                segment.map_or("all segments", seg),
                side(a),
                if *oneway { "->" } else { "<->" },
                side(b)
            ),
            FaultKind::LinkDown { node: n, segment } => {
                format!("link down {} on {}", node(*n), seg(*segment))
            }
            FaultKind::Crash { node: n } => format!("crash {}", node(*n)),
            FaultKind::Kill { node: n } => format!("kill {}'s daemon", node(*n)),
            FaultKind::Pause { node: n } => format!("pause {}'s daemon", node(*n)),
            FaultKind::Freeze { node: n } => format!("freeze {}", node(*n)),
            FaultKind::Address { node: n, change } => {
                format!("address {change} fails on {}", node(*n))
            }
            FaultKind::Clock {
                node: n,
                offset,
                drift_ppm,
            } => {
                format!("clock of {}: +{offset:?}, {drift_ppm} ppm", node(*n))
            }
            FaultKind::Hook {
                node: n,
                hook,
                behavior,
            } => {
                let how = match behavior {
                    HookBehavior::Fails => "fails".to_string(),
                    HookBehavior::Hangs => "hangs".to_string(),
                    HookBehavior::Slow(d) => format!("takes {d:?} longer"),
                };
                format!("hook {hook} on {} {how}", node(*n))
            }
            FaultKind::Shutdown { node: n } => format!("planned shutdown of {}", node(*n)),
            FaultKind::Standby { node: n } => format!("standby of {}", node(*n)),
            FaultKind::Switchover { node: n, to } => format!(
                "switchover on {} to {}",
                node(*n),
                to.map_or("the best other live node", node)
            ),
            FaultKind::Tamper { segment } => {
                format!("an attacker on {} sends bad datagrams", seg(*segment))
            }
            FaultKind::Reload { node: n, change } => {
                format!("reload of {}: {}", node(*n), change.describe())
            }
            FaultKind::Degrade {
                segment,
                impairment: i,
            } => {
                let mut what = Vec::new();
                for (p, name) in [
                    (i.loss, "loss"),
                    (i.duplicate, "duplicated"),
                    (i.reorder, "reordered"),
                ] {
                    if p > 0.0 {
                        what.push(format!("{:.1}% {name}", p * 100.0));
                    }
                }
                if i.delay > 0 {
                    what.push(format!("+{:?} latency", Duration::from_nanos(i.delay)));
                }
                format!("{} on {}", what.join(", "), seg(*segment))
            }
        }
    }
}

/// Builds a [`Scenario`] in code, turmoil-style.
pub struct ScenarioBuilder(Scenario);

impl ScenarioBuilder {
    /// Adds a segment with default latency.
    pub fn segment(mut self, name: &str) -> Self {
        self.0.segments.push(Segment {
            name: name.into(),
            latency: Segment::DEFAULT_LATENCY,
            jitter: Duration::ZERO,
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
        });
        self
    }

    /// Adds a node on every segment.
    pub fn node(mut self, name: &str, priority: u8) -> Self {
        self.0.nodes.push(NodeSpec {
            name: name.into(),
            priority,
            segments: None,
            witness: false,
            learns: Vec::new(),
        });
        self
    }

    /// Adds a quorum-mode witness on every segment.
    pub fn witness(mut self, name: &str) -> Self {
        self.0.nodes.push(NodeSpec {
            name: name.into(),
            priority: NodeSpec::default_priority(),
            segments: None,
            witness: true,
            learns: Vec::new(),
        });
        self
    }

    /// Switches the group to quorum mode.
    pub fn quorum(mut self) -> Self {
        self.0.protocol.mode = Mode::Quorum;
        self
    }

    /// Adds a virtual address.
    pub fn vip(mut self, address: &str) -> Self {
        self.0.vips.push(Vip {
            address: address.parse().expect("a valid address"),
        });
        self
    }

    /// Sets the heartbeat interval.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.0.protocol.interval = interval;
        self
    }

    /// Adds a fault.
    pub fn fault(mut self, fault: FaultSpec) -> Self {
        self.0.faults.push(fault);
        self
    }

    /// Changes the expectations.
    pub fn expect(mut self, f: impl FnOnce(&mut Expect)) -> Self {
        f(&mut self.0.expect);
        self
    }

    /// The scenario, checked.
    pub fn build(self) -> Result<Scenario, ScenarioError> {
        self.0.check("builder")?;
        Ok(self.0)
    }
}

pub(crate) fn is_false(b: &bool) -> bool {
    !b
}

pub(crate) fn is_zero(x: &f64) -> bool {
    *x == 0.0
}
