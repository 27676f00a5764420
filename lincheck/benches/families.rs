//! Checker speed on the hard history families of `lincheck::generate`, at the sizes of
//! docs/PERFORMANCE.md: `cargo bench -p lincheck --bench families [-- REPS] [FILTER]
//! [--write DIR] [--whole]`.
//!
//! Prints, per family, the median wall time of REPS checks (default 5), the verdict and
//! the steps. `--write DIR` also writes each history there as JSON Lines (for other
//! checkers). `--whole` turns off cutting at quiescent points. Generation and parsing are
//! not timed.

use std::time::{Duration, Instant};

use lincheck::generate as g;
use lincheck::{CheckOptions, History, Verdict, check_history};

fn families() -> Vec<(&'static str, History, Verdict)> {
    use Verdict::{Linearizable as L, NotLinearizable as N};
    vec![
        ("kv-5000-realistic", g::kv(1, 5_000, 1, 10, 0), L),
        ("kv-5000-stale-reads", g::kv(1, 5_000, 1, 10, 3), N),
        ("kv-5000-5-keys", g::kv(1, 5_000, 5, 10, 0), L),
        ("kv-5000-one-key-20-clients", g::kv(1, 5_000, 1, 20, 0), L),
        (
            "kv-5000-one-key-20-clients-stale",
            g::kv(1, 5_000, 1, 20, 3),
            N,
        ),
        ("kv-5000-one-key-30-clients", g::kv(1, 5_000, 1, 30, 0), L),
        (
            "same-value-writes-48",
            g::same_value_writes(1, 12, false),
            L,
        ),
        (
            "same-value-writes-41-one-too-many",
            g::same_value_writes(1, 10, true),
            N,
        ),
        ("info-writes-40", g::info_writes(1, 30, 10, false), L),
        ("info-writes-160", g::info_writes(1, 120, 40, false), L),
        (
            "info-writes-160-reread",
            g::info_writes(1, 120, 40, true),
            N,
        ),
        ("kv-info-writes-40", g::kv_info_writes(1, 30, 10, false), L),
        (
            "kv-info-writes-160",
            g::kv_info_writes(1, 120, 40, false),
            L,
        ),
        (
            "kv-info-writes-164-bad",
            g::kv_info_writes(1, 120, 40, true),
            N,
        ),
        ("register-10000", g::register(1, 10_000, 5, 0), L),
        ("register-40000", g::register(1, 40_000, 5, 0), L),
        ("register-100000", g::register(1, 100_000, 5, 0), L),
        ("register-20000-info", g::register(1, 20_000, 5, 100), L),
        ("kv-50000-ops-100000-events", g::kv(2, 50_000, 5, 10, 0), L),
        ("register-5000-20-clients", g::register(1, 5_000, 20, 0), L),
        ("register-5000-40-clients", g::register(1, 5_000, 40, 0), L),
        (
            "register-5000-40-clients-info",
            g::register(1, 5_000, 40, 100),
            L,
        ),
        (
            "register-5000-40-clients-stale",
            g::register_stale(1, 5_000, 40, 1),
            N,
        ),
        (
            "register-5000-40-clients-repeating-stale",
            g::register_stale_repeating(1, 5_000, 40, 1, 1000),
            N,
        ),
        (
            "register-5000-10-clients-repeating-stale",
            g::register_stale_repeating(1, 5_000, 10, 1, 1000),
            N,
        ),
        ("kv-100000-one-key-3-clients", g::kv(1, 100_000, 1, 3, 0), L),
        (
            "kv-100000-one-key-3-clients-stale",
            g::kv(1, 100_000, 1, 3, 3),
            N,
        ),
        (
            "register-100000-40-clients",
            g::register(1, 100_000, 40, 0),
            L,
        ),
    ]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let reps: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(5);
    let write = args
        .iter()
        .position(|a| a == "--write")
        .and_then(|i| args.get(i + 1))
        .cloned();
    if let Some(dir) = &write {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("families: cannot create --write directory {dir}: {e}");
            std::process::exit(2);
        }
    }
    let filter = args
        .iter()
        .find(|a| a.parse::<usize>().is_err() && !a.starts_with('-') && Some(*a) != write.as_ref())
        .cloned()
        .unwrap_or_default();
    // `--whole`: no cutting at quiescent points (for before/after figures).
    let opts = CheckOptions {
        cut_from: if args.iter().any(|a| a == "--whole") {
            usize::MAX
        } else {
            lincheck::DEFAULT_CUT_FROM
        },
        ..CheckOptions::default()
    };
    for (name, h, want) in families() {
        if !name.contains(filter.as_str()) {
            continue;
        }
        if let Some(dir) = &write {
            let path = format!("{dir}/{name}.jsonl");
            if let Err(e) = std::fs::write(&path, h.to_jsonl()) {
                eprintln!("families: cannot write {path}: {e}");
                std::process::exit(2);
            }
        }
        let ops = h
            .events
            .iter()
            .filter(|e| e.kind == lincheck::EventKind::Invoke)
            .count();
        let mut times: Vec<Duration> = Vec::new();
        let mut report = None;
        for _ in 0..reps {
            let t = Instant::now();
            report = Some(check_history(&h, &opts).expect("valid"));
            times.push(t.elapsed());
        }
        times.sort();
        let r = report.expect("at least one rep");
        let steps: u64 = r.keys.iter().map(|k| k.steps).sum();
        println!(
            "{name:<36} {ops:>6} ops  median {:>8.4} s  {:<16} {steps} steps{}",
            times[times.len() / 2].as_secs_f64(),
            r.verdict.name(),
            if r.verdict == want {
                ""
            } else {
                "  (UNEXPECTED)"
            }
        );
    }
}
