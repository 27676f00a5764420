//! Two-phase commit's bug knobs: a seed sweep (at most 1,000 seeds, stopping at the first
//! violation) finds the violation each knob documents, and the same sweep with the knob
//! off finds none. Knob-off sweeps run every seed to the end, so plain `cargo test`
//! (debug) cuts them short; with `FAULTLINE_FULL_SWEEPS=1` they run all 1,000 seeds,
//! which `.ci/run` does in release:
//! `FAULTLINE_FULL_SWEEPS=1 cargo test --release -p protocols --test twopc_knobs`.

use protocols::twopc::{BankClient, BankClientConfig, CHECKS, KNOBS, Node, TwopcConfig};
use protocols::workload::Workload;
use sim_core::{
    Duration, Latency, Limits, LinkConfig, Nemesis, NemesisFault, Probability, SimConfig, SimRng,
    Simulation, StorageConfig, TraceLevel,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// One kind of run.
#[derive(Clone, Debug)]
struct Setup {
    config: TwopcConfig,
    nodes: usize,
    clients: u32,
    loss: f64,
    duplicate: f64,
    faults: Vec<NemesisFault>,
    /// Nemesis pacing: (every min, every max, lasting min, lasting max), in ms.
    pace: (u64, u64, u64, u64),
    storage: StorageConfig,
    run_for: Duration,
    stop: Duration,
}

impl Setup {
    /// One coordinator, four participants, three clients; crash-restarts, partitions and
    /// isolation until 3s, 5% loss and duplication, disks that lose unsynced writes and
    /// tear tails; 5s in all, so the last 2s are quiet.
    fn heavy() -> Setup {
        Setup {
            config: TwopcConfig {
                liveness_from: Some(ms(3_000)),
                liveness_bound: ms(1_500),
                ..TwopcConfig::default()
            },
            nodes: 5,
            clients: 3,
            loss: 0.05,
            duplicate: 0.05,
            faults: vec![
                NemesisFault::CrashRestart,
                NemesisFault::PartitionHalves,
                NemesisFault::Isolate,
            ],
            pace: (20, 200, 5, 150),
            storage: StorageConfig {
                sync_latency: Latency::Uniform {
                    min: ms(1),
                    max: ms(5),
                },
                lose_unsynced: true,
                torn_tail: Probability::new(0.3).unwrap(),
            },
            run_for: ms(5_000),
            stop: ms(3_000),
        }
    }

    fn build(&self, seed: u64) -> Simulation<Node, BankClient> {
        self.build_with(seed, &CHECKS.iter().map(|c| c.name).collect::<Vec<_>>())
    }

    fn build_with(&self, seed: u64, checks: &[&str]) -> Simulation<Node, BankClient> {
        let mut sc = SimConfig::new(seed, self.nodes, Limits::time(self.run_for))
            .with_clients(self.clients as usize)
            .with_trace(TraceLevel::Off);
        sc.link = LinkConfig {
            latency: Latency::Uniform {
                min: ms(1),
                max: ms(10),
            },
            loss: Probability::new(self.loss).unwrap(),
            duplicate: Probability::new(self.duplicate).unwrap(),
        };
        let workload = Workload {
            clients: self.clients,
            ops_per_client: 0,
            think_min: ms(1),
            think_max: ms(20),
            timeout: ms(800),
            ..Workload::default()
        };
        let clients = BankClientConfig {
            workload,
            config: self.config.clone(),
        };
        let mut sim = Simulation::new(sc, self.config.clone(), clients).expect("valid setup");
        sim.set_storage(self.storage);
        let nemesis = Nemesis {
            faults: self.faults.clone(),
            start: ms(100),
            stop: self.stop,
            interval_min: ms(self.pace.0),
            interval_max: ms(self.pace.1),
            duration_min: ms(self.pace.2),
            duration_max: ms(self.pace.3),
            max_skew: Duration::ZERO,
        };
        let mut rng = SimRng::new(seed, "nemesis");
        for (t, f) in nemesis.schedule(&mut rng, self.nodes as u32) {
            sim.schedule(t, f);
        }
        for c in checks {
            let checker =
                protocols::twopc::invariants::checker(c, &self.config).expect("every check builds");
            sim.add_checker(checker);
        }
        sim
    }

    /// The first seed in `seeds` with a violation: (seed, check, message).
    fn sweep(&self, seeds: std::ops::Range<u64>) -> Option<(u64, String, String)> {
        seeds.into_iter().find_map(|seed| {
            let report = self.build(seed).run();
            report
                .violations
                .first()
                .map(|v| (seed, v.check.clone(), v.message.clone()))
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

/// The knob is caught by its documented check within 1,000 seeds, and the same set-up
/// without it is clean for `clean_seeds` seeds (1,000 with `FAULTLINE_FULL_SWEEPS`).
fn knob_is_caught(knob: &str, on: &Setup, off: &Setup, clean_seeds: u64) {
    let (seed, check, message) = on
        .sweep(0..1_000)
        .unwrap_or_else(|| panic!("{knob}: no violation in 1,000 seeds"));
    assert_eq!(check, caught_by(knob), "{knob}, seed {seed}: {message}");
    let clean_seeds = if std::env::var_os("FAULTLINE_FULL_SWEEPS").is_some() {
        1_000
    } else {
        clean_seeds
    };
    if let Some((seed, check, message)) = off.sweep(0..clean_seeds) {
        panic!("{knob} off: seed {seed} violates {check}: {message}");
    }
}

fn with(knob: &str) -> (Setup, Setup) {
    let off = Setup::heavy();
    let mut on = off.clone();
    let c = &mut on.config;
    match knob {
        "vote_before_sync" => c.vote_before_sync = true,
        "send_decision_before_logging" => c.send_decision_before_logging = true,
        "commit_on_vote_timeout" => c.commit_on_vote_timeout = true,
        "abort_prepared_on_timeout" => c.abort_prepared_on_timeout = true,
        "forget_locks_on_recovery" => c.forget_locks_on_recovery = true,
        other => panic!("no knob {other}"),
    }
    (on, off)
}

// BHG §7.3: the prepared record must be durable before the yes vote leaves.
#[test]
fn knob_vote_before_sync() {
    let (on, off) = with("vote_before_sync");
    knob_is_caught("vote_before_sync", &on, &off, 30);
}

// BHG §7.4: the coordinator's commit decision must be durable before it is sent.
#[test]
fn knob_send_decision_before_logging() {
    let (on, off) = with("send_decision_before_logging");
    knob_is_caught("send_decision_before_logging", &on, &off, 30);
}

// BHG §7.4: a missing vote may only be taken as a no.
#[test]
fn knob_commit_on_vote_timeout() {
    let (on, off) = with("commit_on_vote_timeout");
    knob_is_caught("commit_on_vote_timeout", &on, &off, 30);
}

// BHG §7.3: an uncertain participant may not decide on its own (the blocking window).
#[test]
fn knob_abort_prepared_on_timeout() {
    let (on, off) = with("abort_prepared_on_timeout");
    knob_is_caught("abort_prepared_on_timeout", &on, &off, 30);
}

// BHG §7.4, restart: recovery must re-acquire the locks of in-doubt transactions.
#[test]
fn knob_forget_locks_on_recovery() {
    let (on, off) = with("forget_locks_on_recovery");
    knob_is_caught("forget_locks_on_recovery", &on, &off, 30);
}

/// Every knob is tested here (a new knob without a test fails this).
#[test]
fn every_knob_has_a_sweep() {
    let names: Vec<&str> = KNOBS.iter().map(|k| k.name).collect();
    assert_eq!(
        names,
        [
            "vote_before_sync",
            "send_decision_before_logging",
            "commit_on_vote_timeout",
            "abort_prepared_on_timeout",
            "forget_locks_on_recovery"
        ]
    );
}

/// Corrupt log records (the nemesis's `CorruptRecord`, with crash-restarts to read them
/// back) make nodes halt, never break a safety check.
#[test]
fn corrupt_records_halt_nodes_and_never_break_safety() {
    let mut setup = Setup::heavy();
    setup.faults = vec![NemesisFault::CrashRestart, NemesisFault::CorruptRecord];
    let safety = ["atomicity", "no-commit-without-decision", "isolation"];
    let mut halted = 0;
    for seed in 0..40 {
        let mut sim = setup.build_with(seed, &safety);
        let report = sim.run();
        assert!(
            report.violations.is_empty(),
            "seed {seed}: {:?}",
            report.violations
        );
        halted += (0..setup.nodes as u32)
            .filter(|&n| matches!(sim.node(sim_core::NodeId(n)), Some(Node::Halted)))
            .count();
    }
    assert!(halted > 0, "some node read a corrupt record and halted");
}
