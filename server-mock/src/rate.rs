//! Per-connection token bucket for `send`, `edit` and `redact`.

use std::time::Instant;

/// A token bucket: `burst` tokens, refilled at `rate` per second.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate_per_sec: f64, burst: u32) -> TokenBucket {
        let burst = f64::from(burst.max(1));
        TokenBucket {
            rate: rate_per_sec.max(0.0),
            burst,
            tokens: burst,
            last: Instant::now(),
        }
    }

    /// Takes one token at `now`, or says how many milliseconds until one is
    /// available.
    pub fn take(&mut self, now: Instant) -> Result<(), u64> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        if self.rate <= 0.0 {
            return Err(60_000);
        }
        let wait = (1.0 - self.tokens) / self.rate * 1000.0;
        // Rounded up so a client that waits exactly this long succeeds.
        Err((wait.ceil() as u64).max(1))
    }
}

impl TokenBucket {
    /// Takes `n` tokens spent elsewhere (another node) at `now`; the bucket
    /// may go below empty, down to minus its burst, and refills from there.
    pub fn spend(&mut self, n: u32, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens =
            ((self.tokens + elapsed * self.rate).min(self.burst) - f64::from(n)).max(-self.burst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_refill() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10.0, 2);
        assert_eq!(b.take(t0), Ok(()));
        assert_eq!(b.take(t0), Ok(()));
        assert_eq!(b.take(t0), Err(100));
        assert_eq!(b.take(t0 + Duration::from_millis(100)), Ok(()));
        assert_eq!(b.take(t0 + Duration::from_millis(150)), Err(50));
    }

    #[test]
    fn tokens_spent_elsewhere_empty_the_bucket_here() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10.0, 4);
        b.spend(6, t0);
        // Two below empty: three tokens' worth of refill before one is free.
        assert_eq!(b.take(t0), Err(300));
        assert_eq!(b.take(t0 + Duration::from_millis(300)), Ok(()));
        b.spend(100, t0 + Duration::from_millis(300));
        assert_eq!(b.take(t0 + Duration::from_millis(300)), Err(500));
    }
}
