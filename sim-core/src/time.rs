//! Virtual time: instants ([`Time`]), non-negative spans ([`Duration`]) and signed clock
//! offsets ([`Offset`]), all integer nanoseconds.
//!
//! Durations are written the way people write them in scenario files: `"150ms"`, `"2s"`,
//! `"1.5s"`, `"250us"`. Parsing is exact (integer arithmetic, no floats), rejects negative
//! and malformed input with a message that says what was expected, and printing gives the
//! shortest exact form back, so `parse(d.to_string()) == d` for every duration.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// An instant of virtual time: nanoseconds since the start of the run.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Time(u64);

/// A non-negative span of virtual time, in nanoseconds. `Debug` and `Display` show it as
/// a scenario file writes it (`"150ms"`).
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(u64);

/// A signed clock adjustment (a skew jump), in nanoseconds: `"+500ms"`, `"-200ms"`.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Offset(i64);

const NS: u64 = 1;
const US: u64 = 1_000;
const MS: u64 = 1_000_000;
const S: u64 = 1_000_000_000;

impl Time {
    pub const ZERO: Time = Time(0);
    pub const MAX: Time = Time(u64::MAX);

    pub const fn from_nanos(ns: u64) -> Time {
        Time(ns)
    }
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    /// `self + d`, saturating at [`Time::MAX`].
    pub const fn plus(self, d: Duration) -> Time {
        Time(self.0.saturating_add(d.0))
    }
    /// The span from `earlier` to `self` (zero if `earlier` is later).
    pub const fn since(self, earlier: Time) -> Duration {
        Duration(self.0.saturating_sub(earlier.0))
    }
    /// The instant as a duration since the start of the run.
    pub const fn elapsed(self) -> Duration {
        Duration(self.0)
    }
}

impl Duration {
    pub const ZERO: Duration = Duration(0);
    pub const MAX: Duration = Duration(u64::MAX);

    pub const fn from_nanos(ns: u64) -> Duration {
        Duration(ns)
    }
    pub const fn from_micros(us: u64) -> Duration {
        Duration(us.saturating_mul(US))
    }
    pub const fn from_millis(ms: u64) -> Duration {
        Duration(ms.saturating_mul(MS))
    }
    pub const fn from_secs(s: u64) -> Duration {
        Duration(s.saturating_mul(S))
    }
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
    pub const fn saturating_add(self, other: Duration) -> Duration {
        Duration(self.0.saturating_add(other.0))
    }
    pub const fn saturating_sub(self, other: Duration) -> Duration {
        Duration(self.0.saturating_sub(other.0))
    }
    pub const fn saturating_mul(self, k: u64) -> Duration {
        Duration(self.0.saturating_mul(k))
    }
    /// Seconds as a float, for reports only (never on a simulation path).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / S as f64
    }
}

impl Offset {
    pub const ZERO: Offset = Offset(0);
    pub const fn from_nanos(ns: i64) -> Offset {
        Offset(ns)
    }
    pub const fn as_nanos(self) -> i64 {
        self.0
    }
}

impl From<Duration> for Offset {
    fn from(d: Duration) -> Offset {
        Offset(d.0.min(i64::MAX as u64) as i64)
    }
}

/// Why a duration or offset string was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DurationError {
    pub input: String,
    pub reason: String,
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid duration {:?}: {}", self.input, self.reason)
    }
}

impl std::error::Error for DurationError {}

const EXPECTED: &str =
    "expected a number and a unit (ns, us, ms, s, m, h), e.g. \"150ms\" or \"1.5s\"";

fn unit_nanos(unit: &str) -> Option<u64> {
    Some(match unit {
        "ns" => NS,
        "us" | "µs" => US,
        "ms" => MS,
        "s" => S,
        "m" | "min" => 60 * S,
        "h" => 3600 * S,
        _ => return None,
    })
}

/// Parses an unsigned magnitude such as `1.5s` exactly.
fn parse_magnitude(input: &str, text: &str) -> Result<u64, DurationError> {
    let err = |reason: &str| DurationError {
        input: input.to_string(),
        reason: reason.to_string(),
    };
    if text.is_empty() {
        return Err(err(EXPECTED));
    }
    if text.contains(char::is_whitespace) {
        // Say what else is wrong first, so the suggestion is a valid duration.
        let joined: String = text.split_whitespace().collect();
        parse_magnitude(input, &joined)?;
        let joined: String = input.split_whitespace().collect();
        return Err(err(&format!(
            "a duration has no spaces: write the number and its unit together, e.g. {joined:?}"
        )));
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .ok_or_else(|| err(&format!("missing unit; {EXPECTED}")))?;
    let (number, unit) = text.split_at(split);
    let unit = unit.trim();
    let scale = unit_nanos(unit).ok_or_else(|| {
        err(&format!(
            "unknown unit {unit:?}; expected one of ns, us, ms, s, m, h"
        ))
    })?;
    let number: String = number.chars().filter(|&c| c != '_').collect();
    let (int_part, frac_part) = match number.split_once('.') {
        Some((i, f)) => (i, f),
        None => (number.as_str(), ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(err(EXPECTED));
    }
    if frac_part.contains('.') {
        return Err(err("more than one decimal point"));
    }
    let too_big = || err("too large: the longest duration is about 584 years");
    let mut total: u64 = 0;
    for c in int_part.chars() {
        let d = c.to_digit(10).expect("filtered to digits") as u64;
        total = total
            .checked_mul(10)
            .and_then(|t| t.checked_add(d))
            .ok_or_else(too_big)?;
    }
    total = total.checked_mul(scale).ok_or_else(too_big)?;
    let mut place = scale;
    for c in frac_part.chars() {
        let d = c.to_digit(10).expect("filtered to digits") as u64;
        if place % 10 != 0 {
            if d != 0 {
                return Err(err("finer than one nanosecond"));
            }
            continue;
        }
        place /= 10;
        total = total.checked_add(d * place).ok_or_else(too_big)?;
    }
    Ok(total)
}

impl FromStr for Duration {
    type Err = DurationError;
    fn from_str(s: &str) -> Result<Duration, DurationError> {
        let t = s;
        if t.starts_with('-') {
            return Err(DurationError {
                input: s.to_string(),
                reason: "durations cannot be negative".to_string(),
            });
        }
        let t = t.strip_prefix('+').unwrap_or(t);
        parse_magnitude(s, t).map(Duration)
    }
}

impl FromStr for Offset {
    type Err = DurationError;
    fn from_str(s: &str) -> Result<Offset, DurationError> {
        let (neg, rest) = match (s.strip_prefix('-'), s.strip_prefix('+')) {
            (Some(r), _) => (true, r),
            (None, Some(r)) => (false, r),
            (None, None) => {
                parse_magnitude(s, s)?;
                return Err(DurationError {
                    input: s.to_string(),
                    reason: format!(
                        "a clock offset needs its sign: write \"+{s}\" to move the clock \
                         forward or \"-{s}\" to move it back"
                    ),
                });
            }
        };
        let mag = parse_magnitude(s, rest)?;
        let mag = i64::try_from(mag).map_err(|_| DurationError {
            input: s.to_string(),
            reason: "too large for a clock offset".to_string(),
        })?;
        Ok(Offset(if neg { -mag } else { mag }))
    }
}

/// Writes `ns` exactly, in the largest unit it reaches, with only the decimals it needs:
/// `1.5s`, `882.607313ms`, `250us`, `7ns`.
fn fmt_nanos(f: &mut fmt::Formatter<'_>, ns: u64) -> fmt::Result {
    if ns == 0 {
        return f.write_str("0s");
    }
    for (unit, scale, width) in [("s", S, 9), ("ms", MS, 6), ("us", US, 3)] {
        if ns >= scale {
            let (int, frac) = (ns / scale, ns % scale);
            return if frac == 0 {
                write!(f, "{int}{unit}")
            } else {
                let digits = format!("{frac:0width$}");
                write!(f, "{int}.{}{unit}", digits.trim_end_matches('0'))
            };
        }
    }
    write!(f, "{ns}ns")
}

/// `ns` cut to four significant digits in the largest unit it reaches, so that
/// [`fmt_nanos`] prints it as people write it: 882607313 -> 882.6ms. Cut, not rounded, as
/// the trace's time column is: `3057.715ms` reads `3.057s`, never `3.058s`.
fn round_for_reading(ns: u64) -> u64 {
    let scale = [S, MS, US].into_iter().find(|&s| ns >= s).unwrap_or(NS);
    let digits = (ns / scale).checked_ilog10().map_or(1, |d| d + 1);
    let decimals = 4u32.saturating_sub(digits);
    let step = scale / 10u64.pow(decimals).min(scale);
    if step <= 1 {
        return ns;
    }
    ns - ns % step
}

/// A [`Duration`], [`Offset`] or [`Time`] shown for reading (four significant digits, cut, e.g.
/// `882.6ms`, `15s`, `+1.2s`): traces, pictures and reports, never files read back.
#[derive(Clone, Copy, Debug)]
pub struct Readable {
    sign: Option<bool>,
    ns: u64,
}

impl fmt::Display for Readable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        match self.sign {
            Some(true) => s.push('-'),
            Some(false) => s.push('+'),
            None => {}
        }
        s.push_str(&Duration(round_for_reading(self.ns)).to_string());
        f.pad(&s)
    }
}

impl Duration {
    /// For reading: four significant digits (`882.6ms`); [`Display`](fmt::Display) is exact.
    pub fn readable(self) -> Readable {
        Readable {
            sign: None,
            ns: self.0,
        }
    }
}

impl Offset {
    /// For reading, with its sign: `+882.6ms`; [`Display`](fmt::Display) is exact.
    pub fn readable(self) -> Readable {
        Readable {
            sign: Some(self.0 < 0),
            ns: self.0.unsigned_abs(),
        }
    }
}

impl Time {
    /// The instant for reading, as a duration since the start: `15s`, `3.173s`, `208ms`.
    /// [`Display`](fmt::Display) is the trace's fixed column (`15000.000ms`).
    pub fn readable(self) -> Readable {
        Readable {
            sign: None,
            ns: self.0,
        }
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_nanos(f, self.0)
    }
}

/// As a scenario file writes it, quoted: `"150ms"` (so a config's `Debug` reads like RON).
impl fmt::Debug for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.to_string())
    }
}

/// As a scenario file writes it, quoted: `"+500ms"`.
impl fmt::Debug for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.to_string())
    }
}

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0 < 0 { "-" } else { "+" })?;
        fmt_nanos(f, self.0.unsigned_abs())
    }
}

/// Instants print as milliseconds with microsecond precision, the trace's time column:
/// `12.004ms`. Sub-microsecond digits are cut, not rounded.
impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0 / MS;
        let us = (self.0 % MS) / US;
        let s = format!("{ms}.{us:03}ms");
        f.pad(&s)
    }
}

impl Serialize for Duration {
    fn serialize<S2: Serializer>(&self, s: S2) -> Result<S2::Ok, S2::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for Offset {
    fn serialize<S2: Serializer>(&self, s: S2) -> Result<S2::Ok, S2::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Offset {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Offset, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Duration {
        s.parse().unwrap()
    }

    #[test]
    fn parses_the_units_people_write() {
        assert_eq!(d("150ms"), Duration::from_millis(150));
        assert_eq!(d("2s"), Duration::from_secs(2));
        assert_eq!(d("1.5s"), Duration::from_millis(1500));
        assert_eq!(d("250us"), Duration::from_micros(250));
        assert_eq!(d("250µs"), Duration::from_micros(250));
        assert_eq!(d("7ns"), Duration::from_nanos(7));
        assert_eq!(d("2m"), Duration::from_secs(120));
        assert_eq!(d("1h"), Duration::from_secs(3600));
        assert_eq!(d("1_000ms"), Duration::from_secs(1));
        assert_eq!(d(".5s"), Duration::from_millis(500));
        assert_eq!(d("0s"), Duration::ZERO);
        assert_eq!(d("1.000000001s"), Duration::from_nanos(1_000_000_001));
    }

    #[test]
    fn prints_the_shortest_exact_form() {
        for (ns, text) in [
            (0, "0s"),
            (150 * MS, "150ms"),
            (2 * S, "2s"),
            (1500 * MS, "1.5s"),
            (250 * US, "250us"),
            (12_004 * US, "12.004ms"),
            (1_234_567, "1.234567ms"),
            (1_234_567_891, "1.234567891s"),
            (882_607_313, "882.607313ms"),
            (15 * S, "15s"),
            (1_001, "1.001us"),
            (7, "7ns"),
            (90 * S, "90s"),
        ] {
            assert_eq!(Duration::from_nanos(ns).to_string(), text);
            assert_eq!(d(text), Duration::from_nanos(ns), "round trip of {text}");
        }
    }

    #[test]
    fn rejects_bad_input_saying_what_was_expected() {
        let msg = |s: &str| s.parse::<Duration>().unwrap_err().to_string();
        assert_eq!(
            msg("-5ms"),
            "invalid duration \"-5ms\": durations cannot be negative"
        );
        assert_eq!(
            msg("150"),
            "invalid duration \"150\": missing unit; expected a number and a unit (ns, us, ms, s, m, h), e.g. \"150ms\" or \"1.5s\""
        );
        assert_eq!(
            msg("5parsecs"),
            "invalid duration \"5parsecs\": unknown unit \"parsecs\"; expected one of ns, us, ms, s, m, h"
        );
        assert_eq!(
            msg(""),
            "invalid duration \"\": expected a number and a unit (ns, us, ms, s, m, h), e.g. \"150ms\" or \"1.5s\""
        );
        assert_eq!(msg("ms"), msg("ms"));
        assert!(msg("ms").contains("expected a number"));
        assert_eq!(
            msg("1.5ns"),
            "invalid duration \"1.5ns\": finer than one nanosecond"
        );
        assert_eq!(
            msg("1.2.3s"),
            "invalid duration \"1.2.3s\": more than one decimal point"
        );
        assert!(msg("99999999999h").contains("too large"));
        for spaced in ["5 ms", " 5ms", "5ms ", "1. 5s"] {
            assert!(
                msg(spaced).contains(
                    "a duration has no spaces: write the number and its unit together, e.g. \""
                ),
                "{spaced}: {}",
                msg(spaced)
            );
        }
        assert!(msg("5 ms").ends_with("e.g. \"5ms\""), "{}", msg("5 ms"));
    }

    #[test]
    fn offsets_are_signed() {
        assert_eq!(
            "+500ms".parse::<Offset>().unwrap(),
            Offset::from_nanos(500 * MS as i64)
        );
        assert_eq!(
            "-200ms".parse::<Offset>().unwrap(),
            Offset::from_nanos(-200 * MS as i64)
        );
        assert_eq!(
            "1s".parse::<Offset>().unwrap_err().to_string(),
            "invalid duration \"1s\": a clock offset needs its sign: write \"+1s\" to move the clock forward or \"-1s\" to move it back"
        );
        assert!(
            "1 s"
                .parse::<Offset>()
                .unwrap_err()
                .to_string()
                .contains("no spaces")
        );
        assert_eq!("+1s".parse::<Offset>().unwrap().to_string(), "+1s");
        assert_eq!(Offset::from_nanos(-1_500_000).to_string(), "-1.5ms");
        assert!("--1s".parse::<Offset>().is_err());
    }

    #[test]
    fn readable_forms_have_four_significant_digits() {
        let r = |ns: u64| Duration::from_nanos(ns).readable().to_string();
        assert_eq!(r(882_607_313), "882.6ms");
        assert_eq!(r(207_894_980), "207.8ms");
        assert_eq!(r(15 * S), "15s");
        assert_eq!(r(15_000_400 * US), "15s");
        assert_eq!(r(999_960 * US), "999.9ms");
        assert_eq!(r(1_234_567_891), "1.234s");
        assert_eq!(r(123_456 * S), "123456s");
        assert_eq!(r(7), "7ns");
        assert_eq!(r(0), "0s");
        assert_eq!(
            Offset::from_nanos(-882_607_313).readable().to_string(),
            "-882.6ms"
        );
        assert_eq!(
            Offset::from_nanos(3 * S as i64).readable().to_string(),
            "+3s"
        );
        assert_eq!(
            Time::from_nanos(3_173_495_000).readable().to_string(),
            "3.173s"
        );
        assert_eq!(
            format!("{:>8}", Duration::from_millis(5).readable()),
            "     5ms"
        );
    }

    #[test]
    fn instants_print_as_milliseconds() {
        assert_eq!(Time::from_nanos(12_004_999).to_string(), "12.004ms");
        assert_eq!(format!("{:>10}", Time::from_nanos(200 * MS)), " 200.000ms");
        assert_eq!(Time::ZERO.to_string(), "0.000ms");
    }

    proptest::proptest! {
        #[test]
        fn display_round_trips(ns in 0u64..u64::MAX / 2) {
            let dur = Duration::from_nanos(ns);
            proptest::prop_assert_eq!(dur.to_string().parse::<Duration>().unwrap(), dur);
        }

        #[test]
        fn parsing_never_panics(s in "\\PC{0,12}") {
            let _ = s.parse::<Duration>();
            let _ = s.parse::<Offset>();
        }
    }
}
