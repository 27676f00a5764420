//! One run, read for pictures: lanes, messages (each send matched to its delivery or
//! loss), crash/pause/leader spans, cuts with the lanes they cut, point faults, notes and
//! client operations, all cut to a time window. The page (`html`) and every export
//! (`export`) are drawn from this, so they agree with each other and with the trace.
//!
//! Sends are matched to deliveries and drops first-in first-out per (from, to, message
//! text): two copies with the same text cannot be told apart, and FIFO matching gives
//! every delivery a send at or before it, so happens-before drawn from it is sound.

use crate::runner::RunResult;
use crate::scenario::{Scenario, ScenarioError};
use indexmap::{IndexMap, IndexSet};
use sim_core::{Time, TraceBudget, TraceKind, TraceLevel};
use std::collections::VecDeque;

/// Most trace events a picture's run records (about 100 MB at most while it is drawn;
/// the longest non-benchmark run, `scenarios/bench/raft-60s.ron`, records 100,000). A
/// run that would record more is drawn up to the last instant that fits, and says so.
pub const PICTURE_EVENTS: usize = 250_000;

/// Most node lanes (and, apart, most client lanes) a picture draws: a bigger cluster is
/// drawn as its first `MAX_LANES` nodes and the messages among them, with counts for
/// every node.
pub const MAX_LANES: usize = 32;

/// Runs `s` with `seed` for the pictures of a window starting at `from`: the same run
/// and verdict as any other, its trace recorded at full level within
/// [`PICTURE_EVENTS`]. When the budget runs out before `from`, it runs again recording
/// only the summary events (faults, notes, client operations) before `from`, so a late
/// window of a long run can be drawn too (messages sent before `from` then start at their
/// delivery).
pub fn picture_run(s: &Scenario, seed: u64, from: Time) -> Result<RunResult, ScenarioError> {
    picture_run_within(s, seed, from, PICTURE_EVENTS)
}

/// [`picture_run`] with a budget of `max_events` trace events.
pub fn picture_run_within(
    s: &Scenario,
    seed: u64,
    from: Time,
    max_events: usize,
) -> Result<RunResult, ScenarioError> {
    picture_run_in(crate::registry::builtin_ref(), s, seed, from, max_events)
}

/// [`picture_run_within`] for a protocol of `reg` (a program's own registry).
pub fn picture_run_in(
    reg: &crate::registry::Registry,
    s: &Scenario,
    seed: u64,
    from: Time,
    max_events: usize,
) -> Result<RunResult, ScenarioError> {
    let budget = TraceBudget {
        full_from: Time::ZERO,
        max_events,
    };
    let r = reg.run_budgeted(s, seed, TraceLevel::Full, budget)?;
    match r.report.trace_cut {
        Some(cut) if cut <= from && from > Time::ZERO => reg.run_budgeted(
            s,
            seed,
            TraceLevel::Full,
            TraceBudget {
                full_from: from,
                ..budget
            },
        ),
        _ => Ok(r),
    }
}

/// The last instant a run's recorded trace covers whole: the end of the run, or just
/// before the event its budget left out.
pub fn recorded_to(r: &RunResult) -> Time {
    let end = r
        .report
        .end_time
        .max(r.report.trace.events.last().map_or(Time::ZERO, |e| e.time));
    match r.report.trace_cut {
        Some(cut) => Time::from_nanos(cut.as_nanos().saturating_sub(1)).min(end),
        None => end,
    }
}

/// A window of virtual time, both ends included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub from: Time,
    pub to: Time,
}

impl Window {
    pub fn contains(&self, t: Time) -> bool {
        self.from <= t && t <= self.to
    }
    /// Does `[a, b]` meet the window?
    pub fn meets(&self, a: Time, b: Time) -> bool {
        a <= self.to && b >= self.from
    }
}

/// How a message ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fate {
    Delivered,
    /// Lost, and why (`loss`, `partition`, `down`).
    Dropped(&'static str),
    /// Still on the wire when the run (or its recorded trace) ended.
    InFlight,
}

/// One message copy: sent at `sent`, delivered or lost at `at`.
#[derive(Clone, Debug)]
pub struct Msg {
    pub from: String,
    pub to: String,
    pub text: String,
    /// The message's kind: the leading word of its text (`AppendEntries`).
    pub kind: String,
    pub sent: Time,
    pub at: Time,
    pub fate: Fate,
    /// This copy was made by the network's duplication.
    pub duplicate: bool,
    /// Trace indices of the send and of the delivery or drop.
    pub send_event: Option<usize>,
    pub end_event: Option<usize>,
}

/// What a lane span shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpanKind {
    Crashed,
    Paused,
    /// The node believed it led; the rest of its note (`term=3`).
    Leader(String),
}

#[derive(Clone, Debug)]
pub struct Span {
    pub lane: String,
    pub from: Time,
    pub to: Time,
    pub kind: SpanKind,
}

/// A partition or one-way cut while it lasted, and the lanes it cut off from others.
#[derive(Clone, Debug)]
pub struct Cut {
    pub from: Time,
    pub to: Time,
    pub label: String,
    /// Each side of the cut, in the fault's order (`{n1 n2} | {n3 n4 n5}` gives two).
    pub groups: Vec<Vec<String>>,
    pub one_way: bool,
}

/// A fault at a point in time: a restart, a clock step or drift, a link change.
#[derive(Clone, Debug)]
pub struct Mark {
    /// The lane it hits, if it names one node.
    pub lane: Option<String>,
    pub time: Time,
    pub label: String,
    pub event: usize,
}

/// A client operation, from invoke to completion.
#[derive(Clone, Debug)]
pub struct Op {
    pub client: String,
    pub process: u64,
    pub op: String,
    pub invoked: Time,
    /// `None`: not complete when the run ended.
    pub completed: Option<Time>,
    /// `ok`, `fail`, `info`, or `open` when it never completed.
    pub outcome: String,
    pub invoke_event: usize,
    pub complete_event: Option<usize>,
    /// Set when the linearizability check could not place this op, with why.
    pub stuck: Option<String>,
}

#[derive(Clone, Debug)]
pub struct ViolationView {
    pub check: String,
    pub time: Time,
    pub message: String,
    /// The lanes its message names.
    pub nodes: Vec<String>,
}

/// What a picture needs of one run.
pub struct RunView {
    pub name: String,
    pub scenario: String,
    pub protocol: String,
    pub seed: u64,
    pub verdict: String,
    pub expected: String,
    pub matched: bool,
    pub replay: String,
    pub end: Time,
    pub window: Window,
    /// Node lanes first (scenario order), then client lanes.
    pub lanes: Vec<String>,
    pub clients: usize,
    /// Every trace line, as the text trace prints it.
    pub lines: Vec<String>,
    /// Index into `lines` of each event's time (same order).
    pub times: Vec<Time>,
    /// Messages that meet the window, in the order their delivery or loss happened.
    pub msgs: Vec<Msg>,
    pub spans: Vec<Span>,
    pub cuts: Vec<Cut>,
    pub marks: Vec<Mark>,
    /// (trace index, lane, text) of every note in the window.
    pub notes: Vec<(usize, String, String)>,
    pub ops: Vec<Op>,
    pub violation: Option<ViolationView>,
    /// Lanes left out of the drawing (past [`MAX_LANES`]).
    pub hidden_lanes: usize,
    /// Set when the run's trace stopped at its budget: the last instant it covers.
    pub cut: Option<Time>,
    /// Messages of the window per lane, every lane counted (hidden ones as one row):
    /// (lane, sent, delivered to it, lost of its sends).
    pub lane_counts: Vec<(String, u64, u64, u64)>,
    /// Messages of the window per kind, every lane counted: (kind, delivered, lost, on
    /// the wire at the end).
    pub kind_counts: Vec<(String, u64, u64, u64)>,
    /// What the whole run did, when the picture shows only part of it.
    pub run_counts: Option<String>,
}

/// A copy on the wire: when it was sent, its send's trace index, and whether the network
/// made it as a duplicate.
type Sent = (Time, usize, bool);

fn kind_of(msg: &str) -> String {
    // A client request (`c4#1 get k1`): its kind is the operation.
    let msg = match msg.split_once(' ') {
        Some((id, rest)) if id.contains('#') => rest,
        _ => msg,
    };
    let k: String = msg
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    if k.is_empty() { "?".into() } else { k }
}

/// The groups of a cut fault's text, or `None` if the fault is not a cut.
/// `partition {a b} | {c}`, `isolate a`, `one-way {a} -> {b c}`, `bridge {a} | {m} | {b}`.
fn cut_groups(fault: &str, nodes: &[String]) -> Option<(Vec<Vec<String>>, bool)> {
    let braces = |s: &str| -> Vec<Vec<String>> {
        s.split('{')
            .skip(1)
            .filter_map(|p| p.split_once('}'))
            .map(|(inner, _)| inner.split_whitespace().map(String::from).collect())
            .collect()
    };
    if let Some(rest) = fault.strip_prefix("partition ") {
        Some((braces(rest), false))
    } else if let Some(rest) = fault.strip_prefix("bridge ") {
        Some((braces(rest), false))
    } else if let Some(rest) = fault.strip_prefix("one-way ") {
        Some((braces(rest), true))
    } else if let Some(node) = fault.strip_prefix("isolate ") {
        let node = node.trim().to_string();
        let others = nodes.iter().filter(|n| **n != node).cloned().collect();
        Some((vec![vec![node], others], false))
    } else {
        None
    }
}

/// The single node a point fault names (`clock-skew n2 +500ms` gives `n2`).
fn fault_lane(fault: &str, lanes: &[String]) -> Option<String> {
    let mut words = fault.split_whitespace();
    words.next();
    let w = words.next()?;
    lanes.iter().find(|l| *l == w).cloned()
}

impl RunView {
    /// Reads `r` (recorded at full trace for messages) inside `window`
    /// (`None`: the whole run).
    pub fn new(s: &Scenario, r: &RunResult, window: Option<Window>) -> RunView {
        let trace = &r.report.trace;
        let end = r
            .report
            .end_time
            .max(trace.events.last().map_or(Time::ZERO, |e| e.time));
        let mut window = window.unwrap_or(Window {
            from: Time::ZERO,
            to: end,
        });
        let trace_cut = r.report.trace_cut.map(|_| recorded_to(r));
        if let Some(c) = trace_cut {
            window.to = window.to.min(c);
        }
        // Until the trace ends: what is open then is drawn to there.
        let end_of_trace = trace_cut.unwrap_or(end);
        let mut node_lanes: IndexSet<String> = s.nodes().iter().cloned().collect();
        let mut client_lanes: IndexSet<String> = IndexSet::new();
        for e in &trace.events {
            let names: [Option<&String>; 2] = match &e.kind {
                TraceKind::Start { node, .. }
                | TraceKind::Timer { node, .. }
                | TraceKind::Note { node, .. } => [Some(node), None],
                TraceKind::Send { from, to, .. }
                | TraceKind::Deliver { from, to, .. }
                | TraceKind::Drop { from, to, .. }
                | TraceKind::Duplicate { from, to, .. } => [Some(from), Some(to)],
                TraceKind::Invoke { client, .. } | TraceKind::Complete { client, .. } => {
                    if !node_lanes.contains(client) {
                        client_lanes.insert(client.clone());
                    }
                    [None, None]
                }
                _ => [None, None],
            };
            for n in names.into_iter().flatten() {
                if !node_lanes.contains(n) && !client_lanes.contains(n) {
                    if n.starts_with('c') && n[1..].chars().all(|c| c.is_ascii_digit()) {
                        client_lanes.insert(n.clone());
                    } else {
                        node_lanes.insert(n.clone());
                    }
                }
            }
        }
        let all_lanes = node_lanes.len() + client_lanes.len();
        node_lanes.truncate(MAX_LANES);
        client_lanes.truncate(MAX_LANES);
        let hidden_lanes = all_lanes - node_lanes.len() - client_lanes.len();
        let clients = client_lanes.len();
        let drawn: IndexSet<String> = node_lanes.into_iter().chain(client_lanes).collect();
        let lanes: Vec<String> = drawn.iter().cloned().collect();

        let lines: Vec<String> = trace.events.iter().map(|e| e.to_string()).collect();
        let times: Vec<Time> = trace.events.iter().map(|e| e.time).collect();

        let mut msgs = Vec::new();
        let mut in_flight: IndexMap<(&str, &str, &str), VecDeque<Sent>> = IndexMap::new();
        let mut spans = Vec::new();
        let mut cuts = Vec::new();
        let mut marks = Vec::new();
        let mut notes = Vec::new();
        let mut ops: Vec<Op> = Vec::new();
        let mut open_ops: IndexMap<(String, u64), usize> = IndexMap::new();
        let mut cut: Option<(Time, String, Vec<Vec<String>>, bool)> = None;
        let mut crashed: IndexMap<String, Time> = IndexMap::new();
        let mut paused: IndexMap<String, Time> = IndexMap::new();
        let mut leading: IndexMap<String, (Time, String)> = IndexMap::new();
        let nodes: Vec<String> = s.nodes().to_vec();

        for (i, e) in trace.events.iter().enumerate() {
            let t = e.time;
            match &e.kind {
                TraceKind::Send { from, to, msg } => in_flight
                    .entry((from, to, msg))
                    .or_default()
                    .push_back((t, i, false)),
                TraceKind::Duplicate { from, to, msg } => in_flight
                    .entry((from, to, msg))
                    .or_default()
                    .push_back((t, i, true)),
                TraceKind::Deliver { from, to, msg } | TraceKind::Drop { from, to, msg, .. } => {
                    let (sent, send_event, duplicate) = in_flight
                        .get_mut(&(from.as_str(), to.as_str(), msg.as_str()))
                        .and_then(VecDeque::pop_front)
                        .map_or((t, None, false), |(s, i, d)| (s, Some(i), d));
                    let fate = match &e.kind {
                        TraceKind::Drop { reason, .. } => Fate::Dropped(reason.as_str()),
                        _ => Fate::Delivered,
                    };
                    msgs.push(Msg {
                        from: from.clone(),
                        to: to.clone(),
                        kind: kind_of(msg),
                        text: msg.clone(),
                        sent,
                        at: t,
                        fate,
                        duplicate,
                        send_event,
                        end_event: Some(i),
                    });
                }
                TraceKind::Fault { fault } => {
                    if let Some((groups, one_way)) = cut_groups(fault, &nodes) {
                        if let Some((since, label, g, ow)) = cut.take() {
                            cuts.push(Cut {
                                from: since,
                                to: t,
                                label,
                                groups: g,
                                one_way: ow,
                            });
                        }
                        cut = Some((t, fault.clone(), groups, one_way));
                    } else if fault == "heal" {
                        if let Some((since, label, g, ow)) = cut.take() {
                            cuts.push(Cut {
                                from: since,
                                to: t,
                                label,
                                groups: g,
                                one_way: ow,
                            });
                        }
                        marks.push(Mark {
                            lane: None,
                            time: t,
                            label: fault.clone(),
                            event: i,
                        });
                    } else if let Some(node) = fault.strip_prefix("crash ") {
                        crashed.insert(node.to_string(), t);
                        if let Some((since, label)) = leading.shift_remove(node) {
                            spans.push(Span {
                                lane: node.into(),
                                from: since,
                                to: t,
                                kind: SpanKind::Leader(label),
                            });
                        }
                    } else if let Some(node) = fault.strip_prefix("pause ") {
                        paused.insert(node.to_string(), t);
                    } else if let Some(node) = fault.strip_prefix("resume ") {
                        if let Some(since) = paused.shift_remove(node) {
                            spans.push(Span {
                                lane: node.into(),
                                from: since,
                                to: t,
                                kind: SpanKind::Paused,
                            });
                        }
                    } else {
                        if let Some(node) = fault.strip_prefix("restart ") {
                            if let Some(since) = crashed.shift_remove(node) {
                                spans.push(Span {
                                    lane: node.into(),
                                    from: since,
                                    to: t,
                                    kind: SpanKind::Crashed,
                                });
                            }
                        }
                        marks.push(Mark {
                            lane: fault_lane(fault, &nodes),
                            time: t,
                            label: fault.clone(),
                            event: i,
                        });
                    }
                }
                TraceKind::Note { node, text } => {
                    if let Some(role) = text.strip_prefix("role=") {
                        if let Some((since, label)) = leading.shift_remove(node.as_str()) {
                            spans.push(Span {
                                lane: node.clone(),
                                from: since,
                                to: t,
                                kind: SpanKind::Leader(label),
                            });
                        }
                        if let Some(rest) = role.strip_prefix("leader") {
                            leading.insert(node.clone(), (t, rest.trim().to_string()));
                        }
                    }
                    if window.contains(t) {
                        notes.push((i, node.clone(), text.clone()));
                    }
                }
                TraceKind::Invoke {
                    client,
                    process,
                    op,
                } => {
                    open_ops.insert((client.clone(), *process), ops.len());
                    ops.push(Op {
                        client: client.clone(),
                        process: *process,
                        op: op.clone(),
                        invoked: t,
                        completed: None,
                        outcome: "open".into(),
                        invoke_event: i,
                        complete_event: None,
                        stuck: None,
                    });
                }
                TraceKind::Complete {
                    client,
                    process,
                    outcome,
                    op,
                } => {
                    if let Some(k) = open_ops.shift_remove(&(client.clone(), *process)) {
                        let o = &mut ops[k];
                        o.completed = Some(t);
                        o.outcome = outcome.clone();
                        o.complete_event = Some(i);
                        if o.op != *op {
                            o.op = format!("{} -> {op}", o.op);
                        }
                    }
                }
                // A disk's completed syncs read like the node's notes (`wal synced 2
                // records (upto 5)`); single appends are too many to show.
                TraceKind::Disk { node, text } => {
                    if window.contains(t) {
                        notes.push((i, node.clone(), format!("wal {text}")));
                    }
                }
                TraceKind::Start { .. }
                | TraceKind::Timer { .. }
                | TraceKind::Violation { .. }
                | TraceKind::Append { .. } => {}
            }
        }
        for ((from, to, msg), q) in &in_flight {
            for &(sent, i, duplicate) in q {
                msgs.push(Msg {
                    from: from.to_string(),
                    to: to.to_string(),
                    kind: kind_of(msg),
                    text: msg.to_string(),
                    sent,
                    at: end_of_trace,
                    fate: Fate::InFlight,
                    duplicate,
                    send_event: Some(i),
                    end_event: None,
                });
            }
        }
        if let Some((since, label, groups, one_way)) = cut {
            cuts.push(Cut {
                from: since,
                to: end_of_trace,
                label,
                groups,
                one_way,
            });
        }
        for (node, since) in crashed {
            spans.push(Span {
                lane: node,
                from: since,
                to: end_of_trace,
                kind: SpanKind::Crashed,
            });
        }
        for (node, since) in paused {
            spans.push(Span {
                lane: node,
                from: since,
                to: end_of_trace,
                kind: SpanKind::Paused,
            });
        }
        for (node, (since, label)) in leading {
            spans.push(Span {
                lane: node,
                from: since,
                to: end_of_trace,
                kind: SpanKind::Leader(label),
            });
        }

        // The ops the linearizability check could not place, for a history failure.
        if !r.report.violations.is_empty() && !r.report.history.events.is_empty() {
            let options = lincheck::CheckOptions::default();
            if let Ok(rep) = lincheck::check_history(&r.report.history, &options) {
                for k in &rep.keys {
                    let Some(ex) = &k.explanation else { continue };
                    for st in &ex.stuck {
                        let reason = match st.reason {
                            lincheck::explain::Blocked::Rejected => {
                                "result impossible in this state"
                            }
                            lincheck::explain::Blocked::DeadEnd => {
                                "fits, but nothing linearizable follows"
                            }
                            lincheck::explain::Blocked::Unreachable => {
                                "result can no longer be produced by the pending ops"
                            }
                        };
                        if let Some(o) = ops.iter_mut().find(|o| {
                            o.process == st.op.process
                                && Some(o.invoked.as_nanos()) == st.op.invoke_time
                        }) {
                            o.stuck = Some(reason.to_string());
                        }
                    }
                }
            }
        }

        let violation = r.report.violations.first().map(|v| ViolationView {
            check: v.check.clone(),
            time: v.time,
            message: v.message.clone(),
            nodes: lanes
                .iter()
                .filter(|l| {
                    v.message
                        .split(|c: char| !c.is_alphanumeric() && c != '_' && c != '-')
                        .any(|w| w == l.as_str())
                })
                .cloned()
                .collect(),
        });

        msgs.retain(|m| window.meets(m.sent, m.at));
        // Counted over every lane, before the drawing leaves any out.
        let (lane_counts, kind_counts) = counts(&msgs, &drawn);
        msgs.retain(|m| drawn.contains(&m.from) && drawn.contains(&m.to));
        spans.retain(|sp| window.meets(sp.from, sp.to) && drawn.contains(&sp.lane));
        cuts.retain(|c| window.meets(c.from, c.to));
        marks.retain(|m| {
            window.contains(m.time) && m.lane.as_ref().is_none_or(|l| drawn.contains(l))
        });
        notes.retain(|(_, l, _)| drawn.contains(l));
        ops.retain(|o| {
            window.meets(o.invoked, o.completed.unwrap_or(end_of_trace))
                && drawn.contains(&o.client)
        });
        let st = &r.report.stats;
        let run_counts = trace_cut.map(|c| {
            format!(
                "the run went on to {end}: {} events, {} sends, {} deliveries, {} drops, {} faults in all; a picture records at most {PICTURE_EVENTS} trace events, so this one holds the run up to {c}: draw a later part with --from/--to, e.g. --from {c} --to {}",
                st.events,
                st.sends,
                st.deliveries,
                st.drops(),
                st.faults,
                Time::from_nanos(c.as_nanos().saturating_mul(2).max(c.as_nanos() + 1_000_000)).min(end)
            )
        });

        let verdict = match r.outcome.check() {
            None => "pass".to_string(),
            Some(check) => format!("violation {check}"),
        };
        RunView {
            name: s.name().to_string(),
            scenario: s.file().to_string(),
            protocol: s.protocol().to_string(),
            seed: r.seed,
            verdict,
            expected: s.expect().to_string(),
            matched: r.matched,
            replay: crate::output::replay_command(s.file(), r.seed),
            end,
            window,
            lanes,
            clients,
            lines,
            times,
            msgs,
            spans,
            cuts,
            marks,
            notes,
            ops,
            violation,
            hidden_lanes,
            cut: trace_cut,
            lane_counts,
            kind_counts,
            run_counts,
        }
    }

    /// What the picture leaves out, in a sentence, or `None` when it draws everything
    /// of its window: lanes past [`MAX_LANES`], and the part of a long run its trace
    /// could not hold.
    pub fn summarized(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.hidden_lanes > 0 {
            let nodes = self.node_lanes();
            parts.push(format!(
                "{} lanes: this draws the first {} nodes ({} to {}){} and the messages among them; the counts cover every lane ({} more as one row)",
                self.lanes.len() + self.hidden_lanes,
                nodes.len(),
                nodes.first().map_or("", String::as_str),
                nodes.last().map_or("", String::as_str),
                if self.clients > 0 {
                    format!(" and {} clients", self.clients)
                } else {
                    String::new()
                },
                self.hidden_lanes
            ));
        }
        if let Some(c) = &self.run_counts {
            parts.push(c.clone());
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }

    /// Node lanes (not clients).
    pub fn node_lanes(&self) -> &[String] {
        &self.lanes[..self.lanes.len() - self.clients]
    }

    /// Client lanes.
    pub fn client_lanes(&self) -> &[String] {
        &self.lanes[self.lanes.len() - self.clients..]
    }

    /// Trace indices of the events inside the window.
    pub fn window_events(&self) -> std::ops::Range<usize> {
        let a = self.times.partition_point(|t| *t < self.window.from);
        let b = self.times.partition_point(|t| *t <= self.window.to);
        a..b
    }

    /// When the window has more arrows than a reader can follow: a sentence saying so and
    /// a window to try instead.
    pub fn unreadable(&self, max_arrows: usize) -> Option<String> {
        let n = self.msgs.len();
        if n <= max_arrows {
            return None;
        }
        let span = self.window.to.since(self.window.from).as_nanos().max(1);
        // A window with about a quarter of the limit's arrows, ending just after the
        // violation (or starting at the window's start).
        let want = (span as f64 * (max_arrows as f64 / 4.0) / n as f64) as u64;
        let len = nice_len(want.max(1_000_000));
        let (a, b) = match &self.violation {
            Some(v) if self.window.contains(v.time) => {
                let b = v.time.as_nanos().saturating_add(len / 5);
                (b.saturating_sub(len).max(self.window.from.as_nanos()), b)
            }
            _ => {
                let a = self.window.from.as_nanos();
                (a, a + len)
            }
        };
        Some(format!(
            "{n} messages in {} to {}: too many arrows to read at once; zoom in, or draw a window: --from {} --to {}",
            self.window.from,
            self.window.to,
            Time::from_nanos(a),
            Time::from_nanos(b)
        ))
    }
}

/// Messages per lane (drawn lanes by name, the others as one row) and per kind.
type Counts = Vec<(String, u64, u64, u64)>;

fn counts(msgs: &[Msg], drawn: &IndexSet<String>) -> (Counts, Counts) {
    let other = "(other lanes)";
    let mut lanes: IndexMap<&str, (u64, u64, u64)> =
        drawn.iter().map(|l| (l.as_str(), (0, 0, 0))).collect();
    let mut kinds: IndexMap<&str, (u64, u64, u64)> = IndexMap::new();
    let row = |l: &str| {
        if drawn.contains(l) {
            l.to_string()
        } else {
            other.to_string()
        }
    };
    let mut rows: IndexMap<String, (u64, u64, u64)> = IndexMap::new();
    for m in msgs {
        let k = kinds.entry(m.kind.as_str()).or_default();
        match m.fate {
            Fate::Delivered => k.0 += 1,
            Fate::Dropped(_) => k.1 += 1,
            Fate::InFlight => k.2 += 1,
        }
        let from = row(&m.from);
        let to = row(&m.to);
        let f = rows.entry(from).or_default();
        f.0 += 1;
        if matches!(m.fate, Fate::Dropped(_)) {
            f.2 += 1;
        }
        if m.fate == Fate::Delivered {
            rows.entry(to).or_default().1 += 1;
        }
    }
    for (l, c) in &rows {
        if let Some(x) = lanes.get_mut(l.as_str()) {
            *x = *c;
        }
    }
    let mut lane_rows: Counts = lanes
        .into_iter()
        .map(|(l, (a, b, c))| (l.to_string(), a, b, c))
        .collect();
    if let Some(&(a, b, c)) = rows.get(other) {
        lane_rows.push((other.to_string(), a, b, c));
    }
    let kind_rows = kinds
        .into_iter()
        .map(|(k, (a, b, c))| (k.to_string(), a, b, c))
        .collect();
    (lane_rows, kind_rows)
}

/// 1, 2 or 5 times a power of ten nanoseconds, at least `raw`.
fn nice_len(raw: u64) -> u64 {
    let mut p = 1u64;
    loop {
        for m in [1, 2, 5] {
            if p.saturating_mul(m) >= raw {
                return p.saturating_mul(m);
            }
        }
        p = p.saturating_mul(10);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_groups_read_every_cut_fault() {
        let nodes: Vec<String> = ["n1", "n2", "n3"].iter().map(|s| s.to_string()).collect();
        let (g, ow) = cut_groups("partition {n1 n2} | {n3}", &nodes).unwrap();
        assert_eq!(g, vec![vec!["n1", "n2"], vec!["n3"]]);
        assert!(!ow);
        let (g, ow) = cut_groups("one-way {n1} -> {n2 n3}", &nodes).unwrap();
        assert_eq!(g, vec![vec!["n1"], vec!["n2", "n3"]]);
        assert!(ow);
        let (g, _) = cut_groups("isolate n2", &nodes).unwrap();
        assert_eq!(g, vec![vec!["n2"], vec!["n1", "n3"]]);
        let (g, _) = cut_groups("bridge {n1} | {n2} | {n3}", &nodes).unwrap();
        assert_eq!(g.len(), 3);
        assert!(cut_groups("crash n1", &nodes).is_none());
        assert_eq!(kind_of("AppendEntries term=3"), "AppendEntries");
        assert_eq!(kind_of("Ping { seq: 3 }"), "Ping");
        assert_eq!(kind_of("c4#1 get k1 (r17)"), "get");
    }
}
