//! A harness for `cargo test`: sweep a scenario over many seeds with your protocol, and
//! when a seed fails, panic with everything needed to replay it.
//!
//! ```no_run
//! # use faultline::protocols::raft::RaftProtocol as MyProtocol;
//! use faultline::testing::Check;
//!
//! #[test]
//! fn survives_partitions() {
//!     Check::<MyProtocol>::scenario("tests/scenarios/partition.ron")
//!         .seeds(0..1000)
//!         .run();
//! }
//! ```
//!
//! [`Check::run`] runs the seeds on every core. A seed fails when its outcome does not meet
//! the file's `expect` (so a violation under `expect: Pass`), when the run is cut short
//! (`incomplete`: a runaway protocol filled the event queue) or a history check could not
//! decide (`undecided`), when the protocol panics, or when a seed sampled for the
//! determinism check runs differently twice: none of these is ever a pass. On a failure it
//! panics with the lowest failing seed (the same one whatever the number of cores), the
//! check and its message, the shrunk scenario written under `target/faultline/`, and the
//! commands that replay it: `FAULTLINE_SEED=17 cargo test ...` runs just that seed, and the
//! CLI command runs the written file. [`Check::try_run`] returns the [`Failure`] instead.
//!
//! Determinism is checked by default on a sample of the seeds (the first, then every 20th:
//! 5%, as FoundationDB reruns): each is run twice with the full trace and the traces
//! compared, and the first differing event is reported; the run without a trace must
//! also end with the same fingerprint.
//!
//! For unit-style tests, [`Check::run_seed`] runs one seed with the full trace and returns
//! a [`Run`] with assertions on its verdict, a check's violation, a trace line and the
//! history's verdict.

use crate::determinism::first_difference;
use crate::output::{outcome_name, shell_quote};
use crate::runner::{Outcome, Prepared, RunResult};
use crate::scenario::{Scenario, ScenarioError};
use crate::shrink::shrink_with;
use protocols::Protocol;
use sim_core::{TraceLevel, Violation};
use std::fmt;
use std::marker::PhantomData;
use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The environment variable that replays one seed: `FAULTLINE_SEED=17 cargo test ...`.
pub const SEED_VAR: &str = "FAULTLINE_SEED";

/// By default every 20th seed (5%) is run twice and its traces compared.
pub const DETERMINISM_EVERY: u64 = 20;

enum Source {
    File(String),
    Text { name: String, text: String },
}

/// A sweep of one scenario over seeds with protocol `P`, built step by step and run by
/// [`Check::run`] (panics on a failure) or [`Check::try_run`].
pub struct Check<P> {
    source: Source,
    seeds: Option<Range<u64>>,
    jobs: Option<usize>,
    determinism_every: u64,
    shrink: bool,
    cli: Option<String>,
    protocol: PhantomData<fn() -> P>,
}

/// What a passing [`Check`] ran.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Passed {
    /// The seeds run (one when [`SEED_VAR`] chose it).
    pub seeds: Vec<u64>,
    /// The seeds that were also run twice with the full trace and compared.
    pub determinism_checked: Vec<u64>,
}

/// What went wrong, with the commands that replay it. Its `Display` is the panic message
/// of [`Check::run`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The scenario (its file, or the name given to [`Check::scenario_str`]).
    pub scenario: String,
    /// The lowest failing seed; `None` when the scenario itself is bad.
    pub seed: Option<u64>,
    /// What failed, in a line: `violation of "acked-durable" at 1.204s (expected Pass)`.
    pub what: String,
    /// The check that failed, if a check did.
    pub check: Option<String>,
    /// The check's message, the panic's, or the two differing events.
    pub message: String,
    /// The failing run as a scenario file (shrunk when the failure is a violation).
    pub file: Option<PathBuf>,
    /// How the file was shrunk, e.g. `2 faults (from 9) in 41 runs`.
    pub shrunk: Option<String>,
    /// `FAULTLINE_SEED=17 cargo test -p ... -- name --exact`
    pub replay_test: Option<String>,
    /// `faultline run FILE` (or your CLI's command)
    pub replay_cli: Option<String>,
}

/// The most lines of a check's message the panic shows (a linearizability explanation
/// runs long; replaying the seed prints it whole).
const MESSAGE_LINES: usize = 30;

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.seed {
            Some(seed) => writeln!(f, "faultline: {} seed {seed}: {}", self.scenario, self.what)?,
            None => writeln!(f, "faultline: {}: {}", self.scenario, self.what)?,
        }
        if let Some(file) = &self.file {
            match &self.shrunk {
                Some(how) => writeln!(f, "  shrunk to {how}: {}", file.display())?,
                None => writeln!(f, "  the failing run: {}", file.display())?,
            }
        }
        if let Some(c) = &self.replay_test {
            writeln!(f, "  replay this seed:  {c}")?;
        }
        if let Some(c) = &self.replay_cli {
            writeln!(f, "  replay with the CLI:  {c}")?;
        }
        match &self.check {
            Some(check) => write!(f, "  check {check}: ")?,
            None => write!(f, "  ")?,
        }
        let lines: Vec<&str> = self.message.trim_end().lines().collect();
        writeln!(
            f,
            "{}",
            lines[..lines.len().min(MESSAGE_LINES)].join("\n    ")
        )?;
        if lines.len() > MESSAGE_LINES {
            writeln!(
                f,
                "    ... {} more lines: replay the seed to see them all",
                lines.len() - MESSAGE_LINES
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for Failure {}

impl<P: Protocol + 'static> Check<P> {
    /// A check of the scenario file at `path` (relative to the package, where `cargo test`
    /// runs), whose `protocol: (name: ...)` must be [`Protocol::NAME`]. It runs the file's
    /// `seed` alone until [`Check::seeds`] says otherwise.
    pub fn scenario(path: impl Into<String>) -> Check<P> {
        Check::new(Source::File(path.into()))
    }

    /// A check of a scenario written in the test; `name` stands for its file in messages.
    pub fn scenario_str(name: impl Into<String>, text: impl Into<String>) -> Check<P> {
        Check::new(Source::Text {
            name: name.into(),
            text: text.into(),
        })
    }

    fn new(source: Source) -> Check<P> {
        Check {
            source,
            seeds: None,
            jobs: None,
            determinism_every: DETERMINISM_EVERY,
            shrink: true,
            cli: None,
            protocol: PhantomData,
        }
    }

    /// The seeds to run, e.g. `0..1000` (end excluded) [default: the file's `seed`
    /// alone]. [`SEED_VAR`] overrides it. An empty range is an error, never a pass.
    pub fn seeds(mut self, seeds: Range<u64>) -> Check<P> {
        self.seeds = Some(seeds);
        self
    }

    /// Threads to run seeds on [default: every core]. The result does not depend on it.
    pub fn jobs(mut self, jobs: usize) -> Check<P> {
        self.jobs = Some(jobs.max(1));
        self
    }

    /// Run every `n`-th seed (the first always) twice and compare the traces; 0 turns the
    /// determinism check off [default: [`DETERMINISM_EVERY`]].
    pub fn determinism_every(mut self, n: u64) -> Check<P> {
        self.determinism_every = n;
        self
    }

    /// Do not shrink a failing seed (the failure's file is the scenario with the seed set).
    pub fn no_shrink(mut self) -> Check<P> {
        self.shrink = false;
        self
    }

    /// How the replay line calls your CLI, e.g. `"cargo run -q -p chain --"` [default:
    /// `faultline` for a built-in protocol, else `cargo run -q -p PACKAGE --` with the
    /// package `cargo test` runs, which assumes its binary is `faultline::cli::main` with
    /// `P` registered].
    pub fn cli(mut self, command: impl Into<String>) -> Check<P> {
        self.cli = Some(command.into());
        self
    }

    /// Runs the check; panics with the [`Failure`] if a seed fails.
    pub fn run(self) -> Passed {
        match self.try_run() {
            Ok(p) => p,
            Err(f) => panic!("{f}"),
        }
    }

    /// Runs the check: every seed (or the one [`SEED_VAR`] names), on every core unless
    /// [`Check::jobs`] says otherwise; the lowest failing seed if one fails.
    pub fn try_run(self) -> Result<Passed, Box<Failure>> {
        let test = TestName::current();
        let s = self.load()?;
        let seeds: Vec<u64> = match seed_from_env().map_err(|m| self.bad(m))? {
            Some(seed) => vec![seed],
            None => match &self.seeds {
                None => vec![s.seed()],
                Some(r) if r.is_empty() => {
                    return Err(self.bad(format!(
                        "the seed range {}..{} is empty: nothing would run (the end is excluded: write e.g. {}..{})",
                        r.start,
                        r.end,
                        r.start,
                        r.start + 1
                    )));
                }
                Some(r) => r.clone().collect(),
            },
        };
        let sampled =
            |i: usize| self.determinism_every > 0 && (i as u64) % self.determinism_every == 0;
        let jobs = self
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let next = AtomicUsize::new(0);
        let lowest = AtomicUsize::new(usize::MAX);
        let failures: Mutex<Vec<(usize, SeedFailure)>> = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for _ in 0..jobs.min(seeds.len()) {
                scope.spawn(|| {
                    let prepared = match Prepared::<P>::new(&s) {
                        Ok(p) => p,
                        Err(e) => {
                            // `load` checked it; should it fail here, no seed may pass.
                            lowest.fetch_min(0, Ordering::Relaxed);
                            let f = SeedFailure {
                                seed: seeds[0],
                                what: "the scenario cannot run".into(),
                                check: None,
                                message: e.render(false),
                                panicked: false,
                            };
                            failures
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .push((0, f));
                            return;
                        }
                    };
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        // Every seed below the lowest failure runs, so the answer is the
                        // same for any number of threads.
                        if i >= seeds.len() || i > lowest.load(Ordering::Relaxed) {
                            break;
                        }
                        if let Some(f) = run_seed(&prepared, &s, seeds[i], sampled(i)) {
                            lowest.fetch_min(i, Ordering::Relaxed);
                            failures
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .push((i, f));
                        }
                    }
                });
            }
        });
        let failures = failures.into_inner().unwrap_or_else(|e| e.into_inner());
        match failures.into_iter().min_by_key(|(i, _)| *i) {
            None => Ok(Passed {
                determinism_checked: (0..seeds.len())
                    .filter(|&i| sampled(i))
                    .map(|i| seeds[i])
                    .collect(),
                seeds,
            }),
            Some((_, f)) => Err(Box::new(self.report(&s, f, &test))),
        }
    }

    /// Runs one seed with the full trace, for assertions on that run. Panics if the
    /// scenario is bad or the protocol panics.
    pub fn run_seed(&self, seed: u64) -> Run {
        let s = self.load().unwrap_or_else(|f| panic!("{f}"));
        let prepared = Prepared::<P>::new(&s).unwrap_or_else(|e| panic!("{}", e.render(false)));
        let result = prepared
            .run(&s, seed, TraceLevel::Full)
            .unwrap_or_else(|e| panic!("{}", e.render(false)));
        let mut one = s.clone();
        one.seed = seed;
        let stem = self.stem();
        Run {
            cli: self.cli_command("run"),
            file: output_dir().join(format!("{stem}-seed{seed}.ron")),
            scenario: one,
            model: P::history_model(),
            result,
        }
    }

    fn path_or_name(&self) -> String {
        match &self.source {
            Source::File(p) => p.clone(),
            Source::Text { name, .. } => name.clone(),
        }
    }

    /// The scenario's file name without `.ron`, for the files failures write.
    fn stem(&self) -> String {
        Path::new(&self.path_or_name())
            .file_stem()
            .map_or("scenario".into(), |x| x.to_string_lossy().into_owned())
    }

    fn bad(&self, message: String) -> Box<Failure> {
        Box::new(Failure {
            scenario: self.path_or_name(),
            seed: None,
            what: "bad input".into(),
            check: None,
            message,
            file: None,
            shrunk: None,
            replay_test: None,
            replay_cli: None,
        })
    }

    /// The scenario, read and checked against `P`.
    fn load(&self) -> Result<Scenario, Box<Failure>> {
        let rendered = |e: ScenarioError| self.bad(e.render(false));
        let s = match &self.source {
            Source::File(path) => Scenario::load(path).map_err(rendered)?,
            Source::Text { name, text } => Scenario::parse(name, text).map_err(rendered)?,
        };
        if s.protocol() != P::NAME {
            return Err(self.bad(format!(
                "the scenario names the protocol {:?}, but this check runs {:?}: write `protocol: (name: {:?}, ...)` or check it with that protocol's type",
                s.protocol(),
                P::NAME,
                P::NAME
            )));
        }
        Prepared::<P>::new(&s).map_err(rendered)?;
        Ok(s)
    }

    /// The CLI command that does `args`.
    fn cli_command(&self, args: &str) -> String {
        let cli = self.cli.clone().unwrap_or_else(|| {
            if crate::registry::builtin_ref().contains(P::NAME) {
                "faultline".to_string()
            } else {
                let package = std::env::var("CARGO_PKG_NAME").unwrap_or_else(|_| "YOUR-CLI".into());
                format!("cargo run -q -p {package} --")
            }
        });
        format!("{cli} {args}")
    }

    /// The failure of `seed` as the panic message reports it: shrunk, written, replayable.
    fn report(&self, s: &Scenario, f: SeedFailure, test: &TestName) -> Failure {
        let seed = f.seed;
        let mut file = None;
        let mut shrunk = None;
        let dir = output_dir();
        let path = dir.join(format!("{}-seed{seed}.ron", self.stem()));
        let mut text = None;
        if self.shrink && f.check.is_some() && !f.panicked {
            let quiet = &mut |_: &str| {};
            if let Ok(Ok(sh)) = catch_unwind(AssertUnwindSafe(|| shrink_with::<P>(s, seed, quiet)))
            {
                shrunk = Some(format!(
                    "{} faults (from {}) in {} runs",
                    sh.faults, sh.faults_before, sh.runs
                ));
                text = Some(sh.text);
            }
        }
        let text = text.unwrap_or_else(|| {
            let mut one = s.clone();
            one.seed = seed;
            one.to_ron()
        });
        if write_whole(&path, &text) {
            file = Some(path);
        } else {
            shrunk = None;
        }
        let replay_cli = match &file {
            Some(p) => self.cli_command(&format!(
                "run {}",
                shell_quote(&display_path(&p.display().to_string()))
            )),
            None => self.cli_command(&format!(
                "run {} --seed {seed}",
                shell_quote(&display_path(&self.path_or_name()))
            )),
        };
        Failure {
            scenario: self.path_or_name(),
            seed: Some(seed),
            what: f.what,
            check: f.check,
            message: f.message,
            file,
            shrunk,
            replay_test: Some(test.replay(seed)),
            replay_cli: Some(replay_cli),
        }
    }
}

/// One seed's failure, before it is shrunk and written.
struct SeedFailure {
    seed: u64,
    what: String,
    check: Option<String>,
    message: String,
    panicked: bool,
}

/// Runs `seed` (twice more with the full trace if `compare`); `None` if it met `expect`.
fn run_seed<P: Protocol>(
    prepared: &Prepared<P>,
    s: &Scenario,
    seed: u64,
    compare: bool,
) -> Option<SeedFailure> {
    let run = |level| catch_unwind(AssertUnwindSafe(|| prepared.run(s, seed, level)));
    let panicked = |payload: Box<dyn std::any::Any + Send>| SeedFailure {
        seed,
        what: "the protocol panicked".into(),
        check: None,
        message: panic_message(&*payload),
        panicked: true,
    };
    let bad = |e: ScenarioError| SeedFailure {
        seed,
        what: "the scenario cannot run with this seed".into(),
        check: None,
        message: e.render(false),
        panicked: false,
    };
    let r = match run(TraceLevel::Off) {
        Err(p) => return Some(panicked(p)),
        Ok(Err(e)) => return Some(bad(e)),
        Ok(Ok(r)) => r,
    };
    if !r.matched {
        return Some(not_met(s, &r));
    }
    if compare {
        let (a, b) = match (run(TraceLevel::Full), run(TraceLevel::Full)) {
            (Err(p), _) | (_, Err(p)) => return Some(panicked(p)),
            (Ok(Err(e)), _) | (_, Ok(Err(e))) => return Some(bad(e)),
            (Ok(Ok(a)), Ok(Ok(b))) => (a, b),
        };
        if let Some(d) = first_difference(&a, &b) {
            return Some(SeedFailure {
                seed,
                what: format!("not deterministic: two runs differ at event {}", d.index),
                check: None,
                message: format!("first run:  {}\nsecond run: {}", d.first, d.second),
                panicked: false,
            });
        }
        if a.report.fingerprint != r.report.fingerprint || a.outcome != r.outcome {
            return Some(SeedFailure {
                seed,
                what: "not deterministic: recording the trace changed the run".into(),
                check: None,
                message: format!(
                    "without a trace: {} (fingerprint {:016x}); with the full trace: {} (fingerprint {:016x})",
                    outcome_name(&r.outcome),
                    r.report.fingerprint,
                    outcome_name(&a.outcome),
                    a.report.fingerprint
                ),
                panicked: false,
            });
        }
    }
    None
}

/// A run whose outcome did not meet `expect`, said plainly.
fn not_met(s: &Scenario, r: &RunResult) -> SeedFailure {
    let expected = s.expect().to_string();
    let (what, check, message) = match &r.outcome {
        Outcome::Violation(v) => (
            format!(
                "violation of {:?} at {} (expected {expected})",
                v.check,
                v.time.readable()
            ),
            Some(v.check.clone()),
            v.message.clone(),
        ),
        Outcome::Pass => (
            format!("passed, but expected {expected}"),
            None,
            "no check failed; a scenario that expects a violation must show it on every seed it runs".into(),
        ),
        Outcome::Incomplete { end, at } => (
            format!("incomplete at {} (expected {expected})", at.readable()),
            None,
            format!(
                "the run ended early ({}): a runaway protocol or fault; what did not run cannot pass",
                crate::output::end_name(*end)
            ),
        ),
        Outcome::Undecided { check, message } => (
            format!("undecided: {check:?} could not decide (expected {expected})"),
            Some(check.clone()),
            message.clone(),
        ),
        Outcome::Runaway { at, message } => (
            format!("runaway at {} (expected {expected})", at.readable()),
            None,
            message.clone(),
        ),
        Outcome::Unreached { missing } => (
            format!(
                "unreached: never reached {} (expected {expected}, reaching every `reach` property)",
                missing.join(", ")
            ),
            None,
            "the run no longer shows what its scenario is for: it missed a sometimes-property its `reach` requires".into(),
        ),
        Outcome::EngineError { at, message } => (
            format!(
                "ENGINE ERROR at {}: a bug in faultline's engine, not in the protocol (expected {expected})",
                at.readable()
            ),
            None,
            message.clone(),
        ),
    };
    SeedFailure {
        seed: r.seed,
        what,
        check,
        message,
        panicked: false,
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic without a message)".into()
    }
}

/// [`SEED_VAR`], if set.
fn seed_from_env() -> Result<Option<u64>, String> {
    match std::env::var(SEED_VAR) {
        Err(_) => Ok(None),
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => v.trim().parse::<u64>().map(Some).map_err(|_| {
            format!("{SEED_VAR}={v:?} is not a seed: write a whole number, e.g. {SEED_VAR}=17")
        }),
    }
}

/// Where failing runs are written: `target/faultline/` (found from the test binary,
/// `target/debug/deps/...`), else the system's temporary folder.
fn output_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return absolute(Path::new(&dir)).join("faultline");
    }
    let exe = std::env::current_exe().ok();
    let target = exe.as_deref().and_then(|e| {
        let deps = e.parent()?;
        let profile = deps.parent()?;
        (deps.file_name()? == "deps").then_some(profile.parent()?)
    });
    match target {
        Some(t) => t.join("faultline"),
        None => std::env::temp_dir().join("faultline"),
    }
}

/// Writes `text` to `path` through a temporary file and a rename, so that a test reading
/// it while another writes the same failure (tests run in parallel) never sees half of it.
fn write_whole(path: &Path, text: &str) -> bool {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let Some(dir) = path.parent() else {
        return false;
    };
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(
        ".{}.{}-{n}.tmp",
        std::process::id(),
        path.file_name().map_or("x".into(), |f| f.to_string_lossy())
    ));
    let ok = std::fs::create_dir_all(dir).is_ok()
        && std::fs::write(&tmp, text).is_ok()
        && std::fs::rename(&tmp, path).is_ok();
    if !ok {
        let _ = std::fs::remove_file(&tmp);
    }
    ok
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// `path` made absolute, so the command works from any folder.
fn display_path(path: &str) -> String {
    absolute(Path::new(path)).display().to_string()
}

/// The test that is running, for the `cargo test` replay line.
struct TestName {
    /// libtest names each test's thread after the test.
    test: Option<String>,
}

impl TestName {
    fn current() -> TestName {
        let test = std::thread::current()
            .name()
            .filter(|n| *n != "main")
            .map(str::to_string);
        TestName { test }
    }

    fn replay(&self, seed: u64) -> String {
        let mut c = format!("{SEED_VAR}={seed} cargo test");
        if let Ok(package) = std::env::var("CARGO_PKG_NAME") {
            c.push_str(&format!(" -p {package}"));
            let target = std::env::current_exe().ok().and_then(|e| {
                let stem = e.file_stem()?.to_string_lossy().into_owned();
                Some(match stem.rsplit_once('-') {
                    Some((name, hash)) if hash.chars().all(|c| c.is_ascii_hexdigit()) => {
                        name.to_string()
                    }
                    _ => stem,
                })
            });
            match target {
                Some(t) if t == package.replace('-', "_") => c.push_str(" --lib"),
                Some(t) => c.push_str(&format!(" --test {t}")),
                None => {}
            }
        }
        if let Some(t) = &self.test {
            c.push_str(&format!(" -- {t} --exact"));
        }
        c
    }
}

/// One seed's run with its full trace, for unit-style assertions. Every failed assertion
/// panics with the seed and the command that replays the run.
pub struct Run {
    result: RunResult,
    model: Option<lincheck::ModelKind>,
    /// The scenario with the run's seed, written to `file` when an assertion fails.
    scenario: Scenario,
    file: PathBuf,
    /// The CLI's `run` command.
    cli: String,
}

impl Run {
    /// The run's result: outcome, whether it met `expect`, and the report (trace,
    /// history, stats).
    pub fn result(&self) -> &RunResult {
        &self.result
    }

    /// The run's outcome.
    pub fn outcome(&self) -> &Outcome {
        &self.result.outcome
    }

    fn fail(&self, what: String) -> ! {
        let written = write_whole(&self.file, &self.scenario.to_ron());
        let replay = if written {
            format!(
                "{} {}",
                self.cli,
                shell_quote(&self.file.display().to_string())
            )
        } else {
            format!(
                "{} {} --seed {}",
                self.cli,
                shell_quote(&display_path(self.scenario.file())),
                self.result.seed
            )
        };
        panic!(
            "faultline: {} seed {}: {what}\n  replay with the CLI:  {replay}",
            self.scenario.file(),
            self.result.seed
        )
    }

    /// Asserts that no check failed and the run was neither cut short nor undecided.
    pub fn assert_pass(&self) -> &Run {
        if self.result.outcome != Outcome::Pass {
            let detail = match &self.result.outcome {
                Outcome::Violation(v) => format!(": {}", v.message),
                Outcome::Undecided { message, .. } => format!(": {message}"),
                _ => String::new(),
            };
            self.fail(format!(
                "expected a pass, got {}{detail}",
                outcome_name(&self.result.outcome)
            ));
        }
        self
    }

    /// Asserts that the outcome met the scenario's `expect`.
    pub fn assert_expected(&self) -> &Run {
        if !self.result.matched {
            self.fail(format!(
                "the outcome {} does not meet the scenario's expect",
                outcome_name(&self.result.outcome)
            ));
        }
        self
    }

    /// Asserts that the check `check` failed (it is the outcome's violation, or among the
    /// violations found); returns that violation.
    pub fn assert_violation(&self, check: &str) -> &Violation {
        match self
            .result
            .report
            .violations
            .iter()
            .find(|v| v.check == check)
        {
            Some(v) => v,
            None => self.fail(format!(
                "expected a violation of {check:?}, got {}",
                outcome_name(&self.result.outcome)
            )),
        }
    }

    /// Asserts that a line of the full trace contains `needle`; returns the first such
    /// line.
    pub fn assert_trace_line(&self, needle: &str) -> String {
        let text = self.result.report.trace.to_text();
        match text.lines().find(|l| l.contains(needle)) {
            Some(l) => l.to_string(),
            None => self.fail(format!(
                "no trace line contains {needle:?} ({} lines; `run --trace full` prints them)",
                text.lines().count()
            )),
        }
    }

    /// Asserts that no line of the full trace contains `needle`.
    pub fn assert_no_trace_line(&self, needle: &str) -> &Run {
        let text = self.result.report.trace.to_text();
        if let Some(l) = text.lines().find(|l| l.contains(needle)) {
            self.fail(format!("a trace line contains {needle:?}: {l}"));
        }
        self
    }

    /// The clients' history judged for linearizability against the protocol's history
    /// model ([`Protocol::history_model`]); panics if it has none.
    pub fn history_verdict(&self) -> lincheck::Verdict {
        let Some(model) = self.model else {
            self.fail("the protocol's clients record no history (history_model is None)".into());
        };
        let mut history = self.result.report.history.clone();
        history.model = model;
        match lincheck::check_history(&history, &lincheck::CheckOptions::default()) {
            Ok(report) => report.verdict,
            Err(e) => self.fail(format!("the run's history is malformed: {e}")),
        }
    }

    /// Asserts the history's verdict.
    pub fn assert_history(&self, verdict: lincheck::Verdict) -> &Run {
        let got = self.history_verdict();
        if got != verdict {
            self.fail(format!(
                "expected the history to be {verdict:?}, it is {got:?}"
            ));
        }
        self
    }
}
