//! The bank's clients: each submits transfers between accounts on different participants
//! to its coordinator, one at a time, and records them in the history (`transfer [from,
//! to, amount]`: ok when committed, fail when aborted, info when no answer came in time).

use super::{Node, Outcome, Transfer, TwopcConfig, TxId};
use crate::Workload;
use lincheck::Value;
use sim_core::{Client, ClientCtx, Duration, NodeId, RequestId, TimerId};

/// What a bank client needs: the workload (count, pacing, timeout) and the bank's shape.
#[derive(Clone, Debug)]
pub struct BankClientConfig {
    pub workload: Workload,
    pub config: TwopcConfig,
}

/// Timer tags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BankTimer {
    Think,
    Deadline(u64),
}

/// One client.
#[derive(Debug)]
pub struct BankClient {
    seq: u64,
    done: u32,
    open: Option<(u64, RequestId, TimerId)>,
}

impl BankClient {
    fn next(&mut self, ctx: &mut ClientCtx<'_, Node, Self>) {
        let w = &ctx.config().workload;
        if w.ops_per_client > 0 && self.done >= w.ops_per_client {
            return;
        }
        let config = ctx.config().config.clone();
        let timeout = w.timeout;
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
        self.seq += 1;
        let tx: TxId = u64::from(ctx.id().0 + 1) * 1_000_000 + self.seq;
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
        let deadline = ctx.set_timer(timeout, BankTimer::Deadline(self.seq));
        self.open = Some((self.seq, id, deadline));
    }

    fn think(&mut self, ctx: &mut ClientCtx<'_, Node, Self>) {
        self.done += 1;
        let w = &ctx.config().workload;
        let (lo, hi) = (w.think_min.as_nanos(), w.think_max.as_nanos());
        let think = Duration::from_nanos(ctx.rng().between(lo, hi));
        ctx.set_timer(think, BankTimer::Think);
    }
}

impl Client<Node> for BankClient {
    type Config = BankClientConfig;
    type Timer = BankTimer;

    fn start(ctx: &mut ClientCtx<'_, Node, Self>) -> Self {
        let start = ctx.config().workload.start;
        ctx.set_timer(start, BankTimer::Think);
        BankClient {
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
        response: Outcome,
    ) {
        let Some((_, _, deadline)) = self.open.take_if(|o| o.1 == id) else {
            return; // a duplicate, or an answer after the deadline
        };
        ctx.cancel_timer(deadline);
        match response {
            Outcome::Committed => ctx.complete_ok(Value::Null),
            Outcome::Aborted => ctx.complete_fail("aborted"),
        }
        self.think(ctx);
    }

    fn on_timer(&mut self, ctx: &mut ClientCtx<'_, Node, Self>, timer: BankTimer) {
        match timer {
            BankTimer::Think => self.next(ctx),
            BankTimer::Deadline(seq) => {
                if self.open.take_if(|o| o.0 == seq).is_some() {
                    ctx.complete_info("timed-out");
                    self.think(ctx);
                }
            }
        }
    }
}
