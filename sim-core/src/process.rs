//! What a protocol implements ([`Process`] for server nodes, [`Client`] for the simulated
//! clients that drive a workload) and the contexts they act through.
//!
//! A handler reacts to one input and records its outputs on the context: messages to send,
//! timers to set or cancel, replies to clients, notes for the trace. It does no I/O, reads
//! no clock but its node's own two (monotonic and wall), and draws randomness only from its node's stream.
//! Outputs take effect in the order they are made.

use crate::bus::{Aligned, Bus, Ev, Wire};
use crate::id::{ClientId, NodeId, RequestId, TimerId};
use crate::rng::SimRng;
use crate::sim::NodeMeta;
use crate::storage::{Disk, Wal};
use crate::time::{Duration, Time};
use crate::trace::TraceKind;
use lincheck::{Event as HistoryEvent, EventKind, Value};
use std::fmt::{self, Write as _};

/// A server node's state machine.
///
/// `Self` is the node's volatile state: a crash throws it away. What must survive lives in
/// [`Process::Durable`], reached through [`Ctx::durable`] / [`Ctx::durable_mut`]; a restart
/// calls [`Process::start`] again with that storage intact and [`Ctx::restarted`] true.
/// Configuration shared by all nodes is [`Process::Config`], read with [`Ctx::config`].
pub trait Process: Sized {
    /// Shared, read-only configuration (from the scenario).
    type Config;
    /// Messages between nodes. `Clone` because the network may duplicate them; `Debug` is
    /// how they appear in the trace, so keep it short and semantic.
    type Msg: Clone + fmt::Debug;
    /// Timer tags: an enum, not closures.
    type Timer: Clone + fmt::Debug;
    /// What survives a crash whole (the current term, a vote ...). Writes through
    /// [`Ctx::durable_mut`] are durable at once. For a write-ahead log whose unsynced tail
    /// a crash can cut, see [`Ctx::append`] and [`crate::storage`].
    type Durable: Default + fmt::Debug;
    /// Operations clients ask for.
    type Request: Clone + fmt::Debug;
    /// What nodes answer clients.
    type Response: Clone + fmt::Debug;

    /// Builds the node on first start and on every restart (then `ctx.restarted()` is true
    /// and `ctx.durable()` holds what was written before the crash).
    fn start(ctx: &mut Ctx<'_, Self>) -> Self;

    /// A message from another node arrived.
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Self::Msg);

    /// A timer set with [`Ctx::set_timer`] fired (and was not cancelled).
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: Self::Timer);

    /// A client's request arrived. Answer now or later with [`Ctx::reply`]. The default
    /// ignores requests (protocols without clients).
    fn on_request(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        client: ClientId,
        id: RequestId,
        request: Self::Request,
    ) {
        let _ = (ctx, client, id, request);
    }

    /// A [`Ctx::sync`] completed: the first `upto` records of this node's log are durable
    /// (see [`crate::storage`]). Syncs complete in the order they were asked; one in flight
    /// when the node crashed never completes. The default does nothing (protocols without
    /// a log).
    fn on_synced(&mut self, ctx: &mut Ctx<'_, Self>, upto: u64) {
        let _ = (ctx, upto);
    }

    /// Does this node believe it leads now (a Raft leader, a lease holder, a coordinator)?
    /// Targeted faults ([`crate::Fault::Targeted`], a nemesis's `target: Leader`) reach
    /// such a node. The default, for protocols without leaders: no.
    fn leads(&self) -> bool {
        false
    }

    /// What this node's checkers read of it, as a few numbers ([`CheckStamp`]): if a
    /// handler leaves the places a checker reads ([`crate::Checker::reads_only_stamp`])
    /// equal, it could not judge differently, and the engine does not call it. Each place
    /// must change whenever anything a checker reading it reads changes (a protocol lists
    /// its places with its checkers). The default, `None`: every checker sees every event.
    fn check_stamp(&self, durable: &Self::Durable) -> Option<CheckStamp> {
        let _ = durable;
        None
    }
}

/// A node's state as its checkers read it, summed up exactly (not hashed) in up to six
/// numbers ([`Process::check_stamp`]); unused places stay 0.
pub type CheckStamp = [u64; 6];

/// A node's view of the world during one handler call. Everything it asks for happens in
/// the order asked: a send is on the wire when `send` returns.
pub struct Ctx<'a, P: Process> {
    pub(crate) bus: &'a mut Bus<P>,
    pub(crate) me: NodeId,
    pub(crate) restarted: bool,
    /// The node's clock, timers, random stream, durable storage and write-ahead log (one
    /// pointer for them all: the context is built for every handler call, so each field
    /// is a store per event).
    pub(crate) node: &'a mut NodeMeta<P>,
}

impl<P: Process> Ctx<'_, P> {
    /// This node.
    pub fn id(&self) -> NodeId {
        self.me
    }

    /// How many server nodes the cluster has; ids are `0..node_count`.
    pub fn node_count(&self) -> usize {
        self.bus.node_count as usize
    }

    /// Every other node, in id order.
    pub fn peers(&self) -> impl Iterator<Item = NodeId> + use<P> {
        let me = self.me;
        (0..self.bus.node_count)
            .map(NodeId)
            .filter(move |&n| n != me)
    }

    /// A node's name in the scenario (`"n1"`, `"store"`), for notes that people read.
    ///
    /// # Panics
    /// If `node` is not a node of this cluster.
    pub fn name_of(&self, node: NodeId) -> &str {
        assert!(node.0 < self.bus.node_count, "name_of unknown node {node}");
        &self.bus.names[node.index()]
    }

    /// The smallest number of nodes that is a majority.
    pub fn majority(&self) -> usize {
        self.bus.node_count as usize / 2 + 1
    }

    /// This node's monotonic clock (drift applies, steps do not; see [`crate::clock`]).
    /// Measure leases, timeouts and every other span that guards safety on it. Nodes never
    /// see virtual time.
    #[inline]
    pub fn monotonic(&self) -> Time {
        self.node.clock.monotonic(self.bus.now)
    }

    /// This node's wall clock: the monotonic clock plus every `ClockSkew` step so far, so
    /// it can jump backwards. For timestamps that people or other nodes read (hybrid
    /// logical clocks, last-writer-wins stamps), never for a lease.
    #[inline]
    pub fn wall_clock(&self) -> Time {
        self.node.clock.wall(self.bus.now)
    }

    /// True when this start is a restart after a crash.
    pub fn restarted(&self) -> bool {
        self.restarted
    }

    pub fn config(&self) -> &P::Config {
        &self.bus.node_config
    }

    /// This node's random stream.
    #[inline]
    pub fn rng(&mut self) -> &mut SimRng {
        &mut self.node.rng
    }

    /// Durable storage, as it survived any crash.
    pub fn durable(&self) -> &P::Durable {
        &self.node.durable
    }

    /// Durable storage; what is written here survives a crash.
    pub fn durable_mut(&mut self) -> &mut P::Durable {
        &mut self.node.durable
    }

    fn disk(&mut self) -> &mut Disk {
        let (seed, me) = (self.bus.seed, self.me.index());
        let names = &self.bus.names;
        self.node
            .disk
            .get_or_insert_with(|| Disk::new(seed, &names[me]))
    }

    /// Appends `record` to this node's write-ahead log and returns its index. It is
    /// volatile until a [`Ctx::sync`] asked after this append completes: a crash before
    /// then may lose it (see [`crate::storage`]). The first append fixes the log's record
    /// type for the run.
    pub fn append<R: fmt::Debug + 'static>(&mut self, record: R) -> u64 {
        let text = self.bus.full().then(|| format!("{record:?}"));
        let index = self.disk().wal_mut::<R>().push(record);
        if let Some(record) = text {
            let node = self.bus.name(self.me.0);
            self.bus.record(TraceKind::Append {
                node,
                index,
                record,
            });
        }
        index
    }

    /// Asks the disk to make every record appended so far durable; returns that length,
    /// the `upto` that [`Process::on_synced`] will receive once the sync completes (after
    /// the scenario's `sync_latency`).
    pub fn sync(&mut self) -> u64 {
        let now = self.bus.now;
        let storage = self.bus.storage;
        let disk = self.disk();
        let upto = disk.len();
        let at = disk.sync_done(now, &storage);
        let epoch = disk.epoch;
        self.bus.enqueue(
            at,
            Ev::Synced {
                node: self.me.0,
                epoch,
                upto,
            },
        );
        upto
    }

    /// This node's write-ahead log as it is now: synced records, then the unsynced ones
    /// (while the node lives), each read through its checksum. After a restart it holds
    /// what survived the crash. Empty before the first append.
    pub fn log<R: 'static>(&mut self) -> &Wal<R> {
        self.disk().wal_mut::<R>()
    }

    /// Sends `msg` to `to` over the network (it may be delayed, lost, duplicated).
    #[inline(always)]
    pub fn send(&mut self, to: NodeId, msg: P::Msg) {
        assert!(to.0 < self.bus.node_count, "send to unknown node {to}");
        self.bus
            .transmit_with(self.me.0, to.0, move || Wire::Msg(Aligned::new(msg)));
    }

    /// Sends a copy of `msg` to every other node, in id order.
    pub fn broadcast(&mut self, msg: P::Msg) {
        for n in 0..self.bus.node_count {
            if n != self.me.0 {
                self.bus
                    .transmit(self.me.0, n, Wire::Msg(Aligned::new(msg.clone())));
            }
        }
    }

    /// Answers a client's request (over the network: the reply can be lost too).
    pub fn reply(&mut self, to: ClientId, id: RequestId, response: P::Response) {
        let endpoint = self.bus.node_count + to.0;
        self.bus
            .transmit(self.me.0, endpoint, Wire::Response(id, response));
    }

    /// Fires `timer` after `after` has passed on this node's monotonic clock.
    pub fn set_timer(&mut self, after: Duration, timer: P::Timer) -> TimerId {
        let id = TimerId(self.bus.fresh_id());
        self.node.timers.push(id);
        self.bus.stats.timers_set += 1;
        let at = self.bus.now.plus(self.node.clock.virtual_span(after));
        let me = self.me.0;
        self.bus
            .enqueue_with(at, move || Ev::NodeTimer(me, id, timer));
        id
    }

    /// Cancels a timer; cancelling one that fired or was cancelled already does nothing.
    pub fn cancel_timer(&mut self, id: TimerId) {
        if let Some(pos) = self.node.timers.iter().position(|&t| t == id) {
            self.node.timers.swap_remove(pos);
        }
    }

    /// True when notes are recorded; check it before building an expensive note.
    pub fn tracing(&self) -> bool {
        self.bus.summary()
    }

    /// The run reached the protocol's sometimes-property `property` (its index, below
    /// [`crate::MAX_PROPERTIES`]; see [`crate::reach`]). Recorded beside the trace, never
    /// in it: one bit test after the first time.
    #[inline(always)]
    pub fn reached(&mut self, property: impl Into<usize>) {
        let now = self.bus.now;
        self.bus.reached.mark(property.into(), now);
    }

    /// Notes a state change for the trace, e.g. `ctx.note(format_args!("role=leader term={t}"))`.
    /// Formatted only when the trace records notes.
    pub fn note(&mut self, what: impl fmt::Display) {
        if self.bus.summary() {
            let node = self.bus.name(self.me.0);
            self.bus.record(TraceKind::Note {
                node,
                text: what.to_string(),
            });
        }
    }
}

/// A simulated client: it sends requests to nodes over the same faulty network and
/// records what it asked and what it got in the run's history.
pub trait Client<P: Process>: Sized {
    /// Shared, read-only configuration (the workload).
    type Config;
    /// Timer tags.
    type Timer: Clone + fmt::Debug;

    /// Builds the client at time zero.
    fn start(ctx: &mut ClientCtx<'_, P, Self>) -> Self;

    /// A node answered one of this client's requests.
    fn on_response(
        &mut self,
        ctx: &mut ClientCtx<'_, P, Self>,
        from: NodeId,
        id: RequestId,
        response: P::Response,
    );

    /// A timer fired.
    fn on_timer(&mut self, ctx: &mut ClientCtx<'_, P, Self>, timer: Self::Timer);
}

/// A cluster with no clients.
#[derive(Debug)]
pub struct NoClients;

impl<P: Process> Client<P> for NoClients {
    type Config = ();
    type Timer = ();
    fn start(_: &mut ClientCtx<'_, P, Self>) -> Self {
        NoClients
    }
    fn on_response(
        &mut self,
        _: &mut ClientCtx<'_, P, Self>,
        _: NodeId,
        _: RequestId,
        _: P::Response,
    ) {
    }
    fn on_timer(&mut self, _: &mut ClientCtx<'_, P, Self>, _: ()) {}
}

/// A client's view of the world during one handler call.
pub struct ClientCtx<'a, P: Process, C: Client<P>> {
    pub(crate) bus: &'a mut Bus<P>,
    pub(crate) me: ClientId,
    pub(crate) config: &'a C::Config,
    pub(crate) rng: &'a mut SimRng,
    pub(crate) timers: &'a mut Vec<(TimerId, C::Timer)>,
    /// History process id; a new one after every `info`.
    pub(crate) process: &'a mut u64,
    /// Where the open operation's invoke is in the history.
    /// (Unused when the history is not recorded.)
    pub(crate) open: &'a mut Option<usize>,
}

impl<P: Process, C: Client<P>> ClientCtx<'_, P, C> {
    pub fn id(&self) -> ClientId {
        self.me
    }

    pub fn node_count(&self) -> usize {
        self.bus.node_count as usize
    }

    /// Virtual time. Clients are the test harness, so their clock is the true one; it is
    /// what the history records.
    pub fn now(&self) -> Time {
        self.bus.now
    }

    pub fn config(&self) -> &C::Config {
        self.config
    }

    pub fn rng(&mut self) -> &mut SimRng {
        self.rng
    }

    /// Sends a request to node `to`; its reply will carry the returned id.
    pub fn send_request(&mut self, to: NodeId, request: P::Request) -> RequestId {
        assert!(to.0 < self.bus.node_count, "request to unknown node {to}");
        let id = RequestId(self.bus.fresh_id());
        self.bus.stats.requests += 1;
        let from = self.bus.node_count + self.me.0;
        self.bus.transmit(from, to.0, Wire::Request(id, request));
        id
    }

    pub fn set_timer(&mut self, after: Duration, timer: C::Timer) -> TimerId {
        let id = TimerId(self.bus.fresh_id());
        self.timers.push((id, timer));
        self.bus.stats.timers_set += 1;
        let at = self.bus.now.plus(after);
        let me = self.me.0;
        self.bus.enqueue_with(at, move || Ev::ClientTimer(me, id));
        id
    }

    pub fn cancel_timer(&mut self, id: TimerId) {
        if let Some(pos) = self.timers.iter().position(|(t, _)| *t == id) {
            self.timers.swap_remove(pos);
        }
    }

    /// The run reached sometimes-property `property`, seen from a client (a retry, say);
    /// as [`Ctx::reached`].
    #[inline(always)]
    pub fn reached(&mut self, property: impl Into<usize>) {
        let now = self.bus.now;
        self.bus.reached.mark(property.into(), now);
    }

    fn client_name(&self) -> String {
        self.bus.name(self.bus.node_count + self.me.0)
    }

    /// Records the start of an operation in the history (Jepsen's `:invoke`): function `f`
    /// (`"read"`, `"write"`, `"cas"`, `"get"`, `"put"`, `"append"` ...), the key (`None` for
    /// a single register) and the argument.
    ///
    /// # Panics
    /// If this client already has an open operation: a client has one at a time.
    pub fn invoke(&mut self, f: &str, key: Option<Value>, argument: Value) {
        assert!(
            self.open.is_none(),
            "client {} invoked {f} while an operation was open: a client has one operation at a time",
            self.client_name()
        );
        *self.open = Some(self.bus.history.len());
        let process = *self.process;
        if self.bus.summary() {
            let client = self.client_name();
            self.bus.record(TraceKind::Invoke {
                client,
                process,
                op: describe_op(f, key.as_ref(), &argument),
            });
        }
        if !self.bus.records_history() {
            return;
        }
        let time = Some(self.bus.now.as_nanos());
        self.bus.history.push(HistoryEvent {
            process,
            kind: EventKind::Invoke,
            f: f.to_string(),
            key,
            value: argument,
            time,
            error: None,
        });
    }

    /// Whether [`ClientCtx::invoke`] and the completions record anything: a client may
    /// skip building their values when they do not.
    pub fn records_history(&self) -> bool {
        self.bus.records_history()
    }

    /// True while an operation is open (invoked, not completed).
    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// The open operation completed with `result` (`:ok`).
    pub fn complete_ok(&mut self, result: Value) {
        self.complete(EventKind::Ok, result, None);
    }

    /// The open operation definitely did not take effect (`:fail`).
    pub fn complete_fail(&mut self, error: &str) {
        self.complete(EventKind::Fail, Value::Null, Some(error.to_string()));
    }

    /// The outcome is unknown (`:info`, e.g. a timeout): the operation may take effect at
    /// any later time or never. The client continues as a new history process, as in Jepsen.
    pub fn complete_info(&mut self, error: &str) {
        self.complete(EventKind::Info, Value::Null, Some(error.to_string()));
    }

    fn complete(&mut self, kind: EventKind, value: Value, error: Option<String>) {
        let Some(invoked) = self.open.take() else {
            panic!(
                "client {} completed an operation it never invoked",
                self.client_name()
            );
        };
        let process = *self.process;
        if kind == EventKind::Info {
            *self.process = self.bus.next_process;
            self.bus.next_process += 1;
            let name = self.client_name();
            self.bus.process_names.insert(*self.process, name);
        }
        if !self.bus.records_history() {
            return;
        }
        let invoke = &self.bus.history[invoked];
        let (f, key) = (invoke.f.clone(), invoke.key.clone());
        if self.bus.summary() {
            let outcome = match kind {
                EventKind::Ok => "ok",
                EventKind::Fail => "fail",
                EventKind::Info => "info",
                EventKind::Invoke => "invoke",
            };
            let mut op = describe_op(&f, key.as_ref(), &value);
            if let Some(e) = &error {
                let _ = write!(op, " [{e}]");
            }
            let client = self.client_name();
            self.bus.record(TraceKind::Complete {
                client,
                process,
                outcome: outcome.to_string(),
                op,
            });
        }
        let time = Some(self.bus.now.as_nanos());
        self.bus.history.push(HistoryEvent {
            process,
            kind,
            f,
            key,
            value,
            time,
            error,
        });
    }
}

/// `put x 5`, `read`, `cas [1, 2]`: an operation as the trace shows it.
fn describe_op(f: &str, key: Option<&Value>, value: &Value) -> String {
    let mut s = f.to_string();
    if let Some(k) = key {
        let _ = write!(s, " {}", show_value(k));
    }
    if *value != Value::Null {
        let _ = write!(s, " {}", show_value(value));
    }
    s
}

fn show_value(v: &Value) -> String {
    match v {
        Value::Null => "nil".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Str(s) => format!("{s:?}"),
        Value::List(items) => format!(
            "[{}]",
            items.iter().map(show_value).collect::<Vec<_>>().join(", ")
        ),
    }
}
