//! The checker against a brute-force oracle on small random histories (<= 6 ops, 1-3
//! processes, all three models), and mutation tests: change one returned value of a
//! linearizable history and the checker must agree with the oracle about it.
//!
//! The oracle is written from HISTORY-FORMAT.md's Semantics section alone (it shares no
//! code with the checker): for every subset of the info/unfinished ops, try every order of
//! those plus the ok ops that respects real-time precedence.

use std::collections::BTreeMap;

use lincheck::Value;
use lincheck::{
    CheckOptions, Event, EventKind, History, ModelKind, Verdict, check_history, parse_history,
};
use proptest::prelude::*;

// ---------------------------------------------------------------- the oracle

#[derive(Clone, Debug)]
struct OOp {
    f: String,
    input: Value,
    /// `None`: info or unfinished (unconstrained, optional).
    output: Option<Value>,
    invoke: usize,
    complete: Option<usize>,
}

fn spec_step(state: &Value, op: &OOp) -> Option<Value> {
    match op.f.as_str() {
        "read" | "get" => match &op.output {
            Some(v) if v != state => None,
            _ => Some(state.clone()),
        },
        "write" | "put" => Some(op.input.clone()),
        "append" => {
            let Value::Str(suffix) = &op.input else {
                return None;
            };
            match state {
                Value::Str(s) => Some(Value::Str(format!("{s}{suffix}"))),
                Value::Null => Some(Value::Str(suffix.clone())),
                _ => None,
            }
        }
        "cas" => {
            let Value::List(l) = &op.input else {
                return None;
            };
            let swaps = *state == l[0];
            let claimed = match &op.output {
                None => swaps,
                Some(Value::Bool(b)) => *b,
                Some(_) => true, // the Jepsen echo [from, to]
            };
            if claimed != swaps {
                None
            } else if swaps {
                Some(l[1].clone())
            } else {
                Some(state.clone())
            }
        }
        _ => None,
    }
}

/// Is there an order of all of `ops` respecting precedence that the model accepts?
fn some_order(state: &Value, ops: &[OOp], placed: &mut Vec<bool>) -> bool {
    if placed.iter().all(|p| *p) {
        return true;
    }
    for i in 0..ops.len() {
        if placed[i] {
            continue;
        }
        // i may go next only if every unplaced op that precedes it is placed.
        let blocked = (0..ops.len())
            .any(|j| !placed[j] && j != i && ops[j].complete.is_some_and(|c| c < ops[i].invoke));
        if blocked {
            continue;
        }
        if let Some(next) = spec_step(state, &ops[i]) {
            placed[i] = true;
            let ok = some_order(&next, ops, placed);
            placed[i] = false;
            if ok {
                return true;
            }
        }
    }
    false
}

fn oracle_key(init: &Value, ops: &[OOp]) -> bool {
    let (ok, info): (Vec<&OOp>, Vec<&OOp>) = ops.iter().partition(|o| o.output.is_some());
    (0u32..1 << info.len()).any(|mask| {
        let chosen: Vec<OOp> = ok
            .iter()
            .copied()
            .chain(
                info.iter()
                    .enumerate()
                    .filter(|(i, _)| mask & (1 << i) != 0)
                    .map(|(_, o)| *o),
            )
            .cloned()
            .collect();
        some_order(init, &chosen, &mut vec![false; chosen.len()])
    })
}

fn oracle(h: &History) -> bool {
    let init = h.init.clone().unwrap_or(match h.model {
        ModelKind::Kv => Value::Str(String::new()),
        _ => Value::Null,
    });
    let mut open: BTreeMap<u64, usize> = BTreeMap::new();
    let mut ops: Vec<(Option<Value>, Option<OOp>)> = Vec::new();
    for (i, e) in h.events.iter().enumerate() {
        let key = match &e.key {
            Some(Value::Null) | None => None,
            Some(k) => Some(k.clone()),
        };
        match e.kind {
            EventKind::Invoke => {
                open.insert(e.process, ops.len());
                ops.push((
                    key,
                    Some(OOp {
                        f: e.f.clone(),
                        input: e.value.clone(),
                        output: None,
                        invoke: i,
                        complete: None,
                    }),
                ));
            }
            EventKind::Ok => {
                let o = ops[open[&e.process]].1.as_mut().unwrap();
                o.output = Some(e.value.clone());
                o.complete = Some(i);
            }
            EventKind::Fail => ops[open[&e.process]].1 = None,
            EventKind::Info => {}
        }
    }
    let mut by_key: BTreeMap<Option<Value>, Vec<OOp>> = BTreeMap::new();
    for (k, o) in ops {
        if let Some(o) = o {
            by_key.entry(k).or_default().push(o);
        }
    }
    by_key.values().all(|ops| oracle_key(&init, ops))
}

// ------------------------------------------------------- history generation

const MAX_OPS: usize = 6;

#[derive(Clone)]
enum Proc {
    Idle,
    Invoked {
        f: String,
        key: Option<Value>,
        input: Value,
        result: Option<Value>,
    },
    /// Crashed (after an info); the next op from this slot uses a new process id.
    Crashed,
}

fn pick<T: Clone>(choices: &[T], c: u16) -> T {
    choices[c as usize % choices.len()].clone()
}

/// A linearizable history, built by running ops against a real state: each op takes
/// effect at an "apply" step between its invoke and its completion (or, for info and
/// unfinished ops, maybe never). `choices` drive every decision.
fn linearizable_history(model: ModelKind, choices: &[u16]) -> History {
    let mut it = choices.iter().copied();
    let procs = usize::from(it.next().unwrap_or(0) % 3) + 1;
    let mut p = vec![Proc::Idle; procs];
    // Jepsen replaces a crashed process with a fresh id.
    let mut pid: Vec<u64> = (0..procs as u64).collect();
    let mut next_pid = procs as u64;
    let mut state: BTreeMap<Option<Value>, Value> = BTreeMap::new();
    let init = match model {
        ModelKind::Kv => Value::Str(String::new()),
        _ => Value::Null,
    };
    let mut events = Vec::new();
    let mut invoked = 0;
    let s = |x: &str| Value::Str(x.to_string());
    for c in it {
        let who = c as usize % procs;
        let a = c / 3;
        if let Proc::Crashed = p[who] {
            pid[who] = next_pid;
            next_pid += 1;
            p[who] = Proc::Idle;
        }
        let process = pid[who];
        let mut ev = |kind, f: &str, key: &Option<Value>, value: Value| {
            events.push(Event {
                process,
                kind,
                f: f.to_string(),
                key: key.clone(),
                value,
                time: None,
                error: None,
            })
        };
        match p[who].clone() {
            Proc::Idle if invoked < MAX_OPS => {
                invoked += 1;
                let (f, input) = match model {
                    ModelKind::Register => pick(
                        &[
                            ("read", Value::Null),
                            ("write", Value::Int(i64::from(a / 2 % 3))),
                        ],
                        a,
                    ),
                    ModelKind::CasRegister => pick(
                        &[
                            ("read", Value::Null),
                            ("write", Value::Int(i64::from(a / 3 % 3))),
                            (
                                "cas",
                                Value::List(vec![
                                    pick(&[Value::Null, Value::Int(0), Value::Int(1)], a / 3),
                                    Value::Int(i64::from(a / 9 % 3)),
                                ]),
                            ),
                        ],
                        a,
                    ),
                    ModelKind::Kv => pick(
                        &[
                            ("get", Value::Null),
                            ("put", pick(&[s("a"), s("")], a / 3)),
                            ("append", pick(&[s("a"), s("b"), s("c")], a / 3)),
                            // faultline's kv extension: cas per key, as on cas-register.
                            (
                                "cas",
                                Value::List(vec![
                                    pick(&[s(""), s("a"), s("ab")], a / 3),
                                    pick(&[s("a"), s("b")], a / 9),
                                ]),
                            ),
                        ],
                        a,
                    ),
                };
                let key = match model {
                    ModelKind::Kv => pick(&[Some(s("k0")), Some(s("k1")), None], a / 27),
                    _ => pick(&[None, None, Some(Value::Null)], a / 27),
                };
                ev(EventKind::Invoke, f, &key, input.clone());
                p[who] = Proc::Invoked {
                    f: f.to_string(),
                    key,
                    input,
                    result: None,
                };
            }
            Proc::Invoked {
                f,
                key,
                input,
                result: None,
            } => match a % 8 {
                0..=4 => {
                    let norm = key.clone().filter(|k| *k != Value::Null);
                    let st = state.entry(norm).or_insert_with(|| init.clone());
                    let op = OOp {
                        f: f.clone(),
                        input: input.clone(),
                        output: None,
                        invoke: 0,
                        complete: None,
                    };
                    let result = match f.as_str() {
                        "read" | "get" => st.clone(),
                        "cas" => {
                            let Value::List(l) = &input else {
                                unreachable!()
                            };
                            Value::Bool(*st == l[0])
                        }
                        _ => input.clone(),
                    };
                    *st = spec_step(st, &op).expect("generated ops always apply");
                    p[who] = Proc::Invoked {
                        f,
                        key,
                        input,
                        result: Some(result),
                    };
                }
                5 => {
                    ev(EventKind::Fail, &f, &key, Value::Null);
                    p[who] = Proc::Idle;
                }
                6 => {
                    ev(EventKind::Info, &f, &key, Value::Null);
                    p[who] = Proc::Crashed;
                }
                _ => {} // not yet
            },
            Proc::Invoked {
                f,
                key,
                result: Some(r),
                ..
            } => {
                if a % 8 == 7 {
                    ev(EventKind::Info, &f, &key, Value::Null);
                    p[who] = Proc::Crashed;
                } else {
                    ev(EventKind::Ok, &f, &key, r);
                    p[who] = Proc::Idle;
                }
            }
            Proc::Idle | Proc::Crashed => {} // op budget used up
        }
    }
    History {
        model,
        init: None,
        events,
        process_names: Default::default(),
    }
}

/// Changes the result of the `which`-th result-bearing `ok` event (read/get/cas), if any.
fn mutate(h: &mut History, which: usize, to: u16) -> bool {
    let s = |x: &str| Value::Str(x.to_string());
    let Some(e) = h
        .events
        .iter_mut()
        .filter(|e| e.kind == EventKind::Ok && matches!(e.f.as_str(), "read" | "get" | "cas"))
        .nth(which)
    else {
        return false;
    };
    let candidates = match e.f.as_str() {
        "cas" => vec![Value::Bool(true), Value::Bool(false)],
        "get" => vec![
            s(""),
            s("a"),
            s("b"),
            s("ab"),
            s("ba"),
            s("aa"),
            Value::Null,
        ],
        _ => vec![Value::Null, Value::Int(0), Value::Int(1), Value::Int(2)],
    };
    let others: Vec<Value> = candidates.into_iter().filter(|v| *v != e.value).collect();
    e.value = others[to as usize % others.len()].clone();
    true
}

fn model_of(i: u8) -> ModelKind {
    ModelKind::ALL[usize::from(i % 3)]
}

fn checker(h: &History) -> Verdict {
    let r =
        check_history(h, &CheckOptions::default()).expect("generated histories are well-formed");
    assert_ne!(
        r.verdict,
        Verdict::Unknown,
        "tiny histories must be decided"
    );
    r.verdict
}

/// [`checker`] with every key cut at its quiescent points, however short.
fn cutting_checker(h: &History) -> Verdict {
    let opts = CheckOptions {
        cut_from: 0,
        ..CheckOptions::default()
    };
    let r = check_history(h, &opts).expect("generated histories are well-formed");
    assert_ne!(
        r.verdict,
        Verdict::Unknown,
        "tiny histories must be decided"
    );
    r.verdict
}

fn expect(h: &History) -> Verdict {
    if oracle(h) {
        Verdict::Linearizable
    } else {
        Verdict::NotLinearizable
    }
}

/// A piece: the generator's choices and the mutations made to its history.
type Piece = (Vec<u16>, Vec<(usize, u16)>);

/// Pieces one after another, each generated (and maybe mutated) on its own: every op of a
/// piece is invoked after the ops of the pieces before returned (or stay pending for
/// ever: info and unfinished ops), so the history has quiescent points, which the checker
/// cuts at. Each piece is linearizable from the initial state, so from the state the
/// piece before ends in it often is not: both verdicts occur.
fn in_sequence(model: ModelKind, parts: &[Piece]) -> History {
    let mut events = Vec::new();
    for (k, (choices, muts)) in parts.iter().enumerate() {
        let mut h = linearizable_history(model, choices);
        for &(which, to) in muts {
            mutate(&mut h, which, to);
        }
        events.extend(h.events.into_iter().map(|mut e| {
            e.process += 1000 * k as u64;
            e
        }));
    }
    History {
        model,
        init: None,
        events,
        process_names: Default::default(),
    }
}

fn piece() -> impl Strategy<Value = Piece> {
    (
        prop::collection::vec(any::<u16>(), 0..24),
        prop::collection::vec((0usize..6, any::<u16>()), 0..2),
    )
}

// ------------------------------------------------------------------ tests

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Linearizable by construction: the oracle and the checker both say so.
    #[test]
    fn generated_histories_are_linearizable(m in any::<u8>(), c in prop::collection::vec(any::<u16>(), 0..40)) {
        let h = linearizable_history(model_of(m), &c);
        prop_assert!(oracle(&h), "oracle disagrees with the generator:\n{}", h.to_jsonl());
        prop_assert_eq!(checker(&h), Verdict::Linearizable, "{}", h.to_jsonl());
    }

    /// One changed result: the checker agrees with the oracle, whichever way it goes.
    #[test]
    fn mutated_histories_match_the_oracle(
        m in any::<u8>(),
        c in prop::collection::vec(any::<u16>(), 0..40),
        which in 0usize..6,
        to in any::<u16>(),
    ) {
        let mut h = linearizable_history(model_of(m), &c);
        mutate(&mut h, which, to);
        prop_assert_eq!(checker(&h), expect(&h), "{}", h.to_jsonl());
    }

    /// Several random results: mostly not linearizable, sometimes still linearizable.
    #[test]
    fn random_results_match_the_oracle(
        m in any::<u8>(),
        c in prop::collection::vec(any::<u16>(), 0..40),
        muts in prop::collection::vec((0usize..6, any::<u16>()), 0..4),
    ) {
        let mut h = linearizable_history(model_of(m), &c);
        for (which, to) in muts {
            mutate(&mut h, which, to);
        }
        prop_assert_eq!(checker(&h), expect(&h), "{}", h.to_jsonl());
        // The writer round-trips whatever the generator built.
        prop_assert_eq!(parse_history(&h.to_jsonl(), "gen.jsonl").unwrap(), h);
    }

    /// Quiescent cutting: pieces in sequence, checked piece by piece from the states each
    /// may end in, against the oracle that sees the whole history at once.
    #[test]
    fn pieces_in_sequence_match_the_oracle(
        m in any::<u8>(),
        parts in prop::collection::vec(piece(), 1..3),
    ) {
        let h = in_sequence(model_of(m), &parts);
        prop_assert_eq!(cutting_checker(&h), expect(&h), "{}", h.to_jsonl());
    }
}

/// The sequences of pieces above decide both ways, often.
#[test]
fn pieces_in_sequence_go_both_ways() {
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng >> 16) as u16
    };
    let mut seen = [0usize; 2];
    for round in 0..300u32 {
        let parts: Vec<Piece> = (0..2)
            .map(|_| {
                let c = (0..20).map(|_| next()).collect();
                let muts = if next() % 4 == 0 {
                    vec![(usize::from(next() % 6), next())]
                } else {
                    Vec::new()
                };
                (c, muts)
            })
            .collect();
        let h = in_sequence(model_of(round as u8), &parts);
        let want = expect(&h);
        assert_eq!(cutting_checker(&h), want, "{}", h.to_jsonl());
        seen[usize::from(want == Verdict::Linearizable)] += 1;
    }
    assert!(seen[0] > 30 && seen[1] > 30, "{seen:?}");
}

/// Every single-result mutation of a fixed set of linearizable histories: the checker
/// notices exactly where the oracle says the history broke, and both outcomes occur.
#[test]
fn every_single_mutation_is_judged_like_the_oracle() {
    let mut broke = 0;
    let mut survived = 0;
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng >> 16) as u16
    };
    for round in 0..300u32 {
        let choices: Vec<u16> = (0..40).map(|_| next()).collect();
        let base = linearizable_history(model_of(round as u8), &choices);
        assert_eq!(checker(&base), Verdict::Linearizable);
        for which in 0..MAX_OPS {
            for to in 0..6 {
                let mut h = base.clone();
                if !mutate(&mut h, which, to) {
                    break;
                }
                let want = expect(&h);
                assert_eq!(checker(&h), want, "{}", h.to_jsonl());
                match want {
                    Verdict::NotLinearizable => broke += 1,
                    _ => survived += 1,
                }
            }
        }
    }
    assert!(broke > 500, "only {broke} mutations broke linearizability");
    assert!(survived > 50, "only {survived} mutations kept it");
}
