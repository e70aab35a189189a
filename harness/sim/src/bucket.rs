//! A token bucket in virtual time (client-go's `flowcontrol` and the workqueue's
//! `BucketRateLimiter`): `burst` tokens, refilled at `qps`.

use sparkrig_model::time::{Dur, Time};

/// Token bucket.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    qps: u64,
    burst: u64,
    /// Tokens, in thousandths, as of `at`.
    milli_tokens: u64,
    at: Time,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(qps: u32, burst: u32) -> TokenBucket {
        TokenBucket {
            qps: u64::from(qps.max(1)),
            burst: u64::from(burst.max(1)),
            milli_tokens: u64::from(burst.max(1)) * 1000,
            at: Time::ZERO,
        }
    }

    /// Reserves one token at `now`; returns how long the caller must wait for it.
    pub fn reserve(&mut self, now: Time) -> Dur {
        // Earlier borrowers may already have pushed `at` into the future.
        let t = now.max(self.at);
        // qps tokens per second = qps milli-tokens per millisecond.
        let refill = (t - self.at).as_ms() * self.qps;
        self.milli_tokens = (self.milli_tokens + refill).min(self.burst * 1000);
        self.at = t;
        if self.milli_tokens >= 1000 {
            self.milli_tokens -= 1000;
            return t - now;
        }
        // Borrow the token: it arrives when the deficit has refilled.
        let wait = Dur::ms((1000 - self.milli_tokens).div_ceil(self.qps));
        self.milli_tokens = 0;
        self.at = t + wait;
        self.at - now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_rate() {
        let mut b = TokenBucket::new(50, 100);
        for _ in 0..100 {
            assert_eq!(b.reserve(Time::ZERO), Dur::ZERO);
        }
        // Then one token every 20 ms: borrowers at the same instant queue up.
        assert_eq!(b.reserve(Time::ZERO), Dur::ms(20));
        assert_eq!(b.reserve(Time::ZERO), Dur::ms(40));
        assert_eq!(b.reserve(Time(30)), Dur::ms(30));
        // After a quiet second, 50 tokens are back.
        let later = Time(5000);
        for _ in 0..100 {
            assert_eq!(b.reserve(later), Dur::ZERO);
        }
    }
}
