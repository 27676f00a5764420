//! Sweeps: one scenario over many seeds, one simulation per thread.
//!
//! Each seed's run is independent and deterministic, so the only thing threads could change
//! is the order results arrive in. The writer puts them back in seed order: a line is
//! written (and flushed) as soon as every earlier seed's line is, so the output is the same
//! bytes for any `--jobs`, and an interrupted sweep keeps every line it wrote.
//!
//! The output opens with a [`Header`] line saying what it was made from (the scenario's
//! content hash, the faultline version, the seed range and shard). Resuming checks it, and
//! [`read_output`] + [`SweepSummary::from_outputs`] merge the files of a sharded sweep into
//! the summary one sweep over the whole range would have printed.

use crate::output::outcome_name;
use crate::runner::{Outcome, Prepared, combined_exit_code};
use crate::scenario::{Scenario, ScenarioError};
use protocols::Protocol;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sim_core::TraceLevel;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, BufRead, Seek, Write};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

/// Why a sweep stopped.
#[derive(Debug)]
pub enum SweepError {
    Scenario(ScenarioError),
    Io(io::Error),
}

/// The version of the sweep output format (the header's `faultline_sweep`).
pub const FORMAT: u64 = 1;

/// The first line of a sweep's output: what the results were made from. Two outputs whose
/// headers agree on everything but `scenario` (the path) and `shard` hold results of the
/// same runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// The output format, [`FORMAT`].
    pub faultline_sweep: u64,
    /// The faultline version that ran the seeds.
    pub faultline: String,
    /// The scenario file as named on the command line (for the replay commands).
    pub scenario: String,
    /// FNV-1a (64 bit) of the scenario file's bytes: any edit changes it.
    pub scenario_hash: String,
    /// The scenario's `expect`, as written.
    pub expect: String,
    /// The seed range, `[start, end]` with `end` excluded.
    pub seeds: [u64; 2],
    /// `[index, count]` of `--shard`.
    pub shard: [u64; 2],
}

impl Header {
    /// The header of a sweep of `range` (shard `shard`) of `s`, made by this faultline.
    pub fn new(s: &Scenario, range: Range<u64>, shard: (u64, u64)) -> Header {
        Header {
            faultline_sweep: FORMAT,
            faultline: env!("CARGO_PKG_VERSION").to_string(),
            scenario: s.file().to_string(),
            scenario_hash: content_hash(s.source.as_bytes()),
            expect: s.expect().to_string(),
            seeds: [range.start, range.end],
            shard: [shard.0, shard.1],
        }
    }

    /// The header as one line of JSON, with its newline.
    pub fn line(&self) -> String {
        let mut l = serde_json::to_string(self).expect("a header serializes");
        l.push('\n');
        l
    }

    /// The seeds this header's sweep runs.
    pub fn seed_list(&self) -> Vec<u64> {
        shard_seeds(self.seeds[0]..self.seeds[1], self.shard[0], self.shard[1])
    }

    fn contains(&self, seed: u64) -> bool {
        (self.seeds[0]..self.seeds[1]).contains(&seed)
            && (seed - self.seeds[0]) % self.shard[1] == self.shard[0]
    }

    /// What makes results under `self` and under `other` not results of the same runs
    /// (scenario content, faultline version, output format), one phrase each; `mine` and
    /// `theirs` say where each header is from (e.g. "in the file", "now").
    pub fn run_differences(&self, other: &Header, mine: &str, theirs: &str) -> Vec<String> {
        let mut d = Vec::new();
        if self.scenario_hash != other.scenario_hash {
            d.push(format!(
                "the scenario's content (hash {} of {} {mine}, {} of {} {theirs})",
                self.scenario_hash, self.scenario, other.scenario_hash, other.scenario
            ));
        }
        if self.faultline != other.faultline {
            d.push(format!(
                "the faultline version ({} {mine}, {} {theirs})",
                self.faultline, other.faultline
            ));
        }
        if self.faultline_sweep != other.faultline_sweep {
            d.push(format!(
                "the output format ({} {mine}, {} {theirs})",
                self.faultline_sweep, other.faultline_sweep
            ));
        }
        d
    }

    /// Everything that keeps the sweep `other` from resuming the output of `self`:
    /// [`Header::run_differences`], the seed range and the shard.
    pub fn resume_differences(&self, other: &Header, mine: &str, theirs: &str) -> Vec<String> {
        let mut d = self.run_differences(other, mine, theirs);
        if self.seeds != other.seeds {
            d.push(format!(
                "the seeds ({}..{} {mine}, {}..{} {theirs})",
                self.seeds[0], self.seeds[1], other.seeds[0], other.seeds[1]
            ));
        }
        if self.shard != other.shard {
            d.push(format!(
                "the shard ({}/{} {mine}, {}/{} {theirs})",
                self.shard[0], self.shard[1], other.shard[0], other.shard[1]
            ));
        }
        d
    }
}

/// FNV-1a, 64 bit, as 16 hex digits after `fnv1a64:`: stable across machines and versions.
pub fn content_hash(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("fnv1a64:{h:016x}")
}

/// One seed's result as a sweep output records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    pub seed: u64,
    /// The outcome met `expect`.
    pub ok: bool,
    /// The outcome as `expect` would write it, e.g. `Violation("linearizable")`.
    pub outcome: String,
    /// The outcome's kind: `pass`, `violation`, or any kind a later faultline adds.
    pub kind: String,
    /// The sometimes-properties the run reached (the line's `reached`), in the order
    /// first reached; empty in lines written before sweeps recorded them.
    pub reached: Vec<String>,
}

impl Recorded {
    /// A seed that violated a check can be shrunk; one that merely missed an expected
    /// violation (or ended another way) cannot.
    pub fn shrinkable(&self) -> bool {
        !self.ok && self.kind == "violation"
    }

    /// This seed's exit code, as `faultline run --seed` would give it: 0 when it met
    /// `expect`, 3 for an incomplete run, 4 for an undecided one, 5 for a runaway, 6 for
    /// an engine error, else 1.
    pub fn exit_code(&self) -> u8 {
        use crate::runner::{
            EXIT_ENGINE_ERROR, EXIT_INCOMPLETE, EXIT_NOT_MET, EXIT_OK, EXIT_RUNAWAY, EXIT_UNDECIDED,
        };
        match self.kind.as_str() {
            _ if self.ok => EXIT_OK,
            "incomplete" => EXIT_INCOMPLETE,
            "runaway" => EXIT_RUNAWAY,
            "engine-error" => EXIT_ENGINE_ERROR,
            "undecided" => EXIT_UNDECIDED,
            _ => EXIT_NOT_MET,
        }
    }

    fn from_line(v: &serde_json::Value) -> Option<Recorded> {
        Some(Recorded {
            seed: v.get("seed")?.as_u64()?,
            ok: match v.get("verdict")?.as_str()? {
                "ok" => true,
                "failed" => false,
                _ => return None,
            },
            outcome: v.get("outcome")?.as_str()?.to_string(),
            reached: v
                .get("reached")
                .and_then(|r| r.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|p| p.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default(),
            kind: v.get("kind")?.as_str()?.to_string(),
        })
    }
}

/// A sweep output read back: its header and every complete result line.
#[derive(Debug)]
pub struct SweepOutput {
    /// `None` for an empty file.
    pub header: Option<Header>,
    /// By seed.
    pub results: BTreeMap<u64, Recorded>,
    /// Bytes of complete lines: a half-written last line starts here.
    complete_len: u64,
}

/// Reads a sweep's output. A half-written last line (an interrupted sweep) is ignored; any
/// other line that is not a result, a missing header, or a result for a seed the header
/// does not cover is an error that says which line.
pub fn read_output(reader: &mut dyn BufRead) -> io::Result<SweepOutput> {
    let bad = |msg: String| io::Error::new(io::ErrorKind::InvalidData, msg);
    let mut out = SweepOutput {
        header: None,
        results: BTreeMap::new(),
        complete_len: 0,
    };
    let mut bytes = Vec::new();
    for number in 1.. {
        bytes.clear();
        let n = reader.read_until(b'\n', &mut bytes)?;
        // A last line without its newline was cut short by an interruption (perhaps inside
        // a character): it is not a result, and resuming drops it.
        if n == 0 || bytes.last() != Some(&b'\n') {
            break;
        }
        let line = std::str::from_utf8(&bytes).map_err(|e| {
            let at = crate::text::NotUtf8::locate(&bytes, &e);
            bad(format!(
                "line {number}, column {}: {}",
                at.column,
                at.message()
            ))
        })?;
        let value: Option<serde_json::Value> = serde_json::from_str(line).ok();
        match &out.header {
            None => {
                let value = value.filter(|v| v.get("faultline_sweep").is_some());
                let Some(value) = value else {
                    return Err(bad(
                        "line 1 is not a sweep header: this file was not written by this \
                         faultline's sweep (older sweeps wrote no header); write the sweep \
                         to a new file"
                            .to_string(),
                    ));
                };
                let header: Header = serde_json::from_value(value).map_err(|e| {
                    bad(format!(
                        "line 1 is not a sweep header this faultline reads: {e}"
                    ))
                })?;
                if header.shard[1] == 0 || header.shard[0] >= header.shard[1] {
                    return Err(bad(format!(
                        "line 1: the shard {}/{} is not one (0 <= I < N)",
                        header.shard[0], header.shard[1]
                    )));
                }
                out.header = Some(header);
            }
            Some(header) => {
                let Some(r) = value.as_ref().and_then(Recorded::from_line) else {
                    return Err(bad(format!(
                        "line {number} is not a sweep result; write the sweep to a new file"
                    )));
                };
                if !header.contains(r.seed) {
                    return Err(bad(format!(
                        "line {number} records seed {}, which is not in shard {}/{} of {}..{}",
                        r.seed, header.shard[0], header.shard[1], header.seeds[0], header.seeds[1]
                    )));
                }
                out.results.insert(r.seed, r);
            }
        }
        out.complete_len += n as u64;
    }
    Ok(out)
}

/// Opens `path` to append the results of the sweep `header` describes. A new (or empty)
/// file gets the header; an existing one must have been made by the same sweep (else an
/// error says what differs), and loses a last line left half-written by an interruption.
/// Returns the file and the results it already records.
pub fn open_for_resume(
    path: &str,
    header: &Header,
) -> io::Result<(std::fs::File, BTreeMap<u64, Recorded>)> {
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)?;
    let read = read_output(&mut io::BufReader::new(&mut file))?;
    file.set_len(read.complete_len)?;
    file.seek(io::SeekFrom::End(0))?;
    match &read.header {
        None => {
            file.write_all(header.line().as_bytes())?;
            file.flush()?;
        }
        Some(old) => {
            let d = old.resume_differences(header, "in the file", "now");
            if !d.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "cannot resume: it holds results of another sweep; these differ: {}. \
                         Write this sweep to a new file, or run the sweep that made it",
                        d.join("; ")
                    ),
                ));
            }
        }
    }
    Ok((file, read.results))
}

/// What a sweep found, over every seed of its range: those run now and those an earlier
/// run of the same sweep recorded.
#[derive(Debug, Default)]
pub struct SweepSummary {
    /// Seeds run by this call.
    pub runs: u64,
    /// Seeds read from earlier output.
    pub recorded: u64,
    /// Seeds whose outcome did not meet `expect`, in seed order.
    pub failed: Vec<Recorded>,
    /// For each sometimes-property some seed reached, how many seeds reached it.
    pub reached: BTreeMap<String, u64>,
}

impl SweepSummary {
    /// Seeds covered: run now or recorded earlier.
    pub fn seeds(&self) -> u64 {
        self.runs + self.recorded
    }

    /// Adds results recorded earlier (seeds not run by this call).
    pub fn add_recorded<'a>(&mut self, results: impl IntoIterator<Item = &'a Recorded>) {
        for r in results {
            self.recorded += 1;
            self.count_reached(r);
            if !r.ok {
                self.failed.push(r.clone());
            }
        }
        self.failed.sort_by_key(|r| r.seed);
    }

    /// The failing seeds grouped by outcome (`Violation("election-safety")`, `Pass` where
    /// a violation was expected, `incomplete: queue-full` whatever the time it ended ...):
    /// groups in the order of their first seed, seeds in order.
    pub fn failure_groups(&self) -> Vec<(&str, Vec<u64>)> {
        let mut groups: Vec<(&str, Vec<u64>)> = Vec::new();
        for r in &self.failed {
            let key = match r.kind.as_str() {
                "incomplete" => r.outcome.split(" at ").next().unwrap_or(&r.outcome),
                _ => &r.outcome,
            };
            match groups.iter_mut().find(|(o, _)| *o == key) {
                Some((_, seeds)) => seeds.push(r.seed),
                None => groups.push((key, vec![r.seed])),
            }
        }
        groups
    }

    fn count_reached(&mut self, r: &Recorded) {
        for p in &r.reached {
            *self.reached.entry(p.clone()).or_default() += 1;
        }
    }

    /// `sweep --coverage`: for each of the protocol's sometimes-properties (`declared`,
    /// in its order), how many of the seeds reached it, then a warning naming those no
    /// seed reached (a scenario that never gets there tests nothing about them).
    pub fn coverage(&self, protocol: &str, declared: &[protocols::Sometimes]) -> String {
        let mut o = String::new();
        let seeds = self.seeds();
        if declared.is_empty() {
            let _ = writeln!(o, "coverage: {protocol} declares no sometimes-properties");
            return o;
        }
        let _ = writeln!(
            o,
            "coverage: seeds of {seeds} that reached each sometimes-property of {protocol}:"
        );
        let width = declared.iter().map(|p| p.name.len()).max().unwrap_or(0);
        let mut never = Vec::new();
        for p in declared {
            let n = self.reached.get(p.name).copied().unwrap_or(0);
            if n == 0 {
                never.push(p.name);
            }
            let pct = if seeds == 0 {
                0.0
            } else {
                100.0 * n as f64 / seeds as f64
            };
            let _ = writeln!(
                o,
                "  {:<width$}  {n:>7} ({pct:5.1}%)  {}",
                p.name, p.meaning
            );
        }
        if !never.is_empty() {
            let _ = writeln!(
                o,
                "warning: no seed reached {} of {}: {}; this scenario tests nothing that needs {}",
                never.len(),
                declared.len(),
                never.join(", "),
                if never.len() == 1 { "it" } else { "them" }
            );
        }
        o
    }

    /// The exit code of a sweep with this summary: the most serious of its seeds' codes
    /// ([`crate::runner::combined_exit_code`]): 0 when every seed met `expect`, 1 when
    /// some did not, else 5, 3 or 4 when the only failures were runaway, incomplete or
    /// undecided runs.
    pub fn exit_code(&self) -> u8 {
        combined_exit_code(self.failed.iter().map(Recorded::exit_code))
    }

    /// The summary printed at the end of a sweep of `file` (and by `faultline report`):
    /// the counts, the failing seeds grouped by outcome (the check that failed, or what
    /// came instead of the expected violation) with the replay command of each group's
    /// first seed, and the shrink command for the first seed that violated a check.
    pub fn render(&self, file: &str, expect: &str) -> String {
        use crate::output::{replay_command, shell_quote};
        let mut o = String::new();
        let _ = writeln!(
            o,
            "swept {} seeds of {file}: {} met `expect: {expect}`, {} did not",
            self.seeds(),
            self.seeds() - self.failed.len() as u64,
            self.failed.len()
        );
        for (outcome, seeds) in self.failure_groups() {
            let shown: Vec<String> = seeds.iter().take(GROUP_SEEDS).map(u64::to_string).collect();
            let more = match seeds.len().saturating_sub(GROUP_SEEDS) {
                0 => String::new(),
                n => format!(" and {n} more (see the JSON lines)"),
            };
            let _ = writeln!(
                o,
                "  {outcome}: {} seed{}: {}{more}",
                seeds.len(),
                if seeds.len() == 1 { "" } else { "s" },
                shown.join(", ")
            );
            let _ = writeln!(
                o,
                "    replay the first: {}",
                replay_command(file, seeds[0])
            );
        }
        if let Some(r) = self.failed.iter().find(|r| r.shrinkable()) {
            let _ = writeln!(
                o,
                "shrink the first violation: faultline shrink {} --seed {}",
                shell_quote(file),
                r.seed
            );
        }
        o
    }
}

/// How many seeds of each group of failures the summary names.
const GROUP_SEEDS: usize = 10;

/// The seeds of `range` that shard `index` of `count` runs: every `count`-th one, starting
/// at the `index`-th.
pub fn shard_seeds(range: Range<u64>, index: u64, count: u64) -> Vec<u64> {
    range
        .enumerate()
        .filter(|(i, _)| *i as u64 % count == index)
        .map(|(_, s)| s)
        .collect()
}

/// Runs `seeds` (in any order on `jobs` threads), writes one JSON line per seed to `out` in
/// the order of `seeds`, flushing each, and calls `progress` with the failures so far after
/// each run.
pub fn sweep(
    s: &Scenario,
    seeds: &[u64],
    jobs: usize,
    out: &mut dyn Write,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<SweepSummary, SweepError> {
    crate::registry::builtin_ref().sweep(s, seeds, jobs, out, progress)
}

/// [`sweep`] for a protocol type known at compile time.
pub fn sweep_with<P: Protocol>(
    s: &Scenario,
    seeds: &[u64],
    jobs: usize,
    out: &mut dyn Write,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<SweepSummary, SweepError> {
    Prepared::<P>::new(s).map_err(SweepError::Scenario)?;
    keep_freed_memory();
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<(usize, Result<(String, Recorded), ScenarioError>)>();
    let mut summary = SweepSummary::default();
    let mut result = Ok(());
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1).min(seeds.len().max(1)) {
            let tx = tx.clone();
            let (next, stop) = (&next, &stop);
            scope.spawn(move || {
                // A sweep line keeps verdicts, not histories.
                let prepared = match Prepared::<P>::new(s) {
                    Ok(p) => p.without_history(),
                    Err(e) => {
                        let _ = tx.send((0, Err(e)));
                        return;
                    }
                };
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&seed) = seeds.get(i) else { break };
                    let line = prepared
                        .run(s, seed, TraceLevel::Off)
                        .map(|r| (result_line(&r), recorded(&r)));
                    if tx.send((i, line)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        // Write in seed order as lines become contiguous.
        let mut pending: BTreeMap<usize, (String, Recorded)> = BTreeMap::new();
        let mut written = 0usize;
        for (i, line) in rx {
            match line {
                Ok(l) => {
                    pending.insert(i, l);
                }
                Err(e) => {
                    stop.store(true, Ordering::Relaxed);
                    result = Err(SweepError::Scenario(e));
                    break;
                }
            }
            while let Some((line, r)) = pending.remove(&written) {
                summary.count_reached(&r);
                if !r.ok {
                    summary.failed.push(r);
                }
                summary.runs += 1;
                if let Err(e) = out.write_all(line.as_bytes()).and_then(|_| out.flush()) {
                    stop.store(true, Ordering::Relaxed);
                    result = Err(SweepError::Io(e));
                    return;
                }
                written += 1;
                progress(summary.failed.len());
            }
        }
    });
    result.map(|_| summary)
}

/// Tells the C allocator to keep what a seed frees for the next seed instead of handing
/// it back to the kernel (issue #17). Each seed builds a simulation (the event queue's
/// wheel alone is 320 KiB), grows its nodes' logs, and frees it all at the end; by
/// default glibc returns the top of a thread's heap once more than 128 KiB of it is
/// free, and serves blocks of 128 KiB or more (raised as such blocks are freed) by
/// `mmap`, so the next seed faulted the same pages in again: about 105 minor faults a
/// seed on the Raft bench at `--jobs 2`, 5% of the sweep's CPU as system time. With
/// these settings a worker thread's heap stays at its largest seed's size (the sweep's
/// peak memory is that already). Results do not depend on where memory comes from.
/// Process-wide and idempotent; a no-op off glibc.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::raw::c_int;
        // glibc's <malloc.h>.
        const M_TRIM_THRESHOLD: c_int = -1;
        const M_MMAP_THRESHOLD: c_int = -3;
        unsafe extern "C" {
            fn mallopt(param: c_int, value: c_int) -> c_int;
        }
        // SAFETY: `mallopt` only changes the allocator's tuning parameters, takes plain
        // integers, and is thread-safe (it takes each arena's lock); both values are in
        // range (the mmap threshold's upper bound on 64-bit glibc is 32 MiB).
        let ok = unsafe {
            mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1 && mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1
        };
        debug_assert!(ok, "glibc accepts both malloc settings");
    }
}

/// What a summary keeps of one run.
fn recorded(r: &crate::RunResult) -> Recorded {
    Recorded {
        seed: r.seed,
        ok: r.matched,
        outcome: outcome_name(&r.outcome),
        kind: outcome_kind(&r.outcome),
        reached: r.reached.iter().map(|(p, _)| p.to_string()).collect(),
    }
}

/// The outcome's kind, its serde tag: `pass`, `violation`, ...
pub fn outcome_kind(o: &Outcome) -> String {
    serde_json::to_value(o)
        .ok()
        .and_then(|v| v.get("verdict")?.as_str().map(String::from))
        .unwrap_or_default()
}

/// One seed's JSON line: seed, verdict, outcome and its kind, violation, stats (no wall
/// time, so the bytes depend only on the scenario and the seed).
fn result_line(r: &crate::RunResult) -> String {
    // The first line of the message only: a linearizability explanation runs to many
    // kilobytes, and `faultline run --seed N` prints it whole.
    let violation = match &r.outcome {
        Outcome::Violation(v) => json!({
            "check": v.check,
            "time": v.time,
            "message": short_message(&v.message),
        }),
        Outcome::Pass
        | Outcome::Incomplete { .. }
        | Outcome::Undecided { .. }
        | Outcome::Runaway { .. }
        | Outcome::EngineError { .. }
        | Outcome::Unreached { .. } => serde_json::Value::Null,
    };
    let reached: Vec<&str> = r.reached.iter().map(|(p, _)| *p).collect();
    let mut v = json!({
        "seed": r.seed,
        "verdict": if r.matched { "ok" } else { "failed" },
        "outcome": outcome_name(&r.outcome),
        "kind": outcome_kind(&r.outcome),
        "violation": violation,
        "end": r.report.end,
        "end_time_ns": r.report.end_time.as_nanos(),
        "fingerprint": format!("{:016x}", r.report.fingerprint),
        "stats": r.report.stats,
        "reached": reached,
    });
    if let Some(sw) = &r.swarm {
        v["swarm"] = crate::output::swarm_json(sw);
    }
    format!("{v}\n")
}

/// Several outputs of one sweep (its shards, say) merged.
#[derive(Debug)]
pub struct Merged {
    /// The first file's header (its scenario path names the replay commands).
    pub header: Header,
    /// Over every recorded seed, as one sweep over them would have found it.
    pub summary: SweepSummary,
    /// Seeds of the files' ranges that no file records.
    pub missing: u64,
    /// The first few of them.
    pub missing_first: Vec<u64>,
    /// Shards of a range that some file is a shard of, but no file is, e.g. `3/16 of 0..160`.
    pub missing_shards: Vec<String>,
}

/// Merges the outputs `(path, output)` of one sweep. Files from another scenario (its
/// content), faultline version or output format are an error that says what differs, and
/// so is a seed two files record with different results.
pub fn merge(outputs: &[(String, SweepOutput)]) -> Result<Merged, String> {
    let mut first: Option<(&str, &Header)> = None;
    let mut results: BTreeMap<u64, (&str, &Recorded)> = BTreeMap::new();
    let mut ranges: Vec<(u64, u64)> = Vec::new();
    let mut shards: BTreeMap<([u64; 2], u64), Vec<u64>> = BTreeMap::new();
    for (path, out) in outputs {
        let Some(h) = &out.header else {
            return Err(format!("{path} is empty: it has no sweep header"));
        };
        match first {
            None => first = Some((path, h)),
            Some((p0, h0)) => {
                let d = h0.run_differences(h, &format!("in {p0}"), &format!("in {path}"));
                if !d.is_empty() {
                    return Err(format!(
                        "{p0} and {path} are not results of the same sweep; these differ: {}",
                        d.join("; ")
                    ));
                }
            }
        }
        ranges.push((h.seeds[0], h.seeds[1]));
        shards
            .entry((h.seeds, h.shard[1]))
            .or_default()
            .push(h.shard[0]);
        for (seed, r) in &out.results {
            match results.get(seed) {
                Some((p, old)) if *old != r => {
                    return Err(format!(
                        "seed {seed}: {p} records {} ({}), {path} records {} ({}); the same \
                         run gave two results",
                        old.outcome,
                        if old.ok { "ok" } else { "failed" },
                        r.outcome,
                        if r.ok { "ok" } else { "failed" }
                    ));
                }
                Some(_) => {}
                None => {
                    results.insert(*seed, (path, r));
                }
            }
        }
    }
    let Some((_, header)) = first else {
        return Err("no sweep output given".into());
    };
    let mut summary = SweepSummary::default();
    summary.add_recorded(results.values().map(|(_, r)| *r));
    ranges.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::new();
    for (a, b) in ranges {
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    let (mut missing, mut missing_first) = (0u64, Vec::new());
    for (a, b) in merged {
        let have = results.range(a..b).count() as u64;
        missing += (b - a) - have;
        if missing_first.len() < 5 && have < b - a {
            missing_first.extend(
                (a..b)
                    .filter(|s| !results.contains_key(s))
                    .take(5 - missing_first.len()),
            );
        }
    }
    let mut missing_shards = Vec::new();
    for ((seeds, count), present) in &shards {
        for i in (0..*count).filter(|i| !present.contains(i)).take(20) {
            missing_shards.push(format!("{i}/{count} of {}..{}", seeds[0], seeds[1]));
        }
    }
    Ok(Merged {
        header: header.clone(),
        summary,
        missing,
        missing_first,
        missing_shards,
    })
}

/// The most a sweep line keeps of a violation's message.
pub const SWEEP_MESSAGE_MAX: usize = 240;

/// A message cut to its first line and at most [`SWEEP_MESSAGE_MAX`] bytes (on a char
/// boundary), with `...` where it was cut.
pub fn short_message(message: &str) -> String {
    let line = message.lines().next().unwrap_or("");
    let mut end = line.len().min(SWEEP_MESSAGE_MAX);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    if end < message.len() {
        format!("{} ...", &line[..end])
    } else {
        line.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A short run of the Raft bench, fully traced; faults up to its end, so some heals are
    /// still pending beyond the queue's wheel (in its overflow) when it ends.
    const SHORT_RAFT: &str = r#"(
        name: "short-raft",
        protocol: (name: "raft"),
        cluster: (nodes: 5),
        workload: (clients: 3, keys: 3),
        nemesis: (
            faults: [PartitionHalves, Isolate, Bridge],
            start: "300ms",
            every: ("200ms", "1s"),
            lasting: ("100ms", "3s"),
            stop: "5s",
        ),
        checks: ["election-safety", "log-matching", "leader-completeness", "state-machine-safety"],
        seed: 0,
        duration: "5s",
        trace: Full,
        expect: Pass,
    )"#;

    /// Everything a run's result says, its full trace included.
    fn whole(r: &crate::RunResult) -> String {
        format!(
            "{}{:?} {:016x} {:?}\n{}",
            result_line(r),
            r.report.end,
            r.report.fingerprint,
            r.report.stats,
            r.report.trace.to_text()
        )
    }

    /// A sweep's worker thread runs seed after seed, and each new simulation takes the
    /// buffers the last one left on the thread (the event queue's): seeds run after other
    /// seeds, in any order, give exactly what each gives alone on a fresh thread.
    #[test]
    fn seeds_run_after_other_seeds_give_what_they_give_alone() {
        let s = Scenario::parse("short-raft.ron", SHORT_RAFT).expect("parses");
        let seeds: Vec<u64> = (0..6).collect();
        let alone: Vec<String> = seeds
            .iter()
            .map(|&seed| {
                let s = &s;
                std::thread::scope(|t| {
                    t.spawn(move || whole(&crate::runner::run(s, seed, TraceLevel::Full).unwrap()))
                        .join()
                        .unwrap()
                })
            })
            .collect();
        assert!(alone.iter().all(|w| w.len() > 10_000), "full traces");
        let orders: [Vec<u64>; 3] = [
            seeds.clone(),
            seeds.iter().rev().copied().collect(),
            vec![3, 0, 5, 1, 4, 2, 3, 3],
        ];
        std::thread::scope(|t| {
            t.spawn(|| {
                for order in &orders {
                    for &seed in order {
                        let r = crate::runner::run(&s, seed, TraceLevel::Full).unwrap();
                        assert!(
                            whole(&r) == alone[seed as usize],
                            "seed {seed} after others (order {order:?}) differs from seed {seed} alone"
                        );
                    }
                }
            })
            .join()
            .unwrap()
        });
    }

    fn rec(seed: u64, ok: bool, outcome: &str, kind: &str) -> Recorded {
        Recorded {
            seed,
            ok,
            outcome: outcome.into(),
            kind: kind.into(),
            reached: Vec::new(),
        }
    }

    #[test]
    fn the_shrink_hint_skips_seeds_of_any_kind_but_violation() {
        let mut s = SweepSummary::default();
        s.add_recorded(&[
            rec(4, false, "Violation(\"x\")", "violation"),
            rec(1, false, "Pass", "pass"),
            rec(2, false, "incomplete: queue-full at 182ms", "incomplete"),
            rec(3, true, "Pass", "pass"),
        ]);
        let text = s.render("f.ron", "Violation(\"x\")");
        assert!(text.starts_with("swept 4 seeds of f.ron: 1 met"), "{text}");
        assert!(
            text.contains("  incomplete: queue-full: 1 seed: 2\n    replay the first: faultline run f.ron --seed 2\n"),
            "{text}"
        );
        assert!(
            text.ends_with("shrink the first violation: faultline shrink f.ron --seed 4\n"),
            "{text}"
        );
        assert_eq!(s.exit_code(), 1);
    }

    #[test]
    fn failing_seeds_are_grouped_by_what_failed_with_a_replay_for_the_first_of_each() {
        let mut s = SweepSummary::default();
        let mut seeds: Vec<Recorded> = (0..30)
            .map(|i| match i % 3 {
                0 => rec(i, false, "Violation(\"election-safety\")", "violation"),
                1 => rec(i, false, "Violation(\"linearizable\")", "violation"),
                _ => rec(i, true, "Pass", "pass"),
            })
            .collect();
        seeds.push(rec(
            40,
            false,
            "incomplete: queue-full at 182ms",
            "incomplete",
        ));
        seeds.push(rec(
            41,
            false,
            "incomplete: queue-full at 9ms",
            "incomplete",
        ));
        s.add_recorded(&seeds);
        let text = s.render("f.ron", "Pass");
        assert_eq!(
            text,
            "swept 32 seeds of f.ron: 10 met `expect: Pass`, 22 did not\n\
             \x20 Violation(\"election-safety\"): 10 seeds: 0, 3, 6, 9, 12, 15, 18, 21, 24, 27\n\
             \x20   replay the first: faultline run f.ron --seed 0\n\
             \x20 Violation(\"linearizable\"): 10 seeds: 1, 4, 7, 10, 13, 16, 19, 22, 25, 28\n\
             \x20   replay the first: faultline run f.ron --seed 1\n\
             \x20 incomplete: queue-full: 2 seeds: 40, 41\n\
             \x20   replay the first: faultline run f.ron --seed 40\n\
             shrink the first violation: faultline shrink f.ron --seed 0\n"
        );
        let mut more = SweepSummary::default();
        more.add_recorded(
            &(0..12)
                .map(|i| rec(i, false, "Pass", "pass"))
                .collect::<Vec<_>>(),
        );
        assert!(more.render("f.ron", "Violation(\"x\")").contains(
            "  Pass: 12 seeds: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 and 2 more (see the JSON lines)\n"
        ),);
    }

    #[test]
    fn two_files_with_different_results_for_one_seed_do_not_merge() {
        let header = Header {
            faultline_sweep: FORMAT,
            faultline: "0.1.0".into(),
            scenario: "f.ron".into(),
            scenario_hash: content_hash(b"x"),
            expect: "Pass".into(),
            seeds: [0, 2],
            shard: [0, 1],
        };
        let output = |r: Recorded| SweepOutput {
            header: Some(header.clone()),
            results: BTreeMap::from([(r.seed, r)]),
            complete_len: 0,
        };
        let a = ("a".to_string(), output(rec(1, true, "Pass", "pass")));
        let b = (
            "b".to_string(),
            output(rec(1, false, "Violation(\"x\")", "violation")),
        );
        let e = merge(&[a, b]).unwrap_err();
        assert!(e.contains("seed 1: a records Pass (ok), b records"), "{e}");
        let a = ("a".to_string(), output(rec(1, true, "Pass", "pass")));
        let c = ("c".to_string(), output(rec(1, true, "Pass", "pass")));
        let m = merge(&[a, c]).unwrap();
        assert_eq!(
            (m.summary.seeds(), m.missing, m.missing_first),
            (1, 1, vec![0])
        );
    }
}
