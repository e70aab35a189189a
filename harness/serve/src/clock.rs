//! Scaled real time: the simulation's virtual clock runs `speed` times faster than the wall
//! clock (`--speed 60`: a virtual minute per wall second). Object timestamps are the wall
//! instants at which things happened, so `kubectl get`'s ages read naturally.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sparkrig_model::time::Time;

/// The mapping between wall time and virtual time.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    speed: f64,
    wall0: Instant,
    unix0_ms: i64,
}

impl Clock {
    /// Virtual t=0 is now.
    pub fn start(speed: f64) -> Clock {
        let unix0_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        Clock { speed, wall0: Instant::now(), unix0_ms }
    }

    /// Virtual time now.
    pub fn now(&self) -> Time {
        Time((self.wall0.elapsed().as_secs_f64() * 1000.0 * self.speed) as u64)
    }

    /// How much wall time `virtual_ms` of virtual time takes.
    pub fn wall(&self, virtual_ms: u64) -> Duration {
        Duration::from_secs_f64(virtual_ms as f64 / 1000.0 / self.speed)
    }

    /// The speed factor.
    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// Unix milliseconds of the wall instant at which virtual `t` happened.
    pub fn unix_ms(&self, t: Time) -> i64 {
        self.unix0_ms + (t.as_ms() as f64 / self.speed) as i64
    }

    /// RFC 3339 with seconds, as Kubernetes serialises `metav1.Time`.
    pub fn timestamp(&self, t: Time) -> String {
        rfc3339(self.unix_ms(t), false)
    }

    /// RFC 3339 with microseconds (`metav1.MicroTime`: Lease renew times, Events).
    pub fn micro_timestamp(&self, t: Time) -> String {
        rfc3339(self.unix_ms(t), true)
    }
}

/// Formats Unix milliseconds as RFC 3339 UTC.
pub fn rfc3339(unix_ms: i64, micros: bool) -> String {
    let ts = k8s_openapi::jiff::Timestamp::from_millisecond(unix_ms).unwrap_or(k8s_openapi::jiff::Timestamp::UNIX_EPOCH);
    if micros { format!("{}", ts.strftime("%Y-%m-%dT%H:%M:%S.%6fZ")) } else { format!("{}", ts.strftime("%Y-%m-%dT%H:%M:%SZ")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(1_767_225_600_000, false), "2026-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_767_225_601_234, true), "2026-01-01T00:00:01.234000Z");
    }

    #[test]
    fn virtual_time_runs_speed_times_faster() {
        let c = Clock { speed: 60.0, wall0: Instant::now(), unix0_ms: 0 };
        assert_eq!(c.wall(60_000), Duration::from_secs(1));
        assert_eq!(c.unix_ms(Time(120_000)), 2_000);
    }
}
