//! # The bully algorithm (Garcia-Molina 1982)
//!
//! H. Garcia-Molina, "Elections in a Distributed Computing System", IEEE Transactions on
//! Computers C-31(1):48-59, 1982.
//!
//! Nodes have fixed priorities: here, their ids (`n5` beats `n4`). The coordinator sends
//! a heartbeat every `heartbeat`; a node that hears none for `leader_timeout` *holds an
//! election* ([`BullyNode::hold_election`]):
//!
//! 1. It sends `Election` to every node with a higher id.
//! 2. A higher node that receives `Election` answers `Answer` ("I am alive, stand down")
//!    and holds its own election.
//! 3. If no `Answer` arrives within `answer_timeout`, the node wins: it becomes coordinator
//!    ([`BullyNode::become_coordinator`]) and sends `Coordinator` to everyone. If an `Answer`
//!    arrives, it waits `coordinator_timeout` for the `Coordinator` message and starts over
//!    if none comes.
//! 4. A node that hears a lower node claim to coordinate bullies it: it holds an election,
//!    which it wins.
//!
//! The paper's correctness argument assumes a *synchronous* system: messages arrive within
//! a known bound and a node that does not answer has crashed. A partition breaks exactly
//! that assumption. With `{n1 n2} | {n3 n4 n5}`, `n5` keeps coordinating its side while
//! `n1` and `n2` stop hearing it, hold an election among themselves, and `n2` wins: two
//! coordinators, split-brain, and nothing in the algorithm notices until the partition heals
//! (then `n5` bullies `n2` back into line).
//!
//! Bully has no terms in the paper. This version adds a generation: a new coordinator takes
//! a counter one above the highest it has seen, persists it before it announces itself,
//! and adds its own id as a tiebreak (`2/n5`), and stamps its writes to the shared store
//! with it. Without a quorum, two coordinators can pick the same counter (the two sides of
//! a partition; a coordinator that restarts while a lower node took over), but the
//! tiebreak keeps their generations apart and ordered, so a fenced store refuses every
//! write below the highest it accepted and never takes two leaders' writes interleaved.
//! That turns the store's fencing on or off into the visible difference between "two
//! leaders, data intact" and "two leaders, lost updates". Bare counters (knob
//! `gen_without_node_id`) let two leaders share a generation, which `one-leader-per-gen`
//! reports.

use super::BullyReach;
use super::invariants::ElectionNode;
use super::resource::{self, Gen, StoreLog, StoreMsg, StoreReach, Writer};
use serde::{Deserialize, Serialize};
use sim_core::{Ctx, Duration, NodeId, Process, TimerId};
use std::fmt;

crate::documented! {
    /// Bully's timing, and the store's fencing switch.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields, default)]
    pub struct BullyConfig {
        /// The last node is the shared store (not a candidate). Name it `"store"` in the
        /// scenario so the trace reads well.
        pub store: bool,
        /// The store refuses writes whose generation is below the highest it has accepted.
        /// Teaching switch: `false` models a resource that trusts whoever claims to lead; the
        /// `fencing` check then reports the lost update.
        pub fencing: bool,
        /// How often the coordinator says it is alive.
        pub heartbeat: Duration,
        /// Silence after which a node holds an election.
        pub leader_timeout: Duration,
        /// How long a node waits for an `Answer` from a higher node.
        pub answer_timeout: Duration,
        /// How long a node that was answered waits for the `Coordinator` message.
        pub coordinator_timeout: Duration,
        /// How often the coordinator starts a write to the store.
        pub write_interval: Duration,
        /// How long a write takes between the leader deciding to write and the write leaving.
        pub write_work: Duration,
        /// Bug knob: generations are bare counters, without the node as a tiebreak, so two
        /// coordinators can take the same one (a restarted coordinator and its successor, or
        /// the two sides of a partition) and the store cannot tell their writes apart: caught
        /// by `one-leader-per-gen`.
        pub gen_without_node_id: bool,
        /// Bug knob: the store keeps its fence in memory only, so a restarted store has
        /// forgotten it: caught by `fencing` once the store is crashed.
        pub fence_in_memory: bool,
        /// Bug knob: a coordinator never yields to a higher node, so after a partition heals
        /// both sides' coordinators stay: caught by `eventually-one-leader`.
        pub never_yield: bool,
        /// When `eventually-one-leader` starts judging; by default, when the scenario's
        /// faults stop.
        pub liveness_from: Option<Duration>,
        /// How long after that one leader must be in charge (and stay).
        pub liveness_bound: Duration,
    }
}

impl Default for BullyConfig {
    fn default() -> Self {
        BullyConfig {
            store: true,
            fencing: true,
            heartbeat: Duration::from_millis(100),
            leader_timeout: Duration::from_millis(350),
            answer_timeout: Duration::from_millis(100),
            coordinator_timeout: Duration::from_millis(300),
            write_interval: Duration::from_millis(500),
            write_work: Duration::from_millis(50),
            gen_without_node_id: false,
            fence_in_memory: false,
            never_yield: false,
            liveness_from: None,
            liveness_bound: Duration::from_secs(3),
        }
    }
}

impl BullyConfig {
    /// Checks the timing, saying what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.heartbeat.is_zero() || self.write_interval.is_zero() {
            return Err("bully heartbeat and write_interval must be above 0s".into());
        }
        if self.leader_timeout <= self.heartbeat {
            return Err(format!(
                "bully leader_timeout {} must be above heartbeat {}: followers would time out between heartbeats",
                self.leader_timeout, self.heartbeat
            ));
        }
        Ok(())
    }
}

/// Messages.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum BullyMsg {
    /// "I am holding an election": sent to every higher node.
    Election,
    /// "I am alive and higher than you: stand down."
    Answer,
    /// "I coordinate, as generation `gen`."
    Coordinator { generation: Gen },
    /// The coordinator's periodic "still here".
    Heartbeat { generation: Gen },
    /// To or from the store.
    Store(StoreMsg),
}

impl fmt::Debug for BullyMsg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BullyMsg::Election => f.write_str("Election"),
            BullyMsg::Answer => f.write_str("Answer"),
            BullyMsg::Coordinator { generation } => write!(f, "Coordinator gen={generation}"),
            BullyMsg::Heartbeat { generation } => write!(f, "Heartbeat gen={generation}"),
            BullyMsg::Store(m) => m.fmt(f),
        }
    }
}

/// Timer tags.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum BullyTimer {
    /// A follower heard no heartbeat for `leader_timeout`.
    LeaderTimeout,
    /// Nobody higher answered our `Election`.
    AnswerTimeout,
    /// Someone higher answered but never announced itself.
    CoordinatorTimeout,
    /// Time for the coordinator of `gen` to send a heartbeat.
    Heartbeat { generation: Gen },
    /// Time for the coordinator of `gen` to start a write.
    WriteTick { generation: Gen },
    /// A write's work is done: send it.
    WriteDone { generation: Gen, seq: u64 },
}

/// Where a node stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// The shared store, not a candidate.
    Store,
    /// Following a coordinator (or waiting to hear of one).
    Follower,
    /// Sent `Election` to higher nodes; waiting for an `Answer`.
    Electing,
    /// Answered by a higher node; waiting for its `Coordinator`.
    AwaitingCoordinator,
    /// Coordinator of `gen`.
    Coordinator { generation: Gen },
}

/// What survives a crash: the highest generation seen, and the store's register.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct BullyDisk {
    pub max_gen: Gen,
    pub store: StoreLog,
}

/// A bully node (or the store).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BullyNode {
    role: Role,
    /// The coordinator this node follows, with its generation.
    leader: Option<(NodeId, Gen)>,
    /// The timeout of the current role (leader, answer, or coordinator timeout).
    deadline: Option<TimerId>,
    writer: Writer,
}

/// How many candidates (nodes `0..candidates`); the store, if any, is the last node.
fn candidates(ctx: &Ctx<'_, BullyNode>) -> u32 {
    let n = ctx.node_count() as u32;
    if ctx.config().store {
        n.saturating_sub(1)
    } else {
        n
    }
}

impl BullyNode {
    pub fn role(&self) -> Role {
        self.role
    }

    /// The coordinator this node follows, if any.
    pub fn leader(&self) -> Option<(NodeId, Gen)> {
        self.leader
    }

    fn set_deadline(&mut self, ctx: &mut Ctx<'_, Self>, after: Duration, timer: BullyTimer) {
        if let Some(t) = self.deadline.take() {
            ctx.cancel_timer(t);
        }
        self.deadline = Some(ctx.set_timer(after, timer));
    }

    fn learn(ctx: &mut Ctx<'_, Self>, generation: Gen) {
        let disk = ctx.durable_mut();
        disk.max_gen = disk.max_gen.max(generation);
    }

    /// Step 1: ask every higher node; with none, win at once.
    pub fn hold_election(&mut self, ctx: &mut Ctx<'_, Self>) {
        if matches!(self.role, Role::Coordinator { .. }) {
            ctx.reached(BullyReach::LeaderDeposed);
            ctx.note("role=follower (holding an election)");
        }
        self.role = Role::Electing;
        self.leader = None;
        let me = ctx.id().0;
        let top = candidates(ctx);
        if me + 1 >= top {
            self.become_coordinator(ctx);
            return;
        }
        for higher in me + 1..top {
            ctx.send(NodeId(higher), BullyMsg::Election);
        }
        let t = ctx.config().answer_timeout;
        self.set_deadline(ctx, t, BullyTimer::AnswerTimeout);
    }

    /// Step 3: nobody higher answered, so this node coordinates, as a new generation.
    pub fn become_coordinator(&mut self, ctx: &mut Ctx<'_, Self>) {
        // Persisted before anything leaves, with this node as the tiebreak: no other
        // leader can have it, and after a restart this node takes a higher one.
        let me = (!ctx.config().gen_without_node_id).then(|| ctx.id());
        let generation = Gen::next(ctx.durable().max_gen, me);
        ctx.durable_mut().max_gen = generation;
        self.role = Role::Coordinator { generation };
        self.leader = Some((ctx.id(), generation));
        if let Some(t) = self.deadline.take() {
            ctx.cancel_timer(t);
        }
        ctx.note(format_args!("role=leader gen={generation}"));
        for n in 0..candidates(ctx) {
            if n != ctx.id().0 {
                ctx.send(NodeId(n), BullyMsg::Coordinator { generation });
            }
        }
        let cfg = ctx.config();
        let (hb, wi) = (cfg.heartbeat, cfg.write_interval);
        ctx.set_timer(hb, BullyTimer::Heartbeat { generation });
        ctx.set_timer(wi, BullyTimer::WriteTick { generation });
    }

    /// Accept `leader` as coordinator of `gen`.
    fn follow(&mut self, ctx: &mut Ctx<'_, Self>, leader: NodeId, generation: Gen) {
        if matches!(self.role, Role::Coordinator { .. }) {
            ctx.reached(BullyReach::LeaderDeposed);
        }
        if self.leader != Some((leader, generation)) || self.role != Role::Follower {
            let note = format!(
                "role=follower leader={} gen={generation}",
                ctx.name_of(leader)
            );
            ctx.note(note);
        }
        self.role = Role::Follower;
        self.leader = Some((leader, generation));
        let t = ctx.config().leader_timeout;
        self.set_deadline(ctx, t, BullyTimer::LeaderTimeout);
    }

    fn is_electing(&self) -> bool {
        matches!(self.role, Role::Electing | Role::AwaitingCoordinator)
    }

    /// A lower node claims to coordinate: re-assert if we coordinate, else bully it.
    fn bully(&mut self, ctx: &mut Ctx<'_, Self>, lower: NodeId) {
        match self.role {
            Role::Coordinator { generation } => {
                ctx.send(lower, BullyMsg::Coordinator { generation })
            }
            _ if self.is_electing() => {}
            _ => self.hold_election(ctx),
        }
    }

    fn on_store_reply(&mut self, ctx: &mut Ctx<'_, Self>, msg: StoreMsg) {
        if let StoreMsg::Fenced {
            generation, fence, ..
        } = msg
        {
            Self::learn(ctx, fence);
            if self.role == (Role::Coordinator { generation }) {
                ctx.reached(BullyReach::LeaderDeposed);
                ctx.note(format_args!(
                    "role=follower: fenced out by the store (gen {generation} < fence {fence})"
                ));
                self.role = Role::Follower;
                self.leader = None;
                let t = ctx.config().leader_timeout;
                self.set_deadline(ctx, t, BullyTimer::LeaderTimeout);
            }
        }
    }
}

impl Process for BullyNode {
    type Config = BullyConfig;
    type Msg = BullyMsg;
    type Timer = BullyTimer;
    type Durable = BullyDisk;
    type Request = ();
    type Response = ();

    /// A coordinator.
    fn leads(&self) -> bool {
        matches!(self.role, Role::Coordinator { .. })
    }

    fn start(ctx: &mut Ctx<'_, Self>) -> Self {
        let mut node = BullyNode {
            role: Role::Follower,
            leader: None,
            deadline: None,
            writer: Writer::default(),
        };
        if ctx.id().0 >= candidates(ctx) {
            node.role = Role::Store;
            if ctx.config().fence_in_memory {
                ctx.durable_mut().store.fence = Gen::ZERO;
            }
            return node;
        }
        // A node that starts or recovers holds an election (Garcia-Molina §4).
        node.hold_election(ctx);
        node
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: BullyMsg) {
        if self.role == Role::Store {
            if let BullyMsg::Store(m) = msg {
                let fencing = ctx.config().fencing;
                let reach = StoreReach {
                    fenced: BullyReach::StaleWriteFenced.into(),
                    lost_update: BullyReach::StaleWriteAccepted.into(),
                };
                resource::serve(
                    ctx,
                    from,
                    m,
                    |d| &mut d.store,
                    BullyMsg::Store,
                    fencing,
                    reach,
                );
            }
            return;
        }
        let me = ctx.id();
        match msg {
            BullyMsg::Election => {
                ctx.send(from, BullyMsg::Answer);
                self.bully(ctx, from);
            }
            BullyMsg::Answer => {
                ctx.reached(BullyReach::Bullied);
                if self.role == Role::Electing {
                    self.role = Role::AwaitingCoordinator;
                    let t = ctx.config().coordinator_timeout;
                    self.set_deadline(ctx, t, BullyTimer::CoordinatorTimeout);
                }
            }
            BullyMsg::Coordinator { generation } | BullyMsg::Heartbeat { generation } => {
                Self::learn(ctx, generation);
                let coordinating = matches!(self.role, Role::Coordinator { .. });
                if coordinating && ctx.config().never_yield {
                    // The bug: stays in charge, and keeps telling lower nodes so.
                    if from < me {
                        self.bully(ctx, from);
                    }
                } else if from > me {
                    self.follow(ctx, from, generation);
                } else {
                    self.bully(ctx, from);
                }
            }
            BullyMsg::Store(reply) => self.on_store_reply(ctx, reply),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: BullyTimer) {
        match timer {
            BullyTimer::LeaderTimeout if self.role == Role::Follower => {
                self.deadline = None;
                if let Some((l, _)) = self.leader {
                    ctx.reached(BullyReach::CoordinatorLost);
                    let note = format!("lost coordinator {}", ctx.name_of(l));
                    ctx.note(note);
                }
                self.hold_election(ctx);
            }
            BullyTimer::AnswerTimeout if self.role == Role::Electing => {
                self.deadline = None;
                self.become_coordinator(ctx);
            }
            BullyTimer::CoordinatorTimeout if self.role == Role::AwaitingCoordinator => {
                self.deadline = None;
                self.hold_election(ctx);
            }
            BullyTimer::Heartbeat { generation }
                if self.role == (Role::Coordinator { generation }) =>
            {
                for n in 0..candidates(ctx) {
                    if n != ctx.id().0 {
                        ctx.send(NodeId(n), BullyMsg::Heartbeat { generation });
                    }
                }
                let hb = ctx.config().heartbeat;
                ctx.set_timer(hb, BullyTimer::Heartbeat { generation });
            }
            BullyTimer::WriteTick { generation }
                if self.role == (Role::Coordinator { generation }) =>
            {
                let seq = self.writer.begin();
                let cfg = ctx.config();
                let (work, wi) = (cfg.write_work, cfg.write_interval);
                ctx.set_timer(work, BullyTimer::WriteDone { generation, seq });
                ctx.set_timer(wi, BullyTimer::WriteTick { generation });
            }
            // No second look at our role: the decision to write was made at WriteTick.
            BullyTimer::WriteDone { generation, seq } if ctx.config().store => {
                let store = NodeId(ctx.node_count() as u32 - 1);
                ctx.send(store, BullyMsg::Store(StoreMsg::Write { generation, seq }));
            }
            _ => {} // a timer of a role this node has left
        }
    }
}

impl ElectionNode for BullyNode {
    fn leader_gen(&self) -> Option<Gen> {
        match self.role {
            Role::Coordinator { generation } => Some(generation),
            _ => None,
        }
    }

    fn store_log(durable: &BullyDisk) -> Option<&StoreLog> {
        Some(&durable.store).filter(|s| s.accepted + s.refused > 0)
    }
}
