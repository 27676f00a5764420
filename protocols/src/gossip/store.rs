//! What a replica keeps per key, and the two ways of merging it: dotted version vectors
//! with siblings, or last-writer-wins.
//!
//! **Dotted version vectors** (Preguiça et al. 2010; in the form of Almeida et al.,
//! "Scalable and Accurate Causality Tracking for Eventually Consistent Stores", 2014): a
//! key's state is a version vector `vv`, every write this replica has seen, and the
//! *siblings*, the writes it has seen that nothing it has seen supersedes, each tagged
//! with its own [`Dot`]. A write made with the causal context `ctx` (the `vv` of the read
//! the client made) removes exactly the siblings `ctx` covers and adds itself with a fresh
//! dot. Two states merge by keeping a sibling when the other side either holds it too or
//! has never seen it (a sibling the other side has seen but no longer holds was superseded
//! there), and taking the entry-wise maximum of the vectors. Because each sibling carries
//! its own dot instead of a whole vector, concurrent client writes through one node do not
//! make every older sibling look concurrent with them (the "sibling explosion" of
//! per-value vectors with server ids).
//!
//! **Last-writer-wins**: a key holds one write and its [`Stamp`]; merging keeps the higher
//! stamp. It never has siblings, and that is the trouble.
//!
//! Each stored write also carries [`Ghost`] data: the writes its client had actually read.
//! The protocol never looks at it; the `no-lost-update` checker uses it to judge every
//! discard against the writes' real causal history rather than against the nodes' clocks.

use super::clock::{Dot, Stamp, VersionVector};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// A write's identity: `c2-17` is client 2's 17th operation, `n5-1` node 5's own first
/// write (the benchmark's).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct WriteId(pub u64);

const NODE_WRITE: u64 = 1 << 63;

impl WriteId {
    /// Client `client`'s (0-based) `seq`-th operation.
    pub fn client(client: u32, seq: u32) -> WriteId {
        WriteId(u64::from(client) << 32 | u64::from(seq))
    }

    /// Node `node`'s (0-based) `seq`-th own write.
    pub fn node(node: u32, seq: u32) -> WriteId {
        WriteId(NODE_WRITE | u64::from(node) << 32 | u64::from(seq))
    }

    /// The writer (client or node, 0-based) and its operation number.
    pub fn client_seq(self) -> (u32, u32) {
        (((self.0 & !NODE_WRITE) >> 32) as u32, self.0 as u32)
    }

    /// The value as clients and histories see it: `"c2-17"`.
    pub fn value(self) -> String {
        format!("{self:?}")
    }
}

impl fmt::Debug for WriteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = (self.0 & !NODE_WRITE) >> 32;
        let seq = self.0 & 0xffff_ffff;
        let tag = if self.0 & NODE_WRITE != 0 { 'n' } else { 'c' };
        write!(f, "{tag}{}-{seq}", who + 1)
    }
}

/// The simulator's record of a write's real causal history: the writes its client had
/// read (and so superseded) when it wrote. Never read by the protocol.
pub type Ghost = Arc<[WriteId]>;

/// One stored write.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Sibling {
    pub dot: Dot,
    pub id: WriteId,
    pub covers: Ghost,
}

impl fmt::Debug for Sibling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}@{:?}", self.id, self.dot)
    }
}

/// A key's state under dotted version vectors.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Dvv {
    pub vv: VersionVector,
    /// Sorted by dot.
    pub sibs: Vec<Sibling>,
}

impl Dvv {
    /// A write coordinated by `node` with the client's context `ctx`: the siblings `ctx`
    /// covers are superseded; the new write gets the next dot of `node`.
    pub fn write(&mut self, node: u32, ctx: &VersionVector, sib_id: WriteId, covers: Ghost) -> Dot {
        self.vv.merge(ctx);
        self.sibs.retain(|s| !ctx.covers(s.dot));
        let dot = Dot {
            node,
            counter: self.vv.get(node) + 1,
        };
        self.vv.set(node, dot.counter);
        let at = self.sibs.partition_point(|s| s.dot < dot);
        self.sibs.insert(
            at,
            Sibling {
                dot,
                id: sib_id,
                covers,
            },
        );
        dot
    }

    /// Merges `other` into this state; true if anything changed. With `take_other_counter`
    /// (the `merge_takes_one_side` bug) the vectors merge by taking `other`'s counters.
    pub fn merge(&mut self, other: &Dvv, take_other_counter: bool) -> bool {
        let mut sibs = Vec::with_capacity(self.sibs.len().max(other.sibs.len()));
        let (a, b) = (&self.sibs, &other.sibs);
        let (mut i, mut j) = (0, 0);
        // Both lists are sorted by dot: a merge-join. A sibling on one side only survives
        // if the other side has never seen its dot.
        while i < a.len() || j < b.len() {
            let ord = match (a.get(i), b.get(j)) {
                (Some(x), Some(y)) => x.dot.cmp(&y.dot),
                (Some(_), None) => std::cmp::Ordering::Less,
                _ => std::cmp::Ordering::Greater,
            };
            match ord {
                std::cmp::Ordering::Less => {
                    if !other.vv.covers(a[i].dot) {
                        sibs.push(a[i].clone());
                    }
                    i += 1;
                }
                std::cmp::Ordering::Greater => {
                    if !self.vv.covers(b[j].dot) {
                        sibs.push(b[j].clone());
                    }
                    j += 1;
                }
                std::cmp::Ordering::Equal => {
                    sibs.push(a[i].clone());
                    i += 1;
                    j += 1;
                }
            }
        }
        let mut vv = self.vv.clone();
        if take_other_counter {
            vv.merge_taking_other(&other.vv);
        } else {
            vv.merge(&other.vv);
        }
        let changed = vv != self.vv || sibs != self.sibs;
        self.vv = vv;
        self.sibs = sibs;
        changed
    }
}

/// A key's state under last-writer-wins.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Lww {
    pub stamp: Stamp,
    pub sib: Sibling,
}

impl Lww {
    /// True when `self` beats `other` (higher stamp; the write id breaks exact ties).
    pub fn beats(&self, other: &Lww) -> bool {
        (self.stamp, self.sib.id) > (other.stamp, other.sib.id)
    }
}

/// What a replica holds for one key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KeyState {
    Dvv(Dvv),
    Lww(Lww),
}

/// What a digest says about a key, and what a client keeps as its causal context: the
/// version vector, or the winning stamp.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Summary {
    Vv(VersionVector),
    Stamp(Stamp),
}

impl fmt::Debug for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Summary::Vv(v) => write!(f, "{v:?}"),
            Summary::Stamp(s) => write!(f, "{s:?}"),
        }
    }
}

impl Summary {
    /// True when a replica with summary `self` has seen everything `other` has.
    pub fn covers(&self, other: &Summary) -> bool {
        match (self, other) {
            (Summary::Vv(a), Summary::Vv(b)) => b.leq(a),
            (Summary::Stamp(a), Summary::Stamp(b)) => a >= b,
            _ => false,
        }
    }

    /// The least summary covering both (a client's session context after two reads).
    pub fn join(&mut self, other: &Summary) {
        match (self, other) {
            (Summary::Vv(a), Summary::Vv(b)) => a.merge(b),
            (Summary::Stamp(a), Summary::Stamp(b)) => *a = (*a).max(*b),
            (me, other) => *me = other.clone(),
        }
    }
}

impl KeyState {
    pub fn summary(&self) -> Summary {
        match self {
            KeyState::Dvv(d) => Summary::Vv(d.vv.clone()),
            KeyState::Lww(l) => Summary::Stamp(l.stamp),
        }
    }

    /// The writes this replica currently holds for the key, sorted.
    pub fn ids(&self) -> Vec<WriteId> {
        let mut ids: Vec<WriteId> = self.siblings().map(|s| s.id).collect();
        ids.sort();
        ids
    }

    pub fn siblings(&self) -> impl Iterator<Item = &Sibling> {
        let (many, one) = match self {
            KeyState::Dvv(d) => (&d.sibs[..], None),
            KeyState::Lww(l) => (&[][..], Some(&l.sib)),
        };
        many.iter().chain(one)
    }

    pub fn sibling_count(&self) -> usize {
        match self {
            KeyState::Dvv(d) => d.sibs.len(),
            KeyState::Lww(_) => 1,
        }
    }

    /// True when this state holds something a replica with summary `seen` lacks.
    pub fn news_for(&self, seen: &Summary) -> bool {
        !seen.covers(&self.summary())
    }

    /// A fingerprint of the state (equal states, equal fingerprints), for the
    /// convergence checker.
    pub fn fingerprint(&self) -> u64 {
        let mut h = Mix(0x6a09_e667_f3bc_c908);
        match self {
            KeyState::Dvv(d) => {
                for &(n, c) in d.vv.entries() {
                    h.write_u64(u64::from(n) << 32 | u64::from(c));
                }
                h.write_u64(u64::MAX);
                for s in &d.sibs {
                    h.write_u64(s.id.0);
                    h.write_u64(u64::from(s.dot.node) << 32 | u64::from(s.dot.counter));
                }
            }
            KeyState::Lww(l) => {
                h.write_u64(l.stamp.wall);
                h.write_u64(u64::from(l.stamp.logical) << 32 | u64::from(l.stamp.node));
                h.write_u64(l.sib.id.0);
            }
        }
        h.0 | 1
    }
}

/// A small deterministic hash (splitmix64 steps) for fingerprints.
struct Mix(u64);

impl Mix {
    fn write_u64(&mut self, x: u64) {
        let mut z = (self.0 ^ x).wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        self.0 = z ^ (z >> 31);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ghost() -> Ghost {
        Arc::from(Vec::new())
    }

    #[test]
    fn concurrent_writes_become_siblings_and_a_covering_write_resolves_them() {
        let mut a = Dvv::default();
        let mut b = Dvv::default();
        let empty = VersionVector::new();
        a.write(0, &empty, WriteId::client(0, 1), ghost());
        b.write(1, &empty, WriteId::client(1, 1), ghost());
        assert!(a.merge(&b, false));
        assert_eq!(a.sibs.len(), 2, "concurrent writes are kept as siblings");
        // A client reads both (context a.vv) and writes at b: both are superseded.
        let ctx = a.vv.clone();
        b.write(1, &ctx, WriteId::client(2, 1), ghost());
        assert_eq!(b.sibs.len(), 1);
        assert!(a.merge(&b, false));
        assert_eq!(
            a, b,
            "after merging, both replicas hold the resolving write only"
        );
        assert!(!a.merge(&b, false), "merging again changes nothing");
    }

    #[test]
    fn two_clients_writing_through_one_node_with_one_context_make_two_siblings() {
        let mut s = Dvv::default();
        let empty = VersionVector::new();
        s.write(0, &empty, WriteId::client(0, 1), ghost());
        let ctx = s.vv.clone();
        s.write(0, &ctx, WriteId::client(1, 1), ghost());
        s.write(0, &ctx, WriteId::client(2, 1), ghost());
        let ids: Vec<_> = s.sibs.iter().map(|x| x.id.value()).collect();
        assert_eq!(
            ids,
            ["c2-1", "c3-1"],
            "the first write is superseded by both, once"
        );
    }
}
