//! # Two-phase commit: atomic transfers across participants, on write-ahead logs
//!
//! Follows Jim Gray, "Notes on Data Base Operating Systems" (1978), and Philip Bernstein,
//! Vassos Hadzilacos and Nathan Goodman, *Concurrency Control and Recovery in Database
//! Systems* (1987), chapter 7 ("Distributed Recovery"); section numbers below are that
//! chapter's. The presumed-abort variant is C. Mohan, Bruce Lindsay and Ron Obermarck,
//! "Transaction Management in the R* Distributed Database Management System" (1986).
//!
//! A bank keeps its accounts on several *participants*; a transfer debits an account on one
//! and credits an account on another, and must happen at both or at neither (atomicity,
//! §7.4). A *coordinator* runs each transfer in two phases:
//!
//! **Phase 1, voting.** The coordinator sends `Prepare` with each participant's changes. A
//! participant that can commit (its accounts are not locked by another transaction, the
//! debit leaves no negative balance) locks the accounts, appends a *prepared* record (the
//! transaction, its locks and its changes) to its log, **syncs**, and only then votes yes.
//! From that moment it has given up the right to abort on its own: it is *uncertain* (§7.3)
//! and must do what the coordinator decides, even across a crash, which is why the record
//! must be on disk before the vote leaves. A participant that cannot commit votes no and
//! forgets the transaction.
//!
//! **Phase 2, decision.** With every vote yes the coordinator decides commit; with any no,
//! or a vote that does not come within `vote_timeout`, it decides abort. It appends the
//! commit decision to its log and **syncs before sending it**: a decision sent and then
//! forgotten in a crash would let it tell one participant "commit" and, after restarting,
//! another "abort". Participants apply the changes, release their locks, log the outcome,
//! sync and acknowledge; when all have acknowledged the coordinator appends an *end*
//! record and forgets the transaction.
//!
//! **Presumed abort (R*).** The coordinator logs nothing for a transaction it aborts and
//! expects no acknowledgements of aborts. A coordinator asked about a transaction it has no
//! record of answers abort: either it decided abort, or it crashed before deciding (and a
//! transaction without a durable commit decision may always be aborted, §7.4's rule that
//! an undecided coordinator may abort).
//!
//! **Recovery (§7.4).** A restarted coordinator reads its log: a commit decision without an
//! end record is sent again until every participant acknowledges; everything else is
//! presumed aborted. A restarted participant reads its log: its committed and aborted
//! transactions are applied again; a prepared record without an outcome means it voted yes
//! and does not know the decision. It is **blocked**: it must keep the locks (another
//! transaction could otherwise read or overwrite balances that may still change) and ask
//! the coordinator until it answers. This is 2PC's known weakness (§7.5): when the
//! coordinator crashes after collecting the votes and before the decision reaches anyone,
//! every participant is uncertain and nobody may decide. The trace notes it
//! (`n3 note blocked on t7 (holds acct-4) since 1.204s`), `faultline run --timeline` draws
//! it (`b`), and the report lists blocked time per transaction.
//!
//! **Cooperative termination (§7.5).** With `cooperative_termination`, a blocked participant
//! also asks the other participants of the transaction. One that knows the outcome tells
//! it; one that has not voted aborts on the spot (it may, since it never promised) and says
//! abort; one that is itself prepared can only say "uncertain". So it decides whenever
//! someone knows or has not voted, and stays blocked when every participant is prepared and
//! the coordinator is down: the blocking window is inherent in 2PC (three-phase commit, or
//! a replicated coordinator, is what removes it).
//!
//! **Corruption.** A log record that fails its checksum on restart (the `CorruptRecord`
//! fault) cannot be trusted or skipped: a lost prepared record is exactly bug knob
//! `vote_before_sync`'s harm. The node *halts*: it notes the bad record and takes no further
//! part, which keeps every safety property (its transactions stay blocked).
//!
//! Files: [`participant`] (voting, applying, recovery, blocking), [`coordinator`]
//! (phases, decisions, recovery), [`client`] (the bank's clients), [`invariants`] (the
//! checks).
//!
//! ## Bug knobs
//!
//! Each is a field of [`TwopcConfig`], off by default; [`KNOBS`] says what each one breaks
//! and which check catches it:
//!
//! - `vote_before_sync`: a participant votes yes before its prepared record is synced. A
//!   crash loses the record, the restarted participant knows nothing of the transaction
//!   and aborts it, while the coordinator commits it everywhere else: `atomicity`.
//! - `send_decision_before_logging`: the coordinator sends commit before its decision is
//!   durable, so a participant commits what a crash can still turn into a presumed abort:
//!   `no-commit-without-decision` (and, after the crash, `atomicity`).
//! - `commit_on_vote_timeout`: the coordinator decides commit when a vote does not come in
//!   time, though the silent participant may have voted no or never prepared. The client
//!   is told "committed" about a transfer that participant has already aborted: `history`
//!   (and `atomicity` once another participant applies the commit).
//! - `abort_prepared_on_timeout`: a prepared participant that hears no decision aborts on
//!   its own and releases its locks, breaking its promise: `atomicity`.
//! - `forget_locks_on_recovery`: a restarted participant recovers its prepared
//!   transactions but not their locks, so a new transaction locks an account a blocked one
//!   still holds: `isolation`.

pub mod client;
pub mod coordinator;
pub mod invariants;
pub mod participant;

use crate::{CheckInfo, CheckKind, Knob, Protocol, Workload};
use serde::{Deserialize, Serialize};
use sim_core::{Checker, ClientId, Ctx, Duration, NodeId, Process, RequestId, Time};
use std::fmt;

pub use client::{BankClient, BankClientConfig};
pub use coordinator::Coordinator;
pub use participant::Participant;

/// A transaction id: chosen by the client, `client * 1_000_000 + seq` (unique in a run).
pub type TxId = u64;
/// An account number; accounts are named `acct-N` and spread over the participants.
pub type Acct = u32;

crate::documented! {
    /// 2PC's configuration: the bank, the timing, the options and the bug knobs.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields, default)]
    pub struct TwopcConfig {
        /// The first `coordinators` nodes coordinate (client `cK` uses the coordinator
        /// numbered `(K - 1) mod coordinators` from 0); the others are participants.
        pub coordinators: u32,
        /// Accounts each participant holds (participant `i` holds `acct-(i*k+1)..=acct-(i*k+k)`).
        pub accounts_per_participant: u32,
        /// Every account's balance at the start.
        pub initial_balance: i64,
        /// A transfer moves `1..=max_amount`.
        pub max_amount: i64,
        /// The coordinator decides abort when a vote has not come within this.
        pub vote_timeout: Duration,
        /// A prepared participant that has heard no decision for this long is blocked and
        /// starts asking.
        pub decision_timeout: Duration,
        /// How often a blocked participant asks again, and the coordinator resends a commit
        /// that is not acknowledged.
        pub retry_interval: Duration,
        /// Blocked participants ask the other participants too (§7.5).
        pub cooperative_termination: bool,
        /// When `no-blocked` starts judging; by default, when the scenario's faults stop
        /// (the coordinator is back) ...
        pub liveness_from: Option<Duration>,
        /// ... and allows a participant to stay blocked this long after it.
        pub liveness_bound: Duration,
        // ----- bug knobs --------------------------------------------------------------
        /// Vote yes before the prepared record is synced.
        pub vote_before_sync: bool,
        /// Send the commit decision before it is durable.
        pub send_decision_before_logging: bool,
        /// Decide commit when a vote times out.
        pub commit_on_vote_timeout: bool,
        /// A prepared participant aborts on its own after `decision_timeout`.
        pub abort_prepared_on_timeout: bool,
        /// Recovery rebuilds prepared transactions but not their locks.
        pub forget_locks_on_recovery: bool,
    }
}

impl Default for TwopcConfig {
    fn default() -> Self {
        TwopcConfig {
            coordinators: 1,
            accounts_per_participant: 2,
            initial_balance: 100,
            max_amount: 10,
            vote_timeout: Duration::from_millis(100),
            decision_timeout: Duration::from_millis(200),
            retry_interval: Duration::from_millis(100),
            cooperative_termination: false,
            liveness_from: None,
            liveness_bound: Duration::from_secs(1),
            vote_before_sync: false,
            send_decision_before_logging: false,
            commit_on_vote_timeout: false,
            abort_prepared_on_timeout: false,
            forget_locks_on_recovery: false,
        }
    }
}

impl TwopcConfig {
    /// Checks the bounds, saying what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.coordinators == 0 {
            return Err("twopc coordinators is 0: expected at least 1".into());
        }
        if self.accounts_per_participant == 0 {
            return Err("twopc accounts_per_participant is 0: expected at least 1".into());
        }
        if self.max_amount < 1 || self.initial_balance < 0 {
            return Err(format!(
                "twopc max_amount {} must be at least 1 and initial_balance {} at least 0",
                self.max_amount, self.initial_balance
            ));
        }
        for (name, d) in [
            ("vote_timeout", self.vote_timeout),
            ("decision_timeout", self.decision_timeout),
            ("retry_interval", self.retry_interval),
        ] {
            if d.is_zero() {
                return Err(format!(
                    "twopc {name} is 0s: expected a positive duration such as \"100ms\""
                ));
            }
        }
        Ok(())
    }

    /// Checks that the cluster has room for the participants.
    pub fn validate_cluster(&self, nodes: usize) -> Result<(), String> {
        if nodes < self.coordinators as usize + 2 {
            return Err(format!(
                "twopc with {} coordinator(s) needs at least {} nodes (two participants), the cluster has {nodes}",
                self.coordinators,
                self.coordinators + 2
            ));
        }
        Ok(())
    }

    fn is_coordinator(&self, n: NodeId) -> bool {
        n.0 < self.coordinators
    }

    /// The participant holding `acct` (accounts are numbered from 1).
    pub fn owner(&self, acct: Acct) -> NodeId {
        NodeId(self.coordinators + (acct - 1) / self.accounts_per_participant)
    }

    /// The accounts participant `n` holds.
    pub fn accounts_of(&self, n: NodeId) -> std::ops::RangeInclusive<Acct> {
        let i = n.0 - self.coordinators;
        let k = self.accounts_per_participant;
        i * k + 1..=i * k + k
    }

    /// How many accounts the bank has, with `nodes` nodes.
    pub fn account_count(&self, nodes: usize) -> u32 {
        (nodes as u32).saturating_sub(self.coordinators) * self.accounts_per_participant
    }
}

/// The changes one participant makes for one transaction: `(account, +credit / -debit)`.
pub type Changes = Vec<(Acct, i64)>;

/// Messages between nodes.
#[derive(Clone, PartialEq, Eq)]
pub enum Msg {
    /// Coordinator -> participant: your changes, and every participant of the transaction
    /// (for cooperative termination).
    Prepare {
        tx: TxId,
        changes: Changes,
        participants: Vec<NodeId>,
    },
    Vote {
        tx: TxId,
        yes: bool,
    },
    Commit {
        tx: TxId,
    },
    Abort {
        tx: TxId,
    },
    /// Participant -> coordinator: the commit is applied and durable.
    Ack {
        tx: TxId,
    },
    /// A blocked participant asks for the outcome (of the coordinator, or of a peer with
    /// cooperative termination).
    DecisionRequest {
        tx: TxId,
    },
    /// A peer's answer: `Some(commit?)`, or `None` when it is uncertain too.
    PeerAnswer {
        tx: TxId,
        outcome: Option<bool>,
    },
}

impl fmt::Debug for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Msg::Prepare { tx, changes, .. } => {
                write!(f, "Prepare t{tx}")?;
                for (a, d) in changes {
                    write!(f, " acct-{a}{d:+}")?;
                }
                Ok(())
            }
            Msg::Vote { tx, yes } => write!(f, "Vote t{tx} {}", if *yes { "yes" } else { "no" }),
            Msg::Commit { tx } => write!(f, "Commit t{tx}"),
            Msg::Abort { tx } => write!(f, "Abort t{tx}"),
            Msg::Ack { tx } => write!(f, "Ack t{tx}"),
            Msg::DecisionRequest { tx } => write!(f, "DecisionRequest t{tx}"),
            Msg::PeerAnswer { tx, outcome } => write!(
                f,
                "PeerAnswer t{tx} {}",
                match outcome {
                    Some(true) => "commit",
                    Some(false) => "abort",
                    None => "uncertain",
                }
            ),
        }
    }
}

/// A record of a node's write-ahead log (coordinators and participants share the type).
#[derive(Clone, PartialEq, Eq)]
pub enum Record {
    /// Participant: voted (or is about to vote) yes; holds these locks and will make
    /// these changes if told to commit.
    Prepared {
        tx: TxId,
        coordinator: NodeId,
        changes: Changes,
        participants: Vec<NodeId>,
    },
    /// Participant: the changes of `tx` are applied.
    Committed { tx: TxId },
    /// Participant: `tx` is aborted here.
    Aborted { tx: TxId },
    /// Coordinator: the commit decision for `tx` (aborts are presumed, never logged).
    Decision { tx: TxId, participants: Vec<NodeId> },
    /// Coordinator: every participant acknowledged the commit of `tx`.
    End { tx: TxId },
}

/// How a full trace shows an append: `wal append #3 Prepared t7 acct-4-2`.
impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Record::Prepared { tx, changes, .. } => {
                write!(f, "Prepared t{tx}")?;
                for (a, d) in changes {
                    write!(f, " acct-{a}{d:+}")?;
                }
                Ok(())
            }
            Record::Committed { tx } => write!(f, "Committed t{tx}"),
            Record::Aborted { tx } => write!(f, "Aborted t{tx}"),
            Record::Decision { tx, .. } => write!(f, "Decision t{tx} commit"),
            Record::End { tx } => write!(f, "End t{tx}"),
        }
    }
}

/// Timer tags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// Coordinator: the votes of `tx` are late.
    VoteTimeout(TxId),
    /// Coordinator: resend unacknowledged commits.
    Resend,
    /// Participant: no decision for prepared `tx` yet.
    DecisionTimeout(TxId),
    /// Participant: ask again about the transactions it is blocked on.
    Ask,
}

/// What clients ask coordinators.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transfer {
    pub tx: TxId,
    pub from: Acct,
    pub to: Acct,
    pub amount: i64,
}

/// What coordinators answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Committed,
    Aborted,
}

/// A 2PC node: a coordinator, a participant, or halted after reading a corrupt record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    Coordinator(Coordinator),
    Participant(Participant),
    /// Read a log record that failed its checksum: takes no further part.
    Halted,
}

impl Node {
    pub fn participant(&self) -> Option<&Participant> {
        match self {
            Node::Participant(p) => Some(p),
            _ => None,
        }
    }

    pub fn coordinator(&self) -> Option<&Coordinator> {
        match self {
            Node::Coordinator(c) => Some(c),
            _ => None,
        }
    }
}

impl Process for Node {
    type Config = TwopcConfig;
    type Msg = Msg;
    type Timer = Timer;
    type Durable = ();
    type Request = Transfer;
    type Response = Outcome;

    /// The coordinator.
    fn leads(&self) -> bool {
        matches!(self, Node::Coordinator(_))
    }

    fn start(ctx: &mut Ctx<'_, Self>) -> Self {
        let id = ctx.id();
        let result = if ctx.config().is_coordinator(id) {
            Coordinator::start(ctx).map(Node::Coordinator)
        } else {
            Participant::start(ctx).map(Node::Participant)
        };
        result.unwrap_or_else(|corrupt| {
            ctx.note(format_args!(
                "halted: {corrupt}, so the log cannot be trusted"
            ));
            Node::Halted
        })
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Msg) {
        match self {
            Node::Coordinator(c) => c.on_message(ctx, from, msg),
            Node::Participant(p) => p.on_message(ctx, from, msg),
            Node::Halted => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: Timer) {
        match self {
            Node::Coordinator(c) => c.on_timer(ctx, timer),
            Node::Participant(p) => p.on_timer(ctx, timer),
            Node::Halted => {}
        }
    }

    fn on_request(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        client: ClientId,
        id: RequestId,
        t: Transfer,
    ) {
        if let Node::Coordinator(c) = self {
            c.on_request(ctx, client, id, t);
        }
    }

    fn on_synced(&mut self, ctx: &mut Ctx<'_, Self>, upto: u64) {
        match self {
            Node::Coordinator(c) => c.on_synced(ctx, upto),
            Node::Participant(p) => p.on_synced(ctx, upto),
            Node::Halted => {}
        }
    }
}

/// Seconds with three decimals, as notes show times (`1.204s`).
pub(crate) fn secs(t: Time) -> String {
    let ms = t.as_nanos() / 1_000_000;
    format!("{}.{:03}s", ms / 1000, ms % 1000)
}

/// Accounts as notes show them: `acct-3, acct-4`.
pub(crate) fn accounts(changes: &Changes) -> String {
    let names: Vec<String> = changes.iter().map(|(a, _)| format!("acct-{a}")).collect();
    names.join(", ")
}

/// Blocked time per transaction and participant, from a run's trace:
/// [`sim_core::timeline::blocked_spans`] reads the `blocked on tX ...` notes this module
/// writes.
pub use sim_core::timeline::blocked_spans as blocked_time;

/// 2PC as a scenario protocol.
pub struct TwopcProtocol;

/// The bug knobs.
pub const KNOBS: &[Knob] = &[
    Knob {
        name: "vote_before_sync",
        mistake: "a participant votes yes before its prepared record is synced: a crash loses the record, and the restarted participant aborts what the coordinator commits",
        caught_by: "atomicity",
    },
    Knob {
        name: "send_decision_before_logging",
        mistake: "the coordinator sends commit before its decision is durable: a participant commits what a coordinator crash turns into a presumed abort",
        caught_by: "no-commit-without-decision",
    },
    Knob {
        name: "commit_on_vote_timeout",
        mistake: "the coordinator decides commit when a vote times out, though the silent participant may have voted no or never prepared",
        caught_by: "history",
    },
    Knob {
        name: "abort_prepared_on_timeout",
        mistake: "a prepared participant that hears no decision aborts on its own and releases its locks, though it promised to wait",
        caught_by: "atomicity",
    },
    Knob {
        name: "forget_locks_on_recovery",
        mistake: "a restarted participant recovers its prepared transactions but not their locks, so a new transaction locks an account a blocked one still holds",
        caught_by: "isolation",
    },
];

/// The checks.
pub const CHECKS: &[CheckInfo] = &[
    CheckInfo {
        name: "atomicity",
        kind: CheckKind::Always,
        promise: "no transaction is committed at one participant and aborted at another (§7.4)",
    },
    CheckInfo {
        name: "no-commit-without-decision",
        kind: CheckKind::Always,
        promise: "a participant commits a transaction only once its commit decision is durable (synced) at the coordinator",
    },
    CheckInfo {
        name: "isolation",
        kind: CheckKind::Always,
        promise: "no account is locked by two transactions at once",
    },
    CheckInfo {
        name: "conservation",
        kind: CheckKind::Eventually,
        promise: "at the end of the run every transaction has ended at every participant, and the sum of all balances is what it was at the start",
    },
    CheckInfo {
        name: "no-blocked",
        kind: CheckKind::Eventually,
        promise: "from liveness_bound after the faults stop (or liveness_from) on, no live participant is blocked",
    },
    CheckInfo {
        name: "history",
        kind: CheckKind::History,
        promise: "a transfer the coordinator reported committed to its client is aborted nowhere, and is committed at every participant it touched once liveness_bound has passed (judged on what the coordinator answered: the client sees ok only for those)",
    },
];

crate::sometimes! {
    /// What a good two-phase commit test reaches.
    pub enum TwopcReach {
        ParticipantBlocked => "participant-blocked",
            "a prepared participant heard no decision in time and blocked, holding its locks (§7.5)";
        BlockedResolved => "blocked-resolved",
            "a blocked participant learned the outcome (from the coordinator or a peer) and released its locks";
        TransactionAborted => "transaction-aborted",
            "a coordinator decided abort (a no vote, or votes that did not come in time)";
        VotedNo => "voted-no",
            "a participant voted no (an account locked by another transaction, or short of money)";
        VoteTimeout => "vote-timeout",
            "a coordinator's votes did not all come within vote_timeout";
        RecoveredPrepared => "recovered-prepared",
            "a restarted participant found a prepared record without an outcome in its log: uncertain";
        RecoveredDecision => "recovered-decision",
            "a restarted coordinator found a commit decision without an end record and sent it again";
        PeerToldOutcome => "peer-told-outcome",
            "cooperative termination: a participant answered a blocked peer with the outcome it knew or decided";
    }
}

impl Protocol for TwopcProtocol {
    const NAME: &'static str = "twopc";
    const SUMMARY: &'static str = "two-phase commit (Gray 1978; Bernstein et al. 1987, ch. 7): bank transfers over participants' write-ahead logs, presumed abort, recovery, blocking, cooperative termination";
    /// Accounts are spread over the participants; each transaction touches two.
    const MAX_NODES: usize = 1_000;
    type Config = TwopcConfig;
    type Node = Node;
    type Client = BankClient;

    fn knobs() -> &'static [Knob] {
        KNOBS
    }

    fn checks() -> &'static [CheckInfo] {
        CHECKS
    }

    fn sometimes() -> &'static [crate::Sometimes] {
        TwopcReach::ALL
    }

    fn checker(name: &str, config: &TwopcConfig) -> Option<Box<dyn Checker<Node>>> {
        invariants::checker(name, config)
    }

    fn validate_cluster(config: &TwopcConfig, nodes: usize) -> Result<(), String> {
        config.validate_cluster(nodes)
    }

    fn client_config(
        workload: &Workload,
        config: &TwopcConfig,
    ) -> Result<BankClientConfig, String> {
        workload.validate()?;
        config.validate()?;
        Ok(BankClientConfig {
            workload: workload.clone(),
            config: config.clone(),
        })
    }
}
