//! The runaway bound (issue #14): a message storm or a busy loop ends the run as
//! `EndReason::Runaway`, with a diagnosis, before it fills memory; a busy but steady run
//! does not.

use sim_core::*;

/// A client-less retry loop: n1 asks n2, and on every answer asks again (a retry that
/// never backs off). Alone it is steady; duplication makes it a storm, since every
/// duplicated answer starts one more loop.
#[derive(Debug)]
struct Retry;

#[derive(Debug, Clone)]
enum Msg {
    Ask,
    Answer,
}

impl Process for Retry {
    type Config = ();
    type Msg = Msg;
    type Timer = ();
    type Durable = ();
    type Request = ();
    type Response = ();
    fn start(ctx: &mut Ctx<'_, Self>) -> Self {
        if ctx.id() == NodeId(0) {
            ctx.send(NodeId(1), Msg::Ask);
        }
        Retry
    }
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Ask => ctx.send(from, Msg::Answer),
            Msg::Answer => ctx.send(from, Msg::Ask),
        }
    }
    fn on_timer(&mut self, _: &mut Ctx<'_, Self>, _: ()) {}
}

fn retry(duplicate: f64, runaway: Option<RunawayBound>) -> Report {
    let mut c = SimConfig::new(7, 2, Limits::time(Duration::from_secs(30)));
    c.link = LinkConfig {
        latency: Latency::Uniform {
            min: Duration::from_millis(1),
            max: Duration::from_millis(10),
        },
        duplicate: Probability::new(duplicate).unwrap(),
        ..LinkConfig::default()
    };
    c.trace = TraceLevel::Off;
    c.runaway = runaway;
    let mut sim: Simulation<Retry> = Simulation::new(c, (), ()).unwrap();
    sim.run()
}

#[test]
fn a_retry_storm_amplified_by_duplication_is_a_runaway() {
    let r = retry(0.2, None);
    assert_eq!(r.end, EndReason::Runaway);
    let why = r.runaway.expect("a runaway says why");
    assert!(why.contains("events in"), "{why}");
    assert!(why.contains("of virtual time"), "{why}");
    // The storm is all Ask and Answer on the one link pair, and the diagnosis says so.
    assert!(why.contains("% Ask") || why.contains("% Answer"), "{why}");
    assert!(why.contains("most on n"), "{why}");
    // Caught early: well inside the first second, with memory bounded by the window.
    assert!(
        r.end_time < Time::ZERO.plus(Duration::from_secs(2)),
        "{}",
        r.end_time
    );
    assert!(
        r.stats.events <= 2 * RunawayBound::MIN_PER_SECOND,
        "{}",
        r.stats.events
    );
}

#[test]
fn the_same_loop_without_duplication_is_steady_and_runs_to_its_end() {
    let r = retry(0.0, None);
    assert_eq!(r.end, EndReason::TimeLimit);
    assert_eq!(r.runaway, None);
    assert!(r.stats.events > 5_000, "{}", r.stats.events);
}

#[test]
fn a_raised_bound_lets_a_storm_run_longer() {
    let low = retry(0.2, None);
    let high = retry(
        0.2,
        Some(RunawayBound {
            events_per_second: 3_000_000,
            max_pending: 10_000_000,
        }),
    );
    assert_eq!(high.end, EndReason::Runaway);
    assert!(high.stats.events > low.stats.events);
}

/// A timer that re-arms itself twice with no delay: virtual time stands still, so the
/// rate bound fires within one window of zero length.
#[derive(Debug)]
struct Spin;

impl Process for Spin {
    type Config = ();
    type Msg = ();
    type Timer = ();
    type Durable = ();
    type Request = ();
    type Response = ();
    fn start(ctx: &mut Ctx<'_, Self>) -> Self {
        ctx.set_timer(Duration::ZERO, ());
        Spin
    }
    fn on_message(&mut self, _: &mut Ctx<'_, Self>, _: NodeId, _: ()) {}
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _: ()) {
        ctx.set_timer(Duration::ZERO, ());
        ctx.set_timer(Duration::ZERO, ());
    }
}

#[test]
fn a_busy_loop_that_stops_virtual_time_is_a_runaway_and_names_its_timer() {
    let mut c = SimConfig::new(1, 1, Limits::time(Duration::from_secs(1)));
    c.trace = TraceLevel::Off;
    let mut sim: Simulation<Spin> = Simulation::new(c, (), ()).unwrap();
    let r = sim.run();
    assert_eq!(r.end, EndReason::Runaway);
    assert_eq!(r.end_time, Time::ZERO);
    let why = r.runaway.unwrap();
    // Its pending events double with each event, so the pending bound or the rate
    // bound, whichever comes first, stops it; either way the timer is named.
    assert!(why.contains("100% timer"), "{why}");
}

#[test]
fn the_pending_bound_stops_a_storm_that_stays_under_the_rate() {
    let r = retry(
        0.2,
        Some(RunawayBound {
            events_per_second: u64::MAX,
            max_pending: 5_000,
        }),
    );
    assert_eq!(r.end, EndReason::Runaway);
    let why = r.runaway.unwrap();
    assert!(
        why.contains("events pending at once (bound: 5,000)"),
        "{why}"
    );
}

#[test]
fn the_default_scales_with_the_cluster() {
    assert_eq!(
        RunawayBound::default_for(3).events_per_second,
        RunawayBound::MIN_PER_SECOND
    );
    assert_eq!(
        RunawayBound::default_for(10_000).events_per_second,
        10_000 * RunawayBound::PER_ENDPOINT_PER_SECOND
    );
    assert_eq!(RunawayBound::default_for(10_000).max_pending, 10_000_000);
}
