//! ScheduledSparkApplication schedules as the Spark Operator reads them: robfig/cron v3's
//! `ParseStandard` (5 fields, the `@yearly`…`@hourly` descriptors, `@every <Go duration>`), with
//! `CRON_TZ=`/`TZ=` prefixes and `spec.timeZone` (reference/platform-ops.md §1.1, §1.3).
//!
//! Entry point: [`Schedule::parse`], then [`Schedule::next`]. Instants are Unix milliseconds.
//! Cron fields are evaluated with croner in the schedule's zone; sparkrig checks the tokens
//! first, so that the extensions croner accepts and robfig's standard parser refuses (`L`, `W`,
//! `#`, a seconds field, day-of-week 7) are refused here too.

use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// A parsed schedule.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// `@every d`: robfig's `ConstantDelaySchedule`, whole seconds, at least 1 s.
    Every {
        /// Seconds.
        secs: u64,
    },
    /// Cron fields evaluated in a zone (robfig's `SpecSchedule`).
    Cron {
        /// The fields (or the descriptor's expansion).
        cron: Box<croner::Cron>,
        /// Zone.
        tz: Tz,
    },
}

/// The zone `"Local"` stands for: the operator container's, UTC in the chart's image (no `TZ`
/// set; inference, not checked on a cluster).
pub const LOCAL_ZONE: Tz = Tz::UTC;

/// A `spec.timeZone` value as Go's `time.LoadLocation` reads it: `""` and `"Local"` are the
/// container's zone, `"UTC"`, or an IANA name. The error is the operator's status reason.
pub fn load_location(name: &str) -> Result<Tz, String> {
    match name {
        "" | "Local" => Ok(LOCAL_ZONE),
        "UTC" => Ok(Tz::UTC),
        other => Tz::from_str(other).map_err(|_| format!("Invalid timezone: unknown time zone {other}")),
    }
}

/// robfig's descriptors (`parser.go` `parseDescriptor`).
const DESCRIPTORS: [(&str, &str); 7] = [
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

/// Field bounds of the standard parser: minute, hour, day of month, month, day of week.
const FIELDS: [(&str, u32, u32); 5] =
    [("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 6)];
const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

impl Schedule {
    /// Parses `spec.schedule` as the controller does: `CRON_TZ=<timeZone or Local> ` is
    /// prepended unless the schedule already starts with `CRON_TZ=` or `TZ=`. Errors read like
    /// robfig's (they become the status `reason`).
    pub fn parse(schedule: &str, time_zone: &str) -> Result<Schedule, String> {
        let mut zone = load_location(time_zone)?;
        let mut spec = schedule.trim();
        for prefix in ["CRON_TZ=", "TZ="] {
            if let Some(rest) = spec.strip_prefix(prefix) {
                let (name, tail) = rest.split_once(' ').ok_or_else(|| format!("missing spec after timezone: {schedule}"))?;
                zone = load_location(name).map_err(|_| format!("provided bad location {name}: unknown time zone {name}"))?;
                spec = tail.trim();
                break;
            }
        }
        if let Some(d) = spec.strip_prefix("@every ") {
            let ns = parse_go_duration(d.trim()).map_err(|e| format!("failed to parse duration {spec}: {e}"))?;
            // constantdelay.go `Every`: under a second becomes a second; the rest is truncated.
            return Ok(Schedule::Every { secs: (ns / 1_000_000_000).max(1) });
        }
        let fields = if spec.starts_with('@') {
            DESCRIPTORS.iter().find(|(d, _)| *d == spec).map(|(_, f)| *f).ok_or_else(|| format!("unrecognized descriptor: {spec}"))?
        } else {
            spec
        };
        let parts: Vec<&str> = fields.split_whitespace().collect();
        if parts.len() != 5 {
            return Err(format!("expected exactly 5 fields, found {}: {fields}", parts.len()));
        }
        for (part, (name, lo, hi)) in parts.iter().zip(FIELDS) {
            check_field(part, name, lo, hi)?;
        }
        let parser = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Disallowed)
            .year(croner::parser::Year::Disallowed)
            .build();
        let cron = parser.parse(fields).map_err(|e| format!("{e}: {fields}"))?;
        Ok(Schedule::Cron { cron: Box::new(cron), tz: zone })
    }

    /// `Next(t)`: for `@every d`, `t + d − t's sub-second part`; for cron fields, the first
    /// matching whole second strictly after `t`, in the schedule's zone. `None` when no time
    /// matches (e.g. 31 February).
    pub fn next(&self, after_ms: u64) -> Option<u64> {
        match self {
            Schedule::Every { secs } => Some(after_ms - after_ms % 1000 + secs * 1000),
            Schedule::Cron { cron, tz } => {
                let t: DateTime<Tz> = tz.timestamp_opt((after_ms / 1000) as i64, 0).single()?;
                let next = cron.find_next_occurrence(&t, false).ok()?;
                u64::try_from(next.with_timezone(&Utc).timestamp_millis()).ok()
            }
        }
    }
}

/// One field of the standard parser: comma-separated `*`, `?`, `n`, `n-m`, with `/step`;
/// month and weekday names in their fields.
fn check_field(field: &str, name: &str, lo: u32, hi: u32) -> Result<(), String> {
    let value = |s: &str| -> Result<u32, String> {
        let lower = s.to_ascii_lowercase();
        let named = match name {
            "month" => MONTHS.iter().position(|m| *m == lower).map(|i| i as u32 + 1),
            "day of week" => DAYS.iter().position(|d| *d == lower).map(|i| i as u32),
            _ => None,
        };
        let n = match named {
            Some(n) => n,
            None => s.parse::<u32>().map_err(|_| format!("failed to parse int from {s}: invalid syntax"))?,
        };
        if n < lo {
            return Err(format!("{name}: beginning of range ({n}) below minimum ({lo}): {field}"));
        }
        if n > hi {
            return Err(format!("{name}: end of range ({n}) above maximum ({hi}): {field}"));
        }
        Ok(n)
    };
    for expr in field.split(',') {
        let (range, step) = match expr.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (expr, None),
        };
        if let Some(s) = step {
            let n: u32 = s.parse().map_err(|_| format!("failed to parse int from {s}: invalid syntax"))?;
            if n == 0 {
                return Err(format!("step of range should be a positive number: {expr}"));
            }
        }
        if range == "*" || range == "?" {
            continue;
        }
        match range.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (value(a)?, value(b)?);
                if a > b {
                    return Err(format!("beginning of range ({a}) beyond end of range ({b}): {expr}"));
                }
            }
            None => {
                value(range)?;
            }
        }
    }
    Ok(())
}

/// Go's `time.ParseDuration` (`"3m"`, `"1h30m"`, `"1.5h"`, `"300ms"`), in nanoseconds.
pub fn parse_go_duration(s: &str) -> Result<u64, String> {
    let bad = || format!("time: invalid duration \"{s}\"");
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() || s.starts_with('-') {
        return Err(bad());
    }
    let s2 = s.strip_prefix('+').unwrap_or(s);
    let mut total: f64 = 0.0;
    let mut rest = s2;
    while !rest.is_empty() {
        let num_end =
            rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(|| format!("time: missing unit in duration \"{s}\""))?;
        if num_end == 0 {
            return Err(bad());
        }
        let n: f64 = rest[..num_end].parse().map_err(|_| bad())?;
        rest = &rest[num_end..];
        let unit_end = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            u => return Err(format!("time: unknown unit \"{u}\" in duration \"{s}\"")),
        };
        total += n * scale;
        rest = &rest[unit_end..];
    }
    Ok(total as u64)
}

/// The wall-clock time of a Unix millisecond instant, RFC 3339 at 1 s precision (how
/// `metav1.Time` serialises `lastRun` and `nextRun`).
pub fn rfc3339(ms: u64) -> String {
    Utc.timestamp_opt((ms / 1000) as i64, 0).single().map_or_else(String::new, |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-01-01T00:00:00Z.
    const T0: u64 = 1_767_225_600_000;

    #[test]
    fn every_is_a_constant_delay_from_the_whole_second() {
        let s = Schedule::parse("@every 3m", "").unwrap();
        // Created at 12:00:00.250 → 12:03:00.000 (platform-ops.md §1.9).
        assert_eq!(s.next(T0 + 250), Some(T0 + 180_000));
        assert_eq!(s.next(T0 + 180_004), Some(T0 + 360_000));
        assert!(matches!(Schedule::parse("@every 300ms", "").unwrap(), Schedule::Every { secs: 1 }));
        assert!(matches!(Schedule::parse("@every 1h30m", "Europe/Paris").unwrap(), Schedule::Every { secs: 5400 }));
        assert!(matches!(Schedule::parse("@every 1.5h", "").unwrap(), Schedule::Every { secs: 5400 }));
    }

    #[test]
    fn cron_fields_and_descriptors_fire_strictly_after_now() {
        let hourly = Schedule::parse("@hourly", "").unwrap();
        assert_eq!(hourly.next(T0), Some(T0 + 3_600_000));
        assert_eq!(hourly.next(T0 + 5), Some(T0 + 3_600_000));
        let s = Schedule::parse("30 2 * * *", "UTC").unwrap();
        assert_eq!(s.next(T0), Some(T0 + (2 * 60 + 30) * 60_000));
        // In Paris (UTC+1 in January) 02:30 local is 01:30 UTC.
        let paris = Schedule::parse("30 2 * * *", "Europe/Paris").unwrap();
        assert_eq!(paris.next(T0), Some(T0 + 90 * 60_000));
        // A CRON_TZ prefix wins over timeZone.
        let ny = Schedule::parse("CRON_TZ=America/New_York 0 0 * * *", "Europe/Paris").unwrap();
        assert_eq!(ny.next(T0), Some(T0 + 5 * 3_600_000));
        // 2026-01-01 is a Thursday: the next Monday 09:00 is 5 January.
        let mon = Schedule::parse("0 9 * * MON", "").unwrap();
        assert_eq!(mon.next(T0), Some(T0 + (4 * 24 + 9) * 3_600_000));
    }

    #[test]
    fn refusals_read_like_robfig() {
        assert_eq!(Schedule::parse("* * * *", "").unwrap_err(), "expected exactly 5 fields, found 4: * * * *");
        assert_eq!(Schedule::parse("@fortnightly", "").unwrap_err(), "unrecognized descriptor: @fortnightly");
        assert!(Schedule::parse("0 0 L * *", "").unwrap_err().contains("failed to parse int from L"));
        assert!(Schedule::parse("0 0 * * 7", "").unwrap_err().contains("above maximum (6)"));
        assert!(Schedule::parse("0 0 * * 1#2", "").is_err());
        assert!(Schedule::parse("61 * * * *", "").unwrap_err().contains("minute"));
        assert_eq!(Schedule::parse("@hourly", "Mars/Olympus").unwrap_err(), "Invalid timezone: unknown time zone Mars/Olympus");
        assert!(Schedule::parse("@every 3x", "").unwrap_err().starts_with("failed to parse duration @every 3x"));
    }

    #[test]
    fn timestamps_serialise_at_one_second() {
        assert_eq!(rfc3339(T0 + 180_004), "2026-01-01T00:03:00Z");
    }
}
