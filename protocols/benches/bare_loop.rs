//! The yardsticks for the engine benchmark: minimal hand-written event loops doing
//! pingstorm's work with nothing else — one event per delivery carrying a 64-byte payload
//! (and, for comparison, none), one ChaCha8 stream for peer and latency draws, and either a
//! `BinaryHeap` keyed by (time, seq) or a hashed timing wheel (1 µs slots, a 16.7 ms
//! horizon that covers every latency, a bitmap to skip empty slots, each slot sorted by
//! (time, seq) when it comes up, so both pop in the same order).
//! No trace, no faults, no per-node RNG, no checkers. `cargo bench -p protocols --bench
//! bare_loop` prints M deliveries/s (median of 5) at N = 5, 100, 10,000, so the engine's
//! figures can be quoted as a ratio measured on the same machine on the same day.
//! `-- --nodes N --queue heap|wheel --payload 0|64 --reps R` runs one loop alone (for
//! whole-process CPU time and peak memory).

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

const SLOT_SHIFT: u32 = 10;
const SLOTS: usize = 1 << 14;

#[derive(Clone, Copy)]
struct WheelEvent<const B: usize> {
    key: (u64, u64),
    to: u32,
    payload: [u8; B],
}

/// The same loop over a hashed timing wheel: every latency (1-10 ms) is within the
/// wheel's 16.7 ms horizon, so no event ever waits for a second turn.
fn run_wheel<const B: usize>(nodes: u64, deliveries: u64, seed: u64) -> (f64, u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut wheel: Vec<Vec<WheelEvent<B>>> = (0..SLOTS).map(|_| Vec::new()).collect();
    let mut occupied = vec![0u64; SLOTS / 64];
    let mut seq = 0;
    let mut received = vec![0u64; nodes as usize];
    let slot_of = |t: u64| (t >> SLOT_SHIFT) as usize & (SLOTS - 1);
    for _ in 0..nodes {
        for _ in 0..4 {
            let to = below(&mut rng, nodes) as u32;
            let t = 1_000_000 + below(&mut rng, 9_000_001);
            let s = slot_of(t);
            wheel[s].push(WheelEvent::<B> {
                key: (t, seq),
                to,
                payload: [0; B],
            });
            occupied[s / 64] |= 1 << (s % 64);
            seq += 1;
        }
    }
    let t0 = Instant::now();
    let mut done = 0;
    // The slot being drained, its events in descending (time, seq) order.
    let mut current: Vec<WheelEvent<B>> = Vec::new();
    let mut cursor = 0usize;
    while done < deliveries {
        let ev = match current.pop() {
            Some(ev) => ev,
            None => {
                // Next occupied slot at or after the cursor (wrapping).
                let mut w = cursor / 64;
                let mut word = occupied[w] & (!0u64 << (cursor % 64));
                while word == 0 {
                    w = (w + 1) % occupied.len();
                    word = occupied[w];
                }
                cursor = w * 64 + word.trailing_zeros() as usize;
                occupied[w] &= !(1 << (cursor % 64));
                std::mem::swap(&mut current, &mut wheel[cursor]);
                current.sort_unstable_by_key(|e| Reverse(e.key));
                current.pop().expect("an occupied slot")
            }
        };
        let (now, _) = ev.key;
        received[ev.to as usize] += 1;
        done += 1;
        let to = below(&mut rng, nodes) as u32;
        let t = now + 1_000_000 + below(&mut rng, 9_000_001);
        let s = slot_of(t);
        wheel[s].push(WheelEvent {
            key: (t, seq),
            to,
            payload: ev.payload,
        });
        occupied[s / 64] |= 1 << (s % 64);
        seq += 1;
    }
    (t0.elapsed().as_secs_f64(), received.iter().sum())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let deliveries = 10_000_000;
    let reps = arg("--reps").map_or(5, |r| r.parse::<usize>().expect("a number"));
    let median = |f: &dyn Fn(u64) -> (f64, u64)| {
        let mut rates: Vec<f64> = (0..reps as u64)
            .map(|s| {
                let (secs, got) = f(s);
                assert_eq!(got, deliveries);
                deliveries as f64 / secs
            })
            .collect();
        rates.sort_by(f64::total_cmp);
        rates[rates.len() / 2] / 1e6
    };
    if let Some(n) = arg("--nodes") {
        let n: u64 = n.parse().expect("a number");
        let queue = arg("--queue").unwrap_or_else(|| "heap".into());
        let payload = arg("--payload").unwrap_or_else(|| "64".into());
        let rate = match (queue.as_str(), payload.as_str()) {
            ("heap", "64") => median(&|s| run::<64>(n, deliveries, s)),
            ("heap", "0") => median(&|s| run::<0>(n, deliveries, s)),
            ("wheel", "64") => median(&|s| run_wheel::<64>(n, deliveries, s)),
            ("wheel", "0") => median(&|s| run_wheel::<0>(n, deliveries, s)),
            _ => panic!("--queue heap|wheel, --payload 0|64"),
        };
        println!(
            "N={n:>6} {queue} payload {payload}: median {rate:>6.2} M deliveries/s over {reps}"
        );
        return;
    }
    println!("bare loops, {deliveries} deliveries per run, median of {reps}");
    for n in [5u64, 100, 10_000] {
        let with = median(&|s| run::<64>(n, deliveries, s));
        let without = median(&|s| run::<0>(n, deliveries, s));
        let wheel_with = median(&|s| run_wheel::<64>(n, deliveries, s));
        let wheel_without = median(&|s| run_wheel::<0>(n, deliveries, s));
        println!(
            "N={n:>6}: BinaryHeap {with:>6.2} M deliveries/s with a 64-byte payload, {without:>6.2} without; \
             timing wheel {wheel_with:>6.2} with, {wheel_without:>6.2} without"
        );
    }
}
