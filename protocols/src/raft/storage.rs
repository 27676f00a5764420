//! What a Raft server keeps on stable storage (Figure 2, "Persistent state on all
//! servers"): `currentTerm`, `votedFor` and the log. The node writes here *before* it
//! answers the message that caused the write, so a crash can never make it take back a
//! vote or an acknowledged entry. The simulator keeps this value across crashes; the
//! volatile [`super::Node`] is rebuilt from it on restart.

use crate::kv::KvRequest;
use sim_core::{ClientId, NodeId};
use std::fmt;
use std::rc::Rc;

/// A log entry: the term of the leader that created it and the command.
///
/// The command is shared (`Rc`): an entry is copied into every AppendEntries that carries
/// it and into every follower's log, and sharing makes each copy a reference count instead
/// of fresh strings. Commands are never changed once logged, so sharing is unobservable.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Entry {
    pub term: u64,
    pub command: Rc<KvRequest>,
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{:?}", self.term, self.command)
    }
}

/// Durable state. Log indexes start at 1, as in the paper; index 0 is the empty prefix
/// with term 0.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Durable {
    current_term: u64,
    voted_for: Option<NodeId>,
    log: Vec<Entry>,
    /// How many times the log was cut back, and where the last cut was: lets checkers
    /// re-read only what changed.
    truncations: u64,
    last_truncation: u64,
    /// Per client (by id), at least the highest request seq any entry of the log has held
    /// (it does not go down when the log is cut): a request with a higher seq is surely
    /// not in the log, which spares the search in [`Durable::has_command`] for most
    /// requests.
    max_seq: Vec<u64>,
}

impl Durable {
    pub fn current_term(&self) -> u64 {
        self.current_term
    }

    pub fn voted_for(&self) -> Option<NodeId> {
        self.voted_for
    }

    /// Index of the last entry (0 when the log is empty).
    pub fn last_index(&self) -> u64 {
        self.log.len() as u64
    }

    pub fn last_term(&self) -> u64 {
        self.log.last().map_or(0, |e| e.term)
    }

    /// The term of the entry at `index`; 0 for index 0; `None` past the end.
    pub fn term_at(&self, index: u64) -> Option<u64> {
        if index == 0 {
            return Some(0);
        }
        self.log.get(index as usize - 1).map(|e| e.term)
    }

    /// The entry at `index` (1-based).
    pub fn entry(&self, index: u64) -> Option<&Entry> {
        index.checked_sub(1).and_then(|i| self.log.get(i as usize))
    }

    /// Entries `from..=to` (1-based, clamped to the log).
    pub fn entries(&self, from: u64, to: u64) -> &[Entry] {
        let lo = (from.max(1) - 1) as usize;
        let hi = (to as usize).min(self.log.len());
        if lo >= hi { &[] } else { &self.log[lo..hi] }
    }

    /// The first index holding `term`, searching back from `index` (conflict hints).
    pub fn first_index_of_term(&self, index: u64) -> u64 {
        let Some(term) = self.term_at(index) else {
            return index;
        };
        let mut i = index;
        while i > 1 && self.term_at(i - 1) == Some(term) {
            i -= 1;
        }
        i
    }

    /// `(truncations, index of the last truncation)`: the log's entries below the
    /// smallest truncation point since a reader last looked are unchanged.
    pub fn truncations(&self) -> (u64, u64) {
        (self.truncations, self.last_truncation)
    }

    pub(super) fn set_term(&mut self, term: u64) {
        debug_assert!(term >= self.current_term, "terms never go back");
        if term > self.current_term {
            self.current_term = term;
            self.voted_for = None;
        }
    }

    pub(super) fn vote(&mut self, for_node: NodeId) {
        self.voted_for = Some(for_node);
    }

    #[inline(always)]
    pub(super) fn append(&mut self, entry: Entry) {
        let (client, seq) = (entry.command.client.0 as usize, entry.command.seq);
        match self.max_seq.get_mut(client) {
            Some(max) => *max = (*max).max(seq),
            None => {
                crate::kv::grow(&mut self.max_seq, client + 1, 0);
                self.max_seq[client] = seq;
            }
        }
        self.log.push(entry);
    }

    /// Does the log hold an entry for the client command `(client, seq)`? Searches from the
    /// end (a retried command is usually recent), and not at all when `seq` is above every
    /// seq the client ever had in this log.
    pub fn has_command(&self, client: ClientId, seq: u64) -> bool {
        if self
            .max_seq
            .get(client.0 as usize)
            .is_none_or(|&max| seq > max)
        {
            return false;
        }
        self.log
            .iter()
            .rev()
            .any(|e| e.command.client == client && e.command.seq == seq)
    }

    /// Makes room for `entries` in all in the log (when it has less).
    pub(super) fn reserve_log(&mut self, entries: usize) {
        self.log.reserve(entries.saturating_sub(self.log.len()));
    }

    /// Deletes the entry at `index` and all that follow it.
    pub(super) fn truncate_from(&mut self, index: u64) {
        debug_assert!(index >= 1);
        if index <= self.last_index() {
            self.log.truncate(index as usize - 1);
            self.truncations += 1;
            self.last_truncation = index;
        }
    }

    /// The bug knob `forget_vote_on_restart`: what a server that never flushed its term
    /// and vote recovers with (the term of its last log entry, no vote).
    pub(super) fn forget_vote(&mut self) {
        self.current_term = self.last_term();
        self.voted_for = None;
    }
}

/// The entries one AppendEntries carries. Most carry none (heartbeats, probes) or one (a
/// client command sent at once to the followers with nothing in flight), so up to one is
/// kept inline: only a batch pays for a vector of its own, allocated by the leader and
/// freed by the follower.
#[derive(Clone, Default)]
pub struct Entries(Batch);

#[derive(Clone, Default)]
enum Batch {
    #[default]
    Empty,
    One(Entry),
    Many(Vec<Entry>),
}

impl Entries {
    /// Copies of `entries` (each a reference count).
    pub fn from_slice(entries: &[Entry]) -> Entries {
        Entries(match entries {
            [] => Batch::Empty,
            [one] => Batch::One(one.clone()),
            many => Batch::Many(many.to_vec()),
        })
    }

    pub fn as_slice(&self) -> &[Entry] {
        match &self.0 {
            Batch::Empty => &[],
            Batch::One(e) => std::slice::from_ref(e),
            Batch::Many(v) => v,
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        match &self.0 {
            Batch::Empty => 0,
            Batch::One(_) => 1,
            Batch::Many(v) => v.len(),
        }
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<Vec<Entry>> for Entries {
    fn from(entries: Vec<Entry>) -> Entries {
        if entries.len() <= 1 {
            Entries::from_slice(&entries)
        } else {
            Entries(Batch::Many(entries))
        }
    }
}

impl PartialEq for Entries {
    fn eq(&self, other: &Entries) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Entries {}

impl fmt::Debug for Entries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

/// The entries of an [`Entries`], moved out in order.
pub enum EntriesIntoIter {
    One(Option<Entry>),
    Many(std::vec::IntoIter<Entry>),
}

impl Iterator for EntriesIntoIter {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        match self {
            EntriesIntoIter::One(e) => e.take(),
            EntriesIntoIter::Many(it) => it.next(),
        }
    }
}

impl IntoIterator for Entries {
    type Item = Entry;
    type IntoIter = EntriesIntoIter;

    fn into_iter(self) -> EntriesIntoIter {
        match self.0 {
            Batch::Empty => EntriesIntoIter::One(None),
            Batch::One(e) => EntriesIntoIter::One(Some(e)),
            Batch::Many(v) => EntriesIntoIter::Many(v.into_iter()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::KvOp;

    fn entry(term: u64, client: u32, seq: u64) -> Entry {
        Entry {
            term,
            command: Rc::new(KvRequest {
                client: ClientId(client),
                seq,
                op: KvOp::Get { key: "k1".into() },
            }),
        }
    }

    #[test]
    fn has_command_finds_what_the_log_holds_and_nothing_else() {
        let mut d = Durable::default();
        assert!(!d.has_command(ClientId(0), 1), "empty log");
        d.append(entry(1, 0, 1));
        d.append(entry(1, 2, 1));
        d.append(entry(2, 0, 2));
        d.append(entry(2, 0, 1)); // a late duplicate of an older seq
        for (client, seq) in [(0, 1), (2, 1), (0, 2)] {
            assert!(d.has_command(ClientId(client), seq), "c{client}#{seq}");
        }
        for (client, seq) in [(0, 3), (1, 1), (2, 2), (2, 0), (7, 1)] {
            assert!(!d.has_command(ClientId(client), seq), "c{client}#{seq}");
        }
        // A cut removes commands; the seq bound stays, so the search runs and says no.
        d.truncate_from(3);
        assert!(!d.has_command(ClientId(0), 2), "cut off");
        assert!(d.has_command(ClientId(0), 1), "below the cut");
        d.append(entry(3, 0, 2));
        assert!(d.has_command(ClientId(0), 2), "appended again");
    }

    #[test]
    fn entries_hold_none_one_or_many_like_the_slice_they_copy() {
        let log: Vec<Entry> = (1..=4).map(|i| entry(i, 0, i)).collect();
        for n in 0..=log.len() {
            let slice = &log[..n];
            let e = Entries::from_slice(slice);
            assert_eq!(e.len(), n);
            assert_eq!(e.is_empty(), n == 0);
            assert_eq!(e.as_slice(), slice);
            assert_eq!(Entries::from(slice.to_vec()), e, "from a vector of {n}");
            assert_eq!(format!("{e:?}"), format!("{slice:?}"));
            let moved: Vec<Entry> = e.clone().into_iter().collect();
            assert_eq!(moved, slice, "moved out in order");
        }
        assert_ne!(
            Entries::from_slice(&log[..1]),
            Entries::from_slice(&log[1..2])
        );
        assert_ne!(
            Entries::from_slice(&log[..2]),
            Entries::from_slice(&log[..1])
        );
    }
}
