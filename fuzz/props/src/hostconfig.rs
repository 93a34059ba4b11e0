//! `hostconfig`: the source system's `/etc/hostconfig` keys (`failover_core::hostconfig`).

use failover_core::hostconfig::{self, HostAddress, Machine};

/// Reads `data` (as UTF-8, invalid sequences replaced) as a hostconfig file, on a machine
/// with no addresses and on one with the source document's: an error names the file and a
/// line of it (or none, for a missing key); what is accepted is a configuration like any
/// other (see [`crate::config::accepted`]). The same text as `--public-address` either reads
/// as an address on its own network or is refused.
pub fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let lines = text.lines().count();
    for machine in [Machine::default(), source_machine()] {
        match hostconfig::parse(&text, "hostconfig", &machine) {
            Ok(config) => crate::config::accepted(&config),
            Err(e) => {
                assert_eq!(e.source_name, "hostconfig");
                assert!(!e.message.is_empty());
                if let Some(line) = e.line {
                    assert!(
                        (1..=lines).contains(&line),
                        "error on line {line} of a file of {lines}: {e}"
                    );
                }
            }
        }
    }
    if let Ok(address) = text.parse::<HostAddress>() {
        assert!(address.network_contains(address.address), "{address:?}");
    }
}

/// The source document's master: a public and a private address, and loopback.
fn source_machine() -> Machine {
    let at = |interface: &str, address: &str, prefix| HostAddress {
        interface: interface.into(),
        address: address.parse().expect("an address"),
        prefix,
    };
    Machine {
        addresses: vec![
            at("lo", "127.0.0.1", 8),
            at("eth0", "192.0.2.10", 24),
            at("eth1", "198.51.100.10", 24),
            at("eth0", "2001:db8::10", 64),
        ],
        public: None,
    }
}
