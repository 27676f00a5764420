//! Shrinking: from a failing run to the smallest scenario that still fails the same way.
//!
//! 1. Run the scenario with the seed; note which check fails first, and how: the kind of
//!    its message (its first line with numbers, node names and parenthesized details
//!    taken out) and, for an eventually (liveness) check, the nodes it names. A candidate
//!    fails "the same way" only if these match, so a liveness failure does not drift to a
//!    trivial way of failing the same check (a churn failure to "crashes that never
//!    restart"). A safety violation between other nodes is the same bug, so there the
//!    nodes may change.
//! 2. Materialize the random nemesis: its draws for this seed become timed faults, so each
//!    can be removed on its own (the run is the same, event for event).
//! 3. Delta-debug (Zeller's ddmin) the list of timed faults: remove chunks, then single
//!    faults, as long as it still fails the same way, and as long as every crash that
//!    restarted still restarts later and every cut (partition, isolation, one-way,
//!    bridge) that healed still heals later: crash/restart pairs stay together (two
//!    crash periods of a node may merge into one), and no candidate fails by a fault
//!    that never ends where the failing run's ended.
//! 4. Reduce the clients and the operations per client, then cut the run short (just
//!    after the violation).
//! 5. Repeat 3-4 until nothing changes; write the result as RON, read it back and run it
//!    once more to confirm that `faultline run` reproduces the failure.
//!
//! A candidate that no longer passes validation (say, a restart whose crash was removed)
//! counts as "does not fail", so the result is always a valid scenario.

use crate::runner::Prepared;
use crate::scenario::{Expect, FaultSpec, Scenario, ScenarioError, Spanned};
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
    shrink_with_progress_of(s, seed, log, &mut |_| {})
}

/// [`shrink`], and `on_run` hears the number of runs so far after each run (for a
/// progress display: it cannot change what the shrink does).
pub fn shrink_with_progress_of(
    s: &Scenario,
    seed: u64,
    log: &mut dyn FnMut(&str),
    on_run: &mut dyn FnMut(usize),
) -> Result<Shrunk, ShrinkError> {
    crate::registry::builtin_ref().shrink(s, seed, log, on_run)
}

/// How a run failed, for "fails the same way": the check, the kind of its message and
/// the nodes the message names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailureWay {
    pub check: String,
    pub kind: String,
    pub nodes: Vec<String>,
}

impl FailureWay {
    /// The way `v` failed, naming nodes of `nodes` (the scenario's).
    pub fn of(v: &sim_core::Violation, nodes: &[String]) -> FailureWay {
        let line = v.message.lines().next().unwrap_or("");
        let is_node = |w: &str| nodes.iter().any(|n| n == w);
        let mut named: Vec<String> = Vec::new();
        let mut kind = String::new();
        let mut depth = 0u32;
        let mut word = String::new();
        let flush = |word: &mut String, kind: &mut String, named: &mut Vec<String>, depth: u32| {
            if word.is_empty() {
                return;
            }
            if is_node(word) {
                if !named.contains(word) {
                    named.push(word.clone());
                }
                if depth == 0 {
                    kind.push('N');
                }
            } else if depth == 0 {
                if word.chars().any(|c| c.is_ascii_digit()) {
                    kind.push('#');
                } else {
                    kind.push_str(word);
                }
            }
            word.clear();
        };
        for c in line.chars() {
            if c.is_alphanumeric() || c == '_' || c == '-' || c == '.' {
                word.push(c);
                continue;
            }
            flush(&mut word, &mut kind, &mut named, depth);
            match c {
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' => depth = depth.saturating_sub(1),
                _ if depth == 0 && !(c.is_whitespace() && kind.ends_with(' ')) => {
                    kind.push(if c.is_whitespace() { ' ' } else { c })
                }
                _ => {}
            }
        }
        flush(&mut word, &mut kind, &mut named, depth);
        named.sort();
        FailureWay {
            check: v.check.clone(),
            kind: kind.trim().to_string(),
            nodes: named,
        }
    }
}

impl FailureWay {
    /// Did `v` fail this way? (With no nodes here, as for a safety check, any nodes.)
    pub fn matches(&self, v: &sim_core::Violation, nodes: &[String]) -> bool {
        let other = FailureWay::of(v, nodes);
        other.check == self.check
            && other.kind == self.kind
            && (self.nodes.is_empty() || other.nodes == self.nodes)
    }
}

/// The faults of `faults` that never end: a crash with no later restart of its node, a
/// cut (partition, isolation, one-way, bridge) with no later heal. Each is named by its
/// time and text.
fn open_faults(faults: &[Spanned<(Spanned<Duration>, FaultSpec)>]) -> Vec<String> {
    let mut order: Vec<usize> = (0..faults.len()).collect();
    order.sort_by_key(|&i| faults[i].value.0.value);
    let mut open = Vec::new();
    for (pos, &i) in order.iter().enumerate() {
        let (at, spec) = &faults[i].value;
        let later = || order[pos + 1..].iter().map(|&j| &faults[j].value.1);
        let ended = match spec {
            FaultSpec::Crash(a) => {
                later().any(|f| matches!(f, FaultSpec::Restart(b) if b.value == a.value))
            }
            FaultSpec::Partition(_)
            | FaultSpec::Isolate(_)
            | FaultSpec::OneWay { .. }
            | FaultSpec::Bridge { .. } => later().any(|f| matches!(f, FaultSpec::Heal)),
            _ => true,
        };
        if !ended {
            open.push(format!("{:?} {spec}", at.value));
        }
    }
    open
}

struct Shrinker<'a, P: Protocol> {
    prepared: Prepared<P>,
    seed: u64,
    check: String,
    way: FailureWay,
    /// The faults that were allowed never to end (they did not in the run being shrunk).
    open: Vec<String>,
    runs: usize,
    log: &'a mut dyn FnMut(&str),
    on_run: &'a mut dyn FnMut(usize),
}

impl<P: Protocol> Shrinker<'_, P> {
    /// Does `c` still fail `self.check` first?
    fn fails(&mut self, c: &Scenario) -> bool {
        if c.validate().is_err() {
            return false;
        }
        // A crash that restarted, or a cut that healed, must still: never-ending faults
        // are another, trivial way to fail.
        if open_faults(&c.faults)
            .iter()
            .any(|f| !self.open.contains(f))
        {
            return false;
        }
        self.runs += 1;
        let fails = match self.prepared.run(c, self.seed, TraceLevel::Off) {
            Ok(r) => match &r.outcome {
                crate::runner::Outcome::Violation(v) => self.way.matches(v, &c.nodes),
                _ => false,
            },
            Err(_) => false,
        };
        (self.on_run)(self.runs);
        fails
    }

    /// `base` keeping only the faults of `kept` units.
    fn with_units(base: &Scenario, units: &[Vec<usize>], kept: &[usize]) -> Scenario {
        let mut idx: Vec<usize> = kept
            .iter()
            .flat_map(|&u| units[u].iter().copied())
            .collect();
        idx.sort_unstable();
        let mut cand = base.clone();
        cand.faults = idx.iter().map(|&i| base.faults[i].clone()).collect();
        cand
    }

    /// ddmin over the fault units: the smallest list (1-minimal) that still fails.
    fn faults(&mut self, cur: &mut Scenario) -> bool {
        let before = cur.faults.len();
        let base = cur.clone();
        self.open = open_faults(&base.faults);
        let units: Vec<Vec<usize>> = (0..base.faults.len()).map(|i| vec![i]).collect();
        let mut kept: Vec<usize> = (0..units.len()).collect();
        let mut n = 2usize;
        while kept.len() >= 2 {
            let chunk = kept.len().div_ceil(n);
            let mut removed = false;
            let mut start = 0;
            while start < kept.len() {
                let end = (start + chunk).min(kept.len());
                let mut k = kept.clone();
                k.drain(start..end);
                let cand = Self::with_units(&base, &units, &k);
                if self.fails(&cand) {
                    *cur = cand;
                    kept = k;
                    removed = true;
                } else {
                    start = end;
                }
            }
            if removed {
                n = n.saturating_sub(1).max(2);
            } else if n >= kept.len() {
                break;
            } else {
                n = (n * 2).min(kept.len());
            }
        }
        if kept.len() == 1 {
            let cand = Self::with_units(&base, &units, &[]);
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
        let run = self.prepared.run(cur, self.seed, TraceLevel::Off);
        (self.on_run)(self.runs);
        let Ok(r) = run else {
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
    shrink_with_progress::<P>(s, seed, log, &mut |_| {})
}

/// [`shrink_with`], and `on_run` hears the number of runs so far after each run.
pub fn shrink_with_progress<P: Protocol>(
    s: &Scenario,
    seed: u64,
    log: &mut dyn FnMut(&str),
    on_run: &mut dyn FnMut(usize),
) -> Result<Shrunk, ShrinkError> {
    // The shrunk file pins a violation, not what the original had to reach: `reach` is
    // dropped, so a candidate that no longer reaches it still counts as failing the same
    // way (and the file written says so by leaving it out).
    let mut plain = s.clone();
    plain.reach.clear();
    let s = &plain;
    let prepared = Prepared::<P>::new(s)?;
    let first = prepared.run(s, seed, TraceLevel::Off)?;
    let Some(check) = first.outcome.check().map(str::to_string) else {
        return Err(ShrinkError::Passes(format!(
            "seed {seed} of {} passes every check: nothing to shrink (find a failing seed with `faultline sweep`)",
            s.file()
        )));
    };
    let crate::runner::Outcome::Violation(v) = &first.outcome else {
        unreachable!("a check failed")
    };
    let mut way = FailureWay::of(v, &s.nodes);
    // The nodes are part of the way only for liveness failures, where they drift (other
    // nodes in charge, other nodes never restarting). A safety violation between other
    // nodes is the same bug: requiring the same ones kept forget-vote-on-restart's seed 12
    // at 64 of its 194 faults.
    let liveness = P::checks()
        .iter()
        .any(|c| c.name == check && c.kind == protocols::CheckKind::Eventually);
    if !liveness {
        way.nodes.clear();
    }
    log(&format!(
        "seed {seed} fails {check:?}: {}{}",
        way.kind,
        if way.nodes.is_empty() {
            String::new()
        } else {
            format!(" (nodes {})", way.nodes.join(", "))
        }
    ));
    let mut sh = Shrinker {
        prepared,
        seed,
        check,
        way,
        open: Vec::new(),
        runs: 1,
        log,
        on_run,
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
    (sh.on_run)(sh.runs);
    let same = match &r.outcome {
        crate::runner::Outcome::Violation(v) => sh.way.matches(v, &back.nodes),
        _ => false,
    };
    if !same {
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
