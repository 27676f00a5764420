//! docs/SCENARIOS.md is the guide newcomers follow: its complete example must run, and
//! every fault example in its table must parse, validate and run.

use faultline::{Scenario, runner};
use sim_core::TraceLevel;

fn doc() -> String {
    std::fs::read_to_string("docs/SCENARIOS.md").expect("docs/SCENARIOS.md")
}

#[test]
fn the_complete_example_runs_and_passes() {
    let doc = doc();
    let start = doc
        .find("```ron\n// Lines starting")
        .expect("the complete example")
        + "```ron\n".len();
    let end = start + doc[start..].find("```").expect("closed");
    let s = Scenario::parse("docs/SCENARIOS.md", &doc[start..end])
        .unwrap_or_else(|e| panic!("{}", e.render(false)));
    let r = runner::run(&s, s.seed(), TraceLevel::Summary)
        .unwrap_or_else(|e| panic!("{}", e.render(false)));
    assert!(r.matched);
}

#[test]
fn every_fault_example_in_the_table_is_valid() {
    let mut examples = Vec::new();
    for line in doc().lines().filter(|l| l.starts_with("| `")) {
        for cell in line.split('`').filter(|c| c.starts_with("At(")) {
            examples.push(cell.to_string());
        }
    }
    assert!(examples.len() >= 13, "{examples:?}");
    for ex in &examples {
        // A restart needs its crash first.
        let crash = if ex.contains("Restart(") {
            "At(\"1s\", Crash(\"n3\")),"
        } else {
            ""
        };
        let text = format!(
            "(name: \"doc\", protocol: (name: \"pingstorm\"), cluster: (nodes: 5), faults: [{crash} {ex}], seed: 1, duration: \"6s\", max_events: 100000, expect: Pass)"
        );
        let s = Scenario::parse("doc.ron", &text)
            .unwrap_or_else(|e| panic!("{ex}:\n{}", e.render(false)));
        assert!(
            runner::run(&s, 1, TraceLevel::Off).expect("runs").matched,
            "{ex}"
        );
    }
}
