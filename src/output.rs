//! How runs are shown: the text report (trace, verdict, replay command) and the JSON one.

use crate::runner::{Outcome, RunResult};
use crate::scenario::Scenario;
use serde_json::json;
use sim_core::TraceLevel;
use std::fmt::Write as _;

/// The exact command that replays `seed` of the scenario in `file`.
pub fn replay_command(file: &str, seed: u64) -> String {
    format!("{} run {} --seed {seed}", program(), shell_quote(file))
}

static PROGRAM: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The command replay hints name: `faultline`, or the program a user built on
/// [`crate::cli::main`] (set once when it starts, from how it was called).
pub fn program() -> &'static str {
    PROGRAM.get().map_or("faultline", String::as_str)
}

/// Names the program replay hints should call (the first call wins).
pub fn set_program(name: &str) {
    let _ = PROGRAM.set(name.to_string());
}

/// `s` quoted for a POSIX shell when it needs quoting.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// `Pass` or `Violation("check")`: the outcome as `expect` would write it; the outcomes
/// no `expect` can name read `incomplete: queue-full at 182.000ms` and
/// `undecided: linearizable`.
pub fn outcome_name(o: &Outcome) -> String {
    match o {
        Outcome::Pass => "Pass".into(),
        Outcome::Violation(v) => format!("Violation({:?})", v.check),
        Outcome::Incomplete { end, at } => format!("incomplete: {} at {at}", end_name(*end)),
        Outcome::Undecided { check, .. } => format!("undecided: {check}"),
        Outcome::Runaway { message, .. } => format!("runaway: {message}"),
        Outcome::EngineError { message, .. } => format!("ENGINE ERROR: {message}"),
        Outcome::Unreached { missing } => format!("unreached: {}", missing.join(", ")),
    }
}

/// `time-limit`, `queue-full`: why a run ended, as the JSON output writes it.
pub fn end_name(end: sim_core::EndReason) -> String {
    serde_json::to_value(end)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

/// The trace at `level`, one event a line.
pub fn trace_text(r: &RunResult, level: TraceLevel) -> String {
    match level {
        TraceLevel::Off => String::new(),
        TraceLevel::Summary => r.report.trace.summary_text(),
        TraceLevel::Full => r.report.trace.to_text(),
    }
}

/// How much of a long violation message (a linearizability explanation) to print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Explain {
    /// The last operations that fit and the first that cannot come next.
    Brief,
    /// Everything.
    Full,
}

/// The verdict and what to do about it, after the trace, with every message whole.
pub fn verdict_text(s: &Scenario, r: &RunResult) -> String {
    verdict_text_with(s, r, Explain::Full)
}

/// [`verdict_text`], with long explanations cut to `explain`.
pub fn verdict_text_with(s: &Scenario, r: &RunResult, explain: Explain) -> String {
    let mut o = String::new();
    let rep = &r.report;
    let end = end_name(rep.end);
    let _ = writeln!(
        o,
        "end: {end} at {} after {} events",
        rep.end_time.readable(),
        rep.stats.events
    );
    let blocked = sim_core::timeline::blocked_spans(&rep.trace, rep.end_time);
    if !blocked.is_empty() {
        let _ = writeln!(o, "blocked time per transaction:");
        let mut by_tx: indexmap::IndexMap<&str, Vec<(&str, sim_core::Duration)>> =
            indexmap::IndexMap::new();
        for (tx, node, d) in &blocked {
            by_tx.entry(tx).or_default().push((node, *d));
        }
        for (tx, spans) in by_tx {
            let total = spans
                .iter()
                .fold(sim_core::Duration::ZERO, |a, (_, d)| a.saturating_add(*d));
            let each: Vec<String> = spans
                .iter()
                .map(|(n, d)| format!("{n} {}", d.readable()))
                .collect();
            let _ = writeln!(o, "  {tx}: {} ({})", total.readable(), each.join(", "));
        }
    }
    for (check, line) in &rep.findings {
        let _ = writeln!(o, "{check}: {line}");
    }
    for v in &rep.violations {
        let message = match explain {
            Explain::Full => v.message.clone(),
            Explain::Brief => lincheck::brief_text(
                &v.message,
                3,
                5,
                "faultline run --explain full shows them all",
            ),
        };
        let _ = writeln!(
            o,
            "violation: {} at {}: {}",
            v.check,
            v.time.readable(),
            message
        );
    }
    match &r.outcome {
        Outcome::Incomplete { .. } => {
            let _ = writeln!(
                o,
                "incomplete: the run ended at {} of its {}, so it cannot pass (exit code {})",
                rep.end_time,
                s.duration(),
                crate::runner::EXIT_INCOMPLETE
            );
        }
        Outcome::Undecided { check, message } => {
            let _ = writeln!(o, "undecided: {check}: {message}");
        }
        Outcome::Runaway { at, message } => {
            let _ = writeln!(
                o,
                "runaway at {}: {message}; the run was stopped, so it cannot pass (exit code {})",
                at.readable(),
                crate::runner::EXIT_RUNAWAY
            );
        }
        Outcome::EngineError { at, message } => {
            let _ = writeln!(
                o,
                "ENGINE ERROR at {}: {message}\nThis is a bug in faultline's engine, not in the protocol: a self-check of the simulator failed, so nothing can be concluded from this run. Please report it with the scenario file and the replay command below (exit code {}).",
                at.readable(),
                crate::runner::EXIT_ENGINE_ERROR
            );
        }
        Outcome::Unreached { missing } => {
            let s_ = if missing.len() == 1 { "y" } else { "ies" };
            let _ = writeln!(
                o,
                "unreached: the run never reached the propert{s_} its scenario requires (`reach`): {}; it no longer shows what it is for",
                missing.join(", ")
            );
        }
        Outcome::Pass | Outcome::Violation(_) => {}
    }
    let got = outcome_name(&r.outcome);
    if r.matched {
        let _ = writeln!(o, "verdict: ok: {got}, as expected");
    } else {
        let _ = writeln!(o, "verdict: FAILED: expected {}, got {got}", s.expect());
    }
    if !r.matched || r.outcome != Outcome::Pass {
        let _ = writeln!(o, "seed: {}", r.seed);
        let _ = writeln!(o, "replay: {}", replay_command(s.file(), r.seed));
    }
    o
}

/// `reached: leader-elected at 152ms, lease-read-served at 1.2s`: the sometimes-properties
/// the run reached (in the order first reached), or `reached: none of the N properties`.
/// `run` prints it after the verdict; it is not part of the pinned verdict text.
pub fn reached_text(r: &RunResult) -> String {
    if r.reached.is_empty() {
        return "reached: no sometimes-property\n".to_string();
    }
    let each: Vec<String> = r
        .reached
        .iter()
        .map(|(name, t)| format!("{name} at {}", t.readable()))
        .collect();
    format!("reached: {}\n", each.join(", "))
}

/// Counters and speed: events, virtual time, wall time, events/s, virtual/wall.
pub fn stats_text(r: &RunResult, wall: std::time::Duration) -> String {
    let st = &r.report.stats;
    let secs = wall.as_secs_f64().max(1e-9);
    let virt = r.report.end_time.elapsed().as_secs_f64();
    let mut o = String::new();
    let _ = writeln!(
        o,
        "stats: events {} | deliveries {} | drops {} | faults {} | virtual time {:.3}s | wall time {:.3}s | {:.0} events/s | virtual/wall {:.2}x",
        st.events,
        st.deliveries,
        st.drops(),
        st.faults,
        virt,
        secs,
        st.events as f64 / secs,
        virt / secs
    );
    o
}

/// One JSON object for the whole run.
pub fn json_report(
    s: &Scenario,
    r: &RunResult,
    level: TraceLevel,
    wall: Option<std::time::Duration>,
) -> serde_json::Value {
    let mut v = json!({
        "scenario": s.file(),
        "name": s.name(),
        "protocol": s.protocol(),
        "seed": r.seed,
        "expect": s.expect().to_string(),
        "outcome": outcome_name(&r.outcome),
        "matched": r.matched,
        "violations": r.report.violations,
        "end": r.report.end,
        "end_time_ns": r.report.end_time.as_nanos(),
        "stats": r.report.stats,
        "fingerprint": format!("{:016x}", r.report.fingerprint),
        "replay": replay_command(s.file(), r.seed),
        "reached": reached_json(r),
    });
    if let Some(sw) = &r.swarm {
        v["swarm"] = swarm_json(sw);
    }
    if level != TraceLevel::Off {
        let events: Vec<&sim_core::TraceEvent> = r
            .report
            .trace
            .events
            .iter()
            .filter(|e| level == TraceLevel::Full || e.kind.in_summary())
            .collect();
        v["trace"] = json!(events);
    }
    let blocked = sim_core::timeline::blocked_spans(&r.report.trace, r.report.end_time);
    if !blocked.is_empty() {
        // Blocked time per transaction and node (2PC), in nanoseconds.
        v["blocked"] = json!(
            blocked
                .iter()
                .map(|(tx, node, d)| json!({"tx": tx, "node": node, "ns": d.as_nanos()}))
                .collect::<Vec<_>>()
        );
    }
    if let Some(w) = wall {
        v["wall_time_s"] = json!(w.as_secs_f64());
    }
    v
}

/// `[{"property": "lease-read-served", "time_ns": 1200000000}, ...]`, in the order first
/// reached.
pub fn reached_json(r: &RunResult) -> serde_json::Value {
    json!(
        r.reached
            .iter()
            .map(|(name, t)| json!({"property": name, "time_ns": t.as_nanos()}))
            .collect::<Vec<_>>()
    )
}

/// The history as JSON Lines, with where it came from in the header (`scenario`, `seed`:
/// provenance fields that checkers ignore).
pub fn history_jsonl(history: &lincheck::History, scenario: &str, seed: u64) -> String {
    let text = history.to_jsonl();
    let (header, events) = text.split_once('\n').unwrap_or((&text, ""));
    let header = header.strip_suffix('}').unwrap_or(header);
    let scenario = serde_json::Value::String(scenario.to_string());
    format!("{header},\"scenario\":{scenario},\"seed\":{seed}}}\n{events}")
}

/// What swarm mode drew, as a JSON object of the values in the scenario file's notation.
pub fn swarm_json(sw: &crate::runner::Swarm) -> serde_json::Value {
    let map: serde_json::Map<String, serde_json::Value> = sw
        .fields()
        .into_iter()
        .map(|(k, v)| (k, serde_json::Value::String(v)))
        .collect();
    serde_json::Value::Object(map)
}
