//! A protocol's config as people write it: the RON text `faultline list` prints (one
//! field a line, each under its doc comment, durations as `"150ms"`), the error for a
//! field an earlier version called something else, and the starting scenario
//! `faultline new PROTOCOL` prints.
//!
//! The doc comments come from the config struct's own source ([`protocols::documented!`]),
//! so nothing here is a second copy to keep in step.

use crate::scenario::{ScenarioError, Span};
use protocols::{CheckKind, Documented, FieldDoc, Protocol, Workload};
use serde::Serialize;

/// `value` as RON, one field a line under its doc comment as `//` lines, every line
/// after the first indented by `indent`; bug knobs (the names in `knobs`, with the check
/// that catches each) say so, and so does a field whose value is not the one in `default`.
/// The text parses back (through a scenario) to `value`.
pub fn documented_ron<T: Serialize + Documented>(
    value: &T,
    default: Option<&T>,
    knobs: &[protocols::Knob],
    indent: &str,
) -> String {
    let pretty = || {
        ron::ser::PrettyConfig::new()
            .depth_limit(1)
            .indentor("    ")
            .new_line("\n")
    };
    let text = match ron::ser::to_string_pretty(value, pretty()) {
        Ok(t) => t,
        Err(e) => return format!("() // cannot print this config as RON: {e}"),
    };
    let defaults: Vec<String> = default
        .and_then(|d| ron::ser::to_string_pretty(d, pretty()).ok())
        .map(|t| t.lines().map(String::from).collect())
        .unwrap_or_default();
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        let field = line.strip_prefix("    ").and_then(|l| l.split_once(": "));
        if let Some((name, _)) = field {
            let mut comment = String::new();
            for doc in field_doc::<T>(name).into_iter().flat_map(|d| d.lines()) {
                comment.push_str(doc);
                comment.push('\n');
            }
            if let Some(k) = knobs.iter().find(|k| k.name == name) {
                comment.push_str(&format!("(A bug knob: caught by {:?}.)\n", k.caught_by));
            }
            if let Some(d) = defaults.get(i).filter(|d| d.as_str() != line) {
                let d = d.trim().trim_end_matches(',');
                let d = d.split_once(": ").map_or(d, |(_, v)| v);
                comment.push_str(&format!("(Set for this scenario; the default is {d}.)\n"));
            }
            for l in wrap(&comment, COMMENT_WIDTH) {
                out.push_str(&format!("{indent}    // {l}\n"));
            }
        }
        if !out.is_empty() {
            out.push_str(indent);
        }
        out.push_str(line);
        out.push('\n');
    }
    out.truncate(out.trim_end().len());
    out
}

/// How wide a printed comment's text is, at most (unless one word is wider).
const COMMENT_WIDTH: usize = 84;

/// `text`'s lines, each wrapped at `width` characters on spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut cur = String::new();
        for word in line.split(' ') {
            if !cur.is_empty() && cur.chars().count() + 1 + word.chars().count() > width {
                out.push(std::mem::take(&mut cur));
            }
            if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(word);
        }
        out.push(cur);
    }
    out
}

/// The doc of field `name` of `T`.
pub fn field_doc<T: Documented>(name: &str) -> Option<&'static FieldDoc> {
    T::FIELDS.iter().find(|f| f.name == name)
}

/// `P`'s default config as `faultline list` prints it.
pub fn default_config<P: Protocol>() -> String {
    documented_ron(&P::Config::default(), None, P::knobs(), "")
}

/// If `message` (an error at `span` of `s`'s `P` config) is about a field `P`'s config
/// renamed, the error that names the new field and says how to write its value.
pub(crate) fn renamed_field_error<P: Protocol>(
    s: &crate::Scenario,
    span: &Span,
    message: &str,
) -> Option<ScenarioError> {
    let rest = message.strip_prefix("unexpected field named `")?;
    let old = rest.split('`').next()?;
    let r = <P::Config as Documented>::RENAMED
        .iter()
        .find(|r| r.old == old)?;
    let (message, help) = if r.unit.is_empty() {
        (
            format!(
                "in the {} config: `{old}` is now called `{}`",
                P::NAME,
                r.new
            ),
            format!("write `{}: ...` instead", r.new),
        )
    } else {
        let value = integer_value_after(&s.source, span.end);
        let example = value.map_or_else(
            || format!("`{}: \"150{}\"`", r.new, r.unit),
            |v| format!("`{}: \"{v}{}\"`", r.new, r.unit),
        );
        (
            format!(
                "in the {} config: `{old}` is now `{}`, a duration string",
                P::NAME,
                r.new
            ),
            format!(
                "write {example} instead (durations are strings with a unit: \"150ms\", \"2s\"); `faultline list` shows the {} config",
                P::NAME
            ),
        )
    };
    Some(
        s.error(span.clone(), message)
            .label(format!("renamed to `{}`", r.new))
            .help(help),
    )
}

/// The plain integer written after the field name ending at `at` (`: 50` -> `50`).
fn integer_value_after(source: &str, at: usize) -> Option<String> {
    let rest = source
        .get(at..)?
        .trim_start()
        .strip_prefix(':')?
        .trim_start();
    let digits: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '_')
        .filter(|c| *c != '_')
        .collect();
    (!digits.is_empty()).then_some(digits)
}

/// The smallest cluster from 3 nodes up (at most 16) that `P` accepts with its default
/// config.
fn starting_cluster<P: Protocol>(config: &P::Config) -> usize {
    (3..=16usize.min(P::MAX_NODES.max(1)))
        .find(|&n| P::validate_cluster(config, n).is_ok())
        .unwrap_or(P::MAX_NODES.clamp(1, 3))
}

/// A small workload `P`'s clients accept: three clients with the default mix, else with
/// reads and writes only; `None` when `P` takes no clients.
fn starting_workload<P: Protocol>(config: &P::Config) -> Option<Workload> {
    let mut w = Workload {
        clients: 3,
        ..Workload::default()
    };
    if P::client_config(&w, config).is_ok() {
        return Some(w);
    }
    w.mix = protocols::workload::OpMix {
        read: 1,
        write: 1,
        cas: 0,
        append: 0,
    };
    P::client_config(&w, config).is_ok().then_some(w)
}

/// How long the starting scenario runs.
const TEMPLATE_DURATION: &str = "5s";

/// The commented starting scenario `faultline new P` prints: `P`'s config with every field
/// at its default under its doc comment (bug knobs off), a cluster and workload it
/// accepts, example faults to uncomment, and every check it offers, each with its promise.
/// It runs as written and expects `Pass`.
pub fn template<P: Protocol>() -> String {
    let duration: sim_core::Duration = TEMPLATE_DURATION.parse().expect("a duration");
    let config = P::starting_config(duration);
    let nodes = starting_cluster::<P>(&config);
    let workload = starting_workload::<P>(&config);
    let name = P::NAME;
    let mut o = String::new();
    let head = format!(
        "A starting scenario for {name}: {}.\nWritten by `faultline new {name}`; docs/SCENARIOS.md describes every field.\n",
        P::SUMMARY
    );
    for l in wrap(&head, COMMENT_WIDTH + 8) {
        o.push_str(&format!("// {l}\n"));
    }
    o.push_str(&format!(
        "// Try it:  faultline run {name}.ron\n//          faultline sweep {name}.ron --seeds 0..1000\n"
    ));
    o.push_str(
        "// Then switch a bug knob on, set `expect: Violation(\"<the check that catches it>\")`\n// and sweep again to watch the check catch it.\n",
    );
    o.push_str("(\n");
    o.push_str(&format!("    name: \"{name}-new\",\n"));
    let clients = workload.as_ref().map_or(0, |w| w.clients);
    o.push_str(&format!(
        "    description: \"A starting point: {nodes} {name} nodes{}, no faults yet.\",\n",
        if clients > 0 {
            format!(", {clients} clients")
        } else {
            String::new()
        }
    ));
    o.push_str(&format!("    protocol: (name: \"{name}\", config: "));
    o.push_str(&documented_ron(
        &config,
        Some(&P::Config::default()),
        P::knobs(),
        "    ",
    ));
    o.push_str("),\n");
    o.push_str(&format!("    cluster: (nodes: {nodes}),\n"));
    o.push_str(
        "    // Links: latency, loss and duplication (this is the default).\n    network: (latency: Uniform(min: \"1ms\", max: \"10ms\"), loss: 0.0, duplicate: 0.0),\n",
    );
    match &workload {
        Some(w) => {
            o.push_str("    // The clients and what they do.\n    workload: ");
            o.push_str(&documented_ron(w, None, &[], "    "));
            o.push_str(",\n");
        }
        None => o.push_str(&format!("    // {name} has no clients: no workload.\n")),
    }
    let (a, b) = (1.min(nodes), nodes.min(2));
    o.push_str(&format!(
        "    // Faults at fixed times, for instance (docs/SCENARIOS.md lists them all):\n    //   At(\"1s\", Crash(\"n{a}\")), At(\"2s\", Restart(\"n{a}\")),\n    //   At(\"1s\", Isolate(\"n{b}\")), At(\"2s\", Heal),\n    //   At(\"1s\", ClockSkew(\"n{a}\", \"-500ms\")),\n    // or random ones drawn from the seed:\n    //   nemesis: (faults: [CrashRestart, PartitionHalves], every: (\"500ms\", \"1s\"), lasting: (\"200ms\", \"500ms\"), stop: \"3s\"),\n"
    ));
    o.push_str("    faults: [],\n");
    o.push_str(&format!(
        "    // Every check {name} offers. Always: after every event (safety); Eventually: at the\n    // end, after the faults stop (liveness); History: on the clients' history.\n"
    ));
    o.push_str("    checks: [\n");
    for c in P::checks() {
        let runnable = c.kind != CheckKind::History || clients > 0;
        for l in wrap(&format!("{:?}: {}", c.kind, c.promise), COMMENT_WIDTH) {
            o.push_str(&format!("        // {l}\n"));
        }
        if runnable {
            o.push_str(&format!("        {:?},\n", c.name));
        } else {
            o.push_str(&format!(
                "        // {:?}, (needs a workload with clients)\n",
                c.name
            ));
        }
    }
    o.push_str("    ],\n");
    o.push_str("    seed: 1,\n");
    o.push_str(&format!("    duration: \"{TEMPLATE_DURATION}\",\n"));
    o.push_str("    expect: Pass,\n");
    o.push_str(")\n");
    o
}

/// [`template`] for the protocol called `name`; `None` if there is none.
pub fn template_named(name: &str) -> Option<String> {
    crate::registry::builtin_ref().template(name)
}
