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
    #[cfg(test)]
    pub(crate) fn insert(&mut self, hash: u64, state: u32, key: &[u64]) -> bool {
        self.insert_parts(hash, state, [&[], key, &[]])
    }

    /// [`Memo::insert`] of the key `parts[0]`, then `parts[1]`, then `parts[2]` one after
    /// another (the caller need not copy them into one slice first): only the words
    /// count, not where the parts split them.
    #[inline]
    pub(crate) fn insert_parts(&mut self, hash: u64, state: u32, parts: [&[u64]; 3]) -> bool {
        let len = parts[0].len() + parts[1].len() + parts[2].len();
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
            if en.hash == hash && en.state == state && en.len as usize == len {
                let stored = &self.arena[en.at..en.at + len];
                let (a, rest) = stored.split_at(parts[0].len());
                let (b, c) = rest.split_at(parts[1].len());
                if a == parts[0] && b == parts[1] && c == parts[2] {
                    return false;
                }
            }
            i = (i + 1) & mask;
        }
        self.slots[i] = self.entries.len() as u32;
        self.entries.push(Entry {
            hash,
            at: self.arena.len(),
            state,
            len: len as u32,
        });
        // One reservation for the whole key: the arena grows as one `extend` of it would
        // (the memory bound measures its capacity).
        // Word by word: the parts are a few words each, shorter than a `memcpy` call.
        self.arena.reserve(len);
        for p in parts {
            for &w in p {
                self.arena.push(w);
            }
        }
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

/// The search's table of interned states: per state id its hash, and an open-addressing
/// table of ids by hash. The states themselves stay with the caller, which says whether
/// a candidate id holds the state looked up; so each state is stored once, and looking
/// one up allocates nothing (except when the table grows). Nothing iterates over it.
pub(crate) struct Interner {
    /// Per slot: a state id, or `EMPTY`.
    slots: Vec<u32>,
    /// Per state id: its hash.
    hashes: Vec<u64>,
    /// How many distinct hashes were added (for [`Interner::map_capacity`]).
    distinct: usize,
}

impl Interner {
    /// An interner that grows only past `n` ids.
    pub(crate) fn with_capacity(n: usize) -> Interner {
        Interner {
            slots: vec![EMPTY; (n * 2).next_power_of_two().max(64)],
            hashes: Vec::with_capacity(n),
            distinct: 0,
        }
    }

    /// The id of a state with hash `hash` for which `same(id)` holds, or else `Err` of the
    /// id the new state gets (the number of states so far; the caller stores it there).
    #[inline]
    pub(crate) fn find_or_add(
        &mut self,
        hash: u64,
        mut same: impl FnMut(u32) -> bool,
    ) -> Result<u32, u32> {
        let mask = self.slots.len() - 1;
        let mut i = (hash as usize) & mask;
        let mut hash_seen = false;
        loop {
            let id = self.slots[i];
            if id == EMPTY {
                break;
            }
            if self.hashes[id as usize] == hash {
                if same(id) {
                    return Ok(id);
                }
                hash_seen = true;
            }
            i = (i + 1) & mask;
        }
        let id = self.hashes.len() as u32;
        self.slots[i] = id;
        self.hashes.push(hash);
        self.distinct += usize::from(!hash_seen);
        if self.hashes.len() * 2 > self.slots.len() {
            self.grow();
        }
        Err(id)
    }

    fn grow(&mut self) {
        let size = self.slots.len() * 2;
        let mask = size - 1;
        let mut slots = vec![EMPTY; size];
        for (id, &h) in self.hashes.iter().enumerate() {
            let mut i = (h as usize) & mask;
            while slots[i] != EMPTY {
                i = (i + 1) & mask;
            }
            slots[i] = id as u32;
        }
        self.slots = slots;
    }

    /// The capacity a `std` `HashMap` from each distinct hash to its first id would have
    /// now (grown one insert at a time from empty: 3, 7, then 7/8 of a power of two): the
    /// memory bound counts what that map held before this table replaced it, so that it
    /// ends a search at the same step ([`tests::map_capacity_is_the_hash_map_s`]).
    pub(crate) fn map_capacity(&self) -> usize {
        let d = self.distinct;
        match d {
            0 => 0,
            1..=3 => 3,
            4..=7 => 7,
            _ => {
                let mut buckets = 16usize;
                while buckets / 8 * 7 < d {
                    buckets *= 2;
                }
                buckets / 8 * 7
            }
        }
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

    /// The interner finds exactly the states added, whatever their hashes (here few and
    /// colliding), and gives new ones the next id.
    #[test]
    fn interner_finds_what_was_added() {
        let mut t = Interner::with_capacity(0);
        let mut states: Vec<u64> = Vec::new();
        for round in 0..2 {
            for v in 0..3000u64 {
                let hash = v % 11;
                let got = t.find_or_add(hash, |id| states[id as usize] == v);
                if round == 0 {
                    assert_eq!(got, Err(v as u32));
                    states.push(v);
                } else {
                    assert_eq!(got, Ok(v as u32));
                }
            }
        }
        assert_eq!(t.distinct, 11);
        assert_eq!(t.map_capacity(), 14);
    }

    /// [`Interner::map_capacity`] is what a `HashMap` with that many keys, inserted one at
    /// a time, reports.
    #[test]
    fn map_capacity_is_the_hash_map_s() {
        use std::collections::HashMap;
        use std::hash::BuildHasherDefault;
        let mut t = Interner::with_capacity(0);
        let mut map: HashMap<u64, u32, BuildHasherDefault<FastHasher>> = HashMap::default();
        assert_eq!(t.map_capacity(), map.capacity());
        for v in 0..100_000u64 {
            let hash = v.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            assert!(t.find_or_add(hash, |_| false).is_err());
            map.insert(hash, v as u32);
            // A repeated hash (a different state) adds no key to the map.
            if v % 3 == 0 {
                assert!(t.find_or_add(hash, |_| false).is_err());
            }
            assert_eq!(t.map_capacity(), map.capacity(), "{} keys", v + 1);
        }
    }

    /// A key given in parts is the key of their words one after another, however they
    /// split it; the arena's capacity grows as for the whole key at once.
    #[test]
    fn parts_are_one_key() {
        let mut whole = Memo::new();
        let mut parted = Memo::new();
        let mut rng = 0x1234_5678_u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut fresh = 0;
        for _ in 0..20_000 {
            let len = (next() % 7) as usize;
            // Few distinct words and hashes, so that keys repeat and collide.
            let key: Vec<u64> = (0..len).map(|_| next() % 3).collect();
            let hash = next() % 5;
            let state = (next() % 2) as u32;
            let a = (next() as usize) % (len + 1);
            let b = a + (next() as usize) % (len - a + 1);
            let want = whole.insert(hash, state, &key);
            let got = parted.insert_parts(hash, state, [&key[..a], &key[a..b], &key[b..]]);
            assert_eq!(got, want, "key {key:?} split at {a}, {b}");
            fresh += usize::from(want);
            assert_eq!(parted.bytes(), whole.bytes());
        }
        assert!(fresh > 1000 && fresh < 19_000, "{fresh} new keys");
    }
}
