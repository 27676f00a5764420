//! Per-node local clocks: an offset and a drift against virtual time.
//!
//! A node never sees virtual time. It reads its own clock, which may have been set
//! wrong (a skew jump: `ClockSkew("n1", "+500ms")`) or tick at the wrong rate (drift, in
//! parts per million). Timers are measured on the node's clock rate too, so a node whose
//! clock runs slow waits longer than it thinks, which is exactly what breaks leases.

use crate::time::{Duration, Offset, Time};

const MILLION: i128 = 1_000_000;

/// local(t) = base_local + (t - base_virtual) * (1e6 + drift_ppm) / 1e6
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LocalClock {
    base_virtual: u64,
    base_local: i128,
    drift_ppm: i64,
}

impl LocalClock {
    #[inline]
    fn local_i128(&self, now: Time) -> i128 {
        if self.drift_ppm == 0 {
            return self.base_local + i128::from(now.as_nanos()) - i128::from(self.base_virtual);
        }
        let dt = i128::from(now.as_nanos()) - i128::from(self.base_virtual);
        self.base_local + dt * (MILLION + i128::from(self.drift_ppm)) / MILLION
    }

    /// What the node's clock reads at virtual time `now` (never below zero).
    #[inline]
    pub fn read(&self, now: Time) -> Time {
        Time::from_nanos(self.local_i128(now).clamp(0, i128::from(u64::MAX)) as u64)
    }

    /// The clock jumps by `by` at `now` (NTP step, operator error, VM migration).
    pub fn skew(&mut self, now: Time, by: Offset) {
        self.base_local = self.local_i128(now) + i128::from(by.as_nanos());
        self.base_virtual = now.as_nanos();
    }

    /// From `now` on, the clock ticks `ppm` parts per million fast (or slow if negative).
    pub fn set_drift(&mut self, now: Time, ppm: i64) {
        self.base_local = self.local_i128(now);
        self.base_virtual = now.as_nanos();
        self.drift_ppm = ppm.max(-MILLION as i64 + 1);
    }

    pub fn drift_ppm(&self) -> i64 {
        self.drift_ppm
    }

    /// The virtual time it takes this clock to advance by `local` (at least 1ns if `local`
    /// is not zero, so a timer never fires in the instant it was set).
    pub fn virtual_span(&self, local: Duration) -> Duration {
        if self.drift_ppm == 0 || local.is_zero() {
            return local;
        }
        let v = i128::from(local.as_nanos()) * MILLION / (MILLION + i128::from(self.drift_ppm));
        Duration::from_nanos(v.clamp(1, i128::from(u64::MAX)) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skew_and_drift() {
        let mut c = LocalClock::default();
        let t = |ms: u64| Time::from_nanos(ms * 1_000_000);
        assert_eq!(c.read(t(100)), t(100));
        c.skew(t(100), "+500ms".parse().unwrap());
        assert_eq!(c.read(t(100)), t(600));
        assert_eq!(c.read(t(200)), t(700));
        c.set_drift(t(200), 100_000); // 10% fast
        assert_eq!(c.read(t(300)), t(810));
        assert_eq!(
            c.virtual_span(Duration::from_millis(110)),
            Duration::from_millis(100)
        );
        c.skew(t(300), "-2s".parse().unwrap());
        assert_eq!(c.read(t(300)), Time::ZERO, "clamped at zero");
    }
}
