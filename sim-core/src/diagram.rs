//! A picture of a run: an SVG timeline with one lane per node and client, an arrow per
//! message, crosses for lost messages, shaded spans for partitions and crashes, bars for
//! client operations, and red marks for violations. Hover over anything for its details.
//!
//! Nodes that note their role the way faultline's protocols do (`role=leader term=3`,
//! `role=follower ...`) get a gold bar for every span in which they believed they led, so
//! two overlapping bars are split-brain at a glance.
//!
//! Made from a [`Trace`] recorded at [`TraceLevel::Full`](crate::TraceLevel::Full)
//! (at `Summary` the picture has no messages). Pure text in, text out: the same trace
//! always gives the same bytes.

use crate::time::Time;
use crate::trace::{Trace, TraceKind};
use indexmap::IndexMap;
use std::collections::VecDeque;
use std::fmt::Write as _;

const WIDTH: f64 = 1400.0;
const LEFT: f64 = 90.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 60.0;
const LANE: f64 = 46.0;
/// Most message arrows drawn; past it the picture says how many were left out.
pub const MAX_ARROWS: usize = 20_000;

/// Where a label of `chars` characters at font size `size`, meant to start at `x`, keeps
/// inside the picture: the x to write and its `text-anchor`. One that would run past the
/// right edge ends at the edge instead.
fn fit(x: f64, chars: usize, size: f64) -> (f64, &'static str) {
    let width = 0.6 * size * chars as f64;
    if x + width > WIDTH - 2.0 {
        (WIDTH - 2.0, "end")
    } else {
        (x, "start")
    }
}

/// The rows (y) that partition labels are written on, above the lanes.
const BAND_ROWS: [f64; 2] = [TOP - 12.0, TOP - 24.0];

/// A shaded band for a partition from `from` to `to`: over every lane, or over `lane`
/// alone (an isolated node). Its label goes on the first row above the lanes where it
/// does not overprint an earlier one (`rows` holds where each row's last label ends); with
/// no free row it is left to the band's hover text.
fn partition_band(
    body: &mut String,
    c: &Canvas,
    (from, to): (Time, Time),
    label: &str,
    lane: Option<&str>,
    rows: &mut [f64; 2],
) {
    let (x1, x2) = (c.x(from), c.x(to));
    let (y, height) = match lane {
        Some(node) => (c.y(node) - LANE / 2.0 + 2.0, LANE - 4.0),
        None => (TOP - 4.0, LANE * c.lanes.len() as f64 + 4.0),
    };
    let _ = writeln!(
        body,
        r##"<rect x="{x1:.1}" y="{y:.1}" width="{:.1}" height="{height:.1}" fill="#f4a261" opacity="0.15"><title>{}</title></rect>"##,
        (x2 - x1).max(1.0),
        esc(label),
    );
    let chars = label.chars().count();
    let (x, anchor) = fit(x1 + 3.0, chars, 11.0);
    let start = if anchor == "end" {
        x - 6.6 * chars as f64
    } else {
        x
    };
    if let Some(row) = rows.iter().position(|&end| start > end + 4.0) {
        rows[row] = start + 6.6 * chars as f64;
        let _ = writeln!(
            body,
            r##"<text x="{x:.1}" y="{:.1}" fill="#c06000" text-anchor="{anchor}">{}</text>"##,
            BAND_ROWS[row],
            esc(label)
        );
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

struct Canvas {
    lanes: IndexMap<String, usize>,
    end: Time,
}

impl Canvas {
    fn x(&self, t: Time) -> f64 {
        let span = self.end.as_nanos().max(1) as f64;
        LEFT + (WIDTH - LEFT - RIGHT) * (t.as_nanos() as f64 / span)
    }
    fn y(&self, name: &str) -> f64 {
        TOP + LANE * (*self.lanes.get(name).unwrap_or(&0) as f64) + LANE / 2.0
    }
}

fn endpoints(kind: &TraceKind) -> Vec<&str> {
    match kind {
        TraceKind::Start { node, .. }
        | TraceKind::Timer { node, .. }
        | TraceKind::Note { node, .. }
        | TraceKind::Append { node, .. }
        | TraceKind::Disk { node, .. } => vec![node],
        TraceKind::Send { from, to, .. }
        | TraceKind::Deliver { from, to, .. }
        | TraceKind::Drop { from, to, .. }
        | TraceKind::Duplicate { from, to, .. } => vec![from, to],
        TraceKind::Invoke { client, .. } | TraceKind::Complete { client, .. } => vec![client],
        TraceKind::Fault { .. } | TraceKind::Violation { .. } => vec![],
    }
}

/// Renders the trace as a standalone SVG document. `title` is printed at the top.
pub fn svg(trace: &Trace, title: &str) -> String {
    let mut lanes: IndexMap<String, usize> = IndexMap::new();
    for e in &trace.events {
        for name in endpoints(&e.kind) {
            let next = lanes.len();
            lanes.entry(name.to_string()).or_insert(next);
        }
    }
    let end = trace.events.last().map_or(Time::ZERO, |e| e.time);
    let c = Canvas { lanes, end };
    let height = TOP + LANE * c.lanes.len() as f64 + 50.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="monospace" font-size="11">"#
    );
    let _ = writeln!(
        out,
        r##"<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="5" markerHeight="5" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#4a6fa5"/></marker></defs>"##
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="{LEFT}" y="20" font-size="14">{}</text>"#,
        esc(title)
    );
    // Time axis: round steps (1, 2 or 5 times a power of ten), about ten of them.
    let step = nice_step(end.as_nanos() / 10);
    for k in 0..=end.as_nanos() / step {
        let t = Time::from_nanos(step * k);
        let (x, label) = (c.x(t), t.readable());
        let _ = writeln!(
            out,
            r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#eee"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" fill="#888">{label}</text>"##,
            TOP - 8.0,
            height - 40.0,
            height - 25.0
        );
    }
    // Lanes.
    for (name, &i) in &c.lanes {
        let y = TOP + LANE * i as f64 + LANE / 2.0;
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#999"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            WIDTH - RIGHT,
            LEFT - 10.0,
            y + 4.0,
            esc(name)
        );
    }
    let mut body = String::new();
    // Busy runs (heartbeats) would hide everything else: fade arrows as they multiply.
    let messages = trace
        .events
        .iter()
        .filter(|e| matches!(e.kind, TraceKind::Deliver { .. } | TraceKind::Drop { .. }))
        .count()
        .min(MAX_ARROWS);
    let fade = (400.0 / messages.max(1) as f64).clamp(0.12, 1.0);
    let mut lines = format!("<g opacity=\"{fade:.2}\">\n");
    let mut arrows = 0usize;
    let mut left_out = 0usize;
    let mut in_flight: IndexMap<(String, String, String), VecDeque<Time>> = IndexMap::new();
    let mut partition: Option<(Time, String)> = None;
    let mut crashed: IndexMap<String, Time> = IndexMap::new();
    let mut paused: IndexMap<String, Time> = IndexMap::new();
    // Who believes it leads, since when, and the rest of its note ("term=3").
    let mut leading: IndexMap<String, (Time, String)> = IndexMap::new();
    // Where the last note label on each lane ends, so labels do not overprint.
    let mut label_end: IndexMap<String, f64> = IndexMap::new();
    let mut open_ops: IndexMap<String, (Time, String)> = IndexMap::new();
    let mut band_rows = [f64::NEG_INFINITY; 2];
    // An isolated node's band covers its lane only; other cuts involve every lane.
    let lane_of = |fault: &str| -> Option<String> {
        let node = fault.strip_prefix("isolate ")?;
        c.lanes.contains_key(node).then(|| node.to_string())
    };
    let mut band = |body: &mut String, from: Time, to: Time, label: &str| {
        let lane = lane_of(label);
        partition_band(body, &c, (from, to), label, lane.as_deref(), &mut band_rows);
    };
    for e in &trace.events {
        match &e.kind {
            TraceKind::Send { from, to, msg } => {
                in_flight
                    .entry((from.clone(), to.clone(), msg.clone()))
                    .or_default()
                    .push_back(e.time);
            }
            TraceKind::Duplicate { from, to, msg } => {
                in_flight
                    .entry((from.clone(), to.clone(), msg.clone()))
                    .or_default()
                    .push_back(e.time);
            }
            TraceKind::Deliver { from, to, msg } | TraceKind::Drop { from, to, msg, .. } => {
                let key = (from.clone(), to.clone(), msg.clone());
                let sent = in_flight
                    .get_mut(&key)
                    .and_then(VecDeque::pop_front)
                    .unwrap_or(e.time);
                if arrows >= MAX_ARROWS {
                    left_out += 1;
                    continue;
                }
                arrows += 1;
                let (x1, y1, x2, y2) = (c.x(sent), c.y(from), c.x(e.time), c.y(to));
                if let TraceKind::Drop { reason, .. } = &e.kind {
                    // Lost: a dashed red line that stops short, and a cross where it died.
                    let (mx, my) = if x2 > x1 {
                        (x2, y1 + (y2 - y1) * 0.5)
                    } else {
                        (x1 + 6.0, y1 + (y2 - y1) * 0.25)
                    };
                    let _ = writeln!(
                        lines,
                        r##"<g stroke="#d62828"><title>{} -x {}: {} (lost: {}) sent {sent}, lost {}</title><line x1="{x1:.1}" y1="{y1:.1}" x2="{mx:.1}" y2="{my:.1}" stroke-dasharray="3,2"/><path d="M {:.1} {:.1} l 6 6 m 0 -6 l -6 6"/></g>"##,
                        esc(from),
                        esc(to),
                        esc(msg),
                        reason.as_str(),
                        e.time,
                        mx - 3.0,
                        my - 3.0
                    );
                } else {
                    let _ = writeln!(
                        lines,
                        r##"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="#4a6fa5" stroke-width="0.8" marker-end="url(#arrow)"><title>{} -> {}: {} ({sent} -> {})</title></line>"##,
                        esc(from),
                        esc(to),
                        esc(msg),
                        e.time
                    );
                }
            }
            TraceKind::Fault { fault } => {
                let x = c.x(e.time);
                if fault.starts_with("partition")
                    || fault.starts_with("isolate")
                    || fault.starts_with("one-way")
                    || fault.starts_with("bridge")
                {
                    if let Some((since, label)) = partition.take() {
                        band(&mut body, since, e.time, &label);
                    }
                    partition = Some((e.time, fault.clone()));
                } else if fault == "heal" {
                    if let Some((since, label)) = partition.take() {
                        band(&mut body, since, e.time, &label);
                    }
                } else if let Some(node) = fault.strip_prefix("crash ") {
                    // `crash n2: lost 3 unsynced records` is a crash too.
                    let node = node.split_once(": lost ").map_or(node, |(n, _)| n);
                    if !node.contains(' ') {
                        crashed.insert(node.to_string(), e.time);
                        if let Some((since, label)) = leading.shift_remove(node) {
                            lead_bar(&mut body, &c, node, since, e.time, &label);
                        }
                    }
                } else if let Some(node) = fault.strip_prefix("pause ") {
                    if !node.contains(' ') {
                        paused.insert(node.to_string(), e.time);
                    }
                } else if let Some(node) = fault.strip_prefix("resume ") {
                    if let Some(since) = paused.shift_remove(node) {
                        span(&mut body, &c, node, since, e.time, "paused");
                    }
                } else if let Some(node) = fault.strip_prefix("restart ") {
                    if let Some(since) = crashed.shift_remove(node) {
                        span(&mut body, &c, node, since, e.time, "crashed");
                    }
                } else {
                    let _ = writeln!(
                        body,
                        r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#9b5de5" stroke-dasharray="2,3"><title>{}</title></line>"##,
                        TOP,
                        TOP + LANE * c.lanes.len() as f64,
                        esc(fault)
                    );
                }
            }
            TraceKind::Note { node, text } => {
                if let Some(role) = text.strip_prefix("role=") {
                    if let Some((since, label)) = leading.shift_remove(node.as_str()) {
                        lead_bar(&mut body, &c, node, since, e.time, &label);
                    }
                    if let Some(rest) = role.strip_prefix("leader") {
                        leading.insert(node.clone(), (e.time, rest.trim().to_string()));
                    }
                }
                let (x, y) = (c.x(e.time), c.y(node));
                // Label the dot only where the lane has room; hover shows every note.
                let label: String = text.chars().take(28).collect();
                let free = label_end.get(node.as_str()).is_none_or(|&end| x > end);
                let text_el = if free {
                    label_end.insert(node.clone(), x + 4.0 + 5.5 * label.chars().count() as f64);
                    let (lx, anchor) = fit(x + 4.0, label.chars().count(), 9.0);
                    format!(
                        r##"<text x="{lx:.1}" y="{:.1}" fill="#2a9d8f" font-size="9" text-anchor="{anchor}">{}</text>"##,
                        y - 7.0,
                        esc(&label)
                    )
                } else {
                    String::new()
                };
                let _ = writeln!(
                    body,
                    r##"<g><title>{} {}: {}</title><circle cx="{x:.1}" cy="{y:.1}" r="3.5" fill="#2a9d8f"/>{text_el}</g>"##,
                    e.time,
                    esc(node),
                    esc(text),
                );
            }
            TraceKind::Invoke { client, op, .. } => {
                open_ops.insert(client.clone(), (e.time, op.clone()));
            }
            TraceKind::Complete {
                client,
                outcome,
                op,
                ..
            } => {
                let since = open_ops.shift_remove(client).map_or(e.time, |(t, _)| t);
                let colour = match outcome.as_str() {
                    "ok" => "#2a9d8f",
                    "fail" => "#d62828",
                    _ => "#f4a261",
                };
                let (x1, x2, y) = (c.x(since), c.x(e.time), c.y(client));
                let _ = writeln!(
                    body,
                    r#"<rect x="{x1:.1}" y="{:.1}" width="{:.1}" height="8" fill="{colour}" opacity="0.8"><title>{} {outcome} {} ({since} -> {})</title></rect>"#,
                    y - 4.0,
                    (x2 - x1).max(1.5),
                    esc(client),
                    esc(op),
                    e.time
                );
            }
            TraceKind::Violation { check, message } => {
                let x = c.x(e.time);
                // Ending at the line, unless that runs off the left edge.
                let chars = "VIOLATION ".len() + check.chars().count();
                let (lx, anchor) = if x - 4.0 - 6.6 * chars as f64 > 2.0 {
                    (x - 4.0, "end")
                } else {
                    fit(x + 4.0, chars, 11.0)
                };
                let _ = writeln!(
                    body,
                    r##"<g><title>{}: {}</title><line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#d62828" stroke-width="2"/><text x="{lx:.1}" y="{:.1}" fill="#d62828" font-weight="bold" text-anchor="{anchor}">VIOLATION {}</text></g>"##,
                    esc(check),
                    esc(message),
                    TOP - 6.0,
                    TOP + LANE * c.lanes.len() as f64,
                    TOP + LANE * c.lanes.len() as f64 + 14.0,
                    esc(check)
                );
            }
            TraceKind::Start { .. }
            | TraceKind::Timer { .. }
            | TraceKind::Append { .. }
            | TraceKind::Disk { .. } => {}
        }
    }
    if let Some((since, label)) = partition.take() {
        band(&mut body, since, end, &label);
    }
    for (node, since) in &crashed {
        span(&mut body, &c, node, *since, end, "crashed");
    }
    for (node, since) in &paused {
        span(&mut body, &c, node, *since, end, "paused");
    }
    for (node, (since, label)) in &leading {
        lead_bar(&mut body, &c, node, *since, end, label);
    }
    lines.push_str("</g>\n");
    out.push_str(&lines);
    out.push_str(&body);
    if left_out > 0 {
        let _ = writeln!(
            out,
            r##"<text x="{LEFT}" y="{:.1}" fill="#d62828">{left_out} more messages not drawn (the picture shows the first {MAX_ARROWS})</text>"##,
            height - 8.0
        );
    }
    out.push_str("</svg>\n");
    out
}

/// The smallest 1, 2 or 5 times a power of ten (in ns, at least 1) that is >= `raw`.
fn nice_step(raw: u64) -> u64 {
    let mut p = 1u64;
    loop {
        for m in [1, 2, 5] {
            if p.saturating_mul(m) >= raw {
                return p.saturating_mul(m).max(1);
            }
        }
        p = p.saturating_mul(10);
    }
}

/// A gold bar under a node's lane for the time it believed it was leader.
fn lead_bar(body: &mut String, c: &Canvas, node: &str, from: Time, to: Time, label: &str) {
    let (x1, x2, y) = (c.x(from), c.x(to), c.y(node));
    let (lx, anchor) = fit(x1 + 3.0, "leader ".len() + label.chars().count(), 9.0);
    let _ = writeln!(
        body,
        r##"<g><title>{} leader {} {from} -> {to}</title><rect x="{x1:.1}" y="{:.1}" width="{:.1}" height="7" fill="#e9c46a"/><text x="{lx:.1}" y="{:.1}" fill="#8a6d00" font-size="9" font-weight="bold" text-anchor="{anchor}">leader {}</text></g>"##,
        esc(node),
        esc(label),
        y + 3.0,
        (x2 - x1).max(1.0),
        y + 19.0,
        esc(label)
    );
}

/// A shaded span on a node's lane: `what` is "crashed" or "paused".
fn span(body: &mut String, c: &Canvas, node: &str, from: Time, to: Time, what: &str) {
    let (x1, x2, y) = (c.x(from), c.x(to), c.y(node));
    let colour = if what == "paused" { "#9b5de5" } else { "#444" };
    let (lx, anchor) = fit(x1 + 3.0, what.chars().count(), 9.0);
    let _ = writeln!(
        body,
        r##"<g><title>{} {what} {from} -> {to}</title><rect x="{x1:.1}" y="{:.1}" width="{:.1}" height="16" fill="{colour}" opacity="0.25"/><text x="{lx:.1}" y="{:.1}" fill="{colour}" font-size="9" text-anchor="{anchor}">{what}</text></g>"##,
        esc(node),
        y - 8.0,
        (x2 - x1).max(1.0),
        y + 18.0
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{DropReason, TraceEvent, TraceLevel};

    #[test]
    fn draws_lanes_arrows_losses_and_spans() {
        let t = |ms: u64| Time::from_nanos(ms * 1_000_000);
        let s = |x: &str| x.to_string();
        let ev = |time, kind| TraceEvent { time, kind };
        let trace = Trace {
            level: TraceLevel::Full,
            events: vec![
                ev(
                    t(0),
                    TraceKind::Start {
                        node: s("n1"),
                        restart: false,
                    },
                ),
                ev(
                    t(0),
                    TraceKind::Start {
                        node: s("n2"),
                        restart: false,
                    },
                ),
                ev(
                    t(1),
                    TraceKind::Send {
                        from: s("n1"),
                        to: s("n2"),
                        msg: s("Ping<1>"),
                    },
                ),
                ev(
                    t(3),
                    TraceKind::Deliver {
                        from: s("n1"),
                        to: s("n2"),
                        msg: s("Ping<1>"),
                    },
                ),
                ev(
                    t(4),
                    TraceKind::Fault {
                        fault: s("partition {n1} | {n2}"),
                    },
                ),
                ev(
                    t(5),
                    TraceKind::Send {
                        from: s("n2"),
                        to: s("n1"),
                        msg: s("Pong"),
                    },
                ),
                ev(
                    t(5),
                    TraceKind::Drop {
                        from: s("n2"),
                        to: s("n1"),
                        msg: s("Pong"),
                        reason: DropReason::Partition,
                    },
                ),
                ev(t(6), TraceKind::Fault { fault: s("heal") }),
                ev(
                    t(7),
                    TraceKind::Fault {
                        fault: s("crash n2"),
                    },
                ),
                ev(
                    t(8),
                    TraceKind::Note {
                        node: s("n1"),
                        text: s("role=leader term=2"),
                    },
                ),
                ev(
                    t(9),
                    TraceKind::Violation {
                        check: s("demo"),
                        message: s("two leaders"),
                    },
                ),
            ],
        };
        let a = svg(&trace, "demo");
        assert_eq!(a, svg(&trace, "demo"), "deterministic");
        assert!(a.starts_with("<svg") && a.ends_with("</svg>\n"));
        assert_eq!(a.matches("marker-end").count(), 1, "one delivered message");
        assert!(a.contains("n2 -x n1: Pong (lost: partition)"));
        assert!(a.contains("Ping&lt;1&gt;"), "escaped");
        assert!(a.contains("partition {n1} | {n2}"));
        assert!(a.contains("crashed"));
        assert!(a.contains("VIOLATION demo"));
        assert!(a.contains("role=leader term=2"));
    }

    fn node_event(ms: u64, kind: TraceKind) -> TraceEvent {
        TraceEvent {
            time: Time::from_nanos(ms * 1_000_000),
            kind,
        }
    }

    fn start(node: &str) -> TraceEvent {
        node_event(
            0,
            TraceKind::Start {
                node: node.into(),
                restart: false,
            },
        )
    }

    fn fault(ms: u64, text: &str) -> TraceEvent {
        node_event(ms, TraceKind::Fault { fault: text.into() })
    }

    /// The `<text>` elements: (x, y, anchor, text, width at its font size).
    fn texts(svg: &str) -> Vec<(f64, f64, String, String, f64)> {
        svg.split("<text ")
            .skip(1)
            .map(|t| {
                let attr = |name: &str| {
                    t.split(&format!("{name}=\""))
                        .nth(1)
                        .and_then(|r| r.split('"').next())
                        .unwrap_or("")
                        .to_string()
                };
                let body = t
                    .split('>')
                    .nth(1)
                    .unwrap_or("")
                    .split('<')
                    .next()
                    .unwrap_or("");
                let size: f64 = attr("font-size").parse().unwrap_or(11.0);
                (
                    attr("x").parse().unwrap_or(0.0),
                    attr("y").parse().unwrap_or(0.0),
                    attr("text-anchor"),
                    body.to_string(),
                    0.6 * size * body.chars().count() as f64,
                )
            })
            .collect()
    }

    #[test]
    fn an_isolate_band_shades_only_the_isolated_lane() {
        let trace = Trace {
            level: TraceLevel::Full,
            events: vec![
                start("n1"),
                start("n2"),
                start("n3"),
                fault(10, "isolate n2"),
                fault(50, "heal"),
                fault(60, "partition {n1} | {n2 n3}"),
                fault(90, "heal"),
            ],
        };
        let svg = svg(&trace, "isolate");
        let bands: Vec<&str> = svg
            .lines()
            .filter(|l| l.contains("fill=\"#f4a261\""))
            .collect();
        assert_eq!(bands.len(), 2, "{svg}");
        let height = |l: &str| -> f64 {
            l.split("height=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        };
        let y = |l: &str| -> f64 {
            l.split(" y=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        };
        assert!(bands[0].contains("<title>isolate n2</title>"));
        assert!(height(bands[0]) < LANE, "one lane: {}", bands[0]);
        assert!(
            y(bands[0]) > TOP + LANE - 1.0 && y(bands[0]) < TOP + 2.0 * LANE,
            "n2's lane"
        );
        assert!(
            height(bands[1]) > 3.0 * LANE,
            "a partition shades every lane"
        );
    }

    #[test]
    fn labels_stay_inside_the_picture_and_fault_labels_do_not_overprint() {
        let mut events = vec![start("n1"), start("n2")];
        // Partitions in quick succession: their labels would start a few pixels apart.
        for k in 0..4 {
            events.push(fault(10 + k, "partition {n1} | {n2}"));
        }
        events.push(fault(20, "heal"));
        // A note, a leader and a crash right at the end of the run.
        events.push(node_event(
            99,
            TraceKind::Note {
                node: "n1".into(),
                text: "role=leader term=12".into(),
            },
        ));
        events.push(fault(99, "crash n2"));
        events.push(fault(100, "partition {n1} | {n2}"));
        let svg = svg(
            &Trace {
                level: TraceLevel::Full,
                events,
            },
            "edges",
        );
        let texts = texts(&svg);
        for (x, _, anchor, body, width) in &texts {
            let (left, right) = match anchor.as_str() {
                "end" => (x - width, *x),
                "middle" => (x - width / 2.0, x + width / 2.0),
                _ => (*x, x + width),
            };
            let (left, right) = (left + 0.01, right - 0.01);
            assert!(
                left >= 0.0 && right <= WIDTH,
                "{body:?} at {x} ({anchor}) leaves the picture"
            );
        }
        // Partition labels: none overprints another on its row.
        let mut labels: Vec<(f64, f64, f64)> = texts
            .iter()
            .filter(|(_, _, _, b, _)| b.starts_with("partition"))
            .map(|(x, y, anchor, _, w)| {
                let w = *w;
                let left = if anchor == "end" { x - w } else { *x };
                (*y, left, left + w)
            })
            .collect();
        assert!(labels.len() >= 2, "{labels:?}");
        labels.sort_by(|a, b| a.partial_cmp(b).unwrap());
        for pair in labels.windows(2) {
            let ((y1, _, end1), (y2, start2, _)) = (pair[0], pair[1]);
            assert!(y1 != y2 || start2 > end1, "overprint: {labels:?}");
        }
    }
}
