//! `--export`: every shipped scenario's ShiViz log passes our validator of ShiViz's
//! parser rules, its Perfetto JSON passes our validator of the Trace Event Format's rules
//! (`export::validate_trace_events`: phases, µs times, flows bound to slices, slices
//! nested), the benchmarks' bounded by the picture budget,
//! and the Mermaid and history pictures say what the run did. The CLI writes them for a
//! window and rejects bad kinds and windows.

mod common;

use common::faultline;

use faultline::export::{self, Kind};
use faultline::{Scenario, runner, view};
use serde_json::Value;
use sim_core::{Time, TraceKind};
use std::collections::BTreeMap;
use std::path::Path;

fn view_of(file: &str, window: Option<view::Window>) -> (runner::RunResult, view::RunView) {
    let s = Scenario::load(file).expect("loads");
    let from = window.map_or(Time::ZERO, |w| w.from);
    // The run the CLI draws: its trace within the picture budget.
    let r = view::picture_run(&s, s.seed(), from).expect("runs");
    let v = view::RunView::new(&s, &r, window);
    (r, v)
}

/// Every shipped scenario, the benchmarks included (their pictures are bounded).
fn shipped() -> Vec<String> {
    faultline::scenario::files_under(Path::new("scenarios"))
        .expect("scenarios")
        .into_iter()
        .map(|f| f.display().to_string())
        .collect()
}

#[test]
fn every_shipped_scenario_exports_a_valid_shiviz_log_and_perfetto_json() {
    let mut n = 0;
    for file in shipped() {
        let (r, v) = view_of(&file, None);
        let log = export::shiviz(&v);
        let st = export::validate_shiviz(&log).unwrap_or_else(|e| panic!("{file}: {e}"));
        // The deliveries the export holds, from the trace: both ends on drawn lanes, both
        // events among the export's first MAX_EVENTS of the window.
        let shown = export::export_events(&v);
        let drawn = |n: &String| v.lanes.contains(n);
        let mut sent: BTreeMap<(String, String, String), std::collections::VecDeque<usize>> =
            BTreeMap::new();
        let mut deliveries = 0;
        for (i, e) in r.report.trace.events.iter().enumerate() {
            match &e.kind {
                TraceKind::Send { from, to, msg } | TraceKind::Duplicate { from, to, msg } => sent
                    .entry((from.clone(), to.clone(), msg.clone()))
                    .or_default()
                    .push_back(i),
                TraceKind::Deliver { from, to, msg } | TraceKind::Drop { from, to, msg, .. } => {
                    let s = sent
                        .get_mut(&(from.clone(), to.clone(), msg.clone()))
                        .and_then(std::collections::VecDeque::pop_front);
                    let delivered = matches!(e.kind, TraceKind::Deliver { .. });
                    if delivered
                        && drawn(from)
                        && drawn(to)
                        && shown.contains(&i)
                        && s.is_some_and(|s| shown.contains(&s))
                    {
                        deliveries += 1;
                    }
                }
                _ => {}
            }
        }
        let whole = r.report.trace_cut.is_none() && v.hidden_lanes == 0;
        assert_eq!(
            export::left_out(Kind::Shiviz, &v).is_some(),
            shown.len() < v.window_events().len(),
            "{file}: says when it leaves events out"
        );
        if file.contains("/bench/pingstorm") || file.ends_with("gossip-10000.ron") {
            assert!(!whole, "{file}: a benchmark this big is summarized");
        }
        assert!(
            log.len() < 64 << 20,
            "{file}: the ShiViz log is {} bytes",
            log.len()
        );
        assert!(st.joins <= deliveries, "{file}: joins only at deliveries");
        assert!(
            deliveries == 0 || st.joins > 0,
            "{file}: messages join clocks"
        );
        assert!(st.hosts <= v.lanes.len(), "{file}: a host is a lane");
        // Happens-before: every delivery's clock has seen its send's clock.
        let clocks = export::vector_clocks(&v);
        let at: BTreeMap<usize, usize> = clocks.iter().enumerate().map(|(k, c)| (c.0, k)).collect();
        let mut checked = 0;
        for m in v.msgs.iter().filter(|m| m.fate == view::Fate::Delivered) {
            let (Some(s), Some(d)) = (m.send_event, m.end_event) else {
                continue;
            };
            if !(shown.contains(&s) && shown.contains(&d)) {
                continue;
            }
            let (sc, dc) = (&clocks[at[&s]].2, &clocks[at[&d]].2);
            for (h, k) in sc {
                assert!(
                    dc.get(h).copied().unwrap_or(0) >= *k,
                    "{file}: delivery {d} has not seen its send {s}"
                );
            }
            checked += 1;
        }
        assert_eq!(checked, deliveries, "{file}: every delivery checked");
        perfetto_is_well_formed(&file, &v, deliveries);
        n += 1;
    }
    assert!(n >= 25);
}

#[test]
fn a_windowed_shiviz_log_is_valid_too() {
    let w = view::Window {
        from: Time::from_nanos(2_000_000_000),
        to: Time::from_nanos(2_500_000_000),
    };
    let (_, v) = view_of("scenarios/raft/leader-crash-failover.ron", Some(w));
    let log = export::shiviz(&v);
    let st = export::validate_shiviz(&log).expect("valid");
    assert!(st.events > 100 && st.joins > 10, "{st:?}");
    // It starts inside the window: every host's first event is its clock's 1.
    assert!(!log.contains("  0.000ms"));
}

/// Chrome trace-event rules this export relies on: known phases, each flow start and end
/// pair up and sit inside a slice of their thread, slices on a thread nest or are
/// disjoint, and each lane has a named thread.
fn check_perfetto(name: &str, j: &Value, lanes: &[String]) -> (usize, usize) {
    let evs = j["traceEvents"].as_array().expect("traceEvents");
    let mut slices: BTreeMap<i64, Vec<(f64, f64)>> = BTreeMap::new();
    let mut starts: BTreeMap<i64, (i64, f64)> = BTreeMap::new();
    let mut ends: BTreeMap<i64, (i64, f64)> = BTreeMap::new();
    let mut threads = Vec::new();
    let mut instants = 0;
    for e in evs {
        let ph = e["ph"].as_str().expect("ph");
        let tid = e["tid"].as_i64().unwrap_or(0);
        let ts = e["ts"].as_f64().unwrap_or(0.0);
        match ph {
            "M" => {
                if e["name"] == "thread_name" {
                    threads.push(e["args"]["name"].as_str().unwrap().to_string());
                }
            }
            "X" => {
                let dur = e["dur"].as_f64().expect("dur");
                assert!(dur > 0.0, "{name}: slice of no width: {e}");
                slices.entry(tid).or_default().push((ts, ts + dur));
            }
            "s" => assert!(
                starts
                    .insert(e["id"].as_i64().unwrap(), (tid, ts))
                    .is_none()
            ),
            "f" => {
                assert_eq!(
                    e["bp"], "e",
                    "{name}: flow ends bind to the enclosing slice"
                );
                assert!(ends.insert(e["id"].as_i64().unwrap(), (tid, ts)).is_none());
            }
            "i" => {
                assert!(matches!(e["s"].as_str(), Some("t" | "p" | "g")), "{e}");
                instants += 1;
            }
            _ => panic!("{name}: unexpected phase {ph}"),
        }
        assert_eq!(e["pid"], 1);
    }
    for l in lanes {
        assert!(threads.contains(l), "{name}: a thread for {l}");
    }
    assert_eq!(
        starts.keys().collect::<Vec<_>>(),
        ends.keys().collect::<Vec<_>>()
    );
    let inside = |tid: i64, ts: f64| {
        slices
            .get(&tid)
            .is_some_and(|v| v.iter().any(|&(a, b)| a <= ts && ts <= b))
    };
    for (id, &(tid, ts)) in starts.iter().chain(ends.iter()) {
        assert!(
            inside(tid, ts),
            "{name}: flow {id} at {ts} on {tid} is in no slice"
        );
    }
    for (tid, v) in &mut slices {
        v.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.total_cmp(&a.1)));
        let mut open: Vec<f64> = Vec::new();
        for &(a, b) in v.iter() {
            // Times are microseconds as floats: allow their rounding (a nanosecond).
            while open.last().is_some_and(|&end| end <= a + 1e-3) {
                open.pop();
            }
            if let Some(&end) = open.last() {
                assert!(
                    b <= end + 1e-6,
                    "{name}: slices overlap on thread {tid} at {a}"
                );
            }
            open.push(b);
        }
    }
    (starts.len(), instants)
}

/// Perfetto, for each shipped scenario (called from the ShiViz test: one run each): it
/// passes our validator of the Trace Event Format's rules, and has a flow per delivery
/// it holds (`deliveries`, counted from the trace).
fn perfetto_is_well_formed(file: &str, v: &view::RunView, deliveries: usize) {
    let text = export::export(Kind::Perfetto, v).unwrap();
    let st = export::validate_trace_events(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert_eq!(st.flows, deliveries, "{file}: a flow per delivery");
    assert!(st.threads >= v.lanes.len(), "{file}: a thread per lane");
    assert!(
        text.len() < 64 << 20,
        "{file}: the Perfetto JSON is {} bytes",
        text.len()
    );
    let j: Value = serde_json::from_str(&text).expect("JSON");
    let (flows, instants) = check_perfetto(file, &j, &v.lanes);
    assert_eq!(flows, deliveries, "{file}: a flow per delivery");
    let last = export::export_events(v)
        .last()
        .map_or(v.window.from, |i| v.times[i]);
    let marks = v.marks.iter().filter(|m| m.time <= last).count();
    assert!(instants >= marks, "{file}: an instant per fault");
    // Times are microseconds: each flow starts at its message's send.
    for e in j["traceEvents"].as_array().unwrap() {
        if e["ph"] == "s" {
            let id = e["id"].as_u64().unwrap() as usize - 1;
            let want = v.msgs[id].sent.as_nanos() as f64 / 1000.0;
            assert!(
                (e["ts"].as_f64().unwrap() - want).abs() < 1e-6,
                "{file}: {e}"
            );
        }
    }
}

#[test]
fn mermaid_draws_the_window_and_says_when_it_leaves_lines_out() {
    let w = view::Window {
        from: Time::from_nanos(2_000_000_000),
        to: Time::from_nanos(2_500_000_000),
    };
    let (_, v) = view_of("scenarios/split-brain/lease-pause.ron", Some(w));
    let m = export::mermaid(&v);
    assert!(m.starts_with("sequenceDiagram\n"));
    for l in &v.lanes {
        assert!(m.contains(&format!("    participant {l}\n")));
    }
    let arrows = m.lines().filter(|l| l.contains("->>")).count();
    let lost = m.lines().filter(|l| l.contains("-x")).count();
    let delivered = v
        .msgs
        .iter()
        .filter(|x| x.fate == view::Fate::Delivered && w.contains(x.at))
        .count();
    let dropped = v
        .msgs
        .iter()
        .filter(|x| matches!(x.fate, view::Fate::Dropped(_)) && w.contains(x.at))
        .count();
    assert_eq!((arrows, lost), (delivered, dropped));
    assert!(m.contains("Note over n1,store: partition {n1 n2} | {n3 n4 n5}"));
    assert!(!m.contains("left out"));
    // A whole Raft run is too long for one diagram: it says so and names a window.
    let (_, big) = view_of("scenarios/raft/rolling-restarts.ron", None);
    let m = export::mermaid(&big);
    assert!(m.lines().count() <= export::MERMAID_MAX + 20);
    assert!(
        m.contains("more lines left out") && m.contains("--from"),
        "{m}"
    );
    // Client requests (`c1#35 get`) and anything with `;` or `#` are entity-escaped once,
    // so no `;` ends a statement early.
    assert!(m.contains("c1#35;") && !m.contains("#35#59;"), "{m}");
    for line in m.lines().filter(|l| !l.trim_start().starts_with("%%")) {
        assert_eq!(
            line.matches(';').count(),
            line.matches('#').count(),
            "{line}"
        );
    }
}

#[test]
fn the_history_svg_outlines_exactly_the_ops_lincheck_cannot_place() {
    let (r, v) = view_of("scenarios/raft/lease-without-clock-bound.ron", None);
    let svg = export::history_svg(&v);
    let report =
        lincheck::check_history(&r.report.history, &lincheck::CheckOptions::default()).unwrap();
    let stuck: usize = report
        .keys
        .iter()
        .filter_map(|k| k.explanation.as_ref())
        .map(|e| e.stuck.len())
        .sum();
    assert!(stuck > 0);
    assert_eq!(svg.matches("class=\"stuck\"").count(), stuck);
    assert_eq!(svg.matches("<rect x=").count(), v.ops.len());
    // A passing run outlines none.
    let (_, ok) = view_of("scenarios/raft/minority-partition.ron", None);
    let svg = export::history_svg(&ok);
    assert!(!svg.contains("class=\"stuck\"") && svg.matches("<rect x=").count() > 10);
}

#[test]
fn the_cli_writes_every_export_for_a_window_and_rejects_bad_input() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("exports-cli");
    std::fs::create_dir_all(&dir).unwrap();
    let p = |f: &str| dir.join(f).display().to_string();
    let args = [
        "run".to_string(),
        "scenarios/split-brain/lease-pause.ron".into(),
        "--html".into(),
        p("page.html"),
        "--export".into(),
        format!("shiviz={}", p("run.log")),
        "--export".into(),
        format!("perfetto={}", p("run.json")),
        "--export".into(),
        format!("mermaid={}", p("run.mmd")),
        "--export".into(),
        format!("history-svg={}", p("history.svg")),
        "--from".into(),
        "2s".into(),
        "--to".into(),
        "2.5s".into(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = faultline(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = std::fs::read_to_string(p("run.log")).unwrap();
    export::validate_shiviz(&log).unwrap();
    assert!(log.contains("2074.245ms") && !log.contains("\n1000."));
    let j: Value = serde_json::from_str(&std::fs::read_to_string(p("run.json")).unwrap()).unwrap();
    assert!(j["traceEvents"].as_array().unwrap().len() > 10);
    assert!(
        std::fs::read_to_string(p("run.mmd"))
            .unwrap()
            .starts_with("sequenceDiagram")
    );
    assert!(
        std::fs::read_to_string(p("page.html"))
            .unwrap()
            .contains("\"from\":2000000000")
    );
    // The whole run of a busy Raft file: the page says the diagram is dense and suggests
    // a window.
    let out = faultline(&[
        "run",
        "scenarios/bench/raft-60s.ron",
        "--html",
        &p("big.html"),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("too many arrows") && err.contains("--from"),
        "{err}"
    );

    for (bad, says) in [
        (vec!["--export", "svg=x.svg"], "unknown export kind \"svg\""),
        (vec!["--export", "shiviz"], "is not KIND=FILE"),
        (vec!["--export", "shiviz="], "names no file"),
        (
            vec!["--html", "x.html", "--from", "2s", "--to", "1s"],
            "after --to",
        ),
        (vec!["--from", "1s"], "give one of those too"),
        (vec!["--html", "x.html", "--from", "soon"], "write a time"),
        (
            vec!["--html", "x.html", "--from", "99s"],
            "after the run's end",
        ),
    ] {
        let mut a = vec!["run", "scenarios/pingstorm/smoke.ron"];
        a.extend(bad);
        let out = faultline(&a);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{a:?}: {err}");
        assert!(err.contains(says), "{a:?} should say {says:?}: {err}");
    }
}

#[test]
fn the_page_and_every_export_are_the_same_bytes_on_every_run() {
    let pictures = |file: &str| {
        let (_, v) = view_of(file, None);
        let mut all = vec![faultline::html::page(&v)];
        for k in Kind::ALL {
            all.push(export::export(k, &v).unwrap());
        }
        all
    };
    let file = "scenarios/raft/lease-without-clock-bound.ron";
    assert_eq!(pictures(file), pictures(file));
}

/// A late window of a run too long for the budget: the picture's run is recorded again
/// with only the summary events before `--from`, and what it draws of the window is what
/// the whole trace has there.
#[test]
fn a_late_window_of_a_run_past_its_budget_is_drawn_as_the_whole_trace_has_it() {
    let s = Scenario::load("scenarios/bench/raft-60s.ron").expect("loads");
    let w = view::Window {
        from: Time::from_nanos(30_000_000_000),
        to: Time::from_nanos(30_500_000_000),
    };
    let first = view::picture_run_within(&s, s.seed(), Time::ZERO, 20_000).expect("runs");
    assert!(
        first.report.trace_cut.is_some_and(|c| c < w.from),
        "a full recording runs out before the window"
    );
    let small = view::picture_run_within(&s, s.seed(), w.from, 20_000).expect("runs");
    assert!(
        small.report.trace_cut.is_none_or(|c| c > w.to),
        "the second recording reaches the window"
    );
    assert!(
        small.report.trace.events.len() <= 20_000,
        "within the budget"
    );
    let whole = runner::run(&s, s.seed(), sim_core::TraceLevel::Full).expect("runs");
    assert_eq!(small.outcome, whole.outcome, "the same run");
    let a = view::RunView::new(&s, &small, Some(w));
    let b = view::RunView::new(&s, &whole, Some(w));
    // The same deliveries of the window (a send before the window has no send event in
    // the budgeted trace, so compare by delivery).
    let ends = |v: &view::RunView| -> Vec<(String, String, String, Time)> {
        v.msgs
            .iter()
            .filter(|m| m.fate == view::Fate::Delivered && w.contains(m.at))
            .map(|m| (m.from.clone(), m.to.clone(), m.text.clone(), m.at))
            .collect()
    };
    assert!(ends(&b).len() > 100);
    assert_eq!(ends(&a), ends(&b));
    assert_eq!(a.lanes, b.lanes);
    assert_eq!(
        a.spans.len(),
        b.spans.len(),
        "leader, crash and pause spans"
    );
    export::validate_shiviz(&export::shiviz(&a)).expect("valid ShiViz");
    export::validate_trace_events(&export::perfetto(&a).to_string()).expect("valid Perfetto");
}
