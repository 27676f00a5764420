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
//! during that slice (its last digit; two leaders in one column is the split-brain), `.` is
//! a running non-leader, `z` paused, `x` crashed. The faults row marks partitions (`P`),
//! heals (`H`), crashes (`C`), pauses (`Z`), clock steps (`S`) and violations (`!`). It is
//! drawn from the trace's notes, as faultline's protocols write them (`role=leader gen=N`,
//! `role=leader term=N`, `role=...`), and its faults, so it needs a trace at level `Summary`
//! or `Full`. The terminal's cousin of [`crate::diagram::svg`].

use crate::time::Time;
use crate::trace::{Trace, TraceKind};
use std::fmt::Write as _;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cell {
    Down,
    Up,
    Paused,
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
                    let generation = role
                        .strip_prefix("leader ")
                        .and_then(|rest| rest.split_once('='))
                        .and_then(|(_, g)| {
                            g.split_whitespace().next()?.split('/').next()?.parse().ok()
                        });
                    change(i, Some(generation.map_or(Cell::Up, Cell::Leader)), None);
                }
            }
            TraceKind::Fault { fault } => {
                let mut words = fault.split_whitespace();
                let kind = words.next().unwrap_or("");
                let target = words.next().and_then(index);
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
    render(nodes, &rows, &faults, end, width)
}

fn render(nodes: &[&str], rows: &[Vec<Cell>], faults: &[char], end: Time, width: usize) -> String {
    let label = nodes.iter().map(|n| n.len()).max().unwrap_or(0).max(6) + 2;
    let mut out = String::new();
    // Axis: a tick every 10 columns, labelled with its time in seconds.
    let mut axis = vec![' '; width + 8];
    let mut ticks = vec![' '; width];
    for c in (0..width).step_by(10) {
        let ns = u128::from(end.as_nanos()) * c as u128 / width as u128;
        let ms = (ns / 1_000_000) as u64;
        let text = if ms % 1000 == 0 {
            format!("{}s", ms / 1000)
        } else {
            format!("{}.{}s", ms / 1000, (ms % 1000) / 100)
        };
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
                Cell::Leader(g) => char::from_digit((g % 10) as u32, 10).unwrap_or('L'),
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
    out
}
