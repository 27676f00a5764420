//! Writing a scenario back as RON (what `shrink` saves). Sections that were not changed
//! are copied from the original file as written, comments and all.

use super::{Expect, FaultSpec, Scenario, Spanned};
use sim_core::{Duration, Latency, TraceLevel};
use std::fmt::{self, Write as _};

pub(super) fn to_ron(s: &Scenario) -> String {
    let src = &s.source;
    let mut o = String::new();
    let _ = writeln!(o, "(");
    let _ = writeln!(o, "    name: {:?},", s.name);
    if !s.description.is_empty() {
        let _ = writeln!(o, "    description: {:?},", s.description);
    }
    match (&s.config, s.config_pinned) {
        (Some(c), true) => {
            let _ = writeln!(
                o,
                "    protocol: (name: {:?}, config: {}),",
                s.protocol.value,
                &src[c.clone()]
            );
        }
        _ => {
            let _ = writeln!(o, "    protocol: {},", &src[s.protocol_text.clone()]);
        }
    }
    let _ = writeln!(o, "    cluster: {},", &src[s.cluster_text.clone()]);
    if let Some(n) = &s.network_text {
        let _ = writeln!(o, "    network: {},", &src[n.clone()]);
    }
    if let Some(n) = &s.storage_text {
        let _ = writeln!(o, "    storage: {},", &src[n.clone()]);
    }
    if s.workload != protocols::Workload::default() {
        let text = ron::ser::to_string(&s.workload).unwrap_or_default();
        let _ = writeln!(o, "    workload: {text},");
    }
    if s.faults.is_empty() {
        let _ = writeln!(o, "    faults: [],");
    } else {
        let _ = writeln!(o, "    faults: [");
        for f in &s.faults {
            let (at, spec) = &f.value;
            let _ = writeln!(o, "        At({}, {}),", dur(at.value), spec);
        }
        let _ = writeln!(o, "    ],");
    }
    if let Some(n) = &s.nemesis {
        let _ = writeln!(o, "    nemesis: {},", &src[n.span.clone()]);
    }
    let checks: Vec<String> = s.checks.iter().map(|c| format!("{:?}", c.value)).collect();
    let _ = writeln!(o, "    checks: [{}],", checks.join(", "));
    let _ = writeln!(o, "    seed: {},", s.seed);
    let _ = writeln!(o, "    duration: {},", dur(s.duration.value));
    if let Some(m) = s.max_events {
        let _ = writeln!(o, "    max_events: {m},");
    }
    if let Some(c) = &s.check_steps {
        let _ = writeln!(o, "    check_steps: {},", c.value);
    }
    if let Some(r) = &s.runaway {
        let _ = writeln!(o, "    runaway: {},", &src[r.span.clone()]);
    }
    let trace = match s.trace {
        TraceLevel::Off => "Off",
        TraceLevel::Summary => "Summary",
        TraceLevel::Full => "Full",
    };
    let _ = writeln!(o, "    trace: {trace},");
    let _ = writeln!(o, "    expect: {},", s.expect.value);
    if !s.reach.is_empty() {
        let reach: Vec<String> = s.reach.iter().map(|r| format!("{:?}", r.value)).collect();
        let _ = writeln!(o, "    reach: [{}],", reach.join(", "));
    }
    let _ = writeln!(o, ")");
    o
}

/// A duration as a quoted string, exact (nemesis draws are in nanoseconds) in the unit
/// people use for it: `"150ms"`, `"1.163030057s"`, `"882.607313ms"`.
fn dur(d: Duration) -> String {
    format!("{:?}", d.to_string())
}

fn name(n: &Spanned<String>) -> String {
    format!("{:?}", n.value)
}

fn names(ns: &[Spanned<String>]) -> String {
    match ns {
        [one] => name(one),
        _ => format!("[{}]", ns.iter().map(name).collect::<Vec<_>>().join(", ")),
    }
}

fn latency(l: &Latency) -> String {
    match l {
        Latency::Constant(d) => format!("Constant({:?})", d.to_string()),
        Latency::Uniform { min, max } => format!(
            "Uniform(min: {:?}, max: {:?})",
            min.to_string(),
            max.to_string()
        ),
        Latency::Exponential { mean, max } => {
            format!(
                "Exponential(mean: {:?}, max: {:?})",
                mean.to_string(),
                max.to_string()
            )
        }
        Latency::Normal {
            mean,
            std_dev,
            min,
            max,
        } => format!(
            "Normal(mean: {:?}, std_dev: {:?}, min: {:?}, max: {:?})",
            mean.to_string(),
            std_dev.to_string(),
            min.to_string(),
            max.to_string()
        ),
        Latency::LongTail { .. } => l.to_string(),
    }
}

fn link(from: &Option<Spanned<String>>, to: &Option<Spanned<String>>) -> String {
    let mut s = String::new();
    if let Some(f) = from {
        let _ = write!(s, "from: {}, ", name(f));
    }
    if let Some(t) = to {
        let _ = write!(s, "to: {}, ", name(t));
    }
    s
}

/// The fault as a file writes it: `Crash("n3")`, `Pause(node: "n1", for: "800ms")`.
impl fmt::Display for FaultSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultSpec::Partition(groups) => {
                let gs: Vec<String> = groups
                    .iter()
                    .map(|g| format!("[{}]", g.iter().map(name).collect::<Vec<_>>().join(", ")))
                    .collect();
                write!(f, "Partition([{}])", gs.join(", "))
            }
            FaultSpec::Heal => f.write_str("Heal"),
            FaultSpec::CrashAfterSend {
                p,
                restart,
                kind,
                node,
                leader,
                partial,
                r#for,
            } => write!(
                f,
                "CrashAfterSend(p: {}, restart: ({:?}, {:?}), {}{}{}{}for: {:?})",
                p.value(),
                restart.0.to_string(),
                restart.1.to_string(),
                kind.map_or(String::new(), |k| format!("kind: Some({k}), ")),
                node.as_ref()
                    .map_or(String::new(), |n| format!("node: Some({}), ", name(n))),
                if *leader { "leader: true, " } else { "" },
                if *partial { "partial: true, " } else { "" },
                r#for.value.to_string()
            ),
            FaultSpec::ClogAfterSend {
                p,
                lasting,
                kind,
                r#for,
            } => write!(
                f,
                "ClogAfterSend(p: {}, lasting: ({:?}, {:?}), {}for: {:?})",
                p.value(),
                lasting.0.to_string(),
                lasting.1.to_string(),
                kind.map_or(String::new(), |k| format!("kind: Some({k}), ")),
                r#for.value.to_string()
            ),
            FaultSpec::Crash(n) => write!(f, "Crash({})", name(n)),
            FaultSpec::Restart(n) => write!(f, "Restart({})", name(n)),
            FaultSpec::Pause { node, r#for } => {
                write!(
                    f,
                    "Pause(node: {}, for: {:?})",
                    name(node),
                    r#for.value.to_string()
                )
            }
            FaultSpec::ClockSkew(n, by) => {
                write!(f, "ClockSkew({}, {:?})", name(n), by.value.to_string())
            }
            FaultSpec::ClockDrift(n, ppm) => write!(f, "ClockDrift({}, {})", name(n), ppm.value),
            FaultSpec::Isolate(n) => write!(f, "Isolate({})", name(n)),
            FaultSpec::CorruptRecord(n) => write!(f, "CorruptRecord({})", name(n)),
            FaultSpec::OneWay { from, to } => {
                write!(f, "OneWay(from: {}, to: {})", names(from), names(to))
            }
            FaultSpec::Bridge {
                left,
                middle,
                right,
            } => write!(
                f,
                "Bridge(left: {}, middle: {}, right: {})",
                names(left),
                names(middle),
                names(right)
            ),
            FaultSpec::SetLoss { from, to, loss } => {
                write!(f, "SetLoss({}loss: {:?})", link(from, to), loss.value())
            }
            FaultSpec::SetDuplicate {
                from,
                to,
                duplicate,
            } => {
                write!(
                    f,
                    "SetDuplicate({}duplicate: {})",
                    link(from, to),
                    duplicate.value()
                )
            }
            FaultSpec::SetLatency {
                from,
                to,
                latency: l,
            } => {
                write!(
                    f,
                    "SetLatency({}latency: {})",
                    link(from, to),
                    latency(&l.value)
                )
            }
            FaultSpec::Slow {
                node,
                from,
                to,
                by,
                r#for,
            } => write!(
                f,
                "Slow({}{}by: {}, for: {:?})",
                node.as_ref()
                    .map_or(String::new(), |n| format!("node: {}, ", name(n))),
                link(from, to),
                latency(&by.value),
                r#for.value.to_string()
            ),
            FaultSpec::Clog {
                node,
                from,
                to,
                r#for,
            } => write!(
                f,
                "Clog({}{}for: {:?})",
                node.as_ref()
                    .map_or(String::new(), |n| format!("node: {}, ", name(n))),
                link(from, to),
                r#for.value.to_string()
            ),
        }
    }
}

impl Expect {
    /// The check this outcome names, if any.
    pub fn check(&self) -> Option<&str> {
        match self {
            Expect::Pass => None,
            Expect::Violation(c) => Some(&c.value),
        }
    }
}
