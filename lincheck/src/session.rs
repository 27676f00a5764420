//! Session guarantees on multi-value-register histories.
//!
//! Eventually consistent stores (Dynamo, Riak, the gossip store in faultline's
//! `protocols::gossip`) are not linearizable, so [`crate::check_history`] says nothing
//! useful about them. What a client of such a store can still be promised are the
//! *session guarantees* of Terry et al., "Session Guarantees for Weakly Consistent
//! Replicated Data" (PDIS 1994). Two of them are checked here, per client session:
//!
//! - **read your writes**: a read sees every write the same session completed before it;
//! - **monotonic reads**: a read sees everything an earlier read of the same session saw.
//!
//! ## The multi-value register history model (`mv-register`)
//!
//! Histories use the faultline format (`HISTORY-FORMAT.md`, version 1) with these ops on
//! each key. Their lines have a register's shape, so the header says `"model":"register"`
//! and every well-formedness rule of the format applies; the multi-value semantics below
//! are what these checks give them (a linearizability check of such a file judges
//! something the store never promised):
//!
//! | `f` | invoke `value` | ok `value` |
//! | --- | --- | --- |
//! | `write` | `[v, [p1, p2, ...]]`: the new value and the values its causal context covered (what the writer had read) | ignored |
//! | `read` | `null` | `[s1, s2, ...]`: every sibling the read returned |
//!
//! Values must be unique per write (`"c2-17"`). A write *covers* the values it lists and,
//! transitively, whatever those covered; the *down-closure* ↓S of a set of values is S
//! plus everything it covers. A read that returns siblings S has seen exactly ↓S. "Sees"
//! is therefore causal, not a matter of clocks: a read that returns only `w2` has seen
//! `w1` if `w2`'s writer had read `w1`.
//!
//! A session is a history process (a client continues as a new process after an `info`,
//! so a timed-out operation ends its session). Only `ok` operations are judged; a write
//! counts as completed at its `ok` line, a read at its invoke line (a read invoked after a
//! write's `ok` must see it).
//!
//! ```
//! use lincheck::{parse_history, session};
//! let text = r#"{"format":"faultline-history","version":1,"model":"register"}
//! {"process":0,"type":"invoke","f":"write","key":"k","value":["a",[]]}
//! {"process":0,"type":"ok","f":"write","key":"k","value":null}
//! {"process":0,"type":"invoke","f":"read","key":"k","value":null}
//! {"process":0,"type":"ok","f":"read","key":"k","value":[]}
//! "#;
//! let h = parse_history(text, "h.jsonl")?;
//! let err = session::read_your_writes(&h).unwrap_err();
//! assert!(err.contains("does not see \"a\""), "{err}");
//! assert!(session::monotonic_reads(&h).is_ok());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::history::{EventKind, History, Value};
use std::collections::{BTreeMap, BTreeSet};

/// One judged operation, in history order.
struct Op {
    process: u64,
    key: Value,
    /// Line index of the invoke and of the completion.
    invoke: usize,
    complete: usize,
    kind: OpKind,
}

enum OpKind {
    Write(Value),
    Read(Vec<Value>),
}

/// The ops and what each write covers, or a message naming the malformed line.
struct Parsed {
    ops: Vec<Op>,
    covers: BTreeMap<Value, Vec<Value>>,
}

fn parse(history: &History) -> Result<Parsed, String> {
    let mut open: BTreeMap<u64, (usize, &crate::history::Event)> = BTreeMap::new();
    let mut ops = Vec::new();
    let mut covers = BTreeMap::new();
    for (i, e) in history.events.iter().enumerate() {
        let line = i + 2;
        match e.kind {
            EventKind::Invoke => {
                if e.f == "write" {
                    let (v, c) = write_argument(&e.value).ok_or_else(|| {
                        format!(
                            "line {line}: a mv-register write's value must be [value, [covered values...]], found {:?}",
                            e.value
                        )
                    })?;
                    if covers.insert(v.clone(), c).is_some() {
                        return Err(format!(
                            "line {line}: the value {v:?} is written twice; mv-register values must be unique per write"
                        ));
                    }
                } else if e.f != "read" {
                    return Err(format!(
                        "line {line}: mv-register ops are read and write, found {:?}",
                        e.f
                    ));
                }
                open.insert(e.process, (i, e));
            }
            EventKind::Ok | EventKind::Fail | EventKind::Info => {
                let Some((at, inv)) = open.remove(&e.process) else {
                    return Err(format!(
                        "line {line}: process {} completes an operation it never invoked",
                        e.process
                    ));
                };
                if e.kind != EventKind::Ok {
                    continue;
                }
                let kind = if inv.f == "write" {
                    let (v, _) = write_argument(&inv.value).expect("checked at the invoke");
                    OpKind::Write(v)
                } else {
                    match &e.value {
                        Value::List(items) => OpKind::Read(items.clone()),
                        other => {
                            return Err(format!(
                                "line {line}: a mv-register read returns a list of siblings, found {other:?}"
                            ));
                        }
                    }
                };
                ops.push(Op {
                    process: e.process,
                    key: inv.key.clone().unwrap_or(Value::Null),
                    invoke: at,
                    complete: i,
                    kind,
                });
            }
        }
    }
    Ok(Parsed { ops, covers })
}

fn write_argument(v: &Value) -> Option<(Value, Vec<Value>)> {
    match v {
        Value::List(parts) if parts.len() == 2 => match &parts[1] {
            Value::List(c) => Some((parts[0].clone(), c.clone())),
            _ => None,
        },
        _ => None,
    }
}

/// ↓S: the values in `seen` and everything they cover, transitively.
fn down_closure(seen: &[Value], covers: &BTreeMap<Value, Vec<Value>>) -> BTreeSet<Value> {
    let mut out = BTreeSet::new();
    let mut stack: Vec<&Value> = seen.iter().collect();
    while let Some(v) = stack.pop() {
        if out.insert(v.clone()) {
            if let Some(c) = covers.get(v) {
                stack.extend(c.iter());
            }
        }
    }
    out
}

fn show(v: &Value) -> String {
    match v {
        Value::Str(s) => format!("{s:?}"),
        other => format!("{other:?}"),
    }
}

fn show_set(vs: &[Value]) -> String {
    let parts: Vec<String> = vs.iter().map(show).collect();
    format!("[{}]", parts.join(", "))
}

/// Read your writes: every `ok` read by a session sees (in its down-closure) every write
/// the same session completed before the read was invoked. `Err` names the first read
/// that does not, the write it missed and what it returned.
pub fn read_your_writes(history: &History) -> Result<(), String> {
    let p = parse(history)?;
    // Per (process, key): the writes completed so far, with their completion line.
    let mut written: BTreeMap<(u64, &Value), Vec<(usize, &Value)>> = BTreeMap::new();
    // Process ops in order of their judged instant: reads at invoke, writes at completion.
    let mut events: Vec<(usize, &Op)> = p
        .ops
        .iter()
        .map(|op| match op.kind {
            OpKind::Write(_) => (op.complete, op),
            OpKind::Read(_) => (op.invoke, op),
        })
        .collect();
    events.sort_by_key(|(at, _)| *at);
    for (_, op) in events {
        match &op.kind {
            OpKind::Write(v) => written
                .entry((op.process, &op.key))
                .or_default()
                .push((op.complete, v)),
            OpKind::Read(seen) => {
                let Some(ws) = written.get(&(op.process, &op.key)) else {
                    continue;
                };
                let closure = down_closure(seen, &p.covers);
                if let Some((line, w)) = ws.iter().find(|(_, w)| !closure.contains(*w)) {
                    return Err(format!(
                        "read your writes: process {}'s read of {} (line {}) returns {} and does not see {}, which the same session wrote (ok at line {})",
                        op.process,
                        show(&op.key),
                        op.invoke + 2,
                        show_set(seen),
                        show(w),
                        line + 2
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Monotonic reads: a session's `ok` read sees everything its previous `ok` read of the
/// same key saw. `Err` names the two reads and a value the later one lost.
pub fn monotonic_reads(history: &History) -> Result<(), String> {
    let p = parse(history)?;
    // Per (process, key): the last read's line, what it returned, and its down-closure.
    type LastRead<'a> = (usize, &'a [Value], BTreeSet<Value>);
    let mut last: BTreeMap<(u64, &Value), LastRead> = BTreeMap::new();
    let mut reads: Vec<&Op> = p
        .ops
        .iter()
        .filter(|o| matches!(o.kind, OpKind::Read(_)))
        .collect();
    reads.sort_by_key(|o| o.invoke);
    for op in reads {
        let OpKind::Read(seen) = &op.kind else {
            unreachable!("filtered to reads")
        };
        let closure = down_closure(seen, &p.covers);
        if let Some((line, before, prev)) = last.get(&(op.process, &op.key)) {
            if let Some(lost) = prev.iter().find(|v| !closure.contains(*v)) {
                return Err(format!(
                    "monotonic reads: process {}'s read of {} (line {}) returns {} and no longer sees {}, which its earlier read (line {}) saw in {}",
                    op.process,
                    show(&op.key),
                    op.invoke + 2,
                    show_set(seen),
                    show(lost),
                    line + 2,
                    show_set(before)
                ));
            }
        }
        last.insert((op.process, &op.key), (op.invoke, seen, closure));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_history;

    fn history(lines: &[&str]) -> History {
        let mut text =
            String::from(r#"{"format":"faultline-history","version":1,"model":"register"}"#);
        text.push('\n');
        for l in lines {
            text.push_str(l);
            text.push('\n');
        }
        parse_history(&text, "t.jsonl").expect("well-formed")
    }

    const W_A: &str = r#"{"process":0,"type":"invoke","f":"write","key":"k","value":["a",[]]}"#;
    const W_OK: &str = r#"{"process":0,"type":"ok","f":"write","key":"k","value":null}"#;
    const R: &str = r#"{"process":0,"type":"invoke","f":"read","key":"k","value":null}"#;

    #[test]
    fn a_covering_write_counts_as_seeing_what_it_covered() {
        // Process 1 read a and wrote b over it; process 0 then reads only b: it has seen a.
        let h = history(&[
            W_A,
            W_OK,
            r#"{"process":1,"type":"invoke","f":"write","key":"k","value":["b",["a"]]}"#,
            r#"{"process":1,"type":"ok","f":"write","key":"k","value":null}"#,
            R,
            r#"{"process":0,"type":"ok","f":"read","key":"k","value":["b"]}"#,
        ]);
        assert_eq!(read_your_writes(&h), Ok(()));
        assert_eq!(monotonic_reads(&h), Ok(()));
    }

    #[test]
    fn a_concurrent_overwrite_is_not_seeing() {
        let h = history(&[
            W_A,
            W_OK,
            r#"{"process":1,"type":"invoke","f":"write","key":"k","value":["b",[]]}"#,
            r#"{"process":1,"type":"ok","f":"write","key":"k","value":null}"#,
            R,
            r#"{"process":0,"type":"ok","f":"read","key":"k","value":["b"]}"#,
        ]);
        let e = read_your_writes(&h).unwrap_err();
        assert!(e.contains("returns [\"b\"] and does not see \"a\""), "{e}");
    }

    #[test]
    fn monotonic_reads_fail_when_a_later_read_loses_a_value() {
        let h = history(&[
            W_A,
            W_OK,
            r#"{"process":1,"type":"invoke","f":"read","key":"k","value":null}"#,
            r#"{"process":1,"type":"ok","f":"read","key":"k","value":["a"]}"#,
            r#"{"process":1,"type":"invoke","f":"read","key":"k","value":null}"#,
            r#"{"process":1,"type":"ok","f":"read","key":"k","value":[]}"#,
        ]);
        let e = monotonic_reads(&h).unwrap_err();
        assert!(e.contains("no longer sees \"a\""), "{e}");
        // Process 1 never wrote, so read-your-writes has nothing to judge.
        assert_eq!(read_your_writes(&h), Ok(()));
    }

    #[test]
    fn a_write_in_flight_is_not_required() {
        // The read is invoked before the write's ok: concurrent, not required to see it.
        let h = history(&[
            W_A,
            r#"{"process":1,"type":"invoke","f":"read","key":"k","value":null}"#,
            W_OK,
            r#"{"process":1,"type":"ok","f":"read","key":"k","value":[]}"#,
        ]);
        assert_eq!(read_your_writes(&h), Ok(()));
    }

    #[test]
    fn malformed_writes_are_named() {
        let h = history(&[
            r#"{"process":0,"type":"invoke","f":"write","key":"k","value":"a"}"#,
            W_OK,
        ]);
        let e = read_your_writes(&h).unwrap_err();
        assert!(
            e.starts_with("line 2: a mv-register write's value must be"),
            "{e}"
        );
    }
}
