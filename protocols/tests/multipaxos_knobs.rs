//! Each Multi-Paxos bug knob: a seed sweep (at most 1,000 seeds, stopping at the first
//! violation) finds the violation the knob documents, and the same sweep with the knob
//! off finds none. Knob-off sweeps run every seed to the end, so plain `cargo test`
//! (debug) cuts them short; with `FAULTLINE_FULL_SWEEPS=1` they run all 1,000 seeds,
//! which `.ci/run` does in release:
//! `FAULTLINE_FULL_SWEEPS=1 cargo test --release -p protocols --test multipaxos_knobs`.

mod multipaxos_support;

use multipaxos_support::*;
use protocols::multipaxos::{KNOBS, MultiPaxosConfig};
use sim_core::NemesisFault;

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
fn knob_is_caught(
    knob: &str,
    off: &Setup,
    set: impl Fn(&mut MultiPaxosConfig),
    history: bool,
    clean_seeds: u64,
) {
    let mut on = off.clone();
    set(&mut on.config);
    assert_ne!(
        on.config, off.config,
        "{knob}: the setter changes the config"
    );
    let (seed, check, message) = sweep(&on, 0..1_000, history)
        .unwrap_or_else(|| panic!("{knob}: no violation in 1,000 seeds"));
    assert_eq!(check, caught_by(knob), "{knob}, seed {seed}: {message}");
    eprintln!("{knob}: seed {seed} violates {check}");
    let clean_seeds = if std::env::var_os("FAULTLINE_FULL_SWEEPS").is_some() {
        1_000
    } else {
        clean_seeds
    };
    if let Some((seed, check, message)) = sweep(off, 0..clean_seeds, history) {
        panic!("{knob} off: seed {seed} violates {check}: {message}");
    }
}

// Paxos Made Simple §3: a new leader must run phase 1 for every slot it does not know to
// be chosen and re-propose what the promises report.
#[test]
fn multipaxos_3_skip_phase1_for_inflight() {
    let off = Setup::heavy(5, 3, ms(3_000));
    knob_is_caught(
        "skip_phase1_for_inflight",
        &off,
        |c| c.skip_phase1_for_inflight = true,
        false,
        50,
    );
}

// §3: a command is chosen, and may be answered, only once a majority accepted it.
#[test]
fn multipaxos_3_reply_before_majority() {
    let off = Setup::heavy(5, 3, ms(3_000));
    knob_is_caught(
        "reply_before_majority",
        &off,
        |c| c.reply_before_majority = true,
        true,
        50,
    );
}

// §3: the state machine executes commands in slot order, each once all earlier slots are
// chosen. Loss makes slots chosen out of order.
#[test]
fn multipaxos_3_apply_out_of_order() {
    let off = Setup::heavy(5, 3, ms(3_000));
    knob_is_caught(
        "apply_out_of_order",
        &off,
        |c| c.apply_out_of_order = true,
        false,
        50,
    );
}

// §2.2 P1a per slot: an acceptor refuses Accepts below its promise.
#[test]
fn multipaxos_2_2_accept_below_promise() {
    let off = Setup::heavy(5, 3, ms(3_000));
    knob_is_caught(
        "accept_below_promise",
        &off,
        |c| c.accept_below_promise = true,
        false,
        50,
    );
}

// §2.3 (stable storage): the promise survives a crash. The window is narrow: a deposed
// leader that has not heard of its successor (it was paused or cut off) must reach an
// acceptor that restarted since promising the successor and before the successor's next
// heartbeat. Three nodes, isolations and pauses of 300-800ms, and independent
// crash-restarts of every node (up to 300ms up, 20ms down): about one seed in 170.
#[test]
fn multipaxos_2_3_forget_promise_on_restart() {
    let mut off = Setup::heavy(3, 3, ms(3_000));
    let n = off.nemesis.as_mut().unwrap();
    n.faults = vec![NemesisFault::Isolate, NemesisFault::Pause];
    (
        n.interval_min,
        n.interval_max,
        n.duration_min,
        n.duration_max,
    ) = (ms(1), ms(50), ms(300), ms(800));
    off.crashes = Some((300, 20));
    knob_is_caught(
        "forget_promise_on_restart",
        &off,
        |c| c.forget_promise_on_restart = true,
        false,
        50,
    );
}
