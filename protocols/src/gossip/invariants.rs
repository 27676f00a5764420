//! The gossip store's checks: `no-lost-update` (always) and `convergence` (eventually).
//!
//! Both read every replica's durable store after each event that touched it; neither
//! asks the replicas what they believe. `no-lost-update` judges each discarded write
//! against the writes' real causal history (the ghost [`super::store::Ghost`] each write
//! carries: what its client had actually read), so a bug that corrupts the version
//! vectors cannot also corrupt the judge.

use super::clock::Stamp;
use super::node::{Node, Store};
use super::store::{Ghost, KeyState, WriteId};
use super::{GossipConfig, LwwMode};
use sim_core::{Checker, Duration, NodeId, Time, View};
use std::collections::{BTreeMap, BTreeSet};

/// Builds the checker `name`.
pub fn checker(name: &str, config: &GossipConfig) -> Option<Box<dyn Checker<Node>>> {
    match name {
        "no-lost-update" => Some(Box::new(NoLostUpdate::new(config.lww != LwwMode::Off))),
        "convergence" => Some(Box::new(Convergence::new(config))),
        _ => None,
    }
}

/// Always: a replica never discards a write unless a write it keeps covers it (its
/// client had read it, directly or through writes it read). In `lww` mode the contract is
/// last-writer-wins: of two *concurrent* writes one may be discarded, but never a write
/// in favour of one it causally followed (the older write must not win).
pub struct NoLostUpdate {
    lww: bool,
    /// Every write seen so far and the writes it covers (ghost data).
    covers: BTreeMap<WriteId, Ghost>,
    /// Per replica: the last store change seen, the last coordinated write, and per key
    /// the fingerprint and the writes held.
    seen_changes: Vec<u64>,
    last_write: Vec<Option<WriteId>>,
    held: Vec<BTreeMap<u32, Held>>,
}

/// What a replica held for a key when the checker last looked.
struct Held {
    fp: u64,
    ids: Vec<WriteId>,
    /// The winning stamp (lww).
    stamp: Option<Stamp>,
}

/// A write a replica no longer holds: key, write, its stamp (lww).
struct Discard {
    key: u32,
    w: WriteId,
    stamp: Option<Stamp>,
}

impl NoLostUpdate {
    pub fn new(lww: bool) -> NoLostUpdate {
        NoLostUpdate {
            lww,
            covers: BTreeMap::new(),
            seen_changes: Vec::new(),
            last_write: Vec::new(),
            held: Vec::new(),
        }
    }

    /// True when `w` is in the down-closure of `roots` (a root, or covered by one,
    /// transitively).
    fn covered(&self, w: WriteId, roots: &[WriteId]) -> bool {
        let mut stack: Vec<WriteId> = roots.to_vec();
        let mut seen = BTreeSet::new();
        while let Some(v) = stack.pop() {
            if v == w {
                return true;
            }
            if seen.insert(v) {
                if let Some(c) = self.covers.get(&v) {
                    stack.extend(c.iter().copied());
                }
            }
        }
        false
    }

    /// Judges the discard of `w` by a replica that now holds `kept` for `key`.
    fn judge(
        &self,
        view: &View<'_, Node>,
        n: NodeId,
        discard: Discard,
        kept: &[WriteId],
        kept_state: Option<&KeyState>,
    ) -> Result<(), String> {
        let Discard {
            key,
            w,
            stamp: w_stamp,
        } = discard;
        if self.covered(w, kept) {
            return Ok(());
        }
        let who = view.name(n);
        if !self.lww {
            return Err(format!(
                "lost update: {who} discarded {w:?} of k{} though no write it keeps covers it (it keeps {kept:?}): no later write whose context covered {w:?} superseded it",
                key + 1
            ));
        }
        // lww: discarding a concurrent write is the contract; discarding one that
        // causally followed the winner is not.
        if let Some(&older) = kept.iter().find(|&&v| self.covered(v, &[w])) {
            let stamp = |s: Option<Stamp>| s.map_or(String::new(), |s| format!(" (stamped {s:?})"));
            let kept_stamp = match kept_state {
                Some(KeyState::Lww(l)) => Some(l.stamp),
                _ => None,
            };
            return Err(format!(
                "lost update: {who} discarded {w:?}{} of k{} for {older:?}{}, which {w:?}'s client had read before writing: the older write won by its clock stamp",
                stamp(w_stamp),
                key + 1,
                stamp(kept_stamp)
            ));
        }
        Ok(())
    }

    fn learn(&mut self, store: &Store) {
        for (_, s, _) in store.keys() {
            for sib in s.siblings() {
                self.covers
                    .entry(sib.id)
                    .or_insert_with(|| sib.covers.clone());
            }
        }
        if let Some((_, sib, _)) = store.last_write() {
            self.covers
                .entry(sib.id)
                .or_insert_with(|| sib.covers.clone());
        }
    }
}

impl Checker<Node> for NoLostUpdate {
    fn name(&self) -> &str {
        "no-lost-update"
    }

    fn after_event(&mut self, view: &View<'_, Node>, n: NodeId) -> Result<(), String> {
        let i = n.index();
        if self.held.len() < view.node_count() {
            let count = view.node_count();
            self.seen_changes.resize(count, 0);
            self.last_write.resize(count, None);
            self.held.resize_with(count, BTreeMap::new);
        }
        let store = view.durable(n);
        if store.changes() == self.seen_changes[i] {
            return Ok(());
        }
        self.seen_changes[i] = store.changes();
        self.learn(store);
        // A write this replica just coordinated, possibly discarded at once (lww).
        let fresh = store
            .last_write()
            .filter(|(_, s, _)| self.last_write[i] != Some(s.id));
        if let Some((key, sib, stamp)) = fresh {
            self.last_write[i] = Some(sib.id);
            let state = store.get(key);
            let kept = state.map(KeyState::ids).unwrap_or_default();
            if !kept.contains(&sib.id) {
                let d = Discard {
                    key,
                    w: sib.id,
                    stamp,
                };
                self.judge(view, n, d, &kept, state)?;
            }
        }
        let mut result = Ok(());
        let mut updates = Vec::new();
        for (key, state, fp) in store.keys() {
            let prev = self.held[i].get(&key);
            if prev.is_some_and(|p| p.fp == fp) {
                continue;
            }
            let kept = state.ids();
            if let Some(before) = prev {
                for &w in &before.ids {
                    if !kept.contains(&w) && result.is_ok() {
                        let d = Discard {
                            key,
                            w,
                            stamp: before.stamp,
                        };
                        result = self.judge(view, n, d, &kept, Some(state));
                    }
                }
            }
            let stamp = match state {
                KeyState::Lww(l) => Some(l.stamp),
                KeyState::Dvv(_) => None,
            };
            updates.push((
                key,
                Held {
                    fp,
                    ids: kept,
                    stamp,
                },
            ));
        }
        for (k, v) in updates {
            self.held[i].insert(k, v);
        }
        result
    }
}

/// Eventually: from when the faults stop, or `converge_from` (when the clients stop
/// writing) if that is later, within `converge_within`, every live replica holds the same
/// state of every key, and still does at the end. Its findings say when each key
/// converged, in virtual time and gossip rounds after that start.
pub struct Convergence {
    start: sim_core::LivenessStart,
    /// `start.at()`, kept up to date.
    from: Time,
    within: Duration,
    interval: Duration,
    alive: Vec<bool>,
    live: u32,
    seen_changes: Vec<u64>,
    /// Per replica: each key's fingerprint.
    fps: Vec<BTreeMap<u32, u64>>,
    /// Per key: how many live replicas hold each fingerprint.
    counts: BTreeMap<u32, BTreeMap<u64, u32>>,
    /// Per key: since when every live replica has held the same state.
    since: BTreeMap<u32, Option<Time>>,
}

impl Convergence {
    pub fn new(config: &GossipConfig) -> Convergence {
        Convergence {
            start: sim_core::LivenessStart::not_before("converge_from", config.converge_from),
            from: Time::ZERO.plus(config.converge_from),
            within: config.converge_within,
            interval: config.gossip_interval,
            alive: Vec::new(),
            live: 0,
            seen_changes: Vec::new(),
            fps: Vec::new(),
            counts: BTreeMap::new(),
            since: BTreeMap::new(),
        }
    }

    fn add(&mut self, key: u32, fp: u64, by: i64) {
        let c = self.counts.entry(key).or_default();
        let e = c.entry(fp).or_insert(0);
        *e = (i64::from(*e) + by) as u32;
        if *e == 0 {
            c.remove(&fp);
        }
    }

    fn converged(&self, key: u32) -> bool {
        let Some(c) = self.counts.get(&key) else {
            return self.live == 0;
        };
        c.len() == 1 && c.values().next() == Some(&self.live)
    }

    fn recheck(&mut self, key: u32, now: Time) {
        let conv = self.converged(key);
        let since = self.since.entry(key).or_insert(None);
        match (conv, *since) {
            (true, None) => *since = Some(now),
            (false, _) => *since = None,
            _ => {}
        }
    }

    /// Rounds of `interval` from `from` to `t`, rounded up.
    fn rounds(&self, t: Time) -> u64 {
        let d = t.since(self.from).as_nanos();
        d.div_ceil(self.interval.as_nanos().max(1))
    }
}

impl Checker<Node> for Convergence {
    fn name(&self) -> &str {
        "convergence"
    }

    fn faults_stop(&mut self, at: Time) {
        self.start.faults_stop(at);
        self.from = self.start.at();
    }

    fn after_event(&mut self, view: &View<'_, Node>, n: NodeId) -> Result<(), String> {
        let i = n.index();
        if self.alive.len() < view.node_count() {
            let count = view.node_count();
            self.alive.resize(count, false);
            self.seen_changes.resize(count, u64::MAX);
            self.fps.resize_with(count, BTreeMap::new);
        }
        let now = view.now();
        let alive = view.node(n).is_some();
        let store = view.durable(n);
        if alive != self.alive[i] {
            self.alive[i] = alive;
            let fps: Vec<(u32, u64)> = self.fps[i].iter().map(|(k, f)| (*k, *f)).collect();
            for (k, fp) in fps {
                self.add(k, fp, if alive { 1 } else { -1 });
            }
            if alive {
                self.live += 1;
            } else {
                self.live -= 1;
            }
            let keys: Vec<u32> = self.since.keys().copied().collect();
            for k in keys {
                self.recheck(k, now);
            }
        }
        if store.changes() != self.seen_changes[i] {
            self.seen_changes[i] = store.changes();
            let mut changed = Vec::new();
            for (k, _, fp) in store.keys() {
                let old = self.fps[i].insert(k, fp);
                if old != Some(fp) {
                    changed.push((k, old, fp));
                }
            }
            for (k, old, fp) in changed {
                if alive {
                    if let Some(o) = old {
                        self.add(k, o, -1);
                    }
                    self.add(k, fp, 1);
                }
                self.recheck(k, now);
            }
        }
        Ok(())
    }

    fn at_end(&mut self, view: &View<'_, Node>) -> Result<(), String> {
        let deadline = self.from.plus(self.within);
        let short = self.start.too_short(view.now(), self.within);
        for (&k, since) in &self.since {
            if let (None, Some(short)) = (since, &short) {
                return Err(format!("{short} (k{} has not converged)", k + 1));
            }
            match since {
                None => {
                    // Group the live replicas by what they hold.
                    let mut groups: BTreeMap<Vec<WriteId>, Vec<&str>> = BTreeMap::new();
                    for (id, _) in view.live() {
                        let ids = view
                            .durable(id)
                            .get(k)
                            .map(KeyState::ids)
                            .unwrap_or_default();
                        groups.entry(ids).or_default().push(view.name(id));
                    }
                    let parts: Vec<String> = groups
                        .iter()
                        .take(4)
                        .map(|(ids, who)| {
                            let names = if who.len() > 4 {
                                format!("{} and {} more", who[..4].join(" "), who.len() - 4)
                            } else {
                                who.join(" ")
                            };
                            format!("{names} hold {ids:?}")
                        })
                        .collect();
                    return Err(self.start.no_convergence(
                        self.within,
                        &format!(
                            "k{} has not converged by the end ({}): {}",
                            k + 1,
                            view.now().readable(),
                            parts.join("; ")
                        ),
                    ));
                }
                Some(t) if *t > deadline => {
                    return Err(self.start.no_convergence(
                        self.within,
                        &format!(
                            "k{} converged only at {}, {} into the liveness phase",
                            k + 1,
                            t.readable(),
                            t.since(self.from).readable()
                        ),
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn findings(&self) -> Vec<String> {
        self.since
            .iter()
            .filter_map(|(k, since)| {
                let t = (*since)?;
                Some(if t <= self.from {
                    format!(
                        "k{} converged at {}, before {} (the last fault)",
                        k + 1,
                        t.readable(),
                        self.from.readable()
                    )
                } else {
                    let rounds = self.rounds(t);
                    format!(
                        "k{} converged at {}: {} after {} ({rounds} gossip round{} of {})",
                        k + 1,
                        t.readable(),
                        t.since(self.from).readable(),
                        self.from.readable(),
                        if rounds == 1 { "" } else { "s" },
                        self.interval
                    )
                })
            })
            .collect()
    }
}
