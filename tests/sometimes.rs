//! Sometimes-properties (`reach`): every property a protocol declares is reached by some
//! shipped scenario with its own seed (a property nobody reaches is a defect, or needs a
//! scenario); a scenario that requires one it misses fails as `unreached`, never `Pass`;
//! an unknown name is a bad-input error at its position with the valid names.

use faultline::{Outcome, Scenario, registry, runner};
use sim_core::TraceLevel;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

#[test]
fn every_declared_property_is_reached_by_a_shipped_scenario() {
    let files =
        faultline::scenario::files_under(Path::new("scenarios")).expect("scenarios/ is readable");
    let mut reached: BTreeMap<String, BTreeSet<&'static str>> = BTreeMap::new();
    for file in files.iter().filter(|f| !f.starts_with("scenarios/bench")) {
        let path = file.display().to_string();
        let s = Scenario::load(&path).unwrap_or_else(|e| panic!("{}", e.render(false)));
        let r = runner::run(&s, s.seed(), TraceLevel::Off)
            .unwrap_or_else(|e| panic!("{}", e.render(false)));
        let set = reached.entry(s.protocol().to_string()).or_default();
        set.extend(r.reached.iter().map(|(p, _)| *p));
    }
    let mut missing = Vec::new();
    for info in registry::infos() {
        if info.sometimes.is_empty() {
            missing.push(format!(
                "{} declares none: every protocol says what a good test of it reaches",
                info.name
            ));
        }
        let got = reached.get(info.name).cloned().unwrap_or_default();
        for p in info.sometimes {
            if !got.contains(p.name) {
                missing.push(format!("{}: {} ({})", info.name, p.name, p.meaning));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "no shipped scenario reaches these properties with its own seed:\n  {}",
        missing.join("\n  ")
    );
}
