//! Long work shows progress: off a terminal (here, a pipe) `sweep` and
//! `check-determinism` print a plain line at each tenth, with counts only, so stderr is the
//! same bytes on every run and for any `--jobs`; the output file is what it is without
//! progress; and the summary groups the failing seeds by check.

use std::process::{Command, Output};

fn faultline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .output()
        .expect("run faultline")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("progress");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let p = dir.join(name);
    // A sweep resumes an `--out` file that exists: every run starts without one.
    let _ = std::fs::remove_file(&p);
    p
}

/// A copy of the forget-vote scenario that expects `Pass`: some seeds elect two leaders.
fn failing_scenario() -> std::path::PathBuf {
    let text = std::fs::read_to_string("scenarios/raft/forget-vote-on-restart.ron")
        .expect("scenario")
        .replace("expect: Violation(\"election-safety\")", "expect: Pass");
    let p = tmp("forget-vote-pass.ron");
    std::fs::write(&p, text).expect("write scenario");
    p
}

#[test]
fn a_piped_sweep_prints_a_plain_line_at_each_tenth_and_its_output_is_unchanged() {
    let ron = failing_scenario();
    let file = ron.to_str().unwrap();
    let (one, two) = (tmp("one.jsonl"), tmp("two.jsonl"));
    let mut stderrs = Vec::new();
    for (out, jobs) in [(&one, "1"), (&two, "2")] {
        let run = faultline(&[
            "sweep",
            file,
            "--seeds",
            "0..100",
            "--jobs",
            jobs,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(run.status.code(), Some(1), "{}", text(&run.stderr));
        stderrs.push(text(&run.stderr));
    }
    assert_eq!(stderrs[0], stderrs[1], "the same stderr for --jobs 1 and 2");
    let written = std::fs::read_to_string(&one).unwrap();
    assert_eq!(
        written,
        std::fs::read_to_string(&two).unwrap(),
        "the same output"
    );
    // Each line counts the seeds done and the failures among them, as the file records.
    let verdicts: Vec<bool> = written
        .lines()
        .skip(1)
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["verdict"] == "ok"
        })
        .collect();
    assert_eq!(verdicts.len(), 100);
    let expected: Vec<String> = (1..=10)
        .map(|k| {
            let failed = verdicts[..k * 10].iter().filter(|ok| !**ok).count();
            format!("sweep: {}/100 seeds, {failed} failed", k * 10)
        })
        .collect();
    let lines: Vec<&str> = stderrs[0]
        .lines()
        .filter(|l| l.starts_with("sweep: "))
        .collect();
    assert_eq!(lines, expected, "{}", stderrs[0]);
    assert!(
        expected.last().unwrap() != "sweep: 100/100 seeds, 0 failed",
        "some seeds fail"
    );
    // The summary groups the failures by check, with the first seed's replay command.
    let first_failed = verdicts.iter().position(|ok| !ok).unwrap();
    assert!(
        stderrs[0].contains(&format!(
            "\n  Violation(\"election-safety\"): {} seeds: {first_failed}, ",
            verdicts.iter().filter(|ok| !**ok).count()
        )),
        "{}",
        stderrs[0]
    );
    assert!(
        stderrs[0].contains(&format!(
            "\n    replay the first: faultline run {file} --seed {first_failed}\n"
        )),
        "{}",
        stderrs[0]
    );
    // The library's sweep with no progress at all writes the same bytes.
    let s = faultline::Scenario::load(file).expect("scenario");
    let header = faultline::sweep::Header::new(&s, 0..100, (0, 1));
    let mut bytes = header.line().into_bytes();
    faultline::sweep::sweep(&s, &header.seed_list(), 2, &mut bytes, &|_| {}).expect("sweep");
    assert_eq!(text(&bytes), written, "progress changes nothing written");
}

#[test]
fn short_piped_work_prints_no_progress_lines() {
    let out = faultline(&["sweep", "scenarios/pingstorm/smoke.ron", "--seeds", "0..99"]);
    assert_eq!(out.status.code(), Some(0));
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("sweep: "), "{stderr}");
    assert!(stderr.starts_with("swept 99 seeds"), "{stderr}");
}

#[test]
fn check_determinism_prints_plain_progress_and_its_verdict() {
    let out = faultline(&[
        "check-determinism",
        "scenarios/pingstorm/smoke.ron",
        "--seeds",
        "0..100",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let expected: String = (1..=10)
        .map(|k| format!("check-determinism: {}/100 seeds\n", k * 10))
        .collect();
    assert_eq!(text(&out.stderr), expected);
    assert_eq!(
        text(&out.stdout),
        "deterministic: 100 seeds each ran twice with identical traces\n"
    );
}
