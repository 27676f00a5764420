//! # Multi-Paxos: a replicated log, one Paxos instance per slot
//!
//! Follows Leslie Lamport, "Paxos Made Simple" (2001), §3 ("Implementing a State
//! Machine"), with the stable leader of Robbert van Renesse and Deniz Altinbuken, "Paxos
//! Made Moderately Complex" (ACM Computing Surveys 47(3), 2015). Single-decree Paxos
//! ([`crate::paxos`]) explains why the two phases are safe; this module runs them for a
//! sequence of *slots*, each an independent instance that chooses one command.
//!
//! **One phase 1 for all slots (§3).** Running both phases per command would cost two
//! round trips each. Instead a node that wants to lead picks one ballot `(round, node)`
//! above any it has seen and sends `Prepare(b, from)`, where `from` is its first slot not
//! known to be chosen. An acceptor promises `b` *for every slot at once* (its promise is a
//! single ballot) and answers with every `(slot, ballot, command)` it has accepted from
//! `from` on. With promises from a majority the node is leader of ballot `b`.
//!
//! **Re-proposing and no-ops.** For each slot from `from` to the highest any promise
//! reported, the new leader proposes the command of the highest-ballot acceptance reported
//! (a command that may have been chosen under an earlier leader must be kept: the same
//! rule as single-decree P2c), and fills slots nobody reported with a *no-op*, so that the
//! log has no holes and later slots can be applied. Skipping this (the
//! `skip_phase1_for_inflight` knob) lets the new leader place new commands in slots where
//! an old leader's command was already chosen.
//!
//! **Phase 2 per command.** The leader then assigns each client command the next slot and
//! sends `Accept(b, slot, command)`; acceptors accept unless they promised a higher
//! ballot, and answer the leader, which learns the slot is chosen from a majority of
//! `Accepted(b, slot)` and only then applies it and answers the client. (Answering once
//! its *own* acceptor accepted is the `reply_before_majority` knob: a leader deposed
//! before a majority accepted has promised the client a write that the next leader
//! replaces with a no-op.) Every message from the leader carries how far its log is
//! chosen without a gap, so followers learn chosen slots they accepted in the leader's
//! ballot; a follower that missed some says so in its heartbeat reply and the leader sends
//! the chosen commands (`Learn`).
//!
//! **Applying in order.** Every replica applies chosen commands to its
//! [`crate::kv::KvStore`] strictly in slot order, and only once every earlier slot is
//! chosen. Slots are chosen out of order (messages race), so applying a slot as soon as it
//! is chosen (`apply_out_of_order`) makes two replicas apply the same commands in
//! different orders, and their states diverge.
//!
//! **Leadership.** The leader sends heartbeats; a follower that hears from no leader for a
//! random election timeout starts phase 1 with a higher ballot. A higher ballot seen
//! anywhere (a Prepare, a Nack, an Accept or a heartbeat) deposes a leader or candidate:
//! Multi-Paxos needs no terms or votes, the ballot is both. Two nodes that both want to
//! lead duel exactly like single-decree proposers; the randomized timeout is the backoff.
//!
//! **Durability.** An acceptor's promised ballot and its accepted slots are written to
//! [`Durable`] before it answers, and so is the highest round a node used and the chosen
//! commands it learned, so a restart replays the chosen prefix into a fresh store. Not
//! persisting the promise is the `forget_promise_on_restart` knob, and accepting below it
//! the `accept_below_promise` knob (the single-decree knobs, per slot).
//!
//! **Clients.** The same [`crate::kv::KvClient`] and workload as Raft: requests carry a
//! `(client, seq)` id, the store applies each once, followers answer `NotLeader` with the
//! leader they know. Reads go through the log, so histories are linearizable.
//!
//! Files: [`node`] (the node's handlers: leadership, phase 1, phase 2, learning, clients),
//! [`invariants`] (the checkers).
//!
//! ## Bug knobs
//!
//! Fields of [`MultiPaxosConfig`], off by default; [`KNOBS`] names the check that catches
//! each.

pub mod invariants;
pub mod node;

use crate::kv::{KvClient, KvClientConfig, KvRequest};
use crate::paxos::Ballot;
use crate::{CheckInfo, CheckKind, Knob, Protocol, Workload};
use serde::{Deserialize, Serialize};
use sim_core::{Checker, Duration};
use std::fmt;
use std::rc::Rc;

pub use node::{Node, Role};

crate::documented! {
    /// Multi-Paxos's configuration: timing and the bug knobs. Durations are duration strings.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields, default)]
    pub struct MultiPaxosConfig {
        /// A follower that hears from no leader for a time drawn from
        /// `election_timeout_min..=election_timeout_max` starts phase 1 (and a candidate
        /// that got no majority in that time tries again higher).
        pub election_timeout_min: Duration,
        /// The top of the election timeout's range.
        pub election_timeout_max: Duration,
        /// How often the leader sends heartbeats (and resends unanswered Accepts).
        pub heartbeat: Duration,
        /// The most commands one `Learn` message carries, and the most unchosen slots a
        /// heartbeat resends.
        pub max_batch: u32,
        /// When eventually-leader starts judging, and clients-complete counts operations
        /// invoked from; by default, when the scenario's faults stop ...
        pub liveness_from: Option<Duration>,
        /// ... and how long after that they must hold.
        pub liveness_bound: Duration,
        // ----- bug knobs --------------------------------------------------------------
        /// A new leader ignores what the promises report for slots in flight and puts new
        /// commands there.
        pub skip_phase1_for_inflight: bool,
        /// The leader answers a client once its own acceptor accepted the command.
        pub reply_before_majority: bool,
        /// A replica applies a chosen slot before every earlier slot is chosen.
        pub apply_out_of_order: bool,
        /// An acceptor accepts a ballot lower than the one it promised.
        pub accept_below_promise: bool,
        /// An acceptor does not persist its promise: after a restart it has promised nothing.
        pub forget_promise_on_restart: bool,
    }
}

impl Default for MultiPaxosConfig {
    fn default() -> Self {
        MultiPaxosConfig {
            election_timeout_min: Duration::from_millis(150),
            election_timeout_max: Duration::from_millis(300),
            heartbeat: Duration::from_millis(50),
            max_batch: 64,
            liveness_from: None,
            liveness_bound: Duration::from_secs(5),
            skip_phase1_for_inflight: false,
            reply_before_majority: false,
            apply_out_of_order: false,
            accept_below_promise: false,
            forget_promise_on_restart: false,
        }
    }
}

impl MultiPaxosConfig {
    /// Checks the bounds, saying what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.election_timeout_min.is_zero()
            || self.election_timeout_min > self.election_timeout_max
        {
            return Err(format!(
                "multipaxos election_timeout_min {} must be above 0 and at most election_timeout_max {}",
                self.election_timeout_min, self.election_timeout_max
            ));
        }
        if self.heartbeat.is_zero() || self.heartbeat >= self.election_timeout_min {
            return Err(format!(
                "multipaxos heartbeat {} must be above 0 and below election_timeout_min {}",
                self.heartbeat, self.election_timeout_min
            ));
        }
        if self.max_batch == 0 {
            return Err("multipaxos max_batch is 0: expected at least 1".into());
        }
        Ok(())
    }
}

/// What a slot holds: a client's command or a no-op that fills a gap.
#[derive(Clone, Eq)]
pub enum Command {
    Noop,
    Op(Rc<KvRequest>),
}

impl PartialEq for Command {
    /// Copies of one command share it (`Rc`), so equal pointers answer at once.
    fn eq(&self, other: &Command) -> bool {
        match (self, other) {
            (Command::Noop, Command::Noop) => true,
            (Command::Op(a), Command::Op(b)) => Rc::ptr_eq(a, b) || a == b,
            _ => false,
        }
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Noop => write!(f, "noop"),
            Command::Op(r) => write!(f, "{r:?}"),
        }
    }
}

/// Messages, with short trace forms.
#[derive(Clone, PartialEq, Eq)]
pub enum Msg {
    /// Phase 1a for every slot from `from` on.
    Prepare {
        ballot: Ballot,
        from: u64,
    },
    /// Phase 1b: every `(slot, ballot, command)` accepted from the prepare's `from` on.
    Promise {
        ballot: Ballot,
        accepted: Vec<(u64, Ballot, Command)>,
    },
    /// Refused `ballot`: the acceptor promised `promised`.
    Nack {
        ballot: Ballot,
        promised: Ballot,
    },
    /// Phase 2a for one slot; `chosen` is the leader's gap-free chosen prefix.
    Accept {
        ballot: Ballot,
        slot: u64,
        command: Command,
        chosen: u64,
    },
    /// Phase 2b, to the leader.
    Accepted {
        ballot: Ballot,
        slot: u64,
    },
    Heartbeat {
        ballot: Ballot,
        chosen: u64,
    },
    /// A follower behind the heartbeat's `chosen` says how far it is, so the leader can
    /// send what it misses.
    HeartbeatReply {
        ballot: Ballot,
        chosen: u64,
    },
    /// Chosen commands, slot by slot, for a follower that missed them.
    Learn {
        entries: Vec<(u64, Command)>,
    },
}

impl fmt::Debug for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Msg::Prepare { ballot, from } => write!(f, "Prepare b={ballot} from={from}"),
            Msg::Promise { ballot, accepted } => {
                write!(f, "Promise b={ballot} accepted={}", accepted.len())
            }
            Msg::Nack { ballot, promised } => write!(f, "Nack b={ballot} promised={promised}"),
            Msg::Accept {
                ballot,
                slot,
                command,
                chosen,
            } => write!(
                f,
                "Accept b={ballot} slot={slot} {command:?} chosen={chosen}"
            ),
            Msg::Accepted { ballot, slot } => write!(f, "Accepted b={ballot} slot={slot}"),
            Msg::Heartbeat { ballot, chosen } => write!(f, "Heartbeat b={ballot} chosen={chosen}"),
            Msg::HeartbeatReply { ballot, chosen } => {
                write!(f, "HeartbeatReply b={ballot} chosen={chosen}")
            }
            Msg::Learn { entries } => match (entries.first(), entries.last()) {
                (Some((a, _)), Some((b, _))) => write!(f, "Learn slots={a}..={b}"),
                _ => write!(f, "Learn slots=none"),
            },
        }
    }
}

/// Timer tags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// No word from a leader (or no majority of promises) in time: phase 1 again.
    Election,
    /// The leader's heartbeat.
    Heartbeat,
}

/// What survives a crash: the acceptor's promise and accepted slots, the highest round
/// used, and the chosen commands learned. Slots are dense from 1, so both logs are
/// vectors indexed by `slot - 1`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Durable {
    promised: Option<Ballot>,
    accepted: Vec<Option<(Ballot, Command)>>,
    /// The acceptances made in the current event, in order: lets checkers (which run
    /// after every event) read only what is new. A node's handlers empty it when an event
    /// begins ([`Durable::begin_event`]), so it stays a few entries long.
    journal: Vec<Acceptance>,
    /// How many acceptances were made before `journal[0]`.
    journal_start: u64,
    round: u64,
    chosen: Vec<Option<Command>>,
    /// Every slot up to this one is in `chosen`.
    chosen_through: u64,
}

/// One acceptance: `(slot, ballot, command)`.
pub type Acceptance = (u64, Ballot, Command);

fn at<T>(v: &[Option<T>], slot: u64) -> Option<&T> {
    slot.checked_sub(1)
        .and_then(|i| v.get(i as usize))
        .and_then(Option::as_ref)
}

fn put<T>(v: &mut Vec<Option<T>>, slot: u64) -> &mut Option<T> {
    assert!(slot >= 1, "slots start at 1");
    let i = (slot - 1) as usize;
    if v.len() <= i {
        v.resize_with(i + 1, || None);
    }
    &mut v[i]
}

impl Durable {
    pub fn promised(&self) -> Option<Ballot> {
        self.promised
    }

    /// The last acceptance in `slot`.
    pub fn accepted(&self, slot: u64) -> Option<&(Ballot, Command)> {
        at(&self.accepted, slot)
    }

    /// Every acceptance from `slot` on, as `(slot, ballot, command)`.
    pub fn accepted_from(&self, slot: u64) -> impl Iterator<Item = (u64, Ballot, &Command)> {
        let start = slot.max(1) - 1;
        self.accepted
            .iter()
            .enumerate()
            .skip(start as usize)
            .filter_map(|(i, a)| a.as_ref().map(|(b, c)| (i as u64 + 1, *b, c)))
    }

    /// The acceptances this acceptor made from the `from`-th on (counting from 0 over its
    /// whole life), in order, as `(slot, ballot, command)`, and how many it made in all.
    /// Only the current event's are kept: `Err(first kept)` when some of those asked for
    /// are gone.
    pub fn journal_from(&self, from: u64) -> Result<(&[Acceptance], u64), u64> {
        let (start, len) = (self.journal_start, self.journal.len());
        if from < start {
            return Err(start);
        }
        let skip = ((from - start) as usize).min(len);
        Ok((&self.journal[skip..], start + len as u64))
    }

    /// A new event begins: the acceptances of the earlier ones were read by the checkers
    /// (they run after every event), so they are dropped.
    fn begin_event(&mut self) {
        if !self.journal.is_empty() {
            self.journal_start += self.journal.len() as u64;
            self.journal.clear();
        }
    }

    /// The command this node learned was chosen in `slot`.
    pub fn chosen(&self, slot: u64) -> Option<&Command> {
        at(&self.chosen, slot)
    }

    /// Chosen commands from `slot` on, as `(slot, command)`.
    pub fn chosen_from(&self, slot: u64) -> impl Iterator<Item = (u64, &Command)> {
        let start = slot.max(1) - 1;
        self.chosen
            .iter()
            .enumerate()
            .skip(start as usize)
            .filter_map(|(i, c)| c.as_ref().map(|c| (i as u64 + 1, c)))
    }

    /// Every slot up to this one is known chosen here.
    pub fn chosen_through(&self) -> u64 {
        self.chosen_through
    }

    pub fn round(&self) -> u64 {
        self.round
    }

    fn accept(&mut self, slot: u64, ballot: Ballot, command: Command) {
        self.journal.push((slot, ballot, command.clone()));
        *put(&mut self.accepted, slot) = Some((ballot, command));
    }

    fn learn(&mut self, slot: u64, command: Command) {
        let c = put(&mut self.chosen, slot);
        if c.is_none() {
            *c = Some(command);
        }
        while at(&self.chosen, self.chosen_through + 1).is_some() {
            self.chosen_through += 1;
        }
    }

    /// Learns every slot in `from..=to` whose acceptance here is in `ballot`; true if any.
    fn learn_accepted(&mut self, from: u64, to: u64, ballot: Ballot) -> bool {
        let mut any = false;
        let end = to.min(self.accepted.len() as u64);
        for slot in from.max(1)..=end {
            if let Some((b, c)) = &self.accepted[(slot - 1) as usize]
                && *b == ballot
                && at(&self.chosen, slot).is_none()
            {
                *put(&mut self.chosen, slot) = Some(c.clone());
                any = true;
            }
        }
        while at(&self.chosen, self.chosen_through + 1).is_some() {
            self.chosen_through += 1;
        }
        any
    }
}

/// Multi-Paxos as a scenario protocol.
pub struct MultiPaxosProtocol;

/// The bug knobs.
pub const KNOBS: &[Knob] = &[
    Knob {
        name: "skip_phase1_for_inflight",
        mistake: "a new leader ignores the accepted commands its promises report for slots in flight and puts new commands there, overwriting a command an old leader already got chosen",
        caught_by: "slot-agreement",
    },
    Knob {
        name: "reply_before_majority",
        mistake: "the leader answers a client once its own acceptor accepted the command, before a majority did: a leader deposed in time loses the write it acknowledged",
        caught_by: "linearizable",
    },
    Knob {
        name: "apply_out_of_order",
        mistake: "a replica applies each slot as soon as it learns it is chosen, before every earlier slot is, so replicas apply commands in different orders",
        caught_by: "state-machine-safety",
    },
    Knob {
        name: "accept_below_promise",
        mistake: "an acceptor accepts an Accept whose ballot is lower than the one it promised, so a deposed leader's command is chosen in a slot the new leader fills differently",
        caught_by: "slot-agreement",
    },
    Knob {
        name: "forget_promise_on_restart",
        mistake: "an acceptor does not persist its promise: after a restart it accepts a deposed leader's commands below the ballot it promised",
        caught_by: "slot-agreement",
    },
];

/// The checks.
pub const CHECKS: &[CheckInfo] = &[
    CheckInfo {
        name: "slot-agreement",
        kind: CheckKind::Always,
        promise: "no slot has two chosen commands (chosen: accepted by a majority of acceptors in one ballot, judged from the acceptors' states)",
    },
    CheckInfo {
        name: "state-machine-safety",
        kind: CheckKind::Always,
        promise: "every replica applies the same command from the same slot as its k-th command, for every k",
    },
    CheckInfo {
        name: "eventually-leader",
        kind: CheckKind::Eventually,
        promise: "within liveness_bound after the faults stop (or liveness_from) a leader exists that every live node follows, and one still leads at the end",
    },
    CheckInfo {
        name: "clients-complete",
        kind: CheckKind::History,
        promise: "every client operation invoked after the faults stop (or liveness_from) completes (ok, or a definite fail) within liveness_bound",
    },
    CheckInfo {
        name: "linearizable",
        kind: CheckKind::History,
        promise: "the clients' history is linearizable against the key-value model (get, put, append, cas), key by key",
    },
];

crate::sometimes! {
    /// What a good Multi-Paxos test reaches.
    pub enum MultiPaxosReach {
        AdoptedPromisedValue => "adopted-promised-value",
            "a new leader re-proposed a command that a promise reported accepted in an unchosen slot";
        NoopFilledGap => "noop-filled-gap",
            "a new leader filled a slot no promise reported with a no-op";
        BallotPreempted => "ballot-preempted",
            "a candidate or leader stepped down on learning of a higher ballot";
        LeaderDeposed => "leader-deposed",
            "a leader stepped down: another node's higher ballot took over";
        ClientRetried => "client-retried",
            "a client resent a request whose attempt went unanswered (it may have been chosen)";
        DuplicateApplied => "duplicate-applied-once",
            "a command chosen in two slots (a retry) was applied once: the second found it applied";
    }
}

impl Protocol for MultiPaxosProtocol {
    const NAME: &'static str = "multipaxos";
    const SUMMARY: &'static str = "Multi-Paxos (Lamport 2001 §3): a replicated key-value store with a stable leader, one phase 1 for all slots, no-op gap filling";
    /// Each acceptor's promise and every leader's per-peer progress are one entry per node;
    /// sized like Raft's, but measured only to the 5-node benchmark, so bounded lower.
    const MAX_NODES: usize = 1_000;
    type Config = MultiPaxosConfig;
    type Node = Node;
    type Client = KvClient;

    fn knobs() -> &'static [Knob] {
        KNOBS
    }

    fn checks() -> &'static [CheckInfo] {
        CHECKS
    }

    fn sometimes() -> &'static [crate::Sometimes] {
        MultiPaxosReach::ALL
    }

    fn checker(name: &str, config: &MultiPaxosConfig) -> Option<Box<dyn Checker<Node>>> {
        invariants::checker(name, config)
    }

    fn history_model() -> Option<lincheck::ModelKind> {
        Some(lincheck::ModelKind::Kv)
    }

    fn history_check(
        name: &str,
        history: &lincheck::History,
        config: &MultiPaxosConfig,
        end: sim_core::Time,
        max_steps: u64,
    ) -> Result<(), crate::HistoryFailure> {
        Self::history_check_in_run(name, history, config, end, sim_core::Time::ZERO, max_steps)
    }

    /// `clients-complete` counts from `liveness_from`, else from when the faults stopped.
    fn history_check_in_run(
        name: &str,
        history: &lincheck::History,
        config: &MultiPaxosConfig,
        end: sim_core::Time,
        faults_stop: sim_core::Time,
        max_steps: u64,
    ) -> Result<(), crate::HistoryFailure> {
        let liveness = (
            crate::kv::completion_start(config.liveness_from, faults_stop),
            config.liveness_bound,
        );
        crate::kv::history_check("multipaxos", name, history, liveness, end, max_steps)
    }

    fn client_config(
        workload: &Workload,
        config: &MultiPaxosConfig,
    ) -> Result<KvClientConfig, String> {
        crate::kv::client_config(workload, config.validate(), MultiPaxosReach::ClientRetried)
    }
}
