//! `faultline run FILE --export KIND=FILE`: the run in the formats other viewers read.
//!
//! - `shiviz`: a ShiViz log. Each event of a node or client is logged with a vector clock
//!   built from the run's happens-before (a delivery merges its send's clock). ShiViz's
//!   parser rules, which [`validate_shiviz`] checks: every event's clock has its own host,
//!   the host's own entry starts at 1 and rises by 1 per logged event, and an entry for
//!   another host names one of that host's logged events (at least 1, at most its count).
//! - `perfetto`: Chrome trace-event JSON (ui.perfetto.dev, chrome://tracing): a thread per
//!   node and client, a slice per handler call (the events of one lane at one instant;
//!   handlers take no virtual time, so each is drawn 1 µs wide at most), a flow arrow per
//!   delivered message, an instant per fault, loss and violation, and leader beliefs and
//!   client operations on threads of their own.
//! - `mermaid`: a sequence diagram of the window (at most [`MERMAID_MAX`] lines; past that
//!   it ends with a note saying how many were left out and which window to draw).
//! - `history-svg`: the clients' history picture alone.
//!
//! Every export draws the [`RunView`]'s window (`--from`/`--to`).

use crate::view::{Fate, RunView, SpanKind};
use indexmap::IndexMap;
use serde_json::{Value, json};
use std::fmt::Write as _;

/// What `--export` can write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Shiviz,
    Perfetto,
    Mermaid,
    HistorySvg,
}

impl Kind {
    pub const NAMES: [&'static str; 4] = ["shiviz", "perfetto", "mermaid", "history-svg"];
    pub const ALL: [Kind; 4] = [
        Kind::Shiviz,
        Kind::Perfetto,
        Kind::Mermaid,
        Kind::HistorySvg,
    ];

    pub fn parse(s: &str) -> Option<Kind> {
        Self::NAMES
            .iter()
            .position(|n| *n == s)
            .map(|i| Self::ALL[i])
    }

    pub fn name(self) -> &'static str {
        Self::NAMES[Self::ALL.iter().position(|k| *k == self).unwrap_or(0)]
    }
}

/// Most trace events of the window a ShiViz or Perfetto export holds (tens of MB at
/// most; ShiViz itself is slow well before this). Past it, an export stops at the last
/// whole instant that fits and [`left_out`] says so, with a window to draw instead.
pub const MAX_EVENTS: usize = 100_000;

/// The trace indices an export draws: the window's events, at most [`MAX_EVENTS`],
/// ending at a whole instant.
pub fn export_events(v: &RunView) -> std::ops::Range<usize> {
    let r = v.window_events();
    if r.len() <= MAX_EVENTS {
        return r;
    }
    let mut end = r.start + MAX_EVENTS;
    let t = v.times[end];
    while end > r.start && v.times[end - 1] == t {
        end -= 1;
    }
    r.start..end
}

/// What an export of `kind` leaves out of its window, in a sentence, or `None`.
pub fn left_out(kind: Kind, v: &RunView) -> Option<String> {
    if !matches!(kind, Kind::Shiviz | Kind::Perfetto) {
        return None;
    }
    let all = v.window_events();
    let shown = export_events(v);
    if shown.len() == all.len() {
        return None;
    }
    let last = v.times[shown.end.saturating_sub(1).max(shown.start)];
    Some(format!(
        "the {} export holds the first {} of the window's {} trace events (up to {last}); draw a narrower window with --from/--to, e.g. --from {last} --to {}",
        kind.name(),
        shown.len(),
        all.len(),
        v.window.to
    ))
}

/// The export of `kind` for the view's window.
pub fn export(kind: Kind, v: &RunView) -> Result<String, String> {
    Ok(match kind {
        Kind::Shiviz => shiviz(v),
        Kind::Perfetto => perfetto(v).to_string(),
        Kind::Mermaid => mermaid(v),
        Kind::HistorySvg => history_svg(v),
    })
}

/// The lane an event happens on, if any (a fault naming one node happens on it).
fn lane_of(v: &RunView, i: usize) -> Option<&str> {
    let line = v.lines[i].trim_start();
    // "  12.004ms  n1 -> n2  Ping": the word after the time is the lane, except for
    // faults ("!! crash n1") and violations.
    let mut words = line.split_whitespace();
    words.next();
    let first = words.next()?;
    let name = if first == "!!" {
        let what = words.next()?;
        if what == "VIOLATION" {
            return None;
        }
        words.next()?
    } else {
        first
    };
    v.lanes.iter().find(|l| *l == name).map(String::as_str)
}

/// The ShiViz parser regular expression and multiple-executions delimiter (empty) that
/// open a ShiViz log; ShiViz reads them from the first two lines of an uploaded log.
pub const SHIVIZ_REGEX: &str = r"(?<host>\S*) (?<clock>{.*})\n(?<event>.*)";

/// One logged event: its trace index, its host, and its vector clock.
pub type Clocked<'a> = (usize, &'a str, IndexMap<&'a str, u64>);

/// The vector clock of every event of the window that happens on a lane, in trace
/// order: a host's own entry counts its logged events; a delivery first merges the clock
/// its send had (when the send is in the window).
pub fn vector_clocks(v: &RunView) -> Vec<Clocked<'_>> {
    // The send each delivery matched, by trace index.
    let mut send_of: IndexMap<usize, usize> = IndexMap::new();
    for m in &v.msgs {
        if let (Some(s), Some(e), Fate::Delivered) = (m.send_event, m.end_event, &m.fate) {
            send_of.insert(e, s);
        }
    }
    let mut clocks: IndexMap<&str, IndexMap<&str, u64>> = IndexMap::new();
    let mut sent: IndexMap<usize, IndexMap<&str, u64>> = IndexMap::new();
    let mut out = Vec::new();
    for i in export_events(v) {
        let Some(host) = lane_of(v, i) else { continue };
        let verb = v.lines[i].split_whitespace().nth(2).unwrap_or("");
        if verb == "<-" {
            if let Some(s) = send_of.get(&i).and_then(|s| sent.shift_remove(s)) {
                let vc = clocks.entry(host).or_default();
                for (h, k) in s {
                    let e = vc.entry(h).or_insert(0);
                    *e = (*e).max(k);
                }
            }
        }
        let vc = clocks.entry(host).or_default();
        *vc.entry(host).or_insert(0) += 1;
        // A send, or the network's duplicate of one (a second copy on the wire).
        if verb == "->" || verb == "=>" {
            sent.insert(i, vc.clone());
        }
        out.push((i, host, vc.clone()));
    }
    out
}

/// A ShiViz log of the window: the regex line, an empty delimiter line, then per event a
/// `host {clock}` line and the event's trace line.
pub fn shiviz(v: &RunView) -> String {
    let mut out = format!("{SHIVIZ_REGEX}\n\n");
    for (i, host, vc) in vector_clocks(v) {
        let clock: serde_json::Map<String, Value> =
            vc.iter().map(|(h, k)| (h.to_string(), json!(k))).collect();
        let _ = writeln!(out, "{host} {}", Value::Object(clock));
        let _ = writeln!(out, "{}", v.lines[i].trim_start());
    }
    out
}

/// What [`validate_shiviz`] found in a valid log.
#[derive(Debug, PartialEq, Eq)]
pub struct ShivizStats {
    pub events: usize,
    pub hosts: usize,
    /// Events at which another host's entry grew (a message received with news).
    pub joins: usize,
}

/// Checks a ShiViz log against the rules of ShiViz's parser and its model graph (see the
/// module doc), and that the clocks are transitive: an event that has seen host `h`'s
/// `k`-th event has seen everything that event had seen. The error names the line.
pub fn validate_shiviz(text: &str) -> Result<ShivizStats, String> {
    let mut lines = text.lines();
    if lines.next() != Some(SHIVIZ_REGEX) {
        return Err(format!("line 1: expected the parser regex {SHIVIZ_REGEX}"));
    }
    if lines.next() != Some("") {
        return Err("line 2: expected an empty delimiter line".into());
    }
    struct Ev {
        line: usize,
        host: String,
        clock: IndexMap<String, u64>,
    }
    let mut events: Vec<Ev> = Vec::new();
    let mut n = 2;
    while let Some(head) = lines.next() {
        n += 1;
        let (host, clock) = head
            .split_once(' ')
            .ok_or_else(|| format!("line {n}: expected `host {{clock}}`, got {head:?}"))?;
        if host.is_empty() || host.chars().any(char::is_whitespace) {
            return Err(format!("line {n}: bad host {host:?}"));
        }
        if !(clock.starts_with('{') && clock.ends_with('}')) {
            return Err(format!(
                "line {n}: the clock must be a JSON object, got {clock:?}"
            ));
        }
        let parsed: IndexMap<String, Value> = serde_json::from_str(clock)
            .map_err(|e| format!("line {n}: the clock is not a JSON object: {e}"))?;
        let mut c = IndexMap::new();
        for (h, k) in parsed {
            let k = k
                .as_u64()
                .ok_or_else(|| format!("line {n}: the entry for {h:?} is not a whole number"))?;
            if k == 0 {
                return Err(format!(
                    "line {n}: the entry for {h:?} is 0 (ShiViz drops zeros; write none)"
                ));
            }
            c.insert(h, k);
        }
        if !c.contains_key(host) {
            return Err(format!(
                "line {n}: local host {host:?} is missing from its clock"
            ));
        }
        let event_line = lines
            .next()
            .ok_or_else(|| format!("line {}: expected the event text after the clock", n + 1))?;
        n += 1;
        let _ = event_line;
        events.push(Ev {
            line: n - 1,
            host: host.to_string(),
            clock: c,
        });
    }
    if events.is_empty() {
        return Err("the log has no events (ShiViz rejects it)".into());
    }
    // Own entries: 1, 2, 3 ... per host, in log order.
    let mut count: IndexMap<&str, u64> = IndexMap::new();
    let mut by_host: IndexMap<&str, Vec<usize>> = IndexMap::new();
    for (i, e) in events.iter().enumerate() {
        let c = count.entry(e.host.as_str()).or_insert(0);
        *c += 1;
        let own = e.clock[e.host.as_str()];
        if own != *c {
            return Err(format!(
                "line {}: host {:?}'s own entry is {own}, expected {} (it starts at 1 and rises by 1 per event)",
                e.line, e.host, c
            ));
        }
        by_host.entry(e.host.as_str()).or_default().push(i);
    }
    let mut joins = 0;
    for e in &events {
        let mine = &by_host[e.host.as_str()];
        let pos = (e.clock[e.host.as_str()] - 1) as usize;
        let prev = (pos > 0).then(|| &events[mine[pos - 1]]);
        let mut joined = false;
        for (h, &k) in &e.clock {
            if *h == e.host {
                continue;
            }
            joined |= prev.is_none_or(|p| p.clock.get(h).copied().unwrap_or(0) < k);
            let Some(max) = count.get(h.as_str()) else {
                return Err(format!(
                    "line {}: the clock names {h:?}, which logs no event",
                    e.line
                ));
            };
            if k > *max {
                return Err(format!(
                    "line {}: the entry {h:?}: {k} exceeds the {max} events {h:?} logs",
                    e.line
                ));
            }
            // Transitivity: that event's clock is below this one.
            let seen = &events[by_host[h.as_str()][(k - 1) as usize]];
            for (h2, &k2) in &seen.clock {
                if e.clock.get(h2).copied().unwrap_or(0) < k2 {
                    return Err(format!(
                        "line {}: the clock has seen {h:?}'s event {k} (line {}) but not what that event had seen ({h2:?}: {k2})",
                        e.line, seen.line
                    ));
                }
            }
        }
        // A host's clock never goes back.
        if let Some(prev) = prev {
            for (h2, &k2) in &prev.clock {
                if e.clock.get(h2).copied().unwrap_or(0) < k2 {
                    return Err(format!(
                        "line {}: the entry for {h2:?} went back from {k2} (line {})",
                        e.line, prev.line
                    ));
                }
            }
        }
        joins += usize::from(joined);
    }
    Ok(ShivizStats {
        events: events.len(),
        hosts: count.len(),
        joins,
    })
}

fn us(t: sim_core::Time) -> f64 {
    t.as_nanos() as f64 / 1000.0
}

/// Chrome trace-event JSON of the window (see the module doc).
pub fn perfetto(v: &RunView) -> Value {
    let pid = 1;
    let tid_of: IndexMap<&str, usize> = v
        .lanes
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i + 1))
        .collect();
    let mut ev: Vec<Value> = vec![json!({
        "ph": "M", "name": "process_name", "pid": pid,
        "args": {"name": format!("{} (seed {}): {}", v.name, v.seed, v.verdict)}
    })];
    for (l, &tid) in &tid_of {
        ev.push(
            json!({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid, "args": {"name": l}}),
        );
        ev.push(json!({"ph": "M", "name": "thread_sort_index", "pid": pid, "tid": tid, "args": {"sort_index": tid}}));
    }
    // Handler calls: the events of one lane at one instant.
    let mut groups: IndexMap<(&str, u64), Vec<usize>> = IndexMap::new();
    let shown = export_events(v);
    let last = shown
        .end
        .checked_sub(1)
        .filter(|&e| e >= shown.start)
        .map_or(v.window.from, |e| v.times[e]);
    let until = |t: sim_core::Time| t <= last;
    for i in shown.clone() {
        if let Some(l) = lane_of(v, i) {
            groups
                .entry((l, v.times[i].as_nanos()))
                .or_default()
                .push(i);
        }
    }
    let mut next_on_lane: IndexMap<&str, Vec<u64>> = IndexMap::new();
    for (l, t) in groups.keys() {
        next_on_lane.entry(l).or_default().push(*t);
    }
    for ((l, t), idx) in &groups {
        let times = &next_on_lane[l];
        let k = times.partition_point(|x| x <= t);
        let dur_ns = times.get(k).map_or(1000, |n| (n - t).min(1000));
        let first = v.lines[idx[0]].trim_start();
        let name = first
            .split_once("  ")
            .map_or(first, |(_, rest)| rest.trim_start());
        let name: String = name.chars().take(60).collect();
        let lines: Vec<&str> = idx.iter().map(|&i| v.lines[i].trim_start()).collect();
        ev.push(json!({
            "ph": "X", "name": name, "cat": "handler", "pid": pid, "tid": tid_of[l],
            "ts": *t as f64 / 1000.0, "dur": dur_ns as f64 / 1000.0,
            "args": {"trace": lines}
        }));
    }
    // Messages as flow arrows; losses as instants on the sender.
    for (id, m) in v.msgs.iter().enumerate() {
        let (Some(&ft), Some(&tt)) = (tid_of.get(m.from.as_str()), tid_of.get(m.to.as_str()))
        else {
            continue;
        };
        let sent_in = m.send_event.is_some_and(|i| shown.contains(&i));
        let end_in = m.end_event.is_some_and(|i| shown.contains(&i));
        match &m.fate {
            Fate::Delivered if sent_in && end_in => {
                let name = format!(
                    "{}{}",
                    m.kind,
                    if m.duplicate { " (duplicate)" } else { "" }
                );
                ev.push(json!({"ph": "s", "id": id + 1, "name": name, "cat": "message", "pid": pid, "tid": ft, "ts": us(m.sent), "args": {"message": m.text}}));
                ev.push(json!({"ph": "f", "bp": "e", "id": id + 1, "name": name, "cat": "message", "pid": pid, "tid": tt, "ts": us(m.at)}));
            }
            Fate::Dropped(reason) if end_in => {
                ev.push(json!({"ph": "i", "s": "t", "name": format!("lost {} to {} ({reason})", m.kind, m.to), "cat": "loss", "pid": pid, "tid": ft, "ts": us(m.at), "args": {"message": m.text}}));
            }
            _ => {}
        }
    }
    // Faults: on the lane they name, else across the process.
    for m in v.marks.iter().filter(|m| until(m.time)) {
        let tid = m.lane.as_deref().and_then(|l| tid_of.get(l));
        ev.push(match tid {
            Some(&tid) => json!({"ph": "i", "s": "t", "name": m.label, "cat": "fault", "pid": pid, "tid": tid, "ts": us(m.time)}),
            None => json!({"ph": "i", "s": "p", "name": m.label, "cat": "fault", "pid": pid, "tid": 0, "ts": us(m.time)}),
        });
    }
    for c in &v.cuts {
        if v.window.contains(c.from) && until(c.from) {
            ev.push(json!({"ph": "i", "s": "p", "name": c.label, "cat": "fault", "pid": pid, "tid": 0, "ts": us(c.from)}));
        }
    }
    let lanes_n = v.lanes.len();
    // Leader beliefs, crashes and pauses on a track under each node; client ops likewise.
    let mut extra: IndexMap<String, usize> = IndexMap::new();
    let mut track = |name: String, ev: &mut Vec<Value>| -> usize {
        let next = 1000 + extra.len();
        *extra.entry(name.clone()).or_insert_with(|| {
            ev.push(json!({"ph": "M", "name": "thread_name", "pid": pid, "tid": next, "args": {"name": name}}));
            ev.push(json!({"ph": "M", "name": "thread_sort_index", "pid": pid, "tid": next, "args": {"sort_index": lanes_n + 1 + next}}));
            next
        })
    };
    for s in v.spans.iter().filter(|s| until(s.from)) {
        let from = s.from.max(v.window.from);
        let to = s.to.min(v.window.to).min(last);
        let (name, what) = match &s.kind {
            SpanKind::Leader(l) => (format!("leader {l}"), "leader"),
            SpanKind::Crashed => ("crashed".to_string(), "state"),
            SpanKind::Paused => ("paused".to_string(), "state"),
        };
        let tid = track(format!("{} {what}", s.lane), &mut ev);
        ev.push(json!({"ph": "X", "name": name, "cat": what, "pid": pid, "tid": tid, "ts": us(from), "dur": (us(to) - us(from)).max(0.001)}));
    }
    for o in v.ops.iter().filter(|o| until(o.invoked)) {
        let tid = track(format!("{} operations", o.client), &mut ev);
        let from = o.invoked.max(v.window.from);
        let to = o.completed.unwrap_or(v.end).min(v.window.to).min(last);
        let mut args = json!({"process": o.process, "outcome": o.outcome});
        if let Some(r) = &o.stuck {
            args["cannot_be_placed"] = json!(r);
        }
        ev.push(json!({"ph": "X", "name": format!("{} {}", o.op, o.outcome), "cat": "client", "pid": pid, "tid": tid, "ts": us(from), "dur": (us(to) - us(from)).max(0.001), "args": args}));
    }
    if let Some(x) = &v.violation {
        if v.window.contains(x.time) && until(x.time) {
            ev.push(json!({"ph": "i", "s": "g", "name": format!("VIOLATION {}", x.check), "cat": "violation", "pid": pid, "tid": 0, "ts": us(x.time), "args": {"message": x.message, "nodes": x.nodes}}));
        }
    }
    let mut other = json!({"scenario": v.scenario, "seed": v.seed, "replay": v.replay});
    if let Some(n) = left_out(Kind::Perfetto, v) {
        other["left_out"] = json!(n);
    }
    if let Some(n) = v.summarized() {
        other["summarized"] = json!(n);
    }
    // `ts` stays in microseconds (the format's unit; Perfetto reads it so whatever the
    // display unit, since 2021). "ns" tells the legacy viewer (chrome://tracing,
    // catapult) to compare slice bounds to the nanosecond: with "ms" it compares them to
    // the microsecond, and nests a handler call that starts 0.2 µs after another one
    // ended inside it, so the message arrows bound to it are lost on import.
    json!({"traceEvents": ev, "displayTimeUnit": "ns", "otherData": other})
}

/// Most lines (messages, notes, faults) of one Mermaid diagram.
pub const MERMAID_MAX: usize = 400;

/// Text safe in a Mermaid message or note: `;` would end the statement and `#` starts an
/// entity code, so both become entity codes (in one pass, so neither is escaped twice).
fn mermaid_text(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars().take(80) {
        match c {
            '#' => out.push_str("#35;"),
            ';' => out.push_str("#59;"),
            c => out.push(c),
        }
    }
    out
}

/// A Mermaid sequence diagram of the window: a message at its delivery (or loss), notes
/// and faults as notes over their lanes.
pub fn mermaid(v: &RunView) -> String {
    let mut out = String::from("sequenceDiagram\n");
    let _ = writeln!(
        out,
        "    %% {} seed {} ({}), {} to {}; replay: {}",
        v.name, v.seed, v.verdict, v.window.from, v.window.to, v.replay
    );
    for l in &v.lanes {
        let _ = writeln!(out, "    participant {l}");
    }
    let by_end: IndexMap<usize, &crate::view::Msg> = v
        .msgs
        .iter()
        .filter_map(|m| m.end_event.map(|e| (e, m)))
        .collect();
    // Notes over every lane span the first and the last participant.
    let first = v.lanes.first().map_or("", String::as_str);
    let last = v.lanes.last().map_or("", String::as_str);
    let mut items: Vec<String> = Vec::new();
    for i in v.window_events() {
        let line = v.lines[i].trim_start();
        let (time, rest) = line.split_once("  ").unwrap_or(("", line));
        if let Some(m) = by_end.get(&i) {
            let label = mermaid_text(&format!("{} @{time}", m.text));
            items.push(match &m.fate {
                Fate::Dropped(r) => format!("{}-x{}: {label} lost ({r})", m.from, m.to),
                _ if m.duplicate => format!("{}-){}: {label} (duplicate)", m.from, m.to),
                _ => format!("{}->>{}: {label}", m.from, m.to),
            });
        } else if rest.trim_start().starts_with("!!") {
            let what = mermaid_text(rest.trim_start().trim_start_matches("!! "));
            let over = match lane_of(v, i) {
                Some(l) => l.to_string(),
                None if first == last => first.to_string(),
                None => format!("{first},{last}"),
            };
            if !over.is_empty() {
                items.push(format!("Note over {over}: {what} @{time}"));
            }
        } else if let Some((lane, text)) = rest.split_once(" note ") {
            items.push(format!(
                "Note right of {}: {} @{time}",
                lane.trim(),
                mermaid_text(text)
            ));
        }
    }
    let total = items.len();
    for it in items.iter().take(MERMAID_MAX) {
        let _ = writeln!(out, "    {it}");
    }
    if total > MERMAID_MAX {
        let stop = v
            .msgs
            .get(MERMAID_MAX.min(v.msgs.len().saturating_sub(1)))
            .map_or(v.window.to, |m| m.at);
        let _ = writeln!(
            out,
            "    Note over {first},{last}: {} more lines left out of this diagram (it shows {MERMAID_MAX}), draw a window, e.g. --from {} --to {}",
            total - MERMAID_MAX,
            v.window.from,
            stop
        );
    }
    out
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The clients' history as an SVG: one row per client, a bar per operation (ok green,
/// fail red, info orange, never completed grey), the ops the linearizability check
/// cannot place outlined red.
pub fn history_svg(v: &RunView) -> String {
    const W: f64 = 1200.0;
    const LEFT: f64 = 60.0;
    const RIGHT: f64 = 20.0;
    const ROW: f64 = 26.0;
    let clients = v.client_lanes();
    let h = 50.0 + ROW * clients.len() as f64 + 30.0;
    let span = v.window.to.since(v.window.from).as_nanos().max(1) as f64;
    let x = |t: sim_core::Time| {
        let t = t.max(v.window.from).min(v.window.to);
        LEFT + (W - LEFT - RIGHT) * (t.since(v.window.from).as_nanos() as f64 / span)
    };
    let mut o = String::new();
    let _ = writeln!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h}" viewBox="0 0 {W} {h}" font-family="monospace" font-size="11">"#
    );
    let _ = writeln!(o, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        o,
        r#"<text x="{LEFT}" y="18" font-size="13">{} (seed {}): {} — clients' history {} to {}</text>"#,
        esc(&v.name),
        v.seed,
        esc(&v.verdict),
        v.window.from,
        v.window.to
    );
    for (r, c) in clients.iter().enumerate() {
        let y = 36.0 + ROW * r as f64;
        let _ = writeln!(
            o,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            LEFT - 8.0,
            y + 13.0,
            esc(c)
        );
        for op in v.ops.iter().filter(|op| op.client == *c) {
            let end = op.completed.unwrap_or(v.end);
            let (x1, x2) = (x(op.invoked), x(end));
            let fill = match op.outcome.as_str() {
                "ok" => "#2a9d8f",
                "fail" => "#d62828",
                "info" => "#f4a261",
                _ => "#bbbbbb",
            };
            let stroke = if op.stuck.is_some() {
                r##" stroke="#c00000" stroke-width="3" class="stuck""##
            } else {
                ""
            };
            let _ = writeln!(
                o,
                r#"<rect x="{x1:.1}" y="{y:.1}" width="{:.1}" height="16" fill="{fill}"{stroke}><title>{} p{} {} {} {} -> {}{}</title></rect>"#,
                (x2 - x1).max(2.0),
                esc(c),
                op.process,
                esc(&op.op),
                op.outcome,
                op.invoked,
                op.completed
                    .map_or("never completed".to_string(), |t| t.to_string()),
                op.stuck
                    .as_ref()
                    .map_or(String::new(), |r| format!("; cannot be placed: {}", esc(r)))
            );
        }
    }
    let stuck = v.ops.iter().filter(|o| o.stuck.is_some()).count();
    let _ = writeln!(
        o,
        r##"<text x="{LEFT}" y="{:.1}" fill="{}">{}</text>"##,
        h - 10.0,
        if stuck > 0 { "#c00000" } else { "#888" },
        if stuck > 0 {
            format!("{stuck} operations cannot be placed in any linearization (outlined red)")
        } else {
            "ok green, fail red, info (unknown outcome) orange, never completed grey".to_string()
        }
    );
    o.push_str("</svg>\n");
    o
}

/// What [`validate_trace_events`] found in a valid trace.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TraceEventStats {
    /// Complete slices (`X`) and begin/end pairs (`B`/`E`).
    pub slices: usize,
    /// Flows: one `s`, any `t`, one `f` sharing a category, name and id.
    pub flows: usize,
    pub instants: usize,
    /// Threads named by `thread_name` metadata.
    pub threads: usize,
}

/// Checks Chrome trace-event JSON (what ui.perfetto.dev and chrome://tracing read)
/// against the rules of the Trace Event Format that a viewer relies on; the error names
/// the event (its index in `traceEvents`) and the rule:
///
/// - the JSON Object Format: `{"traceEvents": [...]}`, `displayTimeUnit` `ms` or `ns`;
/// - every event has a one-letter `ph` of a known phase, a string `name`, integer `pid`
///   and `tid`, and (but metadata) a finite `ts` at or after 0, in microseconds;
/// - `X` has a `dur` at or above 0; `B`/`E` pair up per thread, last opened first closed;
///   slices on one thread nest or are apart, never half-overlap;
/// - `i`/`I` have a scope `s` of `g`, `p` or `t` when they have one;
/// - `M` is `process_name`, `process_labels`, `process_sort_index`, `thread_name` or
///   `thread_sort_index`, with its `args` (`name`, `labels` or `sort_index`);
/// - flow events `s`, `t`, `f` carry an `id`; per category, name and id there is
///   exactly one `s`, then any `t`, then one `f`, in time order; `s` and `t` bind to
///   the slice enclosing them on their thread, `f` to the enclosing slice with
///   `bp: "e"` or else to the next slice that starts on its thread, and that slice
///   must exist (a viewer drops a flow with nothing to bind to).
pub fn validate_trace_events(text: &str) -> Result<TraceEventStats, String> {
    let j: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let evs = j
        .get("traceEvents")
        .and_then(Value::as_array)
        .ok_or("expected the JSON Object Format: an object with a traceEvents array")?;
    // The precision (µs) at which viewers compare slice bounds: the display unit's
    // (catapult rounds to a thousandth of it; "ms" is the format's default).
    let (unit, precision) = match j.get("displayTimeUnit") {
        None => ("ms", 1.0),
        Some(u) => match u.as_str() {
            Some("ms") => ("ms", 1.0),
            Some("ns") => ("ns", 1e-3),
            _ => return Err(format!("displayTimeUnit is {u}: expected \"ms\" or \"ns\"")),
        },
    };
    type Thread = (i64, i64);
    let mut stats = TraceEventStats::default();
    let mut slices: IndexMap<Thread, Vec<(f64, f64, usize)>> = IndexMap::new();
    let mut open: IndexMap<Thread, Vec<(String, f64, usize)>> = IndexMap::new();
    // (cat, name, id) -> (index, phase, thread, ts, bp) in order of appearance.
    type Step = (usize, char, Thread, f64, bool);
    let mut flows: IndexMap<(String, String, String), Vec<Step>> = IndexMap::new();
    for (k, e) in evs.iter().enumerate() {
        let at = |what: String| format!("traceEvents[{k}]: {what}: {e}");
        let ph = e
            .get("ph")
            .and_then(Value::as_str)
            .filter(|p| p.chars().count() == 1)
            .ok_or_else(|| at("expected a one-letter ph".into()))?;
        let ph = ph.chars().next().unwrap_or(' ');
        if !"BEXiIstfMC".contains(ph) {
            return Err(at(format!("unknown phase {ph:?}")));
        }
        let name = e
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| at("expected a string name".into()))?;
        let pid = e
            .get("pid")
            .and_then(Value::as_i64)
            .ok_or_else(|| at("expected an integer pid".into()))?;
        let tid = match e.get("tid") {
            None if ph == 'M' && name.starts_with("process_") => 0,
            None if matches!(ph, 'i' | 'I')
                && matches!(e.get("s").and_then(Value::as_str), Some("g" | "p")) =>
            {
                0
            }
            t => t
                .and_then(Value::as_i64)
                .ok_or_else(|| at("expected an integer tid".into()))?,
        };
        let thread = (pid, tid);
        if ph == 'M' {
            let need = match name {
                "process_name" | "thread_name" => "name",
                "process_labels" => "labels",
                "process_sort_index" | "thread_sort_index" => "sort_index",
                other => return Err(at(format!("unknown metadata event {other:?}"))),
            };
            if e.get("args").and_then(|a| a.get(need)).is_none() {
                return Err(at(format!("metadata {name} needs args.{need}")));
            }
            if name == "thread_name" {
                stats.threads += 1;
            }
            continue;
        }
        let ts = e
            .get("ts")
            .and_then(Value::as_f64)
            .filter(|t| t.is_finite() && *t >= 0.0)
            .ok_or_else(|| at("expected a finite ts at or after 0 (microseconds)".into()))?;
        match ph {
            'X' => {
                let dur = e
                    .get("dur")
                    .and_then(Value::as_f64)
                    .filter(|d| d.is_finite() && *d >= 0.0)
                    .ok_or_else(|| at("a complete event needs a dur at or above 0".into()))?;
                slices.entry(thread).or_default().push((ts, ts + dur, k));
                stats.slices += 1;
            }
            'B' => open
                .entry(thread)
                .or_default()
                .push((name.to_string(), ts, k)),
            'E' => {
                let (_, begin, b) = open
                    .get_mut(&thread)
                    .and_then(Vec::pop)
                    .ok_or_else(|| at("an E with no open B on its thread".into()))?;
                if ts < begin {
                    return Err(at(format!("ends at {ts} before its B began at {begin}")));
                }
                slices.entry(thread).or_default().push((begin, ts, b));
                stats.slices += 1;
            }
            'i' | 'I' => {
                if let Some(sc) = e.get("s") {
                    if !matches!(sc.as_str(), Some("g" | "p" | "t")) {
                        return Err(at(format!("instant scope {sc}: expected g, p or t")));
                    }
                }
                stats.instants += 1;
            }
            's' | 't' | 'f' => {
                let id = match e.get("id") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Number(n)) => n.to_string(),
                    _ => return Err(at("a flow event needs an id".into())),
                };
                let bp = match e.get("bp") {
                    None => false,
                    Some(b) if b == "e" => true,
                    Some(b) => return Err(at(format!("binding point {b}: expected \"e\""))),
                };
                let cat = e.get("cat").and_then(Value::as_str).unwrap_or("");
                flows
                    .entry((cat.to_string(), name.to_string(), id))
                    .or_default()
                    .push((k, ph, thread, ts, bp));
            }
            _ => {}
        }
    }
    if let Some((t, v)) = open.iter().find(|(_, v)| !v.is_empty()) {
        return Err(format!(
            "traceEvents[{}]: B {:?} on thread {t:?} never ends",
            v[0].2, v[0].0
        ));
    }
    for (t, v) in &mut slices {
        v.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.total_cmp(&a.1)));
        let mut stack: Vec<(f64, usize)> = Vec::new();
        for &(a, b, k) in v.iter() {
            // Microseconds as floats: allow a nanosecond of rounding.
            while stack.last().is_some_and(|&(end, _)| end <= a + 1e-3) {
                stack.pop();
            }
            if let Some(&(end, outer)) = stack.last() {
                if b > end + 1e-3 {
                    return Err(format!(
                        "traceEvents[{k}]: slice {a}..{b} on thread {t:?} half-overlaps traceEvents[{outer}], which ends at {end}"
                    ));
                }
            }
            stack.push((b, k));
        }
        // What a viewer builds: it nests a slice in the last one whose bounds contain
        // it at the display unit's precision. A slice that starts after another ends
        // but is nested in it at that precision is found by no flow that binds to it.
        let r = |x: f64| (x / precision).round();
        let mut viewer: Vec<(f64, f64, usize)> = Vec::new();
        for &(a, b, k) in v.iter() {
            while let Some(&(pa, pend, outer)) = viewer.last() {
                if r(a) >= r(pa) && r(b) <= r(pend) {
                    if a > pend + 5e-4 {
                        return Err(format!(
                            "traceEvents[{k}]: slice {a}..{b} on thread {t:?} starts after traceEvents[{outer}] ends at {pend}, but at the precision of displayTimeUnit {unit:?} a viewer nests it inside that slice (and drops the flows bound to it): write displayTimeUnit \"ns\" or leave a gap of a whole unit"
                        ));
                    }
                    break;
                }
                viewer.pop();
            }
            viewer.push((a, b, k));
        }
    }
    let enclosing = |t: &Thread, ts: f64| {
        slices
            .get(t)
            .is_some_and(|v| v.iter().any(|&(a, b, _)| a <= ts && ts <= b))
    };
    let next_starts = |t: &Thread, ts: f64| {
        slices
            .get(t)
            .is_some_and(|v| v.iter().any(|&(a, _, _)| a >= ts))
    };
    for ((cat, name, id), steps) in &flows {
        let what = format!("flow {name:?} (cat {cat:?}, id {id})");
        let phases: String = steps.iter().map(|s| s.1).collect();
        let well_formed = phases.starts_with('s')
            && phases.ends_with('f')
            && phases.len() >= 2
            && phases[1..phases.len() - 1].chars().all(|c| c == 't');
        if !well_formed {
            return Err(format!(
                "traceEvents[{}]: {what} has phases {phases:?}: expected one s, any t, then one f",
                steps[0].0
            ));
        }
        for w in steps.windows(2) {
            if w[1].3 < w[0].3 {
                return Err(format!(
                    "traceEvents[{}]: {what} goes back in time ({} after {})",
                    w[1].0, w[1].3, w[0].3
                ));
            }
        }
        for &(k, ph, t, ts, bp) in steps {
            let bound = if ph == 'f' && !bp {
                next_starts(&t, ts)
            } else {
                enclosing(&t, ts)
            };
            if !bound {
                return Err(format!(
                    "traceEvents[{k}]: {what}: its {ph} at {ts} on thread {t:?} has no slice to bind to"
                ));
            }
        }
        stats.flows += 1;
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: &str = SHIVIZ_REGEX;

    #[test]
    fn the_trace_event_validator_accepts_a_good_trace_and_names_each_broken_rule() {
        let good = r#"{"traceEvents": [
            {"ph": "M", "name": "thread_name", "pid": 1, "tid": 1, "args": {"name": "n1"}},
            {"ph": "M", "name": "thread_name", "pid": 1, "tid": 2, "args": {"name": "n2"}},
            {"ph": "X", "name": "send", "pid": 1, "tid": 1, "ts": 10.0, "dur": 1.0},
            {"ph": "X", "name": "inner", "pid": 1, "tid": 1, "ts": 10.2, "dur": 0.5},
            {"ph": "X", "name": "recv", "pid": 1, "tid": 2, "ts": 15.0, "dur": 1.0},
            {"ph": "s", "name": "Ping", "cat": "message", "id": 1, "pid": 1, "tid": 1, "ts": 10.0},
            {"ph": "f", "bp": "e", "name": "Ping", "cat": "message", "id": 1, "pid": 1, "tid": 2, "ts": 15.0},
            {"ph": "B", "name": "b", "pid": 1, "tid": 3, "ts": 1.0},
            {"ph": "E", "name": "b", "pid": 1, "tid": 3, "ts": 2.0},
            {"ph": "i", "s": "g", "name": "heal", "pid": 1, "tid": 0, "ts": 12.0}
        ], "displayTimeUnit": "ms"}"#;
        let st = validate_trace_events(good).unwrap();
        assert_eq!((st.slices, st.flows, st.instants, st.threads), (4, 1, 1, 2));
        let bad = |text: String, says: &str| {
            let e = validate_trace_events(&text).unwrap_err();
            assert!(e.contains(says), "{e:?} should say {says:?}");
        };
        let g = good.to_string();
        bad(
            g.replace(r#""traceEvents""#, r#""events""#),
            "JSON Object Format",
        );
        bad(g.replace(r#""ms"}"#, r#""s"}"#), "displayTimeUnit");
        bad(g.replace(r#""ph": "B""#, r#""ph": "Q""#), "unknown phase");
        bad(g.replace(r#""ts": 12.0"#, r#""ts": -1"#), "finite ts");
        bad(
            g.replace(r#""dur": 0.5"#, r#""dur": -0.5"#),
            "dur at or above 0",
        );
        bad(g.replace(r#""dur": 0.5"#, r#""dur": 5"#), "half-overlaps");
        bad(g.replace(r#""s": "g""#, r#""s": "x""#), "instant scope");
        bad(
            g.replace(
                r#""name": "thread_name", "pid": 1, "tid": 2, "args": {"name""#,
                r#""name": "thread_name", "pid": 1, "tid": 2, "args": {"title""#,
            ),
            "needs args.name",
        );
        bad(g.replace(r#""ph": "E""#, r#""ph": "i""#), "never ends");
        bad(g.replace(r#""ph": "B""#, r#""ph": "i""#), "no open B");
        bad(g.replace(r#""bp": "e""#, r#""bp": "x""#), "binding point");
        bad(
            g.replace(
                r#""id": 1, "pid": 1, "tid": 2"#,
                r#""id": 2, "pid": 1, "tid": 2"#,
            ),
            "expected one s, any t, then one f",
        );
        bad(
            g.replace(r#""tid": 2, "ts": 15.0}"#, r#""tid": 2, "ts": 9.0}"#),
            "goes back in time",
        );
        bad(
            g.replace(r#""tid": 2, "ts": 15.0}"#, r#""tid": 2, "ts": 17.0}"#),
            "no slice to bind to",
        );
        bad(
            g.replace(
                r#""cat": "message", "id": 1, "pid": 1, "tid": 1"#,
                r#""cat": "message", "pid": 1, "tid": 1"#,
            ),
            "needs an id",
        );
        // Two calls 0.2 µs apart are two slices to the nanosecond, one inside the other
        // to the microsecond ("ms", the default): the viewer would lose the flow.
        let close = g
            .replace(r#""dur": 0.5"#, r#""dur": 0.1"#)
            .replace(r#""ts": 10.2, "dur""#, r#""ts": 11.2, "dur""#);
        bad(close.clone(), "at the precision of displayTimeUnit \"ms\"");
        bad(
            close.replace(r#", "displayTimeUnit": "ms""#, ""),
            "a viewer nests it",
        );
        let ns = close.replace(r#""displayTimeUnit": "ms""#, r#""displayTimeUnit": "ns""#);
        assert_eq!(validate_trace_events(&ns).unwrap().slices, 4);
        // Without bp, a flow's end binds to the next slice that starts on its thread.
        let next = g
            .replace(r#""bp": "e", "#, "")
            .replace(r#""tid": 2, "ts": 15.0}"#, r#""tid": 2, "ts": 14.0}"#);
        assert_eq!(validate_trace_events(&next).unwrap().flows, 1);
    }

    #[test]
    fn the_validator_accepts_a_good_log_and_names_each_broken_rule() {
        let good = format!(
            "{R}\n\na {{\"a\":1}}\nsend\nb {{\"b\":1}}\nlocal\nb {{\"a\":1,\"b\":2}}\nrecv\n"
        );
        let st = validate_shiviz(&good).unwrap();
        assert_eq!((st.events, st.hosts, st.joins), (3, 2, 1));
        let bad = |text: String, says: &str| {
            let e = validate_shiviz(&text).unwrap_err();
            assert!(e.contains(says), "{e:?} should say {says:?}");
        };
        bad(good.replace("\"b\":2", "\"b\":3"), "expected 2");
        bad(good.replace("b {\"b\":1}", "b {\"b\":2}"), "expected 1");
        bad(
            good.replace("\"a\":1,\"b\":2", "\"a\":2,\"b\":2"),
            "exceeds",
        );
        bad(
            good.replace("\"a\":1,\"b\":2", "\"c\":1,\"b\":2"),
            "logs no event",
        );
        bad(good.replace("b {\"b\":1}", "b {\"a\":0,\"b\":1}"), "is 0");
        bad(good.replace("a {\"a\":1}", "a {\"b\":1}"), "missing");
        bad(good.replace(R, "(?<event>.*)"), "line 1");
        // Transitivity: c saw b's second event but not the a that b had seen.
        let t = format!("{good}c {{\"b\":2,\"c\":1}}\nrecv\n");
        bad(t, "not what that event had seen");
        // A clock that goes back.
        let back = format!("{good}b {{\"b\":3}}\nlocal\n");
        bad(back, "went back");
    }
}
