//! The source system's `/etc/hostconfig` failover keys, read into the same [`Config`] as the
//! native TOML, so an existing Mac OS X Server set-up moves over without rewriting.
//!
//! | key | on | meaning here |
//! |---|---|---|
//! | `FAILOVER_BCAST_IPS="a b"` | master | heartbeat destinations: one path per address, named `public`, `direct`, then `path3`... |
//! | `FAILOVER_PEER_IP="x"` | backup | the master's direct-link address: paths `public` (peers learned from heartbeats) and `direct` |
//! | `FAILOVER_PEER_IP_PAIRS="en0:a[/len] ..."` | both | the virtual addresses and their interfaces |
//! | `FAILOVER_EMAIL_RECIPIENT` | both | notification recipient (root@localhost if unset) |
//! | `HOSTNAME` | both | node name, unless `-AUTOMATIC-` |
//!
//! A file with `FAILOVER_BCAST_IPS` is a master (priority 200), otherwise a backup (100).
//!
//! Every address may be IPv4 or IPv6, beyond the source system, which knew IPv4 only
//! (`en0:2001:db8::100/64`, prefix 64 if left out). The paths name no local address, so the
//! daemon listens on both families at once. IPv6 has no broadcast: `FAILOVER_BCAST_IPS` lists
//! the peer's own IPv6 addresses (multicast is refused).
//!
//! As in the source document, a master's file may leave `FAILOVER_PEER_IP_PAIRS` out: the
//! address that fails over is then the master's own public address, found on the network of
//! its first heartbeat address (see [`Machine`]). That address is the host's own — the
//! operating system adds it at boot — so it is marked `primary`: never removed at start as a
//! leftover, and handed back to the master only in order, like any other.

use crate::config::{
    Config, HookSettings, NodeSettings, NotifySettings, PathSettings, ProtocolSettings,
    VipSettings, DEFAULT_PORT,
};
use crate::ConfigError;
use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use thiserror::Error;

/// A hostconfig file that cannot be used: the file, the line at fault (none when the trouble
/// is a key that is missing), and what is wrong, naming the key.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub struct HostconfigError {
    /// File name or label.
    pub source_name: String,
    /// 1-based line, or `None` when no line is at fault (a missing key).
    pub line: Option<usize>,
    /// What is wrong, naming the key.
    pub message: String,
}

impl fmt::Display for HostconfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.source_name, self.message),
            None => write!(f, "{}: {}", self.source_name, self.message),
        }
    }
}

/// An address configured on one of this machine's interfaces (`ip -o addr` shows them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostAddress {
    /// The interface.
    pub interface: String,
    /// The address.
    pub address: IpAddr,
    /// Its prefix length.
    pub prefix: u8,
}

impl std::str::FromStr for HostAddress {
    type Err = String;

    /// `IF:ADDRESS[/PREFIX]`, as `FAILOVER_PEER_IP_PAIRS` writes one (prefix 24 or 64 if left
    /// out).
    fn from_str(text: &str) -> Result<HostAddress, String> {
        let vips = pairs_to_vips(text).map_err(|(pair, what)| format!("`{pair}`: {what}"))?;
        match vips.as_slice() {
            [vip] => {
                // Checked here, so the error names where the value came from (a flag), not
                // the configuration it ends up in.
                let most = if vip.address.is_ipv4() { 32 } else { 128 };
                if vip.prefix_len() > most {
                    let prefix = vip.prefix_len();
                    return Err(format!(
                        "`{text}`: prefix /{prefix} is longer than {most} bits"
                    ));
                }
                Ok(HostAddress {
                    interface: vip.interface.clone(),
                    address: vip.address,
                    prefix: vip.prefix_len(),
                })
            }
            _ => Err(format!("`{text}`: expected one interface:address[/prefix]")),
        }
    }
}

impl HostAddress {
    /// Whether `ip` lies on this address's network (its broadcast address included).
    pub fn network_contains(&self, ip: IpAddr) -> bool {
        let bits = |a: IpAddr| -> (u128, u32) {
            match a {
                IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
                IpAddr::V6(v6) => (u128::from(v6), 128),
            }
        };
        let ((mine, width), (other, other_width)) = (bits(self.address), bits(ip));
        let prefix = u32::from(self.prefix).min(width);
        if width != other_width || prefix == 0 {
            return width == other_width;
        }
        (mine ^ other) >> (width - prefix) == 0
    }
}

/// What the machine reading the file knows of itself. The source's master configures no
/// address to fail over: the one that moves is its own public address (store.example.com
/// maps to it). It is the address the master has on the network its heartbeats go to — or the
/// one named here (the daemon's `--public-address`).
#[derive(Clone, Debug, Default)]
pub struct Machine {
    /// Every address on this machine's interfaces.
    pub addresses: Vec<HostAddress>,
    /// The public address named by the operator, which wins over any guess.
    pub public: Option<HostAddress>,
}

/// Reads the failover keys of a hostconfig file; other keys are ignored, as the file holds
/// many. `machine` is asked only when the file is a master's that names no address to fail
/// over (the source document's own set-up).
pub fn parse(text: &str, source_name: &str, machine: &Machine) -> Result<Config, HostconfigError> {
    let err = |line: Option<usize>, message: String| HostconfigError {
        source_name: source_name.to_string(),
        line,
        message,
    };
    // key -> (line, value); a later line wins, as when the shell sources the file.
    let mut keys: BTreeMap<&str, (usize, String)> = BTreeMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value =
            unquote(value.trim()).map_err(|m| err(Some(i + 1), format!("{}: {m}", key.trim())))?;
        keys.insert(key.trim(), (i + 1, value));
    }
    let line_of = |key: &str| keys.get(key).map(|(line, _)| *line);
    let addresses = |key: &str| -> Result<Option<Vec<IpAddr>>, HostconfigError> {
        let Some((line, value)) = keys.get(key) else {
            return Ok(None);
        };
        let list = value
            .split_whitespace()
            .map(|a| {
                a.parse()
                    .map_err(|_| err(Some(*line), format!("{key}: `{a}` is not an IP address")))
            })
            .collect::<Result<Vec<IpAddr>, _>>()?;
        if list.is_empty() {
            return Err(err(Some(*line), format!("{key} is empty")));
        }
        Ok(Some(list))
    };
    let at = |ip: IpAddr| SocketAddr::new(ip, DEFAULT_PORT);
    let bcast = addresses("FAILOVER_BCAST_IPS")?;
    let peer_ip = addresses("FAILOVER_PEER_IP")?;
    let master = bcast.is_some();
    let mut paths: Vec<PathSettings> = match (&bcast, &peer_ip) {
        (Some(list), _) => list
            .iter()
            .enumerate()
            .map(|(i, &ip)| PathSettings {
                name: match i {
                    0 => "public".into(),
                    1 => "direct".into(),
                    n => format!("path{}", n + 1),
                },
                local: None,
                peers: vec![at(ip)],
            })
            .collect(),
        (None, Some(_)) => ["public", "direct"]
            .iter()
            .map(|name| PathSettings {
                name: name.to_string(),
                local: None,
                peers: vec![],
            })
            .collect(),
        (None, None) => return Err(err(
            None,
            "missing key: neither FAILOVER_BCAST_IPS (on a master) nor FAILOVER_PEER_IP (on a backup) is set"
                .into(),
        )),
    };
    if let Some(list) = &peer_ip {
        let direct = match paths.iter().position(|p| p.name == "direct") {
            Some(i) => i,
            None => {
                paths.push(PathSettings {
                    name: "direct".into(),
                    local: None,
                    peers: vec![],
                });
                paths.len() - 1
            }
        };
        for &ip in list {
            if !paths[direct].peers.contains(&at(ip)) {
                paths[direct].peers.push(at(ip));
            }
        }
    }
    let vips = match (keys.get("FAILOVER_PEER_IP_PAIRS"), &bcast) {
        (Some((line, pairs)), _) => pairs_to_vips(pairs).map_err(|(pair, what)| {
            err(
                Some(*line),
                format!("FAILOVER_PEER_IP_PAIRS: `{pair}`: {what}"),
            )
        })?,
        (None, Some(heartbeats)) => {
            let line = line_of("FAILOVER_BCAST_IPS");
            vec![own_public_address(machine, heartbeats[0]).ok_or_else(|| {
                err(
                    None,
                    format!(
                        "missing key FAILOVER_PEER_IP_PAIRS, and no interface of this machine has \
                         an address on the network of {} (FAILOVER_BCAST_IPS, line {}), the \
                         address that would fail over: set FAILOVER_PEER_IP_PAIRS, or name the \
                         public address (failoverd --public-address IF:ADDRESS/PREFIX)",
                        heartbeats[0],
                        line.unwrap_or_default()
                    ),
                )
            })?]
        }
        (None, None) => {
            return Err(err(
                None,
                "missing key FAILOVER_PEER_IP_PAIRS: on a backup it names the master's public \
                 address(es) to take over, as interface:address"
                    .into(),
            ))
        }
    };
    let name = match keys.get("HOSTNAME") {
        Some((_, h)) if !h.is_empty() && h != "-AUTOMATIC-" => h.clone(),
        _ if master => "master".into(),
        _ => "backup".into(),
    };
    let mut notify = NotifySettings::default();
    if let Some((_, recipient)) = keys
        .get("FAILOVER_EMAIL_RECIPIENT")
        .filter(|(_, r)| !r.is_empty())
    {
        notify.email_recipient = recipient.clone();
    }
    let config = Config {
        node: NodeSettings {
            name,
            priority: if master { 200 } else { 100 },
            witness: false,
        },
        protocol: ProtocolSettings::default(),
        paths,
        vips,
        notify,
        hooks: HookSettings::default(),
        control: Default::default(),
    };
    config.validate().map_err(|e| {
        // Name the line of the key the offending field came from.
        let key = match &e {
            ConfigError::Invalid { field, .. } if field.starts_with("vip") => {
                "FAILOVER_PEER_IP_PAIRS"
            }
            ConfigError::Invalid { field, .. } if field.starts_with("notify") => {
                "FAILOVER_EMAIL_RECIPIENT"
            }
            ConfigError::Invalid { field, .. } if field.starts_with("node") => "HOSTNAME",
            _ if master => "FAILOVER_BCAST_IPS",
            _ => "FAILOVER_PEER_IP",
        };
        err(line_of(key), format!("{key}: {e}"))
    })?;
    Ok(config)
}

/// `en0:a[/len] ...` as addresses to fail over, or the pair at fault and why.
fn pairs_to_vips(pairs: &str) -> Result<Vec<VipSettings>, (String, &'static str)> {
    pairs
        .split_whitespace()
        .map(|pair| {
            let bad = |what| (pair.to_string(), what);
            let (interface, addr) = pair
                .split_once(':')
                .ok_or_else(|| bad("expected interface:address"))?;
            let (addr, prefix) = match addr.split_once('/') {
                Some((a, p)) => (
                    a,
                    Some(p.parse::<u8>().map_err(|_| bad("bad prefix length"))?),
                ),
                None => (addr, None),
            };
            Ok(VipSettings {
                address: addr.parse().map_err(|_| bad("not an IP address"))?,
                prefix,
                interface: interface.to_string(),
                primary: false,
            })
        })
        .collect()
}

/// The master's own public address: the one named by the operator, or the one it has on
/// the network of its first heartbeat address (the backup's public address, or that
/// network's broadcast address).
fn own_public_address(machine: &Machine, heartbeat: IpAddr) -> Option<VipSettings> {
    let found = machine.public.as_ref().or_else(|| {
        (machine.addresses.iter()).find(|a| a.address != heartbeat && a.network_contains(heartbeat))
    })?;
    Some(VipSettings {
        address: found.address,
        prefix: Some(found.prefix),
        interface: found.interface.clone(),
        primary: true,
    })
}

/// Strips shell-style quotes, typographic ones included (the source document's own example
/// uses them).
fn unquote(value: &str) -> Result<String, &'static str> {
    const PAIRS: [(char, &[char]); 4] = [
        ('"', &['"']),
        ('\'', &['\'']),
        ('“', &['”', '“']),
        ('”', &['”', '“']),
    ];
    let Some(first) = value.chars().next() else {
        return Ok(String::new());
    };
    match PAIRS.iter().find(|(open, _)| *open == first) {
        None => Ok(value.to_string()),
        Some((open, closers)) => {
            let rest = &value[open.len_utf8()..];
            let end = rest
                .find(|c| closers.contains(&c))
                .ok_or("unterminated quote")?;
            Ok(rest[..end].to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASTER: &str = "##\n# /etc/hostconfig\nHOSTNAME=-AUTOMATIC-\nAFPSERVER=-YES-\n\
        FAILOVER_BCAST_IPS=\"192.0.2.11 198.51.100.11\"\n\
        FAILOVER_PEER_IP_PAIRS=\"en0:192.0.2.100\"\n\
        FAILOVER_EMAIL_RECIPIENT=\"ops@example.com\"\n";

    const BACKUP: &str = "FAILOVER_PEER_IP=198.51.100.10\nFAILOVER_PEER_IP_PAIRS='en0:192.0.2.100/25 en1:192.0.2.101'\n";

    fn line_error(text: &str) -> HostconfigError {
        parse(text, "hostconfig", &Machine::default()).unwrap_err()
    }

    #[test]
    fn a_master_file_becomes_a_two_path_master() {
        let c = parse(MASTER, "hostconfig", &Machine::default()).unwrap();
        assert_eq!((c.node.name.as_str(), c.node.priority), ("master", 200));
        let names: Vec<&str> = c.paths.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["public", "direct"]);
        assert_eq!(
            c.paths[1].peers,
            vec!["198.51.100.11:1694".parse().unwrap()]
        );
        assert_eq!(c.vips[0].address.to_string(), "192.0.2.100");
        assert_eq!(c.vips[0].interface, "en0");
        assert_eq!(c.notify.email_recipient, "ops@example.com");
    }

    #[test]
    fn a_backup_file_watches_the_masters_direct_address() {
        let c = parse(BACKUP, "hostconfig", &Machine::default()).unwrap();
        assert_eq!((c.node.name.as_str(), c.node.priority), ("backup", 100));
        assert!(
            c.paths[0].peers.is_empty(),
            "the public peer is learned from heartbeats"
        );
        assert_eq!(
            c.paths[1].peers,
            vec!["198.51.100.10:1694".parse().unwrap()]
        );
        assert_eq!(c.vips.len(), 2);
        assert_eq!(c.vips[0].prefix_len(), 25);
        assert_eq!(c.notify.email_recipient, "root@localhost");
    }

    #[test]
    fn typographic_quotes_as_in_the_source_document_are_accepted() {
        let text = "FAILOVER_BCAST_IPS=”192.0.2.11 198.51.100.11”\nFAILOVER_PEER_IP_PAIRS=“en0:192.0.2.100”\nHOSTNAME=store1\n";
        let c = parse(text, "hostconfig", &Machine::default()).unwrap();
        assert_eq!(c.paths.len(), 2);
        assert_eq!(c.node.name, "store1");
    }

    #[test]
    fn errors_name_the_line_and_the_key() {
        let e = line_error(&MASTER.replace("198.51.100.11", "198.51.100.x"));
        assert_eq!(e.line, Some(5));
        assert!(
            e.message.contains("FAILOVER_BCAST_IPS") && e.message.contains("198.51.100.x"),
            "{e}"
        );
        assert!(e.to_string().starts_with("hostconfig:5: "), "{e}");

        let e = line_error(&MASTER.replace("en0:192.0.2.100", "en0-192.0.2.100"));
        assert_eq!(e.line, Some(6));
        assert!(
            e.message.contains("FAILOVER_PEER_IP_PAIRS") && e.message.contains("en0-192.0.2.100"),
            "{e}"
        );

        let e = line_error(
            "FAILOVER_PEER_IP=\"198.51.100.10\nFAILOVER_PEER_IP_PAIRS=en0:192.0.2.100\n",
        );
        assert_eq!(e.line, Some(1));
        assert!(e.message.contains("unterminated quote"), "{e}");
    }

    #[test]
    fn missing_keys_are_named_not_given_a_line() {
        let e = line_error("FAILOVER_PEER_IP_PAIRS=en0:192.0.2.100\n");
        assert_eq!(e.line, None);
        assert!(e.message.contains("FAILOVER_BCAST_IPS") && e.message.contains("FAILOVER_PEER_IP"));
        assert!(e.to_string().starts_with("hostconfig: missing key"), "{e}");
        let e = line_error("FAILOVER_PEER_IP=198.51.100.10\n");
        assert!(
            e.message.contains("missing key FAILOVER_PEER_IP_PAIRS"),
            "{e}"
        );
        assert_eq!(e.line, None);
    }

    /// The source document's step 4, exactly: heartbeat addresses and a mail recipient.
    const SOURCE_MASTER: &str = "FAILOVER_BCAST_IPS=\u{201d}192.0.2.11 198.51.100.11\u{201d}\n\
        FAILOVER_EMAIL_RECIPIENT=ops@example.com\n";

    fn machine() -> Machine {
        let at = |interface: &str, address: &str, prefix| HostAddress {
            interface: interface.into(),
            address: address.parse().unwrap(),
            prefix,
        };
        Machine {
            addresses: vec![
                at("lo", "127.0.0.1", 8),
                at("eth0", "192.0.2.10", 24),
                at("eth1", "198.51.100.10", 24),
            ],
            public: None,
        }
    }

    #[test]
    fn the_source_documents_master_fails_over_its_own_public_address() {
        let c = parse(SOURCE_MASTER, "hostconfig", &machine()).unwrap();
        assert_eq!(c.node.priority, 200);
        assert_eq!(c.vips.len(), 1);
        let vip = &c.vips[0];
        assert_eq!(vip.address.to_string(), "192.0.2.10");
        assert_eq!((vip.interface.as_str(), vip.prefix_len()), ("eth0", 24));
        assert!(
            vip.primary,
            "the host's own address: never removed as a leftover"
        );
        // A broadcast heartbeat address is on that network too.
        let bcast = SOURCE_MASTER.replace("192.0.2.11", "192.0.2.255");
        let c = parse(&bcast, "hostconfig", &machine()).unwrap();
        assert_eq!(c.vips[0].address.to_string(), "192.0.2.10");
    }

    #[test]
    fn a_named_public_address_wins_and_its_absence_is_explained() {
        let mut m = machine();
        m.public = Some(HostAddress {
            interface: "eth0".into(),
            address: "192.0.2.20".parse().unwrap(),
            prefix: 25,
        });
        let c = parse(SOURCE_MASTER, "hostconfig", &m).unwrap();
        assert_eq!(c.vips[0].address.to_string(), "192.0.2.20");
        assert_eq!(c.vips[0].prefix_len(), 25);
        let e = parse(SOURCE_MASTER, "hostconfig", &Machine::default()).unwrap_err();
        assert_eq!(e.line, None);
        assert!(
            e.message.contains("missing key FAILOVER_PEER_IP_PAIRS")
                && e.message.contains("--public-address")
                && e.message.contains("line 1"),
            "{e}"
        );
    }

    #[test]
    fn a_field_core_refuses_is_blamed_on_the_line_of_its_key() {
        let e = line_error(
            "FAILOVER_PEER_IP=198.51.100.10\n\nFAILOVER_PEER_IP_PAIRS=en0:192.0.2.100/40\n",
        );
        assert_eq!(e.line, Some(3), "{e}");
        assert!(e.message.starts_with("FAILOVER_PEER_IP_PAIRS"), "{e}");
    }

    #[test]
    fn networks_contain_their_own_addresses_only() {
        let a = HostAddress {
            interface: "eth0".into(),
            address: "192.0.2.10".parse().unwrap(),
            prefix: 24,
        };
        for (ip, inside) in [
            ("192.0.2.11", true),
            ("192.0.2.255", true),
            ("192.0.3.1", false),
            ("198.51.100.11", false),
            ("2001:db8::1", false),
        ] {
            assert_eq!(a.network_contains(ip.parse().unwrap()), inside, "{ip}");
        }
    }

    #[test]
    fn ipv6_heartbeat_and_failover_addresses_are_read_as_ipv4_ones() {
        let master = "FAILOVER_BCAST_IPS=\"2001:db8:0:1::11 198.51.100.11\"\n\
            FAILOVER_PEER_IP_PAIRS=\"en0:2001:db8:0:1::100 en0:192.0.2.100/25\"\n";
        let c = parse(master, "hostconfig", &Machine::default()).unwrap();
        assert_eq!(
            c.paths[0].peers,
            vec!["[2001:db8:0:1::11]:1694".parse().unwrap()]
        );
        assert_eq!(c.paths[0].local, None, "both families, on the default port");
        let v6 = &c.vips[0];
        assert_eq!(
            (
                v6.interface.as_str(),
                v6.address.to_string(),
                v6.prefix_len()
            ),
            ("en0", "2001:db8:0:1::100".into(), 64)
        );
        assert_eq!(c.vips[1].prefix_len(), 25);

        let backup =
            "FAILOVER_PEER_IP=2001:db8:0:2::10\nFAILOVER_PEER_IP_PAIRS=en0:2001:db8:0:1::100/120\n";
        let c = parse(backup, "hostconfig", &Machine::default()).unwrap();
        assert_eq!(
            c.paths[1].peers,
            vec!["[2001:db8:0:2::10]:1694".parse().unwrap()]
        );
        assert_eq!(c.vips[0].prefix_len(), 120);

        // The source's master naming no address: its own IPv6 address on that network.
        let mut m = machine();
        m.addresses.push(HostAddress {
            interface: "eth0".into(),
            address: "2001:db8:0:1::10".parse().unwrap(),
            prefix: 64,
        });
        let c = parse("FAILOVER_BCAST_IPS=2001:db8:0:1::11\n", "hostconfig", &m).unwrap();
        assert_eq!(c.vips[0].address.to_string(), "2001:db8:0:1::10");
        assert!(c.vips[0].primary);

        // IPv6 has no broadcast; its multicast is not taken (the line of the key is named).
        let e =
            line_error("\nFAILOVER_BCAST_IPS=ff02::1\nFAILOVER_PEER_IP_PAIRS=en0:2001:db8::100\n");
        assert_eq!(e.line, Some(2), "{e}");
        assert!(e.message.contains("multicast"), "{e}");
    }
}
