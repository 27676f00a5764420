//! Running a scenario: build a [`Simulation`] from a [`Scenario`] and a seed, schedule its
//! faults, add its checkers, run it, and judge the result against the file's `expect`.

use crate::registry::{self, Visit};
use crate::scenario::{Expect, Scenario, ScenarioError, list};
use lincheck::History;
use protocols::{CheckKind, Protocol};
use serde::Serialize;
use sim_core::{
    EndReason, Limits, LinkUpdate, Report, SimConfig, Simulation, TraceLevel, Violation,
};

/// What a run ended with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "lowercase")]
pub enum Outcome {
    /// No check failed.
    Pass,
    /// A check failed (the first one, when the run stops at the first violation).
    Violation(Violation),
}

impl Outcome {
    /// The failed check's name, if any.
    pub fn check(&self) -> Option<&str> {
        match self {
            Outcome::Pass => None,
            Outcome::Violation(v) => Some(&v.check),
        }
    }
}

/// One run's result.
#[derive(Debug)]
pub struct RunResult {
    pub seed: u64,
    pub outcome: Outcome,
    /// The outcome is what the scenario expects.
    pub matched: bool,
    pub report: Report,
}

/// A scenario checked against its protocol: the protocol's config parsed from the file,
/// and its checks looked up. Build once, run many seeds.
pub struct Prepared<P: Protocol> {
    config: P::Config,
    checks: Vec<(String, CheckKind)>,
}

impl<P: Protocol> Prepared<P> {
    /// Everything in the scenario that depends on the protocol: its config (unknown fields
    /// and bad values are errors at their position), its checks, its workload.
    pub fn new(s: &Scenario) -> Result<Prepared<P>, ScenarioError> {
        let config: P::Config = match &s.config {
            Some(span) => {
                crate::scenario::parse_span(&s.source, span).map_err(|(span, message)| {
                    s.error(span, format!("in the {} config: {message}", P::NAME))
                        .help(format!(
                            "`faultline list` shows the {} config and its defaults",
                            P::NAME
                        ))
                })?
            }
            None => P::Config::default(),
        };
        let mut checks = Vec::new();
        for c in &s.checks {
            let Some(info) = P::checks().iter().find(|i| i.name == c.value) else {
                let valid: Vec<String> = P::checks()
                    .iter()
                    .map(|i| format!("{:?}", i.name))
                    .collect();
                let help = if valid.is_empty() {
                    format!("{} offers no checks: use `checks: []`", P::NAME)
                } else {
                    format!("{} offers {}", P::NAME, list(&valid))
                };
                return Err(s
                    .error(
                        c.span.clone(),
                        format!("unknown check {:?} for {}", c.value, P::NAME),
                    )
                    .label("not a check of this protocol")
                    .help(help));
            };
            match info.kind {
                CheckKind::History if s.workload.clients == 0 => {
                    return Err(s
                        .error(
                            c.span.clone(),
                            format!("the history check {:?} needs clients", c.value),
                        )
                        .label("no workload records a history")
                        .help("add a `workload: (clients: 3, ...)`, or remove this check"));
                }
                CheckKind::Always | CheckKind::Eventually
                    if P::checker(info.name, &config).is_none() =>
                {
                    return Err(s.error(
                        c.span.clone(),
                        format!(
                            "{} lists the check {:?} but builds no checker for it",
                            P::NAME,
                            c.value
                        ),
                    ));
                }
                _ => {}
            }
            checks.push((info.name.to_string(), info.kind));
        }
        if let Err(e) = P::client_config(&s.workload, &config) {
            return Err(s.error(s.workload_span.clone(), e).label("this workload"));
        }
        Ok(Prepared { config, checks })
    }

    /// The protocol's config as the file set it.
    pub fn config(&self) -> &P::Config {
        &self.config
    }

    /// Builds the simulation for `seed` with everything scheduled, ready to run.
    pub fn build(
        &self,
        s: &Scenario,
        seed: u64,
        trace: TraceLevel,
    ) -> Result<Simulation<P::Node, P::Client>, ScenarioError> {
        let mut config = SimConfig::new(
            seed,
            s.nodes.len(),
            Limits {
                max_time: Some(s.duration.value),
                max_events: s.max_events,
            },
        );
        config.nodes = s.nodes.clone();
        config.clients = s.clients();
        config.link = s.link();
        config.trace = trace;
        let clients = P::client_config(&s.workload, &self.config)
            .map_err(|e| s.error(s.workload_span.clone(), e))?;
        let mut sim: Simulation<P::Node, P::Client> =
            Simulation::new(config, self.config.clone(), clients)
                .map_err(|e| ScenarioError::whole(&s.file, format!("{}: {e}", s.file)))?;
        for link in &s.network.links {
            let l = &link.value;
            let from = l.from.as_ref().map(|n| s.resolve(n, false)).transpose()?;
            let to = l.to.as_ref().map(|n| s.resolve(n, false)).transpose()?;
            let update = LinkUpdate {
                latency: l.latency,
                loss: l.loss,
                duplicate: l.duplicate,
            };
            sim.set_link(from, to, update);
        }
        for (at, fault) in s.fault_schedule(seed) {
            sim.schedule(at, fault);
        }
        for (name, kind) in &self.checks {
            if matches!(kind, CheckKind::Always | CheckKind::Eventually) {
                let checker = P::checker(name, &self.config).expect("checked by Prepared::new");
                sim.add_checker(checker);
            }
        }
        Ok(sim)
    }

    /// Runs the scenario with `seed` and judges it.
    pub fn run(
        &self,
        s: &Scenario,
        seed: u64,
        trace: TraceLevel,
    ) -> Result<RunResult, ScenarioError> {
        let mut sim = self.build(s, seed, trace)?;
        let mut report = sim.run();
        let history: Vec<&str> = self
            .checks
            .iter()
            .filter(|(_, k)| *k == CheckKind::History)
            .map(|(n, _)| n.as_str())
            .collect();
        if let Some(model) = P::history_model() {
            report.history.model = model;
        }
        // History checks judge the finished run, so they run unless an `Always` check
        // stopped it early; their failures join any `Eventually` ones found at the end.
        if report.end != EndReason::Violation {
            report.violations.extend(history_checks::<P>(
                &history,
                &report.history,
                &self.config,
                report.end_time,
            ));
        }
        let (outcome, matched) = judge(&report.violations, &s.expect.value);
        Ok(RunResult {
            seed,
            outcome,
            matched,
            report,
        })
    }
}

/// Judges a finished run's violations against `expect`, whatever the order of the
/// scenario's `checks`: every violation found at the stopping event counts (the run stops
/// at the first event where any check fails, and all that fail there are reported; the
/// history checks all run at the end). `expect: Violation("c")` is met when `c` is among
/// them, and the outcome then names `c`; otherwise it names the first found. Returns the
/// outcome and whether it meets `expect`.
pub fn judge(violations: &[Violation], expect: &Expect) -> (Outcome, bool) {
    let Some(first) = violations.first() else {
        return (Outcome::Pass, *expect == Expect::Pass);
    };
    let at_stop = violations.iter().take_while(|v| v.time == first.time);
    let named = expect
        .check()
        .and_then(|c| at_stop.clone().find(|v| v.check == c));
    match named {
        Some(v) => (Outcome::Violation(v.clone()), true),
        None => (Outcome::Violation(first.clone()), false),
    }
}

/// Runs the history checks `names` on a finished run's history (in the order the scenario
/// lists them); each failure becomes a violation at the run's end, `end`.
pub fn history_checks<P: Protocol>(
    names: &[&str],
    history: &History,
    config: &P::Config,
    end: sim_core::Time,
) -> Vec<Violation> {
    names
        .iter()
        .filter_map(|name| {
            P::history_check(name, history, config, end)
                .err()
                .map(|message| Violation {
                    check: name.to_string(),
                    time: end,
                    message,
                })
        })
        .collect()
}

/// Runs a scenario whatever its protocol (looked up by name in the registry).
pub fn run(s: &Scenario, seed: u64, trace: TraceLevel) -> Result<RunResult, ScenarioError> {
    struct Run<'a>(&'a Scenario, u64, TraceLevel);
    impl Visit for Run<'_> {
        type Output = Result<RunResult, ScenarioError>;
        fn visit<P: Protocol>(self) -> Self::Output {
            Prepared::<P>::new(self.0)?.run(self.0, self.1, self.2)
        }
    }
    registry::with_protocol(s.protocol(), Run(s, seed, trace))
        .unwrap_or_else(|| Err(unknown_protocol(s)))
}

/// Checks the protocol-specific parts of a scenario without running it.
pub fn check(s: &Scenario) -> Result<(), ScenarioError> {
    struct Check<'a>(&'a Scenario);
    impl Visit for Check<'_> {
        type Output = Result<(), ScenarioError>;
        fn visit<P: Protocol>(self) -> Self::Output {
            Prepared::<P>::new(self.0).map(|_| ())
        }
    }
    registry::with_protocol(s.protocol(), Check(s)).unwrap_or_else(|| Err(unknown_protocol(s)))
}

pub(crate) fn unknown_protocol(s: &Scenario) -> ScenarioError {
    let known: Vec<String> = registry::names().iter().map(|n| format!("{n:?}")).collect();
    s.error(
        s.protocol.span.clone(),
        format!("unknown protocol {:?}", s.protocol.value),
    )
    .label("no such protocol")
    .help(format!(
        "expected {}; `faultline list` shows them",
        list(&known)
    ))
}
