//! Every scenario file under scenarios/ (but bench/) runs with its own seed, meets its
//! `expect`, runs the same twice, and has its trace pinned: the summary lines (faults,
//! notes, client operations, verdict) and a hash of the full trace. Adding a file adds a
//! case; its first run writes `tests/snapshots/<path>.snap.new` to read and accept.

use faultline::{Scenario, output, runner};
use sim_core::TraceLevel;
use std::path::Path;

#[test]
fn every_scenario_meets_its_expect_and_its_trace_is_pinned() {
    let files =
        faultline::scenario::files_under(Path::new("scenarios")).expect("scenarios/ is readable");
    let files: Vec<_> = files
        .into_iter()
        .filter(|f| !f.starts_with("scenarios/bench"))
        .collect();
    assert!(
        files.len() >= 3,
        "expected the shipped scenarios, found {files:?}"
    );
    for file in files {
        let path = file.display().to_string();
        let s = Scenario::load(&path).unwrap_or_else(|e| panic!("{}", e.render(false)));
        let r = runner::run(&s, s.seed(), TraceLevel::Full)
            .unwrap_or_else(|e| panic!("{}", e.render(false)));
        assert!(
            r.matched,
            "{path}: expected {}, got {}\n{}",
            s.expect(),
            output::outcome_name(&r.outcome),
            output::verdict_text(&s, &r)
        );
        let again = runner::run(&s, s.seed(), TraceLevel::Full).expect("ran once");
        assert_eq!(
            faultline::determinism::first_difference(&r, &again),
            None,
            "{path}: two runs of seed {} differ",
            s.seed()
        );
        let mut snap = format!(
            "scenario: {path}\nseed: {}\nexpect: {}\n",
            s.seed(),
            s.expect()
        );
        snap.push_str(&r.report.trace.summary_text());
        snap.push_str(&output::verdict_text(&s, &r));
        snap.push_str(&format!(
            "full trace: {} events, hash {:016x}\n",
            r.report.trace.events.len(),
            r.report.trace.text_hash()
        ));
        let name = path
            .trim_start_matches("scenarios/")
            .trim_end_matches(".ron")
            .replace('/', "__");
        insta::with_settings!({ snapshot_path => "snapshots", prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(name, snap);
        });
    }
}

#[test]
fn bench_scenarios_are_valid() {
    for file in
        faultline::scenario::files_under(Path::new("scenarios/bench")).expect("scenarios/bench")
    {
        let path = file.display().to_string();
        let s = Scenario::load(&path).unwrap_or_else(|e| panic!("{}", e.render(false)));
        runner::check(&s).unwrap_or_else(|e| panic!("{}", e.render(false)));
        assert_eq!(
            s.trace(),
            TraceLevel::Off,
            "{path}: benchmarks run with the trace off"
        );
    }
}
