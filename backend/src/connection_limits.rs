//! Caps on open WebSockets: per replica and per client IP, held for a socket's whole life.
//!
//! Tower's concurrency limit counts requests, and an upgraded socket's request is over the
//! moment it upgrades; so admission hands out a permit that the socket task owns until the
//! socket closes. These are concurrency caps, not rate limits, so they are not `governor`'s
//! (see `rate_limit.rs`): a rate limiter forgets a socket once it is admitted.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use shared::{ErrorCode, ProtocolError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Admits sockets while there is room.
pub struct ConnectionLimits {
    /// One permit per open socket on this replica.
    total: Arc<Semaphore>,
    /// Open sockets per client address; addresses with none are removed.
    per_ip: Arc<Mutex<HashMap<IpAddr, usize>>>,
    /// Most sockets one address may hold; 0 for no limit (behind a proxy every client has
    /// the proxy's address, so the operator must be able to turn it off).
    max_per_ip: usize,
}

/// A socket's right to stay open; dropping it frees the place.
pub struct ConnectionPermit {
    /// The socket's place in the replica-wide cap, given back on drop.
    _total: OwnedSemaphorePermit,
    /// The per-address counts, to decrement on drop.
    per_ip: Arc<Mutex<HashMap<IpAddr, usize>>>,
    /// The address whose count this socket holds.
    ip: IpAddr,
}

impl ConnectionLimits {
    pub fn new(max_total: usize, max_per_ip: usize) -> Self {
        Self {
            total: Arc::new(Semaphore::new(max_total)),
            per_ip: Default::default(),
            max_per_ip,
        }
    }

    /// A permit for one more socket from `ip`, or the refusal to answer with.
    pub fn admit(&self, ip: IpAddr) -> Result<ConnectionPermit, ProtocolError> {
        let total = self.total.clone().try_acquire_owned().map_err(|_| {
            ProtocolError::new(
                ErrorCode::Unavailable,
                "this server is at its connection limit; try again shortly",
            )
        })?;
        let mut per_ip = lock(&self.per_ip);
        let open = per_ip.entry(ip).or_insert(0);
        if self.max_per_ip > 0 && *open >= self.max_per_ip {
            return Err(ProtocolError::new(
                ErrorCode::RateLimited,
                "too many connections from this address",
            ));
        }
        *open += 1;
        Ok(ConnectionPermit {
            _total: total,
            per_ip: self.per_ip.clone(),
            ip,
        })
    }
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        let mut per_ip = lock(&self.per_ip);
        if let Some(open) = per_ip.get_mut(&self.ip) {
            *open -= 1;
            if *open == 0 {
                per_ip.remove(&self.ip);
            }
        }
    }
}

fn lock(map: &Mutex<HashMap<IpAddr, usize>>) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
    // Every update leaves the map consistent, so a poisoned lock is still safe to use.
    map.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_total_and_per_address_and_frees_on_drop() {
        let limits = ConnectionLimits::new(3, 2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let first = limits.admit(a).unwrap();
        let _second = limits.admit(a).unwrap();
        assert_eq!(limits.admit(a).err().unwrap().code, ErrorCode::RateLimited);
        let _third = limits.admit(b).unwrap();
        assert_eq!(limits.admit(b).err().unwrap().code, ErrorCode::Unavailable);
        drop(first);
        assert!(limits.admit(a).is_ok());
        assert!(limits.per_ip.lock().unwrap().len() <= 2);
    }

    #[test]
    fn zero_means_no_per_address_limit() {
        let limits = ConnectionLimits::new(100, 0);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let permits: Vec<_> = (0..50).map(|_| limits.admit(a).unwrap()).collect();
        assert_eq!(permits.len(), 50);
    }
}
