//! Histories: what clients asked and what they got, in the faultline JSON Lines format
//! (`HISTORY-FORMAT.md`, version 1).

use serde::{Deserialize, Serialize};

/// A value in a history: the JSON subset that format v1 allows (no floats, no objects).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
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

impl Default for Value {
    fn default() -> Self {
        Value::Null
    }
}

/// A whole history: the model it claims and its events in real-time order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct History {
    pub model: ModelKind,
    /// Initial value of every object; `None` means the model's default.
    pub init: Option<Value>,
    pub events: Vec<Event>,
}
