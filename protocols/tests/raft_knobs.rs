//! Each bug knob: a seed sweep (at most 1,000 seeds, stopping at the first violation)
//! finds the violation the knob documents, and the same sweep with the knob off finds
//! none. Sweeps with the knob off run every seed to the end, so plain `cargo test` (debug)
//! cuts them short where noted; with `FAULTLINE_FULL_SWEEPS=1` they run all 1,000 seeds,
//! which `.ci/run` does in release:
//! `FAULTLINE_FULL_SWEEPS=1 cargo test --release -p protocols --test raft_knobs`.

mod support;

use protocols::raft::KNOBS;
use protocols::workload::OpMix;
use sim_core::NemesisFault;
use support::*;

fn caught_by(knob: &str) -> &'static str {
    KNOBS
        .iter()
        .find(|k| k.name == knob)
        .expect("a documented knob")
        .caught_by
}

/// Asserts the knob is caught by its documented check within 1,000 seeds and that the
/// same set-up without it is clean for `clean_seeds` seeds (1,000 with
/// `FAULTLINE_FULL_SWEEPS` set).
fn knob_is_caught(knob: &str, on: &Setup, off: &Setup, history: bool, clean_seeds: u64) {
    let (seed, check, message) = sweep(on, 0..1_000, history)
        .unwrap_or_else(|| panic!("{knob}: no violation in 1,000 seeds"));
    assert_eq!(check, caught_by(knob), "{knob}, seed {seed}: {message}");
    let clean_seeds = if std::env::var_os("FAULTLINE_FULL_SWEEPS").is_some() {
        1_000
    } else {
        clean_seeds
    };
    if let Some((seed, check, message)) = sweep(off, 0..clean_seeds, history) {
        panic!("{knob} off: seed {seed} violates {check}: {message}");
    }
}

// Raft §5.4.1: voting without the log up-to-date check elects a leader that lacks
// committed entries.
#[test]
fn knob_vote_without_log_check() {
    let off = Setup::heavy(5, 3, ms(5_000));
    let mut on = off.clone();
    on.config.vote_without_log_check = true;
    knob_is_caught("vote_without_log_check", &on, &off, false, 200);
}

// Raft §5.2, Figure 2 (persistent state): a server that forgets its vote on restart
// votes twice in one term. Frequent crash-restarts during elections expose it.
#[test]
fn knob_forget_vote_on_restart() {
    let mut off = Setup::heavy(5, 2, ms(5_000));
    off.nemesis.as_mut().unwrap().faults = vec![NemesisFault::CrashRestart];
    let n = off.nemesis.as_mut().unwrap();
    (
        n.interval_min,
        n.interval_max,
        n.duration_min,
        n.duration_max,
    ) = (ms(10), ms(60), ms(1), ms(30));
    off.config.election_timeout_ms_max = 155; // split votes are common
    let mut on = off.clone();
    on.config.forget_vote_on_restart = true;
    knob_is_caught("forget_vote_on_restart", &on, &off, false, 200);
}

// Raft §8 / thesis §6.4: lease reads are only as safe as the drift bound. Clocks drift
// at the bound's extremes (45% with a 50% bound, leader slow and voters fast are both
// possible), the nemesis isolates a node now and then, clients mostly read one key.
#[test]
fn knob_lease_without_clock_bound() {
    let mut off = Setup::heavy(3, 4, ms(5_000));
    off.workload.keys = 1;
    off.workload.mix = OpMix {
        read: 6,
        write: 2,
        cas: 0,
        append: 1,
    };
    off.nemesis.as_mut().unwrap().faults = vec![NemesisFault::Isolate];
    (off.loss, off.duplicate) = (0.0, 0.0);
    off.config.lease_read = true;
    off.config.lease_drift_bound_ppm = 500_000;
    off.drift_ppm = 450_000;
    off.config.heartbeat_ms = 20;
    let mut on = off.clone();
    on.config.lease_without_clock_bound = true;
    knob_is_caught("lease_without_clock_bound", &on, &off, true, 100);
}
