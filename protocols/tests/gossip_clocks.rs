//! Property tests for the clocks the gossip store stands on: sparse version vectors form a
//! partial order and their merge is a join (commutative, associative, idempotent, an upper
//! bound); the hybrid logical clock stays within the clock skew of physical time and
//! respects causality (Kulkarni et al. 2014, Theorems 1 and 2's bounds as properties).

use proptest::prelude::*;
use protocols::gossip::clock::{Dot, VersionVector};
use sim_core::{Causality, Hlc, Time};

fn vv() -> impl Strategy<Value = VersionVector> {
    prop::collection::vec((0u32..6, 0u32..5), 0..6).prop_map(VersionVector::from_entries)
}

fn merged(a: &VersionVector, b: &VersionVector) -> VersionVector {
    let mut m = a.clone();
    m.merge(b);
    m
}

proptest! {
    #[test]
    fn compare_is_a_partial_order(a in vv(), b in vv(), c in vv()) {
        // Reflexive.
        prop_assert_eq!(a.compare(&a), Causality::Equal);
        // Antisymmetric: a <= b and b <= a only when equal.
        if a.leq(&b) && b.leq(&a) {
            prop_assert_eq!(&a, &b);
        }
        // Transitive.
        if a.leq(&b) && b.leq(&c) {
            prop_assert!(a.leq(&c));
        }
        // compare agrees with leq both ways.
        let expected = match (a.leq(&b), b.leq(&a)) {
            (true, true) => Causality::Equal,
            (true, false) => Causality::Before,
            (false, true) => Causality::After,
            (false, false) => Causality::Concurrent,
        };
        prop_assert_eq!(a.compare(&b), expected);
    }

    #[test]
    fn merge_is_a_join(a in vv(), b in vv(), c in vv()) {
        prop_assert_eq!(merged(&a, &b), merged(&b, &a), "commutative");
        prop_assert_eq!(merged(&merged(&a, &b), &c), merged(&a, &merged(&b, &c)), "associative");
        prop_assert_eq!(merged(&a, &a), a.clone(), "idempotent");
        let m = merged(&a, &b);
        prop_assert!(a.leq(&m) && b.leq(&m), "an upper bound");
        if a.leq(&c) && b.leq(&c) {
            prop_assert!(m.leq(&c), "the least upper bound");
        }
    }

    #[test]
    fn vectors_stay_sparse(a in vv(), b in vv()) {
        // Only nodes that wrote have entries; merge adds no others.
        let m = merged(&a, &b);
        for &(n, c) in m.entries() {
            prop_assert!(c > 0);
            prop_assert!(a.get(n) == c || b.get(n) == c);
        }
        prop_assert!(m.len() <= a.len() + b.len());
        for &(n, c) in a.entries() {
            let dot = Dot { node: n, counter: c };
            prop_assert!(m.covers(dot), "{:?} lost", dot);
        }
    }

    /// Nodes with clocks skewed by up to `skew` exchange messages in a random order; every
    /// HLC stamp is within the skew of true time, and a receive is stamped after its send.
    #[test]
    fn hlc_is_within_skew_and_respects_causality(
        offsets in prop::collection::vec(0u64..1_000, 2..5),
        steps in prop::collection::vec((0usize..5, 0usize..5, 1u64..300, any::<bool>()), 1..60),
    ) {
        let n = offsets.len();
        let skew = *offsets.iter().max().unwrap();
        let mut clocks = vec![Hlc::default(); n];
        let mut inbox: Vec<Vec<Hlc>> = vec![Vec::new(); n];
        let mut now = 1_000u64; // true time
        for (from, to, dt, send) in steps {
            let (from, to) = (from % n, to % n);
            now += dt;
            // A node's physical clock is true time plus its offset (0..=skew).
            let pt = |i: usize| Time::from_nanos(now + offsets[i]);
            if send || inbox[to].is_empty() {
                let stamp = clocks[from].tick(pt(from));
                prop_assert!(stamp.wall <= now + skew, "{:?} is beyond the skew", stamp);
                prop_assert!(stamp.wall >= now, "{:?} is behind true time", stamp);
                inbox[to].push(stamp);
            } else {
                let sent = inbox[to].remove(0);
                let before = clocks[to];
                let got = clocks[to].observe(sent, pt(to));
                prop_assert!(got > sent, "receive {:?} not after send {:?}", got, sent);
                prop_assert!(got > before, "the clock went back");
                prop_assert!(got.wall <= now + skew, "{:?} is beyond the skew", got);
            }
        }
    }
}
