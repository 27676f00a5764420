//! Shrinking keeps the failure (issue #14): a liveness failure shrinks to faults that end
//! as they did (crashes restart, cuts heal) and that fail the same way: the same check,
//! the same kind of message, the same nodes.

use faultline::Scenario;
use faultline::runner::{self, Outcome};
use faultline::shrink::{self, FailureWay};
use sim_core::{Time, TraceLevel, Violation};

/// Bully with the knob `never_yield` (a coordinator never yields to a higher id) under
/// 10s of partitions, isolations and crashes. Before, every one of seeds 0-5 shrank
/// to one cut that never heals: another, trivial way of failing `eventually-one-leader`,
/// with other nodes in charge.
const CHURN: &str = r#"(
    name: "bully-never-yields-churn",
    protocol: (name: "bully", config: (store: false, never_yield: true, liveness_bound: "3s")),
    cluster: (nodes: 5),
    network: (latency: Uniform(min: "1ms", max: "10ms")),
    nemesis: (
        faults: [PartitionHalves, Isolate, CrashRestart],
        start: "500ms",
        every: ("100ms", "800ms"),
        lasting: ("200ms", "1.5s"),
        stop: "10s",
    ),
    checks: ["eventually-one-leader"],
    seed: 1,
    duration: "15s",
    expect: Pass,
)"#;

fn way(s: &Scenario, seed: u64) -> FailureWay {
    let r = runner::run(s, seed, TraceLevel::Off).expect("runs");
    let Outcome::Violation(v) = &r.outcome else {
        panic!("seed {seed} does not fail: {:?}", r.outcome);
    };
    let nodes: Vec<String> = (1..=5).map(|i| format!("n{i}")).collect();
    FailureWay::of(v, &nodes)
}

#[test]
fn a_liveness_failure_shrinks_to_faults_that_end_and_fail_the_same_way() {
    let s = Scenario::parse("churn.ron", CHURN).unwrap();
    for seed in [0, 4] {
        let before = way(&s, seed);
        let shrunk = shrink::shrink(&s, seed, &mut |_| {}).expect("shrinks");
        assert!(shrunk.faults < shrunk.faults_before, "{}", shrunk.text);
        assert!(
            shrunk.faults >= 2,
            "a unit is a fault and its end: {}",
            shrunk.text
        );
        // Every crash restarts and every cut heals, later in the list.
        let faults: Vec<&str> = shrunk
            .text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("At("))
            .collect();
        let mut open_cuts = 0i32;
        let mut down: Vec<String> = Vec::new();
        for f in &faults {
            if f.contains("Partition(") || f.contains("Isolate(") {
                open_cuts += 1;
            } else if f.contains("Heal") {
                open_cuts = 0;
            } else if let Some(n) = f.split("Crash(\"").nth(1) {
                down.push(n.split('"').next().unwrap().to_string());
            } else if let Some(n) = f.split("Restart(\"").nth(1) {
                let n = n.split('"').next().unwrap();
                down.retain(|d| d != n);
            }
        }
        assert_eq!(open_cuts, 0, "a cut never heals: {}", shrunk.text);
        assert!(down.is_empty(), "{down:?} never restart: {}", shrunk.text);
        let back = Scenario::parse("shrunk.ron", &shrunk.text).unwrap();
        assert_eq!(way(&back, seed), before, "seed {seed}: {}", shrunk.text);
    }
}

fn v(message: &str) -> Violation {
    Violation {
        check: "eventually-one-leader".into(),
        time: Time::ZERO,
        message: message.into(),
    }
}

#[test]
fn the_way_a_run_fails_is_its_check_its_kind_of_message_and_its_nodes() {
    let nodes: Vec<String> = (1..=5).map(|i| format!("n{i}")).collect();
    let both = |at: &str, a: &str, b: &str| {
        v(&format!(
            "no convergence within 3s after the faults stopped at {at}: at the end (15s) {a} (gen 2/{a}) and {b} (gen 1/{b}) both act as leader"
        ))
    };
    let w = FailureWay::of(&both("10s", "n4", "n5"), &nodes);
    assert_eq!(
        w.kind,
        "no convergence within # after the faults stopped at #: at the end N and N both act as leader"
    );
    assert_eq!(w.nodes, ["n4", "n5"]);
    // Times and generations do not matter; the nodes and the kind do.
    assert_eq!(FailureWay::of(&both("6.243s", "n4", "n5"), &nodes), w);
    assert_ne!(FailureWay::of(&both("10s", "n2", "n5"), &nodes), w);
    let none = v(
        "no convergence within 3s after the faults stopped at 10s: at the end (15s) no node acts as leader",
    );
    assert_ne!(FailureWay::of(&none, &nodes).kind, w.kind);
    let mut other = both("10s", "n4", "n5");
    other.check = "split-brain".into();
    assert_ne!(FailureWay::of(&other, &nodes), w);
}
