//! Sparse version vectors, dots, and last-writer-wins stamps.
//!
//! A [`VersionVector`] has an entry only for nodes that coordinated a write of the key, so
//! a value written at three nodes of a 10,000-node cluster carries three counters. A
//! [`Dot`] names one write: the node that coordinated it and that node's counter for the
//! key. A vector *covers* a dot when its entry for the dot's node is at least the dot's
//! counter; because each node numbers its writes of a key 1, 2, 3 ... and a vector only
//! ever grows by taking the entry-wise maximum with another vector that was itself built
//! this way, a vector describes a downward-closed set of dots: every write it covers.

use serde::{Deserialize, Serialize};
use sim_core::Causality;
use std::cmp::Ordering;
use std::fmt;

/// One write: coordinated by `node` as its `counter`-th write of the key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Dot {
    pub node: u32,
    pub counter: u32,
}

impl fmt::Debug for Dot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}:{}", self.node + 1, self.counter)
    }
}

/// A sparse version vector: `(node, counter)` pairs sorted by node, counters above 0.
#[derive(Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct VersionVector(Vec<(u32, u32)>);

impl VersionVector {
    pub fn new() -> VersionVector {
        VersionVector(Vec::new())
    }

    /// Builds a vector from `(node, counter)` pairs in any order (the largest counter per
    /// node wins; zero counters are left out).
    pub fn from_entries(entries: impl IntoIterator<Item = (u32, u32)>) -> VersionVector {
        let mut v = VersionVector::new();
        for (n, c) in entries {
            if c > v.get(n) {
                v.set(n, c);
            }
        }
        v
    }

    /// The counter for `node` (0 when it has no entry).
    pub fn get(&self, node: u32) -> u32 {
        match self.0.binary_search_by_key(&node, |e| e.0) {
            Ok(i) => self.0[i].1,
            Err(_) => 0,
        }
    }

    /// Sets the counter for `node` (0 removes the entry).
    pub fn set(&mut self, node: u32, counter: u32) {
        match self.0.binary_search_by_key(&node, |e| e.0) {
            Ok(i) if counter == 0 => {
                self.0.remove(i);
            }
            Ok(i) => self.0[i].1 = counter,
            Err(_) if counter == 0 => {}
            Err(i) => self.0.insert(i, (node, counter)),
        }
    }

    /// True when the write `dot` is one this vector has seen.
    #[inline]
    pub fn covers(&self, dot: Dot) -> bool {
        self.get(dot.node) >= dot.counter
    }

    /// How many nodes have an entry.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn entries(&self) -> &[(u32, u32)] {
        &self.0
    }

    /// The entry-wise maximum: afterwards this vector covers every dot either covered.
    pub fn merge(&mut self, other: &VersionVector) {
        if other.0.is_empty() {
            return;
        }
        let mut out = Vec::with_capacity(self.0.len().max(other.0.len()));
        let (mut i, mut j) = (0, 0);
        let (a, b) = (&self.0, &other.0);
        while i < a.len() && j < b.len() {
            match a[i].0.cmp(&b[j].0) {
                Ordering::Less => {
                    out.push(a[i]);
                    i += 1;
                }
                Ordering::Greater => {
                    out.push(b[j]);
                    j += 1;
                }
                Ordering::Equal => {
                    out.push((a[i].0, a[i].1.max(b[j].1)));
                    i += 1;
                    j += 1;
                }
            }
        }
        out.extend_from_slice(&a[i..]);
        out.extend_from_slice(&b[j..]);
        self.0 = out;
    }

    /// The `merge_takes_one_side` bug: for every node `other` has an entry for, take
    /// `other`'s counter, even when this vector's is higher. The vector can then forget
    /// writes it has seen, including this node's own, whose counter is then reused.
    pub fn merge_taking_other(&mut self, other: &VersionVector) {
        for &(n, c) in &other.0 {
            self.set(n, c);
        }
    }

    /// True when every dot this vector covers, `other` covers too.
    pub fn leq(&self, other: &VersionVector) -> bool {
        self.0.iter().all(|&(n, c)| other.get(n) >= c)
    }

    /// Equal, before, after or concurrent (the partial order of vectors).
    pub fn compare(&self, other: &VersionVector) -> Causality {
        match (self.leq(other), other.leq(self)) {
            (true, true) => Causality::Equal,
            (true, false) => Causality::Before,
            (false, true) => Causality::After,
            (false, false) => Causality::Concurrent,
        }
    }
}

impl fmt::Debug for VersionVector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{")?;
        for (i, (n, c)) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, " ")?;
            }
            write!(f, "n{}:{c}", n + 1)?;
        }
        write!(f, "}}")
    }
}

/// A last-writer-wins stamp: a clock reading (the wall clock, or a hybrid logical clock's
/// physical and logical parts) and the coordinating node to break ties. Ordered
/// lexicographically; the highest stamp wins.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Stamp {
    /// Nanoseconds on the coordinator's clock.
    pub wall: u64,
    /// The hybrid clock's logical counter (0 for wall-clock stamps).
    pub logical: u32,
    pub node: u32,
}

impl fmt::Debug for Stamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = sim_core::Time::from_nanos(self.wall);
        if self.logical == 0 {
            write!(f, "{t}@n{}", self.node + 1)
        } else {
            write!(f, "{t}+{}@n{}", self.logical, self.node + 1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_vectors_only_hold_writers() {
        let mut v = VersionVector::new();
        v.set(9_999, 2);
        v.set(3, 1);
        assert_eq!(v.len(), 2);
        assert_eq!(format!("{v:?}"), "{n4:1 n10000:2}");
        assert!(v.covers(Dot {
            node: 9_999,
            counter: 1
        }));
        assert!(!v.covers(Dot {
            node: 4,
            counter: 1
        }));
    }

    #[test]
    fn merge_is_the_entry_wise_max_and_the_bug_is_not() {
        let a = VersionVector::from_entries([(0, 3), (1, 1)]);
        let b = VersionVector::from_entries([(0, 1), (2, 5)]);
        let mut m = a.clone();
        m.merge(&b);
        assert_eq!(m, VersionVector::from_entries([(0, 3), (1, 1), (2, 5)]));
        let mut bug = a.clone();
        bug.merge_taking_other(&b);
        assert_eq!(bug.get(0), 1, "the bug forgets n1's writes 2 and 3");
        assert_eq!(a.compare(&b), Causality::Concurrent);
        assert_eq!(a.compare(&m), Causality::Before);
    }
}
