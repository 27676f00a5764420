//! Engine throughput: pingstorm with the trace off, deliveries per second of wall time.
//!
//! `cargo bench -p protocols --bench pingstorm` runs N = 5, 100 and 10,000 with 10 million
//! deliveries each, 5 repetitions, and prints the median. `-- --nodes N --deliveries D
//! --reps R` runs one size (used to measure peak memory of one size alone:
//! `/usr/bin/time -v target/release/deps/pingstorm-* --nodes 10000`).
//! Wall time is read here, in the benchmark driver, never inside the simulation.

use protocols::pingstorm::{Pingstorm, PingstormConfig};
use sim_core::{Limits, SimConfig, Simulation, TraceLevel};
use std::time::Instant;

fn run_once(nodes: usize, deliveries: u64, seed: u64) -> (f64, u64) {
    let mut config = SimConfig::new(seed, nodes, Limits::events(u64::MAX));
    config.trace = TraceLevel::Off;
    // Every event is a delivery after the N start events.
    config.limits = Limits::events(deliveries + nodes as u64);
    let mut sim: Simulation<Pingstorm> =
        Simulation::new(config, PingstormConfig::default(), ()).expect("valid config");
    let t0 = Instant::now();
    let report = sim.run();
    let secs = t0.elapsed().as_secs_f64();
    assert_eq!(report.stats.deliveries, deliveries);
    (secs, report.fingerprint)
}

fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map(|v| v.parse::<u64>().expect("a number"))
    };
    let sizes: Vec<usize> = match arg("--nodes") {
        Some(n) => vec![n as usize],
        None => vec![5, 100, 10_000],
    };
    let deliveries = arg("--deliveries").unwrap_or(10_000_000);
    let reps = arg("--reps").unwrap_or(5) as usize;
    println!("pingstorm, trace off, {deliveries} deliveries per run, median of {reps}");
    for n in sizes {
        let mut rates: Vec<f64> = (0..reps)
            .map(|r| {
                let (secs, _) = run_once(n, deliveries, r as u64);
                deliveries as f64 / secs
            })
            .collect();
        rates.sort_by(f64::total_cmp);
        let median = rates[rates.len() / 2];
        println!(
            "N={n:>6}: median {:>6.2} M deliveries/s (min {:.2}, max {:.2}); peak RSS so far {} KB",
            median / 1e6,
            rates[0] / 1e6,
            rates[rates.len() - 1] / 1e6,
            peak_rss_kb().map_or("?".into(), |k| k.to_string())
        );
    }
}
