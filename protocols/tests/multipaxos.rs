//! Multi-Paxos end to end: one phase 1 elects a stable leader, commands are chosen and
//! applied in slot order, a new leader re-proposes what it inherits, safety and
//! linearizability hold under heavy faults, and once faults stop a leader leads and every
//! client operation completes.

mod multipaxos_support;

use multipaxos_support::*;
use protocols::kv;
use protocols::multipaxos::{Command, Node, Role, invariants};
use sim_core::{Fault, NodeId, TraceLevel};

fn leader(sim: &MpSim) -> Option<NodeId> {
    (0..sim.node_count() as u32)
        .map(NodeId)
        .find(|&n| sim.node(n).is_some_and(Node::is_leader))
}

fn ok_after(report: &sim_core::Report, ms: u64) -> usize {
    report
        .history
        .events
        .iter()
        .filter(|e| e.kind == lincheck::EventKind::Ok && e.time.unwrap() > ms * 1_000_000)
        .count()
}

// Paxos Made Simple §3: one node wins phase 1 for all slots and every other follows it;
// commands are then chosen with one round trip each and applied everywhere.
#[test]
fn multipaxos_3_stable_leader_and_replicated_log() {
    let mut setup = Setup::quiet(5, 2, ms(2_000));
    setup.trace = TraceLevel::Summary;
    let mut sim = setup.build(7);
    sim.run_until(at(1_000));
    let l = leader(&sim).expect("a leader within 1s");
    let ballot = sim.node(l).unwrap().ballot();
    for n in (0..5).map(NodeId) {
        assert_eq!(sim.durable(n).promised(), Some(ballot), "{n} promised it");
        assert_eq!(
            sim.node(n).unwrap().leader_hint(),
            Some(l),
            "{n} follows it"
        );
    }
    let report = sim.run();
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    assert!(ok_after(&report, 0) > 50, "clients got answers");
    assert_linearizable(&report.history, "");
    // Every replica applied the same prefix, in slot order.
    let chosen = sim.durable(l).chosen_through();
    assert!(chosen > 50);
    for n in (0..5).map(NodeId) {
        let applied = sim.node(n).unwrap().applied();
        let expected: Vec<u64> = (1..=applied.len() as u64).collect();
        assert_eq!(applied, &expected[..], "{n} applies in slot order");
        assert!(applied.len() as u64 + 5 >= chosen, "{n} keeps up");
    }
    let text = report.trace.to_text();
    assert!(text.contains("note role=leader round="), "{text}");
    assert!(text.contains("note role=candidate round="), "{text}");
}

// §3: the leader crashes with slots in flight; a new leader runs phase 1 with a higher
// ballot, re-proposes what it inherits, clients carry on, and the restarted node replays
// its chosen prefix and catches up.
#[test]
fn multipaxos_3_leader_crash_and_failover() {
    let setup = Setup::quiet(3, 2, ms(4_000));
    let mut sim = setup.build(11);
    sim.run_until(at(1_000));
    let old = leader(&sim).expect("a leader");
    let old_ballot = sim.node(old).unwrap().ballot();
    sim.schedule(at(1_001), Fault::Crash(old));
    sim.schedule(at(2_500), Fault::Restart(old));
    sim.run_until(at(2_000));
    let new = leader(&sim).expect("a new leader after the crash");
    assert_ne!(new, old);
    assert!(sim.node(new).unwrap().ballot() > old_ballot);
    sim.run_until(at(2_600));
    let restarted = sim.node(old).expect("restarted");
    assert_eq!(restarted.role(), Role::Follower);
    assert!(
        restarted.applied().len() as u64 >= sim.durable(old).chosen_through().min(1),
        "replayed its chosen prefix"
    );
    let report = sim.run();
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    assert!(ok_after(&report, 2_000) > 10, "clients keep completing");
    assert_linearizable(&report.history, "");
    let lag = sim.durable(new).chosen_through() - sim.durable(old).chosen_through();
    assert!(lag < 10, "the restarted node caught up (lag {lag})");
}

// §3: gaps are filled with no-ops. Under heavy faults new leaders inherit slots nobody
// reported and fill them; over a few seeds some replica applies a no-op.
#[test]
fn multipaxos_3_new_leaders_fill_gaps_with_noops() {
    let setup = Setup::heavy(5, 3, ms(3_000));
    let noops = (0..20u64)
        .filter(|&seed| {
            let mut sim = setup.build(seed);
            let report = sim.run();
            assert!(
                report.violations.is_empty(),
                "seed {seed}: {:?}",
                report.violations
            );
            let d = sim.durable(NodeId(0));
            (1..=d.chosen_through()).any(|s| d.chosen(s) == Some(&Command::Noop))
        })
        .count();
    assert!(noops > 0, "no seed filled a gap with a no-op");
}

// Slot agreement, state machine safety and linearizability under heavy faults
// (partitions, isolation, bridges, crash-restarts, pauses, 20% loss, 20% duplication).
#[test]
fn multipaxos_safety_under_heavy_faults() {
    let setup = Setup::heavy(5, 3, ms(6_000));
    let seeds = if std::env::var_os("FAULTLINE_FULL_SWEEPS").is_some() {
        300
    } else {
        40
    };
    assert_eq!(sweep(&setup, 0..seeds, true), None);
}

// Liveness: once faults stop a stable leader is elected, and every client operation
// invoked from then on completes within the bound. The check fails when the cluster
// stays split three ways to the end.
#[test]
fn multipaxos_eventually_leader_and_completion_after_faults() {
    let mut setup = Setup::heavy(5, 3, ms(8_000));
    setup.config.liveness_from = Some(ms(7_000));
    setup.config.liveness_bound = ms(1_000);
    for seed in 0..20 {
        let mut sim = setup.build(seed);
        sim.add_checker(invariants::checker("eventually-leader", &setup.config).unwrap());
        let report = sim.run();
        assert!(
            report.violations.is_empty(),
            "seed {seed}: {:?}",
            report.violations
        );
        let from = setup.quiet_from().plus(ms(1_000));
        kv::check_completion(&report.history, from, ms(1_000), report.end_time)
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    }
    let mut sim = Setup::quiet(5, 0, ms(8_000)).build(1);
    sim.add_checker(invariants::checker("eventually-leader", &setup.config).unwrap());
    let parts = |ns: &[u32]| {
        ns.iter()
            .map(|&n| sim_core::Addr::Node(NodeId(n)))
            .collect::<Vec<_>>()
    };
    sim.schedule(
        at(6_000),
        Fault::Partition(vec![parts(&[0, 1]), parts(&[2, 3]), parts(&[4])]),
    );
    let report = sim.run();
    assert_eq!(report.violations.len(), 1, "{:?}", report.violations);
    assert_eq!(report.violations[0].check, "eventually-leader");
}

// Determinism: the same seed gives the same trace, byte for byte.
#[test]
fn multipaxos_same_seed_same_trace() {
    let mut setup = Setup::heavy(5, 3, ms(3_000));
    setup.trace = TraceLevel::Full;
    let (a, b) = (setup.run(42), setup.run(42));
    assert_eq!(a.trace.to_text(), b.trace.to_text());
    assert_eq!(a.history, b.history);
    assert_ne!(a.fingerprint, setup.run(43).fingerprint);
}
