//! The gossip store: every check holds under heavy faults, each fails where it should,
//! and runs are deterministic.

mod gossip_support;

use gossip_support::*;
use protocols::gossip::LwwMode;
use sim_core::{Fault, NodeId, TraceLevel};

// Every check, all modes but wall-clock lww, heavy faults: nothing is lost, everything
// converges, sessions hold.
#[test]
fn every_check_holds_under_heavy_faults() {
    let mut setup = Setup::heavy(5, 4, ms(6_000));
    setup.config.rumor_hops = 2;
    if let Some((seed, check, message)) = sweep(&setup, 0..12) {
        panic!("seed {seed} violates {check}: {message}");
    }
    setup.config.lww = LwwMode::Hlc;
    setup.config.rumor_hops = 0;
    if let Some((seed, check, message)) = sweep(&setup, 0..12) {
        panic!("hlc, seed {seed} violates {check}: {message}");
    }
}

// Terry et al. 1994: without sessions (each operation at a random replica, no
// context) a client can read before its write has reached the replica it asks.
#[test]
fn read_your_writes_fails_without_sessions() {
    let mut setup = Setup::quiet(5, 4, ms(3_000));
    setup.config.sessions = false;
    setup.config.read_repair = false;
    setup.config.gossip_interval = ms(200);
    let (seed, check, message) = sweep(&setup, 0..50).expect("a violation without sessions");
    assert_eq!(check, "read-your-writes", "seed {seed}: {message}");
    assert!(
        message.contains("which the same session wrote"),
        "{message}"
    );
}

// Monotonic reads on its own: reads only after writes stop being this session's (one
// writer client, the others read), no sessions.
#[test]
fn monotonic_reads_fails_without_sessions() {
    let mut setup = Setup::quiet(5, 4, ms(3_000));
    setup.config.sessions = false;
    setup.config.read_repair = false;
    setup.config.gossip_interval = ms(200);
    let mut found = None;
    for seed in 0..100 {
        let report = setup.run(seed);
        if let Err(m) = <protocols::gossip::GossipProtocol as protocols::Protocol>::history_check(
            "monotonic-reads",
            &report.history,
            &setup.config,
            report.end_time,
            protocols::LINEARIZABLE_MAX_STEPS,
        ) {
            found = Some((seed, m.message().to_string()));
            break;
        }
    }
    let (seed, message) = found.expect("a monotonic-reads violation without sessions");
    assert!(message.contains("no longer sees"), "seed {seed}: {message}");
}

// The convergence check fails when a replica is cut off for good, and its report names
// the replicas and what they hold.
#[test]
fn convergence_fails_while_a_replica_is_cut_off() {
    let setup = Setup::quiet(3, 2, ms(3_000));
    let mut sim = setup.build(1);
    sim.schedule(
        sim_core::Time::ZERO.plus(ms(100)),
        Fault::Isolate(NodeId(2)),
    );
    let report = sim.run();
    let v = report
        .violations
        .iter()
        .find(|v| v.check == "convergence")
        .expect("n3 never hears of the writes");
    assert!(v.message.contains("has not converged"), "{}", v.message);
    assert!(v.message.contains("n3 hold"), "{}", v.message);
}

// The report says when each key converged, in time and rounds after the last fault.
#[test]
fn convergence_reports_when_each_key_converged() {
    let setup = Setup::heavy(5, 3, ms(5_000));
    let report = setup.run(3);
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    let lines: Vec<&str> = report
        .findings
        .iter()
        .filter(|(c, _)| c == "convergence")
        .map(|(_, l)| l.as_str())
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    for l in lines {
        assert!(
            l.contains("gossip round") && l.contains("after 3.5s") || l.contains("before"),
            "{l}"
        );
    }
}

// Dynamo (data versioning): concurrent writes on two sides of a partition are both kept.
#[test]
fn concurrent_writes_are_kept_as_siblings() {
    let mut setup = Setup::quiet(4, 4, ms(3_000));
    setup.trace = TraceLevel::Summary;
    let mut sim = setup.build(2);
    let (a, b) = (NodeId(0), NodeId(2));
    let groups = vec![
        vec![sim_core::Addr::Node(a), sim_core::Addr::Node(NodeId(1))],
        vec![sim_core::Addr::Node(b), sim_core::Addr::Node(NodeId(3))],
    ];
    sim.schedule(sim_core::Time::ZERO.plus(ms(300)), Fault::Partition(groups));
    sim.schedule(sim_core::Time::ZERO.plus(ms(1_000)), Fault::Heal);
    sim.run_until(sim_core::Time::ZERO.plus(ms(1_400)));
    let text = sim.trace().summary_text();
    let two_sides = text
        .lines()
        .filter(|l| l.contains("siblings=[") && l.contains(", "))
        .count();
    assert!(two_sides > 0, "no replica held two siblings:\n{text}");
}

// Same seed, same trace.
#[test]
fn runs_are_deterministic() {
    let mut setup = Setup::heavy(5, 3, ms(3_000));
    setup.trace = TraceLevel::Full;
    let (a, b) = (setup.run(9), setup.run(9));
    assert_eq!(a.trace.to_text(), b.trace.to_text());
    assert_eq!(a.fingerprint, b.fingerprint);
}

// Sparse version vectors: in a 2,000-replica cluster with three clients, each on its own
// replica, a key's vector has an entry per coordinator, not per replica.
#[test]
fn vectors_hold_one_entry_per_coordinator() {
    let mut setup = Setup::quiet(2_000, 3, ms(2_000));
    setup.workload.keys = 1;
    let sim = {
        let mut sim = setup.build(4);
        sim.run_until(sim_core::Time::ZERO.plus(ms(1_900)));
        sim
    };
    let mut widest = 0;
    for n in 0..2_000 {
        if let Some(protocols::gossip::store::KeyState::Dvv(d)) = sim.durable(NodeId(n)).get(0) {
            widest = widest.max(d.vv.len());
        }
    }
    assert!(
        (1..=3).contains(&widest),
        "a vector has {widest} entries for 3 coordinating replicas"
    );
}
