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

// Raft §5.3, the AppendEntries consistency check: a follower that skips it takes a new
// leader's entries after a deposed leader's entry at prevLogIndex, so two logs agree on
// an entry's index and term but not on what comes before it. Only log-matching sees it
// at once (the logs may still converge later, when a leader overwrites the follower).
#[test]
fn knob_skip_prev_log_check() {
    let off = Setup::heavy(5, 3, ms(5_000));
    let mut on = off.clone();
    on.config.skip_prev_log_check = true;
    knob_is_caught("skip_prev_log_check", &on, &off, false, 200);
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
    off.config.election_timeout_max = sim_core::Duration::from_millis(155); // split votes are common
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
    off.config.heartbeat = sim_core::Duration::from_millis(20);
    let mut on = off.clone();
    on.config.lease_without_clock_bound = true;
    knob_is_caught("lease_without_clock_bound", &on, &off, true, 100);
}

/// One run of the clock-step test: a quiet cluster with lease reads and read-heavy
/// clients; once a leader holds its lease, its wall clock is stepped back by 0.3-2s, and
/// a moment later it is cut off from the other servers (its clients still reach it) for
/// long enough that they elect a new leader and commit writes. Clocks drift within the
/// lease's bound. The first violation, if any.
fn clock_step_run(setup: &Setup, seed: u64) -> Option<(String, String)> {
    let mut rng = sim_core::SimRng::new(seed, "test/clock-step");
    let mut sim = setup.build(seed);
    let step_at = at(rng.between(400, 1_500));
    sim.run_until(step_at);
    let leader = (0..setup.nodes as u32)
        .map(sim_core::NodeId)
        .filter(|&n| sim.node(n).is_some_and(|s| s.is_leader()))
        .max_by_key(|&n| sim.durable(n).current_term());
    if let Some(leader) = leader {
        let back = rng.between(300, 2_000) as i64 * 1_000_000;
        let now = sim.now();
        sim.schedule(
            now,
            sim_core::Fault::ClockSkew(leader, sim_core::Offset::from_nanos(-back)),
        );
        let cut = now.plus(ms(rng.between(0, 40)));
        sim.schedule(cut, sim_core::Fault::Isolate(leader));
        sim.schedule(cut.plus(ms(rng.between(800, 2_500))), sim_core::Fault::Heal);
    }
    first_violation(&sim.run(), true)
}

fn clock_step_setup() -> Setup {
    let mut s = Setup::quiet(3, 4, ms(5_000));
    s.workload.keys = 1;
    s.workload.mix = OpMix {
        read: 6,
        write: 2,
        cas: 0,
        append: 1,
    };
    s.config.lease_read = true;
    s.config.heartbeat = sim_core::Duration::from_millis(20);
    s.drift_ppm = 50_000; // within the default 100,000 ppm bound
    s
}

// Raft §8 / thesis §6.4: a lease is a span of time, measured on the monotonic clock. A
// backward step of the leader's wall clock then changes nothing; a lease kept on the wall
// clock lasts as much longer, and the cut-off leader serves stale reads.
#[test]
fn knob_lease_on_wall_clock() {
    let off = clock_step_setup();
    let mut on = off.clone();
    on.config.lease_on_wall_clock = true;
    let knob = "lease_on_wall_clock";
    let caught = (0..1_000)
        .find_map(|seed| clock_step_run(&on, seed).map(|v| (seed, v)))
        .unwrap_or_else(|| panic!("{knob}: no violation in 1,000 seeds"));
    let (seed, (check, message)) = caught;
    assert_eq!(check, caught_by(knob), "{knob}, seed {seed}: {message}");
    let clean_seeds = if std::env::var_os("FAULTLINE_FULL_SWEEPS").is_some() {
        1_000
    } else {
        100
    };
    for seed in 0..clean_seeds {
        if let Some((check, message)) = clock_step_run(&off, seed) {
            panic!("{knob} off: seed {seed} violates {check}: {message}");
        }
    }
}

/// The late-message set-up: five servers whose nemesis cuts and crashes nodes and, with
/// `late`, also slows (100-800ms more per message) and clogs their links, so a vote reply
/// can outlive an election timeout.
fn late_setup(late: bool) -> Setup {
    let mut s = Setup::quiet(5, 0, ms(10_000));
    let mut faults = vec![NemesisFault::Isolate, NemesisFault::CrashRestart];
    if late {
        faults.extend([NemesisFault::Slow, NemesisFault::Clog]);
    }
    s.nemesis = Some(sim_core::Nemesis {
        faults,
        start: ms(0),
        stop: ms(8_000),
        interval_min: ms(50),
        interval_max: ms(300),
        duration_min: ms(200),
        duration_max: ms(1_000),
        max_skew: sim_core::Duration::ZERO,
    });
    s
}

// Raft §5.2: a vote is for one candidate in one term. A candidate that counts a grant
// from an earlier term (`count_stale_votes`) is elected with a vote that its voter has
// since given to someone else. Caught once messages can be late (Slow, Clog); the same
// nemesis without them never delivers a reply after an election timeout, so it never
// catches the knob: the class of bug is reachable only with late messages.
#[test]
fn knob_count_stale_votes_needs_late_messages() {
    let knob = "count_stale_votes";
    let on = |late| {
        let mut s = late_setup(late);
        s.config.count_stale_votes = true;
        s
    };
    let full = std::env::var_os("FAULTLINE_FULL_SWEEPS").is_some();
    let (seed, check, message) = sweep(&on(true), 0..1_000, false)
        .unwrap_or_else(|| panic!("{knob}: no violation in 1,000 seeds with Slow and Clog"));
    assert_eq!(check, caught_by(knob), "{knob}, seed {seed}: {message}");
    let without = if full { 1_000 } else { 100 };
    if let Some((seed, check, message)) = sweep(&on(false), 0..without, false) {
        panic!("{knob} without late messages: seed {seed} violates {check}: {message}");
    }
    let clean = if full { 1_000 } else { 100 };
    if let Some((seed, check, message)) = sweep(&late_setup(true), 0..clean, false) {
        panic!("{knob} off: seed {seed} violates {check}: {message}");
    }
}
