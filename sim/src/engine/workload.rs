//! The engine-neutral part of a scenario.

use crate::fault::FaultKind;
use crate::scenario::Scenario;
use crate::topology::Party;
use failover_core::config::PathSettings;
use failover_core::Config;
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// Port of the first path; path `p` listens on `BASE_PORT + p` of its host's one address.
pub const BASE_PORT: u16 = 1694;

/// Something that happens to the group at a scheduled time; nodes are scenario indices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Fault {
    /// The node's host stops at once: no release, no goodbye; its addresses vanish.
    Crash(usize),
    /// The node's daemon dies at once while its host stays up with its addresses.
    Kill(usize),
    /// A crashed, killed or shut-down node starts again, with the next boot epoch (and removes
    /// what an earlier run left on its interfaces).
    Restart(usize),
    /// The node's daemon stops (SIGSTOP): what reaches it waits until it resumes.
    Pause(usize),
    /// A paused daemon runs again.
    Resume(usize),
    /// The node's whole host stops: its daemon is paused and nothing reaches it or leaves it.
    Freeze(usize),
    /// A frozen host runs again.
    Thaw(usize),
    /// The operator stops the node (`Command::Shutdown`): it releases and says goodbye.
    Shutdown(usize),
    /// Every datagram from one node to another is dropped, on every path.
    Cut {
        /// Sender.
        from: usize,
        /// Receiver.
        to: usize,
    },
    /// Undoes a [`Fault::Cut`].
    Mend {
        /// Sender.
        from: usize,
        /// Receiver.
        to: usize,
    },
}

/// A fault and when it happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scheduled {
    /// Simulated time since the start.
    pub at: Duration,
    /// What happens.
    pub fault: Fault,
}

/// What every engine can run of a scenario. Engines give a host one address and fault host
/// pairs, not paths: a per-path cut, a skewed clock, a failing hook or the client are our
/// simulator's alone, and [`Workload::from_scenario`] refuses them.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Workload {
    /// Each node's core configuration: one path per scenario segment, on ports
    /// `BASE_PORT + path` of the node's address.
    pub configs: Vec<Config>,
    /// Faults, in time order.
    pub schedule: Vec<Scheduled>,
    /// How much simulated time the run covers.
    pub duration: Duration,
    /// Probability that the network drops any one datagram.
    pub loss: f64,
}

impl Workload {
    /// The engine-neutral part of `scenario`, or why it has none.
    pub fn from_scenario(scenario: &Scenario) -> Result<Workload, String> {
        let refuse = |what: String| {
            Err(format!(
                "{}: {what}: only the sim engine models that",
                scenario.name
            ))
        };
        let n = scenario.nodes.len();
        if scenario.swarm.is_some() {
            return refuse("[swarm] draws faults per seed".into());
        }
        if scenario.quorum() {
            return refuse("quorum mode's kernel address lifetimes".into());
        }
        if let Some(node) = scenario.nodes.iter().find(|node| node.segments.is_some()) {
            return refuse(format!("node `{}` is not on every segment", node.name));
        }
        let loss = scenario.segments[0].loss;
        for seg in &scenario.segments {
            if seg.loss != loss {
                return refuse(format!("segment `{}` has a loss of its own", seg.name));
            }
            if seg.duplicate > 0.0 || seg.reorder > 0.0 {
                return refuse(format!("segment `{}` duplicates or reorders", seg.name));
            }
        }
        let faults = scenario
            .resolve_faults(&scenario.name)
            .map_err(|e| e.to_string())?;
        // The other engines answer hooks at once: slow hooks, beyond the default's few
        // milliseconds, are ours.
        let slowest = (scenario.protocol.hook_latencies.values())
            .fold(scenario.protocol.hook_latency, |a, &b| a.max(b));
        if slowest > crate::scenario::Protocol::default().hook_latency {
            return refuse(format!("hooks taking {slowest:?}"));
        }
        let mut schedule = Vec::new();
        for (k, f) in faults.iter().enumerate() {
            let end = f.duration.map(|d| f.at + d);
            let mut at = |at: Duration, fault: Fault| schedule.push(Scheduled { at, fault });
            match &f.kind {
                FaultKind::Crash { node } => {
                    at(f.at, Fault::Crash(*node));
                    if let Some(e) = end {
                        at(e, Fault::Restart(*node));
                    }
                }
                FaultKind::Kill { node } => {
                    at(f.at, Fault::Kill(*node));
                    if let Some(e) = end {
                        at(e, Fault::Restart(*node));
                    }
                }
                FaultKind::Shutdown { node } => {
                    at(f.at, Fault::Shutdown(*node));
                    if let Some(e) = end {
                        at(e, Fault::Restart(*node));
                    }
                }
                FaultKind::Pause { node } => {
                    at(f.at, Fault::Pause(*node));
                    if let Some(e) = end {
                        at(e, Fault::Resume(*node));
                    }
                }
                FaultKind::Freeze { node } => {
                    at(f.at, Fault::Freeze(*node));
                    if let Some(e) = end {
                        at(e, Fault::Thaw(*node));
                    }
                }
                FaultKind::Partition {
                    segment: None,
                    a,
                    b,
                    oneway,
                } if !a.contains(&Party::Client) && !b.contains(&Party::Client) => {
                    let nodes = |side: &[Party]| -> Vec<usize> {
                        (side.iter())
                            .filter_map(|p| match p {
                                Party::Node(n) => Some(*n),
                                Party::Client => None,
                            })
                            .collect()
                    };
                    let (a, b) = (nodes(a), nodes(b));
                    let mut pairs: Vec<(usize, usize)> = (a.iter())
                        .flat_map(|&x| b.iter().map(move |&y| (x, y)))
                        .collect();
                    if !oneway {
                        pairs.extend(pairs.clone().into_iter().map(|(x, y)| (y, x)));
                    }
                    for &(from, to) in &pairs {
                        at(f.at, Fault::Cut { from, to });
                    }
                    if let Some(e) = end {
                        for &(from, to) in &pairs {
                            at(e, Fault::Mend { from, to });
                        }
                    }
                }
                other => {
                    return refuse(format!("fault[{k}] ({})", scenario.describe(other)));
                }
            }
        }
        // Stable: at one instant, faults apply in the order the file gives them.
        schedule.sort_by_key(|s| s.at);
        let configs = (0..n)
            .map(|i| {
                let paths = (scenario.segments.iter().enumerate())
                    .map(|(p, seg)| PathSettings {
                        name: seg.name.clone(),
                        local: Some(Self::node_addr(i, p)),
                        peers: (0..n)
                            .filter(|&j| j != i)
                            .map(|j| Self::node_addr(j, p))
                            .collect(),
                    })
                    .collect();
                scenario.node_config(i, paths)
            })
            .collect();
        Ok(Workload {
            configs,
            schedule,
            duration: scenario.duration,
            loss,
        })
    }

    /// The address of node `i`'s host (documentation range).
    pub fn node_ip(i: usize) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(
            192,
            0,
            2,
            10 + u8::try_from(i).expect("at most 40 nodes"),
        ))
    }

    /// Which node's host has address `ip`, if any.
    pub fn node_of(ip: IpAddr) -> Option<usize> {
        match ip {
            IpAddr::V4(v4) => match v4.octets() {
                [192, 0, 2, host] if host >= 10 => Some(usize::from(host - 10)),
                _ => None,
            },
            IpAddr::V6(_) => None,
        }
    }

    /// Where node `i` listens for heartbeats on path `path`.
    pub fn node_addr(i: usize, path: usize) -> SocketAddr {
        let port = BASE_PORT + u16::try_from(path).expect("at most 4 paths");
        SocketAddr::new(Self::node_ip(i), port)
    }
}
