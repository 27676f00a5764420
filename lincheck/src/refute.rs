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
//! the search alone does not decide in 3 million steps.
//!
//! A second rule, the *last-reset* rule ([`superseded_read`]), looks at resets only: the
//! last reset before a read must be one from which the model may reach the read's
//! result, and every `ok` read pin that must precede the read lies between them (then the
//! read's result must be reachable from the pin's state without a reset) or before that
//! reset (then the pin needs a last reset of its own other than it). It decides the kv
//! stale-read family (a read of `p.a1.` after a read of `p.a1.a2.` completed, the put of
//! `p.` concurrent with both), which the last-pin rule cannot: there the put explains the
//! read unless one sees that the longer read used it up. Still no unique values assumed.
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

/// Returns the index (into `ops`) of a read that fits in no linearization, if it finds one:
/// by the last-pin rule, or else by the last-reset rule ([`superseded_read`]).
pub(crate) fn unreachable_read<M: Model>(model: &M, ops: &[SearchOp<M::Op>]) -> Option<usize> {
    last_pin_rule(model, ops).or_else(|| superseded_read(model, ops))
}

/// The last-pin rule (the module's first paragraph).
fn last_pin_rule<M: Model>(model: &M, ops: &[SearchOp<M::Op>]) -> Option<usize> {
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
    let Index {
        resets,
        open,
        done,
        max_invoke,
        longest,
        others,
        open_others,
        longest_other,
    } = Index::new(model, ops, &is_reset, resets);

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

/// What a read's state may have been set by last: the initial state (no reset before it),
/// or a reset (an index into the ops).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Start {
    Init,
    Reset(usize),
}

/// What both rules look up in a key's ops: the resets (and, for the last-pin rule, the read
/// pins) by invoke, the `ok` ones by completion, and the non-resets that change something.
struct Index<S> {
    /// Resets by invoke: (invoke, complete or MAX, state set, op index).
    resets: Vec<(usize, usize, S, usize)>,
    /// Indices into `resets` of the unknown-outcome ones (they never dominate and are
    /// never dominated).
    open: Vec<usize>,
    /// `ok` resets by completion: (complete, invoke), and the running maximum invoke.
    done: Vec<(usize, usize)>,
    max_invoke: Vec<usize>,
    longest: usize,
    /// `ok` non-resets that change something, by invoke; the unknown-outcome ones apart
    /// (they may lie anywhere after their invoke).
    others: Vec<usize>,
    open_others: Vec<usize>,
    longest_other: usize,
}

impl<S> Index<S> {
    fn new<M: Model<State = S>>(
        model: &M,
        ops: &[SearchOp<M::Op>],
        is_reset: &[bool],
        mut resets: Vec<(usize, usize, S, usize)>,
    ) -> Index<S> {
        resets.sort_by_key(|r| (r.0, r.3));
        let open: Vec<usize> = (0..resets.len())
            .filter(|&k| resets[k].1 == usize::MAX)
            .collect();
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
        let mut others: Vec<usize> = (0..ops.len())
            .filter(|&i| !is_reset[i] && !model.is_read_only(&ops[i].op))
            .collect();
        others.sort_by_key(|&i| (ops[i].invoke, i));
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
        Index {
            resets,
            open,
            done,
            max_invoke,
            longest,
            others,
            open_others,
            longest_other,
        }
    }
}

/// The key's resets, non-resets and read pins, indexed for the last-reset rule.
struct Ctx<'a, M: Model> {
    model: &'a M,
    ops: &'a [SearchOp<M::Op>],
    init: M::State,
    /// Resets by invoke: (invoke, complete or MAX, state set, op index).
    resets: Vec<(usize, usize, M::State, usize)>,
    /// Indices into `resets` of the unknown-outcome ones.
    open_resets: Vec<usize>,
    /// `ok` resets by completion: (complete, invoke), and the running maximum invoke.
    done: Vec<(usize, usize)>,
    max_invoke: Vec<usize>,
    longest: usize,
    /// `ok` non-resets that change something, by invoke; the unknown-outcome ones apart.
    others: Vec<usize>,
    open_others: Vec<usize>,
    longest_other: usize,
    /// Per op: its last-reset candidates once worked out (`None` inside: too many).
    cands: Vec<Option<Option<Vec<Start>>>>,
    /// Ops looked at that are left.
    work: usize,
}

impl<'a, M: Model> Ctx<'a, M> {
    /// Non-resets that may lie between an op invoked at `from` and one completing at
    /// `to`: invoked before `to` and not completed before `from`. `false` if there are
    /// too many or the work is used up.
    fn between(&mut self, from: usize, to: usize, out: &mut Vec<&'a M::Op>) -> bool {
        out.clear();
        let ops = self.ops;
        let end = self.others.partition_point(|&i| ops[i].invoke < to);
        let floor = from.saturating_sub(self.longest_other);
        let ok = self.others[..end]
            .iter()
            .rev()
            .take_while(|&&i| ops[i].invoke >= floor);
        let open = self.open_others.iter().take_while(|&&i| ops[i].invoke < to);
        for &i in ok.chain(open) {
            if self.work == 0 || out.len() == MAX_BETWEEN {
                return false;
            }
            self.work -= 1;
            if ops[i].complete.is_some_and(|c| c < from) {
                continue;
            }
            out.push(&ops[i].op);
        }
        true
    }

    /// The resets (or the initial state) that may be the last before read `r`, from whose
    /// state the model may reach `r`'s result with the non-resets that could lie between;
    /// `None` if there are too many to look at.
    fn cands(&mut self, r: usize, scratch: &mut Vec<&'a M::Op>) -> Option<Vec<Start>> {
        if let Some(c) = &self.cands[r] {
            return c.clone();
        }
        let c = self.work_out_cands(r, scratch);
        self.cands[r] = Some(c.clone());
        c
    }

    fn work_out_cands(&mut self, r: usize, scratch: &mut Vec<&'a M::Op>) -> Option<Vec<Start>> {
        let ops = self.ops;
        let read = &ops[r];
        let ret = read.complete?;
        let n_before = self.done.partition_point(|&(c, _)| c < read.invoke);
        let dominating = n_before.checked_sub(1).map(|k| self.max_invoke[k]);
        let mut out = Vec::new();
        if dominating.is_none() {
            if !self.between(0, ret, scratch) {
                return None;
            }
            if self
                .model
                .may_reach(&self.init, &read.op, &mut scratch.iter().copied())
            {
                out.push(Start::Init);
            }
        }
        // Undominated resets invoked before `ret`: ok ones completing at or after
        // `dominating` (invoked from `dominating - longest` on), and every open one.
        let end = self.resets.partition_point(|x| x.0 < ret);
        let from = dominating.map_or(0, |d| d.saturating_sub(self.longest));
        let start = self.resets.partition_point(|x| x.0 < from);
        let early_open = self.open_resets.iter().copied().take_while(|&k| k < start);
        let mut ks: Vec<usize> = early_open.chain(start..end).collect();
        ks.dedup();
        for k in ks {
            let (inv, comp, _, i) = self.resets[k];
            if comp != usize::MAX && dominating.is_some_and(|d| comp < d) {
                continue;
            }
            if out.len() == MAX_CANDIDATES || !self.between(inv, ret, scratch) {
                return None;
            }
            if self
                .model
                .may_reach(&self.resets[k].2, &read.op, &mut scratch.iter().copied())
            {
                out.push(Start::Reset(i));
            }
        }
        Some(out)
    }
}

/// The last-reset rule. In any linearization the state a read `s` sees is the state set
/// by the last reset before it (or the initial one), changed by non-resets only; so the
/// model must be able to reach `s`'s result from that reset's state, and every `ok` read
/// pin `r` (a read of one state) that completed before `s` began lies either between that
/// reset `X` and `s` (then `s`'s result must be reachable from `r`'s state by non-resets)
/// or before `X` (then `X` may follow `r` in real time, and `r` has a last reset of its
/// own other than `X`). A candidate `X` that some `r` fits on neither side of is not the
/// last reset before `s`; nor is one that is the only possible last reset of a read pin
/// `r` that completed before some reset that must precede `s` was invoked (then that
/// reset lies between `X` and `s`). When no candidate is left, `s` fits in no
/// linearization.
///
/// This is what refutes a read that returns a value some earlier read saw superseded
/// (kv: `p.a1.` read after a read of `p.a1.a2.` completed, with the put of `p.` the only
/// start either value can grow from), and a read of `p.` after a reset that must follow
/// an earlier read of `p.`: no unique values assumed, only what
/// [`Model::may_reach`] answers with certainty. Same costs as the last-pin rule.
pub(crate) fn superseded_read<M: Model>(model: &M, ops: &[SearchOp<M::Op>]) -> Option<usize> {
    let init = model.init();
    let is_reset: Vec<bool> = ops.iter().map(|o| model.is_blind_write(&o.op)).collect();
    let mut resets: Vec<(usize, usize, M::State, usize)> = Vec::new();
    // Read pins by completion: (complete, op index, state).
    let mut pins: Vec<(usize, usize, M::State)> = Vec::new();
    for (i, o) in ops.iter().enumerate() {
        if is_reset[i] {
            let s = model.step(&init, &o.op)?;
            resets.push((o.invoke, o.complete.unwrap_or(usize::MAX), s, i));
        } else if let (Some(c), Some(Access::Reads(s))) = (o.complete, model.register_access(&o.op))
        {
            pins.push((c, i, s));
        }
    }
    pins.sort_by_key(|p| (p.0, p.1));
    let Index {
        resets,
        open: open_resets,
        done,
        max_invoke,
        longest,
        others,
        open_others,
        longest_other,
    } = Index::new(model, ops, &is_reset, resets);
    let mut cx = Ctx {
        model,
        ops,
        init,
        resets,
        open_resets,
        done,
        max_invoke,
        longest,
        others,
        open_others,
        longest_other,
        cands: vec![None; ops.len()],
        work: WORK_PER_OP.saturating_mul(ops.len()).max(1 << 16),
    };
    let mut scratch: Vec<&M::Op> = Vec::new();
    for (s, read) in ops.iter().enumerate() {
        let Some(ret) = read.complete else {
            continue;
        };
        if !model.is_read_only(&read.op) {
            continue;
        }
        let Some(cs) = cx.cands(s, &mut scratch) else {
            if cx.work == 0 {
                return None;
            }
            continue;
        };
        // The latest invoke among ok resets that completed before `s` began.
        let n_before = cx.done.partition_point(|&(c, _)| c < read.invoke);
        let dominating = n_before.checked_sub(1).map(|k| cx.max_invoke[k]);
        let mut explained = false;
        for x in cs {
            // The read pins that completed after `X` was invoked and before `s` began
            // (one that completed before `X` was invoked lies before it, and has a last
            // reset of its own other than `X`, or the last-pin rule refutes it).
            let lo = match x {
                Start::Init => 0,
                Start::Reset(i) => ops[i].invoke,
            };
            let from = pins.partition_point(|p| p.0 < lo);
            let to = pins.partition_point(|p| p.0 < read.invoke);
            let mut contradicted = false;
            for &(r_complete, r, ref state) in &pins[from.min(to)..to] {
                if matches!(x, Start::Reset(_))
                    && dominating.is_some_and(|d| d > r_complete)
                    && cx.cands(r, &mut scratch).is_some_and(|cr| cr == [x])
                {
                    // `X` is `r`'s only possible last reset, so `X` lies before `r`; a
                    // reset invoked after `r` completed and completed before `s` began
                    // lies between `X` and `s`.
                    contradicted = true;
                    break;
                }
                if !cx.between(ops[r].invoke, ret, &mut scratch) {
                    break;
                }
                if model.may_reach(state, &read.op, &mut scratch.iter().copied()) {
                    // `r` may lie between `X` and `s`.
                    continue;
                }
                let before_x = match x {
                    Start::Init => false,
                    Start::Reset(i) => {
                        ops[i].complete.is_none_or(|c| c >= ops[r].invoke)
                            && cx
                                .cands(r, &mut scratch)
                                .is_none_or(|cr| cr.iter().any(|&y| y != x))
                    }
                };
                if !before_x {
                    contradicted = true;
                    break;
                }
            }
            if cx.work == 0 {
                return None;
            }
            if !contradicted {
                explained = true;
                break;
            }
        }
        if !explained {
            return Some(s);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Value;
    use crate::check::{self, Budget, Outcome};
    use crate::model::{BuiltinOp, Kv};

    fn put(v: &str, invoke: usize, complete: usize) -> SearchOp<BuiltinOp> {
        SearchOp {
            op: BuiltinOp::Write(Value::Str(v.into())),
            invoke,
            complete: Some(complete),
        }
    }
    fn append(v: &str, invoke: usize, complete: usize) -> SearchOp<BuiltinOp> {
        SearchOp {
            op: BuiltinOp::Append(v.into()),
            invoke,
            complete: Some(complete),
        }
    }
    fn get(v: &str, invoke: usize, complete: usize) -> SearchOp<BuiltinOp> {
        SearchOp {
            op: BuiltinOp::Read(Some(Value::Str(v.into()))),
            invoke,
            complete: Some(complete),
        }
    }
    fn kv() -> Kv {
        Kv {
            init: Value::Str(String::new()),
        }
    }
    /// The plain search's verdict (no reductions, no budget).
    fn linearizable(ops: &[SearchOp<BuiltinOp>]) -> bool {
        let plain = Budget {
            max_steps: None,
            deadline: None,
            max_memory: None,
            reduce: false,
            hide_after: crate::DEFAULT_HIDE_AFTER,
        };
        check::search(&kv(), ops, plain).outcome == Outcome::Linearizable
    }

    /// `p.a1.a2.` was read, completely, before a read of `p.a1.` began, and the put of
    /// `p.` is the only start both values grow from: the second read sees appends the
    /// first read saw superseded. The last-pin rule lets the put explain it (it is
    /// concurrent with both reads); the last-reset rule refutes it.
    fn superseded() -> Vec<SearchOp<BuiltinOp>> {
        vec![
            put("q.", 0, 1),
            put("p.", 2, 12),
            append("a1.", 3, 4),
            append("a2.", 5, 6),
            get("p.a1.a2.", 7, 8),
            get("p.a1.", 9, 11),
        ]
    }

    #[test]
    fn a_read_of_a_superseded_value_is_refuted() {
        let ops = superseded();
        assert!(!linearizable(&ops));
        assert_eq!(last_pin_rule(&kv(), &ops), None);
        assert_eq!(superseded_read(&kv(), &ops), Some(5));
        assert_eq!(unreachable_read(&kv(), &ops), Some(5));
    }

    #[test]
    fn a_second_put_of_the_same_value_explains_it() {
        // Values repeat: a second `p.` and a second `a1.` after the long read.
        let mut ops = superseded();
        ops[5] = get("p.a1.", 9, 17);
        ops.push(put("p.", 10, 13));
        ops.push(append("a1.", 14, 15));
        assert!(linearizable(&ops));
        assert_eq!(superseded_read(&kv(), &ops), None);
    }

    #[test]
    fn a_read_concurrent_with_the_longer_one_is_not_refuted() {
        let ops = vec![
            put("q.", 0, 1),
            put("p.", 2, 12),
            append("a1.", 3, 4),
            append("a2.", 5, 10),
            get("p.a1.", 6, 11),
            get("p.a1.a2.", 7, 8),
        ];
        assert!(linearizable(&ops));
        assert_eq!(superseded_read(&kv(), &ops), None);
    }

    /// `p.` was read, then a put of `w.` began after that read completed and completed
    /// before a second read of `p.` began: the only put of `p.` lies before the first
    /// read, so `w.` lies between it and the second read.
    fn reset_in_between() -> Vec<SearchOp<BuiltinOp>> {
        vec![
            put("q.", 0, 1),
            put("p.", 2, 9),
            get("p.", 3, 4),
            put("w.", 5, 6),
            get("p.", 7, 10),
        ]
    }

    #[test]
    fn a_reset_that_must_follow_the_only_start_refutes() {
        let ops = reset_in_between();
        assert!(!linearizable(&ops));
        assert_eq!(last_pin_rule(&kv(), &ops), None);
        assert_eq!(superseded_read(&kv(), &ops), Some(4));
    }

    #[test]
    fn a_second_start_after_the_reset_explains_it() {
        let mut ops = reset_in_between();
        ops[4] = get("p.", 7, 12);
        ops.push(put("p.", 8, 11));
        assert!(linearizable(&ops));
        assert_eq!(superseded_read(&kv(), &ops), None);
    }

    #[test]
    fn the_initial_state_is_no_start_when_the_appends_cannot_spell_the_value() {
        // Without the first put, the initial "" is a start unless the model sees that no
        // appends spell "p.a1." from it: kv's may_reach does (it once checked prefixes
        // only, and the rule could not fire here).
        let ops: Vec<_> = superseded().into_iter().skip(1).collect();
        assert!(!linearizable(&ops));
        assert_eq!(superseded_read(&kv(), &ops), Some(4));
        // With an append of "p." (and no longer read), "" + "p." + "a1." explains it.
        let ops = vec![
            put("p.", 2, 12),
            append("a1.", 3, 4),
            get("p.a1.", 9, 11),
            append("p.", 0, 13),
        ];
        assert!(linearizable(&ops));
        assert_eq!(unreachable_read(&kv(), &ops), None);
    }
}
