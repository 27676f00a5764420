//! The engine's promises, each tested: determinism, and the semantics of every fault.

use proptest::prelude::*;
use sim_core::*;

/// A probe node: every `period` it sends a numbered message to each peer; it remembers what
/// it received (volatile) and how many times it started (durable).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Probe {
    seq: u64,
    received: Vec<(NodeId, u64)>,
    cancelled: Option<TimerId>,
}

#[derive(Debug, Default)]
struct Boots(u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tick {
    Send,
    NeverFires,
}

#[derive(Clone, Debug)]
struct ProbeConfig {
    period: Duration,
    sends: u64,
}

impl Process for Probe {
    type Config = ProbeConfig;
    type Msg = u64;
    type Timer = Tick;
    type Durable = Boots;
    type Request = ();
    type Response = ();

    fn start(ctx: &mut Ctx<'_, Self>) -> Self {
        ctx.durable_mut().0 += 1;
        let period = ctx.config().period;
        ctx.set_timer(period, Tick::Send);
        let doomed = ctx.set_timer(Duration::from_millis(1), Tick::NeverFires);
        ctx.cancel_timer(doomed);
        Probe {
            seq: 0,
            received: Vec::new(),
            cancelled: Some(doomed),
        }
    }

    fn on_message(&mut self, _ctx: &mut Ctx<'_, Self>, from: NodeId, msg: u64) {
        self.received.push((from, msg));
    }

    /// What [`CountCalls`] reads: how many messages it received.
    fn check_stamp(&self, _durable: &Boots) -> Option<CheckStamp> {
        Some([self.received.len() as u64, 0, 0, 0, 0, 0])
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: Tick) {
        assert_eq!(timer, Tick::Send, "a cancelled timer fired");
        if self.seq < ctx.config().sends {
            self.seq += 1;
            ctx.broadcast(self.seq);
            let period = ctx.config().period;
            ctx.set_timer(period, Tick::Send);
        }
    }
}

fn config(seed: u64, nodes: usize, millis: u64) -> SimConfig {
    let mut c = SimConfig::new(seed, nodes, Limits::time(Duration::from_millis(millis)));
    c.link = LinkConfig {
        latency: Latency::Constant(Duration::from_millis(5)),
        ..LinkConfig::default()
    };
    c
}

fn probe(c: SimConfig) -> Simulation<Probe> {
    Simulation::new(
        c,
        ProbeConfig {
            period: Duration::from_millis(100),
            sends: 10,
        },
        (),
    )
    .unwrap()
}

fn ms(m: u64) -> Time {
    Time::from_nanos(m * 1_000_000)
}

fn got(sim: &Simulation<Probe>, to: u32, from: u32) -> Vec<u64> {
    sim.node(NodeId(to))
        .unwrap()
        .received
        .iter()
        .filter(|(f, _)| f.0 == from)
        .map(|(_, s)| *s)
        .collect()
}

#[test]
fn a_quiet_network_delivers_everything_in_order() {
    let mut sim = probe(config(1, 3, 2_000));
    let r = sim.run();
    assert_eq!(r.end, EndReason::Quiescent);
    assert_eq!(r.stats.sends, 3 * 2 * 10);
    assert_eq!(r.stats.deliveries, r.stats.sends);
    assert_eq!(got(&sim, 1, 0), (1..=10).collect::<Vec<_>>());
    assert!(sim.node(NodeId(0)).unwrap().cancelled.is_some());
}

#[test]
fn a_crashed_node_receives_nothing_and_forgets_volatile_state() {
    let mut sim = probe(config(1, 3, 2_000));
    sim.schedule(ms(250), Fault::Crash(NodeId(2)));
    sim.schedule(ms(650), Fault::Restart(NodeId(2)));
    let r = sim.run();
    // n3 was down for sends 3..=6 of n1 (at 300, 400, 500, 600ms, arriving 5ms later).
    let n3 = got(&sim, 2, 0);
    assert!(n3.iter().all(|s| !(3..=6).contains(s)), "{n3:?}");
    assert_eq!(
        n3,
        (7..=10).collect::<Vec<_>>(),
        "volatile state restarted empty"
    );
    assert_eq!(
        sim.durable(NodeId(2)).0,
        2,
        "durable storage survived: two boots"
    );
    assert_eq!(
        r.stats.drops_down, 8,
        "4 sends from each of 2 peers were lost"
    );
    let text = r.trace.to_text();
    assert!(text.contains("!! crash n3"));
    assert!(text.contains("n1 -x n3  3  (lost: down)"));
    assert!(text.contains("n3 restart"));
}

#[test]
fn a_partition_drops_across_the_cut_and_delivers_inside() {
    let mut sim = probe(config(1, 5, 2_000));
    let g = |ids: &[u32]| {
        ids.iter()
            .map(|&i| Addr::Node(NodeId(i)))
            .collect::<Vec<_>>()
    };
    sim.schedule(ms(150), Fault::Partition(vec![g(&[0, 1]), g(&[2, 3, 4])]));
    sim.schedule(ms(450), Fault::Heal);
    let r = sim.run();
    // Sends at 200, 300, 400ms (seq 2..=4) cross the cut and are lost; inside, all arrive.
    assert_eq!(got(&sim, 1, 0), (1..=10).collect::<Vec<_>>());
    assert_eq!(got(&sim, 3, 2), (1..=10).collect::<Vec<_>>());
    let across = got(&sim, 2, 0);
    assert_eq!(across, [1, 5, 6, 7, 8, 9, 10]);
    assert_eq!(
        r.stats.drops_partition,
        3 * (2 * 3 * 2),
        "3 rounds x 12 cross links"
    );
}

#[test]
fn messages_in_flight_across_a_new_cut_are_lost() {
    let mut sim = probe(config(1, 2, 2_000));
    // n1 sends seq 1 at 100ms, arriving at 105ms; the cut comes at 102ms and heals at 103ms.
    let g = |i: u32| vec![Addr::Node(NodeId(i))];
    sim.schedule(ms(102), Fault::Partition(vec![g(0), g(1)]));
    sim.schedule(ms(103), Fault::Heal);
    let r = sim.run();
    assert_eq!(got(&sim, 1, 0), (2..=10).collect::<Vec<_>>());
    assert_eq!(r.stats.drops_partition, 2);
}

#[test]
fn one_way_cuts_are_one_way() {
    let mut sim = probe(config(1, 2, 2_000));
    let n = |i: u32| vec![Addr::Node(NodeId(i))];
    sim.schedule(
        ms(0),
        Fault::OneWay {
            from: n(0),
            to: n(1),
        },
    );
    sim.run();
    assert!(got(&sim, 1, 0).is_empty(), "n1 -> n2 is cut");
    assert_eq!(
        got(&sim, 0, 1),
        (1..=10).collect::<Vec<_>>(),
        "n2 -> n1 works"
    );
}

#[test]
fn a_bridge_node_reaches_both_sides() {
    let mut sim = probe(config(1, 3, 2_000));
    let n = |i: u32| vec![Addr::Node(NodeId(i))];
    sim.schedule(
        ms(0),
        Fault::Bridge {
            left: n(0),
            middle: n(1),
            right: n(2),
        },
    );
    sim.run();
    assert!(got(&sim, 2, 0).is_empty() && got(&sim, 0, 2).is_empty());
    for (a, b) in [(0, 1), (1, 0), (1, 2), (2, 1)] {
        assert_eq!(got(&sim, b, a).len(), 10, "{a} -> {b}");
    }
}

#[test]
fn isolate_cuts_one_node_off() {
    let mut sim = probe(config(1, 3, 2_000));
    sim.schedule(ms(0), Fault::Isolate(NodeId(1)));
    sim.run();
    assert!(got(&sim, 1, 0).is_empty() && got(&sim, 0, 1).is_empty());
    assert_eq!(got(&sim, 2, 0).len(), 10);
}

#[test]
fn a_pause_delays_and_does_not_drop() {
    let mut sim = probe(config(1, 2, 5_000));
    sim.schedule(ms(150), Fault::Pause(NodeId(1)));
    sim.schedule(ms(950), Fault::Resume(NodeId(1)));
    let r = sim.run();
    assert_eq!(r.stats.drops(), 0);
    assert_eq!(
        got(&sim, 1, 0),
        (1..=10).collect::<Vec<_>>(),
        "all arrive, in order"
    );
    // While paused, n2's own timer waited too: it sent nothing between 150ms and 950ms.
    let text = r.trace.to_text();
    let sends_while_paused = text
        .lines()
        .filter(|l| l.contains("n2 -> n1"))
        .filter(|l| {
            let t: f64 = l.trim_start().split("ms").next().unwrap().parse().unwrap();
            (151.0..950.0).contains(&t)
        })
        .count();
    assert_eq!(sends_while_paused, 0, "{text}");
    assert!(
        text.contains("   950.000ms  n2 <- n1  2"),
        "parked messages arrive at resume:\n{text}"
    );
}

/// Virtual times (ms) at which n2 received each of n1's messages, in arrival order.
fn arrivals(text: &str) -> Vec<(f64, u64)> {
    text.lines()
        .filter(|l| l.contains("n2 <- n1"))
        .map(|l| {
            let t: f64 = l.trim_start().split("ms").next().unwrap().parse().unwrap();
            let seq: u64 = l.rsplit(' ').next().unwrap().parse().unwrap();
            (t, seq)
        })
        .collect()
}

#[test]
fn a_slow_link_adds_latency_until_it_ends() {
    let mut sim = probe(config(1, 2, 3_000));
    sim.schedule(
        ms(150),
        Fault::Slow {
            on: DelayOn::Link {
                from: Addr::Node(NodeId(0)),
                to: Addr::Node(NodeId(1)),
            },
            by: Latency::Constant(Duration::from_millis(400)),
            until: ms(450),
        },
    );
    let r = sim.run();
    assert_eq!(r.stats.drops(), 0);
    let text = r.trace.to_text();
    let a = arrivals(&text);
    // Sent at 200, 300, 400 ms (inside the slow-down): 5 + 400 ms late; 100 and 500 not.
    assert!(a.contains(&(105.0, 1)) && a.contains(&(505.0, 5)), "{text}");
    for (sent, seq) in [(200.0, 2), (300.0, 3), (400.0, 4)] {
        assert!(a.contains(&(sent + 405.0, seq)), "{seq} late: {a:?}");
    }
    // Only that direction: n2's messages to n1 are on time.
    assert!(text.contains("   205.000ms  n1 <- n2  2"), "{text}");
    assert!(text.contains("slow n1 -> n2 by Constant(\"400ms\") until 450ms"));
}

#[test]
fn a_clog_holds_messages_and_releases_them_reordered() {
    let mut c = config(3, 2, 5_000);
    c.link.latency = Latency::Constant(Duration::from_millis(1));
    let mut sim: Simulation<Probe> = Simulation::new(
        c,
        ProbeConfig {
            period: Duration::from_millis(10),
            sends: 60,
        },
        (),
    )
    .unwrap();
    sim.schedule(
        ms(100),
        Fault::Clog {
            on: DelayOn::Endpoint(Addr::Node(NodeId(1))),
            until: ms(400),
        },
    );
    let r = sim.run();
    assert_eq!(r.stats.drops(), 0, "a clog delays, it does not drop");
    let a = arrivals(&r.trace.to_text());
    assert_eq!(a.len(), 60);
    let held: Vec<&(f64, u64)> = a
        .iter()
        .filter(|(t, _)| *t >= 400.0 && *t < 430.0)
        .collect();
    // Sent at 100..=390 ms: all held past the clog's end, released within the spread.
    assert!(held.len() >= 29, "{a:?}");
    assert!(!a.iter().any(|(t, _)| (101.0..400.0).contains(t)), "{a:?}");
    let seqs: Vec<u64> = held.iter().map(|(_, s)| *s).collect();
    let mut sorted = seqs.clone();
    sorted.sort_unstable();
    assert_ne!(seqs, sorted, "released in an order drawn from the seed");
    // Determinism: the same seed releases in the same order.
    let again = {
        let mut c = config(3, 2, 5_000);
        c.link.latency = Latency::Constant(Duration::from_millis(1));
        let mut sim: Simulation<Probe> = Simulation::new(
            c,
            ProbeConfig {
                period: Duration::from_millis(10),
                sends: 60,
            },
            (),
        )
        .unwrap();
        sim.schedule(
            ms(100),
            Fault::Clog {
                on: DelayOn::Endpoint(Addr::Node(NodeId(1))),
                until: ms(400),
            },
        );
        sim.run()
    };
    assert_eq!(again.fingerprint, r.fingerprint);
}

#[test]
fn a_long_tail_is_mostly_fast_with_a_few_very_slow() {
    let shape = Latency::LongTail {
        min: Duration::from_millis(1),
        max: Duration::from_millis(10),
        slow: Probability::new(0.05).unwrap(),
        slow_min: Duration::from_millis(200),
        slow_max: Duration::from_millis(600),
    };
    shape.validate().unwrap();
    let mut rng = SimRng::new(4, "t");
    let draws: Vec<Duration> = (0..10_000).map(|_| shape.sample(&mut rng)).collect();
    let slow = draws
        .iter()
        .filter(|d| **d >= Duration::from_millis(200))
        .count();
    assert!((350..650).contains(&slow), "about 5% slow: {slow}");
    assert!(draws.iter().all(|d| *d <= Duration::from_millis(600)
        && (*d <= Duration::from_millis(10) || *d >= Duration::from_millis(200))));
}

#[test]
fn duplication_delivers_twice() {
    let mut c = config(1, 2, 2_000);
    c.link.duplicate = Probability::ONE;
    let mut sim = probe(c);
    let r = sim.run();
    assert_eq!(r.stats.duplicates, r.stats.sends);
    assert_eq!(r.stats.deliveries, 2 * r.stats.sends);
    let mut seen = got(&sim, 1, 0);
    seen.sort();
    assert_eq!(seen, (1..=10).flat_map(|s| [s, s]).collect::<Vec<_>>());
}

#[test]
fn loss_drops_about_what_it_says() {
    let mut c = config(3, 2, 200_000);
    c.link.loss = Probability::new(0.25).unwrap();
    let mut sim: Simulation<Probe> = Simulation::new(
        c,
        ProbeConfig {
            period: Duration::from_millis(10),
            sends: 4_000,
        },
        (),
    )
    .unwrap();
    let r = sim.run();
    let rate = r.stats.drops_loss as f64 / r.stats.sends as f64;
    assert!((0.22..0.28).contains(&rate), "{rate}");
}

#[test]
fn clock_skew_and_drift_change_what_a_node_reads() {
    let mut sim = probe(config(1, 2, 2_000));
    sim.schedule(
        ms(100),
        Fault::ClockSkew(NodeId(0), "+500ms".parse().unwrap()),
    );
    sim.schedule(ms(100), Fault::ClockDrift(NodeId(1), 100_000));
    sim.run_until(ms(300));
    assert_eq!(sim.wall_clock(NodeId(0)), ms(800));
    assert_eq!(sim.wall_clock(NodeId(1)), ms(320));
}

#[test]
fn drift_stretches_timers() {
    // n1's clock runs 2x slow (-500,000 ppm): its 100ms timers take 200ms of virtual time.
    let mut sim = probe(config(1, 2, 10_000));
    sim.schedule(Time::ZERO, Fault::ClockDrift(NodeId(0), -500_000));
    let r = sim.run();
    let last_send = r
        .trace
        .events
        .iter()
        .filter(|e| matches!(&e.kind, TraceKind::Send { from, .. } if from == "n1"))
        .map(|e| e.time)
        .max()
        .unwrap();
    // The first timer was set at start, before the drift fault (scheduled later at the same
    // instant) applied: 100ms, then nine more at 200ms each.
    assert_eq!(last_send, ms(100 + 9 * 200));
}

#[test]
fn limits_bound_the_run() {
    let mut sim = probe(config(1, 3, 250));
    let r = sim.run();
    assert_eq!(r.end, EndReason::TimeLimit);
    assert_eq!(r.end_time, ms(250));
    let mut c = config(1, 3, 10_000);
    c.limits.max_events = Some(17);
    let r = probe(c).run();
    assert_eq!(r.end, EndReason::EventLimit);
    assert_eq!(r.stats.events, 17);
    let mut c = config(1, 3, 10_000);
    c.limits = Limits {
        max_time: None,
        max_events: None,
    };
    assert!(
        Simulation::<Probe>::new(
            c,
            ProbeConfig {
                period: Duration::ZERO,
                sends: 0
            },
            ()
        )
        .err()
        .unwrap()
        .contains("a run needs a bound")
    );
}

#[test]
fn restart_of_a_live_node_is_ignored_and_says_so() {
    let mut sim = probe(config(1, 2, 300));
    sim.schedule(ms(10), Fault::Restart(NodeId(0)));
    let r = sim.run();
    assert!(
        r.trace
            .to_text()
            .contains("!! restart n1 ignored: it is not crashed")
    );
    assert_eq!(sim.durable(NodeId(0)).0, 1);
}

/// A checker that fails once any node has received 5 messages.
struct AtMostFour;

impl Checker<Probe> for AtMostFour {
    fn name(&self) -> &str {
        "at-most-four"
    }
    fn after_event(&mut self, view: &View<'_, Probe>, node: NodeId) -> Result<(), String> {
        match view.node(node) {
            Some(p) if p.received.len() > 4 => {
                Err(format!("{} received {}", view.name(node), p.received.len()))
            }
            _ => Ok(()),
        }
    }
}

#[test]
fn a_failing_checker_stops_the_run_with_a_violation() {
    let mut sim = probe(config(1, 2, 2_000));
    sim.add_checker(Box::new(AtMostFour));
    let r = sim.run();
    assert_eq!(r.end, EndReason::Violation);
    assert_eq!(r.violations.len(), 1);
    assert_eq!(r.violations[0].check, "at-most-four");
    assert_eq!(r.violations[0].time, ms(505));
    assert!(
        r.trace
            .to_text()
            .ends_with("   505.000ms  !! VIOLATION at-most-four: n2 received 5\n"),
        "{}",
        r.trace.to_text()
    );
}

/// Counts its calls after events; says it reads only the stamp places `reads`.
struct CountCalls {
    reads: Option<u8>,
    calls: std::rc::Rc<std::cell::Cell<u64>>,
}

impl Checker<Probe> for CountCalls {
    fn name(&self) -> &str {
        "count-calls"
    }
    fn after_event(&mut self, _view: &View<'_, Probe>, _node: NodeId) -> Result<(), String> {
        self.calls.set(self.calls.get() + 1);
        Ok(())
    }
    fn reads_only_stamp(&self) -> Option<u8> {
        self.reads
    }
}

/// Calls of a counter reading stamp places `reads`, and of one reading more beside it
/// (if `beside`), in a run of 3 probes, with or without [`Simulation::judge_every_event`];
/// and the deliveries.
fn count_calls(reads: u8, beside: bool, every: bool) -> (u64, Option<u64>, u64) {
    let mut sim = probe(config(1, 3, 2_000));
    if every {
        sim.judge_every_event();
    }
    let stamped = std::rc::Rc::new(std::cell::Cell::new(0));
    let other = std::rc::Rc::new(std::cell::Cell::new(0));
    sim.add_checker(Box::new(CountCalls {
        reads: Some(reads),
        calls: stamped.clone(),
    }));
    if beside {
        sim.add_checker(Box::new(CountCalls {
            reads: None,
            calls: other.clone(),
        }));
    }
    let r = sim.run();
    (
        stamped.get(),
        beside.then(|| other.get()),
        r.stats.deliveries,
    )
}

#[test]
fn checkers_that_read_only_the_stamp_skip_events_that_leave_it_unchanged() {
    // The probes' timers change no stamp: only the starts and the deliveries are judged.
    let (calls, _, deliveries) = count_calls(1, false, false);
    assert_eq!(deliveries, 60);
    assert_eq!(calls, 3 + deliveries);
    // Place 1 never changes: only the starts.
    assert_eq!(count_calls(2, false, false).0, 3);
    // Every handler is judged when one checker reads more, or when the test switch says.
    let (all, _, _) = count_calls(1, false, true);
    assert!(all > calls + 30, "{all} calls, {calls} skipping");
    assert_eq!(count_calls(2, false, true).0, all);
    assert_eq!(count_calls(1, true, false), (all, Some(all), deliveries));
}

// ----- determinism --------------------------------------------------------------------

fn chaotic(seed: u64, level: TraceLevel) -> Report {
    let mut c = SimConfig::new(seed, 5, Limits::time(Duration::from_secs(3)));
    c.trace = level;
    c.link = LinkConfig {
        latency: Latency::Normal {
            mean: Duration::from_millis(8),
            std_dev: Duration::from_millis(4),
            min: Duration::from_millis(1),
            max: Duration::from_millis(40),
        },
        loss: Probability::new(0.1).unwrap(),
        duplicate: Probability::new(0.05).unwrap(),
    };
    let mut sim: Simulation<Probe> = Simulation::new(
        c,
        ProbeConfig {
            period: Duration::from_millis(20),
            sends: 100,
        },
        (),
    )
    .unwrap();
    let nemesis = Nemesis {
        faults: vec![
            NemesisFault::PartitionHalves,
            NemesisFault::Bridge,
            NemesisFault::Isolate,
            NemesisFault::CrashRestart,
            NemesisFault::Pause,
            NemesisFault::ClockSkew,
        ],
        start: Duration::from_millis(100),
        stop: Duration::from_millis(2_500),
        interval_min: Duration::from_millis(50),
        interval_max: Duration::from_millis(300),
        duration_min: Duration::from_millis(50),
        duration_max: Duration::from_millis(400),
        max_skew: Duration::from_millis(200),
    };
    for (t, f) in nemesis.schedule(&mut SimRng::new(seed, "nemesis"), 5) {
        sim.schedule(t, f);
    }
    sim.run()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn same_seed_same_trace(seed in any::<u64>()) {
        let a = chaotic(seed, TraceLevel::Full);
        let b = chaotic(seed, TraceLevel::Full);
        prop_assert_eq!(a.trace.to_text(), b.trace.to_text());
        prop_assert_eq!(a.trace.text_hash(), b.trace.text_hash());
        prop_assert_eq!(a.fingerprint, b.fingerprint);
        prop_assert_eq!(a.stats, b.stats);
        // The trace level changes what is recorded, never what happens.
        let off = chaotic(seed, TraceLevel::Off);
        prop_assert_eq!(off.fingerprint, a.fingerprint);
        prop_assert!(off.trace.events.is_empty());
        let summary = chaotic(seed, TraceLevel::Summary);
        prop_assert_eq!(summary.trace.to_text(), a.trace.summary_text());
    }

    #[test]
    fn different_seeds_different_traces(seed in 0u64..u64::MAX) {
        let a = chaotic(seed, TraceLevel::Off);
        let b = chaotic(seed + 1, TraceLevel::Off);
        prop_assert_ne!(a.fingerprint, b.fingerprint);
    }
}

#[test]
fn a_trace_budget_bounds_the_trace_not_the_run() {
    let whole = probe(config(3, 3, 2_000)).run();
    let mut c = config(3, 3, 2_000);
    c.trace_budget = TraceBudget {
        full_from: Time::ZERO,
        max_events: 40,
    };
    let cut = probe(c).run();
    // The run is the same; only what it recorded differs.
    assert_eq!(
        (cut.fingerprint, cut.stats, cut.end_time, cut.end),
        (whole.fingerprint, whole.stats, whole.end_time, whole.end)
    );
    assert_eq!(whole.trace_cut, None);
    let t = cut.trace_cut.expect("the budget ran out");
    assert_eq!(
        cut.trace.level,
        TraceLevel::Full,
        "the level it recorded at"
    );
    assert!(cut.trace.events.len() <= 40 && !cut.trace.events.is_empty());
    // Every event before the cut, and none at or after it.
    let before: Vec<&TraceEvent> = whole.trace.events.iter().filter(|e| e.time < t).collect();
    assert_eq!(cut.trace.events.iter().collect::<Vec<_>>(), before);
    assert!(whole.trace.events.iter().any(|e| e.time == t));

    // Before `full_from`, only the summary events.
    let mut c = config(3, 3, 2_000);
    c.trace_budget = TraceBudget {
        full_from: ms(500),
        max_events: usize::MAX,
    };
    let late = probe(c).run();
    assert_eq!(late.trace_cut, None);
    let want: Vec<&TraceEvent> = whole
        .trace
        .events
        .iter()
        .filter(|e| e.time >= ms(500) || e.kind.in_summary())
        .collect();
    assert_eq!(late.trace.events.iter().collect::<Vec<_>>(), want);
    assert!(want.len() < whole.trace.events.len());
}
