//! Histories and linearizability checking for faultline.
pub mod history;
pub use history::{Event, EventKind, History, ModelKind, Value};
