//! # Sagas: trip booking over four services, orchestrated or choreographed
//!
//! Follows Hector Garcia-Molina and Kenneth Salem, "Sagas" (SIGMOD 1987), and Chris
//! Richardson, *Microservices Patterns* (2018), chapter 4 ("Managing transactions with
//! sagas") and chapter 3's transactional outbox and idempotent consumer.
//!
//! A trip is booked at four services, each a node with its own local state: `flight`
//! (seats), `hotel` (rooms), `car` (cars) and `payment` (the traveller's credit). No
//! transaction spans them. A **saga** is a sequence of local transactions T1..T4, one per
//! service, with compensations C1..C3 that semantically undo T1..T3 (payment is the last
//! step, so it needs none). Garcia-Molina and Salem's guarantee is *semantic atomicity*:
//! either T1..Tn all run, or T1..Tj run followed by Cj..C1, in that reverse order. A step
//! fails for a business reason (sold out when the service's stock is gone, or declined
//! with the configured `failure_probability`, drawn from the service's own random stream),
//! and then the saga compensates what it did. Clients start sagas with a **correlation
//! id** (`s1000003`) that every message of the saga carries, so replies find their saga.
//!
//! **Orchestration** (`style: Orchestration`, Richardson §4.2.2). Node 0 is an
//! *orchestrator*: it runs every saga as a state machine (`Forward(step)`,
//! `Compensating(step)`, `Done`, `Compensated`), sends each service its command (`Do` or
//! `Undo`) and moves on when the reply comes back. Its state is **persisted on every
//! transition** (the durable store, written with the transition in one handler), so a
//! restarted orchestrator resumes every unfinished saga where it was and sends its
//! current command again. A command without a reply is **retried** every
//! `retry_interval`.
//!
//! **Choreography** (`style: Choreography`, Richardson §4.2.1). Node 0 is a *broker*:
//! publish/subscribe with at-least-once delivery. No node runs the saga: each service
//! subscribes to the events that concern it (`flight` to the trip's start and to
//! `hotel`'s failure or compensation; `hotel` to `flight`'s booking and `car`'s failure
//! or compensation ...) and reacts with its own local transaction and its own event. The
//! broker stores each published event durably, acknowledges it, and delivers it to its
//! subscriber, **redelivering** every `retry_interval` until the subscriber acknowledges.
//! The broker itself subscribes to the saga's last events to answer the client.
//!
//! **Transactional outbox** (Richardson §3.3.7). A service must not change its state and
//! then send its event as two separate acts: a crash between them, or a loss of the one
//! send, leaves a booking that nobody hears about. So a service writes the state change,
//! the id of the message it processed and the outgoing event into its durable store in
//! **one local transaction**, and a *relay* sends the outbox's entries, resending every
//! `retry_interval` until the receiver acknowledges (then the entry is marked sent).
//! The local transaction is a handler's write to the node's durable store
//! ([`sim_core::Ctx::durable_mut`]), which is atomic with the handler: all of it
//! survives a crash or none of it was made. (The write-ahead log of `sim_core::storage`
//! would give the same atomicity with a sync latency; 2PC uses it, where the latency and
//! a crash's lost tail are the point.)
//!
//! **Idempotent consumer** (Richardson §3.3.6). At-least-once delivery means duplicates:
//! the network duplicates, the orchestrator retries, the broker redelivers, the relay
//! resends. Every consumer (service, orchestrator, broker) records the ids of the messages
//! it has processed, in the same local transaction as their effect, and ignores a repeat
//! (the trace notes `duplicate suppressed`). A message id is derived from the correlation
//! id, the step and the kind, so a retry carries the same id as the original.
//!
//! **Dead-letter channel** (Hohpe and Woolf, *Enterprise Integration Patterns*). A
//! forward command or event that is not answered after `max_attempts` sends goes to the
//! dead-letter channel (the trace notes `dead-letter ...`) and the saga compensates: the
//! orchestrator undoes the uncertain step too (its service may have booked and lost the
//! reply); under choreography the broker delivers a `DeadLettered` event to the
//! subscriber, which, if it never processed the original, cancels its step and publishes
//! a failure, and otherwise ignores it (it did process it: only the acks were lost).
//! Compensations are never dead-lettered: a compensation must be retried until it
//! succeeds (the paper assumes a compensating transaction always succeeds in the end;
//! over a lossy network that means retrying it). A service that
//! receives an `Undo` before the `Do` it undoes keeps a *cancelled* mark, so the late
//! `Do` fails instead of booking.
//!
//! Roles: [`service`] (the four services, their outbox and relay), [`hub`] (node 0: the
//! orchestrator or the broker), [`client`] (travellers), [`invariants`] (the checks).
//! The run's summary (sagas done / compensated / stuck, retries, duplicates suppressed,
//! dead letters) is read from the trace's notes by [`summary`].
//!
//! ## Bug knobs
//!
//! Each is a field of [`SagaConfig`], off by default; [`KNOBS`] says what each breaks:
//!
//! - `non_idempotent_handler`: services do not check processed message ids, so a
//!   duplicated or retried `Do` books a second seat for the same saga:
//!   `no-double-booking` (both styles).
//! - `publish_without_outbox`: a service commits its state change, keeps the event in
//!   memory and publishes it once on the relay's next tick. A crash before the tick, or
//!   the loss of that one send, loses the event; the saga hangs (choreography) or
//!   dead-letters a step that was done (orchestration): `no-lost-message` (both styles).
//! - `compensate_once`: compensations are sent once and never retried, so a lost `Undo`
//!   leaves a booking behind: `semantic-atomicity` (both styles).
//! - `orchestrator_in_memory`: the orchestrator keeps its sagas in memory only, so after
//!   its crash every unfinished saga is forgotten with its bookings: `semantic-atomicity`
//!   (orchestration).
//! - `compensate_in_parallel`: the orchestrator sends every compensation at once instead
//!   of one after the other, so `flight` may be undone while `car` still holds:
//!   `compensation-order` (orchestration).

pub mod client;
pub mod hub;
pub mod invariants;
pub mod service;

use crate::{CheckInfo, CheckKind, Knob, Protocol, Workload};
use serde::{Deserialize, Serialize};
use sim_core::{Checker, ClientId, Ctx, Duration, NodeId, Probability, Process, RequestId};
use std::fmt;

pub use client::{Traveller, TravellerConfig};
pub use hub::{Hub, HubStore, Phase};
pub use service::{Service, ServiceStore};

/// A saga's correlation id: `client * 1_000_000 + seq`, chosen by the client.
pub type SagaId = u64;
/// A message id: `saga * 64 + step * 8 + kind` (see [`msg_id`]), so a retry or a
/// redelivery carries the id of the original.
pub type MsgId = u64;

/// The services, in saga order; service `k` is node `k + 1`.
pub const STEPS: [&str; 4] = ["flight", "hotel", "car", "payment"];
/// The last step (it has no compensation).
pub const LAST: usize = STEPS.len() - 1;

/// How the saga is coordinated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Style {
    Orchestration,
    Choreography,
}

/// What each service has to sell at the start (one unit per trip):
/// `stock: (flight: 100, hotel: 100, car: 3, payment: 100)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Stock {
    pub flight: u32,
    pub hotel: u32,
    pub car: u32,
    pub payment: u32,
}

impl Default for Stock {
    fn default() -> Self {
        Stock {
            flight: 1000,
            hotel: 1000,
            car: 1000,
            payment: 1000,
        }
    }
}

impl Stock {
    /// The stock of service `step`.
    pub fn of(&self, step: usize) -> u32 {
        [self.flight, self.hotel, self.car, self.payment][step.min(LAST)]
    }
}

crate::documented! {
    /// The saga's configuration: the style, the stock, the timing, and the bug knobs.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields, default)]
    pub struct SagaConfig {
        /// `Orchestration` (an orchestrator node sends the commands) or `Choreography` (a
        /// broker relays the services' events).
        pub style: Style,
        /// Stock of each service at the start: seats, rooms, cars, credit (one unit a trip).
        pub stock: Stock,
        /// The chance that a step fails for a business reason (declined), drawn from the
        /// service's random stream.
        pub failure_probability: Probability,
        /// How often relays resend unacknowledged outbox entries, the orchestrator retries
        /// unanswered commands and the broker redelivers unacknowledged events.
        pub retry_interval: Duration,
        /// A forward command or event sent this many times without an answer goes to the
        /// dead-letter channel and the saga compensates.
        pub max_attempts: u32,
        /// Clients start no saga after this (virtual) time, so the Eventually checks judge
        /// sagas that had time to end.
        pub clients_stop: Duration,
        // ----- bug knobs --------------------------------------------------------------
        /// Services do not check processed message ids.
        pub non_idempotent_handler: bool,
        /// Services commit, then publish once from memory (no outbox).
        pub publish_without_outbox: bool,
        /// Compensations are sent once and never retried.
        pub compensate_once: bool,
        /// The orchestrator keeps its sagas in memory only.
        pub orchestrator_in_memory: bool,
        /// The orchestrator sends every compensation at once.
        pub compensate_in_parallel: bool,
    }
}

impl Default for SagaConfig {
    fn default() -> Self {
        SagaConfig {
            style: Style::Orchestration,
            stock: Stock::default(),
            failure_probability: Probability::new(0.1).expect("a probability"),
            retry_interval: Duration::from_millis(50),
            max_attempts: 8,
            clients_stop: Duration::from_secs(2),
            non_idempotent_handler: false,
            publish_without_outbox: false,
            compensate_once: false,
            orchestrator_in_memory: false,
            compensate_in_parallel: false,
        }
    }
}

impl SagaConfig {
    /// Checks the bounds, saying what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.retry_interval.is_zero() {
            return Err(
                "saga retry_interval is 0s: expected a positive duration such as \"50ms\"".into(),
            );
        }
        if self.max_attempts == 0 {
            return Err("saga max_attempts is 0: expected at least 1".into());
        }
        Ok(())
    }

    /// Checks that the cluster is node 0 plus the four services.
    pub fn validate_cluster(&self, nodes: usize) -> Result<(), String> {
        if nodes != 1 + STEPS.len() {
            return Err(format!(
                "saga needs exactly 5 nodes (the {} first, then {}), the cluster has {nodes}",
                match self.style {
                    Style::Orchestration => "orchestrator",
                    Style::Choreography => "broker",
                },
                STEPS.join(", ")
            ));
        }
        Ok(())
    }
}

/// The node of service `step`.
pub fn service_node(step: usize) -> NodeId {
    NodeId(step as u32 + 1)
}

/// Node 0: the orchestrator or the broker.
pub const HUB: NodeId = NodeId(0);

/// Why a step failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    /// No stock left.
    SoldOut,
    /// A business refusal drawn from the service's RNG.
    Declined,
    /// An `Undo` (or a dead letter) came first: the step is cancelled.
    Cancelled,
}

/// What happened at a step: the content of an event (choreography) or a reply
/// (orchestration).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// The trip was asked for (published by the broker for `flight`).
    Start,
    Done,
    Failed(Reason),
    Compensated,
    /// The broker dead-lettered the event that would have started this step.
    DeadLettered,
}

/// A command of the orchestrator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    Do,
    Undo,
}

/// The id of a message about `saga`'s `step`: kinds 0..=4 are outcomes, 5 and 6 commands.
pub fn msg_id(saga: SagaId, step: usize, kind: u64) -> MsgId {
    saga * 64 + step as u64 * 8 + kind
}

/// The id of an event.
pub fn event_id(saga: SagaId, step: usize, outcome: Outcome) -> MsgId {
    let kind = match outcome {
        Outcome::Start => 0,
        Outcome::Done => 1,
        Outcome::Failed(_) => 2,
        Outcome::Compensated => 3,
        Outcome::DeadLettered => 4,
    };
    msg_id(saga, step, kind)
}

/// The id of a command.
pub fn command_id(saga: SagaId, step: usize, action: Action) -> MsgId {
    msg_id(
        saga,
        step,
        match action {
            Action::Do => 5,
            Action::Undo => 6,
        },
    )
}

/// Messages between nodes.
#[derive(Clone, PartialEq, Eq)]
pub enum Msg {
    /// Orchestrator -> service.
    Cmd {
        saga: SagaId,
        step: usize,
        action: Action,
    },
    /// Service -> hub (a reply or a publish), and broker -> subscriber (a delivery).
    Event {
        saga: SagaId,
        step: usize,
        outcome: Outcome,
    },
    /// The receiver of an `Event` has it (durably).
    EventAck { id: MsgId },
}

impl Msg {
    pub fn id(&self) -> MsgId {
        match *self {
            Msg::Cmd { saga, step, action } => command_id(saga, step, action),
            Msg::Event {
                saga,
                step,
                outcome,
            } => event_id(saga, step, outcome),
            Msg::EventAck { id } => id,
        }
    }
}

impl fmt::Debug for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Msg::Cmd { saga, step, action } => write!(f, "{action:?} s{saga} {}", STEPS[*step]),
            Msg::Event {
                saga,
                step,
                outcome,
            } => write!(f, "Event s{saga} {} {outcome:?}", STEPS[*step]),
            Msg::EventAck { id } => write!(f, "Ack {}", show_id(*id)),
        }
    }
}

/// A message id as the trace shows it: `s1000003/hotel/Done`.
pub fn show_id(id: MsgId) -> String {
    let saga = id / 64;
    let step = ((id % 64) / 8) as usize;
    let kind = [
        "Start",
        "Done",
        "Failed",
        "Compensated",
        "DeadLettered",
        "Do",
        "Undo",
        "?",
    ][(id % 8) as usize];
    format!("s{saga}/{}/{kind}", STEPS.get(step).unwrap_or(&"?"))
}

/// Timer tags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// Relays resend, the orchestrator retries, the broker redelivers.
    Tick,
}

/// What a client asks: book the trip with this correlation id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Book {
    pub saga: SagaId,
}

/// What node 0 answers when the saga has ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Booking {
    Booked,
    Compensated,
}

/// What survives a crash: each role uses its part. Writes are atomic with the handler
/// that makes them: a handler's writes are one local transaction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Store {
    pub service: ServiceStore,
    pub hub: HubStore,
}

/// A saga node.
#[derive(Clone, Debug)]
pub enum Node {
    Hub(Hub),
    Service(Service),
}

impl Process for Node {
    type Config = SagaConfig;
    type Msg = Msg;
    type Timer = Timer;
    type Durable = Store;
    type Request = Book;
    type Response = Booking;

    /// The orchestrator.
    fn leads(&self) -> bool {
        matches!(self, Node::Hub(_))
    }

    fn start(ctx: &mut Ctx<'_, Self>) -> Self {
        ctx.set_timer(ctx.config().retry_interval, Timer::Tick);
        if ctx.id() == HUB {
            Node::Hub(Hub::start(ctx))
        } else {
            Node::Service(Service::start(ctx))
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Msg) {
        match self {
            Node::Hub(h) => h.on_message(ctx, from, msg),
            Node::Service(s) => s.on_message(ctx, from, msg),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: Timer) {
        match timer {
            Timer::Tick => {
                ctx.set_timer(ctx.config().retry_interval, Timer::Tick);
                match self {
                    Node::Hub(h) => h.on_tick(ctx),
                    Node::Service(s) => s.on_tick(ctx),
                }
            }
        }
    }

    fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, client: ClientId, id: RequestId, b: Book) {
        if let Node::Hub(h) = self {
            h.on_request(ctx, client, id, b);
        }
    }
}

/// A run's summary, read from the trace's notes (and the run's send count).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub started: u64,
    pub done: u64,
    pub compensated: u64,
    pub retries: u64,
    pub duplicates: u64,
    pub dead_letters: u64,
    /// Messages sent in the run (by nodes and clients).
    pub sends: u64,
    /// Sum of the ended sagas' times from start to end, at node 0.
    pub latency_total: Duration,
}

impl Summary {
    /// Sagas started and not ended.
    pub fn stuck(&self) -> u64 {
        self.started.saturating_sub(self.done + self.compensated)
    }

    /// Messages per started saga.
    pub fn messages_per_saga(&self) -> f64 {
        self.sends as f64 / self.started.max(1) as f64
    }

    /// Mean time from start to end of the sagas that ended.
    pub fn mean_latency(&self) -> Duration {
        let ended = (self.done + self.compensated).max(1);
        Duration::from_nanos(self.latency_total.as_nanos() / ended)
    }
}

impl Summary {
    /// The summary's line without its `sagas: ` label (the run's finding).
    pub fn line(&self) -> String {
        let ms = self.mean_latency().as_nanos() / 1_000_000;
        format!(
            "{} done, {} compensated, {} stuck; retries {}, duplicates suppressed {}, dead letters {}; {:.1} messages per saga, mean completion {ms}ms",
            self.done,
            self.compensated,
            self.stuck(),
            self.retries,
            self.duplicates,
            self.dead_letters,
            self.messages_per_saga()
        )
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sagas: {}", self.line())
    }
}

/// The summary of a run whose trace has notes (`sends` from the run's stats); `None`
/// when the trace has no saga notes (another protocol, or no notes recorded).
pub fn summary(trace: &sim_core::Trace, sends: u64) -> Option<Summary> {
    let mut s = Summary {
        sends,
        ..Summary::default()
    };
    let mut started: std::collections::BTreeMap<String, sim_core::Time> = Default::default();
    let mut any = false;
    for e in &trace.events {
        if let sim_core::TraceKind::Note { text, .. } = &e.kind {
            let Some(rest) = text.strip_prefix("saga ") else {
                continue;
            };
            any = true;
            let mut words = rest.split_whitespace();
            let saga = words.next().unwrap_or("").to_string();
            match words.next().unwrap_or("") {
                "started" => {
                    s.started += 1;
                    started.insert(saga, e.time);
                }
                w @ ("done" | "compensated") => {
                    if w == "done" {
                        s.done += 1;
                    } else {
                        s.compensated += 1;
                    }
                    if let Some(t) = started.get(&saga) {
                        s.latency_total = s.latency_total.saturating_add(e.time.since(*t));
                    }
                }
                "retry" => s.retries += 1,
                "duplicate" => s.duplicates += 1,
                "dead-letter" => s.dead_letters += 1,
                _ => {}
            }
        }
    }
    any.then_some(s)
}

/// Sagas as a scenario protocol.
pub struct SagaProtocol;

/// The bug knobs.
pub const KNOBS: &[Knob] = &[
    Knob {
        name: "non_idempotent_handler",
        mistake: "services do not record processed message ids, so a duplicated or retried command books a second seat for the same saga",
        caught_by: "no-double-booking",
    },
    Knob {
        name: "publish_without_outbox",
        mistake: "a service commits its booking and publishes the event once from memory: a crash or one lost send loses it",
        caught_by: "no-lost-message",
    },
    Knob {
        name: "compensate_once",
        mistake: "compensations are sent once and never retried, so a lost Undo leaves a booking behind",
        caught_by: "semantic-atomicity",
    },
    Knob {
        name: "orchestrator_in_memory",
        mistake: "the orchestrator keeps saga state in memory only: after its crash the unfinished sagas are forgotten with their bookings",
        caught_by: "semantic-atomicity",
    },
    Knob {
        name: "compensate_in_parallel",
        mistake: "the orchestrator sends every compensation at once, so an earlier step may be undone while a later one still holds",
        caught_by: "compensation-order",
    },
];

/// The checks.
pub const CHECKS: &[CheckInfo] = &[
    CheckInfo {
        name: "no-double-booking",
        kind: CheckKind::Always,
        promise: "no service holds two reservations for one saga, however often messages are duplicated",
    },
    CheckInfo {
        name: "compensation-order",
        kind: CheckKind::Always,
        promise: "a step is compensated only when no later step of its saga still holds, and at most once",
    },
    CheckInfo {
        name: "semantic-atomicity",
        kind: CheckKind::Eventually,
        promise: "at the end of the run every saga has ended, with every step held (done) or none (compensated), never half-way (the quiet time a scenario leaves after its faults and clients stop is the bound)",
    },
    CheckInfo {
        name: "no-lost-message",
        kind: CheckKind::Eventually,
        promise: "at the end of the run every event a service committed reached node 0, and every message node 0 sent was answered or dead-lettered",
    },
];

crate::sometimes! {
    /// What a good saga test reaches.
    pub enum SagaReach {
        CompensationRan => "compensation-ran",
            "a service ran a compensating transaction (an undo of its step, or a cancel before it)";
        DeadLetter => "dead-letter",
            "a forward message went unanswered max_attempts times and was dead-lettered: its saga compensates";
        DuplicateSuppressed => "duplicate-suppressed",
            "an idempotent consumer (a service or the hub) recognised a message it had processed and ignored it";
        StepFailed => "step-failed",
            "a step failed (sold out, declined, or cancelled) and its saga turned back";
        HubResumed => "hub-resumed",
            "the orchestrator or broker restarted with unfinished sagas and resent what was unanswered";
        RelayResumed => "relay-resumed",
            "a service restarted with unacknowledged outbox entries, which its relay sends again";
    }
}

impl Protocol for SagaProtocol {
    const NAME: &'static str = "saga";
    const SUMMARY: &'static str = "sagas (Garcia-Molina & Salem 1987; Richardson ch. 4): trip booking over flight/hotel/car/payment, orchestrated or choreographed, with outbox, idempotent consumers and dead letters";
    /// Node 0 (the orchestrator or the broker) and the four services: exactly five.
    const MAX_NODES: usize = 5;
    type Config = SagaConfig;
    type Node = Node;
    type Client = Traveller;

    fn knobs() -> &'static [Knob] {
        KNOBS
    }

    fn checks() -> &'static [CheckInfo] {
        CHECKS
    }

    fn sometimes() -> &'static [crate::Sometimes] {
        SagaReach::ALL
    }

    fn checker(name: &str, config: &SagaConfig) -> Option<Box<dyn Checker<Node>>> {
        invariants::checker(name, config)
    }

    fn validate_cluster(config: &SagaConfig, nodes: usize) -> Result<(), String> {
        config.validate_cluster(nodes)
    }

    /// The run's summary (sagas done, compensated, stuck, retries, ...) when its trace
    /// has the saga notes.
    fn findings(report: &sim_core::Report) -> Vec<(String, String)> {
        summary(&report.trace, report.stats.sends)
            .map(|s| ("sagas".to_string(), s.line()))
            .into_iter()
            .collect()
    }

    fn client_config(workload: &Workload, config: &SagaConfig) -> Result<TravellerConfig, String> {
        workload.validate()?;
        config.validate()?;
        Ok(TravellerConfig {
            workload: workload.clone(),
            config: config.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_name_saga_step_and_kind() {
        let id = event_id(1_000_003, 1, Outcome::Done);
        assert_eq!(show_id(id), "s1000003/hotel/Done");
        assert_eq!(show_id(command_id(7, 3, Action::Undo)), "s7/payment/Undo");
        // A failure's id does not depend on its reason: a repeat is the same message.
        assert_eq!(
            event_id(5, 2, Outcome::Failed(Reason::SoldOut)),
            event_id(5, 2, Outcome::Failed(Reason::Cancelled))
        );
        assert_ne!(event_id(5, 2, Outcome::Done), command_id(5, 2, Action::Do));
    }

    #[test]
    fn the_summary_counts_the_notes() {
        use sim_core::{Time, Trace, TraceEvent, TraceKind, TraceLevel};
        let note = |ms: u64, text: &str| TraceEvent {
            time: Time::ZERO.plus(Duration::from_millis(ms)),
            kind: TraceKind::Note {
                node: "orchestrator".into(),
                text: text.into(),
            },
        };
        let trace = Trace {
            level: TraceLevel::Summary,
            events: vec![
                note(0, "saga s1 started"),
                note(1, "saga s2 started"),
                note(2, "saga s3 started"),
                note(5, "saga s1 retry Do s1 flight to flight (attempt 2)"),
                note(
                    6,
                    "saga s1 duplicate suppressed: s1/flight/Done already received",
                ),
                note(
                    9,
                    "saga s2 dead-letter s2/hotel/Do to hotel after 8 attempts",
                ),
                note(10, "saga s1 done"),
                note(31, "saga s2 compensated (all undone)"),
                note(40, "resuming 1 unfinished saga(s), resending 1 message(s)"),
            ],
        };
        let s = summary(&trace, 30).expect("saga notes");
        assert_eq!(
            s.to_string(),
            "sagas: 1 done, 1 compensated, 1 stuck; retries 1, duplicates suppressed 1, dead letters 1; 10.0 messages per saga, mean completion 20ms"
        );
        let empty = Trace {
            level: TraceLevel::Summary,
            events: vec![note(0, "role=leader term=1")],
        };
        assert_eq!(summary(&empty, 3), None);
    }
}
