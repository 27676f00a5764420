//! Running a scenario: build a [`Simulation`] from a [`Scenario`] and a seed, schedule its
//! faults, add its checkers, run it, and judge the result against the file's `expect`.

use crate::scenario::{Expect, Scenario, ScenarioError, list};
use lincheck::History;
use protocols::{CheckKind, HistoryFailure, Protocol};
use serde::Serialize;
use sim_core::{
    EndReason, Limits, LinkUpdate, Report, SimConfig, SimRng, Simulation, SwarmDraw, Time,
    TraceBudget, TraceLevel, Violation,
};

/// What a run ended with. Serialized with a `verdict` tag: `{"verdict":"pass"}`,
/// `{"verdict":"violation","check":..,"time":..,"message":..}`,
/// `{"verdict":"incomplete","end":"queue-full","at":..}`,
/// `{"verdict":"undecided","check":..,"message":..}`.
///
/// Only `Pass` and `Violation` can meet a scenario's `expect`; each outcome has its exit
/// code ([`Outcome::exit_code`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "lowercase")]
pub enum Outcome {
    /// No check failed.
    Pass,
    /// A check failed: the one `expect` names if it is among those that failed at the
    /// stopping event, else the first found (see [`judge`]).
    Violation(Violation),
    /// The run ended before its `duration` for a reason other than the scenario's own
    /// `max_events` (the event queue filled up: a runaway protocol or fault). What it did
    /// not run cannot pass, nor can its end-of-run checks be judged.
    Incomplete {
        /// Why it ended.
        end: EndReason,
        /// When (virtual time).
        at: Time,
    },
    /// No check failed, but a history check could not decide within its step budget
    /// ([`protocols::LINEARIZABLE_MAX_STEPS`]): neither a pass nor a violation.
    Undecided { check: String, message: String },
    /// The run breached its runaway bound ([`sim_core::RunawayBound`]): a message storm
    /// or a busy loop. `message` says how, and what filled the queue.
    Runaway {
        /// When (virtual time).
        at: Time,
        message: String,
    },
    /// One of the engine's self-checks failed: a bug in faultline's engine, not in the
    /// protocol. Nothing about the protocol can be concluded from the run.
    #[serde(rename = "engine-error")]
    EngineError {
        /// When (virtual time).
        at: Time,
        message: String,
    },
    /// The run ended as `expect` says, but missed sometimes-properties the scenario
    /// requires (`reach: [...]`): it did not show what it is for, so it cannot pass.
    /// Exit code [`EXIT_NOT_MET`].
    Unreached {
        /// The required properties it never reached, in the file's order.
        missing: Vec<String>,
    },
}

/// Exit code of a run or sweep whose outcomes all met `expect`.
pub const EXIT_OK: u8 = 0;
/// Exit code when an outcome (a pass or a violation) did not meet `expect`.
pub const EXIT_NOT_MET: u8 = 1;
/// Exit code for bad input: a bad scenario file or flag.
pub const EXIT_BAD_INPUT: u8 = 2;
/// Exit code of an [`Outcome::Incomplete`] run.
pub const EXIT_INCOMPLETE: u8 = 3;
/// Exit code of an [`Outcome::Undecided`] run.
pub const EXIT_UNDECIDED: u8 = 4;
/// Exit code of an [`Outcome::Runaway`] run.
pub const EXIT_RUNAWAY: u8 = 5;
/// Exit code of an [`Outcome::EngineError`] run: the simulator itself is wrong.
pub const EXIT_ENGINE_ERROR: u8 = 6;

impl Outcome {
    /// The failed check's name, if any.
    pub fn check(&self) -> Option<&str> {
        match self {
            Outcome::Violation(v) => Some(&v.check),
            Outcome::Pass
            | Outcome::Incomplete { .. }
            | Outcome::Undecided { .. }
            | Outcome::Runaway { .. }
            | Outcome::EngineError { .. }
            | Outcome::Unreached { .. } => None,
        }
    }

    /// The process exit code for this outcome: [`EXIT_OK`] when it met `expect`,
    /// [`EXIT_INCOMPLETE`], [`EXIT_UNDECIDED`] or [`EXIT_RUNAWAY`] for those outcomes
    /// (which never meet it), else [`EXIT_NOT_MET`].
    pub fn exit_code(&self, matched: bool) -> u8 {
        match self {
            _ if matched => EXIT_OK,
            Outcome::Incomplete { .. } => EXIT_INCOMPLETE,
            Outcome::Runaway { .. } => EXIT_RUNAWAY,
            Outcome::EngineError { .. } => EXIT_ENGINE_ERROR,
            Outcome::Undecided { .. } => EXIT_UNDECIDED,
            Outcome::Pass | Outcome::Violation(_) | Outcome::Unreached { .. } => EXIT_NOT_MET,
        }
    }
}

/// The exit code of many runs (a sweep, or several sweep files): the most serious of
/// their codes. An engine error outranks everything; then a run that did not meet
/// `expect` ([`EXIT_NOT_MET`]), which outranks a runaway,
/// which outranks an incomplete one, which outranks an undecided one; all met is
/// [`EXIT_OK`].
pub fn combined_exit_code(codes: impl IntoIterator<Item = u8>) -> u8 {
    let rank = |c: u8| match c {
        EXIT_OK => 0,
        EXIT_UNDECIDED => 1,
        EXIT_INCOMPLETE => 2,
        EXIT_RUNAWAY => 3,
        EXIT_ENGINE_ERROR => 5,
        _ => 4,
    };
    codes
        .into_iter()
        .max_by_key(|&c| rank(c))
        .unwrap_or(EXIT_OK)
}

/// One run's result.
#[derive(Debug)]
pub struct RunResult {
    pub seed: u64,
    pub outcome: Outcome,
    /// The outcome is what the scenario expects.
    pub matched: bool,
    /// The sometimes-properties the run reached, by name, with the virtual time each was
    /// first reached, in that order ([`protocols::Protocol::sometimes`]).
    pub reached: Vec<(&'static str, Time)>,
    pub report: Report,
    /// What swarm mode drew for this seed (`None` without swarm mode).
    pub swarm: Option<Swarm>,
}

/// What swarm mode drew for one seed: the fault mix and network, and the protocol's
/// parameters (see [`Protocol::swarm_config`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Swarm {
    pub draw: SwarmDraw,
    /// `(config field, value)` as drawn.
    pub params: Vec<(&'static str, String)>,
    /// The workload as drawn ([`Scenario::swarm_workload`]), for scenarios with clients.
    pub workload: Option<protocols::Workload>,
}

impl Swarm {
    /// Every drawn value: the draw's fields, then `config.<field>` for each parameter.
    pub fn fields(&self) -> Vec<(String, String)> {
        let mut out = self.draw.fields();
        if let Some(w) = &self.workload {
            out.push(("workload.keys".into(), w.keys.to_string()));
            out.push((
                "workload.mix".into(),
                format!(
                    "(read: {}, write: {}, cas: {}, append: {})",
                    w.mix.read, w.mix.write, w.mix.cas, w.mix.append
                ),
            ));
            out.push((
                "workload.think".into(),
                format!("(\"{}\", \"{}\")", w.think_min, w.think_max),
            ));
        }
        out.extend(
            self.params
                .iter()
                .map(|(k, v)| (format!("config.{k}"), v.clone())),
        );
        out
    }

    /// One line for the run's header: `swarm: faults=[...] every=(...) ...`.
    pub fn line(&self) -> String {
        let fields: Vec<String> = self
            .fields()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!("swarm: {}", fields.join(" "))
    }
}

/// A scenario checked against its protocol: the protocol's config parsed from the file,
/// and its checks looked up. Build once, run many seeds.
pub struct Prepared<P: Protocol> {
    config: P::Config,
    checks: Vec<(String, CheckKind)>,
    /// The indices of the properties the scenario requires (`reach`), in its order.
    reach: Vec<usize>,
    /// Whether runs record the clients' history even when no check reads it.
    keep_history: bool,
}

impl<P: Protocol> Prepared<P> {
    /// Everything in the scenario that depends on the protocol: its config (unknown fields
    /// and bad values are errors at their position), its checks, its workload.
    pub fn new(s: &Scenario) -> Result<Prepared<P>, ScenarioError> {
        if s.nodes.len() > P::MAX_NODES {
            return Err(s
                .error(
                    s.nodes_span.clone(),
                    format!(
                        "{} nodes is more than {} supports ({} at most)",
                        s.nodes.len(),
                        P::NAME,
                        P::MAX_NODES
                    ),
                )
                .label(format!("expected at most {}", P::MAX_NODES))
                .help(format!(
                    "`faultline list` shows the cluster size each protocol supports; docs/PERFORMANCE.md says what {} costs at its largest",
                    P::NAME
                )));
        }
        let config: P::Config = match &s.config {
            Some(span) => crate::scenario::parse_span(&s.source, span).map_err(|e| {
                let (span, message) =
                    crate::scenario::with_integer_bound(&s.source, e, |t, delta| {
                        let end = span.end.saturating_add_signed(delta);
                        crate::scenario::parse_span::<P::Config>(t, &(span.start..end)).err()
                    });
                if let Some(e) = crate::config::renamed_field_error::<P>(s, &span, &message) {
                    return e;
                }
                s.error(span, format!("in the {} config: {message}", P::NAME))
                    .help(format!(
                        "`faultline list` shows the {} config and its defaults",
                        P::NAME
                    ))
            })?,
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
        let mut reach = Vec::new();
        for r in &s.reach {
            let Some(i) = P::sometimes().iter().position(|p| p.name == r.value) else {
                let valid: Vec<String> = P::sometimes()
                    .iter()
                    .map(|p| format!("{:?}", p.name))
                    .collect();
                let help = if valid.is_empty() {
                    format!(
                        "{} declares no sometimes-properties: remove `reach`",
                        P::NAME
                    )
                } else {
                    format!(
                        "{} declares {}; `faultline list` says what each means",
                        P::NAME,
                        list(&valid)
                    )
                };
                return Err(s
                    .error(
                        r.span.clone(),
                        format!("unknown sometimes-property {:?} for {}", r.value, P::NAME),
                    )
                    .label("not a property of this protocol")
                    .help(help));
            };
            reach.push(i);
        }
        if let Err(e) = P::client_config(&s.workload, &config) {
            return Err(s.error(s.workload_span.clone(), e).label("this workload"));
        }
        if let Err(e) = P::validate_cluster(&config, s.nodes.len()) {
            return Err(s.error(s.cluster_text.clone(), e).label("this cluster"));
        }
        Ok(Prepared {
            config,
            checks,
            reach,
            keep_history: true,
        })
    }

    /// Runs record the clients' history only when a history check reads it (a sweep,
    /// which keeps verdicts and fingerprints, not histories). The runs are otherwise
    /// the same: same fingerprint, stats and verdicts.
    pub fn without_history(mut self) -> Prepared<P> {
        self.keep_history = false;
        self
    }

    /// The protocol's config as the file set it.
    pub fn config(&self) -> &P::Config {
        &self.config
    }

    /// The config a run of `seed` uses, and what swarm mode drew for it: the file's
    /// config unless the nemesis is a swarm.
    pub fn drawn(&self, s: &Scenario, seed: u64) -> (P::Config, Option<Swarm>) {
        if !s.is_swarm() {
            return (self.config.clone(), None);
        }
        let (config, params) =
            P::swarm_config(&self.config, &mut SimRng::new(seed, "swarm/protocol"));
        let draw = s
            .swarm_draw_giving_up(
                seed,
                P::swarm_max_drift_ppm(&config),
                P::swarm_give_up(&config),
                P::swarm_node_kinds(&config, s.nodes.len()),
            )
            .expect("a swarm scenario draws");
        let workload = s.swarm_workload(seed);
        (
            config,
            Some(Swarm {
                draw,
                params,
                workload,
            }),
        )
    }

    /// Builds the simulation for `seed` with everything scheduled, ready to run.
    pub fn build(
        &self,
        s: &Scenario,
        seed: u64,
        trace: TraceLevel,
    ) -> Result<Simulation<P::Node, P::Client>, ScenarioError> {
        self.build_budgeted(s, seed, trace, TraceBudget::default())
    }

    /// [`Prepared::build`] with a bound on what the trace records.
    pub fn build_budgeted(
        &self,
        s: &Scenario,
        seed: u64,
        trace: TraceLevel,
        budget: TraceBudget,
    ) -> Result<Simulation<P::Node, P::Client>, ScenarioError> {
        let (config, swarm) = self.drawn(s, seed);
        self.build_with(s, seed, trace, budget, &config, swarm.as_ref())
    }

    /// [`Prepared::build_budgeted`] with the config and swarm draw from
    /// [`Prepared::drawn`].
    fn build_with(
        &self,
        s: &Scenario,
        seed: u64,
        trace: TraceLevel,
        budget: TraceBudget,
        run_config: &P::Config,
        swarm: Option<&Swarm>,
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
        if let Some(sw) = swarm {
            config.link.latency = sw.draw.latency;
            config.link.loss = sw.draw.loss;
            config.link.duplicate = sw.draw.duplicate;
        }
        config.trace = trace;
        config.runaway = s.runaway();
        config.trace_budget = budget;
        let workload = s.swarm_workload(seed).unwrap_or_else(|| s.workload.clone());
        let clients = P::client_config(&workload, run_config)
            .map_err(|e| s.error(s.workload_span.clone(), e))?;
        let mut sim: Simulation<P::Node, P::Client> =
            Simulation::new(config, run_config.clone(), clients)
                .map_err(|e| ScenarioError::whole(&s.file, format!("{}: {e}", s.file)))?;
        sim.set_storage(s.storage());
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
        for (at, fault) in s.fault_schedule(seed, swarm.map(|sw| &sw.draw)) {
            sim.schedule(at, fault);
        }
        let faults_stop = s.faults_stop(seed, swarm.map(|sw| &sw.draw));
        let history_checked = self.checks.iter().any(|(_, k)| *k == CheckKind::History);
        sim.record_history(self.keep_history || history_checked);
        for (name, kind) in &self.checks {
            match kind {
                CheckKind::Always | CheckKind::Eventually => {
                    let mut checker =
                        P::checker(name, run_config).expect("checked by Prepared::new");
                    checker.faults_stop(faults_stop);
                    sim.add_checker(checker);
                }
                // A history check the protocol judges by watching what its clients are
                // told (2PC's `history`), not on the recorded history.
                CheckKind::History => {
                    if let Some(mut checker) = P::checker(name, run_config) {
                        checker.faults_stop(faults_stop);
                        sim.add_checker(checker);
                    }
                }
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
        self.run_budgeted(s, seed, trace, TraceBudget::default())
    }

    /// [`Prepared::run`] with a bound on what the trace records (the run and its verdict
    /// are the same; `report.trace_cut` says where the trace stopped).
    pub fn run_budgeted(
        &self,
        s: &Scenario,
        seed: u64,
        trace: TraceLevel,
        budget: TraceBudget,
    ) -> Result<RunResult, ScenarioError> {
        let (config, swarm) = self.drawn(s, seed);
        let mut sim = self.build_with(s, seed, trace, budget, &config, swarm.as_ref())?;
        let mut report = sim.run();
        let reached: Vec<(&'static str, Time)> = report
            .reached
            .iter()
            .filter_map(|&(i, t)| Some((P::sometimes().get(i)?.name, t)))
            .collect();
        report.findings.extend(P::findings(&report));
        if let Some(outcome) = incomplete(&report) {
            return Ok(RunResult {
                seed,
                outcome,
                matched: false,
                reached,
                report,
                swarm,
            });
        }
        let history: Vec<&str> = self
            .checks
            .iter()
            .filter(|(n, k)| *k == CheckKind::History && P::checker(n, &self.config).is_none())
            .map(|(n, _)| n.as_str())
            .collect();
        if let Some(model) = P::history_model() {
            report.history.model = model;
        }
        // History checks judge the finished run, so they run unless an `Always` check
        // stopped it early; their failures join any `Eventually` ones found at the end.
        let mut undecided = None;
        if report.end != EndReason::Violation {
            let faults_stop = s.faults_stop(seed, swarm.as_ref().map(|sw| &sw.draw));
            let (violated, undecided_checks) = history_checks::<P>(
                &history,
                &report.history,
                &config,
                (report.end_time, faults_stop),
                s.check_steps(),
            );
            report.violations.extend(violated);
            undecided = undecided_checks.into_iter().next();
        }
        let (mut outcome, mut matched) = judge(&report.violations, &s.expect.value);
        if let (Outcome::Pass, Some((check, message))) = (&outcome, undecided) {
            (outcome, matched) = (Outcome::Undecided { check, message }, false);
        }
        if matched {
            let missing: Vec<String> = self
                .reach
                .iter()
                .filter(|&&i| !report.reached.iter().any(|&(r, _)| r == i))
                .map(|&i| P::sometimes()[i].name.to_string())
                .collect();
            if !missing.is_empty() {
                (outcome, matched) = (Outcome::Unreached { missing }, false);
            }
        }
        Ok(RunResult {
            seed,
            outcome,
            matched,
            reached,
            report,
            swarm,
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

/// Is this run cut short: ended before its `duration` for another reason than its own
/// `max_events` or a violation? A run with nothing left to happen (`quiescent`) is not:
/// every event it would have had, it had. A runaway is cut short too, and says so.
pub fn incomplete(report: &sim_core::Report) -> Option<Outcome> {
    match report.end {
        EndReason::TimeLimit
        | EndReason::EventLimit
        | EndReason::Quiescent
        | EndReason::Violation => None,
        EndReason::QueueFull => Some(Outcome::Incomplete {
            end: report.end,
            at: report.end_time,
        }),
        EndReason::Runaway => Some(Outcome::Runaway {
            at: report.end_time,
            message: report.runaway.clone().unwrap_or_default(),
        }),
        EndReason::EngineError => Some(Outcome::EngineError {
            at: report.end_time,
            message: report.engine_error.clone().unwrap_or_default(),
        }),
    }
}

/// Runs the history checks `names` on a finished run's history (in the order the scenario
/// lists them), each within `max_steps` search steps per key. The run ended at `end` and
/// its faults stopped at `faults_stop` (where a liveness check on the history starts
/// counting). Each failure becomes a violation at the run's end; the checks that could
/// not decide come back apart, as `(check, why)`.
pub fn history_checks<P: Protocol>(
    names: &[&str],
    history: &History,
    config: &P::Config,
    (end, faults_stop): (sim_core::Time, sim_core::Time),
    max_steps: u64,
) -> (Vec<Violation>, Vec<(String, String)>) {
    let mut violated = Vec::new();
    let mut undecided = Vec::new();
    for name in names {
        match P::history_check_in_run(name, history, config, end, faults_stop, max_steps) {
            Ok(()) => {}
            Err(HistoryFailure::Violated(message)) => violated.push(Violation {
                check: name.to_string(),
                time: end,
                message,
            }),
            Err(HistoryFailure::Undecided(message)) => {
                undecided.push((name.to_string(), message));
            }
        }
    }
    (violated, undecided)
}

/// Runs a scenario whatever its protocol (looked up by name in the built-in registry;
/// [`crate::registry::Registry::run`] for another).
pub fn run(s: &Scenario, seed: u64, trace: TraceLevel) -> Result<RunResult, ScenarioError> {
    crate::registry::builtin_ref().run(s, seed, trace)
}

/// [`run`] with a bound on what the trace records ([`TraceBudget`]; built-in protocols,
/// [`crate::registry::Registry::run_budgeted`] for another registry).
pub fn run_budgeted(
    s: &Scenario,
    seed: u64,
    trace: TraceLevel,
    budget: TraceBudget,
) -> Result<RunResult, ScenarioError> {
    crate::registry::builtin_ref().run_budgeted(s, seed, trace, budget)
}

/// Checks the protocol-specific parts of a scenario without running it (built-in
/// protocols; [`crate::registry::Registry::check`] for another registry).
pub fn check(s: &Scenario) -> Result<(), ScenarioError> {
    crate::registry::builtin_ref().check(s)
}
