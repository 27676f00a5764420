//! # A replicated key-value store's two ends: the state machine and the client
//!
//! Consensus protocols (Raft, Multi-Paxos) agree on a sequence of commands; what those
//! commands *mean* lives here, outside any protocol, so every protocol that replicates a
//! log can reuse it:
//!
//! - [`KvStore`] is the deterministic state machine: string keys, string values, and four
//!   operations (`get`, `put`, `append`, `cas`). Every replica applies the same commands in
//!   log order and therefore reaches the same state. It also remembers, per client, the
//!   last request it applied and its result (a *session*), so a request that reaches the
//!   log twice (a client retried it on another node) takes effect once: exactly-once
//!   semantics, as in the Raft paper's §8.
//! - [`KvClient`] is the simulated client. It drives a [`Workload`], records a Jepsen-style
//!   history (invoke / ok / fail / info), follows `NotLeader` redirects (except to a node
//!   that has already left this operation unanswered: a deposed leader in a minority still
//!   believes it leads, and its followers still name it), and retries on timeouts with the
//!   same `(client, seq)` id. It only records `fail` when the operation
//!   definitely did not happen (every attempt was refused by a node that was not the
//!   leader); a timed-out operation that any node may have accepted ends `info`.
//! - [`model`] is the sequential specification the linearizability checker judges the
//!   history against ([`check_linearizable`]): lincheck's `kv` model, cas included; [`check_completion`] checks the liveness
//!   half ("every operation completes within a bound once faults stop").
//!
//! Values written are unique per operation (`"c2-17"` is client 2's 17th operation), so a
//! lost or resurrected write shows up in the history.

use crate::workload::Workload;
use lincheck::{CheckOptions, EventKind, History, Report};
use sim_core::{
    Checker, Client, ClientCtx, ClientId, Duration, LivenessStart, NodeId, Process, RequestId,
    Time, Value, View,
};
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::rc::Rc;

/// A key or value: written once, then copied into every request, log entry, replica
/// store and client memory, so it is shared (a copy is a reference count, not an
/// allocation). Compares, hashes and prints like the string it holds.
///
/// `Rc`, not `Arc`: a simulation runs on one thread (a sweep runs each seed start to end
/// on one worker), and a non-atomic count is several times cheaper on every copy into a
/// message or log (issue #17: the Raft sweep's cpu 0.943 with this and `Rc<KvRequest>`).
pub type Text = Rc<str>;

/// One operation on one key.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum KvOp {
    Get {
        key: Text,
    },
    Put {
        key: Text,
        value: Text,
    },
    Append {
        key: Text,
        value: Text,
    },
    /// Sets `to` if the current value equals `from`; answers whether it did.
    Cas {
        key: Text,
        from: Text,
        to: Text,
    },
}

impl KvOp {
    pub fn key(&self) -> &str {
        match self {
            KvOp::Get { key }
            | KvOp::Put { key, .. }
            | KvOp::Append { key, .. }
            | KvOp::Cas { key, .. } => key,
        }
    }

    /// True for operations that never change the state.
    pub fn is_read(&self) -> bool {
        matches!(self, KvOp::Get { .. })
    }
}

impl fmt::Debug for KvOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KvOp::Get { key } => write!(f, "get {key}"),
            KvOp::Put { key, value } => write!(f, "put {key} {value:?}"),
            KvOp::Append { key, value } => write!(f, "append {key} {value:?}"),
            KvOp::Cas { key, from, to } => write!(f, "cas {key} {from:?}->{to:?}"),
        }
    }
}

/// A client's request: the operation and its `(client, seq)` id, which the state machine
/// uses to apply a retried request only once.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct KvRequest {
    pub client: ClientId,
    /// The client's operation number, from 1; a retry reuses it.
    pub seq: u64,
    pub op: KvOp,
}

impl fmt::Debug for KvRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}#{} {:?}", self.client.0 + 1, self.seq, self.op)
    }
}

/// What a key-value protocol takes as its request ([`Process::Request`]): [`KvRequest`]
/// itself, or the client's one shared copy of it (`Rc<KvRequest>`), which a leader puts
/// in its log as it is: one allocation per operation, made by the client, instead of one
/// per leader append (issue #17).
pub trait SharedRequest: Clone + fmt::Debug {
    /// The request to send for the client's `request`.
    fn from_shared(request: &Rc<KvRequest>) -> Self;
}

impl SharedRequest for KvRequest {
    fn from_shared(request: &Rc<KvRequest>) -> Self {
        KvRequest::clone(request)
    }
}

impl SharedRequest for Rc<KvRequest> {
    fn from_shared(request: &Rc<KvRequest>) -> Self {
        Rc::clone(request)
    }
}

/// A node's answer to a [`KvRequest`].
#[derive(Clone, PartialEq, Eq)]
pub enum KvResponse {
    /// The request with this `seq` took effect (once); `result` is the value read for
    /// `get`, `true`/`false` for `cas`, and `null` for `put` / `append`. A value read is
    /// the store's own, shared: no copy is made for the answer, and the client keeps it
    /// as it is (issue #17); the history's [`Value`] is made only when one is recorded.
    Done { seq: u64, result: KvResult },
    /// This node is not the leader and did not accept this copy of the request; `hint`
    /// is the leader it knows of, if any. `has_entry`: its log nevertheless holds the
    /// command (another copy, or an earlier attempt, reached it while it led), so the
    /// operation may still take effect: the client must not record it as failed. (Not
    /// in the trace text, which it would only lengthen.)
    NotLeader {
        hint: Option<NodeId>,
        has_entry: bool,
    },
}

impl fmt::Debug for KvResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KvResponse::Done { seq, result } => {
                write!(f, "Done #{seq} {:?}", result.to_value())
            }
            KvResponse::NotLeader { hint: Some(n), .. } => write!(f, "NotLeader hint={n}"),
            KvResponse::NotLeader { hint: None, .. } => write!(f, "NotLeader"),
        }
    }
}

/// The key-value state machine, with per-client sessions for exactly-once application.
///
/// A missing key reads as `""` (the history format's default for the `kv` model).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct KvStore {
    /// `(key, value)` sorted by key (a vector: the stores of a run hold a few keys, each
    /// looked up by every replica for every command; see [`KvStore::slot`]).
    data: Vec<(Text, Text)>,
    /// Per client, by its index (`0..client_count`, so dense): the last seq applied and
    /// its result, `None` before its first. Every replica looks its session up once per
    /// command, so a vector index instead of a map search (issue #17).
    sessions: Vec<Option<(u64, KvResult)>>,
}

/// Up to this many keys, [`KvStore::slot`] first looks for the key's own pointer.
const SCAN_KEYS: usize = 8;

/// What applying a request answers: the value read (`get`), whether it swapped (`cas`),
/// or nothing (`put`, `append`). A read shares the stored value instead of copying it, so
/// the replicas that answer no client pay a reference count, not an allocation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum KvResult {
    #[default]
    Null,
    Bool(bool),
    Str(Text),
}

impl KvResult {
    /// The history's form of the result (what a client's answer carries).
    pub fn to_value(&self) -> Value {
        match self {
            KvResult::Null => Value::Null,
            KvResult::Bool(b) => Value::Bool(*b),
            KvResult::Str(s) => Value::Str(String::from(&**s)),
        }
    }
}

impl KvStore {
    /// Applies a request in log order. Returns the result, or the remembered result if
    /// this exact request was applied before (a retry), or `None` for a request older
    /// than the client's latest (the client gave up on it and moved on; it has no
    /// effect).
    pub fn apply(&mut self, request: &KvRequest) -> Option<Value> {
        self.apply_in_place(request).map(KvResult::to_value)
    }

    /// [`KvStore::apply`] without copying the result: every replica applies every
    /// command, but only the one answering the client needs the value, so the others
    /// should not pay for a copy of it.
    pub fn apply_in_place(&mut self, request: &KvRequest) -> Option<&KvResult> {
        self.apply_checked(request).0
    }

    /// [`KvStore::apply_in_place`], and whether the request was a duplicate (its client
    /// had a request of this seq or a later one applied already, so it had no effect).
    #[inline]
    pub fn apply_checked(&mut self, request: &KvRequest) -> (Option<&KvResult>, bool) {
        let c = request.client.index();
        if c >= self.sessions.len() {
            grow(&mut self.sessions, c + 1, None);
        }
        if let Some((seq, _)) = &self.sessions[c] {
            if request.seq < *seq {
                return (None, true);
            }
            if request.seq == *seq {
                return (self.sessions[c].as_ref().map(|(_, r)| r), true);
            }
        }
        let result = self.execute(&request.op);
        let session = self.sessions[c].insert((request.seq, result));
        (Some(&session.1), false)
    }

    /// Runs one operation on the data. Writes share the request's strings.
    #[inline]
    fn execute(&mut self, op: &KvOp) -> KvResult {
        match op {
            KvOp::Get { key } => KvResult::Str(self.read(key)),
            KvOp::Put { key, value } => {
                self.set(key, value);
                KvResult::Null
            }
            KvOp::Append { key, value } => match self.slot(key) {
                Ok(i) => {
                    let current = &self.data[i].1;
                    let mut s = String::with_capacity(current.len() + value.len());
                    s.push_str(current);
                    s.push_str(value);
                    self.data[i].1 = s.into();
                    KvResult::Null
                }
                Err(i) => {
                    self.data.insert(i, (key.clone(), value.clone()));
                    KvResult::Null
                }
            },
            KvOp::Cas { key, from, to } => {
                // One search: a missing key reads as "".
                let swap = match self.slot(key) {
                    Ok(i) => {
                        let swap = *self.data[i].1 == **from;
                        if swap {
                            self.data[i].1 = to.clone();
                        }
                        swap
                    }
                    Err(i) => {
                        let swap = from.is_empty();
                        if swap {
                            self.data.insert(i, (key.clone(), to.clone()));
                        }
                        swap
                    }
                };
                KvResult::Bool(swap)
            }
        }
    }

    /// Where `key` is in `data` (`Ok`), or where it would go (`Err`). The commands every
    /// replica applies share their key strings (one allocation per key, made by the
    /// client and kept by the store at its first write), so with few keys a scan for the
    /// same pointer finds it without comparing bytes; otherwise, and for a key with its
    /// own copy of the bytes, a binary search by content.
    #[inline]
    fn slot(&self, key: &str) -> Result<usize, usize> {
        if self.data.len() <= SCAN_KEYS {
            let same = |(k, _): &(Text, Text)| {
                std::ptr::eq(k.as_ptr(), key.as_ptr()) && k.len() == key.len()
            };
            if let Some(i) = self.data.iter().position(same) {
                return Ok(i);
            }
        }
        self.data.binary_search_by(|(k, _)| (**k).cmp(key))
    }

    #[inline]
    fn set(&mut self, key: &Text, value: &Text) {
        match self.slot(key) {
            Ok(i) => self.data[i].1 = value.clone(),
            Err(i) => self.data.insert(i, (key.clone(), value.clone())),
        }
    }

    /// The value of `key`, shared (`""` when missing).
    #[inline]
    fn read(&self, key: &str) -> Text {
        match self.slot(key) {
            Ok(i) => self.data[i].1.clone(),
            Err(_) => Text::from(""),
        }
    }

    /// Reads a key without going through the log (lease reads), shared as an answer
    /// carries it.
    pub fn get_shared(&self, key: &str) -> KvResult {
        KvResult::Str(self.read(key))
    }

    /// Reads a key without going through the log (lease reads).
    pub fn get(&self, key: &str) -> Value {
        Value::Str(
            self.slot(key)
                .map_or_else(|_| String::new(), |i| String::from(&*self.data[i].1)),
        )
    }
}

/// The clients' configuration: the workload and how long to wait before trying another
/// node.
#[derive(Clone, Debug, PartialEq)]
pub struct KvClientConfig {
    pub workload: Workload,
    /// How long one attempt waits for an answer before the client tries the next node
    /// (with the same seq). The whole operation gives up after `workload.timeout`.
    pub retry_after: Duration,
    /// Wait before retrying when a node said it knows no leader.
    pub backoff: Duration,
    /// The protocol's sometimes-property for "a client resent an unanswered request"
    /// (its index; see [`crate::Sometimes`]), if it declares one.
    pub retried: Option<usize>,
    /// The keys `k1`, `k2`, ... of `workload.keys`, made once per run and shared by every
    /// client: then every replica's store meets one allocation per key and finds it by
    /// its pointer ([`KvStore::slot`]).
    key_names: Vec<Text>,
}

impl KvClientConfig {
    pub fn new(workload: Workload) -> KvClientConfig {
        let key_names = (1..=u64::from(workload.keys.max(1)))
            .map(|i| numbered("k", i, "", 0))
            .collect();
        KvClientConfig {
            workload,
            retry_after: Duration::from_millis(100),
            backoff: Duration::from_millis(20),
            retried: None,
            key_names,
        }
    }

    /// Reports sometimes-property `property` when a client resends a request whose
    /// attempt went unanswered.
    pub fn reach_on_retry(mut self, property: impl Into<usize>) -> KvClientConfig {
        self.retried = Some(property.into());
        self
    }
}

/// Client timers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvTimer {
    /// Time to invoke the next operation.
    Think,
    /// The current attempt of operation `seq` got no answer in time.
    Retry(u64),
    /// Resend operation `seq` after a no-leader backoff.
    Backoff(u64),
    /// Operation `seq` gives up (`info`, or `fail` if it surely did not happen).
    Deadline(u64),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Open {
    seq: u64,
    /// The request every attempt sends (shared: an attempt is a reference count).
    request: Rc<KvRequest>,
    /// The index of the op's key (`k1` is 0), where [`KvClient::seen`] keeps its value.
    key_index: usize,
    /// The current attempt's request id and node.
    attempt: RequestId,
    node: NodeId,
    /// Set once an attempt went unanswered: it may have been accepted.
    maybe_applied: bool,
    /// The current attempt was answered `NotLeader`.
    refused: bool,
    /// The node that left the last unanswered attempt of this operation unanswered. The
    /// next redirect to it is not followed (once): a leader cut off in a minority still
    /// believes it leads and its followers still name it, so always following them would
    /// loop between the two; ignoring it for good would shun a leader that merely lost
    /// one message.
    last_silent: Option<NodeId>,
    retry: sim_core::TimerId,
    deadline: sim_core::TimerId,
}

impl Open {
    /// The next node after `after`, skipping the one that was last silent (unless it is
    /// the only other choice).
    fn next_target(&self, after: NodeId, count: usize) -> NodeId {
        let n = next_node(after, count);
        match self.last_silent {
            Some(s) if s == n && count > 2 => next_node(n, count),
            _ => n,
        }
    }
}

/// A simulated key-value client: one operation at a time, as a Jepsen process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KvClient {
    seq: u64,
    done: u32,
    /// Where to send next: the last leader heard of, or a guess.
    target: NodeId,
    open: Option<Open>,
    /// The last value seen per key, by key index (`k1` is 0), the `from` of the next cas
    /// on it: an index, not a map search by key string, at every answer (issue #17).
    seen: Vec<Option<Text>>,
    /// The keys, `k1`, `k2`, ... (made once, then shared by every operation), when the
    /// configuration's shared ones do not match the workload (it was changed after
    /// [`KvClientConfig::new`]).
    keys: Vec<Text>,
}

impl KvClient {
    /// Operations this client has completed (ok, fail or info).
    pub fn completed(&self) -> u32 {
        self.done
    }
}

/// What the history records as a put's or append's result: the value written (nothing
/// when no history is kept).
fn written(recorded: bool, value: &Text) -> Value {
    if recorded {
        Value::Str(String::from(&**value))
    } else {
        Value::Null
    }
}

/// What the history records as a get's or cas's result (nothing when no history is
/// kept).
fn answered(recorded: bool, result: &KvResult) -> Value {
    if recorded {
        result.to_value()
    } else {
        Value::Null
    }
}

/// The op's history function.
fn op_name(op: &KvOp) -> &'static str {
    match op {
        KvOp::Get { .. } => "get",
        KvOp::Put { .. } => "put",
        KvOp::Append { .. } => "append",
        KvOp::Cas { .. } => "cas",
    }
}

/// The op's history form: its function, key and argument.
fn history_of(op: &KvOp) -> (&'static str, Value, Value) {
    let s = |t: &Text| Value::Str(String::from(&**t));
    let (key, argument) = match op {
        KvOp::Get { key } => (s(key), Value::Null),
        KvOp::Put { key, value } | KvOp::Append { key, value } => (s(key), s(value)),
        KvOp::Cas { key, from, to } => (s(key), Value::List(vec![s(from), s(to)])),
    };
    (op_name(op), key, argument)
}

impl<P> Client<P> for KvClient
where
    P: Process<Response = KvResponse>,
    P::Request: SharedRequest,
{
    type Config = KvClientConfig;
    type Timer = KvTimer;

    fn start(ctx: &mut ClientCtx<'_, P, Self>) -> Self {
        let n = ctx.node_count() as u64;
        let target = NodeId(ctx.rng().below(n.max(1)) as u32);
        let start = ctx.config().workload.start;
        ctx.set_timer(start, KvTimer::Think);
        KvClient {
            seq: 0,
            done: 0,
            target,
            open: None,
            seen: Vec::new(),
            keys: Vec::new(),
        }
    }

    fn on_response(
        &mut self,
        ctx: &mut ClientCtx<'_, P, Self>,
        from: NodeId,
        id: RequestId,
        response: KvResponse,
    ) {
        let Some(open) = self.open.as_mut() else {
            return; // a late answer to an operation already given up on
        };
        match response {
            KvResponse::Done { seq, result } => {
                // Any attempt's answer counts: they all carry the same seq, applied once.
                if seq != open.seq {
                    return;
                }
                self.target = from;
                let open = self.open.take().expect("open");
                ctx.cancel_timer(open.retry);
                ctx.cancel_timer(open.deadline);
                let recorded = ctx.records_history();
                let value = match &open.request.op {
                    KvOp::Get { .. } => {
                        if let KvResult::Str(s) = &result {
                            self.seen[open.key_index] = Some(s.clone());
                        }
                        answered(recorded, &result)
                    }
                    KvOp::Put { value, .. } => {
                        self.seen[open.key_index] = Some(value.clone());
                        written(recorded, value)
                    }
                    KvOp::Append { value, .. } => written(recorded, value),
                    KvOp::Cas { to, .. } => {
                        if result == KvResult::Bool(true) {
                            self.seen[open.key_index] = Some(to.clone());
                        }
                        answered(recorded, &result)
                    }
                };
                ctx.complete_ok(value);
                self.finish(ctx);
            }
            KvResponse::NotLeader { hint, has_entry } => {
                if has_entry {
                    // Refused here, but the command is in that node's log: it may commit.
                    open.maybe_applied = true;
                }
                if id != open.attempt {
                    return; // an older attempt; the current one is still out
                }
                open.refused = true;
                ctx.cancel_timer(open.retry);
                let shunned = hint.is_some() && open.last_silent.take() == hint;
                match hint {
                    Some(leader) if leader != from && !shunned => {
                        self.target = leader;
                        self.send_attempt(ctx);
                    }
                    _ => {
                        self.target = open.next_target(from, ctx.node_count());
                        let seq = open.seq;
                        let backoff = ctx.config().backoff;
                        open.retry = ctx.set_timer(backoff, KvTimer::Backoff(seq));
                    }
                }
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut ClientCtx<'_, P, Self>, timer: KvTimer) {
        match timer {
            KvTimer::Think => self.invoke_next(ctx),
            KvTimer::Retry(seq) | KvTimer::Backoff(seq) => {
                let Some(open) = self.open.as_mut().filter(|o| o.seq == seq) else {
                    return;
                };
                if matches!(timer, KvTimer::Retry(_)) {
                    // No answer: the request may be in some log. Try the next node.
                    if !open.refused {
                        open.maybe_applied = true;
                        open.last_silent = Some(open.node);
                        if let Some(p) = ctx.config().retried {
                            ctx.reached(p);
                        }
                    }
                    self.target = open.next_target(open.node, ctx.node_count());
                }
                self.send_attempt(ctx);
            }
            KvTimer::Deadline(seq) => {
                let Some(open) = self.open.take_if(|o| o.seq == seq) else {
                    return;
                };
                ctx.cancel_timer(open.retry);
                // The current attempt is unanswered unless it was refused. A refusal says
                // only that *that copy* was not taken: the network may duplicate a request,
                // and a copy that reaches the same node once it leads is appended and may
                // commit after the deadline (swarm, Multi-Paxos seed 1497). So a refused
                // write is unknown, not failed; a refused read had no effect either way.
                let writes = !matches!(open.request.op, KvOp::Get { .. });
                if open.maybe_applied || !open.refused {
                    ctx.complete_info("timed-out");
                } else if writes {
                    ctx.complete_info("no-leader");
                } else {
                    ctx.complete_fail("no-leader");
                }
                self.finish(ctx);
            }
        }
    }
}

/// `"{prefix}{a}"`, or `"{prefix}{a}{sep}{b}"` when `sep` is not empty, built on the
/// stack and allocated once (`format!` costs more than the rest of an invocation). Written
/// back to front into one buffer, so no digit is copied twice (issue #17: a write's value
/// is made at every write).
fn numbered(prefix: &str, a: u64, sep: &str, b: u64) -> Text {
    /// Writes `n`'s decimal digits to end just before `at`; answers where they start.
    fn digits(buf: &mut [u8; 64], mut at: usize, mut n: u64) -> usize {
        loop {
            at -= 1;
            buf[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                return at;
            }
        }
    }
    fn text(buf: &mut [u8; 64], at: usize, s: &str) -> usize {
        let from = at - s.len();
        buf[from..at].copy_from_slice(s.as_bytes());
        from
    }
    // Prefixes and separators are the short literals below: at most 2 + 2 * 20 bytes.
    assert!(
        prefix.len() + sep.len() <= 24,
        "numbered: prefix and separator too long"
    );
    let mut buf = [0u8; 64];
    let mut at = buf.len();
    if !sep.is_empty() {
        at = digits(&mut buf, at, b);
        at = text(&mut buf, at, sep);
    }
    at = digits(&mut buf, at, a);
    at = text(&mut buf, at, prefix);
    let bytes = &buf[at..];
    debug_assert!(std::str::from_utf8(bytes).is_ok());
    // SAFETY: `bytes` is `prefix`, ASCII digits, `sep` and ASCII digits, each written
    // whole: UTF-8 strings and ASCII joined end to end are UTF-8. (The check cost a fifth
    // of the call, which runs at every write; issue #17.)
    Text::from(unsafe { std::str::from_utf8_unchecked(bytes) })
}

fn next_node(n: NodeId, count: usize) -> NodeId {
    NodeId((n.0 + 1) % count.max(1) as u32)
}

impl KvClient {
    fn invoke_next<P>(&mut self, ctx: &mut ClientCtx<'_, P, Self>)
    where
        P: Process<Response = KvResponse>,
        P::Request: SharedRequest,
    {
        let w = &ctx.config().workload;
        if w.ops_per_client > 0 && self.done >= w.ops_per_client {
            return;
        }
        let (keys, mix) = (u64::from(w.keys.max(1)), w.mix.clone());
        let timeout = w.timeout;
        self.seq += 1;
        let seq = self.seq;
        let k = ctx.rng().below(keys) as usize;
        if self.seen.len() != keys as usize {
            grow(&mut self.seen, keys as usize, None);
        }
        let shared = &ctx.config().key_names;
        let key = if shared.len() == keys as usize {
            shared[k].clone()
        } else {
            if self.keys.len() != keys as usize {
                self.keys = (1..=keys).map(|i| numbered("k", i, "", 0)).collect();
            }
            self.keys[k].clone()
        };
        // The value a write writes (made only for writes: a read would drop it unused).
        let me = u64::from(ctx.id().0) + 1;
        let unique = || numbered("c", me, "-", seq);
        let total = u64::from(mix.read + mix.write + mix.cas + mix.append).max(1);
        let mut pick = ctx.rng().below(total);
        let op = if pick < u64::from(mix.read) {
            KvOp::Get { key }
        } else {
            pick -= u64::from(mix.read);
            if pick < u64::from(mix.write) {
                KvOp::Put {
                    key,
                    value: unique(),
                }
            } else {
                pick -= u64::from(mix.write);
                if pick < u64::from(mix.cas) {
                    let from = self.seen.get(k).cloned().flatten().unwrap_or_default();
                    KvOp::Cas {
                        key,
                        from,
                        to: unique(),
                    }
                } else {
                    KvOp::Append {
                        key,
                        value: numbered("/c", u64::from(ctx.id().0) + 1, "-", seq),
                    }
                }
            }
        };
        if ctx.records_history() {
            let (f, key, argument) = history_of(&op);
            ctx.invoke(f, Some(key), argument);
        } else {
            ctx.invoke(op_name(&op), None, Value::Null); // nothing keeps the values
        }
        let deadline = ctx.set_timer(timeout, KvTimer::Deadline(seq));
        let request = Rc::new(KvRequest {
            client: ctx.id(),
            seq,
            op,
        });
        self.open = Some(Open {
            seq,
            request,
            key_index: k,
            attempt: RequestId(0),
            node: self.target,
            maybe_applied: false,
            refused: false,
            last_silent: None,
            retry: deadline,
            deadline,
        });
        self.send_attempt(ctx);
    }

    fn send_attempt<P>(&mut self, ctx: &mut ClientCtx<'_, P, Self>)
    where
        P: Process<Response = KvResponse>,
        P::Request: SharedRequest,
    {
        let retry_after = ctx.config().retry_after;
        let Some(open) = self.open.as_mut() else {
            return;
        };
        let request = P::Request::from_shared(&open.request);
        open.node = self.target;
        open.refused = false;
        open.attempt = ctx.send_request(self.target, request);
        open.retry = ctx.set_timer(retry_after, KvTimer::Retry(open.seq));
    }

    fn finish<P>(&mut self, ctx: &mut ClientCtx<'_, P, Self>)
    where
        P: Process<Response = KvResponse>,
        P::Request: SharedRequest,
    {
        self.done += 1;
        let w = &ctx.config().workload;
        let (lo, hi) = (w.think_min.as_nanos(), w.think_max.as_nanos());
        let think = Duration::from_nanos(ctx.rng().between(lo, hi));
        ctx.set_timer(think, KvTimer::Think);
    }
}

/// A replica of the key-value state machine as [`StateMachineSafety`] reads it: the
/// commands it applied, in order, each with its place in the replicated sequence (Raft's
/// log index, Multi-Paxos's slot).
pub trait AppliedCommands: Process {
    /// What is compared at each position (Raft: the log entry; Multi-Paxos: the command).
    type Applied: PartialEq + Clone;

    /// The places of [`Process::check_stamp`] that change whenever what
    /// [`AppliedCommands::applied_count`] reads changes, and whenever what
    /// [`AppliedCommands::applied_at`] reads of the newly applied commands does (for
    /// [`sim_core::Checker::reads_only_stamp`]); `None` (the default): state-machine
    /// safety sees every event.
    const STAMP_PLACES: Option<u8> = None;

    /// How many commands this replica has applied since it (re)started.
    fn applied_count(&self) -> usize;

    /// The `k`-th command it applied (0-based) and where it sits in the sequence; `k` is
    /// below [`AppliedCommands::applied_count`].
    fn applied_at<'a>(&'a self, durable: &'a Self::Durable, k: usize) -> (u64, &'a Self::Applied);

    /// The violation's message: `first.2` applied `first` as the `k`-th command (0-based)
    /// and `now.2` applied `now`.
    fn conflict(
        view: &View<'_, Self>,
        k: usize,
        first: (u64, &Self::Applied, NodeId),
        now: (u64, &Self::Applied, NodeId),
    ) -> String;
}

/// Room for a run's worth of log indexes or slots in a checker's per-index record, made
/// at its first record: a 60 s benchmark run of Raft commits about 3,000 entries, and
/// growing such a vector by doubling copied it a dozen times (the reallocations' copies
/// were about 1% of the Raft bench's instructions; issue #17). One vector per checker, not
/// per server, so the memory does not grow with the cluster.
pub(crate) const RECORD_RESERVE: usize = 4096;

/// `v.resize(len, fill)`, out of line: per-node and per-client tables (a checker's
/// records, the store's sessions, a log's seq bounds) grow a few times per run, and the
/// call inlined into every check or apply cost it registers (issue #17).
#[cold]
#[inline(never)]
pub(crate) fn grow<T: Clone>(v: &mut Vec<T>, len: usize, fill: T) {
    v.resize(len, fill);
}

/// Reserves [`RECORD_RESERVE`] places in `v` when it has none yet.
#[inline]
pub(crate) fn reserve_once<T>(v: &mut Vec<T>) {
    if v.capacity() == 0 {
        v.reserve(RECORD_RESERVE);
    }
}

/// State Machine Safety for any replicated key-value store: the `k`-th command every
/// replica applies is the same command from the same place (Raft §5.4.3; Multi-Paxos's
/// replicas applying chosen slots in order). Incremental: after an event it compares
/// only what the node applied since the checker last looked (usually nothing), against
/// the sequence the first replica to apply each position applied.
pub struct StateMachineSafety<P: AppliedCommands> {
    /// The sequence applied first, `(place, command, by)`.
    order: Vec<(u64, P::Applied, NodeId)>,
    /// Per node, how many of its applied commands have been compared.
    recorded: Vec<usize>,
}

impl<P: AppliedCommands> Default for StateMachineSafety<P> {
    fn default() -> Self {
        StateMachineSafety {
            order: Vec::new(),
            recorded: Vec::new(),
        }
    }
}

impl<P: AppliedCommands> Checker<P> for StateMachineSafety<P> {
    fn name(&self) -> &str {
        "state-machine-safety"
    }

    /// The protocol's [`AppliedCommands::STAMP_PLACES`].
    fn reads_only_stamp(&self) -> Option<u8> {
        P::STAMP_PLACES
    }

    fn after_event(&mut self, view: &View<'_, P>, node: NodeId) -> Result<(), String> {
        let i = node.index();
        if self.recorded.len() <= i {
            grow(&mut self.recorded, view.node_count().max(i + 1), 0);
        }
        let Some(state) = view.node(node) else {
            self.recorded[i] = 0; // a restart applies the log again
            return Ok(());
        };
        let count = state.applied_count();
        let from = self.recorded[i];
        if count <= from {
            self.recorded[i] = count;
            return Ok(()); // nothing newly applied
        }
        let d = view.durable(node);
        for k in from..count {
            let (place, command) = state.applied_at(d, k);
            match self.order.get(k) {
                Some((first, c, by)) => {
                    if *first != place || c != command {
                        return Err(P::conflict(
                            view,
                            k,
                            (*first, c, *by),
                            (place, command, node),
                        ));
                    }
                }
                None => {
                    reserve_once(&mut self.order);
                    self.order.push((place, command.clone(), node))
                }
            }
        }
        self.recorded[i] = count;
        Ok(())
    }
}

/// The history checks of a replicated key-value store's clients, by name:
/// `clients-complete` (every operation invoked once the liveness phase has started
/// completes within `liveness_bound`; the phase starts at `liveness_from` if set, else
/// when the run's faults stopped, as for every eventually check: [`LivenessStart`]) and
/// `linearizable` (against the `kv` model). `protocol` names the protocol in the error for
/// any other name.
pub fn history_check(
    protocol: &str,
    name: &str,
    history: &History,
    (start, liveness_bound): (LivenessStart, Duration),
    end: Time,
    max_steps: u64,
) -> Result<(), crate::HistoryFailure> {
    match name {
        "clients-complete" => {
            if let Some(short) = start.too_short(end, liveness_bound) {
                return Err(short.into());
            }
            check_completion(history, start.at(), liveness_bound, end)
                .map_err(|detail| start.no_convergence(liveness_bound, &detail).into())
        }
        "linearizable" => crate::linearizable(history, Some(lincheck::ModelKind::Kv), max_steps),
        other => Err(format!("{protocol} has no history check {other:?}").into()),
    }
}

/// When `clients-complete` starts counting: `liveness_from` if set, else `faults_stop`
/// (the later of the nemesis's stop and the last timed fault; `Time::ZERO` for a history
/// judged without its run).
pub fn completion_start(liveness_from: Option<Duration>, faults_stop: Time) -> LivenessStart {
    let mut start = LivenessStart::overridden_by("liveness_from", liveness_from);
    start.faults_stop(faults_stop);
    start
}

/// The clients' configuration for a protocol whose config checked out as `config_ok`:
/// the workload (validated), and `retried`, the protocol's sometimes-property for "a
/// client resent an unanswered request".
pub fn client_config(
    workload: &Workload,
    config_ok: Result<(), String>,
    retried: impl Into<usize>,
) -> Result<KvClientConfig, String> {
    workload.validate()?;
    config_ok?;
    Ok(KvClientConfig::new(workload.clone()).reach_on_retry(retried))
}

/// The sequential specification of [`KvStore`] for one key: lincheck's `kv` model (`get`,
/// `put`, `append`, and `cas [from, to]` answering `true`/`false`), starting from `""`
/// like a missing key in the store.
pub fn model() -> lincheck::Kv {
    lincheck::Kv {
        init: Value::Str(String::new()),
    }
}

/// Checks a [`KvClient`] history for linearizability against [`model`], key by key.
pub fn check_linearizable(history: &History) -> Result<Report, lincheck::HistoryError> {
    lincheck::check_with_model(history, &model(), &CheckOptions::default())
}

/// The liveness half of a run: every operation invoked at or after `from` completed `ok`
/// (or `fail` with a definite answer) within `bound` of its invoke. Operations still open
/// when the history ends count as not completed if `end` is past their deadline.
pub fn check_completion(
    history: &History,
    from: Time,
    bound: Duration,
    end: Time,
) -> Result<(), String> {
    let mut open: BTreeMap<u64, (u64, &str)> = BTreeMap::new();
    let late = |invoked: u64, done: u64| done.saturating_sub(invoked) > bound.as_nanos();
    // `c2 (process 4)` when the history names its processes, as the trace does.
    let who = |process: u64| match history.process_names.get(&process) {
        Some(name) => format!("{name} (process {process})"),
        None => format!("process {process}"),
    };
    for e in &history.events {
        let t = e.time.unwrap_or(0);
        match e.kind {
            EventKind::Invoke => {
                open.insert(e.process, (t, &e.f));
            }
            kind => {
                let Some((invoked, f)) = open.remove(&e.process) else {
                    continue;
                };
                if invoked < from.as_nanos() {
                    continue;
                }
                if kind == EventKind::Info {
                    return Err(format!(
                        "{} invoked {f} at {} and never learned its outcome: the client gave up at {} (info)",
                        who(e.process),
                        Time::from_nanos(invoked).readable(),
                        Time::from_nanos(t).readable()
                    ));
                }
                if late(invoked, t) {
                    return Err(format!(
                        "{} invoked {f} at {} and it completed only at {}, later than the bound of {}",
                        who(e.process),
                        Time::from_nanos(invoked).readable(),
                        Time::from_nanos(t).readable(),
                        bound.readable()
                    ));
                }
            }
        }
    }
    for (process, (invoked, f)) in open {
        if invoked >= from.as_nanos() && late(invoked, end.as_nanos()) {
            return Err(format!(
                "{} invoked {f} at {} and it had not completed when the run ended at {}",
                who(process),
                Time::from_nanos(invoked).readable(),
                end.readable()
            ));
        }
    }
    Ok(())
}

/// A replicated store with one leader at a time, as [`EventuallyLeader`] judges it.
pub trait StableLeader: Process {
    /// Whether the cluster has a stable leader now: exactly one live node leads, and
    /// every live node is running, on the leader's term (Raft) or ballot (Multi-Paxos),
    /// and follows it.
    fn stable_leader(view: &View<'_, Self>) -> bool;
}

/// Eventually a leader: judged after `from` (the faults have stopped, unless the config
/// sets `liveness_from`), a stable leader ([`StableLeader::stable_leader`]) must exist by
/// `from + bound`, and one must still exist when the run ends.
pub struct EventuallyLeader<P> {
    from: LivenessStart,
    bound: Duration,
    stable_since: Option<Time>,
    first_stable: Option<Time>,
    protocol: PhantomData<fn() -> P>,
}

impl<P: StableLeader> EventuallyLeader<P> {
    /// `from`: the config's `liveness_from`, if it sets one (else the faults stop).
    pub fn new(from: Option<Duration>, bound: Duration) -> Self {
        EventuallyLeader {
            from: LivenessStart::overridden_by("liveness_from", from),
            bound,
            stable_since: None,
            first_stable: None,
            protocol: PhantomData,
        }
    }
}

impl<P: StableLeader> Checker<P> for EventuallyLeader<P> {
    fn name(&self) -> &str {
        "eventually-leader"
    }

    fn faults_stop(&mut self, at: Time) {
        self.from.faults_stop(at);
    }

    fn after_event(&mut self, view: &View<'_, P>, _node: NodeId) -> Result<(), String> {
        if view.now() < self.from.at() {
            return Ok(());
        }
        if P::stable_leader(view) {
            if self.stable_since.is_none() {
                self.stable_since = Some(view.now());
                self.first_stable.get_or_insert(view.now());
            }
        } else {
            self.stable_since = None;
        }
        Ok(())
    }

    fn at_end(&mut self, view: &View<'_, P>) -> Result<(), String> {
        let from = self.from.at();
        let deadline = from.plus(self.bound);
        if let Some(short) = self.from.too_short(view.now(), self.bound) {
            return Err(short);
        }
        let detail = match self.first_stable {
            Some(t) if t <= deadline => {
                if self.stable_since.is_some() || P::stable_leader(view) {
                    return Ok(());
                }
                format!(
                    "a stable leader from {}, but none when the run ended at {}",
                    t.readable(),
                    view.now().readable()
                )
            }
            Some(t) => format!(
                "no stable leader until {}, {} into the liveness phase",
                t.readable(),
                t.since(from).readable()
            ),
            None => format!(
                "no stable leader at any time until the run ended at {}",
                view.now().readable()
            ),
        };
        Err(self.from.no_convergence(self.bound, &detail))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lincheck::Model;

    fn req(client: u32, seq: u64, op: KvOp) -> KvRequest {
        KvRequest {
            client: ClientId(client),
            seq,
            op,
        }
    }

    #[test]
    fn numbered_matches_format() {
        assert_eq!(&*numbered("k", 1, "", 0), "k1");
        assert_eq!(&*numbered("c", 12, "-", 0), "c12-0");
        assert_eq!(&*numbered("/c", 2, "-", 7), "/c2-7");
        assert_eq!(
            &*numbered("c", 3, "-", 18_446_744_073_709_551_615),
            format!("c3-{}", u64::MAX)
        );
        // Every digit count, both numbers, against `format!`.
        let mut x = 1u64;
        for i in 0..2000u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let (a, b) = (x >> (i % 64), i.wrapping_mul(x) >> (x % 64));
            assert_eq!(&*numbered("c", a, "-", b), format!("c{a}-{b}"));
            assert_eq!(&*numbered("/c", b, "", a), format!("/c{b}"));
        }
    }

    #[test]
    fn store_applies_each_request_once() {
        let mut s = KvStore::default();
        let k = || Text::from("k1");
        let append = |v: &str| KvOp::Append {
            key: k(),
            value: v.into(),
        };
        assert_eq!(s.apply(&req(0, 1, append("a"))), Some(Value::Null));
        assert_eq!(
            s.apply(&req(0, 1, append("a"))),
            Some(Value::Null),
            "a retry"
        );
        assert_eq!(s.get("k1"), Value::Str("a".into()), "applied once");
        assert_eq!(s.apply(&req(1, 1, append("b"))), Some(Value::Null));
        assert_eq!(
            s.apply(&req(0, 2, KvOp::Get { key: k() })),
            Some(Value::Str("ab".into()))
        );
        assert_eq!(
            s.apply(&req(0, 1, append("a"))),
            None,
            "older than the session: no effect"
        );
        let cas = |from: &str, to: &str| KvOp::Cas {
            key: k(),
            from: from.into(),
            to: to.into(),
        };
        assert_eq!(s.apply(&req(1, 2, cas("x", "y"))), Some(Value::Bool(false)));
        assert_eq!(s.apply(&req(1, 3, cas("ab", "y"))), Some(Value::Bool(true)));
        assert_eq!(s.get("k1"), Value::Str("y".into()));
        assert_eq!(s.get("missing"), Value::Str(String::new()));
    }

    /// The store's sorted vector against a map, with more keys than the pointer scan
    /// covers, each key both shared (one allocation) and copied (its own bytes), and
    /// every operation kind; the sessions of clients seen out of order.
    #[test]
    fn store_finds_keys_by_pointer_and_by_content() {
        let mut s = KvStore::default();
        let mut expected: BTreeMap<String, String> = BTreeMap::new();
        let shared: Vec<Text> = (0..20u64)
            .map(|i| numbered("k", (i * 7) % 20, "", 0))
            .collect();
        let mut seq = [0u64; 4];
        for step in 0..400u64 {
            let i = ((step * 13) % 20) as usize;
            let key = if step % 3 == 0 {
                Text::from(&*shared[i].to_string())
            } else {
                shared[i].clone()
            };
            let value = numbered("v", step, "", 0);
            let client = ((step * 5) % 4) as usize;
            seq[client] += 1;
            let now = expected.get(&*key).cloned().unwrap_or_default();
            let (op, result) = match step % 4 {
                0 => (KvOp::Get { key: key.clone() }, Value::Str(now.clone())),
                1 => {
                    expected.insert(key.to_string(), value.to_string());
                    (
                        KvOp::Put {
                            key: key.clone(),
                            value,
                        },
                        Value::Null,
                    )
                }
                2 => {
                    expected.insert(key.to_string(), format!("{now}{value}"));
                    (
                        KvOp::Append {
                            key: key.clone(),
                            value,
                        },
                        Value::Null,
                    )
                }
                _ => {
                    let from: Text = if step % 8 == 3 {
                        now.as_str().into()
                    } else {
                        "x".into()
                    };
                    let swap = *from == *now;
                    if swap {
                        expected.insert(key.to_string(), value.to_string());
                    }
                    (
                        KvOp::Cas {
                            key: key.clone(),
                            from,
                            to: value,
                        },
                        Value::Bool(swap),
                    )
                }
            };
            let request = req(client as u32 * 3, seq[client], op);
            assert_eq!(s.apply(&request), Some(result), "step {step}");
            assert_eq!(
                s.apply(&request),
                Some(s.apply(&request).unwrap()),
                "a retry"
            );
            for (k, v) in &expected {
                assert_eq!(s.get(k), Value::Str(v.clone()), "step {step}, key {k}");
            }
        }
        assert_eq!(s.get("missing"), Value::Str(String::new()));
        let keys: Vec<&str> = s.data.iter().map(|(k, _)| &**k).collect();
        let sorted: Vec<&str> = expected.keys().map(|k| k.as_str()).collect();
        assert_eq!(keys, sorted, "one entry per key, in order");
    }

    #[test]
    fn model_matches_the_store() {
        let m = model();
        let s = |x: &str| Value::Str(x.into());
        let cas = m
            .op(
                "cas",
                &Value::List(vec![s(""), s("a")]),
                Some(&Value::Bool(true)),
            )
            .unwrap();
        assert_eq!(m.step(&m.init(), &cas), Some(s("a")));
        assert_eq!(m.step(&s("b"), &cas), None, "claimed success on a mismatch");
        let app = m.op("append", &s("/x"), Some(&s("/x"))).unwrap();
        assert_eq!(m.step(&s("a"), &app), Some(s("a/x")));
        let get = m.op("get", &Value::Null, Some(&s("a"))).unwrap();
        assert_eq!(m.step(&s("a"), &get), Some(s("a")));
        assert_eq!(m.step(&s("b"), &get), None);
        assert!(m.op("incr", &Value::Null, None).is_err());
    }
}
