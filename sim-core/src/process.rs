//! What a protocol implements ([`Process`] for server nodes, [`Client`] for the simulated
//! clients that drive a workload) and the contexts they act through.
//!
//! A handler reacts to one input and records its outputs on the context: messages to send,
//! timers to set or cancel, replies to clients, notes for the trace. It does no I/O, reads
//! no clock but its node's local clock, and draws randomness only from its node's stream.
//! The engine applies the outputs in the order they were recorded.

use crate::id::{ClientId, NodeId, RequestId, TimerId};
use crate::rng::SimRng;
use crate::time::{Duration, Time};
use lincheck::Value;
use std::fmt;

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
    /// What survives a crash (the write-ahead log, the current term ...). Writes through
    /// [`Ctx::durable_mut`] are durable at once.
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
    fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, client: ClientId, id: RequestId, request: Self::Request) {
        let _ = (ctx, client, id, request);
    }
}

/// What a node's handler asked for, applied by the engine after the handler returns.
pub(crate) enum NodeOut<P: Process> {
    Send(NodeId, P::Msg),
    Reply(ClientId, RequestId, P::Response),
    SetTimer(TimerId, Duration, P::Timer),
    CancelTimer(TimerId),
    Note(String),
}

/// A node's view of the world during one handler call.
pub struct Ctx<'a, P: Process> {
    pub(crate) me: NodeId,
    pub(crate) nodes: u32,
    pub(crate) local: Time,
    pub(crate) restarted: bool,
    pub(crate) tracing: bool,
    pub(crate) config: &'a P::Config,
    pub(crate) rng: &'a mut SimRng,
    pub(crate) durable: &'a mut P::Durable,
    pub(crate) out: &'a mut Vec<NodeOut<P>>,
    pub(crate) next_id: &'a mut u64,
}

impl<P: Process> Ctx<'_, P> {
    /// This node.
    pub fn id(&self) -> NodeId {
        self.me
    }

    /// How many server nodes the cluster has; ids are `0..node_count`.
    pub fn node_count(&self) -> usize {
        self.nodes as usize
    }

    /// Every other node, in id order.
    pub fn peers(&self) -> impl Iterator<Item = NodeId> + use<P> {
        let me = self.me;
        (0..self.nodes).map(NodeId).filter(move |&n| n != me)
    }

    /// The smallest number of nodes that is a majority.
    pub fn majority(&self) -> usize {
        self.nodes as usize / 2 + 1
    }

    /// This node's local clock (offset and drift included). Nodes never see virtual time.
    pub fn local_time(&self) -> Time {
        self.local
    }

    /// True when this start is a restart after a crash.
    pub fn restarted(&self) -> bool {
        self.restarted
    }

    pub fn config(&self) -> &P::Config {
        self.config
    }

    /// This node's random stream.
    pub fn rng(&mut self) -> &mut SimRng {
        self.rng
    }

    /// Durable storage, as it survived any crash.
    pub fn durable(&self) -> &P::Durable {
        self.durable
    }

    /// Durable storage; what is written here survives a crash.
    pub fn durable_mut(&mut self) -> &mut P::Durable {
        self.durable
    }

    /// Sends `msg` to `to` over the network (it may be delayed, lost, duplicated).
    pub fn send(&mut self, to: NodeId, msg: P::Msg) {
        debug_assert!(to.0 < self.nodes, "send to unknown node {to}");
        self.out.push(NodeOut::Send(to, msg));
    }

    /// Sends a copy of `msg` to every other node.
    pub fn broadcast(&mut self, msg: P::Msg) {
        for n in 0..self.nodes {
            if n != self.me.0 {
                self.out.push(NodeOut::Send(NodeId(n), msg.clone()));
            }
        }
    }

    /// Answers a client's request (over the network: the reply can be lost too).
    pub fn reply(&mut self, to: ClientId, id: RequestId, response: P::Response) {
        self.out.push(NodeOut::Reply(to, id, response));
    }

    /// Fires `timer` after `after` has passed on this node's clock.
    pub fn set_timer(&mut self, after: Duration, timer: P::Timer) -> TimerId {
        let id = TimerId(*self.next_id);
        *self.next_id += 1;
        self.out.push(NodeOut::SetTimer(id, after, timer));
        id
    }

    /// Cancels a timer; cancelling one that fired or was cancelled already does nothing.
    pub fn cancel_timer(&mut self, id: TimerId) {
        self.out.push(NodeOut::CancelTimer(id));
    }

    /// Notes a state change for the trace, e.g. `ctx.note(format_args!("role=leader term={t}"))`.
    /// Formatted only when the trace records notes.
    pub fn note(&mut self, what: impl fmt::Display) {
        if self.tracing {
            self.out.push(NodeOut::Note(what.to_string()));
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
    fn on_response(&mut self, ctx: &mut ClientCtx<'_, P, Self>, from: NodeId, id: RequestId, response: P::Response);

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
    fn on_response(&mut self, _: &mut ClientCtx<'_, P, Self>, _: NodeId, _: RequestId, _: P::Response) {}
    fn on_timer(&mut self, _: &mut ClientCtx<'_, P, Self>, _: ()) {}
}

pub(crate) enum ClientOut<P: Process, C: Client<P>> {
    Request(NodeId, RequestId, P::Request),
    SetTimer(TimerId, Duration, C::Timer),
    CancelTimer(TimerId),
    Invoke(String, Option<Value>, Value),
    Complete(lincheck::EventKind, Value, Option<String>),
}

/// A client's view of the world during one handler call.
pub struct ClientCtx<'a, P: Process, C: Client<P>> {
    pub(crate) me: ClientId,
    pub(crate) nodes: u32,
    pub(crate) now: Time,
    pub(crate) config: &'a C::Config,
    pub(crate) rng: &'a mut SimRng,
    pub(crate) out: &'a mut Vec<ClientOut<P, C>>,
    pub(crate) next_id: &'a mut u64,
}

impl<P: Process, C: Client<P>> ClientCtx<'_, P, C> {
    pub fn id(&self) -> ClientId {
        self.me
    }

    pub fn node_count(&self) -> usize {
        self.nodes as usize
    }

    /// Virtual time. Clients are the test harness, so their clock is the true one; it is
    /// what the history records.
    pub fn now(&self) -> Time {
        self.now
    }

    pub fn config(&self) -> &C::Config {
        self.config
    }

    pub fn rng(&mut self) -> &mut SimRng {
        self.rng
    }

    /// Sends a request to node `to`; its reply will carry the returned id.
    pub fn send_request(&mut self, to: NodeId, request: P::Request) -> RequestId {
        let id = RequestId(*self.next_id);
        *self.next_id += 1;
        self.out.push(ClientOut::Request(to, id, request));
        id
    }

    pub fn set_timer(&mut self, after: Duration, timer: C::Timer) -> TimerId {
        let id = TimerId(*self.next_id);
        *self.next_id += 1;
        self.out.push(ClientOut::SetTimer(id, after, timer));
        id
    }

    pub fn cancel_timer(&mut self, id: TimerId) {
        self.out.push(ClientOut::CancelTimer(id));
    }

    /// Records the start of an operation in the history (Jepsen's `:invoke`): function `f`
    /// (`"read"`, `"write"`, `"cas"`, `"get"`, `"put"`, `"append"` ...), the key (`None` for
    /// a single register) and the argument. A client has at most one open operation.
    pub fn invoke(&mut self, f: &str, key: Option<Value>, argument: Value) {
        self.out.push(ClientOut::Invoke(f.to_string(), key, argument));
    }

    /// The open operation completed with `result` (`:ok`).
    pub fn complete_ok(&mut self, result: Value) {
        self.out.push(ClientOut::Complete(lincheck::EventKind::Ok, result, None));
    }

    /// The open operation definitely did not take effect (`:fail`).
    pub fn complete_fail(&mut self, error: &str) {
        self.out.push(ClientOut::Complete(lincheck::EventKind::Fail, Value::Null, Some(error.to_string())));
    }

    /// The outcome is unknown (`:info`, e.g. a timeout): the operation may take effect at
    /// any later time or never. The client continues as a new history process, as in Jepsen.
    pub fn complete_info(&mut self, error: &str) {
        self.out.push(ClientOut::Complete(lincheck::EventKind::Info, Value::Null, Some(error.to_string())));
    }
}
