//! Raft speed: a 5-node cluster with 3 clients, 60 s of virtual time and random
//! partitions (the nemesis), trace off, the four safety checkers on.
//!
//! `cargo bench -p protocols --bench raft` prints the virtual/wall ratio (median of 7
//! seeds), the wall time of 1,000 seeds on one thread, and the extrapolation to 10,000
//! seeds on 2 cores (an extrapolation, not a measurement). `-- --no-checkers` runs
//! without the checkers; `-- --seeds N` changes the sweep size.
//! Wall time is read here, in the benchmark driver, never inside the simulation.

use protocols::kv::{KvClient, KvClientConfig};
use protocols::raft::{Node, RaftConfig, invariants};
use protocols::workload::Workload;
use sim_core::{
    Duration, Fault, Limits, Nemesis, NemesisFault, Report, SimConfig, SimRng, Simulation, Time,
    TraceLevel,
};
use std::time::Instant;

const VIRTUAL: Duration = Duration::from_secs(60);

fn run(seed: u64, checkers: bool) -> Report {
    let mut config = SimConfig::new(seed, 5, Limits::time(VIRTUAL)).with_clients(3);
    config.trace = TraceLevel::Off;
    let workload = Workload {
        clients: 3,
        keys: 3,
        ..Workload::default()
    };
    let mut sim: Simulation<Node, KvClient> =
        Simulation::new(config, RaftConfig::default(), KvClientConfig::new(workload))
            .expect("valid config");
    let nemesis = Nemesis {
        faults: vec![
            NemesisFault::PartitionHalves,
            NemesisFault::Isolate,
            NemesisFault::Bridge,
        ],
        start: Duration::from_secs(1),
        stop: Duration::from_secs(55),
        interval_min: Duration::from_millis(500),
        interval_max: Duration::from_secs(3),
        duration_min: Duration::from_millis(200),
        duration_max: Duration::from_secs(2),
        max_skew: Duration::ZERO,
    };
    for (t, f) in nemesis.schedule(&mut SimRng::new(seed, "nemesis"), 5) {
        sim.schedule(t, f);
    }
    sim.schedule(Time::ZERO.plus(nemesis.stop), Fault::Heal);
    if checkers {
        for c in invariants::safety_checkers() {
            sim.add_checker(c);
        }
    }
    let report = sim.run();
    assert!(
        report.violations.is_empty(),
        "seed {seed}: {:?}",
        report.violations
    );
    report
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let checkers = !args.iter().any(|a| a == "--no-checkers");
    let seeds: u64 = args
        .iter()
        .position(|a| a == "--seeds")
        .and_then(|i| args.get(i + 1))
        .map_or(1_000, |v| v.parse().expect("a number"));
    println!(
        "raft: 5 nodes, 3 clients, 60s virtual, random partitions, trace off, checkers {}",
        if checkers { "on" } else { "off" }
    );
    let mut ratios = Vec::new();
    for seed in 0..7 {
        let t0 = Instant::now();
        let report = run(seed, checkers);
        let wall = t0.elapsed().as_secs_f64();
        ratios.push(VIRTUAL.as_secs_f64() / wall);
        if seed == 0 {
            println!(
                "  seed 0: {} events, {} client requests, {:.2} ms wall",
                report.stats.events,
                report.stats.requests,
                wall * 1e3
            );
        }
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "  virtual/wall: median {:.0}x (min {:.0}x, max {:.0}x) over 7 seeds",
        ratios[3], ratios[0], ratios[6]
    );
    let t0 = Instant::now();
    let mut events = 0;
    for seed in 0..seeds {
        events += run(seed, checkers).stats.events;
    }
    let wall = t0.elapsed().as_secs_f64();
    println!(
        "  {seeds} seeds on one thread: {wall:.2} s ({:.2} ms/seed, {:.1} M events/s)",
        wall * 1e3 / seeds as f64,
        events as f64 / wall / 1e6
    );
    println!(
        "  extrapolated: 10,000 seeds on 2 cores ~ {:.1} s (10,000 / {seeds} x {wall:.2} s / 2; not measured)",
        10_000.0 / seeds as f64 * wall / 2.0
    );
}
