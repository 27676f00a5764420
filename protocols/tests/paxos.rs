//! Single-decree Paxos end to end: a value is chosen and learned, safety holds under heavy
//! faults for every seed, acceptors keep their promises across crashes, dueling proposers
//! livelock without backoff, and the same seed gives the same run.

mod paxos_support;

use paxos_support::*;
use protocols::paxos::{Ballot, Node, PaxosConfig, node::Phase};
use sim_core::{Fault, Latency, NodeId, TraceLevel};

fn learned(sim: &PaxosSim, n: u32) -> Option<String> {
    sim.durable(NodeId(n)).learned().map(str::to_string)
}

// Paxos Made Simple §2.2-2.3: with no faults every node learns one value, proposed by one
// of them, after both phases.
#[test]
fn paxos_2_2_quiet_cluster_chooses_one_value() {
    let mut setup = Setup::quiet(5, ms(1_000));
    setup.trace = TraceLevel::Summary;
    setup.decided = true;
    let mut sim = setup.build(3);
    let report = sim.run();
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    let v = learned(&sim, 0).expect("n1 learned");
    assert!(v.starts_with("v-n"), "{v}");
    for n in 0..5 {
        assert_eq!(learned(&sim, n).as_deref(), Some(v.as_str()), "n{}", n + 1);
    }
    let text = report.trace.to_text();
    for note in [
        "note prepare b=",
        "note promised b=",
        "note propose b=",
        "note accepted b=",
    ] {
        assert!(text.contains(note), "{note} missing from\n{text}");
    }
}

// §2.3: a node that is not a proposer and lost every Accepted message still learns: it
// proposes after learn_timeout, and phase 1 hands it the chosen value, not its own.
#[test]
fn paxos_2_3_late_learner_adopts_the_chosen_value() {
    let mut setup = Setup::quiet(3, ms(2_000));
    setup.config.proposers = 1;
    setup.decided = true;
    let mut sim = setup.build(1);
    sim.schedule(at(0), Fault::Isolate(NodeId(2)));
    sim.schedule(at(200), Fault::Heal);
    let report = sim.run();
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    assert_eq!(learned(&sim, 0).as_deref(), Some("v-n1"));
    assert_eq!(learned(&sim, 2).as_deref(), Some("v-n1"), "n3 adopted v-n1");
    assert!(sim.node(NodeId(2)).unwrap().is_proposing(), "n3 had to ask");
}

// §2.3 (stable storage): an acceptor's promise survives a crash, so after a restart it
// still refuses lower ballots.
#[test]
fn paxos_2_3_promise_survives_a_restart() {
    let mut setup = Setup::quiet(3, ms(2_000));
    setup.config.proposers = 1;
    setup.latency = Some(Latency::Constant(ms(5)));
    let mut sim = setup.build(2);
    sim.run_until(at(6));
    let promised = sim.durable(NodeId(2)).promised();
    assert_eq!(
        promised,
        Some(Ballot {
            round: 1,
            node: NodeId(0)
        }),
        "n3 promised n1's first ballot"
    );
    sim.schedule(at(7), Fault::Crash(NodeId(2)));
    sim.schedule(at(8), Fault::Restart(NodeId(2)));
    sim.run_until(at(9));
    assert!(sim.node(NodeId(2)).is_some(), "n3 is back");
    assert_eq!(
        sim.durable(NodeId(2)).promised(),
        promised,
        "kept its promise"
    );
}

// The knob turns that off: the restarted acceptor has promised nothing.
#[test]
fn paxos_knob_forget_promise_forgets_on_restart() {
    let mut setup = Setup::quiet(3, ms(2_000));
    setup.config.proposers = 1;
    setup.config.forget_promise_on_restart = true;
    setup.latency = Some(Latency::Constant(ms(5)));
    let mut sim = setup.build(2);
    sim.run_until(at(6));
    assert!(sim.durable(NodeId(2)).promised().is_some());
    assert!(sim.durable(NodeId(2)).accepted().is_none(), "no accept yet");
    sim.schedule(at(7), Fault::Crash(NodeId(2)));
    sim.schedule(at(8), Fault::Restart(NodeId(2)));
    sim.run_until(at(9));
    assert_eq!(sim.durable(NodeId(2)).promised(), None);
}

// Every check holds under heavy faults for every seed (partitions, crash-restarts,
// pauses, loss, duplication), and every node has learned within 900ms of the faults
// stopping. 300 seeds in debug, 1,000 with FAULTLINE_FULL_SWEEPS.
#[test]
fn paxos_safe_and_decided_under_heavy_faults() {
    let mut setup = Setup::heavy(5, ms(2_000));
    setup.decided = true;
    let seeds = if std::env::var_os("FAULTLINE_FULL_SWEEPS").is_some() {
        1_000
    } else {
        300
    };
    let mut contended = 0;
    for seed in 0..seeds {
        let mut sim = setup.build(seed);
        let report = sim.run();
        assert!(
            report.violations.is_empty(),
            "seed {seed}: {:?}",
            report.violations
        );
        let rounds = (0..5)
            .map(|n| sim.durable(NodeId(n)).round())
            .max()
            .unwrap();
        contended += usize::from(rounds > 2);
    }
    assert!(
        contended * 4 > seeds as usize,
        "the faults make proposers contend (more than 2 rounds) in a quarter of the seeds: {contended}/{seeds}"
    );
}

// §2.4 and FLP: two proposers without backoff preempt each other forever; with backoff
// one of them gets through.
#[test]
fn paxos_2_4_dueling_proposers_livelock_without_backoff() {
    let mut setup = Setup::quiet(3, ms(2_000));
    setup.config = PaxosConfig {
        proposers: 2,
        backoff: false,
        learn_timeout: ms(10_000),
        liveness_bound: ms(1_500),
        ..PaxosConfig::default()
    };
    setup.latency = Some(Latency::Constant(ms(5)));
    setup.decided = true;
    let mut sim = setup.build(1);
    let report = sim.run();
    assert_eq!(
        report
            .violations
            .iter()
            .map(|v| v.check.as_str())
            .collect::<Vec<_>>(),
        ["decided"],
        "only liveness fails"
    );
    assert!((0..3).all(|n| learned(&sim, n).is_none()), "nobody learned");
    assert!(
        sim.durable(NodeId(0)).round() > 50,
        "n1 kept trying: round {}",
        sim.durable(NodeId(0)).round()
    );
    setup.config.backoff = true;
    let mut sim = setup.build(1);
    let report = sim.run();
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    assert!(
        sim.node(NodeId(0))
            .is_some_and(|n: &Node| n.phase() == Phase::Idle)
    );
}

// Same seed, same run; another seed, another run.
#[test]
fn paxos_runs_are_deterministic() {
    let mut setup = Setup::heavy(5, ms(2_000));
    setup.trace = TraceLevel::Full;
    let a = setup.run(7);
    let b = setup.run(7);
    let c = setup.run(8);
    assert_eq!(a.trace.text_hash(), b.trace.text_hash());
    assert_eq!(a.fingerprint, b.fingerprint);
    assert_ne!(a.fingerprint, c.fingerprint);
}
