//! Paxos's safety properties as checkers that watch every node after every event, and
//! its liveness property judged at the end.
//!
//! "Chosen" is a fact about all acceptors together (a majority accepted one value in one
//! ballot) that no single node can see: the simulator can. [`Agreement`] records every
//! acceptance it observes, so an acceptance that is later overwritten still counts
//! toward the ballot it was made in, as in the paper's definition.

use super::{Ballot, Node, PaxosConfig};
use sim_core::{Checker, Duration, LivenessStart, NodeId, Time, View};
use std::collections::{BTreeMap, BTreeSet};

/// Builds the checker called `name`.
pub fn checker(name: &str, config: &PaxosConfig) -> Option<Box<dyn Checker<Node>>> {
    Some(match name {
        "agreement" => Box::new(Agreement::default()),
        "validity" => Box::new(Validity::default()),
        "learner-agreement" => Box::new(LearnerAgreement::default()),
        "decided" => Box::new(Decided::new(config.liveness_from, config.liveness_bound)),
        _ => return None,
    })
}

/// Every Always checker (for tests and sweeps).
pub fn safety_checkers() -> Vec<Box<dyn Checker<Node>>> {
    vec![
        Box::new(Agreement::default()),
        Box::new(Validity::default()),
        Box::new(LearnerAgreement::default()),
    ]
}

/// Agreement: at most one value is chosen.
#[derive(Debug, Default)]
pub struct Agreement {
    /// Per ballot: its value, the acceptors seen accepting it, the first of them.
    ballots: BTreeMap<Ballot, (String, Vec<bool>, NodeId)>,
    /// The last acceptance recorded per node (skips unchanged nodes).
    last: Vec<Option<(Ballot, String)>>,
    /// The first value chosen: value, ballot.
    chosen: Option<(String, Ballot)>,
}

impl Checker<Node> for Agreement {
    fn name(&self) -> &str {
        "agreement"
    }

    fn after_event(&mut self, view: &View<'_, Node>, node: NodeId) -> Result<(), String> {
        let n = view.node_count();
        if self.last.len() < n {
            self.last.resize(n, None);
        }
        let Some(acc) = view.durable(node).accepted() else {
            return Ok(());
        };
        if self.last[node.index()].as_ref() == Some(acc) {
            return Ok(());
        }
        self.last[node.index()] = Some(acc.clone());
        let (ballot, value) = acc;
        let (v, voters, first) = self
            .ballots
            .entry(*ballot)
            .or_insert_with(|| (value.clone(), vec![false; n], node));
        if v != value {
            return Err(format!(
                "two values in ballot {ballot}: {} accepted {v:?} and {} accepted {value:?}",
                view.name(*first),
                view.name(node)
            ));
        }
        voters[node.index()] = true;
        let count = voters.iter().filter(|&&x| x).count();
        if count < n / 2 + 1 {
            return Ok(());
        }
        let who: Vec<&str> = (0..n)
            .filter(|&i| voters[i])
            .map(|i| view.name(NodeId(i as u32)))
            .collect();
        match &self.chosen {
            None => self.chosen = Some((value.clone(), *ballot)),
            Some((c, b)) if c != value => {
                return Err(format!(
                    "two values chosen: {c:?} in ballot {b}, then {value:?} in ballot {ballot} (accepted by {})",
                    who.join(", ")
                ));
            }
            Some(_) => {}
        }
        Ok(())
    }
}

/// Validity: only a value some node proposed as its own is ever accepted.
#[derive(Debug, Default)]
pub struct Validity {
    proposed: BTreeSet<String>,
}

impl Checker<Node> for Validity {
    fn name(&self) -> &str {
        "validity"
    }

    fn after_event(&mut self, view: &View<'_, Node>, node: NodeId) -> Result<(), String> {
        if let Some(state) = view.node(node)
            && state.is_proposing()
            && !self.proposed.contains(state.own_value())
        {
            self.proposed.insert(state.own_value().to_string());
        }
        if let Some((ballot, value)) = view.durable(node).accepted()
            && !self.proposed.contains(value)
        {
            return Err(format!(
                "{} accepted {value:?} in ballot {ballot}, which no node proposed (proposed: {:?})",
                view.name(node),
                self.proposed
            ));
        }
        Ok(())
    }
}

/// Learner agreement: no two learners learn different values.
#[derive(Debug, Default)]
pub struct LearnerAgreement {
    first: Option<(String, NodeId)>,
}

impl Checker<Node> for LearnerAgreement {
    fn name(&self) -> &str {
        "learner-agreement"
    }

    fn after_event(&mut self, view: &View<'_, Node>, node: NodeId) -> Result<(), String> {
        let Some(learned) = view.durable(node).learned() else {
            return Ok(());
        };
        match &self.first {
            None => self.first = Some((learned.to_string(), node)),
            Some((v, by)) if v != learned => {
                return Err(format!(
                    "{} learned {v:?} but {} learned {learned:?}",
                    view.name(*by),
                    view.name(node)
                ));
            }
            Some(_) => {}
        }
        Ok(())
    }
}

/// Decided: judged after `from`, every live node has learned by `from + bound` and still
/// has when the run ends.
#[derive(Debug)]
pub struct Decided {
    from: LivenessStart,
    bound: Duration,
    /// When every live node first had learned (at or after `from`).
    all_learned: Option<Time>,
}

impl Decided {
    /// `from`: the config's `liveness_from`, if it sets one (else the faults stop).
    pub fn new(from: Option<Duration>, bound: Duration) -> Decided {
        Decided {
            from: LivenessStart::overridden_by("liveness_from", from),
            bound,
            all_learned: None,
        }
    }

    fn undecided<'a>(view: &View<'a, Node>) -> Vec<&'a str> {
        view.live()
            .filter(|(id, _)| view.durable(*id).learned().is_none())
            .map(|(id, _)| view.name(id))
            .collect()
    }
}

impl Checker<Node> for Decided {
    fn name(&self) -> &str {
        "decided"
    }

    fn faults_stop(&mut self, at: Time) {
        self.from.faults_stop(at);
    }

    fn after_event(&mut self, view: &View<'_, Node>, _node: NodeId) -> Result<(), String> {
        if self.all_learned.is_none()
            && view.now() >= self.from.at()
            && view.live().next().is_some()
            && Self::undecided(view).is_empty()
        {
            self.all_learned = Some(view.now());
        }
        Ok(())
    }

    fn at_end(&mut self, view: &View<'_, Node>) -> Result<(), String> {
        let from = self.from.at();
        let deadline = from.plus(self.bound);
        let undecided = Self::undecided(view);
        if !undecided.is_empty() {
            if let Some(short) = self.from.too_short(view.now(), self.bound) {
                return Err(format!("{short} ({} undecided)", undecided.join(", ")));
            }
            return Err(self.from.no_convergence(
                self.bound,
                &format!(
                    "{} had learned no value when the run ended at {}",
                    undecided.join(", "),
                    view.now().readable()
                ),
            ));
        }
        match self.all_learned {
            Some(t) if t > deadline => Err(self.from.no_convergence(
                self.bound,
                &format!(
                    "every live node had learned only at {}, {} into the liveness phase",
                    t.readable(),
                    t.since(from).readable()
                ),
            )),
            _ => Ok(()),
        }
    }
}
