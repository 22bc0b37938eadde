//! How many operations one WebSocket may send: a GCRA limiter from `governor`, one per
//! socket, allowing a burst and then an average rate.
//!
//! `governor` is the field's rate limiter, and its keyed form fits a per-client REST limit
//! too. A direct limiter is one atomic word, its quota and a start instant (40 bytes, as
//! much as the hand-written token bucket it replaced), so one per socket keeps an idle
//! socket as small as before. The per-address caps in [`crate::connection_limits`] are no
//! rate limit: they cap concurrency, with a permit held for a socket's whole life, which a
//! rate limiter does not replace.

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota};
use shared::{ErrorCode, ProtocolError};

/// Addresses a keyed limiter remembers before it forgets those whose burst is full again
/// (they would be allowed their whole burst anyway).
const REMEMBERED_ADDRESSES: usize = 10_000;

/// One socket's limiter: `check()` takes one operation's place, or refuses it.
pub type OpLimiter = DefaultDirectRateLimiter;

/// `burst` operations at once (at least 1), then `per_second` on average.
pub fn quota(per_second: NonZeroU32, burst: u32) -> Quota {
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(per_second).allow_burst(burst)
}

/// A new socket's limiter, starting with its whole burst.
pub fn per_socket(per_second: NonZeroU32, burst: u32) -> OpLimiter {
    OpLimiter::direct(quota(per_second, burst))
}

/// Takes one place of `ip`'s quota in a per-address limiter (version 2: creating counters,
/// REST changes), or refuses with `rate_limited`.
pub fn per_address(
    limiter: &DefaultKeyedRateLimiter<IpAddr>,
    ip: IpAddr,
    what: &str,
) -> Result<(), ProtocolError> {
    if limiter.len() > REMEMBERED_ADDRESSES {
        limiter.retain_recent();
    }
    limiter.check_key(&ip).map_err(|_| {
        ProtocolError::new(
            ErrorCode::RateLimited,
            format!("too many {what} from this address; retry later"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use governor::RateLimiter;
    use governor::clock::FakeRelativeClock;

    #[test]
    fn allows_a_burst_then_the_rate() {
        let clock = FakeRelativeClock::default();
        let ten = NonZeroU32::new(10).unwrap();
        let limiter = RateLimiter::direct_with_clock(quota(ten, 3), clock.clone());
        assert!((0..3).all(|_| limiter.check().is_ok()));
        assert!(limiter.check().is_err());
        clock.advance(Duration::from_millis(100));
        assert!(limiter.check().is_ok());
        assert!(limiter.check().is_err());
        clock.advance(Duration::from_secs(60));
        assert_eq!(
            (0..10).filter(|_| limiter.check().is_ok()).count(),
            3,
            "saves up to the burst only"
        );
    }

    #[test]
    fn a_socket_limiter_is_as_small_as_the_token_bucket_was() {
        assert!(std::mem::size_of::<OpLimiter>() <= 40);
    }
}
