//! One Paxos node: proposer, acceptor and learner in one state machine (§2.1).
//!
//! Messages a node sends to "every acceptor" or "every learner" include itself; it hands
//! those to itself directly (no network), as a process would call its own acceptor.

use super::{Ballot, Durable, Msg, PaxosConfig, PaxosReach, Timer};
use sim_core::{Ctx, Duration, NodeId, Process, TimerId};
use std::collections::BTreeMap;

/// Where this node's proposer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Not running an attempt (before it starts, between attempts, after learning).
    Idle,
    /// Phase 1: waiting for promises for `ballot`.
    Preparing,
    /// Phase 2: sent `Accept(ballot, value)`, waiting to learn.
    Accepting,
}

/// A Paxos node's volatile state; its durable state is [`Durable`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// The value this node proposes when the promises leave it free: `"v-<name>"`.
    own: String,
    /// Whether this node's proposer is running (from start for proposers, after
    /// `learn_timeout` for the others) until it learns.
    active: bool,
    phase: Phase,
    /// The current (or last) attempt's ballot and, in phase 2, its value.
    ballot: Ballot,
    value: Option<String>,
    /// Promises for `ballot`, by node index, and the highest acceptance they reported.
    promised_by: Vec<bool>,
    promises: usize,
    highest: Option<(Ballot, String)>,
    /// The highest round seen in any ballot (from Nacks): the next attempt goes above it.
    seen_round: u64,
    /// Learner: acceptors heard per `(ballot, value)`; with `learner_mixes_ballots` the
    /// ballot is left out of the key.
    votes: BTreeMap<(Option<Ballot>, String), Vec<bool>>,
    phase_timer: Option<TimerId>,
    retry_timer: Option<TimerId>,
    learn_timer: Option<TimerId>,
}

impl Node {
    /// The value this node proposes as its own.
    pub fn own_value(&self) -> &str {
        &self.own
    }

    /// True once this node's proposer has started (it has proposed `own_value` or a value
    /// the promises reported).
    pub fn is_proposing(&self) -> bool {
        self.active
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The current or last attempt's ballot (round 0: none yet).
    pub fn ballot(&self) -> Ballot {
        self.ballot
    }

    fn cancel(ctx: &mut Ctx<'_, Self>, timer: &mut Option<TimerId>) {
        if let Some(t) = timer.take() {
            ctx.cancel_timer(t);
        }
    }

    /// Sends `msg` to every node, this one included (handled at once, in place).
    fn send_all(&mut self, ctx: &mut Ctx<'_, Self>, msg: Msg) {
        ctx.broadcast(msg.clone());
        let me = ctx.id();
        self.on_message(ctx, me, msg);
    }

    /// Sends `msg` to `to`, handling it in place when `to` is this node.
    fn send_to(&mut self, ctx: &mut Ctx<'_, Self>, to: NodeId, msg: Msg) {
        if to == ctx.id() {
            self.on_message(ctx, to, msg);
        } else {
            ctx.send(to, msg);
        }
    }

    // ----- proposer -------------------------------------------------------------------

    /// Phase 1a: a fresh ballot above every round used or seen, stored before it is sent.
    fn prepare(&mut self, ctx: &mut Ctx<'_, Self>) {
        if ctx.durable().learned.is_some() {
            return;
        }
        self.active = true;
        Self::cancel(ctx, &mut self.retry_timer);
        Self::cancel(ctx, &mut self.learn_timer);
        Self::cancel(ctx, &mut self.phase_timer);
        let round = ctx.durable().round.max(self.seen_round) + 1;
        ctx.durable_mut().round = round;
        self.ballot = Ballot {
            round,
            node: ctx.id(),
        };
        self.phase = Phase::Preparing;
        self.value = None;
        self.promised_by.iter_mut().for_each(|p| *p = false);
        self.promises = 0;
        self.highest = None;
        let timeout = ctx.config().phase_timeout;
        self.phase_timer = Some(ctx.set_timer(timeout, Timer::Phase(round)));
        ctx.note(format_args!("prepare b={}", self.ballot));
        let ballot = self.ballot;
        self.send_all(ctx, Msg::Prepare { ballot });
    }

    /// Phase 1b arrived at the proposer.
    fn on_promise(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        ballot: Ballot,
        last: Option<(Ballot, String)>,
    ) {
        if self.phase != Phase::Preparing || ballot != self.ballot {
            return; // late, duplicated, or for an abandoned attempt
        }
        if std::mem::replace(&mut self.promised_by[from.index()], true) {
            return;
        }
        self.promises += 1;
        if let Some((b, v)) = last
            && self.highest.as_ref().is_none_or(|(h, _)| b > *h)
        {
            self.highest = Some((b, v));
        }
        if self.promises >= ctx.majority() {
            self.propose(ctx);
        }
    }

    /// Phase 2a: the value of the highest acceptance the promises reported, or our own.
    fn propose(&mut self, ctx: &mut Ctx<'_, Self>) {
        let config = ctx.config();
        let value = match self.highest.take() {
            Some(_) if config.ignore_promised_values => self.own.clone(),
            Some((_, v)) => {
                ctx.reached(PaxosReach::AdoptedPromisedValue);
                v
            }
            None if config.default_value_when_none_accepted => String::new(),
            None => self.own.clone(),
        };
        self.phase = Phase::Accepting;
        self.value = Some(value.clone());
        ctx.note(format_args!("propose b={} v={value:?}", self.ballot));
        let ballot = self.ballot;
        self.send_all(ctx, Msg::Accept { ballot, value });
    }

    /// The attempt failed (preempted or timed out): back off, then try a higher ballot.
    fn abandon(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.phase = Phase::Idle;
        Self::cancel(ctx, &mut self.phase_timer);
        if ctx.durable().learned.is_some() {
            return;
        }
        let config = ctx.config();
        if config.backoff {
            let (lo, hi) = (config.backoff_min.as_nanos(), config.backoff_max.as_nanos());
            let wait = Duration::from_nanos(ctx.rng().between(lo, hi));
            self.retry_timer = Some(ctx.set_timer(wait, Timer::Retry));
        } else {
            self.prepare(ctx);
        }
    }

    fn on_nack(&mut self, ctx: &mut Ctx<'_, Self>, ballot: Ballot, promised: Ballot) {
        self.seen_round = self.seen_round.max(promised.round);
        if self.phase != Phase::Idle && ballot == self.ballot && promised > self.ballot {
            ctx.reached(PaxosReach::BallotPreempted);
            ctx.note(format_args!("preempted b={} by {promised}", self.ballot));
            self.abandon(ctx);
        }
    }

    // ----- acceptor -------------------------------------------------------------------

    /// Phase 1b: promise `ballot` unless a higher one was promised (durably, first).
    fn on_prepare(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, ballot: Ballot) {
        let promised = ctx.durable().promised;
        let reply = match promised {
            Some(p) if p > ballot => Msg::Nack {
                ballot,
                promised: p,
            },
            _ => {
                if promised != Some(ballot) {
                    ctx.durable_mut().promised = Some(ballot);
                    ctx.note(format_args!("promised b={ballot}"));
                }
                Msg::Promise {
                    ballot,
                    last: ctx.durable().accepted.clone(),
                }
            }
        };
        self.send_to(ctx, from, reply);
        // §2.4: a proposer abandons its attempt once it learns that a higher ballot is
        // being tried; here its own acceptor just promised one.
        self.seen_round = self.seen_round.max(ballot.round);
        if self.phase != Phase::Idle && ballot > self.ballot {
            ctx.reached(PaxosReach::BallotPreempted);
            ctx.note(format_args!("preempted b={} by {ballot}", self.ballot));
            self.abandon(ctx);
        }
    }

    /// Phase 2b: accept unless a higher ballot was promised; tell every learner.
    fn on_accept(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, ballot: Ballot, value: String) {
        let promised = ctx.durable().promised;
        if let Some(p) = promised
            && p > ballot
            && !ctx.config().accept_below_promise
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
        let d = ctx.durable_mut();
        if promised.is_none_or(|p| ballot > p) {
            d.promised = Some(ballot);
        }
        let fresh = d.accepted.as_ref() != Some(&(ballot, value.clone()));
        if fresh {
            d.accepted = Some((ballot, value.clone()));
            ctx.note(format_args!("accepted b={ballot} v={value:?}"));
        }
        self.send_all(ctx, Msg::Accepted { ballot, value });
    }

    // ----- learner --------------------------------------------------------------------

    fn on_accepted(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        ballot: Ballot,
        value: String,
    ) {
        if ctx.durable().learned.is_some() {
            return;
        }
        let key = if ctx.config().learner_mixes_ballots {
            None
        } else {
            Some(ballot)
        };
        let n = ctx.node_count();
        let voters = self
            .votes
            .entry((key, value.clone()))
            .or_insert_with(|| vec![false; n]);
        voters[from.index()] = true;
        if voters.iter().filter(|&&v| v).count() >= ctx.majority() {
            self.learn(ctx, value);
        }
    }

    fn learn(&mut self, ctx: &mut Ctx<'_, Self>, value: String) {
        ctx.note(format_args!("learned v={value:?}"));
        ctx.durable_mut().learned = Some(value);
        self.phase = Phase::Idle;
        self.votes.clear();
        Self::cancel(ctx, &mut self.phase_timer);
        Self::cancel(ctx, &mut self.retry_timer);
        Self::cancel(ctx, &mut self.learn_timer);
    }
}

impl Process for Node {
    type Config = PaxosConfig;
    type Msg = Msg;
    type Timer = Timer;
    type Durable = Durable;
    type Request = ();
    type Response = ();

    /// A proposer in phase 2 (its ballot's leader).
    fn leads(&self) -> bool {
        self.active && self.phase == Phase::Accepting
    }

    fn start(ctx: &mut Ctx<'_, Self>) -> Self {
        let n = ctx.node_count();
        if ctx.restarted() && ctx.config().forget_promise_on_restart {
            // The knob: the promise lived only in memory (the acceptance is still on disk).
            let d = ctx.durable_mut();
            d.promised = None;
        }
        let me = ctx.id();
        let mut node = Node {
            own: format!("v-{}", ctx.name_of(me)),
            active: false,
            phase: Phase::Idle,
            ballot: Ballot::ZERO,
            value: None,
            promised_by: vec![false; n],
            promises: 0,
            highest: None,
            seen_round: 0,
            votes: BTreeMap::new(),
            phase_timer: None,
            retry_timer: None,
            learn_timer: None,
        };
        if ctx.restarted() {
            if ctx.durable().promised.is_some() {
                ctx.reached(PaxosReach::RestartedWithPromise);
            }
            let d = ctx.durable();
            let promised = d.promised.map_or("none".to_string(), |b| b.to_string());
            let learned = d.learned.clone();
            ctx.note(format_args!(
                "recovered promised={promised} learned={learned:?}"
            ));
        }
        if ctx.durable().learned.is_some() {
            return node;
        }
        let proposers = ctx.config().proposers as usize;
        if proposers == 0 || me.index() < proposers {
            node.prepare(ctx);
        } else {
            let wait = ctx.config().learn_timeout;
            node.learn_timer = Some(ctx.set_timer(wait, Timer::Learn));
        }
        node
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Prepare { ballot } => self.on_prepare(ctx, from, ballot),
            Msg::Promise { ballot, last } => self.on_promise(ctx, from, ballot, last),
            Msg::Nack { ballot, promised } => self.on_nack(ctx, ballot, promised),
            Msg::Accept { ballot, value } => self.on_accept(ctx, from, ballot, value),
            Msg::Accepted { ballot, value } => self.on_accepted(ctx, from, ballot, value),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: Timer) {
        match timer {
            Timer::Phase(round) => {
                if self.phase != Phase::Idle && round == self.ballot.round {
                    self.phase_timer = None;
                    ctx.reached(PaxosReach::AttemptTimedOut);
                    ctx.note(format_args!("timed out b={}", self.ballot));
                    self.abandon(ctx);
                }
            }
            Timer::Retry => {
                self.retry_timer = None;
                self.prepare(ctx);
            }
            Timer::Learn => {
                self.learn_timer = None;
                self.prepare(ctx);
            }
        }
    }
}
