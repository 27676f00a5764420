//! Shared set-up for the single-decree Paxos tests: a cluster, faults drawn from the
//! seed, the safety checkers, and a seed sweep that stops at the first violation.
#![allow(dead_code)]

use protocols::paxos::{Node, PaxosConfig, invariants};
use sim_core::{
    Duration, Fault, Latency, Limits, LinkUpdate, Nemesis, NemesisFault, NoClients, Probability,
    Report, SimConfig, SimRng, Simulation, Time, TraceLevel,
};

pub type PaxosSim = Simulation<Node, NoClients>;

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub fn at(ms: u64) -> Time {
    Time::from_nanos(ms * 1_000_000)
}

/// One kind of run: cluster, config, faults, length.
#[derive(Clone, Debug)]
pub struct Setup {
    pub config: PaxosConfig,
    pub nodes: usize,
    pub run_for: Duration,
    pub nemesis: Option<Nemesis>,
    /// Link loss and duplication while the nemesis is active.
    pub loss: f64,
    pub duplicate: f64,
    /// Also run the `decided` check (the faults stop 1s before the end).
    pub decided: bool,
    /// The links' latency (default: uniform 1-10ms).
    pub latency: Option<Latency>,
    pub trace: TraceLevel,
}

impl Setup {
    /// A quiet cluster where every node proposes.
    pub fn quiet(nodes: usize, run_for: Duration) -> Setup {
        Setup {
            config: PaxosConfig::default(),
            nodes,
            run_for,
            nemesis: None,
            loss: 0.0,
            duplicate: 0.0,
            decided: false,
            latency: None,
            trace: TraceLevel::Off,
        }
    }

    /// Heavy faults: partitions, isolation, bridges, crash-restarts and pauses every
    /// 10-100ms for 1-60ms, 20% loss and 20% duplication, until 1s before the end; short
    /// timeouts, so proposers contend and retry often.
    pub fn heavy(nodes: usize, run_for: Duration) -> Setup {
        let stop = run_for.saturating_sub(Duration::from_secs(1));
        let mut config = PaxosConfig {
            phase_timeout: ms(40),
            backoff_min: ms(1),
            backoff_max: ms(30),
            learn_timeout: ms(60),
            ..PaxosConfig::default()
        };
        config.liveness_from = Some(stop);
        config.liveness_bound = ms(900);
        Setup {
            config,
            nemesis: Some(Nemesis {
                faults: vec![
                    NemesisFault::PartitionHalves,
                    NemesisFault::Isolate,
                    NemesisFault::Bridge,
                    NemesisFault::CrashRestart,
                    NemesisFault::Pause,
                ],
                start: ms(0),
                stop,
                interval_min: ms(1),
                interval_max: ms(40),
                duration_min: ms(1),
                duration_max: ms(60),
                max_skew: Duration::ZERO,
            }),
            loss: 0.2,
            duplicate: 0.2,
            ..Setup::quiet(nodes, run_for)
        }
    }

    /// When the faults stop.
    pub fn quiet_from(&self) -> Time {
        Time::ZERO.plus(self.nemesis.as_ref().map_or(Duration::ZERO, |n| n.stop))
    }

    pub fn build(&self, seed: u64) -> PaxosSim {
        let mut sc = SimConfig::new(seed, self.nodes, Limits::time(self.run_for));
        sc.trace = self.trace;
        if let Some(latency) = self.latency {
            sc.link.latency = latency;
        }
        let mut sim: PaxosSim = Simulation::new(sc, self.config.clone(), ()).expect("valid setup");
        if self.loss > 0.0 || self.duplicate > 0.0 {
            let p = |x: f64| Probability::new(x).expect("a probability");
            let set = |loss, duplicate| Fault::SetLink {
                from: None,
                to: None,
                update: LinkUpdate {
                    loss: Some(p(loss)),
                    duplicate: Some(p(duplicate)),
                    latency: None,
                },
            };
            sim.schedule(Time::ZERO, set(self.loss, self.duplicate));
            sim.schedule(self.quiet_from(), set(0.0, 0.0));
        }
        if let Some(nemesis) = &self.nemesis {
            for (t, f) in nemesis.schedule(&mut SimRng::new(seed, "nemesis"), self.nodes as u32) {
                sim.schedule(t, f);
            }
            sim.schedule(self.quiet_from(), Fault::Heal);
        }
        for c in invariants::safety_checkers() {
            sim.add_checker(c);
        }
        if self.decided {
            sim.add_checker(invariants::checker("decided", &self.config).expect("decided"));
        }
        sim
    }

    pub fn run(&self, seed: u64) -> Report {
        self.build(seed).run()
    }
}

/// Runs seeds in order until one shows a violation; returns it with its seed.
pub fn sweep(setup: &Setup, seeds: std::ops::Range<u64>) -> Option<(u64, String, String)> {
    for seed in seeds {
        let report = setup.run(seed);
        if let Some(v) = report.violations.first() {
            return Some((seed, v.check.clone(), v.message.clone()));
        }
    }
    None
}
