//! `faultline run FILE --html run.html`: one self-contained page per run. The page holds
//! the run's data as JSON and a script that draws it (space-time diagram, zoom and pan,
//! time cursor, filters, details, the clients' history); its CSS and script are inline,
//! so it opens from disk with no network.
//!
//! Size: a page holds at most [`MAX_MESSAGES`] messages and [`MAX_LINES`] trace lines of
//! its window; past either it keeps the first ones and says so in its header, with a
//! window to draw instead. It draws at most [`crate::view::MAX_LANES`] node lanes and as
//! many client lanes (those that carry the window's messages among themselves:
//! [`crate::view::choose_lanes`]), and a run's trace past [`crate::view::PICTURE_EVENTS`] events is
//! drawn up to where it stopped; both say so in the header, which also counts the
//! window's messages per lane (every lane) and per kind. Nothing is left out silently.
//! So every page is bounded whatever the run: under 5 MB, and drawn by headless
//! Chromium in under 10 s of virtual time (`tests/html_browser.rs` checks both on every
//! shipped scenario).

use crate::view::{Fate, RunView, SpanKind};
use indexmap::IndexMap;
use serde_json::{Value, json};

const CSS: &str = include_str!("html/page.css");
const JS: &str = include_str!("html/page.js");

/// Most messages one page draws.
pub const MAX_MESSAGES: usize = 12_000;
/// Most trace lines one page holds (for the details panel and notes).
pub const MAX_LINES: usize = 40_000;
/// Past this many arrows in its window a diagram is too dense to read: the page and the
/// command say so and suggest a window.
pub const READABLE_ARROWS: usize = 3_000;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The page's data: what the script reads from `<script id="data">`.
pub fn page_data(v: &RunView) -> Value {
    let lane_index: IndexMap<&str, usize> = v
        .lanes
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i))
        .collect();
    let lane = |name: &str| lane_index.get(name).map_or(-1i64, |&i| i as i64);
    let range = v.window_events();
    let mut truncated: Vec<String> = Vec::new();
    let off = range.start;
    let mut end_line = range.end;
    if range.len() > MAX_LINES {
        end_line = off + MAX_LINES;
        truncated.push(format!(
            "this page holds the first {MAX_LINES} of the window's {} trace lines (up to {}); draw a narrower window with --from/--to to see the rest",
            range.len(),
            v.times[end_line - 1]
        ));
    }
    let lines: Vec<Value> = (off..end_line)
        .map(|i| json!([v.times[i].as_nanos(), v.lines[i]]))
        .collect();
    let mut kinds: IndexMap<&str, usize> = IndexMap::new();
    let mut msgs = Vec::new();
    for m in v.msgs.iter().take(MAX_MESSAGES) {
        let next = kinds.len();
        let k = *kinds.entry(m.kind.as_str()).or_insert(next);
        let (fate, reason) = match &m.fate {
            Fate::Delivered => (0, ""),
            Fate::Dropped(r) => (1, *r),
            Fate::InFlight => (2, ""),
        };
        msgs.push(json!([
            lane(&m.from),
            lane(&m.to),
            m.sent.as_nanos(),
            m.at.as_nanos(),
            k,
            fate,
            u8::from(m.duplicate),
            reason,
            m.send_event.map_or(-1, |i| i as i64),
            m.end_event.map_or(-1, |i| i as i64),
            m.text
        ]));
    }
    if v.msgs.len() > MAX_MESSAGES {
        let last = v.msgs[MAX_MESSAGES - 1].at;
        truncated.push(format!(
            "this page draws the first {MAX_MESSAGES} of the window's {} messages (up to {last}); draw a narrower window with --from/--to to see the rest",
            v.msgs.len()
        ));
    }
    let spans: Vec<Value> = v
        .spans
        .iter()
        .map(|s| {
            let (kind, label) = match &s.kind {
                SpanKind::Crashed => ("crashed", ""),
                SpanKind::Paused => ("paused", ""),
                SpanKind::Leader(l) => ("leader", l.as_str()),
            };
            json!([
                lane(&s.lane),
                s.from.as_nanos(),
                s.to.as_nanos(),
                kind,
                label,
                -1
            ])
        })
        .collect();
    let cuts: Vec<Value> = v
        .cuts
        .iter()
        .map(|c| {
            let groups: Vec<Vec<i64>> = c
                .groups
                .iter()
                .map(|g| g.iter().map(|n| lane(n)).filter(|&i| i >= 0).collect())
                .collect();
            json!([
                c.from.as_nanos(),
                c.to.as_nanos(),
                c.label,
                groups,
                c.one_way,
                -1
            ])
        })
        .collect();
    let marks: Vec<Value> = v
        .marks
        .iter()
        .map(|m| {
            json!([
                m.lane.as_deref().map_or(-1, lane),
                m.time.as_nanos(),
                m.label,
                m.event
            ])
        })
        .collect();
    let notes: Vec<Value> = v
        .notes
        .iter()
        .filter(|(i, _, _)| *i < end_line)
        .map(|(i, l, t)| json!([i, lane(l), t]))
        .collect();
    let ops: Vec<Value> = v
        .ops
        .iter()
        .map(|o| {
            json!([
                lane(&o.client),
                o.process,
                o.op,
                o.invoked.as_nanos(),
                o.completed.map_or(-1, |t| t.as_nanos() as i64),
                o.outcome,
                o.invoke_event,
                o.complete_event.map_or(-1, |i| i as i64),
                o.stuck
            ])
        })
        .collect();
    let violation = v.violation.as_ref().map(|x| {
        let ev = v
            .lines
            .iter()
            .position(|l| l.contains("!! VIOLATION"))
            .map_or(-1, |i| i as i64);
        json!({
            "check": x.check,
            "time": x.time.as_nanos(),
            "message": x.message,
            "nodes": x.nodes.iter().map(|n| lane(n)).collect::<Vec<_>>(),
            "ev": ev,
            "inWindow": v.window.contains(x.time),
        })
    });
    let lanes: Vec<Value> = v
        .lanes
        .iter()
        .enumerate()
        .map(|(i, l)| json!({"name": l, "client": i >= v.lanes.len() - v.clients}))
        .collect();
    json!({
        "meta": {
            "name": v.name,
            "scenario": v.scenario,
            "protocol": v.protocol,
            "seed": v.seed,
            "verdict": v.verdict,
            "expected": v.expected,
            "matched": v.matched,
            "replay": v.replay,
            "end": v.end.as_nanos(),
            "from": v.window.from.as_nanos(),
            "to": v.window.to.as_nanos(),
            "events": range.len(),
            "notice": v.unreadable(READABLE_ARROWS),
            "truncated": if truncated.is_empty() { Value::Null } else { json!(truncated.join("; ")) },
            "summary": v.summarized(),
        },
        "counts": [
            {
                "title": "messages per lane in the window, every lane counted",
                "head": ["lane", "sent", "delivered to", "lost of its sends"],
                "rows": v.lane_counts.iter().map(|(l, a, b, c)| json!([l, a, b, c])).collect::<Vec<_>>(),
            },
            {
                "title": "messages per kind in the window, every lane counted",
                "head": ["kind", "delivered", "lost", "on the wire at the end"],
                "rows": v.kind_counts.iter().map(|(l, a, b, c)| json!([l, a, b, c])).collect::<Vec<_>>(),
            },
        ],
        "lanes": lanes,
        "kinds": kinds.keys().collect::<Vec<_>>(),
        "off": off,
        "lines": lines,
        "msgs": msgs,
        "spans": spans,
        "cuts": cuts,
        "marks": marks,
        "notes": notes,
        "ops": ops,
        "violation": violation,
    })
}

/// The whole page.
pub fn page(v: &RunView) -> String {
    // `<` appears only inside JSON strings, where `\u003c` means the same: the script
    // element cannot be closed or commented out by a message's text.
    let data = page_data(v).to_string().replace('<', "\\u003c");
    let title = format!("{} (seed {}): {}", v.name, v.seed, v.verdict);
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
{CSS}</style>
</head>
<body>
<div id="header"></div>
<div id="controls"></div>
<div id="diagram-box"><svg id="diagram" xmlns="http://www.w3.org/2000/svg"></svg></div>
<h2>clients' history</h2>
<svg id="history" xmlns="http://www.w3.org/2000/svg"></svg>
<div id="panels"><div id="cursor-panel"><h2>time cursor</h2><p>Click the diagram or move the cursor slider: each node's latest note and the messages in flight show here.</p></div><div id="details"><h2>details</h2><p>Hover an arrow for its message; click any mark for its trace line.</p></div></div>
<div id="tip"></div>
<div id="render-status" hidden>pending</div>
<noscript>This page draws the run with its inline script: allow scripts to see it.</noscript>
<script type="application/json" id="data">{data}</script>
<script>
{JS}</script>
</body>
</html>
"#,
        title = esc(&title)
    )
}
