//! The yardstick for the engine benchmark: a minimal hand-written event loop doing
//! pingstorm's work with nothing else — a `BinaryHeap` keyed by (time, seq), one event per
//! delivery carrying a 64-byte payload (and, for comparison, none), one ChaCha8 stream for peer and latency draws.
//! No trace, no faults, no per-node RNG, no checkers. `cargo bench -p protocols --bench
//! bare_loop` prints M deliveries/s (median of 5) at N = 5, 100, 10,000, so the engine's
//! figures can be quoted as a ratio measured on the same machine on the same day.

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Event<const B: usize> {
    key: Reverse<(u64, u64)>,
    to: u32,
    payload: [u8; B],
}

fn below(rng: &mut ChaCha8Rng, n: u64) -> u64 {
    ((u128::from(rng.next_u64()) * u128::from(n)) >> 64) as u64
}

fn run<const B: usize>(nodes: u64, deliveries: u64, seed: u64) -> (f64, u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut heap = BinaryHeap::new();
    let mut seq = 0;
    let mut received = vec![0u64; nodes as usize];
    for _ in 0..nodes {
        for _ in 0..4 {
            let to = below(&mut rng, nodes) as u32;
            let t = 1_000_000 + below(&mut rng, 9_000_001);
            heap.push(Event::<B> {
                key: Reverse((t, seq)),
                to,
                payload: [0; B],
            });
            seq += 1;
        }
    }
    let t0 = Instant::now();
    let mut done = 0;
    while done < deliveries {
        let ev = heap.pop().expect("never empty");
        let Reverse((now, _)) = ev.key;
        received[ev.to as usize] += 1;
        done += 1;
        let to = below(&mut rng, nodes) as u32;
        let t = now + 1_000_000 + below(&mut rng, 9_000_001);
        heap.push(Event {
            key: Reverse((t, seq)),
            to,
            payload: ev.payload,
        });
        seq += 1;
    }
    (t0.elapsed().as_secs_f64(), received.iter().sum())
}

fn main() {
    let deliveries = 10_000_000;
    println!("bare loop, {deliveries} deliveries per run, median of 5");
    let median = |f: &dyn Fn(u64) -> (f64, u64)| {
        let mut rates: Vec<f64> = (0..5)
            .map(|s| {
                let (secs, got) = f(s);
                assert_eq!(got, deliveries);
                deliveries as f64 / secs
            })
            .collect();
        rates.sort_by(f64::total_cmp);
        rates[2] / 1e6
    };
    for n in [5u64, 100, 10_000] {
        let with = median(&|s| run::<64>(n, deliveries, s));
        let without = median(&|s| run::<0>(n, deliveries, s));
        println!(
            "N={n:>6}: median {with:>6.2} M deliveries/s with a 64-byte payload, {without:>6.2} without"
        );
    }
}
