//! Notifications: every address taken over named in exactly one failover notice, every
//! release notified exactly once, network anomalies never repeated before their recovery,
//! and the counts the scenario expects.

use super::{Checker, Context, Findings, Observation};
use failover_core::{Notification, Role};
use std::collections::{BTreeMap, BTreeSet};

/// Matches notifications against what the nodes did, node by node.
pub struct Notifications {
    ctx: Context,
    /// Per node: takeovers (its role became master), for `expect.takeovers`.
    takeovers: Vec<u32>,
    /// Takeovers begun (a role became acquiring), for `expect.max_takeover_attempts`.
    attempts: u32,
    /// Per node: addresses it added that no failover notice has named yet.
    unnotified: Vec<BTreeSet<usize>>,
    /// Per node: completed releases and release notices.
    releases: Vec<(u32, u32)>,
    /// Per (node, peer, path): whether an anomaly is outstanding.
    anomaly: BTreeMap<(usize, String, String), bool>,
    anomalies: u32,
    rival_claims: u32,
    repeated: Vec<String>,
    /// Per node: its role, and (quorum mode) the addresses the kernel removed while it
    /// claimed them — their lifetime ran out a moment before a renewal that then added them
    /// back: a restore, not a takeover. (The end of its claim clears them; a later takeover
    /// starts from `Backup`.)
    roles: Vec<Role>,
    restorable: Vec<BTreeSet<usize>>,
    /// Per node: a lost lease was notified and the release it began has not ended.
    lease_lost: Vec<bool>,
}

impl Notifications {
    pub(super) fn new(ctx: &Context) -> Notifications {
        let n = ctx.nodes.len();
        Notifications {
            ctx: ctx.clone(),
            takeovers: vec![0; n],
            attempts: 0,
            unnotified: vec![BTreeSet::new(); n],
            releases: vec![(0, 0); n],
            anomaly: BTreeMap::new(),
            anomalies: 0,
            rival_claims: 0,
            repeated: Vec::new(),
            roles: vec![Role::Backup; n],
            restorable: vec![BTreeSet::new(); n],
            lease_lost: vec![false; n],
        }
    }
}

impl Checker for Notifications {
    fn observe(&mut self, _at: u64, obs: &Observation) {
        match *obs {
            // (a restore may come while the claim goes on in another role: a renewal during
            // a release's hooks adds back what the kernel removed a moment before)
            Observation::RoleChanged { node, to, .. } if !to.claims_ownership() => {
                self.roles[node] = to;
                self.restorable[node].clear();
            }
            Observation::Released { node, vip } if self.roles[node].claims_ownership() => {
                self.restorable[node].insert(vip);
                return;
            }
            Observation::Acquired { node, vip } if self.restorable[node].remove(&vip) => return,
            _ => {}
        }
        if let Observation::RoleChanged { node, to, .. } = *obs {
            self.roles[node] = to;
        }
        match *obs {
            Observation::RoleChanged {
                node,
                to: Role::Master,
                from: Role::Acquiring,
            } => self.takeovers[node] += 1,
            Observation::RoleChanged {
                to: Role::Acquiring,
                ..
            } => self.attempts += 1,
            Observation::Acquired { node, vip } => {
                self.unnotified[node].insert(vip);
            }
            Observation::RoleChanged {
                node,
                from: Role::Releasing,
                to: Role::Backup | Role::Stopped,
            } => {
                self.releases[node].0 += 1;
                self.lease_lost[node] = false;
            }
            // A restarted process remembers nothing it notified: its first notice of a link
            // still cut is no repeat; and a takeover cut short by its end was never mailed.
            // A lost lease is notified as its release begins: cut short by the process's end,
            // that release is done all the same (the host is gone, or its kernel removes the
            // address when the lifetime ends).
            Observation::Down { node } => {
                if std::mem::take(&mut self.lease_lost[node]) {
                    self.releases[node].0 += 1;
                }
                self.anomaly.retain(|(n, _, _), _| *n != node);
                self.unnotified[node].clear();
                self.roles[node] = Role::Backup;
                self.restorable[node].clear();
            }
            Observation::Notified {
                node,
                ref notification,
            } => match notification {
                Notification::RivalClaim { .. } => self.rival_claims += 1,
                Notification::Failover { acquired, .. } => {
                    for vip in acquired {
                        if !self.unnotified[node].remove(&vip.0) {
                            self.repeated.push(format!(
                                "{} notified a takeover of address {} it had not made",
                                self.ctx.nodes[node].0, vip.0
                            ));
                        }
                    }
                }
                // (a lost lease is the notice of the release it starts)
                Notification::Released { .. } => self.releases[node].1 += 1,
                Notification::LeaseLost { .. } => {
                    self.releases[node].1 += 1;
                    self.lease_lost[node] = true;
                }
                Notification::NetworkAnomaly { peer, path }
                | Notification::NetworkRecovered { peer, path } => {
                    let anomaly = matches!(notification, Notification::NetworkAnomaly { .. });
                    self.anomalies += u32::from(anomaly);
                    let open = self
                        .anomaly
                        .entry((node, peer.clone(), path.clone()))
                        .or_default();
                    if *open == anomaly {
                        self.repeated.push(format!(
                            "{} repeated {}",
                            self.ctx.nodes[node].0,
                            notification.summary()
                        ));
                    }
                    *open = anomaly;
                }
                _ => {}
            },
            _ => {}
        }
    }

    fn finish(&mut self, _at: u64, findings: &mut Findings) {
        findings.figures.anomalies = self.anomalies;
        findings.figures.rival_claims = self.rival_claims;
        for (n, (name, _)) in self.ctx.nodes.iter().enumerate() {
            if let Some(vip) = self.unnotified[n].first() {
                findings.violate(
                    "notifications",
                    format!("{name} took over address {vip} and no failover notice named it"),
                );
            }
            let (released, told) = self.releases[n];
            if released != told {
                findings.violate(
                    "notifications",
                    format!("{name} released {released} time(s) but sent {told} release notice(s)"),
                );
            }
        }
        for r in self.repeated.drain(..) {
            findings.violate("notifications", r);
        }
        let e = &self.ctx.expect;
        if let Some(min) = e.min_anomaly_notifications.filter(|&m| self.anomalies < m) {
            findings.violate(
                "notifications",
                format!(
                    "{} network-anomaly notice(s), expected at least {min}",
                    self.anomalies
                ),
            );
        }
        if let Some(max) = e.max_anomaly_notifications.filter(|&m| self.anomalies > m) {
            findings.violate(
                "notifications",
                format!(
                    "{} network-anomaly notice(s), expected at most {max}",
                    self.anomalies
                ),
            );
        }
        if let Some(min) = (e.min_rival_claim_notifications).filter(|&m| self.rival_claims < m) {
            findings.violate(
                "notifications",
                format!(
                    "{} rival-claim notice(s), expected at least {min}",
                    self.rival_claims
                ),
            );
        }
        if let Some(max) = (e.max_rival_claim_notifications).filter(|&m| self.rival_claims > m) {
            findings.violate(
                "notifications",
                format!(
                    "{} rival-claim notice(s), expected at most {max}",
                    self.rival_claims
                ),
            );
        }
        if let Some(max) = e.max_takeover_attempts.filter(|&m| self.attempts > m) {
            findings.violate(
                "takeover-attempts",
                format!(
                    "{} takeover(s) begun, at most {max} expected",
                    self.attempts
                ),
            );
        }
        let total: u32 = self.takeovers.iter().sum();
        if let Some(want) = e.takeovers.filter(|&w| w != total) {
            findings.violate("takeovers", format!("{total} takeover(s), expected {want}"));
        }
    }
}
