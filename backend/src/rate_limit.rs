//! A token bucket: how many operations one WebSocket may send.

use tokio::time::Instant;

/// Allows `burst` operations at once and `per_second` on average after that.
pub struct TokenBucket {
    /// Tokens a new connection starts with, and the most it can save up.
    capacity: f64,
    /// Tokens added per second.
    refill_per_second: f64,
    /// Tokens available at `updated`.
    tokens: f64,
    updated: Instant,
}

impl TokenBucket {
    pub fn new(per_second: u32, burst: u32) -> Self {
        let capacity = f64::from(burst.max(1));
        Self {
            capacity,
            refill_per_second: f64::from(per_second),
            tokens: capacity,
            updated: Instant::now(),
        }
    }

    /// Takes a token if there is one.
    pub fn try_take(&mut self) -> bool {
        let now = Instant::now();
        let elapsed = now.duration_since(self.updated).as_secs_f64();
        self.updated = now;
        self.tokens = (self.tokens + elapsed * self.refill_per_second).min(self.capacity);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn allows_a_burst_then_the_rate() {
        let mut bucket = TokenBucket::new(10, 3);
        assert!((0..3).all(|_| bucket.try_take()));
        assert!(!bucket.try_take());
        tokio::time::advance(Duration::from_millis(100)).await;
        assert!(bucket.try_take());
        assert!(!bucket.try_take());
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(
            (0..10).filter(|_| bucket.try_take()).count(),
            3,
            "saves up to the burst only"
        );
    }
}
