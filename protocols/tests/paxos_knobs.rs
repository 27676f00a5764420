//! Each single-decree Paxos bug knob: a seed sweep (at most 1,000 seeds, stopping at the
//! first violation) finds the violation the knob documents, and the same sweep with the
//! knob off finds none. Knob-off sweeps run every seed to the end, so plain `cargo test`
//! (debug) cuts them short; with `FAULTLINE_FULL_SWEEPS=1` they run all 1,000 seeds,
//! which `.ci/run` does in release:
//! `FAULTLINE_FULL_SWEEPS=1 cargo test --release -p protocols --test paxos_knobs`.

mod paxos_support;

use paxos_support::*;
use protocols::paxos::{KNOBS, PaxosConfig};
use sim_core::{Latency, NemesisFault};

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
fn knob_is_caught(knob: &str, off: &Setup, set: impl Fn(&mut PaxosConfig), clean_seeds: u64) {
    let mut on = off.clone();
    set(&mut on.config);
    assert_ne!(
        on.config, off.config,
        "{knob}: the setter changes the config"
    );
    let (seed, check, message) =
        sweep(&on, 0..1_000).unwrap_or_else(|| panic!("{knob}: no violation in 1,000 seeds"));
    assert_eq!(check, caught_by(knob), "{knob}, seed {seed}: {message}");
    eprintln!("{knob}: seed {seed} violates {check}: {message}");
    let clean_seeds = if std::env::var_os("FAULTLINE_FULL_SWEEPS").is_some() {
        1_000
    } else {
        clean_seeds
    };
    if let Some((seed, check, message)) = sweep(off, 0..clean_seeds) {
        panic!("{knob} off: seed {seed} violates {check}: {message}");
    }
}

// Paxos Made Simple §2.2, P1a: an acceptor can accept a proposal numbered n iff it has
// not responded to a prepare request numbered greater than n.
#[test]
fn paxos_2_2_accept_below_promise() {
    let off = Setup::heavy(5, ms(2_000));
    knob_is_caught(
        "accept_below_promise",
        &off,
        |c| c.accept_below_promise = true,
        100,
    );
}

// §2.2, P2c: the value proposed in ballot n is that of the highest-numbered acceptance
// reported by a majority, if any.
#[test]
fn paxos_2_2_ignore_promised_values() {
    let off = Setup::heavy(5, ms(2_000));
    knob_is_caught(
        "ignore_promised_values",
        &off,
        |c| c.ignore_promised_values = true,
        100,
    );
}

// §2.3 (stable storage): an acceptor must remember its promise across a crash. The
// window is narrow (between a promise and the arrival of a lower ballot's accept, the
// acceptor must crash and come back), so: three nodes, a crash-restart every 1-3ms lasting
// 1-3ms, 40% loss and duplication.
#[test]
fn paxos_2_3_forget_promise_on_restart() {
    let mut off = Setup::heavy(3, ms(2_000));
    off.latency = Some(Latency::Uniform {
        min: ms(1),
        max: ms(10),
    });
    (off.loss, off.duplicate) = (0.4, 0.4);
    let n = off.nemesis.as_mut().unwrap();
    n.faults = vec![NemesisFault::CrashRestart];
    (
        n.interval_min,
        n.interval_max,
        n.duration_min,
        n.duration_max,
    ) = (ms(1), ms(3), ms(1), ms(3));
    knob_is_caught(
        "forget_promise_on_restart",
        &off,
        |c| c.forget_promise_on_restart = true,
        100,
    );
}

// §2.3, learning: a value is chosen when a majority accepted it in one ballot.
#[test]
fn paxos_2_3_learner_mixes_ballots() {
    let off = Setup::heavy(5, ms(2_000));
    knob_is_caught(
        "learner_mixes_ballots",
        &off,
        |c| c.learner_mixes_ballots = true,
        100,
    );
}

// §2.1, safety requirement: only a value that has been proposed may be chosen.
#[test]
fn paxos_2_1_default_value_when_none_accepted() {
    let off = Setup::heavy(5, ms(2_000));
    knob_is_caught(
        "default_value_when_none_accepted",
        &off,
        |c| c.default_value_when_none_accepted = true,
        100,
    );
}
