//! The core configuration each node of a scenario runs with.

use super::{Scenario, ScenarioError};
use crate::topology;
use failover_core::config::{
    HookSettings, NodeSettings, PathSettings, ProtocolSettings, VipSettings,
};
use failover_core::{Config, ConfigError};

impl Scenario {
    /// Node `i`'s core configuration, with the paths an engine gives it: the scenario's
    /// protocol settings, every virtual address, hooks that time out as the scenario says.
    /// On a segment the node learns its peers on, its file names none.
    pub fn node_config(&self, i: usize, mut paths: Vec<PathSettings>) -> Config {
        for path in &mut paths {
            if self.nodes[i].learns.contains(&path.name) {
                path.peers.clear();
            }
        }
        let p = &self.protocol;
        Config {
            node: NodeSettings {
                name: self.nodes[i].name.clone(),
                priority: self.nodes[i].priority,
                witness: self.nodes[i].witness,
            },
            protocol: ProtocolSettings {
                interval: p.interval,
                dead_after: p.dead_after,
                preempt: p.preempt,
                auth_key: p.auth_key.clone(),
                announce_every: p.announce_every,
                mode: p.mode,
                voters: match self.quorum() {
                    true => self.nodes.iter().map(|n| n.name.clone()).collect(),
                    false => Vec::new(),
                },
                lease: p.lease,
                max_clock_drift_ppm: p.max_clock_drift_ppm,
                ..ProtocolSettings::default()
            },
            paths,
            vips: self
                .vips
                .iter()
                .filter(|_| !self.nodes[i].witness)
                .map(|v| VipSettings {
                    address: v.address,
                    prefix: None,
                    interface: "eth0".into(),
                    primary: false,
                })
                .collect(),
            notify: Default::default(),
            hooks: HookSettings {
                timeout: p.hook_timeout,
                dir: None,
            },
            control: Default::default(),
        }
    }

    /// The core configuration our simulator gives node `i`: one path per segment it is on,
    /// with each node's address on that segment.
    pub fn sim_config(&self, i: usize) -> Config {
        let paths = (self.node_segments(i).into_iter())
            .map(|seg| PathSettings {
                name: self.segments[seg].name.clone(),
                local: Some(topology::address(seg, i)),
                peers: (0..self.nodes.len())
                    .filter(|&j| j != i && self.node_segments(j).contains(&seg))
                    .map(|j| topology::address(seg, j))
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
                            "node.witness" => format!("node[{i}].witness"),
                            "protocol.voters" => "node".to_string(),
                            // (the only peers a scenario's node leaves out: those it learns)
                            f if f.starts_with("path[") && f.ends_with("].peers") => {
                                format!("node[{i}].learns")
                            }
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
}
