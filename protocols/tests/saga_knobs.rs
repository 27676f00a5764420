//! The saga's bug knobs, in both styles where they apply: a seed sweep (at most 1,000
//! seeds, stopping at the first violation) finds a violation of the check each knob
//! documents, and the same sweep with the knob off finds none. Knob-off sweeps run every
//! seed to the end, so plain `cargo test` (debug) cuts them short; with
//! `FAULTLINE_FULL_SWEEPS=1` they run all 1,000 seeds, which `.ci/run` does in release:
//! `FAULTLINE_FULL_SWEEPS=1 cargo test --release -p protocols --test saga_knobs`.

use protocols::saga::{CHECKS, KNOBS, Node, SagaConfig, Style, Traveller, TravellerConfig};
use protocols::workload::Workload;
use sim_core::{
    Duration, Latency, Limits, LinkConfig, Nemesis, NemesisFault, Probability, SimConfig, SimRng,
    Simulation, TraceLevel,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// One kind of run.
#[derive(Clone, Debug)]
struct Setup {
    config: SagaConfig,
    faults: Vec<NemesisFault>,
    run_for: Duration,
    stop: Duration,
}

impl Setup {
    /// Four services and node 0, three travellers; 10% loss and 10% duplication,
    /// crash-restarts, partitions and isolation until 2.5s; travellers stop at 2.5s and
    /// the run goes on to 6s, so the last 3.5s are quiet.
    fn heavy(style: Style) -> Setup {
        Setup {
            config: SagaConfig {
                style,
                clients_stop: ms(2_500),
                ..SagaConfig::default()
            },
            faults: vec![
                NemesisFault::CrashRestart,
                NemesisFault::PartitionHalves,
                NemesisFault::Isolate,
            ],
            run_for: ms(6_000),
            stop: ms(2_500),
        }
    }

    fn build(&self, seed: u64) -> Simulation<Node, Traveller> {
        self.build_traced(seed, TraceLevel::Off)
    }

    fn build_traced(&self, seed: u64, trace: TraceLevel) -> Simulation<Node, Traveller> {
        let mut sc = SimConfig::new(seed, 5, Limits::time(self.run_for))
            .with_clients(3)
            .with_trace(trace);
        sc.link = LinkConfig {
            latency: Latency::Uniform {
                min: ms(1),
                max: ms(10),
            },
            loss: Probability::new(0.1).unwrap(),
            duplicate: Probability::new(0.1).unwrap(),
        };
        let workload = Workload {
            clients: 3,
            think_min: ms(1),
            think_max: ms(20),
            timeout: ms(500),
            ..Workload::default()
        };
        let clients = TravellerConfig {
            workload,
            config: self.config.clone(),
        };
        let mut sim = Simulation::new(sc, self.config.clone(), clients).expect("valid setup");
        let nemesis = Nemesis {
            faults: self.faults.clone(),
            start: ms(100),
            stop: self.stop,
            interval_min: ms(20),
            interval_max: ms(200),
            duration_min: ms(5),
            duration_max: ms(150),
            max_skew: Duration::ZERO,
        };
        let mut rng = SimRng::new(seed, "nemesis");
        for (t, f) in nemesis.schedule(&mut rng, 5) {
            sim.schedule(t, f);
        }
        for c in CHECKS {
            sim.add_checker(
                protocols::saga::invariants::checker(c.name, &self.config).expect("builds"),
            );
        }
        sim
    }

    /// The first seed in `seeds` with a violation: (seed, every violated check, first
    /// message).
    fn sweep(&self, seeds: std::ops::Range<u64>) -> Option<(u64, Vec<String>, String)> {
        seeds.into_iter().find_map(|seed| {
            let report = self.build(seed).run();
            let first = report.violations.first()?;
            let checks = report.violations.iter().map(|v| v.check.clone()).collect();
            Some((seed, checks, first.message.clone()))
        })
    }
}

fn caught_by(knob: &str) -> &'static str {
    KNOBS
        .iter()
        .find(|k| k.name == knob)
        .expect("a documented knob")
        .caught_by
}

fn clean_seeds(debug: u64) -> u64 {
    if std::env::var_os("FAULTLINE_FULL_SWEEPS").is_some() {
        1_000
    } else {
        debug
    }
}

/// The knob is caught by its documented check within 1,000 seeds, in `style`.
fn knob_is_caught(knob: &str, style: Style) {
    let mut on = Setup::heavy(style);
    let c = &mut on.config;
    match knob {
        "non_idempotent_handler" => c.non_idempotent_handler = true,
        "publish_without_outbox" => c.publish_without_outbox = true,
        "compensate_once" => c.compensate_once = true,
        "orchestrator_in_memory" => c.orchestrator_in_memory = true,
        "compensate_in_parallel" => c.compensate_in_parallel = true,
        other => panic!("no knob {other}"),
    }
    let (seed, checks, message) = on
        .sweep(0..1_000)
        .unwrap_or_else(|| panic!("{knob} ({style:?}): no violation in 1,000 seeds"));
    assert!(
        checks.iter().any(|c| c == caught_by(knob)),
        "{knob} ({style:?}), seed {seed}: expected {}, got {checks:?}: {message}",
        caught_by(knob)
    );
}

/// With every knob off, no check fails under the heavy faults.
fn clean(style: Style, debug_seeds: u64) {
    let off = Setup::heavy(style);
    if let Some((seed, checks, message)) = off.sweep(0..clean_seeds(debug_seeds)) {
        panic!("{style:?}, knobs off: seed {seed} violates {checks:?}: {message}");
    }
}

#[test]
fn knobs_off_orchestration_is_clean() {
    clean(Style::Orchestration, 20);
}

#[test]
fn knobs_off_choreography_is_clean() {
    clean(Style::Choreography, 20);
}

// Richardson §3.3.6: without the idempotent consumer a duplicate books twice.
#[test]
fn knob_non_idempotent_handler() {
    knob_is_caught("non_idempotent_handler", Style::Orchestration);
    knob_is_caught("non_idempotent_handler", Style::Choreography);
}

// Richardson §3.3.7: without the outbox a crash or one lost send loses the event.
#[test]
fn knob_publish_without_outbox() {
    knob_is_caught("publish_without_outbox", Style::Orchestration);
    knob_is_caught("publish_without_outbox", Style::Choreography);
}

// Garcia-Molina & Salem: a compensation must succeed in the end, so it is retried.
#[test]
fn knob_compensate_once() {
    knob_is_caught("compensate_once", Style::Orchestration);
    knob_is_caught("compensate_once", Style::Choreography);
}

// Richardson §4.2.2: the orchestrator persists its saga state on every transition.
#[test]
fn knob_orchestrator_in_memory() {
    knob_is_caught("orchestrator_in_memory", Style::Orchestration);
}

// Garcia-Molina & Salem: C(j) .. C(1), in reverse order.
#[test]
fn knob_compensate_in_parallel() {
    knob_is_caught("compensate_in_parallel", Style::Orchestration);
}

/// Every knob is tested here (a new knob without a test fails this).
#[test]
fn every_knob_has_a_sweep() {
    let names: Vec<&str> = KNOBS.iter().map(|k| k.name).collect();
    assert_eq!(
        names,
        [
            "non_idempotent_handler",
            "publish_without_outbox",
            "compensate_once",
            "orchestrator_in_memory",
            "compensate_in_parallel"
        ]
    );
}

/// The same runs do work: sagas end both ways, and the summary counts them.
#[test]
fn heavy_runs_book_and_compensate_in_both_styles() {
    for style in [Style::Orchestration, Style::Choreography] {
        let setup = Setup::heavy(style);
        let mut sim = setup.build(1);
        let report = sim.run();
        assert!(
            report.violations.is_empty(),
            "{style:?}: {:?}",
            report.violations
        );
        let hub = &sim.durable(sim_core::NodeId(0)).hub;
        let done = hub
            .sagas
            .values()
            .filter(|r| r.phase == protocols::saga::Phase::Done)
            .count();
        let compensated = hub
            .sagas
            .values()
            .filter(|r| r.phase == protocols::saga::Phase::Compensated)
            .count();
        assert!(
            done > 10 && compensated > 2,
            "{style:?}: {done} done, {compensated} compensated"
        );
    }
}

/// The same faults under both styles, compared as `faultline run` summarises them:
/// nothing stuck in either, and choreography pays for its broker with more messages per
/// saga (every hop is acknowledged both ways).
#[test]
fn the_two_styles_compare_on_the_same_faults() {
    let mut per_saga = Vec::new();
    for style in [Style::Orchestration, Style::Choreography] {
        let setup = Setup::heavy(style);
        let (mut sends, mut started) = (0, 0);
        for seed in 0..10 {
            let report = setup.build_traced(seed, TraceLevel::Summary).run();
            assert!(report.violations.is_empty(), "{style:?} seed {seed}");
            let s = protocols::saga::summary(&report.trace, report.stats.sends)
                .expect("saga notes in the trace");
            assert_eq!(s.stuck(), 0, "{style:?} seed {seed}: {s}");
            assert!(
                s.done > 0 && s.retries > 0 && s.duplicates > 0,
                "{style:?}: {s}"
            );
            sends += s.sends;
            started += s.started;
        }
        per_saga.push(sends as f64 / started as f64);
    }
    assert!(
        per_saga[1] > per_saga[0],
        "messages per saga: orchestration {:.1}, choreography {:.1}",
        per_saga[0],
        per_saga[1]
    );
}
