//! The event queue: a timing wheel for the near future, a 4-ary heap for the far future,
//! both over 16-byte keys ordered by (time, sequence number) and a slab of event payloads.
//!
//! The sequence number is assigned at push and never repeats, so the order is total: two
//! events at the same instant run in the order they were scheduled, and nothing depends on
//! the queue's internals. A key packs `time << 64 | seq << 24 | slot` into one `u128`, so a
//! comparison is one integer compare. Payload slots are reused through a free list.
//!
//! Virtual time never goes backwards and most events land within a few hundred
//! milliseconds of now, so the queue is built for that (issue #17):
//!
//! - **the top and the front**: the smallest pending key (`top`), then the other keys of
//!   the current bucket (a span of [`BUCKET_NANOS`] of virtual time), sorted, popped from
//!   a moving head. A bucket is sorted once, when it becomes current (a bucket of one key
//!   just becomes `top`); a push into it (rare: a zero-latency event) is a binary-search
//!   insert, and a push that is the latest of its instant (the common case, since its
//!   sequence number is the largest) is an append.
//! - **the wheel**: [`WHEEL_BUCKETS`] buckets of unsorted keys for the next
//!   `WHEEL_BUCKETS * BUCKET_NANOS` (537 ms) after the current bucket; a bucket's first
//!   key sits in a dense array and the others in a vector of its own, so a push is a
//!   store or a `Vec::push`, and a bitmap finds the next non-empty bucket. (537 ms, not
//!   268: the kv clients' 500 ms deadlines and Raft's 150-300 ms election timers then
//!   land in the wheel, not in the overflow's heap, which they left again by a heap pop
//!   each.)
//! - **the overflow**: a 4-ary min-heap of keys beyond the wheel's horizon (long timers,
//!   scheduled faults); they move into the wheel as its horizon reaches them, each once.
//!
//! `top` is smaller than every key in the front, every key in the front smaller than
//! every key in the wheel, and every key in the wheel smaller than every key in the
//! overflow, so the smallest key is always `top`: the queue pops in exactly the (time,
//! seq) order of a plain heap of the same keys (a property test drives both with random
//! schedules and compares every pop). A push of an instant before the current bucket (the
//! API allows scheduling in the past) goes into the front, or becomes `top` when it is
//! smaller, exactly where it would sort in a heap.
//!
//! Bounds (TigerBeetle's "put a limit on everything"): at most 2^24 (16.7 million) events
//! pending at once and 2^40 (about 10^12) events scheduled in one run. Past either,
//! [`EventQueue::push`] refuses and the simulation ends with `EndReason::QueueFull`.

use crate::time::Time;
use std::cell::Cell;
use std::mem::ManuallyDrop;

const SLOT_BITS: u32 = 24;
const SEQ_BITS: u32 = 40;
/// Most events pending at once.
pub const MAX_PENDING: usize = 1 << SLOT_BITS;
/// Most events scheduled in one run.
pub const MAX_SCHEDULED: u64 = 1 << SEQ_BITS;

/// log2 of a bucket's span in nanoseconds.
const BUCKET_SHIFT: u32 = 16;
/// The span of virtual time one wheel bucket covers (65.5 microseconds).
pub const BUCKET_NANOS: u64 = 1 << BUCKET_SHIFT;
const WHEEL_BITS: u32 = 13;
/// How many buckets the wheel has; with [`BUCKET_NANOS`], a horizon of 537 ms.
pub const WHEEL_BUCKETS: usize = 1 << WHEEL_BITS;
const WHEEL_MASK: u64 = WHEEL_BUCKETS as u64 - 1;
const WORDS: usize = WHEEL_BUCKETS / 64;
/// A bucket buffer of at most this many keys is small: emptied, it goes to the pool of
/// small buffers (`small`), and a larger one replaces it when it outgrows it.
const SMALL_BUCKET: usize = 16;

/// The queue is full (see the module docs for the bounds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueFull;

pub(crate) struct EventQueue<E> {
    /// The smallest pending key, when `len > 0`: the next to pop, kept out of the front
    /// so that a bucket of one key (most of a small cluster's) is made current by one
    /// store here, and popped without touching the front's buffer.
    top: u128,
    /// The current bucket's other keys, ascending, all above `top`; `front[head..]` are
    /// pending.
    front: Vec<u128>,
    head: usize,
    /// The current bucket: every key in the front has a bucket number at most this.
    cur: u64,
    /// Buckets `cur + 1 ..= cur + WHEEL_BUCKETS - 1`, at `bucket & WHEEL_MASK`, unsorted:
    /// a bucket's first key is in `firsts`, the others (if any) in `wheel`. Most buckets
    /// of a small cluster hold one key, so a push and a refill touch only the dense
    /// `firsts` (four keys to a cache line, neighbouring buckets side by side), not a
    /// vector's header and its separate buffer.
    /// (Arrays of the wheel's size, so a masked bucket index needs no bounds check.)
    /// (Both `ManuallyDrop` so that [`Drop`] can hand them to the next queue: see
    /// [`Buffers`]. Dereferencing one costs nothing.)
    firsts: ManuallyDrop<Box<[u128; WHEEL_BUCKETS]>>,
    wheel: ManuallyDrop<Box<[Vec<u128>; WHEEL_BUCKETS]>>,
    /// Bit `i` set when bucket `i` is non-empty (`firsts[i]` holds a key).
    occupied: [u64; WORDS],
    /// Bit `i` set when bucket `i` holds more than one key (`wheel[i]` is non-empty).
    multi: [u64; WORDS],
    /// Emptied large bucket buffers, kept for the next bucket that outgrows its small
    /// one: only occupied buckets hold large buffers, however many buckets a run passes.
    spare: Vec<Vec<u128>>,
    /// Emptied small bucket buffers (at most [`SMALL_BUCKET`] keys), for the next bucket
    /// that gets a second key: so a run allocates only as many as are in use at once,
    /// not one for each of the wheel's buckets that ever held two keys (which were then
    /// all freed with the queue: about 1,400 frees at the end of each Raft bench seed).
    small: Vec<Vec<u128>>,
    /// Keys of bucket `cur + WHEEL_BUCKETS` and later.
    overflow: KeyHeap,
    /// The first current bucket at which the overflow's smallest key is within the
    /// wheel's horizon (`u64::MAX` when the overflow is empty): below it,
    /// [`Self::pull_overflow`] would find nothing to move, so a refill does not call it.
    /// (The nemesis's faults wait in the overflow for most of a run, so it is rarely
    /// empty: without this, nearly every refill called it to peek and stop.)
    pull_at: u64,
    len: usize,
    slab: Vec<Option<E>>,
    /// Free slots, a stack (the last freed is reused first); its top is `free_top` when
    /// that is not [`NO_SLOT`], the rest in `free`. A delivery frees its slot and its
    /// handler's send takes it again, so the top is kept out of the vector.
    free_top: u32,
    free: Vec<u32>,
    next_seq: u64,
}

/// No slot: `free_top` when the stack's top is in `free` (or the stack is empty).
const NO_SLOT: u32 = u32::MAX;

#[inline]
fn key_time(k: u128) -> Time {
    Time::from_nanos((k >> 64) as u64)
}

#[inline]
fn key_slot(k: u128) -> usize {
    (k as u64 & ((1 << SLOT_BITS) - 1)) as usize
}

#[inline]
fn key_bucket(k: u128) -> u64 {
    (k >> (64 + BUCKET_SHIFT)) as u64
}

/// The first current bucket whose horizon reaches bucket `b` (a bucket of the overflow,
/// so `b >= WHEEL_BUCKETS`): [`EventQueue::pull_overflow`] moves a key of bucket `b`
/// once `b < cur + WHEEL_BUCKETS`.
#[inline]
fn pull_bucket(b: u64) -> u64 {
    b - (WHEEL_BUCKETS as u64 - 1)
}

/// The buffers of a dropped queue that do not depend on its event type, emptied: the
/// next queue built on the same thread starts from them instead of allocating and
/// initialising its own (a sweep builds a simulation a seed: the wheel's two arrays are
/// 320 KiB, and writing them afresh, then walking all 8,192 buckets to free them, was
/// about 170,000 instructions and as many bytes of cache a seed). Only capacity carries
/// over, never a key: every bucket is empty, so a queue built from them behaves exactly
/// as a new one (a property test compares both with the plain heap). A thread that has
/// built a queue keeps one set (about 330 KiB) until it exits; two queues alive at once
/// on a thread just mean the second builds its own.
struct Buffers {
    /// Its keys are stale, but a key is read only where `occupied` says it is set.
    firsts: Box<[u128; WHEEL_BUCKETS]>,
    /// Every bucket empty (and without a buffer: those went to `small` and `spare`).
    wheel: Box<[Vec<u128>; WHEEL_BUCKETS]>,
    front: Vec<u128>,
    spare: Vec<Vec<u128>>,
    small: Vec<Vec<u128>>,
    overflow: Vec<u128>,
    free: Vec<u32>,
}

thread_local! {
    /// The last dropped queue's [`Buffers`], for the next [`EventQueue::new`] on this thread.
    static RECYCLED: Cell<Option<Box<Buffers>>> = const { Cell::new(None) };
}

impl Buffers {
    fn new() -> Buffers {
        Buffers {
            firsts: vec![0; WHEEL_BUCKETS]
                .into_boxed_slice()
                .try_into()
                .expect("WHEEL_BUCKETS keys"),
            wheel: (0..WHEEL_BUCKETS)
                .map(|_| Vec::new())
                .collect::<Box<[_]>>()
                .try_into()
                .expect("WHEEL_BUCKETS buckets"),
            front: Vec::new(),
            spare: Vec::new(),
            small: Vec::new(),
            overflow: Vec::new(),
            free: Vec::new(),
        }
    }

    /// A dropped queue's buffers, or new ones.
    fn take() -> Box<Buffers> {
        RECYCLED
            .try_with(Cell::take)
            .ok()
            .flatten()
            .unwrap_or_else(|| Box::new(Buffers::new()))
    }
}

impl<E> Drop for EventQueue<E> {
    /// Empties the queue's wheel, front, overflow and free list (keeping their buffers)
    /// and leaves them for the next queue on this thread. The slab's events drop as usual.
    fn drop(&mut self) {
        // Both still hold their arrays (nothing else takes them).
        debug_assert!(self.firsts.len() == WHEEL_BUCKETS && self.wheel.len() == WHEEL_BUCKETS);
        // SAFETY: `drop` is the last use of the queue: both are taken once, here, and
        // never read again (only the slab and the plain fields are dropped after, and
        // `ManuallyDrop` fields are not dropped at all).
        let (firsts, mut wheel) = unsafe {
            (
                ManuallyDrop::take(&mut self.firsts),
                ManuallyDrop::take(&mut self.wheel),
            )
        };
        let mut small = std::mem::take(&mut self.small);
        let mut spare = std::mem::take(&mut self.spare);
        // Only a bucket of several keys holds a buffer (an emptied one gives it up).
        for (w, &word) in self.multi.iter().enumerate() {
            let mut word = word;
            while word != 0 {
                let i = w * 64 + word.trailing_zeros() as usize;
                word &= word - 1;
                let mut v = std::mem::take(&mut wheel[i]);
                v.clear();
                if v.capacity() > SMALL_BUCKET {
                    spare.push(v);
                } else {
                    small.push(v);
                }
            }
        }
        debug_assert!(
            wheel.iter().all(|v| v.capacity() == 0),
            "only buckets of several keys hold buffers"
        );
        let mut b = Box::new(Buffers {
            firsts,
            wheel,
            front: std::mem::take(&mut self.front),
            spare,
            small,
            overflow: std::mem::take(&mut self.overflow.heap),
            free: std::mem::take(&mut self.free),
        });
        b.front.clear();
        b.overflow.clear();
        b.free.clear();
        // (At thread exit the slot may be gone: the buffers are then just freed.)
        let _ = RECYCLED.try_with(|c| c.set(Some(b)));
    }
}

impl<E> EventQueue<E> {
    /// An empty queue, on the buffers of the last queue dropped on this thread when there
    /// is one ([`Buffers`]).
    pub(crate) fn new() -> Self {
        let b = *Buffers::take();
        EventQueue {
            top: 0,
            front: b.front,
            head: 0,
            cur: 0,
            firsts: ManuallyDrop::new(b.firsts),
            wheel: ManuallyDrop::new(b.wheel),
            occupied: [0; WORDS],
            multi: [0; WORDS],
            spare: b.spare,
            small: b.small,
            overflow: KeyHeap { heap: b.overflow },
            pull_at: u64::MAX,
            len: 0,
            slab: Vec::new(),
            free_top: NO_SLOT,
            free: b.free,
            next_seq: 0,
        }
    }

    #[inline(always)]
    pub(crate) fn push(&mut self, time: Time, event: E) -> Result<(), QueueFull> {
        self.push_with(time, || event)
    }

    /// Pushes the event `make` builds, built straight into its slot once the slot is
    /// reserved (the send path: building the event first and moving it in copied it
    /// through temporaries, whose wide reads stalled on the narrow writes just before).
    /// `make` is not called when the queue is full.
    #[inline(always)]
    pub(crate) fn push_with(
        &mut self,
        time: Time,
        make: impl FnOnce() -> E,
    ) -> Result<(), QueueFull> {
        if self.next_seq >= MAX_SCHEDULED {
            return Err(QueueFull);
        }
        let slot = if self.free_top != NO_SLOT {
            std::mem::replace(&mut self.free_top, NO_SLOT)
        } else {
            match self.free.pop() {
                Some(s) => s,
                None => {
                    if self.slab.len() >= MAX_PENDING {
                        return Err(QueueFull);
                    }
                    self.slab.push(None);
                    (self.slab.len() - 1) as u32
                }
            }
        };
        debug_assert!((slot as usize) < self.slab.len());
        // SAFETY: a free slot (the free list holds only slots of the slab, which never
        // shrinks) or the one just pushed.
        let cell = unsafe { self.slab.get_unchecked_mut(slot as usize) };
        debug_assert!(cell.is_none(), "a free slot is empty");
        // SAFETY: `cell` is a valid, initialised slot holding `None` (every slot on the
        // free list was emptied by `take` or `take_part`, and a new one is pushed as
        // `None`), which needs no drop: writing over it forgets nothing.
        unsafe { std::ptr::write(cell, Some(make())) };
        let seq = self.next_seq;
        self.next_seq += 1;
        let key =
            (u128::from(time.as_nanos()) << 64) | u128::from(seq << SLOT_BITS | u64::from(slot));
        self.insert(key);
        Ok(())
    }

    #[inline(always)]
    fn insert(&mut self, key: u128) {
        let bucket = key_bucket(key);
        if self.len == 0 {
            // Nothing pending: the new key's bucket becomes current (never backwards),
            // and the key is the next to pop (the front holds no pending key: emptied
            // here, as a refill would, so popped keys never pile up in it).
            debug_assert!(self.head == self.front.len());
            self.front.clear();
            self.head = 0;
            self.cur = self.cur.max(bucket);
            self.len = 1;
            self.top = key;
            return;
        }
        self.len += 1;
        if bucket <= self.cur {
            self.insert_front(key);
        } else if bucket - self.cur < WHEEL_BUCKETS as u64 {
            self.insert_wheel(bucket, key);
        } else {
            self.overflow.push(key);
            self.pull_at = self.pull_at.min(pull_bucket(bucket));
        }
    }

    #[inline(always)]
    fn insert_wheel(&mut self, bucket: u64, key: u128) {
        let i = (bucket & WHEEL_MASK) as usize;
        let (w, bit) = (i / 64, 1u64 << (i % 64));
        if self.occupied[w] & bit == 0 {
            self.firsts[i] = key;
            self.occupied[w] |= bit;
            return;
        }
        let v = &mut self.wheel[i];
        if v.len() == SMALL_BUCKET {
            // Outgrowing the small buffer: take a large one if there is one.
            if let Some(mut large) = self.spare.pop() {
                large.extend_from_slice(v);
                *v = large;
            }
        } else if v.capacity() == 0 {
            // A second key, and no buffer: an emptied small one if there is one.
            if let Some(small) = self.small.pop() {
                *v = small;
            }
        }
        v.push(key);
        self.multi[w] |= bit;
    }

    /// A key of the current bucket (or before it) while `top` is pending.
    #[inline]
    fn insert_front(&mut self, key: u128) {
        if key < self.top {
            // The new smallest: the old top goes back to the front's first place (a
            // popped place, when there is one, so nothing moves).
            let old = std::mem::replace(&mut self.top, key);
            if self.head > 0 {
                self.head -= 1;
                self.front[self.head] = old;
            } else {
                self.front.insert(0, old);
            }
            return;
        }
        // (A popped key is below `top`: `last` may be one only when none is pending.)
        if self.front.last().is_none_or(|&last| last < key) {
            self.front.push(key);
        } else {
            let pos = self.head + self.front[self.head..].partition_point(|&k| k < key);
            self.front.insert(pos, key);
        }
    }

    /// The front is used up: make the next non-empty bucket current. Out of line, though
    /// nearly every pop of a small cluster calls it (its buckets mostly hold one key):
    /// inlined, its registers spilled the event loop's (pingstorm at N = 5: 488
    /// instructions a delivery against 465). The common case (a one-key bucket, nothing
    /// beyond the horizon) stays in this function and needs few registers; a bucket of
    /// several keys and the overflow are handled out of line.
    ///
    /// Every call it makes is its last act (a tail call), so the common case saves no
    /// registers: a one-key bucket's key becomes `top`, and the front stays empty.
    /// Called with a key pending beyond the front (`len > 0`).
    #[inline(never)]
    fn refill(&mut self) {
        debug_assert_eq!(
            self.pull_at,
            self.overflow
                .peek()
                .map_or(u64::MAX, |k| pull_bucket(key_bucket(k))),
            "pull_at follows the overflow's first key"
        );
        self.front.clear();
        self.head = 0;
        // Every pending key is in the wheel or the overflow (the front is used up and
        // `top` popped), so the wheel is empty when the overflow holds them all.
        if self.len == self.overflow.len() {
            return self.refill_from_overflow();
        }
        let (i, w) = self.next_occupied();
        self.cur += (i as u64).wrapping_sub(self.cur) & WHEEL_MASK;
        let bit = 1u64 << (i % 64);
        let first = self.firsts[i];
        // (Cleared first: `pull_overflow` never fills the current bucket's wheel slot.)
        self.occupied[w] &= !bit;
        if self.multi[w] & bit != 0 {
            return self.refill_bucket(i, w, bit, first);
        }
        // One key (the common case in small clusters): the next to pop.
        self.top = first;
        if self.cur >= self.pull_at {
            self.pull_overflow();
        }
    }

    /// [`Self::refill`] of bucket `i` (bit `bit` of word `w`, first key `first`) when it
    /// holds several keys: all into the front, sorted, the smallest as `top`.
    #[inline(never)]
    fn refill_bucket(&mut self, i: usize, w: usize, bit: u64, first: u128) {
        self.multi[w] &= !bit;
        self.take_bucket(i, first);
        if self.cur >= self.pull_at {
            self.pull_overflow();
        }
        self.top = self.front[0];
        self.head = 1;
    }

    /// [`Self::refill`] of a bucket of several keys (bucket `i`, whose first key is
    /// `first`): all into the front, sorted.
    #[inline(never)]
    fn take_bucket(&mut self, i: usize, first: u128) {
        let slot = &mut self.wheel[i];
        if slot.capacity() <= SMALL_BUCKET {
            // A small bucket: copy its keys, and its little buffer goes to the pool
            // of small ones.
            // Key by key: a few keys (the common case) cost less than a call
            // to memcpy.
            self.front.push(first);
            for &k in slot.iter() {
                self.front.push(k);
            }
            slot.clear();
            self.small.push(std::mem::take(slot));
        } else {
            // A large one hands its buffer over; ours waits for the next bucket
            // that fills, so only occupied buckets hold large buffers.
            let used = std::mem::replace(&mut self.front, std::mem::take(slot));
            self.front.push(first);
            if used.capacity() > SMALL_BUCKET {
                self.spare.push(used);
            } else if used.capacity() > 0 {
                self.small.push(used);
            }
        }
        self.front.sort_unstable();
    }

    /// [`Self::refill`] with the wheel empty: the current bucket jumps to the overflow's
    /// first key (if any), whose keys then come in.
    #[inline(never)]
    fn refill_from_overflow(&mut self) {
        if let Some(k) = self.overflow.peek() {
            self.cur = key_bucket(k);
            self.pull_overflow();
            // The overflow's first key is in the current bucket now: in the front.
            self.top = self.front[0];
            self.head = 1;
        }
    }

    /// The horizon moved: bring overflow keys within it into the wheel (or, when the
    /// wheel was empty and the current bucket jumped to the overflow's first key, into
    /// the front, in ascending order as the heap yields them).
    #[inline(never)]
    fn pull_overflow(&mut self) {
        let horizon = self.cur + WHEEL_BUCKETS as u64;
        while let Some(k) = self.overflow.peek() {
            let bucket = key_bucket(k);
            if bucket >= horizon {
                break;
            }
            self.overflow.pop();
            if bucket == self.cur {
                self.front.push(k);
            } else {
                self.insert_wheel(bucket, k);
            }
        }
        self.pull_at = self
            .overflow
            .peek()
            .map_or(u64::MAX, |k| pull_bucket(key_bucket(k)));
    }

    /// The next non-empty wheel bucket after the current one (1 to `WHEEL_BUCKETS - 1`
    /// buckets on): its index in the wheel and its bitmap word. The wheel must hold a key.
    #[inline]
    fn next_occupied(&self) -> (usize, usize) {
        let start = ((self.cur + 1) & WHEEL_MASK) as usize;
        let (w0, b0) = (start / 64, start % 64);
        let mut word = self.occupied[w0] & (!0u64 << b0);
        let mut w = w0;
        for _ in 0..WORDS {
            if word != 0 {
                // (Masked, though below WHEEL_BUCKETS already: so indexing needs no check.)
                return (
                    (w * 64 + word.trailing_zeros() as usize) & (WHEEL_BUCKETS - 1),
                    w,
                );
            }
            w = (w + 1) % WORDS;
            word = self.occupied[w];
        }
        // Back at the first word: the bits before `start`.
        let word = self.occupied[w0] & ((1u64 << b0) - 1);
        debug_assert!(word != 0, "the wheel holds a key");
        (
            (w0 * 64 + word.trailing_zeros() as usize) & (WHEEL_BUCKETS - 1),
            w0,
        )
    }

    #[inline(always)]
    pub(crate) fn peek_time(&self) -> Option<Time> {
        (self.len != 0).then(|| key_time(self.top))
    }

    /// Pops the next event: [`Self::pop_slot`] then [`Self::take`] (what the tests use;
    /// the engine looks at a delivery in place first).
    #[cfg(test)]
    pub(crate) fn pop(&mut self) -> Option<(Time, E)> {
        let (time, slot) = self.pop_slot()?;
        Some((time, self.take(slot)))
    }

    /// Pops the next key without moving its event: the event stays in its slot until
    /// [`Self::take`] (which must come before the next push), so the caller can look at
    /// it in place and move out only what it needs, once.
    #[inline(always)]
    pub(crate) fn pop_slot(&mut self) -> Option<(Time, u32)> {
        if self.len == 0 {
            return None;
        }
        let top = self.top;
        self.len -= 1;
        if let Some(&next) = self.front.get(self.head) {
            self.top = next;
            self.head += 1;
        } else if self.len != 0 {
            self.refill();
        }
        Some((key_time(top), key_slot(top) as u32))
    }

    /// The event of a slot [`Self::pop_slot`] returned, in place.
    #[inline(always)]
    pub(crate) fn get(&self, slot: u32) -> &E {
        self.slab[slot as usize]
            .as_ref()
            .expect("popped slot holds its event")
    }

    /// [`Self::get`] without the checks.
    ///
    /// # Safety
    /// `slot` was returned by [`Self::pop_slot`] and not taken since (so it is in the
    /// slab and holds its event).
    #[inline(always)]
    pub(crate) unsafe fn get_popped(&self, slot: u32) -> &E {
        debug_assert!(self.slab[slot as usize].is_some());
        // SAFETY: the caller's promise.
        unsafe {
            self.slab
                .get_unchecked(slot as usize)
                .as_ref()
                .unwrap_unchecked()
        }
    }

    /// Moves the event of a slot [`Self::pop_slot`] returned out, freeing the slot.
    #[inline(always)]
    pub(crate) fn take(&mut self, slot: u32) -> E {
        let event = self.slab[slot as usize]
            .take()
            .expect("popped slot holds its event");
        self.free_slot(slot);
        event
    }

    /// Drops the event of a slot [`Self::pop_slot`] returned, in place, freeing the slot.
    #[inline(always)]
    pub(crate) fn discard(&mut self, slot: u32) {
        let cell = &mut self.slab[slot as usize];
        debug_assert!(cell.is_some(), "popped slot holds its event");
        *cell = None;
        self.free_slot(slot);
    }

    /// Puts `slot` on top of the free stack.
    #[inline(always)]
    fn free_slot(&mut self, slot: u32) {
        if self.free_top != NO_SLOT {
            self.free.push(self.free_top);
        }
        self.free_top = slot;
    }

    /// Moves one part out of the event in a slot [`Self::pop_slot`] returned and frees
    /// the slot, forgetting the rest of the event; `None` (slot untouched) if `part`
    /// finds no such part. Moving the part alone lets it be copied in its own layout
    /// (moving the whole event copied it in pieces offset by the event's tag).
    ///
    /// # Safety
    /// Everything in the event besides the part `part` returns must need no drop (plain
    /// data such as integers and flags): it is forgotten, never dropped.
    #[inline(always)]
    pub(crate) unsafe fn take_part<T>(
        &mut self,
        slot: u32,
        part: impl FnOnce(&mut E) -> Option<&mut T>,
    ) -> Option<T> {
        let cell = &mut self.slab[slot as usize];
        let p: *mut T = part(cell.as_mut().expect("popped slot holds its event"))?;
        // SAFETY: `p` points into `cell`'s event, valid and initialised; it is read once,
        // and the event is then overwritten without being dropped, so the part is owned
        // by the value returned alone, and the rest needs no drop (the caller's promise).
        let value = unsafe { std::ptr::read(p) };
        unsafe { std::ptr::write(cell, None) };
        self.free_slot(slot);
        Some(value)
    }

    /// [`Self::take_part`] of a slot known to hold an event with that part: no checks.
    ///
    /// # Safety
    /// As [`Self::take_part`]; besides, `slot` was returned by [`Self::pop_slot`] and not
    /// taken since, and `part` finds its part in the slot's event.
    #[inline(always)]
    pub(crate) unsafe fn take_part_unchecked<T>(
        &mut self,
        slot: u32,
        part: impl FnOnce(&mut E) -> Option<&mut T>,
    ) -> T {
        debug_assert!(self.slab[slot as usize].is_some());
        // SAFETY: a popped slot is in the slab and holds its event (the caller's promise).
        let cell = unsafe { self.slab.get_unchecked_mut(slot as usize) };
        let event = unsafe { cell.as_mut().unwrap_unchecked() };
        let found = part(event);
        debug_assert!(found.is_some(), "the slot's event has the part");
        // SAFETY: the caller's promise; read once, then the event is overwritten without
        // being dropped, as in `take_part`.
        let p: *mut T = unsafe { found.unwrap_unchecked() };
        let value = unsafe { std::ptr::read(p) };
        unsafe { std::ptr::write(cell, None) };
        self.free_slot(slot);
        value
    }

    /// The payload of the next event, if any.
    #[inline]
    pub(crate) fn peek(&self) -> Option<&E> {
        if self.len == 0 {
            return None;
        }
        self.slab[key_slot(self.top)].as_ref()
    }

    /// Asks the CPU to start loading the payload of the event after the next one (when it
    /// is in the current bucket). A hint only: it changes no result.
    #[inline]
    pub(crate) fn prefetch_second(&self) {
        if let Some(&k) = self.front.get(self.head) {
            crate::prefetch::prefetch_all(&self.slab[key_slot(k)]);
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Every pending event, in slab order (deterministic).
    pub(crate) fn pending(&self) -> impl Iterator<Item = &E> {
        self.slab.iter().flatten()
    }

    /// Every pending event, in slab order (deterministic), for in-place marking.
    pub(crate) fn pending_mut(&mut self) -> impl Iterator<Item = &mut E> {
        self.slab.iter_mut().flatten()
    }
}

/// A 4-ary min-heap of keys (the overflow; and, in tests, the reference queue).
#[derive(Default)]
struct KeyHeap {
    heap: Vec<u128>,
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

impl KeyHeap {
    #[inline]
    fn peek(&self) -> Option<u128> {
        self.heap.first().copied()
    }

    #[inline]
    fn len(&self) -> usize {
        self.heap.len()
    }

    fn push(&mut self, key: u128) {
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

    fn pop(&mut self) -> Option<u128> {
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
        Some(top)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The queue before issue #17: one 4-ary heap of the same keys over the same slab.
    /// Kept as the reference the property test compares the wheel against.
    struct HeapQueue<E> {
        heap: KeyHeap,
        slab: Vec<Option<E>>,
        free: Vec<u32>,
        next_seq: u64,
    }

    impl<E> HeapQueue<E> {
        fn new() -> Self {
            HeapQueue {
                heap: KeyHeap::default(),
                slab: Vec::new(),
                free: Vec::new(),
                next_seq: 0,
            }
        }

        fn push(&mut self, time: Time, event: E) {
            let slot = match self.free.pop() {
                Some(s) => {
                    self.slab[s as usize] = Some(event);
                    s
                }
                None => {
                    self.slab.push(Some(event));
                    (self.slab.len() - 1) as u32
                }
            };
            let seq = self.next_seq;
            self.next_seq += 1;
            self.heap.push(
                (u128::from(time.as_nanos()) << 64)
                    | u128::from(seq << SLOT_BITS | u64::from(slot)),
            );
        }

        fn peek_time(&self) -> Option<Time> {
            self.heap.peek().map(key_time)
        }

        fn pop(&mut self) -> Option<(Time, E)> {
            let top = self.heap.pop()?;
            let slot = key_slot(top);
            let event = self.slab[slot].take().expect("queued slot holds an event");
            self.free.push(slot as u32);
            Some((key_time(top), event))
        }
    }

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

    #[test]
    fn far_future_past_the_horizon_and_back_in_the_past() {
        let mut q = EventQueue::new();
        let horizon = BUCKET_NANOS * WHEEL_BUCKETS as u64;
        let t = Time::from_nanos;
        q.push(t(3 * horizon + 7), "far").unwrap();
        q.push(t(u64::MAX), "end of time").unwrap();
        q.push(t(10), "soon").unwrap();
        q.push(t(horizon - 1), "edge").unwrap();
        assert_eq!(q.pop().map(|(_, e)| e), Some("soon"));
        // Scheduling before the last pop is allowed; it comes out next, as from a heap.
        q.push(t(5), "past").unwrap();
        q.push(t(3 * horizon + 7), "far, second").unwrap();
        let order: Vec<_> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, ["past", "edge", "far", "far, second", "end of time"]);
    }

    /// A bucket's first key is kept apart from the rest (`firsts`): a later key that is
    /// smaller, a second and a seventeenth key (past the small buffer), and buckets that
    /// empty and fill again with one key, all pop in key order.
    #[test]
    fn a_buckets_first_key_sorts_with_the_rest() {
        let mut q = EventQueue::new();
        let t = Time::from_nanos;
        let b = BUCKET_NANOS;
        q.push(t(3 * b + 50), 50).unwrap();
        q.push(t(3 * b + 10), 10).unwrap();
        q.push(t(5 * b + 1), 501).unwrap();
        q.push(t(3 * b + 50), 51).unwrap();
        let order: Vec<_> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, [10, 50, 51, 501]);
        // The same buckets again, after a turn of the wheel, one key then many.
        let turn = b * WHEEL_BUCKETS as u64;
        for k in (0..20u64).rev() {
            q.push(t(turn + 3 * b + k), k).unwrap();
            if k == 19 {
                q.push(t(turn + 4 * b), 100).unwrap();
            }
        }
        let order: Vec<_> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        let mut want: Vec<u64> = (0..20).collect();
        want.push(100);
        assert_eq!(order, want);
        assert_eq!(q.len(), 0);
    }

    /// A queue that empties again and again inside one bucket (a chain of zero-delay
    /// events, two at a time) keeps no popped keys: its front holds at most the pending
    /// ones, and `top` always the smallest.
    #[test]
    fn a_queue_that_empties_keeps_no_popped_keys() {
        let mut q = EventQueue::new();
        let t = Time::from_nanos;
        for k in 0..10_000u64 {
            q.push(t(7), 2 * k).unwrap();
            q.push(t(7), 2 * k + 1).unwrap();
            assert!(q.front.len() <= 1, "front holds {} keys", q.front.len());
            assert_eq!(q.pop().map(|(_, e)| e), Some(2 * k));
            assert_eq!(q.pop().map(|(_, e)| e), Some(2 * k + 1));
            assert_eq!(q.pop(), None);
        }
        // A key before `top` (scheduled in the past) becomes the next to pop, in front of
        // a front that has popped places and one that has none.
        q.push(t(100), 1).unwrap();
        q.push(t(100), 2).unwrap();
        q.push(t(100), 3).unwrap();
        assert_eq!(q.pop().map(|(_, e)| e), Some(1));
        q.push(t(50), 0).unwrap();
        q.push(t(40), 10).unwrap();
        let order: Vec<_> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, [10, 0, 2, 3]);
    }

    /// One step of a random schedule.
    #[derive(Clone, Debug)]
    enum Op {
        /// Schedule at `now + delay` (the delay's shape is chosen by `kind`).
        Push {
            kind: u8,
            delay: u64,
        },
        /// Schedule at `now - back` (the API allows the past).
        PushPast {
            back: u64,
        },
        /// Cancel a pending timer and set it again `delay` later. The engine cancels lazily
        /// (the old event stays queued and pops as a no-op), so the queue sees one more
        /// push while the old key stays pending.
        Reset {
            delay: u64,
        },
        Pop,
        /// Schedule `n` events at once, 0-10 ms ahead (buckets outgrow their small
        /// buffers and take spare ones).
        Burst {
            n: u8,
            delay: u64,
        },
        /// Pop up to `n` events.
        Drain {
            n: u8,
        },
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            4 => (0u8..8, any::<u64>()).prop_map(|(kind, delay)| Op::Push { kind, delay }),
            1 => (0u64..1_000_000_000).prop_map(|back| Op::PushPast { back }),
            1 => (0u64..600_000_000).prop_map(|delay| Op::Reset { delay }),
            4 => Just(Op::Pop),
            1 => (any::<u8>(), any::<u64>()).prop_map(|(n, delay)| Op::Burst { n, delay }),
            1 => any::<u8>().prop_map(|n| Op::Drain { n }),
        ]
    }

    /// The time of the `j`-th event of a burst pushed at `now`.
    fn burst_at(now: u64, delay: u64, j: u64) -> u64 {
        now.saturating_add((delay.wrapping_mul(j + 1) >> 7) % 10_000_000)
    }

    /// Runs `ops` on `q` (empty) and on the plain heap, comparing every pop and the slab.
    fn drive(
        mut q: EventQueue<usize>,
        ops: &[Op],
    ) -> Result<(), proptest::test_runner::TestCaseError> {
        let horizon = BUCKET_NANOS * WHEEL_BUCKETS as u64;
        let mut reference = HeapQueue::new();
        let mut now = 0u64;
        let mut pending = 0;
        for (id, op) in ops.iter().enumerate() {
            let at = match *op {
                Op::Push { kind, delay } => Some(now.saturating_add(match kind {
                    0 => 0,                          // the same instant
                    1 => delay % (2 * BUCKET_NANOS), // within a bucket or two
                    2 => delay % 10_000_000,         // 0-10 ms
                    3 => horizon - 2 + delay % 4,    // at the horizon
                    // a whole number of buckets around the horizon, then a little
                    6 => (WHEEL_BUCKETS as u64 - 4 + delay % 8) * BUCKET_NANOS + (delay >> 8) % 4,
                    7 => (delay % 8) * BUCKET_NANOS, // a few buckets ahead
                    4 => delay % (1 << 40),          // up to 18 minutes
                    _ => delay,                      // anywhere, to the end of time
                })),
                Op::PushPast { back } => Some(now.saturating_sub(back)),
                Op::Reset { delay } => Some(now.saturating_add(delay)),
                Op::Pop | Op::Drain { .. } => {
                    let n = if let Op::Drain { n } = *op { n } else { 1 };
                    for _ in 0..n {
                        proptest::prop_assert_eq!(q.peek_time(), reference.peek_time());
                        let got = q.pop();
                        let want = reference.pop();
                        proptest::prop_assert_eq!(got, want);
                        if let Some((t, _)) = got {
                            now = now.max(t.as_nanos());
                            pending -= 1;
                        }
                    }
                    None
                }
                Op::Burst { n, delay } => {
                    for j in 0..u64::from(n) {
                        let at = burst_at(now, delay, j);
                        q.push(Time::from_nanos(at), id).unwrap();
                        reference.push(Time::from_nanos(at), id);
                        pending += 1;
                    }
                    None
                }
            };
            if let Some(at) = at {
                q.push(Time::from_nanos(at), id).unwrap();
                reference.push(Time::from_nanos(at), id);
                pending += 1;
            }
            proptest::prop_assert_eq!(q.len(), pending);
            // The same events in the same slots: slots are reused in the same order
            // (the last freed first), so the slab (which `pending` walks, e.g. for a
            // runaway's diagnosis) is laid out alike.
            proptest::prop_assert!(q.pending().eq(reference.slab.iter().flatten()));
        }
        loop {
            proptest::prop_assert_eq!(q.peek_time(), reference.peek_time());
            let (got, want) = (q.pop(), reference.pop());
            proptest::prop_assert_eq!(got, want);
            if got.is_none() {
                break;
            }
        }
        Ok(())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        /// The wheel pops exactly what the old heap pops, in the same order, for schedules
        /// with bursts at one instant, latencies around a bucket's width, timers around and
        /// far past the wheel's horizon, pushes into the past and lazy cancellations.
        #[test]
        fn pops_exactly_like_the_heap(ops in proptest::collection::vec(op(), 0..600)) {
            drive(EventQueue::new(), &ops)?;
        }

        /// A queue dropped with keys pending everywhere (the front, buckets of one key and
        /// of several, large ones, the overflow) leaves its buffers to the next queue built
        /// on the thread (a sweep's next seed): that queue pops exactly like the heap.
        #[test]
        fn a_queue_on_a_dropped_queues_buffers_pops_like_the_heap(
            first in proptest::collection::vec(op(), 0..600),
            ops in proptest::collection::vec(op(), 0..600),
        ) {
            let mut q = EventQueue::new();
            let mut now = 0u64;
            for (id, op) in first.iter().enumerate() {
                match *op {
                    Op::Pop | Op::Drain { .. } => {
                        if let Some((t, _)) = q.pop() {
                            now = now.max(t.as_nanos());
                        }
                    }
                    Op::Burst { n, delay } => {
                        for j in 0..u64::from(n) {
                            q.push(Time::from_nanos(burst_at(now, delay, j)), id).unwrap();
                        }
                    }
                    Op::Push { delay, .. } | Op::Reset { delay } => {
                        q.push(Time::from_nanos(now.saturating_add(delay % (1 << 31))), id).unwrap();
                    }
                    Op::PushPast { back } => q.push(Time::from_nanos(now.saturating_sub(back)), id).unwrap(),
                }
            }
            drop(q);
            let recycled = RECYCLED.with(|c| {
                let b = c.take();
                let some = b.is_some();
                c.set(b);
                some
            });
            proptest::prop_assert!(recycled, "the dropped queue left its buffers");
            drive(EventQueue::new(), &ops)?;
        }

        /// Many events at few instants, interleaved with pops: ties come out in push order.
        #[test]
        fn ties_pop_in_push_order(ops in proptest::collection::vec((0u64..3, 0u64..50, proptest::bool::ANY), 0..400)) {
            let mut q = EventQueue::new();
            let mut reference = HeapQueue::new();
            let mut now = 0;
            for (i, &(bucket, offset, pop)) in ops.iter().enumerate() {
                if pop {
                    let (got, want) = (q.pop(), reference.pop());
                    proptest::prop_assert_eq!(got, want);
                    if let Some((t, _)) = got {
                        now = t.as_nanos();
                    }
                } else {
                    let at = Time::from_nanos(now + bucket * BUCKET_NANOS + offset % 3);
                    q.push(at, i).unwrap();
                    reference.push(at, i);
                }
            }
            loop {
                let (got, want) = (q.pop(), reference.pop());
                proptest::prop_assert_eq!(got, want);
                if got.is_none() {
                    break;
                }
            }
        }
    }
}
