//! Travellers: each books trips one at a time at node 0, each with a fresh correlation id,
//! and records them in the history (`book s1000003`: ok when booked, fail when
//! compensated, info when no answer came in time). No saga starts after `clients_stop`.

use super::{Book, Booking, HUB, Node, SagaConfig, SagaId};
use crate::Workload;
use lincheck::Value;
use sim_core::{Client, ClientCtx, Duration, NodeId, RequestId, Time, TimerId};

/// What a traveller needs: the workload (count, pacing, timeout) and the saga config.
#[derive(Clone, Debug)]
pub struct TravellerConfig {
    pub workload: Workload,
    pub config: SagaConfig,
}

/// Timer tags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TravelTimer {
    Think,
    Deadline(u64),
}

/// One traveller.
#[derive(Debug)]
pub struct Traveller {
    seq: u64,
    done: u32,
    open: Option<(u64, RequestId, TimerId)>,
}

impl Traveller {
    fn next(&mut self, ctx: &mut ClientCtx<'_, Node, Self>) {
        let w = &ctx.config().workload;
        if w.ops_per_client > 0 && self.done >= w.ops_per_client {
            return;
        }
        let timeout = w.timeout;
        if ctx.now() > Time::ZERO.plus(ctx.config().config.clients_stop) {
            return;
        }
        self.seq += 1;
        let saga: SagaId = u64::from(ctx.id().0 + 1) * 1_000_000 + self.seq;
        ctx.invoke("book", Some(Value::Str(format!("s{saga}"))), Value::Null);
        let id = ctx.send_request(HUB, Book { saga });
        let deadline = ctx.set_timer(timeout, TravelTimer::Deadline(self.seq));
        self.open = Some((self.seq, id, deadline));
    }

    fn think(&mut self, ctx: &mut ClientCtx<'_, Node, Self>) {
        self.done += 1;
        let w = &ctx.config().workload;
        let (lo, hi) = (w.think_min.as_nanos(), w.think_max.as_nanos());
        let think = Duration::from_nanos(ctx.rng().between(lo, hi));
        ctx.set_timer(think, TravelTimer::Think);
    }
}

impl Client<Node> for Traveller {
    type Config = TravellerConfig;
    type Timer = TravelTimer;

    fn start(ctx: &mut ClientCtx<'_, Node, Self>) -> Self {
        let start = ctx.config().workload.start;
        ctx.set_timer(start, TravelTimer::Think);
        Traveller {
            seq: 0,
            done: 0,
            open: None,
        }
    }

    fn on_response(
        &mut self,
        ctx: &mut ClientCtx<'_, Node, Self>,
        _from: NodeId,
        id: RequestId,
        response: Booking,
    ) {
        let Some((_, _, deadline)) = self.open.take_if(|o| o.1 == id) else {
            return; // a duplicate, or an answer after the deadline
        };
        ctx.cancel_timer(deadline);
        match response {
            Booking::Booked => ctx.complete_ok(Value::Null),
            Booking::Compensated => ctx.complete_fail("compensated"),
        }
        self.think(ctx);
    }

    fn on_timer(&mut self, ctx: &mut ClientCtx<'_, Node, Self>, timer: TravelTimer) {
        match timer {
            TravelTimer::Think => self.next(ctx),
            TravelTimer::Deadline(seq) => {
                if self.open.take_if(|o| o.0 == seq).is_some() {
                    ctx.complete_info("timed-out");
                    self.think(ctx);
                }
            }
        }
    }
}
