//! The simulated client: reads and writes at one replica at a time, keeps the causal
//! context of its last read of each key for its next write, and (with session guarantees
//! on) what its session has seen, which a replica must cover before it may answer a read.

use super::node::{Node, Request, Response};
use super::store::{Summary, WriteId};
use crate::workload::Workload;
use sim_core::{Client, ClientCtx, Duration, NodeId, RequestId, Time, TimerId, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The clients' configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct GossipClientConfig {
    pub workload: Workload,
    /// Session guarantees: stick to one replica, send the session's context with reads.
    /// Off: every operation goes to a random replica with no session context.
    pub sessions: bool,
    /// Clients stop writing at this time (they keep reading), so the store can converge.
    pub writes_until: Option<Time>,
    /// Wait before retrying a read a replica answered `Behind`.
    pub backoff: Duration,
}

/// Client timers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientTimer {
    Think,
    /// Operation `seq` got no answer in time.
    Deadline(u32),
    /// Retry read `seq` at another replica.
    Retry(u32),
}

#[derive(Clone, Debug)]
struct Open {
    seq: u32,
    key: u32,
    write: Option<WriteId>,
    attempt: RequestId,
    deadline: TimerId,
}

/// One client session.
#[derive(Clone, Debug)]
pub struct GossipClient {
    seq: u32,
    done: u32,
    target: NodeId,
    open: Option<Open>,
    /// Per key: the context and siblings of the last read.
    read: BTreeMap<u32, (Summary, Vec<WriteId>)>,
    /// Per key: everything the session has seen (reads' contexts, its own writes).
    session: BTreeMap<u32, Summary>,
}

impl GossipClient {
    /// Operations completed (ok, fail or info).
    pub fn completed(&self) -> u32 {
        self.done
    }
}

fn key_value(key: u32) -> Value {
    Value::Str(format!("k{}", key + 1))
}

impl GossipClient {
    fn invoke_next(&mut self, ctx: &mut ClientCtx<'_, Node, Self>) {
        let w = &ctx.config().workload;
        if w.ops_per_client > 0 && self.seq >= w.ops_per_client {
            return;
        }
        let (reads, writes, keys) = (u64::from(w.mix.read), u64::from(w.mix.write), w.keys);
        let timeout = w.timeout;
        let writing_over = ctx.config().writes_until.is_some_and(|t| ctx.now() >= t);
        let write = !writing_over && ctx.rng().below(reads + writes) >= reads;
        let key = ctx.rng().below(u64::from(keys)) as u32;
        if !ctx.config().sessions {
            let n = ctx.node_count() as u64;
            self.target = NodeId(ctx.rng().below(n) as u32);
        }
        self.seq += 1;
        let seq = self.seq;
        let (request, write_id) = if write {
            let id = WriteId::client(ctx.id().0, seq);
            let (context, covers) = match self.read.get(&key) {
                Some((c, seen)) => (Some(c.clone()), seen.clone()),
                None => (None, Vec::new()),
            };
            let argument = Value::List(vec![
                Value::Str(id.value()),
                Value::List(covers.iter().map(|c| Value::Str(c.value())).collect()),
            ]);
            ctx.invoke("write", Some(key_value(key)), argument);
            (
                Request::Put {
                    key,
                    id,
                    ctx: context,
                    covers: Arc::from(covers),
                },
                Some(id),
            )
        } else {
            ctx.invoke("read", Some(key_value(key)), Value::Null);
            (self.get_request(ctx, key), None)
        };
        let attempt = ctx.send_request(self.target, request);
        let deadline = ctx.set_timer(timeout, ClientTimer::Deadline(seq));
        self.open = Some(Open {
            seq,
            key,
            write: write_id,
            attempt,
            deadline,
        });
    }

    fn get_request(&self, ctx: &ClientCtx<'_, Node, Self>, key: u32) -> Request {
        let min = if ctx.config().sessions {
            self.session.get(&key).cloned()
        } else {
            None
        };
        Request::Get { key, min }
    }

    fn finish(&mut self, ctx: &mut ClientCtx<'_, Node, Self>) {
        self.done += 1;
        let w = &ctx.config().workload;
        let (lo, hi) = (w.think_min.as_nanos(), w.think_max.as_nanos());
        let think = Duration::from_nanos(ctx.rng().between(lo, hi));
        ctx.set_timer(think, ClientTimer::Think);
    }

    fn other_node(&self, ctx: &mut ClientCtx<'_, Node, Self>) -> NodeId {
        let n = ctx.node_count() as u64;
        if n < 2 {
            return self.target;
        }
        let r = ctx.rng().below(n - 1);
        let me = u64::from(self.target.0);
        NodeId(if r >= me { r + 1 } else { r } as u32)
    }
}

impl Client<Node> for GossipClient {
    type Config = GossipClientConfig;
    type Timer = ClientTimer;

    fn start(ctx: &mut ClientCtx<'_, Node, Self>) -> Self {
        let n = ctx.node_count() as u64;
        let target = NodeId(ctx.rng().below(n.max(1)) as u32);
        let start = ctx.config().workload.start;
        ctx.set_timer(start, ClientTimer::Think);
        GossipClient {
            seq: 0,
            done: 0,
            target,
            open: None,
            read: BTreeMap::new(),
            session: BTreeMap::new(),
        }
    }

    fn on_response(
        &mut self,
        ctx: &mut ClientCtx<'_, Node, Self>,
        _from: NodeId,
        id: RequestId,
        response: Response,
    ) {
        let Some(open) = self.open.as_ref() else {
            return;
        };
        if open.attempt != id {
            return; // an answer to an attempt given up on
        }
        let key = open.key;
        match response {
            Response::Read { values, ctx: c } => {
                let open = self.open.take().expect("open");
                ctx.cancel_timer(open.deadline);
                if let Some(c) = c {
                    self.session
                        .entry(key)
                        .and_modify(|s| s.join(&c))
                        .or_insert_with(|| c.clone());
                    self.read.insert(key, (c, values.clone()));
                }
                let seen = values.iter().map(|v| Value::Str(v.value())).collect();
                ctx.complete_ok(Value::List(seen));
                self.finish(ctx);
            }
            Response::Written { seen } => {
                let open = self.open.take().expect("open");
                ctx.cancel_timer(open.deadline);
                self.session
                    .entry(key)
                    .and_modify(|s| s.join(&seen))
                    .or_insert(seen);
                ctx.complete_ok(Value::Null);
                self.finish(ctx);
            }
            Response::Behind => {
                let seq = open.seq;
                let backoff = ctx.config().backoff;
                self.target = self.other_node(ctx);
                ctx.set_timer(backoff, ClientTimer::Retry(seq));
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut ClientCtx<'_, Node, Self>, timer: ClientTimer) {
        match timer {
            ClientTimer::Think => self.invoke_next(ctx),
            ClientTimer::Retry(seq) => {
                let Some(open) = self.open.as_ref().filter(|o| o.seq == seq) else {
                    return;
                };
                let request = self.get_request(ctx, open.key);
                let attempt = ctx.send_request(self.target, request);
                self.open.as_mut().expect("open").attempt = attempt;
            }
            ClientTimer::Deadline(seq) => {
                let Some(open) = self.open.take_if(|o| o.seq == seq) else {
                    return;
                };
                if open.write.is_some() {
                    ctx.complete_info("timed-out");
                } else {
                    ctx.complete_fail("timed-out");
                }
                self.target = self.other_node(ctx);
                self.finish(ctx);
            }
        }
    }
}
