//! The bank's clients: each submits transfers between accounts on different participants
//! to its coordinator, one at a time, and records them in the history (`transfer [from,
//! to, amount]`: ok when committed, fail when aborted, info when no answer came in time).

use super::{Node, Outcome, Transfer, TwopcConfig, TxId};
use crate::Workload;
use crate::serial::{PaceTimer, Paced, Serial};
use lincheck::Value;
use sim_core::{Client, ClientCtx, NodeId, RequestId};

/// What a bank client needs: the workload (count, pacing, timeout) and the bank's shape.
#[derive(Clone, Debug)]
pub struct BankClientConfig {
    pub workload: Workload,
    pub config: TwopcConfig,
}

/// Timer tags.
pub type BankTimer = PaceTimer;

impl Paced for BankClientConfig {
    fn workload(&self) -> &Workload {
        &self.workload
    }
}

/// One client.
#[derive(Debug)]
pub struct BankClient {
    serial: Serial,
}

impl BankClient {
    fn next(&mut self, ctx: &mut ClientCtx<'_, Node, Self>) {
        if !self.serial.wants_more(&ctx.config().workload) {
            return;
        }
        let config = ctx.config().config.clone();
        let accounts = config.account_count(ctx.node_count());
        let coordinator = NodeId(ctx.id().0 % config.coordinators);
        if accounts < 2 * config.accounts_per_participant {
            return; // fewer than two participants: the checks say so
        }
        // Two accounts on different participants.
        let from = 1 + ctx.rng().below(u64::from(accounts)) as u32;
        let mut to = 1 + ctx.rng().below(u64::from(accounts - 1)) as u32;
        if to >= from {
            to += 1;
        }
        while config.owner(to) == config.owner(from) {
            to = to % accounts + 1;
        }
        let amount = 1 + ctx.rng().below(config.max_amount as u64) as i64;
        let seq = self.serial.begin();
        let tx: TxId = u64::from(ctx.id().0 + 1) * 1_000_000 + seq;
        ctx.invoke(
            "transfer",
            Some(Value::Str(format!("t{tx}"))),
            Value::List(vec![
                Value::Int(i64::from(from)),
                Value::Int(i64::from(to)),
                Value::Int(amount),
            ]),
        );
        let id = ctx.send_request(
            coordinator,
            Transfer {
                tx,
                from,
                to,
                amount,
            },
        );
        self.serial.sent(ctx, id);
    }
}

impl Client<Node> for BankClient {
    type Config = BankClientConfig;
    type Timer = BankTimer;

    fn start(ctx: &mut ClientCtx<'_, Node, Self>) -> Self {
        BankClient {
            serial: Serial::start(ctx),
        }
    }

    fn on_response(
        &mut self,
        ctx: &mut ClientCtx<'_, Node, Self>,
        _from: NodeId,
        id: RequestId,
        response: Outcome,
    ) {
        if !self.serial.answered(ctx, id) {
            return; // a duplicate, or an answer after the deadline
        }
        match response {
            Outcome::Committed => ctx.complete_ok(Value::Null),
            Outcome::Aborted => ctx.complete_fail("aborted"),
        }
        self.serial.think(ctx);
    }

    fn on_timer(&mut self, ctx: &mut ClientCtx<'_, Node, Self>, timer: BankTimer) {
        if self.serial.on_timer(ctx, timer) {
            self.next(ctx);
        }
    }
}
