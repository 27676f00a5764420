//! Well-formedness rules 1-4 of the history format, plus the `time` rules.
//!
//! Shared by the parser (positions are physical line numbers) and by
//! [`History::validate`](crate::History::validate) (positions are the line numbers the
//! event would have in [`History::to_jsonl`](crate::History::to_jsonl): event `i` is on
//! line `i + 2`).

use std::collections::BTreeMap;
use std::fmt;

use crate::history::{Event, EventKind, ModelKind, Value};

/// Which field of an event a [`WellFormedError`] is about (the parser turns it into a column).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    Process,
    Type,
    F,
    Key,
    Value,
    Time,
}

/// A violation of the format's well-formedness rules by one event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WellFormedError {
    /// `f` is not an operation of the model.
    UnknownF { model: ModelKind, found: String },
    /// `key` is neither a string, an integer nor null.
    BadKey { found: Value },
    /// Rule 1: a process with an open op invoked again.
    AlreadyOpen { process: u64, open_line: usize },
    /// Rule 2: a completion without an open op for its process.
    NoOpenOp { process: u64, kind: EventKind },
    /// Rule 2: a completion whose `f` or `key` differs from its invoke.
    Mismatch {
        field: Field,
        invoke_line: usize,
        expected: String,
        found: String,
    },
    /// Rule 3: a process invoked again after an `info`.
    InvokeAfterInfo { process: u64, info_line: usize },
    /// Rule 4: `value` does not have the shape `f` requires.
    BadShape {
        f: String,
        kind: EventKind,
        expected: &'static str,
        found: Value,
    },
    /// `time` present on some events but not on this one (or the reverse).
    TimeAllOrNone { first_line: usize, has_time: bool },
    /// `time` went backwards.
    TimeDecreasing {
        previous: u64,
        previous_line: usize,
        found: u64,
    },
    /// A user-defined [`Model`](crate::Model) refused the op (see [`Model::op`](crate::Model::op)).
    Model { message: String },
}

impl WellFormedError {
    /// The field the error is about.
    pub fn field(&self) -> Field {
        match self {
            WellFormedError::UnknownF { .. } => Field::F,
            WellFormedError::BadKey { .. } => Field::Key,
            WellFormedError::AlreadyOpen { .. }
            | WellFormedError::NoOpenOp { .. }
            | WellFormedError::InvokeAfterInfo { .. } => Field::Type,
            WellFormedError::Mismatch { field, .. } => *field,
            WellFormedError::BadShape { .. } | WellFormedError::Model { .. } => Field::Value,
            WellFormedError::TimeAllOrNone { .. } | WellFormedError::TimeDecreasing { .. } => {
                Field::Time
            }
        }
    }
}

/// Compact JSON text of a value, for messages.
pub(crate) fn show(v: &Value) -> String {
    let s = serde_json::to_string(v).unwrap_or_else(|_| "?".to_string());
    if s.chars().count() > 60 {
        let cut: String = s.chars().take(57).collect();
        format!("{cut}...")
    } else {
        s
    }
}

fn kind_name(k: EventKind) -> &'static str {
    match k {
        EventKind::Invoke => "invoke",
        EventKind::Ok => "ok",
        EventKind::Fail => "fail",
        EventKind::Info => "info",
    }
}

impl fmt::Display for WellFormedError {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WellFormedError::UnknownF { model, found } => write!(
                out,
                "expected \"f\" to be one of {} (model {}), found {found:?}",
                model_ops(*model).join(", "),
                model.name()
            ),
            WellFormedError::BadKey { found } => write!(
                out,
                "expected \"key\" to be a string, an integer or null, found {}",
                show(found)
            ),
            WellFormedError::AlreadyOpen { process, open_line } => write!(
                out,
                "expected a completion for process {process} (its op invoked at line {open_line} is still open), found another invoke"
            ),
            WellFormedError::NoOpenOp { process, kind } => write!(
                out,
                "expected an open op for process {process} before this {:?} completion, found none",
                kind_name(*kind)
            ),
            WellFormedError::Mismatch {
                field,
                invoke_line,
                expected,
                found,
            } => write!(
                out,
                "expected {:?} to match the invoke at line {invoke_line} ({expected}), found {found}",
                format!("{field:?}").to_lowercase()
            ),
            WellFormedError::InvokeAfterInfo { process, info_line } => write!(
                out,
                "expected no further invoke from process {process} after its \"info\" at line {info_line}, found an invoke"
            ),
            WellFormedError::BadShape {
                f,
                kind,
                expected,
                found,
            } => write!(
                out,
                "expected \"value\" of {f:?} {} to be {expected}, found {}",
                kind_name(*kind),
                show(found)
            ),
            WellFormedError::TimeAllOrNone {
                first_line,
                has_time,
            } => {
                if *has_time {
                    write!(
                        out,
                        "expected no \"time\" (the event at line {first_line} has none, so none may), found one"
                    )
                } else {
                    write!(
                        out,
                        "expected \"time\" (the event at line {first_line} has one, so all must), found none"
                    )
                }
            }
            WellFormedError::Model { message } => write!(out, "{message}"),
            WellFormedError::TimeDecreasing {
                previous,
                previous_line,
                found,
            } => write!(
                out,
                "expected \"time\" >= {previous} (the time at line {previous_line}), found {found}"
            ),
        }
    }
}

impl std::error::Error for WellFormedError {}

/// The operation names (`f`) a built-in model accepts.
pub fn model_ops(model: ModelKind) -> &'static [&'static str] {
    match model {
        ModelKind::Register => &["read", "write"],
        ModelKind::CasRegister => &["read", "write", "cas"],
        // `cas` on kv is faultline's extension of format v1 (see `Kv`).
        ModelKind::Kv => &["get", "put", "append", "cas"],
    }
}

/// Checks rule 4 for a built-in model: the shape of `value` on invoke and ok lines.
/// `invoked` is the invoke's value (for the cas echo).
fn check_shape(
    f: &str,
    kind: EventKind,
    value: &Value,
    invoked: Option<&Value>,
) -> Result<(), WellFormedError> {
    let bad = |expected: &'static str| {
        Err(WellFormedError::BadShape {
            f: f.to_string(),
            kind,
            expected,
            found: value.clone(),
        })
    };
    match (kind, f) {
        (EventKind::Invoke, "read" | "get") if *value != Value::Null => bad("null"),
        (EventKind::Invoke, "append") if !matches!(value, Value::Str(_)) => bad("a string"),
        (EventKind::Invoke, "cas") if !matches!(value, Value::List(l) if l.len() == 2) => {
            bad("[from, to]")
        }
        (EventKind::Ok, "cas") => match value {
            Value::Bool(_) => Ok(()),
            Value::List(_) if Some(value) == invoked => Ok(()),
            _ => bad("true, false or the invoked [from, to]"),
        },
        _ => Ok(()),
    }
}

/// An open op: its invoke's line, and its index among the events fed so far (the
/// invoke itself is read from there, not copied).
#[derive(Debug)]
struct Open {
    line: usize,
    event: usize,
}

/// Feeds events one by one and reports the first rule violation.
#[derive(Debug)]
pub(crate) struct Validator {
    /// `None` for a user model: then `f` and value shapes are the model's business.
    model: Option<ModelKind>,
    open: BTreeMap<u64, Open>,
    crashed: BTreeMap<u64, usize>,
    /// (line of the first event, whether it had a time, last time and its line)
    time: Option<(usize, bool, u64, usize)>,
}

/// `None` and `Some(Null)` both name the default object.
pub(crate) fn normalize_key(key: &Option<Value>) -> Option<&Value> {
    match key {
        None | Some(Value::Null) => None,
        Some(k) => Some(k),
    }
}

impl Validator {
    pub(crate) fn new(model: Option<ModelKind>) -> Self {
        Validator {
            model,
            open: BTreeMap::new(),
            crashed: BTreeMap::new(),
            time: None,
        }
    }

    /// Checks `ev`, the event after `earlier` (every event fed before, in order).
    pub(crate) fn event(
        &mut self,
        ev: &Event,
        line: usize,
        earlier: &[Event],
    ) -> Result<(), WellFormedError> {
        if let Some(model) = self.model
            && !model_ops(model).contains(&ev.f.as_str())
        {
            return Err(WellFormedError::UnknownF {
                model,
                found: ev.f.clone(),
            });
        }
        if let Some(k) = &ev.key
            && !matches!(k, Value::Null | Value::Int(_) | Value::Str(_))
        {
            return Err(WellFormedError::BadKey { found: k.clone() });
        }
        self.check_time(ev, line)?;
        let key = normalize_key(&ev.key);
        match ev.kind {
            EventKind::Invoke => {
                if let Some(o) = self.open.get(&ev.process) {
                    return Err(WellFormedError::AlreadyOpen {
                        process: ev.process,
                        open_line: o.line,
                    });
                }
                if let Some(&info_line) = self.crashed.get(&ev.process) {
                    return Err(WellFormedError::InvokeAfterInfo {
                        process: ev.process,
                        info_line,
                    });
                }
                if self.model.is_some() {
                    check_shape(&ev.f, ev.kind, &ev.value, None)?;
                }
                self.open.insert(
                    ev.process,
                    Open {
                        line,
                        event: earlier.len(),
                    },
                );
            }
            EventKind::Ok | EventKind::Fail | EventKind::Info => {
                let Some(o) = self.open.get(&ev.process) else {
                    return Err(WellFormedError::NoOpenOp {
                        process: ev.process,
                        kind: ev.kind,
                    });
                };
                let invoke = &earlier[o.event];
                if invoke.f != ev.f {
                    return Err(WellFormedError::Mismatch {
                        field: Field::F,
                        invoke_line: o.line,
                        expected: format!("{:?}", invoke.f),
                        found: format!("{:?}", ev.f),
                    });
                }
                let invoke_key = normalize_key(&invoke.key);
                if invoke_key != key {
                    let show_key = |k: Option<&Value>| k.map_or("no key".to_string(), show);
                    return Err(WellFormedError::Mismatch {
                        field: Field::Key,
                        invoke_line: o.line,
                        expected: show_key(invoke_key),
                        found: show_key(key),
                    });
                }
                if self.model.is_some() && ev.kind == EventKind::Ok {
                    check_shape(&ev.f, ev.kind, &ev.value, Some(&invoke.value))?;
                }
                self.open.remove(&ev.process);
                if ev.kind == EventKind::Info {
                    self.crashed.insert(ev.process, line);
                }
            }
        }
        Ok(())
    }

    fn check_time(&mut self, ev: &Event, line: usize) -> Result<(), WellFormedError> {
        match (&mut self.time, ev.time) {
            (None, t) => self.time = Some((line, t.is_some(), t.unwrap_or(0), line)),
            (Some((first_line, had, _, _)), t) if *had != t.is_some() => {
                return Err(WellFormedError::TimeAllOrNone {
                    first_line: *first_line,
                    has_time: t.is_some(),
                });
            }
            (Some((_, _, last, last_line)), Some(t)) => {
                if t < *last {
                    return Err(WellFormedError::TimeDecreasing {
                        previous: *last,
                        previous_line: *last_line,
                        found: t,
                    });
                }
                *last = t;
                *last_line = line;
            }
            (Some(_), None) => {}
        }
        Ok(())
    }
}
