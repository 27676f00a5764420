//! The write-ahead log that a crash can cut (`sim_core::storage`): properties over random
//! crash schedules and disk settings.
//!
//! A writer node appends a numbered record every tick and syncs every other tick. What it
//! learns from `on_synced` it writes to its `Durable` value (which survives every crash
//! whole), so after each restart it can compare the log that survived with what the disk
//! had promised.

use proptest::prelude::*;
use sim_core::*;

#[derive(Clone, Debug)]
struct Tick;

#[derive(Debug, Default)]
struct Promised {
    /// The largest `upto` any completed sync reported.
    synced: u64,
    /// Records appended, all incarnations.
    appended: u64,
    /// Restarts that checked their log.
    restarts: u64,
    /// Unsynced records that survived a crash (torn tails).
    survived_unsynced: u64,
    /// Corrupt records read back.
    corrupt_seen: u64,
}

struct Writer;

impl Process for Writer {
    type Config = ();
    type Msg = ();
    type Timer = Tick;
    type Durable = Promised;
    type Request = ();
    type Response = ();

    fn start(ctx: &mut Ctx<'_, Self>) -> Self {
        if ctx.restarted() {
            let promised = ctx.durable().synced;
            let log = ctx.log::<u64>();
            let (len, synced) = (log.len(), log.synced());
            let mut corrupt = 0;
            for (i, r) in log.iter().enumerate() {
                match r {
                    Ok(&v) => assert_eq!(v, i as u64, "record {i} holds {v}"),
                    Err(c) => {
                        assert_eq!(c.index, i as u64);
                        corrupt += 1;
                    }
                }
            }
            // Every record a completed sync covered is still there.
            assert!(
                len >= promised,
                "lost synced records: {len} survived, {promised} were synced"
            );
            assert_eq!(synced, len, "after a restart everything left is durable");
            let d = ctx.durable_mut();
            d.restarts += 1;
            d.survived_unsynced += len - promised;
            d.corrupt_seen += corrupt;
            // What survived is durable now; the next records continue the numbering.
            d.synced = len;
            d.appended = len;
        }
        ctx.set_timer(Duration::from_millis(3), Tick);
        Writer
    }

    fn on_message(&mut self, _: &mut Ctx<'_, Self>, _: NodeId, _: ()) {}

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _: Tick) {
        let next = ctx.log::<u64>().len();
        let index = ctx.append(next);
        assert_eq!(index, next);
        ctx.durable_mut().appended += 1;
        if next % 2 == 1 {
            ctx.sync();
        }
        ctx.set_timer(Duration::from_millis(3), Tick);
    }

    fn on_synced(&mut self, ctx: &mut Ctx<'_, Self>, upto: u64) {
        assert!(ctx.log::<u64>().synced() >= upto);
        let d = ctx.durable_mut();
        d.synced = d.synced.max(upto);
    }
}

fn storage(lose: bool, torn: f64) -> StorageConfig {
    StorageConfig {
        sync_latency: Latency::Uniform {
            min: Duration::from_millis(1),
            max: Duration::from_millis(8),
        },
        lose_unsynced: lose,
        torn_tail: Probability::new(torn).unwrap(),
    }
}

fn run(seed: u64, disk: StorageConfig, crashes: &[(u64, u64)], corrupt: &[u64]) -> Report {
    run_sim(seed, disk, crashes, corrupt).0
}

fn run_sim(
    seed: u64,
    disk: StorageConfig,
    crashes: &[(u64, u64)],
    corrupt: &[u64],
) -> (Report, Simulation<Writer>) {
    let config = SimConfig::new(seed, 2, Limits::time(Duration::from_secs(2)));
    let mut sim: Simulation<Writer> = Simulation::new(config, (), ()).unwrap();
    sim.set_storage(disk);
    let ms = |m: u64| Time::from_nanos(m * 1_000_000);
    for &(at, down) in crashes {
        sim.schedule(ms(at), Fault::Crash(NodeId(0)));
        sim.schedule(ms(at + down), Fault::Restart(NodeId(0)));
    }
    for &at in corrupt {
        sim.schedule(ms(at), Fault::CorruptRecord(NodeId(0)));
    }
    let report = sim.run();
    (report, sim)
}

/// Crash windows that do not overlap: (crash at, down for), in ms.
fn schedule() -> impl Strategy<Value = Vec<(u64, u64)>> {
    prop::collection::vec((1u64..150, 1u64..40), 1..10).prop_map(|gaps| {
        let mut t = 0;
        gaps.into_iter()
            .map(|(gap, down)| {
                let at = t + gap;
                t = at + down;
                (at, down)
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Synced records survive every crash, whatever the disk and the schedule.
    #[test]
    fn synced_records_survive_every_crash(
        seed in any::<u64>(),
        crashes in schedule(),
        torn in 0.0f64..=1.0,
    ) {
        let (report, sim) = run_sim(seed, storage(true, torn), &crashes, &[]);
        prop_assert_eq!(sim.durable(NodeId(0)).restarts, crashes.len() as u64);
        prop_assert!(report.stats.restarts == crashes.len() as u64);
    }

    /// With `torn_tail: 0` no unsynced record survives a crash.
    #[test]
    fn without_torn_tails_no_unsynced_record_survives(seed in any::<u64>(), crashes in schedule()) {
        let (_, sim) = run_sim(seed, storage(true, 0.0), &crashes, &[]);
        prop_assert_eq!(sim.durable(NodeId(0)).survived_unsynced, 0);
    }

    /// The same seed loses the same records: same trace, same logs.
    #[test]
    fn the_same_seed_loses_the_same_records(seed in any::<u64>(), crashes in schedule(), torn in 0.0f64..=1.0) {
        let (a, sa) = run_sim(seed, storage(true, torn), &crashes, &[5, 300]);
        let (b, sb) = run_sim(seed, storage(true, torn), &crashes, &[5, 300]);
        prop_assert_eq!(a.trace.to_text(), b.trace.to_text());
        let logs = |s: &Simulation<Writer>| {
            s.log::<u64>(NodeId(0)).map(|l| (l.len(), l.synced(), l.iter().filter(|r| r.is_err()).count()))
        };
        prop_assert_eq!(logs(&sa), logs(&sb));
    }
}

#[test]
fn a_crash_loses_unsynced_records_and_says_so() {
    let report = run(
        7,
        storage(true, 0.0),
        &[(100, 20), (400, 5), (700, 30)],
        &[],
    );
    let text = report.trace.to_text();
    assert!(
        text.contains("!! crash n1: lost 1 unsynced record\n"),
        "{text}"
    );
    assert!(
        text.contains("n1 wal append #0 0"),
        "full traces show appends"
    );
    assert!(text.contains("n1 wal synced 2 records (upto 2)"), "{text}");
}

#[test]
fn torn_tails_keep_some_unsynced_records() {
    // Crash often, right after appends, with every crash tearing.
    let crashes: Vec<(u64, u64)> = (0..40).map(|i| (i * 45 + 4, 2)).collect();
    let (report, sim) = run_sim(3, storage(true, 1.0), &crashes, &[]);
    assert!(sim.durable(NodeId(0)).survived_unsynced > 0);
    assert!(report.trace.to_text().contains("(torn tail)"));
}

#[test]
fn the_default_disk_loses_nothing() {
    let crashes: Vec<(u64, u64)> = (0..20).map(|i| (i * 70 + 4, 3)).collect();
    let (report, sim) = run_sim(3, StorageConfig::default(), &crashes, &[]);
    let d = sim.durable(NodeId(0));
    assert_eq!(d.restarts, 20);
    assert!(
        d.survived_unsynced > 0,
        "unsynced records survive the default disk"
    );
    assert!(!report.trace.to_text().contains("lost"));
}

#[test]
fn corrupt_records_read_back_as_errors() {
    let (report, sim) = run_sim(
        11,
        storage(true, 0.0),
        &[(500, 10)],
        &[1, 200, 300], // the first is before anything is synced
    );
    let text = report.trace.to_text();
    assert!(text.contains("!! corrupt-record n1 ignored: no synced records"));
    assert!(text.contains("!! corrupt-record n1 #"));
    assert_eq!(sim.durable(NodeId(0)).corrupt_seen, 2);
    let log = sim.log::<u64>(NodeId(0)).unwrap();
    assert_eq!(log.iter().filter(|r| r.is_err()).count(), 2);
}

/// A protocol that never touches its log draws nothing from any disk stream: its run is
/// the same, byte for byte, whatever the storage settings.
#[test]
fn storage_settings_do_not_change_runs_that_do_not_use_the_log() {
    struct Ring;
    impl Process for Ring {
        type Config = ();
        type Msg = u32;
        type Timer = Tick;
        type Durable = ();
        type Request = ();
        type Response = ();
        fn start(ctx: &mut Ctx<'_, Self>) -> Self {
            ctx.set_timer(Duration::from_millis(10), Tick);
            Ring
        }
        fn on_message(&mut self, _: &mut Ctx<'_, Self>, _: NodeId, _: u32) {}
        fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _: Tick) {
            let to = NodeId(ctx.rng().below(3) as u32);
            if to != ctx.id() {
                ctx.send(to, 1);
            }
            ctx.set_timer(Duration::from_millis(10), Tick);
        }
    }
    let trace = |disk: Option<StorageConfig>| {
        let config = SimConfig::new(5, 3, Limits::time(Duration::from_secs(1)));
        let mut sim: Simulation<Ring> = Simulation::new(config, (), ()).unwrap();
        if let Some(d) = disk {
            sim.set_storage(d);
        }
        sim.schedule(Time::from_nanos(300_000_000), Fault::Crash(NodeId(1)));
        sim.schedule(
            Time::from_nanos(320_000_000),
            Fault::CorruptRecord(NodeId(1)),
        );
        sim.schedule(Time::from_nanos(400_000_000), Fault::Restart(NodeId(1)));
        let r = sim.run();
        (r.trace.to_text(), r.fingerprint)
    };
    let plain = trace(None);
    assert_eq!(plain, trace(Some(storage(true, 0.7))));
    assert!(plain.0.contains("!! crash n2\n"));
}
