//! A search-free refutation: a read that no "last pin" can explain.
//!
//! Call an op a *pin* when it fixes the state at its point: a *reset* (a blind write,
//! [`Model::is_blind_write`]: it sets one state whatever the state before) or an `ok`
//! read of one state ([`Access::Reads`]). In any linearization, the state a read `r`
//! sees is the state at the last pin placed before it (or the initial state if there is
//! none), changed by some non-reset ops, each at most once. That last pin `L` cannot be
//! *dominated*: if some `ok` pin `q` began after `L` completed and completed before `r`
//! began, real time puts `q` between them, and `L` was not the last. The `ok` non-resets
//! that began after `L` completed and completed before `r` began are *forced* between
//! them. So if for every undominated candidate `L` (pins invoked before `r` returned; the
//! initial state when no `ok` pin completed before `r` began) the model says `r`'s result
//! is out of reach from `L`'s state with the forced ops and some of the others that could
//! lie between ([`Model::may_reach_forced`], whose `false` is certain), `r` fits in no
//! linearization and the key is not linearizable.
//!
//! Unique values are not assumed: every undominated pin is a candidate, whatever it
//! writes or reads. It never says "linearizable": when it finds nothing, the search goes
//! on. The search calls it only for keys it has not decided in its first steps
//! (`run::REFUTE_AFTER`), so easy keys never pay for it. It decides a stale read among
//! 40 clients on a register whose values repeat (so the zone check does not apply), which
//! the search alone does not decide in 3 million steps; it does not decide the kv
//! stale-read family (there the read's value is out of reach only because the same
//! appends were already used by an earlier read, which needs unique values to see).
//! Cost per read: the pins and non-resets invoked within the longest op's duration of
//! the dominating instant (binary search), at most [`MAX_CANDIDATES`] candidates (a read
//! with more, say many unknown-outcome writes, is skipped) and [`MAX_BETWEEN`] ops
//! between each candidate and the read (more counts as explained), and at most
//! [`WORK_PER_OP`] ops looked at per op of the key in all (then it gives up).

use crate::check::SearchOp;
use crate::model::{Access, Model};

/// A read with more undominated candidates than this is not examined.
const MAX_CANDIDATES: usize = 256;
/// A candidate with more non-resets that could follow it than this counts as explaining
/// the read (nothing is examined).
const MAX_BETWEEN: usize = 512;
/// Ops looked at in all, per op of the key: past it the refutation gives up (finds
/// nothing), so it costs O(n) whatever the history.
const WORK_PER_OP: usize = 64;

/// Returns the index (into `ops`) of a read that fits in no linearization, if it finds one.
pub(crate) fn unreachable_read<M: Model>(model: &M, ops: &[SearchOp<M::Op>]) -> Option<usize> {
    let init = model.init();
    let is_reset: Vec<bool> = ops.iter().map(|o| model.is_blind_write(&o.op)).collect();
    // Pins by invoke: (invoke, complete or MAX, state, index). A reset sets its state; an
    // `ok` read of one state ([`Access::Reads`]) pins the state to it at its point.
    let mut resets: Vec<(usize, usize, M::State, usize)> = Vec::new();
    for (i, o) in ops.iter().enumerate() {
        if is_reset[i] {
            // A blind write accepts every state, so the initial one too.
            let s = model.step(&init, &o.op)?;
            resets.push((o.invoke, o.complete.unwrap_or(usize::MAX), s, i));
        } else if let (Some(c), Some(Access::Reads(s))) = (o.complete, model.register_access(&o.op))
        {
            resets.push((o.invoke, c, s, i));
        }
    }
    resets.sort_by_key(|r| (r.0, r.3));
    // Unknown-outcome resets never dominate and are never dominated.
    let open: Vec<usize> = (0..resets.len())
        .filter(|&k| resets[k].1 == usize::MAX)
        .collect();
    // `ok` resets by completion, with the running maximum of their invokes.
    let mut done: Vec<(usize, usize)> = resets
        .iter()
        .filter(|r| r.1 != usize::MAX)
        .map(|r| (r.1, r.0))
        .collect();
    done.sort_unstable();
    let mut max_invoke = Vec::with_capacity(done.len());
    let mut m = 0;
    for &(_, inv) in &done {
        m = m.max(inv);
        max_invoke.push(m);
    }
    let longest = done.iter().map(|&(c, i)| c - i).max().unwrap_or(0);
    // Non-resets that change something, by invoke.
    let mut others: Vec<usize> = (0..ops.len())
        .filter(|&i| !is_reset[i] && !model.is_read_only(&ops[i].op))
        .collect();
    others.sort_by_key(|&i| (ops[i].invoke, i));
    // Unknown-outcome ones apart: they may lie anywhere after their invoke.
    let open_others: Vec<usize> = others
        .iter()
        .copied()
        .filter(|&i| ops[i].complete.is_none())
        .collect();
    others.retain(|&i| ops[i].complete.is_some());
    let longest_other = others
        .iter()
        .map(|&i| ops[i].complete.unwrap_or(0) - ops[i].invoke)
        .max()
        .unwrap_or(0);

    let mut work = WORK_PER_OP.saturating_mul(ops.len()).max(1 << 16);
    let mut cands: Vec<usize> = Vec::with_capacity(MAX_CANDIDATES);
    let mut forced: Vec<&M::Op> = Vec::new();
    let mut optional: Vec<&M::Op> = Vec::new();
    for (r, read) in ops.iter().enumerate() {
        let Some(ret) = read.complete else {
            continue;
        };
        if !model.is_read_only(&read.op) {
            continue;
        }
        // The latest invoke among ok resets that completed before `r` began.
        let n_before = done.partition_point(|&(c, _)| c < read.invoke);
        let dominating = n_before.checked_sub(1).map(|k| max_invoke[k]);
        cands.clear();
        let mut too_many = false;
        // Ok resets invoked before `ret` that complete at or after `dominating`: those
        // invoked from `dominating - longest` on (earlier ones completed before it).
        let end = resets.partition_point(|x| x.0 < ret);
        let from = dominating.map_or(0, |d| d.saturating_sub(longest));
        let start = resets.partition_point(|x| x.0 < from);
        for k in (start..end).rev() {
            let x = &resets[k];
            if x.3 != r && x.1 != usize::MAX && dominating.is_none_or(|d| x.1 >= d) {
                if cands.len() == MAX_CANDIDATES {
                    too_many = true;
                    break;
                }
                cands.push(k);
            }
        }
        for &k in &open {
            if resets[k].0 >= ret {
                break;
            }
            if cands.len() == MAX_CANDIDATES {
                too_many = true;
                break;
            }
            cands.push(k);
        }
        if too_many {
            continue;
        }
        // Non-resets that could lie between a candidate `L` and `r`: invoked before `ret`,
        // not completed before `L` was invoked; forced when `ok`, invoked after `L`
        // completed and completed before `r` began.
        let end = others.partition_point(|&i| ops[i].invoke < ret);
        let mut explains = |l_invoke: usize, l_complete: usize, state: &M::State| {
            forced.clear();
            optional.clear();
            // Ok ones invoked before `l_invoke - longest_other` completed before it.
            let floor = l_invoke.saturating_sub(longest_other);
            let ok_between = others[..end]
                .iter()
                .rev()
                .take_while(|&&i| ops[i].invoke >= floor);
            let open_between = open_others.iter().take_while(|&&i| ops[i].invoke < ret);
            for &i in ok_between.chain(open_between) {
                if work == 0 {
                    // Out of work: count it as explained (the caller stops below).
                    return true;
                }
                work -= 1;
                let o = &ops[i];
                if o.complete.is_some_and(|c| c < l_invoke) {
                    continue;
                }
                if forced.len() + optional.len() == MAX_BETWEEN {
                    // Too much to examine: count it as explained.
                    return true;
                }
                if o.invoke > l_complete && o.complete.is_some_and(|c| c < read.invoke) {
                    forced.push(&o.op);
                } else {
                    optional.push(&o.op);
                }
            }
            model.may_reach_forced(state, &read.op, &forced, &optional)
        };
        // The initial state acts as a reset before everything.
        if dominating.is_none() && explains(0, 0, &init) {
            if work == 0 {
                return None;
            }
            continue;
        }
        let explained = cands.iter().any(|&k| {
            let (inv, comp, state, _) = &resets[k];
            explains(*inv, *comp, state)
        });
        if work == 0 {
            return None;
        }
        if !explained {
            return Some(r);
        }
    }
    None
}
