//! Shared set-up for the gossip tests: a cluster with clients, a fault schedule drawn from
//! the seed, the store's checks (always, eventually and history), and a seed sweep that
//! stops at the first violation.
#![allow(dead_code)]

use protocols::Protocol;
use protocols::gossip::{GossipClient, GossipConfig, GossipProtocol, Node, invariants};
use protocols::workload::{OpMix, Workload};
use sim_core::{
    Duration, Fault, Limits, LinkUpdate, Nemesis, NemesisFault, Probability, Report, SimConfig,
    SimRng, Simulation, Time, TraceLevel,
};

pub type GossipSim = Simulation<Node, GossipClient>;

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// One kind of run: cluster, workload, faults, length.
#[derive(Clone, Debug)]
pub struct Setup {
    pub config: GossipConfig,
    pub nodes: usize,
    pub workload: Workload,
    pub run_for: Duration,
    pub nemesis: Option<Nemesis>,
    pub loss: f64,
    pub duplicate: f64,
    pub trace: TraceLevel,
}

impl Setup {
    /// A quiet cluster: clients read and write two keys; faults (none) stop 1.5s before
    /// the end, when the clients stop writing and convergence is judged.
    pub fn quiet(nodes: usize, clients: u32, run_for: Duration) -> Setup {
        let quiet_from = run_for.saturating_sub(ms(1_500));
        Setup {
            config: GossipConfig {
                converge_from: quiet_from,
                converge_within: ms(1_000),
                ..GossipConfig::default()
            },
            nodes,
            workload: Workload {
                clients,
                ops_per_client: 0,
                keys: 2,
                mix: OpMix {
                    read: 1,
                    write: 1,
                    cas: 0,
                    append: 0,
                },
                think_min: ms(5),
                think_max: ms(40),
                timeout: ms(300),
                start: ms(0),
            },
            run_for,
            nemesis: None,
            loss: 0.0,
            duplicate: 0.0,
            trace: TraceLevel::Off,
        }
    }

    /// Heavy faults until the quiet tail: partitions, isolation, bridges, crash-restarts,
    /// pauses every 100-500ms for 50-800ms, 20% loss and 20% duplication.
    pub fn heavy(nodes: usize, clients: u32, run_for: Duration) -> Setup {
        let mut s = Setup::quiet(nodes, clients, run_for);
        s.nemesis = Some(Nemesis {
            faults: vec![
                NemesisFault::PartitionHalves,
                NemesisFault::Isolate,
                NemesisFault::Bridge,
                NemesisFault::CrashRestart,
                NemesisFault::Pause,
            ],
            start: ms(200),
            stop: s.config.converge_from,
            interval_min: ms(100),
            interval_max: ms(500),
            duration_min: ms(50),
            duration_max: ms(800),
            max_skew: Duration::ZERO,
        });
        s.loss = 0.2;
        s.duplicate = 0.2;
        s
    }

    pub fn quiet_from(&self) -> Time {
        Time::ZERO.plus(self.config.converge_from)
    }

    pub fn build(&self, seed: u64) -> GossipSim {
        let mut sc = SimConfig::new(seed, self.nodes, Limits::time(self.run_for))
            .with_clients(self.workload.clients as usize);
        sc.trace = self.trace;
        let client =
            GossipProtocol::client_config(&self.workload, &self.config).expect("valid workload");
        let mut sim: GossipSim =
            Simulation::new(sc, self.config.clone(), client).expect("valid setup");
        if self.loss > 0.0 || self.duplicate > 0.0 {
            let p = |x: f64| Probability::new(x).expect("a probability");
            let set = |loss, dup| Fault::SetLink {
                from: None,
                to: None,
                update: LinkUpdate {
                    loss: Some(p(loss)),
                    duplicate: Some(p(dup)),
                    latency: None,
                },
            };
            sim.schedule(Time::ZERO.plus(ms(200)), set(self.loss, self.duplicate));
            sim.schedule(self.quiet_from(), set(0.0, 0.0));
        }
        if let Some(nemesis) = &self.nemesis {
            for (t, f) in nemesis.schedule(&mut SimRng::new(seed, "nemesis"), self.nodes as u32) {
                sim.schedule(t, f);
            }
            sim.schedule(self.quiet_from(), Fault::Heal);
        }
        for name in ["no-lost-update", "convergence"] {
            sim.add_checker(invariants::checker(name, &self.config).expect("a check"));
        }
        sim
    }

    pub fn run(&self, seed: u64) -> Report {
        self.build(seed).run()
    }
}

/// The first violation of a run: a checker's, or (vector mode) a session guarantee's
/// from the history. Last-writer-wins makes no session promise in the multi-value model:
/// a concurrent write may replace a session's own, by design.
pub fn first_violation(setup: &Setup, report: &Report) -> Option<(String, String)> {
    if let Some(v) = report.violations.first() {
        return Some((v.check.clone(), v.message.clone()));
    }
    if setup.config.lww != protocols::gossip::LwwMode::Off {
        return None;
    }
    for name in ["read-your-writes", "monotonic-reads"] {
        if let Err(m) = GossipProtocol::history_check(
            name,
            &report.history,
            &setup.config,
            report.end_time,
            protocols::LINEARIZABLE_MAX_STEPS,
        ) {
            return Some((name.to_string(), m.message().to_string()));
        }
    }
    None
}

/// Runs seeds in order until one shows a violation; returns it with its seed.
pub fn sweep(setup: &Setup, seeds: std::ops::Range<u64>) -> Option<(u64, String, String)> {
    for seed in seeds {
        let report = setup.run(seed);
        if let Some((check, message)) = first_violation(setup, &report) {
            return Some((seed, check, message));
        }
    }
    None
}
