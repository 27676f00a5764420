//! The search's memory of explored configurations `(placed set, state id)`, and a fast
//! hasher for interning states.
//!
//! An open-addressing table over one flat arena of key words: looking up or adding a
//! configuration allocates nothing (except when the table grows). Keys have varying
//! length (the search stores a compact window of the placed set, not the whole bitset).
//! Nothing iterates over it, so it cannot affect the order of any output.

use std::hash::Hasher;

const EMPTY: u32 = u32::MAX;

#[derive(Clone, Copy)]
struct Entry {
    hash: u64,
    at: usize,
    state: u32,
    len: u32,
}

pub(crate) struct Memo {
    /// Per slot: index into `entries`, or `EMPTY`.
    slots: Vec<u32>,
    entries: Vec<Entry>,
    /// The key words of every entry, one after another.
    arena: Vec<u64>,
}

impl Memo {
    pub(crate) fn new() -> Memo {
        Memo {
            slots: vec![EMPTY; 1024],
            entries: Vec::new(),
            arena: Vec::new(),
        }
    }

    /// Bytes held (capacity, not length: what the allocator gave us).
    pub(crate) fn bytes(&self) -> u64 {
        (self.slots.capacity() * 4
            + self.entries.capacity() * std::mem::size_of::<Entry>()
            + self.arena.capacity() * 8) as u64
    }

    /// Adds the configuration; `false` if it was already there.
    pub(crate) fn insert(&mut self, hash: u64, state: u32, key: &[u64]) -> bool {
        if (self.entries.len() + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut i = (hash as usize) & mask;
        loop {
            let e = self.slots[i];
            if e == EMPTY {
                break;
            }
            let en = self.entries[e as usize];
            if en.hash == hash
                && en.state == state
                && en.len as usize == key.len()
                && self.arena[en.at..en.at + key.len()] == *key
            {
                return false;
            }
            i = (i + 1) & mask;
        }
        self.slots[i] = self.entries.len() as u32;
        self.entries.push(Entry {
            hash,
            at: self.arena.len(),
            state,
            len: key.len() as u32,
        });
        self.arena.extend_from_slice(key);
        true
    }

    fn grow(&mut self) {
        let size = self.slots.len() * 2;
        let mask = size - 1;
        let mut slots = vec![EMPTY; size];
        for (idx, en) in self.entries.iter().enumerate() {
            let mut i = (en.hash as usize) & mask;
            while slots[i] != EMPTY {
                i = (i + 1) & mask;
            }
            slots[i] = idx as u32;
        }
        self.slots = slots;
    }
}

/// A fast non-cryptographic hasher (multiply-rotate over 8-byte words) for interning
/// states. Used for lookups only.
#[derive(Default, Clone, Copy)]
pub(crate) struct FastHasher(u64);

const K: u64 = 0xf135_7aea_2e62_a9c5;

impl FastHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(26) ^ w).wrapping_mul(K);
    }
}

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        let x = self.0;
        (x ^ (x >> 32)).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (x >> 29)
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_exactly_what_was_inserted() {
        let mut m = Memo::new();
        for i in 0..5000u64 {
            // Colliding hashes on purpose: only the full key decides.
            assert!(m.insert(i % 7, (i % 3) as u32, &[i, 1]));
        }
        for i in 0..5000u64 {
            assert!(!m.insert(i % 7, (i % 3) as u32, &[i, 1]));
            assert!(m.insert(i % 7, (i % 3) as u32 + 10, &[i, 1]));
            // A key that is a prefix of another is a different key.
            assert!(m.insert(i % 7, (i % 3) as u32, &[i]));
            assert!(!m.insert(i % 7, (i % 3) as u32, &[i]));
        }
        assert!(m.bytes() > 5000 * 3 * 8);
    }
}
