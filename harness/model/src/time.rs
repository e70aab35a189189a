//! Virtual time: instants and durations in whole milliseconds since the run started.
//!
//! [`Dur`] parses the scenario syntax (`"250ms"`, `"30s"`, `"5m"`, `"1h30m"`, `"2d"`).

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Dur(pub u64);

/// An instant: milliseconds since the start of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Time(pub u64);

impl Dur {
    /// Zero.
    pub const ZERO: Dur = Dur(0);
    /// From milliseconds.
    pub const fn ms(n: u64) -> Dur {
        Dur(n)
    }
    /// From seconds.
    pub const fn secs(n: u64) -> Dur {
        Dur(n * 1000)
    }
    /// From minutes.
    pub const fn mins(n: u64) -> Dur {
        Dur(n * 60_000)
    }
    /// From hours.
    pub const fn hours(n: u64) -> Dur {
        Dur(n * 3_600_000)
    }
    /// Whole milliseconds.
    pub const fn as_ms(self) -> u64 {
        self.0
    }
    /// Seconds as a float (for reports only).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }
    /// `self * k`, saturating.
    pub const fn times(self, k: u64) -> Dur {
        Dur(self.0.saturating_mul(k))
    }

    /// Parses `"1h30m"`, `"90s"`, `"250ms"`, `"2d"`. A unit is required.
    pub fn parse(input: &str) -> Result<Dur, String> {
        let s = input.trim();
        if s.is_empty() {
            return Err("empty duration".into());
        }
        if s.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!("`{s}` needs a unit, e.g. `{s}s` or `{s}m`"));
        }
        let mut total: u64 = 0;
        let mut rest = s;
        while !rest.is_empty() {
            let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
            if digits == 0 {
                return Err(format!("`{input}` is not a duration (expected e.g. 30s, 5m, 1h30m, 250ms)"));
            }
            let n: u64 = rest[..digits].parse().map_err(|_| format!("`{input}`: number too large"))?;
            rest = &rest[digits..];
            let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
            let factor = match &rest[..unit_len] {
                "ms" => 1,
                "s" => 1000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                other => {
                    return Err(format!("`{input}`: unknown unit `{other}` (use ms, s, m, h or d)"));
                }
            };
            rest = &rest[unit_len..];
            total = n.checked_mul(factor).and_then(|v| total.checked_add(v)).ok_or_else(|| format!("`{input}`: too large"))?;
        }
        Ok(Dur(total))
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0;
        if ms == 0 {
            return f.write_str("0s");
        }
        if ms < 1000 {
            return write!(f, "{ms}ms");
        }
        if !ms.is_multiple_of(1000) && ms < 60_000 {
            let frac = format!("{:03}", ms % 1000);
            return write!(f, "{}.{}s", ms / 1000, frac.trim_end_matches('0'));
        }
        let secs = ms / 1000;
        let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
        let mut out = String::new();
        for (v, u) in [(d, "d"), (h, "h"), (m, "m"), (s, "s")] {
            if v > 0 {
                out.push_str(&format!("{v}{u}"));
            }
        }
        f.write_str(&out)
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Dur::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl Time {
    /// The start of the run.
    pub const ZERO: Time = Time(0);
    /// Milliseconds since the start.
    pub const fn as_ms(self) -> u64 {
        self.0
    }
    /// Time elapsed since `earlier` (zero if `earlier` is later).
    pub fn since(self, earlier: Time) -> Dur {
        Dur(self.0.saturating_sub(earlier.0))
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0;
        let (h, m, s, milli) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
        if milli == 0 { write!(f, "t={h}:{m:02}:{s:02}") } else { write!(f, "t={h}:{m:02}:{s:02}.{milli:03}") }
    }
}

impl Add<Dur> for Time {
    type Output = Time;
    fn add(self, d: Dur) -> Time {
        Time(self.0.saturating_add(d.0))
    }
}

impl AddAssign<Dur> for Time {
    fn add_assign(&mut self, d: Dur) {
        self.0 = self.0.saturating_add(d.0);
    }
}

impl Sub<Time> for Time {
    type Output = Dur;
    fn sub(self, t: Time) -> Dur {
        self.since(t)
    }
}

impl Add for Dur {
    type Output = Dur;
    fn add(self, d: Dur) -> Dur {
        Dur(self.0.saturating_add(d.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_compounds() {
        assert_eq!(Dur::parse("250ms").unwrap(), Dur(250));
        assert_eq!(Dur::parse("30s").unwrap(), Dur::secs(30));
        assert_eq!(Dur::parse("5m").unwrap(), Dur::mins(5));
        assert_eq!(Dur::parse("1h30m").unwrap(), Dur::mins(90));
        assert_eq!(Dur::parse("2d").unwrap(), Dur::hours(48));
    }

    #[test]
    fn rejects_missing_or_unknown_units() {
        assert!(Dur::parse("30").unwrap_err().contains("needs a unit"));
        assert!(Dur::parse("3 min").unwrap_err().contains("unknown unit"));
        assert!(Dur::parse("m5").is_err());
    }

    #[test]
    fn displays_compactly() {
        assert_eq!(Dur::mins(90).to_string(), "1h30m");
        assert_eq!(Dur(250).to_string(), "250ms");
        assert_eq!(Dur(1500).to_string(), "1.5s");
        assert_eq!(Dur(21_020).to_string(), "21.02s");
        assert_eq!(Time(3_723_004).to_string(), "t=1:02:03.004");
    }
}
