//! A sweep does not record the clients' history unless a history check reads it
//! (`Prepared::without_history`). That must change nothing else about a run: the same
//! fingerprint, stats and outcome, with the history checks still judging a recorded one.

use faultline::Scenario;
use faultline::protocols::multipaxos::MultiPaxosProtocol;
use faultline::protocols::raft::RaftProtocol;
use faultline::runner::Prepared;
use sim_core::TraceLevel;

fn both<P: faultline::protocols::Protocol>(s: &Scenario, seeds: std::ops::Range<u64>) -> usize {
    let with = Prepared::<P>::new(s).expect("prepares");
    let without = Prepared::<P>::new(s).expect("prepares").without_history();
    let mut recorded = 0;
    for seed in seeds {
        let a = with.run(s, seed, TraceLevel::Off).expect("runs");
        let b = without.run(s, seed, TraceLevel::Off).expect("runs");
        assert_eq!(a.report.fingerprint, b.report.fingerprint, "seed {seed}");
        assert_eq!(a.report.stats, b.report.stats, "seed {seed}");
        assert_eq!(a.outcome, b.outcome, "seed {seed}");
        assert_eq!(a.matched, b.matched, "seed {seed}");
        assert!(!a.report.history.events.is_empty(), "seed {seed}: kept");
        if !b.report.history.events.is_empty() {
            assert_eq!(a.report.history.events, b.report.history.events);
            recorded += 1;
        }
    }
    recorded
}

#[test]
fn without_history_changes_nothing_but_the_history() {
    // The benches have only Always checks: nothing reads the history, none is kept.
    for (file, raft) in [
        ("scenarios/bench/raft-60s.ron", true),
        ("scenarios/bench/multipaxos-60s.ron", false),
    ] {
        let text = std::fs::read_to_string(file).expect("reads");
        let text = text
            .replace("duration: \"60s\"", "duration: \"6s\"")
            .replace("stop: \"55s\"", "stop: \"5s\"");
        let s = Scenario::parse(file, &text).expect("parses");
        let recorded = if raft {
            both::<RaftProtocol>(&s, 0..20)
        } else {
            both::<MultiPaxosProtocol>(&s, 0..20)
        };
        assert_eq!(recorded, 0, "{file}: no history check, no history");
    }
}

#[test]
fn a_history_check_still_gets_its_history() {
    // `linearizable` catches this knob: with `without_history` it must still be caught,
    // from the same recorded history.
    let s = Scenario::load("scenarios/multipaxos/reply-before-majority.ron").expect("loads");
    let recorded = both::<MultiPaxosProtocol>(&s, 0..3);
    assert_eq!(recorded, 3, "a history check reads it, so it is recorded");
    let r = Prepared::<MultiPaxosProtocol>::new(&s)
        .expect("prepares")
        .without_history()
        .run(&s, s.seed(), TraceLevel::Off)
        .expect("runs");
    assert!(r.matched, "the knob is still caught: {:?}", r.outcome);
}
