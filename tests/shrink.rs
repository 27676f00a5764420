//! Shrinking, sweeping and judging, tested with `fragile`: a protocol made for these tests
//! whose checks fail in ways we can predict exactly (a node restarted too often, a node
//! asked too many requests), so we know what the minimal failing scenario must be.

use faultline::runner::Prepared;
use faultline::scenario::FaultSpec;
use faultline::{Outcome, Scenario, shrink, sweep};
use protocols::{CheckInfo, CheckKind, Knob, Protocol, Workload};
use serde::{Deserialize, Serialize};
use sim_core::{
    Checker, Client, ClientCtx, ClientId, Ctx, Duration, NodeId, Process, RequestId, TraceLevel,
    Value, View,
};

/// Nodes count their starts (durable) and the requests they answered (volatile).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Fragile {
    requests: u32,
}

protocols::documented! {
    #[derive(Clone, Debug, Serialize, Deserialize, Default)]
    #[serde(deny_unknown_fields, default)]
    struct FragileConfig {
        /// Restarts a node may have before `restarts-bounded` fails.
        max_restarts: u32,
        /// Requests one node may answer before `requests-bounded` fails.
        max_requests: u32,
    }
}

#[derive(Debug, Default)]
struct Starts(u32);

impl Process for Fragile {
    type Config = FragileConfig;
    type Msg = ();
    type Timer = ();
    type Durable = Starts;
    type Request = u32;
    type Response = u32;

    fn start(ctx: &mut Ctx<'_, Self>) -> Self {
        ctx.durable_mut().0 += 1;
        Fragile::default()
    }
    fn on_message(&mut self, _: &mut Ctx<'_, Self>, _: NodeId, _: ()) {}
    fn on_timer(&mut self, _: &mut Ctx<'_, Self>, _: ()) {}
    fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, client: ClientId, id: RequestId, _: u32) {
        self.requests += 1;
        ctx.reply(client, id, self.requests);
    }
}

/// Writes to n1, one operation at a time, until it has done `ops` (0: forever).
struct Writer {
    done: u32,
}

struct WriterConfig {
    ops: u32,
    think: Duration,
}

impl Client<Fragile> for Writer {
    type Config = WriterConfig;
    type Timer = ();

    fn start(ctx: &mut ClientCtx<'_, Fragile, Self>) -> Self {
        let think = ctx.config().think;
        ctx.set_timer(think, ());
        Writer { done: 0 }
    }
    fn on_response(
        &mut self,
        ctx: &mut ClientCtx<'_, Fragile, Self>,
        _: NodeId,
        _: RequestId,
        r: u32,
    ) {
        ctx.complete_ok(Value::Int(i64::from(r)));
        self.done += 1;
        let think = ctx.config().think;
        ctx.set_timer(think, ());
    }
    fn on_timer(&mut self, ctx: &mut ClientCtx<'_, Fragile, Self>, _: ()) {
        let ops = ctx.config().ops;
        if ops == 0 || self.done < ops {
            ctx.invoke("write", None, Value::Int(i64::from(self.done)));
            ctx.send_request(NodeId(0), self.done);
        }
    }
}

struct Bounded {
    name: &'static str,
    limit: u32,
}

impl Checker<Fragile> for Bounded {
    fn name(&self) -> &str {
        self.name
    }
    fn after_event(&mut self, view: &View<'_, Fragile>, node: NodeId) -> Result<(), String> {
        let (value, what) = if self.name == "restarts-bounded" {
            (view.durable(node).0.saturating_sub(1), "restarts")
        } else {
            (view.node(node).map_or(0, |n| n.requests), "requests")
        };
        if value > self.limit {
            return Err(format!(
                "{} has {value} {what}, more than {}",
                view.name(node),
                self.limit
            ));
        }
        Ok(())
    }
}

struct FragileProtocol;

impl Protocol for FragileProtocol {
    const NAME: &'static str = "fragile";
    const SUMMARY: &'static str = "test-only: checks that fail predictably";
    const MAX_NODES: usize = 16;
    type Config = FragileConfig;
    type Node = Fragile;
    type Client = Writer;

    fn knobs() -> &'static [Knob] {
        &[]
    }
    fn checks() -> &'static [CheckInfo] {
        &[
            CheckInfo {
                name: "restarts-bounded",
                kind: CheckKind::Always,
                promise: "no node restarts more than max_restarts times",
            },
            CheckInfo {
                name: "requests-bounded",
                kind: CheckKind::Always,
                promise: "no node answers more than max_requests requests",
            },
            CheckInfo {
                name: "linearizable",
                kind: CheckKind::History,
                promise: "the history is linearizable",
            },
        ]
    }
    fn checker(name: &str, config: &FragileConfig) -> Option<Box<dyn Checker<Fragile>>> {
        match name {
            "restarts-bounded" => Some(Box::new(Bounded {
                name: "restarts-bounded",
                limit: config.max_restarts,
            })),
            "requests-bounded" => Some(Box::new(Bounded {
                name: "requests-bounded",
                limit: config.max_requests,
            })),
            _ => None,
        }
    }
    fn client_config(w: &Workload, _: &FragileConfig) -> Result<WriterConfig, String> {
        Ok(WriterConfig {
            ops: w.ops_per_client,
            think: w.think_min,
        })
    }
}

const CRASHY: &str = r#"(
    name: "crashy",
    description: "A nemesis crashes, partitions and pauses nodes for 10s; some node restarts twice.",
    protocol: (name: "fragile", config: (max_restarts: 1, max_requests: 1000)),
    cluster: (nodes: 5),
    faults: [
        At("300ms", Partition([["n1", "n2"], ["n3", "n4", "n5"]])),
        At("900ms", Heal),
        At("1s", ClockSkew("n2", "+50ms")),
        At("2s", Isolate("n5")),
        At("2500ms", Heal),
    ],
    nemesis: (
        faults: [CrashRestart, PartitionHalves, Pause],
        every: ("100ms", "300ms"),
        lasting: ("100ms", "300ms"),
        stop: "10s",
    ),
    checks: ["restarts-bounded"],
    seed: 1,
    duration: "12s",
    expect: Pass,
)"#;

const BUSY: &str = r#"(
    name: "busy",
    protocol: (name: "fragile", config: (max_restarts: 10, max_requests: 4)),
    cluster: (nodes: 3),
    workload: (clients: 6, ops_per_client: 0, think_min: "10ms", think_max: "10ms"),
    checks: ["requests-bounded"],
    seed: 1,
    duration: "2s",
    expect: Violation("requests-bounded"),
)"#;

fn parse(text: &str) -> Scenario {
    Scenario::parse("test.ron", text).unwrap_or_else(|e| panic!("{}", e.render(false)))
}

fn run(s: &Scenario, seed: u64) -> faultline::RunResult {
    Prepared::<FragileProtocol>::new(s)
        .and_then(|p| p.run(s, seed, TraceLevel::Full))
        .unwrap_or_else(|e| panic!("{}", e.render(false)))
}

#[test]
fn an_unexpected_violation_does_not_match_and_an_expected_one_does() {
    let crashy = parse(CRASHY);
    let r = run(&crashy, 1);
    assert_eq!(
        r.outcome.check(),
        Some("restarts-bounded"),
        "{:?}",
        r.outcome
    );
    assert!(
        !r.matched,
        "expect: Pass, so a violation is a mismatch (exit code 1)"
    );
    let busy = parse(BUSY);
    let r = run(&busy, 1);
    assert!(r.matched, "{:?}", r.outcome);
    let Outcome::Violation(v) = &r.outcome else {
        unreachable!()
    };
    assert_eq!(v.message, "n1 has 5 requests, more than 4");
}

#[test]
fn the_materialized_nemesis_runs_exactly_like_the_nemesis() {
    let s = parse(CRASHY);
    for seed in 0..5 {
        let a = run(&s, seed);
        let m = s.materialize(seed);
        assert!(!m.has_nemesis());
        assert!(
            m.fault_count() > s.fault_count() + 10,
            "seed {seed}: {} faults",
            m.fault_count()
        );
        let b = run(&m, seed);
        assert_eq!(
            a.report.trace.to_text(),
            b.report.trace.to_text(),
            "seed {seed}"
        );
        // And written out and read back, it is still the same run.
        let back = Scenario::parse("m.ron", &m.to_ron())
            .unwrap_or_else(|e| panic!("{}\n{}", e.render(false), m.to_ron()));
        assert_eq!(
            a.report.trace.to_text(),
            run(&back, seed).report.trace.to_text(),
            "seed {seed} via RON"
        );
    }
}

#[test]
fn shrink_finds_the_two_crash_restart_pairs() {
    let s = parse(CRASHY);
    let mut log = Vec::new();
    let shrunk = shrink::shrink_with::<FragileProtocol>(&s, 1, &mut |l| log.push(l.to_string()))
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(shrunk.check, "restarts-bounded");
    assert!(shrunk.faults_before > 20, "{log:?}");
    // Two restarts of one node take exactly a crash, a restart, a crash and a restart.
    let back = parse(&shrunk.text);
    assert_eq!(back.fault_count(), 4, "{}", shrunk.text);
    assert!(!back.has_nemesis());
    let kinds: Vec<&str> = shrunk
        .text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("At("))
        .map(|l| {
            if l.contains("Restart(") {
                "restart"
            } else if l.contains("Crash(") {
                "crash"
            } else {
                "other"
            }
        })
        .collect();
    assert_eq!(
        kinds,
        ["crash", "restart", "crash", "restart"],
        "{}",
        shrunk.text
    );
    assert!(
        back.duration() < s.duration(),
        "the run is cut after the violation"
    );
    // `faultline run` on the written file reproduces the failure, and meets its expect.
    let r = run(&back, back.seed());
    assert_eq!(back.seed(), 1);
    assert_eq!(r.outcome.check(), Some("restarts-bounded"));
    assert!(r.matched, "the shrunk file expects the violation it shows");
}

#[test]
fn shrink_reduces_clients_and_operations() {
    let s = parse(BUSY);
    let shrunk = shrink::shrink_with::<FragileProtocol>(&s, 1, &mut |_| {})
        .unwrap_or_else(|e| panic!("{e:?}"));
    let back = parse(&shrunk.text);
    // One client doing five writes is the least that makes n1 answer a fifth request.
    assert_eq!(back.workload().clients, 1, "{}", shrunk.text);
    assert_eq!(back.workload().ops_per_client, 5, "{}", shrunk.text);
    assert!(run(&back, back.seed()).matched);
}

#[test]
fn shrinking_a_passing_seed_says_there_is_nothing_to_shrink() {
    let s = parse(&CRASHY.replace("max_restarts: 1,", "max_restarts: 100,"));
    match shrink::shrink_with::<FragileProtocol>(&s, 1, &mut |_| {}) {
        Err(shrink::ShrinkError::Passes(m)) => assert!(m.contains("passes every check"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn sweeps_write_the_same_bytes_for_any_number_of_threads() {
    let s = parse(CRASHY);
    let seeds: Vec<u64> = (0..24).collect();
    let mut outs = Vec::new();
    for jobs in [1, 2, 5] {
        let mut out = Vec::new();
        let summary = sweep::sweep_with::<FragileProtocol>(&s, &seeds, jobs, &mut out, &|_| {})
            .expect("sweep");
        assert_eq!(summary.runs, 24);
        assert!(
            !summary.failed.is_empty(),
            "some seed restarts a node twice"
        );
        outs.push((String::from_utf8(out).expect("utf8"), summary.failed));
    }
    assert_eq!(outs[0], outs[1]);
    assert_eq!(outs[0], outs[2]);
    let lines: Vec<serde_json::Value> = outs[0]
        .0
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let order: Vec<u64> = lines
        .iter()
        .map(|l| l["seed"].as_u64().expect("seed"))
        .collect();
    assert_eq!(order, seeds, "one line per seed, in seed order");
    let failed: Vec<u64> = lines
        .iter()
        .filter(|l| l["verdict"] == "failed")
        .map(|l| l["seed"].as_u64().unwrap())
        .collect();
    assert_eq!(failed, outs[0].1.iter().map(|r| r.seed).collect::<Vec<_>>());
    assert_eq!(
        lines[failed[0] as usize]["violation"]["check"],
        "restarts-bounded"
    );
}

#[test]
fn protocol_checks_are_looked_up_and_history_checks_need_clients() {
    let unknown = parse(&CRASHY.replace(
        r#"checks: ["restarts-bounded"]"#,
        r#"checks: ["restart-bounded"]"#,
    ));
    let e = Prepared::<FragileProtocol>::new(&unknown)
        .err()
        .expect("unknown check");
    assert_eq!(e.message(), "unknown check \"restart-bounded\" for fragile");
    assert!(e.render(false).contains(
        r#"help: fragile offers "restarts-bounded", "requests-bounded" or "linearizable""#
    ));
    let history = parse(&CRASHY.replace(
        r#"checks: ["restarts-bounded"]"#,
        r#"checks: ["linearizable"]"#,
    ));
    let e = Prepared::<FragileProtocol>::new(&history)
        .err()
        .expect("history check");
    assert_eq!(
        e.message(),
        "the history check \"linearizable\" needs clients"
    );
    assert_eq!(e.line_col(), Some((19, 14)));
    let config = parse(&CRASHY.replace("max_requests: 1000", "max_requests: -3"));
    let e = Prepared::<FragileProtocol>::new(&config)
        .err()
        .expect("bad config");
    assert!(
        e.message().starts_with("in the fragile config:"),
        "{}",
        e.message()
    );
    assert_eq!(e.line_col(), Some((4, 74)));
}

#[test]
fn every_fault_kind_survives_a_round_trip_through_ron() {
    let s = Scenario::load("scenarios/pingstorm/every-fault.ron").expect("ships");
    let back = Scenario::parse("again.ron", &s.to_ron())
        .unwrap_or_else(|e| panic!("{}\n{}", e.render(false), s.to_ron()));
    assert_eq!(back.fault_count(), s.fault_count());
    let a = faultline::runner::run(&s, 11, TraceLevel::Full).expect("runs");
    let b = faultline::runner::run(&back, 11, TraceLevel::Full).expect("runs");
    assert_eq!(a.report.trace.to_text(), b.report.trace.to_text());
    // The file shows every fault kind.
    let text = std::fs::read_to_string("scenarios/pingstorm/every-fault.ron").unwrap();
    for kind in [
        "Partition(",
        "Heal",
        "Isolate(",
        "OneWay(",
        "Bridge(",
        "Crash(",
        "Restart(",
        "Pause(",
        "ClockSkew(",
        "ClockDrift(",
        "SetLoss(",
        "SetDuplicate(",
        "SetLatency(",
    ] {
        assert!(text.contains(kind), "every-fault.ron lacks {kind}");
    }
    let _ = FaultSpec::Heal;
}
