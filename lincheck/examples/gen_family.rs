//! Writes one generated history as JSON Lines to stdout:
//! `cargo run -p lincheck --release --example gen_family -- FAMILY SEED ARGS...`, where
//! FAMILY and ARGS are a function of `lincheck::generate` and its arguments after the
//! seed, e.g. `kv 1 5000 1 20 0` or `same-value-writes 1 12 false`.

use lincheck::generate as g;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n = |i: usize| -> usize { args.get(i).and_then(|a| a.parse().ok()).unwrap_or(0) };
    let b = |i: usize| args.get(i).is_some_and(|a| a == "true");
    let seed = n(1) as u64;
    let h = match args.first().map(String::as_str) {
        Some("kv") => g::kv(seed, n(2), n(3), n(4), n(5)),
        Some("register") => g::register(seed, n(2), n(3), n(4) as u64),
        Some("register-stale") => g::register_stale(seed, n(2), n(3), n(4)),
        Some("same-value-writes") => g::same_value_writes(seed, n(2), b(3)),
        Some("info-writes") => g::info_writes(seed, n(2), n(3), b(4)),
        Some("kv-info-writes") => g::kv_info_writes(seed, n(2), n(3), b(4)),
        _ => {
            eprintln!(
                "usage: gen_family kv|register|register-stale|same-value-writes|info-writes|kv-info-writes SEED ARGS..."
            );
            std::process::exit(2);
        }
    };
    print!("{}", h.to_jsonl());
}
