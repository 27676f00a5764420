//! The election checks. Each one watches every event and says plainly what broke.
//!
//! - [`SplitBrain`] (`split-brain`): at most one node acts as leader at any instant. A node
//!   *acts* as leader while it is up, not paused, and believes it leads. A paused node's
//!   belief is frozen; it counts again the moment it resumes, which is exactly when a GC
//!   pause victim does its damage.
//! - [`OneLeaderPerGen`] (`one-leader-per-gen`): no generation ever has two leaders
//!   (Raft's election safety, §5.2; the quorum-intersection argument).
//! - [`Fencing`] (`fencing`): the store never accepts a write with an older generation
//!   after one with a newer generation (a lost update).

use super::resource::{Gen, StoreLog};
use super::secs;
use sim_core::{Checker, NodeId, Process, Time, View};
use std::collections::BTreeMap;

/// What the election checks need to see of a node.
pub trait ElectionNode: Process {
    /// `Some(gen)` while this node believes it is the leader of generation `gen`.
    fn leader_gen(&self) -> Option<Gen>;
    /// The store's register, if this node is the store.
    fn store_log(durable: &Self::Durable) -> Option<&StoreLog>;
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// At most one node acts as leader at any instant.
#[derive(Debug, Default)]
pub struct SplitBrain {
    /// When each current believer became leader (of the generation it leads).
    since: BTreeMap<NodeId, (Gen, Time)>,
    /// The set of acting leaders last reported, so one split-brain is reported once.
    reported: Vec<NodeId>,
}

impl SplitBrain {
    pub fn new() -> Self {
        Self::default()
    }
}

impl<P: ElectionNode> Checker<P> for SplitBrain {
    fn name(&self) -> &str {
        "split-brain"
    }

    fn after_event(&mut self, view: &View<'_, P>, node: NodeId) -> Result<(), String> {
        match view.node(node).and_then(P::leader_gen) {
            Some(g) => {
                if self.since.get(&node).is_none_or(|&(old, _)| old != g) {
                    self.since.insert(node, (g, view.now()));
                }
            }
            None => {
                self.since.remove(&node);
            }
        }
        let acting: Vec<(NodeId, Gen)> = view
            .live()
            .filter(|(id, _)| !view.is_paused(*id))
            .filter_map(|(id, p)| p.leader_gen().map(|g| (id, g)))
            .collect();
        if acting.len() < 2 {
            self.reported.clear();
            return Ok(());
        }
        let ids: Vec<NodeId> = acting.iter().map(|(id, _)| *id).collect();
        if ids == self.reported {
            return Ok(());
        }
        self.reported = ids;
        let who: Vec<String> = acting
            .iter()
            .map(|(id, g)| format!("{} (gen {g})", view.name(*id)))
            .collect();
        let history: Vec<String> = acting
            .iter()
            .map(|(id, g)| {
                let at = self.since.get(id).map_or(view.now(), |&(_, t)| t);
                format!("{} leader of gen {g} since {}", view.name(*id), secs(at))
            })
            .collect();
        let verb = if acting.len() == 2 { "both" } else { "all" };
        Err(format!(
            "SPLIT-BRAIN at {}: {} {verb} act as leader ({})",
            secs(view.now()),
            and_list(&who),
            history.join("; ")
        ))
    }
}

/// No generation ever has two leaders.
#[derive(Debug, Default)]
pub struct OneLeaderPerGen {
    first: BTreeMap<Gen, (NodeId, Time)>,
    reported: Vec<Gen>,
}

impl OneLeaderPerGen {
    pub fn new() -> Self {
        Self::default()
    }
}

impl<P: ElectionNode> Checker<P> for OneLeaderPerGen {
    fn name(&self) -> &str {
        "one-leader-per-gen"
    }

    fn after_event(&mut self, view: &View<'_, P>, node: NodeId) -> Result<(), String> {
        let Some(g) = view.node(node).and_then(P::leader_gen) else {
            return Ok(());
        };
        let &mut (first, at) = self.first.entry(g).or_insert((node, view.now()));
        if first == node || self.reported.contains(&g) {
            return Ok(());
        }
        self.reported.push(g);
        Err(format!(
            "TWO LEADERS IN GEN {g}: {} became leader of gen {g} at {} and {} at {}",
            view.name(first),
            secs(at),
            view.name(node),
            secs(view.now())
        ))
    }
}

/// The store never accepts an older generation after a newer one.
#[derive(Debug, Default)]
pub struct Fencing {
    accepted: u64,
    /// The newest generation accepted so far, and the write that carried it.
    newest: Option<(Gen, NodeId, u64)>,
}

impl Fencing {
    pub fn new() -> Self {
        Self::default()
    }
}

impl<P: ElectionNode> Checker<P> for Fencing {
    fn name(&self) -> &str {
        "fencing"
    }

    fn after_event(&mut self, view: &View<'_, P>, node: NodeId) -> Result<(), String> {
        let Some(log) = P::store_log(view.durable(node)) else {
            return Ok(());
        };
        if log.accepted == self.accepted {
            return Ok(());
        }
        self.accepted = log.accepted;
        let Some((w, replaced)) = log.last else {
            return Ok(());
        };
        if let Some((newest, writer, seq)) = self.newest {
            if w.generation < newest {
                let lost = match replaced {
                    Some(old) if old.generation > w.generation => format!(
                        ": it overwrote {}'s w{} (gen {}), a lost update",
                        view.name(old.writer),
                        old.seq,
                        old.generation
                    ),
                    _ => String::new(),
                };
                return Err(format!(
                    "STALE WRITE at {}: {} accepted {}'s write w{} with gen {} after {}'s w{seq} with gen {newest}{lost}",
                    secs(view.now()),
                    view.name(node),
                    view.name(w.writer),
                    w.seq,
                    w.generation,
                    view.name(writer),
                ));
            }
        }
        self.newest = Some((w.generation, w.writer, w.seq));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_read_as_english() {
        let s = |x: &str| x.to_string();
        assert_eq!(and_list(&[s("a")]), "a");
        assert_eq!(and_list(&[s("a"), s("b")]), "a and b");
        assert_eq!(and_list(&[s("a"), s("b"), s("c")]), "a, b and c");
    }
}

/// `eventually-one-leader`: after the faults stop, within `bound`, exactly one live,
/// running node acts as leader, and it still does when the run ends. Judged from
/// `liveness_from` if the config sets it, else from when the scenario's faults stop
/// (the liveness phase, [`Checker::faults_stop`]).
#[derive(Debug)]
pub struct EventuallyOneLeader {
    from: sim_core::LivenessStart,
    bound: sim_core::Duration,
    /// When exactly one node has acted as leader since (after `from`), and which.
    one_since: Option<(Time, NodeId)>,
    first_one: Option<Time>,
}

impl EventuallyOneLeader {
    /// `from`: the config's `liveness_from`, if it sets one.
    pub fn new(from: Option<sim_core::Duration>, bound: sim_core::Duration) -> Self {
        EventuallyOneLeader {
            from: sim_core::LivenessStart::overridden_by("liveness_from", from),
            bound,
            one_since: None,
            first_one: None,
        }
    }

    fn from(&self) -> Time {
        self.from.at()
    }

    fn acting<P: ElectionNode>(view: &View<'_, P>) -> Vec<(NodeId, Gen)> {
        view.live()
            .filter(|(id, _)| !view.is_paused(*id))
            .filter_map(|(id, p)| p.leader_gen().map(|g| (id, g)))
            .collect()
    }

    fn who<P: ElectionNode>(view: &View<'_, P>, acting: &[(NodeId, Gen)]) -> String {
        let names: Vec<String> = acting
            .iter()
            .map(|(id, g)| format!("{} (gen {g})", view.name(*id)))
            .collect();
        match names.len() {
            0 => "no node acts as leader".into(),
            1 => format!("only {} acts as leader", names[0]),
            2 => format!("{} both act as leader", and_list(&names)),
            _ => format!("{} all act as leader", and_list(&names)),
        }
    }
}

impl<P: ElectionNode> Checker<P> for EventuallyOneLeader {
    fn name(&self) -> &str {
        "eventually-one-leader"
    }

    fn faults_stop(&mut self, at: Time) {
        self.from.faults_stop(at);
    }

    fn after_event(&mut self, view: &View<'_, P>, _node: NodeId) -> Result<(), String> {
        if view.now() < self.from() {
            return Ok(());
        }
        match Self::acting(view).as_slice() {
            [(id, _)] => {
                if self.one_since.is_none_or(|(_, l)| l != *id) {
                    self.one_since = Some((view.now(), *id));
                    self.first_one.get_or_insert(view.now());
                }
            }
            _ => self.one_since = None,
        }
        Ok(())
    }

    fn at_end(&mut self, view: &View<'_, P>) -> Result<(), String> {
        let from = self.from();
        let deadline = from.plus(self.bound);
        if let Some(short) = self.from.too_short(view.now(), self.bound) {
            return Err(short);
        }
        let acting = Self::acting(view);
        match self.one_since {
            Some((t, _)) if t <= deadline => Ok(()),
            Some((t, id)) => Err(self.from.no_convergence(
                self.bound,
                &format!(
                    "one leader ({}) only from {}, {} into the liveness phase",
                    view.name(id),
                    t.readable(),
                    t.since(from).readable()
                ),
            )),
            None => Err(self.from.no_convergence(
                self.bound,
                &format!(
                    "at the end ({}) {}{}",
                    view.now().readable(),
                    Self::who(view, &acting),
                    match self.first_one {
                        Some(t) => format!(" (one leader at {}, but not since)", t.readable()),
                        None => String::new(),
                    }
                ),
            )),
        }
    }
}
