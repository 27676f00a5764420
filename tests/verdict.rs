//! How a run's verdict is judged: against every violation at the stopping event, whatever
//! the order of `checks`; and runs that end early are their own outcome.

mod common;

use common::faultline;

use faultline::scenario::{Expect, Spanned};
use faultline::{Scenario, runner};
use sim_core::{Time, TraceLevel, Violation};

fn tmp(name: &str, text: &str) -> String {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("verdict");
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

/// `flood`: a test protocol whose n1, on start, sets `timers` timers at once, more than
/// the event queue holds when asked, so the run ends `queue-full` at time zero.
mod flood {
    use protocols::{CheckInfo, CheckKind, HistoryFailure, Knob, Protocol, Workload};
    use serde::{Deserialize, Serialize};
    use sim_core::{Checker, Ctx, Duration, NodeId, Process, Time};

    protocols::documented! {
        #[derive(Clone, Debug, Default, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct Config {
            /// Timers n1 sets at once when it starts.
            pub timers: u64,
        }
    }

    pub struct Node;

    impl Process for Node {
        type Config = Config;
        type Msg = ();
        type Timer = ();
        type Durable = ();
        type Request = ();
        type Response = ();
        fn start(ctx: &mut Ctx<'_, Self>) -> Self {
            if ctx.id() == NodeId(0) {
                for _ in 0..ctx.config().timers {
                    ctx.set_timer(Duration::from_millis(1), ());
                }
            }
            Node
        }
        fn on_message(&mut self, _: &mut Ctx<'_, Self>, _: NodeId, _: ()) {}
        fn on_timer(&mut self, _: &mut Ctx<'_, Self>, _: ()) {}
    }

    pub struct Flood;

    impl Protocol for Flood {
        const NAME: &'static str = "flood";
        const SUMMARY: &'static str = "test-only: fills the event queue";
        const MAX_NODES: usize = 16;
        type Config = Config;
        type Node = Node;
        type Client = sim_core::NoClients;
        fn knobs() -> &'static [Knob] {
            &[]
        }
        fn checks() -> &'static [CheckInfo] {
            &[CheckInfo {
                name: "nothing-lost",
                kind: CheckKind::History,
                promise: "test-only",
            }]
        }
        fn checker(_: &str, _: &Config) -> Option<Box<dyn Checker<Node>>> {
            None
        }
        fn history_check(
            _: &str,
            _: &lincheck::History,
            _: &Config,
            _: Time,
            _: u64,
        ) -> Result<(), HistoryFailure> {
            Err(HistoryFailure::Undecided("test-only: never decides".into()))
        }
        fn client_config(_: &Workload, _: &Config) -> Result<(), String> {
            Ok(())
        }
    }
}

fn flood(timers: u64, expect: &str) -> Scenario {
    let text = format!(
        r#"(name: "flood", protocol: (name: "flood", config: (timers: {timers})), cluster: (nodes: 2), checks: [], seed: 1, duration: "1s", expect: {expect})"#
    );
    Scenario::parse("flood.ron", &text).expect("parses")
}

#[test]
fn a_run_cut_short_is_incomplete_and_never_passes() {
    use faultline::output::outcome_name;
    use faultline::runner::{EXIT_INCOMPLETE, Outcome, Prepared};
    let over = sim_core::queue::MAX_PENDING as u64 + 1;
    let s = flood(over, "Pass");
    let prepared = Prepared::<flood::Flood>::new(&s).expect("prepares");
    let r = prepared.run(&s, 1, TraceLevel::Off).expect("runs");
    assert_eq!(r.report.end, sim_core::EndReason::QueueFull);
    assert!(
        matches!(r.outcome, Outcome::Incomplete { end: sim_core::EndReason::QueueFull, at } if at == Time::ZERO),
        "{:?}",
        r.outcome
    );
    assert!(!r.matched, "an incomplete run never meets expect: Pass");
    assert_eq!(r.outcome.exit_code(r.matched), EXIT_INCOMPLETE);
    assert_eq!(
        outcome_name(&r.outcome),
        "incomplete: queue-full at 0.000ms"
    );
    let json = serde_json::to_value(&r.outcome).expect("serializes");
    assert_eq!(json["verdict"], "incomplete");
    assert_eq!(json["end"], "queue-full");
    // The same protocol with a queue that holds everything runs to its end and passes.
    let s = flood(1_000, "Pass");
    let r = Prepared::<flood::Flood>::new(&s)
        .unwrap()
        .run(&s, 1, TraceLevel::Off)
        .unwrap();
    assert_eq!(r.outcome, Outcome::Pass);
    assert!(r.matched);
}

#[test]
fn an_undecided_history_check_is_its_own_outcome() {
    use faultline::runner::{EXIT_UNDECIDED, Outcome, Prepared};
    let text = r#"(name: "flood", protocol: (name: "flood", config: (timers: 3)), cluster: (nodes: 2), workload: (clients: 1), checks: ["nothing-lost"], seed: 1, duration: "1s", expect: Pass)"#;
    let s = Scenario::parse("flood.ron", text).expect("parses");
    let r = Prepared::<flood::Flood>::new(&s)
        .unwrap()
        .run(&s, 1, TraceLevel::Off)
        .unwrap();
    assert!(
        matches!(&r.outcome, Outcome::Undecided { check, .. } if check == "nothing-lost"),
        "{:?}",
        r.outcome
    );
    assert!(!r.matched, "undecided never meets expect: Pass");
    assert_eq!(r.outcome.exit_code(r.matched), EXIT_UNDECIDED);
}

#[test]
fn a_sweep_exits_with_its_most_serious_code() {
    use faultline::runner::{
        EXIT_INCOMPLETE, EXIT_NOT_MET, EXIT_OK, EXIT_RUNAWAY, EXIT_UNDECIDED, combined_exit_code,
    };
    assert_eq!(combined_exit_code([]), EXIT_OK);
    assert_eq!(
        combined_exit_code([EXIT_INCOMPLETE, EXIT_RUNAWAY, EXIT_UNDECIDED]),
        EXIT_RUNAWAY
    );
    assert_eq!(
        combined_exit_code([EXIT_RUNAWAY, EXIT_NOT_MET]),
        EXIT_NOT_MET
    );
    assert_eq!(
        combined_exit_code([EXIT_OK, EXIT_UNDECIDED]),
        EXIT_UNDECIDED
    );
    assert_eq!(
        combined_exit_code([EXIT_UNDECIDED, EXIT_INCOMPLETE, EXIT_OK]),
        EXIT_INCOMPLETE
    );
    assert_eq!(
        combined_exit_code([EXIT_INCOMPLETE, EXIT_NOT_MET, EXIT_UNDECIDED]),
        EXIT_NOT_MET
    );
}

/// The lease demo (seed 112 serves a stale read) with `extra` added before `expect`.
fn stale_read_demo(extra: &str) -> String {
    let text =
        std::fs::read_to_string("scenarios/raft/lease-without-clock-bound.ron").expect("shipped");
    let at = text.find("    expect:").expect("an expect line");
    format!("{}{extra}{}", &text[..at], &text[at..])
}

#[test]
fn the_history_check_is_bounded_and_undecided_is_never_a_violation() {
    use faultline::runner::{EXIT_UNDECIDED, Outcome};
    let decided = Scenario::parse("lwcb.ron", &stale_read_demo("")).expect("parses");
    let r = runner::run(&decided, decided.seed(), TraceLevel::Off).expect("runs");
    assert!(r.matched, "the demo fails linearizable: {:?}", r.outcome);
    // The same history with a budget of one step per key: undecided, whatever expect says.
    let text = stale_read_demo("    check_steps: 1,\n");
    let s = Scenario::parse("lwcb.ron", &text).expect("parses");
    let r = runner::run(&s, s.seed(), TraceLevel::Off).expect("runs");
    match &r.outcome {
        Outcome::Undecided { check, message } => {
            assert_eq!(check, "linearizable");
            assert!(message.contains("budget of 1 steps per key"), "{message}");
        }
        other => panic!("expected undecided, got {other:?}"),
    }
    assert!(
        !r.matched,
        "undecided does not meet expect: Violation(\"linearizable\")"
    );
    let path = tmp("lwcb-undecided.ron", &text);
    let out = faultline(&["run", &path, "--trace", "off"]);
    assert_eq!(out.status.code(), Some(i32::from(EXIT_UNDECIDED)));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("got undecided: linearizable"), "{stdout}");
    let sweep = faultline(&["sweep", &path, "--seeds", "112..113", "--jobs", "1"]);
    assert_eq!(sweep.status.code(), Some(i32::from(EXIT_UNDECIDED)));
}

#[test]
fn sweep_lines_stay_short_and_run_explain_full_keeps_the_whole_explanation() {
    let path = tmp(
        "lwcb-pass.ron",
        &stale_read_demo("").replace(r#"expect: Violation("linearizable"),"#, "expect: Pass,"),
    );
    let sweep = faultline(&["sweep", &path, "--seeds", "112..113", "--jobs", "1"]);
    assert_eq!(sweep.status.code(), Some(1));
    let line = String::from_utf8_lossy(&sweep.stdout).into_owned();
    assert!(line.contains(r#""check":"linearizable""#), "{line}");
    assert!(line.len() < 1_000, "a sweep line of {} bytes", line.len());
    let run = faultline(&[
        "run",
        &path,
        "--trace",
        "off",
        "--seed",
        "112",
        "--explain",
        "full",
    ]);
    let full = String::from_utf8_lossy(&run.stdout);
    assert!(
        full.len() > 2 * line.len() && full.contains("not linearizable"),
        "run prints the whole explanation:\n{full}"
    );
}

#[test]
fn every_protocol_states_its_cluster_limit_and_beyond_it_is_bad_input() {
    let list = faultline(&["list"]);
    let stdout = String::from_utf8_lossy(&list.stdout);
    for limit in ["1000000", "10000", "200", "1000"] {
        assert!(
            stdout.contains(&format!("    nodes: at most {limit}\n")),
            "{stdout}"
        );
    }
    let path = tmp(
        "huge.ron",
        r#"(name: "huge", protocol: (name: "raft"), cluster: (nodes: 100000), seed: 1, duration: "1s", expect: Pass)"#,
    );
    let out = faultline(&["run", &path]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "bad input, before the run starts"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("100000 nodes is more than raft supports (10000 at most)"),
        "{stderr}"
    );
}

/// A message storm (pingstorm, where every delivery causes one send, with duplication)
/// is a runaway: its own outcome and exit code, in `run` and in every sweep line, never a
/// pass, and stopped before it grows.
#[test]
fn a_message_storm_is_a_runaway_in_run_and_sweep() {
    let storm = |dup: f64, extra: &str| {
        format!(
            r#"(name: "storm", protocol: (name: "pingstorm", config: (fanout: 2)), cluster: (nodes: 3),
    network: (latency: Uniform(min: "1ms", max: "10ms"), duplicate: {dup}),
    checks: [], seed: 1, duration: "20s", trace: Off, {extra} expect: Pass)"#
        )
    };
    let path = tmp("storm.ron", &storm(0.3, ""));
    let out = faultline(&["run", &path]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(5), "{text}");
    assert!(text.contains("end: runaway at "), "{text}");
    assert!(text.contains("got runaway: "), "{text}");
    assert!(
        text.contains("of virtual time (bound: 1,000,000 per second)"),
        "{text}"
    );
    assert!(text.contains("100% Ping, most on n"), "{text}");
    assert!(text.contains("replay: faultline run"), "{text}");

    let out = faultline(&["sweep", &path, "--seeds", "0..3", "--jobs", "1"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(5), "{text}");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .filter(|l| l.starts_with("{\"end\""))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    for l in &lines {
        assert_eq!(l["kind"], "runaway", "{l}");
        assert_eq!(l["verdict"], "failed", "{l}");
        assert_eq!(l["end"], "runaway", "{l}");
        assert!(
            l["outcome"].as_str().unwrap().starts_with("runaway: "),
            "{l}"
        );
    }

    // Without duplication the same storm is steady, and the bound does not fire.
    let path = tmp("steady.ron", &storm(0.0, ""));
    assert_eq!(faultline(&["run", &path]).status.code(), Some(0));
    // A bound the file lowers fires on the steady run too: it is the file's to set.
    let path = tmp(
        "steady-low.ron",
        &storm(0.0, "runaway: (events_per_second: 100),"),
    );
    let out = faultline(&["run", &path]);
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // A bound of 0 is an error at its position.
    let path = tmp("zero.ron", &storm(0.0, "runaway: (max_pending: 0),"));
    let out = faultline(&["run", &path]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("runaway max_pending is 0"), "{err}");
    assert!(err.contains("zero.ron:3:"), "{err}");
}
