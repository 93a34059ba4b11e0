//! Who answers for an address on the wire: the client broadcasts an ARP request for every
//! virtual address each tick and counts the distinct MAC addresses that reply. Two owners show
//! up here as two replies to one request — evidence taken from the LAN itself, apart from what
//! the daemons say and what the kernels' address tables hold.
//!
//! The census must not change what it measures, so it asks as a host of its own: an ARP probe
//! (RFC 5227: sender address 0.0.0.0, from a MAC address no kernel here owns). The nodes learn
//! no neighbour from a probe, and their replies, sent to that MAC, are read by the packet
//! socket (promiscuous) while the client's kernel ignores them as another host's frames — were
//! the client itself to ask, every reply would refresh its ARP entry and could hold off, for
//! the kernel's `locktime`, the gratuitous ARP of a node taking over.

use super::probe::monotonic_ns;
use crate::engine::ArpCensus;
use pnet_datalink::{Channel, Config, DataLinkReceiver, DataLinkSender, NetworkInterface};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Runs the census in the calling thread (which must be in the client's namespace) every
/// `every` until `stop`; `ready` hears once it can send.
pub(super) fn run(
    vips: &[IpAddr],
    every: Duration,
    stop: &AtomicBool,
    ready: std::sync::mpsc::Sender<Result<(), String>>,
) -> ArpCensus {
    let (mut tx, mut rx) = match open() {
        Ok(channel) => channel,
        Err(e) => {
            let _ = ready.send(Err(format!("ARP census: {e}")));
            return ArpCensus::default();
        }
    };
    let _ = ready.send(Ok(()));
    let vips: Vec<Ipv4Addr> = (vips.iter())
        .filter_map(|v| match v {
            IpAddr::V4(v) => Some(*v),
            IpAddr::V6(_) => None,
        })
        .collect();
    let mut census = ArpCensus::default();
    let every_ns = every.as_nanos() as u64;
    let mut next = monotonic_ns();
    while !stop.load(Ordering::Relaxed) {
        let at = next;
        for vip in &vips {
            let _ = tx.send_to(&probe(*vip), None);
        }
        next += every_ns;
        let mut replies: Vec<Vec<[u8; 6]>> = vec![Vec::new(); vips.len()];
        while monotonic_ns() < next {
            let Ok(frame) = rx.next() else {
                continue; // the read timeout: look at the clock again
            };
            if let Some((sender_ip, sender_mac)) = reply(frame) {
                if let Some(v) = vips.iter().position(|ip| *ip == sender_ip) {
                    if !replies[v].contains(&sender_mac) {
                        replies[v].push(sender_mac);
                    }
                }
            }
        }
        for macs in &replies {
            census.asked += 1;
            census.answered += u64::from(!macs.is_empty());
            if macs.len() > 1 {
                census.answered_twice += 1;
                census.first_twice.get_or_insert(at);
            }
        }
    }
    census
}

/// The census's own MAC address: locally administered, owned by no interface.
const CENSUS_MAC: [u8; 6] = [0x02, 0xce, 0x05, 0x05, 0x00, 0x01];

/// A packet channel: what sends frames and what reads them.
type Link = (Box<dyn DataLinkSender>, Box<dyn DataLinkReceiver>);

/// A promiscuous packet channel on the client's Ethernet interface in this thread's namespace.
fn open() -> Result<Link, String> {
    let iface: NetworkInterface = pnet_datalink::interfaces()
        .into_iter()
        .find(|i| !i.is_loopback() && i.mac.is_some() && i.ips.iter().any(|ip| ip.is_ipv4()))
        .ok_or("no Ethernet interface with an IPv4 address")?;
    let config = Config {
        read_timeout: Some(Duration::from_millis(5)),
        promiscuous: true,
        ..Config::default()
    };
    match pnet_datalink::channel(&iface, config) {
        Ok(Channel::Ethernet(tx, rx)) => Ok((tx, rx)),
        Ok(_) => Err("not an Ethernet channel".into()),
        Err(e) => Err(format!("packet socket on {}: {e}", iface.name)),
    }
}

/// A broadcast ARP probe: who has `target`? tell [`CENSUS_MAC`] (sender address 0.0.0.0).
fn probe(target: Ipv4Addr) -> [u8; 42] {
    let mut f = [0u8; 42];
    f[0..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&CENSUS_MAC);
    f[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
    f[14..16].copy_from_slice(&1u16.to_be_bytes()); // Ethernet
    f[16..18].copy_from_slice(&0x0800u16.to_be_bytes()); // IPv4
    f[18] = 6;
    f[19] = 4;
    f[20..22].copy_from_slice(&1u16.to_be_bytes()); // request
    f[22..28].copy_from_slice(&CENSUS_MAC);
    f[38..42].copy_from_slice(&target.octets());
    f
}

/// An ARP reply to the census's probe: the address it answers for and its MAC.
fn reply(frame: &[u8]) -> Option<(Ipv4Addr, [u8; 6])> {
    if frame.len() < 42
        || frame[0..6] != CENSUS_MAC
        || frame[12..14] != [0x08, 0x06]
        || frame[20..22] != [0, 2]
    {
        return None;
    }
    let mac: [u8; 6] = frame[22..28].try_into().ok()?;
    let ip = Ipv4Addr::new(frame[28], frame[29], frame[30], frame[31]);
    Some((ip, mac))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_is_answered_by_a_reply_naming_the_address_and_its_mac() {
        let asked = probe(Ipv4Addr::new(192, 0, 2, 100));
        assert_eq!(&asked[28..32], &[0, 0, 0, 0], "a probe: no sender address");
        assert_eq!(&asked[38..42], &[192, 0, 2, 100]);
        assert_eq!(reply(&asked), None, "a request is no reply");
        let theirs = [2, 0, 0, 0, 0, 9];
        let mut answer = asked;
        answer[0..6].copy_from_slice(&CENSUS_MAC);
        answer[20..22].copy_from_slice(&2u16.to_be_bytes());
        answer[22..28].copy_from_slice(&theirs);
        answer[28..32].copy_from_slice(&[192, 0, 2, 100]);
        assert_eq!(
            reply(&answer),
            Some((Ipv4Addr::new(192, 0, 2, 100), theirs))
        );
        answer[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        assert_eq!(reply(&answer), None, "a reply to another host");
    }
}
