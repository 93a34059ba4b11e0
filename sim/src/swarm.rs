//! Swarm mode, as in FoundationDB's and TigerBeetle's simulators: a scenario's `[swarm]`
//! section gives bounds, and every seed draws which fault kinds are on and then the faults
//! themselves within those bounds. Different seeds stress different combinations, which finds
//! bugs that a fixed mix of every fault at once would drown out. The last `heal` of the run has
//! no drawn fault, so convergence is judged every time.
//!
//! The draw is a list of ordinary scheduled faults ([`FaultSpec`]): a seed's scenario can be
//! printed, written to a file, replayed without the swarm, and shrunk fault by fault.

use crate::net;
use crate::scenario::{FaultSpec, Scenario};
use rand::seq::{IndexedRandom, SliceRandom};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Every fault kind a swarm may draw.
pub const KINDS: [&str; 11] = [
    "partition",
    "oneway",
    "link_down",
    "loss",
    "delay",
    "duplicate",
    "reorder",
    "crash",
    "pause",
    "clock",
    "hook",
];

/// The random stream the draw uses, apart from every link's.
const STREAM: u64 = 0x5741_524d; // "SWARM"

/// The bounds of what a seed may draw.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Swarm {
    /// No drawn fault begins before this (the group settles first).
    #[serde(with = "humantime_serde")]
    pub start: Duration,
    /// The last `heal` of the run has no drawn fault: convergence is checked there.
    #[serde(with = "humantime_serde")]
    pub heal: Duration,
    /// Each seed draws between one and this many faults.
    pub max_faults: u32,
    /// The kinds a seed chooses from (each seed turns a random non-empty subset on): partition
    /// (symmetric, all segments or one), oneway, link_down, loss, delay (latency spikes),
    /// duplicate, reorder, crash (and restart), pause, clock (jump and drift), hook (fails or
    /// hangs).
    pub kinds: Vec<String>,
    /// Shortest drawn fault.
    #[serde(with = "humantime_serde")]
    pub min_duration: Duration,
    /// Longest drawn fault.
    #[serde(with = "humantime_serde")]
    pub max_duration: Duration,
    /// Worst loss probability.
    pub max_loss: f64,
    /// Worst duplication probability.
    pub max_duplicate: f64,
    /// Worst reordering probability.
    pub max_reorder: f64,
    /// Worst latency spike.
    #[serde(with = "humantime_serde")]
    pub max_delay: Duration,
    /// Worst clock drift, parts per million either way.
    pub max_drift_ppm: f64,
    /// Worst forward clock jump.
    #[serde(with = "humantime_serde")]
    pub max_clock_jump: Duration,
    /// Whether partitions may put the client on one side.
    pub client_partitions: bool,
}

impl Default for Swarm {
    fn default() -> Self {
        Swarm {
            start: Duration::from_secs(10),
            heal: Duration::from_secs(60),
            max_faults: 6,
            kinds: KINDS.iter().map(|k| k.to_string()).collect(),
            min_duration: Duration::from_secs(1),
            max_duration: Duration::from_secs(20),
            max_loss: 0.5,
            max_duplicate: 0.3,
            max_reorder: 0.3,
            max_delay: Duration::from_secs(1),
            max_drift_ppm: 1000.0,
            max_clock_jump: Duration::from_secs(2),
            client_partitions: true,
        }
    }
}

/// What one seed drew.
#[derive(Clone, Debug, PartialEq)]
pub struct Drawn {
    /// The kinds that were on.
    pub kinds: Vec<String>,
    /// The faults, in time order.
    pub faults: Vec<FaultSpec>,
}

impl Swarm {
    /// Checks the bounds against the scenario; the message names the field.
    pub fn validate(&self, scenario: &Scenario) -> Result<(), (String, String)> {
        let bad = |field: &str, msg: String| Err((format!("swarm.{field}"), msg));
        for (i, kind) in self.kinds.iter().enumerate() {
            if !KINDS.contains(&kind.as_str()) {
                return bad(
                    &format!("kinds[{i}]"),
                    format!("`{kind}`: one of {}", KINDS.join(", ")),
                );
            }
        }
        if self.kinds.is_empty() {
            return bad("kinds", "at least one kind".into());
        }
        if self.max_faults == 0 {
            return bad("max_faults", "at least 1".into());
        }
        if self.min_duration.is_zero() || self.min_duration > self.max_duration {
            return bad(
                "min_duration",
                "more than zero and at most max_duration".into(),
            );
        }
        if self.start + self.max_duration + self.heal > scenario.duration {
            return bad(
                "heal",
                format!(
                    "start ({:?}) + max_duration ({:?}) + heal ({:?}) must fit in the run ({:?})",
                    self.start, self.max_duration, self.heal, scenario.duration
                ),
            );
        }
        for (field, p) in [
            ("max_loss", self.max_loss),
            ("max_duplicate", self.max_duplicate),
            ("max_reorder", self.max_reorder),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return bad(field, "a probability, 0 to 1".into());
            }
        }
        if !(0.0..1e6).contains(&self.max_drift_ppm) {
            return bad("max_drift_ppm", "between 0 and 1,000,000".into());
        }
        Ok(())
    }

    /// The faults seed `seed` draws for `scenario`: the same every time.
    pub fn draw(&self, scenario: &Scenario, seed: u64) -> Drawn {
        let mut rng = net::fork(seed, STREAM);
        let mut kinds: Vec<&String> = self.kinds.iter().filter(|_| rng.random_bool(0.5)).collect();
        if kinds.is_empty() {
            kinds.push(self.kinds.choose(&mut rng).expect("validated: some kinds"));
        }
        let count = rng.random_range(1..=self.max_faults);
        let end = scenario.duration - self.heal;
        let mut faults: Vec<FaultSpec> = (0..count)
            .map(|_| {
                let kind = kinds.choose(&mut rng).expect("at least one kind");
                let duration = millis(rng.random_range(self.min_duration..=self.max_duration));
                let latest = end.saturating_sub(duration).max(self.start);
                let at = millis(rng.random_range(self.start..=latest));
                let spec = FaultSpec {
                    at,
                    duration: Some(duration),
                    ..FaultSpec::default()
                };
                self.fault(kind, spec, scenario, &mut rng)
            })
            .collect();
        faults.sort_by_key(|f| f.at);
        Drawn {
            kinds: kinds.into_iter().cloned().collect(),
            faults,
        }
    }

    /// Fills in one drawn fault of `kind`.
    fn fault(
        &self,
        kind: &str,
        spec: FaultSpec,
        scenario: &Scenario,
        rng: &mut ChaCha8Rng,
    ) -> FaultSpec {
        let node =
            |rng: &mut ChaCha8Rng| Some(scenario.nodes.choose(rng).expect("nodes").name.clone());
        let segment = |rng: &mut ChaCha8Rng| {
            Some(
                scenario
                    .segments
                    .choose(rng)
                    .expect("segments")
                    .name
                    .clone(),
            )
        };
        let chance = |rng: &mut ChaCha8Rng, max: f64| {
            (rng.random_range(0.0..=max) * 1000.0).round() / 1000.0
        };
        match kind {
            "partition" | "oneway" => {
                let mut names: Vec<String> =
                    scenario.nodes.iter().map(|n| n.name.clone()).collect();
                names.shuffle(rng);
                let split = rng.random_range(1..names.len().max(2));
                let mut b = names.split_off(split.min(names.len()));
                let mut a = names;
                if b.is_empty() || (self.client_partitions && rng.random_bool(0.25)) {
                    // A node alone against the client: it is cut off from those it serves.
                    if rng.random_bool(0.5) || b.is_empty() {
                        b.push("client".into());
                    } else {
                        a.push("client".into());
                    }
                }
                let every = rng.random_range(0..=scenario.segments.len()) == 0;
                FaultSpec {
                    kind: "partition".into(),
                    segment: if every { None } else { segment(rng) },
                    a,
                    b,
                    oneway: kind == "oneway",
                    ..spec
                }
            }
            "link_down" => {
                let n = scenario.nodes.choose(rng).expect("nodes");
                let on = scenario.node_segments(scenario.node_index(&n.name).expect("a node"));
                let seg = *on.choose(rng).expect("a node is on some segment");
                FaultSpec {
                    kind: "link_down".into(),
                    node: Some(n.name.clone()),
                    segment: Some(scenario.segments[seg].name.clone()),
                    ..spec
                }
            }
            "loss" | "duplicate" | "reorder" | "delay" => {
                let mut f = FaultSpec {
                    kind: "degrade".into(),
                    segment: segment(rng),
                    ..spec
                };
                match kind {
                    "loss" => f.loss = chance(rng, self.max_loss).max(0.001),
                    "duplicate" => f.duplicate = chance(rng, self.max_duplicate).max(0.001),
                    "reorder" => f.reorder = chance(rng, self.max_reorder).max(0.001),
                    _ => {
                        f.delay = Some(millis(
                            rng.random_range(Duration::from_millis(1)..=self.max_delay),
                        ))
                    }
                }
                f
            }
            "crash" => FaultSpec {
                kind: "crash".into(),
                node: node(rng),
                // One crash in five is for good: the others must carry on without it.
                duration: if rng.random_bool(0.2) {
                    None
                } else {
                    spec.duration
                },
                ..spec
            },
            "pause" => FaultSpec {
                kind: "pause".into(),
                node: node(rng),
                ..spec
            },
            "clock" => FaultSpec {
                kind: "clock".into(),
                node: node(rng),
                offset: Some(millis(
                    rng.random_range(Duration::ZERO..=self.max_clock_jump),
                )),
                drift_ppm: rng
                    .random_range(-self.max_drift_ppm..=self.max_drift_ppm)
                    .round(),
                ..spec
            },
            "hook" => {
                let hooks = ["test", "pre_acq", "post_acq", "pre_rel", "post_rel"];
                FaultSpec {
                    kind: "hook".into(),
                    node: node(rng),
                    hook: Some(hooks.choose(rng).expect("hooks").to_string()),
                    behavior: Some(if rng.random_bool(0.3) { "hang" } else { "fail" }.into()),
                    ..spec
                }
            }
            other => unreachable!("validated kind {other}"),
        }
    }
}

/// Rounded to whole milliseconds, so a drawn schedule reads well when printed.
fn millis(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}

/// A seed's draw as a person reads it, and as a scenario file takes it: the kinds that were
/// on, then the faults as `[[fault]]` tables.
pub fn describe(drawn: &Drawn) -> String {
    format!(
        "# swarm draw: kinds on: {}; {} fault(s)\n{}",
        drawn.kinds.join(", "),
        drawn.faults.len(),
        FaultSpec::to_toml(&drawn.faults)
    )
}
