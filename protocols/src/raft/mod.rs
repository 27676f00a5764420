//! # Raft: a replicated log by leader election and log replication
//!
//! Follows Diego Ongaro and John Ousterhout, "In Search of an Understandable Consensus
//! Algorithm" (USENIX ATC 2014); section numbers below are the paper's.
//!
//! A Raft cluster keeps one log on every server and makes every server apply the same
//! commands in the same order. Time is divided into *terms* (§5.1), numbered upward; each
//! term starts with an election and has at most one leader. Servers are followers,
//! candidates or leaders, and every message carries its sender's term: a server that sees
//! a higher term adopts it and becomes a follower, and a message from an older term is
//! refused.
//!
//! **Leader election (§5.2).** A follower that hears nothing from a leader for a random
//! election timeout (150-300 ms by default; the randomness makes split votes rare) becomes
//! a candidate: it increments its term, votes for itself and asks every other server with
//! `RequestVote`. A server grants at most one vote per term (it writes `votedFor` to stable
//! storage before answering), and only to a candidate whose log is at least as up to date as
//! its own: a higher last term, or the same last term and at least as long (§5.4.1, the
//! *election restriction*). A candidate with votes from a majority becomes leader. With
//! *PreVote* (Ongaro's thesis §9.6) a server first asks whether it could win without
//! raising its term, so a partitioned server that keeps timing out does not disrupt the
//! cluster when it comes back.
//!
//! **Log replication (§5.3).** The leader appends each client command to its log and sends
//! it with `AppendEntries`, which names the entry just before the new ones (`prev`,
//! index and term). A follower accepts only if its log holds that entry (the *consistency
//! check*), deleting any conflicting suffix, so by induction its log then matches the
//! leader's up to the last new entry (the *Log Matching* property). A refused leader backs
//! up and retries. Once an entry from the leader's *current* term is stored on a majority,
//! it and everything before it is committed, and servers apply committed entries to their
//! state machine in log order. The leader must not count replicas for entries of earlier
//! terms (§5.4.2, Figure 8): such an entry can be on a majority and still be overwritten by
//! a future leader that never had it.
//!
//! **Safety (§5.4).** Election safety (one leader per term), Log Matching, Leader
//! Completeness (a committed entry is in the log of every later leader) and State Machine
//! Safety (no two servers apply different commands at one index) follow from the vote
//! rule, the election restriction, the consistency check and the commit rule. The
//! checkers in [`invariants`] watch all four after every event.
//!
//! **Clients (§8).** Clients send to any server; a follower answers `NotLeader` with the
//! leader it knows. Commands carry a `(client, seq)` id and the state machine applies each
//! once, so a client may retry on timeout. Reads go through the log like writes, which
//! makes them linearizable. The optional *lease read* lets a leader answer reads from its
//! own state while a majority has recently acknowledged it: followers promise not to vote
//! for anyone else for the minimum election timeout after hearing from a leader, and the
//! leader's lease is that timeout shortened by the assumed bound on clock drift. Its safety
//! therefore rests on clocks: with drift beyond the bound it serves stale reads. Every
//! span here that guards safety (the lease, the followers' promise, election deadlines) is
//! measured on the node's *monotonic* clock, which drifts but which a `ClockSkew` step (an
//! NTP step, `date -s`) does not move, as etcd and TiKV measure theirs. A lease kept on
//! the wall clock (knob `lease_on_wall_clock`) lasts X longer after a step back by X: the
//! leader, cut off, keeps answering reads while a new leader commits writes.
//!
//! The key-value state machine and the client live in [`crate::kv`], shared with other
//! log-replication protocols. Files: [`election`] (timeouts, votes, roles), [`replication`]
//! (AppendEntries, commit, apply, client requests), [`storage`] (what survives a crash),
//! [`invariants`] (the checkers).
//!
//! ## Bug knobs
//!
//! Each is a field of [`RaftConfig`], off by default; see [`RaftProtocol`]'s knob list for
//! the check that catches each one.

pub mod election;
pub mod invariants;
pub mod replication;
pub mod storage;

use crate::kv::{KvClient, KvClientConfig, KvRequest, KvResponse, KvStore};
use crate::{CheckInfo, CheckKind, Knob, Protocol, Renamed, Workload, documented};
use serde::{Deserialize, Serialize};
use sim_core::{Checker, ClientId, Ctx, Duration, NodeId, Process, RequestId, Time, TimerId};
use std::collections::{BTreeSet, VecDeque};
use std::fmt;
pub use storage::{Durable, Entries, Entry};

documented! {
    /// Raft's configuration: timing, options, and the bug knobs. Durations are duration
    /// strings (`"150ms"`).
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields, default)]
    pub struct RaftConfig {
        /// Election timeouts are drawn uniformly from
        /// `election_timeout_min..=election_timeout_max` (§5.2).
        pub election_timeout_min: Duration,
        /// The top of the election timeout's range.
        pub election_timeout_max: Duration,
        /// How often a leader sends AppendEntries when it has nothing new (heartbeats);
        /// below `election_timeout_min`.
        pub heartbeat: Duration,
        /// The most entries one AppendEntries carries.
        pub max_entries_per_append: u32,
        /// Ask for pre-votes before starting an election (thesis §9.6).
        pub pre_vote: bool,
        /// Leaders answer reads from a lease instead of the log.
        pub lease_read: bool,
        /// The clock drift the lease assumes at most, in parts per million.
        pub lease_drift_bound_ppm: u64,
        /// When eventually-leader starts judging, and clients-complete counts operations
        /// invoked from; by default, when the scenario's faults stop ...
        pub liveness_from: Option<Duration>,
        /// ... and how long after that a stable leader must exist and operations complete.
        pub liveness_bound: Duration,
        // ----- bug knobs --------------------------------------------------------------
        /// Grant votes without the log up-to-date check (§5.4.1).
        pub vote_without_log_check: bool,
        /// Commit entries of earlier terms by counting replicas (§5.4.2, Figure 8).
        pub commit_earlier_term_by_counting: bool,
        /// Recover the term from the log and forget `votedFor` on restart (not persisted).
        pub forget_vote_on_restart: bool,
        /// Lease reads that ignore clock drift: the lease lasts the whole minimum election
        /// timeout as measured by the leader's clock.
        pub lease_without_clock_bound: bool,
        /// The leader measures its lease on its wall clock instead of its monotonic clock, so
        /// a clock stepped back stretches the lease by the step.
        pub lease_on_wall_clock: bool,
        /// A candidate counts a granted vote whatever the term of the reply, so a late
        /// grant from an earlier candidacy counts towards this one.
        pub count_stale_votes: bool,
        /// A follower appends a leader's entries without the consistency check: it
        /// takes them when its log merely reaches `prevLogIndex`, whatever the term there.
        pub skip_prev_log_check: bool,
    }
    renamed: &[
        Renamed { old: "election_timeout_ms_min", new: "election_timeout_min", unit: "ms" },
        Renamed { old: "election_timeout_ms_max", new: "election_timeout_max", unit: "ms" },
        Renamed { old: "heartbeat_ms", new: "heartbeat", unit: "ms" },
        Renamed { old: "liveness_from_ms", new: "liveness_from", unit: "ms" },
        Renamed { old: "liveness_bound_ms", new: "liveness_bound", unit: "ms" },
    ],
}

impl Default for RaftConfig {
    fn default() -> Self {
        RaftConfig {
            election_timeout_min: Duration::from_millis(150),
            election_timeout_max: Duration::from_millis(300),
            heartbeat: Duration::from_millis(50),
            max_entries_per_append: 64,
            pre_vote: false,
            lease_read: false,
            lease_drift_bound_ppm: 100_000,
            liveness_from: None,
            liveness_bound: Duration::from_secs(5),
            vote_without_log_check: false,
            commit_earlier_term_by_counting: false,
            forget_vote_on_restart: false,
            lease_without_clock_bound: false,
            lease_on_wall_clock: false,
            count_stale_votes: false,
            skip_prev_log_check: false,
        }
    }
}

impl RaftConfig {
    /// Checks the bounds, saying what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.election_timeout_min.is_zero()
            || self.election_timeout_min > self.election_timeout_max
        {
            return Err(format!(
                "raft election_timeout_min {} must be above 0s and at most election_timeout_max {}",
                self.election_timeout_min, self.election_timeout_max
            ));
        }
        if self.heartbeat.is_zero() || self.heartbeat >= self.election_timeout_min {
            return Err(format!(
                "raft heartbeat {} must be above 0s and below election_timeout_min {}",
                self.heartbeat, self.election_timeout_min
            ));
        }
        if self.max_entries_per_append == 0 {
            return Err("raft max_entries_per_append is 0: expected at least 1".into());
        }
        if self.lease_drift_bound_ppm >= 1_000_000 {
            return Err(format!(
                "raft lease_drift_bound_ppm {} must be below 1000000 (100%)",
                self.lease_drift_bound_ppm
            ));
        }
        Ok(())
    }

    /// Followers and candidates respect a leader's recent contact before voting
    /// (needed for leases, and part of PreVote).
    fn sticky_leader(&self) -> bool {
        self.lease_read || self.pre_vote
    }
}

/// Messages between servers (Figure 2), with short trace forms.
#[derive(Clone, PartialEq, Eq)]
pub enum Msg {
    /// `pre_vote`: asks whether the sender could win term `term` without anyone changing
    /// term (thesis §9.6).
    RequestVote {
        term: u64,
        last_log_index: u64,
        last_log_term: u64,
        pre_vote: bool,
    },
    RequestVoteResponse {
        term: u64,
        granted: bool,
        pre_vote: bool,
    },
    /// `stamp` is the leader's lease clock (monotonic) when it sent this; the answer
    /// echoes it (leases).
    AppendEntries {
        term: u64,
        prev_log_index: u64,
        prev_log_term: u64,
        entries: Entries,
        leader_commit: u64,
        stamp: Time,
    },
    /// On success `index` is the follower's last index matching the leader; on failure it
    /// is where the leader should try next (the conflict hint).
    AppendEntriesResponse {
        term: u64,
        success: bool,
        index: u64,
        stamp: Time,
    },
}

impl fmt::Debug for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Msg::RequestVote {
                term,
                last_log_index,
                last_log_term,
                pre_vote,
            } => {
                let kind = if *pre_vote { "PreVote" } else { "RequestVote" };
                write!(
                    f,
                    "{kind} term={term} last={last_log_index}/{last_log_term}"
                )
            }
            Msg::RequestVoteResponse {
                term,
                granted,
                pre_vote,
            } => {
                let kind = if *pre_vote {
                    "PreVoteResponse"
                } else {
                    "RequestVoteResponse"
                };
                write!(f, "{kind} term={term} granted={granted}")
            }
            Msg::AppendEntries {
                term,
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
                ..
            } => write!(
                f,
                "AppendEntries term={term} prev={prev_log_index}/{prev_log_term} n={} commit={leader_commit}",
                entries.len()
            ),
            Msg::AppendEntriesResponse {
                term,
                success,
                index,
                ..
            } => write!(
                f,
                "AppendEntriesResponse term={term} success={success} index={index}"
            ),
        }
    }
}

/// Timer tags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// No word from a leader: start an election (or a pre-vote).
    Election,
    /// The leader's heartbeat.
    Heartbeat,
}

/// A server's role (§5.1), plus the PreVote phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    Follower,
    PreCandidate,
    Candidate,
    Leader,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Follower => "follower",
            Role::PreCandidate => "pre-candidate",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
        }
    }
}

/// A Raft server's volatile state; its persistent state is [`Durable`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    role: Role,
    /// The leader of the current term, when known (for client redirects).
    leader: Option<NodeId>,
    /// Who granted a vote (or pre-vote) in the current election, by node index; empty
    /// outside elections.
    votes: BTreeSet<u32>,
    commit_index: u64,
    last_applied: u64,
    store: KvStore,
    // Leader state (Figure 2), one entry per server, allocated when this server becomes
    // leader and freed when it steps down: followers hold none, so a cluster of N servers
    // holds O(N) of it, not N per server.
    next_index: Vec<u64>,
    match_index: Vec<u64>,
    /// The latest `stamp` each follower echoed in this term (leases).
    acked_stamp: Vec<Option<Time>>,
    /// Whether each follower answered since the last heartbeat: one that did not is
    /// probed with an empty AppendEntries instead of being sent entries again.
    responded: Vec<bool>,
    /// Client requests waiting for their entry to be applied, `(log index, client,
    /// request)` in index order: a leader appends at the end of its log and applies in
    /// log order, so they leave from the front (a queue, not a map search per entry).
    pending: VecDeque<(u64, ClientId, RequestId)>,
    /// The lease ends at this reading of the lease clock (monotonic; the wall clock with
    /// knob `lease_on_wall_clock`), for leaders with `lease_read`.
    lease_until: Time,
    /// When this server last heard from a current leader (its monotonic clock).
    leader_contact: Option<Time>,
    election_timer: Option<TimerId>,
    /// When the election timeout ends, and when the pending election timer fires
    /// (monotonic clock; the timer fires at or before the deadline).
    election_deadline: Time,
    election_timer_at: Time,
    heartbeat_timer: Option<TimerId>,
    /// Restarted and has not heard from a leader since (for `voted-after-restart`).
    fresh_from_restart: bool,
}

impl Node {
    pub fn role(&self) -> Role {
        self.role
    }

    pub fn is_leader(&self) -> bool {
        self.role == Role::Leader
    }

    /// The leader this server believes in, if any.
    pub fn leader_hint(&self) -> Option<NodeId> {
        self.leader
    }

    /// The highest log index this server knows to be committed.
    pub fn commit_index(&self) -> u64 {
        self.commit_index
    }

    /// How many per-server entries this server holds (votes, next and match index, lease
    /// stamps): the cluster size while it leads, the votes it counted while it is a
    /// candidate, none as a follower. What keeps a cluster's memory linear in its size.
    pub fn per_server_entries(&self) -> usize {
        self.votes.len()
            + self.next_index.len()
            + self.match_index.len()
            + self.acked_stamp.len()
            + self.responded.len()
    }

    /// The highest log index applied to its state machine.
    pub fn last_applied(&self) -> u64 {
        self.last_applied
    }

    /// Frees the per-server leader state (a leader steps down).
    fn drop_leader_state(&mut self) {
        self.next_index = Vec::new();
        self.match_index = Vec::new();
        self.acked_stamp = Vec::new();
        self.responded = Vec::new();
    }

    /// Changes role, noting it in the trace (every role change is a note).
    fn set_role(&mut self, ctx: &mut Ctx<'_, Self>, role: Role) {
        if self.role == Role::Leader && role != Role::Leader {
            self.drop_leader_state();
        }
        if matches!(role, Role::Follower | Role::Leader) {
            self.votes.clear();
        }
        if self.role != role {
            self.role = role;
            let term = ctx.durable().current_term();
            ctx.note(format_args!("role={} term={term}", role.name()));
        }
    }
}

impl Process for Node {
    type Config = RaftConfig;
    type Msg = Msg;
    type Timer = Timer;
    type Durable = Durable;
    type Request = std::rc::Rc<KvRequest>;
    type Response = KvResponse;

    /// A leader of its term.
    fn leads(&self) -> bool {
        self.role == Role::Leader
    }

    /// Everything Raft's four safety checkers ([`invariants`]) read of a server, in the
    /// places of [`invariants::STAMP_ROLE`] and the others: its role, term, commit and
    /// applied indexes, and its log, which changes only by appending (the length) and
    /// cutting back (the count of cuts).
    fn check_stamp(&self, d: &Durable) -> Option<sim_core::CheckStamp> {
        let (truncations, _) = d.truncations();
        Some([
            self.role as u64,
            d.current_term(),
            self.commit_index,
            self.last_applied,
            d.last_index(),
            truncations,
        ])
    }

    fn start(ctx: &mut Ctx<'_, Self>) -> Self {
        if ctx.restarted() && ctx.config().forget_vote_on_restart {
            ctx.durable_mut().forget_vote();
        }
        let mut node = Node {
            role: Role::Follower,
            leader: None,
            votes: BTreeSet::new(),
            commit_index: 0,
            last_applied: 0,
            store: KvStore::default(),
            next_index: Vec::new(),
            match_index: Vec::new(),
            acked_stamp: Vec::new(),
            responded: Vec::new(),
            pending: VecDeque::new(),
            lease_until: Time::ZERO,
            // A restarted server may have promised a leader not to vote for a while; it
            // does not remember when, so it waits the whole promise out (leases).
            leader_contact: (ctx.restarted() && ctx.config().sticky_leader())
                .then(|| ctx.monotonic()),
            election_timer: None,
            election_deadline: Time::ZERO,
            election_timer_at: Time::ZERO,
            heartbeat_timer: None,
            fresh_from_restart: ctx.restarted(),
        };
        if ctx.restarted() {
            let d = ctx.durable();
            let (term, last) = (d.current_term(), d.last_index());
            ctx.note(format_args!(
                "role=follower term={term} recovered log={last}"
            ));
        }
        // Room for a run's worth of entries in a small cluster's logs, made once: a 60 s
        // benchmark run logs about 3,000, and a log grown by doubling was copied a dozen
        // times (issue #17). Large clusters grow as before (their memory is per server).
        if ctx.node_count() <= LOG_RESERVE_NODES {
            ctx.durable_mut().reserve_log(crate::kv::RECORD_RESERVE);
        }
        node.reset_election_timer(ctx);
        node
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Msg) {
        match msg {
            Msg::RequestVote {
                term,
                last_log_index,
                last_log_term,
                pre_vote,
            } => self.request_vote(ctx, from, term, last_log_index, last_log_term, pre_vote),
            Msg::RequestVoteResponse {
                term,
                granted,
                pre_vote,
            } => self.request_vote_response(ctx, from, term, granted, pre_vote),
            Msg::AppendEntries {
                term,
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
                stamp,
            } => self.append_entries(
                ctx,
                from,
                term,
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
                stamp,
            ),
            Msg::AppendEntriesResponse {
                term,
                success,
                index,
                stamp,
            } => self.append_entries_response(ctx, from, term, success, index, stamp),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: Timer) {
        match timer {
            Timer::Election => self.election_timer_fired(ctx),
            Timer::Heartbeat => {
                self.heartbeat_timer = None;
                self.heartbeat(ctx);
            }
        }
    }

    fn on_request(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        client: ClientId,
        id: RequestId,
        request: std::rc::Rc<KvRequest>,
    ) {
        self.client_request(ctx, client, id, request);
    }
}

/// Clusters of up to this many servers reserve room in their logs at start.
const LOG_RESERVE_NODES: usize = 16;

/// Raft as a scenario protocol.
pub struct RaftProtocol;

/// The bug knobs.
pub const KNOBS: &[Knob] = &[
    Knob {
        name: "vote_without_log_check",
        mistake: "a server grants its vote without checking that the candidate's log is at least as up to date as its own (§5.4.1), so a leader can be elected without committed entries and overwrite them",
        caught_by: "leader-completeness",
    },
    Knob {
        name: "commit_earlier_term_by_counting",
        mistake: "a leader commits an entry of an earlier term once it is on a majority (the paper's Figure 8), though a later leader without it can still be elected and overwrite it",
        caught_by: "leader-completeness",
    },
    Knob {
        name: "forget_vote_on_restart",
        mistake: "currentTerm and votedFor are not persisted: a restarted server recovers its term from its log and votes a second time in a term it already voted in, so two leaders are elected in one term",
        caught_by: "election-safety",
    },
    Knob {
        name: "lease_without_clock_bound",
        mistake: "lease reads trust the leader's clock for the whole minimum election timeout with no allowance for drift: a leader whose clock runs slow keeps serving reads after a new leader has taken writes (stale reads)",
        caught_by: "linearizable",
    },
    Knob {
        name: "lease_on_wall_clock",
        mistake: "the leader measures its read lease on its wall clock instead of its monotonic clock: a ClockSkew step back by X stretches the lease by X, so a leader cut off from the others keeps answering reads while a new leader commits writes (stale reads); the lease protocol's knob of the same name is the same mistake",
        caught_by: "linearizable",
    },
    Knob {
        name: "count_stale_votes",
        mistake: "a candidate counts a granted RequestVote reply without checking that its term is the candidate's current term: a grant that arrives late, from an earlier candidacy, counts towards this one, though the voter may have voted for another candidate since, so two leaders are elected in one term (only late messages show it: a reply must outlive an election timeout)",
        caught_by: "election-safety",
    },
    Knob {
        name: "skip_prev_log_check",
        mistake: "a follower appends a leader's entries without checking that the entry before them matches (prevLogIndex and prevLogTerm, §5.3): a follower holding a deposed leader's entry there takes the new leader's entries after it, so two logs hold an entry with the same index and term on different histories",
        caught_by: "log-matching",
    },
];

crate::sometimes! {
    /// What a good Raft test reaches (`reach: [...]` in a scenario; `sweep --coverage`).
    pub enum RaftReach {
        LeaderChangedUncommitted => "leader-changed-uncommitted",
            "leadership changed while a leader's log held uncommitted entries: a leader stepped down with them, or a new leader was elected holding entries of earlier terms it had not committed";
        FollowerEntryOverwritten => "follower-entry-overwritten",
            "a follower deleted a conflicting suffix of its log for a leader's entries (§5.3)";
        StaleVoteReply => "stale-vote-reply",
            "a RequestVote reply arrived after the term it answered had ended for its candidate";
        LeaseReadServed => "lease-read-served",
            "a leader answered a read from its lease, without the log";
        ClientRetried => "client-retried",
            "a client resent a request whose attempt went unanswered (it may have been applied)";
        DuplicateApplied => "duplicate-applied-once",
            "a command that reached the log twice (a retry) was applied once: the second copy found it applied";
        AppendRefused => "append-refused",
            "a follower refused AppendEntries because its log lacked the previous entry, and the leader backed up (§5.3)";
        VotedAfterRestart => "voted-after-restart",
            "a restarted server granted a vote before hearing from any leader: the vote rests on what it persisted (§5.2)";
    }
}

/// The checks.
pub const CHECKS: &[CheckInfo] = &[
    CheckInfo {
        name: "election-safety",
        kind: CheckKind::Always,
        promise: "at most one leader is elected in a term (§5.2)",
    },
    CheckInfo {
        name: "log-matching",
        kind: CheckKind::Always,
        promise: "two logs with an entry of the same index and term are identical up to that index (§5.3)",
    },
    CheckInfo {
        name: "leader-completeness",
        kind: CheckKind::Always,
        promise: "an entry committed in a term is in the log of every leader of a later term (§5.4)",
    },
    CheckInfo {
        name: "state-machine-safety",
        kind: CheckKind::Always,
        promise: "no two servers apply different commands at the same log index (§5.4.3)",
    },
    CheckInfo {
        name: "eventually-leader",
        kind: CheckKind::Eventually,
        promise: "within liveness_bound after the faults stop (or liveness_from) a leader is elected that every live server follows, and one still leads at the end",
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

impl Protocol for RaftProtocol {
    const NAME: &'static str = "raft";
    const SUMMARY: &'static str = "Raft (Ongaro & Ousterhout 2014): a replicated key-value store with elections, log replication, PreVote and lease reads";
    /// Every election broadcasts to every server and the leader sends N-1 AppendEntries per
    /// heartbeat, so time grows with N squared: 20,000 servers take about 2 minutes and
    /// 0.5 GB per simulated second (docs/PERFORMANCE.md); 10,000 is where it stays usable.
    const MAX_NODES: usize = 10_000;
    type Config = RaftConfig;
    type Node = Node;
    type Client = KvClient;

    fn knobs() -> &'static [Knob] {
        KNOBS
    }

    fn checks() -> &'static [CheckInfo] {
        CHECKS
    }

    fn sometimes() -> &'static [crate::Sometimes] {
        RaftReach::ALL
    }

    fn checker(name: &str, config: &RaftConfig) -> Option<Box<dyn Checker<Node>>> {
        invariants::checker(name, config)
    }

    fn history_model() -> Option<lincheck::ModelKind> {
        Some(lincheck::ModelKind::Kv)
    }

    /// Election timeouts of 100-300ms with a spread of 50-300ms, heartbeats of 10ms to a
    /// third of the minimum timeout, PreVote and lease reads on or off, and a lease
    /// drift bound of 5-50% (40-50% in half the seeds; the drift swarm draws stays within
    /// 90% of it).
    fn swarm_config(
        config: &RaftConfig,
        rng: &mut sim_core::SimRng,
    ) -> (RaftConfig, Vec<(&'static str, String)>) {
        let mut c = config.clone();
        let ms = Duration::from_millis;
        let min = rng.between(100, 300);
        c.election_timeout_min = ms(min);
        c.election_timeout_max = ms(min + rng.between(50, 300));
        c.heartbeat = ms(rng.between(10, min / 3));
        c.pre_vote = rng.below(2) == 1;
        c.lease_read = rng.below(2) == 1;
        // The bound at the top of its range in half the seeds: where a lease is
        // shortest and a wrong one is longest.
        c.lease_drift_bound_ppm = if rng.below(2) == 1 {
            rng.between(400_000, 500_000)
        } else {
            rng.between(50_000, 500_000)
        };
        let drawn = vec![
            ("election_timeout_min", c.election_timeout_min.to_string()),
            ("election_timeout_max", c.election_timeout_max.to_string()),
            ("heartbeat", c.heartbeat.to_string()),
            ("pre_vote", c.pre_vote.to_string()),
            ("lease_read", c.lease_read.to_string()),
            ("lease_drift_bound_ppm", c.lease_drift_bound_ppm.to_string()),
        ];
        (c, drawn)
    }

    /// A candidate gives up on its votes after its election timeout.
    fn swarm_give_up(config: &RaftConfig) -> Option<(Duration, Duration)> {
        Some((config.election_timeout_min, config.election_timeout_max))
    }

    /// With lease reads, 90% of the lease's drift bound; without, 10% (safety does not
    /// rest on clocks then).
    fn swarm_max_drift_ppm(config: &RaftConfig) -> i64 {
        if config.lease_read {
            (config.lease_drift_bound_ppm * 9 / 10) as i64
        } else {
            100_000
        }
    }

    fn history_check(
        name: &str,
        history: &lincheck::History,
        config: &RaftConfig,
        end: sim_core::Time,
        max_steps: u64,
    ) -> Result<(), crate::HistoryFailure> {
        Self::history_check_in_run(name, history, config, end, sim_core::Time::ZERO, max_steps)
    }

    /// `clients-complete` counts from `liveness_from`, else from when the faults stopped.
    fn history_check_in_run(
        name: &str,
        history: &lincheck::History,
        config: &RaftConfig,
        end: sim_core::Time,
        faults_stop: sim_core::Time,
        max_steps: u64,
    ) -> Result<(), crate::HistoryFailure> {
        let liveness = (
            crate::kv::completion_start(config.liveness_from, faults_stop),
            config.liveness_bound,
        );
        crate::kv::history_check("raft", name, history, liveness, end, max_steps)
    }

    fn client_config(workload: &Workload, config: &RaftConfig) -> Result<KvClientConfig, String> {
        crate::kv::client_config(workload, config.validate(), RaftReach::ClientRetried)
    }
}
