//! The source system's order of a takeover — `Test`, `PreAcq`, the address added, `PostAcq`
//! — judged where it matters most: `PostAcq` starts the services behind an address, so it
//! runs only for an address the node holds (one the kernel refused to add gets no `PostAcq`:
//! the takeover's notice names it failed instead). Classic mode only: in quorum mode the
//! kernel may remove an address whose lifetime ran out while the hooks ran, and the takeover
//! then ends refused.

use super::{secs, Checker, Context, Findings, Holders, Observation};
use failover_core::HookKind;

/// Watches which hooks start for which addresses.
pub struct Hooks {
    names: Vec<String>,
    holders: Holders,
    judged: bool,
    found: Findings,
}

impl Hooks {
    pub(super) fn new(ctx: &Context) -> Hooks {
        Hooks {
            names: ctx.nodes.iter().map(|(name, _)| name.clone()).collect(),
            holders: Holders::new(ctx.vips),
            judged: ctx.majority.is_none(),
            found: Findings::default(),
        }
    }
}

impl Checker for Hooks {
    fn observe(&mut self, at: u64, obs: &Observation) {
        self.holders.apply(obs);
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
}
