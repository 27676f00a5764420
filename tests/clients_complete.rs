//! `clients-complete` (Raft's and Multi-Paxos's history check) counts from when the faults
//! stop, like every eventually check (`sim_core::LivenessStart`), unless `liveness_from`
//! sets the start: an operation that fails or hangs while the faults are in force is not a
//! liveness failure, one invoked after them that does not complete within
//! `liveness_bound` is ("no convergence within 1s after the faults stopped at 2s: ...").

use faultline::{Outcome, Scenario, runner};
use sim_core::TraceLevel;

fn scenario(protocol: &str, config: &str, body: &str) -> Scenario {
    let text = format!(
        r#"(
    name: "clients-complete-{protocol}",
    protocol: (name: "{protocol}", config: ({config}liveness_bound: "1s")),
    cluster: (nodes: 5),
    workload: (clients: 3, keys: 2, think_min: "5ms", think_max: "30ms", timeout: "300ms"),
    {body}
)"#
    );
    Scenario::parse("clients-complete.ron", &text).unwrap_or_else(|e| panic!("{}", e.render(false)))
}

/// A majority crashed for good at 2s (the last fault): nothing invoked after completes.
fn quorum_lost(protocol: &str) -> Scenario {
    scenario(
        protocol,
        "",
        r#"faults: [At("2s", Crash("n3")), At("2s", Crash("n4")), At("2s", Crash("n5"))],
    checks: ["clients-complete"],
    seed: 1,
    duration: "5s",
    expect: Violation("clients-complete"),"#,
    )
}

/// A heavy nemesis until 4s, then healed: operations fail during the faults, not after.
fn heavy_nemesis(protocol: &str, config: &str) -> Scenario {
    scenario(
        protocol,
        config,
        r#"nemesis: (
        faults: [PartitionHalves, Isolate, CrashRestart, Pause, Clog, Slow],
        start: "300ms",
        every: ("100ms", "400ms"),
        lasting: ("100ms", "800ms"),
        concurrency: 2,
        stop: "4s",
    ),
    checks: ["clients-complete"],
    seed: 1,
    duration: "7s",
    expect: Pass,"#,
    )
}

fn outcome(s: &Scenario, seed: u64) -> Outcome {
    runner::run(s, seed, TraceLevel::Off)
        .unwrap_or_else(|e| panic!("{}", e.render(false)))
        .outcome
}

#[test]
fn no_completion_after_the_faults_stop_fails_and_names_when_they_stopped() {
    for protocol in ["raft", "multipaxos"] {
        let s = quorum_lost(protocol);
        match outcome(&s, 1) {
            Outcome::Violation(v) => {
                assert_eq!(v.check, "clients-complete", "{protocol}");
                assert!(
                    v.message
                        .starts_with("no convergence within 1s after the faults stopped at 2s: "),
                    "{protocol}: {}",
                    v.message
                );
            }
            other => panic!("{protocol}: expected clients-complete to fail, got {other:?}"),
        }
    }
}

#[test]
fn operations_cut_off_by_the_faults_do_not_count_once_they_stop() {
    for protocol in ["raft", "multipaxos"] {
        let from_faults = heavy_nemesis(protocol, "");
        let from_zero = heavy_nemesis(protocol, r#"liveness_from: "0s", "#);
        let mut failed_from_zero = 0;
        for seed in 0..20 {
            match outcome(&from_faults, seed) {
                Outcome::Pass => {}
                other => panic!("{protocol} seed {seed}: {other:?}"),
            }
            if matches!(outcome(&from_zero, seed), Outcome::Violation(v) if v.check == "clients-complete")
            {
                failed_from_zero += 1;
            }
        }
        // Counted from 0s, the same runs fail: the nemesis does stop operations.
        assert!(
            failed_from_zero > 0,
            "{protocol}: the nemesis never hurt a client"
        );
    }
}
