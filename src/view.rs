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
/// drawn as the `MAX_LANES` nodes that carry the window's traffic among themselves
/// ([`choose_lanes`]) and the messages among them, with counts for every node.
pub const MAX_LANES: usize = 32;

/// How many of the busiest lanes a picture left out it names, for `--lanes`.
pub const NAMED_LEFT_OUT: usize = 5;

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
    /// The busiest lanes left out (at most [`NAMED_LEFT_OUT`]), with how many of the
    /// window's messages each sent or received.
    pub busiest_left_out: Vec<(String, u64)>,
    /// The names [`RunView::with_lanes`] was asked to draw that are no lane of the run.
    pub unknown_lanes: Vec<String>,
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

/// A cut in force since it began: (when, the fault's text, its groups, one-way).
type OpenCut = (Time, String, Vec<Vec<String>>, bool);

/// Ends the cut in force (if any) at `to`.
fn close_cut(open: &mut Option<OpenCut>, cuts: &mut Vec<Cut>, to: Time) {
    if let Some((from, label, groups, one_way)) = open.take() {
        cuts.push(Cut {
            from,
            to,
            label,
            groups,
            one_way,
        });
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
        Self::with_lanes(s, r, window, &[])
    }

    /// [`RunView::new`] drawing the lanes named in `wanted` whatever their traffic (as
    /// many as fit in [`MAX_LANES`] nodes and as many clients, in the order given),
    /// the other lanes chosen by [`choose_lanes`]. Names that are no lane of the run
    /// are drawn as nothing and listed in [`RunView::unknown_lanes`].
    pub fn with_lanes(
        s: &Scenario,
        r: &RunResult,
        window: Option<Window>,
        wanted: &[String],
    ) -> RunView {
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
        let mut cut: Option<OpenCut> = None;
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
                        close_cut(&mut cut, &mut cuts, t);
                        cut = Some((t, fault.clone(), groups, one_way));
                    } else if fault == "heal" {
                        close_cut(&mut cut, &mut cuts, t);
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
        close_cut(&mut cut, &mut cuts, end_of_trace);
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

        let mut violation = r.report.violations.first().map(|v| {
            let words: IndexSet<&str> = v
                .message
                .split(|c: char| !c.is_alphanumeric() && c != '_' && c != '-')
                .collect();
            ViolationView {
                check: v.check.clone(),
                time: v.time,
                message: v.message.clone(),
                nodes: node_lanes
                    .iter()
                    .chain(&client_lanes)
                    .filter(|l| words.contains(l.as_str()))
                    .cloned()
                    .collect(),
            }
        });

        msgs.retain(|m| window.meets(m.sent, m.at));
        // Which lanes to draw: all of them when they fit; else the ones asked for, the
        // violation's, and those that carry the window's messages among themselves.
        let (drawn, busiest_left_out) =
            if node_lanes.len() <= MAX_LANES && client_lanes.len() <= MAX_LANES {
                (
                    node_lanes.iter().chain(&client_lanes).cloned().collect(),
                    Vec::new(),
                )
            } else {
                let mut first: Vec<&str> = wanted.iter().map(String::as_str).collect();
                if let Some(v) = &violation {
                    first.extend(v.nodes.iter().map(String::as_str));
                }
                choose_lanes(&msgs, &node_lanes, &client_lanes, &first)
            };
        let unknown_lanes: Vec<String> = wanted
            .iter()
            .filter(|l| !node_lanes.contains(*l) && !client_lanes.contains(*l))
            .cloned()
            .collect();
        let hidden_lanes = all_lanes - drawn.len();
        let clients = drawn.iter().filter(|l| client_lanes.contains(*l)).count();
        let lanes: Vec<String> = drawn.iter().cloned().collect();
        if let Some(v) = &mut violation {
            v.nodes.retain(|l| drawn.contains(l));
        }
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
            busiest_left_out,
            unknown_lanes,
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
            let left_out = if self.busiest_left_out.is_empty() {
                String::new()
            } else {
                let named: Vec<String> = self
                    .busiest_left_out
                    .iter()
                    .map(|(l, n)| format!("{l} ({n})"))
                    .collect();
                let names: Vec<&str> = self
                    .busiest_left_out
                    .iter()
                    .map(|(l, _)| l.as_str())
                    .collect();
                format!(
                    "; the busiest lanes left out (messages in the window): {}; draw them with --lanes {} (their messages with the drawn lanes show then), or a narrower window with --from/--to",
                    named.join(", "),
                    names.join(",")
                )
            };
            parts.push(format!(
                "{} lanes: this draws the {} nodes{} that carry the most of the window's messages among themselves ({}) and the messages among them; the counts cover every lane ({} more as one row){left_out}",
                self.lanes.len() + self.hidden_lanes,
                nodes.len(),
                if self.clients > 0 {
                    format!(" and {} clients", self.clients)
                } else {
                    String::new()
                },
                compact_list(nodes, 8),
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

/// Names `items`, the first `most` of them and how many more.
pub fn compact_list(items: &[String], most: usize) -> String {
    let mut s = items
        .iter()
        .take(most)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(" ");
    if items.len() > most {
        s.push_str(&format!(" and {} more", items.len() - most));
    }
    s
}

/// The lanes a picture of a cluster too big to draw whole shows: at most [`MAX_LANES`]
/// of `nodes` and as many of `clients`, chosen so that the window's messages (`msgs`)
/// among them are many, and the busiest lanes left out (at most [`NAMED_LEFT_OUT`],
/// with their message counts).
///
/// Greedy, in the spirit of a densest-subgraph peel: `first` (lanes asked for, then the
/// violation's) come in first, then, one at a time, the lane with the most messages to
/// and from the lanes already in, ties broken by its messages in all, then by the
/// scenario's order. So the first lane is the busiest, and each next one adds the most
/// arrows it can; lanes with no messages at all fill what is left in scenario order.
/// Should the first lanes in scenario order (after `first`) show more arrows, those are
/// drawn instead: never fewer than the plain cut of the first ids. The result keeps the scenario's order (nodes, then clients). It is a pure function
/// of its inputs, so a picture of the same run is the same.
pub fn choose_lanes(
    msgs: &[Msg],
    nodes: &IndexSet<String>,
    clients: &IndexSet<String>,
    first: &[&str],
) -> (IndexSet<String>, Vec<(String, u64)>) {
    let n = nodes.len() + clients.len();
    let index = |l: &str| {
        nodes
            .get_index_of(l)
            .or_else(|| clients.get_index_of(l).map(|i| nodes.len() + i))
    };
    let is_client = |i: usize| i >= nodes.len();
    let mut total = vec![0u64; n];
    let mut pairs: IndexMap<(usize, usize), u64> = IndexMap::new();
    for m in msgs {
        let (Some(a), Some(b)) = (index(&m.from), index(&m.to)) else {
            continue;
        };
        total[a] += 1;
        if a != b {
            total[b] += 1;
            *pairs.entry((a.min(b), a.max(b))).or_default() += 1;
        }
    }
    let mut adjacent: Vec<Vec<(usize, u64)>> = vec![Vec::new(); n];
    for (&(a, b), &c) in &pairs {
        adjacent[a].push((b, c));
        adjacent[b].push((a, c));
    }
    // Room for nodes [0] and clients [1].
    let kind = |i: usize| usize::from(is_client(i));
    let pick = |by_traffic: bool| {
        let mut chosen = vec![false; n];
        let mut score = vec![0u64; n];
        let mut room = [MAX_LANES, MAX_LANES];
        let take = |i: usize, chosen: &mut [bool], room: &mut [usize; 2], score: &mut [u64]| {
            if chosen[i] || room[kind(i)] == 0 {
                return;
            }
            room[kind(i)] -= 1;
            chosen[i] = true;
            for &(j, c) in &adjacent[i] {
                score[j] += c;
            }
        };
        for l in first {
            if let Some(i) = index(l) {
                take(i, &mut chosen, &mut room, &mut score);
            }
        }
        // At most 2 * MAX_LANES picks, each a pass over the lanes.
        loop {
            let best = (0..n)
                .filter(|&i| !chosen[i] && room[kind(i)] > 0)
                .max_by_key(|&i| {
                    let busy = if by_traffic {
                        (score[i], total[i])
                    } else {
                        (0, 0)
                    };
                    (busy, std::cmp::Reverse(i))
                });
            match best {
                Some(i) => take(i, &mut chosen, &mut room, &mut score),
                None => break,
            }
        }
        chosen
    };
    let arrows = |chosen: &[bool]| -> u64 {
        pairs
            .iter()
            .filter(|((a, b), _)| chosen[*a] && chosen[*b])
            .map(|(_, c)| c)
            .sum()
    };
    // The greedy pick, unless the lanes in scenario order happen to show more.
    let (busy, ordered) = (pick(true), pick(false));
    let chosen = if arrows(&ordered) > arrows(&busy) {
        ordered
    } else {
        busy
    };
    let drawn: IndexSet<String> = nodes
        .iter()
        .chain(clients)
        .enumerate()
        .filter(|(i, _)| chosen[*i])
        .map(|(_, l)| l.clone())
        .collect();
    let mut left: Vec<usize> = (0..n).filter(|&i| !chosen[i] && total[i] > 0).collect();
    left.sort_by_key(|&i| (std::cmp::Reverse(total[i]), i));
    let busiest = left
        .into_iter()
        .take(NAMED_LEFT_OUT)
        .map(|i| {
            let name = if is_client(i) {
                &clients[i - nodes.len()]
            } else {
                &nodes[i]
            };
            (name.clone(), total[i])
        })
        .collect();
    (drawn, busiest)
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

#[cfg(test)]
mod lane_choice {
    use super::*;

    fn msg(from: &str, to: &str) -> Msg {
        Msg {
            from: from.into(),
            to: to.into(),
            text: "Ping".into(),
            kind: "Ping".into(),
            sent: Time::ZERO,
            at: Time::ZERO,
            fate: Fate::Delivered,
            duplicate: false,
            send_event: None,
            end_event: None,
        }
    }

    fn names(prefix: &str, n: usize) -> IndexSet<String> {
        (1..=n).map(|i| format!("{prefix}{i}")).collect()
    }

    fn among(msgs: &[Msg], drawn: &IndexSet<String>) -> usize {
        msgs.iter()
            .filter(|m| drawn.contains(&m.from) && drawn.contains(&m.to))
            .count()
    }

    /// 100 nodes; the traffic is among n61..n100 (a ring, each pair 3 times), and
    /// n1..n60 send one message each to a random far node: the first 32 ids carry no
    /// arrow among them, the chosen lanes a connected run of the ring.
    #[test]
    fn the_lanes_that_carry_the_traffic_are_drawn_not_the_first_ids() {
        let nodes = names("n", 100);
        let mut msgs = Vec::new();
        for i in 61..=100 {
            let next = if i == 100 { 61 } else { i + 1 };
            for _ in 0..3 {
                msgs.push(msg(&format!("n{i}"), &format!("n{next}")));
            }
        }
        for i in 1..=60 {
            msgs.push(msg(&format!("n{i}"), &format!("n{}", 61 + (i * 7) % 40)));
        }
        let first: IndexSet<String> = nodes.iter().take(MAX_LANES).cloned().collect();
        assert_eq!(among(&msgs, &first), 0, "the old cut drew no arrow");
        let (drawn, left) = choose_lanes(&msgs, &nodes, &IndexSet::new(), &[]);
        assert_eq!(drawn.len(), MAX_LANES);
        assert!(
            among(&msgs, &drawn) >= 3 * (MAX_LANES - 1),
            "a connected run of the ring: {} arrows among {drawn:?}",
            among(&msgs, &drawn)
        );
        assert!(drawn.iter().all(|l| l[1..].parse::<u32>().unwrap() > 60));
        // In scenario order, and the same every time.
        let order: Vec<usize> = drawn
            .iter()
            .map(|l| nodes.get_index_of(l).unwrap())
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{drawn:?}");
        assert_eq!(
            choose_lanes(&msgs, &nodes, &IndexSet::new(), &[]),
            (drawn.clone(), left.clone())
        );
        // The busiest left out, busiest first, none of them drawn.
        assert_eq!(left.len(), NAMED_LEFT_OUT);
        assert!(left.windows(2).all(|w| w[0].1 >= w[1].1), "{left:?}");
        assert!(left.iter().all(|(l, n)| !drawn.contains(l) && *n >= 6));
    }

    #[test]
    fn lanes_asked_for_are_drawn_and_clients_have_room_of_their_own() {
        let nodes = names("n", 40);
        let clients = names("c", 40);
        let mut msgs = Vec::new();
        for c in 1..=40 {
            for _ in 0..c {
                msgs.push(msg(&format!("c{c}"), "n1"));
            }
        }
        let (drawn, _) = choose_lanes(&msgs, &nodes, &clients, &["n40", "c2", "nope"]);
        let drawn_clients = drawn.iter().filter(|l| clients.contains(*l)).count();
        assert_eq!(drawn_clients, MAX_LANES);
        assert_eq!(drawn.len() - drawn_clients, MAX_LANES);
        assert!(drawn.contains("n40") && drawn.contains("c2") && drawn.contains("n1"));
        // The busiest clients fill the rest: c10..c40 besides c2.
        for c in 10..=40 {
            assert!(drawn.contains(&format!("c{c}")), "c{c}: {drawn:?}");
        }
    }

    /// No traffic to go by: the first lanes in order, as before.
    #[test]
    fn with_no_messages_the_first_lanes_are_drawn() {
        let nodes = names("n", 50);
        let (drawn, left) = choose_lanes(&[], &nodes, &IndexSet::new(), &[]);
        let first: IndexSet<String> = nodes.iter().take(MAX_LANES).cloned().collect();
        assert_eq!(drawn, first);
        assert!(left.is_empty());
    }
}
