//! Driving the search: ops from events, one search per key, reports.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::check::{self, Budget, Outcome, SearchOp};
use crate::cut;
use crate::explain::{Blocked, Exhausted, Explanation, KeyReport, OpStatus, OpView, PlacedOp};
use crate::explain::{Report, Verdict};
use crate::history::{EventKind, History, HistoryError, ModelKind};
use crate::model::{CasRegister, Kv, Model, Register};
use crate::refute;
use crate::wellformed::{WellFormedError, normalize_key};
use crate::zones::{self, ZoneVerdict};

/// Step budget of the search that explains a key the zone check found not linearizable:
/// when it runs out, the explanation shows the longest prefix found so far.
const EXPLAIN_STEPS: u64 = 200_000;

/// The explanation looks at this many of the unplaced reads (soonest returns first).
const EXPLAIN_READS: usize = 256;

/// Search steps after which a key not yet decided gets the refutation of
/// [`refute::unreachable_read`].
const REFUTE_AFTER: u64 = 100_000;

/// The default per-key step budget: enough for every Porcupine history (the hardest key
/// needs under a million steps), small enough to end in well under a minute.
pub const DEFAULT_MAX_STEPS: u64 = 100_000_000;

/// The default per-key memory bound, in bytes (1 GiB): what the search's memo of explored
/// configurations and its interned states may hold before the key is `unknown`.
pub const DEFAULT_MAX_MEMORY: u64 = 1 << 30;

/// How to check a history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckOptions {
    /// Check against this model instead of the history's own.
    pub model: Option<ModelKind>,
    /// Per-key budget of search steps; when it runs out the key is `unknown`. With only
    /// this budget the result is deterministic.
    pub max_steps: Option<u64>,
    /// Wall-clock limit for the whole history. Keys not decided in time are `unknown`;
    /// results then depend on machine speed.
    pub timeout: Option<Duration>,
    /// Per-key bound on the bytes the search holds (memo and interned states), measured
    /// every 1,024 steps; past it the key is `unknown` (never an abort). The measure is
    /// deterministic (capacities, not the allocator's view), so with only this and
    /// `max_steps` the result is too.
    pub max_memory: Option<u64>,
    /// Keys with at least this many ops (and a quiescent point) are checked in pieces
    /// cut at quiescent points ([`DEFAULT_CUT_FROM`]; 0: every key that has one). On
    /// shorter keys enumerating each piece's end states costs more than it saves.
    pub cut_from: usize,
    /// The unobserved-write rule ([`crate::Model::hiding`]: kv puts and appends no read
    /// can observe, placed at once in a state no read can see) starts once a key's search
    /// has used this many steps ([`DEFAULT_HIDE_AFTER`]; 0: at once). A step count, so
    /// the answer stays deterministic. The rule is sound at any value; it pays only on
    /// searches that wander, and costs a little on the rest.
    pub hide_after: u64,
}

/// The default [`CheckOptions::cut_from`].
pub const DEFAULT_CUT_FROM: usize = 20_000;

/// The default [`CheckOptions::hide_after`]: most keys are decided in about one step an
/// op and never pay for the rule.
pub const DEFAULT_HIDE_AFTER: u64 = 20_000;

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            model: None,
            max_steps: Some(DEFAULT_MAX_STEPS),
            timeout: None,
            max_memory: Some(DEFAULT_MAX_MEMORY),
            cut_from: DEFAULT_CUT_FROM,
            hide_after: DEFAULT_HIDE_AFTER,
        }
    }
}

/// Checks a history against a built-in model (the history's, or `options.model`).
///
/// Returns an error if the history breaks the format's well-formedness rules for that
/// model; parsed histories already satisfy them when parsed with the same model.
pub fn check_history(history: &History, options: &CheckOptions) -> Result<Report, HistoryError> {
    let kind = options.model.unwrap_or(history.model);
    history.validate_as(Some(kind))?;
    let init = history.init.clone().unwrap_or_else(|| kind.default_init());
    match kind {
        ModelKind::Register => run(history, &Register { init }, options),
        ModelKind::CasRegister => run(history, &CasRegister { init }, options),
        ModelKind::Kv => run(history, &Kv { init }, options),
    }
}

/// Like [`check_history`], for a history just read by
/// [`parse_history_with`](crate::parse_history_with) with the model in effect here (as
/// `faultline check-history` does): the parser has already checked the well-formedness
/// rules, so they are not checked again. Any other history: use [`check_history`] (a
/// history that breaks the rules is still never a panic here, but its verdict means
/// little).
pub fn check_parsed(history: &History, options: &CheckOptions) -> Result<Report, HistoryError> {
    let kind = options.model.unwrap_or(history.model);
    let init = history.init.clone().unwrap_or_else(|| kind.default_init());
    match kind {
        ModelKind::Register => run(history, &Register { init }, options),
        ModelKind::CasRegister => run(history, &CasRegister { init }, options),
        ModelKind::Kv => run(history, &Kv { init }, options),
    }
}

/// Checks a history against any [`Model`]. `options.model` is ignored, and so is the
/// history's `init` (the model's [`init`](Model::init) decides). Rules 1-3 and the
/// `time` rules are checked; operation names and values are the model's to check in
/// [`Model::op`].
pub fn check_with_model<M: Model>(
    history: &History,
    model: &M,
    options: &CheckOptions,
) -> Result<Report, HistoryError> {
    history.validate_as(None)?;
    run(history, model, options)
}

fn run<M: Model>(
    history: &History,
    model: &M,
    options: &CheckOptions,
) -> Result<Report, HistoryError> {
    run_with(history, model, options, true)
}

/// `reduce: false` turns the symmetry and unknown-outcome reductions off (for tests).
fn run_with<M: Model>(
    history: &History,
    model: &M,
    options: &CheckOptions,
    reduce: bool,
) -> Result<Report, HistoryError> {
    let ops = collect_ops(history);
    // Sorted keys: a deterministic order, independent of hashing.
    let mut by_key: BTreeMap<Option<&crate::Value>, Vec<&OpRef>> = BTreeMap::new();
    for (key, view) in &ops {
        by_key.entry(*key).or_default().push(view);
    }
    let budget = Budget {
        max_steps: options.max_steps,
        deadline: options.timeout.map(|t| Instant::now() + t),
        max_memory: options.max_memory,
        reduce,
        hide_after: options.hide_after,
    };
    let mut keys = Vec::with_capacity(by_key.len());
    for (key, views) in by_key {
        keys.push(check_key(
            model,
            key.cloned(),
            &views,
            budget,
            options.cut_from,
        )?);
    }
    let mut report = Report::new(model.name(), keys);
    report.process_names = history.process_names.clone();
    Ok(report)
}

/// One op of the history, borrowed from its events: what [`OpView`] holds, without
/// copying `f` and the values. An [`OpView`] is made only for the ops an explanation
/// shows.
#[derive(Clone, Copy, Debug)]
struct OpRef<'h> {
    process: u64,
    f: &'h str,
    input: &'h crate::Value,
    output: Option<&'h crate::Value>,
    status: OpStatus,
    invoke_event: usize,
    complete_event: Option<usize>,
    invoke_time: Option<u64>,
    complete_time: Option<u64>,
}

impl OpRef<'_> {
    fn to_view(self) -> OpView {
        OpView {
            process: self.process,
            f: self.f.to_string(),
            input: self.input.clone(),
            output: self.output.cloned(),
            status: self.status,
            invoke_event: self.invoke_event,
            complete_event: self.complete_event,
            invoke_time: self.invoke_time,
            complete_time: self.complete_time,
        }
    }
}

/// All non-`fail` ops with their (normalized) keys, in invoke order.
fn collect_ops(history: &History) -> Vec<(Option<&crate::Value>, OpRef<'_>)> {
    let mut ops: Vec<Option<(Option<&crate::Value>, OpRef<'_>)>> =
        Vec::with_capacity(history.events.len() / 2 + 1);
    let mut open: BTreeMap<u64, usize> = BTreeMap::new();
    for (i, ev) in history.events.iter().enumerate() {
        if ev.kind == EventKind::Invoke {
            open.insert(ev.process, ops.len());
            ops.push(Some((
                normalize_key(&ev.key),
                OpRef {
                    process: ev.process,
                    f: &ev.f,
                    input: &ev.value,
                    output: None,
                    status: OpStatus::Unfinished,
                    invoke_event: i,
                    complete_event: None,
                    invoke_time: ev.time,
                    complete_time: None,
                },
            )));
            continue;
        }
        // Validation guarantees an open op; skip defensively otherwise.
        let Some(slot) = open.remove(&ev.process) else {
            continue;
        };
        match ev.kind {
            EventKind::Fail => ops[slot] = None,
            EventKind::Ok | EventKind::Info => {
                if let Some((_, v)) = &mut ops[slot] {
                    v.complete_event = Some(i);
                    v.complete_time = ev.time;
                    if ev.kind == EventKind::Ok {
                        v.status = OpStatus::Ok;
                        v.output = Some(&ev.value);
                    } else {
                        v.status = OpStatus::Info;
                    }
                }
            }
            EventKind::Invoke => {}
        }
    }
    ops.into_iter().flatten().collect()
}

/// The search ops of one key's views, and the views they come from (unconstrained reads
/// are dropped).
#[allow(clippy::type_complexity)]
fn prepare<'a, M: Model>(
    model: &M,
    views: &[&'a OpRef<'a>],
) -> Result<(Vec<SearchOp<M::Op>>, Vec<&'a OpRef<'a>>), HistoryError> {
    let mut search_ops = Vec::with_capacity(views.len());
    let mut kept: Vec<&OpRef> = Vec::with_capacity(views.len());
    for v in views {
        let op = model
            .op(v.f, v.input, v.output)
            .map_err(|message| HistoryError {
                event: v.complete_event.unwrap_or(v.invoke_event),
                error: WellFormedError::Model { message },
            })?;
        let ok = v.status == OpStatus::Ok;
        // An unconstrained read has no effect whether or not it happens: drop it.
        if !ok && model.is_read_only(&op) {
            continue;
        }
        search_ops.push(SearchOp {
            op,
            invoke: v.invoke_event,
            complete: if ok { v.complete_event } else { None },
        });
        kept.push(v);
    }
    Ok((search_ops, kept))
}

fn check_key<M: Model>(
    model: &M,
    key: Option<crate::Value>,
    views: &[&OpRef],
    budget: Budget,
    cut_from: usize,
) -> Result<KeyReport, HistoryError> {
    let (search_ops, kept) = prepare(model, views)?;
    Ok(check_prepared(
        model,
        key,
        views.len(),
        &search_ops,
        &kept,
        budget,
        cut_from,
    ))
}

/// What an explanation needs of an op it shows: its invoke's position, and the op
/// itself as an [`OpView`] (made only for the ops shown).
pub(crate) trait ShowOp {
    fn invoke_event(&self) -> usize;
    fn to_view(&self) -> OpView;
}

impl ShowOp for &OpRef<'_> {
    fn invoke_event(&self) -> usize {
        self.invoke_event
    }
    fn to_view(&self) -> OpView {
        (**self).to_view()
    }
}

/// Checks one key given its search ops and, for each, the op it comes from (`kept`);
/// `ops` is the key's number of ops before unconstrained reads were dropped.
pub(crate) fn check_prepared<M: Model, V: ShowOp>(
    model: &M,
    key: Option<crate::Value>,
    ops: usize,
    search_ops: &[SearchOp<M::Op>],
    kept: &[V],
    budget: Budget,
    cut_from: usize,
) -> KeyReport {
    let zones = if budget.reduce {
        zones::decide(model, search_ops)
    } else {
        None
    };
    if zones == Some(ZoneVerdict::Linearizable) {
        return KeyReport {
            key,
            ops,
            verdict: Verdict::Linearizable,
            steps: 0,
            deepest: search_ops.len(),
            exhausted: None,
            explanation: None,
        };
    }
    // Not linearizable by the zone check, or a read no last overwrite explains: the
    // verdict is known, and the search only finds the explanation (the longest
    // linearizable prefix), within a smaller budget.
    let mut refuted = zones.is_some();
    let mut result = if refuted {
        // The verdict is known: the search only finds the explanation (the longest
        // linearizable prefix), within a smaller budget.
        let max_steps = budget
            .max_steps
            .map_or(EXPLAIN_STEPS, |m| m.min(EXPLAIN_STEPS));
        check::search(
            model,
            search_ops,
            Budget {
                max_steps: Some(max_steps),
                ..budget
            },
        )
    } else if let Some(r) = (budget.reduce && search_ops.len() >= cut_from)
        .then(|| cut::search_in_pieces(model, search_ops, budget))
        .flatten()
    {
        // Cut at quiescent points. A refuted key gets its explanation from the search of
        // the whole history, as after the zone check.
        if r.outcome == Outcome::NotLinearizable {
            refuted = true;
            let max_steps = budget
                .max_steps
                .map_or(EXPLAIN_STEPS, |m| m.min(EXPLAIN_STEPS));
            let mut e = check::search(
                model,
                search_ops,
                Budget {
                    max_steps: Some(max_steps),
                    ..budget
                },
            );
            e.steps += r.steps;
            e
        } else {
            r
        }
    } else if budget.reduce && budget.max_steps.is_none_or(|m| m > REFUTE_AFTER) {
        // A key the search does not decide quickly gets the refutation (a read no last
        // overwrite explains), then, if that finds nothing, the search with the rest of
        // the budget. Easy keys never pay for the refutation.
        let first = Budget {
            max_steps: Some(REFUTE_AFTER),
            ..budget
        };
        let r = check::search(model, search_ops, first);
        if r.outcome != Outcome::OutOfSteps {
            r
        } else if refute::unreachable_read(model, search_ops).is_some() {
            // The explanation is the longest prefix the first search found.
            refuted = true;
            r
        } else {
            let rest = Budget {
                max_steps: budget.max_steps.map(|m| m - REFUTE_AFTER),
                ..budget
            };
            let mut again = check::search(model, search_ops, rest);
            again.steps += REFUTE_AFTER;
            again
        }
    } else {
        check::search(model, search_ops, budget)
    };
    if refuted {
        debug_assert_ne!(
            result.outcome,
            Outcome::Linearizable,
            "the zone check or the refutation and the search disagree"
        );
        // Out of budget: the verdict stands; the explanation is the best prefix found.
        result.outcome = Outcome::NotLinearizable;
    }
    let (verdict, exhausted) = match result.outcome {
        Outcome::Linearizable => (Verdict::Linearizable, None),
        Outcome::NotLinearizable => (Verdict::NotLinearizable, None),
        Outcome::OutOfSteps => (Verdict::Unknown, Some(Exhausted::Steps)),
        Outcome::OutOfTime => (Verdict::Unknown, Some(Exhausted::Deadline)),
        Outcome::OutOfMemory => (Verdict::Unknown, Some(Exhausted::Memory)),
    };
    let explanation = (verdict == Verdict::NotLinearizable)
        .then(|| explain(model, search_ops, kept, &result.best));
    KeyReport {
        key,
        ops,
        verdict,
        steps: result.steps,
        deepest: result.deepest,
        exhausted,
        explanation,
    }
}

/// Builds the explanation from the longest placed sequence the search found.
fn explain<M: Model, V: ShowOp>(
    model: &M,
    ops: &[SearchOp<M::Op>],
    views: &[V],
    best: &[(usize, M::State)],
) -> Explanation {
    let mut placed = vec![false; ops.len()];
    let prefix = best
        .iter()
        .map(|(i, s)| {
            placed[*i] = true;
            PlacedOp {
                op: views[*i].to_view(),
                state_after: model.state_value(s),
            }
        })
        .collect();
    let state = best.last().map_or_else(|| model.init(), |(_, s)| s.clone());
    // The earliest completion among unplaced ok ops bounds what may come next.
    let limit = ops
        .iter()
        .zip(&placed)
        .filter(|(_, p)| !**p)
        .filter_map(|(o, _)| o.complete)
        .min()
        .unwrap_or(usize::MAX);
    let mut stuck: Vec<(usize, crate::StuckOp)> = ops
        .iter()
        .enumerate()
        .filter(|(i, o)| !placed[*i] && o.invoke < limit)
        .map(|(i, o)| {
            let reason = match model.step(&state, &o.op) {
                None => Blocked::Rejected,
                Some(_) => Blocked::DeadEnd,
            };
            (
                o.invoke,
                crate::StuckOp {
                    op: views[i].to_view(),
                    reason,
                },
            )
        })
        .collect();
    stuck.sort_by_key(|(at, _)| *at);
    // Reads that must still happen but cannot: what pruned this prefix.
    let mut reads: Vec<usize> = (0..ops.len())
        .filter(|&i| !placed[i] && ops[i].complete.is_some() && model.is_read_only(&ops[i].op))
        .collect();
    reads.sort_by_key(|&i| ops[i].complete);
    // The reads that must happen soonest tell the story; the rest of a long history's
    // reads would cost a scan each.
    reads.truncate(EXPLAIN_READS);
    let mut unreachable = Vec::new();
    for r in reads {
        if unreachable.len() == crate::explain::MAX_UNREACHABLE {
            break;
        }
        let end = ops[r].complete.unwrap_or(usize::MAX);
        let mut others = ops
            .iter()
            .enumerate()
            .filter(|(i, o)| !placed[*i] && o.invoke < end)
            .map(|(_, o)| &o.op);
        if !model.may_reach(&state, &ops[r].op, &mut others) {
            if let Some((_, s)) = stuck
                .iter_mut()
                .find(|(_, s)| s.op.invoke_event == views[r].invoke_event())
            {
                if s.reason == Blocked::DeadEnd {
                    s.reason = Blocked::Unreachable;
                }
            } else {
                unreachable.push((
                    ops[r].invoke,
                    crate::StuckOp {
                        op: views[r].to_view(),
                        reason: Blocked::Unreachable,
                    },
                ));
            }
        }
    }
    stuck.extend(unreachable);
    Explanation {
        prefix,
        state: model.state_value(&state),
        stuck: stuck.into_iter().map(|(_, s)| s).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::Rng;
    use crate::history::{Event, Value};

    /// A random small history: up to 4 processes, ops on values 1-3, some `info`, some
    /// `fail`, some unfinished; results random, so both verdicts occur.
    fn random_history(rng: &mut Rng, kind: ModelKind) -> History {
        let procs = 1 + rng.below(4);
        let mut open: Vec<Option<(String, Value)>> = vec![None; procs as usize];
        // A process that ended in info invokes nothing more: its slot gets a new id.
        let mut pid: Vec<u64> = (0..procs).collect();
        let mut next_pid = procs;
        let mut events = Vec::new();
        let target = 4 + rng.below(11) as usize;
        let mut invoked = 0;
        let val = |rng: &mut Rng| Value::Int(1 + rng.below(3) as i64);
        let sval = |rng: &mut Rng| Value::Str(["x", "y", "xy"][rng.below(3) as usize].into());
        while invoked < target || open.iter().any(Option::is_some) {
            let p = rng.below(procs) as usize;
            match open[p].take() {
                None if invoked < target => {
                    invoked += 1;
                    let (f, input) = match (kind, rng.below(3)) {
                        (ModelKind::Kv, 0) => ("get", Value::Null),
                        (ModelKind::Kv, 1) => ("put", sval(rng)),
                        (ModelKind::Kv, _) => ("append", Value::Str("y".into())),
                        (_, 0) => ("read", Value::Null),
                        (ModelKind::CasRegister, 1) if rng.below(2) == 0 => {
                            ("cas", Value::List(vec![val(rng), val(rng)]))
                        }
                        _ => ("write", val(rng)),
                    };
                    events.push(Event {
                        process: pid[p],
                        kind: EventKind::Invoke,
                        f: f.into(),
                        key: None,
                        value: input.clone(),
                        time: None,
                        error: None,
                    });
                    open[p] = Some((f.to_string(), input));
                }
                None => {}
                Some((f, input)) => {
                    let roll = rng.below(10);
                    if roll == 0 && invoked >= target {
                        // Left unfinished: this process invokes nothing more.
                        continue;
                    }
                    let (kind_, value) = match roll {
                        1 | 2 => (EventKind::Info, input.clone()),
                        3 => (EventKind::Fail, input.clone()),
                        _ => (
                            EventKind::Ok,
                            match f.as_str() {
                                "read" => val(rng),
                                "get" => sval(rng),
                                "cas" => Value::Bool(rng.below(2) == 0),
                                _ => input.clone(),
                            },
                        ),
                    };
                    events.push(Event {
                        process: pid[p],
                        kind: kind_,
                        f,
                        key: None,
                        value,
                        time: None,
                        error: None,
                    });
                    if kind_ == EventKind::Info {
                        pid[p] = next_pid;
                        next_pid += 1;
                    }
                }
            }
        }
        History {
            model: kind,
            init: None,
            events,
            process_names: Default::default(),
        }
    }

    /// Checks `h` in its own model with the reductions on and off: `(reduced, plain)`.
    fn reduced_and_plain(h: &History, opts: &CheckOptions) -> (Report, Report) {
        fn both<M: Model>(h: &History, m: &M, opts: &CheckOptions) -> (Report, Report) {
            let a = run_with(h, m, opts, true).expect("valid");
            let b = run_with(h, m, opts, false).expect("valid");
            (a, b)
        }
        let init = h.model.default_init();
        match h.model {
            ModelKind::Register => both(h, &Register { init }, opts),
            ModelKind::CasRegister => both(h, &CasRegister { init }, opts),
            ModelKind::Kv => both(h, &Kv { init }, opts),
        }
    }

    /// The reductions never change a verdict: against the plain search on thousands of
    /// random histories of up to 14 ops, in every model.
    #[test]
    fn reductions_agree_with_the_plain_search() {
        let mut rng = Rng::new(18);
        let mut seen = [0usize; 2];
        // Cutting at quiescent points is a reduction too.
        let opts = CheckOptions {
            cut_from: 0,
            ..CheckOptions::default()
        };
        for n in 0..6000 {
            let kind = ModelKind::ALL[n % 3];
            let h = random_history(&mut rng, kind);
            h.validate().expect("generated histories are well-formed");
            let (a, b) = reduced_and_plain(&h, &opts);
            assert_eq!(a.verdict, b.verdict, "{}", h.to_jsonl());
            seen[usize::from(a.verdict == Verdict::Linearizable)] += 1;
        }
        assert!(seen[0] > 500 && seen[1] > 500, "{seen:?}");
    }

    /// Kv histories where many puts and appends are never read (so the unobserved-write
    /// rule, [`crate::model::Hiding`], fires): up to 6 processes, puts and appends of a few
    /// short strings (some empty, some the prefix or part of another), reads of values
    /// they may or may not spell, info, failed and unfinished ops. The reduced search
    /// gives the plain search's verdict on every one.
    #[test]
    fn unobserved_writes_agree_with_the_plain_search() {
        let mut rng = Rng::new(1818);
        let mut seen = [0usize; 2];
        for _ in 0..6000 {
            let h = crate::generate::kv_unobserved_writes(&mut rng);
            h.validate().expect("generated histories are well-formed");
            let at_once = CheckOptions {
                hide_after: 0,
                ..CheckOptions::default()
            };
            let (a, b) = reduced_and_plain(&h, &at_once);
            assert_eq!(a.verdict, b.verdict, "{}", h.to_jsonl());
            seen[usize::from(a.verdict == Verdict::Linearizable)] += 1;
        }
        assert!(seen[0] > 500 && seen[1] > 500, "{seen:?}");
    }

    /// The refutation (a read no undominated last overwrite explains) only ever fires on
    /// keys the plain search finds not linearizable, and it fires on many of them: random
    /// histories in every model, with info, failed and unfinished ops and repeated values.
    #[test]
    fn refutation_agrees_with_the_plain_search() {
        fn one<M: Model>(h: &History, m: &M) -> (bool, bool) {
            let ops = collect_ops(h);
            let views: Vec<&OpRef> = ops.iter().map(|(_, v)| v).collect();
            let (search_ops, _) = prepare(m, &views).expect("valid");
            let refuted = refute::unreachable_read(m, &search_ops).is_some();
            let plain = Budget {
                max_steps: None,
                deadline: None,
                max_memory: None,
                reduce: false,
                hide_after: DEFAULT_HIDE_AFTER,
            };
            let r = check::search(m, &search_ops, plain);
            (refuted, r.outcome == Outcome::Linearizable)
        }
        let mut rng = Rng::new(4242);
        let (mut fired, mut not_lin, mut lin) = (0, 0, 0);
        for n in 0..6000 {
            let kind = ModelKind::ALL[n % 3];
            let h = random_history(&mut rng, kind);
            let init = kind.default_init();
            let (refuted, linearizable) = match kind {
                ModelKind::Register => one(&h, &Register { init }),
                ModelKind::CasRegister => one(&h, &CasRegister { init }),
                ModelKind::Kv => one(&h, &Kv { init }),
            };
            assert!(!(refuted && linearizable), "{}", h.to_jsonl());
            fired += usize::from(refuted);
            not_lin += usize::from(!linearizable);
            lin += usize::from(linearizable);
        }
        assert!(lin > 500 && not_lin > 500, "{lin} {not_lin}");
        assert!(fired > not_lin / 4, "fired on {fired} of {not_lin}");
    }

    /// The last-reset rule alone ([`refute::superseded_read`]) never fires on a key the
    /// plain search finds linearizable, on random histories of every model with repeated
    /// values, info, failed and unfinished ops, and it fires on some that are not.
    #[test]
    fn last_reset_rule_agrees_with_the_plain_search() {
        fn one<M: Model>(h: &History, m: &M) -> (bool, bool) {
            let ops = collect_ops(h);
            let views: Vec<&OpRef> = ops.iter().map(|(_, v)| v).collect();
            let (search_ops, _) = prepare(m, &views).expect("valid");
            let refuted = refute::superseded_read(m, &search_ops).is_some();
            let plain = Budget {
                max_steps: None,
                deadline: None,
                max_memory: None,
                reduce: false,
                hide_after: DEFAULT_HIDE_AFTER,
            };
            let r = check::search(m, &search_ops, plain);
            (refuted, r.outcome == Outcome::Linearizable)
        }
        let mut rng = Rng::new(1818);
        let (mut fired, mut not_lin) = (0, 0);
        for n in 0..6000 {
            let kind = ModelKind::ALL[n % 3];
            let h = random_history(&mut rng, kind);
            let init = kind.default_init();
            let (refuted, linearizable) = match kind {
                ModelKind::Register => one(&h, &Register { init }),
                ModelKind::CasRegister => one(&h, &CasRegister { init }),
                ModelKind::Kv => one(&h, &Kv { init }),
            };
            assert!(!(refuted && linearizable), "{}", h.to_jsonl());
            fired += usize::from(refuted);
            not_lin += usize::from(!linearizable);
        }
        eprintln!("last-reset rule fired on {fired} of {not_lin}");
        assert!(fired > not_lin / 10, "fired on {fired} of {not_lin}");
    }

    /// Kv with no lookahead hints: the default `may_reach` ("may reach", always).
    struct KvNoHints(Kv);
    impl Model for KvNoHints {
        type State = Value;
        type Op = crate::model::BuiltinOp;
        fn name(&self) -> String {
            self.0.name()
        }
        fn init(&self) -> Value {
            self.0.init()
        }
        fn op(&self, f: &str, i: &Value, o: Option<&Value>) -> Result<Self::Op, String> {
            self.0.op(f, i, o)
        }
        fn step(&self, s: &Value, op: &Self::Op) -> Option<Value> {
            self.0.step(s, op)
        }
        fn is_read_only(&self, op: &Self::Op) -> bool {
            self.0.is_read_only(op)
        }
        fn state_value(&self, s: &Value) -> Value {
            s.clone()
        }
    }

    /// Kv's `may_reach` spells the value read from a start and distinct appends: with it,
    /// the plain search and both refutation rules agree with a search that has no
    /// lookahead at all, on random kv histories whose appends and puts repeat and overlap
    /// ("x", "y", "xy", "") and whose reads see up to three of them, with info, failed and
    /// unfinished ops.
    #[test]
    fn kv_spelling_agrees_with_a_search_without_hints() {
        let plain = Budget {
            max_steps: None,
            deadline: None,
            max_memory: None,
            reduce: false,
            hide_after: DEFAULT_HIDE_AFTER,
        };
        let mut rng = Rng::new(1819);
        let (mut fired, mut not_lin) = (0, 0);
        for _ in 0..6000 {
            let mut h = random_history(&mut rng, ModelKind::Kv);
            let mut open: BTreeMap<u64, Value> = BTreeMap::new();
            for ev in &mut h.events {
                if ev.f == "get" && ev.kind == EventKind::Ok && rng.below(2) == 0 {
                    // A value some appends may spell: up to three pieces.
                    let mut w = String::new();
                    for _ in 0..rng.below(4) {
                        w.push_str(["x", "y", "xy"][rng.below(3) as usize]);
                    }
                    ev.value = Value::Str(w);
                }
                if ev.f != "append" {
                    continue;
                }
                if ev.kind == EventKind::Invoke {
                    let v = Value::Str(["x", "y", "xy", ""][rng.below(4) as usize].into());
                    open.insert(ev.process, v.clone());
                    ev.value = v;
                } else if let Some(v) = open.remove(&ev.process) {
                    ev.value = v;
                }
            }
            let ops = collect_ops(&h);
            let views: Vec<&OpRef> = ops.iter().map(|(_, v)| v).collect();
            let kv = Kv {
                init: ModelKind::Kv.default_init(),
            };
            let (search_ops, _) = prepare(&kv, &views).expect("valid");
            let truth = check::search(&KvNoHints(kv.clone()), &search_ops, plain).outcome
                == Outcome::Linearizable;
            let with = check::search(&kv, &search_ops, plain).outcome == Outcome::Linearizable;
            assert_eq!(with, truth, "{}", h.to_jsonl());
            let refuted = refute::unreachable_read(&kv, &search_ops).is_some();
            assert!(!(refuted && truth), "{}", h.to_jsonl());
            fired += usize::from(refuted);
            not_lin += usize::from(!truth);
        }
        eprintln!("refutation fired on {fired} of {not_lin}");
        assert!(fired > not_lin / 10, "fired on {fired} of {not_lin}");
    }

    /// `h` made register-like with unique written values: appends and cas become writes
    /// (puts), every write gets a fresh value, every ok read one of the values written so
    /// far, the initial one or one nobody writes.
    fn unique_writes(rng: &mut Rng, mut h: History) -> History {
        let kv = h.model == ModelKind::Kv;
        let val = |n: i64| {
            if kv {
                Value::Str(format!("v{n}"))
            } else {
                Value::Int(n)
            }
        };
        let init = h.model.default_init();
        let mut written = vec![init, val(999)];
        let mut open: BTreeMap<u64, Value> = BTreeMap::new();
        for ev in &mut h.events {
            let read = matches!(ev.f.as_str(), "read" | "get");
            if !read {
                ev.f = if kv { "put" } else { "write" }.into();
            }
            match ev.kind {
                EventKind::Invoke if !read => {
                    let v = val(written.len() as i64);
                    written.push(v.clone());
                    open.insert(ev.process, v.clone());
                    ev.value = v;
                }
                EventKind::Invoke => {}
                _ if !read => ev.value = open.remove(&ev.process).unwrap_or(Value::Null),
                EventKind::Ok => {
                    ev.value = written[rng.below(written.len() as u64) as usize].clone()
                }
                _ => {}
            }
        }
        h
    }

    /// The zone check (register-like keys with unique written values) never disagrees
    /// with the plain search, on thousands of random histories with info, failed and
    /// unfinished ops, in every model.
    #[test]
    fn zone_check_agrees_with_the_plain_search() {
        let mut rng = Rng::new(1818);
        let mut seen = [0usize; 2];
        let opts = CheckOptions::default();
        for n in 0..6000 {
            let kind = ModelKind::ALL[n % 3];
            let h = random_history(&mut rng, kind);
            let h = unique_writes(&mut rng, h);
            h.validate().expect("generated histories are well-formed");
            let (a, b) = reduced_and_plain(&h, &opts);
            assert_eq!(a.verdict, b.verdict, "{}", h.to_jsonl());
            // Decided without a search (0 steps) whenever it is linearizable.
            if a.verdict == Verdict::Linearizable {
                assert!(a.keys.iter().all(|k| k.steps == 0), "{}", h.to_jsonl());
            }
            seen[usize::from(a.verdict == Verdict::Linearizable)] += 1;
        }
        assert!(seen[0] > 500 && seen[1] > 500, "{seen:?}");
    }
}
