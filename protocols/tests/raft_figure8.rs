//! Raft §5.4.2, Figure 8: why a leader must not commit an entry of an earlier term by
//! counting replicas.
//!
//! The paper's schedule, five servers, one client write per step:
//!
//! - (a) S1 leads term T and replicates a new entry at index i to S2 only.
//! - (b) S1 crashes; S5 is elected in a higher term T' by S3, S4 and itself, and takes a
//!   different entry at index i, which it alone stores.
//! - (c) S5 crashes; S1 (or S2: their logs are the same) is elected in a term T'' above
//!   T' and copies its term-T entry at index i to a majority. Counting replicas would
//!   call it committed now. Then it crashes.
//! - (d) S5 restarts and, its last term T' being the highest, is elected by S2, S3, S4
//!   and overwrites index i everywhere. If the term-T entry was counted as committed, a
//!   committed entry is lost: a leader without it (leader completeness), and servers
//!   that apply different commands at index i (state machine safety).
//!
//! The driver below steers a simulation through those steps by watching the servers'
//! state (`Simulation::step` and the node accessors) and scheduling crashes, restarts
//! and partitions at the right moments; the client only reaches the servers a step
//! wants it to. The scripted test makes every choice the figure makes; the sweep lets
//! the seed make them (partners, delays, whether the client gets through in (c), how
//! the network is cut in (d)), so only some seeds reach the figure's end state.
//!
//! `FIGURE8_DEBUG=1 cargo test -p protocols --test raft_figure8 -- --nocapture` prints
//! each step's server states and where each seed's run left the figure.

mod support;

use protocols::raft::Node;
use protocols::workload::OpMix;
use sim_core::{Addr, ClientId, EndReason, Fault, NodeId, Report, SimRng, Violation};
use support::*;

const NODES: u32 = 5;
const CLIENT: Addr = Addr::Client(ClientId(0));

/// The choices the figure makes, or a seed's.
#[derive(Clone, Debug)]
struct Choices {
    /// (a): S2, the one server that receives S1's term-T entry (an index into the other
    /// four servers).
    partner: u64,
    /// (a), (c): how long the leader lives on once its entry is where the step wants it.
    crash_delay_ms: u64,
    /// (c): whether the client reaches the new leader (it then commits an entry of its own
    /// term, Figure 8 (e), and S5 can no longer win).
    client_in_c: bool,
    /// (d): 0 = S2 sees only S5, S3 and S4 see each other and S5 (only S5 can win);
    /// 1 = no cut (any server with the term-T entry may win); 2 = S5 is cut off with one
    /// other server (nobody can win until the end heals it).
    cut_in_d: u64,
}

impl Choices {
    fn figure() -> Choices {
        Choices {
            partner: 0,
            crash_delay_ms: 15,
            client_in_c: false,
            cut_in_d: 0,
        }
    }

    fn from_seed(seed: u64) -> Choices {
        let mut rng = SimRng::new(seed, "test/figure-8");
        Choices {
            partner: rng.below(4),
            crash_delay_ms: rng.between(0, 60),
            client_in_c: rng.below(2) == 0,
            cut_in_d: rng.below(3),
        }
    }
}

/// What one run of the driver did.
struct Outcome {
    report: Report,
    /// `Ok` if every step (a)-(d) was reached, else the step that was not.
    reached_d: Result<(), String>,
    /// (c): the commit index of the leader that crashed, and the index of the disputed
    /// entry (when the run got that far).
    c_commit: Option<(u64, u64)>,
}

fn setup(commit_by_counting: bool) -> Setup {
    let mut s = Setup::quiet(NODES as usize, 1, ms(12_000));
    s.workload.keys = 1;
    s.workload.mix = OpMix {
        read: 0,
        write: 1,
        cas: 0,
        append: 0,
    };
    s.config.commit_earlier_term_by_counting = commit_by_counting;
    s
}

fn all_nodes() -> Vec<NodeId> {
    (0..NODES).map(NodeId).collect()
}

fn addrs(ns: &[NodeId]) -> Vec<Addr> {
    ns.iter().map(|&n| Addr::Node(n)).collect()
}

fn leader_among(sim: &RaftSim, ns: &[NodeId]) -> Option<NodeId> {
    ns.iter()
        .copied()
        .find(|&n| sim.node(n).is_some_and(Node::is_leader))
}

fn holders(sim: &RaftSim, index: u64, term: u64) -> usize {
    all_nodes()
        .into_iter()
        .filter(|&n| sim.durable(n).term_at(index) == Some(term))
        .count()
}

/// Each server's role, term and log around index `i`, for failure messages.
fn dump(sim: &RaftSim, i: u64) -> String {
    all_nodes()
        .into_iter()
        .map(|n| {
            let d = sim.durable(n);
            let role = sim
                .node(n)
                .map_or("down".into(), |s| format!("{:?}", s.role()));
            format!(
                "{n}: {role} term {} last {} term@{i} {:?}",
                d.current_term(),
                d.last_index(),
                d.term_at(i)
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn debug(sim: &RaftSim, what: &str, i: u64) {
    if std::env::var_os("FIGURE8_DEBUG").is_some() {
        eprintln!("{} {what}: {}", sim.now(), dump(sim, i));
    }
}

/// Applies faults now, in order.
fn now(sim: &mut RaftSim, faults: Vec<Fault>) {
    let t = sim.now();
    for f in faults {
        print_schedule(t, &f);
        sim.schedule(t, f);
    }
    sim.run_until(t);
}

/// With `FIGURE8_SCHEDULE=1`, prints each fault the driver applies as a scenario line
/// (1ns late, so that in a file it comes after the event that prompted it, as here).
/// `scenarios/raft/figure-8.ron` is the scripted test's schedule written this way.
fn print_schedule(t: sim_core::Time, f: &Fault) {
    if std::env::var_os("FIGURE8_SCHEDULE").is_none() {
        return;
    }
    let name = |a: &Addr| match a {
        Addr::Node(n) => format!("\"n{}\"", n.0 + 1),
        Addr::Client(c) => format!("\"c{}\"", c.0 + 1),
    };
    let list = |g: &[Addr]| format!("[{}]", g.iter().map(name).collect::<Vec<_>>().join(", "));
    let node = |n: &NodeId| name(&Addr::Node(*n));
    let text = match f {
        Fault::Heal => "Heal".to_string(),
        Fault::Crash(n) => format!("Crash({})", node(n)),
        Fault::Restart(n) => format!("Restart({})", node(n)),
        Fault::Partition(groups) => format!(
            "Partition([{}])",
            groups
                .iter()
                .map(|g| list(g))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Fault::Bridge {
            left,
            middle,
            right,
        } => format!(
            "Bridge(left: {}, middle: {}, right: {})",
            list(left),
            list(middle),
            list(right)
        ),
        other => panic!("the driver does not apply {other:?}"),
    };
    let ns = t.as_nanos() + 1;
    println!(
        "        At(\"{}.{:06}ms\", {text}),",
        ns / 1_000_000,
        ns % 1_000_000
    );
}

/// Steps until `cond` holds; false if the run ends or `within_ms` passes first.
fn step_until(sim: &mut RaftSim, within_ms: u64, cond: impl Fn(&RaftSim) -> bool) -> bool {
    let deadline = sim.now().plus(ms(within_ms));
    while !cond(sim) {
        if sim.now() > deadline || sim.step().is_some() {
            return false;
        }
    }
    true
}

/// Cuts the client off from every server (on top of the cuts in force).
fn client_cut() -> Fault {
    Fault::Partition(vec![vec![CLIENT], addrs(&all_nodes())])
}

/// Drives one run through Figure 8's steps. Returns early (healing everything and
/// running to the end) when a step is not reached in time.
fn figure_8(setup: &Setup, seed: u64, choices: &Choices) -> Outcome {
    let mut sim = setup.build(seed);
    let mut c_commit = None;
    let reached_d = drive(&mut sim, choices, &mut c_commit);
    if std::env::var_os("FIGURE8_DEBUG").is_some() {
        eprintln!("seed {seed} {choices:?}: {reached_d:?} at {}", sim.now());
    }
    // Let the cluster recover with the client connected, then finish.
    let t = sim.now();
    let mut faults = vec![Fault::Heal];
    faults.extend(
        all_nodes()
            .into_iter()
            .filter(|&n| sim.node(n).is_none())
            .map(Fault::Restart),
    );
    for f in faults {
        print_schedule(t, &f);
        sim.schedule(t, f);
    }
    Outcome {
        report: sim.run(),
        reached_d,
        c_commit,
    }
}

fn drive(
    sim: &mut RaftSim,
    choices: &Choices,
    c_commit: &mut Option<(u64, u64)>,
) -> Result<(), String> {
    let nodes = all_nodes();
    // Before (a): a leader, a few committed writes on every server, then the client is
    // cut off and the logs settle.
    let committed = |sim: &RaftSim| {
        leader_among(sim, &nodes).is_some_and(|l| sim.node(l).unwrap().commit_index() >= 2)
    };
    if !step_until(sim, 3_000, committed) {
        return Err("before (a): no leader committed two writes".into());
    }
    now(sim, vec![client_cut()]);
    sim.run_until(sim.now().plus(ms(300)));
    let Some(s1) = leader_among(sim, &nodes) else {
        return Err("before (a): no leader after settling".into());
    };
    let c = sim.durable(s1).last_index();
    if nodes.iter().any(|&n| sim.durable(n).last_index() != c) {
        return Err("before (a): logs differ after settling".into());
    }

    debug(sim, "settled", c + 1);
    // (a) S1 leads term T; only S2 (and the client) can hear it.
    let others: Vec<NodeId> = nodes.iter().copied().filter(|&n| n != s1).collect();
    let s2 = others[choices.partner as usize];
    let rest: Vec<NodeId> = others.iter().copied().filter(|&n| n != s2).collect();
    now(
        sim,
        vec![
            Fault::Heal,
            Fault::Partition(vec![
                vec![Addr::Node(s1), Addr::Node(s2), CLIENT],
                addrs(&rest),
            ]),
        ],
    );
    let i = c + 1;
    let t = sim.durable(s1).current_term();
    if !step_until(sim, 3_000, |sim| {
        sim.durable(s2).term_at(i) == Some(t) && sim.node(s1).is_some_and(Node::is_leader)
    }) {
        return Err("(a): S2 never got S1's entry".into());
    }
    sim.run_until(sim.now().plus(ms(choices.crash_delay_ms)));
    now(sim, vec![Fault::Crash(s1), client_cut()]);

    debug(sim, "(a) done", i);
    // (b) S5 is elected by the other three in a higher term and takes a different entry
    // at index i; it alone hears the client.
    if !step_until(sim, 3_000, |sim| leader_among(sim, &rest).is_some()) {
        return Err("(b): no leader among S3-S5".into());
    }
    let s5 = leader_among(sim, &rest).unwrap();
    let t5 = sim.durable(s5).current_term();
    let s34: Vec<NodeId> = rest.iter().copied().filter(|&n| n != s5).collect();
    now(
        sim,
        vec![
            Fault::Heal,
            Fault::Partition(vec![
                vec![Addr::Node(s1), Addr::Node(s2)],
                addrs(&s34),
                vec![Addr::Node(s5), CLIENT],
            ]),
        ],
    );
    if !step_until(sim, 3_000, |sim| {
        sim.durable(s5).term_at(i) == Some(t5) && sim.durable(s5).last_index() == i
    }) {
        return Err("(b): S5 never took the client's entry".into());
    }
    assert!(t5 > t, "S5's term {t5} is above S1's {t}");
    now(sim, vec![Fault::Crash(s5), Fault::Heal, client_cut()]);

    debug(sim, "(b) done", i);
    // (c) S1 restarts; S1 or S2 (the servers with the term-T entry) is elected in a term
    // above T' and copies the entry to a majority.
    now(sim, vec![Fault::Restart(s1)]);
    if choices.client_in_c {
        now(sim, vec![Fault::Heal]);
    }
    let pair = [s1, s2];
    if !step_until(sim, 5_000, |sim| {
        leader_among(sim, &pair).is_some() && holders(sim, i, t) > NODES as usize / 2
    }) {
        return Err(format!(
            "(c): no leader with the term-T entry on a majority: {}",
            dump(sim, i)
        ));
    }
    sim.run_until(sim.now().plus(ms(choices.crash_delay_ms)));
    let Some(leader_c) = leader_among(sim, &pair) else {
        return Err("(c): the leader was gone after the delay".into());
    };
    *c_commit = Some((sim.node(leader_c).unwrap().commit_index(), i));
    now(sim, vec![Fault::Crash(leader_c)]);

    debug(sim, "(c) done", i);
    // (d) S5 restarts and is elected by the others; it overwrites index i.
    let other = if leader_c == s1 { s2 } else { s1 };
    let mut faults = vec![Fault::Heal, client_cut(), Fault::Restart(s5)];
    match choices.cut_in_d {
        0 => faults.push(Fault::Bridge {
            left: vec![Addr::Node(other)],
            middle: vec![Addr::Node(s5)],
            right: addrs(&s34),
        }),
        1 => {}
        _ => faults.push(Fault::Partition(vec![
            vec![Addr::Node(s5), Addr::Node(s34[0])],
            vec![Addr::Node(other), Addr::Node(s34[1])],
        ])),
    }
    now(sim, faults);
    if !step_until(sim, 5_000, |sim| sim.node(s5).is_some_and(Node::is_leader)) {
        return Err("(d): S5 was not elected".into());
    }
    if sim.stats().violations > 0 {
        return Ok(());
    }
    // S5 overwrites index i on every live server.
    if !step_until(sim, 2_000, |sim| {
        nodes
            .iter()
            .all(|&n| n == leader_c || sim.durable(n).term_at(i) == Some(t5))
    }) {
        return Err(format!(
            "(d): S5 did not overwrite index {i}: {}",
            dump(sim, i)
        ));
    }
    Ok(())
}

fn first_violation(report: &Report) -> Option<&Violation> {
    report.violations.first()
}

fn overwrite_checks(v: &Violation) -> bool {
    v.check == "leader-completeness" || v.check == "state-machine-safety"
}

// Raft §5.4.2, Figure 8: the figure's schedule, step by step. With the knob a leader
// counts its earlier-term entry as committed in (c), and S5 overwrites it in (d): the
// checkers report it. Without the knob the same schedule is safe: the entry was never
// committed, so overwriting it loses nothing, and the history is linearizable.
#[test]
fn raft_5_4_2_figure_8() {
    let seed = 1;
    let choices = Choices::figure();

    let bad = figure_8(&setup(true), seed, &choices);
    let (commit, i) = bad
        .c_commit
        .unwrap_or_else(|| panic!("{:?}", bad.reached_d));
    assert!(
        commit >= i,
        "(c): with the knob the leader counts index {i} as committed (commit {commit})"
    );
    assert_eq!(bad.reached_d, Ok(()));
    assert_eq!(bad.report.end, EndReason::Violation);
    let v = first_violation(&bad.report).expect("a violation");
    assert_eq!(v.check, "leader-completeness", "{v:?}");
    assert!(
        v.message.contains(&format!("index {i}")),
        "the violation names index {i}: {}",
        v.message
    );

    let good = figure_8(&setup(false), seed, &choices);
    let (commit, i) = good
        .c_commit
        .unwrap_or_else(|| panic!("{:?}", good.reached_d));
    assert!(
        commit < i,
        "(c): without the knob index {i} is not committed (commit {commit})"
    );
    assert_eq!(good.reached_d, Ok(()), "the same schedule reaches (d)");
    assert!(
        good.report.violations.is_empty(),
        "{:?}",
        good.report.violations
    );
    assert_linearizable(&good.report.history, "");
}

// Raft §5.4.2, Figure 8: a seed sweep over the figure-shaped driver, the seed choosing
// partners, delays, whether the client reaches (c)'s leader, and how (d) is cut. With the
// knob a violation is found within 1,000 seeds; without it the same 1,000 seeds are all
// safe, and some of them do reach the figure's step (d).
#[test]
fn raft_5_4_2_figure_8_sweep() {
    let on = setup(true);
    let found = (0..1_000).find_map(|seed| {
        let out = figure_8(&on, seed, &Choices::from_seed(seed));
        first_violation(&out.report).map(|v| (seed, v.clone()))
    });
    let (seed, v) = found.expect("Figure 8 is found within 1,000 seeds with the knob on");
    assert!(overwrite_checks(&v), "seed {seed}: {v:?}");

    let off = setup(false);
    let mut reached = 0;
    for seed in 0..1_000 {
        let out = figure_8(&off, seed, &Choices::from_seed(seed));
        reached += u32::from(out.reached_d.is_ok());
        assert!(
            out.report.violations.is_empty(),
            "knob off, seed {seed} ({:?}): {:?}",
            Choices::from_seed(seed),
            out.report.violations
        );
    }
    assert!(
        reached > 0,
        "the knob-off sweep reaches Figure 8 (d) in some seeds"
    );
}
