//! A classic scenario's quorum twin: the same network, nodes, addresses and faults, run in
//! quorum mode — how `failover-sim modes` puts the two guarantees side by side.

use super::{Expect, NodeSpec, Scenario};
use failover_core::config::Mode;

/// The name of the witness a twin gains when its group has fewer than three voters.
pub const TWIN_WITNESS: &str = "witness";

impl Scenario {
    /// The same scenario in quorum mode. A group of fewer than three nodes gains a witness on
    /// the client's segment (appended last, so the faults' node names and numbers keep their
    /// meaning). The twin expects what quorum mode promises whatever the faults: never two
    /// holders (the default: no allowance, no excuse) and convergence once a majority is
    /// connected (when the classic file expects convergence at all); the
    /// classic file's other expectations (takeover counts, notices, latency bounds) describe
    /// classic behaviour and are left out. Quorum mode may take longer to settle (a refused
    /// candidate's back-off, the voters' promise), so the twin runs that much longer than the
    /// file says, which adds only healthy time after the faults.
    pub fn quorum_twin(&self) -> Scenario {
        let mut twin = self.clone();
        twin.name = format!("{}@quorum", self.name);
        twin.protocol.mode = Mode::Quorum;
        // A quorum group's files name every peer: a witness never speaks first.
        for node in &mut twin.nodes {
            node.learns.clear();
        }
        if twin.nodes.len() < 3 {
            twin.nodes.push(NodeSpec {
                name: TWIN_WITNESS.to_string(),
                priority: 1,
                segments: Some(vec![self.segments[self.client_segment()].name.clone()]),
                witness: true,
                learns: Vec::new(),
            });
        }
        if twin.expect.converge {
            twin.duration += twin.default_settle();
        }
        twin.expect = Expect {
            converge: self.expect.converge,
            fault_margin: self.expect.fault_margin,
            ..Expect::default()
        };
        twin
    }
}

#[cfg(test)]
mod tests {
    use crate::builtin;

    #[test]
    fn a_two_node_scenario_gains_a_witness_and_keeps_its_faults() {
        let classic = builtin::find("master-crash").unwrap().unwrap();
        let twin = classic.quorum_twin();
        assert!(twin.quorum());
        assert_eq!(twin.nodes.len(), classic.nodes.len() + 1);
        assert!(twin.nodes.last().unwrap().witness);
        assert_eq!(twin.faults.len(), classic.faults.len());
        assert_eq!(twin.expect.max_split_brain, None);
        assert!(
            twin.quorum(),
            "and quorum mode allows no split brain by default"
        );
        twin.check("twin").expect("the twin is a valid scenario");
    }
}
