//! Long histories in pieces: cut at quiescent points and check the pieces in sequence
//! from the set of states each may end in (Knossos's "linear" idea; Porcupine cuts by key
//! only).
//!
//! A *quiescent point* is an instant where no op is pending: every op invoked before it
//! has returned. An unknown-outcome (`info`) or unfinished op is pending for ever, so the
//! cuts all lie before the first one. Every op before a cut precedes every op after it in
//! real time, so a linearization is a linearization of the first piece followed by one of
//! the rest, from the state the first ended in. The search enumerates, for each state a
//! piece may start in, every state it may end in ([`check::search_from`] with
//! [`Ends`]); the last piece (which holds any info ops) is searched as usual from each
//! state the one before may end in. A piece with no end state from any start refutes the
//! key. When a piece may end in more than [`MAX_FRONTIER`] states, it is merged with the
//! next one instead (the next cut's set is often small again: a read pins the state).
//!
//! The search's memo and lookahead then work on one piece at a time, and its memory is
//! that of the largest piece times the states carried across a cut.

use crate::check::{self, Budget, Ends, Outcome, SearchOp, SearchResult};
use crate::model::Model;

/// Most states carried across a cut.
const MAX_FRONTIER: usize = 256;

/// The cuts of `ops` (in invoke order): indices `k` such that every op before `k`
/// returned before op `k` was invoked. Empty if the ops are not in invoke order.
pub(crate) fn quiescent_cuts<O>(ops: &[SearchOp<O>]) -> Vec<usize> {
    let mut cuts = Vec::new();
    let mut last_return = 0usize;
    for (k, o) in ops.iter().enumerate() {
        if k > 0 {
            if o.invoke < ops[k - 1].invoke {
                return Vec::new();
            }
            if last_return < o.invoke {
                cuts.push(k);
            }
        }
        last_return = last_return.max(o.complete.unwrap_or(usize::MAX));
    }
    cuts
}

/// Decides `ops` (one key, in invoke order) piece by piece, or `None` when there is no
/// quiescent point. The result's steps are those of every piece search together; `best`
/// is empty (a caller that wants an explanation searches the whole history for it).
pub(crate) fn search_in_pieces<M: Model>(
    model: &M,
    ops: &[SearchOp<M::Op>],
    budget: Budget,
) -> Option<SearchResult<M::State>> {
    let cuts = quiescent_cuts(ops);
    if cuts.is_empty() {
        return None;
    }
    let mut steps = 0u64;
    let done = |outcome, steps, deepest| SearchResult {
        outcome,
        steps,
        deepest,
        best: Vec::new(),
    };
    let rest_of = |steps: u64| Budget {
        max_steps: budget.max_steps.map(|m| m.saturating_sub(steps)),
        ..budget
    };
    let mut frontier = vec![model.init()];
    let mut from = 0usize;
    let mut next_cut = 0usize;
    while next_cut < cuts.len() {
        let to = cuts[next_cut];
        next_cut += 1;
        let piece = &ops[from..to];
        let mut ends = Ends::new(MAX_FRONTIER);
        for start in &frontier {
            if budget.max_steps.is_some_and(|m| steps >= m) {
                return Some(done(Outcome::OutOfSteps, steps, from));
            }
            let r = check::search_from(model, piece, rest_of(steps), start, Some(&mut ends));
            steps += r.steps;
            if ends.overflow {
                break;
            }
            match r.outcome {
                // Exhausted: every end state from this start is in `ends` (an enumeration
                // never stops at a linearization).
                Outcome::NotLinearizable | Outcome::Linearizable => {
                    debug_assert_eq!(r.outcome, Outcome::NotLinearizable);
                }
                out @ (Outcome::OutOfSteps | Outcome::OutOfTime | Outcome::OutOfMemory) => {
                    return Some(done(out, steps, from + r.deepest));
                }
            }
        }
        if ends.overflow {
            // Too many states to carry: no cut here; the piece goes on to the next cut.
            continue;
        }
        if ends.states.is_empty() {
            return Some(done(Outcome::NotLinearizable, steps, from));
        }
        frontier = ends.states;
        from = to;
    }
    // The last piece, with any info ops: one linearization from any start will do.
    let piece = &ops[from..];
    let mut deepest = from;
    for start in &frontier {
        if budget.max_steps.is_some_and(|m| steps >= m) {
            return Some(done(Outcome::OutOfSteps, steps, deepest));
        }
        let r = check::search_from(model, piece, rest_of(steps), start, None);
        steps += r.steps;
        deepest = deepest.max(from + r.deepest);
        match r.outcome {
            Outcome::Linearizable => return Some(done(Outcome::Linearizable, steps, ops.len())),
            Outcome::NotLinearizable => {}
            out => return Some(done(out, steps, deepest)),
        }
    }
    Some(done(Outcome::NotLinearizable, steps, deepest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(invoke: usize, complete: Option<usize>) -> SearchOp<()> {
        SearchOp {
            op: (),
            invoke,
            complete,
        }
    }

    #[test]
    fn cuts_lie_where_nothing_is_pending_and_before_any_info_op() {
        // [0,3] [1,2] | [4,5] | [6,9] [7,-] [8,10]
        let ops = [
            op(0, Some(3)),
            op(1, Some(2)),
            op(4, Some(5)),
            op(6, Some(9)),
            op(7, None),
            op(8, Some(10)),
            op(11, Some(12)),
        ];
        assert_eq!(quiescent_cuts(&ops), vec![2, 3]);
        assert!(quiescent_cuts(&[op(0, Some(1))]).is_empty());
    }
}
