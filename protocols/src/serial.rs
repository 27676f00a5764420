//! The request and retry bookkeeping of a client that runs one operation at a time, waits
//! for its answer until a deadline, and thinks between operations: shared by the 2PC bank
//! clients and the saga travellers, which differ only in what they ask and what an answer
//! means.
//!
//! A client keeps a [`Serial`], uses [`PaceTimer`] as its timer tags and lets its config
//! name its [`Workload`] ([`Paced`]). Each step draws from the client's RNG and sets its
//! timers in the same order as the code it replaced, so traces stay the same.

use crate::Workload;
use sim_core::{Client, ClientCtx, Duration, Process, RequestId, TimerId};

/// Timer tags of a serial client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaceTimer {
    /// Thinking is over: start the next operation.
    Think,
    /// The operation with this sequence number has had no answer in time.
    Deadline(u64),
}

/// A client config that carries the scenario's workload.
pub trait Paced {
    fn workload(&self) -> &Workload;
}

/// One operation at a time: its sequence number, how many are done, and the open one
/// (sequence number, request, deadline timer).
#[derive(Debug, Default)]
pub struct Serial {
    seq: u64,
    done: u32,
    open: Option<(u64, RequestId, TimerId)>,
}

impl Serial {
    /// A client's start: the first operation begins at the workload's `start`.
    pub fn start<P, C>(ctx: &mut ClientCtx<'_, P, C>) -> Serial
    where
        P: Process,
        C: Client<P, Timer = PaceTimer, Config: Paced>,
    {
        let start = ctx.config().workload().start;
        ctx.set_timer(start, PaceTimer::Think);
        Serial::default()
    }

    /// Whether the workload lets this client begin another operation.
    pub fn wants_more(&self, w: &Workload) -> bool {
        w.ops_per_client == 0 || self.done < w.ops_per_client
    }

    /// The sequence number of the operation about to begin (1, 2, ...).
    pub fn begin(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Request `id` of the operation just begun is sent: its deadline starts now.
    pub fn sent<P, C>(&mut self, ctx: &mut ClientCtx<'_, P, C>, id: RequestId)
    where
        P: Process,
        C: Client<P, Timer = PaceTimer, Config: Paced>,
    {
        let timeout = ctx.config().workload().timeout;
        let deadline = ctx.set_timer(timeout, PaceTimer::Deadline(self.seq));
        self.open = Some((self.seq, id, deadline));
    }

    /// An answer to request `id` came: true if it answers the open operation (whose
    /// deadline is then cancelled); false for a duplicate or an answer after the deadline.
    /// After true, the client completes the operation and calls [`Serial::think`].
    pub fn answered<P, C>(&mut self, ctx: &mut ClientCtx<'_, P, C>, id: RequestId) -> bool
    where
        P: Process,
        C: Client<P>,
    {
        let Some((_, _, deadline)) = self.open.take_if(|o| o.1 == id) else {
            return false;
        };
        ctx.cancel_timer(deadline);
        true
    }

    /// The open operation is over: think for a while before the next.
    pub fn think<P, C>(&mut self, ctx: &mut ClientCtx<'_, P, C>)
    where
        P: Process,
        C: Client<P, Timer = PaceTimer, Config: Paced>,
    {
        self.done += 1;
        let w = ctx.config().workload();
        let (lo, hi) = (w.think_min.as_nanos(), w.think_max.as_nanos());
        let think = Duration::from_nanos(ctx.rng().between(lo, hi));
        ctx.set_timer(think, PaceTimer::Think);
    }

    /// A timer fired: true if it is time to begin the next operation. A deadline of the
    /// open operation completes it as unknown (`info`, "timed-out") and starts thinking;
    /// a stale deadline does nothing.
    pub fn on_timer<P, C>(&mut self, ctx: &mut ClientCtx<'_, P, C>, timer: PaceTimer) -> bool
    where
        P: Process,
        C: Client<P, Timer = PaceTimer, Config: Paced>,
    {
        match timer {
            PaceTimer::Think => true,
            PaceTimer::Deadline(seq) => {
                if self.open.take_if(|o| o.0 == seq).is_some() {
                    ctx.complete_info("timed-out");
                    self.think(ctx);
                }
                false
            }
        }
    }
}
