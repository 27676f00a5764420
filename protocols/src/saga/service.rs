//! A service (`flight`, `hotel`, `car`, `payment`): its stock, its local transactions, its
//! outbox and relay, and its idempotent consumer.
//!
//! Every input is handled as one local transaction on the durable [`ServiceStore`]: the
//! stock and reservations change, the message id is recorded as processed, and the
//! outgoing event joins the outbox, all in one handler (the durable store is written
//! atomically with it). The relay then sends the entry and resends it on every tick until
//! node 0 acknowledges it.

use super::{Action, HUB, MsgId, Node, Outcome, Reason, SagaId, Style, event_id, show_id};
use super::{Msg, command_id};
use sim_core::{Ctx, NodeId, Time};
use std::collections::{BTreeMap, BTreeSet};

/// An outbox entry: the event, and whether node 0 acknowledged it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxEntry {
    pub event: Msg,
    pub acked: bool,
    /// When the relay last sent it, on the service's monotonic clock.
    pub sent_at: Time,
}

/// A service's durable state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceStore {
    /// Set on first start from the config.
    pub initialized: bool,
    /// Stock left.
    pub left: u32,
    /// Sagas holding a reservation here, one entry per reservation (a saga twice is a
    /// double booking).
    pub held: Vec<SagaId>,
    /// Compensations applied per saga.
    pub undone: BTreeMap<SagaId, u32>,
    /// Sagas whose `Do` here was processed (booked or failed).
    pub decided: BTreeSet<SagaId>,
    /// Sagas cancelled before their `Do` came (an `Undo` or a dead letter first).
    pub cancelled: BTreeSet<SagaId>,
    /// Message ids processed (the idempotent consumer's record).
    pub processed: BTreeSet<MsgId>,
    /// Outgoing events, with the transaction that made them.
    pub outbox: Vec<OutboxEntry>,
    /// The id of every event a committed transaction produced (outbox or not): what
    /// `no-lost-message` holds node 0 to.
    pub committed: Vec<MsgId>,
}

/// A service node's volatile state.
#[derive(Clone, Debug)]
pub struct Service {
    pub step: usize,
    /// `publish_without_outbox`: events committed but not yet published, in memory.
    pending: Vec<Msg>,
}

impl Service {
    pub fn start(ctx: &mut Ctx<'_, Node>) -> Service {
        let step = ctx.id().index() - 1;
        let stock = ctx.config().stock.of(step);
        let st = &mut ctx.durable_mut().service;
        if !st.initialized {
            st.initialized = true;
            st.left = stock;
        }
        if ctx.restarted() {
            // The relay picks the outbox up again on its first tick.
            let unsent = ctx
                .durable()
                .service
                .outbox
                .iter()
                .filter(|e| !e.acked)
                .count();
            if unsent > 0 {
                ctx.reached(super::SagaReach::RelayResumed);
                ctx.note(format_args!(
                    "relay resumes with {unsent} unacknowledged outbox entries"
                ));
            }
        }
        Service {
            step,
            pending: Vec::new(),
        }
    }

    pub fn on_message(&mut self, ctx: &mut Ctx<'_, Node>, from: NodeId, msg: Msg) {
        if from != HUB {
            return;
        }
        let style = ctx.config().style;
        match msg {
            Msg::EventAck { id } => {
                let st = &mut ctx.durable_mut().service;
                for e in st.outbox.iter_mut().filter(|e| e.event.id() == id) {
                    e.acked = true;
                }
            }
            Msg::Cmd { saga, step, action } if step == self.step => {
                let id = command_id(saga, step, action);
                self.handle(ctx, id, saga, action, false);
            }
            Msg::Event {
                saga,
                step,
                outcome,
            } if style == Style::Choreography => {
                let id = event_id(saga, step, outcome);
                // A delivery is acknowledged whatever it leads to: the broker may stop
                // redelivering once the effect (or the decision to ignore it) is durable.
                let Some((action, dead)) = self.subscription(step, outcome) else {
                    return;
                };
                self.handle(ctx, id, saga, action, dead);
                ctx.send(HUB, Msg::EventAck { id });
            }
            _ => {}
        }
    }

    /// What this service does on an event of `step`: `Do` on the previous step's
    /// booking (or the trip's start), `Undo` on the next step's failure or compensation,
    /// and on a dead letter about its own step. `true` marks a dead letter.
    fn subscription(&self, step: usize, outcome: Outcome) -> Option<(Action, bool)> {
        let me = self.step;
        match outcome {
            Outcome::Start if me == 0 => Some((Action::Do, false)),
            Outcome::Done if step + 1 == me => Some((Action::Do, false)),
            Outcome::Failed(_) | Outcome::Compensated if step == me + 1 => {
                Some((Action::Undo, false))
            }
            Outcome::DeadLettered if step == me => Some((Action::Undo, true)),
            _ => None,
        }
    }

    /// One local transaction: the effect of message `id`, its record, its event.
    fn handle(
        &mut self,
        ctx: &mut Ctx<'_, Node>,
        id: MsgId,
        saga: SagaId,
        action: Action,
        dead_letter: bool,
    ) {
        let step = self.step;
        let non_idempotent = ctx.config().non_idempotent_handler;
        if !non_idempotent && ctx.durable().service.processed.contains(&id) {
            ctx.reached(super::SagaReach::DuplicateSuppressed);
            ctx.note(format_args!(
                "saga s{saga} duplicate suppressed: {} already processed",
                show_id(id)
            ));
            return;
        }
        let fail = ctx.config().failure_probability;
        let declined = action == Action::Do && ctx.rng().chance(fail);
        let without_outbox = ctx.config().publish_without_outbox;
        let now = ctx.monotonic();
        let st = &mut ctx.durable_mut().service;
        st.processed.insert(id);
        let outcome = match action {
            Action::Do if st.cancelled.contains(&saga) => {
                st.decided.insert(saga);
                Outcome::Failed(Reason::Cancelled)
            }
            Action::Do if st.left == 0 => {
                st.decided.insert(saga);
                Outcome::Failed(Reason::SoldOut)
            }
            Action::Do if declined => {
                st.decided.insert(saga);
                Outcome::Failed(Reason::Declined)
            }
            Action::Do => {
                st.decided.insert(saga);
                st.left -= 1;
                st.held.push(saga);
                Outcome::Done
            }
            // A dead letter about a `Do` this service did process changes nothing: only
            // the acknowledgements were lost, and its event is in the outbox.
            Action::Undo if dead_letter && st.decided.contains(&saga) => return,
            Action::Undo if dead_letter => {
                st.cancelled.insert(saga);
                Outcome::Failed(Reason::Cancelled)
            }
            Action::Undo => {
                if let Some(pos) = st.held.iter().position(|&s| s == saga) {
                    st.held.remove(pos);
                    st.left += 1;
                    *st.undone.entry(saga).or_insert(0) += 1;
                } else {
                    st.cancelled.insert(saga);
                }
                Outcome::Compensated
            }
        };
        match (action, outcome) {
            (Action::Undo, _) => ctx.reached(super::SagaReach::CompensationRan),
            (Action::Do, Outcome::Failed(_)) => ctx.reached(super::SagaReach::StepFailed),
            _ => {}
        }
        let st = &mut ctx.durable_mut().service;
        let event = Msg::Event {
            saga,
            step,
            outcome,
        };
        st.committed.push(event.id());
        if without_outbox {
            self.pending.push(event);
        } else {
            st.outbox.push(OutboxEntry {
                event: event.clone(),
                acked: false,
                sent_at: now,
            });
            ctx.send(HUB, event);
        }
        let left = ctx.durable().service.left;
        let what = match action {
            Action::Do => "book",
            Action::Undo => "compensate",
        };
        ctx.note(format_args!("{what} s{saga}: {outcome:?} (left {left})"));
    }

    /// The relay: resend every unacknowledged outbox entry (or, without an outbox,
    /// publish what is in memory, once).
    pub fn on_tick(&mut self, ctx: &mut Ctx<'_, Node>) {
        for event in std::mem::take(&mut self.pending) {
            ctx.send(HUB, event);
        }
        let now = ctx.monotonic();
        let due = ctx.config().retry_interval;
        let mut unsent = Vec::new();
        for e in ctx.durable_mut().service.outbox.iter_mut() {
            if !e.acked && e.sent_at.plus(due) <= now {
                e.sent_at = now;
                unsent.push(e.event.clone());
            }
        }
        for event in unsent {
            ctx.send(HUB, event);
        }
    }
}
