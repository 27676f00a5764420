//! A participant: holds accounts, votes, applies decisions, recovers from its log, and
//! blocks when it is prepared and does not know the outcome (§7.3-7.5).

use super::{Acct, Changes, Msg, Node, Record, Timer, TwopcReach, TxId, accounts, secs};
use sim_core::{Corrupt, Ctx, NodeId, Time};
use std::collections::BTreeMap;

/// Where one transaction stands at this participant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxState {
    /// The prepared record is appended; the vote waits for its sync.
    Preparing,
    /// Voted yes (the record is durable): uncertain until told the outcome.
    Prepared,
    /// The commit is applied; the outcome record waits for its sync before the ack.
    Committing,
    Committed,
    Aborted,
}

impl TxState {
    /// The transaction holds its accounts' locks.
    pub fn holds_locks(self) -> bool {
        matches!(self, TxState::Preparing | TxState::Prepared)
    }

    pub fn committed(self) -> bool {
        matches!(self, TxState::Committing | TxState::Committed)
    }
}

/// One transaction as a participant knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PTx {
    pub state: TxState,
    pub coordinator: NodeId,
    pub changes: Changes,
    pub participants: Vec<NodeId>,
    /// When it was prepared, then when it blocked (monotonic clock).
    pub since: Time,
    /// Blocked: prepared, and the decision did not come within `decision_timeout`.
    pub blocked: bool,
}

/// What waits for a sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AfterSync {
    Vote(TxId),
    Ack(TxId),
    /// Cooperative termination: tell `peer` we aborted `tx` (we had not voted).
    TellAbort(TxId, NodeId),
}

/// A participant's volatile state (rebuilt from its log on restart).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Participant {
    balances: BTreeMap<Acct, i64>,
    locks: BTreeMap<Acct, TxId>,
    txs: BTreeMap<TxId, PTx>,
    waiting: Vec<(u64, AfterSync)>,
    ask_timer: bool,
}

impl Participant {
    pub fn balances(&self) -> &BTreeMap<Acct, i64> {
        &self.balances
    }

    pub fn txs(&self) -> &BTreeMap<TxId, PTx> {
        &self.txs
    }

    /// The transactions this participant is blocked on.
    pub fn blocked(&self) -> impl Iterator<Item = (TxId, &PTx)> {
        self.txs
            .iter()
            .filter(|(_, t)| t.blocked && t.state == TxState::Prepared)
            .map(|(&tx, t)| (tx, t))
    }

    /// Builds the participant: fresh accounts, or (on restart) what its log says.
    pub(super) fn start(ctx: &mut Ctx<'_, Node>) -> Result<Participant, Corrupt> {
        let config = ctx.config().clone();
        let mut p = Participant {
            balances: config
                .accounts_of(ctx.id())
                .map(|a| (a, config.initial_balance))
                .collect(),
            locks: BTreeMap::new(),
            txs: BTreeMap::new(),
            waiting: Vec::new(),
            ask_timer: false,
        };
        if !ctx.restarted() {
            return Ok(p);
        }
        let now = ctx.monotonic();
        let log: Vec<Record> = ctx
            .log::<Record>()
            .iter()
            .map(|r| r.cloned())
            .collect::<Result<_, _>>()?;
        for record in log {
            match record {
                Record::Prepared {
                    tx,
                    coordinator,
                    changes,
                    participants,
                } => {
                    p.txs.insert(
                        tx,
                        PTx {
                            state: TxState::Prepared,
                            coordinator,
                            changes,
                            participants,
                            since: now,
                            blocked: false,
                        },
                    );
                }
                Record::Committed { tx } => {
                    if let Some(t) = p.txs.get_mut(&tx) {
                        t.state = TxState::Committed;
                        for &(a, d) in &t.changes {
                            *p.balances.entry(a).or_default() += d;
                        }
                    }
                }
                Record::Aborted { tx } => match p.txs.get_mut(&tx) {
                    Some(t) => t.state = TxState::Aborted,
                    None => {
                        p.txs.insert(tx, aborted_unknown());
                    }
                },
                Record::Decision { .. } | Record::End { .. } => {}
            }
        }
        // A prepared record without an outcome: it voted yes and does not know.
        let uncertain: Vec<TxId> = p
            .txs
            .iter()
            .filter(|(_, t)| t.state == TxState::Prepared)
            .map(|(&tx, _)| tx)
            .collect();
        for tx in uncertain {
            ctx.reached(TwopcReach::RecoveredPrepared);
            if !config.forget_locks_on_recovery {
                let t = &p.txs[&tx];
                for &(a, _) in &t.changes {
                    p.locks.insert(a, tx);
                }
            }
            p.block(ctx, tx);
        }
        Ok(p)
    }

    pub(super) fn on_message(&mut self, ctx: &mut Ctx<'_, Node>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Prepare {
                tx,
                changes,
                participants,
            } => self.prepare(ctx, from, tx, changes, participants),
            Msg::Commit { tx } => self.decided(ctx, from, tx, true),
            Msg::Abort { tx } => self.decided(ctx, from, tx, false),
            Msg::PeerAnswer {
                tx,
                outcome: Some(commit),
            } => self.decided(ctx, from, tx, commit),
            Msg::PeerAnswer { outcome: None, .. } => {}
            Msg::DecisionRequest { tx } => self.peer_asks(ctx, from, tx),
            Msg::Vote { .. } | Msg::Ack { .. } => {}
        }
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, Node>, timer: Timer) {
        match timer {
            Timer::DecisionTimeout(tx) => self.decision_timeout(ctx, tx),
            Timer::Ask => {
                self.ask_timer = false;
                self.ask(ctx);
            }
            Timer::VoteTimeout(_) | Timer::Resend => {}
        }
    }

    pub(super) fn on_synced(&mut self, ctx: &mut Ctx<'_, Node>, upto: u64) {
        let (due, rest): (Vec<_>, Vec<_>) = self.waiting.drain(..).partition(|(u, _)| *u <= upto);
        self.waiting = rest;
        for (_, what) in due {
            match what {
                AfterSync::Vote(tx) => {
                    let Some(t) = self.txs.get_mut(&tx) else {
                        continue;
                    };
                    if t.state == TxState::Preparing {
                        t.state = TxState::Prepared;
                        let to = t.coordinator;
                        ctx.send(to, Msg::Vote { tx, yes: true });
                    }
                }
                AfterSync::Ack(tx) => {
                    let Some(t) = self.txs.get_mut(&tx) else {
                        continue;
                    };
                    if t.state == TxState::Committing {
                        t.state = TxState::Committed;
                        let to = t.coordinator;
                        ctx.send(to, Msg::Ack { tx });
                    }
                }
                AfterSync::TellAbort(tx, peer) => {
                    ctx.send(
                        peer,
                        Msg::PeerAnswer {
                            tx,
                            outcome: Some(false),
                        },
                    );
                }
            }
        }
    }

    /// Phase 1 (§7.3): vote yes only with the accounts free, the money there, and the
    /// prepared record durable.
    fn prepare(
        &mut self,
        ctx: &mut Ctx<'_, Node>,
        from: NodeId,
        tx: TxId,
        changes: Changes,
        participants: Vec<NodeId>,
    ) {
        if let Some(t) = self.txs.get(&tx) {
            // A duplicate or a retry: answer as before.
            match t.state {
                TxState::Prepared => ctx.send(from, Msg::Vote { tx, yes: true }),
                TxState::Aborted => ctx.send(from, Msg::Vote { tx, yes: false }),
                _ => {}
            }
            return;
        }
        let locked = changes
            .iter()
            .find_map(|(a, _)| self.locks.get(a).map(|holder| (*a, *holder)));
        let short = changes
            .iter()
            .find(|&&(a, d)| self.balances.get(&a).copied().unwrap_or(0) + d < 0);
        let refuse = match (locked, short) {
            (Some((a, holder)), _) => Some(format!("acct-{a} is locked by t{holder}")),
            (None, Some(&(a, d))) => Some(format!("acct-{a} cannot pay {}", -d)),
            (None, None) if changes.iter().any(|(a, _)| !self.balances.contains_key(a)) => {
                Some("an account is not here".to_string())
            }
            (None, None) => None,
        };
        if let Some(why) = refuse {
            ctx.reached(TwopcReach::VotedNo);
            ctx.note(format_args!("votes no on t{tx}: {why}"));
            let mut t = aborted_unknown();
            t.coordinator = from;
            self.txs.insert(tx, t);
            ctx.send(from, Msg::Vote { tx, yes: false });
            return;
        }
        for &(a, _) in &changes {
            self.locks.insert(a, tx);
        }
        ctx.append(Record::Prepared {
            tx,
            coordinator: from,
            changes: changes.clone(),
            participants: participants.clone(),
        });
        let upto = ctx.sync();
        let vote_now = ctx.config().vote_before_sync;
        let since = ctx.monotonic();
        self.txs.insert(
            tx,
            PTx {
                state: if vote_now {
                    TxState::Prepared
                } else {
                    TxState::Preparing
                },
                coordinator: from,
                changes,
                participants,
                since,
                blocked: false,
            },
        );
        if vote_now {
            // Bug knob: the vote leaves before the record is durable.
            ctx.send(from, Msg::Vote { tx, yes: true });
        } else {
            self.waiting.push((upto, AfterSync::Vote(tx)));
        }
        let after = ctx.config().decision_timeout;
        ctx.set_timer(after, Timer::DecisionTimeout(tx));
    }

    /// Phase 2: the outcome, from the coordinator or (cooperative termination) a peer.
    fn decided(&mut self, ctx: &mut Ctx<'_, Node>, from: NodeId, tx: TxId, commit: bool) {
        let Some(t) = self.txs.get_mut(&tx) else {
            if commit {
                // No prepared record: from here it never voted, so it aborted.
                ctx.note(format_args!(
                    "commit of t{tx} it has no prepared record of: aborted here"
                ));
                let mut t = aborted_unknown();
                t.coordinator = from;
                self.txs.insert(tx, t);
                ctx.append(Record::Aborted { tx });
                ctx.send(from, Msg::Ack { tx });
            }
            return;
        };
        let was_blocked = t.blocked && t.state == TxState::Prepared;
        match (t.state, commit) {
            (TxState::Preparing | TxState::Prepared, true) => {
                t.state = TxState::Committing;
                t.blocked = false;
                for &(a, d) in &t.changes {
                    *self.balances.entry(a).or_default() += d;
                }
                let changes = t.changes.clone();
                self.release(tx, &changes);
                ctx.append(Record::Committed { tx });
                let upto = ctx.sync();
                self.waiting.push((upto, AfterSync::Ack(tx)));
            }
            (TxState::Preparing | TxState::Prepared, false) => {
                t.state = TxState::Aborted;
                t.blocked = false;
                let changes = t.changes.clone();
                self.release(tx, &changes);
                ctx.append(Record::Aborted { tx });
            }
            (TxState::Committed, true) => {
                let to = t.coordinator;
                ctx.send(to, Msg::Ack { tx });
            }
            (TxState::Aborted, true) => {
                ctx.note(format_args!("commit of t{tx}, which it aborted"));
                ctx.send(from, Msg::Ack { tx });
            }
            (TxState::Committing | TxState::Committed, false) => {
                ctx.note(format_args!("abort of t{tx}, which it committed"));
            }
            (TxState::Committing, true) | (TxState::Aborted, false) => {}
        }
        if was_blocked {
            ctx.reached(TwopcReach::BlockedResolved);
            let t = &self.txs[&tx];
            let waited = ctx.monotonic().since(t.since);
            let how = if commit { "commit" } else { "abort" };
            let who = if from == t.coordinator {
                String::new()
            } else {
                format!(" (from peer {})", ctx.name_of(from))
            };
            ctx.note(format_args!(
                "unblocked t{tx}: {how}{who} after {}",
                secs(Time::ZERO.plus(waited))
            ));
        }
    }

    fn release(&mut self, tx: TxId, changes: &Changes) {
        for (a, _) in changes {
            if self.locks.get(a) == Some(&tx) {
                self.locks.remove(a);
            }
        }
    }

    fn decision_timeout(&mut self, ctx: &mut Ctx<'_, Node>, tx: TxId) {
        let Some(t) = self.txs.get_mut(&tx) else {
            return;
        };
        match t.state {
            TxState::Preparing => {
                // The disk is slow: look again later.
                let after = ctx.config().decision_timeout;
                ctx.set_timer(after, Timer::DecisionTimeout(tx));
            }
            TxState::Prepared if ctx.config().abort_prepared_on_timeout => {
                // Bug knob: breaks the promise of the yes vote.
                t.state = TxState::Aborted;
                let changes = t.changes.clone();
                self.release(tx, &changes);
                ctx.append(Record::Aborted { tx });
                ctx.note(format_args!("aborts prepared t{tx} on its own"));
            }
            TxState::Prepared if !t.blocked => self.block(ctx, tx),
            _ => {}
        }
    }

    /// Prepared, no decision: hold the locks and ask until someone answers.
    fn block(&mut self, ctx: &mut Ctx<'_, Node>, tx: TxId) {
        let since = ctx.monotonic();
        let t = self.txs.get_mut(&tx).expect("blocking a known transaction");
        ctx.reached(TwopcReach::ParticipantBlocked);
        t.blocked = true;
        t.since = since;
        let holds = accounts(&t.changes);
        ctx.note(format_args!(
            "blocked on t{tx} (holds {holds}) since {}",
            secs(since)
        ));
        self.ask_one(ctx, tx);
        if !self.ask_timer {
            self.ask_timer = true;
            let every = ctx.config().retry_interval;
            ctx.set_timer(every, Timer::Ask);
        }
    }

    fn ask(&mut self, ctx: &mut Ctx<'_, Node>) {
        let blocked: Vec<TxId> = self.blocked().map(|(tx, _)| tx).collect();
        if blocked.is_empty() {
            return;
        }
        for tx in blocked {
            self.ask_one(ctx, tx);
        }
        self.ask_timer = true;
        let every = ctx.config().retry_interval;
        ctx.set_timer(every, Timer::Ask);
    }

    fn ask_one(&mut self, ctx: &mut Ctx<'_, Node>, tx: TxId) {
        let t = &self.txs[&tx];
        ctx.send(t.coordinator, Msg::DecisionRequest { tx });
        if ctx.config().cooperative_termination {
            let me = ctx.id();
            for &peer in t.participants.iter().filter(|&&p| p != me) {
                ctx.send(peer, Msg::DecisionRequest { tx });
            }
        }
    }

    /// Cooperative termination (§7.5): a peer asks what we know of `tx`.
    fn peer_asks(&mut self, ctx: &mut Ctx<'_, Node>, from: NodeId, tx: TxId) {
        if !ctx.config().cooperative_termination {
            return;
        }
        let outcome = match self.txs.get(&tx).map(|t| t.state) {
            Some(TxState::Committing | TxState::Committed) => Some(true),
            Some(TxState::Aborted) => Some(false),
            Some(TxState::Preparing | TxState::Prepared) => None,
            None => {
                // Never voted: abort now, durably, so a late Prepare gets a no.
                let peer = ctx.name_of(from).to_string();
                ctx.note(format_args!(
                    "aborts t{tx} for peer {peer}: it had not voted"
                ));
                let mut t = aborted_unknown();
                t.coordinator = NodeId(0);
                self.txs.insert(tx, t);
                ctx.append(Record::Aborted { tx });
                let upto = ctx.sync();
                self.waiting.push((upto, AfterSync::TellAbort(tx, from)));
                ctx.reached(TwopcReach::PeerToldOutcome);
                return;
            }
        };
        if outcome.is_some() {
            ctx.reached(TwopcReach::PeerToldOutcome);
        }
        ctx.send(from, Msg::PeerAnswer { tx, outcome });
    }
}

/// A transaction this participant aborted without preparing it.
fn aborted_unknown() -> PTx {
    PTx {
        state: TxState::Aborted,
        coordinator: NodeId(0),
        changes: Vec::new(),
        participants: Vec::new(),
        since: Time::ZERO,
        blocked: false,
    }
}
