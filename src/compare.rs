//! `faultline compare`: one scenario (cluster, network, workload, faults, seeds) run under
//! several protocols, summed up side by side.
//!
//! The file names the protocol it was written for, and its `config` applies to that one;
//! every other protocol runs with its default config. Each protocol must offer every check
//! the file lists: a check one of them lacks is an error at the check's position. Per
//! protocol, over all seeds, the summary counts the seeds each check failed in, the
//! clients' operations by outcome, the median and 99th-percentile latency of the `ok`
//! ones (invoke to answer, virtual time), node-to-node messages per `ok` operation, leader
//! changes (a node becoming leader after the run's first leader) and the time no live node
//! believed it led (the first election included), read from the trace's `role=` notes.

use crate::runner::Prepared;
use crate::scenario::{Scenario, ScenarioError};
use lincheck::EventKind;
use protocols::Protocol;
use serde::Serialize;
use sim_core::{Time, TraceKind, TraceLevel};
use std::collections::BTreeMap;

/// One protocol's results over the seeds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    pub protocol: String,
    pub seeds: u64,
    /// Seeds whose outcome met the file's `expect`.
    pub matched: u64,
    /// Per check the file lists, the seeds in which it failed (the first failure of a run).
    pub failed: BTreeMap<String, u64>,
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
    /// Latency of `ok` operations in milliseconds (median, 99th percentile).
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    /// Node-to-node messages sent (client requests and answers left out).
    pub messages: u64,
    pub messages_per_ok: f64,
    pub leader_changes: u64,
    /// Virtual time with no live node leading, summed over seeds, in milliseconds.
    pub leaderless_ms: f64,
}

/// Runs `s` for every seed under each protocol in `protocols`, in that order.
pub fn compare(
    s: &Scenario,
    protocols: &[String],
    seeds: std::ops::Range<u64>,
) -> Result<Vec<Summary>, ScenarioError> {
    crate::registry::builtin_ref().compare(s, protocols, seeds)
}

/// The scenario as protocol `name` runs it: the file's config only for its own protocol.
pub(crate) fn variant(s: &Scenario, name: &str) -> Scenario {
    let mut v = s.clone();
    if name != s.protocol() {
        v.protocol.value = name.to_string();
        v.config = None;
    }
    v
}

/// Checks that `P` can run `s` as compare runs it: `P` offers every check the file lists.
pub fn check_with<P: Protocol>(s: &Scenario) -> Result<(), ScenarioError> {
    for c in &s.checks {
        if !P::checks().iter().any(|i| i.name == c.value) {
            return Err(s
                .error(
                    c.span.clone(),
                    format!("{} has no check {:?}", P::NAME, c.value),
                )
                .label("not a check of every compared protocol")
                .help(format!(
                    "compare judges every protocol by the file's checks: list only checks that {} offers too (`faultline list` shows them)",
                    P::NAME
                )));
        }
    }
    Prepared::<P>::new(s).map(|_| ())
}

/// Runs `s` under `P` for every seed and sums the runs up.
pub fn summarize<P: Protocol>(
    s: &Scenario,
    seeds: std::ops::Range<u64>,
) -> Result<Summary, ScenarioError> {
    let prepared = Prepared::<P>::new(s)?;
    let mut sum = Summary {
        protocol: P::NAME.to_string(),
        failed: s.checks().map(|c| (c.to_string(), 0)).collect(),
        ..Summary::default()
    };
    let mut latencies: Vec<u64> = Vec::new();
    let mut leaderless_ns: u128 = 0;
    for seed in seeds {
        let r = prepared.run(s, seed, TraceLevel::Summary)?;
        sum.seeds += 1;
        sum.matched += u64::from(r.matched);
        if let Some(check) = r.outcome.check() {
            *sum.failed.entry(check.to_string()).or_default() += 1;
        }
        let st = &r.report.stats;
        sum.messages += st.sends.saturating_sub(st.requests + st.responses);
        let mut invoked: BTreeMap<u64, u64> = BTreeMap::new();
        for e in &r.report.history.events {
            let t = e.time.unwrap_or(0);
            match e.kind {
                EventKind::Invoke => {
                    invoked.insert(e.process, t);
                }
                EventKind::Ok => {
                    sum.ok += 1;
                    if let Some(at) = invoked.remove(&e.process) {
                        latencies.push(t.saturating_sub(at));
                    }
                }
                EventKind::Fail => sum.fail += 1,
                EventKind::Info => sum.info += 1,
            }
        }
        let (changes, leaderless) = leadership(&r.report.trace, s.nodes(), r.report.end_time);
        sum.leader_changes += changes;
        leaderless_ns += u128::from(leaderless);
    }
    latencies.sort_unstable();
    sum.latency_p50_ms = percentile(&latencies, 50);
    sum.latency_p99_ms = percentile(&latencies, 99);
    sum.messages_per_ok = if sum.ok == 0 {
        0.0
    } else {
        sum.messages as f64 / sum.ok as f64
    };
    sum.leaderless_ms = leaderless_ns as f64 / 1e6;
    Ok(sum)
}

/// The nearest-rank percentile of sorted nanosecond values, in milliseconds.
fn percentile(sorted: &[u64], p: usize) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    sorted[rank - 1] as f64 / 1e6
}

/// From the trace's notes and crashes: how many times a node became leader after the
/// first leader of the run, and for how long (ns) no live node believed it led.
fn leadership(trace: &sim_core::Trace, nodes: &[String], end: Time) -> (u64, u64) {
    let mut leading = vec![false; nodes.len()];
    let index = |name: &str| nodes.iter().position(|n| n == name);
    let (mut elections, mut leaderless, mut since) = (0u64, 0u64, Some(0u64));
    for ev in &trace.events {
        let t = ev.time.as_nanos();
        let (i, leads) = match &ev.kind {
            TraceKind::Note { node, text } => match (index(node), text.strip_prefix("role=")) {
                (Some(i), Some(role)) => (i, role.starts_with("leader")),
                _ => continue,
            },
            TraceKind::Fault { fault } => {
                let mut w = fault.split_whitespace();
                match (w.next(), w.next().and_then(index)) {
                    (Some("crash"), Some(i)) => (i, false),
                    _ => continue,
                }
            }
            _ => continue,
        };
        if leads && !leading[i] {
            elections += 1;
        }
        leading[i] = leads;
        let any = leading.iter().any(|&l| l);
        match (any, since) {
            (true, Some(from)) => {
                leaderless += t - from;
                since = None;
            }
            (false, None) => since = Some(t),
            _ => {}
        }
    }
    if let Some(from) = since {
        leaderless += end.as_nanos().saturating_sub(from);
    }
    (elections.saturating_sub(1), leaderless)
}

/// The table `faultline compare` prints.
pub fn table(s: &Scenario, seeds: &std::ops::Range<u64>, sums: &[Summary]) -> String {
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    let mut row = |label: &str, f: &dyn Fn(&Summary) -> String| {
        rows.push((label.to_string(), sums.iter().map(f).collect()));
    };
    row("protocol", &|x| x.protocol.clone());
    row("seeds meeting expect", &|x| {
        format!("{}/{}", x.matched, x.seeds)
    });
    for check in s.checks() {
        let label = format!("check {check}");
        row(
            &label,
            &|x| match x.failed.get(check).copied().unwrap_or(0) {
                0 => "ok".to_string(),
                n => format!("FAILED in {n} seeds"),
            },
        );
    }
    row("client ops ok / fail / info", &|x| {
        format!("{} / {} / {}", x.ok, x.fail, x.info)
    });
    row("latency of ok ops p50 / p99", &|x| {
        format!("{:.1}ms / {:.1}ms", x.latency_p50_ms, x.latency_p99_ms)
    });
    row("messages per ok op", &|x| {
        format!("{:.1}", x.messages_per_ok)
    });
    row("leader changes", &|x| x.leader_changes.to_string());
    row("time without a leader", &|x| {
        format!(
            "{:.0}ms ({:.0}ms per seed)",
            x.leaderless_ms,
            x.leaderless_ms / x.seeds.max(1) as f64
        )
    });
    let label_width = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..sums.len())
        .map(|i| rows.iter().map(|(_, c)| c[i].len()).max().unwrap_or(0))
        .collect();
    let mut out = format!(
        "{}: seeds {}..{}; the file's config applies to {}, the others run with defaults\n",
        s.file(),
        seeds.start,
        seeds.end,
        s.protocol()
    );
    for (label, cells) in &rows {
        out.push_str(&format!("{label:<label_width$}"));
        for (cell, w) in cells.iter().zip(&widths) {
            out.push_str(&format!("  {cell:<w$}"));
        }
        while out.ends_with(' ') {
            out.pop();
        }
        out.push('\n');
    }
    out
}
