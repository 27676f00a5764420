//! The `--html` page in a real browser: headless Chromium opens each shipped scenario's
//! page, runs its script, and the DOM it built is checked against the trace: an arrow per
//! delivery in the window, a lane per node and client, the violation marker exactly when
//! the run failed, and no script error. Every shipped scenario, the benchmarks included:
//! a run too big to draw whole (past `view::PICTURE_EVENTS` trace events or
//! `view::MAX_LANES` lanes) is drawn in part, and its page says so and stays under 5 MB;
//! its lanes are those that carry the traffic (more arrows than the first ids would
//! show), and its arrows are exactly the deliveries among the lanes it drew.
//! Screenshots of a few pages are saved under `target/html-browser/`.
//!
//! Needs `chromium` on PATH (`.ci/run` installs Debian's package when it is missing). The
//! test fails when it is missing, so CI cannot pass without running it; set
//! `FAULTLINE_NO_BROWSER=1` to skip it on a machine without a browser.

use faultline::{Scenario, html, runner, view};
use sim_core::{Time, TraceKind};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Command;

fn out_dir() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("html-browser");
    std::fs::create_dir_all(&d).expect("out dir");
    d
}

fn browser() -> Option<String> {
    if std::env::var_os("FAULTLINE_NO_BROWSER").is_some() {
        eprintln!("FAULTLINE_NO_BROWSER is set: the browser test is SKIPPED");
        return None;
    }
    for b in ["chromium", "chromium-browser"] {
        if Command::new(b).arg("--version").output().is_ok() {
            return Some(b.to_string());
        }
    }
    panic!(
        "no chromium on PATH: install it (apt-get install -y chromium, as .ci/run does) or set FAULTLINE_NO_BROWSER=1 to skip"
    );
}

/// Runs the page's script in headless Chromium; returns the DOM it built.
fn dump_dom(browser: &str, page: &Path, screenshot: Option<&Path>) -> String {
    let profile = out_dir().join(format!(
        "profile-{}",
        page.file_stem().unwrap().to_string_lossy()
    ));
    let url = format!("file://{}", page.display());
    let common = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-extensions",
        "--no-first-run",
        "--virtual-time-budget=10000",
        "--window-size=1400,1000",
    ];
    let profile_arg = format!("--user-data-dir={}", profile.display());
    let out = Command::new(browser)
        .args(common)
        .arg(&profile_arg)
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && dom.contains("</html>"),
        "chromium failed on {}: {}",
        page.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    if let Some(png) = screenshot {
        let out = Command::new(browser)
            .args(common)
            .arg(&profile_arg)
            .arg(format!("--screenshot={}", png.display()))
            .arg(&url)
            .output()
            .expect("chromium runs");
        assert!(out.status.success(), "screenshot of {}", page.display());
        let bytes = std::fs::read(png).expect("the screenshot was written");
        assert!(
            bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000,
            "{} is not a real screenshot",
            png.display()
        );
    }
    dom
}

/// Deliveries between two of `lanes` whose (FIFO-matched) send or delivery falls in
/// `[from, to]`, counted from the trace alone.
fn deliveries_in(trace: &sim_core::Trace, from: Time, to: Time, lanes: &[String]) -> usize {
    let mut sent: std::collections::BTreeMap<(String, String, String), VecDeque<Time>> =
        Default::default();
    let mut n = 0;
    for e in &trace.events {
        match &e.kind {
            TraceKind::Send {
                from: f,
                to: t,
                msg,
            }
            | TraceKind::Duplicate {
                from: f,
                to: t,
                msg,
            } => sent
                .entry((f.clone(), t.clone(), msg.clone()))
                .or_default()
                .push_back(e.time),
            TraceKind::Deliver {
                from: f,
                to: t,
                msg,
            }
            | TraceKind::Drop {
                from: f,
                to: t,
                msg,
                ..
            } => {
                let s = sent
                    .get_mut(&(f.clone(), t.clone(), msg.clone()))
                    .and_then(VecDeque::pop_front)
                    .unwrap_or(e.time);
                let meets = s <= to && e.time >= from && lanes.contains(f) && lanes.contains(t);
                if meets && matches!(e.kind, TraceKind::Deliver { .. }) {
                    n += 1;
                }
            }
            _ => {}
        }
    }
    n
}

/// The lanes a page draws of a run that fits: the scenario's nodes, then whoever else the
/// trace names (clients); of a bigger one, the first `view::MAX_LANES` nodes and as many
/// clients (what pages drew before they chose lanes by traffic: the baseline they must
/// beat).
fn lanes_of(s: &Scenario, trace: &sim_core::Trace) -> Vec<String> {
    lanes_up_to(s, trace, view::MAX_LANES)
}

/// The first `most` nodes and the first `most` clients.
fn lanes_up_to(s: &Scenario, trace: &sim_core::Trace, most: usize) -> Vec<String> {
    let mut nodes: Vec<String> = s.nodes().iter().take(most).cloned().collect();
    let all: std::collections::BTreeSet<&String> = s.nodes().iter().collect();
    let mut clients: Vec<String> = Vec::new();
    for e in &trace.events {
        let names: Vec<&String> = match &e.kind {
            TraceKind::Send { from, to, .. } | TraceKind::Deliver { from, to, .. } => {
                vec![from, to]
            }
            TraceKind::Invoke { client, .. } => vec![client],
            TraceKind::Note { node, .. } | TraceKind::Start { node, .. } => vec![node],
            _ => vec![],
        };
        for n in names {
            if !all.contains(n) && !clients.contains(n) && clients.len() < most {
                clients.push(n.clone());
            }
        }
    }
    nodes.extend(clients);
    nodes
}

struct Dom(String);

impl Dom {
    /// The lanes the script drew, in order.
    fn lanes(&self) -> Vec<String> {
        self.0
            .split("<g class=\"lane\" data-lane=\"")
            .skip(1)
            .filter_map(|x| x.split('"').next())
            .map(String::from)
            .collect()
    }
    fn count(&self, needle: &str) -> usize {
        self.0.matches(needle).count()
    }
    fn has(&self, needle: &str) -> bool {
        self.0.contains(needle)
    }
}

/// Checks one page's DOM against its run; panics with what differs.
fn check_page(name: &str, dom: &Dom, lanes: &[String], deliveries: usize, failed: bool) {
    assert!(
        !dom.has("id=\"script-error\""),
        "{name}: the page's script failed: {}",
        dom.0
            .split("id=\"script-error\"")
            .nth(1)
            .unwrap_or("")
            .chars()
            .take(400)
            .collect::<String>()
    );
    assert!(
        dom.has("id=\"render-status\" hidden=\"\" data-arrows=") && dom.has(">ok</div>"),
        "{name}: the script did not finish drawing"
    );
    assert_eq!(
        dom.count("class=\"arrow delivered"),
        deliveries,
        "{name}: an arrow per delivery"
    );
    for l in lanes {
        assert_eq!(
            dom.count(&format!("<g class=\"lane\" data-lane=\"{l}\">")),
            1,
            "{name}: one lane for {l}"
        );
    }
    assert_eq!(
        dom.count("<g class=\"lane\" "),
        lanes.len(),
        "{name}: a lane per node and client, no more"
    );
    assert_eq!(
        dom.has("id=\"violation-marker\""),
        failed,
        "{name}: the violation marker is there exactly when the run failed"
    );
}

fn page_of(s: &Scenario, window: Option<view::Window>) -> (runner::RunResult, PathBuf) {
    let from = window.map_or(Time::ZERO, |w| w.from);
    let r = view::picture_run(s, s.seed(), from).expect("runs");
    let path = page_from(s, &r, window, &[], "");
    (r, path)
}

/// Writes the page of run `r` drawing `lanes` (as `--lanes`); `tag` tells its file apart.
fn page_from(
    s: &Scenario,
    r: &runner::RunResult,
    window: Option<view::Window>,
    lanes: &[String],
    tag: &str,
) -> PathBuf {
    let v = view::RunView::with_lanes(s, r, window, lanes);
    let page = html::page(&v);
    let path = out_dir().join(format!(
        "{}{tag}.html",
        s.file()
            .trim_start_matches("scenarios/")
            .replace(['/', '.'], "_")
    ));
    std::fs::write(&path, page).expect("write the page");
    path
}

#[test]
fn every_shipped_scenario_renders_in_a_browser_and_matches_its_trace() {
    let Some(browser) = browser() else { return };
    let files = faultline::scenario::files_under(Path::new("scenarios")).expect("scenarios");
    let shots = [
        "scenarios/split-brain/lease-pause.ron",
        "scenarios/raft/lease-without-clock-bound.ron",
        "scenarios/raft/vote-without-log-check.ron",
    ];
    let mut checked = 0;
    for f in files {
        let file = f.display().to_string();
        let s = Scenario::load(&file).expect("loads");
        let (r, path) = page_of(&s, None);
        let png = path.with_extension("png");
        let started = std::time::Instant::now();
        let dom = Dom(dump_dom(
            &browser,
            &path,
            shots.contains(&file.as_str()).then_some(png.as_path()),
        ));
        let drawn_in = started.elapsed();
        let first = lanes_of(&s, &r.report.trace);
        let big = lanes_up_to(&s, &r.report.trace, usize::MAX).len() > first.len();
        // A cluster that fits is drawn whole, in order; a bigger one as lanes chosen by
        // their traffic: as many as the first ones, every one a lane of the run.
        let lanes = if big { dom.lanes() } else { first.clone() };
        if big {
            let clients = first.len() - s.nodes().len().min(view::MAX_LANES);
            assert_eq!(
                lanes.len(),
                view::MAX_LANES + clients,
                "{file}: {} node lanes and every client that fits",
                view::MAX_LANES
            );
            for l in &lanes {
                assert!(
                    s.nodes().contains(l) || l.starts_with('c'),
                    "{file}: {l} is a lane of the run"
                );
            }
        }
        let on_lanes = |from: &String, to: &String| lanes.contains(from) && lanes.contains(to);
        // The trace holds every event before its cut (if any): count them all.
        let ends: Vec<bool> = r
            .report
            .trace
            .events
            .iter()
            .filter_map(|e| match &e.kind {
                TraceKind::Deliver { from, to, .. } if on_lanes(from, to) => Some(true),
                TraceKind::Drop { from, to, .. } if on_lanes(from, to) => Some(false),
                _ => None,
            })
            .collect();
        let mut deliveries = ends.iter().filter(|d| **d).count();
        if big {
            // The chosen lanes carry the traffic: more arrows than the first lanes by id
            // would show, and at least one per lane past the first (a connected picture).
            let baseline = deliveries_in(&r.report.trace, Time::ZERO, Time::MAX, &first);
            assert!(
                deliveries >= baseline && deliveries + 1 >= lanes.len(),
                "{file}: {deliveries} deliveries among the chosen lanes, {baseline} among the first {}",
                first.len()
            );
            assert!(
                dom.has("draw them with --lanes "),
                "{file}: names the busiest lanes left out and how to draw them"
            );
        }
        let size = std::fs::metadata(&path).unwrap().len();
        eprintln!(
            "{file}: {} KB, {deliveries} deliveries drawn, {} lanes, browser {:.1}s",
            size / 1024,
            lanes.len(),
            drawn_in.as_secs_f64()
        );
        // A run too big to draw whole says what it leaves out.
        let hidden = s.nodes().len() > view::MAX_LANES;
        assert_eq!(
            dom.has("and the messages among them"),
            hidden,
            "{file}: says it draws only some lanes"
        );
        assert_eq!(
            dom.has("(other lanes)"),
            hidden,
            "{file}: counts the other lanes as one row"
        );
        assert_eq!(
            dom.has("a picture records at most"),
            r.report.trace_cut.is_some(),
            "{file}: says where its trace stopped"
        );
        if file.contains("/bench/pingstorm") || file.ends_with("gossip-10000.ron") {
            assert!(
                r.report.trace_cut.is_some() || hidden,
                "{file}: a benchmark this big is summarized"
            );
        }
        if ends.len() > html::MAX_MESSAGES {
            // Summarized, and saying so: the first MAX_MESSAGES messages by their end.
            assert!(
                dom.has("this page draws the first"),
                "{file}: says it is cut"
            );
            deliveries = ends[..html::MAX_MESSAGES].iter().filter(|d| **d).count();
        } else {
            assert!(!dom.has("this page draws the first"), "{file}: not cut");
        }
        assert!(
            size < 5 << 20,
            "{file}: the page is {size} bytes, over 5 MB"
        );
        check_page(&file, &dom, &lanes, deliveries, r.outcome.check().is_some());
        if file.ends_with("lease-without-clock-bound.ron") {
            assert!(
                dom.count("stuck") >= 1,
                "the linearizability failure outlines the ops that cannot be placed"
            );
        }
        checked += 1;
    }
    assert!(checked >= 25, "only {checked} scenarios were checked");
}

#[test]
fn a_windowed_page_draws_only_its_window() {
    let Some(browser) = browser() else { return };
    let s = Scenario::load("scenarios/raft/leader-crash-failover.ron").expect("loads");
    let (from, to) = (
        Time::from_nanos(2_000_000_000),
        Time::from_nanos(2_500_000_000),
    );
    let (r, path) = page_of(&s, Some(view::Window { from, to }));
    let dom = Dom(dump_dom(&browser, &path, None));
    let lanes = lanes_of(&s, &r.report.trace);
    let want = deliveries_in(&r.report.trace, from, to, &lanes);
    let all = deliveries_in(&r.report.trace, Time::ZERO, Time::MAX, &lanes);
    assert!(
        want > 0 && want < all,
        "the window holds some, not all ({want} of {all})"
    );
    let failed_in_window = r
        .report
        .violations
        .iter()
        .any(|v| v.time >= from && v.time <= to);
    check_page(
        "leader-crash-failover 2s..2.5s",
        &dom,
        &lanes,
        want,
        failed_in_window,
    );
}

/// Issue #15: a 10,000-node page, windowed late in the run and told to draw the busiest
/// lanes its default page left out, draws them, the arrows among all its lanes and no
/// others, and names lanes it still leaves out.
#[test]
fn a_big_windowed_page_draws_the_lanes_asked_for_and_every_arrow_among_its_lanes() {
    let Some(browser) = browser() else { return };
    let s = Scenario::load("scenarios/bench/gossip-10000.ron").expect("loads");
    let (from, to) = (Time::from_nanos(600_000_000), Time::from_nanos(800_000_000));
    let w = Some(view::Window { from, to });
    let r = view::picture_run(&s, s.seed(), from).expect("runs");
    let default = view::RunView::new(&s, &r, w);
    let wanted: Vec<String> = default
        .busiest_left_out
        .iter()
        .map(|(l, _)| l.clone())
        .collect();
    assert!(
        !wanted.is_empty(),
        "10,000 nodes: some busy lanes are left out"
    );
    let path = page_from(&s, &r, w, &wanted, "-lanes");
    let dom = Dom(dump_dom(&browser, &path, None));
    let lanes = dom.lanes();
    assert_eq!(lanes.len(), view::MAX_LANES, "as many lanes as ever");
    for l in &wanted {
        assert!(lanes.contains(l), "{l} was asked for and is drawn");
    }
    let want = deliveries_in(&r.report.trace, from, to, &lanes);
    assert!(
        want + 1 >= lanes.len(),
        "the chosen lanes carry the window's traffic: {want} deliveries among them"
    );
    check_page("gossip-10000 0.6s..0.8s --lanes", &dom, &lanes, want, false);
    assert!(
        dom.has("draw them with --lanes "),
        "still names what it leaves out"
    );
}

#[test]
fn a_script_error_fails_the_check() {
    let Some(browser) = browser() else { return };
    let s = Scenario::load("scenarios/pingstorm/smoke.ron").expect("loads");
    let (_, path) = page_of(&s, None);
    let page = std::fs::read_to_string(&path).unwrap();
    let broken = page.replacen("  header();\n", "  header(); noSuchFunction();\n", 1);
    assert_ne!(broken, page, "the page's script calls header()");
    let bad = path.with_file_name("broken.html");
    std::fs::write(&bad, broken).unwrap();
    let dom = Dom(dump_dom(&browser, &bad, None));
    assert!(
        dom.has("id=\"script-error\""),
        "window.onerror marks the error"
    );
    assert!(!dom.has(">ok</div>"), "and the page never says it finished");
}

/// Every message copy from the trace alone: (from, to, text, sent, ended, delivered);
/// copies still on the wire end at `end`.
type Copy = (String, String, String, Time, Time, bool);

fn copies(trace: &sim_core::Trace, end: Time) -> Vec<Copy> {
    let mut sent: std::collections::BTreeMap<(String, String, String), VecDeque<Time>> =
        Default::default();
    let mut out = Vec::new();
    for e in &trace.events {
        match &e.kind {
            TraceKind::Send { from, to, msg } | TraceKind::Duplicate { from, to, msg } => sent
                .entry((from.clone(), to.clone(), msg.clone()))
                .or_default()
                .push_back(e.time),
            TraceKind::Deliver { from, to, msg } | TraceKind::Drop { from, to, msg, .. } => {
                let key = (from.clone(), to.clone(), msg.clone());
                let s = sent
                    .get_mut(&key)
                    .and_then(VecDeque::pop_front)
                    .unwrap_or(e.time);
                let delivered = matches!(e.kind, TraceKind::Deliver { .. });
                out.push((key.0, key.1, key.2, s, e.time, delivered));
            }
            _ => {}
        }
    }
    for ((f, t, m), q) in sent {
        for s in q {
            out.push((f.clone(), t.clone(), m.clone(), s, end, false));
        }
    }
    out
}

#[test]
fn the_page_answers_a_reader_as_the_trace_says() {
    let Some(browser) = browser() else { return };
    for (file, lane) in [
        ("scenarios/split-brain/lease-pause.ron", "n2"),
        ("scenarios/raft/lease-without-clock-bound.ron", "n1"),
    ] {
        let s = Scenario::load(file).expect("loads");
        let (r, path) = page_of(&s, None);
        let trace = &r.report.trace;
        let end = r
            .report
            .end_time
            .max(trace.events.last().map_or(Time::ZERO, |e| e.time));
        let url_page = path.with_file_name(format!(
            "{}#selftest={lane}",
            path.file_name().unwrap().to_string_lossy()
        ));
        let dom = dump_dom(&browser, &url_page, None);
        assert!(!dom.contains("id=\"script-error\""), "{file}: script error");
        let json = dom
            .split("<pre id=\"selftest\">")
            .nth(1)
            .and_then(|x| x.split("</pre>").next())
            .unwrap_or_else(|| panic!("{file}: no self-test output"))
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&");
        let got: serde_json::Value = serde_json::from_str(&json).expect("self-test JSON");
        let all = copies(trace, end);
        let delivered: Vec<&Copy> = all.iter().filter(|c| c.5).collect();
        assert_eq!(got["arrows"], delivered.len(), "{file}: arrows");
        // Clicking an arrow shows its trace line.
        let clicked = got["clicked"].as_u64().unwrap() as usize;
        assert_eq!(
            got["details"].as_str().unwrap(),
            trace.events[clicked].to_string(),
            "{file}: the clicked arrow's trace line"
        );
        // Zooming in draws the arrows of the narrower view only.
        let (a, b) = (
            got["zoomedView"][0].as_f64().unwrap(),
            got["zoomedView"][1].as_f64().unwrap(),
        );
        let (a, b) = (
            Time::from_nanos(a.ceil() as u64),
            Time::from_nanos(b.floor() as u64),
        );
        let zoomed = delivered.iter().filter(|c| c.3 <= b && c.4 >= a).count();
        assert_eq!(got["zoomedArrows"], zoomed, "{file}: zoomed arrows");
        assert!(zoomed < delivered.len(), "{file}: zooming in hides some");
        // Hiding a lane hides it and every arrow to or from it.
        let lanes = lanes_of(&s, trace);
        assert_eq!(
            got["lanesWithout"],
            lanes.len() - 1,
            "{file}: lanes after hiding {lane}"
        );
        let without = delivered
            .iter()
            .filter(|c| c.0 != lane && c.1 != lane)
            .count();
        assert_eq!(
            got["arrowsWithout"], without,
            "{file}: arrows after hiding {lane}"
        );
        // Hiding a message kind hides its arrows.
        let kind = got["hiddenKind"].as_str().unwrap();
        let of_kind = delivered
            .iter()
            .filter(|c| {
                let text = match c.2.split_once(' ') {
                    Some((id, rest)) if id.contains('#') => rest,
                    _ => c.2.as_str(),
                };
                text.split(|ch: char| !ch.is_alphanumeric() && ch != '_')
                    .next()
                    == Some(kind)
            })
            .count();
        assert!(of_kind > 0, "{file}: {kind} arrows exist");
        assert_eq!(
            got["arrowsWithoutKind"],
            delivered.len() - of_kind,
            "{file}: without {kind}"
        );
        // The cursor: each node's latest note, and the messages in flight.
        let t = Time::from_nanos(got["cursor"].as_u64().unwrap());
        let rows: Vec<String> = got["cursorRows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().to_string())
            .collect();
        let nodes: Vec<&String> =
            lanes
                .iter()
                .filter(|l| {
                    !r.report.trace.events.iter().any(
                        |e| matches!(&e.kind, TraceKind::Invoke { client, .. } if client == *l),
                    )
                })
                .collect();
        assert_eq!(
            rows.len(),
            nodes.len(),
            "{file}: a cursor row per node: {rows:?}"
        );
        for (row, node) in rows.iter().zip(&nodes) {
            let last = trace.events.iter().rev().find_map(|e| match &e.kind {
                TraceKind::Note { node: n, text } if n == *node && e.time <= t => Some(text),
                _ => None,
            });
            assert!(row.starts_with(node.as_str()), "{file}: {row}");
            match last {
                Some(text) => assert!(row.contains(text.as_str()), "{file}: {row} shows {text}"),
                None => assert!(row.ends_with('-'), "{file}: {row} has no note yet"),
            }
        }
        let flying = all.iter().filter(|c| c.3 <= t && t < c.4).count();
        assert!(flying < 200, "the panel lists up to 200");
        assert_eq!(got["inflight"], flying, "{file}: messages in flight at {t}");
        assert_eq!(got["after"], got["arrows"], "{file}: every arrow is back");
    }
}
