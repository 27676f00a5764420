//! The checks: observers that look at every node after every event (the simulator sees
//! every participant's outcome at once, which no real node can).

use super::participant::TxState;
use super::{Node, Record, TwopcConfig, TxId, secs};
use sim_core::{Checker, NodeId, Time, View};
use std::collections::{BTreeMap, BTreeSet};

/// Builds the checker called `name`.
pub fn checker(name: &str, config: &TwopcConfig) -> Option<Box<dyn Checker<Node>>> {
    let c = config.clone();
    Some(match name {
        "atomicity" => Box::new(Atomicity {
            config: c,
            seen: Outcomes::default(),
        }),
        "no-commit-without-decision" => Box::new(NoCommitWithoutDecision {
            config: c,
            verified: BTreeSet::new(),
        }),
        "isolation" => Box::new(Isolation { config: c }),
        "conservation" => Box::new(Conservation { config: c }),
        "no-blocked" => Box::new(NoBlocked {
            from: sim_core::LivenessStart::overridden_by("liveness_from", c.liveness_from),
            config: c,
            since: BTreeMap::new(),
        }),
        "history" => Box::new(HistoryCheck {
            config: c,
            seen: Outcomes::default(),
            reported: BTreeMap::new(),
        }),
        _ => return None,
    })
}

/// The cluster must hold the coordinators and two participants; said by every check.
fn cluster(config: &TwopcConfig, view: &View<'_, Node>) -> Result<(), String> {
    config.validate_cluster(view.node_count())
}

/// Every outcome any participant has reached, accumulated over the run (a crash takes a
/// participant's state away, not what it did).
#[derive(Default)]
struct Outcomes {
    committed: BTreeMap<TxId, BTreeSet<NodeId>>,
    aborted: BTreeMap<TxId, BTreeSet<NodeId>>,
}

impl Outcomes {
    /// Takes in `node`'s outcomes; returns the transactions that are now both committed
    /// and aborted somewhere.
    fn observe(&mut self, view: &View<'_, Node>, node: NodeId) -> Vec<TxId> {
        let Some(p) = view.node(node).and_then(Node::participant) else {
            return Vec::new();
        };
        let mut mixed = Vec::new();
        for (&tx, t) in p.txs() {
            let (mine, other) = match t.state {
                s if s.committed() => (&mut self.committed, &self.aborted),
                TxState::Aborted => (&mut self.aborted, &self.committed),
                _ => continue,
            };
            if mine.entry(tx).or_default().insert(node) && other.contains_key(&tx) {
                mixed.push(tx);
            }
        }
        mixed
    }

    fn names(&self, view: &View<'_, Node>, tx: TxId) -> (String, String) {
        let list = |m: &BTreeMap<TxId, BTreeSet<NodeId>>| {
            m.get(&tx)
                .map(|s| {
                    s.iter()
                        .map(|&n| view.name(n))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default()
        };
        (list(&self.committed), list(&self.aborted))
    }
}

/// Always: no transaction committed at one participant and aborted at another.
struct Atomicity {
    config: TwopcConfig,
    seen: Outcomes,
}

impl Checker<Node> for Atomicity {
    fn name(&self) -> &str {
        "atomicity"
    }

    fn after_event(&mut self, view: &View<'_, Node>, node: NodeId) -> Result<(), String> {
        cluster(&self.config, view)?;
        if let Some(&tx) = self.seen.observe(view, node).first() {
            let (c, a) = self.seen.names(view, tx);
            return Err(format!("t{tx} is committed at {c} and aborted at {a}"));
        }
        Ok(())
    }
}

/// Always: a participant commits only once the commit decision is synced at its
/// coordinator.
struct NoCommitWithoutDecision {
    config: TwopcConfig,
    verified: BTreeSet<(NodeId, TxId)>,
}

impl Checker<Node> for NoCommitWithoutDecision {
    fn name(&self) -> &str {
        "no-commit-without-decision"
    }

    fn after_event(&mut self, view: &View<'_, Node>, node: NodeId) -> Result<(), String> {
        cluster(&self.config, view)?;
        let Some(p) = view.node(node).and_then(Node::participant) else {
            return Ok(());
        };
        for (&tx, t) in p.txs() {
            if !t.state.committed() || self.verified.contains(&(node, tx)) {
                continue;
            }
            let c = t.coordinator;
            let durable = view.log::<Record>(c).is_some_and(|log| {
                (0..log.synced()).any(|i| match log.get(i) {
                    Some(Ok(Record::Decision { tx: d, .. })) => *d == tx,
                    // A corrupt record was durable; what it held cannot be read.
                    Some(Err(_)) => true,
                    _ => false,
                })
            });
            if !durable {
                let (synced, len) = view
                    .log::<Record>(c)
                    .map_or((0, 0), |l| (l.synced(), l.len()));
                return Err(format!(
                    "{} committed t{tx}, but {}'s commit decision for it is not durable ({synced} of its {len} log records are synced)",
                    view.name(node),
                    view.name(c)
                ));
            }
            self.verified.insert((node, tx));
        }
        Ok(())
    }
}

/// Always: no account locked by two transactions.
struct Isolation {
    config: TwopcConfig,
}

impl Checker<Node> for Isolation {
    fn name(&self) -> &str {
        "isolation"
    }

    fn after_event(&mut self, view: &View<'_, Node>, node: NodeId) -> Result<(), String> {
        cluster(&self.config, view)?;
        let Some(p) = view.node(node).and_then(Node::participant) else {
            return Ok(());
        };
        let mut holder: BTreeMap<u32, TxId> = BTreeMap::new();
        for (&tx, t) in p.txs().iter().filter(|(_, t)| t.state.holds_locks()) {
            for &(a, _) in &t.changes {
                if let Some(other) = holder.insert(a, tx) {
                    if other != tx {
                        return Err(format!(
                            "acct-{a} at {} is locked by t{other} and t{tx}",
                            view.name(node)
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Eventually: once every transaction has ended, the money is all there. Transfers still
/// open at the end of the run are ended the way they must end: commit where the
/// coordinator's commit decision is durable, abort (presumed) where it is not.
struct Conservation {
    config: TwopcConfig,
}

/// Is the commit of `tx` durable in `coordinator`'s log?
fn decided_commit(view: &View<'_, Node>, coordinator: NodeId, tx: TxId) -> bool {
    view.log::<Record>(coordinator).is_some_and(|log| {
        (0..log.synced())
            .any(|i| matches!(log.get(i), Some(Ok(Record::Decision { tx: d, .. })) if *d == tx))
    })
}

impl Checker<Node> for Conservation {
    fn name(&self) -> &str {
        "conservation"
    }

    fn after_event(&mut self, view: &View<'_, Node>, _: NodeId) -> Result<(), String> {
        cluster(&self.config, view)
    }

    fn at_end(&mut self, view: &View<'_, Node>) -> Result<(), String> {
        cluster(&self.config, view)?;
        let mut total = 0i64;
        let mut open = 0;
        for id in view.ids().filter(|&n| !self.config.is_coordinator(n)) {
            let Some(p) = view.node(id).and_then(Node::participant) else {
                return Err(format!(
                    "{} is down or halted at the end: its balances cannot be counted",
                    view.name(id)
                ));
            };
            total += p.balances().values().sum::<i64>();
            for (&tx, t) in p.txs().iter().filter(|(_, t)| t.state.holds_locks()) {
                open += 1;
                if decided_commit(view, t.coordinator, tx) {
                    total += t.changes.iter().map(|(_, d)| d).sum::<i64>();
                }
            }
        }
        let expected =
            i64::from(self.config.account_count(view.node_count())) * self.config.initial_balance;
        if total != expected {
            return Err(format!(
                "the balances sum to {total}, not the {expected} the bank started with (counting {open} open transfers as their coordinators decided)"
            ));
        }
        Ok(())
    }
}

/// Eventually: from when the faults stop (or `liveness_from`) on, no participant stays
/// blocked on a transaction longer than `liveness_bound`.
struct NoBlocked {
    config: TwopcConfig,
    from: sim_core::LivenessStart,
    /// When each (participant, transaction) was first seen blocked (virtual time).
    since: BTreeMap<(NodeId, TxId), Time>,
}

impl NoBlocked {
    fn judge(&mut self, view: &View<'_, Node>, id: NodeId) -> Result<(), String> {
        let now = view.now();
        let blocked: Vec<(TxId, NodeId)> = view
            .node(id)
            .and_then(Node::participant)
            .map(|p| p.blocked().map(|(tx, t)| (tx, t.coordinator)).collect())
            .unwrap_or_default();
        self.since
            .retain(|(n, tx), _| *n != id || blocked.iter().any(|(b, _)| b == tx));
        let from = self.from.at();
        for (tx, coordinator) in blocked {
            let first = *self.since.entry((id, tx)).or_insert(now);
            let counted = first.max(from);
            if now >= counted.plus(self.config.liveness_bound) {
                return Err(self.from.no_convergence(
                    self.config.liveness_bound,
                    &format!(
                        "{} has been blocked on t{tx} (waiting on {}) since {}",
                        view.name(id),
                        view.name(coordinator),
                        secs(first)
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl Checker<Node> for NoBlocked {
    fn name(&self) -> &str {
        "no-blocked"
    }

    fn faults_stop(&mut self, at: Time) {
        self.from.faults_stop(at);
    }

    fn after_event(&mut self, view: &View<'_, Node>, node: NodeId) -> Result<(), String> {
        cluster(&self.config, view)?;
        self.judge(view, node)
    }

    fn at_end(&mut self, view: &View<'_, Node>) -> Result<(), String> {
        let short = self.from.too_short(view.now(), self.config.liveness_bound);
        for id in view.ids() {
            self.judge(view, id)?;
            let blocked = view
                .node(id)
                .and_then(Node::participant)
                .and_then(|p| p.blocked().next().map(|(tx, _)| tx));
            if let (Some(tx), Some(short)) = (blocked, &short) {
                return Err(format!("{short} (with {} blocked on t{tx})", view.name(id)));
            }
        }
        Ok(())
    }
}

/// History, watched as the run goes: what a client was told committed is aborted nowhere
/// and, by the end, committed everywhere it touched.
struct HistoryCheck {
    config: TwopcConfig,
    seen: Outcomes,
    /// Reported committed: when, and to whom it mattered.
    reported: BTreeMap<TxId, (Time, Vec<NodeId>)>,
}

impl Checker<Node> for HistoryCheck {
    fn name(&self) -> &str {
        "history"
    }

    fn after_event(&mut self, view: &View<'_, Node>, node: NodeId) -> Result<(), String> {
        cluster(&self.config, view)?;
        self.seen.observe(view, node);
        if let Some(c) = view.node(node).and_then(Node::coordinator) {
            for (tx, parts) in c.reported() {
                self.reported
                    .entry(*tx)
                    .or_insert_with(|| (view.now(), parts.clone()));
            }
        }
        for tx in self.reported.keys() {
            if let Some(a) = self.seen.aborted.get(tx) {
                let names: Vec<&str> = a.iter().map(|&n| view.name(n)).collect();
                return Err(format!(
                    "t{tx} was reported committed to its client but is aborted at {}",
                    names.join(", ")
                ));
            }
        }
        Ok(())
    }

    fn at_end(&mut self, view: &View<'_, Node>) -> Result<(), String> {
        for n in view.ids() {
            self.seen.observe(view, n);
        }
        let settled = |at: Time| at.plus(self.config.liveness_bound) <= view.now();
        for (tx, (at, parts)) in &self.reported {
            if !settled(*at) {
                continue;
            }
            let done = self.seen.committed.get(tx);
            if let Some(&missing) = parts.iter().find(|p| done.is_none_or(|d| !d.contains(p))) {
                return Err(format!(
                    "t{tx} was reported committed to its client at {}, but {} has not committed it by the end",
                    secs(*at),
                    view.name(missing)
                ));
            }
        }
        Ok(())
    }
}
