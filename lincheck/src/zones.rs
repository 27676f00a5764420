//! A search-free decision for register-like keys whose written values are unique: the
//! zone characterization of Gibbons and Korach ("Testing shared memories", SIAM J.
//! Computing 1997), in the form Golab, Li and Shah give it ("Analyzing consistency
//! properties for fun and profit", PODC 2011). O(n log n) in the key's ops, whatever the
//! concurrency.
//!
//! It applies when every op of the key is a plain read (it accepts exactly one state and
//! changes nothing) or a blind write (it sets one state from any state), as
//! [`Model::register_access`] says, and no two writes set the same state, nor does any
//! write set the initial state. Then each write and the reads of its value form a
//! *cluster* (the reads of the initial state form one with a virtual write before
//! everything), and a linearization is an order of the clusters, each contiguous: its
//! write, then its reads. With `f` the earliest completion in a cluster and `s` its
//! latest invoke, the cluster's *zone* is *forward* `(f, s)` when `f < s` (the cluster
//! must be under way over that whole stretch) and *backward* `(s, f)` otherwise (it can
//! be placed anywhere in there). The key is linearizable iff
//!
//! 1. every read's value was written (or is the initial state), and no read completes
//!    before its write is invoked,
//! 2. no two forward zones overlap, and
//! 3. no backward zone lies inside a forward zone.
//!
//! An unknown-outcome (`info`) or unfinished write that nobody read is dropped (not
//! taking effect is always allowed); one that somebody read completes "at infinity".
//! Times are event indices, distinct for distinct events, so no two zones share an end.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use crate::check::SearchOp;
use crate::memo::FastHasher;
use crate::model::{Access, Model};

/// The zone check's answer for one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ZoneVerdict {
    Linearizable,
    /// Not linearizable; the ops (indices into the key's ops) of the clusters in conflict,
    /// or the read that has no write.
    NotLinearizable(Vec<usize>),
}

/// Decides the key, or `None` if it is not register-like with unique written values.
pub(crate) fn decide<M: Model>(model: &M, ops: &[SearchOp<M::Op>]) -> Option<ZoneVerdict> {
    const INF: i64 = i64::MAX;
    let init = model.init();
    let mut access = Vec::with_capacity(ops.len());
    for o in ops {
        access.push(model.register_access(&o.op)?);
    }
    // Cluster 0 is the initial state's (its virtual write completes at -1).
    type Map<S> = HashMap<S, usize, BuildHasherDefault<FastHasher>>;
    let mut cluster_of: Map<M::State> = HashMap::default();
    // Per cluster: its write (None for the initial state's), and its reads.
    let mut writes: Vec<Option<usize>> = vec![None];
    cluster_of.insert(init, 0);
    for (i, a) in access.iter().enumerate() {
        if let Access::Writes(s) = a {
            if cluster_of.contains_key(s) {
                return None;
            }
            cluster_of.insert(s.clone(), writes.len());
            writes.push(Some(i));
        }
    }
    let mut reads: Vec<Vec<usize>> = vec![Vec::new(); writes.len()];
    for (i, a) in access.iter().enumerate() {
        if let Access::Reads(s) = a {
            let Some(&c) = cluster_of.get(s) else {
                // Nobody wrote what it read.
                return Some(ZoneVerdict::NotLinearizable(vec![i]));
            };
            reads[c].push(i);
        }
    }
    let complete = |i: usize| ops[i].complete.map_or(INF, |c| c as i64);
    let invoke = |i: usize| ops[i].invoke as i64;
    let members = |c: usize| writes[c].into_iter().chain(reads[c].iter().copied());
    // (start, end, cluster) of forward and backward zones.
    let mut forward: Vec<(i64, i64, usize)> = Vec::new();
    let mut backward: Vec<(i64, i64, usize)> = Vec::new();
    for c in 0..writes.len() {
        if reads[c].is_empty() && (c == 0 || ops[writes[c]?].complete.is_none()) {
            // Nothing to place (the initial state unread), or a write that may never
            // have taken effect and that nobody saw.
            continue;
        }
        let (w_invoke, w_complete) = writes[c].map_or((-1, -1), |w| (invoke(w), complete(w)));
        if let Some(&r) = reads[c].iter().find(|&&r| complete(r) < w_invoke) {
            // A read that completed before its write began.
            return Some(ZoneVerdict::NotLinearizable(
                writes[c].into_iter().chain([r]).collect(),
            ));
        }
        let f = reads[c]
            .iter()
            .map(|&r| complete(r))
            .fold(w_complete, i64::min);
        let s = reads[c].iter().map(|&r| invoke(r)).fold(w_invoke, i64::max);
        if f < s {
            forward.push((f, s, c));
        } else {
            backward.push((s, f, c));
        }
    }
    forward.sort_unstable();
    for pair in forward.windows(2) {
        if pair[1].0 < pair[0].1 {
            let mut culprits: Vec<usize> = members(pair[0].2).chain(members(pair[1].2)).collect();
            culprits.sort_unstable();
            return Some(ZoneVerdict::NotLinearizable(culprits));
        }
    }
    // Forward zones are disjoint now: only the last one starting before a backward zone
    // can contain it.
    for &(s, f, c) in &backward {
        let at = forward.partition_point(|z| z.0 < s);
        if at > 0 && f < forward[at - 1].1 {
            let mut culprits: Vec<usize> = members(forward[at - 1].2).chain(members(c)).collect();
            culprits.sort_unstable();
            return Some(ZoneVerdict::NotLinearizable(culprits));
        }
    }
    Some(ZoneVerdict::Linearizable)
}
