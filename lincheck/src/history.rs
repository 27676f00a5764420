//! Histories: what clients asked and what they got, in the faultline JSON Lines format
//! (`HISTORY-FORMAT.md`, version 1).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::parse::{FORMAT_NAME, FORMAT_VERSION};
use crate::wellformed::{Validator, WellFormedError};

/// A value in a history: the JSON subset that format v1 allows (no floats, no objects).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    List(Vec<Value>),
}

/// Which sequential specification a history is checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    Register,
    CasRegister,
    Kv,
}

/// Jepsen's event kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    Invoke,
    Ok,
    Fail,
    Info,
}

/// One line of a history after the header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub process: u64,
    #[serde(rename = "type")]
    pub kind: EventKind,
    pub f: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Value>,
    #[serde(default)]
    pub value: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ModelKind {
    /// Every built-in model, in a fixed order.
    pub const ALL: [ModelKind; 3] = [ModelKind::Register, ModelKind::CasRegister, ModelKind::Kv];

    /// The name used in headers and on the command line: `register`, `cas-register`, `kv`.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Register => "register",
            ModelKind::CasRegister => "cas-register",
            ModelKind::Kv => "kv",
        }
    }

    /// The initial value of every object when the header has no `init`.
    pub fn default_init(self) -> Value {
        match self {
            ModelKind::Register | ModelKind::CasRegister => Value::Null,
            ModelKind::Kv => Value::Str(String::new()),
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Returned by `ModelKind::from_str` for a name that is not a built-in model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownModel(pub String);

impl fmt::Display for UnknownModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "expected one of register, cas-register, kv, found {:?}",
            self.0
        )
    }
}

impl std::error::Error for UnknownModel {}

impl FromStr for ModelKind {
    type Err = UnknownModel;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ModelKind::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| UnknownModel(s.to_string()))
    }
}

/// A whole history: the model it claims and its events in real-time order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct History {
    pub model: ModelKind,
    /// Initial value of every object; `None` means the model's default.
    pub init: Option<Value>,
    pub events: Vec<Event>,
    /// What the system calls each process, e.g. the simulator's client `c1` (a client that
    /// loses track of an operation goes on as a new process with the same name).
    /// Explanations use these names; processes without one are `p<N>`. Written in the
    /// header as `"processes":{"0":"c1",...}`.
    pub process_names: std::collections::BTreeMap<u64, String>,
}

/// A well-formedness violation in an in-memory [`History`]: the index of the offending
/// event in `events` and the rule it breaks. Line numbers inside the error are those of
/// [`History::to_jsonl`]'s output (event `i` is on line `i + 2`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryError {
    pub event: usize,
    pub error: WellFormedError,
}

impl fmt::Display for HistoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "event {} (line {}): {}",
            self.event,
            self.event + 2,
            self.error
        )
    }
}

impl std::error::Error for HistoryError {}

impl History {
    /// The initial value of every object: `init`, or the model's default.
    pub fn initial_value(&self) -> Value {
        self.init
            .clone()
            .unwrap_or_else(|| self.model.default_init())
    }

    /// Checks the format's well-formedness rules 1-4 and the `time` rules against
    /// `self.model`, as the parser does.
    pub fn validate(&self) -> Result<(), HistoryError> {
        self.validate_as(Some(self.model))
    }

    /// Like [`History::validate`]; with `None`, skips the model-specific checks
    /// (operation names and value shapes), for user-defined models.
    pub(crate) fn validate_as(&self, model: Option<ModelKind>) -> Result<(), HistoryError> {
        let mut v = Validator::new(model);
        for (i, ev) in self.events.iter().enumerate() {
            v.event(ev, i + 2, &self.events[..i])
                .map_err(|error| HistoryError { event: i, error })?;
        }
        Ok(())
    }

    /// Writes the history as JSON Lines: a header (`format`, `version`, `model` and
    /// `init` when set), then one line per event, each ending in `\n`.
    /// [`parse_history`](crate::parse_history) reads it back to an equal `History`.
    pub fn to_jsonl(&self) -> String {
        let mut out = format!(
            "{{\"format\":\"{FORMAT_NAME}\",\"version\":{FORMAT_VERSION},\"model\":\"{}\"",
            self.model.name()
        );
        if let Some(init) = &self.init {
            out.push_str(",\"init\":");
            out.push_str(&json_text(init));
        }
        if !self.process_names.is_empty() {
            let names: std::collections::BTreeMap<String, &String> = self
                .process_names
                .iter()
                .map(|(p, n)| (p.to_string(), n))
                .collect();
            out.push_str(",\"processes\":");
            out.push_str(&json_text(&names));
        }
        out.push_str("}\n");
        for ev in &self.events {
            out.push_str(&ev.to_json_line());
            out.push('\n');
        }
        out
    }
}

impl Event {
    /// This event as one line of JSON (no newline), fields in the spec's order.
    pub fn to_json_line(&self) -> String {
        let mut out = format!(
            "{{\"process\":{},\"type\":{},\"f\":{}",
            self.process,
            json_text(&self.kind),
            json_text(&self.f)
        );
        if let Some(k) = &self.key {
            out.push_str(",\"key\":");
            out.push_str(&json_text(k));
        }
        out.push_str(",\"value\":");
        out.push_str(&json_text(&self.value));
        if let Some(t) = self.time {
            out.push_str(&format!(",\"time\":{t}"));
        }
        if let Some(e) = &self.error {
            out.push_str(",\"error\":");
            out.push_str(&json_text(e));
        }
        out.push('}');
        out
    }
}

/// Serializing these types cannot fail (no maps, no floats), so the fallback is unreachable.
pub(crate) fn json_text<T: Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_string())
}
