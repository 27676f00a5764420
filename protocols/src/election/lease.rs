//! # Lease-based leader election with a generation clock
//!
//! C. Gray and D. Cheriton, "Leases: An Efficient Fault-Tolerant Mechanism for Distributed
//! File Cache Consistency", SOSP 1989; the majority-lease shape is that of Chubby's master
//! lease (Burrows, OSDI 2006) and PaxosLease (Trencseni et al. 2010).
//!
//! Every candidate is also an *acceptor*. An acceptor promises, on disk, the highest
//! generation it has granted and to whom, and while a grant is running (`lease`, measured
//! on its own clock from when it granted) it grants nobody else.
//!
//! 1. A follower that holds no running grant for anyone waits a random election timeout,
//!    then [`become_candidate`](LeaseNode::become_candidate): it picks a generation one
//!    above any it has seen, starts its lease clock *now*, and asks every candidate for a
//!    lease (`RequestLease`).
//! 2. An acceptor grants if it is not waiting out a crash, holds no running grant for
//!    another node, and has promised no higher generation (nor this one to someone else).
//! 3. With grants from a majority, the candidate
//!    [`become_leader`](LeaseNode::become_leader) of that generation. It believes its lease
//!    until `lease * (1 - 2 * max_drift_ppm / 10^6)` after it *sent* the request: earlier
//!    than any acceptor's grant can run out, if clocks drift at most `max_drift_ppm`.
//! 4. The leader renews every `renew_interval`; a round a majority grants extends the
//!    lease. If renewals fail (a partition, a crash), the lease runs out and the leader
//!    steps down *before* any majority can elect someone else.
//!
//! Two majorities share a node, and that node promises each generation once: so each
//! generation has at most one leader (`one-leader-per-gen`). And if clocks measure
//! durations honestly, leases never overlap: whenever a leader acts on its lease (checks
//! it, on its monotonic clock, and begins a write), the majority that granted its newest
//! confirmed round still runs those grants, so no majority grants anyone else
//! (`exclusive-lease`, the property a lease promises). `split-brain` ("never two nodes
//! believing they lead at one instant") is stronger than that, and a pause breaks it
//! without breaking the lease: see below.
//!
//! ## Liveness: one leader again after the faults
//!
//! Once the faults stop, a leader must emerge and stay (`eventually-one-leader`, within
//! `liveness_bound` of the faults stopping: by default 3s, i.e. about three election
//! rounds of `lease + election_timeout_max` each in the worst case, far more on average).
//! Three things used to stretch that past any budget under loss (issue #14, swarm seeds
//! 427 and 1558, and lease-nemesis seeds 16 and 24), each a way a failed candidate kept
//! acceptors from granting:
//! - **A candidate that gave up kept its grants.** An acceptor grants nobody else while a
//!   grant runs, so a candidate's own grant, and those it got from others, blocked a
//!   majority for a whole lease after it had failed. A candidate that gives up now drops
//!   its own grant and sends `Release` to every acceptor, which drops the grant it gave it
//!   (`LeaseNode::give_up`): safe, since the candidate will never lead on it.
//! - **A candidate waited a whole lease to give up.** With a grant or a refusal lost, it
//!   sat on its partial majority until its lease timer. It now gives up after
//!   `election_timeout_min` (tens of round trips), and the randomized election timeout
//!   spreads the next candidates out.
//! - **A leader outbid by a failed candidate could never win those acceptors back.** An
//!   acceptor that promised a higher generation, or the leader's own to another node,
//!   refuses every renewal of the leader's generation for good, and campaigns itself; the
//!   leader then leads on a bare majority, where one lost message a round costs a round,
//!   and a few in a row cost the lease. A leader refused that way renews on a generation
//!   above the highest it heard of (`LeaseNode::renewal_generation`), as a PaxosLease
//!   proposer retries with a higher ballot, and leads it once a majority grants a round of
//!   it; its old rounds' lease covers it meanwhile. Knob `renew_on_old_generation` is the
//!   classic mistake of renewing on the elected generation for good
//!   (`scenarios/split-brain/lease-outbid-leader.ron`).
//!
//! With all three, the swarm file's 2,000 knob-off seeds (loss up to 10%, duplication,
//! long-tailed latency, overlapping faults of every kind) all have one leader within 3s of
//! the faults stopping (docs/BUG-FINDING.md). The bound is probabilistic, not a
//! guarantee: duelling candidates are separated by random timeouts only, as in Raft.
//!
//! Durations are measured with timers, which tick at the node's clock *rate* and ignore
//! clock *steps*: a monotonic clock. Two things still break the belief, and the demos show
//! both:
//! - **A clock step, with the wall clock** (knob `lease_on_wall_clock`): the leader stores
//!   "my lease ends at 12:00:03" and compares the wall clock to it. An NTP step back of 3s
//!   gives it 3s more of believing, while the others elect a new leader: it acts on a
//!   lease a majority has given to someone else (`exclusive-lease`, and `split-brain`).
//! - **A long pause** (a stop-the-world GC): the leader decides to write, freezes, and
//!   wakes up after its lease ended; the write it was in the middle of still leaves with
//!   the old generation. No lease can prevent this (DDIA ch. 8, "Process Pauses").
//!   The decision was made on a valid lease, so `exclusive-lease` holds; `split-brain`
//!   fails the instant the node resumes believing it leads.
//!
//! Only the resource can stop the damage: with fencing on, the store refuses the old
//! generation's write. See [`super::resource`].

use super::LeaseReach;
use super::invariants::ElectionNode;
use super::resource::{self, Gen, StoreLog, StoreMsg, StoreReach, Writer};
use serde::{Deserialize, Serialize};
use sim_core::{Ctx, Duration, NodeId, Process, Time, TimerId};
use std::collections::BTreeMap;
use std::fmt;

crate::documented! {
    /// Lease timing, the store's fencing switch, and the bug knobs.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields, default)]
    pub struct LeaseConfig {
        /// The last node is the shared store (not a candidate). Name it `"store"`.
        pub store: bool,
        /// The store refuses writes whose generation is below the highest it has accepted.
        /// Teaching switch: `false` models a resource that trusts whoever claims to lead; the
        /// `fencing` check then reports the lost update.
        pub fencing: bool,
        /// How long an acceptor's grant runs, on its clock.
        pub lease: Duration,
        /// How often the leader renews (well below `lease`).
        pub renew_interval: Duration,
        /// The clock drift the protocol assumes, in parts per million; the leader shortens its
        /// belief by twice this (its clock slow, the acceptor's fast).
        pub max_drift_ppm: u32,
        /// A follower with no running grant waits uniformly in
        /// `[election_timeout_min, election_timeout_max]` before asking.
        pub election_timeout_min: Duration,
        /// The top of that range.
        pub election_timeout_max: Duration,
        /// How often the leader starts a write to the store.
        pub write_interval: Duration,
        /// How long a write takes between the leader checking its lease and the write leaving.
        pub write_work: Duration,
        /// Bug knob: the leader keeps its lease as a wall-clock deadline ("valid until
        /// 12:00:03") and compares the clock against it, instead of measuring a duration on a
        /// monotonic clock. A clock stepped back makes the lease seem to last longer: caught by
        /// `exclusive-lease` (the leader acts on a lease a majority granted another), and
        /// also `split-brain` (and, with fencing off, `fencing`).
        pub lease_on_wall_clock: bool,
        /// Bug knob: half the candidates (rounded down) count as a quorum, so two sides of an
        /// even split can both elect, with the same generation: caught by `one-leader-per-gen`.
        pub half_is_quorum: bool,
        /// Bug knob: the store keeps its fence in memory only, so a restarted store has
        /// forgotten it: caught by `fencing` once the store is crashed.
        pub fence_in_memory: bool,
        /// Bug knob: the leader renews on the generation it was elected with for good, even
        /// when acceptors refuse it for having promised a higher one (to candidates that
        /// failed). Those acceptors never grant it again, so it leads on a bare majority
        /// that one lost message per round can break, while they campaign on and on:
        /// caught by `eventually-one-leader`.
        pub renew_on_old_generation: bool,
        /// When `eventually-one-leader` starts judging; by default, when the scenario's
        /// faults stop.
        pub liveness_from: Option<Duration>,
        /// How long after that one leader must be in charge (and stay).
        pub liveness_bound: Duration,
    }
}

impl Default for LeaseConfig {
    fn default() -> Self {
        LeaseConfig {
            store: true,
            fencing: true,
            lease: Duration::from_millis(1000),
            renew_interval: Duration::from_millis(250),
            max_drift_ppm: 10_000,
            election_timeout_min: Duration::from_millis(300),
            election_timeout_max: Duration::from_millis(600),
            write_interval: Duration::from_millis(500),
            write_work: Duration::from_millis(50),
            lease_on_wall_clock: false,
            half_is_quorum: false,
            fence_in_memory: false,
            renew_on_old_generation: false,
            liveness_from: None,
            liveness_bound: Duration::from_secs(3),
        }
    }
}

impl LeaseConfig {
    /// Checks the timing, saying what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.renew_interval.is_zero() || self.write_interval.is_zero() {
            return Err("lease renew_interval and write_interval must be above 0s".into());
        }
        if self.renew_interval >= self.believed_lease() {
            return Err(format!(
                "lease renew_interval {} must be below the lease the leader believes ({} of lease {}): it would lapse between renewals",
                self.renew_interval,
                self.believed_lease(),
                self.lease
            ));
        }
        if self.election_timeout_min > self.election_timeout_max {
            return Err(format!(
                "lease election_timeout_min {} is above election_timeout_max {}",
                self.election_timeout_min, self.election_timeout_max
            ));
        }
        if self.max_drift_ppm >= 500_000 {
            return Err(format!(
                "lease max_drift_ppm {} must be below 500000",
                self.max_drift_ppm
            ));
        }
        Ok(())
    }

    /// How long the leader believes a granted round lasts, from when it sent the request.
    pub fn believed_lease(&self) -> Duration {
        let ns = u128::from(self.lease.as_nanos())
            * u128::from(1_000_000 - 2 * self.max_drift_ppm.min(499_999))
            / 1_000_000;
        Duration::from_nanos(ns as u64)
    }
}

/// Messages.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum LeaseMsg {
    /// "Grant me (or renew) the lease for generation `gen`", round `round` of its holder.
    RequestLease { generation: Gen, round: u64 },
    /// Granted.
    Grant { generation: Gen, round: u64 },
    /// Refused; `promised` is the highest generation this acceptor has promised.
    Refuse {
        generation: Gen,
        round: u64,
        promised: Gen,
    },
    /// "I gave up `gen` (round `round`): drop the grant you gave me for it."
    Release { generation: Gen, round: u64 },
    /// To or from the store.
    Store(StoreMsg),
}

impl fmt::Debug for LeaseMsg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LeaseMsg::RequestLease { generation, round } => {
                write!(f, "RequestLease gen={generation} round={round}")
            }
            LeaseMsg::Grant { generation, round } => {
                write!(f, "Grant gen={generation} round={round}")
            }
            LeaseMsg::Refuse {
                generation,
                round,
                promised,
            } => {
                write!(
                    f,
                    "Refuse gen={generation} round={round} promised={promised}"
                )
            }
            LeaseMsg::Release { generation, round } => {
                write!(f, "Release gen={generation} round={round}")
            }
            LeaseMsg::Store(m) => m.fmt(f),
        }
    }
}

/// Timer tags.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LeaseTimer {
    /// A follower's random wait before asking for the lease.
    Election,
    /// An acceptor's grant ran out.
    GrantEnd,
    /// The lease counted from round `round` of `gen` ran out (on the holder's clock).
    LeaseEnd { generation: Gen, round: u64 },
    /// A candidate's first round has had `election_timeout_min` to win a majority.
    GiveUp { generation: Gen, round: u64 },
    /// Time for the leader of `gen` to renew.
    Renew { generation: Gen },
    /// A restarted node has waited out any grant it made before it crashed.
    Recovered,
    /// Time for the leader of `gen` to start a write.
    WriteTick { generation: Gen },
    /// A write's work is done: send it.
    WriteDone { generation: Gen, seq: u64 },
}

/// Where a node stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    Store,
    Follower,
    Candidate { generation: Gen },
    Leader { generation: Gen },
}

/// What survives a crash.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct LeaseDisk {
    /// The highest generation this acceptor granted, and to whom.
    pub promised: Option<(Gen, NodeId)>,
    /// The highest generation seen anywhere.
    pub max_gen: Gen,
    /// The store's register (on the store node only).
    pub store: StoreLog,
}

/// A lease candidate/acceptor (or the store).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LeaseNode {
    role: Role,
    /// The holder side: the current round, when it was sent (wall clock: only knob
    /// `lease_on_wall_clock` reads it), who granted it.
    round: u64,
    round_sent_at: Time,
    /// When the current round was sent, on the monotonic clock.
    round_sent_mono: Time,
    /// The lease's end on the monotonic clock (from the newest round a majority granted).
    mono_deadline: Option<Time>,
    grants: Vec<NodeId>,
    refusals: u32,
    /// The newest round a majority granted.
    confirmed: Option<u64>,
    /// Knob `lease_on_wall_clock`: the lease's end as a wall clock reading.
    wall_deadline: Option<Time>,
    /// A leader refused for a higher generation renews on this new one; it leads it once
    /// a majority grants a round of it (see [`LeaseNode::renewal_generation`]).
    moving_to: Option<Gen>,
    /// The highest generation an acceptor refusing this leader's renewal had promised, if
    /// at least the renewal's own (promised to another node: a failed candidate's).
    outbid: Option<Gen>,
    /// The acceptor side: a running grant, and its timer.
    granted_to: Option<(NodeId, Gen)>,
    grant_timer: Option<TimerId>,
    election_timer: Option<TimerId>,
    /// Restarted and still waiting out any grant made before the crash.
    recovering: bool,
    writer: Writer,
}

fn candidates(ctx: &Ctx<'_, LeaseNode>) -> u32 {
    let n = ctx.node_count() as u32;
    if ctx.config().store {
        n.saturating_sub(1)
    } else {
        n
    }
}

fn quorum(ctx: &Ctx<'_, LeaseNode>) -> usize {
    let c = candidates(ctx) as usize;
    if ctx.config().half_is_quorum {
        (c / 2).max(1)
    } else {
        c / 2 + 1
    }
}

impl LeaseNode {
    pub fn role(&self) -> Role {
        self.role
    }

    /// The node this acceptor currently grants the lease to, if any.
    pub fn granted_to(&self) -> Option<(NodeId, Gen)> {
        self.granted_to
    }

    fn arm_election(&mut self, ctx: &mut Ctx<'_, Self>) {
        if self.granted_to.is_some() || self.recovering || self.role != Role::Follower {
            return;
        }
        if let Some(t) = self.election_timer.take() {
            ctx.cancel_timer(t);
        }
        let cfg = ctx.config();
        let (lo, hi) = (
            cfg.election_timeout_min.as_nanos(),
            cfg.election_timeout_max.as_nanos(),
        );
        let wait = Duration::from_nanos(ctx.rng().between(lo, hi));
        self.election_timer = Some(ctx.set_timer(wait, LeaseTimer::Election));
    }

    /// Step 1: ask every candidate for a lease with a new generation.
    pub fn become_candidate(&mut self, ctx: &mut Ctx<'_, Self>) {
        let disk = ctx.durable();
        let generation = Gen::next(
            disk.max_gen.max(disk.promised.map_or(Gen::ZERO, |p| p.0)),
            None,
        );
        ctx.durable_mut().max_gen = generation;
        self.role = Role::Candidate { generation };
        self.confirmed = None;
        self.moving_to = None;
        self.outbid = None;
        ctx.note(format_args!("role=candidate gen={generation}"));
        self.send_round(ctx, generation);
        let wait = ctx.config().election_timeout_min;
        let round = self.round;
        ctx.set_timer(wait, LeaseTimer::GiveUp { generation, round });
    }

    /// Sends one round of `RequestLease` (a first request or a renewal), starting the lease
    /// clock now, and grants ourselves.
    fn send_round(&mut self, ctx: &mut Ctx<'_, Self>, generation: Gen) {
        self.round += 1;
        let round = self.round;
        self.round_sent_at = ctx.wall_clock();
        self.round_sent_mono = ctx.monotonic();
        self.grants.clear();
        self.refusals = 0;
        let believed = ctx.config().believed_lease();
        ctx.set_timer(believed, LeaseTimer::LeaseEnd { generation, round });
        for n in 0..candidates(ctx) {
            if n != ctx.id().0 {
                ctx.send(NodeId(n), LeaseMsg::RequestLease { generation, round });
            }
        }
        let me = ctx.id();
        if self.accept(ctx, me, generation) {
            self.on_grant(ctx, me, generation, round);
        }
    }

    /// Step 2, the acceptor: grant `gen` to `to`, or refuse.
    fn accept(&mut self, ctx: &mut Ctx<'_, Self>, to: NodeId, generation: Gen) -> bool {
        if self.recovering {
            return false;
        }
        if self.granted_to.is_some_and(|(h, _)| h != to) {
            return false;
        }
        if let Some((pg, holder)) = ctx.durable().promised {
            if generation < pg || (generation == pg && holder != to) {
                return false;
            }
        }
        let disk = ctx.durable_mut();
        disk.promised = Some((generation, to));
        disk.max_gen = disk.max_gen.max(generation);
        self.granted_to = Some((to, generation));
        if let Some(t) = self.grant_timer.take() {
            ctx.cancel_timer(t);
        }
        let lease = ctx.config().lease;
        self.grant_timer = Some(ctx.set_timer(lease, LeaseTimer::GrantEnd));
        if let Some(t) = self.election_timer.take() {
            ctx.cancel_timer(t);
        }
        true
    }

    fn on_grant(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, generation: Gen, round: u64) {
        let mine = match self.role {
            Role::Candidate { generation: g } => g == generation,
            Role::Leader { generation: g } => g == generation || self.moving_to == Some(generation),
            Role::Store | Role::Follower => false,
        };
        if !mine || round != self.round || self.grants.contains(&from) {
            return;
        }
        self.grants.push(from);
        if self.grants.len() < quorum(ctx) || self.confirmed == Some(round) {
            return;
        }
        self.confirmed = Some(round);
        let believed = ctx.config().believed_lease();
        self.wall_deadline = Some(self.round_sent_at.plus(believed));
        self.mono_deadline = Some(self.round_sent_mono.plus(believed));
        if self.role == (Role::Candidate { generation }) {
            self.become_leader(ctx, generation);
        } else if self.moving_to == Some(generation) {
            // A majority granted the new generation: lead it (the old one's timers lapse).
            self.moving_to = None;
            ctx.reached(LeaseReach::LeaderMovedUp);
            self.become_leader(ctx, generation);
        }
    }

    /// The generation a leader of `current` renews on. An acceptor that promised a higher
    /// generation, or this one to another node (a candidate that then failed), refuses
    /// every renewal of `current` for good, and, holding no grant, campaigns itself; so a
    /// leader that has heard of a higher generation, or was refused by an acceptor that
    /// promised at least its own, renews on a new one above it, as a PaxosLease proposer
    /// retries with a higher ballot. Its lease is not lost meanwhile: the rounds of
    /// `current` it was granted still run. Knob `renew_on_old_generation` never moves.
    fn renewal_generation(&mut self, ctx: &mut Ctx<'_, Self>, current: Gen) -> Gen {
        let target = self.moving_to.unwrap_or(current);
        let outbid = self.outbid.take().filter(|&o| o >= target);
        if ctx.config().renew_on_old_generation {
            return target;
        }
        let disk = ctx.durable();
        let seen = disk.max_gen.max(disk.promised.map_or(Gen::ZERO, |p| p.0));
        let seen = seen.max(outbid.unwrap_or(Gen::ZERO));
        if seen <= target && outbid.is_none() {
            return target;
        }
        let next = Gen::next(seen, None);
        ctx.durable_mut().max_gen = next;
        self.moving_to = Some(next);
        ctx.note(format_args!(
            "leader of gen {current} renews as gen {next} (refused for gen {seen})"
        ));
        next
    }

    /// Step 3: a majority granted: lead generation `gen`.
    pub fn become_leader(&mut self, ctx: &mut Ctx<'_, Self>, generation: Gen) {
        self.role = Role::Leader { generation };
        ctx.note(format_args!("role=leader gen={generation}"));
        let cfg = ctx.config();
        let (renew, wi) = (cfg.renew_interval, cfg.write_interval);
        ctx.set_timer(renew, LeaseTimer::Renew { generation });
        ctx.set_timer(wi, LeaseTimer::WriteTick { generation });
    }

    fn step_down(&mut self, ctx: &mut Ctx<'_, Self>, why: &str) {
        ctx.reached(LeaseReach::LeaderDeposed);
        ctx.note(format_args!("role=follower ({why})"));
        self.role = Role::Follower;
        self.confirmed = None;
        self.wall_deadline = None;
        self.mono_deadline = None;
        self.moving_to = None;
        self.outbid = None;
        self.arm_election(ctx);
    }

    /// The leader's own belief that its lease still holds, as it checks it before acting.
    /// With `lease_on_wall_clock` it reads the (steppable) wall clock against a deadline;
    /// the default reads the monotonic clock against the lease's end on it. (Trusting the
    /// `LeaseEnd` timer alone is not enough: after a pause, the timers that came due fire
    /// in turn, and a write tick ahead of the lease's end would act on a dead lease.)
    fn lease_holds(&self, ctx: &Ctx<'_, Self>) -> bool {
        if ctx.config().lease_on_wall_clock {
            return self.wall_deadline.is_some_and(|d| ctx.wall_clock() < d);
        }
        self.confirmed.is_some() && self.mono_deadline.is_some_and(|d| ctx.monotonic() < d)
    }

    /// How many writes this node has begun since it started, each on its lease.
    pub fn writes_begun(&self) -> u64 {
        self.writer.begun()
    }

    /// A candidate that gave up drops the grant it gave itself and asks every other
    /// acceptor to drop the one it gave it: it will never lead on them (a late grant for
    /// its round finds it a follower). Held for a whole lease, a failed candidate's grants
    /// made the acceptors refuse everyone else: after heavy faults five candidates could
    /// duel for ever (its own grant; lease seeds 16 and 24), and with loss each failed round
    /// blocked one or two acceptors for a lease, so candidates took more than 5s to agree
    /// after the faults stopped (the others'; swarm seed 1558). Both found by
    /// `eventually-one-leader`. A lost `Release` only lets the grant run its course.
    fn give_up(&mut self, ctx: &mut Ctx<'_, Self>, generation: Gen) {
        self.role = Role::Follower;
        if self.granted_to.is_some_and(|(h, _)| h == ctx.id()) {
            self.granted_to = None;
            if let Some(t) = self.grant_timer.take() {
                ctx.cancel_timer(t);
            }
        }
        let round = self.round;
        for n in 0..candidates(ctx) {
            if n != ctx.id().0 {
                ctx.send(NodeId(n), LeaseMsg::Release { generation, round });
            }
        }
        self.arm_election(ctx);
    }

    fn on_lease_end(&mut self, ctx: &mut Ctx<'_, Self>, generation: Gen, round: u64) {
        match self.role {
            Role::Candidate { generation: g } if g == generation && round == self.round => {
                ctx.note(format_args!(
                    "role=follower (no majority granted gen {generation})"
                ));
                self.give_up(ctx, generation);
            }
            Role::Leader { generation: g } if g == generation && self.confirmed == Some(round) => {
                if ctx.config().lease_on_wall_clock {
                    if let Some(deadline) = self.wall_deadline.filter(|&d| ctx.wall_clock() < d) {
                        // The wall clock says there is time left (it was stepped back).
                        let left = deadline.since(ctx.wall_clock());
                        ctx.set_timer(left, LeaseTimer::LeaseEnd { generation, round });
                        return;
                    }
                }
                ctx.reached(LeaseReach::LeaseExpired);
                self.step_down(ctx, "lease expired");
            }
            _ => {}
        }
    }

    fn on_store_reply(&mut self, ctx: &mut Ctx<'_, Self>, msg: StoreMsg) {
        if let StoreMsg::Fenced {
            generation, fence, ..
        } = msg
        {
            let disk = ctx.durable_mut();
            disk.max_gen = disk.max_gen.max(fence);
            if self.role == (Role::Leader { generation }) {
                let why = format!("fenced out by the store: gen {generation} < fence {fence}");
                self.step_down(ctx, &why);
            }
        }
    }
}

impl Process for LeaseNode {
    type Config = LeaseConfig;
    type Msg = LeaseMsg;
    type Timer = LeaseTimer;
    type Durable = LeaseDisk;
    type Request = ();
    type Response = ();

    /// A lease holder.
    fn leads(&self) -> bool {
        matches!(self.role, Role::Leader { .. })
    }

    fn start(ctx: &mut Ctx<'_, Self>) -> Self {
        let mut node = LeaseNode {
            role: Role::Follower,
            round: 0,
            round_sent_at: Time::ZERO,
            round_sent_mono: Time::ZERO,
            mono_deadline: None,
            grants: Vec::new(),
            refusals: 0,
            confirmed: None,
            wall_deadline: None,
            moving_to: None,
            outbid: None,
            granted_to: None,
            grant_timer: None,
            election_timer: None,
            recovering: false,
            writer: Writer::default(),
        };
        if ctx.id().0 >= candidates(ctx) {
            node.role = Role::Store;
            if ctx.config().fence_in_memory {
                ctx.durable_mut().store.fence = super::resource::Gen::ZERO;
            }
            return node;
        }
        if ctx.restarted() {
            // Grants made before the crash were volatile: wait them out before granting
            // anything, or two leases could overlap.
            node.recovering = true;
            let lease = ctx.config().lease;
            ctx.set_timer(lease, LeaseTimer::Recovered);
            return node;
        }
        node.arm_election(ctx);
        node
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: LeaseMsg) {
        if self.role == Role::Store {
            if let LeaseMsg::Store(m) = msg {
                let fencing = ctx.config().fencing;
                let reach = StoreReach {
                    fenced: LeaseReach::StaleWriteFenced.into(),
                    lost_update: LeaseReach::StaleWriteAccepted.into(),
                };
                resource::serve(
                    ctx,
                    from,
                    m,
                    |d| &mut d.store,
                    LeaseMsg::Store,
                    fencing,
                    reach,
                );
            }
            return;
        }
        match msg {
            LeaseMsg::RequestLease { generation, round } => {
                if self.accept(ctx, from, generation) {
                    ctx.send(from, LeaseMsg::Grant { generation, round });
                } else {
                    let promised = ctx.durable().promised.map_or(Gen::ZERO, |p| p.0);
                    ctx.send(
                        from,
                        LeaseMsg::Refuse {
                            generation,
                            round,
                            promised,
                        },
                    );
                }
            }
            LeaseMsg::Grant { generation, round } => self.on_grant(ctx, from, generation, round),
            LeaseMsg::Refuse {
                generation,
                round,
                promised,
            } => {
                let disk = ctx.durable_mut();
                disk.max_gen = disk.max_gen.max(promised);
                let renewing = match self.role {
                    Role::Leader { generation: g } => self.moving_to.unwrap_or(g) == generation,
                    _ => false,
                };
                if renewing && promised >= generation {
                    self.outbid = self.outbid.max(Some(promised));
                }
                if self.role == (Role::Candidate { generation }) && round == self.round {
                    self.refusals += 1;
                    let c = candidates(ctx) as usize;
                    if c.saturating_sub(self.refusals as usize) < quorum(ctx) {
                        ctx.reached(LeaseReach::GrantRefused);
                        ctx.note(format_args!("role=follower (refused gen {generation})"));
                        self.give_up(ctx, generation);
                    }
                }
            }
            LeaseMsg::Release { generation, .. } => {
                if self.granted_to == Some((from, generation)) {
                    self.granted_to = None;
                    if let Some(t) = self.grant_timer.take() {
                        ctx.cancel_timer(t);
                    }
                    ctx.reached(LeaseReach::GrantReleased);
                    self.arm_election(ctx);
                }
            }
            LeaseMsg::Store(reply) => self.on_store_reply(ctx, reply),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: LeaseTimer) {
        match timer {
            LeaseTimer::Election => {
                self.election_timer = None;
                if self.role == Role::Follower && self.granted_to.is_none() && !self.recovering {
                    self.become_candidate(ctx);
                }
            }
            LeaseTimer::GrantEnd => {
                self.grant_timer = None;
                self.granted_to = None;
                self.arm_election(ctx);
            }
            LeaseTimer::LeaseEnd { generation, round } => self.on_lease_end(ctx, generation, round),
            // A candidate that has not won within `election_timeout_min` (far more than a
            // round trip) will not: a grant or a refusal was lost, or another candidate took
            // some acceptors. Waiting out its whole lease would keep the acceptors that did
            // grant it refusing everyone else for that long.
            LeaseTimer::GiveUp { generation, round }
                if self.role == (Role::Candidate { generation }) && round == self.round =>
            {
                ctx.note(format_args!(
                    "role=follower (no majority granted gen {generation} in time)"
                ));
                self.give_up(ctx, generation);
            }
            LeaseTimer::GiveUp { .. } => {}
            LeaseTimer::Renew { generation } => {
                if self.role == (Role::Leader { generation }) {
                    let on = self.renewal_generation(ctx, generation);
                    self.send_round(ctx, on);
                    let renew = ctx.config().renew_interval;
                    ctx.set_timer(renew, LeaseTimer::Renew { generation });
                }
            }
            LeaseTimer::Recovered => {
                self.recovering = false;
                self.arm_election(ctx);
            }
            LeaseTimer::WriteTick { generation } => {
                if self.role != (Role::Leader { generation }) {
                    return;
                }
                if !self.lease_holds(ctx) {
                    self.step_down(ctx, "lease expired");
                    return;
                }
                let seq = self.writer.begin();
                let cfg = ctx.config();
                let (work, wi) = (cfg.write_work, cfg.write_interval);
                ctx.set_timer(work, LeaseTimer::WriteDone { generation, seq });
                ctx.set_timer(wi, LeaseTimer::WriteTick { generation });
            }
            // No second look at the lease: it was checked when the write began. The gap is
            // where a pause (or a slow network) turns a leader into a stale one.
            LeaseTimer::WriteDone { generation, seq } if ctx.config().store => {
                let store = NodeId(ctx.node_count() as u32 - 1);
                ctx.send(store, LeaseMsg::Store(StoreMsg::Write { generation, seq }));
            }
            LeaseTimer::WriteDone { .. } => {}
        }
    }
}

impl ElectionNode for LeaseNode {
    fn leader_gen(&self) -> Option<Gen> {
        match self.role {
            Role::Leader { generation } => Some(generation),
            _ => None,
        }
    }

    fn store_log(durable: &LeaseDisk) -> Option<&StoreLog> {
        Some(&durable.store).filter(|s| s.accepted + s.refused > 0)
    }
}

/// `exclusive-lease`: the safety property a lease promises. Whenever a leader acts on its
/// lease (it checks the lease and begins a write), no majority of the acceptors grants the
/// lease to another node at that instant. While clocks drift within `max_drift_ppm`, a
/// leader's belief, measured on its monotonic clock from when it sent the round, ends
/// before the grants of the majority that confirmed it, so this holds whatever the
/// network, crashes (a restarted acceptor waits a lease out) and pauses do. Unlike
/// `split-brain` it is not broken by a pause alone: a write decided before a pause and sent
/// after it was decided on a valid lease (fencing is what stops that write). A leader that
/// reads a clock stepped back (knob `lease_on_wall_clock`) breaks it.
#[derive(Debug)]
pub struct ExclusiveLease {
    /// The last node is the store, not an acceptor.
    store: bool,
    /// Per node, the writes it had begun when last seen.
    begun: Vec<u64>,
}

impl ExclusiveLease {
    pub fn new(config: &LeaseConfig) -> Self {
        ExclusiveLease {
            store: config.store,
            begun: Vec::new(),
        }
    }
}

impl sim_core::Checker<LeaseNode> for ExclusiveLease {
    fn name(&self) -> &str {
        "exclusive-lease"
    }

    fn after_event(
        &mut self,
        view: &sim_core::View<'_, LeaseNode>,
        node: NodeId,
    ) -> Result<(), String> {
        let n = view.node_count();
        if self.begun.len() < n {
            self.begun.resize(n, 0);
        }
        let quorum = (n - usize::from(self.store && n > 0)) / 2 + 1;
        let Some(state) = view.node(node) else {
            self.begun[node.index()] = 0;
            return Ok(());
        };
        let (now, before) = (state.writes_begun(), self.begun[node.index()]);
        self.begun[node.index()] = now;
        if now <= before {
            return Ok(());
        }
        let Role::Leader { generation } = state.role() else {
            return Ok(());
        };
        // Who the acceptors grant the lease to now, by holder.
        let mut holders: BTreeMap<NodeId, Vec<NodeId>> = BTreeMap::new();
        for (id, p) in view.live() {
            if let Some((h, _)) = p.granted_to() {
                holders.entry(h).or_default().push(id);
            }
        }
        for (holder, by) in holders {
            if holder == node || by.len() < quorum {
                continue;
            }
            let by: Vec<&str> = by.iter().map(|id| view.name(*id)).collect();
            let of = view
                .node(holder)
                .and_then(ElectionNode::leader_gen)
                .map_or(String::new(), |g| format!(", leader of gen {g}"));
            return Err(format!(
                "LEASES OVERLAP at {}: {} (gen {generation}) acted on its lease (began write w{now}) while a majority ({}) granted the lease to {}{of}",
                super::secs(view.now()),
                view.name(node),
                by.join(" "),
                view.name(holder)
            ));
        }
        Ok(())
    }
}
