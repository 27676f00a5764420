//! Seeded randomness, split into named independent streams.
//!
//! Every random choice in a run comes from a [`SimRng`] derived from the run's seed and a
//! stream name (`"net"`, `"nemesis"`, `"node/n3"`, `"client/c1"` ...). Streams are ChaCha8
//! streams of one key, so they never overlap, and a stream's draws depend only on the seed
//! and its own name: adding a node or a fault does not reshuffle anyone else's choices.
//! All arithmetic here is integer (or `libm`, which is bit-identical on every platform).

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// FNV-1a, 64 bit: a stable hash of a stream name (never changes between versions).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// How many draws a [`SimRng`] takes from its ChaCha8 stream at a time: 256 bytes, the
/// four blocks ChaCha8Rng generates at once.
const BATCH: usize = 32;

/// A deterministic random stream. Only the simulation hands these out.
///
/// Its draws are exactly `ChaCha8Rng::next_u64`'s, in order: each is the stream's next two
/// 32-bit words, little-endian. They are taken 32 at a time into `batch` and handed out
/// from there, so a draw is an index compare and a load, inlined into its caller (through
/// `ChaCha8Rng` one draw was an out-of-line call: about 20 of a pingstorm delivery's 480
/// instructions, issue #17).
///
/// `repr(C)`: the index and the batch first, the stream's own state (read only on a
/// refill) after them, so a draw touches the first lines only.
#[derive(Clone)]
#[repr(C)]
pub struct SimRng {
    next: usize,
    /// The next draws: `batch[next..]`.
    batch: [u64; BATCH],
    chacha: ChaCha8Rng,
}

impl fmt::Debug for SimRng {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SimRng(stream {:#x})", self.chacha.get_stream())
    }
}

impl SimRng {
    /// The stream called `name` of the run seeded with `seed`.
    pub fn new(seed: u64, name: &str) -> SimRng {
        let mut state = seed;
        let mut key = [0u8; 32];
        for chunk in key.chunks_exact_mut(8) {
            chunk.copy_from_slice(&splitmix64(&mut state).to_le_bytes());
        }
        let mut chacha = ChaCha8Rng::from_seed(key);
        chacha.set_stream(fnv1a(name.as_bytes()));
        SimRng {
            batch: [0; BATCH],
            next: BATCH,
            chacha,
        }
    }

    #[inline(always)]
    pub fn next_u64(&mut self) -> u64 {
        match self.batch.get(self.next) {
            Some(&x) => {
                self.next += 1;
                x
            }
            None => self.refill(),
        }
    }

    /// Hints the cache lines the next draw reads (the index, the draw itself). Changes
    /// nothing.
    #[inline(always)]
    pub(crate) fn prefetch_next_draw(&self) {
        crate::prefetch::prefetch(&self.next);
        crate::prefetch::prefetch(&self.batch[self.next.min(BATCH - 1)]);
    }

    /// The batch is used up: takes the stream's next 32 draws (as 256 bytes, which are the
    /// same words in the same order as 32 calls of `next_u64` would read) and returns the
    /// first.
    #[cold]
    #[inline(never)]
    fn refill(&mut self) -> u64 {
        // On a little-endian machine the batch's bytes are the draws' little-endian
        // bytes: the stream fills them in place (no zeroed temporary, no conversion
        // pass: about 100 of a refill's 120 instructions outside ChaCha itself).
        #[cfg(target_endian = "little")]
        {
            // SAFETY: `[u64; BATCH]` is `8 * BATCH` initialised bytes with no padding,
            // every byte pattern is a valid `u64`, and the borrow is unique.
            let bytes: &mut [u8; 8 * BATCH] =
                unsafe { &mut *(&mut self.batch as *mut [u64; BATCH]).cast::<[u8; 8 * BATCH]>() };
            self.chacha.fill_bytes(bytes);
        }
        #[cfg(not(target_endian = "little"))]
        {
            let mut bytes = [0u8; 8 * BATCH];
            self.chacha.fill_bytes(&mut bytes);
            for (x, b) in self.batch.iter_mut().zip(bytes.chunks_exact(8)) {
                *x = u64::from_le_bytes(b.try_into().expect("8 bytes"));
            }
        }
        self.next = 1;
        self.batch[0]
    }

    /// Uniform in `0..n` (`n > 0`), by widening multiply. The bias is below 2^-64 * n,
    /// far under anything a simulation can observe, and it costs one draw, always.
    #[inline(always)]
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0, "below(0)");
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    #[inline(always)]
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        debug_assert!(lo <= hi);
        match (hi - lo).checked_add(1) {
            Some(span) => lo + self.below(span),
            None => self.next_u64(),
        }
    }

    /// True with probability `p`. Draws nothing when `p` is 0 or 1.
    #[inline]
    pub fn chance(&mut self, p: Probability) -> bool {
        match p.threshold {
            0 => false,
            u64::MAX if p.value >= 1.0 => true,
            t => self.next_u64() < t,
        }
    }

    /// A float in `[0, 1)` with 53 random bits.
    pub fn unit_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// One element, uniformly, or `None` if empty.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            None
        } else {
            Some(&items[self.below(items.len() as u64) as usize])
        }
    }

    /// Fisher-Yates.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// A probability in `[0, 1]`, kept with its exact 64-bit threshold so a draw is one
/// integer comparison.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Probability {
    value: f64,
    threshold: u64,
}

impl Probability {
    pub const ZERO: Probability = Probability {
        value: 0.0,
        threshold: 0,
    };
    pub const ONE: Probability = Probability {
        value: 1.0,
        threshold: u64::MAX,
    };

    /// Fails, saying why, unless `0 <= p <= 1`.
    pub fn new(p: f64) -> Result<Probability, String> {
        if !(0.0..=1.0).contains(&p) {
            return Err(format!(
                "probability {p} is out of range: expected a number from 0 to 1"
            ));
        }
        let threshold = if p >= 1.0 {
            u64::MAX
        } else {
            (p * 18_446_744_073_709_551_616.0) as u64
        };
        Ok(Probability {
            value: p,
            threshold,
        })
    }

    pub fn value(self) -> f64 {
        self.value
    }

    /// Is this the probability 0 (for which [`SimRng::chance`] draws nothing)?
    #[inline]
    pub fn is_zero(self) -> bool {
        self.threshold == 0
    }
}

impl Default for Probability {
    fn default() -> Self {
        Probability::ZERO
    }
}

impl Serialize for Probability {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.value)
    }
}

impl<'de> Deserialize<'de> for Probability {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Probability, D::Error> {
        let v = f64::deserialize(d)?;
        Probability::new(v).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_independent_and_reproducible() {
        let a1: Vec<u64> = (0..8)
            .map({
                let mut r = SimRng::new(7, "node/n1");
                move |_| r.next_u64()
            })
            .collect();
        let a2: Vec<u64> = (0..8)
            .map({
                let mut r = SimRng::new(7, "node/n1");
                move |_| r.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..8)
            .map({
                let mut r = SimRng::new(7, "node/n2");
                move |_| r.next_u64()
            })
            .collect();
        let c: Vec<u64> = (0..8)
            .map({
                let mut r = SimRng::new(8, "node/n1");
                move |_| r.next_u64()
            })
            .collect();
        assert_eq!(a1, a2);
        assert_ne!(a1, b);
        assert_ne!(a1, c);
    }

    #[test]
    fn stream_values_are_pinned() {
        // If these change, every seed in every bug report replays differently: a change
        // here is a breaking change of the replay format, to be made on purpose only.
        let mut net = SimRng::new(42, "net");
        let mut node = SimRng::new(42, "node/n1");
        let got = [net.next_u64(), net.next_u64(), node.next_u64()];
        assert_eq!(got, PINNED, "got {got:#x?}");
    }

    #[test]
    fn draws_are_chacha8s_next_u64_in_order() {
        // Across many batch boundaries, for several seeds and stream names.
        for (seed, name) in [
            (0, "net"),
            (42, "node/n1"),
            (7, "client/c3"),
            (u64::MAX, ""),
        ] {
            let mut ours = SimRng::new(seed, name);
            let mut state = seed;
            let mut key = [0u8; 32];
            for chunk in key.chunks_exact_mut(8) {
                chunk.copy_from_slice(&splitmix64(&mut state).to_le_bytes());
            }
            let mut theirs = ChaCha8Rng::from_seed(key);
            theirs.set_stream(fnv1a(name.as_bytes()));
            for i in 0..1000 {
                assert_eq!(ours.next_u64(), theirs.next_u64(), "draw {i} of {name}");
            }
            // A clone mid-batch continues the same stream.
            let mut copy = ours.clone();
            for _ in 0..100 {
                assert_eq!(copy.next_u64(), theirs.next_u64());
            }
        }
    }

    const PINNED: [u64; 3] = [
        0x3d79_d93d_a7a2_5cf3,
        0x4911_d0b7_8fa6_1615,
        0x49c5_d395_54bc_beb0,
    ];

    #[test]
    fn below_and_between_stay_in_range() {
        let mut r = SimRng::new(1, "t");
        for n in [1u64, 2, 3, 10, 1000] {
            for _ in 0..200 {
                assert!(r.below(n) < n);
            }
        }
        for _ in 0..200 {
            let x = r.between(5, 9);
            assert!((5..=9).contains(&x));
        }
        // The full range cannot be widened by one: it draws a raw u64 instead.
        let (a, b) = (r.between(0, u64::MAX), r.between(0, u64::MAX));
        assert_ne!(a, b);
    }

    #[test]
    fn probability_bounds() {
        assert!(Probability::new(-0.1).is_err());
        assert!(
            Probability::new(1.5)
                .unwrap_err()
                .contains("expected a number from 0 to 1")
        );
        assert!(Probability::new(f64::NAN).is_err());
        let mut r = SimRng::new(3, "t");
        assert!(!(0..100).any(|_| r.chance(Probability::ZERO)));
        assert!((0..100).all(|_| r.chance(Probability::ONE)));
        let half = Probability::new(0.5).unwrap();
        let hits = (0..10_000).filter(|_| r.chance(half)).count();
        assert!((4_500..5_500).contains(&hits), "{hits}");
    }
}
