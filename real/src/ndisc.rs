//! Unsolicited neighbour advertisements (RFC 4861 §7.2.6): IPv6's gratuitous ARP. They tell the
//! link's hosts that a virtual IPv6 address now lives behind this machine's MAC address, so
//! clients stop sending to the old owner at once instead of after their neighbour entry fails
//! its reachability probes (seconds: `delay_first_probe_time` plus three unanswered probes).
//!
//! The advertisement is the one keepalived sends, as a whole Ethernet frame through the same
//! packet socket as the ARP announcement: to all nodes (`ff02::1`, Ethernet `33:33:00:00:00:01`),
//! from the virtual address itself, hop limit 255 (receivers drop any other), Override set —
//! so a receiver replaces the MAC it has cached — and Solicited clear (an advertisement to a
//! multicast address must not claim to answer a solicitation), the target being the address
//! and the Target Link-Layer Address option carrying our MAC. Writing the frame whole, rather
//! than through an ICMPv6 socket, leaves nothing to the kernel's source address selection: the
//! interface's link-local address may itself still be tentative when it has just come up.
//!
//! A receiver updates an entry it already has (to the new MAC, state STALE: it confirms
//! reachability on next use) and creates none — exactly what clients need, as with ARP.

use std::net::Ipv6Addr;

/// The frame's length: Ethernet header 14, IPv6 header 40, advertisement 24, option 8.
pub const FRAME_LEN: usize = 86;

/// Where the Ethernet header ends and the IPv6 header begins.
const IP: usize = 14;
/// Where the ICMPv6 message begins.
const ICMP: usize = IP + 40;
/// The ICMPv6 message's length: the advertisement and its one option.
const ICMP_LEN: usize = FRAME_LEN - ICMP;

/// ICMPv6 type of a Neighbor Advertisement.
const NEIGHBOR_ADVERTISEMENT: u8 = 136;
/// IPv6 next-header number of ICMPv6.
const NEXT_HEADER_ICMPV6: u8 = 58;
/// The advertisement's flags (first byte after the checksum).
const FLAG_ROUTER: u8 = 0x80;
const FLAG_OVERRIDE: u8 = 0x20;
/// Option type of the Target Link-Layer Address.
const OPTION_TARGET_LINK_ADDRESS: u8 = 2;

/// All nodes on the link.
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// The unsolicited advertisement of `address` at `mac`, as an Ethernet frame. `router` sets
/// the Router flag: a host that forwards IPv6 on this interface says so, or receivers that use
/// the address as their default gateway would drop it from their router list (RFC 4861
/// §7.2.5; keepalived does the same).
pub fn frame(mac: [u8; 6], address: Ipv6Addr, router: bool) -> [u8; FRAME_LEN] {
    let mut f = [0u8; FRAME_LEN];
    // Ethernet: the all-nodes group's multicast MAC (RFC 2464 §7), from us, IPv6.
    let group = ALL_NODES.octets();
    f[0..6].copy_from_slice(&[0x33, 0x33, group[12], group[13], group[14], group[15]]);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&0x86ddu16.to_be_bytes());
    // IPv6: version 6, no traffic class or flow label.
    f[IP] = 0x60;
    f[IP + 4..IP + 6].copy_from_slice(&(ICMP_LEN as u16).to_be_bytes()); // payload length
    f[IP + 6] = NEXT_HEADER_ICMPV6;
    f[IP + 7] = 255; // hop limit: proves the sender is on the link
    f[IP + 8..IP + 24].copy_from_slice(&address.octets()); // source: the address itself
    f[IP + 24..IP + 40].copy_from_slice(&ALL_NODES.octets());
    // ICMPv6 Neighbor Advertisement: type, code 0, checksum (below), flags, 3 reserved bytes.
    f[ICMP] = NEIGHBOR_ADVERTISEMENT;
    f[ICMP + 4] = FLAG_OVERRIDE | if router { FLAG_ROUTER } else { 0 };
    f[ICMP + 8..ICMP + 24].copy_from_slice(&address.octets()); // target
    f[ICMP + 24] = OPTION_TARGET_LINK_ADDRESS;
    f[ICMP + 25] = 1; // option length in units of 8 bytes
    f[ICMP + 26..ICMP + 32].copy_from_slice(&mac);
    let sum = checksum(address, ALL_NODES, &f[ICMP..]);
    f[ICMP + 2..ICMP + 4].copy_from_slice(&sum.to_be_bytes());
    f
}

/// The ICMPv6 checksum (RFC 4443 §2.3): the one's complement of the one's complement sum of
/// the IPv6 pseudo-header (source, destination, length, next header) and the message, whose
/// checksum field is zero.
fn checksum(source: Ipv6Addr, destination: Ipv6Addr, message: &[u8]) -> u16 {
    let length = u32::try_from(message.len()).expect("a short message");
    let mut pseudo = [0u8; 40];
    pseudo[0..16].copy_from_slice(&source.octets());
    pseudo[16..32].copy_from_slice(&destination.octets());
    pseudo[32..36].copy_from_slice(&length.to_be_bytes());
    pseudo[39] = NEXT_HEADER_ICMPV6;
    !fold(sum16(&pseudo) + sum16(message))
}

/// The sum of `bytes` as big-endian 16-bit words (an odd last byte padded with zero).
fn sum16(bytes: &[u8]) -> u32 {
    bytes
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)])))
        .sum()
}

/// A 32-bit sum folded into 16 bits, carries added back in.
fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];

    fn vip() -> Ipv6Addr {
        "2001:db8:0:1::100".parse().unwrap()
    }

    #[test]
    fn the_frame_goes_to_all_nodes_from_us_as_ipv6() {
        let f = frame(MAC, vip(), false);
        assert_eq!(
            &f[0..6],
            &[0x33, 0x33, 0, 0, 0, 1],
            "all-nodes multicast MAC"
        );
        assert_eq!(&f[6..12], &MAC);
        assert_eq!(&f[12..14], &[0x86, 0xdd], "EtherType IPv6");
    }

    #[test]
    fn the_ipv6_header_is_on_link_from_the_address_to_all_nodes() {
        let f = frame(MAC, vip(), false);
        let ip = &f[14..54];
        assert_eq!(ip[0] >> 4, 6, "version");
        assert_eq!(
            &ip[0..4],
            &[0x60, 0, 0, 0],
            "no traffic class or flow label"
        );
        assert_eq!(u16::from_be_bytes([ip[4], ip[5]]), 32, "payload length");
        assert_eq!(ip[6], 58, "next header ICMPv6");
        assert_eq!(ip[7], 255, "hop limit 255, or receivers drop it");
        assert_eq!(&ip[8..24], &vip().octets(), "source: the address");
        assert_eq!(
            Ipv6Addr::from(<[u8; 16]>::try_from(&ip[24..40]).unwrap()),
            "ff02::1".parse::<Ipv6Addr>().unwrap()
        );
    }

    #[test]
    fn the_advertisement_overrides_is_unsolicited_and_carries_our_mac() {
        let f = frame(MAC, vip(), false);
        let na = &f[54..];
        assert_eq!(na.len(), 32);
        assert_eq!((na[0], na[1]), (136, 0), "Neighbor Advertisement, code 0");
        assert_eq!(na[4], 0x20, "Override set; Router and Solicited clear");
        assert_eq!(&na[5..8], &[0, 0, 0], "reserved");
        assert_eq!(&na[8..24], &vip().octets(), "target: the address");
        assert_eq!(
            (na[24], na[25]),
            (2, 1),
            "Target Link-Layer Address, 8 bytes"
        );
        assert_eq!(&na[26..32], &MAC);
        assert_eq!(frame(MAC, vip(), true)[54 + 4], 0xa0, "Router and Override");
    }

    /// The receiver's check (RFC 1071): the sum over the pseudo-header and the message, the
    /// checksum included, is all ones. Written out separately from the sender's code.
    #[test]
    fn the_checksum_verifies_as_a_receiver_computes_it() {
        for (address, router) in [
            (vip(), false),
            (vip(), true),
            ("2001:db8::ffff".parse().unwrap(), false),
        ] {
            let f = frame(MAC, address, router);
            let mut words: Vec<u16> = Vec::new();
            let mut push = |bytes: &[u8]| {
                for pair in bytes.chunks(2) {
                    words.push(u16::from_be_bytes([pair[0], pair[1]]));
                }
            };
            push(&f[22..38]); // source, from the IPv6 header
            push(&f[38..54]); // destination
            push(&[0, 0, 0, 32, 0, 0, 0, 58]); // length, zeros, next header
            push(&f[54..]);
            let mut sum: u64 = words.iter().map(|&w| u64::from(w)).sum();
            while sum >> 16 != 0 {
                sum = (sum & 0xffff) + (sum >> 16);
            }
            assert_eq!(sum, 0xffff, "{address} router={router}");
            assert_ne!(&f[56..58], &[0, 0], "a checksum was written");
        }
    }

    /// A hand-computed example, so the sum is checked against more than itself: RFC 1071's
    /// words 0001 f203 f4f5 f6f7 sum to 2ddf0, folded ddf2, complemented 220d.
    #[test]
    fn the_sum_folds_carries_as_rfc_1071_shows() {
        let bytes = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(sum16(&bytes), 0x2ddf0);
        assert_eq!(fold(sum16(&bytes)), 0xddf2);
        assert_eq!(!fold(sum16(&bytes)), 0x220d);
    }
}
