//! Travellers: each books trips one at a time at node 0, each with a fresh correlation id,
//! and records them in the history (`book s1000003`: ok when booked, fail when
//! compensated, info when no answer came in time). No saga starts after `clients_stop`.

use super::{Book, Booking, HUB, Node, SagaConfig, SagaId};
use crate::Workload;
use crate::serial::{PaceTimer, Paced, Serial};
use lincheck::Value;
use sim_core::{Client, ClientCtx, NodeId, RequestId, Time};

/// What a traveller needs: the workload (count, pacing, timeout) and the saga config.
#[derive(Clone, Debug)]
pub struct TravellerConfig {
    pub workload: Workload,
    pub config: SagaConfig,
}

/// Timer tags.
pub type TravelTimer = PaceTimer;

impl Paced for TravellerConfig {
    fn workload(&self) -> &Workload {
        &self.workload
    }
}

/// One traveller.
#[derive(Debug)]
pub struct Traveller {
    serial: Serial,
}

impl Traveller {
    fn next(&mut self, ctx: &mut ClientCtx<'_, Node, Self>) {
        if !self.serial.wants_more(&ctx.config().workload) {
            return;
        }
        if ctx.now() > Time::ZERO.plus(ctx.config().config.clients_stop) {
            return;
        }
        let seq = self.serial.begin();
        let saga: SagaId = u64::from(ctx.id().0 + 1) * 1_000_000 + seq;
        ctx.invoke("book", Some(Value::Str(format!("s{saga}"))), Value::Null);
        let id = ctx.send_request(HUB, Book { saga });
        self.serial.sent(ctx, id);
    }
}

impl Client<Node> for Traveller {
    type Config = TravellerConfig;
    type Timer = TravelTimer;

    fn start(ctx: &mut ClientCtx<'_, Node, Self>) -> Self {
        Traveller {
            serial: Serial::start(ctx),
        }
    }

    fn on_response(
        &mut self,
        ctx: &mut ClientCtx<'_, Node, Self>,
        _from: NodeId,
        id: RequestId,
        response: Booking,
    ) {
        if !self.serial.answered(ctx, id) {
            return; // a duplicate, or an answer after the deadline
        }
        match response {
            Booking::Booked => ctx.complete_ok(Value::Null),
            Booking::Compensated => ctx.complete_fail("compensated"),
        }
        self.serial.think(ctx);
    }

    fn on_timer(&mut self, ctx: &mut ClientCtx<'_, Node, Self>, timer: TravelTimer) {
        if self.serial.on_timer(ctx, timer) {
            self.next(ctx);
        }
    }
}
