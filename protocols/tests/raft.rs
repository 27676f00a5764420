//! Raft end to end: the paper's properties under faults, determinism, linearizable
//! histories, and liveness once faults stop. Built directly on the sim-core API.

mod support;

use protocols::kv;
use protocols::raft::{Node, RaftConfig, Role, invariants};
use sim_core::{Fault, NodeId, Time, TraceLevel};
use support::*;

fn leader(sim: &RaftSim) -> Option<NodeId> {
    (0..sim.node_count() as u32)
        .map(NodeId)
        .find(|&n| sim.node(n).is_some_and(Node::is_leader))
}

// Raft §5.2: a leader is elected, every server follows it, and role changes are noted.
#[test]
fn raft_5_2_leader_election() {
    let mut setup = Setup::quiet(5, 0, ms(2_000));
    setup.trace = TraceLevel::Summary;
    let mut sim = setup.build(7);
    sim.run_until(at(1_000));
    let l = leader(&sim).expect("a leader within 1s");
    let term = sim.durable(l).current_term();
    for n in (0..5).map(NodeId) {
        assert_eq!(
            sim.durable(n).current_term(),
            term,
            "{n} is in the leader's term"
        );
        assert_eq!(
            sim.node(n).unwrap().leader_hint(),
            Some(l),
            "{n} follows the leader"
        );
    }
    let report = sim.run();
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    let text = report.trace.to_text();
    assert!(
        text.contains(&format!("note role=leader term={term}")),
        "{text}"
    );
    assert!(text.contains("note role=candidate term="), "{text}");
}

// Memory linear in the cluster size: only the leader holds per-server state (Figure 2's
// nextIndex and matchIndex are "volatile state on leaders"), so N servers hold O(N)
// entries in all, through leader changes, not N per server.
#[test]
fn raft_only_the_leader_holds_per_server_state() {
    let n = 41;
    let mut setup = Setup::quiet(n, 2, ms(3_000));
    setup.config.lease_read = true;
    let mut sim = setup.build(3);
    sim.schedule(at(1_000), Fault::Crash(NodeId(0)));
    sim.schedule(at(1_000), Fault::Isolate(NodeId(1)));
    for t in [900, 1_900, 2_900] {
        sim.run_until(at(t));
        let l = leader(&sim).expect("a leader");
        for i in (0..n as u32).map(NodeId) {
            let Some(node) = sim.node(i) else { continue };
            let held = node.per_server_entries();
            match node.role() {
                Role::Leader => assert_eq!(held, 4 * n, "the leader {i}: 4 entries per server"),
                Role::Follower => assert_eq!(held, 0, "at {t}ms follower {i} of {l}"),
                // A candidate counts the votes it got, fewer than a majority.
                Role::Candidate | Role::PreCandidate => assert!(held <= n / 2, "{i}: {held}"),
            }
        }
    }
}

// Raft §5.2, §5.3: leader crash and failover. The survivors elect a new leader in a
// higher term, client operations keep completing, and the restarted server catches up.
#[test]
fn raft_5_2_leader_crash_and_failover() {
    let setup = Setup::quiet(3, 2, ms(4_000));
    let mut sim = setup.build(11);
    sim.run_until(at(1_000));
    let old = leader(&sim).expect("a leader");
    let old_term = sim.durable(old).current_term();
    sim.schedule(at(1_001), Fault::Crash(old));
    sim.schedule(at(2_500), Fault::Restart(old));
    sim.run_until(at(2_000));
    let new = leader(&sim).expect("a new leader after the crash");
    assert_ne!(new, old);
    assert!(sim.durable(new).current_term() > old_term);
    let report = sim.run();
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    let history = &report.history;
    let after = history
        .events
        .iter()
        .filter(|e| e.kind == lincheck::EventKind::Ok && e.time.unwrap() > 2_000_000_000)
        .count();
    assert!(
        after > 10,
        "clients keep completing operations after the failover ({after})"
    );
    assert_linearizable(history, "");
}

// The commit rule at a client's append (issue #17): a cluster of one commits the entry at
// once (the leader's own log is the whole majority), while larger clusters skip the rule
// there, as the append cannot move it; with one or two servers, every client operation
// still completes, with a linearizable history and the safety checks passing.
#[test]
fn raft_one_and_two_servers_commit_every_operation() {
    for nodes in [1, 2] {
        let setup = Setup::quiet(nodes, 2, ms(2_000));
        let mut sim = setup.build(5);
        let report = sim.run();
        assert!(
            report.violations.is_empty(),
            "{nodes}: {:?}",
            report.violations
        );
        let history = &report.history;
        let ok = history
            .events
            .iter()
            .filter(|e| e.kind == lincheck::EventKind::Ok)
            .count();
        let invoked = history
            .events
            .iter()
            .filter(|e| e.kind == lincheck::EventKind::Invoke)
            .count();
        assert!(ok > 20, "{nodes} servers: {ok} operations completed");
        assert!(
            invoked - ok <= 2,
            "{nodes} servers: {invoked} invoked, {ok} completed (only the last may be open)"
        );
        assert_linearizable(history, "");
    }
}

// Raft §5.3, §5.4.2: an old leader in a minority partition keeps believing it leads but
// cannot commit; it steps down when the partition heals.
#[test]
fn raft_5_3_minority_leader_cannot_commit_and_steps_down() {
    let setup = Setup::quiet(5, 2, ms(5_000));
    let mut sim = setup.build(3);
    sim.run_until(at(1_000));
    let old = leader(&sim).expect("a leader");
    let peer = NodeId((old.0 + 1) % 5);
    let minority = vec![sim_core::Addr::Node(old), sim_core::Addr::Node(peer)];
    let majority = (0..5)
        .map(NodeId)
        .filter(|n| *n != old && *n != peer)
        .map(sim_core::Addr::Node)
        .collect();
    sim.schedule(at(1_001), Fault::Partition(vec![minority, majority]));
    sim.schedule(at(3_000), Fault::Heal);
    sim.run_until(at(1_002));
    let commit_before = sim.node(old).unwrap().commit_index();
    sim.run_until(at(2_900));
    let o = sim.node(old).unwrap();
    assert_eq!(
        o.role(),
        Role::Leader,
        "the old leader still believes it leads"
    );
    assert_eq!(o.commit_index(), commit_before, "but commits nothing");
    assert!(
        sim.durable(old).last_index() > commit_before,
        "though clients gave it entries"
    );
    let new = (0..5)
        .map(NodeId)
        .find(|&n| n != old && sim.node(n).unwrap().is_leader())
        .expect("majority leader");
    sim.run_until(at(3_500));
    assert_eq!(
        sim.node(old).unwrap().role(),
        Role::Follower,
        "stepped down on heal"
    );
    assert_eq!(sim.node(old).unwrap().leader_hint(), Some(new));
    let report = sim.run();
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    assert_linearizable(&report.history, "");
}

// Raft §5.4.1: the election restriction. A server whose log misses committed entries is
// never elected (knob off), and is elected and breaks leader completeness with the knob on.
#[test]
fn raft_5_4_1_election_restriction() {
    let setup = Setup::heavy(5, 3, ms(5_000));
    let mut buggy = setup.clone();
    buggy.config.vote_without_log_check = true;
    let found = sweep(&buggy, 0..1_000, false).expect("the knob is caught within 1,000 seeds");
    assert_eq!(
        found.1, "leader-completeness",
        "seed {}: {}",
        found.0, found.2
    );
    assert_eq!(sweep(&setup, 0..found.0 + 50, false), None);
}

// Raft §5.4: the four safety properties and linearizability hold under heavy faults
// (partitions, isolation, bridges, crash-restarts, pauses, 20% loss, 20% duplication).
#[test]
fn raft_5_4_safety_under_heavy_faults() {
    let setup = Setup::heavy(5, 3, ms(6_000));
    assert_eq!(sweep(&setup, 0..60, true), None);
    let mut pre_vote = setup.clone();
    pre_vote.config.pre_vote = true;
    assert_eq!(sweep(&pre_vote, 0..30, true), None);
}

// Raft §5.2 liveness: once faults stop a stable leader is elected, and every client
// operation invoked from then on completes within the bound.
#[test]
fn raft_eventually_leader_and_completion_after_faults() {
    let mut setup = Setup::heavy(5, 3, ms(8_000));
    setup.config.liveness_from = Some(sim_core::Duration::from_secs(7));
    setup.config.liveness_bound = sim_core::Duration::from_secs(1);
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
    // The checker can fail: a cluster kept partitioned to the end has no stable leader.
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
fn raft_same_seed_same_trace() {
    let mut setup = Setup::heavy(5, 3, ms(3_000));
    setup.trace = TraceLevel::Full;
    let (a, b) = (setup.run(42), setup.run(42));
    assert_eq!(a.trace.to_text(), b.trace.to_text());
    assert_eq!(a.history, b.history);
    assert_ne!(a.fingerprint, setup.run(43).fingerprint);
}

#[test]
fn raft_config_rejects_bad_values() {
    let c = RaftConfig {
        heartbeat: sim_core::Duration::from_millis(200),
        ..RaftConfig::default()
    };
    assert!(c.validate().unwrap_err().contains("heartbeat 200ms"));
    assert!(RaftConfig::default().validate().is_ok());
}

/// The client (0-based) whose operation a history event belongs to, by the unique value
/// it writes (`"c2-17"`, `"/c2-17"` for append, `[from, "c2-17"]` for cas); `None` for
/// reads, which write nothing. History processes change after every `info` (as in
/// Jepsen), so the process id alone does not name the client.
fn client_of(e: &lincheck::Event) -> Option<u64> {
    use lincheck::Value;
    let s = match &e.value {
        Value::Str(s) => s,
        Value::List(v) => match v.last() {
            Some(Value::Str(s)) => s,
            _ => return None,
        },
        _ => return None,
    };
    let n = s
        .trim_start_matches('/')
        .strip_prefix('c')?
        .split('-')
        .next()?;
    n.parse::<u64>().ok().map(|c| c - 1)
}

/// Completions of kind `kind` in `from..to`, by the clients in `clients` (all if `None`).
fn completions(
    history: &lincheck::History,
    clients: Option<&[u64]>,
    kind: lincheck::EventKind,
    from: Time,
    to: Time,
) -> usize {
    let mut owner = std::collections::BTreeMap::new();
    let mut n = 0;
    for e in &history.events {
        if e.kind == lincheck::EventKind::Invoke {
            owner.insert(e.process, client_of(e));
            continue;
        }
        let client = owner.get(&e.process).copied().flatten();
        let wanted = clients.is_none_or(|cs| client.is_some_and(|c| cs.contains(&c)));
        let t = e.time.expect("simulated histories are timed");
        if e.kind == kind && wanted && t > from.as_nanos() && t < to.as_nanos() {
            n += 1;
        }
    }
    n
}

// Raft §5.3, §5.4.2, §8: a majority partition with clients on both sides. The old leader
// and one follower are cut off with two clients, three servers with the other two. The
// minority side keeps taking writes (the old leader still believes it leads) but commits
// none of them: its clients' operations end `info` or `fail`, never `ok`, while the
// majority side elects a leader and completes operations. After the heal the minority's
// uncommitted entries are overwritten and the history is linearizable.
#[test]
fn raft_5_3_majority_partition_writes_on_both_sides() {
    use lincheck::EventKind::{Fail, Info, Ok};
    use sim_core::{Addr, ClientId};
    for seed in 0..5 {
        let mut setup = Setup::quiet(5, 4, ms(6_000));
        setup.workload.mix.read = 0; // writes, appends and cas only
        let mut sim = setup.build(seed);
        sim.run_until(at(1_000));
        let old = leader(&sim).expect("a leader");
        let peer = NodeId((old.0 + 1) % 5);
        let (cut, heal) = (at(1_001), at(3_500));
        let mut minority = vec![Addr::Node(old), Addr::Node(peer)];
        minority.extend([Addr::Client(ClientId(0)), Addr::Client(ClientId(1))]);
        let mut majority: Vec<Addr> = (0..5)
            .map(NodeId)
            .filter(|n| *n != old && *n != peer)
            .map(Addr::Node)
            .collect();
        majority.extend([Addr::Client(ClientId(2)), Addr::Client(ClientId(3))]);
        sim.schedule(cut, Fault::Partition(vec![minority, majority]));
        sim.schedule(heal, Fault::Heal);
        sim.run_until(cut);
        let first_uncommitted = sim.durable(old).last_index() + 1;
        sim.run_until(at(3_400));
        let o = sim.node(old).unwrap();
        assert!(o.is_leader(), "seed {seed}: the old leader still leads");
        // Entries the old leader appended after the cut can never reach a majority.
        let last_uncommitted = sim.durable(old).last_index();
        let old_term = sim.durable(old).current_term();
        assert!(
            last_uncommitted >= first_uncommitted,
            "seed {seed}: the old leader took writes it cannot commit"
        );
        let report = sim.run();
        assert!(
            report.violations.is_empty(),
            "seed {seed}: {:?}",
            report.violations
        );
        let h = &report.history;
        // Answers already on their way when the cut came may still arrive (max latency
        // 10ms); after that the minority side completes nothing.
        let settled = at(1_020);
        assert_eq!(
            completions(h, Some(&[0, 1]), Ok, settled, heal),
            0,
            "seed {seed}: a minority-side client completed an operation during the partition"
        );
        let unknown = completions(h, Some(&[0, 1]), Info, settled, heal)
            + completions(h, Some(&[0, 1]), Fail, settled, heal);
        assert!(
            unknown > 0,
            "seed {seed}: minority-side operations end info or fail"
        );
        let majority_ok = completions(h, Some(&[2, 3]), Ok, settled, heal);
        assert!(
            majority_ok > 20,
            "seed {seed}: the majority side makes progress ({majority_ok})"
        );
        // After the heal the old leader's uncommitted suffix is gone, replaced by the
        // majority's entries, and every server holds the same committed prefix.
        for index in first_uncommitted..=last_uncommitted {
            assert_ne!(
                sim.durable(old).term_at(index),
                Some(old_term),
                "seed {seed}: the old leader's uncommitted entry {index} was overwritten"
            );
        }
        let committed = (0..5)
            .map(|n| sim.node(NodeId(n)).unwrap().commit_index())
            .min()
            .unwrap();
        assert!(
            committed > last_uncommitted,
            "seed {seed}: progress after the heal"
        );
        let term = sim.durable(old).term_at(committed);
        for n in (0..5).map(NodeId) {
            assert_eq!(sim.durable(n).term_at(committed), term, "seed {seed}: {n}");
        }
        assert!(completions(h, Some(&[0, 1]), Ok, heal, report.end_time) > 0);
        assert_linearizable(h, &format!("seed {seed}: "));
    }
}

// Raft §5.2, §5.4 and Figure 2 (persistent state): rolling restarts. Each server in turn
// (the leader included, when its turn comes) crashes and restarts from its durable state
// 400ms later, twice around the cluster. Safety holds throughout, operations complete in
// every round, each restarted server holds within 600ms everything committed while it was
// down, and a stable leader exists at the end.
#[test]
fn raft_rolling_restarts() {
    use lincheck::EventKind::Ok;
    let mut setup = Setup::quiet(5, 3, ms(13_000));
    setup.config.liveness_from = Some(sim_core::Duration::from_secs(11));
    setup.config.liveness_bound = sim_core::Duration::from_secs(1);
    for seed in 0..5 {
        let mut sim = setup.build(seed);
        sim.add_checker(invariants::checker("eventually-leader", &setup.config).unwrap());
        let round = |k: u64| at(1_000 + k * 1_000);
        for k in 0..10 {
            let n = NodeId((k % 5) as u32);
            sim.schedule(round(k), Fault::Crash(n));
            sim.schedule(round(k).plus(ms(400)), Fault::Restart(n));
        }
        let mut leaders = std::collections::BTreeSet::new();
        for k in 0..10 {
            let n = NodeId((k % 5) as u32);
            // What was committed while it was down, as the live servers know it when it
            // restarts.
            sim.run_until(round(k).plus(ms(400)));
            let missed = (0..5)
                .filter_map(|m| sim.node(NodeId(m)).map(Node::commit_index))
                .max()
                .unwrap();
            sim.run_until(round(k).plus(ms(999)));
            let has = sim.durable(n).last_index();
            assert!(
                has >= missed,
                "seed {seed}: {n} caught up within 600ms of its restart (log {has}, committed at its restart {missed})"
            );
            leaders.extend(leader(&sim));
        }
        let report = sim.run();
        assert!(
            report.violations.is_empty(),
            "seed {seed}: {:?}",
            report.violations
        );
        assert!(
            leaders.len() > 1,
            "seed {seed}: leadership moved when leaders were restarted"
        );
        let h = &report.history;
        for k in 0..10 {
            let done = completions(h, None, Ok, round(k), round(k + 1));
            assert!(
                done > 5,
                "seed {seed}: round {k} completed {done} operations"
            );
        }
        assert!(completions(h, None, Ok, at(11_000), report.end_time) > 20);
        assert_linearizable(h, &format!("seed {seed}: "));
    }
}
