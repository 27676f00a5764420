//! Checkers: observers that judge a run while it happens.
//!
//! The simulator sees what no real node can: every node's state at the same instant. A
//! [`Checker`] is called after every event that touched a node ("always" properties such as
//! "at most one leader per term"), and once at the end of the run ("eventually" properties
//! such as "replicas converged after the last heal"). Returning `Err(message)` records a
//! [`Violation`]; the message should say plainly what broke and which nodes were involved.

use crate::id::NodeId;
use crate::process::Process;
use crate::storage::Wal;
use crate::time::Time;
use serde::{Deserialize, Serialize};

/// A property of a run, checked as it goes.
pub trait Checker<P: Process> {
    /// A short kebab-case name (`"election-safety"`), used in reports and in scenarios'
    /// `expect`.
    fn name(&self) -> &str;

    /// After an event that ran a handler on `node` or changed its liveness.
    fn after_event(&mut self, view: &View<'_, P>, node: NodeId) -> Result<(), String>;

    /// Which places of a node's [`Process::check_stamp`] this checker reads after an event
    /// on it (bit `i` for place `i`), if it reads nothing else: then a second call with
    /// those places unchanged returns `Ok` and changes nothing a later verdict depends on,
    /// and the engine skips the call after a handler that left them as they were (most
    /// heartbeats and acknowledgements), when every checker of the run says so. The
    /// default, `None`: the checker sees every event. Say `Some` only for a checker that
    /// reads nothing else (not the time, other nodes, liveness or the disk).
    fn reads_only_stamp(&self) -> Option<u8> {
        None
    }

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
    /// Each node's clock, timers, stream, durable storage and write-ahead log.
    pub(crate) meta: &'a [crate::sim::NodeMeta<P>],
    pub(crate) paused: &'a [bool],
    pub(crate) names: &'a [String],
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
        &self.meta[id.index()].durable
    }

    pub fn is_paused(&self, id: NodeId) -> bool {
        self.paused[id.index()]
    }

    /// The node's write-ahead log as it is now (see [`crate::storage`]); `None` if it was
    /// never appended to. [`Wal::synced`] tells what a crash cannot take.
    pub fn log<R: 'static>(&self, id: NodeId) -> Option<&'a Wal<R>> {
        self.meta[id.index()].disk.as_ref()?.wal::<R>()
    }

    /// The node's name in the scenario (`"n1"`).
    pub fn name(&self, id: NodeId) -> &'a str {
        &self.names[id.index()]
    }
}

/// When an eventually check starts judging (the liveness phase), and how its failures name
/// that instant, the same way for every protocol.
///
/// By default the phase starts when the scenario's faults stop ([`Checker::faults_stop`]:
/// the later of a nemesis's `stop` and the last timed fault), or at 0s when nothing tells
/// the checker (a run without faults, or a test that builds the simulation by hand). A
/// config field can move it: [`LivenessStart::overridden_by`] replaces the faults-stop
/// instant (Raft's, Multi-Paxos's, Paxos's, 2PC's and the election protocols'
/// `liveness_from`), [`LivenessStart::not_before`] only delays it (gossip's
/// `converge_from`, when its clients stop writing: nothing converges while they write).
#[derive(Clone, Copy, Debug)]
pub struct LivenessStart {
    field: &'static str,
    set: Option<Time>,
    /// `set` replaces the faults stop (else the later of the two counts).
    replaces: bool,
    stop: Option<Time>,
}

impl LivenessStart {
    /// The phase starts at `field` if the config sets it, else when the faults stop.
    pub fn overridden_by(field: &'static str, from: Option<crate::Duration>) -> Self {
        LivenessStart {
            field,
            set: from.map(|d| Time::ZERO.plus(d)),
            replaces: true,
            stop: None,
        }
    }

    /// The phase starts at the later of `field` and the faults stop.
    pub fn not_before(field: &'static str, from: crate::Duration) -> Self {
        LivenessStart {
            field,
            set: Some(Time::ZERO.plus(from)),
            replaces: false,
            stop: None,
        }
    }

    /// Told by the checker's [`Checker::faults_stop`].
    pub fn faults_stop(&mut self, at: Time) {
        self.stop = Some(at);
    }

    /// Whether the config's field, not the faults stop, sets the start.
    fn by_field(&self) -> bool {
        match (self.set, self.stop) {
            (Some(_), _) if self.replaces => true,
            (Some(set), Some(stop)) => set > stop,
            (Some(set), None) => set > Time::ZERO,
            (None, _) => false,
        }
    }

    /// The instant judging starts.
    pub fn at(&self) -> Time {
        if self.by_field() {
            self.set.unwrap_or(Time::ZERO)
        } else {
            self.stop.unwrap_or(Time::ZERO)
        }
    }

    /// How failures name the start: "after the faults stopped at 20s", "after
    /// liveness_from 7s" when the config's field sets it, or "after the start (the run has
    /// no faults)".
    pub fn after(&self) -> String {
        if self.by_field() {
            format!("after {} {}", self.field, self.at().readable())
        } else if self.at() == Time::ZERO {
            "after the start (the run has no faults)".to_string()
        } else {
            format!("after the faults stopped at {}", self.at().readable())
        }
    }

    /// `no convergence within 5s after the faults stopped at 20s: {detail}`.
    pub fn no_convergence(&self, bound: crate::Duration, detail: &str) -> String {
        format!(
            "no convergence within {} {}: {detail}",
            bound.readable(),
            self.after()
        )
    }

    /// The failure of a run that ended at `now`, before the budget `bound` ran out (it
    /// cannot be judged, so it cannot pass), or `None`.
    pub fn too_short(&self, now: Time, bound: crate::Duration) -> Option<String> {
        let deadline = self.at().plus(bound);
        (now < deadline).then(|| {
            format!(
                "the run ended at {}, before the liveness budget of {} {} ran out: make the run last until at least {}",
                now.readable(),
                bound.readable(),
                self.after(),
                deadline.readable()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Duration;

    fn s(n: u64) -> Time {
        Time::ZERO.plus(Duration::from_secs(n))
    }

    #[test]
    fn the_faults_stop_starts_the_phase_unless_the_config_overrides_it() {
        let mut l = LivenessStart::overridden_by("liveness_from", None);
        assert_eq!(l.at(), Time::ZERO);
        l.faults_stop(s(20));
        assert_eq!(l.at(), s(20));
        assert_eq!(
            l.no_convergence(Duration::from_secs(5), "x"),
            "no convergence within 5s after the faults stopped at 20s: x"
        );
        let mut l = LivenessStart::overridden_by("liveness_from", Some(Duration::from_secs(7)));
        l.faults_stop(s(20));
        assert_eq!(l.at(), s(7));
        assert_eq!(l.after(), "after liveness_from 7s");
    }

    #[test]
    fn a_delaying_field_counts_only_when_it_is_later() {
        let mut l = LivenessStart::not_before("converge_from", Duration::from_secs(3));
        assert_eq!(l.at(), s(3));
        l.faults_stop(s(2));
        assert_eq!((l.at(), l.after()), (s(3), "after converge_from 3s".into()));
        l.faults_stop(s(4));
        assert_eq!(
            (l.at(), l.after()),
            (s(4), "after the faults stopped at 4s".into())
        );
        assert_eq!(
            l.too_short(s(5), Duration::from_secs(2)).as_deref(),
            Some(
                "the run ended at 5s, before the liveness budget of 2s after the faults stopped at 4s ran out: make the run last until at least 6s"
            )
        );
        assert_eq!(l.too_short(s(6), Duration::from_secs(2)), None);
    }
}
