//! Raft's checkers keep incremental state so that an event costs what it changed, not
//! the length of the log (issue #17). Each incremental checker here runs beside a plain
//! one that recomputes from scratch, after every event of runs under heavy faults (with
//! the bug knobs that make the checkers fail, and without): every verdict must be the
//! same, violations and their messages included. The pair reports no violation itself,
//! and the runs have no other checker, so a run goes on past its first violation into
//! the states only broken logs reach (committed entries cut off, leaders without them).

mod support;

use protocols::raft::invariants::LeaderCompleteness;
use protocols::raft::{Node, Role};
use sim_core::{Checker, NodeId, View};
use std::collections::BTreeSet;
use support::*;

/// Leader completeness as it was before the agreed prefix: every committed entry is
/// compared with a new leader's log at each election.
#[derive(Default)]
struct PlainLeaderCompleteness {
    committed: Vec<(u64, u64, NodeId)>,
    recorded: Vec<u64>,
    checked: BTreeSet<(u64, NodeId)>,
}

impl PlainLeaderCompleteness {
    fn after_event(&mut self, view: &View<'_, Node>, node: NodeId) -> Result<(), String> {
        if self.recorded.len() < view.node_count() {
            self.recorded.resize(view.node_count(), 0);
        }
        let Some(state) = view.node(node) else {
            self.recorded[node.index()] = 0;
            return Ok(());
        };
        let d = view.durable(node);
        let term = d.current_term();
        let from = self.recorded[node.index()];
        for index in from + 1..=state.commit_index() {
            let Some(entry_term) = d.term_at(index) else {
                break;
            };
            let slot = index as usize - 1;
            if slot < self.committed.len() {
                let (t, commit_term, by) = &mut self.committed[slot];
                if *t != entry_term {
                    return Err(format!(
                        "index {index} was committed with term {t} (by {}, in term {commit_term}) but {} now commits term {entry_term} there",
                        view.name(*by),
                        view.name(node)
                    ));
                }
                *commit_term = (*commit_term).min(term);
            } else {
                self.committed.push((entry_term, term, node));
            }
        }
        self.recorded[node.index()] = self.recorded[node.index()].max(state.commit_index());
        if state.role() == Role::Leader && self.checked.insert((term, node)) {
            for (slot, &(entry_term, commit_term, by)) in self.committed.iter().enumerate() {
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

/// Runs both after every event and insists they agree; counts their violations.
#[derive(Default)]
struct Both {
    fast: LeaderCompleteness,
    plain: PlainLeaderCompleteness,
    calls: u64,
    violations: std::rc::Rc<std::cell::Cell<u64>>,
}

impl Checker<Node> for Both {
    fn name(&self) -> &str {
        "leader-completeness-both"
    }

    fn after_event(&mut self, view: &View<'_, Node>, node: NodeId) -> Result<(), String> {
        self.calls += 1;
        let fast = self.fast.after_event(view, node);
        let plain = self.plain.after_event(view, node);
        assert_eq!(
            fast,
            plain,
            "call {}, {} at {:?}",
            self.calls,
            node,
            view.now()
        );
        if fast.is_err() {
            self.violations.set(self.violations.get() + 1);
        }
        Ok(())
    }
}

fn knobbed(knob: &str, seed: u64) -> Setup {
    // Long enough for many elections over a long log.
    let mut s = Setup::heavy(5, 3, ms(6_000));
    match knob {
        "none" => {}
        "vote_without_log_check" => s.config.vote_without_log_check = true,
        "commit_earlier_term_by_counting" => s.config.commit_earlier_term_by_counting = true,
        "skip_prev_log_check" => s.config.skip_prev_log_check = true,
        other => panic!("no knob {other}"),
    }
    if seed % 2 == 1 {
        s.loss = 0.0;
        s.duplicate = 0.0;
    }
    s
}

#[test]
fn leader_completeness_agrees_with_the_plain_walk() {
    let (mut failed, mut violations) = (0, 0);
    for knob in [
        "none",
        "vote_without_log_check",
        "commit_earlier_term_by_counting",
        "skip_prev_log_check",
    ] {
        for seed in 0..12 {
            let mut sim = knobbed(knob, seed).build_unchecked(seed);
            let both = Both::default();
            let count = both.violations.clone();
            sim.add_checker(Box::new(both));
            sim.judge_every_event();
            let report = sim.run();
            assert!(report.violations.is_empty(), "{knob} seed {seed}");
            if knob == "none" {
                assert_eq!(count.get(), 0, "seed {seed}");
            }
            failed += usize::from(count.get() > 0);
            violations += count.get();
        }
    }
    // The comparison covers failing verdicts too, and runs long past them.
    assert!(
        failed >= 3,
        "only {failed} runs where leader completeness failed"
    );
    assert!(violations >= 100, "only {violations} failing verdicts");
}
