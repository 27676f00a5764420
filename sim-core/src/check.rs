//! Checkers: observers that judge a run while it happens.
//!
//! The simulator sees what no real node can: every node's state at the same instant. A
//! [`Checker`] is called after every event that touched a node ("always" properties such as
//! "at most one leader per term"), and once at the end of the run ("eventually" properties
//! such as "replicas converged after the last heal"). Returning `Err(message)` records a
//! [`Violation`]; the message should say plainly what broke and which nodes were involved.

use crate::id::NodeId;
use crate::process::Process;
use crate::storage::{Disk, Wal};
use crate::time::Time;
use serde::{Deserialize, Serialize};

/// A property of a run, checked as it goes.
pub trait Checker<P: Process> {
    /// A short kebab-case name (`"election-safety"`), used in reports and in scenarios'
    /// `expect`.
    fn name(&self) -> &str;

    /// After an event that ran a handler on `node` or changed its liveness.
    fn after_event(&mut self, view: &View<'_, P>, node: NodeId) -> Result<(), String>;

    /// When the run ends (time or event limit, or nothing left to do).
    fn at_end(&mut self, view: &View<'_, P>) -> Result<(), String> {
        let _ = view;
        Ok(())
    }

    /// The liveness phase: the run's faults stop at `at` (a nemesis's `stop` or the last
    /// timed fault, whichever is later); from then the cluster is healed and left alone.
    /// Told once, before the run; eventually checks judge convergence from it.
    fn faults_stop(&mut self, at: Time) {
        let _ = at;
    }

    /// What the check found beyond pass or fail, one line each, asked once after
    /// [`Checker::at_end`] (e.g. when each key converged). Reports list them as findings.
    fn findings(&self) -> Vec<String> {
        Vec::new()
    }
}

/// A violated property.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    pub check: String,
    pub time: Time,
    pub message: String,
}

/// What a checker may look at: every node's state, storage and liveness, right now.
pub struct View<'a, P: Process> {
    pub(crate) now: Time,
    pub(crate) states: &'a [Option<P>],
    pub(crate) durables: &'a [P::Durable],
    pub(crate) paused: &'a [bool],
    pub(crate) names: &'a [String],
    pub(crate) disks: &'a [Option<Disk>],
}

impl<'a, P: Process> View<'a, P> {
    /// Virtual time (checkers may see it; nodes may not).
    pub fn now(&self) -> Time {
        self.now
    }

    pub fn node_count(&self) -> usize {
        self.states.len()
    }

    pub fn ids(&self) -> impl Iterator<Item = NodeId> + use<'a, P> {
        (0..self.states.len() as u32).map(NodeId)
    }

    /// The node's volatile state, or `None` while it is crashed.
    pub fn node(&self, id: NodeId) -> Option<&'a P> {
        self.states[id.index()].as_ref()
    }

    /// Every live node with its state, in id order.
    pub fn live(&self) -> impl Iterator<Item = (NodeId, &'a P)> + use<'a, P> {
        let states = self.states;
        states
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (NodeId(i as u32), s)))
    }

    pub fn durable(&self, id: NodeId) -> &'a P::Durable {
        &self.durables[id.index()]
    }

    pub fn is_paused(&self, id: NodeId) -> bool {
        self.paused[id.index()]
    }

    /// The node's write-ahead log as it is now (see [`crate::storage`]); `None` if it was
    /// never appended to. [`Wal::synced`] tells what a crash cannot take.
    pub fn log<R: 'static>(&self, id: NodeId) -> Option<&'a Wal<R>> {
        self.disks[id.index()].as_ref()?.wal::<R>()
    }

    /// The node's name in the scenario (`"n1"`).
    pub fn name(&self, id: NodeId) -> &'a str {
        &self.names[id.index()]
    }
}
