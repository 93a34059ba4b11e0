//! Gratuitous announcements: tell the LAN's hosts and switches that a virtual address now lives
//! behind this machine's MAC address, so clients stop sending to the old owner at once instead
//! of after their neighbour cache expires — a gratuitous ARP for an IPv4 address, an unsolicited
//! neighbour advertisement for an IPv6 one ([`crate::ndisc`]), both as raw Ethernet frames
//! through a packet socket on the address's interface.
//!
//! Like keepalived (5 at takeover, 5 more after 5 s), announcements come in two rounds, spaced
//! so that one lost frame or a switch still learning the port does not matter. They run in a
//! task of their own; the driver aborts it when the address is released, so a node never
//! announces an address it no longer holds. Finding the interface and sending are blocking
//! system calls, made off the runtime's one thread.

use crate::ndisc;
use pnet_datalink::{Channel, Config as ChannelConfig, NetworkInterface};
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::{sleep_until, Instant};

/// When each announcement goes out, after the address was added.
pub const ON_ACQUIRE_MS: &[u64] = &[0, 100, 200, 300, 400, 5_000, 5_100, 5_200, 5_300, 5_400];

/// When each goes out when the owner announces an address it already holds again (after a
/// rival claimant yielded, and periodically): a short round, enough for one lost frame.
pub const AGAIN_MS: &[u64] = &[0, 100, 200];

/// Starts announcing `address` on `interface` at the times of `schedule`; abort the handle to
/// stop.
pub fn announce(interface: String, address: IpAddr, schedule: &'static [u64]) -> JoinHandle<()> {
    tokio::spawn(async move {
        let what = match address {
            IpAddr::V4(_) => "gratuitous ARP",
            IpAddr::V6(_) => "unsolicited neighbour advertisement",
        };
        let start = Instant::now();
        let mut warned = false;
        for &at in schedule {
            if at > 0 {
                // (the first goes out at once: even a timer due now waits for the next tick)
                sleep_until(start + Duration::from_millis(at)).await;
            }
            // Finding the interface and opening a packet socket are blocking system calls:
            // off the runtime's one thread, which must go on reading heartbeats.
            let name = interface.clone();
            let sent = tokio::task::spawn_blocking(move || send(&name, address))
                .await
                .unwrap_or_else(|e| Err(io::Error::other(e.to_string())));
            match sent {
                Ok(true) => {}
                Ok(false) => return, // loopback or no MAC: nothing to announce to
                Err(e) if !warned => {
                    tracing::warn!(%interface, %address, "{what} failed: {e}");
                    warned = true;
                }
                Err(_) => {}
            }
        }
        tracing::debug!(%interface, %address, "{what} announcements done");
    })
}

/// Sends one announcement; `false` when the interface has no link-layer address to announce.
fn send(interface: &str, address: IpAddr) -> io::Result<bool> {
    let iface: NetworkInterface = pnet_datalink::interfaces()
        .into_iter()
        .find(|i| i.name == interface)
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such interface"))?;
    let mac = match iface.mac {
        Some(mac) if !iface.is_loopback() && mac.octets() != [0; 6] => mac.octets(),
        _ => return Ok(false),
    };
    let config = ChannelConfig {
        promiscuous: false,
        ..ChannelConfig::default()
    };
    let Channel::Ethernet(mut tx, _rx) = pnet_datalink::channel(&iface, config)? else {
        return Err(io::Error::other("not an Ethernet channel"));
    };
    let frame = match address {
        IpAddr::V4(v4) => frame(mac, v4).to_vec(),
        IpAddr::V6(v6) => ndisc::frame(mac, v6, forwards_ipv6(interface)).to_vec(),
    };
    tx.send_to(&frame, None)
        .unwrap_or_else(|| Err(io::Error::other("frame not sent")))?;
    Ok(true)
}

/// Whether this host routes IPv6 on `interface` (`net.ipv6.conf.IF.forwarding`, as seen from
/// the daemon's own network namespace): then its advertisements carry the Router flag.
fn forwards_ipv6(interface: &str) -> bool {
    std::fs::read_to_string(format!("/proc/sys/net/ipv6/conf/{interface}/forwarding"))
        .is_ok_and(|value| value.trim() == "1")
}

/// An ARP request for our own address from our own address (RFC 5227's "ARP announcement"),
/// broadcast: every host that has the address cached updates it to `mac`.
fn frame(mac: [u8; 6], address: Ipv4Addr) -> [u8; 60] {
    const BROADCAST: [u8; 6] = [0xff; 6];
    let ip = address.octets();
    let mut f = [0u8; 60]; // minimum Ethernet frame, zero padded
    f[0..6].copy_from_slice(&BROADCAST); // destination
    f[6..12].copy_from_slice(&mac); // source
    f[12..14].copy_from_slice(&0x0806u16.to_be_bytes()); // EtherType ARP
    f[14..16].copy_from_slice(&1u16.to_be_bytes()); // hardware type Ethernet
    f[16..18].copy_from_slice(&0x0800u16.to_be_bytes()); // protocol IPv4
    f[18] = 6; // hardware address length
    f[19] = 4; // protocol address length
    f[20..22].copy_from_slice(&1u16.to_be_bytes()); // operation: request
    f[22..28].copy_from_slice(&mac); // sender hardware address
    f[28..32].copy_from_slice(&ip); // sender protocol address
    f[32..38].copy_from_slice(&BROADCAST); // target hardware address (as keepalived sends)
    f[38..42].copy_from_slice(&ip); // target protocol address
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frame_is_a_broadcast_arp_request_for_our_own_address() {
        let mac = [0x02, 0, 0, 0, 0, 0x0a];
        let f = frame(mac, Ipv4Addr::new(192, 0, 2, 100));
        assert_eq!(&f[0..6], &[0xff; 6]);
        assert_eq!(&f[6..12], &mac);
        assert_eq!(&f[12..14], &[0x08, 0x06]);
        assert_eq!(&f[20..22], &[0, 1], "request");
        assert_eq!(&f[22..28], &mac, "sender MAC is ours");
        assert_eq!(&f[28..32], &[192, 0, 2, 100], "sender IP is the address");
        assert_eq!(
            &f[38..42],
            &[192, 0, 2, 100],
            "target IP is the address too"
        );
        assert!(f[42..].iter().all(|&b| b == 0), "zero padding");
    }
}
