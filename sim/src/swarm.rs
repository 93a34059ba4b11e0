//! Swarm mode, as in FoundationDB's and TigerBeetle's simulators: a scenario's `[swarm]`
//! section gives bounds, and every seed draws which fault kinds are on and then the faults
//! themselves within those bounds. Different seeds stress different combinations, which finds
//! bugs that a fixed mix of every fault at once would drown out. The last `heal` of the run has
//! no drawn fault, so convergence is judged every time.
//!
//! The draw is a list of ordinary scheduled faults ([`FaultSpec`]): a seed's scenario can be
//! printed, written to a file, replayed without the swarm, and shrunk fault by fault.

use crate::rng;
use crate::scenario::{hook_name, FaultSpec, Scenario, Swarm, SwarmKind};
use failover_core::HookKind;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

/// Every hook kind, in the order a draw picks from.
const HOOKS: [HookKind; 5] = [
    HookKind::Test,
    HookKind::PreAcq,
    HookKind::PostAcq,
    HookKind::PreRel,
    HookKind::PostRel,
];

/// The random stream the draw uses, apart from every link's.
const STREAM: u64 = 0x5741_524d; // "SWARM"

/// What one seed drew.
#[derive(Clone, Debug, PartialEq)]
pub struct Drawn {
    /// The kinds that were on.
    pub kinds: Vec<SwarmKind>,
    /// The faults, in time order.
    pub faults: Vec<FaultSpec>,
}

/// The draw is written as methods of the bounds: `swarm.draw(scenario, seed)`.
impl Swarm {
    /// The faults seed `seed` draws for `scenario`: the same every time.
    pub fn draw(&self, scenario: &Scenario, seed: u64) -> Drawn {
        let mut rng = rng::fork(seed, STREAM);
        let mut kinds: Vec<SwarmKind> = self
            .kinds
            .iter()
            .copied()
            .filter(|_| rng.random_bool(0.5))
            .collect();
        if kinds.is_empty() {
            kinds.push(*self.kinds.choose(&mut rng).expect("validated: some kinds"));
        }
        let count = rng.random_range(1..=self.max_faults);
        let end = scenario.duration - self.heal;
        let mut faults: Vec<FaultSpec> = (0..count)
            .map(|_| {
                let kind = *kinds.choose(&mut rng).expect("at least one kind");
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
        Drawn { kinds, faults }
    }

    /// Fills in one drawn fault of `kind` (its time and duration already in `spec`).
    pub(crate) fn fault(
        &self,
        kind: SwarmKind,
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
        // One restart in five does not come: the others must carry on without it.
        let restart =
            |rng: &mut ChaCha8Rng| (!rng.random_bool(0.2)).then_some(spec.duration).flatten();
        match kind {
            SwarmKind::Partition | SwarmKind::Oneway => {
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
                    oneway: kind == SwarmKind::Oneway,
                    ..spec
                }
            }
            SwarmKind::LinkDown => {
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
            SwarmKind::Loss | SwarmKind::Duplicate | SwarmKind::Reorder | SwarmKind::Delay => {
                let mut f = FaultSpec {
                    kind: "degrade".into(),
                    segment: segment(rng),
                    ..spec
                };
                match kind {
                    SwarmKind::Loss => f.loss = chance(rng, self.max_loss).max(0.001),
                    SwarmKind::Duplicate => {
                        f.duplicate = chance(rng, self.max_duplicate).max(0.001)
                    }
                    SwarmKind::Reorder => f.reorder = chance(rng, self.max_reorder).max(0.001),
                    _ => {
                        f.delay = Some(millis(
                            rng.random_range(Duration::from_millis(1)..=self.max_delay),
                        ))
                    }
                }
                f
            }
            SwarmKind::Crash | SwarmKind::Shutdown => FaultSpec {
                kind: kind.name().into(),
                node: node(rng),
                duration: restart(rng),
                ..spec
            },
            // A killed daemon comes back (systemd's `Restart=`) and removes what it left: a
            // kill for good would leave its address up for ever, which no mode can fix.
            SwarmKind::Kill => FaultSpec {
                kind: "kill".into(),
                node: node(rng),
                ..spec
            },
            SwarmKind::Pause | SwarmKind::Freeze => FaultSpec {
                kind: kind.name().into(),
                node: node(rng),
                ..spec
            },
            SwarmKind::Clock => FaultSpec {
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
            SwarmKind::Hook | SwarmKind::SlowHook => {
                let hook = *HOOKS.choose(rng).expect("hooks");
                let (behavior, latency) = match kind {
                    SwarmKind::SlowHook => (
                        "slow",
                        Some(millis(rng.random_range(
                            Duration::from_millis(1)..=self.max_hook_latency,
                        ))),
                    ),
                    _ if rng.random_bool(0.3) => ("hang", None),
                    _ => ("fail", None),
                };
                FaultSpec {
                    kind: "hook".into(),
                    node: node(rng),
                    hook: Some(hook_name(hook).into()),
                    behavior: Some(behavior.into()),
                    latency,
                    ..spec
                }
            }
            SwarmKind::Address => FaultSpec {
                kind: "address".into(),
                node: node(rng),
                change: Some(
                    if rng.random_bool(0.5) {
                        "add"
                    } else {
                        "remove"
                    }
                    .into(),
                ),
                ..spec
            },
            SwarmKind::Standby => FaultSpec {
                kind: "standby".into(),
                node: node(rng),
                ..spec
            },
            // Asked of any node, the owner or not (then it is refused), to another node or
            // to the best.
            SwarmKind::Switchover => {
                let asked = node(rng);
                let others: Vec<&String> = (scenario.nodes.iter())
                    .map(|n| &n.name)
                    .filter(|n| Some(*n) != asked.as_ref())
                    .collect();
                let to = match others.choose(rng) {
                    Some(to) if rng.random_bool(0.5) => Some((*to).clone()),
                    _ => None,
                };
                FaultSpec {
                    kind: "switchover".into(),
                    node: asked,
                    to,
                    duration: None,
                    ..spec
                }
            }
            SwarmKind::Reload => self.reload(spec, node(rng), scenario, rng),
            SwarmKind::Tamper => FaultSpec {
                kind: "tamper".into(),
                segment: segment(rng),
                ..spec
            },
        }
    }

    /// A drawn reload (put back after its duration): one change the group must take without
    /// a false failover — a priority; faster heartbeats or a longer dead_after, within what
    /// every peer's timing allows; a key added beside the one in use — or, one time in three,
    /// an edit the daemon must refuse (an address added, a quorum lease, a dead_after below
    /// twice the interval), alone or beside one of those, which must then be refused with it.
    fn reload(
        &self,
        spec: FaultSpec,
        node: Option<String>,
        scenario: &Scenario,
        rng: &mut ChaCha8Rng,
    ) -> FaultSpec {
        let p = &scenario.protocol;
        let mut f = FaultSpec {
            kind: "reload".into(),
            node,
            ..spec
        };
        let refused = rng.random_bool(1.0 / 3.0);
        let valid = !refused || rng.random_bool(0.5);
        if valid {
            match rng.random_range(0..4) {
                0 | 1 => f.priority = Some(rng.random_range(1..=255)),
                // Faster heartbeats (always safe for the peers), and a dead_after of at least
                // twice the slowest heartbeat any peer sends.
                2 => {
                    let interval = millis(rng.random_range(p.interval / 2..=p.interval));
                    f.interval = Some(interval.max(Duration::from_millis(10)));
                    if rng.random_bool(0.5) {
                        let low = p.interval * 2;
                        f.dead_after = Some(millis(rng.random_range(low..=p.dead_after() * 2)));
                    }
                }
                // (refused in a group with no key: a previous key needs one in use)
                _ => f.previous_auth_key = Some("a key the group may rotate to".into()),
            }
        }
        if refused {
            match rng.random_range(0..3) {
                0 => {
                    let last = scenario.vips.last().expect("a vip").address;
                    f.add_vip = Some(match last {
                        std::net::IpAddr::V4(a) => {
                            std::net::Ipv4Addr::from(u32::from(a).wrapping_add(1)).into()
                        }
                        std::net::IpAddr::V6(a) => {
                            std::net::Ipv6Addr::from(u128::from(a).wrapping_add(1)).into()
                        }
                    });
                }
                1 => {
                    f.lease = Some(millis(
                        rng.random_range(p.dead_after()..=p.dead_after() * 2),
                    ))
                }
                // (below twice the interval the file gives: core's validation refuses it)
                _ => f.dead_after = Some(f.interval.unwrap_or(p.interval)),
            }
        }
        f
    }
}

/// Rounded to whole milliseconds, so a drawn schedule reads well when printed.
fn millis(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}

/// A seed's draw as a person reads it, and as a scenario file takes it: the kinds that were
/// on, then the faults as `[[fault]]` tables.
pub fn describe(drawn: &Drawn) -> String {
    let kinds: Vec<&str> = drawn.kinds.iter().map(|k| k.name()).collect();
    format!(
        "# swarm draw: kinds on: {}; {} fault(s)\n{}",
        kinds.join(", "),
        drawn.faults.len(),
        FaultSpec::to_toml(&drawn.faults)
    )
}
