//! Reports: per-key verdicts and, for a key that is not linearizable, why.

use std::fmt::Write as _;

use serde::Serialize;

use crate::history::Value;
use crate::wellformed::show;

/// The answer for a history or for one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Linearizable,
    NotLinearizable,
    /// A budget ran out before the search could decide.
    Unknown,
}

impl Verdict {
    /// `linearizable`, `not-linearizable` or `unknown`.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Linearizable => "linearizable",
            Verdict::NotLinearizable => "not-linearizable",
            Verdict::Unknown => "unknown",
        }
    }
}

/// Which budget ran out (for an [`Verdict::Unknown`] key).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Exhausted {
    /// The per-key step budget ([`CheckOptions::max_steps`](crate::CheckOptions::max_steps)).
    Steps,
    /// The wall-clock deadline ([`CheckOptions::timeout`](crate::CheckOptions::timeout)).
    Deadline,
    /// The memory bound ([`CheckOptions::max_memory`](crate::CheckOptions::max_memory)).
    Memory,
}

/// How an operation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OpStatus {
    Ok,
    /// Ended in `info`: may have taken effect once, or never.
    Info,
    /// No completion before the end of the history (counts as `info`).
    Unfinished,
}

/// One operation as recorded. Positions are indices into `History::events` (from 0).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OpView {
    pub process: u64,
    pub f: String,
    /// The invoke's value.
    pub input: Value,
    /// The `ok` value; `None` for info and unfinished ops.
    pub output: Option<Value>,
    pub status: OpStatus,
    pub invoke_event: usize,
    /// The completion (`ok` or `info`), if any.
    pub complete_event: Option<usize>,
    pub invoke_time: Option<u64>,
    pub complete_time: Option<u64>,
}

/// At most this many [`Blocked::Unreachable`] reads are listed per explanation.
pub const MAX_UNREACHABLE: usize = 3;

/// An op of the longest linearizable prefix, with the model state after it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlacedOp {
    pub op: OpView,
    pub state_after: Value,
}

/// Why an op that real time allows next cannot be placed next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Blocked {
    /// The model rejects the op's recorded result in this state.
    Rejected,
    /// The model accepts it, but no linearization of the rest follows.
    DeadEnd,
    /// A read (not necessarily next) whose result the ops still pending can no longer
    /// produce from this state ([`Model::may_reach`](crate::Model::may_reach)).
    Unreachable,
}

/// An op that could come next by real-time order but cannot be placed next.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StuckOp {
    pub op: OpView,
    pub reason: Blocked,
}

/// Why a key is not linearizable: the longest linearizable prefix the search found and
/// every op that could follow it by real-time order, none of which can.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// The placed ops in linearization order.
    pub prefix: Vec<PlacedOp>,
    /// The state after the prefix (the initial value if it is empty).
    pub state: Value,
    /// The candidates for the next op, by invoke position, then up to
    /// [`MAX_UNREACHABLE`](crate::explain::MAX_UNREACHABLE) later reads that can no longer
    /// succeed (why the search gave up on this prefix).
    pub stuck: Vec<StuckOp>,
}

/// The result for one key (one object).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeyReport {
    /// `None` for the default object.
    pub key: Option<Value>,
    /// Operations on this key after removing `fail` ops.
    pub ops: usize,
    pub verdict: Verdict,
    /// Search steps taken (deterministic for a given history and model); 0 when the zone
    /// check decided the key without a search.
    pub steps: u64,
    /// The most operations the search had placed at once: how far it got.
    pub deepest: usize,
    /// Set when the verdict is `unknown`.
    pub exhausted: Option<Exhausted>,
    /// Set when the verdict is `not-linearizable`.
    pub explanation: Option<Explanation>,
}

/// The result for a whole history: linearizable iff every key is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    pub model: String,
    /// The history's [`process_names`](crate::History::process_names), for the text.
    #[serde(skip)]
    pub process_names: std::collections::BTreeMap<u64, String>,
    /// `not-linearizable` if any key is; else `unknown` if any key is; else `linearizable`.
    pub verdict: Verdict,
    /// One entry per key, keys in sorted order.
    pub keys: Vec<KeyReport>,
}

impl Report {
    pub(crate) fn new(model: String, keys: Vec<KeyReport>) -> Report {
        let any = |v| keys.iter().any(|k| k.verdict == v);
        let verdict = if any(Verdict::NotLinearizable) {
            Verdict::NotLinearizable
        } else if any(Verdict::Unknown) {
            Verdict::Unknown
        } else {
            Verdict::Linearizable
        };
        Report {
            model,
            process_names: Default::default(),
            verdict,
            keys,
        }
    }

    /// The report as pretty-printed JSON (stable field order; ends without a newline).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self)
            .unwrap_or_else(|e| format!("{{\"error\":{:?}}}", e.to_string()))
    }

    /// The report as readable text, one block per key; failing keys get a timeline.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "history: {} ({} key{}, model {})",
            self.verdict.name(),
            self.keys.len(),
            if self.keys.len() == 1 { "" } else { "s" },
            self.model
        );
        for k in &self.keys {
            render_key(&mut out, k, &self.process_names);
        }
        out
    }
}

fn key_name(key: &Option<Value>) -> String {
    key.as_ref().map_or("(default)".to_string(), show)
}

fn render_key(out: &mut String, k: &KeyReport, names: &std::collections::BTreeMap<u64, String>) {
    let _ = write!(
        out,
        "key {}: {} ({} ops, {} steps",
        key_name(&k.key),
        k.verdict.name(),
        k.ops,
        k.steps
    );
    match k.exhausted {
        Some(Exhausted::Steps) => {
            let _ = write!(
                out,
                ", step budget exhausted with at most {} of {} ops placed; raise it with --max-steps",
                k.deepest, k.ops
            );
        }
        Some(Exhausted::Deadline) => {
            let _ = write!(
                out,
                ", deadline passed with at most {} of {} ops placed; raise it with --timeout",
                k.deepest, k.ops
            );
        }
        Some(Exhausted::Memory) => {
            let _ = write!(
                out,
                ", memory bound reached with at most {} of {} ops placed; raise it with --max-memory",
                k.deepest, k.ops
            );
        }
        None => {}
    }
    out.push_str(")\n");
    let Some(ex) = &k.explanation else { return };
    // Simulated histories time in nanoseconds of a run that lasts seconds: show those in
    // milliseconds. Small times (hand-written histories) stay as written.
    let large = ex
        .prefix
        .iter()
        .map(|p| &p.op)
        .chain(ex.stuck.iter().map(|s| &s.op))
        .filter_map(|op| op.complete_time.or(op.invoke_time))
        .any(|t| t >= 1_000_000);
    let op_line = |op: &OpView| op_line(op, large, names);
    let _ = writeln!(
        out,
        "  longest linearizable prefix: {} op{}",
        ex.prefix.len(),
        if ex.prefix.len() == 1 { "" } else { "s" }
    );
    for p in &ex.prefix {
        let _ = writeln!(out, "    {}   => {}", op_line(&p.op), show(&p.state_after));
    }
    let _ = writeln!(
        out,
        "  then in state {}, stuck (X = cannot be placed next):",
        show(&ex.state)
    );
    for s in &ex.stuck {
        let why = match s.reason {
            Blocked::Rejected => "result impossible in this state",
            Blocked::DeadEnd => "fits, but nothing linearizable follows",
            Blocked::Unreachable => "result can no longer be produced by the pending ops",
        };
        let _ = writeln!(out, "  X {}   {}", op_line(&s.op), why);
    }
}

/// `p3  e10..e22  t=100..180  cas [1,2] -> true`; with `in_ms`, times read
/// `t=826.380ms..1033.682ms`. A process with a name in `names` is shown by it (`c1`).
fn op_line(op: &OpView, in_ms: bool, names: &std::collections::BTreeMap<u64, String>) -> String {
    let time = |t: u64| {
        if in_ms {
            format!("{}.{:03}ms", t / 1_000_000, (t % 1_000_000) / 1_000)
        } else {
            t.to_string()
        }
    };
    let end = match (op.status, op.complete_event) {
        (OpStatus::Info, Some(c)) => format!("e{c}(info)"),
        (_, Some(c)) => format!("e{c}"),
        (_, None) => "end".to_string(),
    };
    let who = names
        .get(&op.process)
        .cloned()
        .unwrap_or_else(|| format!("p{}", op.process));
    let mut s = format!("{who:<5} e{}..{:<10}", op.invoke_event, end);
    if let Some(t) = op.invoke_time {
        let te = op.complete_time.map_or("end".to_string(), time);
        let _ = write!(s, " t={}..{te:<8}", time(t));
    }
    let _ = write!(s, " {}", op.f);
    if op.input != Value::Null {
        let _ = write!(s, " {}", show(&op.input));
    }
    match &op.output {
        Some(v) => {
            let _ = write!(s, " -> {}", show(v));
        }
        None => s.push_str(" -> ?"),
    }
    s
}

/// A short form of [`Report::render_text`]'s text (or of any text that contains it, such
/// as a violation message): in each failing key, only the last `tail` operations of the
/// longest linearizable prefix and the first `stuck` operations that cannot come next,
/// with a line saying how many were left out and `hint` (how to see them all). Other
/// lines are kept as they are.
pub fn brief_text(text: &str, tail: usize, stuck: usize, hint: &str) -> String {
    #[derive(PartialEq)]
    enum In {
        Other,
        Prefix,
        Stuck,
    }
    let mut out = String::new();
    let mut at = In::Other;
    let mut prefix: Vec<&str> = Vec::new();
    let mut stuck_seen = 0usize;
    let flush_prefix = |out: &mut String, prefix: &mut Vec<&str>| {
        if prefix.len() > tail {
            let left = prefix.len() - tail;
            let _ = writeln!(
                out,
                "    ... {left} earlier op{} ({hint})",
                if left == 1 { "" } else { "s" }
            );
        }
        for l in prefix.iter().skip(prefix.len().saturating_sub(tail)) {
            let _ = writeln!(out, "{l}");
        }
        prefix.clear();
    };
    let flush_stuck = |out: &mut String, seen: &mut usize| {
        if *seen > stuck {
            let _ = writeln!(out, "  ... {} more ({hint})", *seen - stuck);
        }
        *seen = 0;
    };
    for line in text.lines() {
        match at {
            In::Prefix if line.starts_with("    ") => {
                prefix.push(line);
                continue;
            }
            In::Prefix => {
                flush_prefix(&mut out, &mut prefix);
                at = In::Other;
            }
            In::Stuck if line.starts_with("  X ") => {
                stuck_seen += 1;
                if stuck_seen <= stuck {
                    let _ = writeln!(out, "{line}");
                }
                continue;
            }
            In::Stuck => {
                flush_stuck(&mut out, &mut stuck_seen);
                at = In::Other;
            }
            In::Other => {}
        }
        if line.starts_with("  longest linearizable prefix: ") {
            at = In::Prefix;
        } else if line.starts_with("  then in state ")
            && line.ends_with("stuck (X = cannot be placed next):")
        {
            at = In::Stuck;
        }
        let _ = writeln!(out, "{line}");
    }
    match at {
        In::Prefix => flush_prefix(&mut out, &mut prefix),
        In::Stuck => flush_stuck(&mut out, &mut stuck_seen),
        In::Other => {}
    }
    if !text.ends_with('\n') && out.ends_with('\n') {
        out.pop();
    }
    out
}
