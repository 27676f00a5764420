//! A picture of a run: who believed it was leader when, one row per node.
//!
//! ```text
//!          0s        1s        2s        3s        4s
//!          |         |         |         |         |
//! n1       .111111111111111111111111.................
//! n2       ...........................22222222222222
//! faults   .....................P...................
//! ```
//!
//! A cell is one slice of virtual time. A digit is the generation or term the node led
//! during that slice (two leaders in one column is the split-brain), `.` is a running
//! non-leader, `b` blocked (from a note `blocked on ...` until one `unblocked ...`: a 2PC
//! participant holding locks while it waits for a decision), `z` paused, `x` crashed.
//! When a term of 10 or more was led, no digit could say which: every led term gets a
//! letter instead (`A`, `B`, ... from the lowest term up) and a `leaders` line under the
//! picture says which term each letter is. The axis reads as people write times (`0s`,
//! `1.25s`, `50ms`). The faults row marks partitions (`P`),
//! heals (`H`), crashes (`C`), pauses (`Z`), clock steps (`S`) and violations (`!`). It is
//! drawn from the trace's notes, as faultline's protocols write them (`role=leader gen=N`,
//! `role=leader term=N`, `role=...`), and its faults, so it needs a trace at level `Summary`
//! or `Full`. The terminal's cousin of [`crate::diagram::svg`].

use crate::time::{Duration, Time};
use crate::trace::{Trace, TraceKind};
use std::collections::BTreeMap;
use std::fmt::Write as _;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cell {
    Down,
    Up,
    Paused,
    Blocked,
    Leader(u64),
}

/// Draws the timeline of `nodes` (rows, in this order) from time zero to `end` in `width`
/// columns.
pub fn timeline(trace: &Trace, nodes: &[&str], end: Time, width: usize) -> String {
    let width = width.clamp(10, 400);
    let end_ns = end.as_nanos().max(1);
    let col = |t: Time| {
        ((u128::from(t.as_nanos()) * width as u128 / u128::from(end_ns)) as usize).min(width - 1)
    };
    let mut rows: Vec<Vec<Cell>> = vec![vec![Cell::Down; width]; nodes.len()];
    let mut faults = vec!['.'; width];
    // Current state per node and when it began.
    let mut cur: Vec<(Cell, bool, usize)> = vec![(Cell::Down, false, 0); nodes.len()];
    let paint = |rows: &mut Vec<Vec<Cell>>, i: usize, from: usize, to: usize, c: Cell| {
        for cell in &mut rows[i][from..=to.min(width - 1)] {
            // A leader anywhere in a slice shows, whatever else happened in it.
            if !matches!(cell, Cell::Leader(_)) || matches!(c, Cell::Leader(_)) {
                *cell = c;
            }
        }
    };
    let index = |name: &str| nodes.iter().position(|n| *n == name);
    // The word the notes use for the number (`term`, `gen`), for the legend.
    let mut words: Vec<String> = Vec::new();
    for ev in &trace.events {
        if ev.time > end {
            break;
        }
        let at = col(ev.time);
        let mut change = |i: usize, state: Option<Cell>, paused: Option<bool>| {
            let (old, was_paused, since) = cur[i];
            let shown = if was_paused && old != Cell::Down {
                Cell::Paused
            } else {
                old
            };
            paint(&mut rows, i, since, at, shown);
            let state = state.unwrap_or(old);
            let paused = if state == Cell::Down {
                false
            } else {
                paused.unwrap_or(was_paused)
            };
            cur[i] = (state, paused, at);
        };
        match &ev.kind {
            TraceKind::Start { node, .. } => {
                if let Some(i) = index(node) {
                    change(i, Some(Cell::Up), Some(false));
                }
            }
            TraceKind::Note { node, text } => {
                if let (Some(i), Some(role)) = (index(node), text.strip_prefix("role=")) {
                    // `leader gen=N` or `leader term=N`: the number after the first `=`
                    // (of `gen=N/n5`, a generation with its node as tiebreak, the N).
                    let led = role
                        .strip_prefix("leader ")
                        .and_then(|rest| rest.split_once('='));
                    if let Some((word, _)) = led {
                        if !words.iter().any(|w| w == word) {
                            words.push(word.to_string());
                        }
                    }
                    let generation = led.and_then(|(_, g)| {
                        g.split_whitespace().next()?.split('/').next()?.parse().ok()
                    });
                    change(i, Some(generation.map_or(Cell::Up, Cell::Leader)), None);
                } else if let Some(i) = index(node) {
                    if text.starts_with("blocked on ") {
                        change(i, Some(Cell::Blocked), None);
                    } else if text.starts_with("unblocked") {
                        change(i, Some(Cell::Up), None);
                    }
                }
            }
            TraceKind::Fault { fault } => {
                let mut words = fault.split_whitespace();
                let kind = words.next().unwrap_or("");
                // `crash n2: lost 3 unsynced records` names its node with a colon.
                let target = words.next().and_then(|w| index(w.trim_end_matches(':')));
                let mark = match (kind, target) {
                    ("crash", Some(i)) => {
                        change(i, Some(Cell::Down), Some(false));
                        'C'
                    }
                    ("pause", Some(i)) => {
                        change(i, None, Some(true));
                        'Z'
                    }
                    ("resume", Some(i)) => {
                        change(i, None, Some(false));
                        'R'
                    }
                    ("partition" | "isolate" | "bridge" | "one-way", _) => 'P',
                    ("heal", _) => 'H',
                    ("clock-skew" | "clock-drift", _) => 'S',
                    _ => '.',
                };
                if mark != '.' && faults[at] == '.' {
                    faults[at] = mark;
                }
            }
            TraceKind::Violation { .. } => faults[at] = '!',
            _ => {}
        }
    }
    for (i, &(state, paused, since)) in cur.iter().enumerate() {
        let shown = if paused && state != Cell::Down {
            Cell::Paused
        } else {
            state
        };
        paint(&mut rows, i, since, width - 1, shown);
    }
    render(nodes, &rows, &faults, end, width, &words)
}

/// How long each node was blocked on what, from a run's notes: a note `blocked on X ...`
/// opens a span for `X` (a transaction) at that node, and a note `unblocked X ...` or the
/// node's crash closes it. `(X, node, time blocked)`, in the order the spans began (a
/// node blocked twice on the same `X` adds up); a span still open at `end` lasts until
/// it. Two-phase commit writes these notes; any protocol may.
pub fn blocked_spans(trace: &Trace, end: Time) -> Vec<(String, String, Duration)> {
    let mut open: BTreeMap<(String, String), (usize, Time)> = BTreeMap::new();
    let mut slot: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut out: Vec<(String, String, Duration)> = Vec::new();
    for e in &trace.events {
        if let TraceKind::Note { node, text } = &e.kind {
            if let Some(rest) = text.strip_prefix("blocked on ") {
                let tx = rest.split_whitespace().next().unwrap_or("").to_string();
                let key = (tx.clone(), node.clone());
                if let std::collections::btree_map::Entry::Vacant(v) = open.entry(key.clone()) {
                    let i = *slot.entry(key).or_insert_with(|| {
                        out.push((tx, node.clone(), Duration::ZERO));
                        out.len() - 1
                    });
                    v.insert((i, e.time));
                }
            } else if let Some(rest) = text.strip_prefix("unblocked ") {
                let tx = rest
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .trim_end_matches(':');
                if let Some((i, since)) = open.remove(&(tx.to_string(), node.clone())) {
                    out[i].2 = out[i].2.saturating_add(e.time.since(since));
                }
            }
        } else if let TraceKind::Fault { fault } = &e.kind {
            // A crash ends the block in the trace; the restart notes it again.
            if let Some(n) = fault.strip_prefix("crash ") {
                let n = n.split([':', ' ']).next().unwrap_or("");
                let keys: Vec<_> = open.keys().filter(|k| k.1 == n).cloned().collect();
                for k in keys {
                    let (i, since) = open.remove(&k).expect("listed");
                    out[i].2 = out[i].2.saturating_add(e.time.since(since));
                }
            }
        }
    }
    for (_, (i, since)) in open {
        out[i].2 = out[i].2.saturating_add(end.since(since));
    }
    out
}

/// Letters for led terms when digits would be ambiguous: not `x` or `z` (crashed,
/// paused); after these 50, `#`.
const LETTERS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwy";

fn render(
    nodes: &[&str],
    rows: &[Vec<Cell>],
    faults: &[char],
    end: Time,
    width: usize,
    words: &[String],
) -> String {
    // Every led term, lowest first.
    let mut led: Vec<u64> = rows
        .iter()
        .flatten()
        .filter_map(|c| match c {
            Cell::Leader(g) => Some(*g),
            _ => None,
        })
        .collect();
    led.sort_unstable();
    led.dedup();
    let lettered = led.iter().any(|&g| g >= 10);
    let symbol = |g: u64| -> char {
        if !lettered {
            return char::from_digit(g as u32, 10).unwrap_or('#');
        }
        let i = led.iter().position(|&x| x == g).unwrap_or(usize::MAX);
        LETTERS.chars().nth(i).unwrap_or('#')
    };
    let label = nodes.iter().map(|n| n.len()).max().unwrap_or(0).max(6) + 2;
    let mut out = String::new();
    // Axis: a tick every 10 columns, labelled with its time in seconds.
    let mut axis = vec![' '; width + 8];
    let mut ticks = vec![' '; width];
    for c in (0..width).step_by(10) {
        let ns = u128::from(end.as_nanos()) * c as u128 / width as u128;
        let text = crate::Duration::from_nanos(ns as u64)
            .readable()
            .to_string();
        for (k, ch) in text.chars().enumerate() {
            axis[c + k] = ch;
        }
        ticks[c] = '|';
    }
    let _ = writeln!(
        out,
        "{:label$}{}",
        "",
        axis.iter().collect::<String>().trim_end()
    );
    let _ = writeln!(
        out,
        "{:label$}{}",
        "",
        ticks.iter().collect::<String>().trim_end()
    );
    for (name, row) in nodes.iter().zip(rows) {
        let line: String = row
            .iter()
            .map(|c| match c {
                Cell::Down => 'x',
                Cell::Up => '.',
                Cell::Paused => 'z',
                Cell::Blocked => 'b',
                Cell::Leader(g) => symbol(*g),
            })
            .collect();
        let _ = writeln!(out, "{name:label$}{line}");
    }
    let _ = writeln!(
        out,
        "{:label$}{}",
        "faults",
        faults.iter().collect::<String>()
    );
    if lettered {
        let word = match words {
            [w] => w.as_str(),
            _ => "term",
        };
        let mut legend: Vec<String> = Vec::new();
        let mut rest: Vec<u64> = Vec::new();
        for (c, g) in led.iter().map(|&g| (symbol(g), g)) {
            if c == '#' {
                rest.push(g);
            } else {
                legend.push(format!("{c}={word} {g}"));
            }
        }
        if !rest.is_empty() {
            let listed: Vec<String> = rest.iter().map(u64::to_string).collect();
            legend.push(format!("#={word}s {}", listed.join(", ")));
        }
        let _ = writeln!(out, "{:label$}{}", "leaders", legend.join("  "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TraceLevel;
    use crate::trace::{Trace, TraceEvent};

    fn at(ms: u64, node: &str, text: &str) -> TraceEvent {
        TraceEvent {
            time: Time::from_nanos(ms * 1_000_000),
            kind: TraceKind::Note {
                node: node.into(),
                text: text.into(),
            },
        }
    }

    fn start(node: &str) -> TraceEvent {
        TraceEvent {
            time: Time::ZERO,
            kind: TraceKind::Start {
                node: node.into(),
                restart: false,
            },
        }
    }

    fn picture(notes: Vec<TraceEvent>) -> String {
        let mut events = vec![start("n1"), start("n2")];
        events.extend(notes);
        let trace = Trace {
            level: TraceLevel::Summary,
            events,
        };
        timeline(&trace, &["n1", "n2"], Time::from_nanos(100_000_000), 20)
    }

    #[test]
    fn terms_below_ten_are_their_digits() {
        let t = picture(vec![
            at(10, "n1", "role=leader term=3"),
            at(50, "n1", "role=follower term=4"),
            at(50, "n2", "role=leader term=4"),
        ]);
        assert!(t.contains("n1      ..333333333........."), "{t}");
        assert!(t.contains("n2      ..........4444444444"), "{t}");
        assert!(!t.contains("leaders"), "{t}");
        assert!(t.starts_with("        0s        50ms\n"), "{t}");
    }

    #[test]
    fn terms_of_ten_and_more_get_letters_and_a_legend() {
        // Terms 11 and 21 both end in 1: a digit would draw them alike.
        let t = picture(vec![
            at(10, "n1", "role=leader term=11"),
            at(50, "n1", "role=follower term=21"),
            at(50, "n2", "role=leader term=21"),
            at(80, "n1", "role=leader term=3"),
        ]);
        assert!(t.contains("n1      ..BBBBBBBBB.....AAAA"), "{t}");
        assert!(t.contains("n2      ..........CCCCCCCCCC"), "{t}");
        assert!(
            t.contains("\nleaders A=term 3  B=term 11  C=term 21\n"),
            "{t}"
        );
        let rows: Vec<&str> = t.lines().skip(2).take(2).collect();
        assert!(
            !rows.iter().any(|l| l[8..].contains(char::is_numeric)),
            "{t}"
        );
    }

    fn at_kind(ms: u64, kind: TraceKind) -> TraceEvent {
        TraceEvent {
            time: Time::from_nanos(ms * 1_000_000),
            kind,
        }
    }

    fn note(ms: u64, node: &str, text: &str) -> TraceEvent {
        at_kind(
            ms,
            TraceKind::Note {
                node: node.into(),
                text: text.into(),
            },
        )
    }

    fn blocked_trace() -> Trace {
        let start = |ms, node: &str| {
            at_kind(
                ms,
                TraceKind::Start {
                    node: node.into(),
                    restart: ms > 0,
                },
            )
        };
        let fault = |ms, f: &str| at_kind(ms, TraceKind::Fault { fault: f.into() });
        Trace {
            level: TraceLevel::Summary,
            events: vec![
                start(0, "n1"),
                start(0, "n2"),
                note(200, "n2", "blocked on t7 (holds acct-4) since 0.200s"),
                note(300, "n1", "blocked on t8 (holds acct-1) since 0.300s"),
                fault(500, "crash n1: lost 2 unsynced records"),
                start(600, "n1"),
                note(600, "n1", "blocked on t8 (holds acct-1) since 0.600s"),
                note(700, "n2", "unblocked t7: commit after 0.500s"),
            ],
        }
    }

    #[test]
    fn blocked_spans_add_up_per_node_and_end_at_crashes() {
        let spans = blocked_spans(&blocked_trace(), Time::from_nanos(1_000_000_000));
        let ms = Duration::from_millis;
        assert_eq!(
            spans,
            vec![
                ("t7".to_string(), "n2".to_string(), ms(500)),
                // 300-500ms, then (after the restart) 600-1000ms.
                ("t8".to_string(), "n1".to_string(), ms(600)),
            ]
        );
    }

    #[test]
    fn blocked_nodes_draw_as_b_and_crash_lines_with_losses_draw_as_x() {
        let text = timeline(
            &blocked_trace(),
            &["n1", "n2"],
            Time::from_nanos(1_000_000_000),
            10,
        );
        let rows: Vec<&str> = text.lines().collect();
        assert_eq!(rows[2], "n1      ...bbxbbbb", "{text}");
        assert_eq!(rows[3], "n2      ..bbbbb...", "{text}");
        assert_eq!(rows[4], "faults  .....C....", "{text}");
    }
}
