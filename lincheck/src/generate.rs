//! Deterministic, seeded generators of test histories, one per family that is hard for
//! linearizability checkers (see docs/PERFORMANCE.md). Same arguments, same history.
//!
//! * [`register`]: one register, clients issuing reads and unique-valued writes with
//!   realistic overlap; a share of the writes end in `info` (taking effect or not).
//!   Linearizable.
//! * [`register_stale`]: the same without info ops, with reads changed to return an
//!   overwritten value (not linearizable).
//! * [`register_stale_repeating`]: [`register_stale`] with values repeating (modulo a
//!   number), so that the zone check does not apply.
//! * [`kv`]: a key-value store (get, put, append) over a few keys. Linearizable; with
//!   `stale > 0`, that many late reads return a value overwritten before they began (not
//!   linearizable).
//! * [`same_value_writes`]: many concurrent writes of two values, then reads alternating
//!   between them; one read too many makes it not linearizable.
//! * [`info_writes`]: many concurrent unknown-outcome writes of distinct values, then
//!   reads of some of them; a value read again after another makes it not linearizable.
//! * [`kv_info_writes`]: one kv key with many concurrent info puts, appends and cas ops,
//!   then ops that read what some of them did; linearizable, or not with `bad`.
//! * [`kv_unobserved_writes`]: one small kv key without `cas`, random results; drawn
//!   from a given stream, for tests that need many.
//!
//! Histories made by simulation (`register`, `kv`) are linearizable by construction: each
//! op takes effect at an instant strictly inside its interval, and results are computed
//! in the order of those instants.
//!
//! ```
//! use lincheck::{CheckOptions, Verdict, check_history, generate};
//! let h = generate::register(7, 200, 4, 50);
//! assert_eq!(check_history(&h, &CheckOptions::default())?.verdict, Verdict::Linearizable);
//! assert_eq!(h, generate::register(7, 200, 4, 50));
//! # Ok::<(), lincheck::HistoryError>(())
//! ```

use std::collections::BTreeMap;

use crate::history::{Event, EventKind, History, ModelKind, Value};

/// A small deterministic generator (splitmix64).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x6a09_e667_f3bc_c909)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut x = self.0;
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^ (x >> 31)
    }
    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// What a simulated op does.
#[derive(Clone, Debug)]
enum Act {
    Read,
    Write(Value),
    Append(String),
}

/// One simulated op: times are even; its effect instant `lin` is odd, strictly inside.
#[derive(Clone, Debug)]
struct SimOp {
    process: u64,
    key: Option<Value>,
    act: Act,
    invoke: u64,
    lin: u64,
    complete: u64,
    /// Ends in `info`; `applied` says whether it took effect.
    info: bool,
    applied: bool,
    /// A stale read: returns an overwritten value instead of the current one.
    stale: bool,
    result: Value,
}

/// Clients issue ops back to back with random latency (2-40 time units) and think time.
fn simulate<F: FnMut(&mut Rng, u64) -> (Option<Value>, Act)>(
    rng: &mut Rng,
    ops: usize,
    clients: usize,
    mut pick: F,
) -> Vec<SimOp> {
    let clients = clients.max(1);
    let mut now = vec![0u64; clients];
    let mut out = Vec::with_capacity(ops);
    for n in 0..ops {
        // The client that is free first goes next (ties: lowest number).
        let c = (0..clients).min_by_key(|&c| (now[c], c)).unwrap_or(0);
        let invoke = now[c] + 2 * rng.below(3);
        let latency = 2 + 2 * rng.below(20);
        let complete = invoke + latency;
        let lin = invoke + 1 + 2 * rng.below(latency / 2);
        let (key, act) = pick(rng, n as u64);
        out.push(SimOp {
            process: c as u64,
            key,
            act,
            invoke,
            lin,
            complete,
            info: false,
            applied: true,
            stale: false,
            result: Value::Null,
        });
        now[c] = complete + 2;
    }
    out
}

/// Computes results in effect order, then writes the events in time order.
fn finish(model: ModelKind, init: &Value, mut ops: Vec<SimOp>) -> History {
    let mut by_lin: Vec<usize> = (0..ops.len()).collect();
    by_lin.sort_by_key(|&i| (ops[i].lin, i));
    // Per key: the values it held, each with the completion of the write that replaced it.
    let mut state: BTreeMap<Option<Value>, Value> = BTreeMap::new();
    let mut past: BTreeMap<Option<Value>, Vec<(Value, u64)>> = BTreeMap::new();
    for &i in &by_lin {
        let op = &ops[i];
        let cur = state.entry(op.key.clone()).or_insert_with(|| init.clone());
        let result = match &op.act {
            Act::Read if op.stale => {
                // The newest value whose replacement completed before this read began.
                let hist = past.entry(op.key.clone()).or_default();
                hist.iter()
                    .rev()
                    .find(|(v, replaced)| *replaced < op.invoke && v != cur)
                    .map(|(v, _)| v.clone())
                    .unwrap_or_else(|| cur.clone())
            }
            Act::Read => cur.clone(),
            Act::Write(v) => {
                if op.applied {
                    let old = std::mem::replace(cur, v.clone());
                    past.entry(op.key.clone())
                        .or_default()
                        .push((old, op.complete));
                }
                v.clone()
            }
            Act::Append(s) => {
                if op.applied {
                    let next = match &*cur {
                        Value::Str(p) => Value::Str(format!("{p}{s}")),
                        _ => Value::Str(s.clone()),
                    };
                    let old = std::mem::replace(cur, next);
                    past.entry(op.key.clone())
                        .or_default()
                        .push((old, op.complete));
                }
                Value::Str(s.clone())
            }
        };
        ops[i].result = result;
    }
    let (read, write) = match model {
        ModelKind::Kv => ("get", "put"),
        _ => ("read", "write"),
    };
    // (time, invoke? (completions first at equal times), op index)
    let mut evs: Vec<(u64, bool, usize)> = Vec::with_capacity(ops.len() * 2);
    for (i, op) in ops.iter().enumerate() {
        evs.push((op.invoke, true, i));
        evs.push((op.complete, false, i));
    }
    evs.sort();
    let events = evs
        .into_iter()
        .map(|(time, invoke, i)| {
            let op = &ops[i];
            let (f, input) = match &op.act {
                Act::Read => (read, Value::Null),
                Act::Write(v) => (write, v.clone()),
                Act::Append(s) => ("append", Value::Str(s.clone())),
            };
            let (kind, value) = if invoke {
                (EventKind::Invoke, input)
            } else if op.info {
                (EventKind::Info, input)
            } else {
                (EventKind::Ok, op.result.clone())
            };
            Event {
                process: op.process,
                kind,
                f: f.to_string(),
                key: op.key.clone(),
                value,
                time: Some(time),
                error: None,
            }
        })
        .collect();
    History {
        model,
        init: None,
        events,
        process_names: Default::default(),
    }
}

/// One register: `ops` ops by `clients` clients, half reads, half writes of unique
/// values; `info_per_mille` of the writes end in `info` (half of those took effect).
/// Linearizable.
pub fn register(seed: u64, ops: usize, clients: usize, info_per_mille: u64) -> History {
    let mut rng = Rng::new(seed);
    let mut sim = simulate(&mut rng, ops, clients, |rng, n| {
        if rng.below(2) == 0 {
            (None, Act::Read)
        } else {
            (None, Act::Write(Value::Int(n as i64 + 1)))
        }
    });
    // A client whose op ended in info goes on as a new process (Jepsen's convention).
    let mut pid: Vec<u64> = (0..clients.max(1) as u64).collect();
    let mut next_pid = pid.len() as u64;
    for op in &mut sim {
        let client = op.process as usize;
        op.process = pid[client];
        if matches!(op.act, Act::Write(_)) && rng.below(1000) < info_per_mille {
            op.info = true;
            op.applied = rng.below(2) == 0;
            pid[client] = next_pid;
            next_pid += 1;
        }
    }
    finish(ModelKind::Register, &Value::Null, sim)
}

/// [`register`] without info ops, with `stale` reads in the last half changed to return
/// an overwritten value: that of a write `w` such that another write began after `w`
/// completed and completed before the read began. Every linearization then has the other
/// write between `w` and the read, so the history is not linearizable (when `stale > 0`
/// and such a pair exists, as it does at any realistic size).
pub fn register_stale(seed: u64, ops: usize, clients: usize, stale: usize) -> History {
    let mut h = register(seed, ops, clients, 0);
    let mut rng = Rng::new(seed ^ 0x57a1e);
    // Ops as (invoke event, complete event), in invoke order.
    let mut open: BTreeMap<u64, usize> = BTreeMap::new();
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for (i, e) in h.events.iter().enumerate() {
        if e.kind == EventKind::Invoke {
            open.insert(e.process, spans.len());
            spans.push((i, usize::MAX));
        } else if let Some(k) = open.remove(&e.process) {
            spans[k].1 = i;
        }
    }
    let write: Vec<bool> = spans
        .iter()
        .map(|&(i, _)| h.events[i].f == "write")
        .collect();
    let writes: Vec<usize> = (0..spans.len()).filter(|&k| write[k]).collect();
    let mut at = spans.len() / 2 + rng.below((spans.len() / 4).max(1) as u64) as usize;
    let mut marked = 0;
    while marked < stale && at < spans.len() {
        let k = at;
        at += 1 + rng.below(8) as usize;
        if write[k] {
            continue;
        }
        let (r_inv, r_done) = spans[k];
        // The last write completed before the read began, then the last one that
        // completed before that one began.
        let Some(&w2) = writes.iter().rev().find(|&&w| spans[w].1 < r_inv) else {
            continue;
        };
        let Some(&w) = writes.iter().rev().find(|&&w| spans[w].1 < spans[w2].0) else {
            continue;
        };
        let v = h.events[spans[w].0].value.clone();
        h.events[r_done].value = v;
        marked += 1;
    }
    h
}

/// [`register_stale`] with every value taken modulo `distinct` (plus one): written
/// values repeat, so the zone check (unique values) does not apply, and a stale read is
/// found by the refutation of a read no undominated last write explains (while
/// `distinct` is large against the writes in flight). With `stale = 0`, linearizable.
pub fn register_stale_repeating(
    seed: u64,
    ops: usize,
    clients: usize,
    stale: usize,
    distinct: i64,
) -> History {
    let mut h = register_stale(seed, ops, clients, stale);
    for e in &mut h.events {
        if let Value::Int(v) = e.value {
            e.value = Value::Int(v % distinct.max(1) + 1);
        }
    }
    h
}

/// A kv store: `ops` ops by `clients` clients over `keys` keys (get 50%, put 25%,
/// append 25%, unique values). With `stale > 0`, that many reads in the last half return
/// a value that was overwritten before they were invoked: not linearizable.
pub fn kv(seed: u64, ops: usize, keys: usize, clients: usize, stale: usize) -> History {
    let mut rng = Rng::new(seed);
    let keys = keys.max(1) as u64;
    let mut sim = simulate(&mut rng, ops, clients, |rng, n| {
        let key = Some(Value::Str(format!("k{}", rng.below(keys))));
        let act = match rng.below(4) {
            0 => Act::Write(Value::Str(format!("p{n}."))),
            1 => Act::Append(format!("a{n}.")),
            _ => Act::Read,
        };
        (key, act)
    });
    let mut marked = 0;
    let mut at = sim.len() / 2 + (rng.below((sim.len() / 4).max(1) as u64) as usize);
    while marked < stale && at < sim.len() {
        if matches!(sim[at].act, Act::Read) {
            sim[at].stale = true;
            marked += 1;
        }
        at += 1;
    }
    let h = finish(ModelKind::Kv, &Value::Str(String::new()), sim);
    History {
        init: Some(Value::Str(String::new())),
        ..h
    }
}

fn ev(process: u64, kind: EventKind, f: &str, value: Value, time: u64) -> Event {
    Event {
        process,
        kind,
        f: f.to_string(),
        key: None,
        value,
        time: Some(time),
        error: None,
    }
}

/// `2 * per_value` concurrent writes, half of value 1 and half of value 2, then one
/// reader alternating 1, 2, 1, 2... while they are all pending: `2 * per_value` reads
/// (each needs a write of its own: linearizable), or one more (not linearizable). Each
/// write completes after the reads, in a seeded order.
pub fn same_value_writes(seed: u64, per_value: usize, one_too_many: bool) -> History {
    let mut rng = Rng::new(seed);
    let writers = 2 * per_value as u64;
    let mut events = Vec::new();
    let mut t = 0;
    for p in 0..writers {
        events.push(ev(
            p,
            EventKind::Invoke,
            "write",
            Value::Int(1 + (p % 2) as i64),
            t,
        ));
        t += 2;
    }
    let reads = writers + u64::from(one_too_many);
    for r in 0..reads {
        let v = Value::Int(1 + (r % 2) as i64);
        events.push(ev(writers, EventKind::Invoke, "read", Value::Null, t));
        events.push(ev(writers, EventKind::Ok, "read", v, t + 2));
        t += 4;
    }
    let mut order: Vec<u64> = (0..writers).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    for p in order {
        events.push(ev(
            p,
            EventKind::Ok,
            "write",
            Value::Int(1 + (p % 2) as i64),
            t,
        ));
        t += 2;
    }
    History {
        model: ModelKind::Register,
        init: None,
        events,
        process_names: Default::default(),
    }
}

/// `writes` concurrent writes of the distinct values 1..=writes that all end in `info`,
/// then one reader reading `reads` of those values, in a seeded order. Linearizable, or,
/// with `reread`, the last read returns the first read's value again after another value
/// was read (not linearizable: that value's only write cannot take effect twice).
pub fn info_writes(seed: u64, writes: usize, reads: usize, reread: bool) -> History {
    let mut rng = Rng::new(seed);
    let writes = writes.max(2) as u64;
    let mut events = Vec::new();
    let mut t = 0;
    for p in 0..writes {
        events.push(ev(
            p,
            EventKind::Invoke,
            "write",
            Value::Int(p as i64 + 1),
            t,
        ));
        events.push(ev(
            p,
            EventKind::Info,
            "write",
            Value::Int(p as i64 + 1),
            t + 1,
        ));
        t += 2;
    }
    let mut values: Vec<i64> = (1..=writes as i64).collect();
    for i in (1..values.len()).rev() {
        values.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let reads = reads.clamp(2, writes as usize);
    let mut seen: Vec<i64> = values[..reads].to_vec();
    if reread {
        let last = seen.len() - 1;
        seen[last] = seen[0];
    }
    for v in seen {
        events.push(ev(writes, EventKind::Invoke, "read", Value::Null, t));
        events.push(ev(writes, EventKind::Ok, "read", Value::Int(v), t + 2));
        t += 4;
    }
    History {
        model: ModelKind::Register,
        init: None,
        events,
        process_names: Default::default(),
    }
}

/// One hot kv key as a replicated store's timed-out clients leave it: `writes`
/// concurrent puts, appends and cas ops (from `""` or an earlier put's value) that all end
/// in `info`, values repeating now and then; a seeded half of them take effect, in a
/// seeded order, some only between the ops that follow. Then one client runs `reads` ops
/// one after another: mostly gets, now and then an `ok` put, append or cas (answering as
/// the state says). Linearizable; with `bad`, four more ops make it not: put `x1`, get
/// `x1`, put `x2`, get `x1` (no other op can set `x1` again).
pub fn kv_info_writes(seed: u64, writes: usize, reads: usize, bad: bool) -> History {
    let mut rng = Rng::new(seed);
    let mut events = Vec::new();
    let mut t = 0;
    let s = |x: String| Value::Str(x);
    let mut puts: Vec<String> = vec![String::new()];
    // The effect of each info op: the op and whether it may come late.
    let mut effects: Vec<(BuiltinEffect, bool)> = Vec::new();
    for k in 0..writes as u64 {
        let rep = |rng: &mut Rng| if rng.below(4) == 0 { k % 3 } else { k };
        let (f, value, effect) = match rng.below(3) {
            0 => {
                let v = format!("p{}", rep(&mut rng));
                puts.push(v.clone());
                ("put", s(v.clone()), BuiltinEffect::Put(v))
            }
            1 => {
                let v = format!("/a{}", rep(&mut rng));
                ("append", s(v.clone()), BuiltinEffect::Append(v))
            }
            _ => {
                let from = puts[rng.below(puts.len() as u64) as usize].clone();
                let to = format!("c{k}");
                (
                    "cas",
                    Value::List(vec![s(from.clone()), s(to.clone())]),
                    BuiltinEffect::Cas(from, to),
                )
            }
        };
        events.push(ev(k, EventKind::Invoke, f, value, t));
        events.push(ev(k, EventKind::Info, f, Value::Null, t + 1));
        t += 2;
        if rng.below(2) == 0 {
            effects.push((effect, rng.below(3) == 0));
        }
    }
    for i in (1..effects.len()).rev() {
        effects.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let mut state = String::new();
    let mut late = Vec::new();
    for (e, is_late) in effects {
        if is_late {
            late.push(e);
        } else {
            e.apply(&mut state);
        }
    }
    let client = writes as u64;
    let op = |events: &mut Vec<Event>, t: &mut u64, f: &str, input: Value, out: Value| {
        events.push(ev(client, EventKind::Invoke, f, input, *t));
        events.push(ev(client, EventKind::Ok, f, out, *t + 2));
        *t += 4;
    };
    for r in 0..reads {
        if !late.is_empty() && rng.below(3) == 0 {
            late.remove(0).apply(&mut state);
        }
        match rng.below(8) {
            0 => {
                let v = format!("u{r}");
                op(&mut events, &mut t, "put", s(v.clone()), s(v.clone()));
                state = v;
            }
            1 => {
                let v = format!("/o{r}");
                op(&mut events, &mut t, "append", s(v.clone()), s(v.clone()));
                state.push_str(&v);
            }
            2 => {
                let from = if rng.below(2) == 0 {
                    state.clone()
                } else {
                    puts[rng.below(puts.len() as u64) as usize].clone()
                };
                let to = format!("d{r}");
                let swaps = from == state;
                let arg = Value::List(vec![s(from), s(to.clone())]);
                op(&mut events, &mut t, "cas", arg, Value::Bool(swaps));
                if swaps {
                    state = to;
                }
            }
            _ => op(&mut events, &mut t, "get", Value::Null, s(state.clone())),
        }
    }
    if bad {
        let (x1, x2) = (s("x1".into()), s("x2".into()));
        op(&mut events, &mut t, "put", x1.clone(), x1.clone());
        op(&mut events, &mut t, "get", Value::Null, x1.clone());
        op(&mut events, &mut t, "put", x2.clone(), x2);
        op(&mut events, &mut t, "get", Value::Null, x1);
    }
    History {
        model: ModelKind::Kv,
        init: None,
        events,
        process_names: Default::default(),
    }
}

/// What an info op of [`kv_info_writes`] does when it takes effect.
enum BuiltinEffect {
    Put(String),
    Append(String),
    Cas(String, String),
}

impl BuiltinEffect {
    fn apply(self, state: &mut String) {
        match self {
            BuiltinEffect::Put(v) => *state = v,
            BuiltinEffect::Append(v) => state.push_str(&v),
            BuiltinEffect::Cas(from, to) => {
                if *state == from {
                    *state = to;
                }
            }
        }
    }
}

/// One kv key without `cas`, where the unobserved-write rule ([`crate::Model::hiding`])
/// applies: 2-6 processes, 4-14 gets, puts and appends of overlapping strings, some of
/// them info, failed or unfinished, each get returning a value from a pool that the
/// puts and appends may spell (or not): linearizable or not, both often. Drawn from
/// `rng`, so a test can make many from one stream.
pub fn kv_unobserved_writes(rng: &mut Rng) -> History {
    let puts = ["p", "q", "pq", "r", ""];
    let appends = ["a", "b", "ab", "", "q"];
    let reads = [
        "", "p", "pa", "pab", "q", "qa", "qb", "rb", "ra", "a", "pq", "pqa",
    ];
    let procs = 2 + rng.below(5);
    let mut open: Vec<Option<(&str, Value)>> = vec![None; procs as usize];
    let mut pid: Vec<u64> = (0..procs).collect();
    let mut next_pid = procs;
    let mut events = Vec::new();
    let target = 4 + rng.below(11) as usize;
    let mut invoked = 0;
    while invoked < target || open.iter().any(Option::is_some) {
        let p = rng.below(procs) as usize;
        match open[p].take() {
            None if invoked < target => {
                invoked += 1;
                let (f, input) = match rng.below(5) {
                    0 | 1 => ("get", Value::Null),
                    2 => ("put", Value::Str(puts[rng.below(5) as usize].into())),
                    _ => ("append", Value::Str(appends[rng.below(5) as usize].into())),
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
                open[p] = Some((f, input));
            }
            None => {}
            Some((f, input)) => {
                let roll = rng.below(12);
                if roll == 0 && invoked >= target {
                    continue;
                }
                let (kind, value) = match roll {
                    1 => (EventKind::Info, input.clone()),
                    2 => (EventKind::Fail, input.clone()),
                    _ if f == "get" => (
                        EventKind::Ok,
                        Value::Str(reads[rng.below(12) as usize].into()),
                    ),
                    _ => (EventKind::Ok, input.clone()),
                };
                events.push(Event {
                    process: pid[p],
                    kind,
                    f: f.into(),
                    key: None,
                    value,
                    time: None,
                    error: None,
                });
                if kind == EventKind::Info {
                    pid[p] = next_pid;
                    next_pid += 1;
                }
            }
        }
    }
    History {
        model: ModelKind::Kv,
        init: None,
        events,
        process_names: Default::default(),
    }
}
