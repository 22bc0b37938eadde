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
//! ack. [`upgrade`] moves keys of version 1's layout to the hash-tagged one ([`keys`]).

pub mod cluster;
pub mod embedded;
pub mod history;
pub mod keys;
pub mod primary;
pub mod redis;
pub mod redis_target;
pub mod replica_wait;
pub mod upgrade;

use std::future::Future;
use std::time::Duration;

use shared::{
    Change, ChangeKind, CounterName, CounterState, ErrorCode, HistoryEntry, OpId, ProtocolError,
    Role, SetValue, Settings, Undo,
};

pub use self::embedded::EmbeddedStore;
pub use self::history::HistoryQuery;
pub use self::redis::{PerCounter, RedisStore};
use crate::access::{KeyHash, Owned};

/// One write to a counter's value: each is checked against the key presented, deduped,
/// recorded in the history and published in one atomic step.
#[derive(Clone, Debug)]
pub enum Write {
    /// An increment or decrement (staff).
    Change(Change),
    /// A new value (owner).
    Set(SetValue),
    /// The opposite of an earlier increment or decrement, once (staff).
    Undo(Undo),
}

impl Write {
    pub fn op_id(&self) -> Option<&OpId> {
        match self {
            Self::Change(change) => change.op_id.as_ref(),
            Self::Set(set) => set.op_id.as_ref(),
            Self::Undo(undo) => undo.op_id.as_ref(),
        }
    }

    pub fn kind(&self) -> ChangeKind {
        match self {
            Self::Change(change) if change.delta() > 0 => ChangeKind::Increment,
            Self::Change(_) => ChangeKind::Decrement,
            Self::Set(_) => ChangeKind::Set,
            Self::Undo(_) => ChangeKind::Undo,
        }
    }

    /// The role a write needs.
    pub fn needs(&self) -> Role {
        match self {
            Self::Set(_) => Role::Owner,
            Self::Change(_) | Self::Undo(_) => Role::Staff,
        }
    }

    pub fn label(&self) -> Option<&str> {
        match self {
            Self::Change(change) => change.label.as_deref(),
            Self::Set(_) | Self::Undo(_) => None,
        }
    }
}

/// What a write presents: whether the name is open by configuration, and the hash of the
/// key it came with. The store decides the role from them in the write's own atomic step.
#[derive(Clone, Copy, Debug, Default)]
pub struct Credential {
    pub open: bool,
    pub key: Option<KeyHash>,
}

/// A change of an owned counter's meta by its owner.
#[derive(Clone, Debug)]
pub enum MetaUpdate {
    Settings(Settings),
    /// A new key hash for the staff or owner key.
    Key(Role, KeyHash),
}

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
    /// Version 2: the name is neither open nor created (or was deleted).
    #[error("no such counter")]
    NotFound,
    /// Version 2: no key, or not a key of this counter.
    #[error("no key, or not a key of this counter")]
    Unauthorized,
    /// Version 2: the key's role may not do this (or an open counter has no owner).
    #[error("the key's role may not do this")]
    Forbidden,
    /// Version 2: an undo names a change the store has no record of.
    #[error("no change with that op_id")]
    UnknownOp,
    /// Version 2: the operation conflicts with one made before (a second undo).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Version 2: the name asked for is in use.
    #[error("the name is taken")]
    NameTaken,
    /// Version 2: `--max-counters` owned counters exist already.
    #[error("the service holds its most owned counters")]
    LimitReached,
    /// Version 2: the meta changed between the caller's read and its update; read again.
    #[error("the counter's settings changed meanwhile")]
    Stale,
    /// Version 2: a request that the store cannot take (a history cursor it never gave).
    #[error("{0}")]
    BadRequest(String),
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
            StoreError::NotFound => not_found(),
            StoreError::Unauthorized => ProtocolError::new(
                ErrorCode::Unauthorized,
                "this needs the counter's key: send it as Authorization: Bearer <key>",
            ),
            StoreError::Forbidden => ProtocolError::new(
                ErrorCode::Forbidden,
                "this key's role may not do that on this counter",
            ),
            StoreError::UnknownOp => ProtocolError::new(
                ErrorCode::NotFound,
                "no change with that op_id to undo (changes are remembered for --op-ttl-seconds)",
            ),
            StoreError::Conflict(why) => ProtocolError::new(ErrorCode::Conflict, why),
            StoreError::NameTaken => {
                ProtocolError::new(ErrorCode::NameTaken, "a counter with that name exists")
            }
            StoreError::LimitReached => ProtocolError::new(
                ErrorCode::LimitReached,
                "this service holds as many counters as it may; ask its operator",
            ),
            StoreError::Stale => ProtocolError::new(
                ErrorCode::Conflict,
                "the counter's settings changed meanwhile; try again",
            ),
            StoreError::BadRequest(why) => ProtocolError::new(ErrorCode::BadRequest, why),
        }
    }
}

/// What a name that is neither open nor created answers, everywhere.
pub fn not_found() -> ProtocolError {
    ProtocolError::new(
        ErrorCode::NotFound,
        "no such counter: it was never created, or it was deleted",
    )
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
    /// Applies a write once per `op_id`, if the credential's role may make it.
    pub async fn apply(
        &self,
        name: &CounterName,
        write: &Write,
        credential: &Credential,
    ) -> Result<Applied, StoreError> {
        match self {
            Self::Redis(store) => store.apply(name, write, credential).await,
            Self::Embedded(store) => store.apply(name, write, credential).await,
        }
    }

    /// An owned counter's meta; `None` when the counter is not owned.
    pub async fn owned(&self, name: &CounterName) -> Result<Option<Owned>, StoreError> {
        match self {
            Self::Redis(store) => store.owned(name).await,
            Self::Embedded(store) => store.owned(name).await,
        }
    }

    /// Creates an owned counter (its `rev` is the store's to choose); returns its revision.
    pub async fn create(
        &self,
        name: &CounterName,
        owned: &Owned,
        max_counters: u64,
    ) -> Result<u64, StoreError> {
        match self {
            Self::Redis(store) => store.create(name, owned, max_counters).await,
            Self::Embedded(store) => store.create(name, owned, max_counters).await,
        }
    }

    /// Changes an owned counter's meta for its owner, if it is still at revision `read`;
    /// returns the new revision.
    pub async fn update(
        &self,
        name: &CounterName,
        key: &KeyHash,
        read: u64,
        update: &MetaUpdate,
    ) -> Result<u64, StoreError> {
        match self {
            Self::Redis(store) => store.update(name, key, read, update).await,
            Self::Embedded(store) => store.update(name, key, read, update).await,
        }
    }

    /// Deletes an owned counter for its owner: value, meta, keys and history.
    pub async fn delete(&self, name: &CounterName, key: &KeyHash) -> Result<(), StoreError> {
        match self {
            Self::Redis(store) => store.delete(name, key).await,
            Self::Embedded(store) => store.delete(name, key).await,
        }
    }

    /// One page of a counter's history, and the cursor after it when there may be more.
    pub async fn history(
        &self,
        name: &CounterName,
        query: &HistoryQuery,
    ) -> Result<(Vec<HistoryEntry>, Option<String>), StoreError> {
        match self {
            Self::Redis(store) => store.history(name, query).await,
            Self::Embedded(store) => store.history(name, query).await,
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
