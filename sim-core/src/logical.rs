//! Logical clocks for protocols to use: Lamport clocks, vector clocks and hybrid logical
//! clocks. They are plain values a node keeps in its state and stamps on its messages.
//!
//! - Lamport, "Time, Clocks, and the Ordering of Events in a Distributed System" (1978):
//!   one counter; if a happened before b then L(a) < L(b) (not the converse).
//! - Vector clocks (Fidge 1988, Mattern 1989): one counter per node; a happened before b
//!   iff V(a) < V(b), so concurrency is visible.
//! - Hybrid logical clocks (Kulkarni et al., "Logical Physical Clocks", 2014): physical
//!   time when clocks behave, a logical counter to keep causality when they do not; stays
//!   within the clock skew of physical time.

use crate::id::NodeId;
use crate::time::Time;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::fmt;

/// A Lamport clock.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Lamport(pub u64);

impl Lamport {
    /// A local event or a send: advance and return the new stamp.
    pub fn tick(&mut self) -> Lamport {
        self.0 += 1;
        *self
    }

    /// A receive of a message stamped `seen`: jump past it.
    pub fn observe(&mut self, seen: Lamport) -> Lamport {
        self.0 = self.0.max(seen.0) + 1;
        *self
    }
}

/// A vector clock over the nodes `0..n` (dense: one counter per node, in id order).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct VectorClock(Vec<u64>);

/// How two vector clocks relate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Causality {
    Equal,
    Before,
    After,
    Concurrent,
}

impl VectorClock {
    pub fn new(nodes: usize) -> VectorClock {
        VectorClock(vec![0; nodes])
    }

    pub fn get(&self, node: NodeId) -> u64 {
        self.0.get(node.index()).copied().unwrap_or(0)
    }

    /// A local event at `node`.
    pub fn tick(&mut self, node: NodeId) {
        if self.0.len() <= node.index() {
            self.0.resize(node.index() + 1, 0);
        }
        self.0[node.index()] += 1;
    }

    /// Takes the element-wise maximum with `other` (on receive, before ticking).
    pub fn merge(&mut self, other: &VectorClock) {
        if self.0.len() < other.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a = (*a).max(*b);
        }
    }

    /// Happened-before, after, equal, or concurrent.
    pub fn compare(&self, other: &VectorClock) -> Causality {
        let n = self.0.len().max(other.0.len());
        let (mut less, mut greater) = (false, false);
        for i in 0..n {
            let a = self.0.get(i).copied().unwrap_or(0);
            let b = other.0.get(i).copied().unwrap_or(0);
            match a.cmp(&b) {
                Ordering::Less => less = true,
                Ordering::Greater => greater = true,
                Ordering::Equal => {}
            }
        }
        match (less, greater) {
            (false, false) => Causality::Equal,
            (true, false) => Causality::Before,
            (false, true) => Causality::After,
            (true, true) => Causality::Concurrent,
        }
    }
}

impl fmt::Display for VectorClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(u64::to_string).collect();
        write!(f, "[{}]", parts.join(" "))
    }
}

/// A hybrid logical clock timestamp: physical part `wall` (the node's local clock, ns) and
/// logical counter `logical`. Ordered lexicographically.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Hlc {
    pub wall: u64,
    pub logical: u32,
}

impl Hlc {
    /// A local event or send at local clock reading `now` (from `ctx.wall_clock()`).
    pub fn tick(&mut self, now: Time) -> Hlc {
        let pt = now.as_nanos();
        if pt > self.wall {
            self.wall = pt;
            self.logical = 0;
        } else {
            self.logical += 1;
        }
        *self
    }

    /// A receive of a message stamped `seen` at local clock reading `now`.
    pub fn observe(&mut self, seen: Hlc, now: Time) -> Hlc {
        let pt = now.as_nanos();
        let wall = self.wall.max(seen.wall).max(pt);
        self.logical = if wall == self.wall && wall == seen.wall {
            self.logical.max(seen.logical) + 1
        } else if wall == self.wall {
            self.logical + 1
        } else if wall == seen.wall {
            seen.logical + 1
        } else {
            0
        };
        self.wall = wall;
        *self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lamport_orders_causal_events() {
        let (mut a, mut b) = (Lamport::default(), Lamport::default());
        let send = a.tick();
        b.tick();
        b.tick();
        let recv = b.observe(send);
        assert!(send < recv);
        assert_eq!(recv, Lamport(3));
    }

    #[test]
    fn vector_clocks_see_concurrency() {
        let (n1, n2) = (NodeId(0), NodeId(1));
        let mut a = VectorClock::new(2);
        let mut b = VectorClock::new(2);
        a.tick(n1);
        b.tick(n2);
        assert_eq!(a.compare(&b), Causality::Concurrent);
        let msg = a.clone();
        b.merge(&msg);
        b.tick(n2);
        assert_eq!(msg.compare(&b), Causality::Before);
        assert_eq!(b.compare(&msg), Causality::After);
        assert_eq!(b.compare(&b.clone()), Causality::Equal);
        assert_eq!(b.to_string(), "[1 2]");
    }

    #[test]
    fn hlc_keeps_causality_when_a_clock_lags() {
        let t = Time::from_nanos;
        let mut fast = Hlc::default();
        let mut slow = Hlc::default();
        let sent = fast.tick(t(1_000));
        // The receiver's clock reads 10: behind the sender. HLC still orders recv after send.
        let recv = slow.observe(sent, t(10));
        assert!(recv > sent);
        assert_eq!(
            recv,
            Hlc {
                wall: 1_000,
                logical: 1
            }
        );
        // When physical time catches up, the logical part resets.
        assert_eq!(
            slow.tick(t(2_000)),
            Hlc {
                wall: 2_000,
                logical: 0
            }
        );
    }
}
