//! Sometimes-properties: states a good test should reach (stateright's `sometimes`,
//! Antithesis' `sometimes` assertions). A protocol numbers the states it cares about
//! (`0..64`) and calls [`crate::Ctx::reached`] (or [`crate::ClientCtx::reached`]) when a
//! handler gets there: "a leader changed while it had uncommitted entries", "a participant
//! was blocked". The run keeps one bit per property and the virtual time each was first
//! reached, beside the trace: nothing is recorded in the trace, the fingerprint or any
//! random stream, so a run's events are the same whether anyone looks at what it reached.
//!
//! The hot path is one test of a bit in a `u64`; only the first reach of each property
//! records its time.

use crate::time::Time;

/// The most properties one protocol may number (the bits of the set).
pub const MAX_PROPERTIES: usize = 64;

/// What a run has reached so far: a bit per property and when each was first reached.
#[derive(Clone, Debug, Default)]
pub(crate) struct Reached {
    bits: u64,
    first: Vec<(usize, Time)>,
}

impl Reached {
    /// Property `index` was reached at `now`.
    ///
    /// # Panics
    /// If `index` is not below [`MAX_PROPERTIES`]: a protocol numbers at most 64.
    #[inline(always)]
    pub(crate) fn mark(&mut self, index: usize, now: Time) {
        assert!(
            index < MAX_PROPERTIES,
            "sometimes-property {index} is out of range: a protocol numbers at most {MAX_PROPERTIES}"
        );
        let bit = 1u64 << index;
        if self.bits & bit == 0 {
            self.bits |= bit;
            self.first.push((index, now));
        }
    }

    /// `(property, first reached at)`, in the order they were first reached.
    pub(crate) fn take(&mut self) -> Vec<(usize, Time)> {
        self.bits = 0;
        std::mem::take(&mut self.first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_property_keeps_the_time_it_was_first_reached() {
        let mut r = Reached::default();
        r.mark(3, Time::from_nanos(10));
        r.mark(0, Time::from_nanos(20));
        r.mark(3, Time::from_nanos(30));
        assert_eq!(
            r.take(),
            vec![(3, Time::from_nanos(10)), (0, Time::from_nanos(20))]
        );
    }

    #[test]
    #[should_panic(expected = "out of range")]
    fn a_property_past_the_set_is_a_programming_error() {
        Reached::default().mark(MAX_PROPERTIES, Time::ZERO);
    }
}
