//! One store read per counter at a time, shared by every caller that asks meanwhile. A
//! reconnect storm opens thousands of sockets on a counter this replica does not serve yet:
//! before any of them has joined, each would read the counter (its meta before the upgrade,
//! its state at join), and the replica's store connection and CPU would spend the storm on
//! copies of one answer, enough to slow the subscriber past its deadline.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};
use shared::CounterName;

/// Reads in progress, by counter.
pub struct SingleFlight<T: Clone> {
    in_flight: Mutex<HashMap<CounterName, Shared<BoxFuture<'static, T>>>>,
}

impl<T: Clone> Default for SingleFlight<T> {
    fn default() -> Self {
        Self {
            in_flight: Mutex::default(),
        }
    }
}

impl<T: Clone + Send + Sync + 'static> SingleFlight<T> {
    /// The answer of the read of `name` in progress, or of `read` started now.
    pub async fn run(&self, name: &CounterName, read: impl FnOnce() -> BoxFuture<'static, T>) -> T {
        let shared = {
            let mut in_flight = self
                .in_flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            in_flight
                .entry(name.clone())
                .or_insert_with(|| read().shared())
                .clone()
        };
        let answer = shared.clone().await;
        // The next caller reads anew: an answer is shared only by those who asked while it
        // was being read.
        let mut in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if in_flight
            .get(name)
            .is_some_and(|current| current.ptr_eq(&shared))
        {
            in_flight.remove(name);
        }
        answer
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn callers_at_once_share_one_read_and_later_ones_read_again() {
        let flights = Arc::new(SingleFlight::<usize>::default());
        let reads = Arc::new(AtomicUsize::new(0));
        let name = CounterName::global();
        let read = |reads: Arc<AtomicUsize>| {
            move || {
                async move {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    reads.fetch_add(1, Ordering::SeqCst) + 1
                }
                .boxed()
            }
        };
        let mut callers = Vec::new();
        for _ in 0..10 {
            let (flights, reads, name) = (flights.clone(), reads.clone(), name.clone());
            callers.push(tokio::spawn(async move {
                flights.run(&name, read(reads)).await
            }));
        }
        for caller in callers {
            assert_eq!(caller.await.unwrap(), 1);
        }
        assert_eq!(flights.run(&name, read(reads.clone())).await, 2);
    }
}
