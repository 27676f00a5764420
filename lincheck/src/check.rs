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

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::time::Instant;

use crate::memo::{FastHasher, Memo};
use crate::model::Model;

const NIL: u32 = u32::MAX;

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
}

pub(crate) struct SearchResult<S> {
    pub outcome: Outcome,
    pub steps: u64,
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
        let Entry { prev, next, .. } = self.e[i as usize];
        self.e[prev as usize].next = next;
        if next != NIL {
            self.e[next as usize].prev = prev;
        }
    }
    fn relink(&mut self, i: u32) {
        let Entry { prev, next, .. } = self.e[i as usize];
        self.e[prev as usize].next = i;
        if next != NIL {
            self.e[next as usize].prev = i;
        }
    }
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
}

/// After a read-only op (the state is unchanged), how many pending reads [`dead_end`]
/// asks about again; after any other op it asks about all of them.
const PRUNE_READS_AFTER_READ: usize = 4;

/// Lookahead: an unplaced `ok` read must be placed before its return, using only ops
/// invoked before that return. If the model says its result is out of reach from this
/// state with those ops, nothing below this node can succeed. `calls` is scratch space.
fn dead_end<M: Model>(
    model: &M,
    list: &List,
    ops: &[SearchOp<M::Op>],
    read_only: &[bool],
    state: &M::State,
    calls: &mut Vec<u32>,
    max_reads: usize,
) -> bool {
    calls.clear();
    let mut reads = 0;
    let mut at = list.first();
    while at != NIL && reads < max_reads {
        let e = list.e[at as usize];
        if e.is_call {
            calls.push(e.op);
        } else if read_only[e.op as usize] {
            reads += 1;
            let mut others = calls.iter().rev().map(|&c| &ops[c as usize].op);
            if !model.may_reach(state, &ops[e.op as usize].op, &mut others) {
                return true;
            }
        }
        at = e.next;
    }
    false
}

/// Limits on one search.
#[derive(Clone, Copy)]
pub(crate) struct Budget {
    pub max_steps: Option<u64>,
    pub deadline: Option<Instant>,
}

/// Searches for a linearization of `ops` (one key) from the model's initial state.
///
/// Hash maps here are used only for lookups (memo and state interning); nothing iterates
/// over them, so the result is deterministic.
pub(crate) fn search<M: Model>(
    model: &M,
    ops: &[SearchOp<M::Op>],
    budget: Budget,
) -> SearchResult<M::State> {
    // Build the entry list in history order: (event index, entry).
    let mut order: Vec<(usize, u32, bool)> = Vec::with_capacity(ops.len() * 2);
    for (i, op) in ops.iter().enumerate() {
        order.push((op.invoke, i as u32, true));
        if let Some(c) = op.complete {
            order.push((c, i as u32, false));
        }
    }
    order.sort_unstable();
    let mut list = List {
        e: Vec::with_capacity(order.len() + 1),
    };
    list.e.push(Entry {
        op: NIL,
        ret: NIL,
        is_call: false,
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

    let op_key: Vec<u64> = (0..ops.len() as u64).map(splitmix).collect();
    let read_only: Vec<bool> = ops.iter().map(|o| model.is_read_only(&o.op)).collect();
    let mut remaining = ops.iter().filter(|o| o.complete.is_some()).count();

    // States are interned: the memo and the stack hold small ids. The map is only looked
    // up, never iterated, and its hasher is fixed (no random seed), so it cannot make the
    // search or its report depend on anything but the history.
    let mut states: Vec<M::State> = vec![model.init()];
    let mut state_ids: HashMap<M::State, u32, BuildHasherDefault<FastHasher>> = HashMap::default();
    state_ids.insert(states[0].clone(), 0);
    let words = ops.len().div_ceil(64).max(1);
    let mut memo = Memo::new(words);

    let mut bits = vec![0u64; words];
    let mut bits_hash = 0u64;
    let mut state = 0u32;
    let mut stack: Vec<Frame> = Vec::new();
    let mut best: Vec<(u32, u32)> = Vec::new();
    let mut steps = 0u64;
    let mut entry = list.first();
    let mut scratch: Vec<u32> = Vec::with_capacity(ops.len());

    let finish = |outcome, steps, best: &[(u32, u32)], states: &[M::State]| SearchResult {
        outcome,
        steps,
        best: best
            .iter()
            .map(|&(op, s)| (op as usize, states[s as usize].clone()))
            .collect(),
    };

    if dead_end(
        model,
        &list,
        ops,
        &read_only,
        &states[0],
        &mut scratch,
        usize::MAX,
    ) {
        return finish(Outcome::NotLinearizable, 1, &[], &states);
    }

    while remaining > 0 {
        steps += 1;
        if budget.max_steps.is_some_and(|m| steps > m) {
            return finish(Outcome::OutOfSteps, steps - 1, &[], &states);
        }
        if steps % 4096 == 0 && budget.deadline.is_some_and(|d| Instant::now() >= d) {
            return finish(Outcome::OutOfTime, steps, &[], &states);
        }
        if entry == NIL {
            // Only calls without returns are left: every ok op is placed.
            break;
        }
        let e = list.e[entry as usize];
        let mut backtrack = !e.is_call;
        if e.is_call {
            let i = e.op as usize;
            let forced = read_only[i];
            let next_id = if forced {
                model
                    .accepts(&states[state as usize], &ops[i].op)
                    .then_some(state)
            } else {
                model.step(&states[state as usize], &ops[i].op).map(|next| {
                    if let Some(&id) = state_ids.get(&next) {
                        id
                    } else {
                        let id = states.len() as u32;
                        state_ids.insert(next.clone(), id);
                        states.push(next);
                        id
                    }
                })
            };
            match next_id {
                None => entry = e.next,
                Some(next_id) => {
                    bits[i / 64] |= 1 << (i % 64);
                    bits_hash ^= op_key[i];
                    let hash = bits_hash ^ splitmix(u64::from(next_id) ^ 0x5555);
                    if memo.insert(hash, next_id, &bits) {
                        stack.push(Frame {
                            call: entry,
                            state,
                            forced,
                        });
                        state = next_id;
                        list.lift(entry);
                        if ops[i].complete.is_some() {
                            remaining -= 1;
                        }
                        if stack.len() > best.len() {
                            // Frames hold the state *before* each op.
                            best = (0..stack.len())
                                .map(|k| {
                                    let after = stack.get(k + 1).map_or(state, |f| f.state);
                                    (list.e[stack[k].call as usize].op, after)
                                })
                                .collect();
                        }
                        entry = list.first();
                        backtrack = dead_end(
                            model,
                            &list,
                            ops,
                            &read_only,
                            &states[state as usize],
                            &mut scratch,
                            if forced {
                                PRUNE_READS_AFTER_READ
                            } else {
                                usize::MAX
                            },
                        );
                    } else {
                        bits[i / 64] &= !(1 << (i % 64));
                        bits_hash ^= op_key[i];
                        // A read that fits leads to an explored (failed) node: so does this.
                        backtrack = forced;
                        entry = e.next;
                    }
                }
            }
        }
        if backtrack {
            loop {
                let Some(frame) = stack.pop() else {
                    return finish(Outcome::NotLinearizable, steps, &best, &states);
                };
                let i = list.e[frame.call as usize].op as usize;
                list.unlift(frame.call);
                state = frame.state;
                bits[i / 64] &= !(1 << (i % 64));
                bits_hash ^= op_key[i];
                if ops[i].complete.is_some() {
                    remaining += 1;
                }
                if !frame.forced {
                    entry = list.e[frame.call as usize].next;
                    break;
                }
            }
        }
    }
    finish(Outcome::Linearizable, steps, &[], &states)
}
