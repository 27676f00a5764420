//! The liveness phase (issue #14): after the faults stop the cluster is healed and left
//! alone, and `eventually-one-leader` judges the election protocols within a budget.

use faultline::Scenario;
use faultline::runner::{self, Outcome};
use sim_core::TraceLevel;

fn load(path: &str) -> Scenario {
    Scenario::load(path).expect("a shipped scenario")
}

fn outcome(s: &Scenario, seed: u64) -> Outcome {
    runner::run(s, seed, TraceLevel::Off).expect("runs").outcome
}

/// Under 20s of random partitions, bridges, isolations, pauses (and clock steps for
/// lease) and crashes of any node, the store included, both protocols converge to one
/// leader within 3s of the faults stopping, with fencing intact, on every seed.
#[test]
fn one_leader_after_heavy_faults_stop_for_bully_and_lease() {
    for file in [
        "scenarios/split-brain/bully-nemesis.ron",
        "scenarios/split-brain/lease-nemesis.ron",
    ] {
        let s = load(file);
        let mut store_crashed = false;
        for seed in 0..30 {
            let r = runner::run(&s, seed, TraceLevel::Summary).expect("runs");
            assert_eq!(r.outcome, Outcome::Pass, "{file} seed {seed}");
            store_crashed |= r.report.trace.summary_text().contains("!! crash store");
        }
        assert!(store_crashed, "{file}: the nemesis never crashed the store");
    }
}

/// Lease seeds 16 and 24 livelocked before candidates released their own grants: five
/// candidates, each refusing the others for a whole lease after failing, forever.
#[test]
fn lease_candidates_no_longer_duel_for_ever_after_the_faults() {
    let s = load("scenarios/split-brain/lease-nemesis.ron");
    for seed in [16, 24] {
        assert_eq!(outcome(&s, seed), Outcome::Pass, "seed {seed}");
    }
}

#[test]
fn a_coordinator_that_never_yields_fails_eventually_one_leader_with_the_budget_named() {
    let s = load("scenarios/split-brain/bully-never-yields.ron");
    let Outcome::Violation(v) = outcome(&s, 1) else {
        panic!("expected a violation");
    };
    assert_eq!(v.check, "eventually-one-leader");
    assert_eq!(
        v.message,
        "no convergence within 3s after the faults stopped at 6s: at the end (10s) n2 (gen 2/n2) and n5 (gen 1/n5) both act as leader"
    );
    // The same knob off converges: the check is about the knob, not the schedule.
    let text = std::fs::read_to_string("scenarios/split-brain/bully-never-yields.ron")
        .unwrap()
        .replace("never_yield: true", "never_yield: false")
        .replace("Violation(\"eventually-one-leader\")", "Pass");
    let s = Scenario::parse("yields.ron", &text).unwrap();
    assert_eq!(outcome(&s, 1), Outcome::Pass);
}

/// A run that ends before the budget after the faults ran out cannot pass.
#[test]
fn a_run_shorter_than_its_liveness_budget_is_a_violation_that_says_so() {
    let text = std::fs::read_to_string("scenarios/split-brain/bully-partition-converges.ron")
        .unwrap()
        .replace("duration: \"10s\"", "duration: \"7s\"");
    let s = Scenario::parse("short.ron", &text).unwrap();
    let Outcome::Violation(v) = outcome(&s, 1) else {
        panic!("expected a violation");
    };
    assert!(
        v.message
            .starts_with("the run ended at 7s, before the liveness budget of 3s after the faults stopped at 6s ran out"),
        "{}",
        v.message
    );
}

/// The liveness phase starts when the last fault does: a nemesis's `stop`, or a timed
/// fault after it (a pause counts until it resumes).
#[test]
fn the_faults_stop_at_the_nemesis_stop_or_the_last_timed_fault() {
    let ms = |n| sim_core::Time::ZERO.plus(sim_core::Duration::from_millis(n));
    assert_eq!(
        load("scenarios/split-brain/bully-nemesis.ron").faults_stop(3, None),
        ms(20_000)
    );
    assert_eq!(
        load("scenarios/split-brain/bully-partition-converges.ron").faults_stop(1, None),
        ms(6_000)
    );
    assert_eq!(
        load("scenarios/split-brain/store-fence-in-memory.ron").faults_stop(1, None),
        ms(3_500)
    );
}
