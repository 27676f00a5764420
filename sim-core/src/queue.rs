//! The event queue: a 4-ary min-heap of 16-byte keys ordered by (time, sequence number),
//! over a slab of event payloads.
//!
//! The sequence number is assigned at push and never repeats, so the order is total: two
//! events at the same instant run in the order they were scheduled, and nothing depends on
//! the heap's internals. A key packs `time << 64 | seq << 24 | slot` into one `u128`, so a
//! comparison is one integer compare and four children share a cache line; the heap is
//! half as deep as a binary one. Payload slots are reused through a free list.
//!
//! Bounds (TigerBeetle's "put a limit on everything"): at most 2^24 (16.7 million) events
//! pending at once and 2^40 (about 10^12) events scheduled in one run. Past either,
//! [`EventQueue::push`] refuses and the simulation ends with `EndReason::QueueFull`.

use crate::time::Time;

const SLOT_BITS: u32 = 24;
const SEQ_BITS: u32 = 40;
/// Most events pending at once.
pub const MAX_PENDING: usize = 1 << SLOT_BITS;
/// Most events scheduled in one run.
pub const MAX_SCHEDULED: u64 = 1 << SEQ_BITS;

/// The queue is full (see the module docs for the bounds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueFull;

pub(crate) struct EventQueue<E> {
    heap: Vec<u128>,
    slab: Vec<Option<E>>,
    free: Vec<u32>,
    next_seq: u64,
}

#[inline]
fn key_time(k: u128) -> Time {
    Time::from_nanos((k >> 64) as u64)
}

#[inline]
fn key_slot(k: u128) -> usize {
    (k as u64 & ((1 << SLOT_BITS) - 1)) as usize
}

/// The position and value of the smallest of 1 to 4 keys: a two-round tournament when
/// there are four, so the common case is three compares without a loop.
#[inline(always)]
fn smallest(c: &[u128]) -> (usize, u128) {
    if let [a, b, x, y] = *c {
        let (l, li) = if b < a { (b, 1) } else { (a, 0) };
        let (r, ri) = if y < x { (y, 3) } else { (x, 2) };
        return if r < l { (ri, r) } else { (li, l) };
    }
    let mut best = (0, c[0]);
    for (i, &k) in c.iter().enumerate().skip(1) {
        if k < best.1 {
            best = (i, k);
        }
    }
    best
}

impl<E> EventQueue<E> {
    pub(crate) fn new() -> Self {
        EventQueue {
            heap: Vec::new(),
            slab: Vec::new(),
            free: Vec::new(),
            next_seq: 0,
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, time: Time, event: E) -> Result<(), QueueFull> {
        if self.next_seq >= MAX_SCHEDULED {
            return Err(QueueFull);
        }
        let slot = match self.free.pop() {
            Some(s) => {
                self.slab[s as usize] = Some(event);
                s
            }
            None => {
                if self.slab.len() >= MAX_PENDING {
                    return Err(QueueFull);
                }
                self.slab.push(Some(event));
                (self.slab.len() - 1) as u32
            }
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        let key =
            (u128::from(time.as_nanos()) << 64) | u128::from(seq << SLOT_BITS | u64::from(slot));
        self.sift_up(key);
        Ok(())
    }

    #[inline]
    fn sift_up(&mut self, key: u128) {
        let heap = &mut self.heap;
        let mut i = heap.len();
        heap.push(key);
        while i > 0 {
            let parent = (i - 1) / 4;
            let p = heap[parent];
            if p <= key {
                break;
            }
            heap[i] = p;
            i = parent;
        }
        heap[i] = key;
    }

    #[inline]
    pub(crate) fn peek_time(&self) -> Option<Time> {
        self.heap.first().map(|&k| key_time(k))
    }

    #[inline]
    pub(crate) fn pop(&mut self) -> Option<(Time, E)> {
        let top = *self.heap.first()?;
        let last = self.heap.pop().expect("non-empty");
        let n = self.heap.len();
        if n > 0 {
            // Floyd's trick: walk the hole from the root to a leaf along the smallest
            // children without comparing against `last` (which almost always belongs near
            // the bottom), then sift `last` up from there.
            let heap = &mut self.heap;
            let mut i = 0;
            loop {
                let first = 4 * i + 1;
                if first >= n {
                    break;
                }
                let (best, best_key) = smallest(&heap[first..(first + 4).min(n)]);
                heap[i] = best_key;
                i = first + best;
            }
            while i > 0 {
                let parent = (i - 1) / 4;
                let p = heap[parent];
                if p <= last {
                    break;
                }
                heap[i] = p;
                i = parent;
            }
            heap[i] = last;
        }
        let slot = key_slot(top);
        let event = self.slab[slot].take().expect("queued slot holds an event");
        self.free.push(slot as u32);
        Some((key_time(top), event))
    }

    /// The payload of the next event, if any.
    #[inline]
    pub(crate) fn peek(&self) -> Option<&E> {
        self.heap
            .first()
            .and_then(|&k| self.slab[key_slot(k)].as_ref())
    }

    /// Asks the CPU to start loading the payload of the event most likely to come after the
    /// next one (the smallest child of the root). A hint only: it changes no result.
    #[inline]
    pub(crate) fn prefetch_second(&self) {
        let n = self.heap.len();
        if n > 1 {
            let (_, k) = smallest(&self.heap[1..n.min(5)]);
            crate::prefetch::prefetch_all(&self.slab[key_slot(k)]);
        }
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
        for (time, e) in [(5, "b"), (1, "a"), (5, "c"), (9, "e"), (5, "d")] {
            q.push(t(time), e).unwrap();
        }
        let order: Vec<_> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, ["a", "b", "c", "d", "e"]);
        assert_eq!(q.len(), 0);
    }

    proptest::proptest! {
        #[test]
        fn pops_sorted_by_time_then_insertion(ops in proptest::collection::vec((0u64..50, proptest::bool::ANY), 0..300)) {
            // Interleave pushes and pops; compare with a sorted reference.
            let mut q = EventQueue::new();
            let mut reference: Vec<(u64, usize)> = Vec::new();
            for (i, &(tm, pop)) in ops.iter().enumerate() {
                if pop {
                    reference.sort();
                    let want = if reference.is_empty() { None } else { Some(reference.remove(0)) };
                    let got = q.pop().map(|(t, e)| (t.as_nanos(), e));
                    proptest::prop_assert_eq!(got, want);
                } else {
                    q.push(Time::from_nanos(tm), i).unwrap();
                    reference.push((tm, i));
                }
            }
            reference.sort();
            let rest: Vec<(u64, usize)> = std::iter::from_fn(|| q.pop().map(|(t, i)| (t.as_nanos(), i))).collect();
            proptest::prop_assert_eq!(rest, reference);
        }
    }
}
