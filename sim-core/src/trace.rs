//! The trace: every event of a run, in order, serializable, with a stable one-line text
//! form that people read and snapshot tests diff.
//!
//! ```text
//!      0.000ms  n1 start
//!     12.004ms  n1 -> n2  Ping { seq: 3 }
//!     14.310ms  n2 <- n1  Ping { seq: 3 }
//!    200.000ms  !! partition {n1 n2} | {n3 n4 n5}
//!    201.000ms  n1 note role=leader term=3
//! ```

use crate::time::Time;
use serde::{Deserialize, Serialize};
use std::fmt::{self, Write as _};

/// How much of a run the trace records.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum TraceLevel {
    /// Nothing but the fingerprint: for benchmarks and big sweeps (bounded memory).
    Off,
    /// Faults, starts, notes, client operations and violations: what happened, not every
    /// packet.
    Summary,
    /// Every event, including each send, delivery, drop and timer.
    #[default]
    Full,
}

/// A bound on what a trace records, for pictures of runs too long to record whole: before
/// `full_from` only the summary events (faults, starts, notes, client operations,
/// violations); from then on what the level records, up to `max_events` events in all.
/// When the next event would pass it, the trace drops the events of that instant and
/// stops, and the report says when ([`crate::Report::trace_cut`]): the trace then holds
/// every event before that time. The run itself goes on unchanged to its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceBudget {
    pub full_from: Time,
    pub max_events: usize,
}

impl Default for TraceBudget {
    /// No bound.
    fn default() -> Self {
        TraceBudget {
            full_from: Time::ZERO,
            max_events: usize::MAX,
        }
    }
}

/// Why a message did not arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DropReason {
    /// The link's loss probability.
    Loss,
    /// A partition cut the link when it was sent or while it was in flight.
    Partition,
    /// The receiver was crashed when it arrived.
    Down,
}

impl DropReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Loss => "loss",
            DropReason::Partition => "partition",
            DropReason::Down => "down",
        }
    }
}

/// One event of the trace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceEvent {
    pub time: Time,
    #[serde(flatten)]
    pub kind: TraceKind,
}

/// What happened. Names are the scenario's names (`"n1"`, `"c2"`); messages, timers and
/// operations are rendered with their `Debug` form when the event is recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum TraceKind {
    Start {
        node: String,
        restart: bool,
    },
    Send {
        from: String,
        to: String,
        msg: String,
    },
    Deliver {
        from: String,
        to: String,
        msg: String,
    },
    Drop {
        from: String,
        to: String,
        msg: String,
        reason: DropReason,
    },
    Duplicate {
        from: String,
        to: String,
        msg: String,
    },
    Timer {
        node: String,
        timer: String,
    },
    Fault {
        fault: String,
    },
    Note {
        node: String,
        text: String,
    },
    Invoke {
        client: String,
        process: u64,
        op: String,
    },
    Complete {
        client: String,
        process: u64,
        outcome: String,
        op: String,
    },
    Violation {
        check: String,
        message: String,
    },
    /// A record appended to a node's write-ahead log (full trace only).
    Append {
        node: String,
        index: u64,
        record: String,
    },
    /// A node's disk: a sync completed (`synced N records (upto M)`).
    Disk {
        node: String,
        text: String,
    },
}

impl TraceKind {
    /// Recorded at [`TraceLevel::Summary`]? (Everything is recorded at `Full`.)
    pub fn in_summary(&self) -> bool {
        !matches!(
            self,
            TraceKind::Send { .. }
                | TraceKind::Deliver { .. }
                | TraceKind::Drop { .. }
                | TraceKind::Duplicate { .. }
                | TraceKind::Timer { .. }
                | TraceKind::Append { .. }
        )
    }
}

impl fmt::Display for TraceEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:>12}  ", self.time)?;
        match &self.kind {
            TraceKind::Start { node, restart } => {
                write!(f, "{node} {}", if *restart { "restart" } else { "start" })
            }
            TraceKind::Send { from, to, msg } => write!(f, "{from} -> {to}  {msg}"),
            TraceKind::Deliver { from, to, msg } => write!(f, "{to} <- {from}  {msg}"),
            TraceKind::Drop {
                from,
                to,
                msg,
                reason,
            } => {
                write!(f, "{from} -x {to}  {msg}  (lost: {})", reason.as_str())
            }
            TraceKind::Duplicate { from, to, msg } => {
                write!(f, "{from} => {to}  {msg}  (duplicate)")
            }
            TraceKind::Timer { node, timer } => write!(f, "{node} timer {timer}"),
            TraceKind::Fault { fault } => write!(f, "!! {fault}"),
            TraceKind::Note { node, text } => write!(f, "{node} note {text}"),
            TraceKind::Invoke {
                client,
                process,
                op,
            } => write!(f, "{client} invoke {op}  (p{process})"),
            TraceKind::Complete {
                client,
                process,
                outcome,
                op,
            } => write!(f, "{client} {outcome} {op}  (p{process})"),
            TraceKind::Violation { check, message } => write!(f, "!! VIOLATION {check}: {message}"),
            TraceKind::Append {
                node,
                index,
                record,
            } => write!(f, "{node} wal append #{index} {record}"),
            TraceKind::Disk { node, text } => write!(f, "{node} wal {text}"),
        }
    }
}

/// The recorded events of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trace {
    pub level: TraceLevel,
    pub events: Vec<TraceEvent>,
}

impl Trace {
    /// The whole trace, one event a line.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for e in &self.events {
            let _ = writeln!(s, "{e}");
        }
        s
    }

    /// The summary lines only (faults, starts, notes, client operations, violations).
    pub fn summary_text(&self) -> String {
        let mut s = String::new();
        for e in self.events.iter().filter(|e| e.kind.in_summary()) {
            let _ = writeln!(s, "{e}");
        }
        s
    }

    /// FNV-1a of the text form: equal traces have equal hashes, on every machine.
    pub fn text_hash(&self) -> u64 {
        crate::rng::fnv1a(self.to_text().as_bytes())
    }
}

/// A running 64-bit hash of the structure of every event (time, kind, endpoints), kept
/// even when the trace is off, so two runs can be compared without recording them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fingerprint(u64);

impl Default for Fingerprint {
    fn default() -> Self {
        Fingerprint(0x6a09_e667_f3bc_c908)
    }
}

impl Fingerprint {
    #[inline]
    pub(crate) fn mix(&mut self, x: u64) {
        // A multiply-xorshift step: cheap, and order-sensitive.
        self.0 = (self.0 ^ x).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 ^= self.0 >> 29;
    }

    pub fn value(self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_well() {
        let t = |ms: u64| Time::from_nanos(ms * 1_000_000 + 4_000);
        let ev = |time, kind| TraceEvent { time, kind };
        let s = |x: &str| x.to_string();
        let trace = Trace {
            level: TraceLevel::Full,
            events: vec![
                ev(
                    t(12),
                    TraceKind::Send {
                        from: s("n1"),
                        to: s("n2"),
                        msg: s("Ping { seq: 3 }"),
                    },
                ),
                ev(
                    t(200),
                    TraceKind::Fault {
                        fault: s("partition {n1 n2} | {n3 n4 n5}"),
                    },
                ),
                ev(
                    t(201),
                    TraceKind::Note {
                        node: s("n1"),
                        text: s("role=leader term=3"),
                    },
                ),
            ],
        };
        assert_eq!(
            trace.to_text(),
            "    12.004ms  n1 -> n2  Ping { seq: 3 }\n   200.004ms  !! partition {n1 n2} | {n3 n4 n5}\n   201.004ms  n1 note role=leader term=3\n"
        );
        assert_eq!(trace.summary_text().lines().count(), 2);
    }
}
