//! Each gossip bug knob: a seed sweep (at most 1,000 seeds, stopping at the first
//! violation) finds the violation the knob documents, and the same sweep with the knob off
//! finds none. Sweeps with the knob off run every seed to the end, so plain `cargo test`
//! (debug) cuts them short; with `FAULTLINE_FULL_SWEEPS=1` they run all 1,000 seeds, which
//! `.ci/run` does in release:
//! `FAULTLINE_FULL_SWEEPS=1 cargo test --release -p protocols --test gossip_knobs`.

mod gossip_support;

use gossip_support::*;
use protocols::gossip::{KNOBS, LwwMode};
use sim_core::{Duration, NemesisFault};

fn caught_by(knob: &str) -> &'static str {
    KNOBS
        .iter()
        .find(|k| k.name == knob)
        .expect("a documented knob")
        .caught_by
}

/// Asserts the knob is caught by its documented check within 1,000 seeds, and that the
/// same set-up without it is clean for `clean_seeds` seeds (1,000 with
/// `FAULTLINE_FULL_SWEEPS` set). Returns the first failing seed.
fn knob_is_caught(knob: &str, on: &Setup, off: &Setup, clean_seeds: u64) -> u64 {
    let (seed, check, message) =
        sweep(on, 0..1_000).unwrap_or_else(|| panic!("{knob}: no violation in 1,000 seeds"));
    assert_eq!(check, caught_by(knob), "{knob}, seed {seed}: {message}");
    println!("{knob}: caught by {check} at seed {seed}: {message}");
    let clean_seeds = if std::env::var_os("FAULTLINE_FULL_SWEEPS").is_some() {
        1_000
    } else {
        clean_seeds
    };
    if let Some((seed, check, message)) = sweep(off, 0..clean_seeds) {
        panic!("{knob} off: seed {seed} violates {check}: {message}");
    }
    seed
}

// Dotted version vectors (Almeida et al. 2014): a merge is the pairwise max. Taking
// one side's counter forgets seen writes and reuses dots.
#[test]
fn knob_merge_takes_one_side() {
    let off = Setup::heavy(5, 4, ms(6_000));
    let mut on = off.clone();
    on.config.merge_takes_one_side = true;
    knob_is_caught("merge_takes_one_side", &on, &off, 30);
}

// Dynamo (data versioning) and the HLC paper's motivation: wall-clock LWW under clock skew. The nemesis steps
// clocks by up to 2s either way; clients read then write. With vectors (the knob off)
// nothing is lost.
#[test]
fn knob_lww_wall() {
    let mut off = Setup::heavy(5, 4, ms(6_000));
    let n = off.nemesis.as_mut().unwrap();
    n.faults.push(NemesisFault::ClockSkew);
    n.max_skew = Duration::from_secs(2);
    let mut on = off.clone();
    on.config.lww = LwwMode::Wall;
    knob_is_caught("lww: wall", &on, &off, 30);
    // A hybrid logical clock under the same skew never lets an older write win.
    let mut hlc = off.clone();
    hlc.config.lww = LwwMode::Hlc;
    let clean = if std::env::var_os("FAULTLINE_FULL_SWEEPS").is_some() {
        1_000
    } else {
        30
    };
    if let Some((seed, check, message)) = sweep(&hlc, 0..clean) {
        panic!("lww: hlc under skew: seed {seed} violates {check}: {message}");
    }
}

// Dynamo's read repair writes back the merged state, siblings and all.
#[test]
fn knob_read_repair_keeps_one() {
    let off = Setup::heavy(5, 4, ms(6_000));
    let mut on = off.clone();
    on.config.read_repair_keeps_one = true;
    knob_is_caught("read_repair_keeps_one", &on, &off, 30);
}

// Demers et al.: anti-entropy converges because each round's partner is random.
#[test]
fn knob_gossip_same_peer() {
    let off = Setup::heavy(5, 4, ms(6_000));
    let mut on = off.clone();
    on.config.gossip_same_peer = true;
    knob_is_caught("gossip_same_peer", &on, &off, 30);
}
