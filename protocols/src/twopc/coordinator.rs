//! A coordinator: runs the two phases for its clients' transfers, logs commit decisions
//! before sending them, presumes abort, and recovers its decisions from its log.

use super::{Changes, Msg, Node, Outcome, Record, Timer, Transfer, TwopcReach, TxId};
use sim_core::{ClientId, Corrupt, Ctx, NodeId, RequestId};
use std::collections::{BTreeMap, BTreeSet};

/// Where one transaction stands at its coordinator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Prepares sent, votes coming in.
    Voting,
    /// Commit decided and appended; the sync is under way.
    Logging,
    /// The commit decision is durable and sent; acknowledgements coming in.
    Committed,
}

/// One transaction as its coordinator knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CTx {
    pub phase: Phase,
    pub participants: Vec<NodeId>,
    votes: BTreeSet<NodeId>,
    acks: BTreeSet<NodeId>,
    client: Option<(ClientId, RequestId)>,
}

/// A coordinator's volatile state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Coordinator {
    txs: BTreeMap<TxId, CTx>,
    /// Outcomes of transactions it has finished (for late questions and client retries).
    done: BTreeMap<TxId, bool>,
    /// Syncs under way: the transactions whose commit they make durable.
    logging: Vec<(u64, TxId)>,
    /// Every transfer it told a client was committed, with its participants (what the
    /// `history` check judges).
    reported: Vec<(TxId, Vec<NodeId>)>,
    resend_timer: bool,
}

impl Coordinator {
    pub fn txs(&self) -> &BTreeMap<TxId, CTx> {
        &self.txs
    }

    /// The transfers reported committed to clients since this start.
    pub fn reported(&self) -> &[(TxId, Vec<NodeId>)] {
        &self.reported
    }

    pub(super) fn start(ctx: &mut Ctx<'_, Node>) -> Result<Coordinator, Corrupt> {
        let mut c = Coordinator {
            txs: BTreeMap::new(),
            done: BTreeMap::new(),
            logging: Vec::new(),
            reported: Vec::new(),
            resend_timer: false,
        };
        if !ctx.restarted() {
            return Ok(c);
        }
        // Recovery: a commit decision without an end is sent again; nothing else is
        // remembered, so anything else is presumed aborted.
        let log: Vec<Record> = ctx
            .log::<Record>()
            .iter()
            .map(|r| r.cloned())
            .collect::<Result<_, _>>()?;
        for record in log {
            match record {
                Record::Decision { tx, participants } => {
                    c.txs.insert(
                        tx,
                        CTx {
                            phase: Phase::Committed,
                            participants,
                            votes: BTreeSet::new(),
                            acks: BTreeSet::new(),
                            client: None,
                        },
                    );
                }
                Record::End { tx } => {
                    c.txs.remove(&tx);
                    c.done.insert(tx, true);
                }
                _ => {}
            }
        }
        let pending: Vec<TxId> = c.txs.keys().copied().collect();
        if !pending.is_empty() {
            let list: Vec<String> = pending.iter().map(|t| format!("t{t}")).collect();
            ctx.reached(TwopcReach::RecoveredDecision);
            ctx.note(format_args!("recovered commit of {}", list.join(", ")));
            for tx in pending {
                c.send_decision(ctx, tx);
            }
        }
        Ok(c)
    }

    pub(super) fn on_request(
        &mut self,
        ctx: &mut Ctx<'_, Node>,
        client: ClientId,
        id: RequestId,
        t: Transfer,
    ) {
        if let Some(&commit) = self.done.get(&t.tx) {
            let outcome = if commit {
                Outcome::Committed
            } else {
                Outcome::Aborted
            };
            ctx.reply(client, id, outcome);
            return;
        }
        if self.txs.contains_key(&t.tx) {
            return;
        }
        let config = ctx.config().clone();
        let mut parts: BTreeMap<NodeId, Changes> = BTreeMap::new();
        parts
            .entry(config.owner(t.from))
            .or_default()
            .push((t.from, -t.amount));
        parts
            .entry(config.owner(t.to))
            .or_default()
            .push((t.to, t.amount));
        let participants: Vec<NodeId> = parts.keys().copied().collect();
        for (&p, changes) in &parts {
            ctx.send(
                p,
                Msg::Prepare {
                    tx: t.tx,
                    changes: changes.clone(),
                    participants: participants.clone(),
                },
            );
        }
        self.txs.insert(
            t.tx,
            CTx {
                phase: Phase::Voting,
                participants,
                votes: BTreeSet::new(),
                acks: BTreeSet::new(),
                client: Some((client, id)),
            },
        );
        ctx.set_timer(config.vote_timeout, Timer::VoteTimeout(t.tx));
    }

    pub(super) fn on_message(&mut self, ctx: &mut Ctx<'_, Node>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Vote { tx, yes } => self.vote(ctx, from, tx, yes),
            Msg::Ack { tx } => self.ack(ctx, from, tx),
            Msg::DecisionRequest { tx } => match self.txs.get(&tx).map(|t| t.phase) {
                Some(Phase::Committed) => ctx.send(from, Msg::Commit { tx }),
                // Deciding now: the answer will come.
                Some(Phase::Voting | Phase::Logging) => {}
                None => {
                    let commit = self.done.get(&tx).copied().unwrap_or(false);
                    // Presumed abort: no record of a commit means abort.
                    let msg = if commit {
                        Msg::Commit { tx }
                    } else {
                        Msg::Abort { tx }
                    };
                    ctx.send(from, msg);
                }
            },
            _ => {}
        }
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, Node>, timer: Timer) {
        match timer {
            Timer::VoteTimeout(tx) => {
                if self.txs.get(&tx).is_some_and(|t| t.phase == Phase::Voting) {
                    ctx.reached(TwopcReach::VoteTimeout);
                    if ctx.config().commit_on_vote_timeout {
                        // Bug knob: silence is not a yes.
                        ctx.note(format_args!("votes of t{tx} late: decides commit"));
                        self.decide_commit(ctx, tx);
                    } else {
                        ctx.note(format_args!("votes of t{tx} late: decides abort"));
                        self.abort(ctx, tx);
                    }
                }
            }
            Timer::Resend => {
                self.resend_timer = false;
                let open: Vec<TxId> = self
                    .txs
                    .iter()
                    .filter(|(_, t)| t.phase == Phase::Committed)
                    .map(|(&tx, _)| tx)
                    .collect();
                for tx in open {
                    self.send_decision(ctx, tx);
                }
            }
            Timer::DecisionTimeout(_) | Timer::Ask => {}
        }
    }

    pub(super) fn on_synced(&mut self, ctx: &mut Ctx<'_, Node>, upto: u64) {
        let (due, rest): (Vec<_>, Vec<_>) = self.logging.drain(..).partition(|(u, _)| *u <= upto);
        self.logging = rest;
        for (_, tx) in due {
            let Some(t) = self.txs.get_mut(&tx) else {
                continue;
            };
            if t.phase != Phase::Logging {
                continue;
            }
            t.phase = Phase::Committed;
            if let Some((client, id)) = t.client.take() {
                self.reported.push((tx, t.participants.clone()));
                ctx.reply(client, id, Outcome::Committed);
            }
            if !ctx.config().send_decision_before_logging {
                self.send_decision(ctx, tx);
            }
        }
    }

    fn vote(&mut self, ctx: &mut Ctx<'_, Node>, from: NodeId, tx: TxId, yes: bool) {
        let Some(t) = self.txs.get_mut(&tx) else {
            // A vote for a transaction it aborted, or forgot in a crash: presumed abort.
            if !self.done.get(&tx).copied().unwrap_or(false) {
                ctx.send(from, Msg::Abort { tx });
            }
            return;
        };
        if t.phase != Phase::Voting {
            return;
        }
        if !yes {
            self.abort(ctx, tx);
            return;
        }
        t.votes.insert(from);
        if t.votes.len() == t.participants.len() {
            self.decide_commit(ctx, tx);
        }
    }

    /// Decide commit: log it, and send it once the log is synced (§7.4).
    fn decide_commit(&mut self, ctx: &mut Ctx<'_, Node>, tx: TxId) {
        let t = self.txs.get_mut(&tx).expect("deciding a known transaction");
        t.phase = Phase::Logging;
        ctx.append(Record::Decision {
            tx,
            participants: t.participants.clone(),
        });
        let upto = ctx.sync();
        self.logging.push((upto, tx));
        if ctx.config().send_decision_before_logging {
            // Bug knob: the decision leaves before it is durable.
            self.send_decision(ctx, tx);
        }
    }

    /// Presumed abort: nothing logged, no acknowledgements awaited.
    fn abort(&mut self, ctx: &mut Ctx<'_, Node>, tx: TxId) {
        let Some(mut t) = self.txs.remove(&tx) else {
            return;
        };
        ctx.reached(TwopcReach::TransactionAborted);
        for &p in &t.participants {
            ctx.send(p, Msg::Abort { tx });
        }
        if let Some((client, id)) = t.client.take() {
            ctx.reply(client, id, Outcome::Aborted);
        }
        self.done.insert(tx, false);
    }

    fn send_decision(&mut self, ctx: &mut Ctx<'_, Node>, tx: TxId) {
        let t = &self.txs[&tx];
        for &p in t.participants.iter().filter(|p| !t.acks.contains(p)) {
            ctx.send(p, Msg::Commit { tx });
        }
        if !self.resend_timer {
            self.resend_timer = true;
            let every = ctx.config().retry_interval;
            ctx.set_timer(every, Timer::Resend);
        }
    }

    fn ack(&mut self, ctx: &mut Ctx<'_, Node>, from: NodeId, tx: TxId) {
        let Some(t) = self.txs.get_mut(&tx) else {
            return;
        };
        if t.phase != Phase::Committed {
            return;
        }
        t.acks.insert(from);
        if t.acks.len() == t.participants.len() {
            ctx.append(Record::End { tx });
            self.txs.remove(&tx);
            self.done.insert(tx, true);
        }
    }
}
