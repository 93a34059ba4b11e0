//! The source system's order of a takeover — `Test`, `PreAcq`, the address added, `PostAcq`
//! — judged where it matters most: `PostAcq` starts the services behind an address, so it
//! runs only for an address the node holds (one the kernel refused to add gets no `PostAcq`:
//! the takeover's notice names it failed instead). Classic mode only: in quorum mode the
//! kernel may remove an address whose lifetime ran out while the hooks ran, and the takeover
//! then ends refused.
//!
//! And the release's order where it is cut short: a node whose lease was lost stops serving
//! first — it removes the address, then runs `PostRel` — and a removal retried after the
//! kernel refused one runs no hooks (they ran with the release that failed): in either case no
//! `PreRel` for that address starts before the address is gone (or the node owns it again, or
//! its daemon ends).

use super::{secs, Checker, Context, Findings, Holders, Observation};
use failover_core::{AddressChange, HookKind, Notification, Role};

/// Watches which hooks start for which addresses.
pub struct Hooks {
    names: Vec<String>,
    holders: Holders,
    judged: bool,
    /// By node then address: why its removal is under way with no `PreRel` to come.
    going: Vec<Option<&'static str>>,
    vips: usize,
    found: Findings,
}

impl Hooks {
    pub(super) fn new(ctx: &Context) -> Hooks {
        Hooks {
            names: ctx.nodes.iter().map(|(name, _)| name.clone()).collect(),
            holders: Holders::new(ctx.vips),
            judged: ctx.majority.is_none(),
            going: vec![None; ctx.nodes.len() * ctx.vips],
            vips: ctx.vips,
            found: Findings::default(),
        }
    }

    /// Follows which addresses each node is removing with no `PreRel` to come.
    fn track_going(&mut self, obs: &Observation) {
        let row = |node: usize| node * self.vips..(node + 1) * self.vips;
        match obs {
            Observation::Notified {
                node,
                notification: Notification::LeaseLost { vips, .. },
            } => {
                for v in vips.iter().filter(|v| v.0 < self.vips) {
                    self.going[node * self.vips + v.0] = Some("its lease was lost");
                }
            }
            Observation::AddressRefused {
                node,
                vip,
                change: AddressChange::Remove,
            } => self.going[node * self.vips + vip] = Some("the kernel refused its removal"),
            Observation::Released { node, vip } => self.going[node * self.vips + vip] = None,
            Observation::Down { node }
            | Observation::RoleChanged {
                node,
                to: Role::Master,
                ..
            } => self.going[row(*node)].fill(None),
            _ => {}
        }
    }
}

impl Checker for Hooks {
    fn observe(&mut self, at: u64, obs: &Observation) {
        self.holders.apply(obs);
        self.track_going(obs);
        if let Observation::HookStarted {
            node,
            hook: HookKind::PreRel,
            vip,
            ..
        } = *obs
        {
            if let Some(why) = self.going[node * self.vips + vip] {
                let detail = format!(
                    "{} started PreRel for address {vip} at {} after {why}, before the address \
                     was gone",
                    self.names[node],
                    secs(at)
                );
                self.found.violate("hooks", detail);
            }
        }
        if let Observation::HookStarted {
            node,
            hook: HookKind::PostAcq,
            vip,
            ..
        } = *obs
        {
            if self.judged && !self.holders.of(vip).contains(&node) {
                let detail = format!(
                    "{} started PostAcq for address {vip} at {} without holding it",
                    self.names[node],
                    secs(at)
                );
                self.found.violate("hooks", detail);
            }
        }
    }

    fn finish(&mut self, _at: u64, findings: &mut Findings) {
        findings.violations.append(&mut self.found.violations);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use failover_core::HookEvent;

    const S: u64 = 1_000_000_000;

    fn judge(record: &[(u64, Observation)]) -> Vec<String> {
        let scenario = crate::check::pair();
        crate::check::violations(Hooks::new(&Context::new(&scenario, &[])), record)
    }

    fn post_acq(node: usize) -> Observation {
        Observation::HookStarted {
            node,
            hook: HookKind::PostAcq,
            vip: 0,
            event: HookEvent::Acquire,
        }
    }

    #[test]
    fn post_acq_runs_only_for_an_address_the_node_holds() {
        let added = [
            (S, Observation::Acquired { node: 1, vip: 0 }),
            (2 * S, post_acq(1)),
        ];
        assert_eq!(judge(&added), Vec::<String>::new());
        let refused = [
            (
                S,
                Observation::AddressRefused {
                    node: 1,
                    vip: 0,
                    change: failover_core::AddressChange::Add,
                },
            ),
            (2 * S, post_acq(1)),
        ];
        assert_eq!(
            judge(&refused),
            vec!["backup started PostAcq for address 0 at 2.000s without holding it".to_string()]
        );
    }

    fn pre_rel(node: usize) -> Observation {
        Observation::HookStarted {
            node,
            hook: HookKind::PreRel,
            vip: 0,
            event: HookEvent::Release,
        }
    }

    #[test]
    fn a_lost_lease_or_a_retried_removal_runs_no_pre_rel_before_the_address_is_gone() {
        let lost = Observation::Notified {
            node: 0,
            notification: Notification::LeaseLost {
                vips: vec![failover_core::VipId(0)],
                granted: vec![],
            },
        };
        let found = judge(&[(S, lost.clone()), (S, pre_rel(0))]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("PreRel for address 0 at 1.000s after its lease was lost"));
        let released = Observation::Released { node: 0, vip: 0 };
        assert_eq!(
            judge(&[(S, lost), (S, released), (5 * S, pre_rel(0))]),
            Vec::<String>::new()
        );
        let refused = Observation::AddressRefused {
            node: 0,
            vip: 0,
            change: AddressChange::Remove,
        };
        let found = judge(&[(S, pre_rel(0)), (S, refused.clone()), (3 * S, pre_rel(0))]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("after the kernel refused its removal"));
        // Owning it again (the node it handed over to died), it releases it anew.
        let owner = Observation::RoleChanged {
            node: 0,
            from: Role::Acquiring,
            to: Role::Master,
        };
        assert_eq!(
            judge(&[(S, refused), (2 * S, owner), (3 * S, pre_rel(0))]),
            Vec::<String>::new()
        );
    }
}
