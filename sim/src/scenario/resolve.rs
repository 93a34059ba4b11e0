//! Checking a scenario as a whole and resolving its names: nodes and segments to indices,
//! faults to what a run applies, every field named when it is wrong.

use super::{hook_kind, Scenario, ScenarioError};
use crate::fault::{ConfigChange, Fault, FaultKind, HookBehavior, Impairment};
use crate::topology::Party;
use failover_core::AddressChange;

/// The most times one `flap` takes a link down: each is a fault of its own.
const MAX_FLAPS: u32 = 10_000;

impl Scenario {
    /// Checks the whole scenario: topology, swarm bounds, the client, what core would refuse
    /// of each node's configuration, and every fault. The error names the file and field.
    pub fn check(&self, source_name: &str) -> Result<(), ScenarioError> {
        self.check_topology(source_name)?;
        if self.client.interval.is_zero() {
            return Err(ScenarioError::Invalid {
                source_name: source_name.to_string(),
                field: "client.interval".into(),
                message: "must be more than zero".into(),
            });
        }
        self.sim_configs(source_name)?;
        self.resolve_faults(source_name)?;
        Ok(())
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
        if self.nodes.iter().all(|n| n.witness) {
            return Err(err(
                "node".into(),
                "every node is a witness: none can hold an address".into(),
            ));
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
        for (i, n) in self.nodes.iter().enumerate() {
            for seg in &n.learns {
                let on = |j: usize| {
                    (self.node_segments(j).iter()).any(|&s| self.segments[s].name == *seg)
                };
                if !on(i) {
                    return Err(err(
                        format!("node[{i}].learns"),
                        format!("`{}` is not on a segment `{seg}`", n.name),
                    ));
                }
                let named = (0..self.nodes.len())
                    .any(|j| j != i && on(j) && !self.nodes[j].learns.contains(seg));
                if !named {
                    return Err(err(
                        format!("node[{i}].learns"),
                        format!(
                            "no other node on `{seg}` names `{}`: it would never hear one there",
                            n.name
                        ),
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

    /// Resolves the faults against the topology (flaps become several link-down faults); the
    /// error names the fault's field.
    pub fn resolve_faults(&self, source_name: &str) -> Result<Vec<Fault>, ScenarioError> {
        let err = |field: String, message: String| ScenarioError::Invalid {
            source_name: source_name.to_string(),
            field,
            message,
        };
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
            if f.to.is_some() && f.kind != "switchover" {
                return Err(err(
                    field("to"),
                    format!("only a switchover has a target, not a {}", f.kind),
                ));
            }
            let change = ConfigChange {
                priority: f.priority,
                preempt: f.preempt,
                interval: f.interval,
                dead_after: f.dead_after,
                announce_every: f.announce_every,
                group: f.group,
                auth_key: f.auth_key.clone(),
                previous_auth_key: f.previous_auth_key.clone(),
                add_vip: f.add_vip,
                lease: f.lease,
            };
            if !change.is_empty() && f.kind != "reload" {
                return Err(err(
                    field(change.first_field()),
                    format!(
                        "only a reload changes a node's configuration, not a {}",
                        f.kind
                    ),
                ));
            }
            let kind = match f.kind.as_str() {
                "reload" => {
                    if change.is_empty() {
                        return Err(err(
                            field("kind"),
                            format!("a reload needs a change: one of {}", ConfigChange::FIELDS.join(", ")),
                        ));
                    }
                    FaultKind::Reload { node: node()?, change }
                }
                "partition" => FaultKind::Partition {
                    segment: if f.segment.is_some() { Some(segment()?) } else { None },
                    a: parties(&f.a, "a")?,
                    b: parties(&f.b, "b")?,
                    oneway: f.oneway,
                },
                "link_down" => FaultKind::LinkDown { node: node()?, segment: segment()? },
                "crash" => FaultKind::Crash { node: node()? },
                "kill" => FaultKind::Kill { node: node()? },
                "shutdown" => FaultKind::Shutdown { node: node()? },
                "standby" => FaultKind::Standby { node: node()? },
                "switchover" => {
                    if f.duration.is_some() {
                        return Err(err(field("duration"), "a switchover is one request: it has no duration".into()));
                    }
                    let to = match f.to.as_deref() {
                        None => None,
                        Some(name) => Some(
                            self.node_index(name)
                                .ok_or_else(|| err(field("to"), format!("no node `{name}`")))?,
                        ),
                    };
                    FaultKind::Switchover { node: node()?, to }
                }
                "pause" => {
                    needs_duration()?;
                    FaultKind::Pause { node: node()? }
                }
                "freeze" => {
                    needs_duration()?;
                    FaultKind::Freeze { node: node()? }
                }
                "address" => {
                    let change = match f.change.as_deref() {
                        Some("add") => AddressChange::Add,
                        Some("remove") => AddressChange::Remove,
                        other => return Err(err(field("change"), format!("{other:?}: add or remove"))),
                    };
                    FaultKind::Address { node: node()?, change }
                }
                "clock" => {
                    // (written so that NaN is refused too)
                    if !(f.drift_ppm > -1e6 && f.drift_ppm < 1e6) {
                        return Err(err(field("drift_ppm"), "must be within ±1,000,000".into()));
                    }
                    FaultKind::Clock {
                        node: node()?,
                        offset: f.offset.unwrap_or_default(),
                        drift_ppm: f.drift_ppm,
                    }
                }
                "hook" => {
                    let hook = f.hook.as_deref().and_then(hook_kind).ok_or_else(|| {
                        err(
                            field("hook"),
                            format!("{:?}: one of test, pre_acq, post_acq, pre_rel, post_rel", f.hook),
                        )
                    })?;
                    let behavior = match (f.behavior.as_deref(), f.latency) {
                        (Some("fail"), None) => HookBehavior::Fails,
                        (Some("hang"), None) => HookBehavior::Hangs,
                        (Some("slow"), Some(latency)) => HookBehavior::Slow(latency),
                        (Some("slow"), None) => {
                            return Err(err(field("latency"), "a slow hook needs a latency".into()))
                        }
                        (Some("fail" | "hang"), Some(_)) => {
                            return Err(err(field("latency"), "only a slow hook has a latency".into()))
                        }
                        (other, _) => {
                            return Err(err(field("behavior"), format!("{other:?}: fail, hang or slow")))
                        }
                    };
                    FaultKind::Hook { node: node()?, hook, behavior }
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
                "tamper" => FaultKind::Tamper { segment: segment()? },
                "flap" => {
                    let period = f.period.ok_or_else(|| err(field("period"), "required".into()))?;
                    if f.count == 0 || f.count > MAX_FLAPS || period.is_zero() {
                        return Err(err(
                            field("count"),
                            format!("a flap needs count between 1 and {MAX_FLAPS} and a period"),
                        ));
                    }
                    let (node, segment) = (node()?, segment()?);
                    for k in 0..f.count {
                        let at = (period.checked_mul(2 * k)).and_then(|d| f.at.checked_add(d));
                        let at = at.ok_or_else(|| {
                            err(field("period"), format!("flap {k} would start past any time"))
                        })?;
                        out.push(Fault {
                            at,
                            duration: Some(period),
                            kind: FaultKind::LinkDown { node, segment },
                        });
                    }
                    continue;
                }
                other => {
                    return Err(err(
                        field("kind"),
                        format!("`{other}`: one of partition, link_down, crash, kill, pause, freeze, clock, hook, address, shutdown, flap, degrade, tamper, standby, switchover, reload"),
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
