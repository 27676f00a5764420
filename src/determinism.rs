//! Checking determinism itself: the same scenario and seed must give the same trace.

use crate::RunResult;
use crate::runner;
use crate::scenario::{Scenario, ScenarioError};
use sim_core::TraceLevel;
use std::ops::Range;

/// The first difference between two runs of one seed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    pub seed: u64,
    /// Index of the first differing event (or of the first missing one).
    pub index: usize,
    pub first: String,
    pub second: String,
}

/// Runs each seed twice with the full trace; `None` if every pair is identical (built-in
/// protocols; [`crate::registry::Registry::check_determinism`] for another registry).
pub fn check_determinism(
    s: &Scenario,
    seeds: Range<u64>,
) -> Result<Option<Difference>, ScenarioError> {
    check_determinism_with_progress(s, seeds, &mut |_| {})
}

/// [`check_determinism`], and `on_seed` hears how many seeds are checked after each (for
/// a progress display: it cannot change the runs).
pub fn check_determinism_with_progress(
    s: &Scenario,
    seeds: Range<u64>,
    on_seed: &mut dyn FnMut(u64),
) -> Result<Option<Difference>, ScenarioError> {
    crate::registry::builtin_ref().check_determinism(s, seeds, on_seed)
}

/// [`check_determinism`] for a protocol type known at compile time.
pub fn check_determinism_with<P: protocols::Protocol>(
    s: &Scenario,
    seeds: Range<u64>,
    on_seed: &mut dyn FnMut(u64),
) -> Result<Option<Difference>, ScenarioError> {
    let prepared = runner::Prepared::<P>::new(s)?;
    for (done, seed) in (1..).zip(seeds) {
        let a = prepared.run(s, seed, TraceLevel::Full)?;
        let b = prepared.run(s, seed, TraceLevel::Full)?;
        if let Some(d) = first_difference(&a, &b) {
            return Ok(Some(d));
        }
        on_seed(done);
    }
    Ok(None)
}

/// Where two runs of one seed part ways, if they do.
pub fn first_difference(a: &RunResult, b: &RunResult) -> Option<Difference> {
    let (ea, eb) = (&a.report.trace.events, &b.report.trace.events);
    let show = |e: Option<&sim_core::TraceEvent>| {
        e.map_or("(no event: the run ended)".to_string(), |e| e.to_string())
    };
    for i in 0..ea.len().max(eb.len()) {
        if ea.get(i) != eb.get(i) {
            return Some(Difference {
                seed: a.seed,
                index: i,
                first: show(ea.get(i)),
                second: show(eb.get(i)),
            });
        }
    }
    if a.report.fingerprint != b.report.fingerprint || a.report.stats != b.report.stats {
        return Some(Difference {
            seed: a.seed,
            index: ea.len(),
            first: format!(
                "fingerprint {:016x}, {:?}",
                a.report.fingerprint, a.report.stats
            ),
            second: format!(
                "fingerprint {:016x}, {:?}",
                b.report.fingerprint, b.report.stats
            ),
        });
    }
    None
}
