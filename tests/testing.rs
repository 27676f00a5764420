//! `faultline::testing` and the registry as a value, with a toy protocol of the test's own:
//! the harness reports the lowest failing seed whatever the thread count, catches a
//! protocol that panics or is not deterministic, and never passes what did not pass.

use faultline::Registry;
use faultline::protocols::{CheckInfo, CheckKind, Knob, Protocol, Workload};
use faultline::sim_core::{Checker, Ctx, Duration, NoClients, NodeId, Process, View};
use faultline::testing::Check;
use std::sync::atomic::{AtomicU64, Ordering};

faultline::protocols::documented! {
    #[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
    #[serde(deny_unknown_fields, default)]
    struct ToyConfig {
        /// Panic on the first ping in about one seed in four.
        panic_sometimes: bool,
        /// Read a counter shared by every run: a second run of a seed differs.
        shared_counter: bool,
        /// `ring-bounded` fails when a ping's count passes it (0: no bound).
        bound: u64,
    }
}

static RUNS: AtomicU64 = AtomicU64::new(0);

#[derive(Clone, Debug)]
struct Toy {
    highest: u64,
}

impl Process for Toy {
    type Config = ToyConfig;
    type Msg = u64;
    type Timer = ();
    type Durable = ();
    type Request = ();
    type Response = ();

    fn start(ctx: &mut Ctx<'_, Self>) -> Self {
        if ctx.id() == NodeId(0) {
            let extra = if ctx.config().shared_counter {
                RUNS.fetch_add(1, Ordering::Relaxed) % 7
            } else {
                0
            };
            ctx.set_timer(Duration::from_millis(1 + extra), ());
        }
        Toy { highest: 0 }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, _: NodeId, n: u64) {
        self.highest = self.highest.max(n);
        if ctx.config().panic_sometimes && n == 0 && ctx.rng().below(4) == 0 {
            panic!("the toy panics on purpose");
        }
        if n < 5 {
            let next = NodeId((ctx.id().0 + 1) % ctx.node_count() as u32);
            ctx.send(next, n + 1);
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _: ()) {
        ctx.send(NodeId(1), 0);
    }
}

struct RingBounded(u64);

impl Checker<Toy> for RingBounded {
    fn name(&self) -> &str {
        "ring-bounded"
    }
    fn after_event(&mut self, view: &View<'_, Toy>, node: NodeId) -> Result<(), String> {
        match view.node(node) {
            Some(t) if self.0 > 0 && t.highest > self.0 => Err(format!(
                "{} saw ping {} past the bound {}",
                view.name(node),
                t.highest,
                self.0
            )),
            _ => Ok(()),
        }
    }
}

struct ToyProtocol;

impl Protocol for ToyProtocol {
    const NAME: &'static str = "toy";
    const SUMMARY: &'static str = "a ring of five pings";
    const MAX_NODES: usize = 8;
    type Config = ToyConfig;
    type Node = Toy;
    type Client = NoClients;
    fn knobs() -> &'static [Knob] {
        &[]
    }
    fn checks() -> &'static [CheckInfo] {
        &[CheckInfo {
            name: "ring-bounded",
            kind: CheckKind::Always,
            promise: "no ping counts past the bound",
        }]
    }
    fn checker(name: &str, config: &ToyConfig) -> Option<Box<dyn Checker<Toy>>> {
        (name == "ring-bounded").then(|| Box::new(RingBounded(config.bound)) as Box<_>)
    }
    fn client_config(w: &Workload, _: &ToyConfig) -> Result<(), String> {
        if w.clients > 0 {
            return Err("toy has no clients".into());
        }
        Ok(())
    }
}

fn toy(config: &str, expect: &str) -> String {
    format!(
        r#"(
    name: "toy",
    protocol: (name: "toy", config: ({config})),
    cluster: (nodes: 3),
    checks: ["ring-bounded"],
    seed: 1,
    duration: "100ms",
    expect: {expect},
)"#
    )
}

#[test]
fn a_plain_toy_passes_every_seed_and_checks_determinism_on_a_sample() {
    let passed = Check::<ToyProtocol>::scenario_str("toy.ron", toy("", "Pass"))
        .seeds(100..160)
        .run();
    assert_eq!(passed.seeds, (100..160).collect::<Vec<_>>());
    assert_eq!(passed.determinism_checked, vec![100, 120, 140]);
}

#[test]
fn the_lowest_failing_seed_is_the_same_on_one_thread_and_on_four() {
    let check =
        || Check::<ToyProtocol>::scenario_str("toy.ron", toy("panic_sometimes: true", "Pass"));
    let start = (0..100)
        .find(|&s| check().seeds(s..s + 1).try_run().is_ok())
        .expect("a seed that passes");
    let run = |jobs| {
        check()
            .seeds(start..start + 64)
            .jobs(jobs)
            .try_run()
            .expect_err("one seed in four panics")
    };
    let (one, four) = (run(1), run(4));
    assert_eq!(one.what, "the protocol panicked");
    assert!(one.message.contains("the toy panics on purpose"), "{one}");
    assert_eq!(one.seed, four.seed);
    assert_eq!(one.to_string(), four.to_string());
    // Every seed below it passes.
    let below = one.seed.unwrap();
    assert!(below > start);
    check().seeds(start..below).run();
    // An empty range runs nothing, and that is an error, not a pass.
    let empty = Check::<ToyProtocol>::scenario_str("toy.ron", toy("", "Pass"))
        .seeds(10..10)
        .try_run()
        .expect_err("nothing to run");
    assert!(
        empty.message.contains("the seed range 10..10 is empty"),
        "{empty}"
    );
}

#[test]
fn a_run_that_differs_the_second_time_is_reported_with_the_first_differing_event() {
    let failure =
        Check::<ToyProtocol>::scenario_str("toy.ron", toy("shared_counter: true", "Pass"))
            .seeds(0..3)
            .try_run()
            .expect_err("a counter shared between runs is not deterministic");
    assert_eq!(failure.seed, Some(0));
    assert!(failure.what.starts_with("not deterministic"), "{failure}");
    assert!(failure.message.contains("first run:"), "{failure}");
    // With the determinism check off, the same sweep passes: only that check saw it.
    Check::<ToyProtocol>::scenario_str("toy.ron", toy("shared_counter: true", "Pass"))
        .seeds(0..3)
        .determinism_every(0)
        .run();
}

#[test]
fn a_pass_is_not_the_violation_a_scenario_expects() {
    let expect = "Violation(\"ring-bounded\")";
    let failure = Check::<ToyProtocol>::scenario_str("toy.ron", toy("", expect))
        .seeds(0..5)
        .try_run()
        .expect_err("no bound: the check holds, and that does not meet the expect");
    assert_eq!(failure.seed, Some(0));
    assert!(
        failure.what.starts_with("passed, but expected Violation"),
        "{failure}"
    );
    // With a bound the check fails on every seed, as expected; a single run shows it.
    let check = Check::<ToyProtocol>::scenario_str("toy.ron", toy("bound: 3", expect));
    let v = check
        .run_seed(0)
        .assert_expected()
        .assert_violation("ring-bounded")
        .clone();
    assert!(
        v.message.contains("saw ping 4 past the bound 3"),
        "{}",
        v.message
    );
    check.seeds(0..5).run();
}

#[test]
fn a_scenario_of_another_protocol_is_an_error_naming_both() {
    let text = toy("", "Pass").replace("name: \"toy\", config", "name: \"pingstorm\", config");
    let failure = Check::<ToyProtocol>::scenario_str("ping.ron", text)
        .try_run()
        .expect_err("wrong protocol");
    assert!(failure.message.contains("\"pingstorm\""), "{failure}");
    assert!(failure.message.contains("\"toy\""), "{failure}");
}

#[test]
fn a_single_run_answers_assertions_on_its_trace() {
    let run = Check::<ToyProtocol>::scenario_str("toy.ron", toy("", "Pass")).run_seed(5);
    run.assert_pass().assert_expected();
    run.assert_trace_line("n1 -> n2  0");
    let panic = std::panic::catch_unwind(|| {
        run.assert_trace_line("no such line");
    })
    .expect_err("a missing line fails");
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("toy.ron seed 5: no trace line contains"),
        "{message}"
    );
    assert!(message.contains("-- run "), "{message}");
    assert!(message.contains("toy-seed5.ron"), "{message}");
}

#[test]
fn a_registry_grows_with_a_protocol_of_ones_own() {
    let reg = Registry::builtin().with::<ToyProtocol>();
    assert_eq!(reg.names().last(), Some(&"toy"));
    assert_eq!(
        &reg.names()[..reg.names().len() - 1],
        faultline::registry::names()
    );
    let s = faultline::Scenario::parse("toy.ron", &toy("", "Pass")).unwrap();
    let r = reg
        .run(&s, 3, faultline::sim_core::TraceLevel::Summary)
        .unwrap();
    assert!(r.matched);
    // The built-in registry does not know it, and says which it knows.
    let e = faultline::runner::run(&s, 3, faultline::sim_core::TraceLevel::Off).unwrap_err();
    assert!(
        e.message().contains("unknown protocol \"toy\""),
        "{}",
        e.message()
    );
}

#[test]
#[should_panic(expected = "already has a protocol called \"toy\"")]
fn a_registry_refuses_two_protocols_of_one_name() {
    let _ = Registry::empty()
        .with::<ToyProtocol>()
        .with::<ToyProtocol>();
}
