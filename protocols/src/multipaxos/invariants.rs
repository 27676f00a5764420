//! Multi-Paxos's safety properties as checkers that watch every node after every event,
//! and its liveness property judged at the end.
//!
//! [`SlotAgreement`] is single-decree agreement per slot, judged from the acceptors'
//! journals (the acceptances each made in the event just handled, in order: read after
//! every event, so the checker sees every acceptance ever made), so an acceptance later
//! overwritten still counts toward the ballot it was made in. [`StateMachineSafety`] compares what
//! replicas applied, position by position.

use super::{Command, Durable, Node};
use crate::multipaxos::MultiPaxosConfig;
use crate::paxos::Ballot;
use sim_core::{Checker, NodeId, View};

/// Builds the checker called `name`.
pub fn checker(name: &str, config: &MultiPaxosConfig) -> Option<Box<dyn Checker<Node>>> {
    Some(match name {
        "slot-agreement" => Box::new(SlotAgreement::default()),
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
        Box::new(SlotAgreement::default()),
        Box::new(StateMachineSafety::default()),
    ]
}

/// Slot agreement: no slot has two chosen commands.
#[derive(Debug, Default)]
pub struct SlotAgreement {
    /// Per slot (index `slot - 1`).
    slots: Vec<Slot>,
    /// Per node, how many of its acceptances have been read.
    read: Vec<u64>,
    /// The voter bitsets of every (slot, ballot) seen, `words` words each, one after the
    /// other (one allocation for the run instead of one per slot and ballot).
    voters: Vec<u64>,
}

/// What the checker saw in one slot: most slots see one ballot, kept inline.
#[derive(Debug, Default)]
struct Slot {
    first: Option<Votes>,
    more: Vec<Votes>,
    /// The first command chosen and its ballot.
    chosen: Option<(Command, Ballot)>,
}

/// One ballot's acceptances of one slot: the command, where its voter bits start in
/// [`SlotAgreement::voters`], and how many voted.
#[derive(Debug)]
struct Votes {
    ballot: Ballot,
    command: Command,
    bits: usize,
    count: usize,
}

impl Checker<Node> for SlotAgreement {
    fn name(&self) -> &str {
        "slot-agreement"
    }

    fn after_event(&mut self, view: &View<'_, Node>, node: NodeId) -> Result<(), String> {
        let n = view.node_count();
        if self.read.len() < n {
            self.read.resize(n, 0);
        }
        let from = self.read[node.index()];
        let (journal, end) = match view.durable(node).journal_from(from) {
            Ok(new) => new,
            Err(first) => {
                return Err(format!(
                    "the checker missed acceptances {from}..{first} of {} (it must run after every event)",
                    view.name(node)
                ));
            }
        };
        if journal.is_empty() {
            return Ok(());
        }
        self.read[node.index()] = end;
        let words = n.div_ceil(64);
        let (word, bit) = (node.index() / 64, 1u64 << (node.index() % 64));
        for (slot, ballot, command) in journal {
            let (slot, ballot) = (*slot, *ballot);
            let i = (slot - 1) as usize;
            if self.slots.len() <= i {
                self.slots.resize_with(i + 1, Slot::default);
            }
            let entry = &mut self.slots[i];
            let found = match &mut entry.first {
                Some(v) if v.ballot == ballot => Some(v),
                Some(_) => entry.more.iter_mut().find(|v| v.ballot == ballot),
                None => None,
            };
            let votes = match found {
                Some(v) => v,
                None => {
                    let bits = self.voters.len();
                    self.voters.resize(bits + words, 0);
                    let v = Votes {
                        ballot,
                        command: command.clone(),
                        bits,
                        count: 0,
                    };
                    if entry.first.is_none() {
                        entry.first.insert(v)
                    } else {
                        entry.more.push(v);
                        entry.more.last_mut().expect("just pushed")
                    }
                }
            };
            if votes.command != *command {
                return Err(format!(
                    "two commands in slot {slot} ballot {ballot}: {:?} and {command:?} (at {})",
                    votes.command,
                    view.name(node)
                ));
            }
            let w = &mut self.voters[votes.bits + word];
            if *w & bit != 0 {
                continue;
            }
            *w |= bit;
            votes.count += 1;
            if votes.count < n / 2 + 1 {
                continue;
            }
            match &entry.chosen {
                None => entry.chosen = Some((command.clone(), ballot)),
                Some((first, b)) if first != command => {
                    return Err(format!(
                        "slot {slot} has two chosen commands: {first:?} in ballot {b}, then {command:?} in ballot {ballot}"
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
}

/// State machine safety: the k-th command every replica applies is the same command from
/// the same slot. The shared key-value checker, reading what each replica applied as the
/// slots in the order it applied them.
pub type StateMachineSafety = crate::kv::StateMachineSafety<Node>;

impl crate::kv::AppliedCommands for Node {
    type Applied = Command;

    fn applied_count(&self) -> usize {
        self.applied().len()
    }

    fn applied_at<'a>(&'a self, durable: &'a Durable, k: usize) -> (u64, &'a Command) {
        let slot = self.applied()[k];
        (
            slot,
            durable.chosen(slot).expect("applied slots are chosen"),
        )
    }

    fn conflict(
        view: &View<'_, Node>,
        k: usize,
        (s, c, by): (u64, &Command, NodeId),
        (slot, command, node): (u64, &Command, NodeId),
    ) -> String {
        format!(
            "{} applied slot {s} ({c:?}) as command {} but {} applied slot {slot} ({command:?})",
            view.name(by),
            k + 1,
            view.name(node)
        )
    }
}

/// Eventually a leader ([`crate::kv::EventuallyLeader`]): stable when every live node
/// follows one live leader (same ballot promised, leader hint pointing at it).
pub type EventuallyLeader = crate::kv::EventuallyLeader<Node>;

impl crate::kv::StableLeader for Node {
    fn stable_leader(view: &View<'_, Node>) -> bool {
        let mut leader = None;
        for (id, n) in view.live() {
            if n.is_leader() {
                if leader.is_some() {
                    return false;
                }
                leader = Some((id, n.ballot()));
            }
        }
        let Some((l, ballot)) = leader else {
            return false;
        };
        view.live().all(|(id, n)| {
            !view.is_paused(id)
                && view.durable(id).promised() == Some(ballot)
                && n.leader_hint() == Some(l)
        })
    }
}
