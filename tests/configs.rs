//! Configs the way users write them: `faultline list` prints every protocol's default
//! config as RON that pastes into a scenario and reads back as the default, each field
//! under its doc comment; an old field name is an error naming the new one; and
//! `faultline new PROTOCOL` prints a starting scenario that runs as written.

use faultline::protocols::{Documented, Protocol};
use faultline::registry::{self, Visit};
use faultline::runner::{self, Prepared};
use faultline::{Outcome, Scenario};
use std::process::Command;

fn faultline(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .output()
        .expect("run faultline")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Each protocol's config block as `faultline list` prints it: `(name, RON text)`.
fn listed_configs() -> Vec<(String, String)> {
    let out = faultline(&["list"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let mut configs = Vec::new();
    let mut lines = stdout.lines();
    let mut current = None;
    while let Some(line) = lines.next() {
        if let Some(rest) = line.strip_prefix("  ").filter(|l| !l.starts_with(' ')) {
            current = rest.split_once(':').map(|(n, _)| n.to_string());
        }
        if line.starts_with("    config (the defaults; paste into `protocol: (name: ") {
            let mut block = String::new();
            for l in lines.by_ref() {
                let l = l
                    .strip_prefix("      ")
                    .unwrap_or_else(|| panic!("a config line is indented by 6: {l:?}\n{stdout}"));
                block.push_str(l);
                block.push('\n');
                if l == ")" {
                    break;
                }
            }
            configs.push((current.clone().expect("a protocol line first"), block));
        }
    }
    configs
}

/// A scenario for protocol `name` with `config` pasted into it.
fn scenario_with(name: &str, config: &str) -> String {
    format!(
        "(\n    name: \"pasted\",\n    protocol: (name: {name:?}, config: {config}),\n    cluster: (nodes: 5),\n    seed: 1,\n    duration: \"1s\",\n    expect: Pass,\n)\n"
    )
}

/// The config a scenario's text sets, as `Debug` prints it, next to the default's.
struct Parsed<'a>(&'a str);

impl Visit for Parsed<'_> {
    type Output = Result<(String, String), String>;
    fn visit<P: Protocol>(self) -> Self::Output {
        let s = Scenario::parse("pasted.ron", self.0).map_err(|e| e.render(false))?;
        let p = Prepared::<P>::new(&s).map_err(|e| e.render(false))?;
        Ok((
            format!("{:?}", p.config()),
            format!("{:?}", P::Config::default()),
        ))
    }
}

#[test]
fn every_listed_config_pastes_into_a_scenario_and_reads_back_as_the_default() {
    let configs = listed_configs();
    let names: Vec<&str> = configs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        registry::names(),
        "one config block per protocol, in order"
    );
    for (name, config) in &configs {
        assert!(
            !config.contains("Duration(") && !config.contains("Config {"),
            "{name}: RON, not Debug:\n{config}"
        );
        let text = scenario_with(name, config);
        let (got, default) = registry::with_protocol(name, Parsed(&text))
            .expect("a protocol")
            .unwrap_or_else(|e| panic!("{name}: the listed config does not parse:\n{e}\n{text}"));
        assert_eq!(got, default, "{name}: read back as the default\n{config}");
    }
    // Durations read as people write them.
    let raft = &configs.iter().find(|(n, _)| n == "raft").expect("raft").1;
    assert!(
        raft.contains("    election_timeout_min: \"150ms\",\n"),
        "{raft}"
    );
    assert!(raft.contains("    heartbeat: \"50ms\",\n"), "{raft}");
}

/// The names of the fields `P`'s default config prints, and of those with a doc comment
/// above them.
struct Fields;

impl Visit for Fields {
    type Output = (Vec<&'static str>, Vec<String>, Vec<String>);
    fn visit<P: Protocol>(self) -> Self::Output {
        let declared = <P::Config as Documented>::FIELDS
            .iter()
            .map(|f| f.name)
            .collect();
        let (printed, documented) = field_lines(&faultline::config::default_config::<P>());
        (declared, printed, documented)
    }
}

/// The fields of a printed config, and those of them a `//` comment line precedes.
fn field_lines(config: &str) -> (Vec<String>, Vec<String>) {
    let (mut printed, mut documented) = (Vec::new(), Vec::new());
    let mut commented = false;
    for line in config.lines() {
        let l = line.trim_start();
        if l.starts_with("//") {
            commented = l.len() > 3;
            continue;
        }
        if let Some((name, _)) = l.split_once(": ") {
            printed.push(name.to_string());
            if commented {
                documented.push(name.to_string());
            }
        }
        commented = false;
    }
    (printed, documented)
}

#[test]
fn every_printed_field_has_its_doc_comment() {
    for name in registry::names() {
        let (declared, printed, documented) =
            registry::with_protocol(name, Fields).expect("a protocol");
        assert!(!printed.is_empty(), "{name}: some fields");
        assert_eq!(
            printed, declared,
            "{name}: the printed fields are the documented struct's"
        );
        assert_eq!(documented, printed, "{name}: every field has a comment");
    }
    // The check itself can fail: a field printed without a doc comment is seen.
    let (printed, documented) = field_lines("(\n    // doc\n    a: 1,\n    b: 2,\n)");
    assert_eq!(printed, ["a", "b"]);
    assert_eq!(documented, ["a"]);
}

fn error_of(text: &str) -> String {
    let s = Scenario::parse("old.ron", text).expect("the scenario parses");
    runner::check(&s)
        .expect_err("an old field name is an error")
        .render(false)
}

#[test]
fn an_old_raft_field_name_is_an_error_naming_the_new_one() {
    for (old, new) in [
        ("election_timeout_ms_min", "election_timeout_min"),
        ("election_timeout_ms_max", "election_timeout_max"),
        ("heartbeat_ms", "heartbeat"),
        ("liveness_from_ms", "liveness_from"),
        ("liveness_bound_ms", "liveness_bound"),
    ] {
        let text = scenario_with("raft", &format!("(pre_vote: true,\n    {old}: 1_200)"));
        let e = error_of(&text);
        assert!(
            e.contains(&format!(
                "in the raft config: `{old}` is now `{new}`, a duration string"
            )),
            "{e}"
        );
        assert!(
            e.contains(&format!("write `{new}: \"1200ms\"` instead")),
            "{e}"
        );
        assert!(e.contains("[old.ron:4:5]"), "file, line and column: {e}");
    }
    // A misspelt field that never existed keeps the plain message.
    let e = error_of(&scenario_with("raft", "(heartbeet: \"50ms\")"));
    assert!(e.contains("unexpected field named `heartbeet`"), "{e}");
}

/// Runs `P`'s template and returns its outcome and whether it met `expect`.
struct RunTemplate;

impl Visit for RunTemplate {
    type Output = (String, Result<(Outcome, bool), String>);
    fn visit<P: Protocol>(self) -> Self::Output {
        let text = faultline::config::template::<P>();
        let run = Scenario::parse("new.ron", &text)
            .and_then(|s| {
                let r = runner::run(&s, s.seed(), faultline::sim_core::TraceLevel::Off)?;
                Ok((r.outcome, r.matched))
            })
            .map_err(|e| e.render(false));
        (text, run)
    }
}

#[test]
fn every_protocols_template_runs_as_written_and_passes() {
    for name in registry::names() {
        let (text, run) = registry::with_protocol(name, RunTemplate).expect("a protocol");
        let (outcome, matched) =
            run.unwrap_or_else(|e| panic!("{name}: the template does not parse:\n{e}\n{text}"));
        assert!(
            matched,
            "{name}: the template passes, got {outcome:?}\n{text}"
        );
        // It lists every check the protocol offers.
        struct Checks;
        impl Visit for Checks {
            type Output = Vec<&'static str>;
            fn visit<P: Protocol>(self) -> Vec<&'static str> {
                P::checks().iter().map(|c| c.name).collect()
            }
        }
        for check in registry::with_protocol(name, Checks).expect("a protocol") {
            assert!(
                text.contains(&format!("        {check:?},\n")),
                "{name}: the template checks {check:?}\n{text}"
            );
        }
        // Bug knobs are there, switched off.
        assert!(
            !text.contains(": true,\n        // (A bug knob"),
            "{name}: knobs off\n{text}"
        );
    }
}

#[test]
fn the_template_example_faults_parse_when_uncommented() {
    for name in registry::names() {
        let (text, _) = registry::with_protocol(name, RunTemplate).expect("a protocol");
        let faults: Vec<&str> = text
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix("//   At("))
            .collect();
        assert!(faults.len() >= 3, "{name}: example faults\n{text}");
        let nemesis = text
            .lines()
            .find_map(|l| l.trim_start().strip_prefix("//   nemesis: "))
            .expect("an example nemesis");
        let list = faults
            .iter()
            .map(|f| format!("At({}", f.trim_end()))
            .collect::<String>();
        let edited = text.replace(
            "    faults: [],\n",
            &format!("    faults: [{list}],\n    nemesis: {nemesis}\n"),
        );
        assert_ne!(edited, text);
        let s = Scenario::parse("new.ron", &edited)
            .and_then(|s| runner::check(&s).map(|_| s))
            .unwrap_or_else(|e| panic!("{name}: {}\n{edited}", e.render(false)));
        assert!(s.fault_count() >= 5, "{name}: the faults are read");
        assert!(s.has_nemesis());
    }
}

#[test]
fn faultline_new_prints_the_template_and_rejects_an_unknown_protocol() {
    let out = faultline(&["new", "raft"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("// A starting scenario for raft: "),
        "{stdout}"
    );
    assert!(stdout.contains("        \"linearizable\",\n"), "{stdout}");
    let out = faultline(&["new", "rafft"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("\"rafft\" is not a protocol: expected one of pingstorm, raft,"),
        "{stderr}"
    );
}

#[test]
fn the_listed_config_quoted_in_docs_scenarios_is_what_list_prints() {
    let doc = std::fs::read_to_string("docs/SCENARIOS.md").expect("docs/SCENARIOS.md");
    let at = doc
        .find("one field a line under its doc\ncomment:\n\n```ron\n")
        .expect("the quoted config");
    let block = &doc[at..].split("```ron\n").nth(1).expect("a block");
    let block = &block[..block.find("```").expect("closed")];
    let configs = listed_configs();
    let raft = &configs.iter().find(|(n, _)| n == "raft").expect("raft").1;
    let quoted: Vec<&str> = block.lines().filter(|l| l.trim() != "...").collect();
    assert!(quoted.len() > 5, "{block}");
    let printed: Vec<&str> = raft.lines().collect();
    // The quoted lines are the printed ones, in order, with `...` for the rest.
    let (head, tail) = quoted.split_at(quoted.len() - 1);
    assert_eq!(&printed[..head.len()], head, "{raft}");
    assert_eq!(printed.last(), tail.first(), "{raft}");
}
