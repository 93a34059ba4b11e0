//! An attacker's datagrams (a `tamper` fault) change nothing: each one a node's daemon read
//! was dropped and counted under one reason, with one `Dropped` event and nothing else — no
//! role, peer, lease, hand-over or deadline moved, nothing sent, nothing asked of the host.
//! The engine that sends them judges each against the node's status before and after
//! ([`Observation::Tampered`]); this checker reports every one that changed something.

use super::{secs, Checker, Context, Findings, Observation};

/// Collects the attacker's datagrams that changed something.
pub struct Tampered {
    /// Node names, by index.
    names: Vec<String>,
    found: Findings,
}

impl Tampered {
    pub(super) fn new(ctx: &Context) -> Tampered {
        Tampered {
            names: ctx.nodes.iter().map(|(name, _)| name.clone()).collect(),
            found: Findings::default(),
        }
    }
}

impl Checker for Tampered {
    fn observe(&mut self, at: u64, obs: &Observation) {
        let Observation::Tampered { node, how, changed } = obs else {
            return;
        };
        if let Some(what) = changed {
            let name = &self.names[*node];
            let detail = format!("{name} read a {how:?} datagram at {}: {what}", secs(at));
            self.found.violate("tamper", detail);
        }
    }

    fn finish(&mut self, _at: u64, findings: &mut Findings) {
        findings.violations.append(&mut self.found.violations);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::Tamper;

    fn judge(record: &[(u64, Observation)]) -> Vec<String> {
        let mut c = Tampered {
            names: vec!["master".into(), "backup".into()],
            found: Findings::default(),
        };
        for (at, obs) in record {
            c.observe(*at, obs);
        }
        let mut findings = Findings::default();
        c.finish(0, &mut findings);
        findings.violations.into_iter().map(|v| v.detail).collect()
    }

    #[test]
    fn a_bad_datagram_dropped_and_counted_passes() {
        let dropped = Observation::Tampered {
            node: 0,
            how: Tamper::Forge,
            changed: None,
        };
        assert_eq!(judge(&[(1, dropped)]), Vec::<String>::new());
    }

    #[test]
    fn a_bad_datagram_that_changed_something_is_a_violation() {
        let accepted = Observation::Tampered {
            node: 1,
            how: Tamper::Replay,
            changed: Some("accepted it as a message".into()),
        };
        let found = judge(&[(2_000_000_000, accepted)]);
        assert_eq!(found.len(), 1);
        assert!(
            found[0].contains("backup read a Replay datagram at 2.000s"),
            "{found:?}"
        );
    }
}
