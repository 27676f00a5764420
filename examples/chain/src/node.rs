//! One replica of the chain: its durable log of updates, the store they build, and what it
//! knows its successor has.

use crate::ChainConfig;
use faultline::protocols::kv::{KvOp, KvRequest, KvResponse, KvStore};
use faultline::sim_core::{ClientId, Ctx, NodeId, Process, RequestId};
use std::fmt;

/// An update in the chain's order, with where its answer goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub id: RequestId,
    pub request: KvRequest,
}

/// Messages between neighbours.
#[derive(Clone, PartialEq, Eq)]
pub enum Msg {
    /// Updates `index..index + entries.len()` of the sender's log, to its successor.
    Forward { index: u64, entries: Vec<Entry> },
    /// To the predecessor: "my log holds your first `len` updates".
    Ack { len: u64 },
}

impl fmt::Debug for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Msg::Forward { index, entries } => write!(f, "Forward #{index}+{}", entries.len()),
            Msg::Ack { len } => write!(f, "Ack {len}"),
        }
    }
}

/// Timer tags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Timer {
    /// Resend what the successor has not acknowledged.
    Resend,
}

/// What survives a crash: the log, written at once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Durable {
    pub log: Vec<Entry>,
}

/// A replica's volatile state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// The log applied, in order (rebuilt from the durable log on restart).
    store: KvStore,
    /// Updates the successor has acknowledged.
    acked: u64,
}

fn head() -> NodeId {
    NodeId(0)
}

fn tail(ctx: &Ctx<'_, Node>) -> NodeId {
    NodeId(ctx.node_count() as u32 - 1)
}

fn successor(ctx: &Ctx<'_, Node>) -> Option<NodeId> {
    (ctx.id() != tail(ctx)).then(|| NodeId(ctx.id().0 + 1))
}

impl Node {
    /// Appends `entry` to the durable log and applies it; the tail (or, with the bug knob,
    /// the head) answers the client.
    fn append(&mut self, ctx: &mut Ctx<'_, Node>, entry: Entry) {
        let answers = ctx.id() == tail(ctx) || (ctx.id() == head() && ctx.config().ack_at_head);
        if let Some(result) = self.store.apply_in_place(&entry.request).cloned() {
            if answers {
                let response = KvResponse::Done {
                    seq: entry.request.seq,
                    result,
                };
                ctx.reply(entry.request.client, entry.id, response);
            }
        }
        ctx.durable_mut().log.push(entry);
    }

    /// Sends the successor what it has not acknowledged, one batch.
    fn forward(&self, ctx: &mut Ctx<'_, Node>) {
        let Some(next) = successor(ctx) else { return };
        let log = &ctx.durable().log;
        if self.acked >= log.len() as u64 {
            return;
        }
        let batch = ctx.config().batch as usize;
        let from = self.acked as usize;
        let entries = log[from..log.len().min(from + batch)].to_vec();
        let index = self.acked;
        ctx.send(next, Msg::Forward { index, entries });
    }
}

impl Process for Node {
    type Config = ChainConfig;
    type Msg = Msg;
    type Timer = Timer;
    type Durable = Durable;
    type Request = KvRequest;
    type Response = KvResponse;

    fn start(ctx: &mut Ctx<'_, Self>) -> Self {
        let mut store = KvStore::default();
        for e in &ctx.durable().log {
            store.apply_in_place(&e.request);
        }
        if ctx.restarted() {
            let n = ctx.durable().log.len();
            ctx.note(format_args!("rebuilt {n} updates"));
        }
        let every = ctx.config().resend_every;
        ctx.set_timer(every, Timer::Resend);
        Node { store, acked: 0 }
    }

    fn on_request(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        client: ClientId,
        id: RequestId,
        request: KvRequest,
    ) {
        // Queries at the tail, updates at the head (§2).
        if let KvOp::Get { key } = &request.op {
            let response = if ctx.id() == tail(ctx) {
                KvResponse::Done {
                    seq: request.seq,
                    result: self.store.get_shared(key),
                }
            } else {
                KvResponse::NotLeader {
                    hint: Some(tail(ctx)),
                    has_entry: false,
                }
            };
            ctx.reply(client, id, response);
        } else if ctx.id() == head() {
            self.append(ctx, Entry { id, request });
            self.forward(ctx);
        } else {
            // Refused here, but a forward may already have brought this update: then
            // it may still take effect, and the client must not count it as failed.
            let has_entry = ctx
                .durable()
                .log
                .iter()
                .any(|e| e.request.client == request.client && e.request.seq == request.seq);
            let hint = Some(head());
            ctx.reply(client, id, KvResponse::NotLeader { hint, has_entry });
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Forward { index, entries } => {
                let len = ctx.durable().log.len() as u64;
                // Only what extends the log in order: a gap waits for the resend.
                if index <= len {
                    let skip = (len - index) as usize;
                    for e in entries.into_iter().skip(skip) {
                        self.append(ctx, e);
                    }
                    self.forward(ctx);
                }
                let len = ctx.durable().log.len() as u64;
                ctx.send(from, Msg::Ack { len });
            }
            Msg::Ack { len } => self.acked = self.acked.max(len),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: Timer) {
        match timer {
            Timer::Resend => {
                self.forward(ctx);
                let every = ctx.config().resend_every;
                ctx.set_timer(every, Timer::Resend);
            }
        }
    }
}
