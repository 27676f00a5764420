//! How a run's verdict is judged: against every violation at the stopping event, whatever
//! the order of `checks`; and runs that end early are their own outcome.

use faultline::scenario::{Expect, Spanned};
use faultline::{Scenario, runner};
use sim_core::{Time, TraceLevel, Violation};
use std::process::{Command, Output};

fn faultline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("the binary runs")
}

fn tmp(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("faultline-verdict-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write the scenario");
    p.to_string_lossy().into_owned()
}

/// Two violations at one instant, in either order.
fn pair(a: &str, b: &str) -> Vec<Violation> {
    let at = Time::from_nanos(5_000_000);
    [a, b]
        .iter()
        .map(|c| Violation {
            check: c.to_string(),
            time: at,
            message: format!("{c} failed"),
        })
        .collect()
}

fn expect(text: &str) -> Expect {
    match text.strip_prefix("Violation(\"") {
        Some(rest) => Expect::Violation(Spanned::new(rest.trim_end_matches("\")").to_string())),
        None => Expect::Pass,
    }
}

#[test]
fn judge_weighs_every_violation_at_the_stopping_event() {
    for (a, b) in [("x", "y"), ("y", "x")] {
        let v = pair(a, b);
        for want in ["x", "y"] {
            let (outcome, met) = runner::judge(&v, &expect(&format!("Violation({want:?})")));
            assert!(met, "{a} then {b}, expect {want}");
            assert_eq!(outcome.check(), Some(want));
        }
        assert!(!runner::judge(&v, &expect("Pass")).1);
        assert!(!runner::judge(&v, &expect(r#"Violation("z")"#)).1);
    }
    // A violation at a later instant is not at the stopping event.
    let mut v = pair("x", "y");
    v[1].time = Time::from_nanos(6_000_000);
    assert!(!runner::judge(&v, &expect(r#"Violation("y")"#)).1);
    assert!(runner::judge(&[], &expect("Pass")).1);
}

/// The quorum-lost Raft demo with `checks` and `expect` replaced: at its end both
/// `eventually-leader` (no leader) and `clients-complete` (no operation completes) fail.
fn quorum_lost(checks: &str, expect: &str) -> String {
    let text = std::fs::read_to_string("scenarios/raft/quorum-lost.ron").expect("shipped");
    let old = r#"checks: ["election-safety", "state-machine-safety", "linearizable", "clients-complete"],"#;
    assert!(text.contains(old), "the scenario's checks line moved");
    text.replace(old, &format!("checks: {checks},")).replace(
        r#"expect: Violation("clients-complete"),"#,
        &format!("expect: {expect},"),
    )
}

#[test]
fn the_order_of_checks_does_not_change_the_verdict() {
    let orders = [
        r#"["eventually-leader", "clients-complete"]"#,
        r#"["clients-complete", "eventually-leader"]"#,
    ];
    for want in ["eventually-leader", "clients-complete"] {
        let expect = format!("Violation({want:?})");
        for checks in orders {
            let text = quorum_lost(checks, &expect);
            let s = Scenario::parse("quorum-lost.ron", &text).expect("parses");
            let r = runner::run(&s, s.seed(), TraceLevel::Off).expect("runs");
            let mut found: Vec<&str> = r
                .report
                .violations
                .iter()
                .map(|v| v.check.as_str())
                .collect();
            found.sort_unstable();
            assert_eq!(found, ["clients-complete", "eventually-leader"]);
            assert!(r.matched, "checks {checks}, expect {want}: {:?}", r.outcome);
            assert_eq!(r.outcome.check(), Some(want));
            let path = tmp("quorum-lost.ron", &text);
            let out = faultline(&["run", &path, "--trace", "off"]);
            assert_eq!(out.status.code(), Some(0), "checks {checks}, expect {want}");
        }
    }
    for checks in orders {
        let path = tmp("quorum-lost-pass.ron", &quorum_lost(checks, "Pass"));
        let out = faultline(&["run", &path, "--trace", "off"]);
        assert_eq!(out.status.code(), Some(1), "checks {checks}");
    }
}
