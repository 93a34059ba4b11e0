//! Where simulated things sit: every node's address on every segment, and the parties a
//! partition separates. Documentation address ranges only.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The UDP port every simulated node uses.
pub const PORT: u16 = 1694;

/// One side of a partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Party {
    /// A node, by index.
    Node(usize),
    /// The simulated client.
    Client,
}

/// Address of node `node` on segment `segment`: 192.0.2.0/24 for the first segment,
/// 198.51.100.0/24 (40 nodes a segment) for the others.
pub fn address(segment: usize, node: usize) -> SocketAddr {
    let ip = match segment {
        0 => Ipv4Addr::new(192, 0, 2, 10 + node as u8),
        s => Ipv4Addr::new(198, 51, 100, 10 + 40 * (s as u8 - 1) + node as u8),
    };
    SocketAddr::new(IpAddr::V4(ip), PORT)
}

/// The (segment, node) behind an address, if any.
pub fn owner_of(addr: SocketAddr, segments: usize) -> Option<(usize, usize)> {
    let IpAddr::V4(ip) = addr.ip() else {
        return None;
    };
    let [a, b, c, d] = ip.octets();
    let (segment, node) = match (a, b, c) {
        (192, 0, 2) => (0, d.checked_sub(10)?),
        (198, 51, 100) => {
            let off = d.checked_sub(10)?;
            (1 + usize::from(off / 40), off % 40)
        }
        _ => return None,
    };
    (segment < segments && addr.port() == PORT).then_some((segment, usize::from(node)))
}
