//! Sequential specifications: the [`Model`] trait and the three built-in models.

use std::fmt::Debug;
use std::hash::Hash;

use crate::history::Value;

/// A sequential specification of one object (one key).
///
/// The checker asks the model to [prepare](Model::op) every operation once, then calls
/// [`step`](Model::step) many times during the search. A protocol can define its own
/// model and check it with [`check_with_model`](crate::check_with_model).
///
/// ```
/// use lincheck::{Model, Value};
///
/// /// A counter: `add n` (result ignored) and `get` (returns the total).
/// struct Counter;
/// enum CounterOp { Add(i64), Get(Option<i64>) }
///
/// impl Model for Counter {
///     type State = i64;
///     type Op = CounterOp;
///     fn name(&self) -> String { "counter".into() }
///     fn init(&self) -> i64 { 0 }
///     fn op(&self, f: &str, input: &Value, output: Option<&Value>) -> Result<CounterOp, String> {
///         match (f, input, output) {
///             ("add", Value::Int(n), _) => Ok(CounterOp::Add(*n)),
///             ("get", _, None) => Ok(CounterOp::Get(None)),
///             ("get", _, Some(Value::Int(n))) => Ok(CounterOp::Get(Some(*n))),
///             _ => Err(format!("expected add <int> or get, found {f}")),
///         }
///     }
///     fn step(&self, s: &i64, op: &CounterOp) -> Option<i64> {
///         match op {
///             CounterOp::Add(n) => s.checked_add(*n),
///             CounterOp::Get(seen) => seen.is_none_or(|v| v == *s).then_some(*s),
///         }
///     }
///     fn is_read_only(&self, op: &CounterOp) -> bool { matches!(op, CounterOp::Get(_)) }
///     fn state_value(&self, s: &i64) -> Value { Value::Int(*s) }
/// }
/// ```
pub trait Model {
    /// The object's state. The checker memoizes `(set of placed ops, state)` pairs, so
    /// equal states must mean equal futures.
    type State: Clone + Eq + Hash;
    /// A prepared operation: its input and, for completed ops, its output.
    type Op;

    /// A short name for reports.
    fn name(&self) -> String;

    /// The state before any operation.
    fn init(&self) -> Self::State;

    /// Prepares one operation. `output` is `None` when the result is unconstrained (the
    /// op ended in `info` or never completed); the op may then take effect or not.
    /// An `Err` explains why the op is not one of this model's (it becomes a bad-input
    /// error).
    fn op(&self, f: &str, input: &Value, output: Option<&Value>) -> Result<Self::Op, String>;

    /// Applies `op` to `state`: the new state, or `None` if the op's recorded output is
    /// impossible in `state`.
    fn step(&self, state: &Self::State, op: &Self::Op) -> Option<Self::State>;

    /// `step(state, op).is_some()`, for read-only ops; override to avoid building the
    /// unchanged state.
    fn accepts(&self, state: &Self::State, op: &Self::Op) -> bool {
        self.step(state, op).is_some()
    }

    /// `true` if `op` never changes the state when [`step`](Model::step) accepts it (a
    /// read). The checker then places it as soon as it fits, without trying other orders,
    /// and drops it when its output is unconstrained. Returning `false` is always safe.
    fn is_read_only(&self, _op: &Self::Op) -> bool {
        false
    }

    /// The state as a history value, for reports.
    fn state_value(&self, state: &Self::State) -> Value;

    /// Pruning hint: can the read-only op `read` (with a recorded result) succeed after
    /// applying some of `others`, each at most once and in some order, to `state`?
    /// Answering `true` is always safe; `false` must be certain. The checker asks this
    /// about reads that must be placed before other ops complete, and abandons the
    /// branch on `false`.
    fn may_reach(
        &self,
        _state: &Self::State,
        _read: &Self::Op,
        _others: &mut dyn Iterator<Item = &Self::Op>,
    ) -> bool {
        true
    }

    /// Refutation hint, stronger than [`may_reach`](Model::may_reach): can `read` succeed
    /// after applying to `state` every op of `forced` and some of `others`, each at most
    /// once, in some order? `false` must be certain. The default asks `may_reach` with
    /// both lists as optional ops, which is always safe.
    fn may_reach_forced(
        &self,
        state: &Self::State,
        read: &Self::Op,
        forced: &[&Self::Op],
        others: &[&Self::Op],
    ) -> bool {
        self.may_reach(state, read, &mut forced.iter().chain(others).copied())
    }

    /// Symmetry hint: a hash of `op` that ops for which [`same_op`](Model::same_op) holds
    /// share. `None` (the default) leaves `op` out of symmetry reduction.
    fn op_hash(&self, _op: &Self::Op) -> Option<u64> {
        None
    }

    /// Symmetry hint: `true` only if `a` and `b` are interchangeable, i.e. `step` gives the
    /// same answer for both in every state. The checker then tries only the one that must
    /// complete first when both could go next. Answering `false` is always safe.
    fn same_op(&self, _a: &Self::Op, _b: &Self::Op) -> bool {
        false
    }

    /// `true` only if `step` accepts `op` in every state and its result does not depend on
    /// the state (a blind write). The checker then never places an unknown-outcome op
    /// just before it, since `op` would erase its effect. Answering `false` is always safe.
    fn is_blind_write(&self, _op: &Self::Op) -> bool {
        false
    }

    /// Fast-path hint: `Some(Reads(s))` only if `op` is read-only and `step` accepts it in
    /// state `s` and no other; `Some(Writes(s))` only if `step` takes every state to `s`.
    /// When every op of a key answers `Some` and no two writes (nor a write and
    /// [`init`](Model::init)) set the same state, the checker decides the key without a
    /// search, in O(n log n) (the zone check of Gibbons and Korach). `None` (the default)
    /// is always safe.
    fn register_access(&self, _op: &Self::Op) -> Option<Access<Self::State>> {
        None
    }
}

/// What a register-like op does ([`Model::register_access`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access<S> {
    /// Reads this state (and only this one fits).
    Reads(S),
    /// Sets this state, whatever the state was.
    Writes(S),
}

/// Register-like access of the built-in ops: reads with a recorded value, and writes.
fn builtin_access(op: &BuiltinOp) -> Option<Access<Value>> {
    match op {
        BuiltinOp::Read(Some(v)) => Some(Access::Reads(v.clone())),
        BuiltinOp::Write(v) => Some(Access::Writes(v.clone())),
        _ => None,
    }
}

/// A read/write register (`read`, `write`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Register {
    pub init: Value,
}

/// A register with compare-and-set (`read`, `write`, `cas [from, to]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CasRegister {
    pub init: Value,
}

/// A key-value object, one key at a time (`get`, `put`, `append`, and `cas [from, to]`).
/// `append` concatenates strings; a `null` state counts as `""`.
///
/// `cas` on kv is a faultline extension of history format v1 (which lists get, put and
/// append): replicated key-value stores such as faultline's Raft offer it, and their
/// histories must round-trip through `--history-out` and `faultline check-history`. Its
/// semantics are cas-register's, per key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kv {
    pub init: Value,
}

/// Operations of the built-in models. An `Option` output of `None` is unconstrained.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum BuiltinOp {
    /// `read` / `get`, with the value seen.
    Read(Option<Value>),
    /// `write` / `put`.
    Write(Value),
    /// `append` (kv).
    Append(String),
    /// `cas [from, to]` with its outcome.
    Cas {
        from: Value,
        to: Value,
        ok: Option<bool>,
    },
}

fn read_step(state: &Value, seen: &Option<Value>) -> Option<Value> {
    match seen {
        Some(v) if v != state => None,
        _ => Some(state.clone()),
    }
}

/// Register-like reachability: the read's value is the state, or some op can set it.
fn register_may_reach(
    state: &Value,
    read: &BuiltinOp,
    others: &mut dyn Iterator<Item = &BuiltinOp>,
) -> bool {
    let BuiltinOp::Read(Some(want)) = read else {
        return true;
    };
    if want == state {
        return true;
    }
    for o in others {
        let sets_it = match o {
            BuiltinOp::Write(v) => v == want,
            BuiltinOp::Cas { to, ok, .. } => *ok != Some(false) && to == want,
            BuiltinOp::Read(_) => false,
            BuiltinOp::Append(_) => true,
        };
        if sets_it {
            return true;
        }
    }
    false
}

/// `accepts` for the built-in models: a read is checked without building the unchanged
/// state; anything else is stepped.
fn builtin_accepts<M: Model<State = Value, Op = BuiltinOp>>(
    model: &M,
    state: &Value,
    op: &BuiltinOp,
) -> bool {
    match op {
        BuiltinOp::Read(seen) => seen.as_ref().is_none_or(|v| v == state),
        _ => model.step(state, op).is_some(),
    }
}

/// Reads, and cas ops that answered `false`, leave every built-in model's state alone.
fn builtin_read_only(op: &BuiltinOp) -> bool {
    matches!(
        op,
        BuiltinOp::Read(_)
            | BuiltinOp::Cas {
                ok: Some(false),
                ..
            }
    )
}

/// Symmetry hints of the built-in models: equal ops are interchangeable, and a write
/// (put) sets the state whatever it was.
fn builtin_op_hash(op: &BuiltinOp) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let mut h = crate::memo::FastHasher::default();
    op.hash(&mut h);
    Some(h.finish())
}

fn bad_op(f: &str, allowed: &str) -> String {
    format!("expected \"f\" to be one of {allowed}, found {f:?}")
}

/// The [`Model`] methods that [`Register`], [`CasRegister`] and [`Kv`] answer alike:
/// one op type ([`BuiltinOp`]), one state type ([`Value`]), writes as the only blind ops.
macro_rules! builtin_model_methods {
    () => {
        fn accepts(&self, state: &Value, op: &BuiltinOp) -> bool {
            builtin_accepts(self, state, op)
        }
        fn is_read_only(&self, op: &BuiltinOp) -> bool {
            builtin_read_only(op)
        }
        fn op_hash(&self, op: &BuiltinOp) -> Option<u64> {
            builtin_op_hash(op)
        }
        fn same_op(&self, a: &BuiltinOp, b: &BuiltinOp) -> bool {
            a == b
        }
        fn is_blind_write(&self, op: &BuiltinOp) -> bool {
            matches!(op, BuiltinOp::Write(_))
        }
        fn register_access(&self, op: &BuiltinOp) -> Option<Access<Value>> {
            builtin_access(op)
        }
        fn state_value(&self, state: &Value) -> Value {
            state.clone()
        }
    };
}

impl Model for Register {
    type State = Value;
    type Op = BuiltinOp;
    fn name(&self) -> String {
        "register".into()
    }
    fn init(&self) -> Value {
        self.init.clone()
    }
    fn op(&self, f: &str, input: &Value, output: Option<&Value>) -> Result<BuiltinOp, String> {
        match f {
            "read" => Ok(BuiltinOp::Read(output.cloned())),
            "write" => Ok(BuiltinOp::Write(input.clone())),
            _ => Err(bad_op(f, "read, write")),
        }
    }
    fn step(&self, state: &Value, op: &BuiltinOp) -> Option<Value> {
        match op {
            BuiltinOp::Read(seen) => read_step(state, seen),
            BuiltinOp::Write(v) => Some(v.clone()),
            BuiltinOp::Append(_) | BuiltinOp::Cas { .. } => None,
        }
    }
    builtin_model_methods!();
    fn may_reach(
        &self,
        state: &Value,
        read: &BuiltinOp,
        others: &mut dyn Iterator<Item = &BuiltinOp>,
    ) -> bool {
        register_may_reach(state, read, others)
    }
}

/// The outcome of a cas as recorded: `true`, `false`, or the Jepsen echo `[from, to]`
/// (which means `true`).
fn cas_outcome(output: Option<&Value>) -> Result<Option<bool>, String> {
    match output {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::List(l)) if l.len() == 2 => Ok(Some(true)),
        Some(other) => Err(format!(
            "expected a cas result of true, false or [from, to], found {}",
            crate::wellformed::show(other)
        )),
    }
}

/// Prepares `cas [from, to]` with its recorded outcome.
fn cas_op(input: &Value, output: Option<&Value>) -> Result<BuiltinOp, String> {
    match input {
        Value::List(l) if l.len() == 2 => Ok(BuiltinOp::Cas {
            from: l[0].clone(),
            to: l[1].clone(),
            ok: cas_outcome(output)?,
        }),
        other => Err(format!(
            "expected a cas argument [from, to], found {}",
            crate::wellformed::show(other)
        )),
    }
}

/// `cas`: swaps to `to` iff the state equals `from`; `None` if the recorded outcome is
/// impossible in `state`.
fn cas_step(state: &Value, from: &Value, to: &Value, ok: Option<bool>) -> Option<Value> {
    let swaps = state == from;
    match ok {
        Some(claimed) if claimed != swaps => None,
        _ if swaps => Some(to.clone()),
        _ => Some(state.clone()),
    }
}

impl Model for CasRegister {
    type State = Value;
    type Op = BuiltinOp;
    fn name(&self) -> String {
        "cas-register".into()
    }
    fn init(&self) -> Value {
        self.init.clone()
    }
    fn op(&self, f: &str, input: &Value, output: Option<&Value>) -> Result<BuiltinOp, String> {
        match f {
            "read" => Ok(BuiltinOp::Read(output.cloned())),
            "write" => Ok(BuiltinOp::Write(input.clone())),
            "cas" => cas_op(input, output),
            _ => Err(bad_op(f, "read, write, cas")),
        }
    }
    fn step(&self, state: &Value, op: &BuiltinOp) -> Option<Value> {
        match op {
            BuiltinOp::Read(seen) => read_step(state, seen),
            BuiltinOp::Write(v) => Some(v.clone()),
            BuiltinOp::Cas { from, to, ok } => cas_step(state, from, to, *ok),
            BuiltinOp::Append(_) => None,
        }
    }
    builtin_model_methods!();
    fn may_reach(
        &self,
        state: &Value,
        read: &BuiltinOp,
        others: &mut dyn Iterator<Item = &BuiltinOp>,
    ) -> bool {
        register_may_reach(state, read, others)
    }
}

impl Model for Kv {
    type State = Value;
    type Op = BuiltinOp;
    fn name(&self) -> String {
        "kv".into()
    }
    fn init(&self) -> Value {
        self.init.clone()
    }
    fn op(&self, f: &str, input: &Value, output: Option<&Value>) -> Result<BuiltinOp, String> {
        match (f, input) {
            ("get", _) => Ok(BuiltinOp::Read(output.cloned())),
            ("put", _) => Ok(BuiltinOp::Write(input.clone())),
            ("append", Value::Str(s)) => Ok(BuiltinOp::Append(s.clone())),
            ("append", other) => Err(format!(
                "expected an append argument that is a string, found {}",
                crate::wellformed::show(other)
            )),
            ("cas", _) => cas_op(input, output),
            _ => Err(bad_op(f, "get, put, append, cas")),
        }
    }
    fn step(&self, state: &Value, op: &BuiltinOp) -> Option<Value> {
        match op {
            BuiltinOp::Read(seen) => read_step(state, seen),
            BuiltinOp::Write(v) => Some(v.clone()),
            BuiltinOp::Append(suffix) => match state {
                Value::Str(s) => {
                    let mut out = String::with_capacity(s.len() + suffix.len());
                    out.push_str(s);
                    out.push_str(suffix);
                    Some(Value::Str(out))
                }
                Value::Null => Some(Value::Str(suffix.clone())),
                _ => None,
            },
            BuiltinOp::Cas { from, to, ok } => cas_step(state, from, to, *ok),
        }
    }
    builtin_model_methods!();
    /// Without a `put` (or a `cas` that may swap) among `others`, appends only extend the
    /// string, so the state must be a prefix of the value read.
    fn may_reach(
        &self,
        state: &Value,
        read: &BuiltinOp,
        others: &mut dyn Iterator<Item = &BuiltinOp>,
    ) -> bool {
        let BuiltinOp::Read(Some(want)) = read else {
            return true;
        };
        if want == state {
            return true;
        }
        let grows_into = |from: &str| matches!(want, Value::Str(w) if w.starts_with(from));
        let from_state = match state {
            Value::Str(s) => grows_into(s),
            Value::Null => grows_into(""),
            _ => false,
        };
        // Some start (the state, or a put) that appends can grow into `want`.
        let mut start = from_state;
        let mut appends = false;
        for o in others {
            match o {
                BuiltinOp::Append(_) => appends = true,
                BuiltinOp::Write(v) if v == want => return true,
                BuiltinOp::Write(Value::Str(p)) => start |= grows_into(p),
                BuiltinOp::Write(Value::Null) => start |= grows_into(""),
                // A cas that may swap sets the state like a put (when it matches).
                BuiltinOp::Cas { to, ok, .. } if *ok != Some(false) => match to {
                    v if v == want => return true,
                    Value::Str(p) => start |= grows_into(p),
                    Value::Null => start |= grows_into(""),
                    _ => {}
                },
                _ => {}
            }
            if start && appends {
                return true;
            }
        }
        false
    }
    /// When `forced` and `others` hold only appends (and reads), the string only grows:
    /// the value read must start with the state and be at least as long as the state and
    /// every forced append's suffix together. With a `put` or a `cas` among them, this is
    /// `may_reach` over both lists.
    fn may_reach_forced(
        &self,
        state: &Value,
        read: &BuiltinOp,
        forced: &[&BuiltinOp],
        others: &[&BuiltinOp],
    ) -> bool {
        let only_appends = |ops: &[&BuiltinOp]| {
            ops.iter()
                .all(|o| matches!(o, BuiltinOp::Append(_) | BuiltinOp::Read(_)))
        };
        let forced_len: Option<usize> = forced
            .iter()
            .map(|o| match o {
                BuiltinOp::Append(s) => Some(s.len()),
                _ => None,
            })
            .sum();
        let base = match state {
            Value::Str(s) => Some(s.as_str()),
            Value::Null => Some(""),
            _ => None,
        };
        if let (Some(need), Some(base), BuiltinOp::Read(Some(want))) = (forced_len, base, read) {
            if need > 0 && only_appends(others) {
                // At least one append happens, so the state ends a string.
                return matches!(want, Value::Str(w)
                    if w.starts_with(base) && w.len() >= base.len() + need)
                    && self.may_reach(state, read, &mut forced.iter().chain(others).copied());
            }
        }
        self.may_reach(state, read, &mut forced.iter().chain(others).copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Value {
        Value::Str(x.into())
    }

    #[test]
    fn cas_follows_the_spec() {
        let m = CasRegister { init: Value::Null };
        let l = |a: i64, b: i64| Value::List(vec![Value::Int(a), Value::Int(b)]);
        let ok = m.op("cas", &l(1, 2), Some(&Value::Bool(true))).unwrap();
        assert_eq!(m.step(&Value::Int(1), &ok), Some(Value::Int(2)));
        assert_eq!(m.step(&Value::Int(3), &ok), None);
        let echo = m.op("cas", &l(1, 2), Some(&l(1, 2))).unwrap();
        assert_eq!(echo, ok);
        let no = m.op("cas", &l(1, 2), Some(&Value::Bool(false))).unwrap();
        assert_eq!(m.step(&Value::Int(1), &no), None);
        assert_eq!(m.step(&Value::Int(3), &no), Some(Value::Int(3)));
        let info = m.op("cas", &l(1, 2), None).unwrap();
        assert_eq!(m.step(&Value::Int(1), &info), Some(Value::Int(2)));
        assert_eq!(m.step(&Value::Int(5), &info), Some(Value::Int(5)));
        assert!(m.op("cas", &Value::Int(1), None).is_err());
    }

    #[test]
    fn kv_appends_and_reads() {
        let m = Kv { init: s("") };
        let a = m.op("append", &s("x"), Some(&s("x"))).unwrap();
        let st = m.step(&m.init(), &a).unwrap();
        let st = m.step(&st, &a).unwrap();
        assert_eq!(st, s("xx"));
        let g = m.op("get", &Value::Null, Some(&s("xx"))).unwrap();
        assert_eq!(m.step(&st, &g), Some(s("xx")));
        assert_eq!(m.step(&s("x"), &g), None);
        assert_eq!(m.step(&Value::Null, &a), Some(s("x")));
        assert_eq!(m.step(&Value::Int(1), &a), None);
        assert!(
            m.op("cas", &Value::Null, None).is_err(),
            "cas needs [from, to]"
        );
        let c = m
            .op(
                "cas",
                &Value::List(vec![s("x"), s("y")]),
                Some(&Value::Bool(true)),
            )
            .unwrap();
        assert_eq!(m.step(&s("x"), &c), Some(s("y")));
        assert_eq!(
            m.step(&s("z"), &c),
            None,
            "claimed a swap that could not happen"
        );
        let miss = m
            .op(
                "cas",
                &Value::List(vec![s("x"), s("y")]),
                Some(&Value::Bool(false)),
            )
            .unwrap();
        assert_eq!(m.step(&s("z"), &miss), Some(s("z")));
        assert!(m.is_read_only(&miss));
        let r = Register { init: Value::Null };
        let w = r.op("write", &Value::Int(1), Some(&Value::Int(1))).unwrap();
        assert_eq!(r.step(&Value::Null, &w), Some(Value::Int(1)));
        assert!(r.op("get", &Value::Null, None).is_err());
    }
}
