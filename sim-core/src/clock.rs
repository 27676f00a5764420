//! Per-node clocks: a monotonic clock and a wall clock, each against virtual time.
//!
//! A node never sees virtual time. Like a real machine it has two clocks:
//!
//! - the **monotonic** clock (`CLOCK_MONOTONIC`, `Instant`): it ticks at the node's rate,
//!   which drift changes (`ClockDrift("n1", 50000)`: 5% fast), and keeps ticking while the
//!   node is paused; nothing ever steps it. It reads zero when the simulation starts and a
//!   restart does not reset it (the simulated machine keeps running; only the process
//!   died), but a protocol must not persist readings of it across a crash anyway.
//! - the **wall** clock (`CLOCK_REALTIME`, what NTP sets): the monotonic clock plus an
//!   offset that steps move (`ClockSkew("n1", "+500ms")`: an NTP step, an operator's
//!   `date -s`, a VM migration). It can jump backwards.
//!
//! | fault | monotonic | wall |
//! |---|---|---|
//! | `ClockDrift` | rate changes | rate changes |
//! | `ClockSkew` | unchanged | steps by the offset |
//! | `Pause` / `Crash` | keeps running | keeps running |
//!
//! Timers are measured on the monotonic clock: a node whose clock runs slow waits longer
//! than it thinks, which is exactly what breaks leases that ignore drift. Leases and other
//! timeouts that guard safety must read the monotonic clock; reading the wall clock for
//! them is a bug (a step backwards stretches the lease), offered as a bug knob, never as a
//! default.

use crate::time::{Duration, Offset, Time};

const MILLION: i128 = 1_000_000;

/// The largest drift a clock accepts, either way, in parts per million: 50%, a clock at
/// half or one and a half times the true rate. Real oscillators drift by tens of ppm; the
/// bound is that wide so that teaching scenarios can exaggerate, and finite so that a
/// typo cannot make timers fire a million times faster than time passes.
pub const MAX_DRIFT_PPM: i64 = 500_000;

/// mono(t) = base_mono + (t - base_virtual) * (1e6 + drift_ppm) / 1e6;
/// wall(t) = mono(t) + wall_offset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LocalClock {
    base_virtual: u64,
    base_mono: i128,
    drift_ppm: i64,
    wall_offset: i128,
}

fn clamp(t: i128) -> Time {
    Time::from_nanos(t.clamp(0, i128::from(u64::MAX)) as u64)
}

impl LocalClock {
    #[inline]
    fn mono_i128(&self, now: Time) -> i128 {
        if self.drift_ppm == 0 {
            return self.base_mono + i128::from(now.as_nanos()) - i128::from(self.base_virtual);
        }
        let dt = i128::from(now.as_nanos()) - i128::from(self.base_virtual);
        self.base_mono + dt * (MILLION + i128::from(self.drift_ppm)) / MILLION
    }

    /// What the node's monotonic clock reads at virtual time `now`: drift applies, steps
    /// do not.
    #[inline]
    pub fn monotonic(&self, now: Time) -> Time {
        clamp(self.mono_i128(now))
    }

    /// What the node's wall clock reads at virtual time `now` (never below zero): drift
    /// and steps apply.
    #[inline]
    pub fn wall(&self, now: Time) -> Time {
        clamp(self.mono_i128(now) + self.wall_offset)
    }

    /// The wall clock jumps by `by` at `now` (NTP step, operator error, VM migration); the
    /// monotonic clock does not move.
    pub fn skew(&mut self, now: Time, by: Offset) {
        // Steps accumulate; a wall reading below zero is clamped when read, and a later
        // step forward starts from where the clock really is, not from the clamp.
        let _ = now;
        self.wall_offset += i128::from(by.as_nanos());
    }

    /// From `now` on, both clocks tick `ppm` parts per million fast (or slow if negative),
    /// clamped to ±[`MAX_DRIFT_PPM`] (scenario files are checked against that bound
    /// before a run starts).
    pub fn set_drift(&mut self, now: Time, ppm: i64) {
        self.base_mono = self.mono_i128(now);
        self.base_virtual = now.as_nanos();
        self.drift_ppm = ppm.clamp(-MAX_DRIFT_PPM, MAX_DRIFT_PPM);
    }

    pub fn drift_ppm(&self) -> i64 {
        self.drift_ppm
    }

    /// The virtual time it takes the monotonic clock to advance by `local` (at least 1ns
    /// if `local` is not zero, so a timer never fires in the instant it was set).
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

    fn t(ms: u64) -> Time {
        Time::from_nanos(ms * 1_000_000)
    }

    #[test]
    fn skew_moves_the_wall_clock_only() {
        let mut c = LocalClock::default();
        assert_eq!(c.wall(t(100)), t(100));
        assert_eq!(c.monotonic(t(100)), t(100));
        c.skew(t(100), "+500ms".parse().unwrap());
        assert_eq!(c.wall(t(100)), t(600));
        assert_eq!(c.wall(t(200)), t(700));
        assert_eq!(
            c.monotonic(t(200)),
            t(200),
            "a step never moves the monotonic clock"
        );
        c.skew(t(200), "-2s".parse().unwrap());
        assert_eq!(c.wall(t(200)), Time::ZERO, "clamped at zero");
        assert_eq!(c.monotonic(t(200)), t(200));
        c.skew(t(200), "+2s".parse().unwrap());
        assert_eq!(
            c.wall(t(200)),
            t(700),
            "steps add up; the clamp is only on reading"
        );
    }

    #[test]
    fn drift_moves_both_clocks() {
        let mut c = LocalClock::default();
        c.skew(t(100), "+500ms".parse().unwrap());
        c.set_drift(t(200), 100_000); // 10% fast
        assert_eq!(c.monotonic(t(300)), t(310));
        assert_eq!(c.wall(t(300)), t(810));
        assert_eq!(
            c.virtual_span(Duration::from_millis(110)),
            Duration::from_millis(100)
        );
        c.set_drift(t(300), 5_000_000);
        assert_eq!(
            c.drift_ppm(),
            MAX_DRIFT_PPM,
            "drift is clamped to its bound"
        );
        c.set_drift(t(300), -5_000_000);
        assert_eq!(c.drift_ppm(), -MAX_DRIFT_PPM);
    }
}
