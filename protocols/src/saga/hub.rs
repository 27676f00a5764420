//! Node 0: the orchestrator (orchestration) or the broker (choreography).
//!
//! Both keep a [`HubStore`]: every saga with its client and [`Phase`], the ids of the
//! events received (the idempotent consumer), and the messages out that await an answer
//! (the orchestrator's commands, the broker's deliveries), each with its attempts. A tick
//! resends what is unanswered; a forward message past `max_attempts` goes to the
//! dead-letter channel.

use super::{
    Action, Book, Booking, HUB, LAST, Msg, MsgId, Node, Outcome, STEPS, SagaId, Style,
    service_node, show_id,
};
use sim_core::{ClientId, Ctx, NodeId, RequestId, Time};
use std::collections::{BTreeMap, BTreeSet};

/// Where a saga is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for this step's `Do`.
    Forward(usize),
    /// Waiting for this step's compensation.
    Compensating(usize),
    Done,
    Compensated,
}

impl Phase {
    pub fn ended(self) -> bool {
        matches!(self, Phase::Done | Phase::Compensated)
    }
}

/// A saga as node 0 knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SagaRec {
    pub client: ClientId,
    pub request: RequestId,
    pub phase: Phase,
}

/// A message out that awaits its answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    pub to: NodeId,
    pub msg: Msg,
    /// Sends so far.
    pub attempts: u32,
    /// Answered (orchestrator: the reply came; broker: the subscriber acknowledged).
    pub answered: bool,
    /// Moved to the dead-letter channel.
    pub dead: bool,
    /// When it was last sent, on node 0's monotonic clock.
    pub sent_at: Time,
    /// Triggers a forward step (may be dead-lettered) rather than a compensation.
    pub forward: bool,
}

/// Node 0's durable state (or, with `orchestrator_in_memory`, its volatile state).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HubStore {
    pub sagas: BTreeMap<SagaId, SagaRec>,
    /// Events received (the idempotent consumer's record).
    pub received: BTreeSet<MsgId>,
    /// Messages out, by id.
    pub out: BTreeMap<MsgId, Outgoing>,
}

/// Node 0's volatile state.
#[derive(Clone, Debug)]
pub struct Hub {
    style: Style,
    /// `orchestrator_in_memory`: the store lives here and dies with the node.
    memory: Option<HubStore>,
}

impl Hub {
    pub fn start(ctx: &mut Ctx<'_, Node>) -> Hub {
        let c = ctx.config();
        let style = c.style;
        let memory =
            (style == Style::Orchestration && c.orchestrator_in_memory).then(HubStore::default);
        let hub = Hub { style, memory };
        if ctx.restarted() && hub.memory.is_none() {
            // Resume: send every unanswered message again, now.
            let now = ctx.monotonic();
            let st = &mut ctx.durable_mut().hub;
            let open = st.sagas.values().filter(|r| !r.phase.ended()).count();
            let resend: Vec<(NodeId, Msg)> = st
                .out
                .values_mut()
                .filter(|o| !o.answered && !o.dead)
                .map(|o| {
                    o.sent_at = now;
                    (o.to, o.msg.clone())
                })
                .collect();
            if open > 0 {
                ctx.reached(super::SagaReach::HubResumed);
            }
            ctx.note(format_args!(
                "resuming {open} unfinished saga(s), resending {} message(s)",
                resend.len()
            ));
            for (to, msg) in resend {
                ctx.send(to, msg);
            }
        }
        hub
    }

    /// The store as it is now: the durable one, or the one in memory.
    pub fn store<'a>(&'a self, durable: &'a HubStore) -> &'a HubStore {
        self.memory.as_ref().unwrap_or(durable)
    }

    fn take(&mut self, ctx: &mut Ctx<'_, Node>) -> HubStore {
        match &mut self.memory {
            Some(m) => std::mem::take(m),
            None => std::mem::take(&mut ctx.durable_mut().hub),
        }
    }

    fn put(&mut self, ctx: &mut Ctx<'_, Node>, st: HubStore) {
        match &mut self.memory {
            Some(m) => *m = st,
            None => ctx.durable_mut().hub = st,
        }
    }

    pub fn on_request(
        &mut self,
        ctx: &mut Ctx<'_, Node>,
        client: ClientId,
        id: RequestId,
        b: Book,
    ) {
        let mut st = self.take(ctx);
        match st.sagas.get(&b.saga) {
            Some(r) => {
                // A duplicated request: answer again if it has ended.
                if let Some(answer) = answer(r.phase) {
                    ctx.reply(r.client, r.request, answer);
                }
            }
            None => {
                st.sagas.insert(
                    b.saga,
                    SagaRec {
                        client,
                        request: id,
                        phase: Phase::Forward(0),
                    },
                );
                ctx.note(format_args!("saga s{} started", b.saga));
                let msg = match self.style {
                    Style::Orchestration => Msg::Cmd {
                        saga: b.saga,
                        step: 0,
                        action: Action::Do,
                    },
                    Style::Choreography => Msg::Event {
                        saga: b.saga,
                        step: 0,
                        outcome: Outcome::Start,
                    },
                };
                send_tracked(ctx, &mut st, service_node(0), msg, true);
            }
        }
        self.put(ctx, st);
    }

    pub fn on_message(&mut self, ctx: &mut Ctx<'_, Node>, from: NodeId, msg: Msg) {
        let mut st = self.take(ctx);
        match msg {
            Msg::EventAck { id } => {
                if let Some(o) = st.out.get_mut(&id) {
                    o.answered = true;
                }
            }
            Msg::Event {
                saga,
                step,
                outcome,
            } if from != HUB => {
                let id = msg.id();
                ctx.send(from, Msg::EventAck { id });
                if !st.received.insert(id) {
                    ctx.reached(super::SagaReach::DuplicateSuppressed);
                    ctx.note(format_args!(
                        "saga s{saga} duplicate suppressed: {} already received",
                        show_id(id)
                    ));
                } else {
                    match self.style {
                        Style::Orchestration => orchestrate(ctx, &mut st, saga, step, outcome),
                        Style::Choreography => route(ctx, &mut st, saga, step, outcome),
                    }
                }
            }
            _ => {}
        }
        self.put(ctx, st);
    }

    /// Resend what is unanswered; dead-letter forward messages past `max_attempts`.
    pub fn on_tick(&mut self, ctx: &mut Ctx<'_, Node>) {
        let mut st = self.take(ctx);
        let max = ctx.config().max_attempts;
        let once = ctx.config().compensate_once;
        let now = ctx.monotonic();
        let due = ctx.config().retry_interval;
        let mut dead = Vec::new();
        let mut resend = Vec::new();
        let open = st
            .out
            .iter_mut()
            .filter(|(_, o)| !o.answered && !o.dead && o.sent_at.plus(due) <= now);
        for (&id, o) in open {
            if o.forward && o.attempts >= max {
                o.dead = true;
                dead.push((id, o.to, o.attempts));
            } else if !o.forward && once {
                // compensate_once: never retried.
            } else {
                o.attempts += 1;
                o.sent_at = now;
                resend.push((o.to, o.msg.clone(), o.attempts));
            }
        }
        for (to, msg, attempts) in resend {
            let saga = msg.id() / 64;
            let name = ctx.name_of(to).to_string();
            ctx.note(format_args!(
                "saga s{saga} retry {msg:?} to {name} (attempt {attempts})"
            ));
            ctx.send(to, msg);
        }
        for (id, to, attempts) in dead {
            ctx.reached(super::SagaReach::DeadLetter);
            let saga = id / 64;
            let step = to.index() - 1;
            let name = ctx.name_of(to).to_string();
            ctx.note(format_args!(
                "saga s{saga} dead-letter {} to {name} after {attempts} attempts: the saga compensates",
                show_id(id)
            ));
            match self.style {
                Style::Orchestration => {
                    // The step is uncertain (its reply may be what was lost): undo it too.
                    if let Some(r) = st.sagas.get_mut(&saga) {
                        if r.phase == Phase::Forward(step) {
                            r.phase = Phase::Compensating(step);
                            let undo = Msg::Cmd {
                                saga,
                                step,
                                action: Action::Undo,
                            };
                            send_tracked(ctx, &mut st, to, undo, false);
                        }
                    }
                }
                Style::Choreography => {
                    let ev = Msg::Event {
                        saga,
                        step,
                        outcome: Outcome::DeadLettered,
                    };
                    send_tracked(ctx, &mut st, to, ev, false);
                }
            }
        }
        self.put(ctx, st);
    }
}

fn answer(phase: Phase) -> Option<Booking> {
    match phase {
        Phase::Done => Some(Booking::Booked),
        Phase::Compensated => Some(Booking::Compensated),
        _ => None,
    }
}

/// Sends `msg` and records it as awaiting an answer (unless it already is).
fn send_tracked(ctx: &mut Ctx<'_, Node>, st: &mut HubStore, to: NodeId, msg: Msg, forward: bool) {
    let id = msg.id();
    if st.out.contains_key(&id) {
        return;
    }
    let sent_at = ctx.monotonic();
    st.out.insert(
        id,
        Outgoing {
            to,
            msg: msg.clone(),
            attempts: 1,
            answered: false,
            dead: false,
            sent_at,
            forward,
        },
    );
    ctx.send(to, msg);
}

/// Ends `saga`: notes it and answers the client.
fn end(ctx: &mut Ctx<'_, Node>, st: &mut HubStore, saga: SagaId, phase: Phase, why: &str) {
    let Some(r) = st.sagas.get_mut(&saga) else {
        return;
    };
    if r.phase.ended() {
        return;
    }
    r.phase = phase;
    let (client, request) = (r.client, r.request);
    match phase {
        Phase::Done => ctx.note(format_args!("saga s{saga} done")),
        _ => ctx.note(format_args!("saga s{saga} compensated ({why})")),
    }
    if let Some(a) = answer(phase) {
        ctx.reply(client, request, a);
    }
}

/// The orchestrator's state machine: a reply moves its saga on.
fn orchestrate(
    ctx: &mut Ctx<'_, Node>,
    st: &mut HubStore,
    saga: SagaId,
    step: usize,
    outcome: Outcome,
) {
    let Some(phase) = st.sagas.get(&saga).map(|r| r.phase) else {
        return; // forgotten (orchestrator_in_memory) or never started here
    };
    let cmd = |step, action| Msg::Cmd { saga, step, action };
    let expected = match phase {
        Phase::Forward(k) => k == step && matches!(outcome, Outcome::Done | Outcome::Failed(_)),
        Phase::Compensating(k) => k == step && outcome == Outcome::Compensated,
        _ => false,
    };
    // The reply answers the command of its step, expected or late.
    let action = match outcome {
        Outcome::Compensated => Action::Undo,
        _ => Action::Do,
    };
    if let Some(o) = st.out.get_mut(&super::command_id(saga, step, action)) {
        o.answered = true;
    }
    if !expected {
        return;
    }
    let next = match outcome {
        Outcome::Done if step == LAST => None,
        Outcome::Done => Some(Phase::Forward(step + 1)),
        Outcome::Failed(_) | Outcome::Compensated if step == 0 => None,
        _ => Some(Phase::Compensating(step - 1)),
    };
    let Some(next) = next else {
        let (phase, why) = match outcome {
            Outcome::Done => (Phase::Done, String::new()),
            Outcome::Failed(r) => (Phase::Compensated, format!("{}: {r:?}", STEPS[step])),
            _ => (Phase::Compensated, "all undone".into()),
        };
        end(ctx, st, saga, phase, &why);
        return;
    };
    if let Some(r) = st.sagas.get_mut(&saga) {
        r.phase = next;
    }
    match next {
        Phase::Forward(k) => send_tracked(ctx, st, service_node(k), cmd(k, Action::Do), true),
        Phase::Compensating(k) => {
            if let Outcome::Failed(r) = outcome {
                ctx.note(format_args!(
                    "saga s{saga} compensating: {} {r:?}",
                    STEPS[step]
                ));
            }
            if ctx.config().compensate_in_parallel && matches!(outcome, Outcome::Failed(_)) {
                // The mistake: every compensation at once, the saga waits for the first step's.
                if let Some(r) = st.sagas.get_mut(&saga) {
                    r.phase = Phase::Compensating(0);
                }
                for j in (0..=k).rev() {
                    send_tracked(ctx, st, service_node(j), cmd(j, Action::Undo), false);
                }
            } else {
                send_tracked(ctx, st, service_node(k), cmd(k, Action::Undo), false);
            }
        }
        _ => {}
    }
}

/// The broker: an event goes to its subscriber, or ends the saga (the broker subscribes
/// to the last events to answer the client).
fn route(ctx: &mut Ctx<'_, Node>, st: &mut HubStore, saga: SagaId, step: usize, outcome: Outcome) {
    // A service's event answers the delivery that caused it (its acks may be lost).
    let cause = match outcome {
        Outcome::Done | Outcome::Failed(_) if step == 0 => {
            Some(super::event_id(saga, 0, Outcome::Start))
        }
        Outcome::Done | Outcome::Failed(_) => Some(super::event_id(saga, step - 1, Outcome::Done)),
        _ => None,
    };
    if let Some(o) = cause.and_then(|c| st.out.get_mut(&c)) {
        o.answered = true;
    }
    if let Some(r) = st.sagas.get_mut(&saga) {
        if !r.phase.ended() {
            r.phase = match outcome {
                Outcome::Done if step < LAST => Phase::Forward(step + 1),
                Outcome::Failed(_) | Outcome::Compensated if step > 0 => {
                    Phase::Compensating(step - 1)
                }
                _ => r.phase,
            };
        }
    }
    let ev = Msg::Event {
        saga,
        step,
        outcome,
    };
    match outcome {
        Outcome::Done if step == LAST => end(ctx, st, saga, Phase::Done, ""),
        Outcome::Done => send_tracked(ctx, st, service_node(step + 1), ev, true),
        Outcome::Failed(r) if step == 0 => end(
            ctx,
            st,
            saga,
            Phase::Compensated,
            &format!("{}: {r:?}", STEPS[0]),
        ),
        Outcome::Compensated if step == 0 => end(ctx, st, saga, Phase::Compensated, "all undone"),
        Outcome::Failed(_) | Outcome::Compensated => {
            send_tracked(ctx, st, service_node(step - 1), ev, false)
        }
        Outcome::Start | Outcome::DeadLettered => {}
    }
}
