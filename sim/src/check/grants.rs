//! Quorum notices against the grants that were delivered: who a lease-lost or no-quorum
//! notice names as having granted the lease, and as having granted it too late, is what the
//! votes the node read say — not only a list of voters of the right length.
//!
//! A grant answers a request (a claimant's heartbeat) sent at `s` by the claimant's clock and
//! holds until `s + L`. Where the engine keeps a ledger of every request sent and grant read
//! (the simulator: [`super::Observation::Grants`], taken when the node decides who granted, which for
//! a takeover without a lease may come well before its notice), at that instant `t`:
//!
//! - **A lease lost** names the voters whose newest grant still holds (`s + L > t`), itself
//!   included when it asked while its own vote was free, and no other.
//! - **No quorum** names as granting in time every voter whose grant leaves a second of
//!   kernel lifetime plus the protocol's lead (`s + L ≥ t + 1.2 s`), and none whose grant
//!   leaves less than the second; as too late, every other voter whose grant, when it was
//!   read, left less than the second (`s + L < r + 1 s`), and none whose grant left more than
//!   that plus the lead when read, nor one that never granted, nor itself (its own grant takes
//!   no round trip).
//!
//! Between a second and the lead either answer is right (the lead is core's margin, not the
//! promise a notice makes); a grant read at the very instant of the decision is not judged
//! (of the datagrams read at one instant, it may have come after the decision).

use super::secs;
use failover_core::node::quorum::{EXTEND_LEAD, KERNEL_GRANULARITY};
use failover_core::Notification;
use serde::{Deserialize, Serialize};

/// Slack for the ledger's times against core's (both read the node's clock at one input).
const SLACK: i128 = 1_000_000;

/// Quorum mode: what the engine knows of a claimant's grants when it decides who granted its
/// lease ([`super::Observation::Grants`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GrantsSeen {
    /// When, by its clock (nanoseconds).
    pub local: u64,
    /// How long a lease lasts (nanoseconds).
    pub lease: u64,
    /// Per node, by name: the send time of the newest request of this claim it granted (by
    /// the protocol's count), and when that grant was read (its clock).
    pub voters: Vec<(String, Option<(u64, u64)>)>,
    /// The newest request of this claim sent while its own vote was free: its own grant (or
    /// an older one than core counts: a promise to another node may end early).
    pub own: Option<u64>,
    /// Its newest request of this claim.
    pub asked: Option<u64>,
}

/// What is wrong with the voters `notification` of node `me` names, judged by `seen`.
pub(super) fn wrong(me: &str, notification: &Notification, seen: &GrantsSeen) -> Option<String> {
    let t = i128::from(seen.local);
    let left = |sent: u64| i128::from(sent) + i128::from(seen.lease) - t;
    let second = KERNEL_GRANULARITY.as_nanos() as i128;
    let enough = (KERNEL_GRANULARITY + EXTEND_LEAD).as_nanos() as i128;
    let (granted, late) = match notification {
        Notification::NoQuorum { granted, late, .. } => (granted, Some(late)),
        Notification::LeaseLost { granted, .. } => (granted, None),
        _ => return None,
    };
    let named = |list: &[String], v: &str| list.iter().any(|n| n == v);
    // Its own grant: the newest it surely gave, and the newest it may have.
    let own_holds = |margin: i128| seen.own.is_some_and(|s| left(s) >= margin);
    let may_hold = |margin: i128| seen.asked.is_some_and(|s| left(s) >= margin);
    match late {
        Some(late) => {
            if named(late, me) {
                return Some("names itself as granting too late".into());
            }
            if own_holds(enough + SLACK) && !named(granted, me) {
                return Some("leaves itself out, though its own grant was in time".into());
            }
            if named(granted, me) && !may_hold(second - SLACK) {
                return Some(
                    "names itself as granting in time, but no request of its own \
                             leaves a second of the lease"
                        .into(),
                );
            }
        }
        None => {
            if own_holds(SLACK) && !named(granted, me) {
                return Some("leaves itself out, though its own grant still holds".into());
            }
            if named(granted, me) && !may_hold(-SLACK) {
                return Some("names itself, but no request of its own holds any more".into());
            }
        }
    }
    for (voter, grant) in seen.voters.iter().filter(|v| v.0 != me) {
        let Some((sent, read)) = *grant else {
            if named(granted, voter) || late.is_some_and(|l| named(l, voter)) {
                return Some(format!(
                    "names {voter}, but no grant of it answered a request of this claim"
                ));
            }
            continue;
        };
        if read == seen.local {
            continue;
        }
        let (now, then) = (left(sent), left(sent) + t - i128::from(read));
        let shown = |ns: i128| secs(ns.unsigned_abs() as u64);
        let wrong = match late {
            Some(late) => match (named(granted, voter), named(late, voter)) {
                (false, _) if now >= enough + SLACK => Some(format!(
                    "leaves {voter} out of those that granted in time: its grant leaves {}",
                    shown(now)
                )),
                (true, _) if now < second - SLACK => Some(format!(
                    "names {voter} as granting in time: its grant leaves only {}",
                    shown(now)
                )),
                (false, false) if then < second - SLACK => Some(format!(
                    "leaves {voter} out of those too late: its grant left {} when read",
                    shown(then)
                )),
                (_, true) if then >= enough + SLACK => Some(format!(
                    "names {voter} as too late: its grant left {} when read",
                    shown(then)
                )),
                _ => None,
            },
            None => match named(granted, voter) {
                false if now >= SLACK => Some(format!(
                    "leaves {voter} out: its grant holds {} more",
                    shown(now)
                )),
                true if now < -SLACK => Some(format!(
                    "names {voter}, but its grant ran out {} before",
                    shown(now)
                )),
                _ => None,
            },
        };
        if wrong.is_some() {
            return wrong;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use failover_core::VipId;

    const S: u64 = 1_000_000_000;
    const MS: u64 = 1_000_000;

    /// The backup at 100 s with a 3 s lease; the master's newest grant `master`, the witness's
    /// `witness` ((sent, read), seconds), its own `own`.
    fn seen(
        master: Option<(u64, u64)>,
        witness: Option<(u64, u64)>,
        own: Option<u64>,
    ) -> GrantsSeen {
        GrantsSeen {
            local: 100 * S,
            lease: 3 * S,
            voters: vec![
                ("master".into(), master),
                ("backup".into(), None),
                ("witness".into(), witness),
            ],
            own,
            asked: Some(99_500 * MS),
        }
    }

    fn no_quorum(granted: &[&str], late: &[&str]) -> Notification {
        let names = |l: &[&str]| l.iter().map(|n| n.to_string()).collect();
        Notification::NoQuorum {
            granted: names(granted),
            late: names(late),
            needed: 2,
        }
    }

    fn lease_lost(granted: &[&str]) -> Notification {
        Notification::LeaseLost {
            vips: vec![VipId(0)],
            granted: granted.iter().map(|n| n.to_string()).collect(),
        }
    }

    #[test]
    fn a_no_quorum_notice_names_who_granted_in_time_and_who_too_late() {
        // The witness's grant of a request sent at 97.5 s read at 99.8 s (0.7 s left when
        // read, 0.5 s now); its own of 99.5 s: 2.5 s left, in time. The master never granted.
        let s = seen(None, Some((97_500 * MS, 99_800 * MS)), Some(99_500 * MS));
        assert_eq!(
            wrong("backup", &no_quorum(&["backup"], &["witness"]), &s),
            None
        );
        let found = |g: &[&str], l: &[&str]| wrong("backup", &no_quorum(g, l), &s).unwrap();
        assert!(found(&[], &["witness"]).contains("leaves itself out"));
        assert!(found(&["backup"], &[]).contains("leaves witness out of those too late"));
        assert!(found(&["backup", "witness"], &[]).contains("names witness as granting in time"));
        assert!(found(&["backup"], &["witness", "master"]).contains("names master, but no grant"));
        assert!(found(&["backup"], &["witness", "backup"])
            .contains("names itself as granting too late"));
    }

    #[test]
    fn a_timely_grant_is_named_in_time_and_never_too_late() {
        // The witness's grant of 99.8 s read at 99.9 s: 2.8 s left now, 2.9 s when read.
        let s = seen(None, Some((99_800 * MS, 99_900 * MS)), None);
        assert!(wrong("backup", &no_quorum(&[], &[]), &s)
            .unwrap()
            .contains("leaves witness out of those that granted in time"));
        assert!(wrong("backup", &no_quorum(&[], &["witness"]), &s).is_some());
        assert_eq!(wrong("backup", &no_quorum(&["witness"], &[]), &s), None);
        // Old by now (2.2 s ago: 0.8 s left) but timely when read: named nowhere.
        let old = seen(None, Some((97_800 * MS, 97_900 * MS)), None);
        assert_eq!(wrong("backup", &no_quorum(&[], &[]), &old), None);
        assert!(wrong("backup", &no_quorum(&[], &["witness"]), &old)
            .unwrap()
            .contains("names witness as too late"));
        assert!(wrong("backup", &no_quorum(&["witness"], &[]), &old)
            .unwrap()
            .contains("leaves only 0.800s"));
    }

    #[test]
    fn between_a_second_and_the_lead_either_answer_is_right() {
        // 1.1 s left now, and when read.
        let s = seen(None, Some((98_100 * MS, 99_999 * MS)), None);
        let s = GrantsSeen {
            local: 100 * S,
            ..s
        };
        assert_eq!(wrong("backup", &no_quorum(&[], &["witness"]), &s), None);
        assert_eq!(wrong("backup", &no_quorum(&["witness"], &[]), &s), None);
        assert_eq!(wrong("backup", &no_quorum(&[], &[]), &s), None);
    }

    #[test]
    fn a_grant_read_at_the_decision_is_not_judged() {
        let s = seen(None, Some((99_800 * MS, 100 * S)), None);
        assert_eq!(wrong("backup", &no_quorum(&[], &[]), &s), None);
    }

    #[test]
    fn a_lease_lost_names_the_grants_that_still_hold() {
        // The master owns: its own grant of 99.5 s holds until 102.5 s; the witness's of
        // 96.9 s ran out at 99.9 s; the backup never granted.
        let s = seen(None, Some((96_900 * MS, 97 * S)), Some(99_500 * MS));
        assert_eq!(wrong("master", &lease_lost(&["master"]), &s), None);
        assert!(wrong("master", &lease_lost(&[]), &s)
            .unwrap()
            .contains("leaves itself out"));
        assert!(wrong("master", &lease_lost(&["master", "witness"]), &s)
            .unwrap()
            .contains("ran out 0.100s before"));
        assert!(wrong("master", &lease_lost(&["master", "backup"]), &s)
            .unwrap()
            .contains("names backup, but no grant"));
        // Its own vote promised to another all along: it may not name itself, nor must it.
        let promised = GrantsSeen {
            asked: Some(99_500 * MS),
            ..seen(None, None, None)
        };
        assert_eq!(wrong("master", &lease_lost(&[]), &promised), None);
        assert_eq!(wrong("master", &lease_lost(&["master"]), &promised), None);
        let long_ago = GrantsSeen {
            asked: Some(90 * S),
            ..promised
        };
        assert!(wrong("master", &lease_lost(&["master"]), &long_ago)
            .unwrap()
            .contains("no request of its own holds"));
        // A witness's grant holding 2.6 s more must be named.
        let s = seen(None, Some((99_600 * MS, 99_700 * MS)), None);
        assert!(wrong("master", &lease_lost(&[]), &s)
            .unwrap()
            .contains("leaves witness out: its grant holds 2.600s more"));
    }
}
