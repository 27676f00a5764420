//! Sometimes-properties (`reach`): every property a protocol declares is reached by some
//! shipped scenario with its own seed (a property nobody reaches is a defect, or needs a
//! scenario); a scenario that requires one it misses fails as `unreached`, never `Pass`;
//! an unknown name is a bad-input error at its position with the valid names.

use faultline::{Outcome, Scenario, registry, runner};
use sim_core::TraceLevel;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

#[test]
fn every_declared_property_is_reached_by_a_shipped_scenario() {
    let files =
        faultline::scenario::files_under(Path::new("scenarios")).expect("scenarios/ is readable");
    let mut reached: BTreeMap<String, BTreeSet<&'static str>> = BTreeMap::new();
    for file in files.iter().filter(|f| !f.starts_with("scenarios/bench")) {
        let path = file.display().to_string();
        let s = Scenario::load(&path).unwrap_or_else(|e| panic!("{}", e.render(false)));
        let r = runner::run(&s, s.seed(), TraceLevel::Off)
            .unwrap_or_else(|e| panic!("{}", e.render(false)));
        let set = reached.entry(s.protocol().to_string()).or_default();
        set.extend(r.reached.iter().map(|(p, _)| *p));
    }
    let mut missing = Vec::new();
    for info in registry::infos() {
        if info.sometimes.is_empty() {
            missing.push(format!(
                "{} declares none: every protocol says what a good test of it reaches",
                info.name
            ));
        }
        let got = reached.get(info.name).cloned().unwrap_or_default();
        for p in info.sometimes {
            if !got.contains(p.name) {
                missing.push(format!("{}: {} ({})", info.name, p.name, p.meaning));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "no shipped scenario reaches these properties with its own seed:\n  {}",
        missing.join("\n  ")
    );
}

/// A pingstorm scenario with `faults` and `reach` as given.
fn storm(faults: &str, reach: &str) -> String {
    format!(
        r#"(
    name: "storm",
    protocol: (name: "pingstorm", config: (fanout: 2)),
    cluster: (nodes: 3),
    faults: [{faults}],
    seed: 1,
    duration: "200ms",
    expect: Pass,
    reach: [{reach}],
)"#
    )
}

const CRASH_RESTART: &str = r#"At("50ms", Crash("n2")), At("120ms", Restart("n2"))"#;

#[test]
fn a_run_that_misses_a_required_property_is_unreached_never_pass() {
    let run = |faults: &str| {
        let s = Scenario::parse("storm.ron", &storm(faults, r#""node-restarted""#))
            .unwrap_or_else(|e| panic!("{}", e.render(false)));
        let r = runner::run(&s, s.seed(), TraceLevel::Summary)
            .unwrap_or_else(|e| panic!("{}", e.render(false)));
        (s, r)
    };
    let (s, r) = run(CRASH_RESTART);
    assert!(r.matched, "{:?}", r.outcome);
    assert_eq!(r.outcome, Outcome::Pass);
    assert!(
        r.reached.iter().any(|(p, t)| *p == "node-restarted"
            && *t == sim_core::Time::ZERO.plus("120ms".parse().unwrap())),
        "{:?}",
        r.reached
    );
    let text = faultline::output::verdict_text(&s, &r);
    assert!(text.contains("verdict: ok: Pass, as expected"), "{text}");

    // Without the restart the storm runs the same way but never shows what it is for.
    let (s, r) = run(r#"At("50ms", Crash("n2"))"#);
    assert!(!r.matched);
    assert_eq!(
        r.outcome,
        Outcome::Unreached {
            missing: vec!["node-restarted".to_string()]
        }
    );
    assert_eq!(r.outcome.exit_code(r.matched), runner::EXIT_NOT_MET);
    let text = faultline::output::verdict_text(&s, &r);
    assert!(
        text.contains("unreached: the run never reached the property its scenario requires (`reach`): node-restarted"),
        "{text}"
    );
    assert!(
        text.contains("verdict: FAILED: expected Pass, got unreached: node-restarted"),
        "{text}"
    );
    assert!(
        text.contains("replay: faultline run storm.ron --seed 1"),
        "{text}"
    );
}

#[test]
fn a_teaching_scenario_that_stops_showing_its_point_fails() {
    // The blocked 2PC without the coordinator's crash: every check still passes, but no
    // participant blocks, so the file's `reach` fails it.
    let path = "scenarios/twopc/coordinator-crash-blocks.ron";
    let text = std::fs::read_to_string(path).expect("the teaching scenario");
    assert!(text.contains("reach: [\"participant-blocked\""), "{text}");
    let s = Scenario::parse(path, &text).unwrap();
    let r = runner::run(&s, s.seed(), TraceLevel::Off).unwrap();
    assert!(r.matched, "{:?}", r.outcome);
    let quiet = text
        .replace("At(\"1080ms\", Crash(\"n1\")),", "")
        .replace("At(\"3s\", Restart(\"n1\")),", "");
    assert_ne!(quiet, text, "the crash is where this test expects it");
    let s = Scenario::parse(path, &quiet).unwrap_or_else(|e| panic!("{}", e.render(false)));
    let r = runner::run(&s, s.seed(), TraceLevel::Off).unwrap();
    assert!(r.report.violations.is_empty(), "{:?}", r.report.violations);
    match &r.outcome {
        Outcome::Unreached { missing } => {
            assert!(
                missing.contains(&"participant-blocked".to_string()),
                "{missing:?}"
            )
        }
        other => panic!("expected unreached, got {other:?}"),
    }
    assert!(!r.matched);
}

#[test]
fn a_required_property_is_judged_after_the_expected_violation() {
    // Expecting a violation does not excuse a missed property: the split-brain demo must
    // also have reached what it says it shows.
    let path = "scenarios/split-brain/lease-clock-skew.ron";
    let text = std::fs::read_to_string(path).expect("scenario");
    let s = Scenario::parse(path, &text).unwrap();
    let r = runner::run(&s, s.seed(), TraceLevel::Off).unwrap();
    assert!(r.matched, "{:?}", r.outcome);
    assert!(
        r.outcome.check().is_some(),
        "a demo that expects a violation"
    );
    let names: Vec<&str> = r.reached.iter().map(|(p, _)| *p).collect();
    let required = faultline::protocols::election::LeaseReach::ALL
        .iter()
        .map(|p| p.name)
        .find(|p| !names.contains(p))
        .expect("a lease property this run does not reach");
    let demanding = text.replacen(
        "expect:",
        &format!("reach: [{required:?}],\n    expect:"),
        1,
    );
    let s = Scenario::parse(path, &demanding).unwrap_or_else(|e| panic!("{}", e.render(false)));
    let r = runner::run(&s, s.seed(), TraceLevel::Off).unwrap();
    assert_eq!(
        r.outcome,
        Outcome::Unreached {
            missing: vec![required.to_string()]
        }
    );
}

#[test]
fn an_unknown_property_is_bad_input_at_its_position_with_the_valid_names() {
    let s = Scenario::parse(
        "storm.ron",
        &storm(CRASH_RESTART, r#""node-restarted", "node-rebooted""#),
    )
    .expect("the file parses: names are checked against the protocol");
    let e = runner::check(&s).expect_err("an unknown property is an error");
    let text = e.render(false);
    assert!(
        text.contains("unknown sometimes-property \"node-rebooted\" for pingstorm"),
        "{text}"
    );
    assert!(text.contains("storm.ron:9:31"), "{text}");
    assert!(
        text.contains("pingstorm declares \"node-restarted\" or \"long-path\""),
        "{text}"
    );
    let e = Scenario::parse(
        "storm.ron",
        &storm(CRASH_RESTART, r#""node-restarted", "node-restarted""#),
    )
    .expect_err("a property listed twice is an error");
    assert!(
        e.render(false)
            .contains("property \"node-restarted\" is listed twice in `reach`"),
        "{}",
        e.render(false)
    );
}

#[test]
fn reaching_a_property_changes_neither_the_trace_nor_the_fingerprint() {
    // `reach` only judges: the same file without it runs byte for byte the same.
    let with = Scenario::parse("storm.ron", &storm(CRASH_RESTART, r#""node-restarted""#)).unwrap();
    let without = Scenario::parse("storm.ron", &storm(CRASH_RESTART, "")).unwrap();
    let a = runner::run(&with, 1, TraceLevel::Full).unwrap();
    let b = runner::run(&without, 1, TraceLevel::Full).unwrap();
    assert_eq!(a.report.trace.to_text(), b.report.trace.to_text());
    assert_eq!(a.report.fingerprint, b.report.fingerprint);
    assert_eq!(a.reached, b.reached);
    assert!(!a.reached.is_empty());
}

fn faultline_cmd(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("faultline runs")
}

#[test]
fn sweep_coverage_counts_the_seeds_per_property_and_warns_about_the_unreached() {
    let out = faultline_cmd(&[
        "sweep",
        "scenarios/pingstorm/smoke.ron",
        "--seeds",
        "0..6",
        "--jobs",
        "1",
        "--coverage",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("coverage: seeds of 6 that reached each sometimes-property of pingstorm:"),
        "{stderr}"
    );
    // smoke.ron restarts n3 in every seed; 200ms of storm never makes a 100-hop path.
    let restarted = stderr
        .lines()
        .find(|l| l.trim_start().starts_with("node-restarted"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(restarted.contains("      6 (100.0%)"), "{restarted}");
    assert!(
        stderr.contains("warning: no seed reached 1 of 2: long-path;"),
        "{stderr}"
    );
    // Each JSON line says what its seed reached.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line: serde_json::Value =
        serde_json::from_str(stdout.lines().nth(1).expect("a result line")).unwrap();
    assert_eq!(line["reached"], serde_json::json!(["node-restarted"]));
    // Without --coverage, no table.
    let out = faultline_cmd(&[
        "sweep",
        "scenarios/pingstorm/smoke.ron",
        "--seeds",
        "0..2",
        "--jobs",
        "1",
    ]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("coverage:"));
}

#[test]
fn run_reports_what_it_reached_in_text_and_json_and_list_names_the_properties() {
    let out = faultline_cmd(&["run", "scenarios/pingstorm/smoke.ron", "--trace", "off"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("reached: node-restarted at 120ms"),
        "{stdout}"
    );
    let out = faultline_cmd(&[
        "run",
        "scenarios/pingstorm/smoke.ron",
        "--format",
        "json",
        "--trace",
        "off",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["reached"],
        serde_json::json!([{"property": "node-restarted", "time_ns": 120_000_000u64}])
    );
    let out = faultline_cmd(&["list"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    for info in registry::infos() {
        for p in info.sometimes {
            assert!(
                stdout.contains(&format!("    sometimes {}: {}\n", p.name, p.meaning)),
                "{} {}",
                info.name,
                p.name
            );
        }
    }
}

#[test]
fn docs_scenarios_lists_every_property_of_every_protocol() {
    let doc = std::fs::read_to_string("docs/SCENARIOS.md").expect("docs/SCENARIOS.md");
    for info in registry::infos() {
        for p in info.sometimes {
            let row = format!("| {} | `{}` | {} |", info.name, p.name, p.meaning);
            assert!(doc.contains(&row), "docs/SCENARIOS.md lacks the row {row}");
        }
    }
}

#[test]
fn shrink_pins_the_violation_and_leaves_reach_out() {
    // The unfenced bully demo requires `stale-write-accepted`; its shrunk file pins the
    // fencing violation alone, so dropping a fault that reached the property is fine.
    let s = Scenario::load("scenarios/split-brain/bully-partition-unfenced.ron").unwrap();
    assert!(s.reach().any(|p| p == "stale-write-accepted"));
    let shrunk =
        faultline::shrink::shrink(&s, s.seed(), &mut |_| {}).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(shrunk.check, "fencing");
    assert!(!shrunk.text.contains("reach:"), "{}", shrunk.text);
    let back = Scenario::parse("shrunk.ron", &shrunk.text).unwrap();
    let r = runner::run(&back, back.seed(), TraceLevel::Off).unwrap();
    assert!(r.matched, "{:?}", r.outcome);
}

#[test]
fn report_merges_the_coverage_of_a_sharded_sweep() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("coverage");
    std::fs::create_dir_all(&dir).unwrap();
    let shard = |i: u32| dir.join(format!("s{i}.jsonl")).display().to_string();
    for i in 0..2 {
        // A sweep resumes an `--out` file that exists: start without the last run's.
        let _ = std::fs::remove_file(shard(i));
    }
    for i in 0..2 {
        let out = faultline_cmd(&[
            "sweep",
            "scenarios/pingstorm/smoke.ron",
            "--seeds",
            "0..4",
            "--jobs",
            "1",
            "--shard",
            &format!("{i}/2"),
            "--out",
            &shard(i),
        ]);
        assert_eq!(out.status.code(), Some(0));
    }
    let out = faultline_cmd(&["report", &shard(0), &shard(1), "--coverage"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("coverage: seeds of 4 that reached each sometimes-property of pingstorm:"),
        "{stdout}"
    );
    assert!(stdout.contains("      4 (100.0%)"), "{stdout}");
    assert!(
        stdout.contains("warning: no seed reached 1 of 2: long-path;"),
        "{stdout}"
    );
}
