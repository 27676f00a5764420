//! Targeted faults (`Fault::Targeted`: whoever leads when the fault happens) and
//! crash-after-send (`Fault::CrashAfterSend`), each shown reaching what a fault drawn in
//! advance cannot, and each shown not firing where it must not.

use sim_core::*;

/// A node that leads when its id is the configured leader's; every 10ms it sends one
/// `Beat` to each peer (the only message kind).
#[derive(Debug, Clone)]
struct Node {
    leads: bool,
}

#[derive(Debug, Clone)]
enum Msg {
    Beat,
}

#[derive(Clone, Debug)]
struct Config {
    leader: Option<u32>,
}

impl Process for Node {
    type Config = Config;
    type Msg = Msg;
    type Timer = ();
    type Durable = ();
    type Request = ();
    type Response = ();

    fn start(ctx: &mut Ctx<'_, Self>) -> Self {
        ctx.set_timer(Duration::from_millis(10), ());
        Node {
            leads: ctx.config().leader == Some(ctx.id().0),
        }
    }

    fn on_message(&mut self, _: &mut Ctx<'_, Self>, _: NodeId, _: Msg) {}

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _: ()) {
        ctx.broadcast(Msg::Beat);
        ctx.set_timer(Duration::from_millis(10), ());
    }

    fn leads(&self) -> bool {
        self.leads
    }
}

fn sim(seed: u64, leader: Option<u32>) -> Simulation<Node> {
    let mut c = SimConfig::new(seed, 5, Limits::time(Duration::from_millis(200)));
    c.trace = TraceLevel::Summary;
    Simulation::new(c, Config { leader }, ()).expect("valid")
}

fn at(ms: u64) -> Time {
    Time::ZERO.plus(Duration::from_millis(ms))
}

fn targeted(pick: Pick, fault: Fault) -> Fault {
    Fault::Targeted {
        pick,
        fault: Box::new(fault),
    }
}

#[test]
fn a_targeted_fault_reaches_the_leader_and_its_end_the_same_node() {
    for leader in 0..5 {
        let mut s = sim(1, Some(leader));
        // Written for n1 (the placeholder): it must reach the leader instead.
        s.schedule(at(50), targeted(Pick::Leader(7), Fault::Crash(NodeId(0))));
        s.schedule(at(80), targeted(Pick::Slot(7), Fault::Restart(NodeId(0))));
        let r = s.run();
        let text = r.trace.to_text();
        let name = format!("n{}", leader + 1);
        assert!(text.contains(&format!("!! crash {name}")), "{text}");
        assert!(text.contains(&format!("!! restart {name}")), "{text}");
        assert_eq!((r.stats.crashes, r.stats.restarts), (1, 1));
    }
}

#[test]
fn with_no_leader_a_running_node_is_picked_and_with_none_running_it_is_skipped() {
    let mut s = sim(2, None);
    s.schedule(at(50), targeted(Pick::Leader(1), Fault::Pause(NodeId(0))));
    s.schedule(at(90), targeted(Pick::Slot(1), Fault::Resume(NodeId(0))));
    let text = s.run().trace.to_text();
    assert!(text.contains("!! pause n"), "{text}");
    assert!(text.contains("!! resume n"), "{text}");

    let mut s = sim(2, Some(0));
    for n in 0..5 {
        s.schedule(at(20), Fault::Crash(NodeId(n)));
    }
    s.schedule(at(50), targeted(Pick::Leader(1), Fault::Isolate(NodeId(0))));
    // A slot nothing filled reaches nobody either.
    s.schedule(at(60), targeted(Pick::Slot(9), Fault::Restart(NodeId(0))));
    let r = s.run();
    let text = r.trace.to_text();
    assert!(text.contains("isolate on slot 1 skipped"), "{text}");
    assert!(text.contains("restart on slot 9 skipped"), "{text}");
    assert_eq!(r.stats.restarts, 0);
}

fn crash_after_send(p: f64, kind: Option<u32>) -> Report {
    let mut s = sim(3, None);
    s.schedule(
        Time::ZERO,
        Fault::CrashAfterSend {
            p: Probability::new(p).unwrap(),
            restart: (Duration::from_millis(1), Duration::from_millis(3)),
            kind,
            node: None,
            leader: false,
            partial: false,
            until: at(100),
        },
    );
    s.run()
}

#[test]
fn crash_after_send_crashes_right_after_a_send_and_only_while_in_force() {
    let r = crash_after_send(1.0, None);
    let text = r.trace.to_text();
    // Every node's first beat (at 10ms) is followed by its crash at that instant.
    assert!(r.stats.crashes >= 5, "{text}");
    assert!(text.contains("10.000ms  !! crash n1"), "{text}");
    assert_eq!(r.stats.crashes, r.stats.restarts, "each crash restarts");
    // Nothing after `until`.
    let late = r.trace.events.iter().any(|e| {
        e.time > at(103)
            && matches!(&e.kind, TraceKind::Fault { fault } if fault.starts_with("crash"))
    });
    assert!(!late, "{text}");
    assert_eq!(crash_after_send(0.0, None).stats.crashes, 0);
}

#[test]
fn crash_after_send_of_one_kind_ignores_the_others() {
    // Kind 0 is `Beat`, the only kind sent: it fires; kind 1 is never sent: nothing does.
    assert!(crash_after_send(1.0, Some(0)).stats.crashes >= 5);
    assert_eq!(crash_after_send(1.0, Some(1)).stats.crashes, 0);
}

#[test]
fn crash_after_send_aimed_at_one_node_crashes_only_that_node() {
    let mut s = sim(3, None);
    s.schedule(
        Time::ZERO,
        Fault::CrashAfterSend {
            p: Probability::new(1.0).unwrap(),
            restart: (Duration::from_millis(1), Duration::from_millis(3)),
            kind: None,
            node: Some(NodeId(2)),
            leader: false,
            partial: false,
            until: at(100),
        },
    );
    let r = s.run();
    let text = r.trace.to_text();
    assert!(r.stats.crashes >= 5, "n3 crashes after each beat: {text}");
    let crashed: std::collections::BTreeSet<&str> = r
        .trace
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            TraceKind::Fault { fault } => fault.strip_prefix("crash "),
            _ => None,
        })
        .collect();
    assert_eq!(crashed.into_iter().collect::<Vec<_>>(), ["n3"], "{text}");
}

fn clog_after_send(kind: Option<u32>) -> Report {
    let mut c = SimConfig::new(3, 5, Limits::time(Duration::from_millis(200)));
    c.trace = TraceLevel::Full;
    let mut s: Simulation<Node> = Simulation::new(c, Config { leader: None }, ()).expect("valid");
    s.schedule(
        Time::ZERO,
        Fault::ClogAfterSend {
            p: Probability::new(1.0).unwrap(),
            lasting: (Duration::from_millis(35), Duration::from_millis(35)),
            kind,
            until: at(100),
        },
    );
    s.run()
}

#[test]
fn clog_after_send_holds_the_senders_links_for_a_while_and_only_while_in_force() {
    let r = clog_after_send(Some(0));
    let text = r.trace.to_text();
    // Each node's first beat (10ms) clogs it until 45ms: its beats of 20-40ms are held,
    // so nothing from n1 arrives between 20ms and 45ms, and it is not clogged again until
    // then (one clog at a time per node).
    let clogs: Vec<(Time, &str)> = r
        .trace
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            TraceKind::Fault { fault } if fault.starts_with("clog n") => Some((e.time, &fault[..])),
            _ => None,
        })
        .collect();
    assert!(
        clogs
            .iter()
            .any(|(t, f)| *t == at(10) && f.starts_with("clog n1 until 45ms")),
        "{text}"
    );
    let n1: Vec<Time> = clogs
        .iter()
        .filter(|(_, f)| f.starts_with("clog n1 "))
        .map(|(t, _)| *t)
        .collect();
    assert!(
        n1.windows(2)
            .all(|w| w[1] >= w[0].plus(Duration::from_millis(35))),
        "{text}"
    );
    assert!(clogs.iter().all(|(t, _)| *t < at(100)), "{text}");
    let from_n1_held = text.lines().any(|l| {
        let ms: f64 = l
            .split_whitespace()
            .next()
            .and_then(|t| t.strip_suffix("ms"))
            .and_then(|t| t.parse().ok())
            .unwrap_or(-1.0);
        ms > 20.0 && ms < 45.0 && l.contains("<- n1 ")
    });
    assert!(!from_n1_held, "{text}");
    assert!(r.engine_error.is_none(), "{text}");
    // A kind never sent clogs nobody.
    let none = clog_after_send(Some(1));
    assert!(!none.trace.to_text().contains("!! clog n"));
}

#[test]
fn a_nemesis_targeting_the_leader_writes_targeted_faults_and_random_writes_none() {
    let n = Nemesis {
        faults: vec![NemesisFault::CrashRestart, NemesisFault::Isolate],
        start: Duration::ZERO,
        stop: Duration::from_secs(10),
        interval_min: Duration::from_millis(100),
        interval_max: Duration::from_millis(300),
        duration_min: Duration::from_millis(50),
        duration_max: Duration::from_millis(200),
        max_skew: Duration::ZERO,
    };
    let plain = NemesisOptions::default();
    let schedule = n.schedule_with(&plain, &mut SimRng::new(4, "nemesis"), 5);
    assert!(
        !schedule
            .iter()
            .any(|(_, f)| matches!(f, Fault::Targeted { .. }))
    );
    assert_eq!(schedule, n.schedule(&mut SimRng::new(4, "nemesis"), 5));
    let leader = NemesisOptions {
        targets: [Target::Leader; 9],
        ..plain
    };
    let schedule = n.schedule_with(&leader, &mut SimRng::new(4, "nemesis"), 5);
    let mut open = std::collections::BTreeMap::new();
    for (_, f) in &schedule {
        match f {
            Fault::Targeted {
                pick: Pick::Leader(k),
                fault,
            } => {
                assert!(open.insert(*k, fault.kind()).is_none(), "slot {k} reused");
            }
            Fault::Targeted {
                pick: Pick::Slot(k),
                fault,
            } => {
                assert_eq!(open.remove(k), Some("crash"), "{fault:?} ends slot {k}");
            }
            Fault::Heal => {}
            other => panic!("not targeted: {other:?}"),
        }
    }
    assert!(schedule.len() > 20);
}
