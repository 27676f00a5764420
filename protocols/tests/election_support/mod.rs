//! Shared setup for the election tests: five candidates `n1..n5` and a `store`, and the
//! fault schedule every split-brain demo uses.
#![allow(dead_code)]

use protocols::election::{ElectionNode, Fencing, OneLeaderPerGen, SplitBrain};
use sim_core::{
    Addr, Duration, Fault, Limits, NodeId, Process, Report, SimConfig, Simulation, Time,
};

pub fn at(ms: u64) -> Time {
    Time::from_nanos(ms * 1_000_000)
}

/// `n1..n5` and `store`, run for `secs` seconds, recording every violation.
pub fn sim_config(seed: u64, secs: u64) -> SimConfig {
    let mut config = SimConfig::new(seed, 6, Limits::time(Duration::from_secs(secs)));
    config.nodes[5] = "store".to_string();
    config.stop_on_violation = false;
    config
}

pub fn node(i: u32) -> Addr {
    Addr::Node(NodeId(i))
}

/// The schedule of every demo: `{n1 n2} | {n3 n4 n5}` at 2s, healed at 6s. The store is
/// in neither group, so both sides reach it.
pub fn partition_schedule() -> Vec<(Time, Fault)> {
    vec![
        (
            at(2000),
            Fault::Partition(vec![
                vec![node(0), node(1)],
                vec![node(2), node(3), node(4)],
            ]),
        ),
        (at(6000), Fault::Heal),
    ]
}

/// Builds a simulation with the three election checks.
pub fn build<P: ElectionNode + 'static>(config: SimConfig, node_config: P::Config) -> Simulation<P>
where
    P::Config: Clone,
{
    let mut sim: Simulation<P> = Simulation::new(config, node_config, ()).unwrap();
    sim.add_checker(Box::new(SplitBrain::new()));
    sim.add_checker(Box::new(OneLeaderPerGen::new()));
    sim.add_checker(Box::new(Fencing::new()));
    sim
}

/// Names of the checks that failed, each once, in order of first failure.
pub fn failed(report: &Report) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in &report.violations {
        if !out.contains(&v.check) {
            out.push(v.check.clone());
        }
    }
    out
}

pub fn schedule<P: Process>(sim: &mut Simulation<P>, faults: Vec<(Time, Fault)>) {
    for (t, f) in faults {
        sim.schedule(t, f);
    }
}
