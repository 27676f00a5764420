//! Sweeps: one scenario over many seeds, one simulation per thread.
//!
//! Each seed's run is independent and deterministic, so the only thing threads could change
//! is the order results arrive in. The writer puts them back in seed order: a line is
//! written (and flushed) as soon as every earlier seed's line is, so the output is the same
//! bytes for any `--jobs`, and an interrupted sweep keeps every line it wrote.

use crate::output::outcome_name;
use crate::registry::{self, Visit};
use crate::runner::{Outcome, Prepared, combined_exit_code, unknown_protocol};
use crate::scenario::{Scenario, ScenarioError};
use protocols::Protocol;
use serde_json::json;
use sim_core::TraceLevel;
use std::collections::{BTreeMap, BTreeSet};
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

/// What a sweep found.
#[derive(Debug, Default)]
pub struct SweepSummary {
    pub runs: u64,
    /// Seeds whose outcome did not meet `expect`, with the outcome, in seed order.
    pub failed: Vec<(u64, String)>,
    /// The sweep's exit code: [`crate::runner::combined_exit_code`] of every run's.
    pub exit_code: u8,
}

/// The seeds of `range` that shard `index` of `count` runs: every `count`-th one, starting
/// at the `index`-th.
pub fn shard_seeds(range: Range<u64>, index: u64, count: u64) -> Vec<u64> {
    range
        .enumerate()
        .filter(|(i, _)| *i as u64 % count == index)
        .map(|(_, s)| s)
        .collect()
}

/// Opens `path` to append to, first cutting off a last line left half-written by an
/// interrupted sweep; returns it with the seeds it already records.
pub fn open_for_resume(path: &str) -> io::Result<(std::fs::File, BTreeSet<u64>)> {
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)?;
    let mut done = BTreeSet::new();
    let mut keep = 0u64;
    let mut reader = io::BufReader::new(&mut file);
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line)?;
        if n == 0 || !line.ends_with('\n') {
            break;
        }
        let seed = serde_json::from_str::<serde_json::Value>(&line)
            .ok()
            .and_then(|v| v.get("seed").and_then(serde_json::Value::as_u64));
        let Some(seed) = seed else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "line {} is not a sweep result; write the sweep to a new file",
                    done.len() + 1
                ),
            ));
        };
        done.insert(seed);
        keep += n as u64;
    }
    drop(reader);
    file.set_len(keep)?;
    file.seek(io::SeekFrom::End(0))?;
    Ok((file, done))
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
    struct V<'a> {
        s: &'a Scenario,
        seeds: &'a [u64],
        jobs: usize,
        out: &'a mut dyn Write,
        progress: &'a (dyn Fn(usize) + Sync),
    }
    impl Visit for V<'_> {
        type Output = Result<SweepSummary, SweepError>;
        fn visit<P: Protocol>(self) -> Self::Output {
            sweep_with::<P>(self.s, self.seeds, self.jobs, self.out, self.progress)
        }
    }
    let v = V {
        s,
        seeds,
        jobs,
        out,
        progress,
    };
    registry::with_protocol(s.protocol(), v)
        .unwrap_or_else(|| Err(SweepError::Scenario(unknown_protocol(s))))
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
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    type Line = (String, Option<String>, u8);
    let (tx, rx) = mpsc::channel::<(usize, Result<Line, ScenarioError>)>();
    let mut summary = SweepSummary::default();
    let mut result = Ok(());
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1).min(seeds.len().max(1)) {
            let tx = tx.clone();
            let (next, stop) = (&next, &stop);
            scope.spawn(move || {
                let prepared = match Prepared::<P>::new(s) {
                    Ok(p) => p,
                    Err(e) => {
                        let _ = tx.send((0, Err(e)));
                        return;
                    }
                };
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&seed) = seeds.get(i) else { break };
                    let line = prepared.run(s, seed, TraceLevel::Off).map(|r| {
                        let failed = (!r.matched).then(|| outcome_name(&r.outcome));
                        (result_line(&r), failed, r.outcome.exit_code(r.matched))
                    });
                    if tx.send((i, line)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        // Write in seed order as lines become contiguous.
        let mut pending: BTreeMap<usize, Line> = BTreeMap::new();
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
            while let Some((line, failed, code)) = pending.remove(&written) {
                summary.exit_code = combined_exit_code([summary.exit_code, code]);
                if let Some(outcome) = failed {
                    summary.failed.push((seeds[written], outcome));
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

/// One seed's JSON line: seed, verdict, violation, stats (no wall time, so the bytes depend
/// only on the scenario and the seed).
fn result_line(r: &crate::RunResult) -> String {
    // The first line of the message only: a linearizability explanation runs to many
    // kilobytes, and `faultline run --seed N` prints it whole.
    let violation = match &r.outcome {
        Outcome::Violation(v) => json!({
            "check": v.check,
            "time": v.time,
            "message": short_message(&v.message),
        }),
        Outcome::Pass | Outcome::Incomplete { .. } | Outcome::Undecided { .. } => {
            serde_json::Value::Null
        }
    };
    let v = json!({
        "seed": r.seed,
        "verdict": if r.matched { "ok" } else { "failed" },
        "outcome": outcome_name(&r.outcome),
        "violation": violation,
        "end": r.report.end,
        "end_time_ns": r.report.end_time.as_nanos(),
        "fingerprint": format!("{:016x}", r.report.fingerprint),
        "stats": r.report.stats,
    });
    format!("{v}\n")
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
