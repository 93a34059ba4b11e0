//! A scenario's topology for real: a namespace per node and one for the client, and per
//! segment a bridge in a namespace of its own (its switch), with a veth from every host on
//! the segment to a port of it. Addresses are the simulator's ([`crate::topology`]), from the
//! documentation ranges only. Faults that cut the network are nftables rules in the switches'
//! bridge family (they drop frames — ARP included — between two ports), or an interface set
//! down on the node's side.

use super::os::Ns;
use crate::scenario::Scenario;
use crate::topology::{self, Party};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The node index the client takes in the address plan: one no scenario of this engine
/// uses (the netns engine runs at most 10 nodes).
const CLIENT_SLOT: usize = 39;

/// The most nodes the engine builds namespaces for.
pub(super) const MAX_NODES: usize = 10;

/// Name of node `i`'s interface on segment `s`.
pub(super) fn interface(s: usize) -> String {
    format!("s{s}")
}

/// The interface the virtual addresses go on: a macvlan of the node's client-segment
/// interface, so an `address` fault can take it away (the kernel then refuses to add an
/// address to it) without cutting the node's heartbeats.
pub(super) const VIP_INTERFACE: &str = "vip0";

/// The client's address on its segment.
pub(super) fn client_address(segment: usize) -> IpAddr {
    topology::address(segment, CLIENT_SLOT).ip()
}

/// The switch port of a party.
fn port(party: Party) -> String {
    match party {
        Party::Node(n) => format!("n{n}"),
        Party::Client => "c".into(),
    }
}

/// The namespaces of one run and the network faults in force.
pub(super) struct Bed {
    // Field order is drop order: hosts before the switches their links end in.
    pub nodes: Vec<Ns>,
    pub client: Ns,
    switches: Vec<Ns>,
    client_segment: usize,
    /// Per segment, the nftables rules in force, each under the fault that made it.
    rules: Vec<BTreeMap<usize, Vec<String>>>,
}

impl Bed {
    /// Builds the topology of `scenario` (every host's interfaces up and addressed, the vip
    /// interface on each node, the client on its segment).
    pub fn new(scenario: &Scenario) -> Result<Bed, String> {
        let segments = scenario.segments.len();
        let switches = (0..segments)
            .map(|s| Ns::new(&format!("sw{s}")))
            .collect::<Result<Vec<_>, _>>()?;
        for sw in &switches {
            sw.ip("link add br0 type bridge")?;
            sw.ip("link set br0 up")?;
            sw.nft(
                "add table bridge faults\n\
                 add chain bridge faults cuts { type filter hook forward priority 0; }\n",
            )?;
        }
        let nodes = (0..scenario.nodes.len())
            .map(|i| Ns::new(&format!("h{i}")))
            .collect::<Result<Vec<_>, _>>()?;
        let client = Ns::new("cl")?;
        let client_segment = scenario.client_segment();
        for (i, ns) in nodes.iter().enumerate() {
            // The virtual address lives on a macvlan beside the segment's interface, and both
            // hear the client's ARP broadcast: only the interface that has the address answers,
            // as a server with the address on its one interface does.
            ns.sysctl("net.ipv4.conf.all.arp_ignore=1")?;
            for s in scenario.node_segments(i) {
                plug(&switches[s], ns, &port(Party::Node(i)), &interface(s))?;
                let addr = topology::address(s, i).ip();
                ns.ip(&format!("addr add {addr}/24 dev {}", interface(s)))?;
            }
            if scenario.node_segments(i).contains(&client_segment) {
                add_vip_interface(ns, client_segment)?;
            }
        }
        plug(
            &switches[client_segment],
            &client,
            &port(Party::Client),
            "c0",
        )?;
        client.ip(&format!(
            "addr add {}/24 dev c0",
            client_address(client_segment)
        ))?;
        Ok(Bed {
            nodes,
            client,
            switches,
            client_segment,
            rules: vec![BTreeMap::new(); segments],
        })
    }

    /// Drops what `from` sends `to` on `segment` (both ways unless `oneway`), under `fault`.
    pub fn cut(
        &mut self,
        fault: usize,
        segment: usize,
        from: Party,
        to: Party,
    ) -> Result<(), String> {
        let rule = format!("iifname \"{}\" oifname \"{}\" drop", port(from), port(to));
        self.add_rule(fault, segment, rule)
    }

    /// Drops everything a node sends or is sent, on every segment it is on, under `fault`.
    pub fn isolate(&mut self, fault: usize, node: usize, segments: &[usize]) -> Result<(), String> {
        for &s in segments {
            let p = port(Party::Node(node));
            self.add_rule(fault, s, format!("iifname \"{p}\" drop"))?;
            self.add_rule(fault, s, format!("oifname \"{p}\" drop"))?;
        }
        Ok(())
    }

    /// Drops heartbeats on `segment` at random with probability `loss`, under `fault`.
    pub fn lose(&mut self, fault: usize, segment: usize, loss: f64) -> Result<(), String> {
        let percent = (loss * 100.0).round().clamp(0.0, 100.0) as u32;
        let rule = format!("udp dport 1694 numgen random mod 100 < {percent} drop");
        self.add_rule(fault, segment, rule)
    }

    /// Ends every rule `fault` made.
    pub fn heal(&mut self, fault: usize) -> Result<(), String> {
        for s in 0..self.rules.len() {
            if self.rules[s].remove(&fault).is_some() {
                self.write_rules(s)?;
            }
        }
        Ok(())
    }

    fn add_rule(&mut self, fault: usize, segment: usize, rule: String) -> Result<(), String> {
        self.rules[segment].entry(fault).or_default().push(rule);
        self.write_rules(segment)
    }

    /// Replaces the switch's rules with those in force, at once.
    fn write_rules(&self, segment: usize) -> Result<(), String> {
        let mut script = String::from("flush chain bridge faults cuts\n");
        for rule in self.rules[segment].values().flatten() {
            script += &format!("add rule bridge faults cuts {rule}\n");
        }
        self.switches[segment].nft(&script).map(drop)
    }

    /// Sets a node's interface on `segment` up or down.
    pub fn set_link(&self, node: usize, segment: usize, up: bool) -> Result<(), String> {
        let state = if up { "up" } else { "down" };
        self.nodes[node]
            .ip(&format!("link set {} {state}", interface(segment)))
            .map(drop)
    }

    /// Takes a node's vip interface away (the kernel then refuses every address for it), or
    /// brings it back.
    pub fn set_vip_interface(&self, node: usize, present: bool) -> Result<(), String> {
        let ns = &self.nodes[node];
        if present {
            add_vip_interface(ns, self.client_segment)
        } else {
            ns.ip(&format!("link del {VIP_INTERFACE}")).map(drop)
        }
    }

    /// Removes every virtual address from a node (its host went down: nothing survives).
    pub fn flush_vips(&self, node: usize, vips: &[IpAddr]) {
        for vip in vips {
            let _ = self.nodes[node].ip(&format!("addr del {vip}/24 dev {VIP_INTERFACE}"));
        }
    }
}

/// A veth from host `ns` (its end named `dev`, up) to port `port` of the switch's bridge.
fn plug(switch: &Ns, ns: &Ns, port: &str, dev: &str) -> Result<(), String> {
    switch.ip(&format!(
        "link add {port} type veth peer name {dev} netns {}",
        ns.name()
    ))?;
    switch.ip(&format!("link set {port} master br0 up"))?;
    ns.ip(&format!("link set {dev} up")).map(drop)
}

fn add_vip_interface(ns: &Ns, client_segment: usize) -> Result<(), String> {
    let parent = interface(client_segment);
    ns.ip(&format!(
        "link add link {parent} name {VIP_INTERFACE} type macvlan mode bridge"
    ))?;
    ns.ip(&format!("link set {VIP_INTERFACE} up")).map(drop)
}
