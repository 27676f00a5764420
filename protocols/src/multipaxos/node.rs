//! One Multi-Paxos node: acceptor, replica (learner and state machine) and, when it leads,
//! proposer. Messages to "every acceptor" include this node's own acceptor, which it
//! hands the message to directly.

use super::{Command, Durable, Msg, MultiPaxosConfig, MultiPaxosReach, Timer};
use crate::kv::{KvRequest, KvResponse, KvStore};
use crate::paxos::Ballot;
use sim_core::{ClientId, Ctx, Duration, NodeId, Process, RequestId, Time, TimerId};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

/// A node's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    Follower,
    /// Running phase 1 with its own ballot.
    Candidate,
    /// Won phase 1: runs phase 2 per command.
    Leader,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Follower => "follower",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
        }
    }
}

/// The acceptors that accepted one slot in the leader's ballot: a bit per node, the first
/// 64 inline (no allocation for the clusters people run), and how many.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Voters {
    low: u64,
    high: Vec<u64>,
    count: usize,
}

impl Voters {
    fn contains(&self, i: usize) -> bool {
        match i.checked_sub(64) {
            None => self.low & (1 << i) != 0,
            Some(j) => self
                .high
                .get(j / 64)
                .is_some_and(|w| w & (1 << (j % 64)) != 0),
        }
    }

    fn insert(&mut self, i: usize) {
        let (word, bit) = match i.checked_sub(64) {
            None => (&mut self.low, 1u64 << i),
            Some(j) => {
                if self.high.len() <= j / 64 {
                    self.high.resize(j / 64 + 1, 0);
                }
                (&mut self.high[j / 64], 1u64 << (j % 64))
            }
        };
        if *word & bit == 0 {
            *word |= bit;
            self.count += 1;
        }
    }
}

/// A Multi-Paxos node's volatile state; its durable state is [`Durable`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    role: Role,
    /// This node's ballot as candidate or leader.
    ballot: Ballot,
    /// The leader this node follows, when it knows one (client redirects).
    leader: Option<NodeId>,
    /// The highest round seen anywhere: the next ballot goes above it.
    seen_round: u64,
    // Candidate state.
    promised_by: Vec<bool>,
    promises: usize,
    /// Phase 1 covers slots from here on.
    phase1_from: u64,
    /// Per slot, the highest-ballot acceptance the promises reported.
    reported: BTreeMap<u64, (Ballot, Command)>,
    // Leader state.
    next_slot: u64,
    /// Slots proposed in this ballot and not yet chosen, with who accepted them.
    inflight: BTreeMap<u64, (Command, Voters)>,
    /// Clients waiting for their slot to be applied.
    pending: BTreeMap<u64, (ClientId, RequestId)>,
    /// Whether each acceptor answered since the last heartbeat: a silent one is probed
    /// with its oldest unanswered Accept instead of being sent all of them again.
    responded: Vec<bool>,
    // Replica state.
    store: KvStore,
    /// Every slot up to here is applied.
    applied_through: u64,
    /// Slots in the order they were applied (what state-machine-safety compares).
    applied: Vec<u64>,
    /// Slots applied beyond `applied_through` (only with `apply_out_of_order`).
    applied_ahead: BTreeSet<u64>,
    election_timer: Option<TimerId>,
    /// When the election timeout ends and when the pending timer fires (monotonic clock).
    election_deadline: Time,
    election_timer_at: Time,
    heartbeat_timer: Option<TimerId>,
}

impl Node {
    pub fn role(&self) -> Role {
        self.role
    }

    pub fn is_leader(&self) -> bool {
        self.role == Role::Leader
    }

    /// This node's ballot as candidate or leader (the last one it used).
    pub fn ballot(&self) -> Ballot {
        self.ballot
    }

    /// The leader this node follows, if any.
    pub fn leader_hint(&self) -> Option<NodeId> {
        self.leader
    }

    /// Slots in the order this replica applied them since it (re)started.
    pub fn applied(&self) -> &[u64] {
        &self.applied
    }

    fn set_role(&mut self, ctx: &mut Ctx<'_, Self>, role: Role) {
        if self.role != role {
            self.role = role;
            // `round=` first: the timeline shows the number after `role=leader`'s first `=`.
            let b = self.ballot;
            ctx.note(format_args!("role={} round={} b={b}", role.name(), b.round));
        }
    }

    /// Sends `msg` to every node, this one included (handled in place, last).
    fn send_all(&mut self, ctx: &mut Ctx<'_, Self>, msg: Msg) {
        ctx.broadcast(msg.clone());
        let me = ctx.id();
        self.handle_message(ctx, me, msg);
    }

    fn send_to(&mut self, ctx: &mut Ctx<'_, Self>, to: NodeId, msg: Msg) {
        if to == ctx.id() {
            self.handle_message(ctx, to, msg);
        } else {
            ctx.send(to, msg);
        }
    }

    // ----- leadership -----------------------------------------------------------------

    /// Pushes the election deadline a fresh random timeout ahead (monotonic clock). The
    /// pending timer is kept when it fires before the new deadline: it re-arms then.
    fn reset_election_timer(&mut self, ctx: &mut Ctx<'_, Self>) {
        let c = ctx.config();
        let (lo, hi) = (
            c.election_timeout_min.as_nanos(),
            c.election_timeout_max.as_nanos(),
        );
        let after = Duration::from_nanos(ctx.rng().between(lo, hi));
        let now = ctx.monotonic();
        self.election_deadline = now.plus(after);
        if self.election_timer.is_some() && self.election_timer_at <= self.election_deadline {
            return;
        }
        if let Some(t) = self.election_timer.take() {
            ctx.cancel_timer(t);
        }
        self.election_timer_at = self.election_deadline;
        self.election_timer = Some(ctx.set_timer(after, Timer::Election));
    }

    fn election_timer_fired(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.election_timer = None;
        if self.role == Role::Leader {
            return;
        }
        let now = ctx.monotonic();
        if now < self.election_deadline {
            self.election_timer_at = self.election_deadline;
            let rest = self.election_deadline.since(now);
            self.election_timer = Some(ctx.set_timer(rest, Timer::Election));
            return;
        }
        self.start_phase1(ctx);
    }

    /// Phase 1a with a fresh ballot, for every slot from the first one not known chosen.
    fn start_phase1(&mut self, ctx: &mut Ctx<'_, Self>) {
        let d = ctx.durable();
        let round = d
            .round
            .max(d.promised.map_or(0, |p| p.round))
            .max(self.seen_round)
            + 1;
        let from = d.chosen_through + 1;
        ctx.durable_mut().round = round;
        self.ballot = Ballot {
            round,
            node: ctx.id(),
        };
        self.leader = None;
        self.promised_by.iter_mut().for_each(|p| *p = false);
        self.promises = 0;
        self.reported.clear();
        self.phase1_from = from;
        if self.role == Role::Candidate {
            let b = self.ballot;
            ctx.note(format_args!("role=candidate round={} b={b}", b.round));
        }
        self.set_role(ctx, Role::Candidate);
        self.reset_election_timer(ctx);
        let ballot = self.ballot;
        self.send_all(ctx, Msg::Prepare { ballot, from });
    }

    /// A higher ballot exists: stop leading or campaigning.
    fn step_down(&mut self, ctx: &mut Ctx<'_, Self>, leader: Option<NodeId>) {
        self.leader = leader;
        if self.role == Role::Follower {
            return;
        }
        ctx.reached(MultiPaxosReach::BallotPreempted);
        if self.role == Role::Leader {
            ctx.reached(MultiPaxosReach::LeaderDeposed);
        }
        self.inflight.clear();
        self.pending.clear();
        self.responded.iter_mut().for_each(|r| *r = false);
        if let Some(t) = self.heartbeat_timer.take() {
            ctx.cancel_timer(t);
        }
        self.set_role(ctx, Role::Follower);
        self.reset_election_timer(ctx);
    }

    fn on_promise(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        ballot: Ballot,
        accepted: Vec<(u64, Ballot, Command)>,
    ) {
        if self.role != Role::Candidate || ballot != self.ballot {
            return;
        }
        if std::mem::replace(&mut self.promised_by[from.index()], true) {
            return;
        }
        self.promises += 1;
        for (slot, b, command) in accepted {
            if self.reported.get(&slot).is_none_or(|(h, _)| b > *h) {
                self.reported.insert(slot, (b, command));
            }
        }
        if self.promises >= ctx.majority() {
            self.become_leader(ctx);
        }
    }

    /// Phase 1 won: re-propose what the promises reported for every slot not known
    /// chosen, fill the gaps with no-ops, and start heartbeats.
    fn become_leader(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.leader = Some(ctx.id());
        self.set_role(ctx, Role::Leader);
        let from = self.phase1_from;
        let last = self.reported.keys().next_back().copied().unwrap_or(0);
        let reported = std::mem::take(&mut self.reported);
        if ctx.config().skip_phase1_for_inflight {
            // The knob: new commands go where the old leader's commands may be chosen.
            self.next_slot = from;
        } else {
            self.next_slot = last.max(from - 1) + 1;
            for slot in from..self.next_slot {
                let command = match ctx.durable().chosen(slot) {
                    Some(c) => c.clone(),
                    None => match reported.get(&slot) {
                        Some((_, c)) => {
                            ctx.reached(MultiPaxosReach::AdoptedPromisedValue);
                            c.clone()
                        }
                        None => {
                            ctx.reached(MultiPaxosReach::NoopFilledGap);
                            Command::Noop
                        }
                    },
                };
                self.propose(ctx, slot, command);
                if self.role != Role::Leader {
                    return; // deposed while proposing (its own acceptor promised higher)
                }
            }
        }
        self.heartbeat(ctx);
    }

    fn heartbeat(&mut self, ctx: &mut Ctx<'_, Self>) {
        if self.role != Role::Leader {
            return;
        }
        let (ballot, chosen) = (self.ballot, ctx.durable().chosen_through);
        ctx.broadcast(Msg::Heartbeat { ballot, chosen });
        // Resend Accepts that went unanswered (loss), oldest slots first: all of them
        // (up to max_batch) to acceptors that answered lately, the oldest to the others.
        let max = ctx.config().max_batch as usize;
        let me = ctx.id().index();
        for i in (0..self.responded.len()).filter(|&i| i != me) {
            let limit = if self.responded[i] { max } else { 1 };
            self.responded[i] = false;
            let unanswered = self
                .inflight
                .iter()
                .filter(|(_, (_, voters))| !voters.contains(i))
                .take(limit);
            for (&slot, (command, _)) in unanswered {
                let msg = Msg::Accept {
                    ballot,
                    slot,
                    command: command.clone(),
                    chosen,
                };
                ctx.send(NodeId(i as u32), msg);
            }
        }
        let every = ctx.config().heartbeat;
        self.heartbeat_timer = Some(ctx.set_timer(every, Timer::Heartbeat));
    }

    // ----- acceptor -------------------------------------------------------------------

    fn on_prepare(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, ballot: Ballot, slot: u64) {
        self.seen_round = self.seen_round.max(ballot.round);
        let d = ctx.durable();
        if let Some(p) = d.promised
            && p > ballot
        {
            self.send_to(
                ctx,
                from,
                Msg::Nack {
                    ballot,
                    promised: p,
                },
            );
            return;
        }
        if d.promised != Some(ballot) {
            ctx.durable_mut().promised = Some(ballot);
        }
        let accepted = ctx
            .durable()
            .accepted_from(slot)
            .map(|(s, b, c)| (s, b, c.clone()))
            .collect();
        if from != ctx.id() {
            // Someone is trying to lead with a higher ballot: let them.
            if self.role != Role::Follower && ballot > self.ballot {
                self.step_down(ctx, None);
            }
            self.leader = None;
            self.reset_election_timer(ctx);
        }
        self.send_to(ctx, from, Msg::Promise { ballot, accepted });
    }

    /// Checks `ballot` against the promise: `Ok` (promising it if higher) or the
    /// promise that refuses it.
    fn admit(&mut self, ctx: &mut Ctx<'_, Self>, ballot: Ballot) -> Result<(), Ballot> {
        self.seen_round = self.seen_round.max(ballot.round);
        match ctx.durable().promised {
            Some(p) if p > ballot => {
                if ctx.config().accept_below_promise {
                    Ok(()) // the knob
                } else {
                    Err(p)
                }
            }
            Some(p) if p == ballot => Ok(()),
            _ => {
                ctx.durable_mut().promised = Some(ballot);
                Ok(())
            }
        }
    }

    /// Hears from the leader of `ballot`: follow it.
    fn follow(&mut self, ctx: &mut Ctx<'_, Self>, ballot: Ballot) {
        if ballot.node == ctx.id() {
            return;
        }
        if self.role != Role::Follower {
            self.step_down(ctx, Some(ballot.node));
        }
        self.leader = Some(ballot.node);
        self.reset_election_timer(ctx);
    }

    fn on_accept(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        ballot: Ballot,
        slot: u64,
        command: Command,
        chosen: u64,
    ) {
        if let Err(promised) = self.admit(ctx, ballot) {
            self.send_to(ctx, from, Msg::Nack { ballot, promised });
            return;
        }
        ctx.durable_mut().accept(slot, ballot, command);
        self.follow(ctx, ballot);
        self.send_to(ctx, from, Msg::Accepted { ballot, slot });
        self.learn_through(ctx, chosen, ballot);
    }

    fn on_heartbeat(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, ballot: Ballot, chosen: u64) {
        if let Err(promised) = self.admit(ctx, ballot) {
            ctx.send(from, Msg::Nack { ballot, promised });
            return;
        }
        self.follow(ctx, ballot);
        self.learn_through(ctx, chosen, ballot);
        // Answer only when behind: the leader then sends the chosen commands it misses.
        let mine = ctx.durable().chosen_through;
        if mine < chosen {
            ctx.send(
                from,
                Msg::HeartbeatReply {
                    ballot,
                    chosen: mine,
                },
            );
        }
    }

    fn on_nack(&mut self, ctx: &mut Ctx<'_, Self>, ballot: Ballot, promised: Ballot) {
        self.seen_round = self.seen_round.max(promised.round);
        if self.role != Role::Follower && ballot == self.ballot && promised > self.ballot {
            self.step_down(ctx, None);
        }
    }

    // ----- leader: phase 2 --------------------------------------------------------------

    /// Phase 2a for one slot: to every acceptor, this node's own first.
    fn propose(&mut self, ctx: &mut Ctx<'_, Self>, slot: u64, command: Command) {
        self.inflight
            .insert(slot, (command.clone(), Voters::default()));
        let msg = Msg::Accept {
            ballot: self.ballot,
            slot,
            command,
            chosen: ctx.durable().chosen_through,
        };
        self.send_all(ctx, msg);
    }

    fn on_accepted(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, ballot: Ballot, slot: u64) {
        if self.role != Role::Leader || ballot != self.ballot {
            return;
        }
        self.responded[from.index()] = true;
        let majority = ctx.majority();
        let Some((_, voters)) = self.inflight.get_mut(&slot) else {
            return;
        };
        voters.insert(from.index());
        if voters.count < majority {
            return;
        }
        let (command, _) = self.inflight.remove(&slot).expect("in flight");
        ctx.durable_mut().learn(slot, command);
        self.apply(ctx);
    }

    fn on_heartbeat_reply(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        ballot: Ballot,
        theirs: u64,
    ) {
        if self.role != Role::Leader || ballot != self.ballot {
            return;
        }
        self.responded[from.index()] = true;
        let d = ctx.durable();
        if theirs >= d.chosen_through {
            return;
        }
        let max = ctx.config().max_batch as usize;
        let entries: Vec<(u64, Command)> = d
            .chosen_from(theirs + 1)
            .take(max)
            .map(|(s, c)| (s, c.clone()))
            .collect();
        ctx.send(from, Msg::Learn { entries });
    }

    // ----- replica --------------------------------------------------------------------

    /// The leader of `ballot` says every slot through `chosen` is chosen: the slots this
    /// node accepted in that same ballot hold the leader's commands, so they are chosen.
    fn learn_through(&mut self, ctx: &mut Ctx<'_, Self>, chosen: u64, ballot: Ballot) {
        let from = ctx.durable().chosen_through + 1;
        if chosen >= from && ctx.durable_mut().learn_accepted(from, chosen, ballot) {
            self.apply(ctx);
        }
    }

    fn on_learn(&mut self, ctx: &mut Ctx<'_, Self>, entries: Vec<(u64, Command)>) {
        for (slot, command) in entries {
            ctx.durable_mut().learn(slot, command);
        }
        self.apply(ctx);
    }

    /// Applies chosen slots in order, each once every earlier slot is chosen (or, with
    /// `apply_out_of_order`, as soon as it is chosen).
    fn apply(&mut self, ctx: &mut Ctx<'_, Self>) {
        if ctx.config().apply_out_of_order {
            let ahead: Vec<u64> = ctx
                .durable()
                .chosen_from(self.applied_through + 1)
                .map(|(s, _)| s)
                .filter(|s| !self.applied_ahead.contains(s))
                .collect();
            for slot in ahead {
                self.apply_slot(ctx, slot);
                self.applied_ahead.insert(slot);
            }
            while self.applied_ahead.remove(&(self.applied_through + 1)) {
                self.applied_through += 1;
            }
            return;
        }
        while self.applied_through < ctx.durable().chosen_through {
            self.applied_through += 1;
            self.apply_slot(ctx, self.applied_through);
        }
    }

    fn apply_slot(&mut self, ctx: &mut Ctx<'_, Self>, slot: u64) {
        self.applied.push(slot);
        let Some(Command::Op(request)) = ctx.durable().chosen(slot) else {
            return;
        };
        let seq = request.seq;
        let (result, duplicate) = self.store.apply_checked(request);
        if duplicate {
            ctx.reached(MultiPaxosReach::DuplicateApplied);
        }
        if let Some((client, id)) = self.pending.remove(&slot)
            && let Some(result) = result
        {
            let result = result.clone();
            ctx.reply(client, id, KvResponse::Done { seq, result });
        }
    }

    // ----- clients --------------------------------------------------------------------

    fn client_request(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        client: ClientId,
        id: RequestId,
        request: Rc<KvRequest>,
    ) {
        if self.role != Role::Leader {
            let refusal = KvResponse::NotLeader {
                hint: self.leader,
                has_entry: false,
            };
            ctx.reply(client, id, refusal);
            return;
        }
        let slot = self.next_slot;
        self.next_slot += 1;
        self.pending.insert(slot, (client, id));
        self.propose(ctx, slot, Command::Op(request.clone()));
        if ctx.config().reply_before_majority
            && self.role == Role::Leader
            && self.pending.contains_key(&slot)
        {
            self.reply_speculatively(ctx, slot, &request);
        }
    }

    /// The `reply_before_majority` knob: answer from this node's own acceptances, as if
    /// every slot it accepted up to `slot` were chosen.
    fn reply_speculatively(&mut self, ctx: &mut Ctx<'_, Self>, slot: u64, request: &KvRequest) {
        let mut store = self.store.clone();
        let d = ctx.durable();
        let mut result = None;
        for s in self.applied_through + 1..=slot {
            let command = d.chosen(s).or_else(|| d.accepted(s).map(|(_, c)| c));
            if let Some(Command::Op(r)) = command {
                let v = store.apply_in_place(r).cloned();
                if s == slot {
                    result = v;
                }
            }
        }
        let (client, id) = self.pending.remove(&slot).expect("pending");
        if let Some(result) = result {
            let seq = request.seq;
            ctx.reply(client, id, KvResponse::Done { seq, result });
        }
    }

    /// One message, from another node or (sent to itself) from this one, in place.
    fn handle_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Prepare { ballot, from: slot } => self.on_prepare(ctx, from, ballot, slot),
            Msg::Promise { ballot, accepted } => self.on_promise(ctx, from, ballot, accepted),
            Msg::Nack { ballot, promised } => self.on_nack(ctx, ballot, promised),
            Msg::Accept {
                ballot,
                slot,
                command,
                chosen,
            } => self.on_accept(ctx, from, ballot, slot, command, chosen),
            Msg::Accepted { ballot, slot } => self.on_accepted(ctx, from, ballot, slot),
            Msg::Heartbeat { ballot, chosen } => self.on_heartbeat(ctx, from, ballot, chosen),
            Msg::HeartbeatReply { ballot, chosen } => {
                self.on_heartbeat_reply(ctx, from, ballot, chosen)
            }
            Msg::Learn { entries } => self.on_learn(ctx, entries),
        }
    }
}

impl Process for Node {
    type Config = MultiPaxosConfig;
    type Msg = Msg;
    type Timer = Timer;
    type Durable = Durable;
    type Request = Rc<KvRequest>;
    type Response = KvResponse;

    /// A leader past phase 1.
    fn leads(&self) -> bool {
        self.is_leader()
    }

    fn start(ctx: &mut Ctx<'_, Self>) -> Self {
        ctx.durable_mut().begin_event();
        let n = ctx.node_count();
        if ctx.restarted() && ctx.config().forget_promise_on_restart {
            ctx.durable_mut().promised = None; // the knob: the promise was only in memory
        }
        let mut node = Node {
            role: Role::Follower,
            ballot: Ballot::ZERO,
            leader: None,
            seen_round: 0,
            promised_by: vec![false; n],
            promises: 0,
            phase1_from: 1,
            reported: BTreeMap::new(),
            next_slot: 1,
            inflight: BTreeMap::new(),
            pending: BTreeMap::new(),
            responded: vec![false; n],
            store: KvStore::default(),
            applied_through: 0,
            applied: Vec::new(),
            applied_ahead: BTreeSet::new(),
            election_timer: None,
            election_deadline: Time::ZERO,
            election_timer_at: Time::ZERO,
            heartbeat_timer: None,
        };
        if ctx.restarted() {
            node.apply(ctx);
            let d = ctx.durable();
            let promised = d.promised.map_or("none".to_string(), |b| b.to_string());
            let chosen = d.chosen_through;
            ctx.note(format_args!(
                "role=follower recovered promised={promised} chosen={chosen}"
            ));
        }
        node.reset_election_timer(ctx);
        node
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Msg) {
        ctx.durable_mut().begin_event();
        self.handle_message(ctx, from, msg);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: Timer) {
        ctx.durable_mut().begin_event();
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
        request: Rc<KvRequest>,
    ) {
        ctx.durable_mut().begin_event();
        self.client_request(ctx, client, id, request);
    }
}
