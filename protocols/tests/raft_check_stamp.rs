//! The engine skips Raft's safety checkers after a handler that left the server's
//! `check_stamp` (role, term, commit and applied indexes, log length and cuts) as it was
//! (issue #17). That must change no verdict: under heavy faults, with each bug knob that
//! the four checkers catch and without any, every run reports the same (violations with
//! their time and message, fingerprint, stats) whether the checkers see every event or
//! only those that changed the stamp.

mod support;

use support::*;

fn knobbed(knob: &str) -> Setup {
    let mut s = Setup::heavy(5, 3, ms(3_000));
    match knob {
        "none" => {}
        "vote_without_log_check" => s.config.vote_without_log_check = true,
        "skip_prev_log_check" => s.config.skip_prev_log_check = true,
        "commit_earlier_term_by_counting" => s.config.commit_earlier_term_by_counting = true,
        "forget_vote_on_restart" => {
            s.config.forget_vote_on_restart = true;
            s.config.election_timeout_max = sim_core::Duration::from_millis(155);
        }
        other => panic!("no knob {other}"),
    }
    s
}

/// The report as text, every field the run's verdict and replay depend on.
fn outcome(report: &sim_core::Report) -> String {
    format!(
        "{:?} {:?} {:?} {:?} {:x}",
        report.end, report.end_time, report.stats, report.violations, report.fingerprint
    )
}

#[test]
fn skipping_unchanged_servers_changes_no_verdict() {
    let mut violations = 0;
    for knob in [
        "none",
        "vote_without_log_check",
        "skip_prev_log_check",
        "commit_earlier_term_by_counting",
        "forget_vote_on_restart",
    ] {
        let setup = knobbed(knob);
        for seed in 0..25 {
            let skipping = setup.run(seed);
            let mut every = setup.build(seed);
            every.judge_every_event();
            let every = every.run();
            assert_eq!(
                outcome(&skipping),
                outcome(&every),
                "{knob}, seed {seed}: skipping the checkers changed the run"
            );
            if knob == "none" {
                assert!(
                    skipping.violations.is_empty(),
                    "seed {seed}: {:?}",
                    skipping.violations
                );
            }
            violations += usize::from(!skipping.violations.is_empty());
        }
    }
    // The comparison covers failing runs too, not only passing ones.
    assert!(violations >= 3, "only {violations} runs with a violation");
}
