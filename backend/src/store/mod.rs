//! Where counters live: Redis for any number of replicas, or an embedded file for one. The
//! store applies and reads; who hears about a change is the fan-out's business (`fanout/`).
//!
//! Both stores keep the same contract: a change is applied atomically with its `op_id`
//! dedupe record and a version bump, and an acknowledged change is durable (Redis within
//! its persistence and replication settings, `--redis-wait-replicas` for a failover; the
//! embedded store on disk before the ack).
//!
//! Redis is reached through [`primary`] (one server, or the primary Sentinel names, from
//! [`redis_target`]); [`replica_wait`] sends changes that must reach replicas before their
//! ack.

pub mod embedded;
pub mod keys;
pub mod primary;
pub mod redis;
pub mod redis_target;
pub mod replica_wait;

use std::future::Future;
use std::time::Duration;

use shared::{Change, CounterName, CounterState, ErrorCode, ProtocolError};

pub use self::embedded::EmbeddedStore;
pub use self::redis::{PerCounter, RedisStore};

/// The result of applying a change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// The counter right after the change (for a duplicate: right after its first apply).
    pub state: CounterState,
    /// True when the `op_id` had been applied before and this call changed nothing.
    pub duplicate: bool,
}

/// Why a store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The change would leave the 64-bit signed range; nothing changed.
    #[error("the change would take the counter beyond the 64-bit signed range")]
    Overflow,
    /// The store did not answer (in time). The detail is for logs only: it may name hosts.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// Redis answered but refuses to write now: memory full (OOM), a read-only replica
    /// (READONLY, as during a failover), a failed save (MISCONF), too few replicas
    /// (NOREPLICAS). Nothing was written, and the same change can pass once Redis accepts
    /// writes again, so the client is told `unavailable` as for an outage.
    #[error("Redis refuses to write: {0}")]
    Refused(String),
    /// A key of this counter holds what the layout says it cannot (another type, a value
    /// that is not an integer, a version out of range): someone wrote it by hand. Nothing was
    /// written; only this counter is refused until an operator repairs the key.
    #[error("counter {counter} is damaged: {key} {why}")]
    Damaged {
        /// The counter whose sockets and changes are refused.
        counter: CounterName,
        /// The Redis key to repair, for the log and the metric.
        key: String,
        /// What is wrong with it.
        why: String,
    },
}

impl From<StoreError> for ProtocolError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Overflow => ProtocolError::new(
                ErrorCode::Overflow,
                "the change would take the counter beyond the 64-bit signed range; nothing changed",
            ),
            StoreError::Unavailable(_) => ProtocolError::new(
                ErrorCode::Unavailable,
                "the counter store is unavailable; retry with the same op_id",
            ),
            StoreError::Refused(_) => ProtocolError::new(
                ErrorCode::Unavailable,
                "the counter store refuses writes for now; retry with the same op_id",
            ),
            StoreError::Damaged { .. } => damaged_counter(),
        }
    }
}

/// What clients are told of a counter whose keys are damaged: on their change, and on every
/// socket watching it when a reconcile finds the damage.
pub fn damaged_counter() -> ProtocolError {
    ProtocolError::new(
        ErrorCode::Internal,
        "this counter's stored data is damaged and must be repaired by an operator; \
         nothing changed",
    )
}

/// Runs one store call with the replica's deadline (`--store-timeout-ms`), so a store that
/// hangs costs a bounded wait and is answered `unavailable`, which the client retries under
/// the same `op_id`. Both stores bound every call here. `store` names it in the log detail.
pub(crate) async fn within<T>(
    timeout: Duration,
    store: &str,
    call: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    tokio::time::timeout(timeout, call)
        .await
        .unwrap_or_else(|_| {
            Err(StoreError::Unavailable(format!(
                "{store} did not answer within {} ms",
                timeout.as_millis()
            )))
        })
}

/// How often a replica records its socket count on a counter whose count has not changed,
/// so that the record stays alive: a replica that stops recording (it died) stops counting
/// a few refreshes later.
pub const PRESENCE_REFRESH: Duration = Duration::from_secs(3);

/// One counter in a presence round.
#[derive(Clone, Debug)]
pub struct Presence {
    /// The counter.
    pub name: CounterName,
    /// Sockets on this replica watching it.
    pub local: usize,
    /// Whether `local` is to be recorded (it changed, or its record is due for a refresh), or
    /// only the total read.
    pub record: bool,
}

/// The store this replica uses.
pub enum Store {
    /// `--redis-url` given: any number of replicas share it.
    Redis(RedisStore),
    /// No Redis: one replica, counters in a file under `--data-dir`.
    Embedded(EmbeddedStore),
}

impl Store {
    /// Applies a change once per `op_id`.
    pub async fn apply(&self, name: &CounterName, change: &Change) -> Result<Applied, StoreError> {
        match self {
            Self::Redis(store) => store.apply(name, change).await,
            Self::Embedded(store) => store.apply(name, change).await,
        }
    }

    /// Reads a counter; one that was never changed is 0 at version 0.
    pub async fn get(&self, name: &CounterName) -> Result<CounterState, StoreError> {
        match self {
            Self::Redis(store) => store.get(name).await,
            Self::Embedded(store) => store.get(name).await,
        }
    }

    /// Records this replica's sockets on the counters marked to be recorded and returns each
    /// counter's total over all replicas, in order; `Err` only when the store could not be
    /// reached.
    pub async fn presence_many(&self, counts: &[Presence]) -> Result<PerCounter<u64>, StoreError> {
        match self {
            Self::Redis(store) => store.presence_many(counts).await,
            Self::Embedded(_) => Ok(counts.iter().map(|count| Ok(count.local as u64)).collect()),
        }
    }

    /// Ok when the store answers.
    pub async fn ready(&self) -> Result<(), StoreError> {
        match self {
            Self::Redis(store) => store.ready().await,
            Self::Embedded(store) => store.ready().await,
        }
    }
}
