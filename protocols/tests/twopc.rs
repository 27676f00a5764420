//! Two-phase commit, step by step: one transfer, a coordinator crash at a chosen point,
//! and the participants' states and logs read directly (section numbers are Bernstein,
//! Hadzilacos and Goodman 1987, chapter 7).

use protocols::twopc::participant::TxState;
use protocols::twopc::{BankClient, BankClientConfig, Node, Record, TwopcConfig};
use protocols::workload::Workload;
use sim_core::{
    Duration, Fault, Latency, Limits, LinkConfig, NodeId, Probability, SimConfig, Simulation,
    StorageConfig, Time,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn at(n: u64) -> Time {
    Time::from_nanos(n * 1_000_000)
}

/// n1 coordinates, n2 and n3 hold two accounts each; one transfer at 1s; links take 2ms,
/// syncs `sync`, and a crash loses what was not synced.
fn one_transfer(sync: u64, crash_at: u64, restart_at: Option<u64>) -> Simulation<Node, BankClient> {
    let config = TwopcConfig::default();
    let mut sc = SimConfig::new(1, 3, Limits::time(ms(4_000))).with_clients(1);
    sc.link = LinkConfig {
        latency: Latency::Constant(ms(2)),
        loss: Probability::ZERO,
        duplicate: Probability::ZERO,
    };
    let clients = BankClientConfig {
        workload: Workload {
            clients: 1,
            ops_per_client: 1,
            start: ms(1_000),
            timeout: ms(3_000),
            ..Workload::default()
        },
        config: config.clone(),
    };
    let mut sim = Simulation::new(sc, config, clients).unwrap();
    sim.set_storage(StorageConfig {
        sync_latency: Latency::Constant(ms(sync)),
        lose_unsynced: true,
        torn_tail: Probability::ZERO,
    });
    sim.schedule(at(crash_at), Fault::Crash(NodeId(0)));
    if let Some(r) = restart_at {
        sim.schedule(at(r), Fault::Restart(NodeId(0)));
    }
    sim
}

fn participant(sim: &Simulation<Node, BankClient>, n: u32) -> &protocols::twopc::Participant {
    sim.node(NodeId(n))
        .and_then(Node::participant)
        .expect("a live participant")
}

fn total(sim: &Simulation<Node, BankClient>) -> i64 {
    (1..3)
        .map(|n| participant(sim, n).balances().values().sum::<i64>())
        .sum()
}

// §7.3-7.5: a participant that voted yes and hears no decision is blocked: it keeps its
// locks (its transaction stays Prepared) and may not decide; the coordinator's return
// with no decision in its log makes it abort (presumed abort).
#[test]
fn bhg_7_5_prepared_participants_block_holding_locks_until_the_coordinator_returns() {
    // Votes are in at 1.056s; the 50ms decision sync is cut by the crash at 1.080s.
    let mut sim = one_transfer(50, 1_080, Some(3_000));
    sim.run_until(at(2_000));
    for n in 1..3 {
        let p = participant(&sim, n);
        let (tx, t) = p
            .blocked()
            .next()
            .expect("blocked while the coordinator is down");
        assert_eq!(t.state, TxState::Prepared, "t{tx} keeps its locks");
        assert!(p.txs()[&tx].state.holds_locks());
    }
    let log = sim
        .log::<Record>(NodeId(0))
        .expect("the coordinator appended");
    assert_eq!(
        (log.len(), log.synced()),
        (0, 0),
        "the crash cut the unsynced decision"
    );
    sim.run();
    for n in 1..3 {
        let p = participant(&sim, n);
        assert_eq!(p.blocked().count(), 0);
        assert!(p.txs().values().all(|t| t.state == TxState::Aborted));
    }
    assert_eq!(total(&sim), 400, "nothing moved");
}

// §7.4: a coordinator that logged its commit decision resends it after a restart, and
// writes the end record once every participant acknowledged.
#[test]
fn bhg_7_4_a_restarted_coordinator_finishes_the_commit_it_logged() {
    // 10ms syncs: votes in at 1.016s, decision synced and sent at 1.026s, the
    // participants' acks would arrive at 1.040s; the crash at 1.030s comes between.
    let mut sim = one_transfer(10, 1_030, Some(1_500));
    sim.run_until(at(1_400));
    let log = sim.log::<Record>(NodeId(0)).unwrap();
    assert_eq!((log.len(), log.synced()), (1, 1), "the decision, durable");
    sim.run();
    for n in 1..3 {
        let p = participant(&sim, n);
        assert!(p.txs().values().all(|t| t.state == TxState::Committed));
    }
    assert_eq!(total(&sim), 400, "money moved, none made or lost");
    let moved: i64 = participant(&sim, 1)
        .balances()
        .values()
        .map(|b| (b - 100).abs())
        .sum();
    assert!(moved > 0, "the transfer was applied");
    let log = sim.log::<Record>(NodeId(0)).unwrap();
    let records: Vec<String> = log.iter().map(|r| format!("{:?}", r.unwrap())).collect();
    assert_eq!(records.len(), 2, "{records:?}");
    assert!(records[0].starts_with("Decision t1000001"), "{records:?}");
    assert_eq!(records[1], "End t1000001");
}
