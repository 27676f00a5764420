//! Sequential specifications: the [`Model`] trait and the three built-in models.

use std::fmt::Debug;
use std::hash::{BuildHasherDefault, Hash};

use crate::history::Value;
use crate::memo::FastHasher;

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

    /// Unknown-outcome hint. An op whose outcome is unknown (`info` or unfinished) would
    /// take the state from `before` to `after`; `later` are the ops not placed yet (not
    /// that op), each with its recorded outcome. `false` only if for every sequence of
    /// `later` ops (each at most once) that [`step`](Model::step) accepts from `after`,
    /// the same sequence with some unknown-outcome ops left out is accepted from
    /// `before`, so a linearization that places the op there has one without it. The
    /// checker then does not place it there. Answering `true` is always safe.
    fn may_observe(
        &self,
        _before: &Self::State,
        _after: &Self::State,
        _later: &mut dyn Iterator<Item = &Self::Op>,
    ) -> bool {
        true
    }

    /// Unobserved-write hint for the key whose ops are `ops` (see [`Hiding`]). `None`
    /// (the default) is always safe.
    fn hiding<'o>(&self, _ops: &[&'o Self::Op]) -> Option<Box<dyn Hiding<Self::State> + 'o>> {
        None
    }

    /// Incremental lookahead hint: [`may_reach`](Model::may_reach) with each of `others`
    /// numbered (the number is the caller's, e.g. the op's index), and with the answer
    /// `true`, perhaps a [`Witness`] for it. Must answer exactly as `may_reach` does. The
    /// default asks `may_reach` and gives no witness.
    fn may_reach_witness(
        &self,
        state: &Self::State,
        read: &Self::Op,
        others: &mut dyn Iterator<Item = (u32, &Self::Op)>,
    ) -> (bool, Option<Witness>) {
        (
            self.may_reach(state, read, &mut others.map(|(_, o)| o)),
            None,
        )
    }

    /// [`may_reach_witness`](Model::may_reach_witness) with `others` of a type known at
    /// compile time (the search's own lookahead), so that a model may walk them without a
    /// virtual call per op. Must answer exactly as `may_reach_witness` does; the default
    /// calls it.
    fn may_reach_witness_in<'o, I>(
        &self,
        state: &Self::State,
        read: &Self::Op,
        mut others: I,
    ) -> (bool, Option<Witness>)
    where
        Self: Sized,
        Self::Op: 'o,
        I: Iterator<Item = (u32, &'o Self::Op)>,
    {
        self.may_reach_witness(state, read, &mut others)
    }

    /// `true` if [`may_reach_witness`](Model::may_reach_witness) may give witnesses
    /// (the search keeps none for a model that says `false`, the default).
    fn gives_witnesses(&self) -> bool {
        false
    }

    /// Whether a witness with [`needs_state`](Witness::needs_state) that
    /// [`may_reach_witness`](Model::may_reach_witness) gave for `read` still holds in
    /// `state`. `false` is always safe.
    fn witness_holds(&self, _state: &Self::State, _read: &Self::Op, _w: &Witness) -> bool {
        false
    }
}

/// Why [`Model::may_reach`] answered `true` for a read, in terms of at most
/// [`WITNESS_OPS`] of the ops it was given (by their numbers). Promise: `may_reach(s, read, others)` is `true`
/// for every state `s` (if [`needs_state`](Witness::needs_state), every state where
/// [`Model::witness_holds`] holds) and every list `others` that holds the ops of
/// [`ops`](Witness::ops) and has at least [`min_others`](Witness::min_others) items. The
/// search then keeps the answer while those ops stay unplaced, without asking again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Witness {
    /// The ops it relies on; `u32::MAX` for none.
    pub ops: [u32; WITNESS_OPS],
    /// It holds only with at least this many ops given.
    pub min_others: u32,
    /// It holds only in states [`Model::witness_holds`] accepts.
    pub needs_state: bool,
}

/// The most ops a [`Witness`] relies on.
pub const WITNESS_OPS: usize = 4;

impl Witness {
    /// A witness relying on `ops` (at most [`WITNESS_OPS`]).
    pub fn new(ops: &[u32], min_others: u32, needs_state: bool) -> Witness {
        let mut w = [u32::MAX; WITNESS_OPS];
        w[..ops.len()].copy_from_slice(ops);
        Witness {
            ops: w,
            min_others,
            needs_state,
        }
    }
}

/// Unobserved writes of one key ([`Model::hiding`]). Promise: whenever
/// [`dead`](Hiding::dead)`(s)` and [`hides`](Hiding::hides)`(i)` both hold, then for every
/// sequence of the key's ops (each at most once) that contains op `i` and that
/// [`Model::step`] accepts from `s`, the same sequence with op `i` moved to the front is
/// accepted from `s` too. The search then places such an op at once, without trying
/// other orders (as it does a read). Answering `false` is always safe.
pub trait Hiding<S> {
    /// `true` only if no op of the key can observe `state` (nor what appends make of it),
    /// and all such states are alike: a sequence of the key's ops that [`Model::step`]
    /// accepts from one dead state it accepts from every other (the search memoizes them
    /// as one state).
    fn dead(&self, state: &S) -> bool;
    /// `true` only if op `i` (an index into the ops given to [`Model::hiding`]) sets a
    /// state, or appends something, that no op of the key can observe.
    fn hides(&mut self, i: usize) -> bool;
}

/// Kv's [`Hiding`]: for keys without `cas`, whose puts, reads and initial state are all
/// strings (or null). Every state is then a string, every put and append is accepted
/// anywhere, and an `ok` read observes a state only if its value starts with it. A state
/// no read's value starts with is *dead*: every read after it comes after a later put.
/// Dead states are alike: from any of them, puts and appends are accepted, and no read
/// until the next put is (its value would start with the dead state).
/// A put whose value no read starts with, or a non-empty append whose value no read
/// contains, *hides*: after it, too, every read comes after a later put. Moving a hiding
/// op `y` from its place in an accepted sequence to the front, in a dead state: the ops
/// before its old place up to the first put are appends (a read there would start with
/// the dead state), so they are accepted after `y` as well, and that put sets both
/// sequences alike; the ops after its old place up to the next put are appends too (a
/// read there would start with `y`'s put or contain `y`'s append), accepted whatever the
/// state, and that put (or the end) sets both alike again.
struct KvHiding<'o> {
    ops: Vec<&'o BuiltinOp>,
    /// Every `ok` read's value, sorted (for "some value starts with").
    sorted: Vec<&'o str>,
    /// Per length looked for: the hashes of every window of that length in every `ok`
    /// read's value (for "no value contains": a hash not there is certain). Only looked
    /// up, never iterated.
    windows: Vec<(
        usize,
        std::collections::HashSet<u64, BuildHasherDefault<FastHasher>>,
    )>,
    /// Per op: 0 not worked out yet, 1 hides, 2 does not.
    known: Vec<u8>,
}

impl KvHiding<'_> {
    fn some_read_may_contain(&mut self, a: &str) -> bool {
        let k = a.len();
        let at = match self.windows.iter().position(|w| w.0 == k) {
            Some(at) => at,
            None => {
                let mut set = std::collections::HashSet::default();
                for v in &self.sorted {
                    for w in v.as_bytes().windows(k) {
                        set.insert(fnv(w));
                    }
                }
                self.windows.push((k, set));
                self.windows.len() - 1
            }
        };
        self.windows[at].1.contains(&fnv(a.as_bytes()))
    }
    fn some_read_starts_with(&self, s: &str) -> bool {
        let at = self.sorted.partition_point(|v| *v < s);
        self.sorted.get(at).is_some_and(|v| v.starts_with(s))
    }
}

impl Hiding<Value> for KvHiding<'_> {
    fn dead(&self, state: &Value) -> bool {
        as_str(state).is_some_and(|s| !self.some_read_starts_with(s))
    }
    fn hides(&mut self, i: usize) -> bool {
        if self.known[i] == 0 {
            let hides = match self.ops[i] {
                BuiltinOp::Write(w) => as_str(w).is_some_and(|w| !self.some_read_starts_with(w)),
                BuiltinOp::Append(a) => !a.is_empty() && !self.some_read_may_contain(a),
                _ => false,
            };
            self.known[i] = if hides { 1 } else { 2 };
        }
        self.known[i] == 1
    }
}

/// FNV-1a of `bytes`.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// [`Kv`]'s [`Model::hiding`]: see [`KvHiding`].
fn kv_hiding<'o>(init: &Value, ops: &[&'o BuiltinOp]) -> Option<Box<dyn Hiding<Value> + 'o>> {
    as_str(init)?;
    let mut sorted = Vec::new();
    for op in ops {
        match op {
            BuiltinOp::Read(Some(v)) => sorted.push(as_str(v)?),
            BuiltinOp::Read(None) | BuiltinOp::Append(_) => {}
            BuiltinOp::Write(w) => {
                as_str(w)?;
            }
            BuiltinOp::Cas { .. } => return None,
        }
    }
    sorted.sort_unstable();
    Some(Box::new(KvHiding {
        ops: ops.to_vec(),
        sorted,
        windows: Vec::new(),
        known: vec![0; ops.len()],
    }))
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

/// Bounds of [`builtin_may_observe`]: past them it answers "may observe".
const OBSERVE_MAX_APPENDS: usize = 64;
const OBSERVE_MAX_STARTS: usize = 256;

/// [`Model::may_observe`] for the built-in models. Run a sequence of later ops from
/// `after` (the op placed) and, beside it, a shadow from `before` (the op left out) with
/// the same ops except unknown-outcome cas ops, which the shadow leaves out. Until the
/// two states meet (a put sets both alike, and from then on they agree), each is a start
/// followed by appends applied after it: the real one starts at `after` or at the `to` of
/// an unknown-outcome cas that swapped in it, the shadow at `before`. The shadow can only
/// be refused by
/// * an `ok` read or a cas that answered `true`, accepted in the real run while the two
///   differ: its value (or `from`) is a real state, spelled from a real start by distinct
///   appends of `later`;
/// * a cas that answered `false`, refused in the shadow: its `from` is a shadow state,
///   spelled from `before`;
/// * an append, when `before` is not a string (nor `null`).
///
/// If no such op exists, every sequence accepted from `after` is accepted from `before`
/// without its unknown-outcome cas ops. Spelling is [`kv_spells`] (registers have no
/// appends: the value must then equal a start); past [`OBSERVE_MAX_APPENDS`] non-empty
/// appends, any rest after a start counts as spelled. Past [`OBSERVE_MAX_STARTS`] starts
/// or the spelling's node bound, `true`.
fn builtin_may_observe(
    before: &Value,
    after: &Value,
    later: &mut dyn Iterator<Item = &BuiltinOp>,
) -> bool {
    if before == after {
        return false;
    }
    let mut parts: Vec<&str> = Vec::new();
    let mut any_append = false;
    let mut starts: Vec<&Value> = vec![after];
    let mut reals: Vec<&Value> = Vec::new();
    let mut shadows: Vec<&Value> = Vec::new();
    for o in later {
        match o {
            BuiltinOp::Append(s) => {
                any_append = true;
                if !s.is_empty() {
                    parts.push(s);
                }
            }
            BuiltinOp::Read(Some(v)) => reals.push(v),
            BuiltinOp::Cas {
                from,
                ok: Some(true),
                ..
            } => reals.push(from),
            BuiltinOp::Cas {
                from,
                ok: Some(false),
                ..
            } => shadows.push(from),
            BuiltinOp::Cas { to, ok: None, .. } => starts.push(to),
            BuiltinOp::Read(None) | BuiltinOp::Write(_) => {}
        }
    }
    if starts.len() > OBSERVE_MAX_STARTS {
        return true;
    }
    // Past the spelling's bound, a prefix and any append are taken to spell the rest.
    let spell = parts.len() <= OBSERVE_MAX_APPENDS;
    if any_append && as_str(before).is_none() {
        // The shadow refuses appends from a state that is not a string.
        return true;
    }
    let mut steps = SPELL_STEPS;
    let mut extends = |want: &Value, base: &Value| -> bool {
        if want == base {
            return true;
        }
        let (Value::Str(w), Some(b)) = (want, as_str(base)) else {
            return false;
        };
        match w.strip_prefix(b) {
            None => false,
            // `null` made `""` by an append (only an empty one can).
            Some("") => any_append,
            Some(rest) => !spell || kv_spells(rest, &parts, 0, &mut steps),
        }
    };
    reals.iter().any(|w| starts.iter().any(|s| extends(w, s)))
        || shadows.iter().any(|w| extends(w, before))
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
        fn may_observe(
            &self,
            before: &Value,
            after: &Value,
            later: &mut dyn Iterator<Item = &BuiltinOp>,
        ) -> bool {
            builtin_may_observe(before, after, later)
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
    /// The value read must be a start (the state, or what a `put` or a `cas` that may swap
    /// among `others` sets) followed by distinct appends of `others`, each used at most
    /// once ([`kv_spells`]).
    fn may_reach(
        &self,
        state: &Value,
        read: &BuiltinOp,
        others: &mut dyn Iterator<Item = &BuiltinOp>,
    ) -> bool {
        kv_may_reach(state, read, &[], others)
    }
    /// As [`may_reach`](Model::may_reach), and when the start is the state itself (no
    /// reset among the ops applied), every forced append is among those spelling the rest.
    fn may_reach_forced(
        &self,
        state: &Value,
        read: &BuiltinOp,
        forced: &[&BuiltinOp],
        others: &[&BuiltinOp],
    ) -> bool {
        kv_may_reach(state, read, forced, &mut others.iter().copied())
    }
    fn hiding<'o>(&self, ops: &[&'o BuiltinOp]) -> Option<Box<dyn Hiding<Value> + 'o>> {
        kv_hiding(&self.init, ops)
    }
    /// Past 32 ops, the prefix check with a witness (`kv_prefix_witness`); else the
    /// spelling, with a witness when a reset sets the value read or starts a spelling of
    /// it (`kv_reach`).
    fn may_reach_witness(
        &self,
        state: &Value,
        read: &BuiltinOp,
        others: &mut dyn Iterator<Item = (u32, &BuiltinOp)>,
    ) -> (bool, Option<Witness>) {
        let BuiltinOp::Read(Some(want)) = read else {
            return (true, None);
        };
        if want == state {
            return (true, None);
        }
        if others.size_hint().0 > SPELL_MAX_OPS {
            return kv_prefix_witness(state, want, others);
        }
        kv_reach(state, read, &[], others)
    }
    /// The same as [`may_reach_witness`](Model::may_reach_witness), walking `others`
    /// without a virtual call per op.
    fn may_reach_witness_in<'o, I>(
        &self,
        state: &Value,
        read: &BuiltinOp,
        others: I,
    ) -> (bool, Option<Witness>)
    where
        I: Iterator<Item = (u32, &'o BuiltinOp)>,
    {
        let BuiltinOp::Read(Some(want)) = read else {
            return (true, None);
        };
        if want == state {
            return (true, None);
        }
        if others.size_hint().0 > SPELL_MAX_OPS {
            return kv_prefix_witness(state, want, others);
        }
        kv_reach_ops(state, want, others.map(|(k, o)| (k, o, false)))
    }
    fn gives_witnesses(&self) -> bool {
        true
    }
    /// The state is a prefix of the value read (see `kv_prefix_witness`).
    fn witness_holds(&self, state: &Value, read: &BuiltinOp, _w: &Witness) -> bool {
        match (read, as_str(state)) {
            (BuiltinOp::Read(Some(Value::Str(w))), Some(b)) => w.starts_with(b),
            _ => false,
        }
    }
}

/// [`kv_prefix_reach`]`(state, want, &[], false, others)` (the lookahead's case past
/// [`SPELL_MAX_OPS`] ops, `want` not the state), with a [`Witness`] when `true`: a reset
/// that sets `want` (it holds whatever the state and however many ops are given, since
/// [`kv_may_reach`] answers `true` on such a reset on every path), or a reset that sets
/// a prefix of `want` and an append (past [`SPELL_MAX_OPS`] ops), or, needing the state
/// to be a prefix of `want`, an append (past [`SPELL_MAX_OPS`] ops). `true` exactly when
/// the value read is set by a reset, or some start (the state, or a reset) is a prefix of
/// it and there is an append: the same existential [`kv_prefix_reach`] decides.
fn kv_prefix_witness<'o>(
    state: &Value,
    want: &Value,
    others: impl Iterator<Item = (u32, &'o BuiltinOp)>,
) -> (bool, Option<Witness>) {
    let w = match want {
        Value::Str(w) => Some(w.as_str()),
        _ => None,
    };
    let grows = |v: &Value| matches!((w, as_str(v)), (Some(w), Some(b)) if w.starts_with(b));
    let from_state = grows(state);
    let (mut reset, mut append) = (u32::MAX, u32::MAX);
    let min_others = SPELL_MAX_OPS as u32 + 1;
    let found = |reset: u32, append: u32| {
        let w = if reset != u32::MAX {
            Witness::new(&[reset, append], min_others, false)
        } else {
            Witness::new(&[append], min_others, true)
        };
        (true, Some(w))
    };
    for (k, o) in others {
        if append != u32::MAX && (reset != u32::MAX || from_state) {
            return found(reset, append);
        }
        let v = match o {
            BuiltinOp::Append(_) => {
                if append == u32::MAX {
                    append = k;
                }
                continue;
            }
            BuiltinOp::Write(v) => v,
            BuiltinOp::Cas { to, ok, .. } if *ok != Some(false) => to,
            _ => continue,
        };
        // Once a start is known, only a value as long as the one read can be it.
        let may_be_it = match (w, v) {
            (Some(w), Value::Str(b)) => b.len() == w.len() || reset == u32::MAX,
            _ => true,
        };
        if !may_be_it {
            continue;
        }
        if v == want {
            return (true, Some(Witness::new(&[k], 0, false)));
        }
        if reset == u32::MAX && grows(v) {
            reset = k;
        }
    }
    if append != u32::MAX && (reset != u32::MAX || from_state) {
        return found(reset, append);
    }
    (false, None)
}

/// Spelling searches look at no more non-empty appends than this, and no more starts
/// (puts and cas ops) than [`SPELL_MAX_STARTS`]: with more, only prefixes are checked.
const SPELL_MAX_APPENDS: usize = 32;
const SPELL_MAX_STARTS: usize = 8;
/// Ops looked at in all (the lookahead passes the latest first); past them, prefixes only.
/// The prefix check stops at the first start and append it finds, the spelling must see
/// every op: this keeps the lookahead of long, concurrent histories cheap.
const SPELL_MAX_OPS: usize = 32;
/// Nodes a spelling search may visit before it gives up and answers "may reach".
const SPELL_STEPS: usize = 4_096;

/// Kv reachability. In any order of the ops applied, the final state is the one set by the
/// last reset applied (a `put`, or a `cas` that swapped), or the state when there is none,
/// followed by the appends applied after it. So `read`'s value must be such a start
/// followed by distinct appends of `forced` and `others`, each used at most once; with the
/// state as the start, every forced append among them (a forced `put` or `cas` that must
/// swap rules the state out as a start; forced ops may precede any reset). A `cas`'s
/// condition and reads are ignored, so `false` is certain; `true` may be wrong. No
/// allocation: this runs in the search's lookahead, at every step.
fn kv_may_reach(
    state: &Value,
    read: &BuiltinOp,
    forced: &[&BuiltinOp],
    others: &mut dyn Iterator<Item = &BuiltinOp>,
) -> bool {
    kv_reach(state, read, forced, others.map(|o| (u32::MAX, o))).0
}

/// [`kv_may_reach`] with each of `others` numbered, and, when `true`, a [`Witness`] that
/// needs no state where one is cheap to give: a reset (of `others`) that sets the value
/// read, or one that starts a spelling of it by at most `WITNESS_OPS - 1` appends (of
/// `others`). Either makes [`kv_may_reach`] answer `true` from any state with any list
/// that holds those ops: a reset that sets the value is taken on every path, the
/// spelling finds that concatenation (or runs out of steps, which answers `true`), and
/// the prefix checks past the bounds see a start that is a prefix and an append.
fn kv_reach<'o>(
    state: &Value,
    read: &BuiltinOp,
    forced: &[&'o BuiltinOp],
    others: impl Iterator<Item = (u32, &'o BuiltinOp)>,
) -> (bool, Option<Witness>) {
    let BuiltinOp::Read(Some(want)) = read else {
        return (true, None);
    };
    if want == state && forced.is_empty() {
        // The common case in the lookahead: apply nothing.
        return (true, None);
    }
    if forced.len() + others.size_hint().0 > SPELL_MAX_OPS {
        // The loop below would give up at op 33 and check prefixes only, unless a reset
        // sets the value read, which the prefix check sees too: skip to it.
        let rest = &mut forced.iter().copied().chain(others.map(|(_, o)| o));
        return (kv_prefix_reach(state, want, &[], false, rest), None);
    }
    let ops = forced
        .iter()
        .map(|&o| (u32::MAX, o, true))
        .chain(others.map(|(k, o)| (k, o, false)));
    kv_reach_ops(state, want, ops)
}

/// The loop and the spellings of [`kv_reach`], past its early answers: `ops` are the
/// forced ops (flagged `true`, first) and then the others, at most [`SPELL_MAX_OPS`] in
/// all by their size hint. The lookahead ([`Kv`]'s `may_reach_witness_in`) calls it
/// directly with no forced ops: a constant `false` flag, which the compiler folds away,
/// and no chain of two iterators to step through.
#[inline]
fn kv_reach_ops<'o>(
    state: &Value,
    want: &Value,
    mut ops: impl Iterator<Item = (u32, &'o BuiltinOp, bool)>,
) -> (bool, Option<Witness>) {
    // Non-empty appends, the forced ones first (empty ones change nothing).
    let mut parts: [&str; SPELL_MAX_APPENDS] = [""; SPELL_MAX_APPENDS];
    let mut part_ids = [u32::MAX; SPELL_MAX_APPENDS];
    let (mut n, mut n_forced) = (0, 0);
    let mut starts: [&Value; SPELL_MAX_STARTS] = [want; SPELL_MAX_STARTS];
    let mut start_ids = [u32::MAX; SPELL_MAX_STARTS];
    let mut n_starts = 0;
    let mut state_start = true;
    let mut any_append = false;
    let mut seen = 0;
    while let Some((id, o, is_forced)) = ops.next() {
        seen += 1;
        if seen > SPELL_MAX_OPS {
            let rest = &mut std::iter::once(o).chain(ops.map(|(_, o, _)| o));
            let reach = kv_prefix_reach(state, want, &starts[..n_starts], any_append, rest);
            return (reach, None);
        }
        let start = match o {
            BuiltinOp::Append(s) => {
                any_append = true;
                if !s.is_empty() {
                    if n == SPELL_MAX_APPENDS {
                        let rest = &mut ops.map(|(_, o, _)| o);
                        let reach = kv_prefix_reach(state, want, &starts[..n_starts], true, rest);
                        return (reach, None);
                    }
                    parts[n] = s;
                    part_ids[n] = id;
                    n += 1;
                    n_forced += usize::from(is_forced);
                }
                continue;
            }
            BuiltinOp::Write(v) => {
                state_start &= !is_forced;
                v
            }
            BuiltinOp::Cas { to, ok, .. } if *ok != Some(false) => {
                state_start &= !(is_forced && *ok == Some(true));
                to
            }
            _ => continue,
        };
        if start == want {
            // A reset sets the value read itself, and nothing need follow it.
            let w = (id != u32::MAX).then(|| Witness::new(&[id], 0, false));
            return (true, w);
        }
        if n_starts == SPELL_MAX_STARTS {
            let rest = &mut std::iter::once(o).chain(ops.map(|(_, o, _)| o));
            let reach = kv_prefix_reach(state, want, &starts[..n_starts], any_append, rest);
            return (reach, None);
        }
        starts[n_starts] = start;
        start_ids[n_starts] = id;
        n_starts += 1;
    }
    if !state_start {
        n_forced = 0;
    }
    let Value::Str(w) = want else {
        // Appends make strings: only a start that is the value itself explains it.
        return (state_start && want == state && n_forced == 0, None);
    };
    let mut steps = SPELL_STEPS;
    // `None` when `base` does not start a spelling; else `Some` of the mask of the parts
    // spelling the rest, when one was found (`None` when the steps ran out).
    let fits = |base: &str, n_forced: usize, steps: &mut usize| match w.strip_prefix(base) {
        None => None,
        Some("") => (n_forced == 0).then_some(Some(0)),
        Some(rest) => {
            let mut found = None;
            kv_spells_found(rest, &parts[..n], n_forced, steps, &mut found).then_some(found)
        }
    };
    if state_start {
        if want == state && n_forced == 0 {
            return (true, None);
        }
        if as_str(state).is_some_and(|base| fits(base, n_forced, &mut steps).is_some()) {
            return (true, None);
        }
    }
    for k in 0..n_starts {
        let Some(base) = as_str(starts[k]) else {
            continue;
        };
        if starts[..k].iter().any(|&s| as_str(s) == Some(base)) {
            continue;
        }
        // Forced appends may precede the reset.
        if let Some(found) = fits(base, 0, &mut steps) {
            let w = found.and_then(|mask| {
                if start_ids[k] == u32::MAX || mask.count_ones() as usize >= WITNESS_OPS {
                    return None;
                }
                let mut ids = [start_ids[k]; WITNESS_OPS];
                let mut m = 0;
                for (j, &id) in part_ids[..n].iter().enumerate() {
                    if mask & (1 << j) != 0 {
                        if id == u32::MAX {
                            return None;
                        }
                        m += 1;
                        ids[m] = id;
                    }
                }
                Some(Witness::new(&ids[..=m], 0, false))
            });
            return (true, w);
        }
    }
    (false, None)
}

/// Kv reachability past [`kv_may_reach`]'s bounds, prefixes only: the value read is the
/// state, or set by a reset, or some start (the state, `starts`, or a reset among `rest`)
/// is a prefix of it and there is an append (`appended`, or among `rest`). Forced ops
/// count as optional ones here, which is safe.
fn kv_prefix_reach(
    state: &Value,
    want: &Value,
    starts: &[&Value],
    mut appended: bool,
    rest: &mut dyn Iterator<Item = &BuiltinOp>,
) -> bool {
    if want == state {
        return true;
    }
    let grows =
        |v: &Value| matches!((want, as_str(v)), (Value::Str(w), Some(b)) if w.starts_with(b));
    let mut start = grows(state) || starts.iter().any(|s| grows(s));
    // A reset's value: `true` if it is the value read; else it may make `start` true.
    // Once `start` holds, a string of another length than the value read needs no
    // comparison (it can be neither): the lookahead asks this of many ops.
    let w = match want {
        Value::Str(w) => Some(w.as_str()),
        _ => None,
    };
    let reset = |v: &Value, start: &mut bool| match (w, v) {
        (Some(w), Value::Str(b)) => {
            if (!*start || b.len() == w.len()) && w.starts_with(b.as_str()) {
                if b.len() == w.len() {
                    return true;
                }
                *start = true;
            }
            false
        }
        _ => {
            if v == want {
                return true;
            }
            *start |= grows(v);
            false
        }
    };
    for o in rest {
        if start && appended {
            return true;
        }
        match o {
            BuiltinOp::Append(_) => appended = true,
            BuiltinOp::Write(v) if reset(v, &mut start) => return true,
            BuiltinOp::Cas { to, ok, .. } if *ok != Some(false) && reset(to, &mut start) => {
                return true;
            }
            _ => {}
        }
    }
    start && appended
}

/// A value as the string appends extend (`null` counts as `""`).
fn as_str(v: &Value) -> Option<&str> {
    match v {
        Value::Str(s) => Some(s.as_str()),
        Value::Null => Some(""),
        _ => None,
    }
}

/// Can `rest` (not empty) be written as a concatenation of distinct `parts` (each used at
/// most once), using each of the first `n_forced`? A depth-first search over positions of
/// `rest`; equal parts are interchangeable, so at each position only the first unused
/// copy of a value is tried (a forced one, when one is left, since they come first).
/// `true` once it has visited `steps` nodes (shared by the caller's searches), so `false`
/// is certain. At most 64 parts.
fn kv_spells(rest: &str, parts: &[&str], n_forced: usize, steps: &mut usize) -> bool {
    kv_spells_found(rest, parts, n_forced, steps, &mut None)
}

/// [`kv_spells`], setting `found` to the mask of the parts used when it finds a spelling
/// (it stays as it was when the answer comes from running out of steps).
fn kv_spells_found(
    rest: &str,
    parts: &[&str],
    n_forced: usize,
    steps: &mut usize,
    found: &mut Option<u64>,
) -> bool {
    debug_assert!(parts.len() <= 64 && n_forced <= parts.len());
    let forced_len: usize = parts[..n_forced].iter().map(|p| p.len()).sum();
    let total: usize = parts.iter().map(|p| p.len()).sum();
    if forced_len > rest.len() || total < rest.len() {
        return false;
    }
    let need = if n_forced == 64 {
        u64::MAX
    } else {
        (1u64 << n_forced) - 1
    };
    // The lookahead's spellings have at most `SPELL_MAX_APPENDS` parts: a smaller table
    // to clear for them.
    if parts.len() <= SPELL_MAX_APPENDS {
        let mut heads = [0u64; SPELL_MAX_APPENDS];
        spell_with_heads(rest, parts, &mut heads, need, forced_len, steps, found)
    } else {
        let mut heads = [0u64; 64];
        spell_with_heads(rest, parts, &mut heads, need, forced_len, steps, found)
    }
}

/// [`spell_from`] from the start, the parts' heads worked out into `heads` first.
#[inline]
fn spell_with_heads(
    rest: &str,
    parts: &[&str],
    heads: &mut [u64],
    need: u64,
    forced_len: usize,
    steps: &mut usize,
    found: &mut Option<u64>,
) -> bool {
    for (h, p) in heads.iter_mut().zip(parts) {
        *h = head8(p.as_bytes());
    }
    let parts = Parts {
        text: parts,
        heads: &heads[..parts.len()],
    };
    spell_from(rest.as_bytes(), parts, 0, need, forced_len, steps, found)
}

/// A spelling's parts, each with its [`head8`] (compared before any byte loop).
#[derive(Clone, Copy)]
struct Parts<'p, 's> {
    text: &'p [&'s str],
    heads: &'p [u64],
}

/// The first (up to) 8 bytes of `b` as a little-endian word, zeros past its end.
#[inline]
fn head8(b: &[u8]) -> u64 {
    if let Some(h) = b.first_chunk::<8>() {
        return u64::from_le_bytes(*h);
    }
    let n = b.len();
    match (b.first_chunk::<4>(), b.last_chunk::<4>()) {
        // 4 to 7 bytes: two loads that overlap (on equal bytes, so `|` keeps them).
        (Some(lo), Some(hi)) => {
            u64::from(u32::from_le_bytes(*lo)) | u64::from(u32::from_le_bytes(*hi)) << (8 * (n - 4))
        }
        // Fewer: byte by byte (a copy of so few bytes would be a call to memcpy).
        _ => b.iter().rev().fold(0, |h, &c| h << 8 | u64::from(c)),
    }
}

/// `rest.starts_with(p)`, given `head8(rest)` and `head8(p)`: a word compare for parts of
/// up to 8 bytes (the bytes past `p`'s end masked off), the head and then the remaining
/// bytes for longer ones.
#[inline]
fn head_starts(rest: &[u8], rest_head: u64, p: &[u8], p_head: u64) -> bool {
    let n = p.len();
    if n > rest.len() {
        return false;
    }
    if n <= 8 {
        let mask = if n == 8 {
            u64::MAX
        } else {
            (1u64 << (8 * n)) - 1
        };
        rest_head & mask == p_head
    } else {
        rest_head == p_head && rest[8..n] == p[8..]
    }
}

/// `a == b` for two parts, given their [`head8`]s.
#[inline]
fn head_eq(a: &[u8], a_head: u64, b: &[u8], b_head: u64) -> bool {
    a_head == b_head && a.len() == b.len() && (a.len() <= 8 || a[8..] == b[8..])
}

/// [`kv_spells`] from `rest`, with the parts of mask `used` applied; `forced_left` is the
/// length of the forced parts not yet used.
fn spell_from(
    rest: &[u8],
    parts: Parts<'_, '_>,
    used: u64,
    need: u64,
    forced_left: usize,
    steps: &mut usize,
    found: &mut Option<u64>,
) -> bool {
    if rest.is_empty() {
        if used & need == need {
            *found = Some(used);
            return true;
        }
        return false;
    }
    if *steps == 0 {
        return true;
    }
    *steps -= 1;
    if forced_left > rest.len() {
        return false;
    }
    let rest_head = head8(rest);
    for (i, (p, &h)) in parts.text.iter().zip(parts.heads).enumerate() {
        let bit = 1u64 << i;
        let p = p.as_bytes();
        if used & bit != 0 || !head_starts(rest, rest_head, p, h) {
            continue;
        }
        // An earlier unused copy of the same value was tried already.
        if parts.text[..i]
            .iter()
            .zip(parts.heads)
            .enumerate()
            .any(|(j, (q, &qh))| used & (1 << j) == 0 && head_eq(q.as_bytes(), qh, p, h))
        {
            continue;
        }
        let left = if need & bit != 0 {
            forced_left - p.len()
        } else {
            forced_left
        };
        if spell_from(
            &rest[p.len()..],
            parts,
            used | bit,
            need,
            left,
            steps,
            found,
        ) {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Value {
        Value::Str(x.into())
    }

    /// The strings the random kv op sets below are made of: short ones, so that appends
    /// spell each other's values often.
    const SPELL_STRS: [&str; 8] = ["", "a", "b", "ab", "ba", "aab", "abab", "abba"];

    /// A random kv value: mostly one of `SPELL_STRS`, sometimes null or a number.
    fn pick_value(rng: &mut crate::generate::Rng) -> Value {
        match rng.below(12) {
            0 => Value::Null,
            1 => Value::Int(1),
            _ => s(SPELL_STRS[rng.below(SPELL_STRS.len() as u64) as usize]),
        }
    }

    /// A random kv op: resets (puts and cas) `resets` times in 100, reads, empty and
    /// short appends.
    fn random_kv_op(rng: &mut crate::generate::Rng, resets: u64) -> BuiltinOp {
        match rng.below(100) {
            x if x < resets && rng.below(2) == 0 => BuiltinOp::Write(pick_value(rng)),
            x if x < resets => BuiltinOp::Cas {
                from: pick_value(rng),
                to: pick_value(rng),
                ok: [None, Some(true), Some(false)][rng.below(3) as usize],
            },
            x if x < 40 => BuiltinOp::Read(Some(pick_value(rng))),
            x if x < 50 => BuiltinOp::Append(String::new()),
            _ => BuiltinOp::Append(SPELL_STRS[rng.below(8) as usize].into()),
        }
    }

    /// `base` followed by about a third of the appends of `ops`, in order: a value the
    /// ops may well spell.
    fn spell_some(rng: &mut crate::generate::Rng, base: &str, ops: &[BuiltinOp]) -> String {
        let mut w = base.to_string();
        for o in ops {
            if let BuiltinOp::Append(x) = o
                && rng.below(3) == 0
            {
                w.push_str(x);
            }
        }
        w
    }

    #[test]
    fn may_observe_sees_reads_cas_and_appends_that_need_the_op() {
        let m = Kv { init: s("") };
        let obs = |before: Value, after: Value, later: &[BuiltinOp]| {
            m.may_observe(&before, &after, &mut later.iter())
        };
        let get = |v: &str| BuiltinOp::Read(Some(s(v)));
        let app = |v: &str| BuiltinOp::Append(v.into());
        let cas = |from: &str, to: &str, ok| BuiltinOp::Cas {
            from: s(from),
            to: s(to),
            ok,
        };
        // A read of what it sets, or of that followed by appends.
        assert!(obs(s(""), s("x"), &[get("x")]));
        assert!(obs(s(""), s("x"), &[app("/a"), get("x/a")]));
        assert!(!obs(s(""), s("x"), &[app("/a"), get("x/b")]));
        assert!(!obs(s(""), s("x"), &[get("y"), BuiltinOp::Write(s("x"))]));
        // A cas that swapped from such a value; one that may swap is a start.
        assert!(obs(
            s(""),
            s("x"),
            &[cas("x/a", "y", Some(true)), app("/a")]
        ));
        assert!(obs(s(""), s("x"), &[cas("x", "z", None), get("z")]));
        assert!(!obs(s(""), s("x"), &[cas("x", "z", Some(false)), get("z")]));
        // A failed cas the state without it would swap: the op hid `from`.
        assert!(obs(s("p"), s("x"), &[cas("p", "q", Some(false))]));
        assert!(obs(
            s("p"),
            s("x"),
            &[app("/a"), cas("p/a", "q", Some(false))]
        ));
        assert!(!obs(s("p"), s("x"), &[cas("x", "q", Some(false))]));
        // Appends to a state that is not a string are refused without it.
        assert!(obs(Value::Int(5), s("x"), &[app("/a")]));
        assert!(!obs(Value::Int(5), s("x"), &[]));
        // Nothing changed: nothing to observe.
        assert!(!obs(s("x"), s("x"), &[get("x")]));
        // Registers: only reads of the value set.
        let r = Register { init: Value::Null };
        let one = Value::Int(1);
        assert!(r.may_observe(
            &Value::Null,
            &one,
            &mut [BuiltinOp::Read(Some(one.clone()))].iter()
        ));
        assert!(!r.may_observe(
            &Value::Null,
            &one,
            &mut [BuiltinOp::Read(Some(Value::Int(2)))].iter()
        ));
    }

    #[test]
    fn kv_may_reach_spells_the_value_from_distinct_appends() {
        let m = Kv { init: s("") };
        let get = |v: &str| BuiltinOp::Read(Some(s(v)));
        let app = |v: &str| BuiltinOp::Append(v.into());
        let put = |v: &str| BuiltinOp::Write(s(v));
        let reach = |st: &str, r: &BuiltinOp, others: &[BuiltinOp]| {
            m.may_reach(&s(st), r, &mut others.iter())
        };
        let (a1, a2, a3) = (app("a1."), app("a2."), app("a3."));
        // In any order, each at most once.
        assert!(reach("p.", &get("p.a2.a1."), &[a1.clone(), a2.clone()]));
        assert!(reach("p.", &get("p.a1."), &[a1.clone(), a2.clone()]));
        // An append that is not there: a prefix check alone says "may reach".
        assert!(!reach("p.", &get("p.a3."), &[a1.clone(), a2.clone()]));
        // One append cannot be used twice; two equal ones can.
        assert!(!reach("p.", &get("p.a1.a1."), &[a1.clone(), a2.clone()]));
        assert!(reach("p.", &get("p.a1.a1."), &[a1.clone(), a1.clone()]));
        assert!(!reach("p.", &get("p.a1.a1.a1."), &[a1.clone(), a1.clone()]));
        // Repeated values that overlap ("ab" + "c" or "a" + "bc"): backtracking finds it.
        assert!(reach("", &get("abc"), &[app("ab"), app("a"), app("bc")]));
        assert!(reach("", &get("abcab"), &[app("ab"), app("a"), app("bc")]));
        assert!(!reach("", &get("abab"), &[app("ab"), app("a"), app("bc")]));
        // A put among the others is a start: from it, or from the state.
        assert!(reach(
            "x.",
            &get("q.a3."),
            &[a1.clone(), put("q."), a3.clone()]
        ));
        assert!(!reach(
            "x.",
            &get("q.a2."),
            &[a1.clone(), put("q."), a3.clone()]
        ));
        assert!(reach("x.", &get("q."), &[put("q.")]));
        // A cas that may swap is a start too; one that failed is not.
        let cas = |to: &str, ok| BuiltinOp::Cas {
            from: s("z"),
            to: s(to),
            ok,
        };
        assert!(reach("x.", &get("q.a1."), &[cas("q.", None), a1.clone()]));
        assert!(!reach(
            "x.",
            &get("q.a1."),
            &[cas("q.", Some(false)), a1.clone()]
        ));
        // A null state counts as "".
        assert!(m.may_reach(&Value::Null, &get("a1."), &mut [a1.clone()].iter()));

        // Forced appends must all be used when the state is the start...
        let forced = |st: &str, r: &BuiltinOp, f: &[&BuiltinOp], o: &[&BuiltinOp]| {
            m.may_reach_forced(&s(st), r, f, o)
        };
        assert!(forced("p.", &get("p.a1.a2."), &[&a1], &[&a2]));
        assert!(!forced("p.", &get("p.a1."), &[&a2], &[&a1]));
        assert!(!forced("p.", &get("p."), &[&a1], &[]));
        // ... of a value: one forced copy of two equal ones.
        assert!(forced("p.", &get("p.a1."), &[&a1], &[&a1]));
        assert!(!forced("p.", &get("p.a1."), &[&a1, &a1], &[]));
        // ... but may precede a put that is the start.
        let q = put("q.");
        assert!(forced("p.", &get("q.a1."), &[&a2], &[&q, &a1]));
        // A forced put rules the state out as a start.
        assert!(!forced("p.", &get("p.a1."), &[&q], &[&a1]));
        assert!(forced("p.", &get("q.a1."), &[&q], &[&a1]));
    }

    /// Every `false` of kv's `may_reach` and `may_reach_forced` is certain: checked against
    /// trying every order of every subset of the ops (forced ones all used), on random
    /// small sets with repeated and overlapping values, puts, cas ops of every outcome,
    /// null, non-string and empty values. Both answers occur often.
    #[test]
    fn kv_may_reach_agrees_with_trying_every_order() {
        fn reachable(
            m: &Kv,
            st: &Value,
            want: &Value,
            ops: &[(&BuiltinOp, bool)],
            used: u32,
        ) -> bool {
            let forced_done = ops
                .iter()
                .enumerate()
                .all(|(i, (_, f))| !f || used & (1 << i) != 0);
            if forced_done && st == want {
                return true;
            }
            ops.iter().enumerate().any(|(i, (o, _))| {
                used & (1 << i) == 0
                    && m.step(st, o)
                        .is_some_and(|next| reachable(m, &next, want, ops, used | (1 << i)))
            })
        }
        let m = Kv { init: s("") };
        let mut rng = crate::generate::Rng::new(18);
        let strs = ["", "a", "b", "ab", "ba", "aa"];
        let pick = |rng: &mut crate::generate::Rng| -> Value {
            match rng.below(10) {
                0 => Value::Null,
                1 => Value::Int(1),
                _ => s(strs[rng.below(strs.len() as u64) as usize]),
            }
        };
        let (mut yes, mut no) = (0, 0);
        for _ in 0..20_000 {
            let n = rng.below(6) as usize;
            let mut ops = Vec::new();
            for _ in 0..n {
                let o = match rng.below(8) {
                    0..=3 => BuiltinOp::Append(strs[rng.below(strs.len() as u64) as usize].into()),
                    4 => BuiltinOp::Write(pick(&mut rng)),
                    5 => BuiltinOp::Read(Some(pick(&mut rng))),
                    _ => BuiltinOp::Cas {
                        from: pick(&mut rng),
                        to: pick(&mut rng),
                        ok: [None, Some(true), Some(false)][rng.below(3) as usize],
                    },
                };
                ops.push((o, rng.below(3) == 0));
            }
            let st = pick(&mut rng);
            let want = if rng.below(2) == 0 {
                // A value the ops may well spell.
                let mut w = String::new();
                for (o, _) in &ops {
                    if let BuiltinOp::Append(x) = o {
                        if rng.below(2) == 0 {
                            w.push_str(x);
                        }
                    }
                }
                s(&w)
            } else {
                pick(&mut rng)
            };
            let read = BuiltinOp::Read(Some(want.clone()));
            let refs: Vec<(&BuiltinOp, bool)> = ops.iter().map(|(o, f)| (o, *f)).collect();
            let forced: Vec<&BuiltinOp> = refs.iter().filter(|r| r.1).map(|r| r.0).collect();
            let optional: Vec<&BuiltinOp> = refs.iter().filter(|r| !r.1).map(|r| r.0).collect();
            let truth = reachable(&m, &st, &want, &refs, 0);
            let answer = m.may_reach_forced(&st, &read, &forced, &optional);
            assert!(
                answer || !truth,
                "forced {forced:?} others {optional:?} {st:?} -> {want:?}"
            );
            let all: Vec<(&BuiltinOp, bool)> = refs.iter().map(|r| (r.0, false)).collect();
            let truth_any = reachable(&m, &st, &want, &all, 0);
            let answer_any = m.may_reach(&st, &read, &mut ops.iter().map(|(o, _)| o));
            assert!(answer_any || !truth_any, "{ops:?} {st:?} -> {want:?}");
            yes += usize::from(answer && truth);
            no += usize::from(!answer);
        }
        assert!(yes > 2_000 && no > 2_000, "yes {yes}, no {no}");
    }

    /// A random lookahead question: below `max_ops` random kv ops (few or many resets,
    /// the count returned), a state, and a value to read that is a reset's value and some
    /// appends (a third of the time, when there is a reset), the state's value and some
    /// appends, or any value.
    fn lookahead_case(
        rng: &mut crate::generate::Rng,
        max_ops: u64,
    ) -> (Vec<BuiltinOp>, u64, Value, Value) {
        let n = rng.below(max_ops) as usize;
        let resets = [1, 3, 30][rng.below(3) as usize];
        let ops: Vec<BuiltinOp> = (0..n).map(|_| random_kv_op(rng, resets)).collect();
        let state = pick_value(rng);
        let reset = ops.iter().find_map(|o| match o {
            BuiltinOp::Write(Value::Str(v)) => Some(v.clone()),
            _ => None,
        });
        let want = if rng.below(3) == 0
            && let Some(base) = reset
        {
            // A reset's value, then some appends: the spelling from a reset.
            s(&spell_some(rng, &base, &ops))
        } else if rng.below(2) == 0 {
            s(&spell_some(rng, as_str(&state).unwrap_or(""), &ops))
        } else {
            pick_value(rng)
        };
        (ops, resets, state, want)
    }

    /// Kv's incremental lookahead hook: `may_reach_witness` answers as `may_reach` does,
    /// and every witness keeps its promise: on 20,000 random op sets (0-70 ops, few or
    /// many resets, values the appends may spell), each witness is tried on 8 other op
    /// lists that keep its ops and enough others (the rest dropped at random, others
    /// added, the order shuffled) and other states (that `witness_holds` accepts when it
    /// needs the state): `may_reach` must say `true` on every one. Taking the
    /// state-free witness for a reset that only starts the value, or giving the
    /// prefix witnesses below the op bound, fails it. A third of the values read are a
    /// reset's value and some appends, so that the witnesses of spellings from a reset
    /// (a reset and up to three appends) are tried too.
    #[test]
    fn kv_witnesses_keep_their_promise() {
        let kv = Kv { init: s("") };
        let mut rng = crate::generate::Rng::new(1820);
        let mut kinds = [0usize; 5];
        for _ in 0..20_000 {
            let (ops, resets, state, want) = lookahead_case(&mut rng, 71);
            let read = BuiltinOp::Read(Some(want.clone()));
            let plain = kv.may_reach(&state, &read, &mut ops.iter());
            let mut numbered = ops.iter().enumerate().map(|(k, o)| (k as u32, o));
            let (reach, w) = kv.may_reach_witness(&state, &read, &mut numbered);
            assert_eq!(reach, plain, "{ops:?} {state:?} -> {want:?}");
            let Some(w) = w else {
                kinds[0] += 1;
                continue;
            };
            assert!(reach);
            kinds[if w.needs_state {
                3
            } else if w.ops[1] == u32::MAX {
                1
            } else if w.ops[2] == u32::MAX {
                2
            } else {
                4
            }] += 1;
            for _ in 0..8 {
                let state2 = if rng.below(4) == 0 {
                    state.clone()
                } else {
                    pick_value(&mut rng)
                };
                if w.needs_state && !kv.witness_holds(&state2, &read, &w) {
                    continue;
                }
                let mut keep: Vec<BuiltinOp> = ops
                    .iter()
                    .enumerate()
                    .filter(|&(k, _)| w.ops.contains(&(k as u32)) || rng.below(3) == 0)
                    .map(|(_, o)| o.clone())
                    .collect();
                let extra = rng.below(40);
                for _ in 0..extra {
                    keep.push(random_kv_op(&mut rng, resets));
                }
                if keep.len() < w.min_others as usize {
                    continue;
                }
                for k in (1..keep.len()).rev() {
                    keep.swap(k, rng.below(k as u64 + 1) as usize);
                }
                assert!(
                    kv.may_reach(&state2, &read, &mut keep.iter()),
                    "{w:?} of {ops:?} {state:?} -> {want:?} fails on {keep:?} {state2:?}"
                );
            }
        }
        assert!(kinds[..4].iter().all(|&k| k > 500), "{kinds:?}");
        // Spellings from a reset by two or three appends (below the op bound).
        assert!(kinds[4] > 100, "{kinds:?}");
    }

    /// The lookahead's own entry, `may_reach_witness_in` (which calls the spelling loop
    /// without forced ops, and the prefix witness with the search's iterator type), gives
    /// the same answer as `may_reach` and the same witness as `may_reach_witness`, on
    /// random op sets below and past the op bound, values read spelled from the state,
    /// from a reset, or neither.
    #[test]
    fn kv_lookahead_entry_is_may_reach_witness() {
        let kv = Kv { init: s("") };
        let mut rng = crate::generate::Rng::new(1825);
        let (mut witnesses, mut no, mut long) = (0, 0, 0);
        for _ in 0..20_000 {
            let (ops, _, state, want) = lookahead_case(&mut rng, 50);
            let n = ops.len();
            let read = if rng.below(20) == 0 {
                BuiltinOp::Read(None)
            } else {
                BuiltinOp::Read(Some(want.clone()))
            };
            let plain = kv.may_reach(&state, &read, &mut ops.iter());
            let mut numbered = ops.iter().enumerate().map(|(k, o)| (k as u32, o));
            let by_dyn = kv.may_reach_witness(&state, &read, &mut numbered);
            // The search's iterator: a slice of (number, op) pairs, latest first.
            let pairs: Vec<(u32, &BuiltinOp)> =
                ops.iter().enumerate().map(|(k, o)| (k as u32, o)).collect();
            let fast = kv.may_reach_witness_in(&state, &read, pairs.iter().copied());
            assert_eq!(fast, by_dyn, "{ops:?} {state:?} -> {read:?}");
            assert_eq!(fast.0, plain, "{ops:?} {state:?} -> {read:?}");
            witnesses += usize::from(fast.1.is_some());
            no += usize::from(!fast.0);
            long += usize::from(n > SPELL_MAX_OPS && fast.1.is_some());
        }
        assert!(
            witnesses > 3_000 && no > 2_000 && long > 1_000,
            "witnesses {witnesses}, no {no}, long {long}"
        );
    }

    /// The lookahead's shortcuts give the answers of the plain loops: past
    /// [`SPELL_MAX_OPS`] ops (known from the iterator's length) `kv_may_reach` goes
    /// straight to the prefix check, and the prefix check skips comparing a reset of
    /// another length once a start is found. Checked on random op sets of 0-70 ops
    /// against an iterator that hides its length and a prefix check written plainly.
    #[test]
    fn kv_lookahead_shortcuts_keep_the_answers() {
        /// Hides the length, so `kv_may_reach` takes its loop all the way.
        struct NoHint<'a, I: Iterator<Item = &'a BuiltinOp>>(I);
        impl<'a, I: Iterator<Item = &'a BuiltinOp>> Iterator for NoHint<'a, I> {
            type Item = &'a BuiltinOp;
            fn next(&mut self) -> Option<&'a BuiltinOp> {
                self.0.next()
            }
        }
        /// `kv_prefix_reach` as it was before the shortcut.
        fn plain_prefix(state: &Value, want: &Value, ops: &[BuiltinOp]) -> bool {
            if want == state {
                return true;
            }
            let grows = |v: &Value| matches!((want, as_str(v)), (Value::Str(w), Some(b)) if w.starts_with(b));
            let (mut start, mut appended) = (grows(state), false);
            for o in ops {
                if start && appended {
                    return true;
                }
                match o {
                    BuiltinOp::Append(_) => appended = true,
                    BuiltinOp::Write(v)
                    | BuiltinOp::Cas {
                        to: v,
                        ok: None | Some(true),
                        ..
                    } => {
                        if v == want {
                            return true;
                        }
                        start |= grows(v);
                    }
                    _ => {}
                }
            }
            start && appended
        }
        let mut rng = crate::generate::Rng::new(1818);
        let (mut yes, mut no, mut long) = (0, 0, 0);
        for _ in 0..20_000 {
            // Few resets in some sets, so that long ones still get spelled up to the
            // op bound (more than 8 starts would end the spelling sooner).
            let n = rng.below(71) as usize;
            let resets = [1, 3, 30][rng.below(3) as usize];
            let ops: Vec<BuiltinOp> = (0..n).map(|_| random_kv_op(&mut rng, resets)).collect();
            let state = pick_value(&mut rng);
            let want = if rng.below(2) == 0 {
                // The state and some of the appends: a value the ops may well spell.
                let mut w = spell_some(&mut rng, as_str(&state).unwrap_or(""), &ops);
                if rng.below(2) == 0 {
                    w.push('a');
                }
                s(&w)
            } else {
                pick_value(&mut rng)
            };
            let read = BuiltinOp::Read(Some(want.clone()));
            let fast = kv_may_reach(&state, &read, &[], &mut ops.iter());
            let slow = kv_may_reach(&state, &read, &[], &mut NoHint(ops.iter()));
            assert_eq!(fast, slow, "{ops:?} {state:?} -> {want:?}");
            let prefix = kv_prefix_reach(&state, &want, &[], false, &mut ops.iter());
            assert_eq!(
                prefix,
                plain_prefix(&state, &want, &ops),
                "{ops:?} {state:?} -> {want:?}"
            );
            yes += usize::from(prefix);
            no += usize::from(!prefix);
            long += usize::from(n > SPELL_MAX_OPS && !fast);
        }
        assert!(
            yes > 2_000 && no > 2_000 && long > 200,
            "yes {yes}, no {no}, long {long}"
        );
    }

    /// The spelling as it was before parts were compared by their [`head8`]s:
    /// `starts_with` and `==` on the bytes.
    fn plain_spell_from(
        rest: &[u8],
        parts: &[&str],
        used: u64,
        need: u64,
        forced_left: usize,
        steps: &mut usize,
        found: &mut Option<u64>,
    ) -> bool {
        if rest.is_empty() {
            if used & need == need {
                *found = Some(used);
                return true;
            }
            return false;
        }
        if *steps == 0 {
            return true;
        }
        *steps -= 1;
        if forced_left > rest.len() {
            return false;
        }
        for (i, p) in parts.iter().enumerate() {
            let bit = 1u64 << i;
            if used & bit != 0 || !rest.starts_with(p.as_bytes()) {
                continue;
            }
            if parts[..i]
                .iter()
                .enumerate()
                .any(|(j, q)| used & (1 << j) == 0 && q == p)
            {
                continue;
            }
            let left = if need & bit != 0 {
                forced_left - p.len()
            } else {
                forced_left
            };
            if plain_spell_from(
                &rest[p.len()..],
                parts,
                used | bit,
                need,
                left,
                steps,
                found,
            ) {
                return true;
            }
        }
        false
    }

    /// `head8`, `head_starts` and `head_eq` against the bytes' own `starts_with` and `==`,
    /// and the spelling with heads against the plain one (answer, parts found, steps
    /// used), on random parts over a small alphabet (so that heads and prefixes often
    /// agree), of 0 to 12 bytes (both sides of the 8-byte word), up to 40 of them.
    #[test]
    fn spelling_with_heads_is_the_plain_spelling() {
        let mut rng = crate::generate::Rng::new(1811);
        let word = |rng: &mut crate::generate::Rng, max: u64| -> String {
            let n = rng.below(max + 1);
            (0..n)
                .map(|_| ["a", "b", "1", "."][rng.below(4) as usize])
                .collect()
        };
        for _ in 0..20_000 {
            let (a, b) = (word(&mut rng, 12), word(&mut rng, 12));
            let (a, b) = (a.as_bytes(), b.as_bytes());
            let (ha, hb) = (head8(a), head8(b));
            let mut w = [0u8; 8];
            w[..a.len().min(8)].copy_from_slice(&a[..a.len().min(8)]);
            assert_eq!(ha, u64::from_le_bytes(w), "{a:?}");
            assert_eq!(head_starts(a, ha, b, hb), a.starts_with(b), "{a:?} {b:?}");
            assert_eq!(head_eq(a, ha, b, hb), a == b, "{a:?} {b:?}");
        }
        let (mut yes, mut no, mut out) = (0, 0, 0);
        for _ in 0..4_000 {
            let n = rng.below(41) as usize;
            let max = [3, 8, 12][rng.below(3) as usize];
            let parts: Vec<String> = (0..n).map(|_| word(&mut rng, max)).collect();
            let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
            let mut rest = String::new();
            for p in &parts {
                if rng.below(3) == 0 {
                    rest.push_str(p);
                }
            }
            if rng.below(3) == 0 {
                rest.push_str(&word(&mut rng, 3));
            }
            if rest.is_empty() {
                continue;
            }
            let n_forced = rng.below(n.min(3) as u64 + 1) as usize;
            let budget = [50, SPELL_STEPS][rng.below(2) as usize];
            let (mut steps, mut found) = (budget, None);
            let fast = kv_spells_found(&rest, &parts, n_forced, &mut steps, &mut found);
            let forced_len: usize = parts[..n_forced].iter().map(|p| p.len()).sum();
            let total: usize = parts.iter().map(|p| p.len()).sum();
            let (mut plain_steps, mut plain_found) = (budget, None);
            let plain = forced_len <= rest.len()
                && total >= rest.len()
                && plain_spell_from(
                    rest.as_bytes(),
                    &parts,
                    0,
                    (1u64 << n_forced) - 1,
                    forced_len,
                    &mut plain_steps,
                    &mut plain_found,
                );
            assert_eq!(
                (fast, found, steps),
                (plain, plain_found, plain_steps),
                "{parts:?} {n_forced} -> {rest:?}"
            );
            yes += usize::from(fast && found.is_some());
            no += usize::from(!fast);
            out += usize::from(steps == 0);
        }
        assert!(
            yes > 300 && no > 300 && out > 20,
            "yes {yes}, no {no}, out {out}"
        );
    }

    /// When the search would take more than [`SPELL_STEPS`] nodes, it answers "may reach".
    #[test]
    fn kv_spelling_gives_up_at_its_bound() {
        // "a" and "aa" thirty times each, and a value of forty "a"s and a "c": the search
        // tries the splits of the "a"s (about 10^8) before it could see that no "c" is
        // appended, so it gives up.
        let mut parts: Vec<&str> = Vec::new();
        for _ in 0..30 {
            parts.push("a");
            parts.push("aa");
        }
        let rest = format!("{}c", "a".repeat(40));
        let mut steps = SPELL_STEPS;
        assert!(
            kv_spells(&rest, &parts, 0, &mut steps),
            "gave up: may reach"
        );
        assert_eq!(steps, 0);
        // With a bound large enough it is certain: no "c" to append.
        parts.push("c");
        let mut steps = SPELL_STEPS;
        assert!(kv_spells(&rest, &parts, 0, &mut steps));
        assert!(steps > 0);
        let short = format!("{}c", "a".repeat(4));
        let mut steps = SPELL_STEPS;
        parts.pop();
        assert!(!kv_spells(&short, &parts, 0, &mut steps));
        assert!(steps > 0);
    }

    /// Past [`SPELL_MAX_OPS`] ops, kv's `may_reach` checks prefixes only (still certain).
    #[test]
    fn kv_may_reach_checks_prefixes_only_past_its_op_bound() {
        let m = Kv { init: s("") };
        let get = |v: &str| BuiltinOp::Read(Some(s(v)));
        let few: Vec<BuiltinOp> = (0..SPELL_MAX_OPS / 2)
            .map(|_| BuiltinOp::Append("b".into()))
            .collect();
        let many: Vec<BuiltinOp> = (0..SPELL_MAX_OPS + 1)
            .map(|_| BuiltinOp::Append("b".into()))
            .collect();
        assert!(!m.may_reach(&s("p."), &get("p.a1."), &mut few.iter()));
        assert!(m.may_reach(&s("p."), &get("p.a1."), &mut many.iter()));
        assert!(!m.may_reach(&s("p."), &get("q.a1."), &mut many.iter()));
        let mut with_put = many.clone();
        with_put.push(BuiltinOp::Write(s("q.")));
        assert!(m.may_reach(&s("p."), &get("q.a1."), &mut with_put.iter()));
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
