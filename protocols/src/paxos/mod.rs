//! # Paxos: agreeing on one value
//!
//! Follows Leslie Lamport, "Paxos Made Simple" (ACM SIGACT News 32(4), 2001); section
//! numbers below are the paper's.
//!
//! A set of nodes must *choose* one value out of those proposed, even though messages are
//! lost, delayed, duplicated and reordered and nodes crash and restart. Three roles
//! (§2.1): *proposers* propose values, *acceptors* accept them, *learners* find out which
//! value was chosen. Here every node plays all three, as in most deployments. A value is
//! **chosen** once a majority of acceptors have accepted it *in the same ballot*; safety
//! means that at most one value is ever chosen (`agreement`), that it was proposed by
//! someone (`validity`), and that a learner learns only the chosen value
//! (`learner-agreement`).
//!
//! **Ballots.** Every attempt to get a value chosen carries a ballot (the paper's
//! "proposal number"): a pair `(round, node)` ordered by round, then node. Because the
//! node is part of it, two proposers never use the same ballot, and because a proposer
//! stores the highest round it used before it sends anything with it, a restarted
//! proposer never reuses one either. Ballots are written `3.#1` (round 3, node index 1).
//!
//! **Phase 1, prepare (§2.2).** A proposer picks a ballot `b` higher than any it has seen
//! and sends `Prepare(b)` to every acceptor. An acceptor that has not promised a higher
//! ballot *promises* `b`: it will never again accept anything below `b`, and it answers
//! `Promise(b, last)` where `last` is the highest-ballot `(ballot, value)` it has
//! accepted, if any. An acceptor that promised more answers `Nack` with its promise, so
//! the proposer learns it was preempted and how high to go next.
//!
//! **Phase 2, accept.** With promises from a majority, the proposer picks its value: the
//! value of the highest-ballot acceptance any promise reported, or its own value if none
//! reported one. This is the rule that makes Paxos safe: if some value `v` was already
//! chosen in a lower ballot, every majority contains an acceptor that accepted `v`, and
//! (by induction over ballots) the highest acceptance any majority reports is `v`. It then
//! sends `Accept(b, v)`. An acceptor accepts unless it promised a ballot above `b`, and
//! tells every learner `Accepted(b, v)`.
//!
//! **Learning.** A learner learns `v` once a majority of acceptors have told it they
//! accepted `v` in one ballot `b`. Counting acceptances from different ballots together is
//! wrong: a value accepted by one acceptor in ballot 1 and by another in ballot 3 may
//! still lose to a value accepted in ballot 2.
//!
//! **Durability.** An acceptor writes its promise and its acceptance to stable storage
//! before it answers (here: [`Durable`], which survives a crash), so a restart cannot make
//! it break a promise it gave. The learned value is durable too.
//!
//! **Liveness.** Paxos is safe under any schedule but live only when one proposer runs
//! both phases without being preempted. Two proposers that keep preparing higher ballots
//! can preempt each other forever (the *dueling proposers*: Fischer, Lynch and Paterson
//! proved that no deterministic asynchronous protocol can guarantee termination with one
//! faulty process, and this is what that looks like). The cure is a random backoff before
//! retrying, drawn here from the node's RNG stream; `backoff: false` retries at once, to
//! show the livelock (`scenarios/paxos/dueling-no-backoff.ron`).
//!
//! Who proposes: nodes `n1..nK` with `proposers: K` (every node with `proposers: 0`)
//! propose at start; any node that has not learned a value `learn_timeout` after its start
//! or its last attempt proposes too, so a learner that lost the `Accepted` messages finds
//! the chosen value through a phase 1 of its own. Each proposes a value naming itself
//! (`"v-n3"`), so the checks can tell values apart.
//!
//! Files: [`node`] (the three roles' handlers), [`invariants`] (the checkers).
//!
//! ## Bug knobs
//!
//! Each is a field of [`PaxosConfig`], off by default; [`KNOBS`] names the check that
//! catches each:
//!
//! - `accept_below_promise`: an acceptor accepts `Accept(b)` with `b` below its promise. A
//!   proposer that prepared a high ballot and found nothing can then get its own value
//!   chosen after a lower ballot's value was chosen: `agreement`.
//! - `ignore_promised_values`: the proposer proposes its own value whatever the promises
//!   report, so a later ballot overwrites a chosen value: `agreement`.
//! - `forget_promise_on_restart`: the promise is not persisted; after a restart an
//!   acceptor promises and accepts below what it promised before: `agreement`.
//! - `learner_mixes_ballots`: a learner counts acceptances of a value across ballots as
//!   one majority and learns a value that was never chosen: `learner-agreement`.
//! - `default_value_when_none_accepted`: the proposer reads "nothing accepted" in the
//!   promises as the empty value `""` and proposes that instead of its own: `validity`.

pub mod invariants;
pub mod node;

use crate::{CheckInfo, CheckKind, Knob, Protocol, Workload};
use serde::{Deserialize, Serialize};
use sim_core::{Checker, Duration, NodeId};
use std::fmt;

pub use node::Node;

crate::documented! {
    /// Paxos's configuration: who proposes, timing, and the bug knobs. Durations are
    /// duration strings (`"100ms"`).
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields, default)]
    pub struct PaxosConfig {
        /// Nodes `n1..nK` propose at start; 0 means every node does.
        pub proposers: u32,
        /// A phase that has no majority of answers after this is abandoned and retried.
        pub phase_timeout: Duration,
        /// Wait a random time in `backoff_min..=backoff_max` before retrying after a preempted
        /// or timed-out attempt. `false` retries at once (dueling proposers livelock).
        pub backoff: bool,
        /// The shortest backoff.
        pub backoff_min: Duration,
        /// The longest backoff.
        pub backoff_max: Duration,
        /// A node that has learned nothing this long after its start or its last attempt
        /// proposes itself.
        pub learn_timeout: Duration,
        /// When the `decided` check starts judging; by default, when the scenario's faults
        /// stop ...
        pub liveness_from: Option<Duration>,
        /// ... and how long after that every live node must have learned.
        pub liveness_bound: Duration,
        // ----- bug knobs --------------------------------------------------------------
        /// An acceptor accepts a ballot lower than one it promised.
        pub accept_below_promise: bool,
        /// A proposer ignores the values reported in promises and proposes its own.
        pub ignore_promised_values: bool,
        /// An acceptor does not persist its promise: after a restart it has promised nothing
        /// (its acceptance is still on disk).
        pub forget_promise_on_restart: bool,
        /// A learner counts acceptances of one value from different ballots as one majority.
        pub learner_mixes_ballots: bool,
        /// A proposer that finds nothing accepted proposes `""` instead of its own value.
        pub default_value_when_none_accepted: bool,
    }
}

impl Default for PaxosConfig {
    fn default() -> Self {
        PaxosConfig {
            proposers: 0,
            phase_timeout: Duration::from_millis(100),
            backoff: true,
            backoff_min: Duration::from_millis(10),
            backoff_max: Duration::from_millis(150),
            learn_timeout: Duration::from_millis(500),
            liveness_from: None,
            liveness_bound: Duration::from_secs(5),
            accept_below_promise: false,
            ignore_promised_values: false,
            forget_promise_on_restart: false,
            learner_mixes_ballots: false,
            default_value_when_none_accepted: false,
        }
    }
}

impl PaxosConfig {
    /// Checks the bounds, saying what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.phase_timeout.is_zero() {
            return Err("paxos phase_timeout is 0: expected a duration above 0".into());
        }
        if self.backoff_min > self.backoff_max {
            return Err(format!(
                "paxos backoff_min {} must be at most backoff_max {}",
                self.backoff_min, self.backoff_max
            ));
        }
        if self.learn_timeout.is_zero() {
            return Err("paxos learn_timeout is 0: expected a duration above 0".into());
        }
        Ok(())
    }
}

/// A ballot (the paper's proposal number): `(round, node)`, ordered by round, then node,
/// so ballots of different proposers never tie.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ballot {
    pub round: u64,
    pub node: NodeId,
}

impl Ballot {
    /// Below every ballot a proposer uses (round 0).
    pub const ZERO: Ballot = Ballot {
        round: 0,
        node: NodeId(0),
    };
}

impl fmt::Debug for Ballot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.round, self.node)
    }
}

impl fmt::Display for Ballot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Messages (§2.2), with short trace forms.
#[derive(Clone, PartialEq, Eq)]
pub enum Msg {
    /// Phase 1a.
    Prepare { ballot: Ballot },
    /// Phase 1b: the acceptor promised `ballot`; `last` is its highest acceptance.
    Promise {
        ballot: Ballot,
        last: Option<(Ballot, String)>,
    },
    /// The acceptor refused `ballot` (a prepare or an accept): it promised `promised`.
    Nack { ballot: Ballot, promised: Ballot },
    /// Phase 2a.
    Accept { ballot: Ballot, value: String },
    /// Phase 2b, sent to every learner (every node).
    Accepted { ballot: Ballot, value: String },
}

impl fmt::Debug for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Msg::Prepare { ballot } => write!(f, "Prepare b={ballot}"),
            Msg::Promise { ballot, last: None } => write!(f, "Promise b={ballot} last=none"),
            Msg::Promise {
                ballot,
                last: Some((b, v)),
            } => write!(f, "Promise b={ballot} last={b}:{v:?}"),
            Msg::Nack { ballot, promised } => write!(f, "Nack b={ballot} promised={promised}"),
            Msg::Accept { ballot, value } => write!(f, "Accept b={ballot} v={value:?}"),
            Msg::Accepted { ballot, value } => write!(f, "Accepted b={ballot} v={value:?}"),
        }
    }
}

/// Timer tags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// The attempt with this round got no majority in time.
    Phase(u64),
    /// The backoff after a failed attempt is over: try again.
    Retry,
    /// Nothing learned for `learn_timeout`: propose.
    Learn,
}

/// What survives a crash: the acceptor's promise and acceptance, the highest round this
/// node used as a proposer, and what it learned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Durable {
    promised: Option<Ballot>,
    accepted: Option<(Ballot, String)>,
    round: u64,
    learned: Option<String>,
}

impl Durable {
    /// The highest ballot this acceptor promised.
    pub fn promised(&self) -> Option<Ballot> {
        self.promised
    }

    /// The highest-ballot value this acceptor accepted.
    pub fn accepted(&self) -> Option<&(Ballot, String)> {
        self.accepted.as_ref()
    }

    /// The value this node learned as chosen.
    pub fn learned(&self) -> Option<&str> {
        self.learned.as_deref()
    }

    /// The highest round this node used as a proposer.
    pub fn round(&self) -> u64 {
        self.round
    }
}

/// Single-decree Paxos as a scenario protocol.
pub struct PaxosProtocol;

/// The bug knobs.
pub const KNOBS: &[Knob] = &[
    Knob {
        name: "accept_below_promise",
        mistake: "an acceptor accepts a ballot lower than one it promised, so a value can be chosen in a low ballot after a higher ballot's phase 1 found nothing and chose another",
        caught_by: "agreement",
    },
    Knob {
        name: "ignore_promised_values",
        mistake: "a proposer ignores the values reported in promises and proposes its own, overwriting a value a lower ballot already chose",
        caught_by: "agreement",
    },
    Knob {
        name: "forget_promise_on_restart",
        mistake: "an acceptor does not persist its promise: after a restart it promises and accepts ballots lower than one it promised before the crash",
        caught_by: "agreement",
    },
    Knob {
        name: "learner_mixes_ballots",
        mistake: "a learner counts acceptances of a value from different ballots as one majority and learns a value that was never chosen",
        caught_by: "learner-agreement",
    },
    Knob {
        name: "default_value_when_none_accepted",
        mistake: "a proposer whose promises report nothing accepted proposes the empty value instead of its own, choosing a value nobody proposed",
        caught_by: "validity",
    },
];

/// The checks.
pub const CHECKS: &[CheckInfo] = &[
    CheckInfo {
        name: "agreement",
        kind: CheckKind::Always,
        promise: "at most one value is ever chosen (accepted by a majority of acceptors in one ballot), judged from the acceptors' states",
    },
    CheckInfo {
        name: "validity",
        kind: CheckKind::Always,
        promise: "every accepted (and so every chosen) value is one some node proposed as its own",
    },
    CheckInfo {
        name: "learner-agreement",
        kind: CheckKind::Always,
        promise: "no two learners learn different values",
    },
    CheckInfo {
        name: "decided",
        kind: CheckKind::Eventually,
        promise: "within liveness_bound after the faults stop (or liveness_from) every live node has learned a value",
    },
];

crate::sometimes! {
    /// What a good single-decree Paxos test reaches.
    pub enum PaxosReach {
        AdoptedPromisedValue => "adopted-promised-value",
            "a proposer proposed the value of the highest acceptance its promises reported, not its own (phase 2a)";
        BallotPreempted => "ballot-preempted",
            "a proposer abandoned its ballot on learning of a higher one (a Nack, or its own acceptor promising it)";
        AttemptTimedOut => "attempt-timed-out",
            "a proposer's attempt got neither a majority nor a Nack in time and was abandoned";
        RestartedWithPromise => "restarted-with-promise",
            "an acceptor restarted and recovered a promise from its durable storage";
    }
}

impl Protocol for PaxosProtocol {
    const NAME: &'static str = "paxos";
    const SUMMARY: &'static str =
        "single-decree Paxos (Lamport 2001): every node proposes, accepts and learns one value";
    /// Every proposer broadcasts each phase to every acceptor: O(N²) messages a ballot.
    const MAX_NODES: usize = 1_000;
    type Config = PaxosConfig;
    type Node = Node;
    type Client = sim_core::NoClients;

    fn knobs() -> &'static [Knob] {
        KNOBS
    }

    fn checks() -> &'static [CheckInfo] {
        CHECKS
    }

    fn sometimes() -> &'static [crate::Sometimes] {
        PaxosReach::ALL
    }

    fn checker(name: &str, config: &PaxosConfig) -> Option<Box<dyn Checker<Node>>> {
        invariants::checker(name, config)
    }

    fn client_config(workload: &Workload, config: &PaxosConfig) -> Result<(), String> {
        config.validate()?;
        if workload.clients > 0 {
            return Err("paxos has no clients (every node proposes its own value): remove the workload or set clients: 0".into());
        }
        Ok(())
    }
}
