//! `faultline check-history`'s one pass from text to per-key ops, for the built-in
//! models: no [`History`](crate::History), no owned `Event`s. Each line is read borrowed
//! ([`RawEvent`]), checked against the well-formedness rules (a conservative subset of
//! the validator's: anything unusual gives up), and goes straight into its key's list of
//! ops; a value is allocated only if the model's op keeps it. On anything it does not
//! handle, or any error, [`check_text`] returns `None` and the caller reads the text with
//! the full parser, which gives the error message (or the same report).

use std::collections::HashMap;
use std::time::Instant;

use crate::check::{Budget, SearchOp};
use crate::explain::{OpStatus, OpView, Report};
use crate::history::{EventKind, ModelKind, Value};
use crate::model::{BuiltinOp, CasRegister, Kv, Model, Register};
use crate::parse::{KeyRef, LineCtx, fast_event, raw_event};
use crate::run::{CheckOptions, ShowOp, check_prepared};
use crate::wellformed::model_ops;

/// Reads and checks a history in one pass, as
/// [`parse_history_with`](crate::parse_history_with) (with `options.model` as the model
/// override) followed by [`check_parsed`](crate::check_parsed) would, for the common
/// case: a JSON Lines history of a built-in model whose lines the parser's fast path
/// reads. Returns `None` for anything else, and for every history that is not
/// well-formed or that a model refuses; then use those two, which give the error (or
/// the same report). Whenever this returns a report, it is the one they give.
pub fn check_text(text: &str, options: &CheckOptions) -> Option<Report> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // The parser's lines: split at '\n', one '\r' off the end, blank ones skipped (only
    // ASCII bytes can be ' ', '\t' or '\r' in UTF-8, so bytes do as well as chars).
    let mut lines = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .filter(|l| !l.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\r')));
    let header = LineCtx {
        file: "",
        line: 1,
        text: lines.next()?,
    };
    let (header_model, init, process_names) = header.header().ok()?;
    let kind = options.model.unwrap_or(header_model);
    let init = init.unwrap_or_else(|| kind.default_init());
    let mut report = match kind {
        ModelKind::Register => one_pass(&Register { init }, kind, lines, options)?,
        ModelKind::CasRegister => one_pass(&CasRegister { init }, kind, lines, options)?,
        ModelKind::Kv => one_pass(&Kv { init }, kind, lines, options)?,
    };
    report.process_names = process_names;
    Some(report)
}

/// A key, normalized (no key and `null` are the same object), borrowed from a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Key<'t> {
    Default,
    Int(i64),
    Str(&'t str),
}

impl<'t> Key<'t> {
    fn of(k: KeyRef<'t>) -> Self {
        match k {
            KeyRef::Absent | KeyRef::Null => Key::Default,
            KeyRef::Int(i) => Key::Int(i),
            KeyRef::Str(s) => Key::Str(s),
        }
    }
    fn value(self) -> Option<Value> {
        match self {
            Key::Default => None,
            Key::Int(i) => Some(Value::Int(i)),
            Key::Str(s) => Some(Value::Str(s.to_string())),
        }
    }
}

/// One op as an explanation shows it: its lines are read again, only then.
#[derive(Clone, Copy, Debug)]
struct LineOp<'t> {
    process: u64,
    f: &'t str,
    status: OpStatus,
    invoke_event: usize,
    complete_event: Option<usize>,
    invoke_time: Option<u64>,
    complete_time: Option<u64>,
    invoke_line: &'t str,
    complete_line: Option<&'t str>,
}

impl ShowOp for LineOp<'_> {
    fn invoke_event(&self) -> usize {
        self.invoke_event
    }
    fn to_view(&self) -> OpView {
        // Both lines were read by the same fast path before, so they read again.
        let value = |line: &str| fast_event(line).map(|e| e.value).unwrap_or_default();
        OpView {
            process: self.process,
            f: self.f.to_string(),
            input: value(self.invoke_line),
            output: match (self.status, self.complete_line) {
                (OpStatus::Ok, Some(line)) => Some(value(line)),
                _ => None,
            },
            status: self.status,
            invoke_event: self.invoke_event,
            complete_event: self.complete_event,
            invoke_time: self.invoke_time,
            complete_time: self.complete_time,
        }
    }
}

/// An op of a key: its input until the model's op is made (at the completion, or at the
/// end for ops that never complete), then the op.
struct Slot<'t> {
    line: LineOp<'t>,
    input: Option<Value>,
    op: Option<BuiltinOp>,
    failed: bool,
}

/// Process ids up to this are read here (a table indexed by id); a history with a larger
/// one goes to the full path.
const MAX_PROCESS: usize = 1 << 20;

/// Up to this many keys are found by a scan, more with a hash map.
const FEW_KEYS: usize = 16;

/// Per process: the open op (key index, slot index), and whether it ended in `info`.
#[derive(Default)]
struct Proc {
    open: Option<(usize, usize)>,
    crashed: bool,
}

/// The model's op for `f` with the given input and output, moving the values in: what
/// [`Model::op`] gives for the built-in models (which would copy them); `cas` and
/// anything unusual go through `model.op`. `None` if the model refuses it.
fn builtin_op<M: Model<Op = BuiltinOp>>(
    model: &M,
    f: &str,
    input: Value,
    output: Option<Value>,
) -> Option<BuiltinOp> {
    match (f, input) {
        ("read" | "get", _) => Some(BuiltinOp::Read(output)),
        ("write" | "put", input) => Some(BuiltinOp::Write(input)),
        ("append", Value::Str(s)) => Some(BuiltinOp::Append(s)),
        (f, input) => model.op(f, &input, output.as_ref()).ok(),
    }
}

fn one_pass<'t, M: Model<Op = BuiltinOp>>(
    model: &M,
    kind: ModelKind,
    lines: impl Iterator<Item = &'t str>,
    options: &CheckOptions,
) -> Option<Report> {
    let names = model_ops(kind);
    let mut key_index: HashMap<Key<'t>, usize> = HashMap::new();
    let mut keys: Vec<(Key<'t>, Vec<Slot<'t>>)> = Vec::new();
    // Indexed by process id; larger ids than `MAX_PROCESS` go to the full path.
    let mut procs: Vec<Proc> = Vec::new();
    // Whether the first event had a time, and the last time.
    let mut time: Option<(bool, u64)> = None;
    let mut last_key: Option<(Key<'t>, usize)> = None;
    for (i, line) in lines.enumerate() {
        let ev = raw_event(line)?;
        if !names.contains(&ev.f) {
            return None;
        }
        match (&mut time, ev.time) {
            (None, t) => time = Some((t.is_some(), t.unwrap_or(0))),
            (Some((had, _)), t) if *had != t.is_some() => return None,
            (Some((_, last)), Some(t)) => {
                if t < *last {
                    return None;
                }
                *last = t;
            }
            (Some(_), None) => {}
        }
        let key = Key::of(ev.key);
        let k = match last_key {
            Some((last, k)) if last == key => k,
            _ => {
                // A few keys: a scan; many: the map (looked up, never iterated, so the
                // report's order does not depend on hashing).
                let found = if keys.len() <= FEW_KEYS {
                    keys.iter().position(|(k, _)| *k == key)
                } else {
                    key_index.get(&key).copied()
                };
                let k = found.unwrap_or_else(|| {
                    keys.push((key, Vec::new()));
                    let k = keys.len() - 1;
                    if keys.len() > FEW_KEYS {
                        if key_index.is_empty() {
                            key_index.extend(keys.iter().enumerate().map(|(i, (k, _))| (*k, i)));
                        } else {
                            key_index.insert(key, k);
                        }
                    }
                    k
                });
                last_key = Some((key, k));
                k
            }
        };
        if ev.kind == EventKind::Invoke {
            let p = usize::try_from(ev.process)
                .ok()
                .filter(|&p| p < MAX_PROCESS)?;
            if p >= procs.len() {
                procs.resize_with(p + 1, Proc::default);
            }
            let p = &mut procs[p];
            if p.open.is_some() || p.crashed {
                return None;
            }
            let input = match ev.f {
                // A read's input is null: nothing to read.
                "read" | "get" if ev.value_is_null() => Value::Null,
                "read" | "get" => return None,
                _ => ev.value()?,
            };
            let shaped = match ev.f {
                "append" => matches!(input, Value::Str(_)),
                "cas" => matches!(&input, Value::List(l) if l.len() == 2),
                _ => true,
            };
            if !shaped {
                return None;
            }
            let ops = &mut keys[k].1;
            p.open = Some((k, ops.len()));
            ops.push(Slot {
                line: LineOp {
                    process: ev.process,
                    f: ev.f,
                    status: OpStatus::Unfinished,
                    invoke_event: i,
                    complete_event: None,
                    invoke_time: ev.time,
                    complete_time: None,
                    invoke_line: line,
                    complete_line: None,
                },
                input: Some(input),
                op: None,
                failed: false,
            });
            continue;
        }
        let p = procs.get_mut(usize::try_from(ev.process).ok()?)?;
        let (ok_key, s) = p.open.take()?;
        if ok_key != k {
            return None;
        }
        let slot = &mut keys[k].1[s];
        if slot.line.f != ev.f {
            return None;
        }
        slot.line.complete_event = Some(i);
        slot.line.complete_time = ev.time;
        slot.line.complete_line = Some(line);
        let input = slot.input.take()?;
        match ev.kind {
            EventKind::Fail => slot.failed = true,
            EventKind::Info => {
                p.crashed = true;
                slot.line.status = OpStatus::Info;
                slot.op = Some(builtin_op(model, ev.f, input, None)?);
            }
            EventKind::Ok => {
                slot.line.status = OpStatus::Ok;
                // Only reads and cas look at the output: the others' is not read.
                let output = match ev.f {
                    "read" | "get" => ev.value()?,
                    "cas" => {
                        let out = ev.value()?;
                        if !(matches!(out, Value::Bool(_)) || out == input) {
                            return None;
                        }
                        out
                    }
                    _ => Value::Null,
                };
                slot.op = Some(builtin_op(model, ev.f, input, Some(output))?);
            }
            EventKind::Invoke => unreachable!("handled above"),
        }
    }
    // Sorted keys, as `run` has them.
    let mut keys: Vec<(Option<Value>, Vec<Slot<'t>>)> =
        keys.into_iter().map(|(k, ops)| (k.value(), ops)).collect();
    keys.sort_by(|a, b| a.0.cmp(&b.0));
    let budget = Budget {
        max_steps: options.max_steps,
        deadline: options.timeout.map(|t| Instant::now() + t),
        max_memory: options.max_memory,
        reduce: true,
    };
    let mut reports = Vec::with_capacity(keys.len());
    for (key, slots) in keys {
        let mut ops = 0;
        let mut search_ops = Vec::with_capacity(slots.len());
        let mut kept = Vec::with_capacity(slots.len());
        for slot in slots {
            if slot.failed {
                continue;
            }
            ops += 1;
            let op = match (slot.op, slot.input) {
                (Some(op), _) => op,
                // Never completed.
                (None, Some(input)) => builtin_op(model, slot.line.f, input, None)?,
                (None, None) => return None,
            };
            let ok = slot.line.status == OpStatus::Ok;
            // An unconstrained read has no effect whether or not it happens: drop it.
            if !ok && model.is_read_only(&op) {
                continue;
            }
            search_ops.push(SearchOp {
                op,
                invoke: slot.line.invoke_event,
                complete: if ok { slot.line.complete_event } else { None },
            });
            kept.push(slot.line);
        }
        // A key whose ops all failed has no ops: `run` never sees it.
        if ops == 0 {
            continue;
        }
        reports.push(check_prepared(
            model,
            key,
            ops,
            &search_ops,
            &kept,
            budget,
            options.cut_from,
        ));
    }
    Some(Report::new(model.name(), reports))
}
