//! Majority leases with generations under the split-brain schedule (`{n1 n2} | {n3 n4 n5}`
//! at 2s, healed at 6s) and under a heavy random nemesis. Seed 3 elects `n1` first, so the
//! partition cuts the leader off with a minority.

mod election_support;

use election_support::*;
use protocols::election::lease::{LeaseConfig, LeaseNode};
use protocols::election::{ElectionNode, StoreLog};
use sim_core::{Duration, Fault, Nemesis, NemesisFault, NodeId, Report, SimRng, Time};

const SEED: u64 = 3;

fn run(config: LeaseConfig, extra: Vec<(Time, Fault)>) -> (Report, StoreLog) {
    let mut sim = build::<LeaseNode>(sim_config(SEED, 10), config);
    schedule(&mut sim, partition_schedule());
    schedule(&mut sim, extra);
    let report = sim.run();
    let log = sim.durable(NodeId(5)).store.clone();
    (report, log)
}

fn skew() -> Vec<(Time, Fault)> {
    vec![(
        at(2000),
        Fault::ClockSkew(NodeId(0), "-3s".parse().unwrap()),
    )]
}

fn pause() -> Vec<(Time, Fault)> {
    // 2.350s falls between n1 checking its lease for a write and sending it.
    vec![
        (at(2350), Fault::Pause(NodeId(0))),
        (at(7000), Fault::Resume(NodeId(0))),
    ]
}

/// For sweeps: writes spend most of their time between the lease check and the send, so a
/// random pause often lands in that gap.
fn slow_writes(config: LeaseConfig) -> LeaseConfig {
    LeaseConfig {
        write_interval: Duration::from_millis(500),
        write_work: Duration::from_millis(450),
        ..config
    }
}

fn wall() -> LeaseConfig {
    LeaseConfig {
        lease_on_wall_clock: true,
        ..Default::default()
    }
}

#[test]
fn lease_partition_moves_leadership_without_overlap() {
    let (report, log) = run(LeaseConfig::default(), vec![]);
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    let text = report.trace.summary_text();
    let n1_down = text
        .find("n1 note role=follower (lease expired)")
        .expect(&text);
    let n3_up = text.find("n3 note role=leader gen=2").expect(&text);
    assert!(
        n1_down < n3_up,
        "the old lease ends before the new leader starts:\n{text}"
    );
    assert_eq!(log.refused, 0);
}

#[test]
fn lease_on_monotonic_timers_ignores_a_clock_step() {
    let (report, _) = run(LeaseConfig::default(), skew());
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}

#[test]
fn lease_on_wall_clock_is_stretched_by_a_clock_step() {
    let (report, log) = run(
        LeaseConfig {
            fencing: false,
            ..wall()
        },
        skew(),
    );
    assert_eq!(failed(&report), ["split-brain", "fencing"]);
    let sb = &report.violations[0].message;
    assert!(
        sb.starts_with("SPLIT-BRAIN at 3.173s: n1 (gen 1) and n3 (gen 2) both act as leader"),
        "{sb}"
    );
    let stale = report
        .violations
        .iter()
        .find(|v| v.check == "fencing")
        .unwrap();
    assert!(
        stale.message.contains("store accepted n1's write w7 with gen 1 after n3's w1 with gen 2: it overwrote n3's w1 (gen 2), a lost update"),
        "{}",
        stale.message
    );
    assert_eq!(log.refused, 0);
    assert_eq!(log.fence.counter, 2);
}

#[test]
fn lease_fencing_refuses_the_stretched_leader() {
    let (report, log) = run(wall(), skew());
    assert_eq!(
        failed(&report),
        ["split-brain"],
        "two leaders, but the store is safe"
    );
    assert!(log.refused >= 1);
    let text = report.trace.summary_text();
    assert!(
        text.contains("store REFUSED n1's write w7: fencing token gen 1 < fence 2"),
        "{text}"
    );
    assert!(
        text.contains("n1 note role=follower (fenced out by the store: gen 1 < fence 2)"),
        "{text}"
    );
}

// DDIA ch. 8, "Process Pauses": the leader checks its lease, freezes, and writes late.
#[test]
fn lease_long_pause_wakes_a_stale_leader() {
    let (report, log) = run(
        LeaseConfig {
            fencing: false,
            ..Default::default()
        },
        pause(),
    );
    assert_eq!(failed(&report), ["split-brain", "fencing"]);
    assert_eq!(
        report.violations[0].time,
        at(7000),
        "it acts again the instant it resumes"
    );
    assert!(
        report.violations[0]
            .message
            .contains("n1 (gen 1) and n3 (gen 6) both act as leader")
    );
    let text = report.trace.summary_text();
    assert!(
        text.contains(
            "store accepted n1's write w4 gen 1, overwriting n3's w7 from newer gen 6: LOST UPDATE"
        ),
        "{text}"
    );
    assert_eq!(log.refused, 0);
}

#[test]
fn lease_long_pause_is_harmless_with_fencing() {
    let (report, log) = run(LeaseConfig::default(), pause());
    assert_eq!(failed(&report), ["split-brain"]);
    assert_eq!(log.refused, 1);
    // n2, cut off with n1 asleep, campaigned up to gen 5; after the heal n3 renewed above it.
    assert_eq!(log.value.unwrap().generation.counter, 6);
}

#[test]
fn lease_half_is_quorum_elects_two_leaders_of_one_generation() {
    let (report, _) = run(
        LeaseConfig {
            half_is_quorum: true,
            ..Default::default()
        },
        vec![],
    );
    let v = report
        .violations
        .iter()
        .find(|v| v.check == "one-leader-per-gen")
        .expect("caught");
    assert!(
        v.message
            .starts_with("TWO LEADERS IN GEN 2: n3 became leader of gen 2 at "),
        "{}",
        v.message
    );
}

fn nemesis(faults: Vec<NemesisFault>) -> Nemesis {
    Nemesis {
        faults,
        start: Duration::from_millis(500),
        stop: Duration::from_secs(25),
        interval_min: Duration::from_millis(200),
        interval_max: Duration::from_millis(1500),
        duration_min: Duration::from_millis(300),
        duration_max: Duration::from_secs(3),
        max_skew: Duration::from_secs(5),
    }
}

fn heavy(pauses: bool) -> Nemesis {
    let mut kinds = vec![
        NemesisFault::PartitionHalves,
        NemesisFault::Isolate,
        NemesisFault::Bridge,
        NemesisFault::CrashRestart,
        NemesisFault::ClockSkew,
    ];
    if pauses {
        kinds.push(NemesisFault::Pause);
    }
    nemesis(kinds)
}

/// Runs `seed` under the nemesis for 30s; returns the report, the store, and how many
/// generations were elected (so a passing run is known to have exercised elections).
fn sweep(seed: u64, config: LeaseConfig, nemesis: &Nemesis) -> (Report, StoreLog, u64) {
    let mut sim = build::<LeaseNode>(sim_config(seed, 30), config);
    let faults = nemesis.schedule(&mut SimRng::new(seed, "nemesis"), 6);
    assert!(faults.len() > 10, "a heavy schedule");
    schedule(&mut sim, faults);
    let report = sim.run();
    let log = sim.durable(NodeId(5)).store.clone();
    let gens = (0..5)
        .map(|i| sim.durable(NodeId(i)).max_gen.counter)
        .max()
        .unwrap();
    (report, log, gens)
}

#[test]
fn lease_holds_every_check_under_partitions_crashes_and_clock_steps() {
    let n = heavy(false);
    let mut elections = 0;
    for seed in 1..=8 {
        let (report, log, gens) = sweep(seed, LeaseConfig::default(), &n);
        assert!(
            report.violations.is_empty(),
            "seed {seed}: {:?}",
            report.violations
        );
        assert!(log.accepted > 10, "seed {seed}: leaders kept writing");
        elections += gens;
    }
    assert!(
        elections >= 8 * 3,
        "the nemesis forced re-elections ({elections})"
    );
}

// Leases measured on timers (a monotonic clock) shrug off clock steps aimed at the leader;
// the same steps break the wall-clock lease.
#[test]
fn lease_monotonic_survives_clock_steps_aimed_at_the_leader() {
    for seed in 1..=8 {
        let (report, _) = hunt(seed, slow_writes(LeaseConfig::default()), false);
        assert!(
            report.violations.is_empty(),
            "seed {seed}: {:?}",
            report.violations
        );
    }
    let broken = (1..=8).filter(|&seed| {
        !hunt(seed, slow_writes(wall()), false)
            .0
            .violations
            .is_empty()
    });
    assert!(
        broken.count() >= 2,
        "the wall-clock lease is stretched by the same steps"
    );
}

/// Like [`sweep`], plus a leader hunter: every 1-3s it finds the node acting as leader
/// and either pauses it for 1.5-4s (a GC) or steps its clock back by 1-4s (an NTP step).
/// Drawn from the seed's own `"hunter"` stream, so the run is as deterministic as the rest.
fn hunt(seed: u64, config: LeaseConfig, pauses: bool) -> (Report, StoreLog) {
    let mut sim = build::<LeaseNode>(sim_config(seed, 30), config);
    schedule(
        &mut sim,
        heavy(false).schedule(&mut SimRng::new(seed, "nemesis"), 6),
    );
    let mut rng = SimRng::new(seed, "hunter");
    let ms = |rng: &mut SimRng, lo: u64, hi: u64| Duration::from_millis(rng.between(lo, hi));
    let mut next = at(1000);
    while next < at(25_000) {
        if sim.run_until(next).is_some() {
            break;
        }
        let leader = (0..5).map(NodeId).find(|&n| {
            !sim.is_paused(n) && sim.node(n).and_then(ElectionNode::leader_gen).is_some()
        });
        let mut quiet = ms(&mut rng, 1000, 3000);
        if let Some(leader) = leader {
            if pauses && rng.below(2) == 0 {
                let d = ms(&mut rng, 1500, 4000);
                sim.schedule(next, Fault::Pause(leader));
                sim.schedule(next.plus(d), Fault::Resume(leader));
                quiet = quiet.saturating_add(d);
            } else {
                let back = ms(&mut rng, 1000, 4000).as_nanos() as i64;
                sim.schedule(
                    next,
                    Fault::ClockSkew(leader, sim_core::Offset::from_nanos(-back)),
                );
            }
        }
        next = next.plus(quiet);
    }
    let report = sim.run();
    let log = sim.durable(NodeId(5)).store.clone();
    (report, log)
}

// Pauses and wall-clock steps defeat the lease (split-brain may happen), but generations
// stay unique and the fenced store refuses every stale write.
#[test]
fn lease_with_pauses_keeps_generations_unique_and_the_store_fenced() {
    let mut refused = 0;
    let mut split = 0;
    for seed in 1..=8 {
        let (report, log) = hunt(seed, slow_writes(wall()), true);
        let bad: Vec<_> = report
            .violations
            .iter()
            .filter(|v| v.check != "split-brain")
            .collect();
        assert!(bad.is_empty(), "seed {seed}: {bad:?}");
        split += report.violations.len();
        refused += log.refused;
    }
    assert!(split > 0, "the leader hunter caused split-brain");
    assert!(
        refused > 0,
        "stale writes were attempted and refused, so the fencing check was tested"
    );
}

#[test]
fn lease_without_fencing_loses_updates_under_pauses() {
    let caught = (1..=8).filter(|&seed| {
        let (report, _) = hunt(
            seed,
            slow_writes(LeaseConfig {
                fencing: false,
                ..wall()
            }),
            true,
        );
        failed(&report).contains(&"fencing".to_string())
    });
    assert!(caught.count() >= 2, "several seeds show a lost update");
}

#[test]
fn lease_same_seed_same_trace() {
    let n = heavy(true);
    let (a, ..) = sweep(4, LeaseConfig::default(), &n);
    let (b, ..) = sweep(4, LeaseConfig::default(), &n);
    assert_eq!(a.trace.to_text(), b.trace.to_text());
    assert_eq!(a.fingerprint, b.fingerprint);
}

#[test]
fn lease_config_validation_names_the_problem() {
    let bad = LeaseConfig {
        renew_interval: Duration::from_secs(1),
        ..Default::default()
    };
    assert!(
        bad.validate()
            .unwrap_err()
            .contains("renew_interval 1s must be below the lease the leader believes (980ms")
    );
    assert!(LeaseConfig::default().validate().is_ok());
    assert_eq!(
        LeaseConfig::default().believed_lease(),
        Duration::from_millis(980)
    );
}

#[test]
fn lease_store_log_is_only_on_the_store() {
    let (_, log) = run(LeaseConfig::default(), vec![]);
    assert!(<LeaseNode as ElectionNode>::store_log(&Default::default()).is_none());
    assert!(log.accepted > 0);
}
