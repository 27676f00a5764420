//! Checker speed on Porcupine's histories: `cargo bench -p lincheck --bench porcupine`.
//!
//! Prints the median of several repetitions for: all 102 etcd histories, etcd_002 alone,
//! kv c50-ok, and each key of kv c50-bad checked alone. Parsing is not timed. Pass
//! `-- REPS` to change the number of repetitions (default 7).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use lincheck::{CheckOptions, History, Verdict, check_history, parse_history};

fn load(name: &str) -> History {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/porcupine/jsonl")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("test data");
    parse_history(&text, name).expect("valid history")
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time<F: FnMut()>(reps: usize, mut f: F) -> Duration {
    median(
        (0..reps)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect(),
    )
}

/// The history restricted to one key (a key's ops never interact with other keys').
fn only_key(h: &History, key: &str) -> History {
    let mut h = h.clone();
    h.events
        .retain(|e| e.key == Some(lincheck::Value::Str(key.to_string())));
    h
}

fn main() {
    let reps: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(7);
    // A non-numeric argument selects the rows whose label contains it.
    let filter: String = std::env::args()
        .skip(1)
        .find(|a| a.parse::<usize>().is_err() && !a.starts_with('-'))
        .unwrap_or_default();
    let want = |label: &str| label.contains(filter.as_str());
    let opts = CheckOptions::default();
    let check = |h: &History| check_history(h, &opts).expect("valid").verdict;

    let etcd: Vec<History> = (0..=102)
        .filter(|&i| i != 95)
        .map(|i| load(&format!("etcd_{i:03}.jsonl")))
        .collect();
    if want("etcd") {
        let all_etcd = time(reps, || {
            for h in &etcd {
                std::hint::black_box(check(h));
            }
        });
        println!(
            "etcd: all 102 histories      median {:>9.4} s",
            all_etcd.as_secs_f64()
        );
        let e2 = &etcd[2];
        let t = time(reps, || {
            std::hint::black_box(check(e2));
        });
        println!(
            "etcd: etcd_002 alone         median {:>9.4} s",
            t.as_secs_f64()
        );
    }

    if want("c50-ok") {
        let ok = load("kv-c50-ok.jsonl");
        let t = time(reps, || assert_eq!(check(&ok), Verdict::Linearizable));
        println!(
            "kv:   c50-ok                 median {:>9.4} s",
            t.as_secs_f64()
        );
    }

    let bad = load("kv-c50-bad.jsonl");
    let mut total = Duration::ZERO;
    for key in 0..10 {
        if !want(&format!("c50-bad key {key}")) {
            continue;
        }
        let h = only_key(&bad, &key.to_string());
        let mut report = None;
        let t = time(reps, || {
            report = Some(check_history(&h, &opts).expect("valid"))
        });
        total += t;
        let (verdict, steps) = report.map_or((Verdict::Unknown, 0), |r| {
            (r.verdict, r.keys.iter().map(|k| k.steps).sum())
        });
        println!(
            "kv:   c50-bad key {key}          median {:>9.4} s  {} ({steps} steps)",
            t.as_secs_f64(),
            verdict.name()
        );
    }
    println!(
        "kv:   c50-bad keys 0-9 (sum)   median {:>9.4} s",
        total.as_secs_f64()
    );
}
