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

use crate::config::{
    Config, HookSettings, NodeSettings, NotifySettings, PathSettings, ProtocolSettings,
    VipSettings, DEFAULT_PORT,
};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use thiserror::Error;

/// A hostconfig file that cannot be used, naming the line (0 when no single line is at fault).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{source_name}:{line}: {message}")]
pub struct HostconfigError {
    /// File name or label.
    pub source_name: String,
    /// 1-based line, or 0.
    pub line: usize,
    /// What is wrong, naming the key.
    pub message: String,
}

/// Reads the failover keys of a hostconfig file; other keys are ignored, as the file holds many.
pub fn parse(text: &str, source_name: &str) -> Result<Config, HostconfigError> {
    let err = |line: usize, message: String| HostconfigError {
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
            unquote(value.trim()).map_err(|m| err(i + 1, format!("{}: {m}", key.trim())))?;
        keys.insert(key.trim(), (i + 1, value));
    }
    let addresses = |key: &str| -> Result<Option<Vec<IpAddr>>, HostconfigError> {
        let Some((line, value)) = keys.get(key) else {
            return Ok(None);
        };
        let list = value
            .split_whitespace()
            .map(|a| {
                a.parse()
                    .map_err(|_| err(*line, format!("{key}: `{a}` is not an IP address")))
            })
            .collect::<Result<Vec<IpAddr>, _>>()?;
        if list.is_empty() {
            return Err(err(*line, format!("{key} is empty")));
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
            0,
            "neither FAILOVER_BCAST_IPS (on a master) nor FAILOVER_PEER_IP (on a backup) is set"
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
    let Some((pairs_line, pairs)) = keys.get("FAILOVER_PEER_IP_PAIRS") else {
        return Err(err(
            0,
            "FAILOVER_PEER_IP_PAIRS is not set: it names the public address(es) that fail over (on the master too)".into(),
        ));
    };
    let vips = pairs
        .split_whitespace()
        .map(|pair| {
            let bad = |what: &str| {
                err(
                    *pairs_line,
                    format!("FAILOVER_PEER_IP_PAIRS: `{pair}`: {what}"),
                )
            };
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
            })
        })
        .collect::<Result<Vec<_>, HostconfigError>>()?;
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
        },
        protocol: ProtocolSettings::default(),
        paths,
        vips,
        notify,
        hooks: HookSettings::default(),
    };
    config.validate().map_err(|e| err(0, e.to_string()))?;
    Ok(config)
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
        parse(text, "hostconfig").unwrap_err()
    }

    #[test]
    fn a_master_file_becomes_a_two_path_master() {
        let c = parse(MASTER, "hostconfig").unwrap();
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
        let c = parse(BACKUP, "hostconfig").unwrap();
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
        let c = parse(text, "hostconfig").unwrap();
        assert_eq!(c.paths.len(), 2);
        assert_eq!(c.node.name, "store1");
    }

    #[test]
    fn errors_name_the_line_and_the_key() {
        let e = line_error(&MASTER.replace("198.51.100.11", "198.51.100.x"));
        assert_eq!(e.line, 5);
        assert!(
            e.message.contains("FAILOVER_BCAST_IPS") && e.message.contains("198.51.100.x"),
            "{e}"
        );
        assert!(e.to_string().starts_with("hostconfig:5: "), "{e}");

        let e = line_error(&MASTER.replace("en0:192.0.2.100", "en0-192.0.2.100"));
        assert_eq!(e.line, 6);
        assert!(
            e.message.contains("FAILOVER_PEER_IP_PAIRS") && e.message.contains("en0-192.0.2.100"),
            "{e}"
        );

        let e = line_error(
            "FAILOVER_PEER_IP=\"198.51.100.10\nFAILOVER_PEER_IP_PAIRS=en0:192.0.2.100\n",
        );
        assert_eq!(e.line, 1);
        assert!(e.message.contains("unterminated quote"), "{e}");
    }

    #[test]
    fn missing_keys_are_named() {
        let e = line_error("FAILOVER_PEER_IP_PAIRS=en0:192.0.2.100\n");
        assert_eq!(e.line, 0);
        assert!(e.message.contains("FAILOVER_BCAST_IPS") && e.message.contains("FAILOVER_PEER_IP"));
        let e = line_error("FAILOVER_PEER_IP=198.51.100.10\n");
        assert!(e.message.contains("FAILOVER_PEER_IP_PAIRS"), "{e}");
    }
}
