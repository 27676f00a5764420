//! The search: Wing & Gong's algorithm with Lowe's memoization ("Testing for
//! linearizability", 2017), as Porcupine does it, on one key at a time.
//!
//! * Calls and returns of the key's operations form a doubly-linked list in history order.
//!   Placing (linearizing) an op *lifts* its call and return out of the list; backtracking
//!   *unlifts* them. An unfinished or `info` op has no return entry: nothing forces it, so
//!   "never took effect" is simply "never placed".
//! * The search walks the list from the head. A call may be placed if the model accepts it
//!   in the current state. Reaching a return means that op can no longer be placed later,
//!   so the search backtracks. Success is when every `ok` op is placed.
//! * `(placed set, state)` pairs already explored are remembered; the placed set's hash is
//!   kept incrementally (XOR of per-op keys).
//! * Read-only ops that fit are placed without trying alternatives: moving a read to the
//!   front of any successful continuation keeps it successful, so if the continuation
//!   after the read fails, the whole node fails.
//! * The backtracking stack is an explicit `Vec`; nothing recurses on history size.
//! * Symmetry: of two interchangeable ops ([`Model::same_op`]) that could both go next,
//!   only the one that must complete first is tried (swapping the two in any successful
//!   continuation of the other keeps it successful). Many concurrent writes of one value
//!   cost a linear, not factorial, search.
//! * Unknown outcomes (Lowe's just-in-time idea): an `info` op is placed only if it
//!   changes what some op that could go next does (a read it lets succeed, a cas it
//!   swaps...), and the op placed right after it must be one it changes: otherwise the
//!   same continuation without it is at least as good. A pile of info writes costs a
//!   linear search. It also goes only where some later op may observe it
//!   ([`Model::may_observe`]): a read or a cas that answered `true` that could see what
//!   it set (through appends), or a cas that answered `false` that could see the state
//!   without it. Many info puts, appends and cas on one hot key cost a few thousand
//!   steps instead of an exponential search.
//! * The memo key is a window of the placed set: the ok ops are numbered in invoke order,
//!   every one below the lowest unplaced is placed, so only the words from there to the
//!   highest placed one are stored (plus a bitset of the info ops). Long histories cost
//!   memory and time per step in the concurrency, not the length.
//! * The read lookahead checks the reads among the next few returns after each op that
//!   changes the state (none after a read, which changes nothing it looks at), and every
//!   pending read in the first 16 levels: a read far ahead that no op can satisfy still
//!   kills the search at once, and a long history no longer pays a whole-history scan
//!   per step. "A few" follows the concurrency where the walk stands ([`near_returns`]):
//!   twice the calls before the first return, from 2 to 16.
//! * Witnesses ([`Model::may_reach_witness`]): the lookahead keeps, per read, why the
//!   model said "may reach" (for kv: a reset that sets the value, or a prefix and an
//!   append) and re-checks that in O(1) while the ops it names stay unplaced; the full
//!   lookahead stops past the last read whose witness may have broken.
//! * Unobserved writes ([`Model::hiding`]), after [`crate::CheckOptions::hide_after`]
//!   steps: in a dead state
//!   (no read can observe it), an op nobody observes is placed at once, like a read, and
//!   the memo keeps every dead state as one.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::time::Instant;

use crate::memo::{FastHasher, Interner, Memo};
use crate::model::{Hiding, Model, Witness};

const NIL: u32 = u32::MAX;
/// The memo's id for every dead state ([`Hiding::dead`]).
const DEAD: u32 = u32::MAX - 1;

/// One operation of one key, ready for the search.
pub(crate) struct SearchOp<O> {
    pub op: O,
    /// Event index of the invoke.
    pub invoke: usize,
    /// Event index of the `ok`; `None` for info and unfinished ops.
    pub complete: Option<usize>,
}

/// How a search ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Linearizable,
    NotLinearizable,
    OutOfSteps,
    OutOfTime,
    OutOfMemory,
}

pub(crate) struct SearchResult<S> {
    pub outcome: Outcome,
    pub steps: u64,
    /// The most ops placed at once (how far the search got).
    pub deepest: usize,
    /// For a failure: the longest sequence of placed ops found, each with the state after it.
    pub best: Vec<(usize, S)>,
}

#[derive(Clone, Copy)]
struct Entry {
    /// Index into the ops.
    op: u32,
    /// Return entry of a call (or `NIL`); unused on returns.
    ret: u32,
    is_call: bool,
    /// In the list (not lifted nor retired).
    linked: bool,
    prev: u32,
    next: u32,
}

struct List {
    e: Vec<Entry>,
}

impl List {
    fn first(&self) -> u32 {
        self.e[0].next
    }
    fn unlink(&mut self, i: u32) {
        self.e[i as usize].linked = false;
        let Entry { prev, next, .. } = self.e[i as usize];
        self.e[prev as usize].next = next;
        if next != NIL {
            self.e[next as usize].prev = prev;
        }
    }
    fn relink(&mut self, i: u32) {
        self.e[i as usize].linked = true;
        let Entry { prev, next, .. } = self.e[i as usize];
        self.e[prev as usize].next = i;
        if next != NIL {
            self.e[next as usize].prev = i;
        }
    }
    #[inline]
    fn lift(&mut self, call: u32) {
        self.unlink(call);
        let ret = self.e[call as usize].ret;
        if ret != NIL {
            self.unlink(ret);
        }
    }
    fn unlift(&mut self, call: u32) {
        let ret = self.e[call as usize].ret;
        if ret != NIL {
            self.relink(ret);
        }
        self.relink(call);
    }
}

/// Per op, the reads whose witness relies on it: singly linked lists sharing one pool
/// of nodes (with a free list), so that watching allocates nothing once the pool has
/// grown. The order within a list is not used.
struct Watchers {
    /// Per op: its first node, or `NIL`.
    head: Vec<u32>,
    /// Per node: the next node of its list (or of the free list), or `NIL`.
    next: Vec<u32>,
    /// Per node: the read.
    read: Vec<u32>,
    free: u32,
}

impl Watchers {
    fn new(n: usize) -> Watchers {
        Watchers {
            head: vec![NIL; n],
            next: Vec::new(),
            read: Vec::new(),
            free: NIL,
        }
    }
    fn is_empty(&self, x: usize) -> bool {
        self.head.get(x).is_none_or(|&h| h == NIL)
    }
    fn push(&mut self, x: usize, r: u32) {
        let k = if self.free != NIL {
            let k = self.free;
            self.free = self.next[k as usize];
            self.read[k as usize] = r;
            self.next[k as usize] = self.head[x];
            k
        } else {
            self.read.push(r);
            self.next.push(self.head[x]);
            (self.read.len() - 1) as u32
        };
        self.head[x] = k;
    }
    /// Takes read `r` off op `x`'s list (one copy: it is there at most once).
    fn remove(&mut self, x: usize, r: u32) {
        let mut prev = NIL;
        let mut k = self.head[x];
        while k != NIL {
            let after = self.next[k as usize];
            if self.read[k as usize] == r {
                if prev == NIL {
                    self.head[x] = after;
                } else {
                    self.next[prev as usize] = after;
                }
                self.next[k as usize] = self.free;
                self.free = k;
                return;
            }
            prev = k;
            k = after;
        }
    }
    /// Empties op `x`'s list into `out`.
    fn take(&mut self, x: usize, out: &mut Vec<u32>) {
        let mut k = self.head[x];
        self.head[x] = NIL;
        while k != NIL {
            out.push(self.read[k as usize]);
            let after = self.next[k as usize];
            self.next[k as usize] = self.free;
            self.free = k;
            k = after;
        }
    }
}

/// A set of entries (the reads the full lookahead must look at), as a bitset: the
/// lookahead changes it at every step and asks for its last member only in the first
/// levels, so inserting and removing are O(1) and `last` scans down from a bound on the
/// highest word in use (lowered as it goes).
struct Attention {
    words: Vec<u64>,
    /// No word at or above this one has a bit set.
    hi: usize,
}

impl Attention {
    fn new(entries: usize) -> Attention {
        Attention {
            words: vec![0; entries.div_ceil(64)],
            hi: 0,
        }
    }
    fn insert(&mut self, e: u32) {
        let w = e as usize / 64;
        self.words[w] |= 1 << (e % 64);
        self.hi = self.hi.max(w + 1);
    }
    fn remove(&mut self, e: u32) {
        self.words[e as usize / 64] &= !(1 << (e % 64));
    }
    /// The highest member, or 0 when there is none.
    fn last(&mut self) -> u32 {
        while self.hi > 0 {
            let w = self.words[self.hi - 1];
            if w != 0 {
                return ((self.hi - 1) * 64 + 63 - w.leading_zeros() as usize) as u32;
            }
            self.hi -= 1;
        }
        0
    }
}

/// The ops' calls and returns, `(event index, op, is_call)`, in the order of the tuples:
/// the calls and the returns each sorted (skipped when they already are, as the ops of a
/// history usually come in invoke order and complete nearly in it), then merged. The
/// same list as sorting them all at once ([`tests::entry_order_is_the_sorted_list`]).
/// The flag is left out while sorting and merging: a call and a return of the same op at
/// the same event index are the only tuples it orders, and the merge puts the return
/// first, as `false < true` does.
fn entry_order<O>(ops: &[SearchOp<O>]) -> Vec<(usize, u32, bool)> {
    let mut rets: Vec<(usize, u32)> = Vec::with_capacity(ops.len());
    for (i, op) in ops.iter().enumerate() {
        if let Some(c) = op.complete {
            rets.push((c, i as u32));
        }
    }
    if !rets.is_sorted() {
        sort_nearly_sorted(&mut rets);
    }
    let call = |(i, op): (usize, &SearchOp<O>)| (op.invoke, i as u32);
    if ops.is_sorted_by_key(|o| o.invoke) {
        // In invoke order, and ties in op order: the calls are sorted already.
        merge_entries(ops.iter().enumerate().map(call), &rets)
    } else {
        let mut calls: Vec<(usize, u32)> = ops.iter().enumerate().map(call).collect();
        calls.sort_unstable();
        merge_entries(calls.into_iter(), &rets)
    }
}

/// [`entry_order`]'s merge of the sorted calls and returns (see there).
fn merge_entries(
    calls: impl ExactSizeIterator<Item = (usize, u32)>,
    rets: &[(usize, u32)],
) -> Vec<(usize, u32, bool)> {
    let mut order = Vec::with_capacity(calls.len() + rets.len());
    let mut b = 0;
    for c in calls {
        while let Some(&r) = rets.get(b).filter(|&&r| r <= c) {
            order.push((r.0, r.1, false));
            b += 1;
        }
        order.push((c.0, c.1, true));
    }
    order.extend(rets[b..].iter().map(|&(e, i)| (e, i, false)));
    order
}

/// Sorts `v` as `sort_unstable` would (its items are distinct, so any sort gives the same
/// list): an insertion pass, linear for data a few places from sorted (the returns of a
/// history with a few clients), falling back to `sort_unstable` once it has moved more
/// than a few items per item.
fn sort_nearly_sorted<T: Ord + Copy>(v: &mut [T]) {
    let mut budget = v.len().saturating_mul(8);
    for i in 1..v.len() {
        let x = v[i];
        let mut j = i;
        while j > 0 && x < v[j - 1] {
            if budget == 0 {
                v[j] = x;
                v.sort_unstable();
                return;
            }
            budget -= 1;
            v[j] = v[j - 1];
            j -= 1;
        }
        v[j] = x;
    }
}

/// A state's hash for [`Search::intern`] (fixed hasher, no random seed).
fn state_hash<S: std::hash::Hash>(s: &S) -> u64 {
    use std::hash::BuildHasher;
    BuildHasherDefault::<FastHasher>::default().hash_one(s)
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

struct Frame {
    call: u32,
    /// State id before the op was placed.
    state: u32,
    /// Placed greedily (read-only): if what follows fails, this node fails too.
    forced: bool,
    /// `lo` and `hi` before the op was placed.
    lo: u32,
    hi: u32,
    /// Length of the retired list before the node this op leads to.
    retired: u32,
}

/// After any other op, the lookahead looks at the reads among the next returns: twice as
/// many as there are calls before the first return (the ops that could go next), from
/// [`MIN_NEAR_RETURNS`] to [`MAX_NEAR_RETURNS`]...
///
/// A read further ahead than that has more ops before its return than could go next now,
/// and rarely dies of this one op; when it does, the search still finds out on the way
/// (at the latest at its return). With few ops at a time (a history of many keys, one or
/// two clients on each) the horizon is a few returns, not 16: on kv-5000-5-keys that cut
/// the whole check by a sixth, in as many steps within 6%. With many (20-40 clients on
/// one key) it stays at 16, where a shorter one costs ten times the steps.
fn near_returns(calls_before_first_return: usize) -> usize {
    (2 * calls_before_first_return).clamp(MIN_NEAR_RETURNS, MAX_NEAR_RETURNS)
}

/// The fewest returns [`near_returns`] looks at.
const MIN_NEAR_RETURNS: usize = 2;
/// The most returns [`near_returns`] looks at. More pruned hardly any more on crowded kv
/// keys and cost Porcupine's etcd histories 2-4% (the horizon goes up to 32 there).
const MAX_NEAR_RETURNS: usize = 16;

/// ...and at every pending read when [`full_lookahead`] says so.
fn full_lookahead(depth: usize) -> bool {
    depth <= 16
}

/// Past this many ops not placed yet, [`Search::may_be_observed`] does not ask the model.
const OBSERVE_MAX_OPS: usize = 1024;

/// Limits on one search.
#[derive(Clone, Copy)]
pub(crate) struct Budget {
    pub max_steps: Option<u64>,
    pub deadline: Option<Instant>,
    /// Bytes the memo and the interned states may hold.
    pub max_memory: Option<u64>,
    /// Symmetry and unknown-outcome reductions on (off only to test them against the
    /// plain search).
    pub reduce: bool,
    /// With `reduce`: the unobserved-write rule ([`Model::hiding`]) starts after this
    /// many steps ([`crate::CheckOptions::hide_after`]).
    pub hide_after: u64,
}

/// How often (in steps) the clock is read.
const CLOCK_EVERY: u64 = 64;
/// How often (in steps) memory is measured.
const MEMORY_EVERY: u64 = 1024;

/// The placed set, split in two index spaces: ok ops numbered in invoke order (`slot`),
/// and info ops. Every ok op below `lo` is placed; none at or above `hi` is.
struct Placed {
    ok: Vec<u64>,
    info: Vec<u64>,
    lo: u32,
    hi: u32,
    /// Per op: its number in its own space.
    slot: Vec<u32>,
    is_info: Vec<bool>,
    /// Number of ok ops.
    n_ok: u32,
}

impl Placed {
    fn get(&self, i: usize) -> bool {
        let s = self.slot[i] as usize;
        let w = if self.is_info[i] {
            &self.info
        } else {
            &self.ok
        };
        w[s / 64] & (1 << (s % 64)) != 0
    }
    fn flip(&mut self, i: usize) {
        let s = self.slot[i] as usize;
        let w = if self.is_info[i] {
            &mut self.info
        } else {
            &mut self.ok
        };
        w[s / 64] ^= 1 << (s % 64);
    }
    /// Marks op `i` placed and moves `lo`/`hi` (the caller saved them).
    #[inline]
    fn place(&mut self, i: usize) {
        self.flip(i);
        if self.is_info[i] {
            return;
        }
        let s = self.slot[i];
        self.hi = self.hi.max(s + 1);
        if s == self.lo {
            let mut lo = s + 1;
            while lo < self.n_ok {
                let w = self.ok[lo as usize / 64] >> (lo % 64);
                if w != u64::MAX >> (lo % 64) {
                    lo += (!w).trailing_zeros();
                    break;
                }
                lo = (lo / 64 + 1) * 64;
            }
            self.lo = lo.min(self.n_ok);
        }
    }
    /// The memo key: the window of ok words from `lo`'s word to `hi`'s, then the info
    /// bits, in three parts (a header `[from, words]` written into `head`, the window, the
    /// info bits) for [`Memo::insert_parts`].
    #[inline]
    fn key<'k>(&'k self, head: &'k mut [u64; 2]) -> [&'k [u64]; 3] {
        let from = self.lo as usize / 64;
        let to = (self.hi as usize).div_ceil(64).max(from);
        *head = [from as u64, (to - from) as u64];
        [&head[..], &self.ok[from..to], &self.info]
    }
}

/// Searches for a linearization of `ops` (one key) from the model's initial state.
///
/// Hash maps here are used only for lookups (memo, state interning and symmetry
/// classes); nothing iterates over them, so the result is deterministic.
pub(crate) fn search<M: Model>(
    model: &M,
    ops: &[SearchOp<M::Op>],
    budget: Budget,
) -> SearchResult<M::State> {
    search_from(model, ops, budget, &model.init(), None)
}

/// Every state a piece of history may end in, for [`search_from`]'s enumeration.
pub(crate) struct Ends<S> {
    /// In the order found (deterministic), each once.
    pub states: Vec<S>,
    /// The same, for lookups only (never iterated).
    seen: HashMap<S, (), BuildHasherDefault<FastHasher>>,
    /// Past this many states the enumeration stops, with `overflow` set.
    pub max: usize,
    pub overflow: bool,
}

impl<S> Ends<S> {
    pub(crate) fn new(max: usize) -> Ends<S> {
        Ends {
            states: Vec::new(),
            seen: HashMap::default(),
            max,
            overflow: false,
        }
    }
}

/// [`search`] from `start`. With `ends`, the ops must all be `ok` (no info or unfinished
/// ops): the search does not stop at the first linearization but records the state each
/// one ends in (once) and goes on until it has explored everything (`NotLinearizable`
/// then means "exhausted"; `ends` says what was found). The reductions stay sound for
/// this: each one replaces a linearization by another of the same ops, ending in the same
/// state.
pub(crate) fn search_from<M: Model>(
    model: &M,
    ops: &[SearchOp<M::Op>],
    budget: Budget,
    start: &M::State,
    ends: Option<&mut Ends<M::State>>,
) -> SearchResult<M::State> {
    debug_assert!(ends.is_none() || ops.iter().all(|o| o.complete.is_some()));
    // Moving a hiding op changes where a linearization may end: not while enumerating ends.
    let hide = ends.is_none();
    let tuning = Tuning {
        hide_after: budget.hide_after,
        witnesses: true,
    };
    Search::new(model, ops, budget, start, hide, tuning).run(ends)
}

/// Knobs that change the search's cost but never its answers' soundness; tests turn them
/// to compare the search with itself.
#[derive(Clone, Copy)]
struct Tuning {
    /// The unobserved-write rule ([`Model::hiding`]) starts after this many steps.
    hide_after: u64,
    /// The lookahead keeps [`Witness`]es and re-checks them before asking the model.
    witnesses: bool,
}

/// One search: the tables built once from the key's ops, and the walk's state (the
/// list, the placed set, the stack, the memo, where the walk is), which only its
/// methods change.
struct Search<'a, M: Model> {
    model: &'a M,
    ops: &'a [SearchOp<M::Op>],
    budget: Budget,

    // Built once.
    /// Per op: its call entry in `list`.
    call_entry: Vec<u32>,
    /// Per entry: its event index (0 for the head).
    entry_event: Vec<usize>,
    /// Per op: its share of the placed set's hash.
    op_key: Vec<u64>,
    read_only: Vec<bool>,
    blind: Vec<bool>,
    /// Per ok blind write: the state id it leads to, once placed (else `NIL`).
    blind_state: Vec<u32>,
    /// Per op: its symmetry class, or `NIL`.
    class: Vec<u32>,
    /// Unobserved writes ([`Model::hiding`]): in a dead state, an `ok` op that hides is
    /// placed at once, like a read.
    hiding: Option<Box<dyn Hiding<M::State> + 'a>>,
    /// The rule may be used (not while enumerating ends, nor in the plain search), and
    /// [`Model::hiding`] was not asked yet.
    hiding_pending: bool,
    tuning: Tuning,
    /// Per op: the lookahead's [`Witness`] for a read, if one was given.
    witness: Vec<Option<Witness>>,
    /// How often a witness spared the model's lookahead (for the tests).
    witness_hits: u64,
    /// Per op: the reads whose witness relies on it (some may rely on it no more).
    watchers: Watchers,
    /// Scratch: the reads of a list [`Search::watched_op_gone`] empties.
    gone: Vec<u32>,
    /// Reads whose witness may have lost an op (one was unlinked since it was made): the
    /// full lookahead must look at them again. `suspect_max` is the last return entry of
    /// theirs.
    suspects: Vec<u32>,
    in_suspects: Vec<bool>,
    suspect_max: u32,
    /// Per read: on the watchers' lists of its witness's ops.
    registered: Vec<bool>,
    /// Return entries of the reads the full lookahead must always look at: no witness,
    /// or one that needs the state.
    attention: Attention,
    /// Per entry: the calls before it in the whole list.
    calls_before: Vec<u32>,
    /// Calls not in the list now (placed or retired).
    unlinked_calls: u32,
    /// The largest `min_others` of a witness given so far.
    max_min_others: u32,

    /// Per state id: 0 not worked out, 1 dead, 2 not.
    dead: Vec<u8>,
    /// Per info blind write: where it retires (see [`Search::new`]).
    until: Vec<usize>,
    retire_order: Vec<u32>,

    // The walk.
    list: List,
    placed: Placed,
    /// Hash of the placed set (XOR of `op_key`s).
    bits_hash: u64,
    /// `ok` ops not placed yet.
    remaining: usize,
    /// Retired entries in order: (call entry, whether it was unlinked).
    retired: Vec<(u32, bool)>,
    /// Per class, the best-ranked candidate of the current node (valid when the stamp is).
    class_stamp: Vec<u64>,
    class_best: Vec<u32>,
    stamp: u64,
    /// Candidates of the current node that are not blind writes (worked out only when
    /// there are info ops: only placing one asks for them).
    observers: Vec<u32>,
    any_info: bool,
    /// The state before the last placed op, if that op was an info op.
    after_info: Option<u32>,
    /// The node's candidates must be worked out again (entered or resumed).
    fresh: bool,
    /// The node was just entered (not resumed after a backtrack).
    entering: bool,
    /// The entry the walk is at.
    entry: u32,
    /// State id of the current state.
    state: u32,
    stack: Vec<Frame>,
    steps: u64,

    /// The table of the interned states (`states`, below): looked up, never iterated,
    /// with a fixed hasher (no random seed), so it cannot make the search or its report
    /// depend on anything but the history. Each state is stored once, in `states`.
    interned: Interner,
    memo: Memo,
    /// Scratch: the lookahead's calls.
    scratch: Vec<u32>,
    /// Scratch: the lookahead's calls with their ops (the witnesses' lookahead hands
    /// them to the model without an index into `ops` per op and question).
    scratch_ops: Vec<(u32, &'a M::Op)>,

    /// The longest placed sequence seen: call entries, and the state after each.
    best: Vec<(u32, u32)>,
    /// How many leading frames of `stack` are the same ops as `best`'s.
    agree: usize,
    /// Interned states: the memo and the stack hold small ids (dropped last, after the
    /// large tables above; on kv-5000-5-keys this changed the instruction count by
    /// under 0.1%).
    states: Vec<M::State>,
}

impl<'a, M: Model> Search<'a, M> {
    fn new(
        model: &'a M,
        ops: &'a [SearchOp<M::Op>],
        budget: Budget,
        start: &M::State,
        hide: bool,
        tuning: Tuning,
    ) -> Search<'a, M> {
        // Build the entry list in history order: (event index, entry).
        let order = entry_order(ops);
        let mut list = List {
            e: Vec::with_capacity(order.len() + 1),
        };
        list.e.push(Entry {
            op: NIL,
            ret: NIL,
            is_call: false,
            linked: true,
            prev: NIL,
            next: NIL,
        });
        let mut call_entry = vec![NIL; ops.len()];
        for (pos, &(_, op, is_call)) in order.iter().enumerate() {
            let idx = pos as u32 + 1;
            list.e.push(Entry {
                op,
                ret: NIL,
                is_call,
                linked: true,
                prev: idx - 1,
                next: if pos + 1 < order.len() { idx + 1 } else { NIL },
            });
            if is_call {
                call_entry[op as usize] = idx;
            } else {
                let c = call_entry[op as usize];
                list.e[c as usize].ret = idx;
            }
        }
        list.e[0].next = if order.is_empty() { NIL } else { 1 };
        let entry_event: Vec<usize> = std::iter::once(0)
            .chain(order.iter().map(|o| o.0))
            .collect();

        let n = ops.len();
        let op_key: Vec<u64> = (0..n as u64).map(splitmix).collect();
        let read_only: Vec<bool> = ops.iter().map(|o| model.is_read_only(&o.op)).collect();
        let blind: Vec<bool> = ops.iter().map(|o| model.is_blind_write(&o.op)).collect();
        let remaining = ops.iter().filter(|o| o.complete.is_some()).count();

        // Index spaces for the memo key: ok ops in invoke order, then info ops.
        let mut by_invoke: Vec<usize> = (0..n).collect();
        if !ops.is_sorted_by_key(|o| o.invoke) {
            by_invoke.sort_by_key(|&i| ops[i].invoke);
        }
        let mut placed = Placed {
            ok: Vec::new(),
            info: Vec::new(),
            lo: 0,
            hi: 0,
            slot: vec![0; n],
            is_info: ops.iter().map(|o| o.complete.is_none()).collect(),
            n_ok: 0,
        };
        let mut n_info = 0u32;
        for &i in &by_invoke {
            if placed.is_info[i] {
                placed.slot[i] = n_info;
                n_info += 1;
            } else {
                placed.slot[i] = placed.n_ok;
                placed.n_ok += 1;
            }
        }
        placed.ok = vec![0; (placed.n_ok as usize).div_ceil(64)];
        placed.info = vec![0; (n_info as usize).div_ceil(64)];

        // Symmetry classes of state-changing ops; rank = (completion, index): the one that
        // must complete first goes first.
        let mut class = vec![NIL; n];
        let n_classes;
        {
            // The classes are interned by op hash as the states are: a class's id is the
            // order of its first op (its representative), and an op joins the class of
            // the representative with its hash that is the same op (at most one is: the
            // representatives are pairwise different ops).
            let mut classes = Interner::with_capacity(n);
            let mut rep: Vec<u32> = Vec::new();
            for i in 0..n {
                if read_only[i] {
                    continue;
                }
                let Some(h) = model.op_hash(&ops[i].op) else {
                    continue;
                };
                let same = |c: u32| model.same_op(&ops[rep[c as usize] as usize].op, &ops[i].op);
                class[i] = match classes.find_or_add(h, same) {
                    Ok(c) => c,
                    Err(c) => {
                        rep.push(i as u32);
                        c
                    }
                };
            }
            n_classes = rep.len() as u32;
        }

        // Retiring info blind writes: such a write matters only just before an op it
        // changes (one that accepts the state it sets, or any op that is not a blind write
        // and is not read-only). Once every such op is placed, it can never be placed
        // usefully again, so it leaves the list (and comes back on backtracking). `until`
        // is one past the last return of such an op (`usize::MAX` if one has none); an op
        // retires when the first unplaced return is past it.
        let mut until = vec![usize::MAX; n];
        let mut retire_order: Vec<u32> = Vec::new();
        if budget.reduce {
            let blind_info: Vec<usize> =
                (0..n).filter(|&i| blind[i] && placed.is_info[i]).collect();
            let observers_all: Vec<usize> = (0..n).filter(|&i| !blind[i]).collect();
            let init = model.init();
            // Distinct states the blind info writes set (interned locally).
            let mut set_ids: HashMap<M::State, usize, BuildHasherDefault<FastHasher>> =
                HashMap::default();
            let mut set_until: Vec<usize> = Vec::new();
            let work = blind_info.len().saturating_mul(observers_all.len());
            if work <= 50_000_000 {
                for &x in &blind_info {
                    let Some(v) = model.step(&init, &ops[x].op) else {
                        continue;
                    };
                    let u = if let Some(&j) = set_ids.get(&v) {
                        set_until[j]
                    } else {
                        let mut u = 0usize;
                        for &y in &observers_all {
                            let matters = if read_only[y] {
                                model.accepts(&v, &ops[y].op)
                            } else {
                                model.step(&v, &ops[y].op).is_some()
                            };
                            if matters {
                                u = u.max(ops[y].complete.map_or(usize::MAX, |c| c + 1));
                            }
                        }
                        set_ids.insert(v, set_until.len());
                        set_until.push(u);
                        u
                    };
                    until[x] = u;
                    if u != usize::MAX {
                        retire_order.push(x as u32);
                    }
                }
            }
            retire_order.sort_by_key(|&x| (until[x as usize], x));
        }

        // The witnesses' tables, for a model that gives them. Every ok read starts
        // without a witness.
        let witnesses = tuning.witnesses && model.gives_witnesses();
        let tuning = Tuning {
            witnesses,
            ..tuning
        };
        let wn = if witnesses { n } else { 0 };
        let mut attention = Attention::new(if witnesses { list.e.len() } else { 0 });
        for i in (0..wn).filter(|&i| read_only[i] && ops[i].complete.is_some()) {
            attention.insert(list.e[call_entry[i] as usize].ret);
        }
        let mut calls_before = Vec::new();
        if witnesses {
            calls_before.reserve(list.e.len());
            let mut c = 0u32;
            for e in &list.e {
                calls_before.push(c);
                c += u32::from(e.is_call && e.op != NIL);
            }
        }

        let states: Vec<M::State> = vec![start.clone()];
        // Sized for a state per op (the table's memory is not what the bound counts:
        // `Interner::map_capacity` is).
        let mut interned = Interner::with_capacity(n);
        let first = interned.find_or_add(state_hash(start), |_| false);
        debug_assert_eq!(first, Err(0));
        let entry = list.first();
        Search {
            model,
            ops,
            budget,
            call_entry,
            entry_event,
            op_key,
            read_only,
            blind_state: vec![NIL; n],
            blind,
            class,
            hiding: None,
            hiding_pending: budget.reduce && hide,
            tuning,
            witness: vec![None; wn],
            witness_hits: 0,
            watchers: Watchers::new(wn),
            gone: Vec::new(),
            suspects: Vec::new(),
            in_suspects: vec![false; wn],
            suspect_max: 0,
            registered: vec![false; wn],
            attention,
            calls_before,
            unlinked_calls: 0,
            max_min_others: 0,

            dead: Vec::new(),
            until,
            retire_order,
            list,
            placed,
            bits_hash: 0,
            remaining,
            retired: Vec::new(),
            class_stamp: vec![0; n_classes as usize],
            class_best: vec![0; n_classes as usize],
            stamp: 0,
            observers: Vec::new(),
            any_info: n_info > 0,
            after_info: None,
            fresh: true,
            entering: true,
            entry,
            state: 0,
            stack: Vec::new(),
            steps: 0,
            interned,
            memo: Memo::new(),
            scratch: Vec::with_capacity(n),
            scratch_ops: Vec::new(),
            // At most one entry per op: never grown.
            best: Vec::with_capacity(n),
            agree: 0,
            states,
        }
    }

    /// Runs the search to its end (see [`search_from`]).
    fn run(&mut self, mut ends: Option<&mut Ends<M::State>>) -> SearchResult<M::State> {
        if self.dead_end(true) {
            return self.finish(Outcome::NotLinearizable, 1);
        }
        loop {
            if self.remaining == 0 {
                let Some(ends) = ends.as_deref_mut() else {
                    break;
                };
                // One linearization found: record where it ends, then look for others.
                if !self.record_end(ends) {
                    return self.finish(Outcome::OutOfSteps, self.steps);
                }
                if !self.backtrack() {
                    return self.finish(Outcome::NotLinearizable, self.steps);
                }
                continue;
            }
            self.steps += 1;
            if let Some(out) = self.over_budget() {
                return out;
            }
            if self.entry == NIL {
                // Only calls without returns are left: every ok op is placed.
                break;
            }
            if self.fresh {
                self.enter_node();
            }
            if self.step() && !self.backtrack() {
                return self.finish(Outcome::NotLinearizable, self.steps);
            }
        }
        self.finish(Outcome::Linearizable, self.steps)
    }

    /// The result; a linearizable one carries no best prefix.
    fn finish(&self, outcome: Outcome, steps: u64) -> SearchResult<M::State> {
        let best: &[(u32, u32)] = if outcome == Outcome::Linearizable {
            &[]
        } else {
            &self.best
        };
        SearchResult {
            outcome,
            steps,
            deepest: best.len(),
            best: best
                .iter()
                .map(|&(call, s)| {
                    (
                        self.list.e[call as usize].op as usize,
                        self.states[s as usize].clone(),
                    )
                })
                .collect(),
        }
    }

    /// Records the end state of the linearization just found; `false` (with `overflow`
    /// set) when there are already `ends.max` others.
    fn record_end(&self, ends: &mut Ends<M::State>) -> bool {
        let end = &self.states[self.state as usize];
        if !ends.seen.contains_key(end) {
            if ends.states.len() == ends.max {
                ends.overflow = true;
                return false;
            }
            ends.seen.insert(end.clone(), ());
            ends.states.push(end.clone());
        }
        true
    }

    /// The result to end with if a budget ran out at this step.
    fn over_budget(&self) -> Option<SearchResult<M::State>> {
        let steps = self.steps;
        let budget = &self.budget;
        if budget.max_steps.is_some_and(|m| steps > m) {
            return Some(self.finish(Outcome::OutOfSteps, steps - 1));
        }
        if steps % CLOCK_EVERY == 1 && budget.deadline.is_some_and(|d| Instant::now() >= d) {
            return Some(self.finish(Outcome::OutOfTime, steps));
        }
        if steps % MEMORY_EVERY == 0
            && budget.max_memory.is_some_and(|m| {
                let held = self.memo.bytes()
                    + (self.states.capacity() * std::mem::size_of::<M::State>()
                        + self.interned.map_capacity() * (std::mem::size_of::<M::State>() + 12)
                        + self.stack.capacity() * std::mem::size_of::<Frame>())
                        as u64;
                held > m
            })
        {
            return Some(self.finish(Outcome::OutOfMemory, steps));
        }
        None
    }

    /// The order among interchangeable ops: the one that must complete first goes first.
    fn rank(&self, i: usize) -> (usize, usize) {
        (self.ops[i].complete.unwrap_or(usize::MAX), i)
    }

    /// A node entered or resumed: retires what can no longer matter, and works out its
    /// candidates (the calls before the first return), the best of each symmetry class,
    /// and which ones observe the state.
    fn enter_node(&mut self) {
        self.fresh = false;
        if self.retired.len() < self.retire_order.len() {
            self.retire();
        }
        if self.entering {
            // Retiring may have unlinked the first entry.
            self.entry = self.list.first();
        }
        self.stamp += 1;
        self.observers.clear();
        let mut at = self.list.first();
        while at != NIL && self.list.e[at as usize].is_call {
            let y = self.list.e[at as usize].op as usize;
            let c = self.class[y];
            if c != NIL {
                let c = c as usize;
                if self.class_stamp[c] != self.stamp
                    || self.rank(y) < self.rank(self.class_best[c] as usize)
                {
                    self.class_stamp[c] = self.stamp;
                    self.class_best[c] = y as u32;
                }
            }
            if self.any_info && !self.blind[y] {
                self.observers.push(y as u32);
            }
            at = self.list.e[at as usize].next;
        }
        self.after_info = self.stack.last().and_then(|f| {
            let x = self.list.e[f.call as usize].op as usize;
            self.placed.is_info[x].then_some(f.state)
        });
    }

    /// [`Search::enter_node`]'s retiring, when some info blind write may still retire.
    fn retire(&mut self) {
        let mut at = self.list.first();
        while at != NIL && self.list.e[at as usize].is_call {
            at = self.list.e[at as usize].next;
        }
        let first_return = if at == NIL {
            usize::MAX
        } else {
            self.entry_event[at as usize]
        };
        while let Some(&x) = self.retire_order.get(self.retired.len()) {
            let x = x as usize;
            if self.until[x] > first_return {
                break;
            }
            let c = self.call_entry[x];
            let unlink = !self.placed.get(x);
            if unlink {
                self.list.unlink(c);
                self.unlinked_calls += 1;
                self.watched_op_gone(x);
            }
            self.retired.push((c, unlink));
        }
    }

    /// The state id after placing op `i` now, or `None` if it may not go here (the model
    /// rejects it, or a reduction says another choice covers it).
    fn next_state(&mut self, i: usize) -> Option<u32> {
        let model = self.model;
        let op = &self.ops[i].op;
        let here = &self.states[self.state as usize];
        if self.read_only[i] {
            return model.accepts(here, op).then_some(self.state);
        }
        let reduce = self.budget.reduce;
        if reduce && self.class[i] != NIL && self.class_best[self.class[i] as usize] != i as u32 {
            // An interchangeable op that must complete sooner is tried instead.
            return None;
        }
        if reduce && self.after_info.is_some() && self.blind[i] {
            // It would erase the info op just placed: try it without that op.
            return None;
        }
        // An ok blind write leads where it did last time, if it went before: its state
        // does not depend on the state (`is_blind_write`'s promise), and the reductions
        // below are for info ops and what follows them.
        let cache = self.blind[i] && !self.placed.is_info[i];
        if cache && self.blind_state[i] != NIL {
            return Some(self.blind_state[i]);
        }
        let next = model.step(here, op)?;
        if reduce {
            // After an info op, only what that op changes may follow.
            if let Some(before) = self.after_info {
                if model.step(&self.states[before as usize], op).as_ref() == Some(&next) {
                    return None;
                }
            }
            // An info op only goes where it changes what may follow.
            if self.placed.is_info[i]
                && !(next != *here
                    && self.observers.iter().any(|&y| {
                        let y = y as usize;
                        let other = &self.ops[y].op;
                        y != i
                            && if self.read_only[y] {
                                model.accepts(&next, other)
                            } else {
                                model
                                    .step(&next, other)
                                    .is_some_and(|t| model.step(here, other).as_ref() != Some(&t))
                            }
                    }))
            {
                return None;
            }
            // An info op only goes where some later op may observe it.
            if self.placed.is_info[i] && !self.may_be_observed(i, &next) {
                return None;
            }
        }
        let id = self.intern(next);
        if cache {
            self.blind_state[i] = id;
        }
        Some(id)
    }

    /// [`Model::may_observe`] for info op `i` placed now (taking the state to `next`), with
    /// every op not placed yet as the later ops; `true` (no reduction) past
    /// [`OBSERVE_MAX_OPS`] of them.
    fn may_be_observed(&self, i: usize, next: &M::State) -> bool {
        let e = &self.list.e;
        let mut count = 0;
        let mut at = self.list.first();
        while at != NIL {
            count += usize::from(e[at as usize].is_call);
            at = e[at as usize].next;
        }
        if count > OBSERVE_MAX_OPS {
            return true;
        }
        let ops = self.ops;
        let mut at = self.list.first();
        let mut later = std::iter::from_fn(|| {
            while at != NIL {
                let x = e[at as usize];
                at = x.next;
                if x.is_call && x.op as usize != i {
                    return Some(&ops[x.op as usize].op);
                }
            }
            None
        });
        self.model
            .may_observe(&self.states[self.state as usize], next, &mut later)
    }

    fn intern(&mut self, s: M::State) -> u32 {
        let h = state_hash(&s);
        let states = &self.states;
        match self.interned.find_or_add(h, |id| states[id as usize] == s) {
            Ok(id) => id,
            Err(id) => {
                debug_assert_eq!(id as usize, self.states.len());
                self.states.push(s);
                id
            }
        }
    }

    /// One step at `entry`: tries to place the call there, or meets a return. `true` when
    /// the node fails and the walk must backtrack.
    fn step(&mut self) -> bool {
        let e = self.list.e[self.entry as usize];
        if !e.is_call {
            return true;
        }
        let i = e.op as usize;
        let forced = self.read_only[i] || self.hides_now(i);
        let Some(next_id) = self.next_state(i) else {
            self.entry = e.next;
            return false;
        };
        let (lo, hi) = (self.placed.lo, self.placed.hi);
        self.placed.place(i);
        self.bits_hash ^= self.op_key[i];
        let memo_id = self.memo_state(next_id);
        let hash = self.bits_hash ^ splitmix(u64::from(memo_id) ^ 0x5555);
        let mut head = [0; 2];
        if !self
            .memo
            .insert_parts(hash, memo_id, self.placed.key(&mut head))
        {
            self.placed.flip(i);
            self.placed.lo = lo;
            self.placed.hi = hi;
            self.bits_hash ^= self.op_key[i];
            self.entry = e.next;
            // A read that fits leads to an explored (failed) node: so does this.
            return forced;
        }
        if self.agree == self.stack.len()
            && self
                .best
                .get(self.agree)
                .is_some_and(|&(c, _)| c == self.entry)
        {
            self.agree += 1;
        }
        self.stack.push(Frame {
            call: self.entry,
            state: self.state,
            forced,
            lo,
            hi,
            retired: self.retired.len() as u32,
        });
        self.state = next_id;
        self.list.lift(self.entry);
        self.unlinked_calls += 1;
        self.watched_op_gone(i);
        if self.ops[i].complete.is_some() {
            self.remaining -= 1;
        }
        if self.stack.len() > self.best.len() {
            // Frames hold the state *before* each op.
            self.best.truncate(self.agree);
            for k in self.agree..self.stack.len() {
                let after = self.stack.get(k + 1).map_or(self.state, |f| f.state);
                self.best.push((self.stack[k].call, after));
            }
            self.agree = self.stack.len();
        }
        self.entry = self.list.first();
        self.fresh = true;
        self.entering = true;
        // A read-only op changes neither the state nor what the others can reach: the
        // lookahead could only repeat itself.
        let depth = self.stack.len();
        !self.read_only[i] && self.dead_end(full_lookahead(depth))
    }

    /// Whether `ok` op `i`, placed now, goes without alternatives: the state is dead and
    /// the op hides ([`Hiding`]'s promise: moving it to the front of any continuation
    /// keeps that continuation accepted, so if what follows it fails, the node fails).
    fn hides_now(&mut self, i: usize) -> bool {
        if self.hiding_pending && self.steps > self.tuning.hide_after {
            self.hiding_pending = false;
            let all: Vec<&M::Op> = self.ops.iter().map(|o| &o.op).collect();
            self.hiding = self.model.hiding(&all);
        }
        if self.hiding.is_none() || self.ops[i].complete.is_none() {
            return false;
        }
        self.is_dead(self.state) && self.hiding.as_mut().is_some_and(|h| h.hides(i))
    }

    /// [`Hiding::dead`] of state `s`, worked out once per state (`false` without the rule).
    fn is_dead(&mut self, s: u32) -> bool {
        let Some(h) = self.hiding.as_ref() else {
            return false;
        };
        let s = s as usize;
        if self.dead.len() <= s {
            self.dead.resize(self.states.len(), 0);
        }
        if self.dead[s] == 0 {
            self.dead[s] = if h.dead(&self.states[s]) { 1 } else { 2 };
        }
        self.dead[s] == 1
    }

    /// The state id the memo keeps for state `s`: every dead state is one (their futures
    /// are the same, [`Hiding::dead`]'s promise), other states their own.
    fn memo_state(&mut self, s: u32) -> u32 {
        if self.is_dead(s) { DEAD } else { s }
    }

    /// Lookahead: an unplaced `ok` read must be placed before its return, using only ops
    /// invoked before that return. If the model says its result is out of reach from the
    /// current state with those ops, nothing below this node can succeed. Looks at every
    /// pending read if `full`, else at the reads among the next [`near_returns`] returns.
    ///
    /// A read's [`Witness`] from an earlier lookahead is checked first: while the ops it
    /// relies on are in the list (unplaced: they were before the read's return then, so
    /// they still are), enough ops are, and the state fits when it must, the model's
    /// answer would be `true` again, and it is not asked.
    fn dead_end(&mut self, full: bool) -> bool {
        if !self.tuning.witnesses {
            return self.plain_dead_end(full);
        }
        let mut calls = std::mem::take(&mut self.scratch_ops);
        let dead = self.dead_end_with(full, &mut calls);
        self.scratch_ops = calls;
        dead
    }

    /// [`Search::dead_end`] asking the model about every read.
    fn plain_dead_end(&mut self, full: bool) -> bool {
        let state = &self.states[self.state as usize];
        let calls = &mut self.scratch;
        calls.clear();
        let (mut returns, mut max_returns) = (0, usize::MAX);
        let mut at = self.list.first();
        while at != NIL && returns < max_returns {
            let e = self.list.e[at as usize];
            if e.is_call {
                calls.push(e.op);
            } else {
                if returns == 0 && !full {
                    max_returns = near_returns(calls.len());
                }
                returns += 1;
                if self.read_only[e.op as usize] {
                    let ops = self.ops;
                    let mut others = calls.iter().rev().map(|&c| &ops[c as usize].op);
                    if !self
                        .model
                        .may_reach(state, &ops[e.op as usize].op, &mut others)
                    {
                        return true;
                    }
                }
            }
            at = e.next;
        }
        false
    }

    /// [`Search::dead_end`] with witnesses, and its scratch list of calls.
    ///
    /// The full lookahead stops early: past the last read that has no witness, or one
    /// that needs the state, or may have lost an op ([`Search::suspects`]), and past
    /// where too few ops may be left for a witness's `min_others`, every read has a
    /// witness that holds, so the model would answer `true` for each.
    fn dead_end_with(&mut self, full: bool, calls: &mut Vec<(u32, &'a M::Op)>) -> bool {
        calls.clear();
        let limit = if full {
            let a = self.attention.last();
            if self.suspects.is_empty() {
                a
            } else {
                a.max(self.suspect_max)
            }
        } else {
            NIL
        };
        let need = self.unlinked_calls + self.max_min_others;
        let ops = self.ops;
        let (mut returns, mut max_returns) = (0, usize::MAX);
        let mut at = self.list.first();
        while at != NIL && returns < max_returns {
            if full && at > limit && self.calls_before[at as usize] >= need {
                break;
            }
            let at_ret = at;
            let e = self.list.e[at as usize];
            at = e.next;
            if e.is_call {
                calls.push((e.op, &ops[e.op as usize].op));
                continue;
            }
            if returns == 0 && !full {
                max_returns = near_returns(calls.len());
            }
            returns += 1;
            let r = e.op as usize;
            if !self.read_only[r] {
                continue;
            }
            let read = &ops[r].op;
            let state = &self.states[self.state as usize];
            if let Some(w) = self.witness[r] {
                let linked =
                    |x: u32| x == NIL || self.list.e[self.call_entry[x as usize] as usize].linked;
                // A registered read's witness ops are all in the list: an op leaving it
                // (placed or retired, the only two ways) unregisters its watchers at once
                // (`watched_op_gone`), and a read is registered only when they are in.
                let registered = self.registered[r];
                debug_assert!(!registered || w.ops.iter().all(|&x| linked(x)));
                if calls.len() >= w.min_others as usize
                    && (registered || w.ops.iter().all(|&x| linked(x)))
                    && (!w.needs_state || self.model.witness_holds(state, read, &w))
                {
                    self.witness_hits += 1;
                    self.register(r);
                    continue;
                }
            }
            let others = calls.iter().rev().copied();
            let (reach, w) = self.model.may_reach_witness_in(state, read, others);
            self.set_witness(r, w, at_ret);
            if !reach {
                return true;
            }
        }
        if full {
            // Every suspect in the list was looked at; those placed stay suspects. (Only
            // here does a read stop being one: the list holds each at most once.)
            let (placed, in_suspects) = (&self.placed, &mut self.in_suspects);
            self.suspects.retain(|&r| {
                let keep = placed.get(r as usize);
                in_suspects[r as usize] = keep;
                keep
            });
            let (e, call_entry) = (&self.list.e, &self.call_entry);
            self.suspect_max = self
                .suspects
                .iter()
                .map(|&r| e[call_entry[r as usize] as usize].ret)
                .max()
                .unwrap_or(0);
        }
        false
    }

    /// Op `x` left the list: the reads whose witness relies on it become suspects. Inlined
    /// for the common case (no read watches the op).
    #[inline]
    fn watched_op_gone(&mut self, x: usize) {
        if !self.watchers.is_empty(x) {
            self.watched_op_gone_some(x);
        }
    }

    /// [`Search::watched_op_gone`] of an op that some read watches.
    fn watched_op_gone_some(&mut self, x: usize) {
        let mut gone = std::mem::take(&mut self.gone);
        gone.clear();
        self.watchers.take(x, &mut gone);
        for &r in &gone {
            let r = r as usize;
            // Off the other op's list too: it is no longer registered.
            if let Some(w) = self.witness[r] {
                for y in w.ops {
                    if y != NIL && y as usize != x {
                        self.watchers.remove(y as usize, r as u32);
                    }
                }
            }
            self.registered[r] = false;
            if !self.in_suspects[r] {
                self.in_suspects[r] = true;
                self.suspects.push(r as u32);
                let ret = self.list.e[self.call_entry[r] as usize].ret;
                self.suspect_max = self.suspect_max.max(ret);
            }
        }
        self.gone = gone;
    }

    /// Read `r` is on the watchers' lists of its witness's ops. Inlined for the common
    /// case (a lookahead's witness hit on a read already registered).
    #[inline]
    fn register(&mut self, r: usize) {
        if !self.registered[r] {
            self.register_new(r);
        }
    }

    /// [`Search::register`] of a read not registered.
    fn register_new(&mut self, r: usize) {
        if let Some(w) = self.witness[r] {
            for y in w.ops {
                if y != NIL {
                    self.watchers.push(y as usize, r as u32);
                }
            }
            self.registered[r] = true;
        }
    }

    /// A new witness (or none) for read `r`, whose return entry is `ret`.
    fn set_witness(&mut self, r: usize, w: Option<Witness>, ret: u32) {
        if self.registered[r] {
            if let Some(old) = self.witness[r] {
                for y in old.ops {
                    if y != NIL {
                        self.watchers.remove(y as usize, r as u32);
                    }
                }
            }
            self.registered[r] = false;
        }
        let att = |w: Option<Witness>| w.is_none_or(|w| w.needs_state);
        match (att(self.witness[r]), att(w)) {
            (false, true) => {
                self.attention.insert(ret);
            }
            (true, false) => {
                self.attention.remove(ret);
            }
            _ => {}
        }
        self.witness[r] = w;
        if let Some(w) = w {
            self.max_min_others = self.max_min_others.max(w.min_others);
            self.register(r);
        }
    }

    /// Undoes placed ops up to the last one placed by choice (not forced), and resumes the
    /// search after it. `false` when there is none left: the search is exhausted.
    fn backtrack(&mut self) -> bool {
        loop {
            let Some(frame) = self.stack.pop() else {
                return false;
            };
            self.agree = self.agree.min(self.stack.len());
            while self.retired.len() > frame.retired as usize {
                if let Some((c, true)) = self.retired.pop() {
                    self.list.relink(c);
                    self.unlinked_calls -= 1;
                }
            }
            let i = self.list.e[frame.call as usize].op as usize;
            self.list.unlift(frame.call);
            self.unlinked_calls -= 1;
            self.state = frame.state;
            self.placed.flip(i);
            self.placed.lo = frame.lo;
            self.placed.hi = frame.hi;
            self.bits_hash ^= self.op_key[i];
            if self.ops[i].complete.is_some() {
                self.remaining += 1;
            }
            if !frame.forced {
                self.entry = self.list.e[frame.call as usize].next;
                self.fresh = true;
                self.entering = false;
                return true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::generate;
    use crate::history::{EventKind, History, Value};
    use crate::model::{BuiltinOp, Kv};

    /// The search ops of a one-key kv history, as `run` prepares them.
    fn kv_ops(kv: &Kv, h: &History) -> Vec<SearchOp<BuiltinOp>> {
        let mut open: BTreeMap<u64, usize> = BTreeMap::new();
        let mut calls: Vec<(usize, Option<usize>)> = Vec::new();
        for (i, ev) in h.events.iter().enumerate() {
            if ev.kind == EventKind::Invoke {
                open.insert(ev.process, calls.len());
                calls.push((i, None));
            } else if let Some(c) = open.remove(&ev.process) {
                calls[c].1 = Some(i);
            }
        }
        let mut ops = Vec::new();
        for (inv, end) in calls {
            let ev = &h.events[inv];
            let done = end.map(|j| &h.events[j]);
            if done.is_some_and(|d| d.kind == EventKind::Fail) {
                continue;
            }
            let ok = done.filter(|d| d.kind == EventKind::Ok);
            let op = kv
                .op(&ev.f, &ev.value, ok.map(|d| &d.value))
                .expect("kv op");
            if ok.is_none() && kv.is_read_only(&op) {
                continue;
            }
            ops.push(SearchOp {
                op,
                invoke: inv,
                complete: ok.and(end),
            });
        }
        ops
    }

    /// A kv model whose states all hash alike when `collide`: [`Search::intern`] must
    /// then tell them apart by the chain of equal hashes alone.
    struct Hashed {
        kv: Kv,
        collide: bool,
    }

    #[derive(Clone, PartialEq, Eq)]
    struct HState(Value, bool);

    impl std::hash::Hash for HState {
        fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
            if !self.1 {
                self.0.hash(h);
            }
        }
    }

    impl Model for Hashed {
        type State = HState;
        type Op = BuiltinOp;
        fn name(&self) -> String {
            "hashed".into()
        }
        fn init(&self) -> HState {
            HState(self.kv.init(), self.collide)
        }
        fn op(&self, f: &str, input: &Value, output: Option<&Value>) -> Result<BuiltinOp, String> {
            self.kv.op(f, input, output)
        }
        fn step(&self, s: &HState, op: &BuiltinOp) -> Option<HState> {
            self.kv.step(&s.0, op).map(|v| HState(v, s.1))
        }
        fn is_read_only(&self, op: &BuiltinOp) -> bool {
            self.kv.is_read_only(op)
        }
        fn state_value(&self, s: &HState) -> Value {
            s.0.clone()
        }
    }

    /// A budget of `max_steps` steps and nothing else, with the defaults of a search.
    fn steps_only(max_steps: u64) -> Budget {
        Budget {
            max_steps: Some(max_steps),
            deadline: None,
            max_memory: None,
            reduce: true,
            hide_after: crate::DEFAULT_HIDE_AFTER,
        }
    }

    /// Interning by hash keeps states apart when every hash collides: the search takes
    /// the same steps to the same outcome with a hash that tells them apart and with one
    /// that does not (answering the first state of a hash, or the last, fails it).
    #[test]
    fn interning_survives_colliding_hashes() {
        let kv = Kv {
            init: Value::Str(String::new()),
        };
        let budget = steps_only(20_000);
        let mut outcomes = [0usize; 2];
        for n in 0..40 {
            let h = generate::kv(
                n,
                30 + (n as usize % 5) * 20,
                1,
                3 + n as usize % 6,
                (n % 2) as usize,
            );
            let ops = kv_ops(&kv, &h);
            let run = |collide| {
                let m = Hashed {
                    kv: Kv {
                        init: Value::Str(String::new()),
                    },
                    collide,
                };
                let r = search(&m, &ops, budget);
                (r.outcome, r.steps, r.deepest)
            };
            let (plain, colliding) = (run(false), run(true));
            assert_eq!(plain, colliding, "{}", h.to_jsonl());
            outcomes[usize::from(plain.0 == Outcome::Linearizable)] += 1;
        }
        assert!(outcomes[0] > 5 && outcomes[1] > 5, "{outcomes:?}");
    }

    /// [`sort_nearly_sorted`] sorts like `sort_unstable`, on random lists: sorted, a few
    /// places off, far off (where it falls back to the sort mid-pass), and reversed.
    #[test]
    fn sort_nearly_sorted_is_sort() {
        let mut rng = generate::Rng::new(1823);
        let mut fell_back = 0;
        for round in 0..4_000u64 {
            let n = rng.below(120) as usize;
            let off = match round % 4 {
                0 => 0,
                1 => 1 + rng.below(6),
                2 => 1 + rng.below(400),
                _ => u64::MAX,
            };
            let mut v: Vec<(usize, u32)> = (0..n)
                .map(|i| {
                    let t = match off {
                        u64::MAX => n - i,
                        0 => i,
                        o => i + rng.below(o) as usize,
                    };
                    (t, i as u32)
                })
                .collect();
            let mut want = v.clone();
            want.sort_unstable();
            let inversions: usize = (0..n)
                .map(|i| (i + 1..n).filter(|&j| v[j] < v[i]).count())
                .sum();
            fell_back += usize::from(inversions > n * 8);
            sort_nearly_sorted(&mut v);
            assert_eq!(v, want, "round {round}");
        }
        assert!(fell_back > 100, "the fallback ran {fell_back} times");
    }

    /// [`entry_order`] is the sorted list of every call and return, on random ops: in
    /// invoke order or shuffled, with completions in order, nearly or far from it, some
    /// missing (info ops), and event indices that may repeat.
    #[test]
    fn entry_order_is_the_sorted_list() {
        let mut rng = generate::Rng::new(1822);
        for round in 0..3_000 {
            let n = rng.below(60) as usize;
            let span = 1 + rng.below(if round % 3 == 0 { 4 } else { 200 });
            let mut t = 0usize;
            let mut ops: Vec<SearchOp<()>> = (0..n)
                .map(|_| {
                    t += rng.below(3) as usize;
                    SearchOp {
                        op: (),
                        invoke: t,
                        // Every fifth round, a return may share its call's index (the one tie
                        // the merge breaks by the flag alone).
                        complete: (rng.below(5) != 0)
                            .then(|| t + usize::from(round % 5 != 0) + rng.below(span) as usize),
                    }
                })
                .collect();
            if round % 2 == 1 {
                for k in (1..ops.len()).rev() {
                    ops.swap(k, rng.below(k as u64 + 1) as usize);
                }
            }
            let mut all: Vec<(usize, u32, bool)> = Vec::new();
            for (i, op) in ops.iter().enumerate() {
                all.push((op.invoke, i as u32, true));
                if let Some(c) = op.complete {
                    all.push((c, i as u32, false));
                }
            }
            all.sort_unstable();
            assert_eq!(entry_order(&ops), all);
        }
    }

    /// The near lookahead's horizon is twice the ops that could go next, from 2 to 16
    /// returns: a key with one client at a time looks two returns ahead, a crowded one 16.
    #[test]
    fn near_returns_follow_the_ops_that_could_go_next() {
        let horizons: Vec<usize> = (0..=10).map(near_returns).collect();
        assert_eq!(horizons, [2, 2, 4, 6, 8, 10, 12, 14, 16, 16, 16]);
        assert_eq!(near_returns(usize::MAX / 4), MAX_NEAR_RETURNS);
    }

    /// The lookahead's witnesses change its cost, never its answers: on kv histories
    /// with 3-40 clients on one key (linearizable, with stale reads, and with many
    /// unknown-outcome puts, appends and cas), the search with witnesses takes exactly
    /// the steps the search that asks the model every time takes, to the same outcome
    /// and depth, with the unobserved-write rule from the start or never. A witness kept
    /// after one of its ops was placed, one that ignores the state it needs, a full
    /// lookahead that stops before its suspects or where too few ops are left for a
    /// witness, each makes the counts differ.
    #[test]
    fn witnesses_keep_the_lookahead_s_answers() {
        let kv = Kv {
            init: Value::Str(String::new()),
        };
        let budget = steps_only(20_000);
        let mut rng = generate::Rng::new(1821);
        let (mut hits, mut outcomes) = (0u64, [0usize; 3]);
        for n in 0..90 {
            let h = match n % 3 {
                0 | 1 => generate::kv(
                    n,
                    40 + rng.below(200) as usize,
                    1,
                    3 + rng.below(38) as usize,
                    (n % 2) as usize * (1 + rng.below(2) as usize),
                ),
                _ => generate::kv_info_writes(n, 10 + rng.below(30) as usize, 10, n % 2 == 0),
            };
            let ops = kv_ops(&kv, &h);
            for hide_after in [0, u64::MAX] {
                let run = |witnesses| {
                    let tuning = Tuning {
                        hide_after,
                        witnesses,
                    };
                    let mut s = Search::new(&kv, &ops, budget, &kv.init(), true, tuning);
                    let r = s.run(None);
                    (r.outcome, r.steps, r.deepest, s.witness_hits)
                };
                let (with, plain) = (run(true), run(false));
                assert_eq!(
                    (with.0, with.1, with.2),
                    (plain.0, plain.1, plain.2),
                    "{}",
                    h.to_jsonl()
                );
                hits += with.3;
                outcomes[match with.0 {
                    Outcome::Linearizable => 0,
                    Outcome::NotLinearizable => 1,
                    _ => 2,
                }] += 1;
            }
        }
        assert!(outcomes[0] > 20 && outcomes[1] > 20, "{outcomes:?}");
        assert!(hits > 10_000, "{hits} witness hits");
    }
}
