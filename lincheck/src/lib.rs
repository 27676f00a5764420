//! Histories in the faultline JSON Lines format, and a fast linearizability checker.
//!
//! A *history* records what clients asked of a system and what they got back
//! (`HISTORY-FORMAT.md`, version 1). [`parse_history`] reads one, [`History::to_jsonl`]
//! writes one, and [`check_history`] decides whether it is linearizable: whether every
//! operation can be given a single instant, between its invoke and its completion, such
//! that the model (a register, a cas-register or a key-value store) explains every result.
//!
//! ```
//! use lincheck::{CheckOptions, Verdict, check_history, parse_history};
//!
//! // Process 1 reads 1 after process 0's write of 1 completed: fine.
//! let text = r#"{"format":"faultline-history","version":1,"model":"register"}
//! {"process":0,"type":"invoke","f":"write","value":1}
//! {"process":0,"type":"ok","f":"write","value":1}
//! {"process":1,"type":"invoke","f":"read","value":null}
//! {"process":1,"type":"ok","f":"read","value":1}
//! "#;
//! let history = parse_history(text, "good.jsonl")?;
//! let report = check_history(&history, &CheckOptions::default())?;
//! assert_eq!(report.verdict, Verdict::Linearizable);
//!
//! // A read that returns a value nobody wrote cannot be linearized.
//! let bad = text.replace(r#""type":"ok","f":"read","value":1"#, r#""type":"ok","f":"read","value":2"#);
//! let report = check_history(&parse_history(&bad, "bad.jsonl")?, &CheckOptions::default())?;
//! assert_eq!(report.verdict, Verdict::NotLinearizable);
//! print!("{}", report.render_text()); // the longest linearizable prefix, and what is stuck
//!
//! // Errors carry file:line:column and what was expected.
//! let err = parse_history(&text.replace("\"ok\"", "\"okay\""), "h.jsonl").unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     r#"h.jsonl:3:21: expected "type" to be one of invoke, ok, fail, info, found "okay""#
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Each key is checked on its own (linearizability is compositional), keys in sorted
//! order, with Wing & Gong's search as improved by Lowe (memoizing explored
//! configurations). A key of plain reads and writes whose written values are distinct is
//! decided without a search, in O(n log n) (the zone check of Gibbons and Korach). Verdicts are deterministic unless a [`CheckOptions::timeout`] is set.
//! Protocols with their own sequential specification implement [`Model`] and call
//! [`check_with_model`].

mod check;
mod cut;
pub mod edn;
pub mod explain;
mod fast;
pub mod generate;
pub mod history;
mod json;
mod memo;
pub mod model;
pub mod parse;
mod refute;
mod run;
pub mod session;
pub mod wellformed;
mod zones;

pub use explain::{
    Blocked, Exhausted, Explanation, KeyReport, OpStatus, OpView, PlacedOp, Report, StuckOp,
    Verdict, brief_text,
};
pub use fast::check_text;
pub use history::{Event, EventKind, History, HistoryError, ModelKind, UnknownModel, Value};
pub use model::{Access, BuiltinOp, CasRegister, Kv, Model, Register};
pub use parse::{ParseError, ParseErrorKind, ParseOptions, parse_history, parse_history_with};
pub use run::{
    CheckOptions, DEFAULT_CUT_FROM, DEFAULT_HIDE_AFTER, DEFAULT_MAX_MEMORY, DEFAULT_MAX_STEPS,
    check_history, check_parsed, check_with_model,
};
pub use wellformed::{Field, WellFormedError};
