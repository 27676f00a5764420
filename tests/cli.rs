//! The `faultline` binary: exit codes, messages, and the bytes of sweeps.

mod common;

use common::{expect, faultline, text};
use std::process::{Command, Output};

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli");
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let p = dir.join(name);
    let _ = std::fs::remove_file(&p);
    p
}

#[test]
fn run_prints_the_trace_and_the_verdict_and_exits_0() {
    let out = expect(0, &["run", "scenarios/pingstorm/smoke.ron"]);
    let stdout = out.stdout;
    assert!(stdout.contains("    50.000ms  !! crash n3\n"), "{stdout}");
    assert!(
        stdout.contains("verdict: ok: Pass, as expected\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("n3 <- ") && stdout.contains(" -x n3  "),
        "the smoke file asks for the full trace: deliveries, and losses to the crashed n3"
    );
    let summary =
        text(&faultline(&["run", "scenarios/pingstorm/smoke.ron", "--trace", "summary"]).stdout);
    assert!(!summary.contains(" <- "), "--trace summary: no deliveries");
    assert!(summary.contains("    50.000ms  !! crash n3\n"), "{summary}");
}

#[test]
fn seed_trace_format_and_stats_flags() {
    let full =
        text(&faultline(&["run", "scenarios/pingstorm/smoke.ron", "--trace", "full"]).stdout);
    assert!(full.contains(" <- "), "--trace full shows deliveries");
    let off = text(
        &faultline(&[
            "run",
            "scenarios/pingstorm/smoke.ron",
            "--trace",
            "off",
            "--stats",
        ])
        .stdout,
    );
    assert!(off.starts_with("end: "), "{off}");
    for part in [
        "stats: events ",
        "virtual time 0.200s",
        "wall time ",
        "events/s",
        "virtual/wall ",
    ] {
        assert!(off.contains(part), "--stats shows {part}: {off}");
    }
    let a = faultline(&[
        "run",
        "scenarios/pingstorm/smoke.ron",
        "--format",
        "json",
        "--seed",
        "5",
    ]);
    let b = faultline(&[
        "run",
        "scenarios/pingstorm/smoke.ron",
        "--format",
        "json",
        "--seed",
        "6",
    ]);
    let (a, b): (serde_json::Value, serde_json::Value) = (
        serde_json::from_slice(&a.stdout).expect("json"),
        serde_json::from_slice(&b.stdout).expect("json"),
    );
    assert_eq!(a["seed"], 5, "--seed overrides the file's seed");
    assert_eq!(a["outcome"], "Pass");
    assert_eq!(a["matched"], true);
    assert_eq!(
        a["replay"],
        "faultline run scenarios/pingstorm/smoke.ron --seed 5"
    );
    assert_ne!(
        a["fingerprint"], b["fingerprint"],
        "another seed, another run"
    );
    assert!(a["trace"].as_array().is_some_and(|t| !t.is_empty()));
}

#[test]
fn a_bad_file_exits_2_with_the_rendered_error() {
    let out = faultline(&["run", "tests/bad-scenarios/unknown-node.ron"]);
    assert_eq!(out.status.code(), Some(2));
    let expected =
        std::fs::read_to_string("tests/bad-scenarios/unknown-node.expected").expect("corpus");
    assert_eq!(text(&out.stderr), expected);
    assert!(out.stdout.is_empty());
    let out = expect(2, &["run", "no/such/file.ron"]);
    assert!(
        out.stderr
            .contains("cannot read scenario file no/such/file.ron"),
        "{}",
        out.stderr
    );
}

#[test]
fn bad_flags_exit_2_and_name_the_fix() {
    let out = faultline(&["sweep", "scenarios/pingstorm/smoke.ron", "--seeds", "5..5"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("the range 5..5 is empty: END is excluded, so write e.g. 5..6"),
        "{}",
        text(&out.stderr)
    );
    let out = faultline(&[
        "sweep",
        "scenarios/pingstorm/smoke.ron",
        "--seeds",
        "0..5",
        "--shard",
        "3/3",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("write I/N with 0 <= I < N"),
        "{}",
        text(&out.stderr)
    );
    expect(
        2,
        &["run", "scenarios/pingstorm/smoke.ron", "--trace", "some"],
    );
}

#[test]
fn every_flag_has_help_with_its_default() {
    let out = text(&faultline(&["sweep", "--help"]).stdout);
    assert!(out.contains("[default: 0/1]"), "{out}");
    assert!(out.contains("--jobs <JOBS>"), "{out}");
    let out = text(&faultline(&["run", "--help"]).stdout);
    assert!(
        out.contains("[default: text]") && out.contains("[default: the file's `seed`]"),
        "{out}"
    );
}

#[test]
fn sweep_output_is_identical_for_1_and_2_jobs_and_resumes() {
    let (one, two) = (tmp("one.jsonl"), tmp("two.jsonl"));
    let file = "scenarios/pingstorm/nemesis.ron";
    for (path, jobs) in [(&one, "1"), (&two, "2")] {
        let out = faultline(&[
            "sweep",
            file,
            "--seeds",
            "0..12",
            "--jobs",
            jobs,
            "--out",
            path.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("swept 12 seeds"),
            "{}",
            text(&out.stderr)
        );
    }
    let a = std::fs::read(&one).unwrap();
    assert_eq!(
        a,
        std::fs::read(&two).unwrap(),
        "same bytes for --jobs 1 and 2"
    );
    let lines: Vec<serde_json::Value> = text(&a)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (header, lines) = lines.split_first().expect("a header line");
    assert_eq!(header["scenario"], file);
    assert_eq!(header["seeds"], serde_json::json!([0, 12]));
    assert_eq!(
        lines
            .iter()
            .map(|l| l["seed"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        (0..12).collect::<Vec<_>>()
    );
    assert!(
        lines
            .iter()
            .all(|l| l["verdict"] == "ok" && l["stats"]["events"].as_u64().unwrap() > 0)
    );

    // Interrupted after the header, five lines and half of the sixth: the rerun completes
    // the file.
    let six_lines: Vec<u8> = text(&a)
        .lines()
        .take(6)
        .flat_map(|l| format!("{l}\n").into_bytes())
        .collect();
    let resume = || {
        faultline(&[
            "sweep",
            file,
            "--seeds",
            "0..12",
            "--out",
            two.to_str().unwrap(),
        ])
    };
    std::fs::write(&two, [&six_lines[..], b"{\"seed\":5,\"verd"].concat()).unwrap();
    let out = resume();
    assert!(
        text(&out.stderr).contains("resuming"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains("ran 7 seeds now; 5 were recorded earlier\nswept 12 seeds"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        a,
        std::fs::read(&two).unwrap(),
        "resumed sweep = uninterrupted sweep"
    );

    // Interrupted inside a character (a result's text need not be ASCII): the cut line is
    // not UTF-8, and the rerun still drops it and completes the file.
    std::fs::write(
        &two,
        [&six_lines[..], b"{\"seed\":5,\"note\":\"\xe2\x82"].concat(),
    )
    .unwrap();
    let out = resume();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        a,
        std::fs::read(&two).unwrap(),
        "resumed after a cut character"
    );

    // A complete line that is not UTF-8 is bad input, with its line and column.
    let mut bad = a.clone();
    let line_3 = text(&a).lines().take(2).map(|l| l.len() + 1).sum::<usize>();
    bad.insert(line_3 + 3, 0xff);
    std::fs::write(&two, bad).unwrap();
    let out = expect(2, &["report", two.to_str().unwrap()]);
    assert!(
        out.stderr
            .contains("line 3, column 4: not UTF-8 text: byte 0xff"),
        "{}",
        out.stderr
    );
}

#[test]
fn shards_split_the_seeds_between_them() {
    let mut all = Vec::new();
    for shard in ["0/3", "1/3", "2/3"] {
        let out = expect(
            0,
            &[
                "sweep",
                "scenarios/pingstorm/smoke.ron",
                "--seeds",
                "10..20",
                "--shard",
                shard,
            ],
        );
        for l in out.stdout.lines().skip(1) {
            all.push(
                serde_json::from_str::<serde_json::Value>(l).unwrap()["seed"]
                    .as_u64()
                    .unwrap(),
            );
        }
    }
    all.sort();
    assert_eq!(all, (10..20).collect::<Vec<_>>());
}

#[test]
fn check_determinism_and_list() {
    let out = faultline(&[
        "check-determinism",
        "scenarios/pingstorm/nemesis.ron",
        "--seeds",
        "0..3",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "deterministic: 3 seeds each ran twice with identical traces\n"
    );
    let out = expect(0, &["list"]);
    let stdout = out.stdout;
    assert!(
        stdout.contains("  pingstorm: a storm of messages"),
        "{stdout}"
    );
    assert!(stdout.contains("fanout: 4"), "the default config: {stdout}");
    assert!(
        stdout.contains("  scenarios/pingstorm/smoke.ron: Five nodes pass messages"),
        "{stdout}"
    );
}

#[test]
fn shrinking_a_passing_seed_is_bad_input() {
    let out = expect(
        2,
        &["shrink", "scenarios/pingstorm/smoke.ron", "--seed", "3"],
    );
    assert!(
        out.stderr.contains("passes every check: nothing to shrink"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_run_that_misses_its_expect_exits_1_and_prints_the_replay() {
    // Seed 0 happens not to elect two leaders, so the expected violation is missing.
    let out = faultline(&[
        "run",
        "scenarios/raft/forget-vote-on-restart.ron",
        "--seed",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("verdict: FAILED: expected Violation(\"election-safety\"), got Pass\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "seed: 0\nreplay: faultline run scenarios/raft/forget-vote-on-restart.ron --seed 0\n"
        ),
        "{stdout}"
    );
}

#[test]
fn shrink_writes_a_file_that_run_reproduces() {
    let min = tmp("minimal.ron");
    let out = expect(
        0,
        &[
            "shrink",
            "scenarios/raft/forget-vote-on-restart.ron",
            "--seed",
            "12",
            "--out",
            min.to_str().unwrap(),
        ],
    );
    let stderr = out.stderr;
    assert!(
        stderr.contains("shrink: nemesis: materialized into"),
        "{stderr}"
    );
    let written = std::fs::read_to_string(&min).unwrap();
    assert!(!written.contains("nemesis"), "{written}");
    let faults = written
        .lines()
        .filter(|l| l.trim_start().starts_with("At("))
        .count();
    assert!((2..=12).contains(&faults), "a handful of faults: {written}");
    let run = faultline(&["run", min.to_str().unwrap()]);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}\n{written}",
        text(&run.stdout)
    );
    let stdout = text(&run.stdout);
    assert!(stdout.contains("!! VIOLATION election-safety:"), "{stdout}");
    assert!(
        stdout.contains("verdict: ok: Violation(\"election-safety\"), as expected"),
        "{stdout}"
    );
}

const PORCUPINE: &str = "lincheck/tests/data/porcupine/jsonl";

#[test]
fn check_history_exit_codes_follow_the_verdict() {
    // Verdicts from Porcupine's own tests: etcd_002 is linearizable, etcd_000 is not.
    let ok = expect(
        0,
        &["check-history", &format!("{PORCUPINE}/etcd_002.jsonl")],
    );
    assert!(ok.stdout.starts_with("history: linearizable"));
    let bad = expect(
        1,
        &["check-history", &format!("{PORCUPINE}/etcd_000.jsonl")],
    );
    let report = bad.stdout;
    assert!(report.starts_with("history: not-linearizable"), "{report}");
    assert!(report.contains("longest linearizable prefix"), "{report}");
    let json = faultline(&[
        "check-history",
        &format!("{PORCUPINE}/etcd_000.jsonl"),
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("one JSON object");
    assert_eq!(v["verdict"], "not-linearizable");
}

#[test]
fn check_history_reports_bad_input_with_its_position_and_exit_2() {
    let file = tmp("garbage.jsonl");
    std::fs::write(
        &file,
        "{\"format\":\"faultline-history\",\"version\":1,\"model\":\"register\"}\n{\"process\":0,\"type\":\"okay\",\"f\":\"read\",\"value\":null}\n",
    )
    .unwrap();
    let out = faultline(&["check-history", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("garbage.jsonl:2:21: expected \"type\" to be one of invoke, ok, fail, info, found \"okay\""),
        "{err}"
    );
    // Saved in Latin-1: the place of the first byte that is not UTF-8.
    std::fs::write(
        &file,
        b"{\"format\":\"faultline-history\",\"version\":1,\"model\":\"kv\"}\n{\"process\":0,\"type\":\"invoke\",\"f\":\"put\",\"key\":\"caf\xe9\",\"value\":1}\n",
    )
    .unwrap();
    let latin1 = expect(2, &["check-history", file.to_str().unwrap()]);
    assert!(
        latin1
            .stderr
            .contains("garbage.jsonl:2:50: not UTF-8 text: byte 0xe9"),
        "{}",
        latin1.stderr
    );
    let missing = expect(2, &["check-history", "no/such/file.jsonl"]);
    assert!(missing.stderr.contains("cannot read no/such/file.jsonl"));
}

#[test]
fn a_tiny_step_budget_answers_unknown_with_exit_3() {
    // --timeout is wall time; a zero timeout cannot decide anything, deterministically.
    let out = expect(
        3,
        &[
            "check-history",
            &format!("{PORCUPINE}/etcd_002.jsonl"),
            "--timeout",
            "0s",
        ],
    );
    assert!(out.stdout.starts_with("history: unknown"));
}

#[test]
fn run_writes_the_history_and_check_history_agrees_with_the_run() {
    let scenario = tmp("raft-clients.ron");
    std::fs::write(
        &scenario,
        r#"(
    name: "raft-clients",
    description: "Raft with three clients under partitions and crashes.",
    protocol: (name: "raft", config: ()),
    cluster: (nodes: 5),
    workload: (clients: 3, ops_per_client: 20, keys: 2),
    nemesis: (faults: [PartitionHalves, CrashRestart], every: ("300ms", "800ms"), lasting: ("100ms", "600ms"), stop: "5s"),
    checks: ["election-safety", "linearizable"],
    seed: 4,
    duration: "8s",
    expect: Pass,
)"#,
    )
    .unwrap();
    let history = tmp("raft-clients.jsonl");
    let svg = tmp("raft-clients.svg");
    let out = faultline(&[
        "run",
        scenario.to_str().unwrap(),
        "--history-out",
        history.to_str().unwrap(),
        "--svg",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let jsonl = std::fs::read_to_string(&history).unwrap();
    let header = jsonl.lines().next().unwrap();
    assert!(header.contains("\"model\":\"kv\""), "{header}");
    assert!(header.contains("\"seed\":4"), "{header}");
    assert!(
        jsonl.lines().count() > 60,
        "three clients, twenty operations each"
    );
    expect(0, &["check-history", history.to_str().unwrap()]);
    let picture = std::fs::read_to_string(&svg).unwrap();
    assert!(picture.starts_with("<svg") && picture.contains("marker-end"));
    assert!(picture.contains("raft-clients (seed 4): pass"));
    // The picture needs the full trace, but stdout still prints the summary.
    assert!(!text(&out.stdout).contains(" <- "));
}

#[test]
fn timeline_shows_who_led_when() {
    let out = expect(
        0,
        &[
            "run",
            "scenarios/split-brain/raft-partition.ron",
            "--trace",
            "off",
            "--timeline",
        ],
    );
    let stdout = out.stdout;
    let row = |name: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("a row for {name}:\n{stdout}"))
            .to_string()
    };
    // n1 leads term 1 from the start until the heal; n4 leads term 3 from the partition on:
    // some columns have both, which is the picture of two believers.
    let (n1, n4) = (row("n1 "), row("n4 "));
    let both = n1
        .chars()
        .zip(n4.chars())
        .filter(|&(a, b)| a == '1' && b == '3')
        .count();
    assert!(both > 10, "{stdout}");
    assert!(row("faults").contains('P') && row("faults").contains('H'));
    assert!(
        stdout.starts_with("        0s"),
        "--trace off prints no trace lines:\n{stdout}"
    );
}

/// A copy of the forget-vote scenario that expects `Pass`: some seeds elect two leaders.
fn failing_scenario(name: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string("scenarios/raft/forget-vote-on-restart.ron")
        .expect("scenario")
        .replace("expect: Violation(\"election-safety\")", "expect: Pass");
    let p = tmp(name);
    std::fs::write(&p, text).expect("write scenario");
    p
}

fn sweep_to(file: &str, seeds: &str, shard: &str, out: &std::path::Path) -> Output {
    faultline(&[
        "sweep",
        file,
        "--seeds",
        seeds,
        "--shard",
        shard,
        "--out",
        out.to_str().unwrap(),
    ])
}

/// The lines of a sweep summary, from "swept" on.
fn summary(stderr: &str) -> String {
    let at = stderr.find("swept ").expect("a summary");
    stderr[at..].to_string()
}

#[test]
fn a_resumed_sweep_still_reports_the_failures_it_recorded() {
    let ron = failing_scenario("resume-fails.ron");
    let file = ron.to_str().unwrap();
    let out = tmp("resume-fails.jsonl");
    let first = sweep_to(file, "0..30", "0/1", &out);
    assert_eq!(first.status.code(), Some(1), "{}", text(&first.stderr));
    let first = summary(&text(&first.stderr));
    assert!(
        first.contains(" did not\n  Violation(\"election-safety\"): ")
            && first.contains("\n    replay the first: faultline run ")
            && !first.contains(", 0 did not"),
        "some seed fails: {first}"
    );
    // Everything is recorded: the rerun runs nothing and still reports every failure.
    let again = sweep_to(file, "0..30", "0/1", &out);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again.stderr));
    let stderr = text(&again.stderr);
    assert!(
        stderr.contains("ran 0 seeds now; 30 were recorded earlier"),
        "{stderr}"
    );
    assert_eq!(summary(&stderr), first, "the same summary as the first run");
    // Cut after half the results: the resumed run's summary covers both halves.
    let all = std::fs::read_to_string(&out).unwrap();
    let half: String = all.lines().take(16).map(|l| format!("{l}\n")).collect();
    std::fs::write(&out, half).unwrap();
    let resumed = sweep_to(file, "0..30", "0/1", &out);
    assert_eq!(resumed.status.code(), Some(1));
    let stderr = text(&resumed.stderr);
    assert!(
        stderr.contains("ran 15 seeds now; 15 were recorded earlier"),
        "{stderr}"
    );
    assert_eq!(summary(&stderr), first);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), all);
}

#[test]
fn resuming_output_of_another_sweep_is_an_error_that_says_what_differs() {
    let ron = failing_scenario("resume-other.ron");
    let file = ron.to_str().unwrap();
    let out = tmp("resume-other.jsonl");
    assert_eq!(sweep_to(file, "0..4", "0/1", &out).status.code(), Some(0));
    let before = std::fs::read(&out).unwrap();
    let refused = |o: Output, what: &str| {
        assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
        let stderr = text(&o.stderr);
        assert!(
            stderr.contains("cannot resume: it holds results of another sweep")
                && stderr.contains(what),
            "names {what}: {stderr}"
        );
        assert_eq!(std::fs::read(&out).unwrap(), before, "the file is kept");
    };
    refused(
        sweep_to(file, "0..5", "0/1", &out),
        "the seeds (0..4 in the file, 0..5 now)",
    );
    refused(
        sweep_to(file, "0..4", "1/2", &out),
        "the shard (0/1 in the file, 1/2 now)",
    );
    // Another scenario, or the same file edited.
    refused(
        sweep_to(
            "scenarios/raft/forget-vote-on-restart.ron",
            "0..4",
            "0/1",
            &out,
        ),
        "the scenario's content (hash fnv1a64:",
    );
    let edited = std::fs::read_to_string(&ron)
        .unwrap()
        .replace("seed: 12", "seed: 13");
    std::fs::write(&ron, edited).unwrap();
    refused(
        sweep_to(file, "0..4", "0/1", &out),
        "the scenario's content",
    );
    // A version that is not this one.
    let other_version = text(&before).replacen(
        &format!("\"faultline\":\"{}\"", env!("CARGO_PKG_VERSION")),
        "\"faultline\":\"0.0.1-other\"",
        1,
    );
    let versioned = tmp("resume-version.jsonl");
    std::fs::write(&versioned, &other_version).unwrap();
    let o = sweep_to(file, "0..4", "0/1", &versioned);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("the faultline version (0.0.1-other in the file"),
        "{}",
        text(&o.stderr)
    );
    // Results without a header (an older faultline, or some other file).
    let legacy = tmp("resume-legacy.jsonl");
    let no_header: String = text(&before)
        .lines()
        .skip(1)
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&legacy, no_header).unwrap();
    let o = sweep_to(file, "0..4", "0/1", &legacy);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("line 1 is not a sweep header"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn report_merges_shards_into_the_summary_of_one_sweep() {
    let ron = failing_scenario("report.ron");
    let file = ron.to_str().unwrap();
    let whole_out = tmp("report-whole.jsonl");
    let whole = sweep_to(file, "0..30", "0/1", &whole_out);
    let mut shards = Vec::new();
    for i in 0..3 {
        let p = tmp(&format!("report-shard-{i}.jsonl"));
        sweep_to(file, "0..30", &format!("{i}/3"), &p);
        shards.push(p.to_str().unwrap().to_string());
    }
    let mut args = vec!["report"];
    args.extend(shards.iter().map(String::as_str));
    let report = faultline(&args);
    assert_eq!(report.status.code(), whole.status.code());
    assert_eq!(report.status.code(), Some(1));
    assert_eq!(text(&report.stdout), summary(&text(&whole.stderr)));
    // The whole sweep's own file reports the same; so does its stdout, saved.
    let report = faultline(&["report", whole_out.to_str().unwrap()]);
    assert_eq!(text(&report.stdout), summary(&text(&whole.stderr)));
    let stdout = faultline(&["sweep", file, "--seeds", "0..30"]);
    let saved = tmp("report-stdout.jsonl");
    std::fs::write(&saved, &stdout.stdout).unwrap();
    let report = faultline(&["report", saved.to_str().unwrap()]);
    assert_eq!(text(&report.stdout), summary(&text(&whole.stderr)));
    // A clean sweep reports clean, exit 0.
    let clean = tmp("report-clean.jsonl");
    sweep_to("scenarios/pingstorm/smoke.ron", "0..4", "0/1", &clean);
    let report = faultline(&["report", clean.to_str().unwrap()]);
    assert_eq!(report.status.code(), Some(0), "{}", text(&report.stderr));
    assert_eq!(
        text(&report.stdout),
        "swept 4 seeds of scenarios/pingstorm/smoke.ron: 4 met `expect: Pass`, 0 did not\n"
    );
    // A missing shard: the summary of what is there, and an error naming the shard.
    let report = faultline(&["report", &shards[0], &shards[2]]);
    assert_eq!(report.status.code(), Some(2));
    assert!(text(&report.stdout).starts_with("swept 20 seeds of "));
    let stderr = text(&report.stderr);
    assert!(
        stderr.contains("incomplete: 10 seeds of the range are recorded in no file")
            && stderr.contains("no file is shard 1/3 of 0..30"),
        "{stderr}"
    );
    // Files of two scenarios.
    let report = expect(2, &["report", &shards[0], clean.to_str().unwrap()]);
    assert!(
        report
            .stderr
            .contains("are not results of the same sweep; these differ: the scenario's content"),
        "{}",
        report.stderr
    );
}

#[test]
fn sweep_suggests_shrinking_only_seeds_that_violated_a_check() {
    // The file expects a violation; the seeds that fail are those that pass every check,
    // and there is nothing to shrink in them.
    let out = expect(
        1,
        &[
            "sweep",
            "scenarios/raft/forget-vote-on-restart.ron",
            "--seeds",
            "0..3",
        ],
    );
    let stderr = out.stderr;
    assert!(stderr.contains("\n  Pass: "), "{stderr}");
    assert!(
        stderr.contains(
            "\n    replay the first: faultline run scenarios/raft/forget-vote-on-restart.ron --seed "
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("shrink"), "{stderr}");
    // Where seeds violate the check, the first of them is named.
    let ron = failing_scenario("shrink-hint.ron");
    let out = faultline(&["sweep", ron.to_str().unwrap(), "--seeds", "0..30"]);
    let stderr = text(&out.stderr);
    let first = stderr
        .lines()
        .find_map(|l| {
            l.strip_prefix("  Violation(\"election-safety\"): ")?
                .split_once(": ")
        })
        .map(|(_, seeds)| seeds.split([',', ' ']).next().unwrap_or("").to_string())
        .expect("a violation");
    assert!(
        stderr.contains(&format!(
            "shrink the first violation: faultline shrink {} --seed {first}\n",
            ron.to_str().unwrap()
        )),
        "{stderr}"
    );
}

#[test]
fn durations_print_as_people_write_them() {
    // A nemesis-like draw, exact to the nanosecond.
    let ron = tmp("durations.ron");
    std::fs::write(
        &ron,
        r#"(
    name: "durations",
    protocol: (name: "pingstorm", config: (fanout: 1)),
    cluster: (nodes: 3),
    faults: [At("1.163030057s", ClockSkew("n1", "+882.607313ms"))],
    seed: 1,
    duration: "15s",
    max_events: 100000,
    expect: Pass,
)"#,
    )
    .unwrap();
    let svg = tmp("durations.svg");
    let out = faultline(&[
        "run",
        ron.to_str().unwrap(),
        "--trace",
        "summary",
        "--svg",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("  1163.030ms  !! clock-skew n1 +882.6ms\n"),
        "the trace keeps its time column and reads the step: {stdout}"
    );
    assert!(stdout.contains("end: time-limit at 15s after "), "{stdout}");
    let svg = std::fs::read_to_string(&svg).unwrap();
    assert!(
        svg.contains(">2s</text>") && !svg.contains("000.000ms</text>"),
        "axis labels read 2s, not 2000.000ms"
    );
}

#[test]
fn shrunk_files_write_exact_durations_in_the_unit_people_use() {
    let min = tmp("minimal-durations.ron");
    expect(
        0,
        &[
            "shrink",
            "scenarios/raft/forget-vote-on-restart.ron",
            "--seed",
            "12",
            "--out",
            min.to_str().unwrap(),
        ],
    );
    let written = std::fs::read_to_string(&min).unwrap();
    for line in written
        .lines()
        .filter(|l| l.trim_start().starts_with("At(\""))
    {
        let at = line.trim_start()["At(\"".len()..]
            .split('"')
            .next()
            .unwrap();
        let number = at.trim_end_matches(|c: char| c.is_ascii_alphabetic());
        let (int, unit) = (number.split('.').next().unwrap(), &at[number.len()..]);
        assert!(
            int != "0" && (unit == "s" || int.len() <= 3),
            "{at}: in the largest unit it reaches, not \"0.882607313s\" ({line})"
        );
        assert_eq!(
            at.parse::<sim_core::Duration>().unwrap().to_string(),
            at,
            "exact"
        );
    }
}

#[test]
fn a_linearizability_explanation_names_the_traces_clients() {
    let hist = tmp("named-history.jsonl");
    let out = expect(
        0,
        &[
            "run",
            "scenarios/raft/lease-without-clock-bound.ron",
            "--history-out",
            hist.to_str().unwrap(),
        ],
    );
    let stdout = out.stdout;
    let stuck: Vec<&str> = stdout.lines().filter(|l| l.starts_with("  X ")).collect();
    assert!(!stuck.is_empty(), "{stdout}");
    for l in &stuck {
        let who = l[4..].split_whitespace().next().unwrap();
        assert!(who.starts_with('c'), "named as in the trace: {l}");
        // The trace shows the same client invoking that operation.
        let event = l[4..].split_whitespace().nth(1).unwrap();
        assert!(event.starts_with('e'), "{l}");
    }
    // Every process in the history has its client's name, also after an `info`.
    let header = std::fs::read_to_string(&hist).unwrap();
    let header: serde_json::Value = serde_json::from_str(header.lines().next().unwrap()).unwrap();
    let names = header["processes"]
        .as_object()
        .expect("processes in the header");
    assert!(names.len() >= 4, "{names:?}");
    assert_eq!(names["0"], "c1");
    let check = expect(1, &["check-history", hist.to_str().unwrap()]);
    assert!(check.stdout.contains("\n  X c"), "{}", check.stdout);
}

#[test]
fn run_shows_a_brief_explanation_and_the_whole_one_on_request() {
    let file = "scenarios/raft/lease-without-clock-bound.ron";
    let brief = faultline(&["run", file, "--trace", "off"]);
    assert_eq!(brief.status.code(), Some(0));
    let brief = text(&brief.stdout);
    assert!(
        brief.lines().count() < 30,
        "a summary, not hundreds of lines: {brief}"
    );
    assert!(
        brief.contains("  longest linearizable prefix: ")
            && brief.contains(" earlier ops (faultline run --explain full shows them all)\n")
            && brief.contains("  then in state ")
            && brief.contains("\n  X c"),
        "{brief}"
    );
    let full = faultline(&["run", file, "--trace", "off", "--explain", "full"]);
    let full = text(&full.stdout);
    assert!(full.lines().count() > 100, "{}", full.lines().count());
    assert!(!full.contains("--explain full shows them all"));
    // The brief lines are lines of the full text.
    for l in brief
        .lines()
        .filter(|l| l.starts_with("  X ") || l.starts_with("    c"))
    {
        assert!(full.contains(l), "{l}");
    }
}

/// The blocked 2PC: the timeline draws the participants blocked (`b`) while the
/// coordinator is down (`x`), and the text and JSON reports give blocked time per
/// transaction.
#[test]
fn the_blocked_2pc_shows_on_the_timeline_and_in_both_reports() {
    let file = "scenarios/twopc/coordinator-crash-blocks.ron";
    let out = expect(0, &["run", file, "--timeline"]);
    let stdout = out.stdout;
    let row = |name: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(&format!("{name:8}")) && l.len() > 20)
            .unwrap_or_else(|| panic!("no timeline row for {name}: {stdout}"))
            .to_string()
    };
    let (n1, n2) = (row("n1"), row("n2"));
    // Blocked from 1.204s until the coordinator's restart at 3s, and only then.
    let blocked: Vec<usize> = n2.match_indices('b').map(|(i, _)| i).collect();
    let down: Vec<usize> = n1.match_indices('x').map(|(i, _)| i).collect();
    assert!(!blocked.is_empty(), "{stdout}");
    assert!(
        blocked.first() > down.first() && blocked.last() <= down.last(),
        "blocked inside the coordinator's downtime:\n{n1}\n{n2}"
    );
    assert!(
        stdout
            .contains("blocked time per transaction:\n  t1000001: 3.608s (n2 1.804s, n3 1.804s)\n"),
        "{stdout}"
    );
    let json = faultline(&["run", file, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    assert_eq!(
        v["blocked"],
        serde_json::json!([
            {"tx": "t1000001", "node": "n2", "ns": 1_804_000_000u64},
            {"tx": "t1000001", "node": "n3", "ns": 1_804_000_000u64},
        ])
    );
}

#[test]
fn check_history_budgets_edn_input_and_a_closed_pipe() {
    let h = format!("{PORCUPINE}/etcd_002.jsonl");
    // --max-steps: lowered, the answer is unknown (exit 3) and says how to raise it.
    let out = faultline(&["check-history", &h, "--max-steps", "10"]);
    assert_eq!(out.status.code(), Some(3));
    let report = text(&out.stdout);
    assert!(report.contains("raise it with --max-steps"), "{report}");
    expect(0, &["check-history", &h, "--max-steps", "1000000000"]);
    // --max-memory: a bound too small for the search ends in unknown, not an abort.
    let big = tmp("same-value.jsonl");
    std::fs::write(
        &big,
        lincheck::generate::same_value_writes(1, 12, false).to_jsonl(),
    )
    .unwrap();
    let out = expect(
        3,
        &["check-history", big.to_str().unwrap(), "--max-memory", "0"],
    );
    assert!(out.stdout.contains("memory bound reached"));
    // Knossos EDN: an ok read of nil is dropped (and said so); a stale read is caught.
    let edn = tmp("knossos.edn");
    std::fs::write(
        &edn,
        "[{:process 0, :type :invoke, :f :write, :value 1}\n\
          {:process 0, :type :ok, :f :write, :value 1}\n\
          {:process 1, :type :invoke, :f :read, :value nil}\n\
          {:process 1, :type :ok, :f :read, :value nil}\n\
          {:process 1, :type :invoke, :f :read, :value nil}\n\
          {:process 1, :type :ok, :f :read, :value 1}]\n",
    )
    .unwrap();
    let out = faultline(&["check-history", edn.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("dropped 1 ok read of nil"));
    let stale = text(&std::fs::read(&edn).unwrap()).replace(":value 1}]", ":value 2}]");
    std::fs::write(&edn, stale).unwrap();
    let out = faultline(&["check-history", edn.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    std::fs::write(&edn, "[{:process 0, :type :invoke, :f :write, :value 1.5}]").unwrap();
    let out = faultline(&["check-history", edn.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("knossos.edn:1:"),
        "{}",
        text(&out.stderr)
    );
    // `| head`: the reader goes away before the report is written; no panic.
    let mut child = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["check-history", &format!("{PORCUPINE}/etcd_000.jsonl")])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).is_empty(), "{}", text(&out.stderr));
}

#[test]
fn lanes_name_lanes_of_the_run_and_go_with_a_picture() {
    let page = tmp("lanes.html");
    let page = page.to_str().unwrap();
    let smoke = "scenarios/pingstorm/smoke.ron";
    let out = expect(2, &["run", smoke, "--lanes", "n1"]);
    assert!(
        out.stderr
            .contains("--lanes chooses the lanes of the --html page"),
        "{}",
        out.stderr
    );
    let out = expect(2, &["run", smoke, "--html", page, "--lanes", "n1,nope"]);
    assert!(
        out.stderr.contains(
            "--lanes nope: no node or client of scenarios/pingstorm/smoke.ron is called \"nope\": expected names such as n1"
        ),
        "{}",
        out.stderr
    );
    let out = expect(0, &["run", smoke, "--html", page, "--lanes", "n1,n2"]);
    assert!(out.stderr.contains("wrote "), "{}", out.stderr);
}
