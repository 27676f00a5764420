//! The event queue: a binary heap of small keys ordered by (time, sequence number) over a
//! slab of event payloads.
//!
//! The sequence number is assigned at push and never repeats, so the order is total: two
//! events at the same instant run in the order they were scheduled, and nothing depends on
//! the heap's internals. Keys are 24 bytes, so sifting moves little memory however large
//! the messages are; payload slots are reused through a free list.

use crate::time::Time;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

#[derive(Clone, Copy, PartialEq, Eq)]
struct Key {
    time: u64,
    seq: u64,
    slot: u32,
}

impl Ord for Key {
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap and we want the earliest first.
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

impl PartialOrd for Key {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

pub(crate) struct EventQueue<E> {
    heap: BinaryHeap<Key>,
    slab: Vec<Option<E>>,
    free: Vec<u32>,
    next_seq: u64,
}

impl<E> EventQueue<E> {
    pub(crate) fn new() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            slab: Vec::new(),
            free: Vec::new(),
            next_seq: 0,
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, time: Time, event: E) {
        let slot = match self.free.pop() {
            Some(s) => {
                self.slab[s as usize] = Some(event);
                s
            }
            None => {
                self.slab.push(Some(event));
                u32::try_from(self.slab.len() - 1).expect("more than 4 billion pending events")
            }
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Key {
            time: time.as_nanos(),
            seq,
            slot,
        });
    }

    #[inline]
    pub(crate) fn peek_time(&self) -> Option<Time> {
        self.heap.peek().map(|k| Time::from_nanos(k.time))
    }

    #[inline]
    pub(crate) fn pop(&mut self) -> Option<(Time, E)> {
        let key = self.heap.pop()?;
        let event = self.slab[key.slot as usize].take().expect("queued slot holds an event");
        self.free.push(key.slot);
        Some((Time::from_nanos(key.time), event))
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    /// Every pending event, in slab order (deterministic), for in-place marking.
    pub(crate) fn pending_mut(&mut self) -> impl Iterator<Item = &mut E> {
        self.slab.iter_mut().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_then_fifo() {
        let mut q = EventQueue::new();
        let t = Time::from_nanos;
        q.push(t(5), "b");
        q.push(t(1), "a");
        q.push(t(5), "c");
        q.push(t(9), "e");
        q.push(t(5), "d");
        let order: Vec<_> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, ["a", "b", "c", "d", "e"]);
        assert_eq!(q.len(), 0);
    }

    proptest::proptest! {
        #[test]
        fn pops_sorted_by_time_then_insertion(times in proptest::collection::vec(0u64..50, 0..200)) {
            let mut q = EventQueue::new();
            for (i, &tm) in times.iter().enumerate() {
                q.push(Time::from_nanos(tm), i);
            }
            let mut expected: Vec<(u64, usize)> = times.iter().copied().zip(0..).collect();
            expected.sort();
            let got: Vec<(u64, usize)> = std::iter::from_fn(|| q.pop().map(|(t, i)| (t.as_nanos(), i))).collect();
            proptest::prop_assert_eq!(got, expected);
        }
    }
}
