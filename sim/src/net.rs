//! The simulated network: addresses, per-link randomness, partitions and interfaces.

use crate::scenario::{Party, Segment};
use rand::Rng;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The UDP port every simulated node uses.
pub const PORT: u16 = 1694;

/// Address of node `node` on segment `segment`: documentation ranges only.
pub fn address(segment: usize, node: usize) -> SocketAddr {
    let ip = match segment {
        0 => Ipv4Addr::new(192, 0, 2, 10 + node as u8),
        s => Ipv4Addr::new(198, 51, 100, 10 + 40 * (s as u8 - 1) + node as u8),
    };
    SocketAddr::new(IpAddr::V4(ip), PORT)
}

/// The node and segment behind an address, if any.
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

/// Derives an independent generator for one purpose from the run's seed, so adding a node or
/// a link never shifts the random numbers another one sees.
pub fn fork(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut z = seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    ChaCha8Rng::seed_from_u64(z ^ (z >> 31))
}

/// Extra trouble on a segment while `degrade` faults are in force: more loss, duplication and
/// reordering, and a latency spike.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Impairment {
    /// Probability a datagram is lost.
    pub loss: f64,
    /// Probability a datagram is delivered twice.
    pub duplicate: f64,
    /// Probability a datagram is held back (by up to an interval).
    pub reorder: f64,
    /// Extra latency, nanoseconds.
    pub delay: u64,
}

impl Impairment {
    /// Whether it changes nothing.
    pub fn is_none(&self) -> bool {
        *self == Impairment::default()
    }

    /// Two impairments at once: independent chances, added delays.
    pub fn and(self, other: Impairment) -> Impairment {
        let either = |a: f64, b: f64| 1.0 - (1.0 - a) * (1.0 - b);
        Impairment {
            loss: either(self.loss, other.loss),
            duplicate: either(self.duplicate, other.duplicate),
            reorder: either(self.reorder, other.reorder),
            delay: self.delay + other.delay,
        }
    }
}

/// What happens to one datagram on a link.
pub enum Fate {
    /// Lost.
    Lost,
    /// Delivered after these delays (two when duplicated).
    Delivered(u64, Option<u64>),
}

/// A directed link's random behaviour.
pub struct Link {
    rng: ChaCha8Rng,
}

impl Link {
    /// The link from `from` to `to` on `segment`.
    pub fn new(seed: u64, segment: usize, from: usize, to: usize) -> Link {
        Link {
            rng: fork(
                seed,
                1 + ((segment as u64) << 32 | (from as u64) << 16 | to as u64),
            ),
        }
    }

    fn delay(&mut self, seg: &Segment, reorder: f64, extra: u64, interval: u64) -> u64 {
        let mut d = seg.latency.as_nanos() as u64 + extra;
        let jitter = seg.jitter.as_nanos() as u64;
        if jitter > 0 {
            d += self.rng.random_range(0..=jitter);
        }
        if reorder > 0.0 && self.rng.random_bool(reorder) {
            d += self.rng.random_range(0..=interval);
        }
        d
    }

    /// Draws a datagram's fate on segment `seg` with `trouble` in force. The generator is
    /// touched only for non-zero settings, so a quiet network costs nothing.
    #[inline]
    pub fn fate(&mut self, seg: &Segment, trouble: &Impairment, interval: u64) -> Fate {
        if trouble.is_none() && seg.is_quiet() {
            return Fate::Delivered(seg.latency.as_nanos() as u64, None);
        }
        let all = trouble.and(Impairment {
            loss: seg.loss,
            duplicate: seg.duplicate,
            reorder: seg.reorder,
            delay: 0,
        });
        if all.loss > 0.0 && self.rng.random_bool(all.loss) {
            return Fate::Lost;
        }
        let first = self.delay(seg, all.reorder, all.delay, interval);
        let duplicated = all.duplicate > 0.0 && self.rng.random_bool(all.duplicate);
        let second = duplicated.then(|| self.delay(seg, all.reorder, all.delay, interval));
        Fate::Delivered(first, second)
    }
}

/// One direction of a partition in force.
struct Cut {
    /// The fault that made it.
    id: usize,
    /// Its segment, or every segment.
    segment: Option<usize>,
    from: Vec<Party>,
    to: Vec<Party>,
}

/// Partitions and interface states in force.
#[derive(Default)]
pub struct Cuts {
    partitions: Vec<Cut>,
    /// (node, segment) interfaces down, with a count so overlapping faults nest.
    down: Vec<((usize, usize), u32)>,
}

impl Cuts {
    /// Starts partition `id`.
    pub fn partition(
        &mut self,
        id: usize,
        segment: Option<usize>,
        a: &[Party],
        b: &[Party],
        oneway: bool,
    ) {
        self.partitions.push(Cut {
            id,
            segment,
            from: a.to_vec(),
            to: b.to_vec(),
        });
        if !oneway {
            self.partitions.push(Cut {
                id,
                segment,
                from: b.to_vec(),
                to: a.to_vec(),
            });
        }
    }

    /// Ends partition `id`.
    pub fn heal(&mut self, id: usize) {
        self.partitions.retain(|p| p.id != id);
    }

    /// Takes an interface down (`up = false`) or brings it back.
    pub fn set_link(&mut self, node: usize, segment: usize, up: bool) {
        match self.down.iter().position(|(k, _)| *k == (node, segment)) {
            Some(i) if up => {
                self.down[i].1 -= 1;
                if self.down[i].1 == 0 {
                    self.down.remove(i);
                }
            }
            Some(i) => self.down[i].1 += 1,
            None if !up => self.down.push(((node, segment), 1)),
            None => {}
        }
    }

    /// Whether `node`'s interface on `segment` is up.
    pub fn link_up(&self, node: usize, segment: usize) -> bool {
        !self.down.iter().any(|(k, _)| *k == (node, segment))
    }

    /// Whether traffic from `from` reaches `to` on `segment`.
    pub fn passes(&self, segment: usize, from: Party, to: Party) -> bool {
        let up = |p: Party| match p {
            Party::Node(n) => self.link_up(n, segment),
            Party::Client => true,
        };
        up(from)
            && up(to)
            && !self.partitions.iter().any(|c| {
                c.segment.is_none_or(|s| s == segment)
                    && c.from.contains(&from)
                    && c.to.contains(&to)
            })
    }
}
