//! Raft's safety properties (§5.4, Figure 3) as checkers that watch every server after
//! every event, plus one liveness check.
//!
//! The checkers see what no server can: all states at one instant. Each keeps its own
//! record of what it has observed (which leader it saw in which term, which entries it
//! saw committed or applied), because a violation is often a contradiction between
//! *now* and *then*: a committed entry missing from a leader elected later.

use super::{Durable, Entry, Node, RaftConfig, Role};
use crate::kv::{grow, reserve_once};
use sim_core::{Checker, NodeId, View};
use std::collections::{BTreeMap, BTreeSet};

/// The places of a server's check stamp ([`sim_core::Process::check_stamp`]) as bits, for
/// [`Checker::reads_only_stamp`]: role, term, commit index, last applied, and the log
/// (its length and its count of cuts).
pub const STAMP_ROLE: u8 = 1;
pub const STAMP_TERM: u8 = 1 << 1;
pub const STAMP_COMMIT: u8 = 1 << 2;
pub const STAMP_APPLIED: u8 = 1 << 3;
pub const STAMP_LOG: u8 = 1 << 4 | 1 << 5;

/// Builds the checker called `name`.
pub fn checker(name: &str, config: &RaftConfig) -> Option<Box<dyn Checker<Node>>> {
    Some(match name {
        "election-safety" => Box::new(ElectionSafety::default()),
        "log-matching" => Box::new(LogMatching::default()),
        "leader-completeness" => Box::new(LeaderCompleteness::default()),
        "state-machine-safety" => Box::new(StateMachineSafety::default()),
        "eventually-leader" => Box::new(EventuallyLeader::new(
            config.liveness_from,
            config.liveness_bound,
        )),
        _ => return None,
    })
}

/// Every Always checker (for tests and sweeps).
pub fn safety_checkers() -> Vec<Box<dyn Checker<Node>>> {
    vec![
        Box::new(ElectionSafety::default()),
        Box::new(LogMatching::default()),
        Box::new(LeaderCompleteness::default()),
        Box::new(StateMachineSafety::default()),
    ]
}

/// Election Safety: at most one leader per term (§5.2).
#[derive(Debug, Default)]
pub struct ElectionSafety {
    leaders: BTreeMap<u64, NodeId>,
    /// The last `(term, leader)` recorded: a leader handles most events, so this skips
    /// the map for all but the first event of each term.
    last: Option<(u64, NodeId)>,
}

impl Checker<Node> for ElectionSafety {
    fn name(&self) -> &str {
        "election-safety"
    }

    /// Only a leader's first event in a term does anything (its role and term).
    fn reads_only_stamp(&self) -> Option<u8> {
        Some(STAMP_ROLE | STAMP_TERM)
    }

    fn after_event(&mut self, view: &View<'_, Node>, node: NodeId) -> Result<(), String> {
        let Some(state) = view.node(node) else {
            return Ok(());
        };
        if state.role() != Role::Leader {
            return Ok(());
        }
        let term = view.durable(node).current_term();
        if self.last == Some((term, node)) {
            return Ok(());
        }
        let first = *self.leaders.entry(term).or_insert(node);
        self.last = Some((term, first));
        if first != node {
            return Err(format!(
                "{} and {} are both leaders of term {term}",
                view.name(first),
                view.name(node)
            ));
        }
        Ok(())
    }
}

/// What a checker has verified of one server's log: up to which index, and the log's count
/// of cuts then (log matching, and leader completeness's agreed prefix).
#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    len: u64,
    truncations: u64,
}

/// Log Matching (§5.3): if two logs hold an entry with the same index and term, the logs
/// are identical up to that index. Checked inductively: every `(index, term)` ever seen in
/// any log must always come with the same command and the same previous term.
#[derive(Debug, Default)]
pub struct LogMatching {
    /// Per index (0-based), the first `(term, previous term, entry, first holder)` seen
    /// there: most indexes only ever hold one term, so it is kept inline, without a
    /// vector per index.
    first: Vec<(u64, u64, Entry, NodeId)>,
    /// The other terms seen at an index (a conflicting suffix, later overwritten), by
    /// `(index, term)`: `(previous term, entry, first holder)`.
    others: BTreeMap<(u64, u64), (u64, Entry, NodeId)>,
    seen: Vec<Seen>,
}

impl LogMatching {
    #[inline]
    fn check_from(
        &mut self,
        view: &View<'_, Node>,
        node: NodeId,
        d: &Durable,
        from: u64,
    ) -> Result<(), String> {
        let mut prev = d.term_at(from - 1).expect("within the log");
        for (k, entry) in d.entries(from, d.last_index()).iter().enumerate() {
            let index = from + k as u64;
            let slot = index as usize - 1;
            if slot < self.first.len() {
                let (t, p, e, holder) = &self.first[slot];
                if *t == entry.term {
                    if e != entry || *p != prev {
                        return Err(differ(view, index, (*p, e, *holder), (prev, entry, node)));
                    }
                } else {
                    // Another term at a known index (a suffix later overwritten): rare,
                    // kept out of line so the common path stays small (issue #17).
                    self.other_term(view, node, index, prev, entry)?;
                }
            } else {
                debug_assert_eq!(slot, self.first.len(), "logs grow one index at a time");
                reserve_once(&mut self.first);
                self.first.push((entry.term, prev, entry.clone(), node));
            }
            prev = entry.term;
        }
        Ok(())
    }

    /// An entry at `index` whose term is not the first term seen there: compared with the
    /// first entry seen with that index and term, or recorded as it.
    #[inline(never)]
    fn other_term(
        &mut self,
        view: &View<'_, Node>,
        node: NodeId,
        index: u64,
        prev: u64,
        entry: &Entry,
    ) -> Result<(), String> {
        match self.others.get(&(index, entry.term)) {
            Some((p, e, holder)) => {
                if e != entry || *p != prev {
                    return Err(differ(view, index, (*p, e, *holder), (prev, entry, node)));
                }
            }
            None => {
                self.others
                    .insert((index, entry.term), (prev, entry.clone(), node));
            }
        }
        Ok(())
    }
}

/// Log matching's report: two logs hold an entry of one index and term on different
/// histories, `(previous term, entry, holder)` each.
#[cold]
#[inline(never)]
fn differ(
    view: &View<'_, Node>,
    index: u64,
    (p, e, holder): (u64, &Entry, NodeId),
    (prev, entry, node): (u64, &Entry, NodeId),
) -> String {
    format!(
        "{} and {} both hold an entry at index {index} term {} but the logs differ: {:?} after term {p} vs {:?} after term {prev}",
        view.name(holder),
        view.name(node),
        entry.term,
        e,
        entry
    )
}

impl Checker<Node> for LogMatching {
    fn name(&self) -> &str {
        "log-matching"
    }

    /// It reads the log only.
    fn reads_only_stamp(&self) -> Option<u8> {
        Some(STAMP_LOG)
    }

    fn after_event(&mut self, view: &View<'_, Node>, node: NodeId) -> Result<(), String> {
        if self.seen.len() < view.node_count() {
            grow(&mut self.seen, view.node_count(), Seen::default());
        }
        let d = view.durable(node);
        let seen = self.seen[node.index()];
        let (truncations, last_cut) = d.truncations();
        if seen.len == d.last_index() && seen.truncations == truncations {
            return Ok(()); // the log is as last checked (most events: heartbeats, votes)
        }
        // Entries below every cut since we last looked are unchanged and were checked.
        let valid = match truncations - seen.truncations {
            0 => seen.len,
            1 => seen.len.min(last_cut - 1),
            _ => 0,
        };
        if d.last_index() > valid {
            self.check_from(view, node, d, valid + 1)?;
        }
        self.seen[node.index()] = Seen {
            len: d.last_index(),
            truncations,
        };
        Ok(())
    }
}

/// Leader Completeness (§5.4): an entry committed in a term is in the log of every leader
/// of a later term. An entry counts as committed once any server's commit index covers it;
/// its commit term is the lowest term of a server seen claiming so.
#[derive(Debug, Default)]
pub struct LeaderCompleteness {
    /// Per index (0-based): the committed entry's term and the term it was committed in.
    committed: Vec<(u64, u64, NodeId)>,
    /// Per server, the commit index already recorded (reset when it crashes).
    recorded: Vec<u64>,
    /// Leaders already checked, `(term, node)` (each once, even two of one term).
    checked: BTreeSet<(u64, NodeId)>,
    /// The last leader checked (skips the map for a leader's later events).
    last_checked: Option<(u64, NodeId)>,
    /// Per server, how far its log is known to agree with `committed` (every entry up
    /// to that index has the committed term), and its log's count of cuts then: a new
    /// leader's check starts past that prefix while the log was not cut below it,
    /// instead of walking every committed entry again at each election (issue #17).
    agreed: Vec<Seen>,
}

impl LeaderCompleteness {
    /// The longest prefix of `d`'s log known to hold the committed terms: the recorded
    /// one, cut back to below the log's cuts since, then extended as far as it agrees.
    fn agreed_prefix(&mut self, node: NodeId, d: &Durable) -> u64 {
        let (truncations, last_cut) = d.truncations();
        let known = self.agreed[node.index()];
        let mut upto = match truncations.checked_sub(known.truncations) {
            Some(0) => known.len,
            Some(1) => known.len.min(last_cut - 1),
            _ => 0,
        };
        while let Some(&(entry_term, _, _)) = self.committed.get(upto as usize) {
            if d.term_at(upto + 1) != Some(entry_term) {
                break;
            }
            upto += 1;
        }
        self.agreed[node.index()] = Seen {
            len: upto,
            truncations,
        };
        upto
    }
}

/// Leader completeness's report of an index committed with two terms: `(term, commit
/// term, by)` as recorded, and `(term, node)` now. Out of line: the recording loop runs at
/// every commit (issue #17).
#[cold]
#[inline(never)]
fn recommitted(
    view: &View<'_, Node>,
    index: u64,
    (t, commit_term, by): (u64, u64, NodeId),
    (entry_term, node): (u64, NodeId),
) -> String {
    format!(
        "index {index} was committed with term {t} (by {}, in term {commit_term}) but {} now commits term {entry_term} there",
        view.name(by),
        view.name(node)
    )
}

impl Checker<Node> for LeaderCompleteness {
    fn name(&self) -> &str {
        "leader-completeness"
    }

    /// Newly committed entries, and a leader seen for the first time in a term: with the
    /// role, term and commit index as they were, a call returns at once (the log is read
    /// only when one of them changed).
    fn reads_only_stamp(&self) -> Option<u8> {
        Some(STAMP_ROLE | STAMP_TERM | STAMP_COMMIT)
    }

    fn after_event(&mut self, view: &View<'_, Node>, node: NodeId) -> Result<(), String> {
        if self.recorded.len() < view.node_count() {
            grow(&mut self.recorded, view.node_count(), 0);
            grow(&mut self.agreed, view.node_count(), Seen::default());
        }
        let Some(state) = view.node(node) else {
            self.recorded[node.index()] = 0;
            return Ok(());
        };
        let d = view.durable(node);
        let term = d.current_term();
        let from = self.recorded[node.index()];
        let leader = state.role() == Role::Leader;
        if state.commit_index() <= from && (!leader || self.last_checked == Some((term, node))) {
            return Ok(()); // nothing newly committed, and no leader to check for the first time
        }
        // Record newly committed entries.
        for index in from + 1..=state.commit_index() {
            let Some(entry_term) = d.term_at(index) else {
                break;
            };
            let slot = index as usize - 1;
            if slot < self.committed.len() {
                let (t, commit_term, by) = &mut self.committed[slot];
                if *t != entry_term {
                    return Err(recommitted(
                        view,
                        index,
                        (*t, *commit_term, *by),
                        (entry_term, node),
                    ));
                }
                *commit_term = (*commit_term).min(term);
            } else {
                debug_assert_eq!(slot, self.committed.len());
                reserve_once(&mut self.committed);
                self.committed.push((entry_term, term, node));
            }
        }
        self.recorded[node.index()] = self.recorded[node.index()].max(state.commit_index());
        // A leader seen for the first time must hold every entry committed before its term.
        if leader && self.last_checked != Some((term, node)) && self.checked.insert((term, node)) {
            self.last_checked = Some((term, node));
            // Entries in the agreed prefix hold their committed term: none can fail.
            let agreed = self.agreed_prefix(node, d) as usize;
            for (slot, &(entry_term, commit_term, by)) in
                self.committed.iter().enumerate().skip(agreed)
            {
                let index = slot as u64 + 1;
                if commit_term < term && d.term_at(index) != Some(entry_term) {
                    return Err(format!(
                        "{} leads term {term} without the entry at index {index} (term {entry_term}) that {} saw committed in term {commit_term}",
                        view.name(node),
                        view.name(by)
                    ));
                }
            }
        }
        Ok(())
    }
}

/// State Machine Safety (§5.4.3): if a server has applied an entry at an index, no other
/// server ever applies a different entry at that index. The shared key-value checker,
/// reading what each server applied as its log up to `last_applied`.
pub type StateMachineSafety = crate::kv::StateMachineSafety<Node>;

impl crate::kv::AppliedCommands for Node {
    type Applied = Entry;

    /// Its entries are read only when `last_applied` moved.
    const STAMP_PLACES: Option<u8> = Some(STAMP_APPLIED);

    fn applied_count(&self) -> usize {
        self.last_applied() as usize
    }

    fn applied_at<'a>(&'a self, durable: &'a Durable, k: usize) -> (u64, &'a Entry) {
        let index = k as u64 + 1;
        let entry = durable
            .entry(index)
            .expect("applied entries are in the log");
        (index, entry)
    }

    #[cold]
    #[inline(never)]
    fn conflict(
        view: &View<'_, Node>,
        _k: usize,
        (index, first, by): (u64, &Entry, NodeId),
        (_, entry, node): (u64, &Entry, NodeId),
    ) -> String {
        format!(
            "{} applied {first:?} at index {index} but {} applied {entry:?}",
            view.name(by),
            view.name(node)
        )
    }
}

/// Eventually a leader ([`crate::kv::EventuallyLeader`]): stable when a live leader's
/// term is every live server's, and every live server follows it.
pub type EventuallyLeader = crate::kv::EventuallyLeader<Node>;

impl crate::kv::StableLeader for Node {
    fn stable_leader(view: &View<'_, Node>) -> bool {
        let mut leader = None;
        for (id, n) in view.live() {
            if n.is_leader() {
                if leader.is_some() {
                    return false;
                }
                leader = Some((id, view.durable(id).current_term()));
            }
        }
        let Some((l, term)) = leader else {
            return false;
        };
        view.live().all(|(id, n)| {
            !view.is_paused(id)
                && view.durable(id).current_term() == term
                && n.leader_hint() == Some(l)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::{KvOp, KvRequest};
    use sim_core::{ClientId, SimRng};
    use std::rc::Rc;

    fn entry(term: u64) -> Entry {
        Entry {
            term,
            command: Rc::new(KvRequest {
                client: ClientId(0),
                seq: 1,
                op: KvOp::Get { key: "k1".into() },
            }),
        }
    }

    /// The longest prefix of `d`'s log that holds the committed terms, by a walk from 1.
    fn plain_prefix(committed: &[(u64, u64, NodeId)], d: &Durable) -> u64 {
        let mut k = 0;
        while let Some(&(t, _, _)) = committed.get(k as usize) {
            if d.term_at(k + 1) != Some(t) {
                break;
            }
            k += 1;
        }
        k
    }

    #[test]
    fn agreed_prefix_is_the_longest_agreeing_prefix() {
        let mut cut_below = 0;
        for seed in 0..40 {
            let mut rng = SimRng::new(seed, "test/agreed");
            let mut lc = LeaderCompleteness::default();
            lc.agreed.resize(1, Seen::default());
            let mut d = Durable::default();
            let node = NodeId(0);
            let mut term = 1;
            for _ in 0..400 {
                match rng.below(10) {
                    // Append a few entries of the current term or a new one.
                    0..=3 => {
                        term += rng.below(2);
                        for _ in 0..rng.between(1, 3) {
                            d.append(entry(term));
                        }
                    }
                    // Commit the log's next entry, or one of another term there.
                    4..=5 => {
                        let i = lc.committed.len() as u64 + 1;
                        let t = match d.term_at(i) {
                            Some(t) if rng.below(4) != 0 => t,
                            _ => term + rng.below(2),
                        };
                        lc.committed.push((t, term, node));
                    }
                    // Cut the log back (once or several times between two looks).
                    6..=7 => {
                        for _ in 0..rng.between(1, 2) {
                            if d.last_index() > 0 {
                                let at = rng.between(1, d.last_index());
                                d.truncate_from(at);
                                cut_below += u64::from(at <= lc.agreed[0].len);
                            }
                        }
                    }
                    _ => {
                        let fast = lc.agreed_prefix(node, &d);
                        assert_eq!(fast, plain_prefix(&lc.committed, &d), "seed {seed}");
                    }
                }
            }
        }
        assert!(cut_below >= 40, "{cut_below} cuts below the agreed prefix");
    }
}
