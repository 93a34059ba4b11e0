//! The simulated network: per-link randomness, partitions and interfaces.

use crate::fault::Impairment;
use crate::rng;
use crate::scenario::Segment;
use crate::topology::Party;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

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
            rng: rng::fork(
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

    /// Draws a datagram's fate on segment `seg` with `impairment` in force. The generator is
    /// touched only for non-zero settings.
    pub fn fate(&mut self, seg: &Segment, impairment: &Impairment, interval: u64) -> Fate {
        let all = impairment.and(Impairment {
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
