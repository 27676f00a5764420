//! A write-ahead log that a crash can cut: each node's disk.
//!
//! [`Process::Durable`](crate::Process::Durable) is written at once and survives every
//! crash. Real disks do not work that way: a write sits in the page cache until an
//! `fsync` returns, and a crash loses what had not reached the platter (FoundationDB's
//! `AsyncFileNonDurable`, TigerBeetle's `testing/storage.zig`). The log here models that,
//! beside the durable value, for protocols that want it:
//!
//! - [`Ctx::append`](crate::Ctx::append) puts a record at the end of the node's log. It is
//!   *volatile*: reads ([`Ctx::log`](crate::Ctx::log)) see it while the node lives.
//! - [`Ctx::sync`](crate::Ctx::sync) asks the disk to make everything appended so far
//!   durable. It completes after a latency drawn from [`StorageConfig::sync_latency`]
//!   (syncs complete in the order they were asked), and then the node's
//!   [`Process::on_synced`](crate::Process::on_synced) handler runs with `upto`, the log
//!   length that is now durable.
//! - A crash loses every unsynced record (when [`StorageConfig::lose_unsynced`]), or, with
//!   probability [`StorageConfig::torn_tail`], keeps a random prefix of them: the torn
//!   tail. A sync in flight at the crash never completes. On restart the node reads back
//!   what survived.
//! - The [`Fault::CorruptRecord`](crate::Fault::CorruptRecord) fault makes one synced
//!   record fail its checksum: reading it gives [`Corrupt`], never a wrong value. The
//!   engine corrupts nothing a protocol cannot detect.
//!
//! Every random choice of the disk (sync latencies, torn-tail lengths, which record is
//! corrupted) comes from the node's own stream `disk/<name>`, made on first use, so a
//! protocol that never touches its log draws nothing and its runs are exactly as before.
//!
//! The log is typed: the first [`Ctx::append`](crate::Ctx::append) fixes the record type
//! `R` of that node's log for the whole run (a different type later is a programming
//! error and panics, naming both types).

use crate::network::Latency;
use crate::rng::{Probability, SimRng};
use crate::time::{Duration, Time};
use serde::{Deserialize, Serialize};
use std::any::Any;
use std::fmt;

/// How the nodes' disks behave: the scenario's `storage: (...)`.
///
/// The default is a disk that loses nothing: syncs complete at once and a crash keeps every
/// record, which is what [`Process::Durable`](crate::Process::Durable) gives. Protocols that
/// never use the log are unaffected by any setting.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct StorageConfig {
    /// How long a sync takes.
    pub sync_latency: Latency,
    /// A crash loses the records appended since the last completed sync.
    pub lose_unsynced: bool,
    /// When a crash loses unsynced records, the chance that it keeps a random prefix of
    /// them instead of none (a torn tail).
    pub torn_tail: Probability,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            sync_latency: Latency::Constant(Duration::ZERO),
            lose_unsynced: false,
            torn_tail: Probability::ZERO,
        }
    }
}

impl StorageConfig {
    /// Checks the latency shape, saying what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        self.sync_latency.validate()
    }
}

/// A record that failed its checksum when read back: the protocol must treat it as lost
/// (and everything after it as untrustworthy, if its log needs a prefix).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Corrupt {
    /// The record's position in the log.
    pub index: u64,
}

impl fmt::Display for Corrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "log record #{} failed its checksum", self.index)
    }
}

/// One node's log of records of type `R`: what it appended, how much of it is durable, and
/// which records are corrupt.
#[derive(Clone, Debug)]
pub struct Wal<R> {
    records: Vec<R>,
    corrupt: Vec<bool>,
    synced: u64,
}

impl<R> Default for Wal<R> {
    fn default() -> Self {
        Wal {
            records: Vec::new(),
            corrupt: Vec::new(),
            synced: 0,
        }
    }
}

impl<R> Wal<R> {
    /// Records in the log, synced or not.
    pub fn len(&self) -> u64 {
        self.records.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// How many records, from the start, are durable: they survive any crash.
    pub fn synced(&self) -> u64 {
        self.synced
    }

    /// Record `index`: `None` past the end, `Err` if it fails its checksum.
    pub fn get(&self, index: u64) -> Option<Result<&R, Corrupt>> {
        let i = usize::try_from(index).ok()?;
        let r = self.records.get(i)?;
        Some(if self.corrupt[i] {
            Err(Corrupt { index })
        } else {
            Ok(r)
        })
    }

    /// Every record in order, each checked.
    pub fn iter(&self) -> impl Iterator<Item = Result<&R, Corrupt>> {
        self.records
            .iter()
            .zip(&self.corrupt)
            .enumerate()
            .map(|(i, (r, &bad))| {
                if bad {
                    Err(Corrupt { index: i as u64 })
                } else {
                    Ok(r)
                }
            })
    }

    pub(crate) fn push(&mut self, r: R) -> u64 {
        self.records.push(r);
        self.corrupt.push(false);
        self.records.len() as u64 - 1
    }
}

/// What a crash did to a log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CrashLoss {
    pub lost: u64,
    /// Unsynced records that survived (a torn tail).
    pub kept: u64,
}

/// The engine's view of a log, whatever its record type.
pub(crate) trait AnyLog: Any {
    fn len(&self) -> u64;
    fn synced(&self) -> u64;
    fn mark_synced(&mut self, upto: u64);
    fn truncate(&mut self, len: u64);
    fn corrupt(&mut self, index: u64);
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<R: 'static> AnyLog for Wal<R> {
    fn len(&self) -> u64 {
        self.records.len() as u64
    }
    fn synced(&self) -> u64 {
        self.synced
    }
    fn mark_synced(&mut self, upto: u64) {
        self.synced = self.synced.max(upto.min(self.len()));
    }
    fn truncate(&mut self, len: u64) {
        self.records.truncate(len as usize);
        self.corrupt.truncate(len as usize);
        self.synced = self.synced.min(len);
    }
    fn corrupt(&mut self, index: u64) {
        self.corrupt[index as usize] = true;
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// One node's disk: its log (typed on first append), its random stream, and its sync queue.
pub(crate) struct Disk {
    /// `None` until the first append fixes the record type.
    pub log: Option<Box<dyn AnyLog>>,
    /// The record type's name, for the panic when a handler asks for another type.
    pub type_name: &'static str,
    pub rng: SimRng,
    /// Bumped by every crash, so a sync asked before it never completes after it.
    pub epoch: u64,
    /// When the last sync asked for completes: syncs complete in order.
    pub last_done: Time,
}

impl Disk {
    pub(crate) fn new(seed: u64, node: &str) -> Disk {
        Disk {
            log: None,
            type_name: "",
            rng: SimRng::new(seed, &format!("disk/{node}")),
            epoch: 0,
            last_done: Time::ZERO,
        }
    }

    /// The log, if a record was ever appended to it.
    ///
    /// # Panics
    /// If the log holds records of another type.
    pub(crate) fn wal<R: 'static>(&self) -> Option<&Wal<R>> {
        let log = self.log.as_ref()?;
        match log.as_any().downcast_ref::<Wal<R>>() {
            Some(w) => Some(w),
            None => panic!(
                "this node's log holds {}, not {}: a node's log has one record type",
                self.type_name,
                std::any::type_name::<R>()
            ),
        }
    }

    /// The log, made empty with record type `R` if there is none yet.
    ///
    /// # Panics
    /// If the log holds records of another type.
    pub(crate) fn wal_mut<R: 'static>(&mut self) -> &mut Wal<R> {
        if self.log.is_none() {
            self.log = Some(Box::new(Wal::<R>::default()));
            self.type_name = std::any::type_name::<R>();
        }
        let name = self.type_name;
        let log = self.log.as_mut().expect("made above");
        match log.as_any_mut().downcast_mut::<Wal<R>>() {
            Some(w) => w,
            None => panic!(
                "this node's log holds {name}, not {}: a node's log has one record type",
                std::any::type_name::<R>()
            ),
        }
    }

    /// Records in the log (0 before the first append).
    pub(crate) fn len(&self) -> u64 {
        self.log.as_ref().map_or(0, |l| l.len())
    }

    pub(crate) fn mark_synced(&mut self, upto: u64) -> u64 {
        match self.log.as_mut() {
            Some(l) => {
                let before = l.synced();
                l.mark_synced(upto);
                l.synced() - before
            }
            None => 0,
        }
    }

    /// When a sync asked at `now` completes.
    pub(crate) fn sync_done(&mut self, now: Time, config: &StorageConfig) -> Time {
        let latency = config.sync_latency.sample(&mut self.rng);
        let at = now.plus(latency).max(self.last_done);
        self.last_done = at;
        at
    }

    /// The crash: unsynced records are lost (or a prefix of them kept), pending syncs die.
    pub(crate) fn crash(&mut self, config: &StorageConfig) -> CrashLoss {
        self.epoch += 1;
        self.last_done = Time::ZERO;
        let Some(log) = self.log.as_mut() else {
            return CrashLoss { lost: 0, kept: 0 };
        };
        let (len, synced) = (log.len(), log.synced());
        let unsynced = len - synced;
        if unsynced == 0 {
            return CrashLoss { lost: 0, kept: 0 };
        }
        if !config.lose_unsynced {
            log.mark_synced(len);
            return CrashLoss {
                lost: 0,
                kept: unsynced,
            };
        }
        let kept = if self.rng.chance(config.torn_tail) {
            self.rng.between(0, unsynced)
        } else {
            0
        };
        log.truncate(synced + kept);
        log.mark_synced(synced + kept);
        CrashLoss {
            lost: unsynced - kept,
            kept,
        }
    }

    /// Corrupts one synced record, drawn from the disk's stream; `None` if none is synced.
    pub(crate) fn corrupt_one(&mut self) -> Option<u64> {
        let log = self.log.as_mut()?;
        let synced = log.synced();
        if synced == 0 {
            return None;
        }
        let index = self.rng.below(synced);
        log.corrupt(index);
        Some(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lossy(torn: f64) -> StorageConfig {
        StorageConfig {
            sync_latency: Latency::Constant(Duration::from_millis(2)),
            lose_unsynced: true,
            torn_tail: Probability::new(torn).unwrap(),
        }
    }

    #[test]
    fn a_crash_cuts_only_the_unsynced_tail() {
        let mut d = Disk::new(1, "n1");
        for i in 0..5 {
            d.wal_mut::<u32>().push(i);
        }
        d.mark_synced(3);
        let loss = d.crash(&lossy(0.0));
        assert_eq!(loss, CrashLoss { lost: 2, kept: 0 });
        let w = d.wal::<u32>().unwrap();
        assert_eq!(w.len(), 3);
        assert_eq!(w.synced(), 3);
        assert_eq!(w.iter().map(|r| *r.unwrap()).collect::<Vec<_>>(), [0, 1, 2]);
    }

    #[test]
    fn the_default_disk_keeps_everything() {
        let mut d = Disk::new(1, "n1");
        d.wal_mut::<u32>().push(7);
        assert_eq!(
            d.crash(&StorageConfig::default()),
            CrashLoss { lost: 0, kept: 1 }
        );
        assert_eq!(d.wal::<u32>().unwrap().synced(), 1);
    }

    #[test]
    fn corruption_is_reported_never_silent() {
        let mut d = Disk::new(1, "n1");
        assert_eq!(d.corrupt_one(), None, "nothing synced, nothing to corrupt");
        d.wal_mut::<u32>().push(1);
        d.mark_synced(1);
        assert_eq!(d.corrupt_one(), Some(0));
        let w = d.wal::<u32>().unwrap();
        assert_eq!(w.get(0), Some(Err(Corrupt { index: 0 })));
        assert_eq!(w.get(1), None);
    }

    #[test]
    fn syncs_complete_in_order() {
        let mut d = Disk::new(3, "n1");
        let config = StorageConfig {
            sync_latency: Latency::Uniform {
                min: Duration::from_millis(1),
                max: Duration::from_millis(50),
            },
            ..lossy(0.0)
        };
        let mut last = Time::ZERO;
        for ms in 0..100 {
            let at = d.sync_done(Time::from_nanos(ms * 1_000_000), &config);
            assert!(at >= last);
            last = at;
        }
    }

    #[test]
    #[should_panic(expected = "a node's log has one record type")]
    fn one_record_type_per_log() {
        let mut d = Disk::new(1, "n1");
        d.wal_mut::<u32>().push(1);
        let _ = d.wal::<String>();
    }
}
