//! Shared set-up for the tests of the replicated key-value stores (Raft, Multi-Paxos), generic
//! over the node: a cluster with clients, a fault schedule drawn from
//! the seed, the safety checkers, and a seed sweep that stops at the first violation.
#![allow(dead_code)]

use protocols::kv::{self, KvClient, KvClientConfig};
use protocols::workload::{OpMix, Workload};
use sim_core::{
    Checker, Duration, Fault, Limits, LinkUpdate, Nemesis, NemesisFault, NodeId, Probability,
    Process, Report, SimConfig, SimRng, Simulation, Time, TraceLevel,
};

/// A key-value store's node, as these tests drive it: its config and its safety checkers.
pub trait KvNode:
    Process<
        Request = std::rc::Rc<kv::KvRequest>,
        Response = kv::KvResponse,
        Config: Clone + std::fmt::Debug + Default,
    > + 'static
{
    fn safety_checkers() -> Vec<Box<dyn Checker<Self>>>;
}

/// Asserts that a run's client history is linearizable; `context` (e.g. the seed) leads
/// the failure message, which then shows the checker's explanation.
pub fn assert_linearizable(history: &lincheck::History, context: &str) {
    let lin = kv::check_linearizable(history).expect("well-formed history");
    assert_eq!(
        lin.verdict,
        lincheck::Verdict::Linearizable,
        "{context}{}",
        lin.render_text()
    );
}

/// One kind of run: cluster, workload, faults, length.
#[derive(Clone, Debug)]
pub struct Setup<N: KvNode> {
    pub config: N::Config,
    pub nodes: usize,
    pub workload: Workload,
    pub run_for: Duration,
    pub nemesis: Option<Nemesis>,
    /// Link loss and duplication while the nemesis is active.
    pub loss: f64,
    pub duplicate: f64,
    /// Each node's clock drifts by exactly +this or -this ppm (the sign drawn per seed):
    /// the extremes a drift bound allows.
    pub drift_ppm: i64,
    /// Independent crash-restarts per node (they may overlap, unlike the nemesis's):
    /// `(up_ms_max, down_ms_max)`: each node stays up 1..=up and down 1..=down.
    pub crashes: Option<(u64, u64)>,
    pub trace: TraceLevel,
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub fn at(ms: u64) -> Time {
    Time::from_nanos(ms * 1_000_000)
}

pub fn workload(clients: u32) -> Workload {
    Workload {
        clients,
        ops_per_client: 0,
        keys: 2,
        mix: OpMix {
            read: 2,
            write: 2,
            cas: 1,
            append: 1,
        },
        think_min: ms(5),
        think_max: ms(30),
        timeout: ms(600),
        start: ms(0),
    }
}

impl<N: KvNode> Setup<N> {
    /// A quiet cluster of `nodes` with `clients` clients.
    pub fn quiet(nodes: usize, clients: u32, run_for: Duration) -> Setup<N> {
        Setup {
            config: N::Config::default(),
            nodes,
            workload: workload(clients),
            run_for,
            nemesis: None,
            loss: 0.0,
            duplicate: 0.0,
            drift_ppm: 0,
            crashes: None,
            trace: TraceLevel::Off,
        }
    }

    /// Heavy faults: partitions, isolation, bridges, crash-restarts and pauses every
    /// 100-600ms for 50-800ms, 20% loss and 20% duplication, until 1s before the end.
    pub fn heavy(nodes: usize, clients: u32, run_for: Duration) -> Setup<N> {
        let stop = run_for.saturating_sub(Duration::from_secs(1));
        Setup {
            nemesis: Some(Nemesis {
                faults: vec![
                    NemesisFault::PartitionHalves,
                    NemesisFault::Isolate,
                    NemesisFault::Bridge,
                    NemesisFault::CrashRestart,
                    NemesisFault::Pause,
                ],
                start: ms(200),
                stop,
                interval_min: ms(100),
                interval_max: ms(600),
                duration_min: ms(50),
                duration_max: ms(800),
                max_skew: Duration::ZERO,
            }),
            loss: 0.2,
            duplicate: 0.2,
            ..Setup::quiet(nodes, clients, run_for)
        }
    }

    /// When the faults stop.
    pub fn quiet_from(&self) -> Time {
        let stop = self.nemesis.as_ref().map(|n| n.stop);
        let crash_stop = self
            .crashes
            .map(|_| self.run_for.saturating_sub(Duration::from_secs(1)));
        Time::ZERO.plus(stop.max(crash_stop).unwrap_or(Duration::ZERO))
    }

    pub fn build(&self, seed: u64) -> Simulation<N, KvClient> {
        let mut sim = self.build_unchecked(seed);
        for c in N::safety_checkers() {
            sim.add_checker(c);
        }
        sim
    }

    /// [`Setup::build`] without the safety checkers (for tests that bring their own and
    /// want a run to go on past violations).
    pub fn build_unchecked(&self, seed: u64) -> Simulation<N, KvClient> {
        let mut sc = SimConfig::new(seed, self.nodes, Limits::time(self.run_for))
            .with_clients(self.workload.clients as usize);
        sc.trace = self.trace;
        let client = KvClientConfig::new(self.workload.clone());
        let mut sim: Simulation<N, KvClient> =
            Simulation::new(sc, self.config.clone(), client).expect("valid setup");
        if self.drift_ppm > 0 {
            let mut rng = SimRng::new(seed, "test/drift");
            for n in 0..self.nodes as u32 {
                let ppm = if rng.below(2) == 0 {
                    self.drift_ppm
                } else {
                    -self.drift_ppm
                };
                sim.schedule(Time::ZERO, Fault::ClockDrift(NodeId(n), ppm));
            }
        }
        if let Some((up, down)) = self.crashes {
            let stop = self.quiet_from();
            for n in 0..self.nodes as u32 {
                let mut rng = SimRng::new(seed, &format!("test/crash/{n}"));
                let mut t = Time::ZERO;
                loop {
                    t = t.plus(ms(rng.between(1, up)));
                    if t >= stop {
                        break;
                    }
                    sim.schedule(t, Fault::Crash(NodeId(n)));
                    t = t.plus(ms(rng.between(1, down))).min(stop);
                    sim.schedule(t, Fault::Restart(NodeId(n)));
                }
            }
        }
        if self.loss > 0.0 || self.duplicate > 0.0 {
            let p = |x: f64| Probability::new(x).expect("a probability");
            let noisy = LinkUpdate {
                loss: Some(p(self.loss)),
                duplicate: Some(p(self.duplicate)),
                latency: None,
            };
            let clean = LinkUpdate {
                loss: Some(p(0.0)),
                duplicate: Some(p(0.0)),
                latency: None,
            };
            sim.schedule(
                at(200),
                Fault::SetLink {
                    from: None,
                    to: None,
                    update: noisy,
                },
            );
            sim.schedule(
                self.quiet_from(),
                Fault::SetLink {
                    from: None,
                    to: None,
                    update: clean,
                },
            );
        }
        if let Some(nemesis) = &self.nemesis {
            for (t, f) in nemesis.schedule(&mut SimRng::new(seed, "nemesis"), self.nodes as u32) {
                sim.schedule(t, f);
            }
            sim.schedule(self.quiet_from(), Fault::Heal);
        }
        sim
    }

    pub fn run(&self, seed: u64) -> Report {
        self.build(seed).run()
    }
}

/// The first violation a run shows: a checker's, or `linearizable` from its history.
pub fn first_violation(report: &Report, check_history: bool) -> Option<(String, String)> {
    if let Some(v) = report.violations.first() {
        return Some((v.check.clone(), v.message.clone()));
    }
    if check_history {
        let verdict = kv::check_linearizable(&report.history).expect("well-formed history");
        if verdict.verdict == lincheck::Verdict::NotLinearizable {
            return Some(("linearizable".into(), verdict.render_text()));
        }
        assert_eq!(
            verdict.verdict,
            lincheck::Verdict::Linearizable,
            "seed {}: checker gave up",
            report.seed
        );
    }
    None
}

/// Runs seeds in order until one shows a violation; returns it with its seed.
pub fn sweep<N: KvNode>(
    setup: &Setup<N>,
    seeds: std::ops::Range<u64>,
    check_history: bool,
) -> Option<(u64, String, String)> {
    for seed in seeds {
        let report = setup.run(seed);
        if let Some((check, message)) = first_violation(&report, check_history) {
            return Some((seed, check, message));
        }
    }
    None
}
