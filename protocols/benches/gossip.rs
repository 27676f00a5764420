//! Gossip at scale: rounds of anti-entropy until every replica holds the same state after
//! one write per node, at N = 100, 1,000 and 10,000, with peak memory and wall time.
//!
//! `cargo bench -p protocols --bench gossip` runs every (mode, N) in its own child process
//! (so each peak-memory figure is that size alone), 5 seeds each, prints a table and
//! writes the plot of rounds against N to `docs/gossip-rounds.svg`.
//! `-- --mode hlc|vectors --nodes N --seeds S` runs one size in this process.
//!
//! The load: every replica writes key `k1` once at start (`write_at_start`), all
//! concurrently, with push-pull anti-entropy every 100ms to one random peer (fanout 1),
//! no rumors, no clients, no faults, trace off. "Converged" is the first gossip-interval
//! boundary at which every replica's state of `k1` has the same fingerprint; the rounds
//! are that time over the interval. Under `lww: hlc` the key converges to one write (the
//! highest stamp); under vectors to N siblings on every replica, which is N² stored
//! siblings in all, so vectors run at 100 and 1,000 only (see docs/PERFORMANCE.md).
//! Wall time and memory are read here, in the benchmark driver, never inside the
//! simulation.

use protocols::gossip::{GossipConfig, LwwMode, Node};
use sim_core::{Duration, Limits, NoClients, NodeId, SimConfig, Simulation, Time, TraceLevel};
use std::time::Instant;

const INTERVAL_MS: u64 = 100;

/// Rounds until convergence, and the events run.
fn run_once(mode: LwwMode, nodes: usize, seed: u64) -> (u64, u64) {
    let config = GossipConfig {
        gossip_interval: Duration::from_millis(INTERVAL_MS),
        fanout: 1,
        read_repair: false,
        lww: mode,
        write_at_start: true,
        ..GossipConfig::default()
    };
    let mut sc = SimConfig::new(seed, nodes, Limits::time(Duration::from_secs(120)));
    sc.trace = TraceLevel::Off;
    let mut sim: Simulation<Node, NoClients> =
        Simulation::new(sc, config, ()).expect("valid config");
    for round in 1..=200u64 {
        let t = Time::ZERO.plus(Duration::from_millis(round * INTERVAL_MS));
        sim.run_until(t);
        let first = sim.durable(NodeId(0)).get(0).map(|s| s.fingerprint());
        let same = (1..nodes as u32)
            .all(|n| sim.durable(NodeId(n)).get(0).map(|s| s.fingerprint()) == first);
        if same && first.is_some() {
            return (round, sim.stats().events);
        }
    }
    panic!("N={nodes} seed {seed}: no convergence in 200 rounds");
}

fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn mode_name(m: LwwMode) -> &'static str {
    match m {
        LwwMode::Off => "vectors",
        LwwMode::Hlc => "hlc",
        LwwMode::Wall => "wall",
    }
}

/// One (mode, N) in this process: prints one machine-readable line.
fn one(mode: LwwMode, nodes: usize, seeds: u64) {
    let t0 = Instant::now();
    let mut rounds = Vec::new();
    let mut events = 0;
    for seed in 0..seeds {
        let (r, e) = run_once(mode, nodes, seed);
        rounds.push(r);
        events += e;
    }
    let secs = t0.elapsed().as_secs_f64() / seeds as f64;
    let list: Vec<String> = rounds.iter().map(u64::to_string).collect();
    println!(
        "RESULT mode={} nodes={nodes} rounds={} secs_per_run={secs:.3} events_per_run={} peak_kb={}",
        mode_name(mode),
        list.join(","),
        events / seeds,
        peak_rss_kb().unwrap_or(0)
    );
}

struct Row {
    mode: String,
    nodes: u64,
    rounds: Vec<u64>,
    secs: f64,
    events: u64,
    peak_kb: u64,
}

fn parse(line: &str) -> Option<Row> {
    let rest = line.strip_prefix("RESULT ")?;
    let field = |k: &str| {
        rest.split(' ')
            .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
            .map(str::to_string)
    };
    Some(Row {
        mode: field("mode")?,
        nodes: field("nodes")?.parse().ok()?,
        rounds: field("rounds")?
            .split(',')
            .filter_map(|r| r.parse().ok())
            .collect(),
        secs: field("secs_per_run")?.parse().ok()?,
        events: field("events_per_run")?.parse().ok()?,
        peak_kb: field("peak_kb")?.parse().ok()?,
    })
}

fn median(v: &[u64]) -> u64 {
    let mut s = v.to_vec();
    s.sort();
    s[s.len() / 2]
}

/// Rounds against N on a log axis, one line per mode, with log3 N for reference.
fn svg(rows: &[Row]) -> String {
    let (w, h, left, right, top, bottom) = (560.0, 340.0, 60.0, 130.0, 30.0, 50.0);
    let (xmin, xmax) = (2.0f64, 4.0f64); // log10 N
    let ymax = rows
        .iter()
        .flat_map(|r| r.rounds.iter().copied())
        .max()
        .unwrap_or(10)
        .max(10) as f64
        + 2.0;
    let x = |n: f64| left + (n.log10() - xmin) / (xmax - xmin) * (w - left - right);
    let y = |r: f64| h - bottom - r / ymax * (h - top - bottom);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{}\" y=\"18\" text-anchor=\"middle\" font-size=\"14\">Gossip rounds to convergence after one write per node</text>\n",
        (w - right + left) / 2.0
    );
    // Axes and ticks.
    s += &format!(
        "<line x1=\"{left}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>\n<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{}\" stroke=\"black\"/>\n",
        h - bottom,
        w - right,
        h - bottom,
        h - bottom
    );
    for n in [100.0, 1_000.0, 10_000.0] {
        s += &format!(
            "<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"black\"/><text x=\"{0}\" y=\"{3}\" text-anchor=\"middle\">{4}</text>\n",
            x(n),
            h - bottom,
            h - bottom + 5.0,
            h - bottom + 20.0,
            n as u64
        );
    }
    let mut r = 0.0;
    while r <= ymax {
        let (tick, yr, label_x, label_y) = (
            left - 5.0,
            (y(r) * 10.0).round() / 10.0,
            left - 8.0,
            (y(r) * 10.0).round() / 10.0 + 4.0,
        );
        s += &format!(
            "<line x1=\"{tick}\" y1=\"{yr}\" x2=\"{left}\" y2=\"{yr}\" stroke=\"black\"/><text x=\"{label_x}\" y=\"{label_y}\" text-anchor=\"end\">{r}</text>\n"
        );
        r += 2.0;
    }
    s += &format!(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">nodes N (log scale)</text>\n<text x=\"15\" y=\"{}\" transform=\"rotate(-90 15 {})\" text-anchor=\"middle\">rounds of 100ms (median of 5 seeds)</text>\n",
        (w - right + left) / 2.0,
        h - 12.0,
        (h - bottom + top) / 2.0,
        (h - bottom + top) / 2.0
    );
    // log3 N reference.
    let mut path = String::new();
    for i in 0..=20 {
        let n = 10f64.powf(xmin + (xmax - xmin) * f64::from(i) / 20.0);
        let cmd = if i == 0 { 'M' } else { 'L' };
        path += &format!("{cmd}{:.1},{:.1} ", x(n), y(n.ln() / 3f64.ln()));
    }
    s += &format!(
        "<path d=\"{path}\" fill=\"none\" stroke=\"gray\" stroke-dasharray=\"4 3\"/>\n<text x=\"{}\" y=\"{}\" fill=\"gray\">log\u{2083} N</text>\n",
        w - right + 8.0,
        y(10_000f64.ln() / 3f64.ln()) + 4.0
    );
    for (mode, color, label) in [
        ("hlc", "#1f77b4", "lww: hlc"),
        ("vectors", "#d62728", "vectors"),
    ] {
        let pts: Vec<(f64, f64)> = rows
            .iter()
            .filter(|r| r.mode == mode)
            .map(|r| (x(r.nodes as f64), y(median(&r.rounds) as f64)))
            .collect();
        if pts.is_empty() {
            continue;
        }
        let d: Vec<String> = pts
            .iter()
            .enumerate()
            .map(|(i, (px, py))| format!("{}{px:.1},{py:.1}", if i == 0 { 'M' } else { 'L' }))
            .collect();
        s += &format!(
            "<path d=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"/>\n",
            d.join(" ")
        );
        for (px, py) in &pts {
            s += &format!("<circle cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"4\" fill=\"{color}\"/>\n");
        }
        let (lx, ly) = pts[pts.len() - 1];
        s += &format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"{color}\">{label}</text>\n",
            lx + 8.0,
            ly - 6.0
        );
    }
    s += "</svg>\n";
    s
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let seeds: u64 = arg("--seeds").map_or(5, |s| s.parse().expect("a number"));
    if let (Some(mode), Some(nodes)) = (arg("--mode"), arg("--nodes")) {
        let mode = match mode.as_str() {
            "hlc" => LwwMode::Hlc,
            "vectors" => LwwMode::Off,
            other => panic!("--mode {other}: expected hlc or vectors"),
        };
        one(mode, nodes.parse().expect("a number"), seeds);
        return;
    }
    let exe = std::env::current_exe().expect("the bench binary");
    let mut rows = Vec::new();
    println!(
        "gossip: rounds of {INTERVAL_MS}ms to convergence after one write per node, {seeds} seeds each"
    );
    println!(
        "| mode | N | rounds (median; all seeds) | wall s per run | events per run | peak RSS MB |"
    );
    println!("|---|---:|---|---:|---:|---:|");
    for (mode, n) in [
        ("hlc", 100),
        ("hlc", 1_000),
        ("hlc", 10_000),
        ("vectors", 100),
        ("vectors", 1_000),
    ] {
        let out = std::process::Command::new(&exe)
            .args([
                "--mode",
                mode,
                "--nodes",
                &n.to_string(),
                "--seeds",
                &seeds.to_string(),
            ])
            .output()
            .expect("run one size");
        let text = String::from_utf8_lossy(&out.stdout);
        let Some(row) = text.lines().find_map(parse) else {
            panic!(
                "{mode} N={n} failed:\n{text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        println!(
            "| {} | {} | {} ({:?}) | {:.2} | {} | {:.1} |",
            row.mode,
            row.nodes,
            median(&row.rounds),
            row.rounds,
            row.secs,
            row.events,
            row.peak_kb as f64 / 1024.0
        );
        rows.push(row);
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/gossip-rounds.svg");
    std::fs::write(&path, svg(&rows)).expect("write the plot");
    println!("plot: {}", path.display());
}
