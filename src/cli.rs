//! The command line: parse the flags, call the library, print, choose the exit code.
//!
//! Exit codes: 0 when every run met its `expect`, 1 when one did not, 2 for bad input
//! (a bad scenario file or flag), 3 when a run was cut short (`incomplete`), 4 when a
//! history check could not decide (`undecided`), 5 when a run breached its runaway bound
//! (`runaway`); a sweep exits with the most serious of its runs' codes, in the order 1, 5,
//! 3, 4 (see `faultline::runner`).

use clap::{Parser, Subcommand, ValueEnum};
use faultline::output::{self, replay_command};
use faultline::progress::{self, Progress};
use faultline::registry::Registry;
use faultline::scenario::ScenarioError;
use faultline::{Scenario, runner, shrink, sweep};
use sim_core::TraceLevel;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Instant;

/// A deterministic simulator for distributed systems: run failure scenarios written in RON,
/// sweep them over thousands of seeds, shrink a failure, replay it from its seed.
#[derive(Parser, Debug)]
#[command(name = "faultline", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run one scenario with one seed, print its trace and verdict.
    ///
    /// Exit code 0 when the outcome matches the file's `expect`, 1 when it does not,
    /// 2 for a bad file or flag, 3 when the run was cut short before its duration
    /// (incomplete), 4 when a history check could not decide (undecided), 5 when the run
    /// breached its runaway bound (runaway).
    Run {
        /// The scenario file (RON), e.g. scenarios/pingstorm/smoke.ron.
        file: String,
        /// Seed for this run [default: the file's `seed`].
        #[arg(long)]
        seed: Option<u64>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// How much of the trace to record and print [default: the file's `trace`, else summary].
        #[arg(long, value_enum)]
        trace: Option<TraceArg>,
        /// Also print events, virtual time, wall time, events/s and the virtual/wall ratio.
        #[arg(long, default_value_t = false)]
        stats: bool,
        /// Write the clients' history here as JSON Lines (the format `check-history`
        /// reads) [default: not written].
        #[arg(long, value_name = "FILE")]
        history_out: Option<String>,
        /// Draw the run as an SVG timeline here: one lane per node and client, an arrow
        /// per message, partitions, crashes, client operations and violations. Records the
        /// full trace for the picture whatever --trace says [default: not drawn].
        #[arg(long, value_name = "FILE")]
        svg: Option<String>,
        /// Print a text timeline after the trace: one row per node showing when it was up,
        /// crashed (x), paused (z) or leading (the digit of its term or generation; letters
        /// with a legend once a term reaches 10), and a row of faults. Two leaders in one
        /// column is split-brain [default: not printed].
        #[arg(long, default_value_t = false)]
        timeline: bool,
        /// How much of a linearizability failure's explanation to print: `brief` (the last
        /// operations that fit and the first that cannot come next) or `full` (the whole
        /// longest linearizable prefix and every stuck operation).
        #[arg(long, value_enum, default_value_t = ExplainArg::Brief)]
        explain: ExplainArg,
        /// Write the run as one self-contained HTML page here (inline CSS and script, no
        /// network): a space-time diagram with zoom, pan, a time cursor, filters and
        /// details, and the clients' history. Records the full trace for it whatever
        /// --trace says [default: not written].
        #[arg(long, value_name = "FILE")]
        html: Option<String>,
        /// Write an export of the run, as KIND=FILE; repeat for several. KIND is shiviz
        /// (a ShiViz log with vector clocks), perfetto (Chrome trace-event JSON for
        /// ui.perfetto.dev or chrome://tracing), mermaid (a sequence diagram) or
        /// history-svg (the clients' history picture) [default: none].
        #[arg(long, value_name = "KIND=FILE", value_parser = parse_export)]
        export: Vec<(faultline::export::Kind, String)>,
        /// Start of the window that --html and --export draw, as a
        /// duration from the run's start, e.g. 1.5s [default: the run's start].
        #[arg(long, value_name = "TIME", value_parser = parse_time)]
        from: Option<sim_core::Time>,
        /// End of that window (included), e.g. 2.5s [default: the run's end].
        #[arg(long, value_name = "TIME", value_parser = parse_time)]
        to: Option<sim_core::Time>,
        /// Lanes (node or client names, comma-separated, e.g. n17,n4031) that --html and
        /// --export draw when the run has more than 32 nodes or 32 clients; the rest of
        /// the 32 are those that carry the window's messages among themselves, as without
        /// it [default: all chosen by traffic].
        #[arg(long, value_name = "NAMES", value_delimiter = ',')]
        lanes: Vec<String>,
    },
    /// Run many seeds in parallel; write one JSON line per seed, in seed order.
    ///
    /// The output opens with a header line naming what it was made from (scenario content
    /// hash, faultline version, seeds, shard) and is flushed line by line: run the same
    /// command again to resume an interrupted sweep; the summary and exit code then cover
    /// the seeds recorded earlier too. With --shard I/N only every N-th seed runs (for batch
    /// schedulers); `faultline report` merges the shards' files.
    Sweep {
        /// The scenario file (RON).
        file: String,
        /// Seeds to run, as START..END (END excluded), e.g. 0..10000.
        #[arg(long, value_parser = parse_range)]
        seeds: std::ops::Range<u64>,
        /// Simulations run at once, one per thread [default: the number of CPUs].
        #[arg(long)]
        jobs: Option<usize>,
        /// Write the JSON lines here (and resume from it if it exists) [default: stdout].
        #[arg(long)]
        out: Option<String>,
        /// Run only shard I of N (0-based): the seeds whose position in the range is I mod N.
        #[arg(long, value_parser = parse_shard, default_value = "0/1")]
        shard: (u64, u64),
        /// After the summary, print for each of the protocol's sometimes-properties how
        /// many seeds reached it, and warn about those none reached [default: not printed].
        #[arg(long, default_value_t = false)]
        coverage: bool,
    },
    /// Summarize sweep outputs (e.g. the shards of one sweep) as one sweep over them would.
    ///
    /// Prints the summary and exits with the code that one sweep over the whole range would
    /// have: 0 when every seed met `expect`, 1 when one did not. Files from another scenario
    /// or faultline version, and seeds of the range that no file records, are errors (2).
    Report {
        /// The sweep outputs (`sweep --out` files, or a sweep's stdout saved).
        #[arg(required = true)]
        files: Vec<String>,
        /// Also print how many seeds reached each sometimes-property, as `sweep --coverage`
        /// does (reads the scenario file the header names, for its protocol) [default: not
        /// printed].
        #[arg(long, default_value_t = false)]
        coverage: bool,
    },
    /// Shrink a failing run to the smallest scenario that still fails the same way.
    Shrink {
        /// The scenario file (RON).
        file: String,
        /// The failing seed (from `run` or `sweep`).
        #[arg(long)]
        seed: u64,
        /// Where to write the minimal scenario [default: print it to stdout].
        #[arg(long)]
        out: Option<String>,
    },
    /// Run each seed twice and report the first event where the two runs differ.
    CheckDeterminism {
        /// The scenario file (RON).
        file: String,
        /// Seeds to check, as START..END (END excluded).
        #[arg(long, value_parser = parse_range, default_value = "0..100")]
        seeds: std::ops::Range<u64>,
    },
    /// Check a history (JSON Lines, e.g. from `run --history-out`) for linearizability.
    ///
    /// Exit code 0 linearizable, 1 not linearizable, 3 unknown (a budget ran out), 2 bad
    /// input. Each key is checked on its own; a failure shows the key, the longest
    /// linearizable prefix found and the operations that cannot come next.
    CheckHistory {
        /// The history file (JSON Lines, faultline history format v1).
        file: String,
        /// Check against this model instead of the one in the file's header.
        #[arg(long, value_enum)]
        model: Option<ModelArg>,
        /// Give up after this much wall time and answer unknown (exit 3), e.g. 10s
        /// [default: no time limit; the step and memory budgets still apply, so the answer
        /// never depends on machine speed unless this is set].
        #[arg(long, value_parser = parse_duration)]
        timeout: Option<std::time::Duration>,
        /// Per-key budget of search steps; when it runs out the key is unknown (exit 3).
        #[arg(long, default_value_t = lincheck::DEFAULT_MAX_STEPS)]
        max_steps: u64,
        /// Per-key bound on the memory the search holds, in MiB; past it the key is
        /// unknown (exit 3), never an abort.
        #[arg(long, default_value_t = lincheck::DEFAULT_MAX_MEMORY >> 20)]
        max_memory: u64,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Run one scenario under several protocols over the same seeds and print one table:
    /// the checks' verdicts, client operations by outcome, latency, messages per
    /// operation, leader changes and time without a leader.
    ///
    /// The file's config applies to the protocol it names; the others run with their
    /// defaults. Every protocol must offer every check the file lists. Exit code 0 when
    /// every run met the file's `expect`, 1 when one did not, 2 for bad input.
    Compare {
        /// The scenario file (RON), e.g. scenarios/compare/leader-crash.ron.
        file: String,
        /// The protocols to run, comma-separated, e.g. raft,multipaxos.
        #[arg(long, value_delimiter = ',', required = true)]
        protocols: Vec<String>,
        /// Seeds to run under each protocol, as START..END (END excluded).
        #[arg(long, value_parser = parse_range, default_value = "0..200")]
        seeds: std::ops::Range<u64>,
        /// Output format: the table, or one JSON object.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Print a commented starting scenario for a protocol: its config with every field
    /// at its default under its doc comment (bug knobs off), a cluster and workload it
    /// accepts, example faults, and every check it offers. It runs as written:
    /// `faultline new raft > raft.ron && faultline run raft.ron`.
    New {
        /// The protocol, as `faultline list` names it, e.g. raft.
        protocol: String,
    },
    /// List protocols (their config, checks and bug knobs) and the scenario files.
    List {
        /// The folder of scenario files to list.
        #[arg(long, default_value = "scenarios")]
        dir: String,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ExplainArg {
    Brief,
    Full,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ModelArg {
    Register,
    CasRegister,
    Kv,
}

impl ModelArg {
    fn kind(self) -> lincheck::ModelKind {
        match self {
            ModelArg::Register => lincheck::ModelKind::Register,
            ModelArg::CasRegister => lincheck::ModelKind::CasRegister,
            ModelArg::Kv => lincheck::ModelKind::Kv,
        }
    }
}

fn parse_time(s: &str) -> Result<sim_core::Time, String> {
    let d: sim_core::Duration = s.parse().map_err(|e: sim_core::DurationError| {
        format!("{e}: write a time from the run's start as a duration, e.g. 1.5s or 200ms")
    })?;
    Ok(sim_core::Time::ZERO.plus(d))
}

fn parse_export(s: &str) -> Result<(faultline::export::Kind, String), String> {
    let kinds = faultline::export::Kind::NAMES.join(", ");
    let (kind, file) = s.split_once('=').ok_or_else(|| {
        format!("{s:?} is not KIND=FILE: write e.g. shiviz=run.log (KIND is one of {kinds})")
    })?;
    let kind = faultline::export::Kind::parse(kind)
        .ok_or_else(|| format!("unknown export kind {kind:?}: expected one of {kinds}"))?;
    if file.is_empty() {
        return Err(format!("{s:?} names no file: write {}=FILE", kind.name()));
    }
    Ok((kind, file.to_string()))
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let d: sim_core::Duration = s
        .parse()
        .map_err(|e: sim_core::DurationError| e.to_string())?;
    Ok(std::time::Duration::from_nanos(d.as_nanos()))
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum TraceArg {
    Full,
    Summary,
    Off,
}

impl TraceArg {
    fn level(self) -> TraceLevel {
        match self {
            TraceArg::Full => TraceLevel::Full,
            TraceArg::Summary => TraceLevel::Summary,
            TraceArg::Off => TraceLevel::Off,
        }
    }
}

fn parse_range(s: &str) -> Result<std::ops::Range<u64>, String> {
    let (a, b) = s
        .split_once("..")
        .ok_or_else(|| format!("{s:?} is not a range: write START..END, e.g. 0..10000"))?;
    let num = |x: &str| {
        x.trim().parse::<u64>().map_err(|_| {
            format!(
                "{x:?} in {s:?} is not a seed: write START..END with whole numbers, e.g. 0..10000"
            )
        })
    };
    let (a, b) = (num(a)?, num(b)?);
    if a >= b {
        return Err(format!(
            "the range {s} is empty: END is excluded, so write e.g. {a}..{}",
            a + 1
        ));
    }
    Ok(a..b)
}

fn parse_shard(s: &str) -> Result<(u64, u64), String> {
    let bad = || format!("{s:?} is not a shard: write I/N with 0 <= I < N, e.g. 3/8");
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n) = (
        i.trim().parse::<u64>().map_err(|_| bad())?,
        n.trim().parse::<u64>().map_err(|_| bad())?,
    );
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

/// What `run` writes or prints besides the trace and verdict.
struct Extras<'a> {
    history_out: Option<&'a str>,
    svg: Option<&'a str>,
    timeline: bool,
    explain: output::Explain,
    pictures: Pictures<'a>,
}

/// The page and exports `run` writes, and the window they draw.
struct Pictures<'a> {
    html: Option<&'a str>,
    exports: &'a [(faultline::export::Kind, String)],
    from: Option<sim_core::Time>,
    to: Option<sim_core::Time>,
    lanes: &'a [String],
}

impl Pictures<'_> {
    fn any(&self) -> bool {
        self.html.is_some() || !self.exports.is_empty()
    }
}

/// Bad input: printed, exit code 2.
enum Failure {
    Scenario(ScenarioError),
    Input(String),
}

impl From<ScenarioError> for Failure {
    fn from(e: ScenarioError) -> Failure {
        Failure::Scenario(e)
    }
}

/// The `faultline` command for the protocols in `registry`: parses the arguments, runs
/// the subcommand, prints, and returns the exit code. The shipped binary calls it with
/// [`Registry::builtin`]; a program of your own adds its protocols first.
pub fn main(registry: Registry) -> ExitCode {
    // Replay hints name the program that printed them (a user's own CLI is not `faultline`).
    if let Some(name) = std::env::args_os()
        .next()
        .as_deref()
        .map(std::path::Path::new)
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
    {
        output::set_program(name);
    }
    let cli = Cli::parse();
    match run(cli, &registry) {
        Ok(code) => code,
        Err(Failure::Scenario(e)) => {
            let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            eprint!("{}", e.render(color));
            ExitCode::from(2)
        }
        Err(Failure::Input(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn load(reg: &Registry, file: &str) -> Result<Scenario, Failure> {
    let s = Scenario::load(file)?;
    reg.check(&s)?;
    Ok(s)
}

fn run(cli: Cli, reg: &Registry) -> Result<ExitCode, Failure> {
    match cli.command {
        Command::Run {
            file,
            seed,
            format,
            trace,
            stats,
            history_out,
            svg,
            timeline,
            explain,
            html,
            export,
            from,
            to,
            lanes,
        } => run_one(
            reg,
            &file,
            seed,
            format,
            trace,
            stats,
            Extras {
                history_out: history_out.as_deref(),
                svg: svg.as_deref(),
                timeline,
                explain: match explain {
                    ExplainArg::Brief => output::Explain::Brief,
                    ExplainArg::Full => output::Explain::Full,
                },
                pictures: Pictures {
                    html: html.as_deref(),
                    exports: &export,
                    from,
                    to,
                    lanes: &lanes,
                },
            },
        ),
        Command::Sweep {
            file,
            seeds,
            jobs,
            out,
            shard,
            coverage,
        } => run_sweep(reg, &file, seeds, jobs, out, shard, coverage),
        Command::Report { files, coverage } => run_report(reg, &files, coverage),
        Command::Shrink { file, seed, out } => run_shrink(reg, &file, seed, out),
        Command::CheckDeterminism { file, seeds } => run_determinism(reg, &file, seeds),
        Command::CheckHistory {
            file,
            model,
            timeout,
            max_steps,
            max_memory,
            format,
        } => run_check_history(
            &file,
            model,
            lincheck::CheckOptions {
                timeout,
                max_steps: Some(max_steps),
                max_memory: Some(max_memory.saturating_mul(1 << 20)),
                ..lincheck::CheckOptions::default()
            },
            format,
        ),
        Command::Compare {
            file,
            protocols,
            seeds,
            format,
        } => run_compare(reg, &file, &protocols, seeds, format),
        Command::List { dir } => run_list(reg, &dir),
        Command::New { protocol } => run_new(reg, &protocol),
    }
}

fn run_one(
    reg: &Registry,
    file: &str,
    seed: Option<u64>,
    format: Format,
    trace: Option<TraceArg>,
    stats: bool,
    extras: Extras<'_>,
) -> Result<ExitCode, Failure> {
    let Extras {
        history_out,
        svg,
        timeline,
        explain,
        pictures,
    } = extras;
    if let (Some(a), Some(b)) = (pictures.from, pictures.to) {
        if a > b {
            return Err(Failure::Input(format!(
                "--from {a} is after --to {b}: the window must start before it ends"
            )));
        }
    }
    if (pictures.from.is_some() || pictures.to.is_some()) && !pictures.any() {
        return Err(Failure::Input(
            "--from and --to window the --html page and --export files: give one of those too"
                .into(),
        ));
    }
    if !pictures.lanes.is_empty() && !pictures.any() {
        return Err(Failure::Input(
            "--lanes chooses the lanes of the --html page and --export files: give one of those too"
                .into(),
        ));
    }
    let s = load(reg, file)?;
    let seed = seed.unwrap_or(s.seed());
    let level = trace.map_or(s.trace(), TraceArg::level);
    // The picture needs every message and the timeline every note: record what they need,
    // print only what --trace asks for. The page and exports record their own run,
    // within a trace budget (`view::picture_run`).
    let record = if svg.is_some() {
        TraceLevel::Full
    } else if timeline {
        level.max(TraceLevel::Summary)
    } else {
        level
    };
    let started = Instant::now();
    let mut r = reg.run(&s, seed, record)?;
    let wall = started.elapsed();
    if let Some(path) = svg {
        let verdict = match &r.outcome {
            runner::Outcome::Pass => "pass".to_string(),
            runner::Outcome::Violation(v) => format!("VIOLATION {}", v.check),
            other => output::outcome_name(other),
        };
        let title = format!("{} (seed {seed}): {verdict}", s.name());
        std::fs::write(path, sim_core::diagram::svg(&r.report.trace, &title))
            .map_err(|e| Failure::Input(format!("cannot write {path}: {e}")))?;
        eprintln!("wrote {path}");
    }
    if pictures.any() {
        write_pictures(reg, &s, seed, &pictures)?;
    }
    let timeline_text = timeline.then(|| {
        let nodes: Vec<&str> = s.nodes().iter().map(String::as_str).collect();
        sim_core::timeline::timeline(&r.report.trace, &nodes, r.report.end_time, 80)
    });
    if record != level {
        r.report.trace.events.retain(|e| match level {
            TraceLevel::Full => true,
            TraceLevel::Summary => e.kind.in_summary(),
            TraceLevel::Off => false,
        });
        r.report.trace.level = level;
    }
    if let Some(path) = history_out {
        std::fs::write(path, output::history_jsonl(&r.report.history, file, seed))
            .map_err(|e| Failure::Input(format!("cannot write {path}: {e}")))?;
        eprintln!(
            "wrote {path}: {} history events",
            r.report.history.events.len()
        );
    }
    let mut out = std::io::stdout().lock();
    let written = match format {
        Format::Text => {
            let mut text = String::new();
            if let Some(sw) = &r.swarm {
                text.push_str(&sw.line());
                text.push('\n');
            }
            text.push_str(&output::trace_text(&r, level));
            if let Some(t) = &timeline_text {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(t);
                text.push('\n');
            }
            text.push_str(&output::verdict_text_with(&s, &r, explain));
            text.push_str(&output::reached_text(&r));
            if stats {
                text.push_str(&output::stats_text(&r, wall));
            }
            out.write_all(text.as_bytes())
        }
        Format::Json => {
            let v = output::json_report(&s, &r, level, stats.then_some(wall));
            writeln!(out, "{v}")
        }
    };
    written.map_err(|e| Failure::Input(format!("cannot write the report: {e}")))?;
    Ok(ExitCode::from(r.outcome.exit_code(r.matched)))
}

/// Writes the --html page and the --export files of one run.
fn write_pictures(
    reg: &Registry,
    s: &Scenario,
    seed: u64,
    p: &Pictures<'_>,
) -> Result<(), Failure> {
    let from = p.from.unwrap_or(sim_core::Time::ZERO);
    let r = faultline::view::picture_run_in(reg, s, seed, from, faultline::view::PICTURE_EVENTS)?;
    let end = r.report.end_time;
    let window = faultline::view::Window {
        from,
        to: p.to.unwrap_or(end),
    };
    if window.from > end {
        return Err(Failure::Input(format!(
            "--from {} is after the run's end at {end}: nothing to draw",
            window.from
        )));
    }
    let covered = faultline::view::recorded_to(&r);
    if window.from > covered {
        return Err(Failure::Input(format!(
            "--from {}: the picture's trace (at most {} events) holds this run only up to {covered}, even recording nothing but faults, notes and client operations before --from: nothing to draw",
            window.from,
            faultline::view::PICTURE_EVENTS
        )));
    }
    let view = faultline::view::RunView::with_lanes(s, &r, Some(window), p.lanes);
    if let Some(l) = view.unknown_lanes.first() {
        return Err(Failure::Input(format!(
            "--lanes {l}: no node or client of {} is called {l:?}: expected names such as {}",
            s.file(),
            faultline::view::compact_list(&view.lanes, 3)
        )));
    }
    let write = |path: &str, text: &str| {
        std::fs::write(path, text).map_err(|e| Failure::Input(format!("cannot write {path}: {e}")))
    };
    if let Some(path) = p.html {
        let page = faultline::html::page(&view);
        write(path, &page)?;
        eprintln!(
            "wrote {path}: {} KB, {} messages",
            page.len() / 1024,
            view.msgs.len()
        );
        if let Some(warning) = view.unreadable(faultline::html::READABLE_ARROWS) {
            eprintln!("note: {warning}");
        }
        if let Some(summary) = view.summarized() {
            eprintln!("note: {summary}");
        }
    }
    for (kind, path) in p.exports {
        let text = faultline::export::export(*kind, &view).map_err(Failure::Input)?;
        write(path, &text)?;
        eprintln!("wrote {path} ({})", kind.name());
        if let Some(note) = faultline::export::left_out(*kind, &view) {
            eprintln!("note: {note}");
        }
    }
    Ok(())
}

fn run_sweep(
    reg: &Registry,
    file: &str,
    seeds: std::ops::Range<u64>,
    jobs: Option<usize>,
    out: Option<String>,
    shard: (u64, u64),
    coverage: bool,
) -> Result<ExitCode, Failure> {
    let s = load(reg, file)?;
    let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if jobs == 0 {
        return Err(Failure::Input(
            "--jobs 0 runs nothing: give at least 1".into(),
        ));
    }
    let header = sweep::Header::new(&s, seeds.clone(), shard);
    let mut todo = header.seed_list();
    let mut earlier = std::collections::BTreeMap::new();
    let mut sink: Box<dyn Write> = match &out {
        Some(path) => {
            let (file, done) = sweep::open_for_resume(path, &header)
                .map_err(|e| Failure::Input(format!("{path}: {e}")))?;
            if !done.is_empty() {
                eprintln!("resuming {path}: {} seeds already recorded", done.len());
            }
            todo.retain(|seed| !done.contains_key(seed));
            earlier = done;
            Box::new(std::io::BufWriter::new(file))
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(header.line().as_bytes())
                .map_err(|e| Failure::Input(format!("cannot write the results: {e}")))?;
            Box::new(stdout)
        }
    };
    // Progress counts the seeds run now and every failure, earlier ones included; it is
    // fed after each line is written, in seed order, and changes nothing that is written.
    let progress = Progress::seeds("sweep", todo.len() as u64, progress::stderr_is_terminal());
    let earlier_failed = earlier.values().filter(|r| !r.ok).count() as u64;
    let done = std::sync::atomic::AtomicU64::new(0);
    let mut summary = Registry::sweep(reg, &s, &todo, jobs, &mut sink, &|failed| {
        let done = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        progress.set(done, failed as u64 + earlier_failed);
    })
    .map_err(|e| match e {
        sweep::SweepError::Scenario(e) => Failure::Scenario(e),
        sweep::SweepError::Io(e) => Failure::Input(format!("cannot write the results: {e}")),
    })?;
    progress.finish();
    drop(sink);
    summary.add_recorded(earlier.values());
    if summary.recorded > 0 {
        eprintln!(
            "ran {} seeds now; {} were recorded earlier",
            summary.runs, summary.recorded
        );
    }
    eprint!("{}", summary.render(file, &s.expect().to_string()));
    if coverage {
        let declared = reg.sometimes(s.protocol()).unwrap_or_default();
        eprint!("{}", summary.coverage(s.protocol(), declared));
    }
    Ok(ExitCode::from(summary.exit_code()))
}

fn run_report(reg: &Registry, files: &[String], coverage: bool) -> Result<ExitCode, Failure> {
    let mut outputs = Vec::new();
    for path in files {
        let f = std::fs::File::open(path)
            .map_err(|e| Failure::Input(format!("cannot read {path}: {e}")))?;
        let out = sweep::read_output(&mut std::io::BufReader::new(f))
            .map_err(|e| Failure::Input(format!("{path}: {e}")))?;
        outputs.push((path.clone(), out));
    }
    let merged = sweep::merge(&outputs).map_err(Failure::Input)?;
    let h = &merged.header;
    print!("{}", merged.summary.render(&h.scenario, &h.expect));
    if coverage {
        let s = Scenario::load(&h.scenario)?;
        let declared = reg.sometimes(s.protocol()).unwrap_or_default();
        print!("{}", merged.summary.coverage(s.protocol(), declared));
    }
    if merged.missing > 0 {
        let first: Vec<String> = merged.missing_first.iter().map(u64::to_string).collect();
        let mut message = format!(
            "incomplete: {} seeds of the range are recorded in no file (the first: {})",
            merged.missing,
            first.join(", ")
        );
        if !merged.missing_shards.is_empty() {
            message.push_str(&format!(
                "; no file is shard {}",
                merged.missing_shards.join(", ")
            ));
        }
        return Err(Failure::Input(format!(
            "{message}. The summary above covers only the recorded seeds: give every \
             shard's file, or resume the interrupted ones"
        )));
    }
    Ok(ExitCode::from(merged.summary.exit_code()))
}

fn run_shrink(
    reg: &Registry,
    file: &str,
    seed: u64,
    out: Option<String>,
) -> Result<ExitCode, Failure> {
    let s = load(reg, file)?;
    let progress = Progress::spinner("shrink", progress::stderr_is_terminal());
    let shrunk = reg.shrink(
        &s,
        seed,
        &mut |step| {
            progress.println(&format!("shrink: {step}"));
            progress.message(step);
        },
        &mut |runs| progress.set(runs as u64, 0),
    );
    progress.finish();
    let shrunk = shrunk.map_err(|e| match e {
        shrink::ShrinkError::Scenario(e) => Failure::Scenario(e),
        shrink::ShrinkError::Passes(msg) => Failure::Input(msg),
    })?;
    match &out {
        Some(path) => {
            std::fs::write(path, &shrunk.text)
                .map_err(|e| Failure::Input(format!("cannot write {path}: {e}")))?;
            eprintln!(
                "wrote {path}: {} faults (from {}), fails {:?} in {} runs",
                shrunk.faults, shrunk.faults_before, shrunk.check, shrunk.runs
            );
            eprintln!("replay: {}", replay_command(path, seed));
        }
        None => print!("{}", shrunk.text),
    }
    Ok(ExitCode::SUCCESS)
}

fn run_determinism(
    reg: &Registry,
    file: &str,
    seeds: std::ops::Range<u64>,
) -> Result<ExitCode, Failure> {
    let s = load(reg, file)?;
    let count = seeds.end - seeds.start;
    let progress = Progress::seeds("check-determinism", count, progress::stderr_is_terminal())
        .without_failures();
    let result = reg.check_determinism(&s, seeds, &mut |done| progress.set(done, 0));
    progress.finish();
    match result? {
        None => {
            println!("deterministic: {count} seeds each ran twice with identical traces");
            Ok(ExitCode::SUCCESS)
        }
        Some(d) => {
            println!(
                "NOT deterministic: seed {} differs at event {}",
                d.seed, d.index
            );
            println!("  first run:  {}", d.first);
            println!("  second run: {}", d.second);
            println!("replay: {}", replay_command(file, d.seed));
            Ok(ExitCode::from(1))
        }
    }
}

fn run_check_history(
    file: &str,
    model: Option<ModelArg>,
    options: lincheck::CheckOptions,
    format: Format,
) -> Result<ExitCode, Failure> {
    let text = crate::text::read_utf8_or_say(file).map_err(Failure::Input)?;
    let model = model.map(ModelArg::kind);
    let options = lincheck::CheckOptions { model, ..options };
    let edn = lincheck::edn::looks_like_edn(&text);
    // The common case in one pass, without a `History`; anything else (and every error)
    // through the full parser, which gives the messages.
    if !edn && let Some(report) = lincheck::check_text(&text, &options) {
        return finish_check_history(report, format);
    }
    let history = if edn {
        let (history, dropped) = lincheck::edn::parse_edn_history(&text, file, model)
            .map_err(|e| Failure::Input(e.to_string()))?;
        if dropped > 0 {
            eprintln!(
                "{file}: dropped {dropped} ok read{} of nil (Knossos: value unknown)",
                if dropped == 1 { "" } else { "s" }
            );
        }
        history
    } else {
        lincheck::parse_history_with(&text, file, &lincheck::ParseOptions { model })
            .map_err(|e| Failure::Input(e.to_string()))?
    };
    // Parsed just above with this model: not validated again.
    let report = lincheck::check_parsed(&history, &options)
        .map_err(|e| Failure::Input(format!("{file}: {e}")))?;
    // The process ends soon after this: freeing the history's strings one by one
    // would cost about 5% of checking a long history, for nothing.
    std::mem::forget(history);
    finish_check_history(report, format)
}

/// Prints a `check-history` report; the exit code is the verdict's.
fn finish_check_history(report: lincheck::Report, format: Format) -> Result<ExitCode, Failure> {
    let text = match format {
        Format::Text => report.render_text(),
        Format::Json => format!("{}\n", report.to_json()),
    };
    // `check-history ... | head`: a closed pipe ends the output quietly.
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => return Err(Failure::Input(format!("cannot write the report: {e}"))),
        Ok(()) => {}
    }
    let code = match report.verdict {
        lincheck::Verdict::Linearizable => ExitCode::SUCCESS,
        lincheck::Verdict::NotLinearizable => ExitCode::from(1),
        lincheck::Verdict::Unknown => ExitCode::from(3),
    };
    // The process ends right after this: nothing to free the report for.
    std::mem::forget(report);
    Ok(code)
}

fn run_compare(
    reg: &Registry,
    file: &str,
    protocols: &[String],
    seeds: std::ops::Range<u64>,
    format: Format,
) -> Result<ExitCode, Failure> {
    let known = reg.names();
    for p in protocols {
        if !known.contains(&p.as_str()) {
            return Err(Failure::Input(format!(
                "--protocols names {p:?}, which is not a protocol: expected some of {} (comma-separated)",
                known.join(", ")
            )));
        }
    }
    let s = load(reg, file)?;
    let sums = reg.compare(&s, protocols, seeds.clone())?;
    match format {
        Format::Text => print!("{}", faultline::compare::table(&s, &seeds, &sums)),
        Format::Json => {
            let v = serde_json::json!({
                "file": file,
                "seeds": { "start": seeds.start, "end": seeds.end },
                "config_from_file": s.protocol(),
                "protocols": sums,
            });
            println!("{v}");
        }
    }
    Ok(if sums.iter().all(|x| x.matched == x.seeds) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn run_list(reg: &Registry, dir: &str) -> Result<ExitCode, Failure> {
    let mut o = String::new();
    o.push_str("protocols:\n");
    for p in reg.infos() {
        o.push_str(&format!("  {}: {}\n", p.name, p.summary));
        o.push_str(&format!("    nodes: at most {}\n", p.max_nodes));
        let config = p.config.replace('\n', "\n      ");
        o.push_str(&format!(
            "    config (the defaults; paste into `protocol: (name: {:?}, config: ...)`):\n      {config}\n",
            p.name
        ));
        if p.checks.is_empty() {
            o.push_str("    checks: none\n");
        }
        for (name, kind, promise) in &p.checks {
            o.push_str(&format!("    check {name} ({kind:?}): {promise}\n"));
        }
        if p.sometimes.is_empty() {
            o.push_str("    sometimes: none\n");
        }
        for prop in p.sometimes {
            o.push_str(&format!("    sometimes {}: {}\n", prop.name, prop.meaning));
        }
        if p.knobs.is_empty() {
            o.push_str("    bug knobs: none\n");
        }
        for (name, mistake, caught_by) in &p.knobs {
            o.push_str(&format!(
                "    knob {name}: {mistake} (caught by {caught_by})\n"
            ));
        }
    }
    o.push_str(&format!("scenarios under {dir}/:\n"));
    let files = faultline::scenario::files_under(std::path::Path::new(dir))
        .map_err(|e| Failure::Input(format!("cannot list {dir}: {e}")))?;
    for f in files {
        let path = f.display().to_string();
        match Scenario::load(&path) {
            Ok(s) => o.push_str(&format!("  {path}: {}\n", first_line(s.description()))),
            Err(e) => o.push_str(&format!("  {path}: INVALID: {}\n", e.one_line())),
        }
    }
    print!("{o}");
    Ok(ExitCode::SUCCESS)
}

fn run_new(reg: &Registry, protocol: &str) -> Result<ExitCode, Failure> {
    let text = reg.template(protocol).ok_or_else(|| {
        Failure::Input(format!(
            "{protocol:?} is not a protocol: expected one of {} (`faultline list` describes them)",
            reg.names().join(", ")
        ))
    })?;
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}
