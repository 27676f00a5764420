//! Shrinking: from a failing run to the smallest scenario that still fails the same check.
//!
//! 1. Run the scenario with the seed; note which check fails first.
//! 2. Materialize the random nemesis: its draws for this seed become timed faults, so each
//!    can be removed on its own (the run is the same, event for event).
//! 3. Delta-debug (Zeller's ddmin) the list of timed faults: remove chunks, then single
//!    faults, as long as the same check still fails.
//! 4. Reduce the clients and the operations per client, then cut the run short (just
//!    after the violation).
//! 5. Repeat 3-4 until nothing changes; write the result as RON, read it back and run it
//!    once more to confirm that `faultline run` reproduces the failure.
//!
//! A candidate that no longer passes validation (say, a restart whose crash was removed)
//! counts as "does not fail", so the result is always a valid scenario.

use crate::registry::{self, Visit};
use crate::runner::{Prepared, unknown_protocol};
use crate::scenario::{Expect, Scenario, ScenarioError, Spanned};
use protocols::Protocol;
use sim_core::{Duration, TraceLevel};

/// Why a shrink could not start.
#[derive(Debug)]
pub enum ShrinkError {
    Scenario(ScenarioError),
    /// The seed does not fail: nothing to shrink.
    Passes(String),
}

impl From<ScenarioError> for ShrinkError {
    fn from(e: ScenarioError) -> ShrinkError {
        ShrinkError::Scenario(e)
    }
}

/// A minimal failing scenario.
#[derive(Debug)]
pub struct Shrunk {
    /// The scenario as RON, ready for `faultline run` (its `seed` is the failing seed and
    /// its `expect` the violation).
    pub text: String,
    /// The check that fails.
    pub check: String,
    pub faults_before: usize,
    pub faults: usize,
    /// Simulation runs the shrink took.
    pub runs: usize,
}

/// Shrinks `seed` of `s`, whatever its protocol; `log` hears about each step.
pub fn shrink(s: &Scenario, seed: u64, log: &mut dyn FnMut(&str)) -> Result<Shrunk, ShrinkError> {
    struct V<'a>(&'a Scenario, u64, &'a mut dyn FnMut(&str));
    impl Visit for V<'_> {
        type Output = Result<Shrunk, ShrinkError>;
        fn visit<P: Protocol>(self) -> Self::Output {
            shrink_with::<P>(self.0, self.1, self.2)
        }
    }
    registry::with_protocol(s.protocol(), V(s, seed, log))
        .unwrap_or_else(|| Err(unknown_protocol(s).into()))
}

struct Shrinker<'a, P: Protocol> {
    prepared: Prepared<P>,
    seed: u64,
    check: String,
    runs: usize,
    log: &'a mut dyn FnMut(&str),
}

impl<P: Protocol> Shrinker<'_, P> {
    /// Does `c` still fail `self.check` first?
    fn fails(&mut self, c: &Scenario) -> bool {
        if c.validate().is_err() {
            return false;
        }
        self.runs += 1;
        match self.prepared.run(c, self.seed, TraceLevel::Off) {
            Ok(r) => r.outcome.check() == Some(self.check.as_str()),
            Err(_) => false,
        }
    }

    /// ddmin over the faults: the smallest list (1-minimal) that still fails.
    fn faults(&mut self, cur: &mut Scenario) -> bool {
        let before = cur.faults.len();
        let mut n = 2usize;
        while cur.faults.len() >= 2 {
            let len = cur.faults.len();
            let chunk = len.div_ceil(n);
            let mut removed = false;
            let mut start = 0;
            while start < cur.faults.len() {
                let end = (start + chunk).min(cur.faults.len());
                let mut cand = cur.clone();
                cand.faults.drain(start..end);
                if self.fails(&cand) {
                    *cur = cand;
                    removed = true;
                } else {
                    start = end;
                }
            }
            if removed {
                n = n.saturating_sub(1).max(2);
            } else if n >= cur.faults.len() {
                break;
            } else {
                n = (n * 2).min(cur.faults.len());
            }
        }
        if cur.faults.len() == 1 {
            let mut cand = cur.clone();
            cand.faults.clear();
            if self.fails(&cand) {
                *cur = cand;
            }
        }
        if cur.faults.len() < before {
            (self.log)(&format!("faults: {before} -> {}", cur.faults.len()));
        }
        cur.faults.len() < before
    }

    /// Ends the run just after the violation (rounded up to the millisecond).
    fn duration(&mut self, cur: &mut Scenario) -> bool {
        self.runs += 1;
        let Ok(r) = self.prepared.run(cur, self.seed, TraceLevel::Off) else {
            return false;
        };
        let Some(v) = r.report.violations.first() else {
            return false;
        };
        let ms = v.time.as_nanos().div_ceil(1_000_000) + 1;
        let end = Duration::from_millis(ms);
        if end >= cur.duration.value {
            return false;
        }
        let mut cand = cur.clone();
        cand.duration = Spanned::new(end);
        cand.faults.retain(|f| f.value.0.value <= end);
        if let Some(n) = &mut cand.nemesis {
            if n.value.stop.value > end {
                n.value.stop.value = end;
            }
        }
        if self.fails(&cand) {
            (self.log)(&format!("duration: {} -> {end}", cur.duration.value));
            *cur = cand;
            return true;
        }
        false
    }

    /// The fewest clients, then the fewest operations per client, that still fail.
    fn workload(&mut self, cur: &mut Scenario) -> bool {
        let mut changed = false;
        let clients = cur.workload.clients;
        if let Some(k) = self.smallest(cur, clients, |c, k| c.workload.clients = k) {
            (self.log)(&format!("clients: {clients} -> {k}"));
            cur.workload.clients = k;
            changed = true;
        }
        if cur.workload.clients > 0 {
            let ops = cur.workload.ops_per_client;
            // 0 means "until the run ends": any bound is smaller.
            let limit = if ops == 0 { 1 << 20 } else { ops };
            if let Some(k) = self.smallest(cur, limit, |c, k| c.workload.ops_per_client = k.max(1))
            {
                let k = k.max(1);
                if k != ops {
                    (self.log)(&format!(
                        "operations per client: {} -> {k}",
                        if ops == 0 {
                            "unbounded".into()
                        } else {
                            ops.to_string()
                        }
                    ));
                    cur.workload.ops_per_client = k;
                    changed = true;
                }
            }
        }
        changed
    }

    /// The smallest `k < current` for which `set(k)` still fails: tries 0, 1, 2, 4, ... then
    /// bisects between the last pass and the first failure.
    fn smallest(
        &mut self,
        cur: &Scenario,
        current: u32,
        set: impl Fn(&mut Scenario, u32),
    ) -> Option<u32> {
        let try_k = |this: &mut Self, k: u32| {
            let mut cand = cur.clone();
            set(&mut cand, k);
            this.fails(&cand)
        };
        let mut lo = 0u32; // largest known to pass, or 0 untested
        let mut hi = None;
        let mut k = 0u32;
        while k < current {
            if try_k(self, k) {
                hi = Some(k);
                break;
            }
            lo = k;
            k = if k == 0 { 1 } else { k.saturating_mul(2) };
        }
        let mut hi = hi?;
        while hi > lo + 1 {
            let mid = lo + (hi - lo) / 2;
            if try_k(self, mid) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Some(hi)
    }
}

/// [`shrink`] for a protocol type known at compile time (tests use it with protocols of
/// their own).
pub fn shrink_with<P: Protocol>(
    s: &Scenario,
    seed: u64,
    log: &mut dyn FnMut(&str),
) -> Result<Shrunk, ShrinkError> {
    let prepared = Prepared::<P>::new(s)?;
    let first = prepared.run(s, seed, TraceLevel::Off)?;
    let Some(check) = first.outcome.check().map(str::to_string) else {
        return Err(ShrinkError::Passes(format!(
            "seed {seed} of {} passes every check: nothing to shrink (find a failing seed with `faultline sweep`)",
            s.file()
        )));
    };
    log(&format!("seed {seed} fails {check:?}"));
    let mut sh = Shrinker {
        prepared,
        seed,
        check,
        runs: 1,
        log,
    };
    let mut cur = s.clone();
    cur.seed = seed;
    cur.expect = Spanned::new(Expect::Violation(Spanned::new(sh.check.clone())));
    if cur.is_swarm() {
        // Pin the draw: the shrunk file runs without swarm mode and fails the same way.
        let (config, swarm) = sh.prepared.drawn(&cur, seed);
        let swarm = swarm.expect("a swarm scenario draws");
        let config_ron = if swarm.params.is_empty() {
            None
        } else {
            Some(P::config_ron(&config).ok_or_else(|| {
                ShrinkError::Passes(format!(
                    "{} draws its config in swarm mode but cannot write it (Protocol::config_ron)",
                    P::NAME
                ))
            })?)
        };
        let m = cur.pin_swarm(seed, &swarm.draw, config_ron);
        sh.prepared = Prepared::<P>::new(&m)?;
        if !sh.fails(&m) {
            return Err(ShrinkError::Passes(format!(
                "the pinned swarm draw of seed {seed} does not fail {:?}; this is a bug in shrink",
                sh.check
            )));
        }
        (sh.log)(&format!(
            "swarm: pinned its draw ({}) and {} timed faults",
            swarm.line(),
            m.faults.len()
        ));
        cur = m;
    } else if cur.nemesis.is_some() {
        let m = cur.materialize(seed);
        if sh.fails(&m) {
            (sh.log)(&format!(
                "nemesis: materialized into {} timed faults",
                m.faults.len()
            ));
            cur = m;
        } else {
            (sh.log)("nemesis: kept (its materialized faults do not fail the same way)");
        }
    }
    let faults_before = cur.faults.len();
    for _round in 0..8 {
        // Duration last: a shorter run leaves less room for fewer clients to fail.
        let mut changed = sh.faults(&mut cur);
        changed |= sh.workload(&mut cur);
        changed |= sh.duration(&mut cur);
        if !changed {
            break;
        }
    }
    cur.trace = TraceLevel::Summary;
    let text = format!(
        "// Shrunk by `faultline shrink {} --seed {seed}`: the smallest scenario found that still fails {:?}.\n{}",
        s.file(),
        sh.check,
        cur.to_ron()
    );
    // Read it back and run it: what we write must reproduce the failure.
    let back = Scenario::parse(s.file(), &text)?;
    sh.runs += 1;
    let r = sh.prepared.run(&back, seed, TraceLevel::Off)?;
    if r.outcome.check() != Some(sh.check.as_str()) {
        return Err(ShrinkError::Passes(format!(
            "the shrunk scenario does not reproduce the failure of {:?} (got {:?}); this is a bug in shrink",
            sh.check, r.outcome
        )));
    }
    Ok(Shrunk {
        text,
        check: sh.check,
        faults_before,
        faults: cur.faults.len(),
        runs: sh.runs,
    })
}
