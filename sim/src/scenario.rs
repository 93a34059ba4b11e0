//! Scenario files: topology, protocol settings, scheduled faults, the network's random
//! behaviour, duration and expectations. TOML on disk; the same [`Scenario`] can be built in
//! code with [`Scenario::builder`].

use crate::net::{self, Impairment};
use crate::swarm::Swarm;
use failover_core::config::{
    HookSettings, NodeSettings, PathSettings, ProtocolSettings, VipSettings,
};
use failover_core::{Config, ConfigError, HookKind};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
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

/// Protocol settings given to every node's core configuration.
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
    /// Hook timeout.
    #[serde(with = "humantime_serde")]
    pub hook_timeout: Duration,
    /// How long a (healthy) hook takes.
    #[serde(with = "humantime_serde")]
    pub hook_latency: Duration,
}

impl Default for Protocol {
    fn default() -> Self {
        Protocol {
            interval: Duration::from_secs(1),
            dead_after: None,
            preempt: true,
            auth_key: None,
            hook_timeout: Duration::from_secs(10),
            hook_latency: Duration::from_millis(1),
        }
    }
}

impl Protocol {
    /// Effective `dead_after`.
    pub fn dead_after(&self) -> Duration {
        self.dead_after.unwrap_or(self.interval * 3)
    }
}

/// The client that sends requests to every virtual address.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Client {
    /// Time between requests to each address.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
}

impl Default for Client {
    fn default() -> Self {
        Client {
            interval: Duration::from_millis(10),
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
    #[serde(with = "humantime_serde", default = "default_latency")]
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
    /// Whether every datagram takes exactly `latency`: no randomness to draw.
    pub fn is_quiet(&self) -> bool {
        self.jitter.is_zero() && self.loss == 0.0 && self.duplicate == 0.0 && self.reorder == 0.0
    }
}

fn default_latency() -> Duration {
    Duration::from_micros(200)
}

/// One server.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// Name.
    pub name: String,
    /// Priority, 1–255.
    pub priority: u8,
    /// Segments it has an interface on (default: all).
    #[serde(default)]
    pub segments: Option<Vec<String>>,
}

/// One virtual address.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vip {
    /// The address.
    pub address: IpAddr,
}

/// A fault as written: `kind` says which, the other fields its parameters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// When it starts.
    #[serde(with = "humantime_serde")]
    pub at: Duration,
    /// How long it lasts (crash and shutdown: time until restart; none = for good).
    #[serde(
        with = "humantime_serde",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub duration: Option<Duration>,
    /// partition, link_down, crash, pause, clock, hook, shutdown, flap, degrade.
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
    /// Hook: fail or hang.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behavior: Option<String>,
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

fn is_false(b: &bool) -> bool {
    !b
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

fn is_zero_u32(x: &u32) -> bool {
    *x == 0
}

/// What a run must show.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Expect {
    /// Most time two nodes may hold one address at once.
    #[serde(with = "humantime_serde")]
    pub max_split_brain: Duration,
    /// Most of that time while no fault is in force nor settling (`converge_within` after
    /// each): zero by default, because on a healthy network nothing excuses two owners.
    #[serde(with = "humantime_serde")]
    pub max_split_brain_healthy: Duration,
    /// Longest allowed time from losing the owner to a new owner.
    #[serde(with = "humantime_serde")]
    pub max_failover_latency: Option<Duration>,
    /// Whether the best live node must own everything after faults heal.
    pub converge: bool,
    /// Bound for that (default 3 × dead_after + 1 s after the last fault ends).
    #[serde(with = "humantime_serde")]
    pub converge_within: Option<Duration>,
    /// Most time an address may have no holder (after the first acquisition).
    #[serde(with = "humantime_serde")]
    pub max_unavailable: Option<Duration>,
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
    /// At most this many ownership changes in the whole run.
    pub max_ownership_changes: Option<u32>,
}

impl Default for Expect {
    fn default() -> Self {
        Expect {
            max_split_brain: Duration::ZERO,
            max_split_brain_healthy: Duration::ZERO,
            max_failover_latency: None,
            converge: true,
            converge_within: None,
            max_unavailable: None,
            max_client_unreachable: Duration::ZERO,
            owner_at_end: None,
            takeovers: None,
            min_anomaly_notifications: None,
            max_anomaly_notifications: None,
            max_ownership_changes: None,
        }
    }
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

/// One side of a partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Party {
    /// A node, by index.
    Node(usize),
    /// The simulated client.
    Client,
}

/// A fault resolved against the topology.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultKind {
    /// Cut traffic between `a` and `b` on one segment or all.
    Partition {
        /// Segment index, or every segment.
        segment: Option<usize>,
        /// One side.
        a: Vec<Party>,
        /// Other side.
        b: Vec<Party>,
        /// Only a → b.
        oneway: bool,
    },
    /// One interface down.
    LinkDown {
        /// Node.
        node: usize,
        /// Segment.
        segment: usize,
    },
    /// Node dies, state lost; restarts after `duration` if given.
    Crash {
        /// Node.
        node: usize,
    },
    /// Node frozen for `duration`.
    Pause {
        /// Node.
        node: usize,
    },
    /// The node's clock jumps forward by `offset` and runs `drift_ppm` fast (or slow).
    Clock {
        /// Node.
        node: usize,
        /// Forward jump.
        offset: Duration,
        /// Drift.
        drift_ppm: f64,
    },
    /// A hook fails or hangs for `duration`.
    Hook {
        /// Node.
        node: usize,
        /// Which hook.
        hook: HookKind,
        /// Hang (never answer) rather than fail.
        hang: bool,
    },
    /// Planned shutdown; restarts after `duration` if given.
    Shutdown {
        /// Node.
        node: usize,
    },
    /// Extra loss, duplication, reordering or latency on a segment.
    Degrade {
        /// Segment.
        segment: usize,
        /// What gets worse.
        impairment: Impairment,
    },
}

/// A resolved fault with its time span.
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    /// Start.
    pub at: Duration,
    /// Length, if it ends.
    pub duration: Option<Duration>,
    /// What.
    pub kind: FaultKind,
}

impl Scenario {
    /// Parses and checks a scenario; `source_name` prefixes every error.
    pub fn from_toml_str(text: &str, source_name: &str) -> Result<Scenario, ScenarioError> {
        let scenario: Scenario = toml::from_str(text).map_err(|e| ScenarioError::Parse {
            source_name: source_name.to_string(),
            message: e.to_string(),
        })?;
        scenario.check_topology(source_name)?;
        scenario.sim_configs(source_name)?;
        scenario.resolve_faults(source_name)?;
        Ok(scenario)
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

    /// The scenario seed `seed` runs: in swarm mode, these scheduled faults plus those the
    /// seed draws, and no swarm left; otherwise the scenario itself.
    pub fn instantiate(&self, seed: u64) -> Cow<'_, Scenario> {
        match &self.swarm {
            None => Cow::Borrowed(self),
            Some(swarm) => {
                let mut s = self.clone();
                s.faults.extend(swarm.draw(self, seed).faults);
                s.swarm = None;
                Cow::Owned(s)
            }
        }
    }

    /// The segment the client is on.
    pub fn client_segment(&self) -> usize {
        self.segments
            .iter()
            .position(|s| s.name == "public")
            .unwrap_or(0)
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
            FaultKind::Pause { node: n } => format!("pause {}", node(*n)),
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
                hang,
            } => {
                format!(
                    "hook {hook} on {} {}",
                    node(*n),
                    if *hang { "hangs" } else { "fails" }
                )
            }
            FaultKind::Shutdown { node: n } => format!("planned shutdown of {}", node(*n)),
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

    /// Node `i`'s core configuration, with the paths an engine gives it: the scenario's
    /// protocol settings, every virtual address, hooks that time out as the scenario says.
    pub fn node_config(&self, i: usize, paths: Vec<PathSettings>) -> Config {
        let p = &self.protocol;
        Config {
            node: NodeSettings {
                name: self.nodes[i].name.clone(),
                priority: self.nodes[i].priority,
            },
            protocol: ProtocolSettings {
                interval: p.interval,
                dead_after: p.dead_after,
                preempt: p.preempt,
                auth_key: p.auth_key.clone(),
                ..ProtocolSettings::default()
            },
            paths,
            vips: self
                .vips
                .iter()
                .map(|v| VipSettings {
                    address: v.address,
                    prefix: None,
                    interface: "eth0".into(),
                })
                .collect(),
            notify: Default::default(),
            hooks: HookSettings {
                timeout: p.hook_timeout,
                dir: None,
            },
        }
    }

    /// The core configuration our simulator gives node `i`: one path per segment it is on,
    /// with each node's address on that segment.
    pub fn sim_config(&self, i: usize) -> Config {
        let paths = (self.node_segments(i).into_iter())
            .map(|seg| PathSettings {
                name: self.segments[seg].name.clone(),
                local: Some(net::address(seg, i)),
                peers: (0..self.nodes.len())
                    .filter(|&j| j != i && self.node_segments(j).contains(&seg))
                    .map(|j| net::address(seg, j))
                    .collect(),
            })
            .collect();
        self.node_config(i, paths)
    }

    /// Every node's configuration as our simulator builds it (see [`Scenario::sim_config`]),
    /// or the field core would refuse at start, named as the scenario names it.
    pub fn sim_configs(&self, source_name: &str) -> Result<Vec<Config>, ScenarioError> {
        (0..self.nodes.len())
            .map(|i| {
                let config = self.sim_config(i);
                match config.validate() {
                    Ok(()) => Ok(config),
                    Err(ConfigError::Parse { message, .. }) => Err(ScenarioError::Parse {
                        source_name: source_name.to_string(),
                        message,
                    }),
                    Err(ConfigError::Invalid { field, message }) => {
                        let field = match field.as_str() {
                            "hooks.timeout" => "protocol.hook_timeout".to_string(),
                            "node.priority" => format!("node[{i}].priority"),
                            "node.name" => format!("node[{i}].name"),
                            _ => field,
                        };
                        Err(ScenarioError::Invalid {
                            source_name: source_name.to_string(),
                            field,
                            message,
                        })
                    }
                }
            })
            .collect()
    }

    /// Checks segments, nodes and the swarm against each other; the error names the field.
    fn check_topology(&self, source_name: &str) -> Result<(), ScenarioError> {
        let err = |field: String, message: String| ScenarioError::Invalid {
            source_name: source_name.to_string(),
            field,
            message,
        };
        if self.segments.is_empty() || self.segments.len() > 4 {
            return Err(err("segment".into(), "between 1 and 4 segments".into()));
        }
        if self.nodes.len() < 2 || self.nodes.len() > 40 {
            return Err(err(
                "node".into(),
                "between 2 and 40 nodes: a failover group needs someone to fail over to".into(),
            ));
        }
        if self.vips.is_empty() {
            return Err(err("vip".into(), "at least one [[vip]]".into()));
        }
        for (i, s) in self.segments.iter().enumerate() {
            for (field, p) in [
                ("loss", s.loss),
                ("duplicate", s.duplicate),
                ("reorder", s.reorder),
            ] {
                if !(0.0..=1.0).contains(&p) {
                    return Err(err(
                        format!("segment[{i}].{field}"),
                        "a probability, 0 to 1".into(),
                    ));
                }
            }
        }
        for (i, n) in self.nodes.iter().enumerate() {
            if self.nodes[..i].iter().any(|o| o.name == n.name) || n.name == "client" {
                return Err(err(
                    format!("node[{i}].name"),
                    format!("`{}` is taken", n.name),
                ));
            }
            for seg in n.segments.iter().flatten() {
                if !self.segments.iter().any(|s| &s.name == seg) {
                    return Err(err(
                        format!("node[{i}].segments"),
                        format!("no segment `{seg}`"),
                    ));
                }
            }
        }
        if let Some(swarm) = &self.swarm {
            swarm
                .validate(self)
                .map_err(|(field, message)| err(field, message))?;
        }
        for i in 0..self.nodes.len() {
            let mine = self.node_segments(i);
            let alone = (0..self.nodes.len())
                .filter(|&j| j != i)
                .all(|j| !self.node_segments(j).iter().any(|s| mine.contains(s)));
            if alone {
                return Err(err(
                    format!("node[{i}].segments"),
                    format!(
                        "`{}` shares no segment with another node",
                        self.nodes[i].name
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Checks the whole scenario and resolves faults against the topology (flaps become
    /// several link-down faults).
    pub fn resolve_faults(&self, source_name: &str) -> Result<Vec<Fault>, ScenarioError> {
        self.check_topology(source_name)?;
        let err = |field: String, message: String| ScenarioError::Invalid {
            source_name: source_name.to_string(),
            field,
            message,
        };
        if self.client.interval.is_zero() {
            return Err(err(
                "client.interval".into(),
                "must be more than zero".into(),
            ));
        }
        let mut out = Vec::new();
        for (i, f) in self.faults.iter().enumerate() {
            let field = |name: &str| format!("fault[{i}].{name}");
            let node = || -> Result<usize, ScenarioError> {
                let name = f
                    .node
                    .as_deref()
                    .ok_or_else(|| err(field("node"), "required".into()))?;
                self.node_index(name)
                    .ok_or_else(|| err(field("node"), format!("no node `{name}`")))
            };
            let segment = || -> Result<usize, ScenarioError> {
                let name = f
                    .segment
                    .as_deref()
                    .ok_or_else(|| err(field("segment"), "required".into()))?;
                self.segments
                    .iter()
                    .position(|s| s.name == name)
                    .ok_or_else(|| err(field("segment"), format!("no segment `{name}`")))
            };
            let parties = |names: &[String], which: &str| -> Result<Vec<Party>, ScenarioError> {
                if names.is_empty() {
                    return Err(err(
                        field(which),
                        "needs at least one node or \"client\"".into(),
                    ));
                }
                names
                    .iter()
                    .map(|n| match n.as_str() {
                        "client" => Ok(Party::Client),
                        _ => self
                            .node_index(n)
                            .map(Party::Node)
                            .ok_or_else(|| err(field(which), format!("no node `{n}`"))),
                    })
                    .collect()
            };
            let needs_duration = || {
                f.duration
                    .ok_or_else(|| err(field("duration"), format!("a {} needs a duration", f.kind)))
            };
            let kind = match f.kind.as_str() {
                "partition" => FaultKind::Partition {
                    segment: if f.segment.is_some() { Some(segment()?) } else { None },
                    a: parties(&f.a, "a")?,
                    b: parties(&f.b, "b")?,
                    oneway: f.oneway,
                },
                "link_down" => FaultKind::LinkDown { node: node()?, segment: segment()? },
                "crash" => FaultKind::Crash { node: node()? },
                "shutdown" => FaultKind::Shutdown { node: node()? },
                "pause" => {
                    needs_duration()?;
                    FaultKind::Pause { node: node()? }
                }
                "clock" => {
                    if f.drift_ppm <= -1e6 || f.drift_ppm >= 1e6 {
                        return Err(err(field("drift_ppm"), "must be within ±1,000,000".into()));
                    }
                    FaultKind::Clock {
                        node: node()?,
                        offset: f.offset.unwrap_or_default(),
                        drift_ppm: f.drift_ppm,
                    }
                }
                "hook" => {
                    let hook = match f.hook.as_deref() {
                        Some("test") => HookKind::Test,
                        Some("pre_acq") => HookKind::PreAcq,
                        Some("post_acq") => HookKind::PostAcq,
                        Some("pre_rel") => HookKind::PreRel,
                        Some("post_rel") => HookKind::PostRel,
                        other => {
                            return Err(err(
                                field("hook"),
                                format!("{other:?}: one of test, pre_acq, post_acq, pre_rel, post_rel"),
                            ))
                        }
                    };
                    let hang = match f.behavior.as_deref() {
                        Some("fail") => false,
                        Some("hang") => true,
                        other => return Err(err(field("behavior"), format!("{other:?}: fail or hang"))),
                    };
                    FaultKind::Hook { node: node()?, hook, hang }
                }
                "degrade" => {
                    for (name, p) in [("loss", f.loss), ("duplicate", f.duplicate), ("reorder", f.reorder)] {
                        if !(0.0..=1.0).contains(&p) {
                            return Err(err(field(name), "a probability, 0 to 1".into()));
                        }
                    }
                    needs_duration()?;
                    let impairment = Impairment {
                        loss: f.loss,
                        duplicate: f.duplicate,
                        reorder: f.reorder,
                        delay: f.delay.unwrap_or_default().as_nanos() as u64,
                    };
                    if impairment.is_none() {
                        return Err(err(
                            field("kind"),
                            "a degrade needs loss, duplicate, reorder or delay".into(),
                        ));
                    }
                    FaultKind::Degrade { segment: segment()?, impairment }
                }
                "flap" => {
                    let period = f.period.ok_or_else(|| err(field("period"), "required".into()))?;
                    if f.count == 0 || period.is_zero() {
                        return Err(err(field("count"), "a flap needs count ≥ 1 and a period".into()));
                    }
                    let (node, segment) = (node()?, segment()?);
                    for k in 0..f.count {
                        out.push(Fault {
                            at: f.at + period * 2 * k,
                            duration: Some(period),
                            kind: FaultKind::LinkDown { node, segment },
                        });
                    }
                    continue;
                }
                other => {
                    return Err(err(
                        field("kind"),
                        format!("`{other}`: one of partition, link_down, crash, pause, clock, hook, shutdown, flap, degrade"),
                    ))
                }
            };
            out.push(Fault {
                at: f.at,
                duration: f.duration,
                kind,
            });
        }
        Ok(out)
    }
}

/// Builds a [`Scenario`] in code, turmoil-style.
pub struct ScenarioBuilder(Scenario);

impl ScenarioBuilder {
    /// Adds a segment with default latency.
    pub fn segment(mut self, name: &str) -> Self {
        self.0.segments.push(Segment {
            name: name.into(),
            latency: default_latency(),
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
        });
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
        self.0.check_topology("builder")?;
        self.0.sim_configs("builder")?;
        self.0.resolve_faults("builder")?;
        Ok(self.0)
    }
}
