//! The event queue: earliest time first, and among equal times the one queued first, so a run
//! never depends on how a heap happens to break ties.
//!
//! The heap holds only keys — time, sequence number and slab slot packed into one `u128` that
//! compares in two instructions; events wait in a slab and are moved once in and once out.
//! Sifting such keys instead of whole events is much of what keeps an hour of heartbeats
//! within the simulator's time budget.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// A time-ordered queue of `T`, first-in first-out among equal times.
pub struct EventQueue<T> {
    heap: BinaryHeap<Reverse<u128>>,
    slab: Vec<Option<T>>,
    free: Vec<u32>,
    seq: u64,
}

impl<T> Default for EventQueue<T> {
    fn default() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            slab: Vec::new(),
            free: Vec::new(),
            seq: 0,
        }
    }
}

impl<T> EventQueue<T> {
    /// Queues `event` at time `at`.
    pub fn push(&mut self, at: u64, event: T) {
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slab[slot as usize] = Some(event);
                slot
            }
            None => {
                self.slab.push(Some(event));
                u32::try_from(self.slab.len() - 1).expect("fewer than 2^32 queued events")
            }
        };
        self.seq += 1;
        assert!(self.seq < 1 << 32, "at most 2^32 events in one run");
        let key = u128::from(at) << 64 | u128::from(self.seq) << 32 | u128::from(slot);
        self.heap.push(Reverse(key));
    }

    /// The earliest event and its time.
    pub fn pop(&mut self) -> Option<(u64, T)> {
        let Reverse(key) = self.heap.pop()?;
        let (at, slot) = ((key >> 64) as u64, key as u32);
        self.free.push(slot);
        let event = self.slab[slot as usize]
            .take()
            .expect("a queued slot holds its event");
        Some((at, event))
    }
}

#[cfg(test)]
mod tests {
    use super::EventQueue;

    #[test]
    fn earliest_first_and_fifo_among_equal_times() {
        let mut q = EventQueue::default();
        for (at, name) in [(5, "e"), (1, "a"), (3, "c"), (1, "b"), (3, "d")] {
            q.push(at, name);
        }
        let mut order = Vec::new();
        while let Some((at, name)) = q.pop() {
            order.push((at, name));
            if name == "a" {
                q.push(1, "b2"); // queued later than "b" at the same time: runs after it
            }
        }
        assert_eq!(
            order,
            [(1, "a"), (1, "b"), (1, "b2"), (3, "c"), (3, "d"), (5, "e")]
        );
    }
}
